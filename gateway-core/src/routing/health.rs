//! Per-target health: a circuit breaker plus a latency EWMA.
//!
//! A target (provider + forwarded model) opens after `threshold` consecutive
//! failures (429s have their own, lower threshold), stays open for the
//! route's `cooldown` or the upstream's `Retry-After`, then lets exactly one
//! half-open probe through; success closes it, failure opens it again.
//! Health lives in a registry outside the swappable runtime so a config
//! publish does not forget what it knew.
//!
//! Team mode (`[cluster] redis_url`): a breaker that opens is also
//! published as a shared cooldown, and cooldowns other replicas published
//! are skipped like an open breaker until they end ([`Share`],
//! [`HealthRegistry::take_shares`], [`HealthRegistry::set_remote`]; the
//! sync itself is `cluster::cooling`). Without Redis, or while it is down,
//! this replica's own breakers decide alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::sync::LockExt;
use tokio::time::Instant;

/// Why an attempt failed, as far as health is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// 429 from upstream.
    RateLimited,
    /// 408, 5xx, timeouts, connect errors, broken streams, failed probes.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: go ahead.
    Closed,
    /// Half-open: this caller holds the one probe slot.
    Probe,
    /// Open (or its probe is in flight) until then.
    Open(Instant),
}

impl Admission {
    pub fn allowed(self) -> bool {
        !matches!(self, Admission::Open(_))
    }
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    rate_limited: u32,
    open_until: Option<Instant>,
    probing: bool,
    ewma_ms: Option<f64>,
    /// Moving share of input tokens the upstream said it read from its
    /// prompt cache (`None` until an answer reported its usage).
    cached_share: Option<f64>,
    last_error: Option<String>,
    /// Cooled by another replica (team mode) until then, and why.
    remote: Option<(Instant, String)>,
    /// What the next cluster sync publishes for this target.
    share: Option<Share>,
}

/// A change of a target's (or a pool key's) cooldown other replicas should
/// see (team mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Share {
    /// It cools until then (a shared key with that TTL), for this reason.
    Cool { until: Instant, reason: String },
    /// It recovered (its half-open probe or a health probe succeeded).
    Clear,
}

impl State {
    fn admission(&mut self, now: Instant, take_probe: bool) -> Admission {
        if let Some((until, _)) = &self.remote {
            if now < *until {
                let local = self.open_until.unwrap_or(*until);
                return Admission::Open((*until).max(local));
            }
            self.remote = None;
        }
        match self.open_until {
            None => Admission::Closed,
            Some(until) if now < until || self.probing => Admission::Open(until.max(now)),
            Some(_) => {
                if take_probe {
                    self.probing = true;
                }
                Admission::Probe
            }
        }
    }

    /// The breaker (re)opened: publish its cooldown.
    fn share_cool(&mut self, reason: &str) {
        if let Some(until) = self.open_until {
            self.share = Some(Share::Cool {
                until,
                reason: reason.to_string(),
            });
        }
    }
}

/// Health of one target. Cheap to share; the lock is never held across an await.
#[derive(Debug, Default)]
pub struct TargetHealth {
    state: Mutex<State>,
}

/// What the admin API and `/metrics` show for a target.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct HealthSnapshot {
    pub open: bool,
    pub consecutive_failures: u32,
    pub cooldown_remaining_ms: Option<u64>,
    pub ewma_latency_ms: Option<f64>,
    pub last_error: Option<String>,
}

const EWMA_ALPHA: f64 = 0.3;

