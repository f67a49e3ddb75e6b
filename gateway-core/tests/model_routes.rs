//! Pattern routes end to end, with the model ids current clients send
//! (Claude Code 2.1.x: `claude-opus-4-8`, `claude-sonnet-5`,
//! `claude-haiku-4-5-20251001`; Codex: `gpt-5*`): one `claude-*` route to
//! an Anthropic upstream with an OpenAI-compatible fallback, the forwarded
//! model checked at the upstream; `GET /v1/models` in OpenAI's and
//! Anthropic's shapes; the fallback test through a pattern route.

use crate::common;
use crate::wire;

use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};
use wire::anthropic_provider;

const CLAUDE_CODE_IDS: [&str; 3] = [
    "claude-opus-4-8",
    "claude-sonnet-5",
    "claude-haiku-4-5-20251001",
];

/// `claude` (Anthropic) and `compat` (OpenAI-compatible, models under
/// `openrouter/…`); `claude-*` → claude, then compat with
/// `openrouter/{model}`; `gpt-5*` → compat as is; exact `gpt-4o-mini`.
async fn gateway() -> (FakeUpstream, FakeUpstream, TestGateway) {
    let claude = FakeUpstream::start("claude").await;
    let compat = FakeUpstream::start("compat").await;
    let toml = format!(
        "{}{}{}{}{}",
        anthropic_provider(&claude, "timeout_s = 5"),
        provider(&compat, "timeout_s = 5"),
        route(
            "claude-*",
            "",
            &[("claude", None), ("compat", Some("openrouter/{model}"))]
        ),
        route("gpt-5*", "", &[("compat", None)]),
        route("gpt-4o-mini", "", &[("compat", None)]),
    );
    let gw = TestGateway::start(&toml).await;
    (claude, compat, gw)
}

fn messages(model: &str) -> Value {
    json!({
        "model": model,
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "hi"}],
    })
}

async fn anthropic_post(gw: &TestGateway, body: &Value) -> reqwest::Response {
    gw.http
        .post(format!("{}/v1/messages", gw.url))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "claude-code-20250219")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn claude_code_ids_reach_anthropic_through_one_pattern_route_unchanged() {
    let (claude, compat, gw) = gateway().await;
    for (i, id) in CLAUDE_CODE_IDS.iter().enumerate() {
        let resp = anthropic_post(&gw, &messages(id)).await;
        assert_eq!(resp.status(), 200, "{id}");
        assert_eq!(header(&resp, "x-aigw-provider"), "claude");
        assert_eq!(header(&resp, "x-aigw-model"), *id);
        assert_eq!(header(&resp, "x-aigw-route-mode"), "direct");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["type"], "message", "{v}");
        let rec = &claude.proxied_requests()[i];
        assert_eq!(rec.path, "/v1/messages");
        assert_eq!(rec.model().as_deref(), Some(*id));
    }
    assert_eq!(compat.request_count(), 0);
    // Telemetry: the concrete name asked for and forwarded, the route as written.
    let events = gw.capture.wait(3).await;
    for (e, id) in events.iter().zip(CLAUDE_CODE_IDS) {
        assert_eq!(e.requested_model, id);
        assert_eq!(e.forwarded_model.as_deref(), Some(id));
        assert_eq!(e.route.as_deref(), Some("claude-*"));
    }
}

#[tokio::test]
async fn a_failing_anthropic_upstream_falls_back_with_the_name_templated() {
    let (claude, compat, gw) = gateway().await;
    claude.set_default(Behavior::status(529));
    let resp = anthropic_post(&gw, &messages("claude-sonnet-5")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "compat");
    assert_eq!(header(&resp, "x-aigw-model"), "openrouter/claude-sonnet-5");
    assert_eq!(header(&resp, "x-aigw-route-mode"), "model_fallback");
    // Translated to Chat Completions for the OpenAI-kind fallback.
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    let rec = &compat.proxied_requests()[0];
    assert_eq!(rec.path, "/v1/chat/completions");
    assert_eq!(rec.model().as_deref(), Some("openrouter/claude-sonnet-5"));
    assert_eq!(
        claude.proxied_requests()[0].model().as_deref(),
        Some("claude-sonnet-5")
    );

    // Codex-style names take `gpt-5*`, forwarded as sent.
    for id in ["gpt-5", "gpt-5-codex", "gpt-5.2-codex-max"] {
        let resp = gw.chat(&chat_body(id, false)).await;
        assert_eq!(resp.status(), 200, "{id}");
        assert_eq!(header(&resp, "x-aigw-model"), id);
    }
    let sent: Vec<_> = compat
        .proxied_requests()
        .iter()
        .map(|r| r.model())
        .collect();
    assert_eq!(
        sent[1..],
        [
            Some("gpt-5".into()),
            Some("gpt-5-codex".into()),
            Some("gpt-5.2-codex-max".into())
        ]
    );
    // No route matches and no provider lists it: 404, OpenAI shape.
    let resp = gw.chat(&chat_body("mistral-large", false)).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found", "{v}");
}

