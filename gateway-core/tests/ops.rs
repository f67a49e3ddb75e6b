//! Issue 18, operations: the health probes (`/health`, `/ready`,
//! `?detail=true`), the last good version served when the config file is
//! broken at start, `aigw diagnose`, `aigw status`, `aigw backup` /
//! `aigw restore`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::Value;
use testkit::FakeUpstream;

async fn get(gw: &TestGateway, path: &str) -> (u16, Value) {
    let r = gw
        .http
        .get(format!("{}{path}", gw.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn health_and_ready_answer_200_with_a_usable_provider() {
    let (_up, gw) = one_provider("").await;
    let (code, body) = get(&gw, "/health").await;
    assert_eq!((code, body["status"].as_str()), (200, Some("ok")));
    assert!(body.get("providers").is_none(), "{body}");
    let (code, body) = get(&gw, "/ready").await;
    assert_eq!((code, body["status"].as_str()), (200, Some("ok")), "{body}");
    // the older probe is still there
    assert_eq!(get(&gw, "/healthz").await.0, 200);

    // detail from loopback: per-provider state, no secrets
    let (code, body) = get(&gw, "/ready?detail=true").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["providers"][0]["name"], "a");
    assert_eq!(body["providers"][0]["usable"], true);
    assert_eq!(body["providers"][0]["key"], "none");
    assert_eq!(body["config_version"], 1);
    let (code, body) = get(&gw, "/ready?detail=maybe").await;
    assert_eq!(code, 400);
    assert_eq!(body["error"]["code"], "invalid_detail");

    // paused: not ready, still alive
    let (code, _) = gw
        .admin_post("/pause", serde_json::json!({"paused": true}))
        .await;
    assert_eq!(code, 200);
    let (code, body) = get(&gw, "/ready").await;
    assert_eq!(code, 503);
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["reason"].as_str().unwrap().contains("paused"),
        "{body}"
    );
    assert_eq!(get(&gw, "/health").await.0, 200);
}

#[tokio::test]
async fn ready_is_503_when_no_provider_is_usable() {
    // no providers at all
    let gw = TestGateway::start("[server]\n").await;
    let (code, body) = get(&gw, "/ready").await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("no providers"),
        "{body}"
    );
    assert_eq!(get(&gw, "/health").await.0, 200);

    // the one provider's key is missing
    let (_up, gw) = one_provider("api_key = \"env:AIGW_TEST_OPS_KEY_THAT_IS_NOT_SET\"").await;
    let (code, body) = get(&gw, "/ready?detail=true").await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["providers"][0]["key"], "missing");
    assert_eq!(body["providers"][0]["usable"], false);
    assert!(
        !body
            .to_string()
            .contains("AIGW_TEST_OPS_KEY_THAT_IS_NOT_SET=")
    );
}

/// `?detail=true` from a peer beyond loopback: only with the admin token.
/// The router is called in-process with the peer address a socket would
/// give it (tests cannot connect from beyond loopback).
#[tokio::test]
async fn detail_from_beyond_loopback_needs_the_admin_token() {
    use tower::ServiceExt;
    let (_up, gw) = one_provider("").await;
    let app = gateway_core::api::router(gw.handle.state().clone());
    let peer: std::net::SocketAddr = "192.0.2.7:5555".parse().unwrap();
    let call = |path: &str, token: Option<&str>| {
        let mut req = http::Request::get(path).header("host", "127.0.0.1:4000");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut req = req.body(axum::body::Body::empty()).unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let app = app.clone();
        async move {
            let r = app.oneshot(req).await.unwrap();
            let code = r.status().as_u16();
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (code, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let (code, body) = call("/ready", None).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.get("providers").is_none());
    let (code, body) = call("/ready?detail=true", None).await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["error"]["code"], "detail_forbidden");
    let (code, _) = call("/health?detail=true", Some(gw.tokens.viewer.expose())).await;
    assert_eq!(code, 403);
    let (code, body) = call("/health?detail=true", Some(gw.admin_token())).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["providers"][0]["name"], "a");
}

// ---- item 8: the last good version at start, reported at once ----

