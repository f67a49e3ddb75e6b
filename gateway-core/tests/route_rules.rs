//! Error-class fallback, retry rules, the elapsed-time budget and the cost
//! strategy, against real fake upstreams.

use crate::common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Behavior, FakeUpstream};

const CTX: &str = r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
const AZURE_FILTER: &str = r#"{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#;

fn status_body(status: u16, body: &str) -> Behavior {
    Behavior::Status {
        status,
        retry_after: None,
        body: Some(body.to_string()),
    }
}

async fn two(route_extra: &str) -> (FakeUpstream, FakeUpstream, TestGateway) {
    let small = FakeUpstream::start("small").await;
    let big = FakeUpstream::start("big").await;
    let toml = format!(
        "{}{}{}",
        provider(&small, ""),
        provider(&big, ""),
        route(
            "m",
            route_extra,
            &[("small", None), ("big", Some("big-model"))]
        )
    );
    let gw = TestGateway::start(&toml).await;
    (small, big, gw)
}

#[tokio::test]
async fn a_context_length_400_is_served_by_the_next_target_when_the_route_falls_back_on_it() {
    let (small, big, gw) = two("fallback_on = [\"context_length_exceeded\"]").await;
    small.push(status_body(400, CTX));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "big");
    assert_eq!(header(&r, "x-aigw-route-mode"), "model_fallback");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from big");
    let ev = gw.capture.wait(1).await;
    assert_eq!(
        ev[0].attempts[0].error.as_deref(),
        Some("context_length_exceeded")
    );
    // Health-neutral: the small target stays preferred and healthy.
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "small");
    assert_eq!((small.request_count(), big.request_count()), (2, 1));
}

#[tokio::test]
async fn without_fallback_on_the_400_goes_back_to_the_client_as_before() {
    let (small, big, gw) = two("").await;
    small.push(status_body(400, CTX));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    assert_eq!(big.request_count(), 0);
}

#[tokio::test]
async fn a_content_filter_refusal_falls_back_and_the_last_one_is_relayed() {
    let (small, big, gw) = two("fallback_on = [\"content_filter\"]").await;
    small.push(status_body(400, AZURE_FILTER));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "big");
    // Both refuse: the client gets the last upstream's own 400.
    small.push(status_body(400, AZURE_FILTER));
    big.push(status_body(400, AZURE_FILTER));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "content_filter");
}

#[tokio::test]
async fn a_class_target_outside_the_route_takes_only_that_class() {
    let small = FakeUpstream::start("small").await;
    let other = FakeUpstream::start("other").await;
    let big = FakeUpstream::start("big").await;
    let toml = format!(
        "{}{}{}{}[routes.fallback_targets]\ncontext_length_exceeded = [\"big/huge-ctx\"]\n",
        provider(&small, ""),
        provider(&other, ""),
        provider(&big, ""),
        route("m", "", &[("small", None), ("other", None)])
    );
    let gw = TestGateway::start(&toml).await;
    small.push(status_body(400, CTX));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "big");
    assert_eq!(header(&r, "x-aigw-model"), "huge-ctx");
    assert_eq!(other.request_count(), 0);
    // An outage is not a too-long prompt: the route's own fallback.
    small.push(Behavior::status(503));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "other");
    assert_eq!(big.request_count(), 1);
}

#[tokio::test]
async fn retry_on_message_falls_back_on_an_overloaded_4xx() {
    let overloaded =
        r#"{"error":{"message":"The server is Overloaded, try again","type":"server_busy"}}"#;
    let (small, big, gw) = two("retry_on_message = [\"overloaded\"]").await;
    small.push(status_body(400, overloaded));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "big");
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].attempts[0].error.as_deref(), Some("retry_rule"));
    // retry_on_status, with a retry pass over the one target
    let one = FakeUpstream::start("one").await;
    let toml = format!(
        "{}[routing]\nretry_backoff_ms = 1\n{}",
        provider(&one, ""),
        route(
            "m",
            "retry_on_status = [409]\nretries = 1",
            &[("one", None)]
        )
    );
    let gw = TestGateway::start(&toml).await;
    one.push(Behavior::status(409));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(one.request_count(), 2);
    drop(big);
}

#[tokio::test]
async fn max_elapsed_s_stops_further_attempts_with_a_504() {
    let (small, big, gw) = two("max_elapsed_s = 1").await;
    small.push(Behavior::delay(Duration::from_secs(5), Behavior::Ok));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 504);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "upstream_timeout", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_elapsed_s"),
        "{v}"
    );
    assert_eq!(big.request_count(), 0);
}

