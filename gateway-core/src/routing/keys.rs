//! Provider key pools (`api_keys`): which key a request uses, and a
//! cooldown per key. A key that got 429, 401 or 403 cools down (the
//! upstream's `Retry-After`, bounded by `routing.max_cooldown_s`) and the
//! request tries the next key of the same target; when every key cools,
//! the provider is cooling. Keys are named by their reference
//! (`keyring:a`), never by their value.
//!
//! Team mode: a key's cooldown is shared like a target's (see
//! `routing::health`): published on [`KeyState::cool`], and another
//! replica's cooldown of the key skips it here until it ends.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::KeyRotation;
use crate::providers::ProviderApi;
use crate::sync::LockExt;

/// One key of a provider's pool, with the provider behaviour that sends it.
#[derive(Debug)]
pub struct PoolKey {
    /// The reference as written (`keyring:a`, `env:B`); `None` for a
    /// keyless provider (or `api_key = "client"`).
    pub name: Option<String>,
    pub api: Box<dyn ProviderApi>,
    /// Set when this key could not be resolved: it is skipped (and, when
    /// no key resolves, the provider fails over with this message).
    pub error: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct Slot {
    cool_until: Option<Instant>,
    last_limited: Option<Instant>,
    last_reason: Option<String>,
    /// Cooled by another replica until then (team mode).
    remote_until: Option<Instant>,
    /// A cooldown the next cluster sync publishes: until, reason.
    share: Option<(Instant, String)>,
}

impl Slot {
    /// Until when it cools, by this replica's or another's account.
    fn until(&self) -> Option<Instant> {
        match (self.cool_until, self.remote_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug)]
struct Inner {
    next: usize,
    slots: Vec<Slot>,
}

/// The rotation and cooldowns of one pool. Shared with the next runtime
/// when a publish leaves the pool (its references and rotation) as it was.
#[derive(Debug)]
pub struct KeyState {
    rotation: KeyRotation,
    inner: Mutex<Inner>,
}

/// One key in `GET /admin/api/status` and `GET /admin/api/providers`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeySnapshot {
    /// The reference (`keyring:a`), never the key.
    pub name: String,
    /// Resolved (`present`) or not (`missing`, see `error`).
    pub present: bool,
    pub error: Option<String>,
    /// Cooling down after a 429/401/403: how much longer.
    pub cooldown_remaining_ms: Option<u64>,
    /// What cooled it last (`upstream answered 429 …`).
    pub last_error: Option<String>,
}

impl KeyState {
    pub fn new(keys: usize, rotation: KeyRotation) -> Self {
        Self {
            rotation,
            inner: Mutex::new(Inner {
                next: 0,
                slots: vec![Slot::default(); keys.max(1)],
            }),
        }
    }

    pub fn rotation(&self) -> KeyRotation {
        self.rotation
    }

    /// The keys one request tries, in order: those `usable` and not
    /// cooling, starting at the rotation's pick (round robin: the next key
    /// each request; least recently limited: never-limited keys first,
    /// then the one limited longest ago). `Err(until)` when every usable
    /// key cools: the provider is cooling until the first one is back.
    pub fn order(
        &self,
        now: Instant,
        usable: impl Fn(usize) -> bool,
    ) -> Result<Vec<usize>, Instant> {
        let mut s = self.inner.lock_or_recover();
        let n = s.slots.len();
        let start = s.next % n;
        s.next = (start + 1) % n;
        let mut order: Vec<usize> = (0..n)
            .map(|j| (start + j) % n)
            .filter(|&i| usable(i))
            .collect();
        let soonest = order
            .iter()
            .filter_map(|&i| s.slots[i].until().filter(|u| *u > now))
            .min();
        order.retain(|&i| s.slots[i].until().is_none_or(|u| u <= now));
        if self.rotation == KeyRotation::LeastRecentlyLimited {
            // Stable: keys alike keep their round-robin order.
            order.sort_by_key(|&i| s.slots[i].last_limited);
        }
        match (order.is_empty(), soonest) {
            (true, Some(until)) => Err(until),
            _ => Ok(order),
        }
    }

    /// Without moving the rotation: `Some(until)` when every usable key
    /// cools (until the first is back).
    pub fn cooling_until(&self, now: Instant, usable: impl Fn(usize) -> bool) -> Option<Instant> {
        let s = self.inner.lock_or_recover();
        let mut until: Option<Instant> = None;
        for (_, slot) in s.slots.iter().enumerate().filter(|(i, _)| usable(*i)) {
            match slot.until().filter(|u| *u > now) {
                None => return None,
                Some(u) => until = Some(until.map_or(u, |x| x.min(u))),
            }
        }
        until
    }

