//! What of the client's request head reaches the upstream: on passthrough
//! to the same protocol its query string and headers (not hop-by-hop ones,
//! credentials or the gateway's own), its user-agent with the gateway's
//! product token appended; `api_key = "client"` providers get the client's
//! own credential (a Claude subscription) while the gateway key travels in
//! `x-aigw-key`; `count_tokens` is counted upstream when it can be.

use crate::common;
use crate::wire;

use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, COUNTED_TOKENS, FakeUpstream};
use wire::anthropic_provider;

const UA: &str = "claude-cli/2.1.332 (external, cli)";
const PRODUCT: &str = concat!("aigw/", env!("CARGO_PKG_VERSION"));

fn messages(model: &str) -> Value {
    json!({
        "model": model,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    })
}

fn with_client_head(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.header("user-agent", UA)
        .header("anthropic-beta", "claude-code-20250219")
        .header("x-claude-code-session-id", "sess-1")
        .header("x-stainless-lang", "js")
        .header("x-app", "cli")
        .header("cookie", "session=secret")
        .header("referer", "https://example.test/page")
        .header("x-aigw-debug", "1")
        .header("x-forwarded-for", "10.0.0.1")
        .header("authorization", "Bearer client-own-token")
        .header("openai-organization", "org-of-the-clients-own-key")
}

#[tokio::test]
async fn passthrough_forwards_the_query_headers_and_user_agent() {
    let claude = FakeUpstream::start("claude").await;
    let toml = format!(
        "{}{}",
        anthropic_provider(&claude, "headers = { \"x-app\" = \"pinned\" }"),
        route("claude-x", "", &[("claude", Some("claude-sonnet-5"))])
    );
    let gw = TestGateway::start(&toml).await;
    let rb = gw
        .http
        .post(format!("{}/v1/messages?beta=true", gw.url))
        .json(&messages("claude-x"));
    let resp = with_client_head(rb).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    let rec = &claude.proxied_requests()[0];
    assert_eq!(rec.path, "/v1/messages");
    assert_eq!(rec.query.as_deref(), Some("beta=true"));
    assert_eq!(
        rec.header("user-agent").as_deref(),
        Some(&*format!("{UA} {PRODUCT}"))
    );
    assert_eq!(
        rec.header("x-claude-code-session-id").as_deref(),
        Some("sess-1")
    );
    assert_eq!(rec.header("x-stainless-lang").as_deref(), Some("js"));
    assert_eq!(
        rec.header("anthropic-beta").as_deref(),
        Some("claude-code-20250219")
    );
    // configured headers win over the client's, once
    let app: Vec<_> = rec.headers.get_all("x-app").iter().collect();
    assert_eq!(app, ["pinned"]);
    for never in [
        "cookie",
        "referer",
        "x-aigw-debug",
        "x-forwarded-for",
        "authorization",
        // scopes the client's own key, not the provider's
        "openai-organization",
    ] {
        assert!(rec.header(never).is_none(), "{never} was forwarded");
    }
    // the provider's own credential is what goes (none configured here)
    assert!(rec.header("x-api-key").is_none());
    assert_eq!(rec.json()["model"], "claude-sonnet-5");
}

#[tokio::test]
async fn translated_requests_keep_only_the_user_agent() {
    let claude = FakeUpstream::start("claude").await;
    let toml = format!(
        "{}{}",
        anthropic_provider(&claude, ""),
        route("gpt-x", "", &[("claude", Some("claude-sonnet-5"))])
    );
    let gw = TestGateway::start(&toml).await;
    let rb = gw
        .http
        .post(format!("{}/v1/chat/completions?beta=true", gw.url))
        .json(&chat_body("gpt-x", false));
    let resp = with_client_head(rb).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let rec = &claude.proxied_requests()[0];
    assert_eq!(rec.query, None);
    assert_eq!(
        rec.header("user-agent").as_deref(),
        Some(&*format!("{UA} {PRODUCT}"))
    );
    assert!(rec.header("x-stainless-lang").is_none());
    assert!(rec.header("x-claude-code-session-id").is_none());
}

#[tokio::test]
async fn without_a_client_user_agent_the_product_token_goes_alone() {
    let up = FakeUpstream::start("oa").await;
    let toml = format!("{}{}", provider(&up, ""), route("m", "", &[("oa", None)]));
    let gw = TestGateway::start(&toml).await;
    let resp = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("user-agent", "")
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let rec = &up.proxied_requests()[0];
    assert_eq!(rec.header("user-agent").as_deref(), Some(PRODUCT));
}

