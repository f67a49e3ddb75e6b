//! What the gateway keeps on disk under failure: a publish on a full disk
//! changes nothing (file, store, live config) and a restart serves what was
//! committed; a version is never stored without its audit entry; an invalid
//! config file at start leaves the last committed version serving; the data
//! dir and its files are owner-only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::aigw::Aigw;
use common::*;
use serde_json::{Value, json};
use testkit::FakeUpstream;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// A gateway in `dir` (data and config file there) serving `toml`, its
/// file watched every 50 ms, and a client for it.
async fn watched(dir: &Path, toml: &str) -> (TestGateway, Client) {
    let handle = TestGateway::builder(toml)
        .in_dir(dir)
        .watch_interval(Duration::from_millis(50))
        .start()
        .await;
    let gw = Client::of(&handle);
    (handle, gw)
}

fn set_mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

fn config(a: &FakeUpstream, b: &FakeUpstream, target: &str) -> String {
    format!(
        "# kept by hand\n[server]\nlisten = \"127.0.0.1:0\"\n\n[telemetry]\nstore_bodies = true\n\n{}{}{}",
        provider(a, ""),
        provider(b, ""),
        route("m", "", &[(target, None)])
    )
}

/// A gateway (a [`TestGateway`] or the binary) seen through its HTTP APIs.
struct Client {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    fn of(gw: &TestGateway) -> Client {
        Client {
            url: gw.url.clone(),
            token: gw.admin_token().to_owned(),
            http: gw.http.clone(),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/admin/api{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/admin/api{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Which provider serves model `m`.
    async fn serves(&self) -> String {
        let r = self
            .http
            .post(format!("{}/v1/chat/completions", self.url))
            .json(&chat_body("m", false))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        header(&r, "x-aigw-provider")
    }

    async fn live_version(&self) -> i64 {
        self.get("/config").await["version"]["id"].as_i64().unwrap()
    }

    async fn version_ids(&self) -> Vec<i64> {
        self.get("/config/history").await["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_i64().unwrap())
            .collect()
    }

    async fn audit(&self) -> Vec<Value> {
        self.get("/audit").await["entries"]
            .as_array()
            .unwrap()
            .clone()
    }
}

#[tokio::test]
async fn a_version_is_never_recorded_without_its_audit_entry() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let profile = "[profiles.local-only]\n[[profiles.local-only.routes]]\nmodel = \"m\"\n[[profiles.local-only.routes.targets]]\nprovider = \"b\"\n";
    let v1 = format!("{}{profile}", config(&a, &b, "a"));
    std::fs::write(&cfg, &v1).unwrap();
    let (handle, gw) = watched(dir.path(), &v1).await;
    assert_eq!(gw.version_ids().await, [1]);
    let audit_before = gw.audit().await.len();

    // Every audit insert fails from now on (the store is the gateway's own).
    let db = rusqlite::Connection::open(dir.path().join("data/config.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit
         BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END;",
    )
    .unwrap();

    let v2 = format!("{}{profile}", config(&a, &b, "b"));
    let (s, e) = gw.post("/config/publish", json!({"toml": v2})).await;
    assert_eq!(s, 500, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("injected audit failure") && msg.contains("nothing was published"),
        "{msg}"
    );
    let (s, e) = gw
        .post("/config/profile", json!({"profile": "local-only"}))
        .await;
    assert_eq!(s, 500, "{e}");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), v1);
    // the hand edit the watcher sees is not applied either
    std::fs::write(&cfg, &v2).unwrap();
    let n: i64 = db
        .query_row("SELECT count(*) FROM config_versions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    // give the watcher its ticks: still version 1, nothing recorded
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(gw.live_version().await, 1);
    }
    std::fs::write(&cfg, &v1).unwrap();
    assert_eq!(gw.version_ids().await, [1]);
    assert_eq!(gw.serves().await, "a");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), v1);

