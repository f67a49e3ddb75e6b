//! The client surface: endpoints, passthrough, bad input, auth, limits,
//! the Host/Origin guard, `/v1/models`, cancellation and shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)]

use crate::common;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};

async fn one(extra_toml: &str, provider_extra: &str) -> (FakeUpstream, TestGateway) {
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "{extra_toml}\n{}{}",
        provider(&up, provider_extra),
        route("m", "", &[("up", None)])
    );
    (up, TestGateway::start(&toml).await)
}

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["type"].is_string(), "{v}");
    assert!(v["error"]["code"].is_string(), "{v}");
    (status, v)
}

#[tokio::test]
async fn unknown_fields_pass_through_byte_for_byte() {
    let (_primary, backup, gw) = pair("").await;
    _primary.push(Behavior::status(500));
    let sent = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}],
 "temperature":0.70,"x_vendor":{"keep":[1,2.50,"\u00e9"]},"stream_options":null, "seed": 12345678901234567890}"#;
    let resp = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.url))
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = backup.proxied_requests()[0].body.clone();
    let expected = sent.replacen("\"model\":\"gpt-4o-mini\"", "\"model\":\"llama-3.1-8b\"", 1);
    assert_eq!(std::str::from_utf8(&got).unwrap(), expected);
    // without a rewrite the very same bytes arrive
    let (up, gw) = one("", "").await;
    let sent = sent.replace("gpt-4o-mini", "m");
    gw.http
        .post(format!("{}/v1/chat/completions", gw.url))
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(up.proxied_requests()[0].body, sent.as_bytes());
}