#[tokio::test]
async fn a_broken_file_at_start_serves_the_last_good_version_and_status_says_so_at_once() {
    let up = FakeUpstream::start("a").await;
    let dir = tempfile::tempdir().unwrap();
    let good = format!("[server]\nlisten = \"127.0.0.1:0\"\n{}", single(&up, ""));
    std::fs::write(dir.path().join("config.toml"), &good).unwrap();
    let gw = TestGateway::builder(&good).in_dir(dir.path()).start().await;
    gw.shutdown().await;

    std::fs::write(
        dir.path().join("config.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\nmax_body = 5\n",
    )
    .unwrap();
    let start = gateway_core::lifecycle::load_for_start(
        &dir.path().join("config.toml"),
        &dir.path().join("data"),
    )
    .unwrap();
    assert_eq!(start.file_rejected.as_ref().unwrap().1, 1);
    let gw = TestGateway::builder(&start.config.source)
        .in_dir(dir.path())
        .watch_interval(std::time::Duration::from_secs(3600))
        .start()
        .await;
    // before any watcher tick: the status already says why
    let (_, status) = gw.admin_get("/status").await;
    let why = status["config_file_error"].as_str().unwrap();
    assert!(why.contains("config.toml:3"), "{why}");
    assert_eq!(status["config_version"], 1);
    let (code, ready) = get(&gw, "/ready?detail=true").await;
    assert_eq!(code, 200, "{ready}");
    assert_eq!(ready["config_file_error"].as_str(), Some(why));
    // and it serves the last good version
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "a");
}

// ---- the CLI: status, diagnose, backup, restore ----

const AIGW: &str = env!("CARGO_BIN_EXE_aigw");

/// `aigw --config DIR/config.toml --data-dir DIR/data ARGS` with `env`,
/// none of the caller's `AIGW_*` or proxy variables.
fn cli(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(AIGW);
    c.arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .env("AIGW_LOG", "warn");
    for v in ["AIGW_CONFIG", "AIGW_DATA_DIR", "AIGW_LISTEN"]
        .into_iter()
        .chain(gateway_core::upstream::PROXY_VARS)
    {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(std::process::Stdio::null());
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The files of a `.tar.gz`: name and text.
fn untar(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut buf).unwrap();
            (name, buf)
        })
        .collect()
}

fn listen_of(aigw: &common::aigw::Aigw) -> String {
    aigw.url.trim_start_matches("http://").to_string()
}

// aigw runs as a child process: keep a worker free for the fakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aigw_status_against_a_running_and_a_stopped_gateway() {
    let up = FakeUpstream::start("a").await;
    let dir = tempfile::tempdir().unwrap();
    let aigw = common::aigw::Aigw::serve_config(dir.path(), &single(&up, ""), &[]);
    let listen = listen_of(&aigw);
    let out = cli(dir.path(), &["status"], &[("AIGW_LISTEN", &listen)]);
    let so = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{so}{}", text(&out.stderr));
    assert!(
        so.contains(&format!("aigw is running on http://{listen}")),
        "{so}"
    );
    assert!(so.contains("config version: 1"), "{so}");
    assert!(so.contains(&format!("http://{listen}/ui")), "{so}");
    assert!(so.contains("provider a"), "{so}");
    assert!(so.contains("usable"), "{so}");
    assert!(so.contains("readiness:      ready"), "{so}");
    let out = cli(
        dir.path(),
        &["status", "--json"],
        &[("AIGW_LISTEN", &listen)],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["running"], true);
    assert_eq!(v["health"]["providers"][0]["name"], "a");
    assert_eq!(v["status"]["config_version"], 1);

    aigw.sigterm();
    let mut aigw = aigw;
    assert_eq!(aigw.wait_exit(), 0);
    let out = cli(dir.path(), &["status"], &[("AIGW_LISTEN", &listen)]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(text(&out.stdout).contains("aigw is not running"), "{out:?}");
    let out = cli(
        dir.path(),
        &["status", "--json"],
        &[("AIGW_LISTEN", &listen)],
    );
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["running"], false);
}

