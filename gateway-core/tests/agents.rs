//! What the real coding agents need from the gateway's answers (issue 17;
//! measured with the real clients in tests/agents/): Codex's WebSocket
//! attempt on `/v1/responses` gets the answer that makes it stream over
//! HTTP at once, and a 502 no retry can fix says so, so Claude Code stops
//! where it would stop talking to that upstream directly.

use crate::common;

use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};

async fn gateway(kind: &str) -> (FakeUpstream, TestGateway) {
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "[[providers]]\nname = \"up\"\nkind = \"{kind}\"\nbase_url = \"{}\"\ntimeout_s = 5\n\n{}",
        up.base_url(),
        route("m", "", &[("up", None)])
    );
    (up, TestGateway::start(&toml).await)
}

fn should_retry(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("x-should-retry")
        .map(|v| v.to_str().unwrap().to_string())
}

/// Codex 0.171 opens `GET /v1/responses` with `Upgrade: websocket` first.
/// 426 is what it takes as "no WebSocket here" and falls back to SSE on
/// the spot (to 404/405/501 it retried the upgrade six more times, about
/// 6 s a turn). A plain GET stays a 405; the POST still streams.
#[tokio::test]
async fn a_websocket_upgrade_on_responses_gets_426_and_nothing_goes_upstream() {
    let (up, gw) = gateway("openai").await;
    let r = gw
        .http
        .get(format!("{}/v1/responses", gw.url))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("openai-beta", "responses_websockets=2026-02-06")
        .header("authorization", "Bearer local")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 426);
    assert_eq!(header(&r, "content-type"), "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "websocket_not_supported", "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("HTTP"),
        "{v}"
    );

    let r = gw
        .http
        .get(format!("{}/v1/responses", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(header(&r, "allow"), "POST");
    assert_eq!(should_retry(&r).as_deref(), Some("false"));
    assert_eq!(up.request_count(), 0, "an upgrade attempt is not proxied");

    let r = gw
        .post(
            "/v1/responses",
            &json!({"model": "m", "input": "hi", "stream": true}),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("response.completed"));
}

/// An upstream that answers a non-streamed request with a body that is
/// not an answer (here an SSE stream, as a broken Anthropic-compatible
/// server did) gives a 502 `bad_upstream_body` with `x-should-retry:
/// false`: direct, Claude Code reads such a 200 as malformed and stops
/// within a second; as a retryable 502 it backed off ten times (over
/// 100 s). A 502 for a broken connection stays retryable, as it is direct.
#[tokio::test]
async fn a_502_for_an_answer_that_is_not_one_tells_clients_not_to_retry() {
    let (up, gw) = gateway("anthropic").await;
    let body = json!({"model": "m", "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}]});

    up.push(Behavior::StreamError { after: 2 });
    let r = gw.post("/v1/messages", &body).await;
    assert_eq!(r.status().as_u16(), 502);
    assert_eq!(should_retry(&r).as_deref(), Some("false"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "api_error", "{v}");

    // The same on the OpenAI side, translated.
    up.push(Behavior::garbage());
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status().as_u16(), 502);
    assert_eq!(should_retry(&r).as_deref(), Some("false"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_upstream_body", "{v}");

    // A connection cut mid-body: a retry may well work, as it would direct.
    up.push(Behavior::StreamDieAfterContent { after: 2 });
    let r = gw.post("/v1/messages", &body).await;
    assert_eq!(r.status().as_u16(), 502);
    assert_eq!(should_retry(&r), None);

    // And a stream that breaks after content still ends with Anthropic's
    // error event, then closes.
    up.push(Behavior::StreamDieAfterContent { after: 2 });
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let r = gw.post("/v1/messages", &streamed).await;
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    let last = testkit::parse_sse(&text).pop().unwrap();
    let last: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["type"], "error", "{text}");
    assert!(last["error"]["type"].is_string() && last["error"]["message"].is_string());
}
