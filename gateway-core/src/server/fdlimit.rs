//! The open-file limit a gateway needs: every proxied connection holds two
//! descriptors (the client's and the upstream's), plus idle pooled upstream
//! connections, SQLite and log files. Linux desktops start processes with a
//! soft limit of 1,024 and macOS with 256, below what the default
//! `server.max_connections` (512) needs; the hard limit is usually far
//! higher. So at start the soft limit is raised to the hard one (capped, as
//! Go's runtime does), and a limit still too low for `max_connections` is
//! said once at start instead of surfacing as `EMFILE` under load.

/// macOS refuses a soft limit above `OPEN_MAX` (10,240) even when the hard
/// limit is "unlimited".
#[cfg(target_os = "macos")]
const CAP: u64 = 10_240;
#[cfg(all(unix, not(target_os = "macos")))]
const CAP: u64 = 1 << 20;

/// Descriptors a connection-free gateway keeps open (listener, SQLite and
/// its WAL, log files, runtime, keychain and Redis/PostgreSQL clients).
const BASE_FDS: u64 = 64;

/// What one client connection may need: its own socket and its upstream's.
const FDS_PER_CONNECTION: u64 = 2;

/// The soft limit wanted: the hard one, capped at [`CAP`].
#[cfg(unix)]
fn wanted(soft: Option<u64>, hard: Option<u64>) -> Option<u64> {
    let target = hard.unwrap_or(CAP).min(CAP);
    match soft {
        Some(s) if s < target => Some(target),
        _ => None,
    }
}

/// Descriptors `max_connections` connections may need at once.
pub fn needed(max_connections: usize) -> u64 {
    BASE_FDS + FDS_PER_CONNECTION * max_connections as u64
}

/// Whether `limit` descriptors serve `max_connections` connections.
pub fn enough_for(limit: u64, max_connections: usize) -> bool {
    limit >= needed(max_connections)
}

/// Raises the soft open-file limit to the hard one; the soft limit in force
/// afterwards (`None`: unlimited, or not a Unix system).
#[cfg(unix)]
pub fn raise() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    if let Some(to) = wanted(now.current, now.maximum) {
        let new = Rlimit {
            current: Some(to),
            maximum: now.maximum,
        };
        match setrlimit(Resource::Nofile, new) {
            Ok(()) => {
                tracing::debug!("open-file limit raised from {:?} to {to}", now.current);
                return Some(to);
            }
            Err(e) => tracing::debug!("open-file limit stays {:?}: {e}", now.current),
        }
    }
    now.current
}

/// Windows has no per-process descriptor limit of this kind.
#[cfg(not(unix))]
pub fn raise() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_soft_limit_goes_up_to_the_hard_one_capped() {
        assert_eq!(wanted(Some(1024), Some(524_288)), Some(524_288));
        assert_eq!(wanted(Some(256), None), Some(CAP));
        assert_eq!(wanted(Some(1024), Some(u64::MAX)), Some(CAP));
        // Already there, or above the cap: left alone.
        assert_eq!(wanted(Some(524_288), Some(524_288)), None);
        assert_eq!(wanted(None, None), None);
        assert_eq!(wanted(Some(CAP + 1), Some(CAP + 10)), None);
    }

    #[test]
    fn the_default_connection_cap_needs_more_than_a_desktop_soft_limit() {
        assert!(!enough_for(1024, 512));
        assert!(enough_for(1088, 512));
        assert!(!enough_for(256, 512));
    }

    #[cfg(unix)]
    #[test]
    fn raising_leaves_at_least_the_limit_there_was() {
        let before = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let after = raise();
        match (before, after) {
            (Some(b), Some(a)) => assert!(a >= b),
            (None, a) => assert_eq!(a, None),
            (Some(_), None) => panic!("a finite limit became unlimited"),
        }
    }
}
