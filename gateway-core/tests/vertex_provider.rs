//! `kind = "vertex"` providers against a fake Vertex AI
//! (`testkit::FakeVertex`) and its token endpoint, which verifies the JWT
//! grant (RS256 with the test service account's key, iss/aud/scope/exp):
//! chat, Messages and Responses clients on Gemini and Claude models, plain
//! and streamed; one grant for many requests; short-lived tokens fetched
//! again; a 401 answered with a new token; a refused service account as a
//! fallback signal; the probe. Service accounts live in the test's private
//! Secret Service (run through rt.sh: AIGW_TEST_KEYRING=1).

use serde_json::{Value, json};
use testkit::{FakeUpstream, FakeVertex};

use crate::common::{KeychainEntry, TestGateway, header, provider, route, streamed_text};

/// A service-account JSON in the keychain under a name of this test's own,
/// removed on drop.
type Sa = KeychainEntry;

fn stored_sa(tag: &str, json: &str) -> Option<Sa> {
    KeychainEntry::set(&format!("aigw-vertex-{tag}"), json)
}

fn vertex_provider(v: &FakeVertex, sa: &Sa) -> String {
    format!(
        "[[providers]]\nname = \"{}\"\nkind = \"vertex\"\nproject = \"my-project\"\n\
         region = \"us-central1\"\nservice_account = \"keyring:{}\"\nbase_url = \"{}\"\n\
         timeout_s = 5\n",
        v.name(),
        sa.0,
        v.base_url()
    )
}

/// A gateway with `g` → Gemini and `c` → Claude on the fake Vertex.
async fn gateway(v: &FakeVertex, sa: &Sa) -> TestGateway {
    let toml = format!(
        "{}{}{}",
        vertex_provider(v, sa),
        route("g", "", &[(v.name(), Some("gemini-2.5-flash"))]),
        route("c", "", &[(v.name(), Some("claude-sonnet-4-5@20250929"))]),
    );
    TestGateway::start(&toml).await
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

/// The `data` JSON of each SSE event.
fn events(body: &str) -> Vec<Value> {
    testkit::parse_sse(body)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .collect()
}

/// Text deltas of a Messages stream.
fn messages_text(body: &str) -> String {
    events(body)
        .iter()
        .filter(|e| e["type"] == "content_block_delta")
        .filter_map(|e| e["delta"]["text"].as_str().map(str::to_string))
        .collect()
}

/// Text deltas of a Responses stream.
fn responses_text(body: &str) -> String {
    events(body)
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn every_client_reaches_gemini_and_claude_on_vertex_with_one_token() {
    let v = FakeVertex::start("vx", "my-project", "us-central1").await;
    let Some(sa) = stored_sa("clients", &v.service_account_json()) else {
        return;
    };
    let gw = gateway(&v, &sa).await;
    let gemini = "Hello from Vertex Gemini";
    let claude = "Hello from Vertex Claude";

    // Chat completions.
    for (model, want) in [("g", gemini), ("c", claude)] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 32});
        let (s, r) = json_of(gw.chat(&body).await).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["choices"][0]["message"]["content"], want, "{model}");
        let mut body = body;
        body["stream"] = true.into();
        let resp = gw.chat(&body).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(streamed_text(&resp.text().await.unwrap()), want, "{model}");
    }
    // Messages.
    for (model, want) in [("g", gemini), ("c", claude)] {
        let body = json!({"model": model, "max_tokens": 32, "system": "Be brief.",
            "messages": [{"role": "user", "content": "hi"}]});
        let (s, r) = json_of(gw.post("/v1/messages", &body).await).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["type"], "message");
        assert_eq!(r["content"][0]["text"], want, "{model}");
        let mut body = body;
        body["stream"] = true.into();
        let resp = gw.post("/v1/messages", &body).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(messages_text(&resp.text().await.unwrap()), want, "{model}");
    }
    // Responses.
    for (model, want) in [("g", gemini), ("c", claude)] {
        let body = json!({"model": model, "input": "hi", "max_output_tokens": 32});
        let (s, r) = json_of(gw.post("/v1/responses", &body).await).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["object"], "response");
        assert_eq!(r["output"][0]["content"][0]["text"], want, "{model}");
        let mut body = body;
        body["stream"] = true.into();
        let resp = gw.post("/v1/responses", &body).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(responses_text(&resp.text().await.unwrap()), want, "{model}");
    }

    // Twelve requests, one grant; every one with that token, none with a key.
    assert_eq!(v.grants(), 1, "refused: {:?}", v.refused_grants());
    let reqs = v.requests();
    assert_eq!(reqs.len(), 12);
    for r in &reqs {
        assert_eq!(
            r.header("authorization").as_deref(),
            Some("Bearer ya29.fake-1")
        );
        assert!(r.header("x-goog-api-key").is_none());
        assert!(
            r.path
                .starts_with("/v1/projects/my-project/locations/us-central1/publishers/")
        );
    }
    let paths: Vec<String> = reqs
        .iter()
        .map(|r| match &r.query {
            Some(q) => format!("{}?{q}", r.path.rsplit('/').next().unwrap()),
            None => r.path.rsplit('/').next().unwrap().to_string(),
        })
        .collect();
    let g = "gemini-2.5-flash";
    let c = "claude-sonnet-4-5@20250929";
    let want: Vec<String> = (0..3)
        .flat_map(|_| {
            [
                format!("{g}:generateContent"),
                format!("{g}:streamGenerateContent?alt=sse"),
                format!("{c}:rawPredict"),
                format!("{c}:streamRawPredict"),
            ]
        })
        .collect();
    assert_eq!(paths, want);
    // A Messages client's body reaches Claude as it was, but for `model`
    // (in the path) and Vertex's `anthropic_version`.
    let sent = reqs[6].json();
    assert!(sent.get("model").is_none(), "{sent}");
    assert_eq!(sent["anthropic_version"], "vertex-2023-10-16");
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(sent["messages"], json!([{"role": "user", "content": "hi"}]));
    // Gemini gets the Gemini API's body.
    let sent = reqs[4].json();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(sent["contents"][0]["parts"][0]["text"], "hi");
}

