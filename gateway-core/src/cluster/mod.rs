//! Team mode: several `aigw` replicas sharing limits, spend, breakers and
//! config through Redis/Valkey and PostgreSQL (`[cluster]`,
//! docs/deploy-team.md). Without `[cluster]` nothing here runs and the
//! single-node SQLite default is unchanged.

pub mod pg;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::ClusterConfig;

/// The shared engines of a team deployment, built in `server::start` when
/// `[cluster]` is set (`AppState.cluster`).
#[derive(Debug)]
pub struct Cluster {
    pub replica_id: String,
    /// `[cluster] postgres_url`: config versions, audit (see [`pg`]).
    pub pg: Option<Arc<pg::Pg>>,
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
