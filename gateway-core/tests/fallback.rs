//! Every fallback signal in PRODUCT.md against real fake upstreams, and the
//! breaker around it: cooldown, Retry-After, half-open recovery.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)]

use crate::common;
use std::time::Duration;

use common::*;
use serde_json::Value;
use testkit::{Behavior, FakeUpstream};

async fn assert_falls_back(primary_behavior: Behavior, expect_class: &str) {
    let (primary, backup, gw) = pair("").await;
    primary.push(primary_behavior);
    let resp = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "backup");
    assert_eq!(header(&resp, "x-aigw-model"), "llama-3.1-8b");
    assert_eq!(header(&resp, "x-aigw-route-mode"), "model_fallback");
    assert_eq!(header(&resp, "x-aigw-attempts"), "2");
    assert!(header(&resp, "x-aigw-request-id").starts_with("req_"));
    let overhead: f64 = header(&resp, "x-aigw-overhead-ms").parse().unwrap();
    assert!(overhead >= 0.0);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello from backup");
    assert_eq!(primary.request_count(), 1);
    assert_eq!(
        backup.proxied_requests()[0].model().as_deref(),
        Some("llama-3.1-8b")
    );
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].attempts.len(), 2);
    assert_eq!(ev[0].attempts[0].provider, "primary");
    assert_eq!(ev[0].attempts[0].error.as_deref(), Some(expect_class));
    assert_eq!(ev[0].attempts[1].error, None);
    assert_eq!(ev[0].provider.as_deref(), Some("backup"));
}

