//! The Redis/Valkey side of team mode: one multiplexed connection
//! ([`redis::aio::ConnectionManager`]) from `[cluster] redis_url`
//! (`rediss://`/`valkeys://` = TLS; user and password from the URL), a
//! versioned function library, an up/down state and the replica heartbeat.
//!
//! - **Never blocks a request on Redis.** A request-path call
//!   ([`RedisCluster::fcall`], [`RedisCluster::query`]) is made only while
//!   the engine is up and is cut after [`OP_TIMEOUT`]; a failure marks the
//!   engine down and the caller falls back to local state at once. Only the
//!   heartbeat (every [`HEARTBEAT_EVERY`], off the request path) reconnects
//!   and marks the engine up again.
//! - **Versioned functions.** [`LIBRARY`] is loaded with `FUNCTION LOAD
//!   REPLACE`; its name and every function's carry the version
//!   ([`LIBRARY_VERSION`], `aigw_take_v1`), so a rolling upgrade never calls
//!   another build's code. It is loaded again when Redis answers
//!   "Function not found" (a restart without persistence) and whenever the
//!   engine comes back.
//! - **Keys.** Everything is under [`KEY_PREFIX`] with a hash tag per
//!   limited thing (`aigw:{rl:ingress:alice}`), so a Redis Cluster could
//!   shard them; the client here is a single-node one (a primary, or a
//!   proxy in front of a cluster).
//! - **Replicas.** Each heartbeat writes this replica's last-seen time into
//!   the sorted set `aigw:{replicas}` and counts the members seen within
//!   [`REPLICA_WINDOW`]: [`RedisCluster::replica_count`], at least 1, the
//!   last known value kept while Redis is down (local fallbacks divide
//!   limits by it).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, ServerErrorKind, Value};
use tokio_util::sync::CancellationToken;

use crate::sync::LockExt;

/// Every key this gateway writes starts with this.
pub const KEY_PREFIX: &str = "aigw:";
/// The version in the library's and every function's name.
pub const LIBRARY_VERSION: u32 = 1;
/// Connecting (TCP + TLS + AUTH) gives up after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// One command's answer is waited for this long on the connection.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// A request-path call in all (a retry after re-loading the library
/// included); past it the request decides locally.
pub const OP_TIMEOUT: Duration = Duration::from_millis(500);
/// How often the heartbeat runs (and, while down, tries to reconnect).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A heartbeat in all (reconnect, library load, resync) gives up after this.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);
/// A replica seen within this counts in [`RedisCluster::replica_count`].
pub const REPLICA_WINDOW: Duration = Duration::from_secs(5);
/// Replicas not seen for this long are removed from `aigw:{replicas}`.
pub const REPLICA_FORGET: Duration = Duration::from_secs(600);
/// The longest error text kept for status pages.
const MAX_ERROR_LEN: usize = 300;

/// The sorted set of replica id → last seen (ms, Redis clock).
pub const REPLICAS_KEY: &str = "aigw:{replicas}";

/// The server-side functions (Lua), loaded with `FUNCTION LOAD REPLACE`;
/// `redis_state.lua` (shared cooldowns, `cluster::cooling`) is appended.
pub const LIBRARY: &str = concat!(
    include_str!("redis_lib.lua"),
    include_str!("redis_state.lua")
);

/// `aigw_NAME_v1`: a function of this build's library.
pub fn function(name: &str) -> String {
    format!("aigw_{name}_v{LIBRARY_VERSION}")
}

/// A key under [`KEY_PREFIX`] with `tag` as its hash tag and `rest` after
/// it: `aigw:{tag}rest`. Braces in `tag` are replaced so the tag stays one.
pub fn key(tag: &str, rest: &str) -> String {
    let tag: String = tag
        .chars()
        .map(|c| if matches!(c, '{' | '}') { '_' } else { c })
        .collect();
    format!("{KEY_PREFIX}{{{tag}}}{rest}")
}

/// Something to redo when Redis comes back after being down, before
/// requests use it again (e.g. push what was counted locally meanwhile).
pub trait OnReturn: Send + Sync {
    fn on_return<'a>(&'a self, redis: &'a RedisCluster) -> BoxFuture<'a, Result<(), RedisError>>;
}

/// The shared Redis engine of a team deployment.
pub struct RedisCluster {
    conn: ConnectionManager,
    replica_id: String,
    up: AtomicBool,
    /// The library is loaded on the server the connection is on.
    loaded: AtomicBool,
    last_error: Mutex<Option<String>>,
    replicas: AtomicU32,
    /// Decisions taken locally because Redis was down or failed.
    degraded: AtomicU64,
    /// How many times the engine came back (or up for the first time).
    ups: AtomicU64,
    on_return: Mutex<Vec<Arc<dyn OnReturn>>>,
}

impl fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCluster")
            .field("replica_id", &self.replica_id)
            .field("up", &self.is_up())
            .field("replicas", &self.replica_count())
            .finish_non_exhaustive()
    }
}

