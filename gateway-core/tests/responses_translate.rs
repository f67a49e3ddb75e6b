//! `/v1/responses` for chat-only upstreams (`responses = "translate"`) and
//! Anthropic providers: text, function tools and their calls, tool outputs
//! fed back, the streamed event sequence, errors; native passthrough stays
//! the default for OpenAI providers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::wire;

use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream, Reply};
use wire::{ResponsesStream, anthropic_provider};

async fn chat_only() -> (FakeUpstream, TestGateway) {
    let up = FakeUpstream::start("vllm").await;
    let toml = format!(
        "{}{}",
        provider(&up, "responses = \"translate\""),
        route("gpt-5-codex", "", &[("vllm", Some("qwen3-coder"))])
    );
    (up, TestGateway::start(&toml).await)
}

fn tools() -> Value {
    json!([
        {"type": "function", "name": "shell", "description": "Run a command",
         "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}},
         "strict": false},
        {"type": "web_search"}
    ])
}

#[tokio::test]
async fn text_answer_is_translated() {
    let (up, gw) = chat_only().await;
    let body = json!({
        "model": "gpt-5-codex",
        "instructions": "You are a coding agent.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "max_output_tokens": 100,
        "reasoning": {"effort": "low"},
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}}
    });
    let resp = gw.post("/v1/responses", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-model"), "qwen3-coder");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(v["output"][0]["content"][0]["text"], "Hello from vllm");
    assert_eq!(v["usage"]["input_tokens"], 10);
    assert_eq!(v["usage"]["total_tokens"], 13);

    let rec = &up.proxied_requests()[0];
    assert_eq!(rec.path, "/v1/chat/completions");
    let c = rec.json();
    assert_eq!(c["model"], "qwen3-coder");
    assert_eq!(
        c["messages"],
        json!([
            {"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": "hi"}
        ])
    );
    assert_eq!(c["max_tokens"], 100);
    assert_eq!(c["reasoning_effort"], "low");
    assert_eq!(c["response_format"]["type"], "json_schema");
    assert_eq!(c["response_format"]["json_schema"]["name"], "out");
}

#[tokio::test]
async fn streamed_function_calls() {
    let (up, gw) = chat_only().await;
    up.push(Behavior::Reply(
        Reply::text("Running both.")
            .with_thinking("list, then read")
            .tool_call("call_1", "shell", &json!({"command": ["ls", "-la"]}))
            .tool_call("call_2", "shell", &json!({"command": ["cat", "README.md"]})),
    ));
    let body = json!({"model": "gpt-5-codex", "input": "look around", "tools": tools(),
        "tool_choice": "auto", "parallel_tool_calls": true, "stream": true});
    let resp = gw.post("/v1/responses", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let text = resp.text().await.unwrap();
    let s = ResponsesStream::parse(&text);
    assert_eq!(s.types[..2], ["response.created", "response.in_progress"]);
    assert_eq!(s.types.last().unwrap(), "response.completed");
    assert_eq!(s.text, "Running both.");
    for t in [
        "response.output_item.added",
        "response.reasoning_text.delta",
        "response.content_part.added",
        "response.output_text.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
    ] {
        assert!(s.types.iter().any(|x| x == t), "no {t} in {text}");
    }
    let kinds: Vec<&str> = s
        .done_items
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["reasoning", "message", "function_call", "function_call"]
    );
    let call = &s.done_items[3];
    assert_eq!(call["call_id"], "call_2");
    assert_eq!(call["name"], "shell");
    assert_eq!(
        serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
        json!({"command": ["cat", "README.md"]})
    );
    // the deltas add up to the arguments of the done item
    assert_eq!(
        s.arguments[call["id"].as_str().unwrap()],
        call["arguments"].as_str().unwrap()
    );
    let done = s.completed.unwrap();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"].as_array().unwrap().len(), 4);
    assert_eq!(done["usage"]["input_tokens"], 10);

    let c = up.proxied_requests()[0].json();
    assert_eq!(c["stream_options"]["include_usage"], true);
    assert_eq!(
        c["tools"].as_array().unwrap().len(),
        1,
        "built-in tools dropped"
    );
    assert_eq!(c["tools"][0]["function"]["name"], "shell");
    assert_eq!(c["tool_choice"], "auto");
    assert_eq!(c["parallel_tool_calls"], true);
}