#[tokio::test]
async fn concurrent_requests_wait_for_one_grant() {
    let v = FakeVertex::start("vx", "my-project", "us-central1").await;
    let Some(sa) = stored_sa("flight", &v.service_account_json()) else {
        return;
    };
    let gw = gateway(&v, &sa).await;
    let body = json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]});
    let all = futures_util::future::join_all((0..8).map(|_| gw.chat(&body))).await;
    for r in all {
        assert_eq!(r.status(), 200);
    }
    assert_eq!(v.grants(), 1);
    assert_eq!(v.requests().len(), 8);
}

#[tokio::test]
async fn tokens_about_to_expire_are_fetched_again() {
    let v = FakeVertex::start("vx", "my-project", "us-central1").await;
    let Some(sa) = stored_sa("expiry", &v.service_account_json()) else {
        return;
    };
    let gw = gateway(&v, &sa).await;
    let body =
        json!({"model": "c", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    // A token with a minute to live is inside the five-minute refresh
    // margin: used once, then replaced.
    v.set_expires_in(60);
    for n in 1..=3 {
        let (s, r) = json_of(gw.post("/v1/messages", &body).await).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(v.grants(), n);
        let used = v.requests().last().unwrap().header("authorization");
        assert_eq!(used, Some(format!("Bearer ya29.fake-{n}")));
    }
    // An hour-long one is kept.
    v.set_expires_in(3600);
    for _ in 0..3 {
        let (s, _) = json_of(gw.post("/v1/messages", &body).await).await;
        assert_eq!(s, 200);
    }
    assert_eq!(v.grants(), 4);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let v = FakeVertex::start("vx", "my-project", "us-central1").await;
    let Some(sa) = stored_sa("revoked", &v.service_account_json()) else {
        return;
    };
    let gw = gateway(&v, &sa).await;
    let body = json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(gw.chat(&body).await.status(), 200);
    assert_eq!(v.grants(), 1);
    v.revoke_tokens();
    let (s, r) = json_of(gw.chat(&body).await).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["choices"][0]["message"]["content"],
        "Hello from Vertex Gemini"
    );
    assert_eq!(v.grants(), 2);
    let used: Vec<_> = v
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap())
        .collect();
    assert_eq!(
        used,
        [
            "Bearer ya29.fake-1",
            "Bearer ya29.fake-1",
            "Bearer ya29.fake-2"
        ]
    );
    // The new token is cached.
    assert_eq!(gw.chat(&body).await.status(), 200);
    assert_eq!(v.grants(), 2);
}

