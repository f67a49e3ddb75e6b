//! Failed admin logins per peer address: after `limits.login_max_failures`
//! wrong tokens within `limits.login_window_s`, every attempt from that
//! peer gets 429 (with `Retry-After`) until the window is over — the right
//! token too, so guessing cannot go on under the limit. A good login clears
//! the peer's count. The failures of one peer in one window share one audit
//! row, whose detail counts them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::sync::LockExt;
use std::time::Instant;

/// Peers tracked at once; past that the one whose window began first is
/// forgotten.
const MAX_PEERS: usize = 10_000;

#[derive(Debug, Default)]
pub struct LoginLimiter {
    peers: Mutex<HashMap<String, Peer>>,
}

#[derive(Debug, Clone, Copy)]
struct Peer {
    since: Instant,
    failures: u32,
    /// The audit row counting this window's failures.
    audit_row: Option<i64>,
}

/// A wrong token, counted.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    /// Failures of this peer in this window, this one included.
    pub count: u32,
    /// The audit row to update, once the first failure wrote one.
    pub audit_row: Option<i64>,
}

impl LoginLimiter {
    /// Before looking at the token: `Err(wait)` while `peer` is over
    /// `max` failures in its window.
    pub fn check(&self, peer: &str, max: u32, window: Duration) -> Result<(), Duration> {
        self.check_at(peer, max, window, Instant::now())
    }

    fn check_at(
        &self,
        peer: &str,
        max: u32,
        window: Duration,
        now: Instant,
    ) -> Result<(), Duration> {
        let peers = self.peers.lock_or_recover();
        match peers.get(peer) {
            Some(p) if p.failures >= max && now < p.since + window => Err(p.since + window - now),
            _ => Ok(()),
        }
    }

    /// After a wrong token.
    pub fn failed(&self, peer: &str, window: Duration) -> Failure {
        self.failed_at(peer, window, Instant::now())
    }

    fn failed_at(&self, peer: &str, window: Duration, now: Instant) -> Failure {
        let mut peers = self.peers.lock_or_recover();
        if !peers.contains_key(peer) && peers.len() >= MAX_PEERS {
            peers.retain(|_, p| now < p.since + window);
            if peers.len() >= MAX_PEERS
                && let Some(oldest) = peers
                    .iter()
                    .min_by_key(|(_, p)| p.since)
                    .map(|(k, _)| k.clone())
            {
                peers.remove(&oldest);
            }
        }
        let fresh = Peer {
            since: now,
            failures: 0,
            audit_row: None,
        };
        let p = peers.entry(peer.to_string()).or_insert(fresh);
        if now >= p.since + window {
            *p = fresh;
        }
        p.failures = p.failures.saturating_add(1);
        Failure {
            count: p.failures,
            audit_row: p.audit_row,
        }
    }

    /// The audit row of `peer`'s current window.
    pub fn set_audit_row(&self, peer: &str, row: i64) {
        let mut peers = self.peers.lock_or_recover();
        if let Some(p) = peers.get_mut(peer) {
            p.audit_row = Some(row);
        }
    }

    /// After a good login.
    pub fn succeeded(&self, peer: &str) {
        self.peers.lock_or_recover().remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_peer_and_window() {
        let l = LoginLimiter::default();
        let w = Duration::from_secs(60);
        let t0 = Instant::now();
        for i in 1..=3 {
            assert!(l.check_at("a", 3, w, t0).is_ok());
            assert_eq!(l.failed_at("a", w, t0).count, i);
        }
        let later = t0 + Duration::from_secs(20);
        assert_eq!(l.check_at("a", 3, w, later), Err(Duration::from_secs(40)));
        assert!(
            l.check_at("b", 3, w, later).is_ok(),
            "another peer is not limited"
        );
        let after = t0 + w;
        assert!(l.check_at("a", 3, w, after).is_ok(), "the window is over");
        assert_eq!(
            l.failed_at("a", w, after).count,
            1,
            "a new window counts anew"
        );
        l.succeeded("a");
        assert_eq!(l.failed_at("a", w, after).count, 1);
    }

    #[test]
    fn the_peer_table_is_bounded() {
        let l = LoginLimiter::default();
        let w = Duration::from_secs(60);
        let t0 = Instant::now();
        for i in 0..MAX_PEERS + 10 {
            l.failed_at(&format!("p{i}"), w, t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(l.peers.lock().unwrap().len(), MAX_PEERS);
    }
}
