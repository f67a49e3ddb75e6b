//! Rate limits and budgets shared by every replica through Redis.
//!
//! A request's limits — the ingress RPM/TPM of its client, its model's
//! `[[limits.models]]` entry, its virtual key's RPM/TPM and USD budget —
//! are taken in **one** call of the server-side function `aigw_take_v1`:
//! all of them or none, refilled from the Redis clock. Token limits take
//! the estimate and settle on the real usage after the answer
//! (`aigw_adjust_v1`, off the request path); a budget reserves the
//! estimated cost and settles on the real cost (a failure refunds).
//!
//! **Redis down never fails a request.** The decision is then local: a
//! bucket per key holding the limit divided by the last known replica
//! count, and for a budget what was left of it at the last answer divided
//! by that count. Spend settled meanwhile is kept and added to Redis when
//! it returns (an [`OnReturn`] hook, before requests use Redis again).
//! What this can over-admit is written in docs/team.md ("Redis outage").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::{RedisError, Value};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::redis::{OnReturn, RedisCluster, value_f64};
use crate::limits::TokenBucket;
use crate::sync::LockExt;

/// Local fallback buckets and budgets are swept of idle ones past this.
pub const MAX_LOCAL_ENTRIES: usize = 4096;
/// The longest wait a refusal reports.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// One token bucket to take from: `cost` of `cap` per minute.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub key: String,
    pub cap: u32,
    pub cost: u64,
}

/// A budget to reserve `cost` USD of.
#[derive(Debug, Clone)]
pub struct BudgetAsk {
    /// The budget's key for its period (`aigw:{budget:vk:ID}:START`).
    pub key: String,
    pub budget: f64,
    pub cost: f64,
    /// What was spent this period as far as this replica knows (a Redis
    /// that lost the key starts from it).
    pub seed: f64,
    /// The key expires this long after its last write (after the reset).
    pub ttl_ms: i64,
}

/// What a take decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Admitted,
    /// Refused by `buckets[index]`, or by the budget when `index` is
    /// `buckets.len()`; `spent` is the budget's spend then.
    Refused {
        index: usize,
        wait: Duration,
        spent: f64,
    },
}

/// A decision and where it was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub verdict: Verdict,
    /// By Redis (`true`) or locally while it was down (`false`).
    pub shared: bool,
}

/// What to settle after the answer: token deltas per bucket and the budget.
#[derive(Debug, Clone, Default)]
pub struct Settle {
    /// Decided by Redis (settled there) or locally.
    pub shared: bool,
    /// `(key, cap, delta)`: tokens given back (negative: charged more).
    pub buckets: Vec<(String, u32, f64)>,
    /// The budget: its ask, the reservation to release and the real cost.
    pub budget: Option<(BudgetAsk, f64, f64)>,
}

impl Settle {
    fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.2 == 0.0) && self.budget.is_none()
    }
}

/// This replica's view of a shared budget.
#[derive(Debug, Default, Clone)]
struct BudgetLocal {
    /// The spend Redis answered last (every replica's).
    known_spent: f64,
    /// Reserved by requests decided locally, under way.
    local_reserved: f64,
    /// Settled while Redis could not be told: added when it returns.
    pending_release: f64,
    pending_add: f64,
    ttl_ms: i64,
}

/// Shared limits over one Redis, with the local fallback.
pub struct SharedLimits {
    redis: Arc<RedisCluster>,
    fallback: Mutex<HashMap<String, (u32, TokenBucket)>>,
    budgets: Mutex<HashMap<String, BudgetLocal>>,
    /// Settles under way (spawned on `handle`; waited for at shutdown).
    tasks: TaskTracker,
    handle: tokio::runtime::Handle,
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits").finish_non_exhaustive()
    }
}

/// The limit a replica enforces alone: `cap` over `replicas`, at least 1.
pub fn divided(cap: u32, replicas: u32) -> u32 {
    (cap / replicas.max(1)).max(1)
}

fn wait_of(ms: f64) -> Duration {
    Duration::try_from_secs_f64((ms / 1000.0).clamp(0.0, MAX_WAIT.as_secs_f64()))
        .unwrap_or(MAX_WAIT)
}

fn item(v: &Value, i: usize) -> Option<f64> {
    match v {
        Value::Array(items) => items.get(i).and_then(value_f64),
        _ => None,
    }
}

impl SharedLimits {
    /// Limits over `redis`; settles are spawned on the current runtime.
    pub fn new(redis: Arc<RedisCluster>) -> Arc<Self> {
        let limits = Arc::new(Self {
            redis: redis.clone(),
            fallback: Mutex::new(HashMap::new()),
            budgets: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            handle: tokio::runtime::Handle::current(),
        });
        redis.on_return(Arc::new(Resync(Arc::downgrade(&limits))));
        limits
    }