#[tokio::test]
async fn streamed_tool_calls_arrive_intact() {
    let (up, gw) = one("", "").await;
    up.push(Behavior::ToolCall);
    let mut body = chat_body("m", true);
    body["tools"] = json!([{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]);
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let text = resp.text().await.unwrap();
    let mut args = String::new();
    let mut name = None;
    let mut finish = None;
    for d in testkit::parse_sse(&text) {
        if d == "[DONE]" {
            continue;
        }
        let v: Value = serde_json::from_str(&d).unwrap();
        let c = &v["choices"][0];
        if let Some(tc) = c["delta"]["tool_calls"].get(0) {
            if let Some(n) = tc["function"]["name"].as_str() {
                name = Some(n.to_string());
            }
            args.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
        if let Some(f) = c["finish_reason"].as_str() {
            finish = Some(f.to_string());
        }
    }
    assert_eq!(name.as_deref(), Some("get_weather"));
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city":"Paris"})
    );
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    // the tools array reached the upstream untouched
    assert_eq!(up.proxied_requests()[0].json()["tools"], body["tools"]);
}

#[tokio::test]
async fn stream_with_usage_and_telemetry() {
    let (up, gw) = one("", "").await;
    let mut body = chat_body("m", true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = gw.chat(&body).await;
    assert_eq!(header(&resp, "x-aigw-route-mode"), "direct");
    let text = resp.text().await.unwrap();
    assert_eq!(streamed_text(&text), "Hello from up");
    assert!(text.contains("\"usage\""));
    let ev = gw.capture.wait(1).await;
    assert!(ev[0].stream && !ev[0].cancelled && ev[0].error.is_none());
    assert_eq!(ev[0].tokens_in, Some(10));
    assert_eq!(ev[0].tokens_out, Some(3));
    assert!(ev[0].ttft_ms.is_some());
    assert_eq!(
        up.proxied_requests()[0].json()["stream_options"]["include_usage"],
        true
    );
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let (up, gw) = one("", "").await;
    up.push(Behavior::Stream {
        deltas: (0..100).map(|i| format!("t{i} ")).collect(),
        interval: Duration::from_millis(50),
    });
    let mut resp = gw.chat(&chat_body("m", true)).await;
    // read the first content, then hang up
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(resp);
    assert!(
        up.wait_cancelled(1, Duration::from_secs(5)).await,
        "upstream stream still running"
    );
    let ev = gw.capture.wait(1).await;
    assert!(ev[0].cancelled);
    assert_eq!(ev[0].error.as_deref(), Some("client_cancelled"));
}

#[tokio::test]
async fn other_endpoints_are_proxied() {
    let (up, gw) = one("", "").await;
    let r = gw
        .post("/v1/completions", &json!({"model":"m","prompt":"hi"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["object"],
        "text_completion"
    );
    let r = gw
        .post("/v1/embeddings", &json!({"model":"m","input":["a","b"]}))
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = gw
        .post("/v1/responses", &json!({"model":"m","input":"hi"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "up");
    let r = gw
        .post(
            "/v1/responses",
            &json!({"model":"m","input":"hi","stream":true}),
        )
        .await;
    let text = r.text().await.unwrap();
    assert!(
        text.contains("response.output_text.delta") && text.contains("response.completed"),
        "{text}"
    );
    let r = gw
        .post(
            "/v1/completions",
            &json!({"model":"m","prompt":"hi","stream":true}),
        )
        .await;
    assert!(r.text().await.unwrap().contains("[DONE]"));
    let paths: Vec<String> = up
        .proxied_requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/completions",
            "/v1/embeddings",
            "/v1/responses",
            "/v1/responses",
            "/v1/completions"
        ]
    );
}

#[tokio::test]
async fn bad_input_gets_openai_shaped_errors() {
    let (up, gw) = one("[server]\nmax_body_bytes = 2048", "").await;
    let post = |body: &'static str| {
        gw.http
            .post(format!("{}/v1/chat/completions", gw.url))
            .body(body)
            .send()
    };
    let (s, v) = error_of(post("{\"model\": ").await.unwrap()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (s, v) = error_of(post("[]").await.unwrap()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (s, v) = error_of(post("{\"messages\":[]}").await.unwrap()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_model"))
    );
    let (s, v) = error_of(post(r#"{"model":"m","stream":"yes"}"#).await.unwrap()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_stream"))
    );
    let big = json!({"model":"m","messages":[{"role":"user","content":"x".repeat(4096)}]});
    let (s, v) = error_of(gw.chat(&big).await).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    // chunked body without content-length is cut off at the limit too
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..10)
        .map(|_| Ok(bytes::Bytes::from(vec![b' '; 512])))
        .collect();
    let r = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.url))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let (s, v) = error_of(gw.chat(&chat_body("no-such-model", false)).await).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model")
    );
    let (s, _) = error_of(
        gw.http
            .get(format!("{}/v1/nope", gw.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = error_of(
        gw.http
            .get(format!("{}/v1/chat/completions", gw.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 405);
    assert_eq!(up.request_count(), 0, "nothing bad reached the upstream");
}

#[tokio::test]
async fn ingress_rate_limit_gives_429_with_retry_after() {
    let (up, gw) = one("[limits]\ningress_rpm = 2", "").await;
    for _ in 0..2 {
        assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    }
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 429);
    let ra: u64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=30).contains(&ra), "{ra}");
    let (_, v) = error_of(r).await;
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(up.request_count(), 2);
}

#[tokio::test]
async fn provider_rpm_skips_to_the_next_target_or_refuses_locally() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let toml = format!(
        "{}{}{}{}",
        provider(&a, "rpm = 1"),
        provider(&b, "rpm = 1"),
        route("m", "", &[("a", None), ("b", None)]),
        route("only-a", "", &[("a", Some("m"))])
    );
    let gw = TestGateway::start(&toml).await;
    let r1 = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r1, "x-aigw-provider"), "a");
    let r2 = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r2, "x-aigw-provider"), "b");
    assert_eq!(header(&r2, "x-aigw-route-mode"), "provider_fallback");
    let r3 = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r3.status(), 429);
    assert!(header(&r3, "retry-after").parse::<u64>().unwrap() >= 1);
    let (_, v) = error_of(r3).await;
    assert_eq!(v["error"]["code"], "provider_rate_limited");
    assert_eq!((a.request_count(), b.request_count()), (1, 1));
}

