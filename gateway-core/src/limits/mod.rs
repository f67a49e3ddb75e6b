//! Local rate limits: token buckets for ingress (per client key or peer
//! address: RPM and TPM), per requested model (`[[limits.models]]`) and
//! provider-facing RPM/TPM. TPM is charged with an estimate before the
//! request and corrected from reported usage after it. Every limiter is
//! kept across a publish and, when its limit changed, resized in place:
//! what was spent in the current window still counts against the new limit
//! ([`TokenBucket::resize`]).
//! `models`: the per-model limits. `login`: failed admin logins per peer
//! address. `connections`: the cap on open client connections.

pub mod connections;
pub mod login;
pub mod models;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::sync::LockExt;
use tokio::time::Instant;

/// The longest wait a bucket reports (its debt is bounded too).
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// A classic token bucket refilled continuously at `capacity` per minute.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn per_minute(capacity: u32, now: Instant) -> Self {
        let capacity = f64::from(capacity.max(1));
        Self {
            capacity,
            per_sec: capacity / 60.0,
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.capacity);
        self.last = now;
    }

    /// Takes `n` tokens or says how long until they would be there.
    pub fn try_take(&mut self, n: f64, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        let n = n.min(self.capacity);
        if self.tokens >= n {
            self.tokens -= n;
            Ok(())
        } else {
            let secs = ((n - self.tokens) / self.per_sec).min(MAX_WAIT.as_secs_f64());
            Err(Duration::try_from_secs_f64(secs).unwrap_or(MAX_WAIT))
        }
    }

    /// Gives tokens back (negative `n` charges more); may go below zero.
    pub fn adjust(&mut self, n: f64, now: Instant) {
        self.refill(now);
        // An upstream reporting absurd usage runs up at most an hour of debt.
        self.tokens = (self.tokens + n).clamp(-60.0 * self.capacity, self.capacity);
    }

    /// A new capacity (and refill rate) that keeps what was used: the
    /// tokens spent in the current window still count, so raising a limit
    /// from 2 to 10 with 2 spent leaves 8, and lowering it below what was
    /// spent leaves the bucket empty (or in debt) until it refills.
    pub fn resize(&mut self, capacity: u32, now: Instant) {
        self.refill(now);
        let used = self.capacity - self.tokens;
        let capacity = f64::from(capacity.max(1));
        self.capacity = capacity;
        self.per_sec = capacity / 60.0;
        self.tokens = (capacity - used).clamp(-60.0 * capacity, capacity);
    }

    /// Whether it has refilled to its capacity (an idle bucket).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

/// A bucket for a limit of `limit` per minute, none for 0; `old` resized
/// when there was one.
fn rebucket(old: Option<TokenBucket>, limit: u32, now: Instant) -> Option<TokenBucket> {
    match (old, limit) {
        (_, 0) => None,
        (Some(mut b), n) => {
            b.resize(n, now);
            Some(b)
        }
        (None, n) => Some(TokenBucket::per_minute(n, now)),
    }
}

/// A per-minute budget of requests and tokens (0 = that side unlimited).
#[derive(Debug, Clone)]
pub struct Budget {
    rpm: Option<TokenBucket>,
    tpm: Option<TokenBucket>,
}

impl Budget {
    pub fn new(rpm: u32, tpm: u32, now: Instant) -> Self {
        Self {
            rpm: (rpm > 0).then(|| TokenBucket::per_minute(rpm, now)),
            tpm: (tpm > 0).then(|| TokenBucket::per_minute(tpm, now)),
        }
    }

    fn is_unlimited(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none()
    }

    /// One request and `tokens` tokens, or the wait; a request refused for
    /// its tokens gives its request slot back.
    fn try_acquire(&mut self, tokens: u64, now: Instant) -> Result<(), Duration> {
        if let Some(rpm) = &mut self.rpm {
            rpm.try_take(1.0, now)?;
        }
        if let Some(tpm) = &mut self.tpm
            && let Err(wait) = tpm.try_take(tokens as f64, now)
        {
            if let Some(rpm) = &mut self.rpm {
                rpm.adjust(1.0, now);
            }
            return Err(wait);
        }
        Ok(())
    }

    fn take_request(&mut self, now: Instant) -> Result<(), Duration> {
        self.rpm.as_mut().map_or(Ok(()), |b| b.try_take(1.0, now))
    }

    fn take_tokens(&mut self, tokens: u64, now: Instant) -> Result<(), Duration> {
        self.tpm
            .as_mut()
            .map_or(Ok(()), |b| b.try_take(tokens as f64, now))
    }