    pub fn redis(&self) -> &Arc<RedisCluster> {
        &self.redis
    }

    /// Takes every bucket and reserves the budget, all or nothing: in Redis
    /// when it is up, else (or when the call fails) locally.
    pub async fn take(&self, buckets: &[Bucket], budget: Option<&BudgetAsk>) -> Decision {
        let live: Vec<&Bucket> = buckets.iter().filter(|b| b.cap > 0).collect();
        if live.is_empty() && budget.is_none() {
            return Decision {
                verdict: Verdict::Admitted,
                shared: true,
            };
        }
        if self.redis.is_up() {
            let mut keys: Vec<String> = live.iter().map(|b| b.key.clone()).collect();
            let mut args = vec![live.len().to_string()];
            for b in &live {
                args.push(b.cap.to_string());
                args.push(b.cost.to_string());
            }
            if let Some(a) = budget {
                keys.push(a.key.clone());
                let seed = self.seed(a);
                args.extend([
                    a.budget.to_string(),
                    a.cost.to_string(),
                    seed.to_string(),
                    a.ttl_ms.max(1000).to_string(),
                ]);
            }
            if let Ok(v) = self.redis.fcall("take", &keys, &args).await {
                let spent = item(&v, 3).unwrap_or(0.0);
                if let Some(a) = budget {
                    self.know(a, spent);
                }
                let verdict = if item(&v, 0) == Some(1.0) {
                    Verdict::Admitted
                } else {
                    // Map the index among the limited buckets back.
                    let i = item(&v, 2).unwrap_or(1.0) as usize;
                    let index = if i > live.len() {
                        buckets.len()
                    } else {
                        let key = &live[i.saturating_sub(1)].key;
                        buckets.iter().position(|b| &b.key == key).unwrap_or(0)
                    };
                    Verdict::Refused {
                        index,
                        wait: wait_of(item(&v, 1).unwrap_or(0.0)),
                        spent,
                    }
                };
                return Decision {
                    verdict,
                    shared: true,
                };
            }
        }
        self.redis.count_degraded();
        Decision {
            verdict: self.take_local(buckets, budget),
            shared: false,
        }
    }

    /// The seed of a budget key: what Redis answered last, else what the
    /// key had spent when this replica first used it.
    fn seed(&self, a: &BudgetAsk) -> f64 {
        let b = self.budgets.lock_or_recover();
        b.get(&a.key).map_or(a.seed, |l| l.known_spent)
    }

    fn know(&self, a: &BudgetAsk, spent: f64) {
        let mut b = self.budgets.lock_or_recover();
        sweep_budgets(&mut b, &a.key);
        let l = b.entry(a.key.clone()).or_default();
        l.known_spent = spent;
        l.ttl_ms = a.ttl_ms;
    }

    /// The local decision: buckets of the limit divided by the replicas,
    /// the budget left at the last answer divided likewise.
    fn take_local(&self, buckets: &[Bucket], budget: Option<&BudgetAsk>) -> Verdict {
        let n = self.redis.replica_count();
        let now = Instant::now();
        let mut taken: Vec<(&str, f64)> = Vec::new();
        let mut refused = None;
        {
            let mut map = self.fallback.lock_or_recover();
            if map.len() >= MAX_LOCAL_ENTRIES {
                map.retain(|_, (_, b)| !b.is_full(now));
            }
            for (index, b) in buckets.iter().enumerate() {
                if b.cap == 0 {
                    continue;
                }
                let cap = divided(b.cap, n);
                let (c, bucket) = map
                    .entry(b.key.clone())
                    .or_insert_with(|| (cap, TokenBucket::per_minute(cap, now)));
                if *c != cap {
                    bucket.resize(cap, now);
                    *c = cap;
                }
                let cost = (b.cost as f64).min(f64::from(cap));
                match bucket.try_take(cost, now) {
                    Ok(()) => taken.push((&b.key, cost)),
                    Err(wait) => {
                        refused = Some(Verdict::Refused {
                            index,
                            wait,
                            spent: 0.0,
                        });
                        break;
                    }
                }
            }
            if refused.is_some() {
                for (key, cost) in &taken {
                    if let Some((_, bucket)) = map.get_mut(*key) {
                        bucket.adjust(*cost, now);
                    }
                }
            }
        }
        if let Some(r) = refused {
            return r;
        }
        let Some(a) = budget else {
            return Verdict::Admitted;
        };
        let mut map = self.budgets.lock_or_recover();
        sweep_budgets(&mut map, &a.key);
        let l = map.entry(a.key.clone()).or_insert_with(|| BudgetLocal {
            known_spent: a.seed,
            ttl_ms: a.ttl_ms,
            ..BudgetLocal::default()
        });
        let allowance = (a.budget - l.known_spent).max(0.0) / f64::from(n);
        let used = l.pending_add + l.local_reserved;
        if used >= allowance || used + a.cost > allowance {
            let spent = l.known_spent + l.pending_add;
            drop(map);
            // Give the buckets back: all or nothing.
            let mut fb = self.fallback.lock_or_recover();
            for (key, cost) in &taken {
                if let Some((_, bucket)) = fb.get_mut(*key) {
                    bucket.adjust(*cost, now);
                }
            }
            return Verdict::Refused {
                index: buckets.len(),
                wait: Duration::ZERO,
                spent,
            };
        }
        l.local_reserved += a.cost;
        Verdict::Admitted
    }

