//! `kind = "azure"` providers against a fake Azure OpenAI resource
//! (`testkit::FakeAzure`): the v1 and dated APIs, deployments, `api-key`
//! or an Entra bearer, chat (plain, streamed, tools), embeddings,
//! Responses, Messages clients through chat, content-filter answers
//! classified, 429 `retry-after-ms`, fallback both ways with OpenAI kinds.
//! Keys live in the test's private Secret Service (run through rt.sh:
//! AIGW_TEST_KEYRING=1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use testkit::{AzureReply, Behavior, FakeAzure, FakeUpstream};

use crate::common::{
    KeychainEntry, TestGateway, chat_body, header, provider, route, streamed_text,
};

const KEY: &str = "az-fake-azure-key-0001";

/// The key in the keychain under a name of this test's own, removed on drop.
type Key = KeychainEntry;

fn stored_key(tag: &str) -> Option<Key> {
    KeychainEntry::set(&format!("aigw-azure-{tag}"), KEY)
}

/// A `kind = "azure"` provider named `name` on `az` with `extra` settings.
fn azure(name: &str, az: &FakeAzure, key: &Key, extra: &str) -> String {
    format!(
        "[[providers]]\nname = \"{name}\"\nkind = \"azure\"\nbase_url = \"{}\"\napi_key = \"keyring:{}\"\ntimeout_s = 5\n{extra}\n",
        az.base_url(),
        key.0
    )
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn chat_reaches_the_v1_api_with_the_deployment_as_model() {
    let Some(key) = stored_key("chat") else {
        return;
    };
    let az = FakeAzure::start("az", KEY, &["prod-gpt4o"]).await;
    let toml = format!(
        "{}{}",
        azure(
            "az",
            &az,
            &key,
            "deployments = { \"gpt-4o\" = \"prod-gpt4o\" }"
        ),
        route("fast", "", &[("az", Some("gpt-4o"))])
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "fast", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]}]});
    let (status, v) = json_of(gw.chat(&body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from az");
    // Azure's own fields reach chat clients (OpenAI SDKs ignore them).
    assert!(v["prompt_filter_results"].is_array(), "{v}");
    assert!(v["choices"][0]["content_filter_results"].is_object(), "{v}");
    let r = &az.requests()[0];
    assert_eq!(r.path, "/openai/v1/chat/completions");
    assert_eq!(r.query, None);
    assert_eq!(r.header("api-key").as_deref(), Some(KEY));
    assert!(r.header("authorization").is_none());
    assert_eq!(r.model().as_deref(), Some("prod-gpt4o"));
    // The image part passes through as sent.
    assert_eq!(r.json()["messages"], body["messages"]);

    // Streamed, in Azure's shape: a prompt_filter_results chunk first.
    az.push(AzureReply::Stream {
        deltas: vec!["Hel".into(), "lo".into()],
        filtered: false,
    });
    let r = gw.chat(&chat_body("fast", true)).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_eq!(streamed_text(&text), "Hello", "{text}");
    assert!(text.contains("prompt_filter_results"), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");

    // Tools.
    az.upstream().push(Behavior::ToolCall);
    let body = json!({"model": "fast", "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]});
    let (status, v) = json_of(gw.chat(&body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(az.requests()[2].json()["tools"], body["tools"]);
}

#[tokio::test]
async fn a_dated_version_puts_the_deployment_in_the_path_and_entra_sends_a_bearer() {
    let Some(key) = stored_key("dated") else {
        return;
    };
    let az = FakeAzure::start("az", KEY, &["prod-gpt4o", "emb-small"]).await;
    let toml = format!(
        "{}{}{}{}",
        azure(
            "az",
            &az,
            &key,
            "api_version = \"2025-04-01-preview\"\nazure_auth = \"entra\"\n\
             deployments = { \"gpt-4o\" = \"prod-gpt4o\", \"text-embedding-3-small\" = \"emb-small\" }"
        ),
        route("fast", "", &[("az", Some("gpt-4o"))]),
        route("embed", "", &[("az", Some("text-embedding-3-small"))]),
        route("missing", "", &[("az", Some("gpt-5"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let (status, v) = json_of(gw.chat(&chat_body("fast", false)).await).await;
    assert_eq!(status, 200, "{v}");
    let r = &az.requests()[0];
    assert_eq!(r.path, "/openai/deployments/prod-gpt4o/chat/completions");
    assert_eq!(r.query.as_deref(), Some("api-version=2025-04-01-preview"));
    assert_eq!(r.header("authorization"), Some(format!("Bearer {KEY}")));
    assert!(r.header("api-key").is_none());

    let body = json!({"model": "embed", "input": ["abc", "hello"]});
    let (status, v) = json_of(gw.post("/v1/embeddings", &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(
        az.requests()[1].path,
        "/openai/deployments/emb-small/embeddings"
    );

    // Responses: the resource-level path, the deployment as model.
    let body = json!({"model": "fast", "input": "hi"});
    let (status, v) = json_of(gw.post("/v1/responses", &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "response", "{v}");
    let r = &az.requests()[2];
    assert_eq!(r.path, "/openai/responses");
    assert_eq!(r.query.as_deref(), Some("api-version=2025-04-01-preview"));
    assert_eq!(r.model().as_deref(), Some("prod-gpt4o"));

    // A model without a deployment: Azure's 404 reaches the client.
    let (status, v) = json_of(gw.chat(&chat_body("missing", false)).await).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "DeploymentNotFound", "{v}");
    assert_eq!(
        az.requests()[3].path,
        "/openai/deployments/gpt-5/chat/completions"
    );
}

#[tokio::test]
async fn responses_clients_go_natively_or_through_chat() {
    let Some(key) = stored_key("responses") else {
        return;
    };
    let az = FakeAzure::start("az", KEY, &["gpt-4o"]).await;
    let toml = format!(
        "{}{}{}{}",
        azure("az", &az, &key, ""),
        azure("azchat", &az, &key, "responses = \"translate\""),
        route("native", "", &[("az", Some("gpt-4o"))]),
        route("viachat", "", &[("azchat", Some("gpt-4o"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "native", "input": "hi", "stream": true});
    let r = gw.post("/v1/responses", &body).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("response.completed"), "{text}");
    assert_eq!(az.requests()[0].path, "/openai/v1/responses");
    let body = json!({"model": "viachat", "input": "hi"});
    let (status, v) = json_of(gw.post("/v1/responses", &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "response");
    assert_eq!(v["output"][0]["content"][0]["text"], "Hello from az", "{v}");
    assert_eq!(az.requests()[1].path, "/openai/v1/chat/completions");
    // An Azure chat stream: its first chunk (only prompt_filter_results,
    // an empty id and model) does not name the response.
    az.push(AzureReply::Stream {
        deltas: vec!["Hi".into()],
        filtered: false,
    });
    let body = json!({"model": "viachat", "input": "hi", "stream": true});
    let text = gw.post("/v1/responses", &body).await.text().await.unwrap();
    let created: Value = testkit::parse_sse(&text)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|v| v["type"] == "response.created")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(created["response"]["model"], "gpt-4o-2024-11-20", "{text}");
    assert_eq!(created["response"]["id"], "resp_chatcmpl-azure", "{text}");
    assert!(text.contains("\"delta\":\"Hi\""), "{text}");
}

#[tokio::test]
async fn messages_clients_reach_azure_through_chat_without_azure_fields() {
    let Some(key) = stored_key("messages") else {
        return;
    };
    let az = FakeAzure::start("az", KEY, &["prod-gpt4o"]).await;
    let toml = format!(
        "{}{}",
        azure(
            "az",
            &az,
            &key,
            "deployments = { \"gpt-4o\" = \"prod-gpt4o\" }"
        ),
        route("claude-sonnet-4-5", "", &[("az", Some("gpt-4o"))])
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]});
    let (status, v) = json_of(gw.post("/v1/messages", &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "Hello from az");
    assert_eq!(v["stop_reason"], "end_turn");
    let s = v.to_string();
    assert!(!s.contains("filter_results"), "{s}");
    let r = &az.requests()[0];
    assert_eq!(r.path, "/openai/v1/chat/completions");
    assert_eq!(r.model().as_deref(), Some("prod-gpt4o"));
    assert_eq!(r.json()["messages"][0]["content"], "Be brief.");

    // A stream in Azure's shape becomes Anthropic events, its filter
    // results left behind.
    az.push(AzureReply::Stream {
        deltas: vec!["Hel".into(), "lo".into()],
        filtered: false,
    });
    let mut sbody = body.clone();
    sbody["stream"] = json!(true);
    let r = gw.post("/v1/messages", &sbody).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("event: message_start"), "{text}");
    assert!(text.contains("\"text\":\"Hel\""), "{text}");
    assert!(text.contains("event: message_stop"), "{text}");
    assert!(!text.contains("filter_results"), "{text}");

    // A filtered answer is a refusal to an Anthropic client.
    az.push(AzureReply::AnswerFiltered);
    let (status, v) = json_of(gw.post("/v1/messages", &body).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["stop_reason"], "refusal", "{v}");
    assert!(!v.to_string().contains("filter_results"), "{v}");
}

#[tokio::test]
async fn content_filter_answers_are_classified_and_fall_back_when_the_route_says_so() {
    let Some(key) = stored_key("filter") else {
        return;
    };
    let az = FakeAzure::start("az", KEY, &["gpt-4o"]).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}{}",
        azure("az", &az, &key, ""),
        provider(&oa, "timeout_s = 5"),
        route(
            "plain",
            "",
            &[("az", Some("gpt-4o")), ("oa", Some("gpt-4o-mini"))]
        ),
        route(
            "guarded",
            "fallback_on = [\"content_filter\"]",
            &[("az", Some("gpt-4o")), ("oa", Some("gpt-4o-mini"))]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    // Without fallback_on: Azure's 400 is the client's, as it came.
    az.push(AzureReply::PromptFiltered);
    let (status, v) = json_of(gw.chat(&chat_body("plain", false)).await).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "content_filter");
    assert_eq!(
        v["error"]["innererror"]["code"],
        "ResponsibleAIPolicyViolation"
    );
    // And a filtered 200 is relayed as it is.
    az.push(AzureReply::AnswerFiltered);
    let (status, v) = json_of(gw.chat(&chat_body("plain", false)).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(oa.proxied_requests().len(), 0);

    // fallback_on = ["content_filter"]: both go on to OpenAI.
    az.push(AzureReply::PromptFiltered);
    let r = gw.chat(&chat_body("guarded", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(header(&r, "x-aigw-attempts"), "2");
    az.push(AzureReply::AnswerFiltered);
    let r = gw.chat(&chat_body("guarded", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    let (_, v) = json_of(r).await;
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from oa");
    // Health-neutral: Azure is asked first again.
    let r = gw.chat(&chat_body("guarded", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "az");
    // The request log names the class.
    let events = gw.capture.wait(5).await;
    let filtered: Vec<_> = events
        .iter()
        .flat_map(|e| e.attempts.iter())
        .filter(|a| a.error.as_deref() == Some("content_filter"))
        .collect();
    assert_eq!(filtered.len(), 2, "{events:?}");
}

#[tokio::test]
async fn a_429_cools_azure_for_its_retry_after_ms_and_fallback_goes_both_ways() {
    let Some(key) = stored_key("ratelimit") else {
        return;
    };
    let az = FakeAzure::start("az", KEY, &["gpt-4o"]).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}{}",
        azure("az", &az, &key, ""),
        provider(&oa, "timeout_s = 5"),
        route(
            "fast",
            "cooldown_s = 1",
            &[("az", Some("gpt-4o")), ("oa", Some("gpt-4o-mini"))]
        ),
        route(
            "slow",
            "",
            &[("oa", Some("gpt-4o-mini")), ("az", Some("gpt-4o"))]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    // OpenAI failing falls back to Azure.
    oa.push(Behavior::Status {
        status: 500,
        retry_after: None,
        body: None,
    });
    let r = gw.chat(&chat_body("slow", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "az");
    // Azure's 429 falls back to OpenAI and cools Azure for the 10 minutes
    // its retry-after-ms says, not the route's 1 s.
    az.push(AzureReply::RateLimited {
        retry_after_ms: 600_000,
    });
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    let h: Value = gw
        .http
        .get(format!("{}/health?detail=true", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let az_state = h["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "az")
        .unwrap();
    let t = az_state["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["open"] == true)
        .unwrap_or_else(|| panic!("{h}"));
    assert!(t["cooldown_remaining_ms"].as_u64().unwrap() > 60_000, "{h}");
    let before = az.requests().len();
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(az.requests().len(), before);
}

#[tokio::test]
async fn the_key_never_shows_in_urls_logs_or_answers() {
    let Some(key) = stored_key("secret") else {
        return;
    };
    let az = FakeAzure::start("az", KEY, &["gpt-4o"]).await;
    let toml = format!(
        "{}{}",
        azure("az", &az, &key, "api_version = \"2024-10-21\""),
        route("fast", "", &[("az", Some("gpt-4o"))])
    );
    let gw = TestGateway::start(&toml).await;
    // An upstream that echoes the key in its error body.
    az.upstream().push(Behavior::Status {
        status: 400,
        retry_after: None,
        body: Some(format!(
            "{{\"error\":{{\"message\":\"bad key {KEY}\",\"code\":\"x\"}}}}"
        )),
    });
    let r = gw.chat(&chat_body("fast", false)).await;
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(!text.contains(KEY), "{text}");
    let (status, v) = json_of(gw.chat(&chat_body("fast", false)).await).await;
    assert_eq!(status, 200, "{v}");
    for r in az.requests() {
        assert!(!r.path.contains(KEY) && !r.query.clone().unwrap_or_default().contains(KEY));
    }
    let events = gw.capture.wait(2).await;
    assert!(!format!("{events:?}").contains(KEY));
    let (_, p) = gw.admin_get("/providers").await;
    assert!(!p.to_string().contains(KEY), "{p}");
}

#[tokio::test]
async fn the_probe_checks_the_key_on_the_models_listing() {
    let Some(key) = stored_key("probe") else {
        return;
    };
    let good = FakeAzure::start("az", KEY, &["prod-gpt4o"]).await;
    let bad = FakeAzure::start("wrong", "another-key", &["prod-gpt4o"]).await;
    let toml = format!(
        "{}{}{}",
        azure(
            "az",
            &good,
            &key,
            "api_version = \"2024-10-21\"\ndeployments = { \"gpt-4o\" = \"prod-gpt4o\" }"
        ),
        azure("wrong", &bad, &key, ""),
        route("fast", "", &[("az", Some("gpt-4o"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let (s, p) = gw.admin_post("/providers/az/probe", json!({})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["auth_ok"], true, "{p}");
    assert_eq!(p["models"], json!(["gpt-4o"]), "{p}");
    let r = &good.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/openai/models")
    );
    assert_eq!(r.query.as_deref(), Some("api-version=2024-10-21"));
    let (s, p) = gw.admin_post("/providers/wrong/probe", json!({})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["auth_ok"], false, "{p}");
    assert_eq!(p["status"], 401, "{p}");
    assert_eq!(bad.requests()[0].path, "/openai/v1/models");
}

#[tokio::test]
async fn a_stream_the_filter_withheld_before_any_text_falls_back_under_fallback_on() {
    let Some(key) = stored_key("streamfilter") else {
        return;
    };
    let az = FakeAzure::start("az", KEY, &["gpt-4o"]).await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}{}",
        azure("az", &az, &key, ""),
        provider(&oa, "timeout_s = 5"),
        route(
            "plain",
            "",
            &[("az", Some("gpt-4o")), ("oa", Some("gpt-4o-mini"))]
        ),
        route(
            "guarded",
            "fallback_on = [\"content_filter\"]",
            &[("az", Some("gpt-4o")), ("oa", Some("gpt-4o-mini"))]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    let withheld = || AzureReply::Stream {
        deltas: vec![],
        filtered: true,
    };
    // Without fallback_on the client gets Azure's stream as it came.
    az.push(withheld());
    let r = gw.chat(&chat_body("plain", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "az");
    let text = r.text().await.unwrap();
    assert!(
        text.contains("\"finish_reason\":\"content_filter\""),
        "{text}"
    );
    // With it, OpenAI answers (nothing had reached the client yet).
    az.push(withheld());
    let r = gw.chat(&chat_body("guarded", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(streamed_text(&r.text().await.unwrap()), "Hello from oa");
    // A stream filtered after some text is relayed: its head is sent.
    az.push(AzureReply::Stream {
        deltas: vec!["Once".into()],
        filtered: true,
    });
    let r = gw.chat(&chat_body("guarded", true)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "az");
    let text = r.text().await.unwrap();
    assert_eq!(streamed_text(&text), "Once");
    assert!(
        text.contains("\"finish_reason\":\"content_filter\""),
        "{text}"
    );
    // The last target withholding too: a 400 content_filter.
    let solo = format!(
        "{}{}",
        azure("az", &az, &key, ""),
        route(
            "alone",
            "fallback_on = [\"content_filter\"]",
            &[("az", Some("gpt-4o"))]
        ),
    );
    let gw = TestGateway::start(&solo).await;
    az.push(withheld());
    let (status, v) = json_of(gw.chat(&chat_body("alone", true)).await).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "content_filter", "{v}");
}

/// A Gemini client (the `/v1beta/models/…` ingress) reaches Azure through
/// chat, whole and streamed (Azure's filter-results chunk first).
#[tokio::test]
async fn gemini_clients_reach_azure_through_chat() {
    let Some(key) = stored_key("gemini") else {
        return;
    };
    let az = FakeAzure::start("az", KEY, &["prod-gpt4o"]).await;
    let toml = format!(
        "{}{}",
        azure(
            "az",
            &az,
            &key,
            "deployments = { \"gpt-4o\" = \"prod-gpt4o\" }"
        ),
        route("gemini-2.5-flash", "", &[("az", Some("gpt-4o"))])
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let (status, v) = json_of(
        gw.post("/v1beta/models/gemini-2.5-flash:generateContent", &body)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from az"
    );
    let r = &az.requests()[0];
    assert_eq!(r.path, "/openai/v1/chat/completions");
    assert_eq!(r.model().as_deref(), Some("prod-gpt4o"));
    assert_eq!(
        r.json()["messages"],
        json!([{"role": "user", "content": "hi"}])
    );

    az.push(AzureReply::Stream {
        deltas: vec!["Hel".into(), "lo".into()],
        filtered: false,
    });
    let r = gw
        .post(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            &body,
        )
        .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let said: String = testkit::parse_sse(&text)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(said, "Hello", "{text}");
    // Azure's filter results never reach a Gemini client.
    assert!(!text.contains("filter_results"), "{text}");
}
