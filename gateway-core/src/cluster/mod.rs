//! Team mode: several `aigw` replicas sharing limits, spend, breakers and
//! config through Redis/Valkey and PostgreSQL (`[cluster]`,
//! docs/deploy-team.md). Without `[cluster]` nothing here runs and the
//! single-node SQLite default is unchanged.
//!
//! - `redis`: the Redis/Valkey connection, its function library, up/down
//!   state and the replica heartbeat.
//! - `limits`: rate limits and budgets shared through Redis, with the
//!   local fallback while it is down.
//! - `pg`: the PostgreSQL pool, schema migrations and LISTEN/NOTIFY (config
//!   versions, audit, virtual keys and the request log live there).
//! - `shared`: cooldowns (`cooling`), sticky-session bindings (`sessions`)
//!   and response-cache entries (`responses`) shared through Redis.

pub mod cooling;
pub mod limits;
pub mod pg;
pub mod redis;
pub mod responses;
pub mod sessions;
pub mod shared;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{ClusterConfig, REDIS_SCHEMES};

/// This replica's view of the shared engines (`AppState::cluster`; `None`
/// without `[cluster]`).
#[derive(Debug)]
pub struct Cluster {
    pub replica_id: String,
    /// `[cluster] redis_url`: shared limits, budgets, heartbeat.
    pub redis: Option<Arc<redis::RedisCluster>>,
    /// Limits and budgets over `redis`.
    pub limits: Option<Arc<limits::SharedLimits>>,
    /// `[cluster] postgres_url`: config versions, audit, keys, request log.
    pub pg: Option<Arc<pg::Pg>>,
}

impl Cluster {
    /// The engines of `config` for a replica listening on `listen`. Nothing
    /// connects here: an engine that is down at start leaves the gateway
    /// serving with local state (a warning says so) until it answers.
    pub fn new(config: &ClusterConfig, listen: SocketAddr, pg: Option<Arc<pg::Pg>>) -> Self {
        let replica_id = replica_id(config, listen);
        let redis = config.redis_url.as_ref().and_then(|u| {
            let url = match u.resolve(REDIS_SCHEMES) {
                Ok(url) => url,
                Err(e) => {
                    tracing::warn!("cluster.redis_url: {e}; limits stay local to this replica");
                    return None;
                }
            };
            match redis::RedisCluster::new(url.expose(), &replica_id) {
                Ok(r) => Some(Arc::new(r)),
                Err(e) => {
                    tracing::warn!("{e}; limits stay local to this replica");
                    None
                }
            }
        });
        let limits = redis.clone().map(limits::SharedLimits::new);
        Self {
            replica_id,
            redis,
            limits,
            pg,
        }
    }

    /// Starts the engines' background tasks (the Redis heartbeat).
    pub fn spawn_tasks(&self, tasks: &TaskTracker, stop: &CancellationToken) {
        if let Some(r) = &self.redis {
            tasks.spawn(r.clone().run_heartbeat(stop.child_token()));
        }
        if let Some(l) = self.limits.clone() {
            let stop = stop.clone();
            // Settles still under way finish before the gateway stops.
            tasks.spawn(async move {
                stop.cancelled().await;
                l.close().await;
            });
        }
    }

    /// What status pages should warn about: an engine that is down.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(r) = &self.redis
            && !r.is_up()
        {
            w.push(format!(
                "redis is down ({}): rate limits and budgets are enforced per replica, \
                 each at its limit divided by {} (the last known replica count)",
                r.last_error().unwrap_or_else(|| "no answer".into()),
                r.replica_count()
            ));
        }
        if let Some(pg) = &self.pg
            && !pg.is_up()
        {
            w.push(format!(
                "postgres is unreachable ({}): requests are served on the running config \
                 and the keys loaded; publish, rollback and key changes are refused, \
                 spend and request-log rows queue until it answers",
                pg.last_error()
                    .unwrap_or_else(|| "not connected yet".into())
            ));
        }
        w
    }
}

/// This replica's name in shared state: `[cluster] replica_id`, else the
/// host name and the listen port (`host:4000`), else `aigw:PORT`.
pub fn replica_id(config: &ClusterConfig, listen: SocketAddr) -> String {
    if let Some(id) = &config.replica_id {
        return id.clone();
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.len() <= 64)
        .unwrap_or_else(|| "aigw".to_string());
    format!("{host}:{}", listen.port())
}

/// Adds the engines' metrics to a `/metrics` body (before OpenMetrics'
/// closing `# EOF`).
pub fn append_metrics(cluster: &Cluster, body: &mut String, openmetrics: bool) {
    use std::fmt::Write;
    let mut extra = String::from(
        "# HELP aigw_cluster_engine_up Whether a shared engine answers (1) or not (0).\n\
         # TYPE aigw_cluster_engine_up gauge\n",
    );
    if let Some(r) = &cluster.redis {
        let _ = writeln!(
            extra,
            "aigw_cluster_engine_up{{engine=\"redis\"}} {}",
            u8::from(r.is_up())
        );
    }
    if let Some(pg) = &cluster.pg {
        let _ = writeln!(
            extra,
            "aigw_cluster_engine_up{{engine=\"postgres\"}} {}",
            u8::from(pg.is_up())
        );
    }
    if let Some(r) = &cluster.redis {
        r.render_metrics(&mut extra, openmetrics);
    }
    match body.rfind("# EOF") {
        Some(at) if openmetrics => body.insert_str(at, &extra),
        _ => body.push_str(&extra),
    }
}
