//! `POST /v1/messages` end to end: passthrough to Anthropic providers,
//! translation to OpenAI-compatible ones (plain, streamed, agent turns with
//! thinking and several tool calls, tool results fed back), fallback across
//! kinds, errors in Anthropic's shape and `count_tokens`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::wire;

use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream, Reply};
use wire::{AnthropicStream, anthropic_provider};

async fn gw_with(providers: &str, targets: &[(&str, Option<&str>)]) -> TestGateway {
    TestGateway::start(&format!("{providers}{}", route("claude-x", "", targets))).await
}

fn messages_body(stream: bool) -> Value {
    json!({
        "model": "claude-x",
        "max_tokens": 256,
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "stream": stream,
    })
}

fn agent_reply() -> Reply {
    Reply::text("Let me check both.")
        .with_thinking("The user wants weather; call the tool twice.")
        .tool_call(
            "call_a",
            "get_weather",
            &json!({"city": "Paris", "unit": "c"}),
        )
        .tool_call("call_b", "get_time", &json!({"tz": "Europe/Paris"}))
}

fn agent_tools() -> Value {
    json!([
        {"name": "get_weather", "description": "Weather now",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"name": "get_time", "input_schema": {"type": "object"}},
        {"type": "web_search_20250305", "name": "web_search"}
    ])
}

