use serde_json::json;

use super::*;

fn req(v: Value, model: &str) -> Value {
    let r: ChatRequest = serde_json::from_value(v).unwrap();
    serde_json::to_value(request(r, model).unwrap()).unwrap()
}

#[test]
fn chat_request_becomes_a_converse_body() {
    let out = req(
        json!({
            "model": "claude",
            "messages": [
                {"role": "system", "content": [
                    {"type": "text", "text": "Be brief."},
                    {"type": "text", "text": "Long tools prompt", "cache_control": {"type": "ephemeral"}}
                ]},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
                ]},
                {"role": "user", "content": [
                    {"type": "text", "text": "And be quick.", "cache_control": {"type": "ephemeral"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "tooluse_1", "content": "{\"temp\":21}"},
                {"role": "tool", "tool_call_id": "tooluse_1", "content": "sunny"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "temperature": 0.2, "top_p": 0.9, "max_tokens": 100, "stop": "END",
            "reasoning_effort": "low"
        }),
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
    );
    assert_eq!(
        out,
        json!({
            "messages": [
                {"role": "user", "content": [
                    {"text": "What is in this image?"},
                    {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
                    {"text": "And be quick."},
                    {"cachePoint": {"type": "default"}}
                ]},
                {"role": "assistant", "content": [
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
                ]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temp": 21}}]}},
                    {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "sunny"}]}}
                ]}
            ],
            "system": [{"text": "Be brief."}, {"text": "Long tools prompt"}, {"cachePoint": {"type": "default"}}],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
            "toolConfig": {
                "tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
                    "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}],
                "toolChoice": {"tool": {"name": "get_weather"}}
            },
            "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}
        })
    );
    // Not a Claude model: no thinking fields; `required` → any.
    let out = req(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "reasoning_effort": "high", "tool_choice": "required",
            "tools": [{"type": "function", "function": {"name": "f"}}]}),
        "amazon.nova-pro-v1:0",
    );
    assert!(out.get("additionalModelRequestFields").is_none());
    assert_eq!(out["toolConfig"]["toolChoice"], json!({"any": {}}));
    assert_eq!(
        out["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"],
        json!({"type": "object", "properties": {}})
    );
    assert!(out.get("inferenceConfig").is_none());
    assert!(out.get("system").is_none());
}

#[test]
fn requests_bedrock_cannot_take_are_refused() {
    let bad = |v: Value| {
        let r: ChatRequest = serde_json::from_value(v).unwrap();
        request(r, "m").unwrap_err().to_string()
    };
    assert!(
        bad(
            json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]})
        )
        .contains("data: URL")
    );
    assert!(
        bad(
            json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]}]})
        )
        .contains("image/tiff")
    );
    assert!(
        bad(json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}))
            .contains("tool_call_id")
    );
    assert!(
        bad(json!({"model": "m", "messages": [{"role": "system", "content": "x"}]}))
            .contains("at least one")
    );
}

#[test]
fn converse_answer_becomes_a_chat_response() {
    let r: ConverseResponse = serde_json::from_value(json!({
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "sig"}}},
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "tooluse_abc", "name": "get_weather", "input": {"city": "Paris"}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 115,
            "cacheReadInputTokens": 80, "cacheWriteInputTokens": 20},
        "metrics": {"latencyMs": 300}
    }))
    .unwrap();
    let chat = serde_json::to_value(response(r, "claude")).unwrap();
    let m = &chat["choices"][0]["message"];
    assert_eq!(m["content"], "Let me check.");
    assert_eq!(m["reasoning_content"], "Think.");
    assert_eq!(m["tool_calls"][0]["id"], "tooluse_abc");
    assert_eq!(
        m["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(chat["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chat["usage"]["prompt_tokens"], 110);
    assert_eq!(chat["usage"]["completion_tokens"], 5);
    assert_eq!(chat["usage"]["total_tokens"], 115);
    assert_eq!(chat["usage"]["prompt_tokens_details"]["cached_tokens"], 80);
    for (reason, want) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
    ] {
        assert_eq!(finish_reason(Some(reason), false), want);
    }
    let u = routing_usage(&TokenUsage {
        input_tokens: 10,
        output_tokens: 5,
        total_tokens: 115,
        cache_read_input_tokens: Some(80),
        cache_write_input_tokens: Some(20),
    });
    assert_eq!(u.input(), Some(110));
    assert_eq!(u.cache_read(), Some(80));
    assert_eq!(u.cache_write(), Some(20));
}

