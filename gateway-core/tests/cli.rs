//! The `aigw` binary as a user runs it: first-run default config, flags and
//! `AIGW_*` overrides, invalid config at start, keys from the environment and
//! the OS keychain, SIGTERM with a stream in flight.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)]

use crate::common;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::aigw::Aigw;
use common::*;
use testkit::{Behavior, FakeUpstream};

const AIGW: &str = env!("CARGO_BIN_EXE_aigw");

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A temp dir with `config.toml` = a `[server]` listening on port 0 and
/// `rest`.
fn config_dir(rest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("config.toml"),
        &format!("[server]\nlisten = \"127.0.0.1:0\"\n{rest}"),
    );
    dir
}

/// `aigw serve` on `dir`'s config with the data dir `dir/data`.
fn serve_in(dir: &Path, data: &str, env: &[(&str, &str)]) -> Aigw {
    Aigw::serve_files(&dir.join("config.toml"), &dir.join(data), env)
}

#[tokio::test]
async fn first_run_creates_the_default_config_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("conf/config.toml");
    let data = dir.path().join("data");
    let mut aigw = Aigw::serve(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("AIGW_LISTEN", "127.0.0.1:0")],
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert_eq!(text, gateway_core::config::DEFAULT_CONFIG);
    assert!(data.is_dir());
    let r = reqwest::get(format!("{}/healthz", aigw.url)).await.unwrap();
    assert_eq!(r.status(), 200);
    // no providers yet: any model is a clean 404
    let r = aigw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(r.status(), 404);
    assert!(
        aigw.log_lines()
            .iter()
            .any(|l| l.contains("created default config"))
    );
    // the admin token a headless user pastes into /ui
    let o = Command::new(AIGW)
        .args(["--data-dir", data.to_str().unwrap(), "admin-token"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .starts_with("aigw_admin_")
    );
    let o = Command::new(AIGW)
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "admin-token",
            "--viewer",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .starts_with("aigw_viewer_")
    );
}

#[test]
fn invalid_config_names_file_line_and_field_and_exits_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[[routes]]\nmodel = \"m\"\n[[routes.targets]]\nprovider = \"ghost\"\n",
    );
    let out = Command::new(AIGW)
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:7:", cfg.display())), "{err}");
    assert!(err.contains("routes[0].targets[0].provider"), "{err}");
    assert!(err.contains("unknown provider \"ghost\""), "{err}");

    write(&cfg, "[server]\nlisten = \"127.0.0.1:0\"\nmax_body = 5\n");
    let out = Command::new(AIGW)
        .args(["config", "validate", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":3:") && err.contains("max_body"), "{err}");

    write(&cfg, "[server]\nlisten = \"127.0.0.1:0\"\n");
    let out = Command::new(AIGW)
        .args(["config", "validate", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test]
async fn env_keys_client_auth_and_sigterm_finishes_the_stream() {
    let up = FakeUpstream::start("up").await;
    up.set_required_key(Some("sk-provider-from-env"));
    let dir = config_dir(&format!(
        "client_keys = [\"env:TEAM_KEY\"]\n{}{}",
        provider(&up, "api_key = \"env:UP_KEY\""),
        route("m", "", &[("up", None)])
    ));
    let aigw = serve_in(
        dir.path(),
        "d",
        &[
            ("UP_KEY", "sk-provider-from-env"),
            ("TEAM_KEY", "team-secret"),
        ],
    );
    let mut aigw = aigw;
    let r = aigw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 401);
    let r = aigw.chat_as("team-secret", &chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        up.proxied_requests()[0].header("authorization").as_deref(),
        Some("Bearer sk-provider-from-env")
    );

    up.push(Behavior::Stream {
        deltas: vec!["x".into(), "y".into(), "z".into()],
        interval: Duration::from_millis(300),
    });
    let resp = aigw.chat_as("team-secret", &chat_body("m", true)).await;
    assert_eq!(resp.status(), 200);
    aigw.sigterm();
    let body = resp.text().await.unwrap();
    assert_eq!(streamed_text(&body), "xyz");
    assert!(body.contains("[DONE]"));
    assert_eq!(aigw.wait_exit(), 0);
    let log = aigw.log_lines().join("\n");
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        !log.contains("sk-provider-from-env") && !log.contains("team-secret"),
        "keys in log: {log}"
    );
}