async fn anthropic_error(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert!(v["error"]["type"].is_string(), "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    (status, v)
}

#[tokio::test]
async fn passes_through_to_anthropic_providers_byte_for_byte() {
    let up = FakeUpstream::start("claude").await;
    let gw = gw_with(&anthropic_provider(&up, ""), &[("claude", None)]).await;
    let sent = r#"{"model":"claude-x","max_tokens":64,"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}],"x_future":{"keep":1.50}}"#;
    let resp = gw
        .http
        .post(format!("{}/v1/messages", gw.url))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "claude");
    assert_eq!(header(&resp, "x-aigw-route-mode"), "direct");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "Hello from claude");
    let rec = &up.proxied_requests()[0];
    assert_eq!(rec.path, "/v1/messages");
    assert_eq!(rec.body, sent.as_bytes());
    assert_eq!(
        rec.header("anthropic-version").as_deref(),
        Some("2023-06-01")
    );
    assert_eq!(
        rec.header("anthropic-beta").as_deref(),
        Some("prompt-caching-2024-07-31")
    );
    assert!(rec.header("authorization").is_none());

    // without the client's version header the default is sent; a rewritten
    // model is spliced in and nothing else changes
    let gw = gw_with(
        &anthropic_provider(&up, ""),
        &[("claude", Some("claude-real"))],
    )
    .await;
    let resp = gw.post("/v1/messages", &messages_body(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-model"), "claude-real");
    let rec = &up.proxied_requests()[1];
    assert_eq!(
        rec.header("anthropic-version").as_deref(),
        Some("2023-06-01")
    );
    let mut expected = messages_body(false);
    expected["model"] = json!("claude-real");
    assert_eq!(rec.json(), expected);
}

#[tokio::test]
async fn streams_pass_through_to_anthropic_providers() {
    let up = FakeUpstream::start("claude").await;
    let gw = gw_with(&anthropic_provider(&up, ""), &[("claude", None)]).await;
    up.push(Behavior::Reply(agent_reply()));
    let resp = gw.post("/v1/messages", &messages_body(true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let s = AnthropicStream::parse(&resp.text().await.unwrap());
    assert!(s.stopped);
    assert_eq!(s.thinking(), "The user wants weather; call the tool twice.");
    assert_eq!(s.text(), "Let me check both.");
    assert_eq!(s.tool_uses().len(), 2);
    assert_eq!(s.stop_reason.as_deref(), Some("tool_use"));
    // the upstream's signature reached the client untouched
    assert_eq!(s.blocks[0]["signature"], "sig_fake");
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].endpoint, "messages");
    assert_eq!(ev[0].tokens_in, Some(10));
    assert!(ev[0].tokens_out.unwrap() > 1);
    assert!(ev[0].error.is_none());
}

#[tokio::test]
async fn translated_for_openai_providers() {
    let up = FakeUpstream::start("oa").await;
    let gw = gw_with(&provider(&up, ""), &[("oa", Some("gpt-4o-mini"))]).await;
    up.push(Behavior::Reply(agent_reply()));
    let mut body = messages_body(false);
    body["tools"] = agent_tools();
    body["tool_choice"] = json!({"type": "any", "disable_parallel_tool_use": true});
    body["stop_sequences"] = json!(["END"]);
    body["temperature"] = json!(0.2);
    body["top_k"] = json!(5);
    let resp = gw.post("/v1/messages", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-model"), "gpt-4o-mini");
    assert_eq!(header(&resp, "content-type"), "application/json");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["stop_reason"], "tool_use");
    let types: Vec<&str> = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["thinking", "text", "tool_use", "tool_use"]);
    assert_eq!(v["content"][2]["id"], "call_a");
    assert_eq!(
        v["content"][2]["input"],
        json!({"city": "Paris", "unit": "c"})
    );
    assert_eq!(v["content"][3]["name"], "get_time");
    assert_eq!(v["usage"]["input_tokens"], 10);

    // what the OpenAI upstream received
    let rec = &up.proxied_requests()[0];
    assert_eq!(rec.path, "/v1/chat/completions");
    let c = rec.json();
    assert_eq!(c["model"], "gpt-4o-mini");
    assert_eq!(
        c["messages"][0],
        json!({"role": "system", "content": "You are terse."})
    );
    assert_eq!(c["messages"][1]["role"], "user");
    assert_eq!(c["max_tokens"], 256);
    assert_eq!(c["stop"], json!(["END"]));
    assert_eq!(c["temperature"], 0.2);
    assert!(c.get("top_k").is_none());
    assert_eq!(c["tool_choice"], "required");
    assert_eq!(c["parallel_tool_calls"], false);
    // client tools only: the server tool is not sent
    assert_eq!(c["tools"].as_array().unwrap().len(), 2);
    assert_eq!(c["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        c["tools"][0]["function"]["parameters"]["properties"]["city"]["type"],
        "string"
    );
    assert!(c.get("stream").is_none());
}

#[tokio::test]
async fn translated_stream_of_an_agent_turn() {
    let up = FakeUpstream::start("oa").await;
    let gw = gw_with(&provider(&up, ""), &[("oa", None)]).await;
    up.push(Behavior::Reply(agent_reply()));
    let mut body = messages_body(true);
    body["tools"] = agent_tools();
    let resp = gw.post("/v1/messages", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let text = resp.text().await.unwrap();
    let s = AnthropicStream::parse(&text);
    assert_eq!(s.types[..2], ["message_start", "ping"]);
    assert_eq!(s.message["role"], "assistant");
    assert!(s.stopped, "{text}");
    assert!(s.error.is_none());
    assert_eq!(s.thinking(), "The user wants weather; call the tool twice.");
    assert_eq!(s.text(), "Let me check both.");
    assert_eq!(
        s.tool_uses(),
        vec![
            (
                "call_a".to_string(),
                "get_weather".to_string(),
                json!({"city": "Paris", "unit": "c"})
            ),
            (
                "call_b".to_string(),
                "get_time".to_string(),
                json!({"tz": "Europe/Paris"})
            ),
        ]
    );
    assert_eq!(s.stop_reason.as_deref(), Some("tool_use"));
    // usage from the upstream's include_usage chunk, which the gateway asked for
    assert_eq!(s.usage["input_tokens"], 10);
    assert!(s.usage["output_tokens"].as_u64().unwrap() > 0);
    let c = up.proxied_requests()[0].json();
    assert_eq!(c["stream"], true);
    assert_eq!(c["stream_options"]["include_usage"], true);
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].tokens_in, Some(10));
    assert!(ev[0].error.is_none() && !ev[0].cancelled);
}

