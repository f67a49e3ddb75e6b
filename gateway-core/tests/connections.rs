//! Issue 15, defect 4: client connections that hold the gateway without
//! using it are closed — half-sent heads, bodies that never end, idle
//! keep-alive sockets — and connections over `server.max_connections` are
//! answered 503 and closed, while requests in progress (a slow upstream, a
//! long stream) are never cut by any of these.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)]

use crate::common;
use std::process::Command;
use std::time::Duration;

use common::aigw::Aigw;
use common::*;
use serde_json::Value;
use testkit::{Behavior, FakeUpstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every connection timeout at its smallest: 1 s.
const TIGHT: &str =
    "[server]\nheader_read_timeout_s = 1\nbody_idle_timeout_s = 1\nkeepalive_idle_s = 1\n";

async fn gateway(server: &str, up: &FakeUpstream) -> TestGateway {
    let toml = format!(
        "{server}\n{}{}",
        provider(up, "timeout_s = 30"),
        route("m", "", &[(up.name(), None)])
    );
    TestGateway::start(&toml).await
}

async fn connect(gw: &TestGateway) -> TcpStream {
    TcpStream::connect(gw.handle.local_addr()).await.unwrap()
}

/// Everything the gateway sends until it closes the connection. Panics if
/// it has not closed it after a minute (a hang guard, not a timing check).
async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(
        read.is_ok(),
        "the gateway kept the connection open: {text:?}"
    );
    text
}

/// The JSON body of a raw HTTP/1.1 answer.
fn json_body(raw: &str) -> Value {
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw:?}"))
}

#[tokio::test]
async fn a_half_sent_head_is_closed_even_when_trickled() {
    let up = FakeUpstream::start("up").await;
    let gw = gateway(TIGHT, &up).await;

    // Nothing at all.
    let mut silent = connect(&gw).await;
    read_until_closed(&mut silent).await;

    // A head that never ends, one byte at a time (slowloris).
    let s = connect(&gw).await;
    let (mut rd, mut wr) = s.into_split();
    let trickle = async move {
        wr.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .ok()?;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            wr.write_all(b"a").await.ok()?;
        }
        #[allow(unreachable_code)]
        Some(())
    };
    let closed = async move {
        let mut buf = [0u8; 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        _ = trickle => {}, // writing failed: the gateway closed the socket
        () = closed => {},
        () = tokio::time::sleep(Duration::from_secs(60)) => panic!("a trickled head kept its connection"),
    }
    // The gateway still serves.
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        up.request_count(),
        1,
        "no half request reached the upstream"
    );
}

#[tokio::test]
async fn a_body_that_never_ends_gets_408_and_the_connection_closes() {
    let up = FakeUpstream::start("up").await;
    let gw = gateway(TIGHT, &up).await;
    let token = gw.handle.state().admin_tokens.admin.expose().to_string();
    for (path, auth) in [
        ("/v1/chat/completions", String::new()),
        ("/v1/messages", String::new()),
        (
            "/admin/api/config/validate",
            format!("Authorization: Bearer {token}\r\n"),
        ),
    ] {
        let mut s = connect(&gw).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\":"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let raw = read_until_closed(&mut s).await;
        assert!(raw.starts_with("HTTP/1.1 408"), "{path}: {raw:?}");
        let v = json_body(&raw);
        if path == "/v1/messages" {
            assert_eq!(v["type"], "error", "{v}");
            assert!(v["error"]["message"].is_string(), "{v}");
        } else {
            assert_eq!(v["error"]["code"], "request_timeout", "{path}: {v}");
        }
    }
    assert_eq!(up.request_count(), 0);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let up = FakeUpstream::start("up").await;
    let gw = gateway(TIGHT, &up).await;
    let mut s = connect(&gw).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    // The answer comes, then, with no further request, the close.
    let raw = read_until_closed(&mut s).await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw:?}");
    assert!(
        !raw.to_ascii_lowercase().contains("connection: close"),
        "{raw:?}"
    );
    assert_eq!(json_body(&raw)["status"], "ok");
}

