#![allow(clippy::unwrap_used, clippy::expect_used)]
// Test clients are spawned freely (clippy.toml disallows it in the gateway).
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream, parse_sse, refused_addr};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn chat(stream: bool) -> Value {
    json!({
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        "stream_options": {"include_usage": true},
    })
}

#[tokio::test]
async fn ok_non_stream_chat() {
    let up = FakeUpstream::start("alpha").await;
    let resp = client()
        .post(format!("{}/chat/completions?x=1", up.base_url()))
        .bearer_auth("sk-1")
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-fake-upstream"], "alpha");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-test");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from alpha");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 10);
    assert_eq!(v["usage"]["completion_tokens"], 3);

    let reqs = up.proxied_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(up.request_count(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].model().as_deref(), Some("gpt-test"));
    assert_eq!(
        reqs[0].header("authorization").as_deref(),
        Some("Bearer sk-1")
    );
    assert_eq!(reqs[0].json()["messages"][0]["content"], "hi");
}

#[tokio::test]
async fn ok_stream_chat_frames() {
    let up = FakeUpstream::start("beta").await;
    let resp = client()
        .post(format!("{}/chat/completions", up.base_url()))
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-fake-upstream"], "beta");
    let text = resp.text().await.unwrap();
    let frames = parse_sse(&text);
    assert_eq!(frames.len(), 7, "{text}");
    assert_eq!(frames[6], "[DONE]");
    let chunks: Vec<Value> = frames[..6]
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "gpt-test");
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let content: String = chunks[1..4]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(content, "Hello from beta");
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(chunks[5]["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn status_with_retry_after_then_default() {
    let up = FakeUpstream::start("gamma").await;
    up.push(Behavior::Status {
        status: 429,
        retry_after: Some(7),
        body: None,
    });
    let c = client();
    let url = format!("{}/chat/completions", up.base_url());
    let resp = c.post(&url).json(&chat(false)).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    assert_eq!(resp.headers()["x-fake-upstream"], "gamma");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert!(v["error"]["message"].is_string());

    // Queue consumed: the default (Ok) answers next.
    let resp = c.post(&url).json(&chat(false)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.request_count(), 2);
}

#[tokio::test]
async fn stream_die_after_content_fails_client_read() {
    let up = FakeUpstream::start("delta").await;
    up.push(Behavior::StreamDieAfterContent { after: 2 });
    let mut resp = client()
        .post(format!("{}/chat/completions", up.base_url()))
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut received = Vec::new();
    let err = loop {
        match resp.chunk().await {
            Ok(Some(b)) => received.extend_from_slice(&b),
            Ok(None) => panic!("body ended cleanly: {}", String::from_utf8_lossy(&received)),
            Err(e) => break e,
        }
    };
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    let frames = parse_sse(&String::from_utf8_lossy(&received));
    assert_eq!(frames.len(), 3);
    assert!(frames[2].contains("tok1"));
    // An abort is not a client cancellation.
    assert_eq!(up.cancelled_streams(), 0);
}

#[tokio::test]
async fn cancelled_streams_counts_dropped_client() {
    let up = FakeUpstream::start("eps").await;
    up.push(Behavior::StreamStallAfterContent { after: 1 });
    up.push(Behavior::Stream {
        deltas: (0..100).map(|i| format!("d{i}")).collect(),
        interval: Duration::from_millis(50),
    });
    let c = client();
    let url = format!("{}/chat/completions", up.base_url());
    for _ in 0..2 {
        let mut resp = c.post(&url).json(&chat(true)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let first = resp.chunk().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("assistant"));
        drop(resp);
    }
    assert!(up.wait_cancelled(2, Duration::from_secs(5)).await);
    assert_eq!(up.cancelled_streams(), 2);

    // A stream read to the end is not counted.
    let text = c
        .post(&url)
        .json(&chat(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(parse_sse(&text).last().map(String::as_str), Some("[DONE]"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(up.cancelled_streams(), 2);
}

#[tokio::test]
async fn models_auth_not_found_and_shutdown() {
    let up = FakeUpstream::start("zeta").await;
    up.set_models(&["m1", "m2"]);
    up.set_required_key(Some("sk-good"));
    let c = client();
    let base = up.base_url();

    let resp = c.get(format!("{base}/models")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");

    let resp = c
        .get(format!("{base}/models"))
        .bearer_auth("sk-good")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"][1]["id"], "m2");

    let resp = c
        .post(format!("{base}/nope"))
        .bearer_auth("sk-good")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["x-fake-upstream"], "zeta");

    assert_eq!(up.requests().len(), 3);
    assert_eq!(up.request_count(), 1); // the 404; the two model listings are not proxied

    let addr = up.addr();
    up.shutdown();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    let refused = refused_addr().await;
    assert!(tokio::net::TcpStream::connect(refused).await.is_err());
}

#[tokio::test]
async fn other_endpoints_and_tool_call() {
    let up = FakeUpstream::start("eta").await;
    let c = client();
    let base = up.base_url();

    let v: Value = c
        .post(format!("{base}/embeddings"))
        .json(&json!({"model": "emb", "input": ["a", "b"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 4);

    let v: Value = c
        .post(format!("{base}/completions"))
        .json(&json!({"model": "c", "prompt": "x"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["text"], "Hello from eta");

    let text = c
        .post(format!("{base}/responses"))
        .json(&json!({"model": "r", "input": "x", "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let types: Vec<String> = parse_sse(&text)
        .iter()
        .map(|f| {
            serde_json::from_str::<Value>(f).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "response.created",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.completed"
        ]
    );

    up.push(Behavior::ToolCall);
    let text = c
        .post(format!("{base}/chat/completions"))
        .json(&chat(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames = parse_sse(&text);
    let args: String = frames
        .iter()
        .filter(|f| *f != "[DONE]")
        .filter_map(|f| {
            let v: Value = serde_json::from_str(f).unwrap();
            v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(args, "{\"city\":\"Paris\"}");
    assert!(text.contains("\"finish_reason\":\"tool_calls\""));

    up.push(Behavior::delay(
        Duration::from_millis(20),
        Behavior::Json(json!({"custom": true})),
    ));
    let v: Value = c
        .post(format!("{base}/chat/completions"))
        .json(&chat(false))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"custom": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_timing_and_die_before_content() {
    let up = FakeUpstream::start("theta").await;
    up.set_default(Behavior::Stream {
        deltas: vec!["a".into(), "b".into(), "c".into()],
        interval: Duration::from_millis(100),
    });
    let c = client();
    let url = format!("{}/chat/completions", up.base_url());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut resp = c.post(&url).json(&chat(false)).send().await.unwrap();
            let mut arrivals = Vec::new();
            let mut body = Vec::new();
            while let Some(b) = resp.chunk().await.unwrap() {
                arrivals.push(std::time::Instant::now());
                body.extend_from_slice(&b);
            }
            (arrivals, String::from_utf8(body).unwrap())
        }));
    }
    let mut windows = Vec::new();
    for t in tasks {
        let (arrivals, body) = t.await.unwrap();
        windows.push((arrivals[0], *arrivals.last().unwrap()));
        let frames = parse_sse(&body);
        // role, a, b, c, finish, usage (requested), [DONE]
        assert_eq!(frames.len(), 7, "{body}");
        // Frames really arrive spread over time, not in one burst.
        let spread = *arrivals.last().unwrap() - arrivals[0];
        assert!(spread >= Duration::from_millis(200), "{spread:?}");
    }
    // Concurrent, not serialized: every stream started before any finished.
    let latest_start = windows.iter().map(|w| w.0).max().unwrap();
    let earliest_end = windows.iter().map(|w| w.1).min().unwrap();
    assert!(latest_start < earliest_end);
    assert_eq!(up.request_count(), 4);

    up.push(Behavior::StreamDieBeforeContent);
    let resp = c.post(&url).json(&chat(true)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert!(resp.text().await.is_err());
}

#[tokio::test]
async fn shutdown_tears_down_hanging_request() {
    let up = FakeUpstream::start("iota").await;
    up.push(Behavior::Hang);
    let url = format!("{}/chat/completions", up.base_url());
    let pending = tokio::spawn(async move { client().post(&url).json(&chat(false)).send().await });
    // Wait for the request to arrive (a fixed 100 ms lost the race on a busy machine).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while up.request_count() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(up.request_count(), 1);
    up.shutdown();
    let res = tokio::time::timeout(Duration::from_secs(3), pending)
        .await
        .expect("client should see the connection close")
        .unwrap();
    assert!(res.is_err());
}