#[tokio::test]
async fn models_lists_concrete_names_never_patterns_in_both_shapes() {
    let (claude, compat, gw) = gateway().await;
    claude.set_models(&["claude-opus-4-8", "claude-sonnet-5"]);
    compat.set_models(&["gpt-5", "llama3.1:8b"]);

    let v: Value = gw
        .http
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "gpt-4o-mini",
            "claude-opus-4-8",
            "claude-sonnet-5",
            "gpt-5",
            "llama3.1:8b"
        ]
    );
    assert_eq!(v["data"][0]["object"], "model");
    assert_eq!(v["data"][1]["owned_by"], "claude");

    let resp = gw
        .http
        .get(format!("{}/v1/models", gw.url))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["has_more"], false);
    assert_eq!(v["first_id"], "gpt-4o-mini");
    assert_eq!(v["last_id"], "llama3.1:8b");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    assert_eq!(
        data[1],
        json!({"type": "model", "id": "claude-opus-4-8", "display_name": "claude-opus-4-8",
               "created_at": "1970-01-01T00:00:00Z"})
    );
    assert!(
        data.iter()
            .all(|m| !m["id"].as_str().unwrap().contains('*'))
    );
    // Claude Code's discovery keeps the `claude…` ids: two here.
    let kept = data
        .iter()
        .filter(|m| m["id"].as_str().unwrap().starts_with("claude"))
        .count();
    assert_eq!(kept, 2);
    // A page of it.
    let v: Value = gw
        .http
        .get(format!("{}/v1/models?limit=2&after_id=gpt-4o-mini", gw.url))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["first_id"], "claude-opus-4-8");
    assert_eq!(v["last_id"], "claude-sonnet-5");
    assert_eq!(v["has_more"], true);
}

#[tokio::test]
async fn a_model_only_a_pattern_routes_is_found_in_both_shapes() {
    let (_claude, _compat, gw) = gateway().await;
    // Listed by no provider (the fakes list `fake-model`), routed by `claude-*`.
    let get = |anthropic: bool, id: &str| {
        let mut rb = gw.http.get(format!("{}/v1/models/{id}", gw.url));
        if anthropic {
            rb = rb.header("anthropic-version", "2023-06-01");
        }
        rb.send()
    };
    let resp = get(false, "claude-opus-4-8").await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"id": "claude-opus-4-8", "object": "model", "created": 0, "owned_by": "aigw"})
    );
    let resp = get(true, "claude-haiku-4-5-20251001").await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "model");
    assert_eq!(v["id"], "claude-haiku-4-5-20251001");
    // Listed by a provider: found as before.
    assert_eq!(get(false, "fake-model").await.unwrap().status(), 200);
    // Neither: 404, in the asking protocol's shape.
    let resp = get(false, "mistral-large").await.unwrap();
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found", "{v}");
    let resp = get(true, "mistral-large").await.unwrap();
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "not_found_error", "{v}");
}

#[tokio::test]
async fn the_fallback_test_goes_through_the_pattern_route() {
    let (claude, compat, gw) = gateway().await;
    let (status, v) = gw
        .admin_post("/fallback-test", json!({"model": "claude-opus-4-8"}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["provider"], "compat");
    assert_eq!(v["model"], "openrouter/claude-opus-4-8");
    assert_eq!(v["route_mode"], "model_fallback");
    assert_eq!(v["route"], "claude-*");
    assert_eq!(claude.request_count(), 0);
    assert_eq!(
        compat.proxied_requests()[0].model().as_deref(),
        Some("openrouter/claude-opus-4-8")
    );
}

#[tokio::test]
async fn the_routes_preview_says_where_a_name_goes() {
    let (_claude, _compat, gw) = gateway().await;
    let (status, v) = gw.admin_get("/routes").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["routes"][0]["model"], "claude-*");
    assert_eq!(v["routes"][0]["pattern"], true);
    assert_eq!(v["routes"][2]["pattern"], false);
    assert!(v.get("matched").is_none(), "{v}");

    let (_, v) = gw.admin_get("/routes?model=claude-opus-4-8").await;
    assert_eq!(
        v["matched"],
        json!({"model": "claude-opus-4-8", "kind": "pattern", "route": "claude-*", "targets": [
            {"provider": "claude", "model": "claude-opus-4-8", "weight": 1},
            {"provider": "compat", "model": "openrouter/claude-opus-4-8", "weight": 1},
        ]})
    );
    let (_, v) = gw.admin_get("/routes?model=gpt-4o-mini").await;
    assert_eq!(v["matched"]["kind"], "exact");
    let (_, v) = gw.admin_get("/routes?model=compat/llama3.1:8b").await;
    assert_eq!(v["matched"]["kind"], "provider");
    assert_eq!(v["matched"]["route"], Value::Null);
    assert_eq!(v["matched"]["targets"][0]["model"], "llama3.1:8b");
    let (_, v) = gw.admin_get("/routes?model=fake-model").await;
    assert_eq!(v["matched"]["kind"], "catalog");
    let (_, v) = gw.admin_get("/routes?model=mistral-large").await;
    assert_eq!(v["matched"]["kind"], Value::Null);
    assert_eq!(v["matched"]["targets"], json!([]));
    let (status, v) = gw
        .admin_get(&format!("/routes?model={}", "x".repeat(300)))
        .await;
    assert_eq!(status, 400, "{v}");
}