    /// Of the usable keys, the one whose cooldown ends first (the last
    /// resort when every target of a route is cooling).
    pub fn soonest(&self, usable: impl Fn(usize) -> bool) -> usize {
        let s = self.inner.lock_or_recover();
        (0..s.slots.len())
            .filter(|&i| usable(i))
            .min_by_key(|&i| s.slots[i].until())
            .unwrap_or(0)
    }

    /// Key `i` got a 429/401/403: it cools for `d` (an existing, longer
    /// cooldown is kept).
    pub fn cool(&self, i: usize, now: Instant, d: Duration, reason: &str) {
        let mut s = self.inner.lock_or_recover();
        if let Some(slot) = s.slots.get_mut(i) {
            let until = now + d;
            slot.cool_until = Some(slot.cool_until.map_or(until, |u| u.max(until)));
            slot.last_limited = Some(now);
            slot.last_reason = Some(reason.to_string());
            slot.share = slot.cool_until.map(|u| (u, reason.to_string()));
        }
    }

    /// Team mode: the cooldowns to publish since the last sync (taken),
    /// by key index.
    pub fn take_shares(&self) -> Vec<(usize, Instant, String)> {
        let mut s = self.inner.lock_or_recover();
        s.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, slot)| slot.share.take().map(|(u, why)| (i, u, why)))
            .collect()
    }

    /// Team mode: shares a failed sync could not publish, back in place
    /// (unless a newer one replaced them).
    pub fn requeue_shares(&self, shares: Vec<(usize, Instant, String)>) {
        let mut s = self.inner.lock_or_recover();
        for (i, until, why) in shares {
            if let Some(slot) = s.slots.get_mut(i)
                && slot.share.is_none()
            {
                slot.share = Some((until, why));
            }
        }
    }

    /// Team mode: other replicas' cooldowns of these keys now, by index.
    pub fn set_remote(&self, remote: impl Fn(usize) -> Option<Instant>) {
        let mut s = self.inner.lock_or_recover();
        for (i, slot) in s.slots.iter_mut().enumerate() {
            slot.remote_until = remote(i);
        }
    }

    /// The pool as the admin API shows it.
    pub fn snapshot(&self, keys: &[PoolKey], now: Instant) -> Vec<KeySnapshot> {
        let s = self.inner.lock_or_recover();
        keys.iter()
            .zip(&s.slots)
            .filter_map(|(k, slot)| {
                Some(KeySnapshot {
                    name: k.name.clone()?,
                    present: k.error.is_none(),
                    error: k.error.clone(),
                    cooldown_remaining_ms: slot
                        .until()
                        .and_then(|u| u.checked_duration_since(now))
                        .filter(|d| !d.is_zero())
                        .map(|d| d.as_millis() as u64),
                    last_error: slot.last_reason.clone(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn round_robin_skips_cooling_keys_until_they_are_back() {
        let k = KeyState::new(3, KeyRotation::RoundRobin);
        let now = Instant::now();
        assert_eq!(k.order(now, |_| true), Ok(vec![0, 1, 2]));
        assert_eq!(k.order(now, |_| true), Ok(vec![1, 2, 0]));
        k.cool(2, now, Duration::from_secs(10), "429");
        assert_eq!(k.order(now, |_| true), Ok(vec![0, 1]));
        k.cool(0, now, Duration::from_secs(5), "429");
        k.cool(1, now, Duration::from_secs(20), "401");
        assert_eq!(
            k.order(now, |_| true),
            Err(now + Duration::from_secs(5)),
            "all cooling: the provider cools until the first key is back"
        );
        assert_eq!(k.soonest(|_| true), 0);
        let later = now + Duration::from_secs(11);
        let o = k.order(later, |_| true).unwrap();
        assert!(o.contains(&0) && o.contains(&2) && !o.contains(&1), "{o:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn least_recently_limited_puts_limited_keys_last() {
        let k = KeyState::new(3, KeyRotation::LeastRecentlyLimited);
        let t0 = Instant::now();
        k.cool(0, t0, Duration::from_secs(1), "429");
        k.cool(
            1,
            t0 + Duration::from_secs(1),
            Duration::from_secs(1),
            "429",
        );
        let now = t0 + Duration::from_secs(5);
        assert_eq!(k.order(now, |_| true), Ok(vec![2, 0, 1]));
        // an unusable key (unresolved) is never offered
        assert_eq!(k.order(now, |i| i != 2), Ok(vec![0, 1]));
    }
}
