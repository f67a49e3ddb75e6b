//! The fake upstream's Anthropic Messages mode (`POST /v1/messages`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream, Reply};

async fn post(up: &FakeUpstream, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut rb = reqwest::Client::new()
        .post(format!("{}/messages", up.base_url()))
        .header("anthropic-version", "2023-06-01")
        .json(body);
    if let Some(k) = key {
        rb = rb.header("x-api-key", k);
    }
    rb.send().await.unwrap()
}

fn body(stream: bool) -> Value {
    json!({"model": "claude-x", "max_tokens": 10, "stream": stream,
        "messages": [{"role": "user", "content": "hi"}]})
}

/// `(event, data)` pairs.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut lines = e.lines();
            let name = lines
                .next()
                .unwrap()
                .strip_prefix("event: ")
                .unwrap()
                .to_string();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            (name, serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn answers_in_anthropic_shapes() {
    let up = FakeUpstream::start("claude").await;
    let v: Value = post(&up, &body(false), None).await.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "claude-x");
    assert_eq!(
        v["content"][0],
        json!({"type": "text", "text": "Hello from claude"})
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"], json!({"input_tokens": 10, "output_tokens": 3}));

    let r = post(&up, &body(true), None).await;
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let evs = events(&r.text().await.unwrap());
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (n, d) in &evs {
        assert_eq!(d["type"], n.as_str());
    }
    assert_eq!(evs[7].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(up.proxied_requests()[0].path, "/v1/messages");
}

#[tokio::test]
async fn tool_use_thinking_and_errors() {
    let up = FakeUpstream::start("claude").await;
    up.push(Behavior::ToolCall);
    let v: Value = post(&up, &body(false), None).await.json().await.unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["content"][0]["type"], "tool_use");
    assert_eq!(v["content"][0]["input"], json!({"city": "Paris"}));

    up.push(Behavior::Reply(
        Reply::text("ok")
            .with_thinking("hmm")
            .tool_call("t1", "f", &json!({"a": [1]})),
    ));
    let evs = events(&post(&up, &body(true), None).await.text().await.unwrap());
    let starts: Vec<&str> = evs
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| d["content_block"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(starts, ["thinking", "text", "tool_use"]);
    let args: String = evs
        .iter()
        .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"a": [1]})
    );

    up.push(Behavior::status(529));
    let r = post(&up, &body(false), None).await;
    assert_eq!(r.status(), 529);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");

    up.set_required_key(Some("sk-ant"));
    let r = post(&up, &body(false), None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["type"], "error");
    assert_eq!(post(&up, &body(false), Some("sk-ant")).await.status(), 200);
}

#[tokio::test]
async fn chat_replies_and_stream_errors() {
    let up = FakeUpstream::start("oa").await;
    up.push(Behavior::Reply(
        Reply::default()
            .with_thinking("think")
            .tool_call("a", "f", &json!({}))
            .tool_call("b", "g", &json!({"x": 1})),
    ));
    let v: Value = reqwest::Client::new()
        .post(format!("{}/chat/completions", up.base_url()))
        .json(&json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m = &v["choices"][0]["message"];
    assert_eq!(m["reasoning_content"], "think");
    assert_eq!(m["tool_calls"][1]["function"]["arguments"], "{\"x\":1}");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");

    up.push(Behavior::StreamError { after: 1 });
    let text = reqwest::Client::new()
        .post(format!("{}/chat/completions", up.base_url()))
        .json(&json!({"model": "m", "messages": [], "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames = testkit::parse_sse(&text);
    assert!(frames.last().unwrap().contains("\"error\""), "{text}");
    assert!(!text.contains("[DONE]"));
}
