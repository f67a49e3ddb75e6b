//! Issue 20, virtual keys, their spend and the request log in PostgreSQL
//! (team mode): three replicas on one real PostgreSQL (testkit's throwaway
//! cluster). A key made on one replica works on the others; revoked on one,
//! it is refused by every one (the `aigw_keys` notification); a rotation's
//! grace holds everywhere; the spend of all three adds up in PostgreSQL; any
//! replica lists every replica's requests and per-key spend; PostgreSQL
//! restarted under traffic: requests keep working, and the spend and log
//! rows queued meanwhile reach it when it is back.

use crate::common;
use std::time::{Duration, Instant};

use common::*;
use gateway_core::cluster::pg::{Pg, PgEvent};
use serde_json::{Value, json};
use testkit::{FakeUpstream, PostgresServer};

/// Provider `a` at $0.1 per token in and out, route `*`, in team mode.
fn config(a: &FakeUpstream, pg: &PostgresServer, replica: &str) -> String {
    format!(
        "{}{}[[telemetry.prices]]\nprovider = \"a\"\ninput_per_mtok = 100000\noutput_per_mtok = 100000\n\n[cluster]\npostgres_url = \"{}\"\nreplica_id = \"{replica}\"\n",
        provider(a, ""),
        route("*", "", &[("a", None)]),
        pg.url(),
    )
}

async fn replicas(a: &FakeUpstream, pg: &PostgresServer) -> Vec<TestGateway> {
    let mut out = Vec::new();
    for r in ["a", "b", "c"] {
        out.push(
            TestGateway::builder(&config(a, pg, r))
                .data_dir()
                .start()
                .await,
        );
    }
    out
}

