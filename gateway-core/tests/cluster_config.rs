//! Team mode on a real PostgreSQL (testkit's throwaway cluster): the schema
//! runner, the LISTEN task, config versions shared by three replicas.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_core::cluster::pg::{self, Pg, PgEvent};
use gateway_core::store::ConfigStore;
use gateway_core::store::pg::PgConfigStore;
use serde_json::{Value, json};
use testkit::{FakeUpstream, PostgresServer};

use crate::common::*;

/// A replica's config: `[cluster] postgres_url` and one route `model`.
fn replica_toml(pg: &PostgresServer, up: &FakeUpstream, model: &str) -> String {
    format!(
        "[cluster]\npostgres_url = \"{}\"\n\n{}\n{}",
        pg.url(),
        provider(up, ""),
        route(model, "", &[(up.name(), Some("gpt-x"))])
    )
}

async fn replica(toml: &str) -> TestGateway {
    TestGateway::builder(toml).config_file().start().await
}

async fn live(gw: &TestGateway) -> Value {
    let (status, body) = gw.admin_get("/config").await;
    assert_eq!(status, 200, "{body}");
    body["version"].clone()
}

async fn live_id(gw: &TestGateway) -> i64 {
    live(gw).await["id"].as_i64().unwrap()
}

/// Waits until every replica's live version is `id`; how long each took.
async fn wait_live(gws: &[&TestGateway], id: i64) -> Vec<Duration> {
    let start = Instant::now();
    let mut took = Vec::new();
    for gw in gws {
        loop {
            if live_id(gw).await == id {
                took.push(start.elapsed());
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "replica {} never reached version {id} (at {})",
                gw.url,
                live_id(gw).await
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    took
}

async fn publish(gw: &TestGateway, toml: &str, message: &str) -> (u16, Value) {
    gw.admin_post("/config/publish", json!({"toml": toml, "message": message}))
        .await
}

async fn published_id(gw: &TestGateway, toml: &str) -> i64 {
    let (status, body) = publish(gw, toml, "test").await;
    assert_eq!(status, 200, "{body}");
    body["version"]["id"].as_i64().unwrap()
}

/// Waits until `/metrics` says PostgreSQL is `up` (1) or not (0) and the
/// status warning agrees; fails after 20 s.
async fn wait_pg_up(gw: &TestGateway, up: bool) {
    let want = format!(
        "aigw_cluster_engine_up{{engine=\"postgres\"}} {}",
        u8::from(up)
    );
    for _ in 0..200 {
        let metrics = gw.metrics_text().await;
        let (_, status) = gw.admin_get("/status").await;
        let warned = status["cluster_warnings"].as_array().is_some_and(|w| {
            w.iter().any(|m| {
                m.as_str()
                    .is_some_and(|m| m.contains("postgres is unreachable"))
            })
        });
        if metrics.lines().any(|l| l == want) && warned != up {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("PostgreSQL never shown as up = {up}");
}

async fn serves(gw: &TestGateway, model: &str) -> bool {
    gw.chat(&chat_body(model, false)).await.status().as_u16() == 200
}

fn store_of(pg: &PostgresServer) -> ConfigStore {
    let p = Arc::new(Pg::from_url(&pg.url()).unwrap());
    ConfigStore::open_in_memory()
        .unwrap()
        .with_remote(Arc::new(PgConfigStore::new(p, "test".into()).unwrap()))
}

/// Versions in the shared store, oldest first (id, hash).
async fn stored_versions(pg: &PostgresServer) -> Vec<(i64, String)> {
    let p = Pg::from_url(&pg.url()).unwrap();
    let c = p.raw_client().await.unwrap();
    c.query("SELECT id, hash FROM config_versions ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn next_notify(sub: &mut pg::Subscription) -> (String, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
            Ok(Some(PgEvent::Notify { channel, payload })) => return (channel, payload),
            Ok(Some(PgEvent::Reconnected)) => continue,
            Ok(None) => panic!("listener closed"),
            Err(_) => panic!("no notification within 10 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_once_with_replicas_starting_together() {
    let server = PostgresServer::start();
    let url = server.url();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let url = url.clone();
        runs.push(tokio::spawn(async move {
            Pg::from_url(&url).unwrap().migrate().await
        }));
    }
    for r in runs {
        assert_eq!(r.await.unwrap().unwrap(), pg::schema_version());
    }
    let p = Pg::from_url(&url).unwrap();
    let c = p.raw_client().await.unwrap();
    let steps: i64 = c
        .query_one("SELECT count(*) FROM aigw_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(steps, pg::MIGRATIONS.len() as i64);
    // a schema newer than this binary knows is refused, with the versions
    c.execute(
        "INSERT INTO aigw_schema (version, name) VALUES (999, 'from the future')",
        &[],
    )
    .await
    .unwrap();
    let e = Pg::from_url(&url).unwrap().migrate().await.unwrap_err();
    assert!(
        matches!(e, pg::PgError::SchemaTooNew { found: 999, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade aigw"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_delivers_notifications_and_reconnects_after_a_restart() {
    let mut server = PostgresServer::start();
    let p = Arc::new(Pg::from_url(&server.url()).unwrap());
    let tasks = tokio_util::task::TaskTracker::new();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut sub = p.subscribe(&["aigw_test"]);
    let mut other = p.subscribe(&["aigw_other"]);
    p.spawn_listener(&tasks, stop.clone());
    // the first event says the connection is up (LISTEN issued)
    assert_eq!(sub.next().await, Some(PgEvent::Reconnected));
    p.notify("aigw_test", "one").await.unwrap();
    assert_eq!(
        next_notify(&mut sub).await,
        ("aigw_test".into(), "one".into())
    );
    p.notify("aigw_other", "x").await.unwrap();
    assert_eq!(next_notify(&mut other).await.1, "x");

    server.restart();
    // the listener comes back and says so; notifications flow again
    match tokio::time::timeout(Duration::from_secs(20), sub.next()).await {
        Ok(Some(PgEvent::Reconnected)) => {}
        Ok(e) => panic!("expected a reconnect, got {e:?}"),
        Err(_) => panic!("the listener did not reconnect:\n{}", server.log()),
    }
    // the pool's old connections died with the server: a retry gets a new one
    let mut sent = false;
    for _ in 0..20 {
        if p.notify("aigw_test", "two").await.is_ok() {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sent);
    assert_eq!(next_notify(&mut sub).await.1, "two");
    stop.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = Pg::from_url(&format!("postgres://aigw@127.0.0.1:{port}/x")).unwrap();
    let e = p.migrate().await.unwrap_err().to_string();
    assert!(e.contains("PostgreSQL"), "{e}");
    assert!(
        e.to_lowercase().contains("connect") || e.contains("refused"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_replica_is_live_on_all_and_rollback_too() {
    let pg = PostgresServer::start();
    let up = FakeUpstream::start("up").await;
    let v1 = replica_toml(&pg, &up, "m1");
    let (a, b, c) = (replica(&v1).await, replica(&v1).await, replica(&v1).await);
    // the first replica recorded the initial version; the others took it
    let first = live_id(&a).await;
    assert_eq!(live_id(&b).await, first);
    assert_eq!(live_id(&c).await, first);
    assert_eq!(stored_versions(&pg).await.len(), 1);
    assert!(serves(&a, "m1").await && !serves(&a, "m2").await);

    let v2 = replica_toml(&pg, &up, "m2");
    let id2 = published_id(&b, &v2).await;
    assert!(id2 > first);
    let took = wait_live(&[&a, &c, &b], id2).await;
    eprintln!("publish on B live on A, C, B after {took:?}");
    assert!(serves(&a, "m2").await && serves(&c, "m2").await);
    assert!(!serves(&c, "m1").await);
    // each replica keeps its local copy in its config file
    assert_eq!(std::fs::read_to_string(a.config_path()).unwrap(), v2);
    assert_eq!(std::fs::read_to_string(c.config_path()).unwrap(), v2);

    // rollback on C to the first version: a new version, live everywhere
    let (status, body) = c
        .admin_post("/config/rollback", json!({"version": first}))
        .await;
    assert_eq!(status, 200, "{body}");
    let id3 = body["version"]["id"].as_i64().unwrap();
    assert!(id3 > id2);
    let took = wait_live(&[&a, &b, &c], id3).await;
    eprintln!("rollback on C live on A, B, C after {took:?}");
    assert!(serves(&a, "m1").await && serves(&b, "m1").await && !serves(&b, "m2").await);
    // history and audit are the cluster's, on every replica
    let (_, h) = a.admin_get("/config/history").await;
    let ids: Vec<i64> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![id3, id2, first]);
    let (_, audit) = b.admin_get("/audit").await;
    let text = audit.to_string();
    assert!(
        text.contains("rollback") && text.contains("publish"),
        "{text}"
    );
    let v = store_of(&pg).verify_audit().unwrap();
    assert!(v.broken.is_none(), "{v:?}");
    assert!(v.rows >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_replicas_serve_reconnect_and_no_publish_is_lost() {
    let mut pg = PostgresServer::start();
    let up = FakeUpstream::start("up").await;
    let v1 = replica_toml(&pg, &up, "m1");
    let c_dir = tempfile::tempdir().unwrap();
    std::fs::write(c_dir.path().join("config.toml"), &v1).unwrap();
    let a = replica(&v1).await;
    let b = replica(&v1).await;
    let c = TestGateway::builder(&v1).in_dir(c_dir.path()).start().await;
    let v2 = replica_toml(&pg, &up, "m2");
    let id2 = published_id(&a, &v2).await;
    wait_live(&[&a, &b, &c], id2).await;

    wait_pg_up(&a, true).await;
    pg.stop();
    // status and /metrics say so; requests keep being served on the running config
    wait_pg_up(&a, false).await;
    assert!(serves(&a, "m2").await && serves(&b, "m2").await);
    // a publish fails with a clear error, nothing half-written
    let v3 = replica_toml(&pg, &up, "m3");
    let (status, body) = publish(&a, &v3, "while down").await;
    assert_ne!(status, 200, "{body}");
    let msg = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("nothing was published"), "{msg}");
    assert!(msg.contains("PostgreSQL"), "{msg}");
    assert_eq!(live_id(&a).await, id2);
    assert_eq!(std::fs::read_to_string(a.config_path()).unwrap(), v2);
    assert!(serves(&a, "m2").await && !serves(&a, "m3").await);

    // a replica starting while PostgreSQL is down starts on its local copy
    c.shutdown().await;
    let c =
        TestGateway::builder(&std::fs::read_to_string(c_dir.path().join("config.toml")).unwrap())
            .in_dir(c_dir.path())
            .start()
            .await;
    assert!(serves(&c, "m2").await);

    pg.start_again();
    wait_pg_up(&a, true).await;
    let id3 = published_id(&b, &v3).await;
    let took = wait_live(&[&a, &b, &c], id3).await;
    eprintln!("after the PostgreSQL restart, publish on B live after {took:?}");
    assert!(serves(&a, "m3").await && serves(&c, "m3").await);
    let stored = stored_versions(&pg).await;
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert_eq!(stored.last().unwrap().0, id3);
    assert_eq!(stored[1].0, id2);
    let v = store_of(&pg).verify_audit().unwrap();
    assert!(v.broken.is_none(), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_on_two_replicas_stay_a_clean_sequence() {
    let pg = PostgresServer::start();
    let up = FakeUpstream::start("up").await;
    let v1 = replica_toml(&pg, &up, "m0");
    let (a, b, c) = (replica(&v1).await, replica(&v1).await, replica(&v1).await);
    let rounds = 5;
    let mut all = Vec::new();
    for i in 0..rounds {
        let ta = replica_toml(&pg, &up, &format!("a{i}"));
        let tb = replica_toml(&pg, &up, &format!("b{i}"));
        let (ra, rb) = tokio::join!(publish(&a, &ta, "a"), publish(&b, &tb, "b"));
        for (status, body) in [ra, rb] {
            assert_eq!(status, 200, "{body}");
            all.push(body["version"]["id"].as_i64().unwrap());
        }
    }
    let stored = stored_versions(&pg).await;
    assert_eq!(stored.len(), 1 + 2 * rounds, "{stored:?}");
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 2 * rounds, "two publishes got one id: {all:?}");
    let newest = stored.last().unwrap().clone();
    wait_live(&[&a, &b, &c], newest.0).await;
    for gw in [&a, &b, &c] {
        assert_eq!(live(gw).await["hash"].as_str().unwrap(), newest.1);
    }
    let v = store_of(&pg).verify_audit().unwrap();
    assert!(v.broken.is_none(), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_starting_together_migrate_and_record_the_first_version_once() {
    let pg = PostgresServer::start();
    let up = FakeUpstream::start("up").await;
    let v1 = replica_toml(&pg, &up, "m1");
    let (a, b, c) = tokio::join!(replica(&v1), replica(&v1), replica(&v1));
    let p = Pg::from_url(&pg.url()).unwrap();
    let client = p.raw_client().await.unwrap();
    let steps: i64 = client
        .query_one("SELECT count(*) FROM aigw_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(steps, pg::MIGRATIONS.len() as i64);
    let stored = stored_versions(&pg).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    wait_live(&[&a, &b, &c], stored[0].0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_chain_verifies_on_postgres_and_shows_an_edit() {
    let pg = PostgresServer::start();
    let s = store_of(&pg);
    s.audit("admin", "login", None, &json!({"n": 1})).unwrap();
    let counted = s
        .audit_counted(None, "10.0.0.1", "-", "login_failed", &json!({"count": 1}))
        .unwrap();
    // still the newest row: counted in place
    assert_eq!(
        s.audit_counted(
            Some(counted),
            "10.0.0.1",
            "-",
            "login_failed",
            &json!({"count": 2})
        )
        .unwrap(),
        counted
    );
    s.audit("admin", "key_set", None, &json!({"name": "x"}))
        .unwrap();
    let v = s.verify_audit().unwrap();
    assert_eq!((v.rows, v.broken.clone()), (3, None), "{v:?}");
    assert_eq!(s.audit_log(10, None).unwrap()[1].detail["count"], 2);
    // retention keeps the chain verifiable from its anchor
    assert_eq!(
        s.prune_audit(1, gateway_core::store::now_ms() + 2 * 86_400_000)
            .unwrap(),
        2
    );
    let v = s.verify_audit().unwrap();
    assert!(v.broken.is_none() && v.anchor.is_some(), "{v:?}");
    s.audit("admin", "login", None, &json!({})).unwrap();
    // an edit made with psql breaks the chain at that row
    let p = Pg::from_url(&pg.url()).unwrap();
    let c = p.raw_client().await.unwrap();
    let id: i64 = c
        .query_one("SELECT max(id) FROM audit", &[])
        .await
        .unwrap()
        .get(0);
    c.execute("UPDATE audit SET actor = 'mallory' WHERE id = $1", &[&id])
        .await
        .unwrap();
    let v = s.verify_audit().unwrap();
    assert_eq!(v.broken.map(|b| b.id), Some(id));
}

fn aigw_cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_aigw"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("AIGW_LISTEN")
        .env("AIGW_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_check_reports_real_engines_ok_and_a_dead_port_as_a_failure() {
    let pg = PostgresServer::start();
    let redis = RedisChild::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &cfg,
        format!(
            "[cluster]\npostgres_url = \"{}\"\nredis_url = \"redis://127.0.0.1:{}\"\n",
            pg.url(),
            redis.port
        ),
    )
    .unwrap();
    let run = |json: bool, env: &[(&str, &str)]| {
        let mut args = vec![
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "cluster",
            "check",
        ];
        if json {
            args.push("--json");
        }
        aigw_cli(&args, env)
    };
    // a fresh database: reachable, migrations pending (reported, not run)
    let out = run(true, &[]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["ok"], true);
    let r = &report["checks"][0];
    assert_eq!(r["engine"], "redis");
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["facts"]["version"].as_str().unwrap().starts_with('7'),
        "{r}"
    );
    let check = &report["checks"][1];
    assert_eq!(check["engine"], "postgres");
    assert_eq!(check["facts"]["schema_version"], 0);
    assert_eq!(
        check["facts"]["binary_schema_version"],
        pg::schema_version()
    );
    assert_eq!(
        check["facts"]["pending_migrations"]
            .as_array()
            .unwrap()
            .len(),
        pg::MIGRATIONS.len()
    );
    assert!(
        check["facts"]["version"]
            .as_str()
            .unwrap()
            .starts_with("15"),
        "{check}"
    );
    Pg::from_url(&pg.url()).unwrap().migrate().await.unwrap();
    let out = run(false, &[]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("postgres") && text.contains(" ok ") && text.contains("(current)"),
        "{text}"
    );
    assert!(text.contains("redis") && text.contains("PING ok"), "{text}");

    // nothing listens on this port: FAIL, exit non-zero, no secrets
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // (the URL with its password kept in the environment, as it must be)
    std::fs::write(&cfg, "[cluster]\npostgres_url = \"env:AIGW_TEST_PG_URL\"\n").unwrap();
    let url = format!("postgres://aigw:s3cret@127.0.0.1:{port}/x");
    let out = run(false, &[("AIGW_TEST_PG_URL", url.as_str())]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("FAIL"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

/// A throwaway `redis-server` (no persistence) on a free port.
struct RedisChild {
    child: std::process::Child,
    port: u16,
}

impl RedisChild {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, port };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on {port}");
    }
}

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_edit_of_one_replicas_file_is_published_to_all() {
    let pg = PostgresServer::start();
    let up = FakeUpstream::start("up").await;
    let v1 = replica_toml(&pg, &up, "m1");
    let a = TestGateway::builder(&v1)
        .config_file()
        .watch_interval(Duration::from_millis(50))
        .start()
        .await;
    let b = replica(&v1).await;
    let first = live_id(&a).await;
    let v2 = replica_toml(&pg, &up, "edited");
    std::fs::write(a.config_path(), &v2).unwrap();
    let start = Instant::now();
    let stored = loop {
        let s = stored_versions(&pg).await;
        if s.len() == 2 {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the edit was never published"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(stored[1].0 > first);
    wait_live(&[&a, &b], stored[1].0).await;
    assert!(serves(&b, "edited").await);
    assert_eq!(std::fs::read_to_string(b.config_path()).unwrap(), v2);
    let (_, audit) = b.admin_get("/audit").await;
    assert!(audit.to_string().contains("config file edited"), "{audit}");
}
