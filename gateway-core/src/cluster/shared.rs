//! What replicas share besides limits (team mode): cooldowns
//! ([`super::cooling`]), sticky-session bindings ([`super::sessions`]) and
//! response-cache entries ([`super::responses`]).
//!
//! A request never waits on Redis to publish: bindings and cache entries go
//! into a bounded writer queue ([`MAX_QUEUED_WRITES`], [`MAX_QUEUED_BYTES`];
//! past either a write is dropped and counted) that one task sends in
//! pipelined batches. Reads happen only on a local miss, with a short
//! timeout, and not at all while Redis is down: then every replica serves
//! from its own state.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cooling::{CoolingSync, SYNC_INTERVAL};
use super::redis::RedisCluster;
use super::{responses, sessions};
use crate::cache::{CacheKey, Entry, ResponseCache};
use crate::routing::health::HealthRegistry;
use crate::routing::sticky::SessionKey;
use crate::routing::{LiveRuntime, RouteRuntime};

/// Rounds a [`SharedState::poke`] brings forward are at least this far apart.
pub const MIN_ROUND_GAP: Duration = Duration::from_millis(50);

/// Writes waiting for the writer task, at most.
pub const MAX_QUEUED_WRITES: usize = 4096;
/// Bytes of values waiting for the writer task, at most.
pub const MAX_QUEUED_BYTES: usize = 16 << 20;
/// Writes (and bytes) sent in one pipelined round trip, at most.
const BATCH_WRITES: usize = 128;
const BATCH_BYTES: usize = 4 << 20;

struct Write {
    key: String,
    value: Bytes,
    ttl_ms: u64,
}

/// Counters for `/metrics` (`aigw_cluster_redis_*`).
#[derive(Debug, Default)]
pub struct StateCounters {
    pub sticky_hit: AtomicU64,
    pub sticky_miss: AtomicU64,
    pub sticky_error: AtomicU64,
    pub cache_hit: AtomicU64,
    pub cache_miss: AtomicU64,
    pub cache_error: AtomicU64,
    pub cooldown_ok: AtomicU64,
    pub cooldown_error: AtomicU64,
    pub writes: AtomicU64,
    pub writes_dropped: AtomicU64,
    pub write_errors: AtomicU64,
    /// Shared cooldowns read in the last round.
    pub cooled: AtomicU64,
}