#[tokio::test]
async fn over_the_cap_gets_503_while_earlier_connections_are_served() {
    let up = FakeUpstream::start("up").await;
    let deltas: Vec<String> = (0..8).map(|i| format!("t{i} ")).collect();
    up.set_default(Behavior::Stream {
        deltas: deltas.clone(),
        interval: Duration::from_millis(250),
    });
    let gw = gateway("[server]\nmax_connections = 2\n", &up).await;
    // Two streams hold both connections.
    let streams: Vec<_> = (0..2)
        .map(|_| {
            let (http, url) = (reqwest::Client::new(), gw.url.clone());
            tokio::spawn(async move {
                let r = http
                    .post(format!("{url}/v1/chat/completions"))
                    .json(&chat_body("m", true))
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    for _ in 0..1000 {
        if gw.handle.state().connections.open() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(gw.handle.state().connections.open(), 2);

    let mut third = connect(&gw).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let raw = read_until_closed(&mut third).await;
    assert!(raw.starts_with("HTTP/1.1 503"), "{raw:?}");
    let v = json_body(&raw);
    assert_eq!(v["error"]["code"], "too_many_connections", "{v}");
    assert_eq!(v["error"]["type"], "api_error", "{v}");

    let want: String = deltas.concat();
    for s in streams {
        let (status, body) = s.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            streamed_text(&body),
            want,
            "the earlier streams were not cut"
        );
    }
}

#[tokio::test]
async fn a_slow_upstream_and_a_long_stream_outlast_every_connection_timeout() {
    let up = FakeUpstream::start("up").await;
    let gw = gateway(TIGHT, &up).await;
    // Silence before the first byte, longer than any of the 1 s timeouts…
    up.push(Behavior::delay(Duration::from_millis(2500), Behavior::Ok));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Hello from up"));
    // …and a stream that flows for several seconds, after such a silence.
    let deltas: Vec<String> = (0..6).map(|i| format!("d{i} ")).collect();
    up.push(Behavior::delay(
        Duration::from_millis(1500),
        Behavior::Stream {
            deltas: deltas.clone(),
            interval: Duration::from_millis(500),
        },
    ));
    let r = gw.chat(&chat_body("m", true)).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert_eq!(streamed_text(&body), deltas.concat());
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
}

/// `aigw serve` under `ulimit -n 64`.
fn serve_with_fd_limit(cfg: &std::path::Path, data: &std::path::Path) -> Aigw {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" serve --config \"$1\" --data-dir \"$2\"")
        .arg(env!("CARGO_BIN_EXE_aigw"))
        .arg(cfg)
        .arg(data);
    Aigw::spawn(cmd)
}

#[tokio::test]
async fn at_the_open_file_limit_accept_and_the_config_watcher_carry_on() {
    let up = FakeUpstream::start("up").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let base = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nheader_read_timeout_s = 1\nkeepalive_idle_s = 1\nmax_connections = 10000\n{}{}",
        provider(&up, ""),
        route("m", "", &[("up", None)])
    );
    std::fs::write(&cfg, &base).unwrap();
    let mut aigw = serve_with_fd_limit(&cfg, &dir.path().join("data"));
    let addr = aigw.url.trim_start_matches("http://").to_string();

    // More idle sockets than the gateway has descriptors.
    let mut idle = Vec::new();
    for _ in 0..120 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // A hand edit while descriptors are short.
    std::fs::write(&cfg, format!("{base}{}", route("m2", "", &[("up", None)]))).unwrap();
    // Every idle socket is closed in its turn (the header timeout), those
    // waiting in the listen queue too once accepted.
    for s in &mut idle {
        read_until_closed(s).await;
    }
    drop(idle);

    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/healthz", aigw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The watcher survived and applied the edit.
    let mut served = false;
    for _ in 0..300 {
        let r = http
            .post(format!("{}/v1/chat/completions", aigw.url))
            .json(&chat_body("m2", false))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log: Vec<String> = aigw.log_lines();
    assert!(served, "the hand edit was never applied: {log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("cannot accept client connections")),
        "the descriptors never ran out: {log:#?}"
    );
}

#[tokio::test]
async fn http2_clients_are_served_under_the_same_timeouts() {
    let up = FakeUpstream::start("up").await;
    let gw = gateway(TIGHT, &up).await;
    let http = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let deltas: Vec<String> = (0..4).map(|i| format!("h{i} ")).collect();
    up.push(Behavior::Stream {
        deltas: deltas.clone(),
        interval: Duration::from_millis(500),
    });
    let r = http
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&chat_body("m", true))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert_eq!(streamed_text(&r.text().await.unwrap()), deltas.concat());
}