/// Why a Redis call was not answered.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("redis is down")]
    Down,
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
}

fn function_missing(e: &RedisError) -> bool {
    matches!(e.kind(), ErrorKind::Server(ServerErrorKind::NoScript))
        || e.to_string().contains("Function not found")
}

/// An error of the connection (not of a command's arguments or script):
/// the engine is then taken as down.
fn is_engine_failure(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::Server(ServerErrorKind::BusyLoading | ServerErrorKind::ReadOnly)
                | ErrorKind::AuthenticationFailed
        )
}

impl RedisCluster {
    /// A client for `url` (no connection yet: the first heartbeat makes
    /// it, so a Redis that is down at start does not stop the gateway).
    pub fn new(url: &str, replica_id: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("cluster.redis_url: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cluster.redis_url: {e}"))?;
        Ok(Self {
            conn,
            replica_id: replica_id.to_string(),
            up: AtomicBool::new(false),
            loaded: AtomicBool::new(false),
            last_error: Mutex::new(Some("not connected yet".into())),
            replicas: AtomicU32::new(1),
            degraded: AtomicU64::new(0),
            ups: AtomicU64::new(0),
            on_return: Mutex::new(Vec::new()),
        })
    }

    pub fn replica_id(&self) -> &str {
        &self.replica_id
    }

    /// Whether request-path calls go to Redis now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// The last error seen (without the URL or any secret), while down.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock_or_recover().clone()
    }

    /// Replicas seen within [`REPLICA_WINDOW`] at the last heartbeat (at
    /// least 1; the last known value while Redis is down).
    pub fn replica_count(&self) -> u32 {
        self.replicas.load(Ordering::Relaxed).max(1)
    }

    /// Decisions taken locally because Redis was down or failed.
    pub fn degraded_decisions(&self) -> u64 {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Counts one decision taken locally.
    pub fn count_degraded(&self) {
        self.degraded.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times the engine came up (1 after the first connect).
    pub fn times_up(&self) -> u64 {
        self.ups.load(Ordering::Relaxed)
    }

    /// Runs `hook` every time Redis comes back, before it is used again.
    pub fn on_return(&self, hook: Arc<dyn OnReturn>) {
        self.on_return.lock_or_recover().push(hook);
    }

    fn mark_down(&self, e: &dyn fmt::Display) {
        let mut text = e.to_string();
        if text.len() > MAX_ERROR_LEN {
            let mut cut = MAX_ERROR_LEN;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!("redis is down, limits are local until it returns: {text}");
        }
        *self.last_error.lock_or_recover() = Some(text);
    }

    /// `FCALL aigw_NAME_v1` with `keys` and `args`: only while up, within
    /// [`OP_TIMEOUT`]; the library is loaded again and the call retried
    /// once when Redis does not know the function.
    pub async fn fcall(
        &self,
        name: &str,
        keys: &[String],
        args: &[String],
    ) -> Result<Value, CallError> {
        if !self.is_up() {
            return Err(CallError::Down);
        }
        self.bounded(self.fcall_reloading(name, keys, args)).await
    }

    /// [`Self::fcall`] for an [`OnReturn`] hook: made while the engine is
    /// not marked up yet.
    pub async fn fcall_on_return(
        &self,
        name: &str,
        keys: &[String],
        args: &[String],
    ) -> Result<Value, RedisError> {
        match tokio::time::timeout(OP_TIMEOUT, self.fcall_reloading(name, keys, args)).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "redis did not answer in time",
            ))),
        }
    }

    /// `FCALL`, loading the library and calling again once when Redis
    /// does not know the function.
    async fn fcall_reloading<K, A>(
        &self,
        name: &str,
        keys: &[K],
        args: &[A],
    ) -> Result<Value, RedisError>
    where
        K: redis::ToRedisArgs,
        A: redis::ToRedisArgs,
    {
        let mut cmd = redis::cmd("FCALL");
        cmd.arg(function(name)).arg(keys.len()).arg(keys).arg(args);
        let mut conn = self.conn.clone();
        match cmd.query_async::<Value>(&mut conn).await {
            Err(e) if function_missing(&e) => {
                self.loaded.store(false, Ordering::Release);
                self.load_library().await?;
                cmd.query_async::<Value>(&mut conn).await
            }
            r => r,
        }
    }

    /// A command or pipeline on the request path: only while up, within
    /// [`OP_TIMEOUT`].
    pub async fn run<T: redis::FromRedisValue + Send>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, CallError> {
        if !self.is_up() {
            return Err(CallError::Down);
        }
        let mut conn = self.conn.clone();
        self.bounded(cmd.query_async::<T>(&mut conn)).await
    }

    /// [`Self::run`] for a pipeline.
    pub async fn run_pipe<T: redis::FromRedisValue + Send>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, CallError> {
        if !self.is_up() {
            return Err(CallError::Down);
        }
        let mut conn = self.conn.clone();
        self.bounded(pipe.query_async::<T>(&mut conn)).await
    }

    async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, RedisError>>,
    ) -> Result<T, CallError> {
        match tokio::time::timeout(OP_TIMEOUT, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if is_engine_failure(&e) {
                    self.mark_down(&e);
                }
                Err(CallError::Redis(e))
            }
            Err(_) => {
                let e = CallError::Timeout(OP_TIMEOUT);
                self.mark_down(&e);
                Err(e)
            }
        }
    }

    /// `FUNCTION LOAD REPLACE` of [`LIBRARY`].
    async fn load_library(&self) -> Result<(), RedisError> {
        let mut conn = self.conn.clone();
        redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(LIBRARY)
            .query_async::<Value>(&mut conn)
            .await?;
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// One heartbeat: (re)connect, load the library if needed, write this
    /// replica's last-seen time, count the replicas; when the engine was
    /// down, run the [`OnReturn`] hooks before marking it up.
    pub async fn heartbeat(&self) -> Result<(), CallError> {
        let beat = async {
            let was_up = self.is_up();
            if !was_up || !self.loaded.load(Ordering::Acquire) {
                self.load_library().await?;
            }
            let args = [
                self.replica_id.clone(),
                REPLICA_WINDOW.as_millis().to_string(),
                REPLICA_FORGET.as_millis().to_string(),
            ];
            let count = self
                .fcall_reloading("beat", &[REPLICAS_KEY], &args)
                .await
                .and_then(|v| redis::from_redis_value::<i64>(v).map_err(RedisError::from))?;
            if !was_up {
                let hooks: Vec<Arc<dyn OnReturn>> = self.on_return.lock_or_recover().clone();
                for h in hooks {
                    h.on_return(self).await?;
                }
            }
            Ok::<_, RedisError>((count, was_up))
        };
        match tokio::time::timeout(HEARTBEAT_TIMEOUT, beat).await {
            Ok(Ok((count, was_up))) => {
                self.replicas.store(
                    u32::try_from(count).unwrap_or(u32::MAX).max(1),
                    Ordering::Relaxed,
                );
                if !was_up {
                    *self.last_error.lock_or_recover() = None;
                    self.ups.fetch_add(1, Ordering::Relaxed);
                    self.up.store(true, Ordering::Release);
                    tracing::info!("redis is up ({count} replicas seen)");
                }
                Ok(())
            }
            Ok(Err(e)) => {
                if function_missing(&e) {
                    self.loaded.store(false, Ordering::Release);
                }
                self.mark_down(&e);
                Err(CallError::Redis(e))
            }
            Err(_) => {
                let e = CallError::Timeout(HEARTBEAT_TIMEOUT);
                self.mark_down(&e);
                Err(e)
            }
        }
    }

    /// The heartbeat every [`HEARTBEAT_EVERY`] until `stop`.
    pub async fn run_heartbeat(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let _ = self.heartbeat().await;
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(HEARTBEAT_EVERY) => {}
            }
        }
    }

    /// The replica count and
    /// the degraded-decision counter (Prometheus text or OpenMetrics).
    pub fn render_metrics(&self, out: &mut String, openmetrics: bool) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP aigw_cluster_replicas Replicas seen in the last {} s.\n\
             # TYPE aigw_cluster_replicas gauge\n\
             aigw_cluster_replicas {}",
            REPLICA_WINDOW.as_secs(),
            self.replica_count()
        );
        let family = if openmetrics {
            "aigw_cluster_degraded_decisions"
        } else {
            "aigw_cluster_degraded_decisions_total"
        };
        let _ = writeln!(
            out,
            "# HELP {family} Limit and budget decisions taken locally because Redis was down.\n\
             # TYPE {family} counter\n\
             aigw_cluster_degraded_decisions_total {}",
            self.degraded_decisions()
        );
    }
}

