//! `kind = "bedrock"` providers against a fake Bedrock Runtime
//! (`testkit::FakeBedrock`, which recomputes every SigV4 signature with its
//! own code): chat, Messages and Responses clients translated to Converse
//! and ConverseStream (AWS event-stream frames) and back, tools, embeddings
//! through InvokeModel, fallback between Bedrock and OpenAI-kind targets,
//! throttling as a fallback signal with cooldown, a wrong secret as an auth
//! failure, the session token as `x-amz-security-token`. Credentials live
//! in the test's private Secret Service (run through rt.sh:
//! AIGW_TEST_KEYRING=1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_core::secrets::{keychain_delete, keychain_set};
use serde_json::{Value, json};
use testkit::{AwsKeys, BedrockReply, Behavior, FakeBedrock, FakeUpstream};

use crate::common::{TestGateway, chat_body, header, provider, route};

const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEFAKESESSIONTOKEN/abc+def==";
const MODEL: &str = "us.anthropic.claude-sonnet-4-20250514-v1:0";

/// The credentials in the keychain under names of this test's own,
/// removed on drop.
struct Creds {
    names: [String; 3],
}

impl Creds {
    fn set(tag: &str, secret: &str) -> Option<Creds> {
        if std::env::var("AIGW_TEST_KEYRING").as_deref() != Ok("1") {
            eprintln!("skipped: AIGW_TEST_KEYRING != 1 (run through rt.sh / scripts/test.sh)");
            return None;
        }
        let pid = std::process::id();
        let names = [
            format!("aigw-bedrock-{tag}-id-{pid}"),
            format!("aigw-bedrock-{tag}-secret-{pid}"),
            format!("aigw-bedrock-{tag}-token-{pid}"),
        ];
        keychain_set(&names[0], KEY_ID).unwrap();
        keychain_set(&names[1], secret).unwrap();
        keychain_set(&names[2], TOKEN).unwrap();
        Some(Creds { names })
    }
}

impl Drop for Creds {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = keychain_delete(n);
        }
    }
}

fn keys(token: bool) -> AwsKeys {
    AwsKeys {
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.into(),
        session_token: token.then(|| TOKEN.into()),
        region: "us-east-1".into(),
    }
}

fn bedrock_provider(b: &FakeBedrock, c: &Creds, token: bool) -> String {
    let token = if token {
        format!("session_token = \"keyring:{}\"\n", c.names[2])
    } else {
        String::new()
    };
    format!(
        "[[providers]]\nname = \"{}\"\nkind = \"bedrock\"\nregion = \"us-east-1\"\nbase_url = \"{}\"\n\
         access_key_id = \"keyring:{}\"\nsecret_access_key = \"keyring:{}\"\n{token}timeout_s = 5\n",
        b.name(),
        b.base_url(),
        c.names[0],
        c.names[1]
    )
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn chat_reaches_bedrock_converse_signed_with_the_session_token() {
    let Some(c) = Creds::set("chat", SECRET) else {
        return;
    };
    let b = FakeBedrock::start("aws", keys(true)).await;
    let toml = format!(
        "{}{}",
        bedrock_provider(&b, &c, true),
        route("fast", "", &[("aws", Some(MODEL))])
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "fast", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"}
    ], "max_tokens": 50});
    let (status, v) = json_of(gw.chat(&body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from Bedrock");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 10);
    assert_eq!(v["usage"]["completion_tokens"], 4);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
    let r = &b.requests()[0];
    assert_eq!(
        r.path,
        "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    );
    assert_eq!(r.header("x-amz-security-token").as_deref(), Some(TOKEN));
    let auth = r.header("authorization").unwrap();
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/")),
        "{auth}"
    );
    assert!(!auth.contains(SECRET));
    let sent = r.json();
    assert_eq!(sent["system"], json!([{"text": "Be brief."}]));
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"text": "hi"}]}])
    );
    assert_eq!(sent["inferenceConfig"]["maxTokens"], 50);
    assert!(sent.get("model").is_none());

    // Tools: a toolUse comes back as a tool call, and the tool round trip
    // goes back as toolUse / toolResult blocks Bedrock accepts.
    b.push(BedrockReply::Call {
        name: "get_weather".into(),
        input: json!({"city": "Paris"}),
    });
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let body = json!({"model": "fast", "messages": [{"role": "user", "content": "weather?"}],
        "tools": tools});
    let (status, v) = json_of(gw.chat(&body).await).await;
    assert_eq!(status, 200, "{v}");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["id"], "tooluse_fake1");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let body = json!({"model": "fast", "tools": tools, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "tooluse_fake1", "content": "{\"temp\":21}"}
    ]});
    let (status, v) = json_of(gw.chat(&body).await).await;
    assert_eq!(status, 200, "{v}");
    let sent = b.requests()[2].json();
    assert_eq!(
        sent["messages"][2]["content"][0]["toolResult"],
        json!({"toolUseId": "tooluse_fake1", "content": [{"json": {"temp": 21}}]})
    );
    assert_eq!(
        sent["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "get_weather"
    );
}