/// Sends with `key` to `gw` until it answers `want`; how long that took.
async fn until_status(gw: &TestGateway, key: &str, want: u16) -> Duration {
    let t0 = Instant::now();
    loop {
        let s = gw.chat_with(key, "gpt-5").await.status().as_u16();
        if s == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{} still answers {s}, not {want}",
            gw.url
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn pg_client(pg: &PostgresServer) -> deadpool_postgres::Object {
    Pg::from_url(&pg.url()).unwrap().client().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_made_on_a_works_on_b_and_c_and_revoked_on_b_is_refused_everywhere() {
    let pg = PostgresServer::start();
    let a = FakeUpstream::start("a").await;
    let gws = replicas(&a, &pg).await;
    // the key is in PostgreSQL, not in A's config.db only
    let (id, secret) = gws[0]
        .create_key(json!({"name": "alice", "team": "ml"}))
        .await;
    let c = pg_client(&pg).await;
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM aigw_virtual_keys WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    for gw in &gws {
        let took = until_status(gw, &secret, 200).await;
        eprintln!("key live on {} after {took:?}", gw.url);
    }
    // B and C list it too (their maps, refreshed from PostgreSQL)
    for gw in &gws[1..] {
        let (_, v) = gw.admin_get("/keys/client").await;
        assert!(
            v["keys"].as_array().unwrap().iter().any(|k| k["id"] == id),
            "{v}"
        );
    }
    // the revocation is announced on aigw_keys with the key's id
    let watcher = std::sync::Arc::new(Pg::from_url(&pg.url()).unwrap());
    let mut sub = watcher.subscribe(&["aigw_keys"]);
    let tasks = tokio_util::task::TaskTracker::new();
    let stop = tokio_util::sync::CancellationToken::new();
    watcher.spawn_listener(&tasks, stop.clone());
    assert_eq!(sub.next().await, Some(PgEvent::Reconnected));
    let (s, v) = gws[1]
        .admin_post(&format!("/keys/client/{id}/revoke"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let t0 = Instant::now();
    match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(PgEvent::Notify { channel, payload })) => {
            assert_eq!(
                (channel.as_str(), payload.as_str()),
                ("aigw_keys", id.as_str())
            );
        }
        e => panic!("no notification of the revocation: {e:?}"),
    }
    // 401 on B at once, and on A and C once they heard of it
    assert_eq!(gws[1].chat_with(&secret, "gpt-5").await.status(), 401);
    for gw in [&gws[0], &gws[2]] {
        until_status(gw, &secret, 401).await;
        eprintln!(
            "revocation live on {} {:?} after the revoke",
            gw.url,
            t0.elapsed()
        );
    }
    for gw in &gws {
        let (_, v) = gw.admin_get("/keys/client").await;
        let k = v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .cloned()
            .unwrap();
        assert_eq!(k["status"], "revoked", "{k}");
    }
    stop.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_keeps_its_grace_on_every_replica() {
    let pg = PostgresServer::start();
    let a = FakeUpstream::start("a").await;
    let gws = replicas(&a, &pg).await;
    let (id, old) = gws[0].create_key(json!({"name": "bob"})).await;
    for gw in &gws {
        until_status(gw, &old, 200).await;
    }
    // rotated on A with an hour's grace: the new secret works everywhere,
    // and so does the old one
    let (s, v) = gws[0]
        .admin_post(
            &format!("/keys/client/{id}/rotate"),
            json!({"grace_s": 3600}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let new = v["secret"].as_str().unwrap().to_string();
    for gw in &gws {
        until_status(gw, &new, 200).await;
        assert_eq!(gw.chat_with(&old, "gpt-5").await.status(), 200);
    }
    // rotated again on C without grace: only the newest works, everywhere
    let (s, v) = gws[2]
        .admin_post(&format!("/keys/client/{id}/rotate"), json!({"grace_s": 0}))
        .await;
    assert_eq!(s, 200, "{v}");
    let newest = v["secret"].as_str().unwrap().to_string();
    for gw in &gws {
        until_status(gw, &newest, 200).await;
        until_status(gw, &new, 401).await;
        assert_eq!(gw.chat_with(&old, "gpt-5").await.status(), 401);
    }
}

/// The spend row of `id` once it is `want` (within a cent's millionth).
async fn until_spent(pg: &PostgresServer, id: &str, want: f64) -> f64 {
    let t0 = Instant::now();
    loop {
        if let Ok(c) = Pg::from_url(&pg.url()).unwrap().client().await {
            let got: Option<f64> = c
                .query_opt(
                    "SELECT spent_usd FROM aigw_virtual_key_spend WHERE id = $1",
                    &[&id],
                )
                .await
                .ok()
                .flatten()
                .map(|r| r.get(0));
            if let Some(g) = got
                && (g - want).abs() < 1e-6
            {
                return g;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "spend of {id}: {got:?}, want {want}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The shared log as replica `gw` lists it, once every request of `ids` is
/// in it (each replica writes its rows in order: then every earlier row of
/// theirs is in too); the answered ones.
async fn listed(gw: &TestGateway, ids: &[String]) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let (s, v) = gw.admin_get("/telemetry/requests?limit=500").await;
        if s == 200 {
            let items = v["items"].as_array().unwrap();
            if ids.iter().all(|id| items.iter().any(|r| r["id"] == *id)) {
                for id in ids {
                    assert_eq!(
                        items.iter().filter(|r| r["id"] == *id).count(),
                        1,
                        "{id} twice"
                    );
                }
                return items
                    .iter()
                    .filter(|r| r["status"] == 200)
                    .cloned()
                    .collect();
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "{s} {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn cost_of(items: &[Value]) -> f64 {
    items.iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_and_request_rows_of_all_three_replicas_add_up_in_postgres() {
    let pg = PostgresServer::start();
    let a = FakeUpstream::start("a").await;
    let gws = replicas(&a, &pg).await;
    let (id, secret) = gws[0]
        .create_key(json!({"name": "carol", "team": "ml"}))
        .await;
    for gw in &gws {
        until_status(gw, &secret, 200).await;
    }
    // those first requests cost too: count from here with the log's costs
    let mut ids = Vec::new();
    for (i, gw) in gws.iter().enumerate() {
        for _ in 0..=i {
            let r = gw.chat_with(&secret, "gpt-5").await;
            assert_eq!(r.status(), 200);
            ids.push(header(&r, "x-aigw-request-id"));
        }
    }
    // every row is in A's list, whichever replica served it
    let items = listed(&gws[0], &ids).await;
    let cost = cost_of(&items);
    assert!(cost > 0.0);
    // the spend row is the sum of every replica's deltas
    until_spent(&pg, &id, cost).await;
    // and each replica's view of the key has it after its next flush
    for gw in &gws {
        let t0 = Instant::now();
        loop {
            let (_, v) = gw.admin_get("/keys/client").await;
            let k = v["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["id"] == id)
                .cloned()
                .unwrap();
            if (k["spent_usd"].as_f64().unwrap() - cost).abs() < 1e-6 {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "{k} vs {cost}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // the per-key view of C counts every replica's requests
    let (s, v) = gws[2].admin_get("/telemetry/keys").await;
    assert_eq!(s, 200, "{v}");
    let row = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["virtual_key"] == id)
        .cloned()
        .unwrap();
    assert_eq!(row["requests"], items.len() as u64, "{row}");
    assert!(
        (row["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-6,
        "{row}"
    );
    let team = v["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "ml")
        .cloned()
        .unwrap();
    assert_eq!(team["requests"], items.len() as u64, "{team}");
    // a page at a time: the cursor works on the shared log
    let (_, all) = gws[1].admin_get("/telemetry/requests?limit=500").await;
    let all = all["items"].as_array().unwrap().len();
    let (s, p1) = gws[1].admin_get("/telemetry/requests?limit=2").await;
    assert_eq!(s, 200, "{p1}");
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = gws[1]
        .admin_get(&format!("/telemetry/requests?limit=500&cursor={cursor}"))
        .await;
    assert_eq!(p2["items"].as_array().unwrap().len(), all - 2);
    let (s, bad) = gws[1].admin_get("/telemetry/requests?cursor=nope").await;
    assert_eq!(s, 400, "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_traffic_loses_nothing_queued() {
    let mut pg = PostgresServer::start();
    let a = FakeUpstream::start("a").await;
    let gws = replicas(&a, &pg).await;
    let (id, secret) = gws[0].create_key(json!({"name": "dave"})).await;
    for gw in &gws {
        until_status(gw, &secret, 200).await;
    }
    pg.stop();
    // requests keep working on the keys in memory
    let mut ids = Vec::new();
    for gw in &gws {
        for _ in 0..3 {
            let r = gw.chat_with(&secret, "gpt-5").await;
            assert_eq!(r.status(), 200);
            ids.push(header(&r, "x-aigw-request-id"));
        }
    }
    // the shared list says PostgreSQL is down, clearly
    let (s, v) = gws[0].admin_get("/telemetry/requests").await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["error"]["code"], "postgres_unavailable", "{v}");
    // a key change fails clearly rather than half-written
    let (s, v) = gws[1]
        .admin_post("/keys/client", json!({"name": "eve"}))
        .await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["error"]["code"], "postgres_unavailable", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PostgreSQL"),
        "{v}"
    );
    pg.start_again();
    // every queued row arrives, once, and all the spend
    let items = listed(&gws[1], &ids).await;
    until_spent(&pg, &id, cost_of(&items)).await;
    // and keys made after it are shared again
    let (_, s2) = gws[2].create_key(json!({"name": "frank"})).await;
    for gw in &gws {
        until_status(gw, &s2, 200).await;
    }
}

/// `aigw keys client …` with no gateway running and `[cluster]
/// postgres_url` in the config file: on the shared store, which the running
/// replicas hear of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_makes_and_revokes_keys_on_the_shared_store() {
    let pg = PostgresServer::start();
    let a = FakeUpstream::start("a").await;
    let gw = TestGateway::builder(&config(&a, &pg, "a"))
        .data_dir()
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{}",
            config(&a, &pg, "cli")
        ),
    )
    .unwrap();
    let aigw_cmd = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aigw"))
            .args(["--config", cfg.to_str().unwrap()])
            .args(["--data-dir", data.to_str().unwrap()])
            .args(args)
            .env_remove("AIGW_CONFIG")
            .env_remove("AIGW_DATA_DIR")
            .env_remove("AIGW_LISTEN")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let out = aigw_cmd(&["keys", "client", "create", "--name", "from-cli"]);
    let (id, secret) = crate::virtual_keys::created_key(&out);
    until_status(&gw, &secret, 200).await;
    assert!(aigw_cmd(&["keys", "client", "list"]).contains(&id));
    aigw_cmd(&["keys", "client", "revoke", &id]);
    until_status(&gw, &secret, 401).await;
}

/// A replica that starts while PostgreSQL is down serves the keys it last
/// saw (its local copy), never an open gateway, and catches up when
/// PostgreSQL is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_started_while_postgres_is_down_serves_the_keys_it_last_saw() {
    let mut pg = PostgresServer::start();
    let a = FakeUpstream::start("a").await;
    let dir = tempfile::tempdir().unwrap();
    let toml = config(&a, &pg, "a");
    let gw = TestGateway::builder(&toml).in_dir(dir.path()).start().await;
    let other = TestGateway::builder(&config(&a, &pg, "b"))
        .data_dir()
        .start()
        .await;
    // made on B: A copies it when it hears of it
    let (_, secret) = other.create_key(json!({"name": "gina"})).await;
    until_status(&gw, &secret, 200).await;
    gw.shutdown().await;
    pg.stop();
    let gw = TestGateway::builder(&toml).in_dir(dir.path()).start().await;
    assert_eq!(gw.chat_with(&secret, "gpt-5").await.status(), 200);
    // a key it never saw is refused, and so is a caller with no key
    assert_eq!(gw.chat_with("aigw_vk_0000", "gpt-5").await.status(), 401);
    assert_eq!(gw.chat(&chat_body("gpt-5", false)).await.status(), 401);
    pg.start_again();
    // back: keys made elsewhere reach it again
    let t0 = Instant::now();
    let s2 = loop {
        let (s, v) = other
            .admin_post("/keys/client", json!({"name": "hank"}))
            .await;
        if s == 200 {
            break v["secret"].as_str().unwrap().to_string();
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "{s} {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    until_status(&gw, &s2, 200).await;
}