#[test]
fn bedrock_errors_get_openai_s_shape() {
    let v = |status: u16, body: &str| -> Value {
        serde_json::from_slice(&error_to_openai(
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
        ))
        .unwrap()
    };
    let e = v(
        429,
        r#"{"message":"Too many requests, please wait before trying again."}"#,
    );
    assert_eq!(e["error"]["code"], "throttling_exception");
    assert_eq!(e["error"]["type"], "rate_limit_exceeded");
    let e = v(
        400,
        r#"{"message":"Input is too long for requested model."}"#,
    );
    assert_eq!(e["error"]["code"], "context_length_exceeded");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    let e = v(
        403,
        r#"{"message":"The security token included in the request is invalid.","__type":"com.amazon.coral.service#UnrecognizedClientException"}"#,
    );
    assert_eq!(e["error"]["code"], "unrecognized_client_exception");
    assert_eq!(e["error"]["type"], "authentication_error");
    let e = v(503, "<html>oops</html>");
    assert_eq!(e["error"]["code"], "service_unavailable_exception");
    assert!(e["error"]["message"].as_str().unwrap().contains("oops"));
}

#[test]
fn stream_events_become_chunks() {
    let mut s = ChunkStream::new("claude", true);
    let p = |v: Value| -> StreamPayload { serde_json::from_value(v).unwrap() };
    let mut out = Vec::new();
    out.extend(s.event("messageStart", p(json!({"role": "assistant", "p": "abc"}))));
    out.extend(s.event(
        "contentBlockDelta",
        p(json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm."}}})),
    ));
    out.extend(s.event(
        "contentBlockDelta",
        p(json!({"contentBlockIndex": 1, "delta": {"text": "Hi"}})),
    ));
    out.extend(s.event("contentBlockStop", p(json!({"contentBlockIndex": 1}))));
    out.extend(s.event(
        "contentBlockStart",
        p(json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "f"}}})),
    ));
    out.extend(s.event(
        "contentBlockDelta",
        p(json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"a\":"}}})),
    ));
    out.extend(s.event(
        "contentBlockDelta",
        p(json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "1}"}}})),
    ));
    out.extend(s.event("messageStop", p(json!({"stopReason": "tool_use"}))));
    out.extend(s.event(
        "metadata",
        p(json!({"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}, "metrics": {"latencyMs": 1}})),
    ));
    out.extend(s.finish());
    let v: Vec<Value> = out
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    assert_eq!(v[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(v[1]["choices"][0]["delta"]["reasoning_content"], "Hmm.");
    assert_eq!(v[2]["choices"][0]["delta"]["content"], "Hi");
    let call = &v[3]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["id"], "tooluse_1");
    assert_eq!(call["function"]["name"], "f");
    assert_eq!(
        v[4]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":"
    );
    assert_eq!(v[5]["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
    assert_eq!(v[6]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v[7]["usage"]["total_tokens"], 7);
    assert_eq!(v.len(), 8);
}

#[test]
fn anthropic_cache_breakpoints_become_cache_points_where_turns_line_up() {
    let body = json!({"model": "c", "max_tokens": 10,
    "system": [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "Tools prompt", "cache_control": {"type": "ephemeral"}}
    ],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "more"}
    ]});
    let raw = body.to_string();
    let mut out = ConverseRequest {
        messages: vec![
            Message {
                role: "user".into(),
                content: vec![Block::text("hi")],
            },
            Message {
                role: "assistant".into(),
                content: vec![Block::text("hello")],
            },
            Message {
                role: "user".into(),
                content: vec![Block::text("more")],
            },
        ],
        system: vec![SystemBlock {
            text: Some("You are Claude Code.\n\nTools prompt".into()),
            cache_point: None,
        }],
        ..ConverseRequest::default()
    };
    anthropic_cache_points(raw.as_bytes(), &mut out);
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(
        v["system"],
        json!([{"text": "You are Claude Code."}, {"text": "Tools prompt"}, {"cachePoint": {"type": "default"}}])
    );
    assert_eq!(
        v["messages"][0]["content"],
        json!([{"text": "hi"}, {"cachePoint": {"type": "default"}}])
    );
    assert_eq!(v["messages"][2]["content"], json!([{"text": "more"}]));
    // Turns that do not line up: message breakpoints are dropped.
    out.messages.pop();
    out.messages[0].content.pop();
    anthropic_cache_points(raw.as_bytes(), &mut out);
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["messages"][0]["content"], json!([{"text": "hi"}]));
}
