//! `kind = "gemini"` providers against a fake Gemini API
//! (`testkit::FakeGemini`): chat and Messages clients translated to
//! `generateContent` and back, the key in `x-goog-api-key` only, safety
//! blocks as `content_filter` errors, Gemini errors in the client's shape,
//! fallback between Gemini and OpenAI-kind targets. Keys live in the test's
//! private Secret Service (run through rt.sh: AIGW_TEST_KEYRING=1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_core::secrets::keychain_set;
use serde_json::{Value, json};
use testkit::{Behavior, FakeGemini, FakeUpstream, GeminiReply};

use crate::common::{KeychainEntry, TestGateway, chat_body, header, provider, route};

const KEY: &str = "AIza-fake-gemini-key-0001";

/// The key in the keychain under a name of this test's own, removed on drop.
type Key = KeychainEntry;

fn stored_key(tag: &str) -> Option<Key> {
    KeychainEntry::set(&format!("aigw-gemini-{tag}"), KEY)
}

fn gemini_provider(g: &FakeGemini, key: &Key) -> String {
    format!(
        "[[providers]]\nname = \"{}\"\nkind = \"gemini\"\nbase_url = \"{}\"\napi_key = \"keyring:{}\"\ntimeout_s = 5\n",
        g.name(),
        g.base_url(),
        key.0
    )
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn chat_reaches_gemini_with_the_key_in_a_header() {
    let Some(key) = stored_key("chat") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}{}",
        gemini_provider(&g, &key),
        route("fast", "", &[("gem", Some("gemini-2.5-flash"))])
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "fast", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"}
    ], "max_tokens": 50});
    let (status, v) = json_of(gw.chat(&body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from Gemini");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 8);
    assert_eq!(v["usage"]["completion_tokens"], 4);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
    let r = &g.requests()[0];
    assert_eq!(r.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(r.query, None);
    assert_eq!(r.header("x-goog-api-key").as_deref(), Some(KEY));
    assert!(r.header("authorization").is_none());
    let sent = r.json();
    assert_eq!(
        sent["systemInstruction"],
        json!({"parts": [{"text": "Be brief."}]})
    );
    assert_eq!(
        sent["contents"],
        json!([{"role": "user", "parts": [{"text": "hi"}]}])
    );
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 50);
    assert!(sent.get("model").is_none());

    // Tools: a functionCall comes back as a tool call; thoughts as reasoning.
    g.push(GeminiReply::Call {
        name: "get_weather".into(),
        args: json!({"city": "Paris"}),
    });
    let body = json!({"model": "fast", "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]});
    let (status, v) = json_of(gw.chat(&body).await).await;
    assert_eq!(status, 200, "{v}");
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        g.requests()[1].json()["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
    g.push(GeminiReply::Thinking {
        thought: "simple".into(),
        text: "4".into(),
    });
    let (_, v) = json_of(gw.chat(&chat_body("fast", false)).await).await;
    assert_eq!(v["choices"][0]["message"]["reasoning_content"], "simple");
    assert_eq!(v["choices"][0]["message"]["content"], "4");
}

#[tokio::test]
async fn messages_clients_reach_gemini_through_chat() {
    let Some(key) = stored_key("messages") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}{}",
        gemini_provider(&g, &key),
        route("claude-sonnet-4-5", "", &[("gem", Some("gemini-2.5-pro"))])
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]});
    let (status, v) = json_of(gw.post("/v1/messages", &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "Hello from Gemini");
    assert_eq!(v["stop_reason"], "end_turn");
    let r = &g.requests()[0];
    assert_eq!(r.path, "/v1beta/models/gemini-2.5-pro:generateContent");
    assert_eq!(
        r.json()["systemInstruction"]["parts"][0]["text"],
        "Be brief."
    );
    // A Gemini error reaches a Messages client in Anthropic's shape.
    g.push(GeminiReply::Error {
        code: 400,
        status: "INVALID_ARGUMENT".into(),
        message: "Invalid value at 'contents'".into(),
    });
    let (status, v) = json_of(gw.post("/v1/messages", &body).await).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid value")
    );
}