#[tokio::test]
async fn function_call_outputs_are_fed_back() {
    let (up, gw) = chat_only().await;
    let body = json!({
        "model": "gpt-5-codex",
        "tools": tools(),
        "input": [
            {"type": "message", "role": "developer", "content": "Be careful."},
            {"role": "user", "content": "look around"},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Running both."}]},
            {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"},
            {"type": "function_call", "call_id": "call_2", "name": "shell", "arguments": "{\"command\":[\"pwd\"]}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
            {"type": "function_call_output", "call_id": "call_2", "output": "/src"}
        ]
    });
    let resp = gw.post("/v1/responses", &body).await;
    assert_eq!(resp.status(), 200);
    let c = up.proxied_requests()[0].json();
    let m = c["messages"].as_array().unwrap();
    let roles: Vec<&str> = m.iter().map(|x| x["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "tool"]);
    assert_eq!(m[2]["content"], "Running both.");
    assert_eq!(m[2]["tool_calls"][1]["id"], "call_2");
    assert_eq!(
        m[2]["tool_calls"][1]["function"]["arguments"],
        "{\"command\":[\"pwd\"]}"
    );
    assert_eq!(
        m[4],
        json!({"role": "tool", "content": "/src", "tool_call_id": "call_2"})
    );
}

#[tokio::test]
async fn native_stays_the_default_and_stateful_requests_need_it() {
    // default: passed through to the provider's own /responses
    let up = FakeUpstream::start("openai").await;
    let toml = format!(
        "{}{}",
        provider(&up, ""),
        route("m", "", &[("openai", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw
        .post(
            "/v1/responses",
            &json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(up.proxied_requests()[0].path, "/v1/responses");

    // translate: previous_response_id cannot be honoured
    let (up, gw) = chat_only().await;
    let r = gw
        .post(
            "/v1/responses",
            &json!({"model": "gpt-5-codex", "input": "hi", "previous_response_id": "resp_1"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "untranslatable_request");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("previous_response_id")
    );
    assert_eq!(up.request_count(), 0);
}

#[tokio::test]
async fn translated_before_native_falls_back_to_native_when_needed() {
    let chat = FakeUpstream::start("vllm").await;
    let native = FakeUpstream::start("openai").await;
    let toml = format!(
        "{}{}{}",
        provider(&chat, "responses = \"translate\""),
        provider(&native, ""),
        route("m", "", &[("vllm", None), ("openai", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw
        .post(
            "/v1/responses",
            &json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "openai");
    assert_eq!(chat.request_count(), 0);
}

#[tokio::test]
async fn stream_errors_end_in_response_failed() {
    let (up, gw) = chat_only().await;
    up.push(Behavior::StreamError { after: 1 });
    let r = gw
        .post(
            "/v1/responses",
            &json!({"model": "gpt-5-codex", "input": "hi", "stream": true}),
        )
        .await;
    let s = ResponsesStream::parse(&r.text().await.unwrap());
    assert_eq!(s.text, "tok0");
    let f = s.failed.unwrap();
    assert_eq!(f["status"], "failed");
    assert!(
        f["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mid-stream failure")
    );
    assert!(s.completed.is_none());
    assert_eq!(s.types.last().unwrap(), "response.failed");
}

/// A stream that breaks after content ends as Codex expects a failed
/// Responses stream to: an `error` event, then `response.failed` with the
/// gateway's reason (not a chat-style `data: {"error":…}` frame).
#[tokio::test]
async fn a_stream_broken_after_content_ends_in_response_failed() {
    let (up, gw) = chat_only().await;
    up.push(Behavior::StreamDieAfterContent { after: 2 });
    let r = gw
        .post(
            "/v1/responses",
            &json!({"model": "gpt-5-codex", "input": "hi", "stream": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let s = ResponsesStream::parse(&body);
    assert_eq!(s.text, "tok0tok1");
    assert!(s.completed.is_none(), "{body}");
    assert_eq!(s.types.last().unwrap(), "response.failed", "{body}");
    let f = s.failed.unwrap();
    assert_eq!(
        (&f["status"], &f["error"]["code"]),
        (&json!("failed"), &json!("stream_broken"))
    );
    assert!(!body.contains("data: {\"error\""), "{body}");
}

#[tokio::test]
async fn responses_over_an_anthropic_provider() {
    let up = FakeUpstream::start("claude").await;
    let toml = format!(
        "{}{}",
        anthropic_provider(&up, ""),
        route("m", "", &[("claude", Some("claude-sonnet-4-5"))])
    );
    let gw = TestGateway::start(&toml).await;
    up.push(Behavior::Reply(Reply::text("ok").tool_call(
        "toolu_9",
        "shell",
        &json!({"command": ["ls"]}),
    )));
    let body = json!({"model": "m", "instructions": "Agent.", "input": "go", "tools": tools(), "stream": true});
    let r = gw.post("/v1/responses", &body).await;
    let s = ResponsesStream::parse(&r.text().await.unwrap());
    assert_eq!(s.text, "ok");
    let done = s.completed.unwrap();
    assert_eq!(done["output"][1]["type"], "function_call");
    assert_eq!(done["output"][1]["call_id"], "toolu_9");
    let a = up.proxied_requests()[0].json();
    assert_eq!(up.proxied_requests()[0].path, "/v1/messages");
    assert_eq!(a["system"], "Agent.");
    assert_eq!(a["tools"][0]["name"], "shell");

    // and not streamed
    let r = gw
        .post("/v1/responses", &json!({"model": "m", "input": "go"}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["output"][0]["content"][0]["text"], "Hello from claude");
}