    /// Settles a request after its answer, off the request path.
    pub fn settle(self: &Arc<Self>, s: Settle) {
        if s.is_empty() {
            return;
        }
        let me = self.clone();
        self.tasks
            .spawn_on(async move { me.settle_now(s).await }, &self.handle);
    }

    /// [`Self::settle`], awaited.
    pub async fn settle_now(&self, s: Settle) {
        if !s.shared {
            self.settle_local(&s);
            if let Some((ask, _, add)) = &s.budget {
                // The reservation was local; the spend goes to Redis now or
                // when it returns.
                self.add_spend(ask, 0.0, *add).await;
            }
            return;
        }
        let buckets: Vec<&(String, u32, f64)> =
            s.buckets.iter().filter(|b| b.1 > 0 && b.2 != 0.0).collect();
        let mut keys: Vec<String> = buckets.iter().map(|b| b.0.clone()).collect();
        let mut args = vec![buckets.len().to_string()];
        for b in &buckets {
            args.push(b.1.to_string());
            args.push(b.2.to_string());
        }
        if let Some((ask, release, add)) = &s.budget {
            keys.push(ask.key.clone());
            args.extend([
                release.to_string(),
                add.to_string(),
                self.seed(ask).to_string(),
                ask.ttl_ms.max(1000).to_string(),
            ]);
        }
        match self.redis.fcall("adjust", &keys, &args).await {
            Ok(v) => {
                if let Some((ask, _, _)) = &s.budget {
                    self.know(ask, item(&v, 0).unwrap_or(0.0));
                }
            }
            Err(_) => {
                // Token deltas are dropped (the bucket refills within a
                // minute); the budget's are kept for Redis' return.
                if let Some((ask, release, add)) = &s.budget {
                    self.pend(ask, *release, *add);
                }
            }
        }
    }

    fn settle_local(&self, s: &Settle) {
        let now = Instant::now();
        {
            let mut map = self.fallback.lock_or_recover();
            for (key, _, delta) in &s.buckets {
                if let Some((_, b)) = map.get_mut(key) {
                    b.adjust(*delta, now);
                }
            }
        }
        if let Some((ask, release, _)) = &s.budget {
            let mut map = self.budgets.lock_or_recover();
            if let Some(l) = map.get_mut(&ask.key) {
                l.local_reserved = (l.local_reserved - release).max(0.0);
            }
        }
    }

    /// Adds spend (and releases a reservation) in Redis, or keeps it for
    /// its return.
    async fn add_spend(&self, ask: &BudgetAsk, release: f64, add: f64) {
        if add == 0.0 && release == 0.0 {
            return;
        }
        let keys = [ask.key.clone()];
        let args = [
            "0".to_string(),
            release.to_string(),
            add.to_string(),
            self.seed(ask).to_string(),
            ask.ttl_ms.max(1000).to_string(),
        ];
        match self.redis.fcall("adjust", &keys, &args).await {
            Ok(v) => self.know(ask, item(&v, 0).unwrap_or(0.0)),
            Err(_) => self.pend(ask, release, add),
        }
    }

    fn pend(&self, ask: &BudgetAsk, release: f64, add: f64) {
        let mut map = self.budgets.lock_or_recover();
        let l = map.entry(ask.key.clone()).or_insert_with(|| BudgetLocal {
            known_spent: ask.seed,
            ..BudgetLocal::default()
        });
        l.pending_release += release;
        l.pending_add += add;
        l.ttl_ms = ask.ttl_ms;
    }