/// Shared state of one replica (`AppState::cluster`).
#[derive(Debug)]
pub struct SharedState {
    redis: Arc<RedisCluster>,
    queue: mpsc::Sender<Write>,
    queued: Arc<AtomicUsize>,
    pub counters: Arc<StateCounters>,
    /// A breaker opened here: publish now rather than at the next tick.
    poke: tokio::sync::Notify,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl SharedState {
    /// The state and its two tasks (the cooldown sync and the writer),
    /// which end with `stop`.
    pub fn start(
        redis: Arc<RedisCluster>,
        health: Arc<HealthRegistry>,
        runtime: Arc<LiveRuntime>,
        tracker: &tokio_util::task::TaskTracker,
        stop: CancellationToken,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(MAX_QUEUED_WRITES);
        let s = Arc::new(Self {
            redis,
            queue: tx,
            queued: Arc::default(),
            counters: Arc::default(),
            poke: tokio::sync::Notify::new(),
        });
        tracker.spawn(writer(s.clone(), rx, stop.clone()));
        tracker.spawn(cooling(s.clone(), health, runtime, stop));
        s
    }

    fn push(&self, key: String, value: Bytes, ttl: Duration) {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let n = value.len() + key.len();
        if self.queued.fetch_add(n, Ordering::Relaxed) + n > MAX_QUEUED_BYTES {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            bump(&self.counters.writes_dropped);
            return;
        }
        if self.queue.try_send(Write { key, value, ttl_ms }).is_err() {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            bump(&self.counters.writes_dropped);
        }
    }

    /// Publishes that `session` is on target `i` of `route` (queued).
    pub fn bind_session(&self, route: &RouteRuntime, session: &SessionKey, i: usize) {
        let (Some(table), Some(v)) = (&route.sticky, sessions::value(route, i)) else {
            return;
        };
        if !self.redis.is_up() {
            return;
        }
        let key = sessions::key(&route.spec.model, session);
        self.push(key, Bytes::from(v), table.ttl());
    }

    /// On a local miss: the session's binding another replica published,
    /// kept in the route's table. Waits at most
    /// [`sessions::LOOKUP_TIMEOUT`]; nothing while Redis is down.
    pub async fn recall_session(&self, route: &RouteRuntime, session: &SessionKey) {
        let Some(table) = &route.sticky else { return };
        if !self.redis.is_up() {
            return;
        }
        let key = sessions::key(&route.spec.model, session);
        let mut get = redis::cmd("GET");
        get.arg(&key);
        let got = tokio::time::timeout(
            sessions::LOOKUP_TIMEOUT,
            self.redis.run::<Option<String>>(&get),
        )
        .await;
        match got {
            Ok(Ok(Some(v))) => match sessions::target(route, &v) {
                Some(i) => {
                    table.recall(session, i, tokio::time::Instant::now());
                    bump(&self.counters.sticky_hit);
                }
                None => bump(&self.counters.sticky_miss),
            },
            Ok(Ok(None)) => bump(&self.counters.sticky_miss),
            Ok(Err(_)) | Err(_) => bump(&self.counters.sticky_error),
        }
    }

    /// Publishes a cache entry (queued) unless it is over
    /// [`responses::MAX_SHARED_ENTRY`].
    pub fn put_cached(&self, key: &CacheKey, entry: &Entry, ttl: Duration) {
        if !self.redis.is_up() {
            return;
        }
        if let Some(v) = responses::encode(entry) {
            self.push(responses::key(key), v, ttl);
        }
    }

    /// On a local miss: the entry another replica cached, kept in `cache`
    /// for the rest of its TTL. Waits at most
    /// [`responses::LOOKUP_TIMEOUT`]; `None` while Redis is down.
    pub async fn get_cached(&self, cache: &ResponseCache, key: &CacheKey) -> Option<Arc<Entry>> {
        if !self.redis.is_up() {
            return None;
        }
        let mut pipe = redis::pipe();
        let k = responses::key(key);
        pipe.cmd("GET").arg(&k).cmd("PTTL").arg(&k);
        let got = tokio::time::timeout(
            responses::LOOKUP_TIMEOUT,
            self.redis.run_pipe::<(Option<Vec<u8>>, i64)>(&pipe),
        )
        .await;
        match got {
            Ok(Ok((Some(raw), ttl))) if ttl > 0 => {
                let Some(entry) = responses::decode(Bytes::from(raw)) else {
                    bump(&self.counters.cache_miss);
                    return None;
                };
                bump(&self.counters.cache_hit);
                let ttl = Duration::from_millis(ttl.unsigned_abs());
                Some(cache.insert_shared(*key, entry, ttl))
            }
            Ok(Ok(_)) => {
                bump(&self.counters.cache_miss);
                None
            }
            Ok(Err(_)) | Err(_) => {
                bump(&self.counters.cache_error);
                None
            }
        }
    }

    pub fn is_up(&self) -> bool {
        self.redis.is_up()
    }

    /// A target's breaker opened (or a key cooled) here: the cooldown
    /// round runs now (at most every [`MIN_ROUND_GAP`]) instead of at the
    /// next tick, so other replicas see it within one [`SYNC_INTERVAL`].
    pub fn poke(&self) {
        self.poke.notify_one();
    }

    /// `aigw_cluster_redis_lookups_total{kind,result}`,
    /// `aigw_cluster_redis_writes_total{result}`,
    /// `aigw_cluster_cooldown_syncs_total{result}` and
    /// `aigw_cluster_shared_cooldowns`, inserted before OpenMetrics' `# EOF`.
    pub fn append_metrics(&self, body: &mut String, openmetrics: bool) {
        use std::fmt::Write;
        let c = &self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, samples: &[(&str, u64)]| {
            let family = if openmetrics {
                name.to_string()
            } else {
                format!("{name}_total")
            };
            let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} counter");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}_total{{{labels}}} {v}");
            }
        };
        counter(
            "aigw_cluster_redis_lookups",
            "Redis lookups on a local miss (team mode), by kind and result.",
            &[
                ("kind=\"sticky\",result=\"hit\"", n(&c.sticky_hit)),
                ("kind=\"sticky\",result=\"miss\"", n(&c.sticky_miss)),
                ("kind=\"sticky\",result=\"error\"", n(&c.sticky_error)),
                ("kind=\"cache\",result=\"hit\"", n(&c.cache_hit)),
                ("kind=\"cache\",result=\"miss\"", n(&c.cache_miss)),
                ("kind=\"cache\",result=\"error\"", n(&c.cache_error)),
            ],
        );
        counter(
            "aigw_cluster_redis_writes",
            "Sticky bindings and cache entries written to Redis, dropped (queue full or Redis down) or failed.",
            &[
                ("result=\"ok\"", n(&c.writes)),
                ("result=\"dropped\"", n(&c.writes_dropped)),
                ("result=\"error\"", n(&c.write_errors)),
            ],
        );
        counter(
            "aigw_cluster_cooldown_syncs",
            "Rounds publishing and reading shared cooldowns, by result.",
            &[
                ("result=\"ok\"", n(&c.cooldown_ok)),
                ("result=\"error\"", n(&c.cooldown_error)),
            ],
        );
        let _ = writeln!(
            out,
            "# HELP aigw_cluster_shared_cooldowns Cooldowns shared through Redis at the last sync.\n\
             # TYPE aigw_cluster_shared_cooldowns gauge\n\
             aigw_cluster_shared_cooldowns {}",
            n(&c.cooled)
        );
        match body.rfind("# EOF") {
            Some(at) if openmetrics => body.insert_str(at, &out),
            _ => body.push_str(&out),
        }
    }
}