#[tokio::test]
async fn tool_results_are_fed_back_as_tool_messages() {
    let up = FakeUpstream::start("oa").await;
    let gw = gw_with(&provider(&up, ""), &[("oa", None)]).await;
    up.push(Behavior::Reply(Reply::text("Paris: 21°C at 14:05.")));
    let body = json!({
        "model": "claude-x",
        "max_tokens": 256,
        "tools": agent_tools(),
        "messages": [
            {"role": "user", "content": "Weather and time in Paris?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "call both", "signature": "sig"},
                {"type": "text", "text": "Let me check both."},
                {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_b", "name": "get_time", "input": {"tz": "Europe/Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "21°C"},
                {"type": "tool_result", "tool_use_id": "call_b", "content": [{"type": "text", "text": "14:05"}]},
                {"type": "text", "text": "Answer briefly."}
            ]}
        ],
        "stream": true
    });
    let resp = gw.post("/v1/messages", &body).await;
    let s = AnthropicStream::parse(&resp.text().await.unwrap());
    assert_eq!(s.text(), "Paris: 21°C at 14:05.");
    assert_eq!(s.stop_reason.as_deref(), Some("end_turn"));
    let c = up.proxied_requests()[0].json();
    let m = c["messages"].as_array().unwrap();
    let roles: Vec<&str> = m.iter().map(|x| x["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "tool", "user"]);
    assert_eq!(m[1]["content"], "Let me check both.");
    assert!(m[1].get("reasoning_content").is_none());
    assert_eq!(m[1]["tool_calls"][0]["id"], "call_a");
    assert_eq!(
        serde_json::from_str::<Value>(
            m[1]["tool_calls"][1]["function"]["arguments"]
                .as_str()
                .unwrap()
        )
        .unwrap(),
        json!({"tz": "Europe/Paris"})
    );
    assert_eq!(
        m[2],
        json!({"role": "tool", "content": "21°C", "tool_call_id": "call_a"})
    );
    assert_eq!(m[3]["content"], "14:05");
    assert_eq!(m[4]["content"], "Answer briefly.");
}

#[tokio::test]
async fn falls_back_from_an_overloaded_anthropic_to_an_openai_backup() {
    let primary = FakeUpstream::start("claude").await;
    let backup = FakeUpstream::start("oa").await;
    let gw = gw_with(
        &format!(
            "{}{}",
            anthropic_provider(&primary, ""),
            provider(&backup, "")
        ),
        &[("claude", None), ("oa", Some("llama-3.1-8b"))],
    )
    .await;
    primary.push(Behavior::status(529));
    let resp = gw.post("/v1/messages", &messages_body(true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "oa");
    assert_eq!(header(&resp, "x-aigw-route-mode"), "model_fallback");
    let s = AnthropicStream::parse(&resp.text().await.unwrap());
    assert_eq!(s.text(), "Hello from oa");
    assert!(s.stopped);

    // an error event before any content also falls back
    primary.push(Behavior::StreamError { after: 0 });
    let resp = gw.post("/v1/messages", &messages_body(true)).await;
    assert_eq!(header(&resp, "x-aigw-provider"), "oa");
    let s = AnthropicStream::parse(&resp.text().await.unwrap());
    assert_eq!(s.text(), "Hello from oa");
    assert_eq!(s.types.iter().filter(|t| *t == "message_start").count(), 1);
}

#[tokio::test]
async fn translated_stream_failing_before_content_falls_back() {
    let primary = FakeUpstream::start("oa").await;
    let backup = FakeUpstream::start("claude").await;
    let gw = gw_with(
        &format!(
            "{}{}",
            provider(&primary, ""),
            anthropic_provider(&backup, "")
        ),
        &[("oa", None), ("claude", None)],
    )
    .await;
    primary.push(Behavior::StreamDieBeforeContent);
    let resp = gw.post("/v1/messages", &messages_body(true)).await;
    assert_eq!(header(&resp, "x-aigw-provider"), "claude");
    assert_eq!(header(&resp, "x-aigw-route-mode"), "provider_fallback");
    let s = AnthropicStream::parse(&resp.text().await.unwrap());
    assert_eq!(s.text(), "Hello from claude");
    // the held translated preamble of the failed attempt never reached the client
    assert_eq!(s.types.iter().filter(|t| *t == "message_start").count(), 1);
}

#[tokio::test]
async fn a_stream_broken_after_content_ends_with_an_anthropic_error_event() {
    let up = FakeUpstream::start("oa").await;
    let gw = gw_with(&provider(&up, ""), &[("oa", None)]).await;
    up.push(Behavior::StreamDieAfterContent { after: 2 });
    let resp = gw.post("/v1/messages", &messages_body(true)).await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    let s = AnthropicStream::parse(&body);
    assert_eq!(s.text(), "tok0tok1");
    assert!(!s.stopped, "a broken stream must not look complete: {body}");
    let e = s.error.unwrap();
    assert_eq!(e["type"], "api_error");
    assert!(e["message"].as_str().unwrap().contains("stream_broken"));
    assert_eq!(
        gw.capture.wait(1).await[0].error.as_deref(),
        Some("stream_broken")
    );

    // an upstream error frame mid-stream becomes an Anthropic error event
    up.push(Behavior::StreamError { after: 1 });
    let resp = gw.post("/v1/messages", &messages_body(true)).await;
    let s = AnthropicStream::parse(&resp.text().await.unwrap());
    assert_eq!(s.text(), "tok0");
    assert!(!s.stopped);
    assert!(
        s.error.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("simulated mid-stream failure")
    );
}

#[tokio::test]
async fn anthropic_upstream_error_events_mid_stream_reach_the_client() {
    let up = FakeUpstream::start("claude").await;
    let gw = gw_with(&anthropic_provider(&up, ""), &[("claude", None)]).await;
    up.push(Behavior::StreamError { after: 2 });
    let resp = gw.post("/v1/messages", &messages_body(true)).await;
    let s = AnthropicStream::parse(&resp.text().await.unwrap());
    assert_eq!(s.text(), "tok0tok1");
    assert_eq!(s.error.unwrap()["type"], "overloaded_error");
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].error.as_deref(), Some("upstream_error_event"));
}