/// With a proxy in the environment, upstream requests go to it (absolute-form
/// for a plain-HTTP upstream); without one, straight to the upstream.
#[tokio::test]
async fn upstream_requests_use_the_proxy_from_the_environment() {
    // The "proxy" answers like the upstream it fronts; the upstream's own
    // address accepts nothing.
    let proxy = FakeUpstream::start("proxy").await;
    let dead = testkit::refused_addr().await;
    let dir = config_dir(&format!(
        "[[providers]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"http://{dead}/v1\"\napi_key = \"env:UP_KEY\"\n{}",
        route("m", "", &[("up", None)])
    ));
    let proxy_url = proxy.base_url().trim_end_matches("/v1").to_string();
    let mut aigw = serve_in(
        dir.path(),
        "d1",
        &[("UP_KEY", "sk-through-proxy"), ("HTTP_PROXY", &proxy_url)],
    );
    assert!(
        aigw.log_lines()
            .iter()
            .any(|l| l.contains("go through the proxy in HTTP_PROXY")),
        "{:?}",
        aigw.log_lines()
    );
    let r = aigw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    let seen = proxy.proxied_requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("host").as_deref(),
        Some(dead.to_string().as_str())
    );
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some("Bearer sk-through-proxy")
    );
    aigw.sigterm();
    assert_eq!(aigw.wait_exit(), 0);

    // No proxy: the dead upstream is tried directly and refuses.
    let aigw = serve_in(dir.path(), "d2", &[("UP_KEY", "sk-through-proxy")]);
    let r = aigw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 502, "{:?}", r.text().await);
    assert_eq!(proxy.proxied_requests().len(), 1);
}

/// HTTPS upstreams: the platform verifier refuses a certificate from a CA
/// the system does not trust (the attempt fails as a connect error before
/// any request is sent); once the CA is trusted (`SSL_CERT_FILE`), requests
/// and streams go through, over HTTP/2 as negotiated by ALPN.
#[tokio::test]
async fn https_upstreams_are_verified_and_spoken_over_http2() {
    let up = FakeUpstream::start_tls("tls").await;
    assert!(up.base_url().starts_with("https://localhost:"));
    let dir = config_dir(&format!(
        "{}{}",
        provider(&up, ""),
        route("m", "", &[("tls", None)])
    ));
    let ca = dir.path().join("ca.pem");
    write(&ca, testkit::TEST_CA_PEM);

    let mut untrusting = serve_in(dir.path(), "d1", &[]);
    let r = untrusting.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 502);
    let why = r.text().await.unwrap();
    assert!(why.contains("certificate"), "{why}");
    assert_eq!(
        up.request_count(),
        0,
        "a request went past a refused certificate"
    );
    untrusting.sigterm();
    assert_eq!(untrusting.wait_exit(), 0);

    let trusting = serve_in(dir.path(), "d2", &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    let r = trusting.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from tls");
    up.push(Behavior::Stream {
        deltas: vec!["a".into(), "b".into()],
        interval: Duration::from_millis(5),
    });
    let r = trusting.chat(&chat_body("m", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(streamed_text(&r.text().await.unwrap()), "ab");
    let seen = up.proxied_requests();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|r| r.version == http::Version::HTTP_2),
        "{seen:?}"
    );
}

/// Runs only where a Secret Service is available (the test script starts
/// gnome-keyring in a private D-Bus session and sets AIGW_TEST_KEYRING=1).
#[tokio::test]
async fn keyring_keys_set_list_use_and_remove() {
    if std::env::var("AIGW_TEST_KEYRING").as_deref() != Ok("1") {
        eprintln!("skipped: AIGW_TEST_KEYRING != 1 (run through scripts/test.sh)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let name = format!("aigw-test-{}", std::process::id());
    let keys = |args: &[&str], stdin: Option<&str>| {
        let mut c = Command::new(AIGW)
            .arg("--data-dir")
            .arg(&data)
            .arg("keys")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut si = c.stdin.take().unwrap();
        if let Some(s) = stdin {
            si.write_all(s.as_bytes()).unwrap();
        }
        drop(si);
        c.wait_with_output().unwrap()
    };
    let out = keys(&["set", &name], Some("sk-from-keychain\n"));
    assert!(out.status.success(), "{out:?}");
    let out = keys(&["list"], None);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains(&format!("{name}\tpresent")), "{listed}");
    assert!(!listed.contains("sk-from-keychain"));

    let up = FakeUpstream::start("up").await;
    up.set_required_key(Some("sk-from-keychain"));
    let cfg = dir.path().join("config.toml");
    write(
        &cfg,
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{}{}",
            provider(&up, &format!("api_key = \"keyring:{name}\"")),
            route("m", "", &[("up", None)])
        ),
    );
    let aigw = Aigw::serve(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let r = aigw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    drop(aigw);

    let out = keys(&["rm", &name], None);
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&keys(&["list"], None).stdout).contains(&name));
    // a missing keychain key: the provider fails over with a clear reason, no panic
    let aigw = Aigw::serve(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let r = aigw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 502);
    let v: serde_json::Value = r.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&format!("no key named \"{name}\"")), "{msg}");
    assert_eq!(up.request_count(), 1);
}