/// A string of a Redis answer (bulk, simple or a number).
pub fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Double(d) => Some(d.to_string()),
        _ => None,
    }
}

/// A number of a Redis answer (an integer or a decimal string).
pub fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Double(d) => Some(*d),
        other => value_str(other)?.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_one_hash_tag_and_functions_a_version() {
        assert_eq!(key("rl:ingress:alice", ""), "aigw:{rl:ingress:alice}");
        assert_eq!(key("a{b}c", ":x"), "aigw:{a_b_c}:x");
        assert_eq!(function("take"), "aigw_take_v1");
        assert!(LIBRARY.starts_with("#!lua name=aigw_v1\n"));
        for f in ["take", "adjust", "beat"] {
            assert!(LIBRARY.contains(&format!("'{}'", function(f))), "{f}");
        }
    }

    #[tokio::test]
    async fn down_at_start_answers_at_once_without_connecting() {
        let r = RedisCluster::new("redis://127.0.0.1:1/", "t").unwrap();
        assert!(!r.is_up());
        assert!(matches!(
            r.fcall("take", &[], &[]).await,
            Err(CallError::Down)
        ));
        assert!(r.heartbeat().await.is_err());
        assert!(!r.is_up() && r.last_error().is_some());
        assert_eq!(r.replica_count(), 1);
    }
}