impl TargetHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock_or_recover()
    }

    /// Without side effects: would a request be admitted now?
    pub fn peek(&self, now: Instant) -> Admission {
        self.lock().admission(now, false)
    }

    /// Admits a request, taking the half-open probe slot when due.
    pub fn admit(&self, now: Instant) -> Admission {
        self.lock().admission(now, true)
    }

    /// Takes the probe slot regardless of the cooldown (every target of a
    /// route is open and this one's ends soonest).
    pub fn force_probe(&self) {
        self.lock().probing = true;
    }

    /// Gives back a probe slot that was not used (e.g. the provider's local
    /// rate limit refused the attempt).
    pub fn release(&self, admission: Admission) {
        if admission == Admission::Probe {
            self.lock().probing = false;
        }
    }

    pub fn on_success(&self, latency: Duration) {
        let mut s = self.lock();
        // Its own breaker was open (this was the half-open probe): the
        // shared cooldown ends too. A success seen by a replica that only
        // knew another's cooldown leaves that cooldown to its TTL.
        if s.open_until.is_some() {
            s.share = Some(Share::Clear);
            s.remote = None;
        }
        s.failures = 0;
        s.rate_limited = 0;
        s.open_until = None;
        s.probing = false;
        let ms = latency.as_secs_f64() * 1000.0;
        s.ewma_ms = Some(match s.ewma_ms {
            Some(prev) => prev + EWMA_ALPHA * (ms - prev),
            None => ms,
        });
    }

    /// An answer's usage: moves the target's cached-input share (what the
    /// `cost` strategy prices at the cached-input rate) toward this answer's
    /// `cache_read / input`. Answers without an input count are ignored; one
    /// without a cache count read nothing from a cache.
    pub fn on_usage(&self, input: Option<u64>, cache_read: Option<u64>) {
        let Some(input) = input.filter(|&n| n > 0) else {
            return;
        };
        let share = (cache_read.unwrap_or(0).min(input) as f64) / input as f64;
        let mut s = self.lock();
        s.cached_share = Some(match s.cached_share {
            Some(prev) => prev + EWMA_ALPHA * (share - prev),
            None => share,
        });
    }

    /// The moving share of input read from the upstream's prompt cache, in
    /// 0..=1 (`None`: no usage seen yet).
    pub fn cached_share(&self) -> Option<f64> {
        self.lock().cached_share
    }

    /// Records a failure; returns true when this opened (or re-opened) the breaker.
    #[allow(clippy::too_many_arguments)]
    pub fn on_failure(
        &self,
        class: FailureClass,
        now: Instant,
        cooldown: Duration,
        retry_after: Option<Duration>,
        failure_threshold: u32,
        rate_limit_threshold: u32,
        reason: &str,
    ) -> bool {
        let mut s = self.lock();
        let was_probe = s.probing;
        s.probing = false;
        s.last_error = Some(reason.to_string());
        match class {
            FailureClass::RateLimited => s.rate_limited += 1,
            FailureClass::Error => s.failures += 1,
        }
        let open = was_probe
            || retry_after.is_some()
            || s.rate_limited >= rate_limit_threshold
            || s.failures >= failure_threshold;
        if open {
            let d = retry_after.unwrap_or(cooldown);
            let until = now + d;
            // never shorten an existing cooldown
            s.open_until = Some(s.open_until.map_or(until, |u| u.max(until)));
            s.share_cool(reason);
        }
        open
    }

    /// A background probe's verdict.
    pub fn on_probe(&self, ok: bool, now: Instant, cooldown: Duration, reason: &str) {
        if ok {
            let mut s = self.lock();
            if !s.probing {
                if s.open_until.is_some() || s.remote.is_some() {
                    s.share = Some(Share::Clear);
                    s.remote = None;
                }
                s.failures = 0;
                s.rate_limited = 0;
                s.open_until = None;
            }
        } else {
            let mut s = self.lock();
            s.last_error = Some(reason.to_string());
            s.failures = s.failures.saturating_add(1);
            s.open_until = Some(
                s.open_until
                    .map_or(now + cooldown, |u| u.max(now + cooldown)),
            );
            s.share_cool(reason);
        }
    }

    /// Team mode: what to publish since the last sync (taken).
    pub fn take_share(&self) -> Option<Share> {
        self.lock().share.take()
    }

    /// Team mode: a share that could not be published goes back, unless a
    /// newer one replaced it.
    pub fn requeue_share(&self, share: Share) {
        let mut s = self.lock();
        if s.share.is_none() {
            s.share = Some(share);
        }
    }

    /// Team mode: another replica's cooldown of this target (`None`: none
    /// is shared now).
    pub fn set_remote(&self, remote: Option<(Instant, &str)>) {
        let mut s = self.lock();
        s.remote = match (remote, s.remote.take()) {
            // Most syncs see the same cooldown again: keep its reason.
            (Some((until, why)), Some((_, old))) if old == why => Some((until, old)),
            (Some((until, why)), _) => Some((until, why.to_string())),
            (None, _) => None,
        };
    }

    /// Nothing worth keeping: closed, no failures counted, no probe out.
    fn is_idle(&self) -> bool {
        let s = self.lock();
        s.open_until.is_none()
            && s.failures == 0
            && s.rate_limited == 0
            && !s.probing
            && s.remote.is_none()
            && s.share.is_none()
    }

    pub fn ewma_ms(&self) -> Option<f64> {
        self.lock().ewma_ms
    }

    pub fn snapshot(&self, now: Instant) -> HealthSnapshot {
        let s = self.lock();
        let remote = s.remote.as_ref().filter(|(u, _)| *u > now);
        let until = match (s.open_until, remote) {
            (Some(l), Some((r, _))) => Some(l.max(*r)),
            (l, r) => l.or(r.map(|(u, _)| *u)),
        };
        let remaining = until.and_then(|u| u.checked_duration_since(now));
        let last_error = match remote {
            Some((_, why)) if s.open_until.is_none_or(|u| u <= now) => {
                Some(format!("cooled by another replica: {why}"))
            }
            _ => s.last_error.clone(),
        };
        HealthSnapshot {
            open: remaining.is_some() || s.probing,
            consecutive_failures: s.failures + s.rate_limited,
            cooldown_remaining_ms: remaining.map(|d| d.as_millis() as u64),
            ewma_latency_ms: s.ewma_ms,
            last_error,
        }
    }
}

