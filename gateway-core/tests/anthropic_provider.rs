//! `kind = "anthropic"` providers serving `/v1/chat/completions` clients:
//! the request, the answer and the stream translated both ways, Anthropic's
//! headers, errors in the OpenAI shape, endpoints it cannot serve.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::wire;

use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream, Reply};
use wire::{ChatStream, anthropic_provider};

async fn claude() -> (FakeUpstream, TestGateway) {
    let up = FakeUpstream::start("claude").await;
    let toml = format!(
        "{}{}",
        anthropic_provider(&up, ""),
        route("gpt-4o-mini", "", &[("claude", Some("claude-sonnet-4-5"))])
    );
    (up, TestGateway::start(&toml).await)
}

fn tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

#[tokio::test]
async fn chat_request_and_answer_are_translated() {
    let (up, gw) = claude().await;
    up.push(Behavior::Reply(
        Reply::text("Checking.")
            .with_thinking("need the tool")
            .tool_call("toolu_1", "get_weather", &json!({"city": "Paris"})),
    ));
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this and the weather?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
            ]}
        ],
        "tools": tools(),
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": false,
        "max_completion_tokens": 300,
        "temperature": 1.5,
        "stop": "END",
        "user": "u-42"
    });
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-model"), "claude-sonnet-4-5");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], "Checking.");
    assert_eq!(m["reasoning_content"], "need the tool");
    assert_eq!(m["tool_calls"][0]["id"], "toolu_1");
    assert_eq!(m["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(
            m["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap()
        )
        .unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["usage"]["prompt_tokens"], 10);

    let rec = &up.proxied_requests()[0];
    assert_eq!(rec.path, "/v1/messages");
    assert_eq!(
        rec.header("anthropic-version").as_deref(),
        Some("2023-06-01")
    );
    let a = rec.json();
    assert_eq!(a["model"], "claude-sonnet-4-5");
    assert_eq!(a["system"], "Be brief.\n\nUse tools.");
    assert_eq!(a["max_tokens"], 300);
    assert_eq!(a["temperature"], 1.0, "clamped to Anthropic's range");
    assert_eq!(a["stop_sequences"], json!(["END"]));
    assert_eq!(a["metadata"]["user_id"], "u-42");
    assert_eq!(
        a["tool_choice"],
        json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true})
    );
    assert_eq!(a["tools"][0]["name"], "get_weather");
    assert_eq!(a["tools"][0]["input_schema"]["required"], json!(["city"]));
    let content = &a["messages"][0]["content"];
    assert_eq!(
        content[0],
        json!({"type": "text", "text": "What is this and the weather?"})
    );
    assert_eq!(
        content[1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
    );
    assert_eq!(
        content[2]["source"],
        json!({"type": "url", "url": "https://example.com/cat.png"})
    );
}

#[tokio::test]
async fn chat_stream_with_usage() {
    let (up, gw) = claude().await;
    let mut body = chat_body("gpt-4o-mini", true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let text = resp.text().await.unwrap();
    assert_eq!(streamed_text(&text), "Hello from claude");
    let s = ChatStream::parse(&text);
    assert!(s.done, "{text}");
    assert_eq!(s.roles, 1);
    assert_eq!(s.finish_reason.as_deref(), Some("stop"));
    let u = s.usage.unwrap();
    assert_eq!(u["prompt_tokens"], 10);
    assert_eq!(
        u["total_tokens"],
        10 + u["completion_tokens"].as_u64().unwrap()
    );
    let a = up.proxied_requests()[0].json();
    assert_eq!(a["stream"], true);
    assert!(a.get("stream_options").is_none());
    assert_eq!(a["max_tokens"], 4096, "Anthropic needs max_tokens");
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].tokens_in, Some(10));

    // without include_usage no usage chunk is sent
    let resp = gw.chat(&chat_body("gpt-4o-mini", true)).await;
    let s = ChatStream::parse(&resp.text().await.unwrap());
    assert!(s.usage.is_none() && s.done);
}