    /// Pushes what was settled while Redis was down (called when it
    /// returns, before requests use it).
    async fn resync(&self, redis: &RedisCluster) -> Result<(), RedisError> {
        let pending: Vec<(String, BudgetLocal)> = {
            let mut map = self.budgets.lock_or_recover();
            let out = map
                .iter()
                .filter(|(_, l)| l.pending_add != 0.0 || l.pending_release != 0.0)
                .map(|(k, l)| (k.clone(), l.clone()))
                .collect();
            for l in map.values_mut() {
                l.pending_add = 0.0;
                l.pending_release = 0.0;
            }
            out
        };
        let mut failed = None;
        for (key, l) in pending {
            if failed.is_some() {
                self.restore(&key, &l);
                continue;
            }
            let args = [
                "0".to_string(),
                l.pending_release.to_string(),
                l.pending_add.to_string(),
                l.known_spent.to_string(),
                l.ttl_ms.max(1000).to_string(),
            ];
            match redis
                .fcall_on_return("adjust", std::slice::from_ref(&key), &args)
                .await
            {
                Ok(v) => {
                    let mut map = self.budgets.lock_or_recover();
                    if let Some(e) = map.get_mut(&key) {
                        e.known_spent = item(&v, 0).unwrap_or(e.known_spent);
                    }
                }
                Err(e) => {
                    self.restore(&key, &l);
                    failed = Some(e);
                }
            }
        }
        // Fallback buckets start afresh at the next outage.
        self.fallback.lock_or_recover().clear();
        failed.map_or(Ok(()), Err)
    }

    fn restore(&self, key: &str, l: &BudgetLocal) {
        let mut map = self.budgets.lock_or_recover();
        let e = map.entry(key.to_string()).or_default();
        e.pending_add += l.pending_add;
        e.pending_release += l.pending_release;
    }

    /// Waits for settles under way (at shutdown).
    pub async fn close(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Drops budgets with nothing pending once there are many (not `keep`).
fn sweep_budgets(map: &mut HashMap<String, BudgetLocal>, keep: &str) {
    if map.len() >= MAX_LOCAL_ENTRIES && !map.contains_key(keep) {
        map.retain(|_, l| {
            l.pending_add != 0.0 || l.pending_release != 0.0 || l.local_reserved > 0.0
        });
    }
}

/// The [`OnReturn`] hook of a [`SharedLimits`].
struct Resync(std::sync::Weak<SharedLimits>);

impl OnReturn for Resync {
    fn on_return<'a>(&'a self, redis: &'a RedisCluster) -> BoxFuture<'a, Result<(), RedisError>> {
        Box::pin(async move {
            match self.0.upgrade() {
                Some(l) => l.resync(redis).await,
                None => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_alone_enforces_its_share_of_a_limit() {
        assert_eq!(divided(60, 3), 20);
        assert_eq!(divided(60, 0), 60);
        assert_eq!(divided(2, 3), 1);
    }

    #[tokio::test]
    async fn down_decides_locally_at_the_divided_limit_all_or_nothing() {
        let redis = Arc::new(RedisCluster::new("redis://127.0.0.1:1/", "t").unwrap());
        let l = SharedLimits::new(redis.clone());
        let rpm = Bucket {
            key: "a".into(),
            cap: 2,
            cost: 1,
        };
        let tpm = Bucket {
            key: "b".into(),
            cap: 100,
            cost: 60,
        };
        let both = [rpm.clone(), tpm];
        let d = l.take(&both, None).await;
        assert_eq!(d.verdict, Verdict::Admitted);
        assert!(!d.shared);
        // tokens refused: the request slot comes back
        let d = l.take(&both, None).await;
        assert!(
            matches!(d.verdict, Verdict::Refused { index: 1, .. }),
            "{d:?}"
        );
        assert_eq!(
            l.take(std::slice::from_ref(&rpm), None).await.verdict,
            Verdict::Admitted
        );
        assert!(matches!(
            l.take(&[rpm], None).await.verdict,
            Verdict::Refused { index: 0, .. }
        ));
        assert_eq!(redis.degraded_decisions(), 4);
        let ask = BudgetAsk {
            key: "k".into(),
            budget: 1.0,
            cost: 0.6,
            seed: 0.2,
            ttl_ms: 1000,
        };
        // 0.8 left, one replica: 0.6 fits once
        assert_eq!(l.take(&[], Some(&ask)).await.verdict, Verdict::Admitted);
        assert!(matches!(
            l.take(&[], Some(&ask)).await.verdict,
            Verdict::Refused { index: 0, .. }
        ));
        l.settle_now(Settle {
            shared: false,
            buckets: vec![],
            budget: Some((ask.clone(), 0.6, 0.1)),
        })
        .await;
        assert_eq!(l.take(&[], Some(&ask)).await.verdict, Verdict::Admitted);
        let b = l.budgets.lock_or_recover();
        assert!((b["k"].pending_add - 0.1).abs() < 1e-9);
    }
}