#[tokio::test]
async fn falls_back_on_429() {
    assert_falls_back(
        Behavior::Status {
            status: 429,
            retry_after: Some(7),
            body: None,
        },
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn falls_back_on_500_502_503_and_408() {
    for s in [500, 502, 503] {
        assert_falls_back(Behavior::status(s), "upstream_5xx").await;
    }
    assert_falls_back(Behavior::status(408), "timeout").await;
}

#[tokio::test]
async fn falls_back_on_timeout() {
    // provider timeout_s = 2 in `pair`
    assert_falls_back(Behavior::Hang, "timeout").await;
}

#[tokio::test]
async fn falls_back_on_stream_dying_before_content() {
    let (primary, backup, gw) = pair("").await;
    primary.push(Behavior::StreamDieBeforeContent);
    let resp = gw.chat(&chat_body("gpt-4o-mini", true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "backup");
    assert_eq!(header(&resp, "x-aigw-route-mode"), "model_fallback");
    let body = resp.text().await.unwrap();
    assert_eq!(streamed_text(&body), "Hello from backup");
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    // the client never saw the primary's preamble
    assert_eq!(body.matches("\"role\":\"assistant\"").count(), 1, "{body}");
    assert_eq!(primary.request_count(), 1);
    assert_eq!(backup.request_count(), 1);
}

#[tokio::test]
async fn stream_dying_after_content_ends_with_an_error_event() {
    let (primary, backup, gw) = pair("").await;
    primary.push(Behavior::StreamDieAfterContent { after: 2 });
    let resp = gw.chat(&chat_body("gpt-4o-mini", true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "primary");
    assert_eq!(header(&resp, "x-aigw-route-mode"), "direct");
    let body = resp.text().await.unwrap();
    let frames = testkit::parse_sse(&body);
    assert_eq!(streamed_text(&body), "tok0tok1");
    let last: Value = serde_json::from_str(frames.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "stream_broken", "{body}");
    assert!(
        !body.contains("[DONE]"),
        "a broken stream must not look complete: {body}"
    );
    assert_eq!(backup.request_count(), 0);
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].error.as_deref(), Some("stream_broken"));
}

#[tokio::test]
async fn stalled_stream_hits_the_idle_timeout() {
    let primary = FakeUpstream::start("primary").await;
    let toml = format!(
        "{}{}",
        provider(&primary, "timeout_s = 5\nstream_idle_timeout_s = 1"),
        route("m", "", &[("primary", None)])
    );
    let gw = TestGateway::start(&toml).await;
    primary.push(Behavior::StreamStallAfterContent { after: 1 });
    let resp = gw.chat(&chat_body("m", true)).await;
    let body = resp.text().await.unwrap();
    assert_eq!(streamed_text(&body), "tok0");
    assert!(body.contains("\"code\":\"stream_idle_timeout\""), "{body}");
    assert!(
        primary.wait_cancelled(1, Duration::from_secs(5)).await,
        "upstream not closed"
    );
}

#[tokio::test]
async fn falls_back_on_connection_refused() {
    let backup = FakeUpstream::start("backup").await;
    let dead = testkit::refused_addr().await;
    let toml = format!(
        "[[providers]]\nname = \"primary\"\nkind = \"openai\"\nbase_url = \"http://{dead}/v1\"\n{}{}",
        provider(&backup, ""),
        route("gpt-4o-mini", "", &[("primary", None), ("backup", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let resp = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-provider"), "backup");
    // same model name on another provider
    assert_eq!(header(&resp, "x-aigw-route-mode"), "provider_fallback");
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].attempts[0].error.as_deref(), Some("connect"));
}

#[tokio::test]
async fn client_errors_are_returned_as_is_without_fallback() {
    let (primary, backup, gw) = pair("").await;
    let body = r#"{"error":{"message":"bad 'temperature'","type":"invalid_request_error","code":"bad_param"}}"#;
    primary.push(Behavior::Status {
        status: 400,
        retry_after: None,
        body: Some(body.into()),
    });
    let resp = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-aigw-provider"), "primary");
    assert_eq!(resp.text().await.unwrap(), body);
    assert_eq!(backup.request_count(), 0);
    // a client error does not cool the target down
    let resp = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(header(&resp, "x-aigw-provider"), "primary");
}

#[tokio::test]
async fn all_targets_failing_returns_the_last_upstream_answer() {
    let (primary, backup, gw) = pair("").await;
    primary.push(Behavior::status(503));
    backup.push(Behavior::Status {
        status: 429,
        retry_after: Some(12),
        body: None,
    });
    let resp = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), "12");
    assert_eq!(header(&resp, "x-aigw-provider"), "backup");
    assert_eq!(header(&resp, "x-aigw-attempts"), "2");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn all_targets_unreachable_gives_502_in_openai_shape() {
    let dead = testkit::refused_addr().await;
    let toml = format!(
        "[[providers]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"http://{dead}/v1\"\n{}",
        route("m", "", &[("a", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let resp = gw.chat(&chat_body("m", false)).await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "api_error");
    assert_eq!(v["error"]["code"], "upstream_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
}

#[tokio::test]
async fn retry_after_sets_the_cooldown_and_half_open_recovers() {
    // route cooldown is long; the upstream's Retry-After (1 s) wins
    let (primary, backup, gw) = pair("cooldown_s = 600").await;
    primary.push(Behavior::Status {
        status: 429,
        retry_after: Some(1),
        body: None,
    });
    let r1 = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(header(&r1, "x-aigw-provider"), "backup");
    // cooling down: primary is skipped entirely
    let r2 = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(header(&r2, "x-aigw-provider"), "backup");
    assert_eq!(header(&r2, "x-aigw-route-mode"), "model_fallback");
    assert_eq!(header(&r2, "x-aigw-attempts"), "1");
    assert_eq!(primary.request_count(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // half-open: one probe goes to primary, succeeds, breaker closes
    let r3 = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(header(&r3, "x-aigw-provider"), "primary");
    assert_eq!(header(&r3, "x-aigw-route-mode"), "direct");
    let r4 = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(header(&r4, "x-aigw-provider"), "primary");
    assert_eq!(primary.request_count(), 3);
    assert_eq!(backup.request_count(), 2);
}

#[tokio::test]
async fn failed_half_open_probe_reopens_the_breaker() {
    let (primary, backup, gw) = pair("cooldown_s = 1").await;
    primary.push(Behavior::status(429));
    gw.chat(&chat_body("gpt-4o-mini", false)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    primary.push(Behavior::status(500));
    let r = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "backup");
    assert_eq!(primary.request_count(), 2);
    // open again: skipped
    let r = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(header(&r, "x-aigw-attempts"), "1");
    assert_eq!(primary.request_count(), 2);
    assert_eq!(backup.request_count(), 3);
}

#[tokio::test]
async fn breaker_opens_after_failure_threshold() {
    let (primary, _backup, gw) = pair("failure_threshold = 2").await;
    primary.set_default(Behavior::status(500));
    for _ in 0..4 {
        let r = gw.chat(&chat_body("gpt-4o-mini", false)).await;
        assert_eq!(r.status(), 200);
    }
    // two failures open it; the next two requests skip primary
    assert_eq!(primary.request_count(), 2);
}

#[tokio::test]
async fn all_cooling_down_tries_the_one_that_ends_soonest() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let toml = format!(
        "{}{}{}",
        provider(&a, ""),
        provider(&b, ""),
        route("m", "cooldown_s = 600", &[("a", None), ("b", None)])
    );
    let gw = TestGateway::start(&toml).await;
    a.push(Behavior::Status {
        status: 429,
        retry_after: Some(300),
        body: None,
    });
    b.push(Behavior::Status {
        status: 429,
        retry_after: Some(100),
        body: None,
    });
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 429);
    // both cooling down now; b's cooldown ends first, so b is tried
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    assert_eq!((a.request_count(), b.request_count()), (1, 2));
}

#[tokio::test]
async fn retries_are_bounded_by_max_attempts() {
    let a = FakeUpstream::start("a").await;
    let toml = format!(
        "[routing]\nmax_attempts = 3\nretry_backoff_ms = 1\n{}{}",
        provider(&a, ""),
        route("m", "retries = 10\nfailure_threshold = 100", &[("a", None)])
    );
    let gw = TestGateway::start(&toml).await;
    a.set_default(Behavior::status(502));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 502);
    assert_eq!(header(&r, "x-aigw-attempts"), "3");
    assert_eq!(a.request_count(), 3);
    // a retry pass can succeed
    a.set_default(Behavior::Ok);
    a.push(Behavior::status(503));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-attempts"), "2");
}

#[tokio::test]
async fn missing_provider_key_fails_over_with_a_clear_reason() {
    let (primary, backup) = (
        FakeUpstream::start("primary").await,
        FakeUpstream::start("backup").await,
    );
    let toml = format!(
        "{}{}{}",
        provider(&primary, "api_key = \"env:AIGW_TEST_DEFINITELY_UNSET_1\""),
        provider(&backup, ""),
        route("m", "", &[("primary", None), ("backup", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "backup");
    assert_eq!(primary.request_count(), 0);
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].attempts[0].error.as_deref(), Some("key_missing"));
}