    // the failure injected at the audit insert, a rollback fails the same way
    db.execute_batch("DROP TRIGGER no_audit").unwrap();
    let (s, p) = gw.post("/config/publish", json!({"toml": v2})).await;
    assert_eq!(s, 200, "{p}");
    let v = p["version"]["id"].as_i64().unwrap();
    db.execute_batch(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit
         BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END;",
    )
    .unwrap();
    let (s, e) = gw.post("/config/rollback", json!({"version": 1})).await;
    assert_eq!(s, 500, "{e}");
    assert_eq!(gw.version_ids().await, [v, 1]);
    assert_eq!(gw.serves().await, "b");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), v2);
    db.execute_batch("DROP TRIGGER no_audit").unwrap();

    // every version has exactly one audit entry naming it
    let orphans: i64 = db
        .query_row(
            "SELECT count(*) FROM config_versions v
             WHERE (SELECT count(*) FROM audit a WHERE a.version_id = v.id) != 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    assert_eq!(gw.audit().await.len(), audit_before + 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn the_data_dir_and_its_files_are_owner_only() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // an older version's data dir, open to everyone
    std::fs::create_dir(&data).unwrap();
    set_mode(&data, 0o755);
    let old_db = data.join("telemetry.db");
    std::fs::write(&old_db, b"").unwrap();
    set_mode(&old_db, 0o644);
    let cfg = dir.path().join("config.toml");
    let v1 = config(&a, &b, "a");
    std::fs::write(&cfg, &v1).unwrap();
    set_mode(&cfg, 0o640);

    let (handle, gw) = watched(dir.path(), &v1).await;
    assert_eq!(gw.serves().await, "a");
    // the request (and its body) reached telemetry.db
    let log = rusqlite::Connection::open(&old_db).unwrap();
    for _ in 0..200 {
        let n: i64 = log
            .query_row("SELECT count(*) FROM bodies", [], |r| r.get(0))
            .unwrap_or(0);
        if n > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (s, p) = gw
        .post("/config/publish", json!({"toml": config(&a, &b, "b")}))
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(mode(&data), 0o700);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "config.db",
        "config.db-wal",
        "telemetry.db",
        "telemetry.db-wal",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // the published config file kept its mode
    assert_eq!(mode(&cfg), 0o640);
    handle.shutdown().await;

    // a new data dir and a config file created by a publish
    let dir = tempfile::tempdir().unwrap();
    let v1 = config(&a, &b, "a");
    let (handle, gw) = watched(dir.path(), &v1).await;
    let (s, p) = gw
        .post("/config/publish", json!({"toml": config(&a, &b, "b")}))
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(mode(&dir.path().join("data")), 0o700);
    assert_eq!(mode(&dir.path().join("data/config.db")), 0o600);
    assert_eq!(mode(&dir.path().join("config.toml")), 0o600);
    handle.shutdown().await;
}

const AIGW: &str = env!("CARGO_BIN_EXE_aigw");

/// `aigw serve` on `dir/config.toml` and `dir/data`, with a client for it.
fn serve(dir: &Path) -> (Aigw, Client) {
    let (cfg, data) = (dir.join("config.toml"), dir.join("data"));
    let (c, d) = (cfg.to_str().unwrap(), data.to_str().unwrap());
    let aigw = Aigw::serve(&["--config", c, "--data-dir", d], &[]);
    let out = Command::new(AIGW)
        .args(["--config", c, "--data-dir", d, "admin-token"])
        .env("AIGW_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let client = Client {
        url: aigw.url.clone(),
        token: String::from_utf8(out.stdout).unwrap().trim().to_string(),
        http: reqwest::Client::new(),
    };
    (aigw, client)
}

fn stop(mut aigw: Aigw) -> Vec<String> {
    aigw.sigterm();
    assert_eq!(aigw.wait_exit(), 0, "{:#?}", aigw.log_lines());
    aigw.log_lines()
}

// aigw runs as a child process: keep a worker free for the fakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_file_at_start_leaves_the_last_committed_version_serving() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let v1 = config(&a, &b, "a");
    std::fs::write(&cfg, &v1).unwrap();
    let (aigw, gw) = serve(dir.path());
    assert_eq!(gw.version_ids().await, [1]);
    stop(aigw);

    // broken while the gateway was stopped
    std::fs::write(&cfg, "[server]\nlisten = \"127.0.0.1:0\"\nmax_body = 5\n").unwrap();
    let (mut aigw, gw) = serve(dir.path());
    assert_eq!(gw.serves().await, "a");
    assert_eq!(gw.live_version().await, 1);
    let mut status = Value::Null;
    for _ in 0..100 {
        status = gw.get("/status").await;
        if !status["config_file_error"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let why = status["config_file_error"].as_str().unwrap();
    assert!(why.contains("config.toml:3"), "{why}");
    assert_eq!(gw.audit().await[0]["action"], "file_rejected");
    assert_eq!(gw.version_ids().await, [1]);
    let log = aigw.log_lines().join("\n");
    assert!(
        log.contains("serving the last committed version 1"),
        "{log}"
    );
    // fixed while running: a hand edit like any
    let v2 = config(&a, &b, "b");
    std::fs::write(&cfg, &v2).unwrap();
    for _ in 0..100 {
        if gw.live_version().await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(gw.serves().await, "b");
    stop(aigw);

    // changed while stopped: recorded (and audited) at start
    std::fs::write(&cfg, &v1).unwrap();
    let (aigw, gw) = serve(dir.path());
    assert_eq!(gw.version_ids().await, [3, 2, 1]);
    let h = gw.get("/config/history").await;
    assert_eq!(h["versions"][0]["source"], "file");
    let audit = gw.audit().await;
    assert_eq!(audit[0]["action"], "file");
    assert_eq!(audit[0]["version_id"], 3);
    assert_eq!(gw.serves().await, "a");
    stop(aigw);
}

/// Writes to `dir/filler` until the filesystem is full.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("filler"))
        .unwrap();
    let chunk = vec![7u8; 4096];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "{e}");
                break;
            }
        }
    }
    assert!(std::fs::write(dir.join("probe"), b"x").is_err());
    let _ = std::fs::remove_file(dir.join("probe"));
}