#[tokio::test]
async fn provider_queue_waits_for_a_slot() {
    // 600 tpm = 10 tokens a second; a queue of 10 s lets a request wait.
    let (up, gw) = one("", "tpm = 600\nqueue_timeout_ms = 10000").await;
    // one answer that used the whole minute's budget (its estimate is cut
    // to the budget, its usage settles it at 600)
    up.push(Behavior::Json(json!({
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 599, "completion_tokens": 1, "total_tokens": 600}
    })));
    let mut spend = chat_body("m", false);
    spend["max_tokens"] = json!(5000);
    assert_eq!(gw.chat(&spend).await.status(), 200);
    // ~21 tokens estimated: about 2 s until they are back
    let mut small = chat_body("m", false);
    small["max_tokens"] = json!(1);
    let t0 = std::time::Instant::now();
    let r = gw.chat(&small).await;
    assert_eq!(r.status(), 200);
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "did not wait for a slot"
    );
    assert_eq!(up.request_count(), 2);
}

#[tokio::test]
async fn host_and_origin_guard() {
    let (up, gw) = one("[server]\ncors_origins = [\"http://localhost:5173\"]", "").await;
    let url = format!("{}/v1/chat/completions", gw.url);
    // DNS rebinding: a foreign Host is refused
    let r = gw
        .http
        .post(&url)
        .header("host", "evil.example:4000")
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    let (s, v) = error_of(r).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("host_not_allowed"))
    );
    // a simple cross-origin POST that skips preflight is refused
    let r = gw
        .http
        .post(&url)
        .header("origin", "http://evil.example")
        .header("content-type", "text/plain")
        .body(chat_body("m", false).to_string())
        .send()
        .await
        .unwrap();
    let (s, v) = error_of(r).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("cross_origin_refused"))
    );
    let r = gw
        .http
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(up.request_count(), 0);
    // an allowed origin gets CORS, preflight included
    let r = gw
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "http://localhost:5173"
    );
    let r = gw
        .http
        .post(&url)
        .header("origin", "http://localhost:5173")
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "http://localhost:5173"
    );
    // same-origin and localhost hosts are fine
    let r = gw
        .http
        .post(&url)
        .header("origin", gw.url.clone())
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let port = gw.handle.local_addr().port();
    let r = gw
        .http
        .post(&url)
        .header("host", format!("localhost:{port}"))
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn models_lists_routes_and_provider_models_deduplicated() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    a.set_models(&["gpt-4o", "shared", "m"]);
    b.set_models(&["llama3.1:8b", "shared"]);
    let toml = format!(
        "{}{}{}",
        provider(&a, "models = [\"static-one\"]"),
        provider(&b, ""),
        route("m", "", &[("a", None)])
    );
    let gw = TestGateway::start(&toml).await;
    let r = gw
        .http
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<(&str, &str)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["owned_by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ids,
        [
            ("m", "aigw"),
            ("static-one", "a"),
            ("gpt-4o", "a"),
            ("shared", "a"),
            ("llama3.1:8b", "b")
        ]
    );
    // cached: a second call does not ask the providers again
    gw.http
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap();
    let lists = a
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/models")
        .count();
    assert_eq!(lists, 1);
    let r = gw
        .http
        .get(format!("{}/v1/models/llama3.1:8b", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["owned_by"], "b");

    // unrouted models go to the first provider listing them
    let r = gw.chat(&chat_body("llama3.1:8b", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    assert_eq!(header(&r, "x-aigw-route-mode"), "direct");
    let r = gw.chat(&chat_body("shared", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "a");
    // provider/model addresses one provider directly
    let r = gw.chat(&chat_body("b/some-model", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    assert_eq!(header(&r, "x-aigw-model"), "some-model");
    assert_eq!(
        b.proxied_requests().last().unwrap().model().as_deref(),
        Some("some-model")
    );
}

#[tokio::test]
async fn healthz() {
    let (_up, gw) = one("", "").await;
    let r = gw
        .http
        .get(format!("{}/healthz", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn shutdown_lets_in_flight_streams_finish() {
    let (up, gw) = one("", "").await;
    up.push(Behavior::Stream {
        deltas: vec!["a".into(), "b".into(), "c".into()],
        interval: Duration::from_millis(200),
    });
    let resp = gw.chat(&chat_body("m", true)).await;
    assert_eq!(resp.status(), 200);
    let TestGateway {
        handle, url, http, ..
    } = gw;
    let stopping = tokio::spawn(handle.shutdown());
    let body = resp.text().await.unwrap();
    assert_eq!(streamed_text(&body), "abc");
    assert!(body.contains("[DONE]"));
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .unwrap()
        .unwrap();
    // and it no longer accepts connections
    assert!(http.get(format!("{url}/healthz")).send().await.is_err());
}

/// Errors a retry cannot fix say so (`x-should-retry: false`, read by the
/// OpenAI and Anthropic SDKs), gateway-made or relayed from the upstream;
/// a rate limit does not.
#[tokio::test]
async fn errors_a_retry_cannot_fix_say_so() {
    let (up, gw) = one("[limits]\ningress_rpm = 3", "").await;
    let should_retry = |r: &reqwest::Response| {
        r.headers()
            .get("x-should-retry")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let r = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.url))
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), should_retry(&r)),
        (400, Some("false".into()))
    );
    let r = gw.chat(&chat_body("no-such-model", false)).await;
    assert_eq!(
        (r.status().as_u16(), should_retry(&r)),
        (404, Some("false".into()))
    );
    up.set_default(Behavior::Status {
        status: 403,
        retry_after: None,
        body: None,
    });
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "up");
    assert_eq!(
        (r.status().as_u16(), should_retry(&r)),
        (403, Some("false".into()))
    );
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!((r.status().as_u16(), should_retry(&r)), (429, None));
    let r = gw
        .http
        .get(format!("{}/v1/nope", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), should_retry(&r)),
        (404, Some("false".into()))
    );
}

/// Upstream headers clients use come back (request ids, rate-limit state,
/// processing time), on an answer and on a relayed failure; others do not.
#[tokio::test]
async fn upstream_request_ids_and_rate_limits_are_relayed() {
    let (up, gw) = one("", "").await;
    let answer = r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;
    let raw = |status: u16, extra: &[(&str, &str)]| {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Behavior::Hostile(testkit::Hostile::Raw {
            status,
            headers,
            body: bytes::Bytes::from_static(answer.as_bytes()),
        })
    };
    up.push(raw(
        200,
        &[
            ("x-request-id", "up-123"),
            ("openai-processing-ms", "7"),
            ("x-ratelimit-remaining-requests", "99"),
            ("anthropic-ratelimit-tokens-remaining", "5000"),
            ("set-cookie", "session=1"),
            ("x-internal", "no"),
        ],
    ));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-request-id"), "up-123");
    assert_eq!(header(&r, "openai-processing-ms"), "7");
    assert_eq!(header(&r, "x-ratelimit-remaining-requests"), "99");
    assert_eq!(header(&r, "anthropic-ratelimit-tokens-remaining"), "5000");
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.headers().get("x-internal").is_none());
    // the last upstream's 429, relayed with its rate-limit headers
    up.push(raw(
        429,
        &[("x-ratelimit-reset-requests", "2s"), ("request-id", "r-9")],
    ));
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-ratelimit-reset-requests"), "2s");
    assert_eq!(header(&r, "request-id"), "r-9");
}
