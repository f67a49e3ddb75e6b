use serde_json::json;

use super::*;

fn req(v: Value) -> Value {
    let r: ChatRequest = serde_json::from_value(v).unwrap();
    serde_json::to_value(request(r).unwrap()).unwrap()
}

fn resp(v: Value) -> GenerateResponse {
    serde_json::from_value(v).unwrap()
}

#[test]
fn chat_request_becomes_a_generate_content_body() {
    let out = req(json!({
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\":21}"},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required",
        "temperature": 0.2, "top_p": 0.9, "max_tokens": 100, "stop": "END",
        "reasoning_effort": "low"
    }));
    assert_eq!(
        out,
        json!({
            "contents": [
                {"role": "user", "parts": [
                    {"text": "What is in this image?"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
                ]},
                {"role": "model", "parts": [
                    {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"temp": 21}}},
                    {"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"content": "sunny"}}}
                ]}
            ],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather",
                "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "generationConfig": {
                "temperature": 0.2, "topP": 0.9, "maxOutputTokens": 100, "stopSequences": ["END"],
                "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}
            }
        })
    );
}

#[test]
fn request_edge_cases() {
    // A plain prompt carries no generationConfig; a named tool choice
    // allows that function only; remote images are fileData.
    let out = req(json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
        {"role": "user", "content": "hi"}
    ], "tools": [{"type": "function", "function": {"name": "f"}}],
       "tool_choice": {"type": "function", "function": {"name": "f"}}}));
    assert_eq!(
        out["contents"],
        json!([{"role": "user", "parts": [{"fileData": {"fileUri": "https://x/y.png"}}, {"text": "hi"}]}])
    );
    assert!(out.get("generationConfig").is_none());
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}})
    );
    let out = req(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "reasoning_effort": "none", "response_format": {"type": "json_object"}}),
    );
    assert_eq!(
        out["generationConfig"],
        json!({"responseMimeType": "application/json", "thinkingConfig": {"thinkingBudget": 0}})
    );
    // Nothing to send, or a tool result answering no call: a clear 400.
    for bad in [
        json!({"model": "m", "messages": [{"role": "system", "content": "x"}]}),
        json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}),
    ] {
        let r: ChatRequest = serde_json::from_value(bad).unwrap();
        assert!(matches!(request(r), Err(TranslateError::Invalid(_))));
    }
}

#[test]
fn answer_becomes_a_chat_completion() {
    let r = resp(json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Thinking about weather", "thought": true},
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
            ]},
            "finishReason": "STOP", "index": 0
        }],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 22,
            "cachedContentTokenCount": 4, "thoughtsTokenCount": 7},
        "modelVersion": "gemini-2.5-flash", "responseId": "abc"
    }));
    assert!(blocked(&r).is_none());
    let c = serde_json::to_value(response(r, "alias")).unwrap();
    assert_eq!(c["id"], "chatcmpl-abc");
    assert_eq!(c["model"], "gemini-2.5-flash");
    let m = &c["choices"][0]["message"];
    assert_eq!(m["content"], "Let me check.");
    assert_eq!(m["reasoning_content"], "Thinking about weather");
    assert_eq!(m["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(
        m["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert!(
        m["tool_calls"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("call_")
    );
    assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        c["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 12, "total_tokens": 22,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 7}})
    );
    assert_eq!(finish_reason(Some("MAX_TOKENS"), false), "length");
    assert_eq!(finish_reason(Some("SAFETY"), false), "content_filter");
    assert_eq!(finish_reason(Some("STOP"), false), "stop");
}

#[test]
fn safety_blocks_are_errors_of_their_own() {
    let prompt = resp(json!({"promptFeedback": {"blockReason": "SAFETY",
        "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}}));
    let why = blocked(&prompt).unwrap();
    assert!(why.contains("SAFETY"), "{why}");
    let (status, body) = blocked_body(&why);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "content_filter");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let stopped = resp(json!({"candidates": [{"finishReason": "PROHIBITED_CONTENT", "index": 0}]}));
    assert!(blocked(&stopped).unwrap().contains("PROHIBITED_CONTENT"));
    // Content that was produced before a safety stop is an answer.
    let partial = resp(json!({"candidates": [{"content": {"role": "model",
        "parts": [{"text": "Part"}]}, "finishReason": "SAFETY"}]}));
    assert!(blocked(&partial).is_none());
    let c = response(partial, "m");
    assert_eq!(
        c.choices[0].finish_reason.as_deref(),
        Some("content_filter")
    );
}

#[test]
fn gemini_errors_take_the_openai_shape() {
    let body = br#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#;
    let v: Value =
        serde_json::from_slice(&error_to_openai(StatusCode::TOO_MANY_REQUESTS, body)).unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "Resource has been exhausted (e.g. check quota).",
            "type": "rate_limit_exceeded", "param": null, "code": "resource_exhausted"}})
    );
    let body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#;
    let v: Value = serde_json::from_slice(&error_to_openai(StatusCode::BAD_REQUEST, body)).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "invalid_argument");
    let v: Value =
        serde_json::from_slice(&error_to_openai(StatusCode::BAD_GATEWAY, b"<html>")).unwrap();
    assert_eq!(v["error"]["type"], "server_error");
    assert_eq!(v["error"]["code"], "502");
}

#[test]
fn stream_events_become_chunks() {
    let mut s = ChunkStream::new("alias", true);
    let events = [
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hmm", "thought": true}]}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}, "modelVersion": "gemini-2.5-flash"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"},
            {"functionCall": {"name": "f", "args": {"a": 1}}}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 9, "thoughtsTokenCount": 4}}),
    ];
    let mut chunks = Vec::new();
    for e in events {
        chunks.extend(s.event(resp(e)));
    }
    chunks.extend(s.finish());
    let v: Vec<Value> = chunks
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    assert_eq!(v.len(), 7, "{v:#?}");
    assert!(v.iter().all(|c| c["object"] == "chat.completion.chunk"));
    assert!(v.iter().all(|c| c["id"] == v[0]["id"]));
    assert_eq!(v[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(v[1]["choices"][0]["delta"]["reasoning_content"], "Hmm");
    assert_eq!(v[2]["choices"][0]["delta"]["content"], "Hel");
    assert_eq!(v[2]["model"], "gemini-2.5-flash");
    assert_eq!(v[3]["choices"][0]["delta"]["content"], "lo");
    let call = &v[4]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(
        call["function"],
        json!({"name": "f", "arguments": "{\"a\":1}"})
    );
    assert_eq!(v[5]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v[6]["choices"], json!([]));
    assert_eq!(v[6]["usage"]["completion_tokens"], 6);
    assert_eq!(v[6]["usage"]["total_tokens"], 9);
    // A stream that ends without a finishReason still finishes once.
    let mut s = ChunkStream::new("m", false);
    s.event(resp(
        json!({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}),
    ));
    let end = s.finish();
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].choices[0].finish_reason.as_deref(), Some("stop"));
    assert!(s.finish().is_empty());
}