const TMPFS_VAR: &str = "AIGW_TEST_TMPFS";

/// Runs itself again in a private mount namespace with a 4 MiB tmpfs on a
/// temp dir (needs root or CAP_SYS_ADMIN, and `unshare`); skipped, saying
/// why, where that is not possible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_a_full_disk_changes_nothing() {
    if let Ok(dir) = std::env::var(TMPFS_VAR) {
        return full_disk(Path::new(&dir)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        r#"mount -t tmpfs -o size=4m,mode=0755 aigw-test "${TMPFS_VAR}" || {{ echo "aigw-skip: cannot mount a tmpfs" >&2; exit 77; }}; exec "$0" "$@""#
    );
    let out = match Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(&exe)
        .args([
            // Its name inside the one integration test binary (tests/main.rs).
            "durability::a_publish_on_a_full_disk_changes_nothing",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(TMPFS_VAR, dir.path())
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            println!("skipped: cannot run unshare ({e}); needs util-linux and root");
            return;
        }
    };
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if out.status.code() == Some(77) || stderr.contains("unshare failed") {
        println!("skipped: no private mount namespace with a tmpfs here (needs root): {stderr}");
        return;
    }
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "in the namespace:\n{stdout}\n{stderr}"
    );
}

/// The file, its mode, the live config and the history are as before the
/// failed publish, and no temp file is left.
async fn nothing_changed(root: &Path, gw: &Client, v1: &str) {
    let cfg = root.join("config.toml");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), v1);
    assert_eq!(mode(&cfg), 0o640);
    assert_eq!(gw.live_version().await, 1);
    assert_eq!(gw.version_ids().await, [1]);
    assert_eq!(gw.serves().await, "a");
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["config.toml", "data", "filler"],
        "no temp file left"
    );
}

async fn full_disk(root: &Path) {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let cfg = root.join("config.toml");
    let v1 = config(&a, &b, "a");
    let v2 = config(&a, &b, "b");
    std::fs::write(&cfg, &v1).unwrap();
    set_mode(&cfg, 0o640);
    let (aigw, gw) = serve(root);
    assert_eq!(gw.serves().await, "a");
    // that request's log row is written: nothing else writes from here on
    let log = rusqlite::Connection::open(root.join("data/telemetry.db")).unwrap();
    for _ in 0..200 {
        let n: i64 = log
            .query_row("SELECT count(*) FROM requests", [], |r| r.get(0))
            .unwrap_or(0);
        if n > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(log);

    // the disk fills up but for one page: room for the new file, none for
    // its version in the store
    fill(root);
    let filler = std::fs::OpenOptions::new()
        .write(true)
        .open(root.join("filler"))
        .unwrap();
    filler
        .set_len(filler.metadata().unwrap().len() - 4096)
        .unwrap();
    drop(filler);
    let (s, e) = gw
        .post("/config/publish", json!({"toml": v2, "message": "to b"}))
        .await;
    assert_eq!(s, 500, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("cannot record the new version")
            && msg.contains("nothing was published, version 1 stays live"),
        "{msg}"
    );
    nothing_changed(root, &gw, &v1).await;

    // the disk is full: not even the new file fits
    fill(root);
    let (s, e) = gw
        .post("/config/publish", json!({"toml": v2, "message": "to b"}))
        .await;
    assert_eq!(s, 500, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("No space left on device")
            && msg.contains("nothing was published, version 1 stays live"),
        "{msg}"
    );
    nothing_changed(root, &gw, &v1).await;

    // a restart on the still full disk serves version 1
    stop(aigw);
    fill(root);
    let (aigw, gw) = serve(root);
    assert_eq!(gw.live_version().await, 1);
    assert_eq!(gw.version_ids().await, [1]);
    assert_eq!(gw.serves().await, "a");
    let log = stop(aigw).join("\n");
    assert!(log.contains("opened in exclusive mode"), "{log}");

    // space returns: nothing changes, not even across a restart...
    std::fs::remove_file(root.join("filler")).unwrap();
    let (aigw, gw) = serve(root);
    assert_eq!(gw.live_version().await, 1);
    assert_eq!(gw.version_ids().await, [1]);
    assert_eq!(gw.serves().await, "a");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), v1);

    // ...until the next publish
    let (s, p) = gw.post("/config/publish", json!({"toml": v2})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(gw.version_ids().await, [2, 1]);
    assert_eq!(gw.serves().await, "b");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), v2);
    assert_eq!(mode(&cfg), 0o640);
    assert_eq!(mode(&root.join("data")), 0o700);
    for f in ["config.db", "telemetry.db"] {
        assert_eq!(mode(&root.join("data").join(f)), 0o600, "{f}");
    }
    stop(aigw);
}