#[tokio::test]
async fn messages_and_responses_clients_reach_bedrock_through_chat() {
    let Some(c) = Creds::set("messages", SECRET) else {
        return;
    };
    let b = FakeBedrock::start("aws", keys(false)).await;
    let toml = format!(
        "{}{}",
        bedrock_provider(&b, &c, false),
        route("claude-sonnet-4-5", "", &[("aws", Some(MODEL))])
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "system": [{"type": "text", "text": "Long system prompt", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, v) = json_of(gw.post("/v1/messages", &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "Hello from Bedrock");
    assert_eq!(v["stop_reason"], "end_turn");
    let r = &b.requests()[0];
    assert!(r.header("x-amz-security-token").is_none());
    // Claude Code's cache breakpoint becomes a Converse cachePoint.
    assert_eq!(
        r.json()["system"],
        json!([{"text": "Long system prompt"}, {"cachePoint": {"type": "default"}}])
    );
    // Claude's thinking request goes to Bedrock as it is.
    assert_eq!(
        r.json()["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 1024}})
    );
    // A Bedrock validation error reaches a Messages client in Anthropic's shape.
    b.push(BedrockReply::Error {
        status: 400,
        kind: "ValidationException".into(),
        message: "The provided model identifier is invalid.".into(),
    });
    let (status, v) = json_of(gw.post("/v1/messages", &body).await).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model identifier is invalid"),
        "{v}"
    );
    // Responses, plain and with thinking.
    b.push(BedrockReply::Thinking {
        thought: "2+2".into(),
        text: "4".into(),
    });
    let body =
        json!({"model": "claude-sonnet-4-5", "input": "2+2?", "reasoning": {"effort": "low"}});
    let (status, v) = json_of(gw.post("/v1/responses", &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "response");
    let text: Vec<&Value> = v["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "message")
        .collect();
    assert_eq!(text[0]["content"][0]["text"], "4", "{v}");
    let sent = b.requests()[2].json();
    assert_eq!(
        sent["additionalModelRequestFields"]["thinking"]["type"], "enabled",
        "{sent}"
    );
}

#[tokio::test]
async fn streams_are_event_stream_frames_translated_for_every_client() {
    let Some(c) = Creds::set("stream", SECRET) else {
        return;
    };
    let b = FakeBedrock::start("aws", keys(true)).await;
    let toml = format!(
        "{}{}",
        bedrock_provider(&b, &c, true),
        route("fast", "", &[("aws", Some(MODEL))]),
    );
    let gw = TestGateway::start(&toml).await;
    b.push(BedrockReply::Text("one two three".into()));
    let mut body = chat_body("fast", true);
    body["stream_options"] = json!({"include_usage": true});
    let r = gw.chat(&body).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let text = r.text().await.unwrap();
    assert_eq!(
        crate::common::streamed_text(&text),
        "one two three",
        "{text}"
    );
    assert!(text.contains("\"finish_reason\":\"stop\""), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(text.contains("\"prompt_tokens\":10"), "{text}");
    let req = &b.requests()[0];
    assert_eq!(
        req.path,
        "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream"
    );
    assert_eq!(
        req.header("accept").as_deref(),
        Some("application/vnd.amazon.eventstream")
    );

    // Tool calls stream as tool call deltas.
    b.push(BedrockReply::Call {
        name: "get_weather".into(),
        input: json!({"city": "Paris"}),
    });
    let body = json!({"model": "fast", "stream": true,
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather"}}]});
    let text = gw.chat(&body).await.text().await.unwrap();
    let args: String = testkit::parse_sse(&text)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(args, "{\"city\":\"Paris\"}", "{text}");
    assert!(text.contains("\"finish_reason\":\"tool_calls\""), "{text}");

    // A Messages client gets Anthropic's events.
    b.push(BedrockReply::Text("hello there".into()));
    let body = json!({"model": "fast", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let text = gw.post("/v1/messages", &body).await.text().await.unwrap();
    let events: Vec<String> = crate::wire::sse_events(&text)
        .into_iter()
        .filter_map(|(n, _)| n)
        .collect();
    assert_eq!(events.first().map(String::as_str), Some("message_start"));
    assert_eq!(
        events.last().map(String::as_str),
        Some("message_stop"),
        "{text}"
    );
    assert!(text.contains("hello "), "{text}");

    // A Responses client gets Responses events.
    b.push(BedrockReply::Text("yes".into()));
    let body = json!({"model": "fast", "stream": true, "input": "ok?"});
    let text = gw.post("/v1/responses", &body).await.text().await.unwrap();
    assert!(text.contains("response.output_text.delta"), "{text}");
    assert!(text.contains("response.completed"), "{text}");
}

#[tokio::test]
async fn throttling_falls_back_to_openai_and_cools_bedrock_down() {
    let Some(c) = Creds::set("throttle", SECRET) else {
        return;
    };
    let b = FakeBedrock::start("aws", keys(true)).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}{}",
        bedrock_provider(&b, &c, true),
        provider(&oa, "timeout_s = 5"),
        route(
            "fast",
            "",
            &[("aws", Some(MODEL)), ("oa", Some("gpt-4o-mini"))]
        ),
        route(
            "slow",
            "",
            &[("oa", Some("gpt-4o-mini")), ("aws", Some(MODEL))]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    // OpenAI failing falls back to Bedrock.
    oa.push(Behavior::Status {
        status: 500,
        retry_after: None,
        body: None,
    });
    let r = gw.chat(&chat_body("slow", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "aws");
    b.push(BedrockReply::Error {
        status: 429,
        kind: "ThrottlingException".into(),
        message: "Too many requests, please wait before trying again.".into(),
    });
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(b.requests().len(), 2);
    // The 429 cooled Bedrock: the next request goes to OpenAI directly.
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(b.requests().len(), 2);
}

#[tokio::test]
async fn a_stream_exception_before_content_falls_back() {
    let Some(c) = Creds::set("streamexc", SECRET) else {
        return;
    };
    let b = FakeBedrock::start("aws", keys(true)).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}",
        bedrock_provider(&b, &c, true),
        provider(&oa, "timeout_s = 5"),
        route(
            "fast",
            "",
            &[("aws", Some(MODEL)), ("oa", Some("gpt-4o-mini"))]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    b.push(BedrockReply::StreamException {
        kind: "serviceUnavailableException".into(),
        message: "Bedrock is unable to process your request.".into(),
    });
    let r = gw.chat(&chat_body("fast", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(header(&r, "x-aigw-attempts"), "2");
    let text = r.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    // A 5xx answer falls back too.
    b.push(BedrockReply::Error {
        status: 503,
        kind: "ServiceUnavailableException".into(),
        message: "Bedrock is unable to process your request.".into(),
    });
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
}

#[tokio::test]
async fn a_wrong_secret_is_an_auth_failure_and_the_probe_tells_it_apart() {
    let Some(good) = Creds::set("probe-good", SECRET) else {
        return;
    };
    let Some(bad) = Creds::set("probe-bad", "not-the-secret-key-at-all") else {
        return;
    };
    let b = FakeBedrock::start("aws", keys(true)).await;
    let wrong = FakeBedrock::start("wrong", keys(true)).await;
    let toml = format!(
        "{}{}{}",
        bedrock_provider(&b, &good, true),
        bedrock_provider(&wrong, &bad, true),
        route("bad", "", &[("wrong", Some(MODEL))]),
    );
    let gw = TestGateway::start(&toml).await;
    let (s, p) = gw.admin_post("/providers/aws/probe", json!({})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["auth_ok"], true, "{p}");
    assert_eq!(
        p["models"],
        json!([
            "anthropic.claude-sonnet-4-20250514-v1:0",
            "amazon.titan-embed-text-v2:0"
        ]),
        "{p}"
    );
    let r = &b.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/foundation-models")
    );
    let (s, p) = gw.admin_post("/providers/wrong/probe", json!({})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["auth_ok"], false, "{p}");
    assert_eq!(p["status"], 403, "{p}");
    // A chat request signed with the wrong secret: AWS's 403, as an
    // authentication error in the client's shape.
    let (status, v) = json_of(gw.chat(&chat_body("bad", false)).await).await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature we calculated does not match"),
        "{v}"
    );
}

#[tokio::test]
async fn embeddings_go_through_invoke_model() {
    let Some(c) = Creds::set("embed", SECRET) else {
        return;
    };
    let b = FakeBedrock::start("aws", keys(true)).await;
    let toml = format!(
        "{}{}{}",
        bedrock_provider(&b, &c, true),
        route(
            "titan",
            "",
            &[("aws", Some("amazon.titan-embed-text-v2:0"))]
        ),
        route("cohere", "", &[("aws", Some("cohere.embed-english-v3"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let (status, v) = json_of(
        gw.post(
            "/v1/embeddings",
            &json!({"model": "titan", "input": "hello"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["data"][0],
        json!({"object": "embedding", "index": 0, "embedding": [5.0, 0.25]})
    );
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    let r = &b.requests()[0];
    assert_eq!(r.path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
    assert_eq!(r.json(), json!({"inputText": "hello"}));
    let (status, v) = json_of(
        gw.post(
            "/v1/embeddings",
            &json!({"model": "cohere", "input": ["abc", "hello"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"][1]["embedding"], json!([5.0, 0.75]));
    assert_eq!(
        b.requests()[1].json(),
        json!({"texts": ["abc", "hello"], "input_type": "search_document"})
    );
    // Titan takes one text per call: a clear 400, nothing sent.
    let (status, v) = json_of(
        gw.post(
            "/v1/embeddings",
            &json!({"model": "titan", "input": ["a", "b"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one text per request"),
        "{v}"
    );
    assert_eq!(b.requests().len(), 2);
}

#[tokio::test]
async fn a_too_long_prompt_is_context_length_exceeded_and_can_fall_back() {
    let Some(c) = Creds::set("ctx", SECRET) else {
        return;
    };
    let b = FakeBedrock::start("aws", keys(true)).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}{}",
        bedrock_provider(&b, &c, true),
        provider(&oa, "timeout_s = 5"),
        route("plain", "", &[("aws", Some(MODEL))]),
        route(
            "wide",
            "fallback_on = [\"context_length_exceeded\"]",
            &[("aws", Some(MODEL)), ("oa", Some("gpt-4o-mini"))]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    let too_long = || BedrockReply::Error {
        status: 400,
        kind: "ValidationException".into(),
        message: "Input is too long for requested model.".into(),
    };
    b.push(too_long());
    let (status, v) = json_of(gw.chat(&chat_body("plain", false)).await).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "context_length_exceeded", "{v}");
    b.push(too_long());
    let r = gw.chat(&chat_body("wide", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
}

/// A Gemini client (`/v1beta/models/{m}:generateContent`, the Gemini CLI's
/// ingress) reaches Bedrock through chat: a whole answer, a tool call, a
/// stream in Gemini's SSE framing, and a Bedrock error in Gemini's shape.
#[tokio::test]
async fn gemini_clients_reach_bedrock_through_chat() {
    let Some(c) = Creds::set("gemini", SECRET) else {
        return;
    };
    let b = FakeBedrock::start("aws", keys(false)).await;
    let toml = format!(
        "{}{}",
        bedrock_provider(&b, &c, false),
        route("gemini-2.5-pro", "", &[("aws", Some(MODEL))]),
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 50}
    });
    let path = "/v1beta/models/gemini-2.5-pro:generateContent";
    let (status, v) = json_of(gw.post(path, &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from Bedrock"
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 10);
    let sent = b.requests()[0].json();
    assert_eq!(sent["system"], json!([{"text": "Be brief."}]));
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"text": "hi"}]}])
    );
    assert_eq!(sent["inferenceConfig"]["maxTokens"], 50);

    // A tool call comes back as a functionCall part.
    b.push(BedrockReply::Call {
        name: "get_weather".into(),
        input: json!({"city": "Paris"}),
    });
    let mut tools = body.clone();
    tools["tools"] = json!([{"functionDeclarations": [{"name": "get_weather",
        "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}]}]);
    let (status, v) = json_of(gw.post(path, &tools).await).await;
    assert_eq!(status, 200, "{v}");
    let call = &v["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["args"], json!({"city": "Paris"}));
    assert_eq!(
        b.requests()[1].json()["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "get_weather"
    );

    // A stream: ConverseStream frames → Gemini SSE events (CRLF CRLF).
    b.push(BedrockReply::Text("one two three".into()));
    let r = gw
        .post(
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            &body,
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("\r\n\r\n"), "{text:?}");
    let said: String = testkit::parse_sse(&text)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(said, "one two three", "{text}");
    assert!(b.requests()[2].path.ends_with("/converse-stream"));

    // Bedrock's refusal in Gemini's error shape.
    b.push(BedrockReply::Error {
        status: 400,
        kind: "ValidationException".into(),
        message: "The model returned an error".into(),
    });
    let (status, v) = json_of(gw.post(path, &body).await).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], 400, "{v}");
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT", "{v}");
}