/// How many targets the registry creates for model names a client chose
/// (pattern routes, `provider/model`, catalog matches), beyond the ones
/// the config names. Past it, idle healthy ones are dropped; if none is,
/// the request uses the route target's shared health.
pub const MAX_DYNAMIC_TARGETS: usize = 1024;

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<(String, String), (Arc<TargetHealth>, bool)>,
    /// Entries with the `bool` set: created by [`HealthRegistry::get_dynamic`].
    dynamic: usize,
}

/// Health of every target ever routed to, keyed by `(provider, model)`.
#[derive(Debug, Default)]
pub struct HealthRegistry {
    entries: Mutex<Entries>,
}

impl HealthRegistry {
    /// A target the config names: always kept.
    pub fn get(&self, provider: &str, model: &str) -> Arc<TargetHealth> {
        let mut e = self.entries.lock_or_recover();
        let Entries { map, dynamic } = &mut *e;
        let (h, dyn_) = map
            .entry((provider.to_string(), model.to_string()))
            .or_insert_with(|| (Arc::default(), false));
        if *dyn_ {
            *dyn_ = false;
            *dynamic -= 1;
        }
        h.clone()
    }

    /// A target whose model name the client chose: the existing entry, or
    /// a new one while fewer than [`MAX_DYNAMIC_TARGETS`] exist. At the
    /// bound, dynamic entries nobody holds and that have nothing to
    /// remember (closed, no failures) are dropped first; when that frees
    /// nothing, `fallback` (or the provider's `*` entry) stands in.
    pub fn get_dynamic(
        &self,
        provider: &str,
        model: &str,
        fallback: Option<&Arc<TargetHealth>>,
    ) -> Arc<TargetHealth> {
        let mut e = self.entries.lock_or_recover();
        // Lookups borrow; only a new entry allocates its key.
        if let Some((h, _)) = e.map.get(&(provider.to_string(), model.to_string())) {
            return h.clone();
        }
        if e.dynamic >= MAX_DYNAMIC_TARGETS {
            let before = e.map.len();
            e.map
                .retain(|_, (h, d)| !*d || Arc::strong_count(h) > 1 || !h.is_idle());
            let freed = before - e.map.len();
            e.dynamic -= freed;
        }
        if e.dynamic >= MAX_DYNAMIC_TARGETS {
            drop(e);
            return match fallback {
                Some(h) => h.clone(),
                None => self.get(provider, "*"),
            };
        }
        e.dynamic += 1;
        let h = Arc::<TargetHealth>::default();
        e.map
            .insert((provider.to_string(), model.to_string()), (h.clone(), true));
        h
    }

