//! Issue 20, the Redis foundation of team mode against a real
//! `redis-server`: a Redis that is down at start does not stop a replica
//! (it serves, says so on `/metrics` and `/healthz?detail`, and connects
//! when Redis comes); the replica heartbeat counts every replica; the
//! versioned function library is loaded again after a flush or a restart.

use crate::cluster_common::*;
use crate::common::*;

use testkit::{FakeUpstream, RedisServer};

fn config(up: &FakeUpstream) -> String {
    format!(
        "{}{}",
        provider(up, ""),
        route("m", "", &[(up.name(), Some("m"))])
    )
}

async fn metric(gw: &TestGateway, line_start: &str) -> String {
    let body = gw.metrics_text().await;
    body.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no {line_start} in\n{body}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_starts_and_serves_while_redis_is_down_and_connects_when_it_comes() {
    let up = FakeUpstream::start("a").await;
    let mut redis_server = RedisServer::start().await;
    redis_server.kill();
    let gws = start_same(1, &config(&up), &redis_section(&redis_server.url())).await;
    let gw = &gws[0];
    assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    assert!(!redis(gw).is_up());
    assert_eq!(
        metric(gw, "aigw_cluster_engine_up{engine=\"redis\"}").await,
        "aigw_cluster_engine_up{engine=\"redis\"} 0"
    );
    let (_, health) = {
        let r = gw
            .http
            .get(format!("{}/health?detail=true", gw.url))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<serde_json::Value>().await.unwrap())
    };
    let warning = health["warnings"][0].as_str().unwrap_or_default();
    assert!(warning.contains("redis is down"), "{health}");
    let (_, status) = gw.admin_get("/status").await;
    assert!(
        status["cluster_warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("redis is down")),
        "{status}"
    );

    redis_server.restart().await;
    wait_redis_up(&gws).await;
    assert_eq!(
        metric(gw, "aigw_cluster_engine_up{engine=\"redis\"}").await,
        "aigw_cluster_engine_up{engine=\"redis\"} 1"
    );
    let (_, health) = {
        let r = gw
            .http
            .get(format!("{}/health?detail=true", gw.url))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<serde_json::Value>().await.unwrap())
    };
    assert!(health.get("warnings").is_none(), "{health}");
    assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_counts_replicas_and_the_library_is_reloaded_after_a_flush_and_a_restart() {
    let up = FakeUpstream::start("a").await;
    let mut redis_server = RedisServer::start().await;
    let gws = start_same(3, &config(&up), &redis_section(&redis_server.url())).await;
    wait_redis_up(&gws).await;
    assert_eq!(
        redis_server.command(&["ZCARD", "aigw:{replicas}"]),
        ":3\r\n"
    );
    assert!(
        redis_server
            .command(&["FUNCTION", "LIST", "LIBRARYNAME", "aigw_v1"])
            .contains("aigw_take_v1")
    );
    let r = redis(&gws[0]);
    let take = |key: &str| {
        let keys = vec![key.to_string()];
        let args: Vec<String> = ["1", "10", "1"].iter().map(|s| s.to_string()).collect();
        (keys, args)
    };
    // FUNCTION FLUSH: the next call is answered "Function not found", the
    // library is loaded again and the call made again.
    redis_server.command(&["FUNCTION", "FLUSH"]);
    let (k, a) = take("aigw:{test}:a");
    let v = r.fcall("take", &k, &a).await.expect("re-loaded");
    assert_eq!(
        gateway_core::cluster::redis::value_f64(&first(&v)),
        Some(1.0)
    );
    // A restart loses everything: the heartbeat takes it as down, then up
    // again with the library loaded.
    redis_server.restart().await;
    let (k, a) = take("aigw:{test}:b");
    // Either the call fails (the engine is then down) or the heartbeat has
    // already reconnected and loaded the library.
    let _ = r.fcall("take", &k, &a).await;
    wait_redis_up(&gws).await;
    assert!(
        redis_server
            .command(&["FUNCTION", "LIST", "LIBRARYNAME", "aigw_v1"])
            .contains("aigw_take_v1")
    );
    let v = r.fcall("take", &k, &a).await.expect("after the restart");
    assert_eq!(
        gateway_core::cluster::redis::value_f64(&first(&v)),
        Some(1.0)
    );
    assert_eq!(
        redis_server.command(&["ZCARD", "aigw:{replicas}"]),
        ":3\r\n"
    );
}

fn first(v: &redis::Value) -> redis::Value {
    match v {
        redis::Value::Array(items) => items[0].clone(),
        other => panic!("{other:?}"),
    }
}
