//! Issue 20: TLS on the listener (`server.tls_cert`, `server.tls_key`) with
//! reload on change, and `/metrics` / `/healthz?detail` behind an admin API
//! token whenever the listener is not loopback-only. Certificates are made
//! at test time with the `openssl` CLI: a throwaway CA and a leaf for
//! `127.0.0.1` / `localhost`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use gateway_core::secrets::admin::AdminTokens;
use gateway_core::{Config, GatewayHandle, GatewayOptions};
use testkit::FakeUpstream;
use tokio::io::AsyncReadExt;

/// A CA and a leaf certificate it signed, as files in `dir`.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh CA `name` and a leaf for 127.0.0.1 and localhost, in `dir/name`.
fn pki(dir: &Path, name: &str) -> Pki {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj"]);
    let subj = format!("/CN=aigw test CA {name}");
    ca.push(&subj);
    openssl(&d, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&d, &csr);
    std::fs::write(
        d.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        &d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    Pki {
        ca: d.join("ca.pem"),
        cert: d.join("leaf.pem"),
        key: d.join("leaf.key"),
    }
}

/// A client trusting only `ca`, on fresh connections (no pooling).
fn client(ca: &Path, http1: bool) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let mut b = reqwest::Client::builder()
        .tls_certs_only([cert])
        .pool_max_idle_per_host(0);
    if http1 {
        b = b.http1_only();
    }
    b.build().unwrap()
}

/// The `[server]` lines serving `cert` and `key` at `served` (the files the
/// gateway reads).
fn tls_server(served: &Path, extra: &str) -> String {
    format!(
        "[server]\ntls_cert = '{}'\ntls_key = '{}'\n{extra}\n",
        served.join("cert.pem").display(),
        served.join("key.pem").display()
    )
}

/// Puts `pki`'s pair where the gateway reads it (each file replaced whole).
fn install(pki: &Pki, served: &Path) {
    for (from, to) in [(&pki.cert, "cert.pem"), (&pki.key, "key.pem")] {
        let tmp = served.join(format!("{to}.tmp"));
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, served.join(to)).unwrap();
    }
}

