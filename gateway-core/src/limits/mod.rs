//! Local rate limits: token buckets for ingress (per client key or peer
//! address) and provider-facing RPM/TPM. TPM is charged with an estimate
//! before the request and corrected from reported usage after it.
//! `login`: failed admin logins per peer address. `connections`: the cap
//! on open client connections.

pub mod connections;
pub mod login;

use std::collections::HashMap;
use std::sync::Mutex;
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

    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

/// Requests per minute per key (client key name or peer address).
#[derive(Debug)]
pub struct KeyedLimiter {
    rpm: u32,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

/// Idle buckets are swept once the map grows past this.
const SWEEP_AT: usize = 4096;

impl KeyedLimiter {
    pub fn new(rpm: u32) -> Self {
        Self {
            rpm,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn rpm(&self) -> u32 {
        self.rpm
    }

    /// `Err(wait)` when `key` is over its limit.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.rpm == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut map = self.buckets.lock_or_recover();
        if map.len() >= SWEEP_AT && !map.contains_key(key) {
            map.retain(|_, b| !b.is_full(now));
        }
        map.entry(key.to_string())
            .or_insert_with(|| TokenBucket::per_minute(self.rpm, now))
            .try_take(1.0, now)
    }
}

/// A provider's own RPM and TPM budget.
#[derive(Debug)]
pub struct ProviderLimiter {
    rpm: Option<Mutex<TokenBucket>>,
    tpm: Option<Mutex<TokenBucket>>,
}

impl ProviderLimiter {
    pub fn new(rpm: u32, tpm: u32) -> Self {
        let now = Instant::now();
        Self {
            rpm: (rpm > 0).then(|| Mutex::new(TokenBucket::per_minute(rpm, now))),
            tpm: (tpm > 0).then(|| Mutex::new(TokenBucket::per_minute(tpm, now))),
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none()
    }

    /// Takes one request and `tokens` estimated tokens, or says how long to wait.
    pub fn try_acquire(&self, tokens: u64) -> Result<(), Duration> {
        let now = Instant::now();
        if let Some(rpm) = &self.rpm {
            rpm.lock_or_recover().try_take(1.0, now)?;
        }
        if let Some(tpm) = &self.tpm
            && let Err(wait) = tpm.lock_or_recover().try_take(tokens as f64, now)
        {
            if let Some(rpm) = &self.rpm {
                rpm.lock_or_recover().adjust(1.0, now);
            }
            return Err(wait);
        }
        Ok(())
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
        if let Some(tpm) = &self.tpm {
            tpm.lock_or_recover()
                .adjust(estimated as f64 - actual as f64, Instant::now());
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
        let l = KeyedLimiter::new(2);
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
}