/// Plants secrets everywhere (a provider key in the keychain, the admin
/// tokens, a header value, a key-like string in a stored request body, an
/// env var a provider's key refers to) and proves that neither the CLI's
/// bundle nor the admin API's holds any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diagnostics_bundle_holds_no_planted_secret() {
    if std::env::var("AIGW_TEST_KEYRING").as_deref() != Ok("1") {
        eprintln!("skipped: AIGW_TEST_KEYRING != 1 (run through /work/tasks/rt.sh)");
        return;
    }
    let key_name = format!("aigw-diag-{}", std::process::id());
    let key_value = "plantedKeychainValue9f3k2";
    let header_value = "plantedHeaderValue77x";
    let env_value = "plantedEnvValue55q";
    let body_secret = "sk-plantedBodySecret1234567890";
    let dir = tempfile::tempdir().unwrap();
    let env = [("AIGW_TEST_PLANTED_ENV", env_value)];

    // the key, through the CLI (stdin)
    let mut c = std::process::Command::new(AIGW)
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["keys", "set", &key_name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        c.stdin.as_mut().unwrap(),
        format!("{key_value}\n").as_bytes(),
    )
    .unwrap();
    drop(c.stdin.take());
    assert!(c.wait().unwrap().success());

    let a = FakeUpstream::start("a").await;
    a.set_required_key(Some(key_value));
    let b = FakeUpstream::start("b").await;
    b.set_default(testkit::Behavior::status(500));
    let aigw = common::aigw::Aigw::serve_config(
        dir.path(),
        &format!(
            "{}{}{}{}\n[telemetry]\nstore_bodies = true\n",
            provider(
                &a,
                &format!(
                    "api_key = \"keyring:{key_name}\"\nheaders = {{ \"X-Plant\" = \"{header_value}\" }}"
                )
            ),
            provider(&b, "api_key = \"env:AIGW_TEST_PLANTED_ENV\""),
            route("m", "", &[("a", None)]),
            route("bad", "", &[("b", None)]),
        ),
        &env,
    );
    let listen = listen_of(&aigw);
    let token = text(&cli(dir.path(), &["admin-token"], &[]).stdout)
        .trim()
        .to_string();
    let viewer = text(&cli(dir.path(), &["admin-token", "--viewer"], &[]).stdout)
        .trim()
        .to_string();
    assert!(token.starts_with("aigw_admin_"), "{token}");

    let mut body = chat_body("m", false);
    body["messages"][0]["content"] = Value::from(format!("my key is {body_secret}"));
    let r = aigw.chat(&body).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let r = aigw.chat(&chat_body("bad", false)).await;
    assert!(r.status().is_server_error());
    // both requests are in the log (its writer batches)
    let db = dir.path().join("data/telemetry.db");
    assert_eq!(logged_requests(&db, 2).await, 2);
    let stored: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT request_body FROM bodies LIMIT 1", [], |r| r.get(0))
        .unwrap_or_default();
    assert!(stored.contains("my key is"), "the body is stored: {stored}");

    // the CLI's bundle
    let out_file = dir.path().join("diag.tar.gz");
    let mut env_cli = env.to_vec();
    env_cli.push(("AIGW_LISTEN", &listen));
    let out = cli(
        dir.path(),
        &["diagnose", "--out", out_file.to_str().unwrap()],
        &env_cli,
    );
    assert!(out.status.success(), "{out:?}");
    let from_cli = std::fs::read(&out_file).unwrap();
    // the admin API's: admin only
    let http = reqwest::Client::new();
    let url = format!("{}/admin/api/diagnostics", aigw.url);
    let r = http.get(&url).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/gzip");
    assert!(header(&r, "content-disposition").contains("aigw-diagnostics-"));
    let from_api = r.bytes().await.unwrap().to_vec();

    for (which, archive) in [("cli", &from_cli), ("api", &from_api)] {
        let files = untar(archive);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "aigw-diagnostics/manifest.json",
            "aigw-diagnostics/status.json",
            "aigw-diagnostics/platform.json",
            "aigw-diagnostics/config/live.toml",
            "aigw-diagnostics/doctor.txt",
            "aigw-diagnostics/keys.json",
            "aigw-diagnostics/versions.json",
            "aigw-diagnostics/audit.json",
            "aigw-diagnostics/recent_errors.json",
        ] {
            assert!(
                names.contains(&want),
                "{which}: {want} missing from {names:?}"
            );
        }
        let all: String = files
            .iter()
            .map(|(n, b)| format!("== {n}\n{}\n", text(b)))
            .collect();
        for planted in [
            key_value,
            header_value,
            env_value,
            body_secret,
            &token,
            &viewer,
        ] {
            assert!(!all.contains(planted), "{which}: {planted} leaked:\n{all}");
        }
        // what it is for is there
        let file = |n: &str| {
            text(
                &files
                    .iter()
                    .find(|(f, _)| f == &format!("aigw-diagnostics/{n}"))
                    .unwrap()
                    .1,
            )
        };
        let live = file("config/live.toml");
        assert!(live.contains(&format!("keyring:{key_name}")), "{live}");
        assert!(live.contains("env:AIGW_TEST_PLANTED_ENV"), "{live}");
        assert!(live.contains("X-Plant"), "{live}");
        let keys: Value = serde_json::from_str(&file("keys.json")).unwrap();
        assert_eq!(keys["keyring"][0]["name"], key_name.as_str());
        assert_eq!(keys["keyring"][0]["present"], true);
        let errors: Value = serde_json::from_str(&file("recent_errors.json")).unwrap();
        assert_eq!(
            errors["failed_requests"][0]["requested_model"], "bad",
            "{errors}"
        );
        let audit = file("audit.json");
        assert!(audit.contains("\"startup\""), "{audit}");
        assert!(
            file("doctor.txt").contains("provider a"),
            "{}",
            file("doctor.txt")
        );
        let platform: Value = serde_json::from_str(&file("platform.json")).unwrap();
        assert_eq!(platform["os"], std::env::consts::OS);
        assert!(
            platform["aigw_env_vars_set"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == "AIGW_TEST_PLANTED_ENV")
        );
        let status: Value = serde_json::from_str(&file("status.json")).unwrap();
        let version = if which == "cli" {
            &status["status"]["config_version"]
        } else {
            &status["config_version"]
        };
        assert_eq!(version, 1, "{which}: {status}");
    }
    drop(aigw);
    let _ = cli(dir.path(), &["keys", "rm", &key_name], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_round_trip_and_refusals() {
    let up = FakeUpstream::start("a").await;
    let a = tempfile::tempdir().unwrap();
    let v1 = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{}",
        single(&up, "api_key = \"keyring:bk-name-only\"")
    );
    let v2 = v1.replace("model = \"m\"", "model = \"m2\"");
    std::fs::write(a.path().join("config.toml"), &v1).unwrap();
    std::fs::write(a.path().join("v2.toml"), &v2).unwrap();
    // offline publish: versions 1 (the file) and 2
    let out = cli(
        a.path(),
        &[
            "config",
            "publish",
            a.path().join("v2.toml").to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{out:?}");

    let aigw =
        common::aigw::Aigw::serve_files(&a.path().join("config.toml"), &a.path().join("data"), &[]);
    let listen = listen_of(&aigw);
    let r = aigw.chat(&chat_body("m2", false)).await;
    let _ = r.status();
    let db = a.path().join("data/telemetry.db");
    assert_eq!(logged_requests(&db, 1).await, 1);
    // a backup while the gateway runs
    let archive = a.path().join("backup.tar.gz");
    let out = cli(
        a.path(),
        &["backup", "--out", archive.to_str().unwrap(), "--telemetry"],
        &[("AIGW_LISTEN", &listen)],
    );
    assert!(out.status.success(), "{out:?}");
    let files = untar(&std::fs::read(&archive).unwrap());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "aigw-backup/manifest.json",
            "aigw-backup/config.db",
            "aigw-backup/telemetry.db"
        ]
    );
    let manifest: Value = serde_json::from_slice(&files[0].1).unwrap();
    assert_eq!(
        manifest["store_schema"],
        gateway_core::store::SCHEMA_VERSION
    );
    assert_eq!(manifest["config_versions"], 2);
    assert_eq!(manifest["live_version"], 2);
    assert_eq!(manifest["keys"]["keyring"][0], "bk-name-only");
    // restore refuses while a gateway serves this installation
    let out = cli(
        a.path(),
        &["restore", archive.to_str().unwrap()],
        &[("AIGW_LISTEN", &listen)],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("stop it first"), "{out:?}");
    drop(aigw);

    // into a fresh installation (nothing listens where it looks)
    let nobody = testkit::refused_addr().await.to_string();
    let nobody = [("AIGW_LISTEN", nobody.as_str())];
    let b = tempfile::tempdir().unwrap();
    let out = cli(b.path(), &["restore", archive.to_str().unwrap()], &nobody);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stdout).contains("the live version is 2"),
        "{out:?}"
    );
    assert!(text(&out.stdout).contains("key bk-name-only"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(b.path().join("config.toml")).unwrap(),
        v2
    );
    let store = gateway_core::store::ConfigStore::open(&b.path().join("data/config.db")).unwrap();
    let ids: Vec<i64> = store
        .history(10, None)
        .unwrap()
        .iter()
        .map(|v| v.id)
        .collect();
    assert_eq!(ids, [2, 1]);
    assert_eq!(store.audit_log(1, None).unwrap()[0].action, "restore");
    drop(store);
    let rows: i64 = rusqlite::Connection::open(b.path().join("data/telemetry.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    // the restored installation serves version 2
    let out = cli(b.path(), &["config", "history"], &[]);
    assert!(text(&out.stdout).contains('2'), "{out:?}");

    // a backup from a newer aigw (store schema 99) is refused, nothing changes
    let work = tempfile::tempdir().unwrap();
    for (name, bytes) in &files {
        let p = work.path().join(name.trim_start_matches("aigw-backup/"));
        std::fs::write(&p, bytes).unwrap();
    }
    rusqlite::Connection::open(work.path().join("config.db"))
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let newer = work.path().join("newer.tar.gz");
    {
        let f = std::fs::File::create(&newer).unwrap();
        let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
            f,
            flate2::Compression::fast(),
        ));
        for n in ["manifest.json", "config.db"] {
            t.append_path_with_name(work.path().join(n), format!("aigw-backup/{n}"))
                .unwrap();
        }
        t.into_inner().unwrap().finish().unwrap();
    }
    let c = tempfile::tempdir().unwrap();
    let out = cli(c.path(), &["restore", newer.to_str().unwrap()], &nobody);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("schema 99"), "{err}");
    assert!(err.contains("upgrade aigw"), "{err}");
    assert!(!c.path().join("data/config.db").exists());
    assert!(!c.path().join("config.toml").exists());
    // and so is an archive that is not a backup
    let bogus = work.path().join("bogus.tar.gz");
    std::fs::write(&bogus, b"not a tarball").unwrap();
    let out = cli(c.path(), &["restore", bogus.to_str().unwrap()], &nobody);
    assert!(!out.status.success());
    assert!(!c.path().join("data/config.db").exists());
}

/// The rows of `requests` in the telemetry DB `db` once there are `n` (its
/// writer batches), or what there is after 10 s.
async fn logged_requests(db: &std::path::Path, n: i64) -> i64 {
    let mut logged = 0;
    for _ in 0..200 {
        logged = rusqlite::Connection::open(db)
            .and_then(|c| c.query_row("SELECT count(*) FROM requests", [], |r| r.get(0)))
            .unwrap_or(0);
        if logged >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    logged
}

/// A gateway with one fake provider `a` (`extra` in its table) behind
/// route `m`.
async fn one_provider(extra: &str) -> (FakeUpstream, TestGateway) {
    let up = FakeUpstream::start("a").await;
    let gw = TestGateway::start(&single(&up, extra)).await;
    (up, gw)
}

/// Provider `a` (`extra` in its table) behind route `m`.
fn single(up: &FakeUpstream, extra: &str) -> String {
    format!("{}{}", provider(up, extra), route("m", "", &[("a", None)]))
}
