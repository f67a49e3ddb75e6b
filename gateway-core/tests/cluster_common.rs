//! Team-mode test helpers: several in-process replicas (`gateway_core::start`
//! on 127.0.0.1:0, each with its own data dir and config file) sharing the
//! engines in their `[cluster]` section. Used by the `cluster_*` tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::cluster::Cluster;
use gateway_core::cluster::redis::RedisCluster;

use crate::common::TestGateway;

/// Replicas and the temp dirs they keep their files in (`DIR/data`,
/// `DIR/config.toml`); derefs to the gateways.
pub struct Replicas {
    pub gws: Vec<TestGateway>,
    pub dirs: Vec<tempfile::TempDir>,
}

impl std::ops::Deref for Replicas {
    type Target = [TestGateway];
    fn deref(&self) -> &[TestGateway] {
        &self.gws
    }
}

impl<'a> IntoIterator for &'a Replicas {
    type Item = &'a TestGateway;
    type IntoIter = std::slice::Iter<'a, TestGateway>;
    fn into_iter(self) -> Self::IntoIter {
        self.gws.iter()
    }
}

/// Replicas `r0`, `r1`, … : replica `i` serves `configs[i]` plus
/// `[cluster]` with `cluster` (e.g. `redis_url = "redis://…"`) and
/// `replica_id = "r{i}"`, in a data dir of its own. `configs` must not
/// have a `[cluster]` of its own.
pub async fn start_replicas(configs: &[String], cluster: &str) -> Replicas {
    start_replicas_from(None, configs, cluster).await
}

/// [`start_replicas`] with each data dir a copy of `seed` (a stopped
/// gateway's data dir: its virtual keys, config versions).
pub async fn start_replicas_from(
    seed: Option<&Path>,
    configs: &[String],
    cluster: &str,
) -> Replicas {
    let mut gws = Vec::with_capacity(configs.len());
    let mut dirs = Vec::with_capacity(configs.len());
    for (i, toml) in configs.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        if let Some(seed) = seed {
            copy_dir(seed, &dir.path().join("data"));
        }
        let toml = format!("{toml}\n[cluster]\n{cluster}\nreplica_id = \"r{i}\"\n");
        std::fs::write(dir.path().join("config.toml"), &toml).unwrap();
        gws.push(TestGateway::builder(&toml).in_dir(dir.path()).start().await);
        dirs.push(dir);
    }
    Replicas { gws, dirs }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// `n` replicas of the same config.
pub async fn start_same(n: usize, toml: &str, cluster: &str) -> Replicas {
    start_replicas(&vec![toml.to_string(); n], cluster).await
}

/// `redis_url = "…"` for a `[cluster]` section.
pub fn redis_section(url: &str) -> String {
    format!("redis_url = \"{url}\"")
}

pub fn cluster(gw: &TestGateway) -> &Arc<Cluster> {
    gw.handle
        .state()
        .cluster
        .as_ref()
        .expect("a replica with [cluster]")
}

pub fn redis(gw: &TestGateway) -> &Arc<RedisCluster> {
    cluster(gw)
        .redis
        .as_ref()
        .expect("a replica with redis_url")
}

/// Polls `cond` every 20 ms for up to 20 s; panics saying `what` if it
/// never holds.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

/// Waits until every replica has Redis up and counts `gws.len()` replicas.
pub async fn wait_redis_up(gws: &[TestGateway]) {
    let n = gws.len() as u32;
    eventually("every replica sees redis up and all replicas", || {
        gws.iter()
            .all(|g| redis(g).is_up() && redis(g).replica_count() == n)
    })
    .await;
}

/// Waits until every replica has taken Redis as down.
pub async fn wait_redis_down(gws: &[TestGateway]) {
    eventually("every replica sees redis down", || {
        gws.iter().all(|g| !redis(g).is_up())
    })
    .await;
}