fn aigw(args: &[&str]) -> std::process::Output {
    Command::new(AIGW)
        .args(args)
        .env_remove("AIGW_LISTEN")
        .env("AIGW_LOG", "warn")
        .output()
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

// aigw runs as a blocking child process: keep a worker free for the fakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_commands_work_offline_and_against_the_running_gateway() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let port = testkit::refused_addr().await.port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let data = dir.path().join("data");
    let body = |target: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{}{}{}",
            provider(&a, ""),
            provider(&b, ""),
            route("m", "", &[(target, None)])
        )
    };
    write(&cfg, &body("a"));
    let (c, d) = (cfg.to_str().unwrap(), data.to_str().unwrap());
    let run = |args: &[&str]| aigw(&[&["--config", c, "--data-dir", d][..], args].concat());

    // offline: the data dir's store
    let v2 = dir.path().join("v2.toml");
    write(&v2, &body("b"));
    let o = run(&["config", "diff", v2.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("+provider = \"b\"") && text(&o).contains("~route m"),
        "{}",
        text(&o)
    );
    let o = run(&["config", "publish", v2.to_str().unwrap(), "-m", "to b"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("published version 2"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), body("b"));

    // a running gateway serving this config
    let _gw = Aigw::serve(&["--config", c, "--data-dir", d], &[]);
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let http = reqwest::Client::new();
    let r = http
        .post(&url)
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    let o = run(&["config", "rollback", "1", "-m", "back"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("published version 3"), "{}", text(&o));
    // hot-swapped in the running gateway
    let r = http
        .post(&url)
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-aigw-provider"), "a");
    let o = run(&["config", "history"]);
    let h = text(&o);
    assert!(
        h.contains("*    3")
            && h.contains("rollback")
            && h.contains("to b")
            && h.contains("startup"),
        "{h}"
    );
    let o = run(&["config", "show", "2"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), body("b"));
    // invalid: refused with file:line, nothing applied
    let bad = dir.path().join("bad.toml");
    write(
        &bad,
        &body("a").replace("provider = \"a\"\n", "provider = \"ghost\"\n"),
    );
    let o = run(&["config", "publish", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("unknown provider \"ghost\""),
        "{}",
        text(&o)
    );
    let r = http
        .post(&url)
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-aigw-provider"), "a");

    // probe: each provider's reachability and models
    let o = run(&["probe"]);
    assert!(o.status.success(), "{}", text(&o));
    let p = text(&o);
    assert!(
        p.contains("a ") && p.contains("ok") && p.contains("fake-model"),
        "{p}"
    );
}

// aigw runs as a blocking child process: keep a worker free for the fakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reports_auth_failures_and_unreachable_providers() {
    let a = FakeUpstream::start("a").await;
    a.set_required_key(Some("right"));
    let dead = testkit::refused_addr().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    write(
        &cfg,
        &format!(
            "{}[[providers]]\nname = \"dead\"\nkind = \"openai\"\nbase_url = \"http://{dead}/v1\"\n",
            provider(&a, "")
        ),
    );
    let o = aigw(&[
        "--config",
        cfg.to_str().unwrap(),
        "--data-dir",
        dir.path().join("d").to_str().unwrap(),
        "probe",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let p = text(&o);
    assert!(p.contains("AUTH FAILED"), "{p}");
    assert!(
        p.contains("UNREACHABLE") && p.contains("cannot connect"),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_models_and_replay_from_the_cli() {
    let up = FakeUpstream::start("up").await;
    let other = FakeUpstream::start("other").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    write(
        &cfg,
        &format!("{}{}", provider(&up, ""), provider(&other, "")),
    );
    let (c, d) = (cfg.to_str().unwrap(), dir.path().join("data"));
    let d = d.to_str().unwrap();
    let run = |args: &[&str]| aigw(&[&["--config", c, "--data-dir", d][..], args].concat());
    // without --yes: the estimate only, nothing sent
    let o = run(&[
        "bench-models",
        "--target",
        "up:m",
        "-n",
        "2",
        "--stream",
        "off",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("2 requests") && text(&o).contains("--yes"),
        "{}",
        text(&o)
    );
    assert_eq!(up.request_count(), 0);
    let o = run(&[
        "bench-models",
        "--target",
        "up:m",
        "--target",
        "other:m2",
        "-n",
        "2",
        "--stream",
        "both",
        "--yes",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("up") && t.contains("other") && t.contains("100%") && t.contains("run 1"),
        "{t}"
    );
    assert_eq!((up.request_count(), other.request_count()), (4, 4));
    // replay a pasted body to one chosen target
    let body = dir.path().join("body.json");
    write(&body, &chat_body("whatever", false).to_string());
    let o = run(&[
        "replay",
        "--to",
        "other:picked",
        "--body",
        body.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Hello from other"), "{}", text(&o));
    assert_eq!(
        other.proxied_requests().last().unwrap().model().as_deref(),
        Some("picked")
    );
    assert_eq!(up.request_count(), 4);
}

/// `AIGW_STOP_ON_STDIN_EOF=1` (set by aigww.exe, the Windows launcher of the
/// logon task): `aigw serve` stops when its stdin closes, as on Ctrl-C;
/// without it a closed stdin changes nothing.
#[tokio::test]
async fn serve_stops_when_stdin_closes_only_when_asked() {
    let dir = config_dir("");
    let spawn = |data: &str, env: &[(&str, &str)]| {
        let mut cmd = Command::new(AIGW);
        cmd.args(["serve", "--config"])
            .arg(dir.path().join("config.toml"))
            .arg("--data-dir")
            .arg(dir.path().join(data))
            .stdin(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Aigw::spawn(cmd)
    };
    let mut asked = spawn("d1", &[(gateway_core::cli::STOP_ON_STDIN_EOF, "1")]);
    let mut plain = spawn("d2", &[]);
    drop(asked.child.stdin.take());
    drop(plain.child.stdin.take());
    assert_eq!(asked.wait_exit(), 0);
    let log = asked.log_lines().join("\n");
    assert!(log.contains("stdin closed"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    // The other one still serves, and stops on SIGTERM as ever.
    let r = plain
        .http
        .get(format!("{}/healthz", plain.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(plain.child.try_wait().unwrap().is_none());
    plain.sigterm();
    assert_eq!(plain.wait_exit(), 0);
}

/// The soft open-file limit of a running process (`/proc/PID/limits`).
#[cfg(target_os = "linux")]
fn soft_nofile(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

/// `aigw serve` started under `ulimit -Sn SOFT -Hn HARD` (the shell execs it).
#[cfg(target_os = "linux")]
fn serve_with_nofile(dir: &Path, data: &str, soft: u64, hard: u64) -> Aigw {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -Sn {soft} && ulimit -Hn {hard} && exec \"$0\" \"$@\""
        ))
        .arg(AIGW)
        .args(["serve", "--config"])
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join(data));
    Aigw::spawn(cmd)
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn serve_raises_its_open_file_limit_and_says_when_it_is_too_low() {
    let dir = config_dir("");
    // A desktop's 256 soft limit under a roomy hard one: raised, nothing said.
    let mut roomy = serve_with_nofile(dir.path(), "d1", 256, 4096);
    assert_eq!(soft_nofile(roomy.child.id()), 4096);
    let said = |a: &mut Aigw| {
        a.log_lines()
            .iter()
            .any(|l| l.contains("open-file limit is"))
    };
    assert!(!said(&mut roomy), "{:#?}", roomy.log_lines());
    // A hard limit below what max_connections = 512 needs: raised as far
    // as it goes, and said at start.
    let mut tight = serve_with_nofile(dir.path(), "d2", 256, 600);
    assert_eq!(soft_nofile(tight.child.id()), 600);
    let log = tight.log_lines().join("\n");
    assert!(
        log.contains("the open-file limit is 600: server.max_connections = 512 needs about 1088"),
        "{log}"
    );
    for a in [&mut roomy, &mut tight] {
        a.sigterm();
        assert_eq!(a.wait_exit(), 0);
    }
}