#[tokio::test]
async fn errors_use_the_anthropic_shape() {
    let oa = FakeUpstream::start("oa").await;
    let claude = FakeUpstream::start("claude").await;
    let toml = format!(
        "[server]\nclient_keys = [\"env:PATH\"]\n{}{}{}",
        provider(&oa, ""),
        anthropic_provider(&claude, ""),
        route("claude-x", "", &[("oa", None)])
    ) + &route("claude-native", "", &[("claude", None)]);
    let gw = TestGateway::start(&toml).await;
    let key = std::env::var("PATH").unwrap();
    let post = |body: String, key: Option<&str>| {
        let mut rb = gw.http.post(format!("{}/v1/messages", gw.url)).body(body);
        if let Some(k) = key {
            rb = rb.header("x-api-key", k);
        }
        rb.send()
    };

    let (s, v) = anthropic_error(post(messages_body(false).to_string(), None).await.unwrap()).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (401, Some("authentication_error"))
    );

    let (s, v) = anthropic_error(post("{not json".into(), Some(&key)).await.unwrap()).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (400, Some("invalid_request_error"))
    );

    let mut b = messages_body(false);
    b["model"] = json!("nope");
    let (s, v) = anthropic_error(post(b.to_string(), Some(&key)).await.unwrap()).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (404, Some("not_found_error"))
    );

    // an OpenAI upstream's 400 is translated into Anthropic's shape
    oa.push(Behavior::Status {
        status: 400,
        retry_after: None,
        body: Some(r#"{"error":{"message":"bad 'temperature'","type":"invalid_request_error","code":"bad_param"}}"#.into()),
    });
    let (s, v) = anthropic_error(
        post(messages_body(false).to_string(), Some(&key))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["message"], "bad 'temperature'");

    // every target failing: the last upstream answer, in Anthropic's shape
    oa.set_default(Behavior::status(503));
    let (s, v) = anthropic_error(
        post(messages_body(false).to_string(), Some(&key))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (503, Some("overloaded_error"))
    );

    // the Host guard answers Anthropic clients in their shape too
    let resp = gw
        .http
        .post(format!("{}/v1/messages", gw.url))
        .header("host", "evil.example:4000")
        .header("x-api-key", &key)
        .body(messages_body(false).to_string())
        .send()
        .await
        .unwrap();
    let (s, v) = anthropic_error(resp).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (403, Some("permission_error"))
    );

    // an Anthropic upstream's error passes through as sent
    claude.push(Behavior::status(429));
    let mut b = messages_body(false);
    b["model"] = json!("claude-native");
    let resp = post(b.to_string(), Some(&key)).await.unwrap();
    let (s, v) = anthropic_error(resp).await;
    assert_eq!(
        (s, v["error"]["type"].as_str()),
        (429, Some("rate_limit_error"))
    );
}

#[tokio::test]
async fn count_tokens_is_an_estimate() {
    let up = FakeUpstream::start("oa").await;
    let gw = gw_with(&provider(&up, ""), &[("oa", None)]).await;
    let count = |body: Value| {
        let gw = &gw;
        async move {
            let r = gw.post("/v1/messages/count_tokens", &body).await;
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["input_tokens"]
                .as_u64()
                .unwrap()
        }
    };
    let small =
        count(json!({"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]})).await;
    let mut big = messages_body(false);
    big["tools"] = agent_tools();
    big["messages"][0]["content"] = json!("word ".repeat(400));
    let big = count(big).await;
    assert!(small >= 1 && big > small + 400, "{small} {big}");
    assert_eq!(up.request_count(), 0, "answered locally");
    let r = gw
        .post("/v1/messages/count_tokens", &json!({"model": 1}))
        .await;
    let (s, _) = anthropic_error(r).await;
    assert_eq!(s, 400);
}