    /// How many entries exist, and how many of them are dynamic.
    pub fn len(&self) -> (usize, usize) {
        let e = self.entries.lock_or_recover();
        (e.map.len(), e.dynamic)
    }

    /// All targets of one provider (for health probes).
    pub fn of_provider(&self, provider: &str) -> Vec<Arc<TargetHealth>> {
        let e = self.entries.lock_or_recover();
        e.map
            .iter()
            .filter(|((p, _), _)| p == provider)
            .map(|(_, (h, _))| h.clone())
            .collect()
    }

    /// Team mode: every target's pending [`Share`], taken (`(provider,
    /// model)` with it).
    pub fn take_shares(&self) -> Vec<(String, String, Share)> {
        let e = self.entries.lock_or_recover();
        e.map
            .iter()
            .filter_map(|((p, m), (h, _))| Some((p.clone(), m.clone(), h.take_share()?)))
            .collect()
    }

    /// Team mode: shares a failed sync could not publish, back in place.
    pub fn requeue_shares(&self, shares: Vec<(String, String, Share)>) {
        let e = self.entries.lock_or_recover();
        for (p, m, share) in shares {
            if let Some((h, _)) = e.map.get(&(p, m)) {
                h.requeue_share(share);
            }
        }
    }

    /// Team mode: the cooldowns other replicas share now, by target;
    /// `remote(provider, model)` is a target's, if any.
    pub fn set_remote<'a>(&self, remote: impl Fn(&str, &str) -> Option<(Instant, &'a str)>) {
        let e = self.entries.lock_or_recover();
        for ((p, m), (h, _)) in &e.map {
            h.set_remote(remote(p, m));
        }
    }

    pub fn snapshot(&self, now: Instant) -> Vec<(String, String, HealthSnapshot)> {
        let e = self.entries.lock_or_recover();
        let mut v: Vec<_> = e
            .map
            .iter()
            .map(|((p, md), (h, _))| (p.clone(), md.clone(), h.snapshot(now)))
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CD: Duration = Duration::from_secs(30);

    fn fail(h: &TargetHealth, class: FailureClass, now: Instant, ra: Option<Duration>) -> bool {
        h.on_failure(class, now, CD, ra, 3, 1, "x")
    }

    #[test]
    fn opens_after_threshold_and_half_opens_once() {
        let h = TargetHealth::default();
        let t0 = Instant::now();
        assert!(!fail(&h, FailureClass::Error, t0, None));
        assert!(!fail(&h, FailureClass::Error, t0, None));
        assert!(fail(&h, FailureClass::Error, t0, None));
        assert_eq!(
            h.admit(t0 + Duration::from_secs(29)),
            Admission::Open(t0 + CD)
        );
        let t1 = t0 + Duration::from_secs(31);
        assert_eq!(h.admit(t1), Admission::Probe);
        // only one probe at a time
        assert!(!h.admit(t1).allowed());
        h.on_success(Duration::from_millis(5));
        assert_eq!(h.admit(t1), Admission::Closed);
    }

    #[test]
    fn rate_limit_opens_at_once_for_retry_after() {
        let h = TargetHealth::default();
        let t0 = Instant::now();
        assert!(fail(
            &h,
            FailureClass::RateLimited,
            t0,
            Some(Duration::from_secs(2))
        ));
        assert!(!h.admit(t0 + Duration::from_secs(1)).allowed());
        assert_eq!(h.admit(t0 + Duration::from_secs(2)), Admission::Probe);
    }

    #[test]
    fn failed_probe_reopens() {
        let h = TargetHealth::default();
        let t0 = Instant::now();
        fail(&h, FailureClass::RateLimited, t0, None);
        let t1 = t0 + CD;
        assert_eq!(h.admit(t1), Admission::Probe);
        assert!(fail(&h, FailureClass::Error, t1, None));
        assert_eq!(
            h.peek(t1 + Duration::from_secs(1)),
            Admission::Open(t1 + CD)
        );
    }

    #[test]
    fn unused_probe_slot_is_released() {
        let h = TargetHealth::default();
        let t0 = Instant::now();
        fail(&h, FailureClass::RateLimited, t0, None);
        let a = h.admit(t0 + CD);
        h.release(a);
        assert_eq!(h.admit(t0 + CD), Admission::Probe);
    }

    #[test]
    fn cached_share_moves_toward_each_answers_share() {
        let h = TargetHealth::default();
        assert_eq!(h.cached_share(), None);
        h.on_usage(None, Some(5));
        h.on_usage(Some(0), None);
        assert_eq!(h.cached_share(), None, "no input count: nothing learnt");
        h.on_usage(Some(1000), Some(900));
        assert!((h.cached_share().unwrap() - 0.9).abs() < 1e-9);
        h.on_usage(Some(1000), None);
        let s = h.cached_share().unwrap();
        assert!(s < 0.9 && s > 0.5, "{s}");
        h.on_usage(Some(10), Some(50));
        assert!(h.cached_share().unwrap() <= 1.0);
    }

    #[test]
    fn ewma_moves_toward_samples() {
        let h = TargetHealth::default();
        h.on_success(Duration::from_millis(100));
        h.on_success(Duration::from_millis(200));
        let e = h.ewma_ms().unwrap();
        assert!((e - 130.0).abs() < 1e-6, "{e}");
    }

    #[test]
    fn request_chosen_names_are_bounded_and_failing_ones_kept() {
        let r = HealthRegistry::default();
        let fallback = r.get("a", "claude-*");
        let failing = r.get_dynamic("a", "m0", Some(&fallback));
        fail(&failing, FailureClass::Error, Instant::now(), None);
        drop(failing);
        for i in 1..MAX_DYNAMIC_TARGETS {
            r.get_dynamic("a", &format!("m{i}"), Some(&fallback));
        }
        assert_eq!(r.len(), (MAX_DYNAMIC_TARGETS + 1, MAX_DYNAMIC_TARGETS));
        // A held entry survives the sweep, like the failing one.
        let held = r.get_dynamic("a", "m1", Some(&fallback));
        // The bound reached: idle, unheld entries go to make room.
        let fresh = r.get_dynamic("a", "new", Some(&fallback));
        assert!(!Arc::ptr_eq(&fresh, &fallback));
        assert_eq!(r.len(), (4, 3), "config entry, m0, m1 and the new one");
        let again = r.get_dynamic("a", "m0", Some(&fallback));
        assert_eq!(again.snapshot(Instant::now()).consecutive_failures, 1);
        drop((held, fresh, again));
    }

    #[test]
    fn past_the_bound_with_nothing_to_drop_the_fallback_stands_in() {
        let r = HealthRegistry::default();
        let fallback = r.get("a", "claude-*");
        let held: Vec<_> = (0..MAX_DYNAMIC_TARGETS)
            .map(|i| r.get_dynamic("a", &format!("m{i}"), Some(&fallback)))
            .collect();
        let over = r.get_dynamic("a", "one-more", Some(&fallback));
        assert!(Arc::ptr_eq(&over, &fallback));
        let implicit = r.get_dynamic("b", "one-more", None);
        assert!(Arc::ptr_eq(&implicit, &r.get("b", "*")));
        assert_eq!(r.len().1, MAX_DYNAMIC_TARGETS);
        // A name the config names is never refused and stops being dynamic.
        let configured = r.get("a", "m0");
        assert!(Arc::ptr_eq(&configured, &held[0]));
        assert_eq!(r.len().1, MAX_DYNAMIC_TARGETS - 1);
    }

    #[test]
    fn another_replicas_cooldown_is_skipped_until_it_ends() {
        let h = TargetHealth::default();
        let t0 = Instant::now();
        h.set_remote(Some((t0 + CD, "upstream answered 429")));
        assert_eq!(h.peek(t0), Admission::Open(t0 + CD));
        assert_eq!(h.admit(t0), Admission::Open(t0 + CD));
        let snap = h.snapshot(t0);
        assert!(snap.open);
        assert_eq!(
            snap.last_error.as_deref(),
            Some("cooled by another replica: upstream answered 429")
        );
        // It ends on its own (no probe: this replica never saw it fail).
        assert_eq!(h.admit(t0 + CD), Admission::Closed);
        // A sync that no longer sees it unmarks it at once.
        h.set_remote(Some((t0 + CD, "x")));
        h.set_remote(None);
        assert_eq!(h.admit(t0), Admission::Closed);
        // Nothing of this replica's own is published for it.
        assert_eq!(h.take_share(), None);
    }

    #[test]
    fn opening_publishes_a_cooldown_and_recovery_clears_it() {
        let h = TargetHealth::default();
        let t0 = Instant::now();
        h.on_success(Duration::from_millis(5));
        assert_eq!(h.take_share(), None, "a plain success shares nothing");
        assert!(!fail(&h, FailureClass::Error, t0, None));
        assert_eq!(h.take_share(), None, "below the threshold: nothing");
        fail(
            &h,
            FailureClass::RateLimited,
            t0,
            Some(Duration::from_secs(2)),
        );
        let Some(Share::Cool { until, reason }) = h.take_share() else {
            panic!("no cooldown shared");
        };
        assert_eq!((until, reason.as_str()), (t0 + Duration::from_secs(2), "x"));
        assert_eq!(h.take_share(), None, "taken once");
        // Not published (Redis down): it goes back, unless replaced.
        h.requeue_share(Share::Cool {
            until,
            reason: reason.clone(),
        });
        assert!(matches!(h.take_share(), Some(Share::Cool { .. })));
        // The half-open probe succeeds: the shared cooldown ends too.
        assert_eq!(h.admit(t0 + Duration::from_secs(2)), Admission::Probe);
        h.on_success(Duration::from_millis(5));
        assert_eq!(h.take_share(), Some(Share::Clear));
        // A health probe that succeeds clears another replica's cooldown.
        h.set_remote(Some((t0 + CD, "x")));
        h.on_probe(true, t0, CD, "");
        assert_eq!(h.take_share(), Some(Share::Clear));
        assert_eq!(h.admit(t0), Admission::Closed);
    }

    #[test]
    fn the_registry_collects_shares_and_marks_remote_cooldowns() {
        let r = HealthRegistry::default();
        let a = r.get("a", "m");
        let b = r.get("b", "m");
        let t0 = Instant::now();
        fail(&a, FailureClass::RateLimited, t0, Some(CD));
        let shares = r.take_shares();
        assert_eq!(shares.len(), 1);
        assert_eq!((shares[0].0.as_str(), shares[0].1.as_str()), ("a", "m"));
        r.requeue_shares(shares);
        assert_eq!(r.take_shares().len(), 1);
        r.set_remote(|p, _| (p == "b").then_some((t0 + CD, "429")));
        assert!(!b.peek(t0).allowed());
        r.set_remote(|_, _| None);
        assert!(b.peek(t0).allowed());
    }

    #[test]
    fn probe_failure_and_recovery() {
        let h = TargetHealth::default();
        let t0 = Instant::now();
        h.on_probe(false, t0, CD, "down");
        assert!(!h.admit(t0).allowed());
        h.on_probe(true, t0, CD, "");
        assert_eq!(h.admit(t0), Admission::Closed);
    }
}