#[tokio::test]
async fn streamed_agent_turn_keeps_thinking_and_tool_calls() {
    let (up, gw) = claude().await;
    up.push(Behavior::Reply(
        Reply::default()
            .with_thinking("two lookups")
            .tool_call("toolu_a", "get_weather", &json!({"city": "Paris"}))
            .tool_call(
                "toolu_b",
                "get_weather",
                &json!({"city": "Tokyo", "days": [1, 2]}),
            ),
    ));
    let mut body = chat_body("gpt-4o-mini", true);
    body["tools"] = tools();
    let resp = gw.chat(&body).await;
    let s = ChatStream::parse(&resp.text().await.unwrap());
    assert_eq!(s.reasoning, "two lookups");
    assert_eq!(s.content, "");
    assert_eq!(s.tool_calls.len(), 2);
    let (id, name, args) = &s.tool_calls[&1];
    assert_eq!((id.as_str(), name.as_str()), ("toolu_b", "get_weather"));
    assert_eq!(
        serde_json::from_str::<Value>(args).unwrap(),
        json!({"city": "Tokyo", "days": [1, 2]})
    );
    assert_eq!(s.finish_reason.as_deref(), Some("tool_calls"));
}

#[tokio::test]
async fn tool_messages_become_tool_results() {
    let (up, gw) = claude().await;
    let body = json!({
        "model": "gpt-4o-mini",
        "tools": tools(),
        "messages": [
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_b", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_a", "content": "21°C"},
            {"role": "tool", "tool_call_id": "toolu_b", "content": [{"type": "text", "text": "25°C"}]},
            {"role": "user", "content": "Thanks, summarise."}
        ]
    });
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    let a = up.proxied_requests()[0].json();
    let m = a["messages"].as_array().unwrap();
    let roles: Vec<&str> = m.iter().map(|x| x["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(
        m[1]["content"][1],
        json!({"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Tokyo"}})
    );
    assert_eq!(
        m[2]["content"],
        json!([
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "21°C"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": "25°C"},
            {"type": "text", "text": "Thanks, summarise."}
        ])
    );
}

#[tokio::test]
async fn anthropic_errors_reach_chat_clients_in_the_openai_shape() {
    let (up, gw) = claude().await;
    up.push(Behavior::status(400));
    let resp = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("simulated HTTP 400")
    );

    // mid-stream: an Anthropic error event becomes an OpenAI error frame
    up.push(Behavior::StreamError { after: 1 });
    let resp = gw.chat(&chat_body("gpt-4o-mini", true)).await;
    let s = ChatStream::parse(&resp.text().await.unwrap());
    assert_eq!(s.content, "tok0");
    assert_eq!(s.error.unwrap()["type"], "overloaded_error");
    assert!(!s.done);
}

#[tokio::test]
async fn endpoints_anthropic_cannot_serve_are_refused() {
    let up = FakeUpstream::start("claude").await;
    let toml = format!(
        "{}{}",
        anthropic_provider(&up, ""),
        route("m", "", &[("claude", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw
        .post("/v1/embeddings", &json!({"model": "m", "input": "x"}))
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unsupported_endpoint");
    assert_eq!(up.request_count(), 0);
    // not counted against the target's health
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn anthropic_kind_is_valid_config() {
    let src = "[[providers]]\nname = \"claude\"\nkind = \"anthropic\"\nbase_url = \"https://api.anthropic.com/v1\"\n";
    let c = gateway_core::Config::parse(src, "t").unwrap();
    assert_eq!(
        c.providers[0].responses,
        gateway_core::config::ResponsesMode::Translate
    );
    let bad = format!("{src}responses = \"native\"\n");
    let e = gateway_core::Config::parse(&bad, "t").unwrap_err();
    assert_eq!(e.issues[0].path, "providers[0].responses");
}