/// A subscriber: the gateway key in `x-aigw-key`, the client's own OAuth
/// token in `authorization`, forwarded to the `api_key = "client"`
/// provider and to no other.
#[tokio::test]
async fn client_credentials_pass_through_to_client_auth_providers() {
    let sub = FakeUpstream::start("sub").await;
    sub.set_required_key(Some("oauth-subscriber-token"));
    let keyed = FakeUpstream::start("keyed").await;
    let toml = format!(
        "[server]\nclient_keys = [\"env:PATH\"]\n{}{}{}{}",
        anthropic_provider(&sub, "api_key = \"client\""),
        anthropic_provider(&keyed, ""),
        route("claude-x", "", &[("sub", None), ("keyed", None)]),
        route("claude-keyed", "", &[("keyed", None)]),
    );
    let gw = TestGateway::start(&toml).await;
    let gateway_key = std::env::var("PATH").unwrap();
    let send = |model: &str, gw_key: Option<&str>, auth: &str| {
        let mut rb = gw
            .http
            .post(format!("{}/v1/messages", gw.url))
            .header("authorization", auth)
            .json(&messages(model));
        if let Some(k) = gw_key {
            rb = rb.header("x-aigw-key", k);
        }
        rb.send()
    };

    let resp = send(
        "claude-x",
        Some(&gateway_key),
        "Bearer oauth-subscriber-token",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "sub");
    let rec = &sub.proxied_requests()[0];
    assert_eq!(
        rec.header("authorization").as_deref(),
        Some("Bearer oauth-subscriber-token")
    );
    assert!(
        rec.header("x-aigw-key").is_none(),
        "the gateway key stays here"
    );

    // a wrong gateway key is refused before anything is forwarded
    let resp = send("claude-x", Some("wrong"), "Bearer oauth-subscriber-token")
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(sub.request_count(), 1);

    // the subscriber's token never reaches a provider with its own key
    let resp = send(
        "claude-keyed",
        Some(&gateway_key),
        "Bearer oauth-subscriber-token",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        keyed.proxied_requests()[0]
            .header("authorization")
            .is_none()
    );

    // the gateway key in authorization is not the client's own credential:
    // the client-auth target is skipped, the keyed one serves
    let resp = send("claude-x", None, &format!("Bearer {gateway_key}"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "keyed");
    assert_eq!(sub.request_count(), 1);
    let attempts = header(&resp, "x-aigw-attempts");
    assert_eq!(attempts, "2", "{attempts}");

    // a rejected subscription token is the client's to fix: relayed, and
    // the target is not cooled down for the next request
    let resp = send("claude-x", Some(&gateway_key), "Bearer expired")
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(header(&resp, "x-should-retry"), "false");
    let resp = send(
        "claude-x",
        Some(&gateway_key),
        "Bearer oauth-subscriber-token",
    )
    .await
    .unwrap();
    assert_eq!(header(&resp, "x-aigw-provider"), "sub");
}

#[tokio::test]
async fn client_auth_openai_providers_get_a_bearer_token() {
    let up = FakeUpstream::start("chatgpt").await;
    up.set_required_key(Some("codex-login-token"));
    let toml = format!(
        "{}{}",
        provider(&up, "api_key = \"client\""),
        route("gpt-5-codex", "", &[("chatgpt", None)])
    );
    let gw = TestGateway::start(&toml).await;
    // no client keys: the client's credential is its own
    let resp = gw
        .http
        .post(format!("{}/v1/responses", gw.url))
        .header("x-api-key", "codex-login-token")
        .header("chatgpt-account-id", "acct-1")
        .json(&json!({"model": "gpt-5-codex", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let rec = &up.proxied_requests()[0];
    assert_eq!(
        rec.header("authorization").as_deref(),
        Some("Bearer codex-login-token")
    );
    // what scopes the client's credential goes with it
    assert_eq!(rec.header("chatgpt-account-id").as_deref(), Some("acct-1"));
}

#[tokio::test]
async fn count_tokens_is_counted_upstream_for_anthropic_targets() {
    let claude = FakeUpstream::start("claude").await;
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}{}",
        anthropic_provider(&claude, ""),
        provider(&oa, ""),
        route("claude-x", "", &[("claude", Some("claude-sonnet-5"))]),
        route("local-x", "", &[("oa", None)]),
    );
    let gw = TestGateway::start(&toml).await;
    let count = |model: &'static str| {
        let gw = &gw;
        async move {
            let r = gw
                .http
                .post(format!("{}/v1/messages/count_tokens?beta=true", gw.url))
                .header("anthropic-beta", "token-counting-2024-11-01")
                .json(&messages(model))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let how = header(&r, "x-aigw-token-count");
            let v: Value = r.json().await.unwrap();
            (status, how, v)
        }
    };

    let (s, how, v) = count("claude-x").await;
    assert_eq!((s, how.as_str()), (200, "upstream"));
    assert_eq!(v["input_tokens"], COUNTED_TOKENS);
    let rec = &claude.proxied_requests()[0];
    assert_eq!(rec.path, "/v1/messages/count_tokens");
    assert_eq!(rec.query.as_deref(), Some("beta=true"));
    assert_eq!(rec.json()["model"], "claude-sonnet-5");
    assert_eq!(
        rec.header("anthropic-beta").as_deref(),
        Some("token-counting-2024-11-01")
    );

    // an OpenAI-protocol target: estimated here, nothing sent
    let (s, how, v) = count("local-x").await;
    assert_eq!((s, how.as_str()), (200, "estimate"));
    assert!(v["input_tokens"].as_u64().unwrap() < COUNTED_TOKENS);
    assert_eq!(oa.request_count(), 0);

    // an upstream without the endpoint (404) is estimated around, again and
    // again, and never cools the target down for real requests
    claude.set_count_tokens_status(Some(404));
    for _ in 0..5 {
        let (s, how, _) = count("claude-x").await;
        assert_eq!((s, how.as_str()), (200, "estimate"));
    }
    claude.push(Behavior::Ok);
    let resp = gw.post("/v1/messages", &messages("claude-x")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "claude");

    // the client's own mistakes come back as the upstream said
    claude.set_count_tokens_status(Some(400));
    let (s, how, v) = count("claude-x").await;
    assert_eq!((s, how.as_str()), (400, "upstream"));
    assert_eq!(v["type"], "error");
}
