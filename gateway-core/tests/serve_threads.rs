//! `GatewayOptions::serve_threads`: client connections served on dedicated
//! threads, each with its own single-threaded runtime and upstream client
//! (what `aigw serve` and the desktop app run with).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)]

use crate::common;
use std::time::Duration;

use common::{TestGateway, chat_body, provider, route, streamed_text};
use serde_json::Value;
use testkit::{Behavior, FakeUpstream, Reply};

/// The gateway over `up` as model `m`, serving on `threads` threads.
async fn start(up: &FakeUpstream, threads: usize) -> TestGateway {
    let toml = format!(
        "{}{}",
        provider(up, "timeout_s = 5"),
        route("m", "", &[(up.name(), None)])
    );
    TestGateway::builder(&toml)
        .serve_threads(threads)
        .start()
        .await
}

/// Names of this process's threads that serve connections.
fn serving_threads() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .filter(|n| n.starts_with("aigw-serve-"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_over_two_serving_threads_then_a_clean_stop() {
    let up = FakeUpstream::start("up").await;
    up.set_default(Behavior::Reply(Reply::text("abc")));
    let gw = start(&up, 2).await;
    let capture = gw.capture.clone();
    let url = format!("{}/v1/chat/completions", gw.url);
    if cfg!(target_os = "linux") {
        // A thread names itself once it runs.
        for _ in 0..200 {
            if serving_threads().len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(serving_threads(), ["aigw-serve-0", "aigw-serve-1"]);
    }

    // 48 clients, each on its own connection, half of them streaming: every
    // answer is whole whichever thread took the connection.
    let clients = (0..48).map(|i| {
        let url = url.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let stream = i % 2 == 0;
            let mut texts = Vec::new();
            for _ in 0..3 {
                let r = http
                    .post(&url)
                    .json(&chat_body("m", stream))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let body = r.text().await.unwrap();
                texts.push(if stream {
                    assert!(body.contains("[DONE]"), "{body}");
                    streamed_text(&body)
                } else {
                    let v: Value = serde_json::from_str(&body).unwrap();
                    v["choices"][0]["message"]["content"]
                        .as_str()
                        .unwrap()
                        .to_string()
                });
            }
            texts
        })
    });
    for c in futures_util::future::join_all(clients).await {
        for text in c.unwrap() {
            assert_eq!(text, "abc");
        }
    }
    let events = capture.wait(144).await;
    assert!(events.iter().all(|e| e.status == 200), "{events:?}");
    assert_eq!(up.proxied_requests().len(), 144);

    gw.shutdown().await;
    if cfg!(target_os = "linux") {
        assert!(serving_threads().is_empty(), "{:?}", serving_threads());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_stream_on_a_serving_thread_finish() {
    let up = FakeUpstream::start("up").await;
    up.push(Behavior::Stream {
        deltas: vec!["x".into(), "y".into(), "z".into()],
        interval: Duration::from_millis(200),
    });
    let gw = start(&up, 2).await;
    let capture = gw.capture.clone();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&chat_body("m", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let stop = tokio::spawn(gw.shutdown());
    let body = resp.text().await.unwrap();
    assert_eq!(streamed_text(&body), "xyz");
    assert!(body.contains("[DONE]"));
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .expect("shutdown finished")
        .unwrap();
    // The stream's event reached the sink before shutdown returned.
    assert_eq!(capture.events().len(), 1);
}

/// `aigw_client_connections{thread="…"}` from `/metrics`, by thread.
async fn connections_by_thread(base: &str) -> Vec<u64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut by: Vec<(usize, u64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("aigw_client_connections{thread=\""))
        .map(|l| {
            let (i, rest) = l.split_once("\"} ").unwrap();
            (i.parse().unwrap(), rest.trim().parse().unwrap())
        })
        .collect();
    by.sort();
    by.into_iter().map(|(_, n)| n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connections_are_spread_evenly_over_the_serving_threads() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = FakeUpstream::start("up").await;
    let gw = start(&up, 3).await;
    let addr = gw.url.trim_start_matches("http://").to_string();
    // 60 connections opened one after another and kept open, each served
    // one request: whichever thread the kernel woke for each, no thread
    // serves more than SPREAD_SLACK (2) more than another.
    let mut open = Vec::new();
    for _ in 0..60 {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut buf = [0u8; 512];
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
        open.push(tcp);
    }
    let by = connections_by_thread(&gw.url).await;
    assert_eq!(by.len(), 3, "{by:?}");
    // the 60, and the one asking for the metrics
    assert_eq!(by.iter().sum::<u64>(), 61, "{by:?}");
    let (min, max) = (by.iter().min().unwrap(), by.iter().max().unwrap());
    assert!(max - min <= 2, "{by:?}");
    // every handed-over connection answers again, on its new thread
    for tcp in &mut open {
        let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut buf = [0u8; 512];
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    }
    // closed connections are no longer counted
    drop(open);
    let mut by = Vec::new();
    for _ in 0..100 {
        by = connections_by_thread(&gw.url).await;
        if by.iter().sum::<u64>() <= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(by.iter().sum::<u64>() <= 1, "{by:?}");
    gw.shutdown().await;
}