    /// Replaces the charge for `estimated` by `actual`. A take is cut to
    /// the bucket's capacity, so only that much is given back: a request
    /// estimated over the whole budget must not refill it by settling.
    fn settle(&mut self, estimated: u64, actual: u64, now: Instant) {
        if let Some(tpm) = &mut self.tpm {
            let charged = (estimated as f64).min(tpm.capacity);
            tpm.adjust(charged - actual as f64, now);
        }
    }

    fn resize(&mut self, rpm: u32, tpm: u32, now: Instant) {
        self.rpm = rebucket(self.rpm.take(), rpm, now);
        self.tpm = rebucket(self.tpm.take(), tpm, now);
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.rpm.as_mut().is_none_or(|b| b.is_full(now))
            && self.tpm.as_mut().is_none_or(|b| b.is_full(now))
    }
}

/// Requests and tokens per minute per key (client key name or peer
/// address): `limits.ingress_rpm` and `limits.ingress_tpm`.
#[derive(Debug)]
pub struct KeyedLimiter {
    rpm: AtomicU32,
    tpm: AtomicU32,
    buckets: Mutex<HashMap<String, Budget>>,
}

/// Idle buckets are swept once the map grows past this.
const SWEEP_AT: usize = 4096;

impl KeyedLimiter {
    pub fn new(rpm: u32, tpm: u32) -> Self {
        Self {
            rpm: AtomicU32::new(rpm),
            tpm: AtomicU32::new(tpm),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn rpm(&self) -> u32 {
        self.rpm.load(Ordering::Relaxed)
    }

    pub fn tpm(&self) -> u32 {
        self.tpm.load(Ordering::Relaxed)
    }

    /// `key`'s budget, made when it has none (sweeping idle ones first
    /// when there are many).
    fn with<T>(&self, key: &str, f: impl FnOnce(&mut Budget, Instant) -> T) -> T {
        let now = Instant::now();
        let mut map = self.buckets.lock_or_recover();
        if map.len() >= SWEEP_AT && !map.contains_key(key) {
            map.retain(|_, b| !b.is_full(now));
        }
        let budget = map
            .entry(key.to_string())
            .or_insert_with(|| Budget::new(self.rpm(), self.tpm(), now));
        f(budget, now)
    }

    /// Takes one request of `key`'s: `Err(wait)` when it is over its RPM.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.rpm() == 0 {
            return Ok(());
        }
        self.with(key, |b, now| b.take_request(now))
    }

    /// Charges `tokens` (an estimate) to `key`: `Err(wait)` when it is over
    /// its TPM. Corrected by [`KeyedLimiter::settle`] once the answer is in.
    pub fn charge(&self, key: &str, tokens: u64) -> Result<(), Duration> {
        if self.tpm() == 0 {
            return Ok(());
        }
        self.with(key, |b, now| b.take_tokens(tokens, now))
    }

    /// Corrects `key`'s TPM charge once the real usage is known.
    pub fn settle(&self, key: &str, estimated: u64, actual: u64) {
        if self.tpm() == 0 || estimated == actual {
            return;
        }
        let now = Instant::now();
        if let Some(b) = self.buckets.lock_or_recover().get_mut(key) {
            b.settle(estimated, actual, now);
        }
    }

    /// New limits for every key, keeping what each spent in this window.
    pub fn resize(&self, rpm: u32, tpm: u32) {
        if (rpm, tpm) == (self.rpm(), self.tpm()) {
            return;
        }
        let now = Instant::now();
        let mut map = self.buckets.lock_or_recover();
        self.rpm.store(rpm, Ordering::Relaxed);
        self.tpm.store(tpm, Ordering::Relaxed);
        map.retain(|_, b| {
            b.resize(rpm, tpm, now);
            !b.is_unlimited()
        });
    }
}

/// A provider's own RPM and TPM budget (or, with `share_limits`, that of
/// every provider on the same base URL).
#[derive(Debug)]
pub struct ProviderLimiter {
    limits: Mutex<(u32, u32, Budget)>,
}

impl ProviderLimiter {
    pub fn new(rpm: u32, tpm: u32) -> Self {
        Self {
            limits: Mutex::new((rpm, tpm, Budget::new(rpm, tpm, Instant::now()))),
        }
    }

    /// `(rpm, tpm)` as configured.
    pub fn limits(&self) -> (u32, u32) {
        let l = self.limits.lock_or_recover();
        (l.0, l.1)
    }

    pub fn is_unlimited(&self) -> bool {
        self.limits.lock_or_recover().2.is_unlimited()
    }

    /// Takes one request and `tokens` estimated tokens, or says how long to wait.
    pub fn try_acquire(&self, tokens: u64) -> Result<(), Duration> {
        self.limits
            .lock_or_recover()
            .2
            .try_acquire(tokens, Instant::now())
    }

