//! Issue 15, defects 8 and 11 and the login limit: the Host guard parses
//! strictly (raw requests, as an attacker sends them), every error a client
//! gets is in its protocol's JSON shape (405, 404, 413, rejected input —
//! Anthropic's on `/v1/messages`), and failed admin logins are limited per
//! peer with one audit row per peer and window.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use std::time::Duration;

use common::*;
use gateway_core::config::Config;
use serde_json::{Value, json};
use testkit::FakeUpstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn gateway(extra: &str) -> (FakeUpstream, TestGateway, String) {
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "{extra}\n{}{}",
        provider(&up, ""),
        route("m", "", &[("up", None)])
    );
    let gw = TestGateway::start(&toml).await;
    (up, gw, toml)
}

/// Sends `request` as is and returns the status and JSON body of the
/// answer (the request asks the gateway to close afterwards).
async fn raw(gw: &TestGateway, request: &[u8]) -> (u16, Value) {
    let mut s = TcpStream::connect(gw.handle.local_addr()).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .expect("no answer")
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn openai_code(v: &Value) -> &str {
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["type"].is_string(), "{v}");
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("{v}"))
}

fn assert_anthropic(v: &Value) {
    assert_eq!(v["type"], "error", "{v}");
    assert!(v["error"]["type"].is_string(), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
}

#[tokio::test]
async fn the_host_guard_refuses_tricked_hosts_and_absolute_targets() {
    let (up, gw, _) = gateway("").await;
    let port = gw.handle.local_addr().port();
    let chat = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let post = |target: &str, host: &[u8]| {
        let mut r = format!(
            "POST {target} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nHost: ",
            chat.len()
        )
        .into_bytes();
        r.extend_from_slice(host);
        r.extend_from_slice(b"\r\n\r\n");
        r.extend_from_slice(chat.as_bytes());
        r
    };
    let bad: Vec<(String, Vec<u8>)> = vec![
        ("/v1/chat/completions".into(), b"[::1].evil.com".to_vec()),
        (
            "/v1/chat/completions".into(),
            format!("[::1]:{port}.evil.com").into_bytes(),
        ),
        ("/v1/chat/completions".into(), b"127.0.0.1\xff\xfe".to_vec()),
        ("/v1/chat/completions".into(), b"\xc3\xa9vil.com".to_vec()),
        (
            "http://evil.com/v1/chat/completions".into(),
            b"127.0.0.1".to_vec(),
        ),
        (
            format!("http://127.0.0.1:{port}/v1/chat/completions"),
            b"127.0.0.1".to_vec(),
        ),
    ];
    for (target, host) in &bad {
        let (s, v) = raw(&gw, &post(target, host)).await;
        assert_eq!(
            (s, openai_code(&v)),
            (403, "host_not_allowed"),
            "{target} with Host {:?}",
            String::from_utf8_lossy(host)
        );
    }
    // Two Host headers are refused too.
    let (s, v) = raw(
        &gw,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((s, openai_code(&v)), (403, "host_not_allowed"));
    // On /v1/messages the refusal is in Anthropic's shape.
    let (s, v) = raw(
        &gw,
        b"POST /v1/messages HTTP/1.1\r\nHost: [::1].evil.com\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .await;
    assert_eq!(s, 403);
    assert_anthropic(&v);
    assert_eq!(
        up.request_count(),
        0,
        "nothing refused reached the upstream"
    );
    // Well-formed local hosts still pass.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "[::1]".to_string(),
        format!("localhost:{port}"),
    ] {
        let (s, v) = raw(&gw, &post("/v1/chat/completions", host.as_bytes())).await;
        assert_eq!(s, 200, "{host}: {v}");
    }
}

#[tokio::test]
async fn every_error_comes_in_the_clients_json_shape() {
    let (_up, gw, _) = gateway("").await;
    let token = gw.handle.state().admin_tokens.admin.expose().to_string();
    let url = |p: &str| format!("{}{p}", gw.url);

    // 405 and 404 under /v1/messages: Anthropic's shape.
    for (method, path, status) in [
        (reqwest::Method::GET, "/v1/messages", 405),
        (reqwest::Method::PUT, "/v1/messages/count_tokens", 405),
        (reqwest::Method::GET, "/v1/messages/nope", 404),
    ] {
        let r = gw.http.request(method, url(path)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert_anthropic(&r.json().await.unwrap());
    }
    // Elsewhere: OpenAI's.
    let r = gw
        .http
        .get(url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(openai_code(&r.json().await.unwrap()), "method_not_allowed");
    let r = gw.http.get(url("/admin/api/login")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(openai_code(&r.json().await.unwrap()), "method_not_allowed");
    let r = gw
        .http
        .delete(url("/admin/api/status"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(openai_code(&r.json().await.unwrap()), "method_not_allowed");
    let r = gw
        .http
        .get(url("/admin/api/nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    openai_code(&r.json().await.unwrap());

    // Admin bodies over 2 MiB: 413 as JSON, declared or chunked.
    let big = json!({ "toml": "#".repeat(3 * 1024 * 1024) });
    let r = gw
        .http
        .post(url("/admin/api/config/validate"))
        .bearer_auth(&token)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(openai_code(&r.json().await.unwrap()), "request_too_large");
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..48)
        .map(|_| Ok(bytes::Bytes::from(vec![b' '; 64 * 1024])))
        .collect();
    let r = gw
        .http
        .post(url("/admin/api/config/validate"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(openai_code(&r.json().await.unwrap()), "request_too_large");
    // A small body is still read and answered.
    let r = gw
        .http
        .post(url("/admin/api/config/validate"))
        .bearer_auth(&token)
        .json(&json!({"toml": "[server]\n"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Input the framework rejects (bad JSON, a wrong content type, a
    // malformed path parameter): JSON too.
    for (path, ctype, body) in [
        ("/admin/api/config/validate", "application/json", "{nope"),
        (
            "/admin/api/config/validate",
            "application/json",
            "{\"x\":1}",
        ),
        ("/admin/api/config/validate", "text/plain", "hello"),
    ] {
        let r = gw
            .http
            .post(url(path))
            .bearer_auth(&token)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{path} {body}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path} {body}"
        );
        openai_code(&r.json().await.unwrap());
    }
    let r = gw
        .http
        .get(url("/admin/api/config/versions/not-a-number"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    openai_code(&r.json().await.unwrap());
}

#[tokio::test]
async fn failed_logins_are_limited_per_peer_and_audited_once_per_window() {
    let (_up, gw, toml) = gateway("[limits]\nlogin_max_failures = 10\nlogin_window_s = 3600").await;
    let token = gw.handle.state().admin_tokens.admin.expose().to_string();
    let login = |t: String| {
        let (http, url) = (gw.http.clone(), format!("{}/admin/api/login", gw.url));
        async move {
            http.post(url)
                .json(&json!({ "token": t }))
                .send()
                .await
                .unwrap()
        }
    };
    let mut statuses = Vec::new();
    for i in 0..300 {
        let r = login(format!("wrong-{i}")).await;
        let status = r.status().as_u16();
        if status == 429 {
            let wait: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=3600).contains(&wait), "{wait}");
            assert_eq!(openai_code(&r.json().await.unwrap()), "rate_limit_exceeded");
        }
        statuses.push(status);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert!(statuses[10..].iter().all(|&s| s == 429), "{statuses:?}");
    // Over the limit, the right token waits too.
    assert_eq!(login(token.clone()).await.status(), 429);

    let audit = || async {
        let v: Value = gw
            .http
            .get(format!("{}/admin/api/audit", gw.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "login_failed")
            .cloned()
            .collect::<Vec<Value>>()
    };
    let failed = audit().await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["detail"]["failures"], 10);
    assert_eq!(failed[0]["detail"]["peer"], "127.0.0.1");

    // A shorter window (read live, as after a publish): once it is over,
    // the right token logs in.
    let short = toml.replace("login_window_s = 3600", "login_window_s = 1");
    gw.handle.state().apply(Config::parse(&short, "t").unwrap());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = login(token.clone()).await;
    assert_eq!(r.status(), 200);
    // A new failure starts a new window and a new row.
    assert_eq!(login("wrong".into()).await.status(), 401);
    assert_eq!(audit().await.len(), 2);
}

#[tokio::test]
async fn connection_settings_are_validated() {
    for bad in [
        "[server]\nheader_read_timeout_s = 0",
        "[server]\nbody_idle_timeout_s = 0",
        "[server]\nkeepalive_idle_s = 100000",
        "[server]\nmax_connections = 0",
        "[limits]\nlogin_max_failures = 0",
        "[limits]\nlogin_window_s = 0",
    ] {
        let e = Config::parse(bad, "t").unwrap_err().to_string();
        assert!(e.contains("must be between"), "{bad}: {e}");
    }
    let c = Config::parse("", "t").unwrap();
    assert_eq!(c.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.server.body_idle_timeout, Duration::from_secs(30));
    assert_eq!(c.server.keepalive_idle, Duration::from_secs(75));
    assert_eq!(c.server.max_connections, 512);
    assert_eq!(c.limits.login_max_failures, 10);
    assert_eq!(c.limits.login_window, Duration::from_secs(60));
}