#[tokio::test]
async fn a_refused_service_account_falls_back_to_another_kind() {
    let v = FakeVertex::start("vx", "my-project", "us-central1").await;
    let Some(sa) = stored_sa("foreign", &v.foreign_service_account_json()) else {
        return;
    };
    let oa = FakeUpstream::start("oa").await;
    let toml = format!(
        "{}{}{}{}",
        vertex_provider(&v, &sa),
        provider(&oa, ""),
        route(
            "fast",
            "",
            &[
                (v.name(), Some("gemini-2.5-flash")),
                ("oa", Some("gpt-4o-mini"))
            ]
        ),
        route("only", "", &[(v.name(), Some("claude-sonnet-4-5"))]),
    );
    let gw = TestGateway::start(&toml).await;
    let body = json!({"model": "fast", "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.chat(&body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    assert_eq!(header(&r, "x-aigw-attempts"), "2");
    // The grant was checked and refused; no prediction was tried.
    assert_eq!(v.grants(), 0);
    assert!(
        v.refused_grants()[0].contains("Invalid JWT Signature"),
        "{:?}",
        v.refused_grants()
    );
    assert!(v.requests().is_empty());
    // With nothing to fall back to: a 502 that says why, quoting no secret.
    let body = json!({"model": "only", "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.chat(&body).await;
    assert_eq!(r.status(), 502);
    let text = r.text().await.unwrap();
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let ev = gw.capture.wait(2).await;
    let last = ev.last().unwrap();
    assert_eq!(last.error.as_deref(), Some("auth_failed"), "{last:?}");

    // A reference that holds no service account: a key error, and fallback.
    let Some(junk) = stored_sa("junk", "{\"type\": \"service_account\"}") else {
        return;
    };
    let toml = format!(
        "{}{}{}",
        vertex_provider(&v, &junk),
        provider(&oa, ""),
        route(
            "fast",
            "",
            &[
                (v.name(), Some("gemini-2.5-flash")),
                ("oa", Some("gpt-4o-mini"))
            ]
        ),
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw.chat(&body_of("fast")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "oa");
    let (s, p) = gw.admin_post("/providers/vx/probe", json!({})).await;
    assert_eq!(s, 200, "{p}");
    assert!(
        p["error"].as_str().unwrap().contains("no client_email"),
        "{p}"
    );
    assert_eq!(p["key"], "missing");
}

fn body_of(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn the_probe_gets_a_token_then_asks_about_a_model() {
    let v = FakeVertex::start("vx", "my-project", "us-central1").await;
    let Some(sa) = stored_sa("probe", &v.service_account_json()) else {
        return;
    };
    let gw = gateway(&v, &sa).await;
    // `/v1/models` asks Vertex nothing (it has no per-project list).
    let r = gw
        .http
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(v.requests().is_empty());
    assert_eq!(v.grants(), 0);
    let (s, p) = gw.admin_post("/providers/vx/probe", json!({})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["reachable"], true, "{p}");
    assert_eq!(p["auth_ok"], true, "{p}");
    assert_eq!(p["models"], json!(["gemini-2.5-flash"]));
    assert_eq!(v.grants(), 1);
    let r = &v.requests()[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/v1/publishers/google/models/gemini-2.5-flash");

    let Some(bad) = stored_sa("probe-bad", &v.foreign_service_account_json()) else {
        return;
    };
    let gw = gateway(&v, &bad).await;
    let (s, p) = gw.admin_post("/providers/vx/probe", json!({})).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["auth_ok"], false, "{p}");
    let e = p["error"].as_str().unwrap();
    assert!(e.contains("invalid_grant") && !e.contains("PRIVATE"), "{e}");
}

/// A Gemini client (the `/v1beta/models/…` ingress) reaches Gemini on
/// Vertex as it is and Claude on Vertex through Messages, whole and
/// streamed.
#[tokio::test]
async fn gemini_clients_reach_gemini_and_claude_on_vertex() {
    let v = FakeVertex::start("vx", "my-project", "us-central1").await;
    let Some(sa) = stored_sa("gemini-ingress", &v.service_account_json()) else {
        return;
    };
    let gw = gateway(&v, &sa).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 32}});
    for (model, want) in [
        ("g", "Hello from Vertex Gemini"),
        ("c", "Hello from Vertex Claude"),
    ] {
        let path = format!("/v1beta/models/{model}:generateContent");
        let (s, r) = json_of(gw.post(&path, &body).await).await;
        assert_eq!(s, 200, "{model}: {r}");
        assert_eq!(
            r["candidates"][0]["content"]["parts"][0]["text"], want,
            "{model}: {r}"
        );
        let path = format!("/v1beta/models/{model}:streamGenerateContent?alt=sse");
        let resp = gw.post(&path, &body).await;
        assert_eq!(resp.status(), 200, "{model}");
        let said: String = events(&resp.text().await.unwrap())
            .iter()
            .filter_map(|e| {
                e["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(said, want, "{model}");
    }
    let paths: Vec<String> = v.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("gemini-2.5-flash:generateContent")),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.ends_with(":streamRawPredict")),
        "{paths:?}"
    );
}