/// Starts a gateway on `listen` serving `toml`, with its own tokens.
async fn start(toml: &str, listen: &str, watch: Duration) -> (GatewayHandle, AdminTokens) {
    let config = Config::parse(toml, "test.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let tokens = AdminTokens::ephemeral();
    let mut opts = GatewayOptions::new(config);
    opts.listen = Some(listen.parse().unwrap());
    opts.admin_tokens = Some(tokens.clone());
    opts.watch_interval = watch;
    (gateway_core::start(opts).await.unwrap(), tokens)
}

fn https(addr: SocketAddr, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", addr.port())
}

/// Polls `ok` every 50 ms until it holds; panics after a minute (a hang
/// guard, not a timing check).
async fn eventually<F, Fut>(what: &str, mut ok: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1200 {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn the_listener_speaks_tls_with_h2_and_http1_and_proxies_chat() {
    let dir = tempfile::tempdir().unwrap();
    let a = pki(dir.path(), "a");
    install(&a, dir.path());
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "{}{}{}",
        tls_server(dir.path(), ""),
        provider(&up, ""),
        route("m", "", &[("up", None)])
    );
    let (gw, _) = start(&toml, "127.0.0.1:0", Duration::from_secs(1)).await;
    assert!(gw.base_url().starts_with("https://"), "{}", gw.base_url());

    let h2 = client(&a.ca, false);
    let r = h2
        .get(https(gw.local_addr(), "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2, "ALPN offers h2");
    let r = h2
        .post(https(gw.local_addr(), "/v1/chat/completions"))
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["choices"][0]["message"]["content"].is_string(),
        "{body}"
    );
    assert_eq!(up.request_count(), 1);

    let h1 = client(&a.ca, true);
    let r = h1
        .get(https(gw.local_addr(), "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);

    // Plain HTTP to the TLS port is not served.
    let plain = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/healthz",
            gw.local_addr().port()
        ))
        .send()
        .await;
    assert!(
        plain.as_ref().map_or(true, |r| r.status() != 200),
        "{plain:?}"
    );
    // A client that does not trust the CA is refused by its own check.
    let other = pki(dir.path(), "other");
    assert!(
        client(&other.ca, false)
            .get(https(gw.local_addr(), "/healthz"))
            .send()
            .await
            .is_err()
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn a_replaced_pair_reaches_new_connections_and_a_broken_one_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (pki(dir.path(), "a"), pki(dir.path(), "b"));
    install(&a, dir.path());
    let (gw, _) = start(
        &tls_server(dir.path(), ""),
        "127.0.0.1:0",
        Duration::from_millis(100),
    )
    .await;
    let addr = gw.local_addr();
    let (trusts_a, trusts_b) = (client(&a.ca, false), client(&b.ca, false));
    assert_eq!(
        trusts_a
            .get(https(addr, "/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(trusts_b.get(https(addr, "/healthz")).send().await.is_err());

    install(&b, dir.path());
    eventually("a new connection is served the new certificate", || async {
        trusts_b.get(https(addr, "/healthz")).send().await.is_ok()
    })
    .await;
    assert!(
        trusts_a.get(https(addr, "/healthz")).send().await.is_err(),
        "the old certificate is no longer served"
    );
    let metrics = trusts_b
        .get(https(addr, "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("aigw_tls_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );

    // A key that does not fit the certificate: the pair B stays.
    std::fs::copy(&a.key, dir.path().join("key.pem.tmp")).unwrap();
    std::fs::rename(dir.path().join("key.pem.tmp"), dir.path().join("key.pem")).unwrap();
    eventually("the broken pair is counted", || async {
        let m = trusts_b
            .get(https(addr, "/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        m.contains("aigw_tls_reloads_total{result=\"failed\"} 1")
    })
    .await;
    assert_eq!(
        trusts_b
            .get(https(addr, "/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the previous pair is still served"
    );
    assert!(trusts_a.get(https(addr, "/healthz")).send().await.is_err());

    // Fixed again (A's pair whole): served.
    install(&a, dir.path());
    eventually("the repaired pair is served", || async {
        trusts_a.get(https(addr, "/healthz")).send().await.is_ok()
    })
    .await;
    gw.shutdown().await;
}

#[tokio::test]
async fn a_tls_handshake_holds_a_connection_slot_and_has_a_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let a = pki(dir.path(), "a");
    install(&a, dir.path());
    let toml = tls_server(dir.path(), "max_connections = 1\nheader_read_timeout_s = 1");
    let (gw, _) = start(&toml, "127.0.0.1:0", Duration::from_secs(1)).await;
    let addr = gw.local_addr();
    let c = client(&a.ca, false);

    // A client that connects and never says hello holds the one slot...
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    eventually("the silent connection holds the slot", || async {
        c.get(https(addr, "/healthz")).send().await.is_err()
    })
    .await;
    // ...until the handshake deadline closes it.
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(60), silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the gateway closed the handshake-less connection: {read:?}"
    );
    eventually("the slot is free again", || async {
        c.get(https(addr, "/healthz")).send().await.is_ok()
    })
    .await;
    gw.shutdown().await;
}

#[test]
fn a_bad_pair_is_a_config_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (pki(dir.path(), "a"), pki(dir.path(), "b"));
    let toml = |cert: &Path, key: &Path| {
        format!(
            "[server]\ntls_cert = '{}'\ntls_key = '{}'\n",
            cert.display(),
            key.display()
        )
    };
    let err = |t: String| Config::parse(&t, "t.toml").unwrap_err().to_string();

    assert!(Config::parse(&toml(&a.cert, &a.key), "t.toml").is_ok());

    let e = err(toml(&a.cert, &b.key));
    assert!(e.contains("server.tls_key"), "{e}");
    assert!(e.contains(&b.key.display().to_string()), "{e}");
    assert!(e.contains("does not fit"), "{e}");

    let missing = dir.path().join("nope.pem");
    let e = err(toml(&missing, &a.key));
    assert!(e.contains("server.tls_cert"), "{e}");
    assert!(e.contains(&missing.display().to_string()), "{e}");

    // A key where the certificate belongs.
    let e = err(toml(&a.key, &a.key));
    assert!(e.contains("no PEM certificate"), "{e}");

    let e = err(format!("[server]\ntls_cert = '{}'\n", a.cert.display()));
    assert!(e.contains("server.tls_key"), "{e}");
    assert!(e.contains("both"), "{e}");
}

/// Off loopback (bound to 0.0.0.0, reached on 127.0.0.1 only), `/metrics`
/// and `?detail=true` need the admin token; plain probes stay open.
#[tokio::test]
async fn off_loopback_metrics_and_detail_need_a_token() {
    let (gw, tokens) = start("", "0.0.0.0:0", Duration::from_secs(1)).await;
    let port = gw.local_addr().port();
    let http = reqwest::Client::new();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");

    for probe in ["/healthz", "/health", "/ready"] {
        let r = http.get(url(probe)).send().await.unwrap();
        assert_ne!(r.status(), 401, "{probe} stays open");
        assert_ne!(r.status(), 403, "{probe} stays open");
    }
    let r = http.get(url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "admin_auth_required", "{body}");
    for detail in [
        "/healthz?detail=true",
        "/health?detail=true",
        "/ready?detail=1",
    ] {
        let r = http.get(url(detail)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{detail}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "detail_forbidden", "{body}");
    }
    let bad = http
        .get(url("/metrics"))
        .bearer_auth("aigw_admin_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    // A viewer token is not enough (as for ?detail on loopback).
    let viewer = tokens.viewer.expose();
    let r = http
        .get(url("/metrics"))
        .bearer_auth(viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(url("/healthz?detail=true"))
        .bearer_auth(viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    {
        let token = tokens.admin.expose();
        let r = http
            .get(url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("aigw_build_info"));
        let r = http
            .get(url("/healthz?detail=true"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["providers"].is_array(), "{body}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn on_loopback_metrics_and_detail_stay_open() {
    let (gw, _) = start("", "127.0.0.1:0", Duration::from_secs(1)).await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/metrics", gw.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{}/healthz?detail=true", gw.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["providers"].is_array(), "{body}");
    gw.shutdown().await;
}