#[tokio::test]
async fn the_cost_strategy_sends_to_the_cheapest_and_the_fallback_test_shows_the_order() {
    let pricey = FakeUpstream::start("pricey").await;
    let cheap = FakeUpstream::start("cheap").await;
    let unknown = FakeUpstream::start("unknown").await;
    let toml = format!(
        "{}{}{}{}\
         [[telemetry.prices]]\nprovider = \"pricey\"\ninput_per_mtok = 3\noutput_per_mtok = 15\n\
         [[telemetry.prices]]\nprovider = \"cheap\"\ninput_per_mtok = 0.15\noutput_per_mtok = 0.6\n",
        provider(&unknown, ""),
        provider(&pricey, ""),
        provider(&cheap, ""),
        route(
            "m",
            "strategy = \"cost\"",
            &[
                ("unknown", Some("no-such-model-priced")),
                ("pricey", None),
                ("cheap", None)
            ]
        )
    );
    let gw = TestGateway::start(&toml).await;
    for _ in 0..3 {
        let r = gw.chat(&chat_body("m", false)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-aigw-provider"), "cheap");
        assert_eq!(header(&r, "x-aigw-route-mode"), "direct");
    }
    cheap.push(Behavior::status(503));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "pricey");
    assert_eq!(unknown.request_count(), 0);

    let (s, t) = gw.admin_post("/fallback-test", json!({"model": "m"})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["provider"], "pricey", "{t}");
    let order = t["cost_order"].as_array().expect("cost_order");
    let names: Vec<&str> = order
        .iter()
        .map(|e| e["provider"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cheap", "pricey", "unknown"]);
    let (i, o) = (
        order[0]["input_tokens"].as_u64().unwrap(),
        order[0]["output_tokens"].as_u64().unwrap(),
    );
    assert_eq!(o, 8, "the fallback test asks for max_tokens 8");
    let want = (i as f64 * 0.15 + o as f64 * 0.6) / 1e6;
    assert!(
        (order[0]["estimated_usd"].as_f64().unwrap() - want).abs() < 1e-12,
        "{t}"
    );
    assert!(order[2]["estimated_usd"].is_null(), "{t}");
    // A route of another strategy has no cost order.
    let toml = format!(
        "{}{}",
        provider(&cheap, ""),
        route("p", "", &[("cheap", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let (_, t) = gw.admin_post("/fallback-test", json!({"model": "p"})).await;
    assert!(t.get("cost_order").is_none(), "{t}");
}

/// A target whose answers report prompt-cache reads is priced at its
/// cached-input rate for that share of the input: dearer per fresh token,
/// it becomes the cheapest once it has shown that it caches.
#[tokio::test]
async fn the_cost_strategy_prices_what_a_target_reads_from_its_cache_at_the_cached_rate() {
    let cacher = FakeUpstream::start("cacher").await;
    let plain = FakeUpstream::start("plain").await;
    let toml = format!(
        "{}{}{}\
         [[telemetry.prices]]\nprovider = \"cacher\"\ninput_per_mtok = 1.0\ncache_read_per_mtok = 0.1\noutput_per_mtok = 1.0\n\
         [[telemetry.prices]]\nprovider = \"plain\"\ninput_per_mtok = 0.5\noutput_per_mtok = 1.0\n",
        provider(&cacher, ""),
        provider(&plain, ""),
        route(
            "m",
            "strategy = \"cost\"",
            &[("cacher", None), ("plain", None)]
        )
    );
    let gw = TestGateway::start(&toml).await;
    // ~10,000 input tokens, one output token: input decides the price.
    let mut body = chat_body("m", false);
    body["messages"][0]["content"] = json!("x".repeat(40_000));
    body["max_tokens"] = json!(1);
    let r = gw.chat(&body).await;
    assert_eq!(
        header(&r, "x-aigw-provider"),
        "plain",
        "cheaper per fresh token"
    );
    // plain fails once; cacher serves and says 90 % of the input was cached
    plain.push(Behavior::status(503));
    cacher.push(Behavior::Json(json!({
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 10000, "completion_tokens": 1, "total_tokens": 10001,
                  "prompt_tokens_details": {"cached_tokens": 9000}}
    })));
    let r = gw.chat(&body).await;
    assert_eq!(header(&r, "x-aigw-provider"), "cacher");
    // 1,000 fresh at 1.0 + 9,000 cached at 0.1 < 10,000 at 0.5
    let r = gw.chat(&body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "cacher", "now the cheapest");
    assert_eq!(header(&r, "x-aigw-route-mode"), "direct");
}