#[tokio::test]
async fn a_safety_block_is_a_content_filter_error_and_gemini_errors_take_the_openai_shape() {
    let Some(key) = stored_key("safety") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}{}",
        gemini_provider(&g, &key),
        route("fast", "", &[("gem", Some("gemini-2.5-flash"))])
    );
    let gw = TestGateway::start(&toml).await;
    g.push(GeminiReply::PromptBlocked);
    let (status, v) = json_of(gw.chat(&chat_body("fast", false)).await).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "content_filter");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("SAFETY"),
        "{v}"
    );
    g.push(GeminiReply::Error {
        code: 404,
        status: "NOT_FOUND".into(),
        message: "models/nope is not found for API version v1beta".into(),
    });
    let (status, v) = json_of(gw.chat(&chat_body("fast", false)).await).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_blocked_prompt_falls_back_when_the_route_says_fallback_on_content_filter() {
    let Some(key) = stored_key("blockfb") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}",
        gemini_provider(&g, &key),
        provider(&oa, "timeout_s = 5"),
        route(
            "guarded",
            "fallback_on = [\"content_filter\"]",
            &[
                ("gem", Some("gemini-2.5-flash")),
                ("oa", Some("gpt-4o-mini"))
            ]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    g.push(GeminiReply::PromptBlocked);
    let r = gw.chat(&chat_body("guarded", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(header(&r, "x-aigw-attempts"), "2");
    // Health-neutral: the next request goes to Gemini first again.
    let r = gw.chat(&chat_body("guarded", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "gem");
}

#[tokio::test]
async fn a_429_from_gemini_falls_back_to_openai_and_back() {
    let Some(key) = stored_key("fallback") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}{}",
        gemini_provider(&g, &key),
        provider(&oa, "timeout_s = 5"),
        route(
            "fast",
            "",
            &[
                ("gem", Some("gemini-2.5-flash")),
                ("oa", Some("gpt-4o-mini"))
            ]
        ),
        route(
            "slow",
            "",
            &[
                ("oa", Some("gpt-4o-mini")),
                ("gem", Some("gemini-2.5-flash"))
            ]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    // OpenAI failing falls back to Gemini.
    oa.push(Behavior::Status {
        status: 500,
        retry_after: None,
        body: None,
    });
    let r = gw.chat(&chat_body("slow", false)).await;
    assert_eq!(r.status(), 200);
    let (_, v) = json_of(r).await;
    assert_eq!(
        v["choices"][0]["message"]["content"], "Hello from Gemini",
        "{v}"
    );
    assert_eq!(g.requests().len(), 1);
    assert_eq!(oa.proxied_requests().len(), 1);
    g.push(GeminiReply::Error {
        code: 429,
        status: "RESOURCE_EXHAUSTED".into(),
        message: "Resource has been exhausted (e.g. check quota).".into(),
    });
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(crate::common::header(&r, "x-aigw-provider"), "oa");
    assert_eq!(g.requests().len(), 2);
    assert_eq!(oa.proxied_requests().len(), 2);
    // The 429 cooled Gemini: the next request goes to OpenAI directly.
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(crate::common::header(&r, "x-aigw-provider"), "oa");
    assert_eq!(g.requests().len(), 2);
}

#[tokio::test]
async fn streams_are_translated_for_chat_and_messages_clients() {
    let Some(key) = stored_key("stream") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}{}",
        gemini_provider(&g, &key),
        route("fast", "", &[("gem", Some("gemini-2.5-flash"))]),
    );
    let gw = TestGateway::start(&toml).await;
    g.push(GeminiReply::Text("one two three".into()));
    let mut body = chat_body("fast", true);
    body["stream_options"] = json!({"include_usage": true});
    let r = gw.chat(&body).await;
    assert_eq!(r.status(), 200);
    assert!(crate::common::header(&r, "content-type").starts_with("text/event-stream"));
    let text = r.text().await.unwrap();
    assert_eq!(
        crate::common::streamed_text(&text),
        "one two three",
        "{text}"
    );
    assert!(text.contains("\"finish_reason\":\"stop\""), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(text.contains("\"prompt_tokens\":8"), "{text}");
    let req = &g.requests()[0];
    assert_eq!(
        req.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(req.query.as_deref(), Some("alt=sse"));
    assert_eq!(req.header("x-goog-api-key").as_deref(), Some(KEY));

    // A Messages client gets Anthropic's events.
    g.push(GeminiReply::Text("hello there".into()));
    let body = json!({"model": "fast", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let text = gw.post("/v1/messages", &body).await.text().await.unwrap();
    let events: Vec<String> = crate::wire::sse_events(&text)
        .into_iter()
        .filter_map(|(n, _)| n)
        .collect();
    assert_eq!(
        events.first().map(String::as_str),
        Some("message_start"),
        "{text}"
    );
    assert_eq!(
        events.last().map(String::as_str),
        Some("message_stop"),
        "{text}"
    );
    assert!(text.contains("hello "), "{text}");

    // A prompt refused mid-protocol ends the stream with content_filter.
    g.push(GeminiReply::PromptBlocked);
    let text = gw
        .chat(&chat_body("fast", true))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("\"finish_reason\":\"content_filter\""),
        "{text}"
    );
}

#[tokio::test]
async fn the_probe_checks_the_key_and_lists_models() {
    let Some(key) = stored_key("probe") else {
        return;
    };
    let good = FakeGemini::start("gem", KEY).await;
    let bad = FakeGemini::start("wrong", "AIza-some-other-key").await;
    let toml = format!(
        "{}{}{}",
        gemini_provider(&good, &key),
        gemini_provider(&bad, &key),
        route("fast", "", &[("gem", Some("gemini-2.5-flash"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let (s, p) = gw.admin_post("/providers/gem/probe", json!({})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["auth_ok"], true, "{p}");
    assert_eq!(
        p["models"],
        json!(["gemini-2.5-flash", "gemini-2.5-pro"]),
        "{p}"
    );
    let r = &good.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/v1beta/models")
    );
    assert_eq!(r.header("x-goog-api-key").as_deref(), Some(KEY));
    // Gemini answers a key it does not know with a 400, not a 401.
    let (s, p) = gw.admin_post("/providers/wrong/probe", json!({})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["auth_ok"], false, "{p}");
    assert_eq!(p["status"], 400, "{p}");
}

#[tokio::test]
async fn embeddings_go_through_batch_embed_contents() {
    let Some(key) = stored_key("embed") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}{}",
        gemini_provider(&g, &key),
        route("embed", "", &[("gem", Some("text-embedding-004"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "embed", "input": ["abc", "hello"]});
    let (status, v) = json_of(gw.post("/v1/embeddings", &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "list");
    assert_eq!(
        v["data"][0],
        json!({"object": "embedding", "index": 0, "embedding": [3.0, 0.5]})
    );
    assert_eq!(v["data"][1]["embedding"], json!([5.0, 0.5]));
    let r = &g.requests()[0];
    assert_eq!(
        r.path,
        "/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    assert_eq!(r.header("x-goog-api-key").as_deref(), Some(KEY));
    // Token arrays cannot be sent to Gemini: a clear 400.
    let (status, v) = json_of(
        gw.post(
            "/v1/embeddings",
            &json!({"model": "embed", "input": [[1, 2]]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("token arrays"),
        "{v}"
    );
    assert_eq!(g.requests().len(), 1);
}

/// `(consecutive_failures, last_error)` of `provider`'s targets (summed,
/// the last one's error).
fn health_of(gw: &TestGateway, provider: &str) -> (u32, Option<String>) {
    let snap = gw
        .handle
        .state()
        .health
        .snapshot(tokio::time::Instant::now());
    snap.iter()
        .filter(|(p, _, _)| p == provider)
        .fold((0, None), |(n, e), (_, _, h)| {
            (n + h.consecutive_failures, h.last_error.clone().or(e))
        })
}

#[tokio::test]
async fn count_tokens_asks_gemini_and_a_failing_count_never_cools_it() {
    let Some(key) = stored_key("count") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}",
        gemini_provider(&g, &key),
        provider(&oa, "timeout_s = 5"),
        route(
            "claude-sonnet-4-5",
            "failure_threshold = 1",
            &[
                ("gem", Some("gemini-2.5-flash")),
                ("oa", Some("gpt-4o-mini"))
            ]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "claude-sonnet-4-5", "system": "Be brief.",
        "messages": [{"role": "user", "content": "hello there friend"}]});
    let r = gw.post("/v1/messages/count_tokens?beta=true", &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-token-count"), "upstream");
    assert_eq!(header(&r, "x-aigw-provider"), "gem");
    let (_, v) = json_of(r).await;
    // The fake counts words: "Be brief." + "hello there friend".
    assert_eq!(v, json!({"input_tokens": 5}));
    let sent = &g.requests()[0];
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:countTokens");
    assert_eq!(sent.query, None, "the client's ?beta=true is not Gemini's");
    assert_eq!(sent.header("x-goog-api-key").as_deref(), Some(KEY));
    let sent = sent.json();
    assert_eq!(
        sent["generateContentRequest"]["model"],
        "models/gemini-2.5-flash"
    );
    assert_eq!(
        sent["generateContentRequest"]["systemInstruction"]["parts"][0]["text"],
        "Be brief."
    );

    // Gemini without countTokens (404) or failing (500): the local estimate,
    // and the target's health is untouched however often it happens.
    for code in [404, 500] {
        g.fail_count_tokens(code);
        for _ in 0..3 {
            let r = gw.post("/v1/messages/count_tokens", &body).await;
            assert_eq!(r.status(), 200, "{code}");
            assert_eq!(header(&r, "x-aigw-token-count"), "estimate", "{code}");
            let (_, v) = json_of(r).await;
            assert!(v["input_tokens"].as_u64().unwrap() > 0, "{v}");
        }
    }
    assert_eq!(health_of(&gw, "gem"), (0, None));
    let msg = json!({"model": "claude-sonnet-4-5", "max_tokens": 32,
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/messages", &msg).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "gem");
    assert_eq!(header(&r, "x-aigw-attempts"), "1");
    assert_eq!(oa.proxied_requests().len(), 0);
}

#[tokio::test]
async fn a_refused_gemini_key_falls_back_marks_health_and_is_a_401_when_nothing_is_left() {
    let Some(key) = stored_key("badkey") else {
        return;
    };
    // This Gemini knows another key: it answers ours with 400 API_KEY_INVALID.
    let g = FakeGemini::start("gem", "AIza-another-key").await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}{}",
        gemini_provider(&g, &key),
        provider(&oa, "timeout_s = 5"),
        route(
            "fast",
            "",
            &[
                ("gem", Some("gemini-2.5-flash")),
                ("oa", Some("gpt-4o-mini"))
            ]
        ),
        route("only-gemini", "", &[("gem", Some("gemini-2.5-flash"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(header(&r, "x-aigw-attempts"), "2");
    assert_eq!(g.requests().len(), 1);
    let (failures, last) = health_of(&gw, "gem");
    assert_eq!(failures, 1);
    let last = last.unwrap();
    assert!(last.contains("refused the provider's key"), "{last}");
    assert!(last.contains("API key not valid"), "{last}");

    // Nothing left: a 401 in the client's shape, which no retry can fix.
    let r = gw.chat(&chat_body("only-gemini", false)).await;
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "x-should-retry"), "false");
    let (_, v) = json_of(r).await;
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");
    assert_eq!(v["error"]["code"], "upstream_key_refused", "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("INVALID_ARGUMENT"), "{m}");
    assert!(!m.contains(KEY), "{m}");
    let msg = json!({"model": "only-gemini", "max_tokens": 32, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.post("/v1/messages", &msg).await;
    assert_eq!(r.status(), 401, "a stream too");
    let (_, v) = json_of(r).await;
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");
}

#[tokio::test]
async fn a_gemini_403_permission_denied_is_a_key_failure_too() {
    let Some(key) = stored_key("denied") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}",
        gemini_provider(&g, &key),
        provider(&oa, "timeout_s = 5"),
        route(
            "fast",
            "",
            &[
                ("gem", Some("gemini-2.5-flash")),
                ("oa", Some("gpt-4o-mini"))
            ]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    g.push(GeminiReply::Error {
        code: 403,
        status: "PERMISSION_DENIED".into(),
        message: "Method doesn't allow unregistered callers.".into(),
    });
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert!(
        health_of(&gw, "gem")
            .1
            .unwrap()
            .contains("PERMISSION_DENIED")
    );
    // An ordinary 400 of the request is still the client's, relayed.
    g.push(GeminiReply::Error {
        code: 400,
        status: "INVALID_ARGUMENT".into(),
        message: "Invalid value at 'contents'".into(),
    });
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(header(&r, "x-aigw-provider"), "gem");
}

#[tokio::test]
async fn a_refused_key_in_a_gemini_pool_cools_and_the_next_key_serves() {
    if std::env::var("AIGW_TEST_KEYRING").as_deref() != Ok("1") {
        return;
    }
    let pid = std::process::id();
    let (bad, good) = (
        format!("aigw-gemini-pool-bad-{pid}"),
        format!("aigw-gemini-pool-good-{pid}"),
    );
    keychain_set(&bad, "AIza-revoked-key").unwrap();
    keychain_set(&good, KEY).unwrap();
    let _cleanup = (KeychainEntry(bad.clone()), KeychainEntry(good.clone()));
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "[[providers]]\nname = \"gem\"\nkind = \"gemini\"\nbase_url = \"{}\"\napi_keys = [\"keyring:{bad}\", \"keyring:{good}\"]\ntimeout_s = 5\n{}",
        g.base_url(),
        route("fast", "", &[("gem", Some("gemini-2.5-flash"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "gem");
    assert_eq!(header(&r, "x-aigw-attempts"), "2");
    let sent: Vec<_> = g
        .requests()
        .iter()
        .map(|r| r.header("x-goog-api-key").unwrap())
        .collect();
    assert_eq!(sent, ["AIza-revoked-key", KEY]);
    // The refused key cools (routing.max_cooldown_s): the next requests
    // go out with the good key only.
    for _ in 0..2 {
        assert_eq!(gw.chat(&chat_body("fast", false)).await.status(), 200);
    }
    let later: Vec<_> = g
        .requests()
        .iter()
        .skip(2)
        .map(|r| r.header("x-goog-api-key").unwrap())
        .collect();
    assert_eq!(later, [KEY, KEY]);
    let (_, status) = gw.admin_get("/status").await;
    let gem = status["provider_states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "gem")
        .unwrap()
        .clone();
    assert!(
        gem["keys"][0]["cooldown_remaining_ms"].as_u64().unwrap() > 0,
        "{gem}"
    );
    assert!(gem["keys"][1]["cooldown_remaining_ms"].is_null(), "{gem}");
}

/// `(event name, data as JSON)` of an SSE body (data that is not JSON: skipped).
fn events_of(text: &str) -> Vec<(String, Value)> {
    crate::wire::sse_events(text)
        .into_iter()
        .filter_map(|(n, v)| {
            let name = n.or_else(|| v["type"].as_str().map(str::to_string))?;
            Some((name, v))
        })
        .collect()
}

#[tokio::test]
async fn a_responses_stream_through_gemini_has_the_events_openai_clients_expect() {
    let Some(key) = stored_key("respstream") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}{}",
        gemini_provider(&g, &key),
        route("gpt-5", "", &[("gem", Some("gemini-2.5-flash"))]),
    );
    let gw = TestGateway::start(&toml).await;
    g.push(GeminiReply::Text("one two three".into()));
    let body = json!({"model": "gpt-5", "input": "count", "stream": true});
    let r = gw.post("/v1/responses", &body).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let text = r.text().await.unwrap();
    let events = events_of(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ],
        "{text}"
    );
    // The data's type is the event's name; sequence numbers count up from 0.
    for (i, (name, v)) in events.iter().enumerate() {
        assert_eq!(v["type"], name.as_str());
        assert_eq!(v["sequence_number"], i as u64, "{v}");
    }
    let deltas: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, v)| v["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "one two three");
    assert_eq!(events[7].1["text"], "one two three");
    let done = &events[10].1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"][0]["content"][0]["text"], "one two three");
    assert_eq!(done["usage"]["input_tokens"], 8, "{done}");
    assert_eq!(done["usage"]["output_tokens"], 4, "{done}");
    assert_eq!(
        done["usage"]["input_tokens_details"]["cached_tokens"], 2,
        "{done}"
    );
    assert_eq!(
        g.requests()[0].path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );

    // A tool call reaches a Responses stream as a function_call item.
    g.push(GeminiReply::Call {
        name: "get_weather".into(),
        args: json!({"city": "Paris"}),
    });
    let body = json!({"model": "gpt-5", "input": "weather?", "stream": true,
        "tools": [{"type": "function", "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]});
    let text = gw.post("/v1/responses", &body).await.text().await.unwrap();
    let events = events_of(&text);
    let item = events
        .iter()
        .find(|(n, v)| n == "response.output_item.done" && v["item"]["type"] == "function_call")
        .map(|(_, v)| v["item"].clone())
        .unwrap_or_else(|| panic!("no function_call item: {text}"));
    assert_eq!(item["name"], "get_weather");
    assert_eq!(item["arguments"], "{\"city\":\"Paris\"}");
    assert!(
        events
            .iter()
            .any(|(n, _)| n == "response.function_call_arguments.delta"),
        "{text}"
    );
    assert_eq!(events.last().unwrap().0, "response.completed", "{text}");

    // Chat streams carry the cached tokens in their usage chunk too.
    let mut body = chat_body("gpt-5", true);
    body["stream_options"] = json!({"include_usage": true});
    let text = gw.chat(&body).await.text().await.unwrap();
    let usage = crate::wire::sse_events(&text)
        .into_iter()
        .find_map(|(_, v)| v.get("usage").filter(|u| !u.is_null()).cloned())
        .unwrap_or_else(|| panic!("no usage chunk: {text}"));
    assert_eq!(usage["prompt_tokens"], 8, "{usage}");
    assert_eq!(
        usage["prompt_tokens_details"]["cached_tokens"], 2,
        "{usage}"
    );
}

#[tokio::test]
async fn a_messages_stream_through_gemini_carries_thinking_text_and_a_tool_call() {
    let Some(key) = stored_key("msgstream") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}{}",
        gemini_provider(&g, &key),
        route("claude-sonnet-4-5", "", &[("gem", Some("gemini-2.5-pro"))]),
    );
    let gw = TestGateway::start(&toml).await;
    g.push(GeminiReply::Parts(vec![
        json!({"text": "The user wants weather.", "thought": true}),
        json!({"text": "Checking."}),
        json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}),
    ]));
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 128},
        "tools": [{"name": "get_weather", "input_schema": {"type": "object",
            "properties": {"city": {"type": "string"}}}}],
        "messages": [{"role": "user", "content": "weather in Paris?"}]});
    let r = gw.post("/v1/messages", &body).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let events = events_of(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{text}");
    assert_eq!(names.last(), Some(&"message_stop"), "{text}");
    // Each block: start, deltas, stop, with its own index, in order.
    let starts: Vec<(u64, String)> = events
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, v)| {
            (
                v["index"].as_u64().unwrap(),
                v["content_block"]["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        starts,
        [
            (0, "thinking".to_string()),
            (1, "text".to_string()),
            (2, "tool_use".to_string())
        ],
        "{text}"
    );
    let mut open: Option<u64> = None;
    for (n, v) in &events {
        match n.as_str() {
            "content_block_start" => {
                assert!(open.is_none(), "a block starts inside another: {text}");
                open = v["index"].as_u64();
            }
            "content_block_delta" => assert_eq!(v["index"].as_u64(), open, "{text}"),
            "content_block_stop" => {
                assert_eq!(v["index"].as_u64(), open, "{text}");
                open = None;
            }
            _ => {}
        }
    }
    let delta = |kind: &str, field: &str| -> String {
        events
            .iter()
            .filter(|(n, v)| n == "content_block_delta" && v["delta"]["type"] == kind)
            .map(|(_, v)| v["delta"][field].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        delta("thinking_delta", "thinking"),
        "The user wants weather."
    );
    assert_eq!(delta("text_delta", "text"), "Checking.");
    let args: Value = serde_json::from_str(&delta("input_json_delta", "partial_json")).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));
    let tool = &events
        .iter()
        .find(|(n, v)| n == "content_block_start" && v["index"] == 2)
        .unwrap()
        .1["content_block"];
    assert_eq!(tool["name"], "get_weather");
    assert!(tool["id"].as_str().is_some_and(|id| !id.is_empty()));
    let md = &events.iter().find(|(n, _)| n == "message_delta").unwrap().1;
    assert_eq!(md["delta"]["stop_reason"], "tool_use", "{md}");
    // Anthropic's input_tokens exclude the cache reads, reported apart.
    assert_eq!(md["usage"]["cache_read_input_tokens"], 2, "{md}");
    assert_eq!(md["usage"]["input_tokens"], 6, "{md}");
    assert_eq!(md["usage"]["output_tokens"], 4, "{md}");
    // What went to Gemini: thinking asked for, the tool declared.
    let sent = g.requests()[0].json();
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
    assert_eq!(
        sent["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 128, "includeThoughts": true}),
        "{sent}"
    );

    // Whole answers: the cached tokens in the Messages and Responses shapes.
    let (_, v) = json_of(
        gw.post(
            "/v1/messages",
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 32,
                "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(v["usage"]["cache_read_input_tokens"], 2, "{v}");
    assert_eq!(v["usage"]["input_tokens"], 6, "{v}");
    let (_, v) = json_of(
        gw.post(
            "/v1/responses",
            &json!({"model": "claude-sonnet-4-5", "input": "hi"}),
        )
        .await,
    )
    .await;
    assert_eq!(v["usage"]["input_tokens"], 8, "{v}");
    assert_eq!(
        v["usage"]["input_tokens_details"]["cached_tokens"], 2,
        "{v}"
    );
}

#[tokio::test]
async fn images_reach_gemini_as_inline_data_from_chat_and_messages_clients() {
    let Some(key) = stored_key("images") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}{}",
        gemini_provider(&g, &key),
        route("vision", "", &[("gem", Some("gemini-2.5-flash"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let body = json!({"model": "vision", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}}
    ]}]});
    let r = gw.chat(&body).await;
    assert_eq!(r.status(), 200);
    let parts = g.requests()[0].json()["contents"][0]["parts"].clone();
    assert_eq!(
        parts,
        json!([{"text": "what is this?"},
            {"inlineData": {"mimeType": "image/png", "data": png}}])
    );
    let body = json!({"model": "vision", "max_tokens": 32, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
        {"type": "text", "text": "and this?"}
    ]}]});
    let r = gw.post("/v1/messages", &body).await;
    assert_eq!(r.status(), 200);
    let parts = g.requests()[1].json()["contents"][0]["parts"].clone();
    assert_eq!(
        parts,
        json!([{"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
            {"text": "and this?"}])
    );
}

#[tokio::test]
async fn gemini_schema_openapi_sends_classic_parameters() {
    let Some(key) = stored_key("openapi") else {
        return;
    };
    let g = FakeGemini::start("gem", KEY).await;
    let toml = format!(
        "{}gemini_schema = \"openapi\"\n{}",
        gemini_provider(&g, &key),
        route("fast", "", &[("gem", Some("gemini-2.5-flash"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "fast", "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object", "additionalProperties": false,
            "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"],
                "enum": ["c", "f"]}},
            "required": ["city"]}}}]});
    let r = gw.chat(&body).await;
    assert_eq!(r.status(), 200);
    let decl = g.requests()[0].json()["tools"][0]["functionDeclarations"][0].clone();
    assert_eq!(
        decl,
        json!({"name": "get_weather", "parameters": {"type": "OBJECT",
            "properties": {"city": {"type": "STRING"},
                "unit": {"type": "STRING", "nullable": true, "enum": ["c", "f"]}},
            "required": ["city"]}})
    );
}