    /// Waits up to `max_wait` for a slot.
    pub async fn acquire(&self, tokens: u64, max_wait: Duration) -> Result<(), Duration> {
        let deadline = Instant::now() + max_wait;
        loop {
            match self.try_acquire(tokens) {
                Ok(()) => return Ok(()),
                Err(wait) => {
                    let now = Instant::now();
                    if now.checked_add(wait).is_none_or(|t| t > deadline) {
                        return Err(wait);
                    }
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
    }

    /// Corrects the TPM charge once the real usage is known.
    pub fn settle(&self, estimated: u64, actual: u64) {
        self.limits
            .lock_or_recover()
            .2
            .settle(estimated, actual, Instant::now());
    }

    /// New limits, keeping what was spent in this window.
    pub fn resize(&self, rpm: u32, tpm: u32) {
        let mut l = self.limits.lock_or_recover();
        if (l.0, l.1) != (rpm, tpm) {
            l.2.resize(rpm, tpm, Instant::now());
            l.0 = rpm;
            l.1 = tpm;
        }
    }
}

/// A rough token estimate for a request body: ~4 bytes per token plus the
/// requested completion budget.
pub fn estimate_tokens(body_len: usize, max_tokens: Option<u64>) -> u64 {
    (body_len as u64)
        .div_ceil(4)
        .saturating_add(max_tokens.unwrap_or(DEFAULT_OUTPUT_TOKENS))
}

/// Output tokens a request without `max_tokens` is estimated at.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_usage_and_budgets_give_bounded_waits() {
        let t0 = Instant::now();
        let mut b = TokenBucket::per_minute(1, t0);
        b.adjust(-(u64::MAX as f64), t0);
        assert_eq!(b.try_take(1.0, t0), Err(MAX_WAIT));
        let p = ProviderLimiter::new(0, 1);
        p.settle(0, u64::MAX);
        assert!(p.try_acquire(1).unwrap_err() <= MAX_WAIT);
        assert_eq!(estimate_tokens(usize::MAX, Some(u64::MAX)), u64::MAX);
    }

    #[test]
    fn bucket_refills_over_time() {
        let t0 = Instant::now();
        let mut b = TokenBucket::per_minute(60, t0);
        for _ in 0..60 {
            b.try_take(1.0, t0).unwrap();
        }
        let wait = b.try_take(1.0, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 1.0).abs() < 0.01, "{wait:?}");
        assert!(b.try_take(1.0, t0 + Duration::from_millis(1001)).is_ok());
    }

    #[test]
    fn keyed_limiter_is_per_key() {
        let l = KeyedLimiter::new(2, 0);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        assert!(l.check("b").is_ok());
    }

    #[test]
    fn tpm_failure_rolls_back_rpm_and_settle_refunds() {
        let l = ProviderLimiter::new(2, 100);
        assert!(l.try_acquire(100).is_ok());
        // refused by TPM: the RPM slot it took is given back
        assert!(l.try_acquire(50).is_err());
        // the estimate was 100, the real usage 20: 80 tokens come back
        l.settle(100, 20);
        assert!(l.try_acquire(50).is_ok());
        // two requests per minute are now spent
        assert!(l.try_acquire(0).is_err());
    }

    #[test]
    fn resize_keeps_what_was_used() {
        let t0 = Instant::now();
        let mut b = TokenBucket::per_minute(2, t0);
        b.try_take(2.0, t0).unwrap();
        b.resize(10, t0);
        for _ in 0..8 {
            b.try_take(1.0, t0).unwrap();
        }
        assert!(b.try_take(1.0, t0).is_err());
        // lowered below what was spent: empty, refilling at the new rate
        b.resize(5, t0);
        let wait = b.try_take(1.0, t0).unwrap_err();
        assert!(wait > Duration::from_secs(60), "{wait:?}");
    }

    #[test]
    fn keyed_limiter_resizes_every_key_and_charges_tokens() {
        let l = KeyedLimiter::new(1, 100);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        assert!(l.charge("a", 100).is_ok());
        assert!(l.charge("a", 1).is_err());
        l.settle("a", 100, 40);
        assert!(l.charge("a", 60).is_ok());
        l.resize(3, 100);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        l.resize(0, 0);
        assert!(l.check("a").is_ok() && l.charge("a", u64::MAX).is_ok());
    }

    #[test]
    fn an_estimate_over_the_budget_is_refunded_only_what_was_taken() {
        let l = ProviderLimiter::new(0, 1000);
        // estimated 5000, taken 1000 (the whole budget); it used 1000
        assert!(l.try_acquire(5000).is_ok());
        l.settle(5000, 1000);
        assert!(l.try_acquire(10).is_err(), "the budget is spent");
    }
}
