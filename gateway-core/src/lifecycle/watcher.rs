//! Watches the config file for hand edits. On each tick it looks at the
//! file's metadata (length, modification time, inode) and reads and hashes
//! the file only when that changed, when the modification time is recent
//! (within [`RECENT`]: a filesystem with 1 s or 2 s timestamps would not
//! tell a second same-size edit in the same interval), and every
//! [`READ_EVERY`] ticks whatever the metadata says (a file given back its
//! old time and length, `cp -p`). An idle gateway with a 170 KiB config
//! hashed it every second: 65 % of aigw's instructions while streams
//! trickled (bench/results/scale.md). No error ends it: a file that cannot
//! be read (`EMFILE`, removed for a moment) is logged once and tried again
//! on the next tick.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Host;

/// Watches `owner`'s config file (if it has one) every `every` until
/// `stop`; an edit goes through [`super::ConfigManager::file_changed`] and
/// is applied by `owner`.
pub fn spawn_watcher<L: Host>(
    state: &Arc<L>,
    tracker: &TaskTracker,
    stop: CancellationToken,
    every: Duration,
) {
    let Some(path) = state.lifecycle().path().cloned() else {
        return;
    };
    let state = state.clone();
    tracker.spawn(async move {
        // What the gateway runs now was read from this file at start.
        let mut last = Some(state.lifecycle().live_version().hash);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The metadata of the file as last read and dealt with.
        let mut seen: Option<Stamp> = None;
        let mut ticks_since_read = 0u32;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let stamp = tokio::fs::metadata(&path).await.ok().map(|m| Stamp::of(&m));
            ticks_since_read += 1;
            if stamp.is_some()
                && stamp == seen
                && ticks_since_read < READ_EVERY
                && !stamp.as_ref().is_some_and(|s| s.recent(SystemTime::now()))
            {
                continue;
            }
            ticks_since_read = 0;
            seen = None;
            let text = match tokio::fs::read_to_string(&path).await {
                Ok(t) => t,
                Err(e) => {
                    if last.take().is_some() {
                        tracing::warn!("cannot read config file {}: {e}", path.display());
                    }
                    continue;
                }
            };
            let h = super::hash(&text);
            if last.as_ref() == Some(&h) {
                seen = stamp;
                continue;
            }
            state.lifecycle().file_changed(&|c| state.apply(c)).await;
            // Done with this text once it is live, or refused as invalid
            // (the reason is kept for the status page). Otherwise the file
            // or the store could not be used just then (`EMFILE` with every
            // descriptor taken, a full disk): the next tick tries again,
            // and the edit is not lost.
            if state.lifecycle().live_version().hash == h
                || crate::config::Config::parse(&text, "config file").is_err()
            {
                last = Some(h);
                seen = stamp;
            }
        }
    });
}

/// A modification time this close to now may be shared by a later edit.
const RECENT: Duration = Duration::from_secs(3);
/// Ticks after which the file is read whatever its metadata says.
const READ_EVERY: u32 = 30;

/// What the watcher compares before reading the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// The file's identity (an editor that saves by renaming makes a new one).
    #[cfg(unix)]
    ino: u64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Self {
            len: m.len(),
            modified: m.modified().ok(),
            #[cfg(unix)]
            ino: m.ino(),
        }
    }

    /// Modified within [`RECENT`] of `now` (or in the future, or unknown).
    fn recent(&self, now: SystemTime) -> bool {
        match self.modified {
            None => true,
            Some(t) => now.duration_since(t).map_or(true, |age| age < RECENT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recent_or_unknown_modification_time_means_read_again() {
        let now = SystemTime::now();
        let at = |t: Option<SystemTime>| Stamp {
            len: 1,
            modified: t,
            #[cfg(unix)]
            ino: 1,
        };
        assert!(at(None).recent(now));
        assert!(at(Some(now - Duration::from_secs(1))).recent(now));
        assert!(
            at(Some(now + Duration::from_secs(5))).recent(now),
            "a time in the future"
        );
        assert!(!at(Some(now - Duration::from_secs(10))).recent(now));
        // a file replaced by a rename, or rewritten, is another stamp
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "a = 1\n").unwrap();
        let first = Stamp::of(&std::fs::metadata(&p).unwrap());
        assert_eq!(first, Stamp::of(&std::fs::metadata(&p).unwrap()));
        let q = dir.path().join("c.toml.new");
        std::fs::write(&q, "a = 2\n").unwrap();
        std::fs::rename(&q, &p).unwrap();
        assert_ne!(first, Stamp::of(&std::fs::metadata(&p).unwrap()));
    }
}