/// Sends queued writes in pipelined batches; a failed batch is dropped
/// (bindings and cache entries are an optimisation: the next request
/// writes them again).
async fn writer(s: Arc<SharedState>, mut rx: mpsc::Receiver<Write>, stop: CancellationToken) {
    let mut batch: Vec<Write> = Vec::with_capacity(BATCH_WRITES);
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => break,
            w = rx.recv() => match w { Some(w) => w, None => break },
        };
        let mut bytes = first.value.len();
        batch.push(first);
        while batch.len() < BATCH_WRITES && bytes < BATCH_BYTES {
            match rx.try_recv() {
                Ok(w) => {
                    bytes += w.value.len();
                    batch.push(w);
                }
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        let mut n = 0;
        for w in &batch {
            n += w.key.len() + w.value.len();
            pipe.cmd("SET")
                .arg(&w.key)
                .arg(w.value.as_ref())
                .arg("PX")
                .arg(w.ttl_ms)
                .ignore();
        }
        let count = batch.len() as u64;
        batch.clear();
        s.queued.fetch_sub(n, Ordering::Relaxed);
        if !s.redis.is_up() {
            s.counters
                .writes_dropped
                .fetch_add(count, Ordering::Relaxed);
            continue;
        }
        match s.redis.run_pipe::<()>(&pipe).await {
            Ok(()) => {
                s.counters.writes.fetch_add(count, Ordering::Relaxed);
            }
            _ => {
                s.counters.write_errors.fetch_add(count, Ordering::Relaxed);
            }
        }
    }
}

/// Every [`SYNC_INTERVAL`] while Redis is up: one cooldown round.
async fn cooling(
    s: Arc<SharedState>,
    health: Arc<HealthRegistry>,
    runtime: Arc<LiveRuntime>,
    stop: CancellationToken,
) {
    let mut sync = CoolingSync::new();
    let mut tick = tokio::time::interval(SYNC_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
            _ = s.poke.notified() => {
                tokio::time::sleep_until(last + MIN_ROUND_GAP).await;
            }
        }
        last = tokio::time::Instant::now();
        if !s.redis.is_up() {
            continue;
        }
        let rt = runtime.load_full();
        match sync.round(&s.redis, &health, &rt).await {
            Ok(r) => {
                if failing {
                    tracing::info!("shared cooldowns: Redis answers again");
                    failing = false;
                }
                bump(&s.counters.cooldown_ok);
                s.counters.cooled.store(r.cooled as u64, Ordering::Relaxed);
            }
            Err(e) => {
                if !failing {
                    tracing::warn!("shared cooldowns: {e}");
                    failing = true;
                }
                bump(&s.counters.cooldown_error);
            }
        }
    }
}
