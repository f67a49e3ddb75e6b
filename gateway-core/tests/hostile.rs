//! Hostile upstreams (issue 15): an upstream that lies — garbage, half a
//! JSON, an error inside a 200, redirects, bodies and preambles that never
//! end, keys echoed back, `Retry-After` values no clock can hold, stream
//! events of unknown types — is an upstream failure: a fallback signal
//! while a target is left, a 502 in the client's shape when none is, and
//! never the client's success. Each protocol pair, passthrough and
//! translated, follows the same rule.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::zombie_processes)]

use crate::common;
use crate::wire;

use std::time::Duration;

use common::aigw::Aigw;
use common::*;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream, Hostile};

/// How a client reaches a provider kind.
#[derive(Clone, Copy, Debug)]
struct Pair {
    path: &'static str,
    kind: &'static str,
    /// `responses = "translate"` on an OpenAI-kind provider.
    responses_translate: bool,
}

const PAIRS: [Pair; 6] = [
    Pair {
        path: "/v1/chat/completions",
        kind: "openai",
        responses_translate: false,
    },
    Pair {
        path: "/v1/chat/completions",
        kind: "anthropic",
        responses_translate: false,
    },
    Pair {
        path: "/v1/messages",
        kind: "openai",
        responses_translate: false,
    },
    Pair {
        path: "/v1/messages",
        kind: "anthropic",
        responses_translate: false,
    },
    Pair {
        path: "/v1/responses",
        kind: "openai",
        responses_translate: false,
    },
    Pair {
        path: "/v1/responses",
        kind: "openai",
        responses_translate: true,
    },
];

fn body_for(path: &str, model: &str, stream: bool) -> Value {
    match path {
        "/v1/messages" => json!({"model": model, "max_tokens": 64, "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}),
        "/v1/responses" => json!({"model": model, "input": "hi", "stream": stream}),
        _ => chat_body(model, stream),
    }
}

fn provider_of(up: &FakeUpstream, p: Pair, extra: &str) -> String {
    let extra = if p.responses_translate {
        format!("responses = \"translate\"\n{extra}")
    } else {
        extra.to_string()
    };
    format!(
        "[[providers]]\nname = \"{}\"\nkind = \"{}\"\nbase_url = \"{}\"\ntimeout_s = 5\n{extra}\n",
        up.name(),
        p.kind,
        up.base_url()
    )
}

/// A hostile primary and a healthy backup behind route `m`, the primary
/// alone behind route `solo`; the breaker never opens (so every request
/// tries the primary first).
async fn setup(p: Pair, server: &str) -> (FakeUpstream, FakeUpstream, TestGateway) {
    let primary = FakeUpstream::start("primary").await;
    let backup = FakeUpstream::start("backup").await;
    let never_open = "failure_threshold = 1000\nrate_limit_threshold = 1000";
    let toml = format!(
        "{server}\n{}{}{}{}",
        provider_of(&primary, p, ""),
        provider_of(&backup, p, ""),
        route(
            "m",
            never_open,
            &[("primary", None), ("backup", Some("backup-model"))]
        ),
        route("solo", never_open, &[("primary", None)]),
    );
    (primary, backup, TestGateway::start(&toml).await)
}

/// The client's text of a 200 answer (whole or streamed), whatever its protocol.
async fn answer_text(resp: reqwest::Response) -> String {
    resp.text().await.unwrap()
}

/// `primary` (behaving like `b`) fails over to `backup`; alone, it gives a
/// 502 with `code` in the client's shape.
async fn assert_upstream_failure(p: Pair, b: Behavior, code: &str, stream: bool, server: &str) {
    let (primary, _backup, gw) = setup(p, server).await;
    primary.push(b.clone());
    let resp = gw.post(p.path, &body_for(p.path, "m", stream)).await;
    assert_eq!(resp.status(), 200, "{p:?} {b:?}");
    assert_eq!(header(&resp, "x-aigw-provider"), "backup", "{p:?} {b:?}");
    assert_eq!(header(&resp, "x-aigw-route-mode"), "model_fallback");
    let text = answer_text(resp).await;
    assert!(
        text.contains("backup") || text.contains("Hello"),
        "{p:?} {b:?}: {text}"
    );
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev[0].attempts.len(), 2, "{p:?} {b:?}");
    assert_eq!(
        ev[0].attempts[0].error.as_deref(),
        Some(code),
        "{p:?} {b:?}"
    );

    primary.push(b.clone());
    let resp = gw.post(p.path, &body_for(p.path, "solo", stream)).await;
    assert_eq!(resp.status(), 502, "{p:?} {b:?}");
    assert_eq!(header(&resp, "x-aigw-provider"), "primary");
    let v: Value = resp.json().await.unwrap();
    if p.path == "/v1/messages" {
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], "api_error", "{v}");
    } else {
        assert_eq!(v["error"]["code"], code, "{p:?} {b:?}: {v}");
        assert_eq!(v["error"]["type"], "api_error", "{v}");
    }
    let ev = gw.capture.wait(2).await;
    assert_eq!(ev[1].status, 502);
    assert_eq!(ev[1].error.as_deref(), Some(code), "{p:?} {b:?}");
}

#[tokio::test]
async fn a_2xx_that_is_not_an_answer_is_an_upstream_failure_for_every_protocol_pair() {
    for p in PAIRS {
        for b in [
            Behavior::garbage(),
            Behavior::half_json(),
            Behavior::from(Hostile::ErrorIn200),
            Behavior::raw(200, "application/json", r#"{"id":"x","object":"nothing"}"#),
            Behavior::raw(204, "application/json", ""),
        ] {
            assert_upstream_failure(p, b, "bad_upstream_body", false, "").await;
        }
    }
}

#[tokio::test]
async fn a_valid_passthrough_answer_keeps_its_bytes() {
    let p = PAIRS[0];
    let (primary, _b, gw) = setup(p, "").await;
    let body = r#"{"id":"x",  "object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"exact"},"finish_reason":"stop"}],"error":null,"vendor_field":{"k":[1,2]}}"#;
    primary.push(Behavior::raw(200, "application/json", body));
    let resp = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&resp, "x-aigw-provider"), "primary");
    assert_eq!(resp.text().await.unwrap(), body);
}

#[tokio::test]
async fn a_stream_of_garbage_before_content_falls_back() {
    for p in PAIRS {
        assert_upstream_failure(
            p,
            Behavior::from(Hostile::StreamGarbage),
            "bad_upstream_body",
            true,
            "",
        )
        .await;
    }
}

#[tokio::test]
async fn redirects_are_upstream_failures_never_followed_or_relayed() {
    for status in [301, 302, 303, 307, 308] {
        let (primary, backup, gw) = setup(PAIRS[0], "").await;
        // The target of the redirect is a healthy server: following it would succeed.
        let target = format!("{}/chat/completions", backup.base_url());
        primary.push(Behavior::redirect(status, &target));
        let resp = gw.chat(&chat_body("m", false)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-aigw-provider"), "backup");
        primary.push(Behavior::redirect(status, &target));
        let resp = gw.chat(&chat_body("solo", false)).await;
        assert_eq!(resp.status(), 502, "{status}");
        assert!(resp.headers().get("location").is_none());
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "upstream_redirect");
        // Only the one fallback request reached the backup: nothing followed.
        assert_eq!(backup.request_count(), 1);
    }
    assert_upstream_failure(
        PAIRS[3],
        Behavior::redirect(302, "http://127.0.0.1:9/"),
        "upstream_redirect",
        false,
        "",
    )
    .await;
}

#[tokio::test]
async fn a_retry_after_no_clock_can_hold_neither_panics_nor_blocks_fallback() {
    let values = [
        ("retry-after-ms", "inf"),
        ("retry-after-ms", "-inf"),
        ("retry-after-ms", "NaN"),
        ("retry-after-ms", "-5"),
        ("retry-after-ms", "1e30"),
        ("retry-after-ms", "1e400"),
        ("retry-after", "99999999999999999999999"),
        ("retry-after", "18446744073709551615"),
        ("retry-after", "-1"),
        ("retry-after", "soon"),
    ];
    for (name, value) in values {
        let (primary, backup, gw) = setup(PAIRS[0], "").await;
        primary.push(Behavior::retry_after_raw(429, name, value));
        let resp = gw.chat(&chat_body("m", false)).await;
        assert_eq!(resp.status(), 200, "{name}: {value}");
        assert_eq!(
            header(&resp, "x-aigw-provider"),
            "backup",
            "{name}: {value}"
        );
        assert_eq!(backup.request_count(), 1);
        let ev = gw.capture.wait(1).await;
        assert_eq!(ev[0].attempts[0].error.as_deref(), Some("rate_limited"));
        // Alone, the 429 comes back with a Retry-After a client can use.
        primary.push(Behavior::retry_after_raw(429, name, value));
        let resp = gw.chat(&chat_body("solo", false)).await;
        assert_eq!(resp.status(), 429, "{name}: {value}");
    }
}

#[tokio::test]
async fn retry_after_cooldowns_are_cut_to_routing_max_cooldown_s() {
    let primary = FakeUpstream::start("primary").await;
    let backup = FakeUpstream::start("backup").await;
    let toml = format!(
        "[routing]\nmax_cooldown_s = 1\n{}{}{}",
        provider(&primary, ""),
        provider(&backup, ""),
        route("m", "", &[("primary", None), ("backup", None)]),
    );
    let gw = TestGateway::start(&toml).await;
    // Asks for 10^27 seconds of rest.
    primary.push(Behavior::retry_after_raw(429, "retry-after-ms", "1e30"));
    let resp = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&resp, "x-aigw-provider"), "backup");
    let resp = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&resp, "x-aigw-provider"), "backup", "cooling down");
    // the cap (1 s) and a margin, as the other 1 s cooldowns wait
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = gw.chat(&chat_body("m", false)).await;
    assert_eq!(
        header(&resp, "x-aigw-provider"),
        "primary",
        "cooldown capped at 1 s"
    );
}

#[tokio::test]
async fn answers_over_max_upstream_body_bytes_fall_back() {
    let server = "[server]\nmax_upstream_body_bytes = 65536";
    for p in [PAIRS[0], PAIRS[2], PAIRS[3]] {
        let b = Behavior::from(Hostile::HugeBody { bytes: 1_000_000 });
        assert_upstream_failure(p, b, "upstream_body_too_large", false, server).await;
    }
    // Just under the cap is an answer.
    let (primary, _b, gw) = setup(PAIRS[0], server).await;
    primary.push(Behavior::from(Hostile::HugeBody { bytes: 60_000 }));
    let resp = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&resp, "x-aigw-provider"), "primary");
    assert!(resp.bytes().await.unwrap().len() > 60_000);
}

#[tokio::test]
async fn a_preamble_that_never_turns_into_content_falls_back() {
    for p in [PAIRS[0], PAIRS[1], PAIRS[2], PAIRS[3]] {
        let b = Behavior::from(Hostile::PreambleFlood { bytes: 3 << 20 });
        assert_upstream_failure(p, b, "upstream_body_too_large", true, "").await;
    }
    // A short preamble is held and then relayed.
    let (primary, _b, gw) = setup(PAIRS[0], "").await;
    primary.push(Behavior::from(Hostile::PreambleFlood { bytes: 100_000 }));
    let resp = gw.chat(&chat_body("m", true)).await;
    assert_eq!(header(&resp, "x-aigw-provider"), "primary");
    assert_eq!(streamed_text(&resp.text().await.unwrap()), "Hello");
}

#[tokio::test]
async fn an_event_of_unknown_type_does_not_commit_a_stream() {
    for p in [PAIRS[0], PAIRS[1], PAIRS[2], PAIRS[3]] {
        let (primary, _backup, gw) = setup(p, "").await;
        primary.push(Behavior::from(Hostile::StreamUnknownThenDie));
        let resp = gw.post(p.path, &body_for(p.path, "m", true)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-aigw-provider"), "backup", "{p:?}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("backup"), "{p:?}: {text}");
        assert!(!text.contains("error"), "{p:?}: {text}");
        let ev = gw.capture.wait(1).await;
        assert_eq!(ev[0].attempts[0].error.as_deref(), Some("stream_broken"));
    }
}

/// Peak resident memory of a process, in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb / 1024.0
}

/// The bound the docs state (docs/operations.md, "Limits and timeouts"):
/// with the default caps (32 MiB body, 1 MiB preamble) the gateway's peak
/// RSS stays under this however much an upstream sends.
const RSS_BOUND_MIB: f64 = 100.0;

#[tokio::test]
async fn memory_stays_bounded_whatever_one_upstream_sends() {
    let primary = FakeUpstream::start("primary").await;
    let backup = FakeUpstream::start("backup").await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}{}{}",
        provider(&primary, "timeout_s = 60"),
        provider(&backup, ""),
        route(
            "m",
            "failure_threshold = 1000",
            &[("primary", None), ("backup", None)]
        ),
    );
    // A child process, so its memory is its own.
    let aigw = Aigw::serve_config(dir.path(), &toml, &[]);
    let pid = aigw.child.id();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", aigw.url);
    let before = peak_rss_mib(pid);

    // 100 MB of preamble before any content.
    primary.push(Behavior::from(Hostile::PreambleFlood {
        bytes: 100_000_000,
    }));
    let r = http
        .post(&url)
        .json(&chat_body("m", true))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-aigw-provider"), "backup");
    assert_eq!(streamed_text(&r.text().await.unwrap()), "Hello from backup");

    // A 300 MB answer.
    primary.push(Behavior::from(Hostile::HugeBody { bytes: 300_000_000 }));
    let r = http
        .post(&url)
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-provider"), "backup");

    let peak = peak_rss_mib(pid);
    eprintln!(
        "aigw peak RSS: {before:.1} MiB at start, {peak:.1} MiB after 400 MB of hostile upstream"
    );
    assert!(
        peak < RSS_BOUND_MIB,
        "peak RSS {peak:.1} MiB over the stated bound of {RSS_BOUND_MIB} MiB"
    );
}

const KEY: &str = "sk-live-echoed-7f3a9c21d4";

#[tokio::test]
async fn keys_an_upstream_echoes_never_reach_the_client_or_the_log() {
    let oa = FakeUpstream::start("oa").await;
    let an = FakeUpstream::start("an").await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[telemetry]\nstore_bodies = true\n{}{}{}{}",
        provider(&oa, "api_key = \"env:UP_KEY\""),
        wire::anthropic_provider(&an, "api_key = \"env:UP_KEY\""),
        route("via-oa", "", &[("oa", None)]),
        route("via-an", "", &[("an", None)]),
    );
    let mut aigw = Aigw::serve_config(dir.path(), &toml, &[("UP_KEY", KEY)]);
    let http = reqwest::Client::new();
    let cases: [(&FakeUpstream, &str, &str, Behavior, u16); 7] = [
        // passthrough 401
        (
            &oa,
            "/v1/chat/completions",
            "via-oa",
            Behavior::from(Hostile::EchoKey {
                status: 401,
                stream_after: None,
            }),
            401,
        ),
        // the final 5xx
        (
            &oa,
            "/v1/chat/completions",
            "via-oa",
            Behavior::from(Hostile::EchoKey {
                status: 500,
                stream_after: None,
            }),
            500,
        ),
        // translated to Anthropic's shape
        (
            &oa,
            "/v1/messages",
            "via-oa",
            Behavior::from(Hostile::EchoKey {
                status: 401,
                stream_after: None,
            }),
            401,
        ),
        // translated from Anthropic's shape (x-api-key)
        (
            &an,
            "/v1/chat/completions",
            "via-an",
            Behavior::from(Hostile::EchoKey {
                status: 401,
                stream_after: None,
            }),
            401,
        ),
        (
            &an,
            "/v1/messages",
            "via-an",
            Behavior::from(Hostile::EchoKey {
                status: 529,
                stream_after: None,
            }),
            529,
        ),
        // streamed error events, passthrough and translated
        (
            &oa,
            "/v1/chat/completions",
            "via-oa",
            Behavior::from(Hostile::EchoKey {
                status: 200,
                stream_after: Some(2),
            }),
            200,
        ),
        (
            &an,
            "/v1/chat/completions",
            "via-an",
            Behavior::from(Hostile::EchoKey {
                status: 200,
                stream_after: Some(2),
            }),
            200,
        ),
    ];
    for (up, path, model, b, status) in cases {
        up.push(b.clone());
        let stream = status == 200;
        let r = http
            .post(format!("{}{path}", aigw.url))
            .json(&body_for(path, model, stream))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{path} {model} {b:?}");
        let text = r.text().await.unwrap();
        assert!(!text.contains(KEY), "{path} {model} {b:?}: {text}");
        assert!(text.contains("[REDACTED]"), "{path} {model} {b:?}: {text}");
        if stream {
            assert!(text.contains("tok1"), "{text}");
        }
    }
    // The upstreams did get the key, and the request log never has it.
    assert!(
        oa.requests()[0]
            .header("authorization")
            .unwrap()
            .contains(KEY)
    );
    // What the request log stored (bodies included) is scrubbed too.
    let mut stored = Vec::new();
    for _ in 0..250 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        stored.clear();
        for f in std::fs::read_dir(dir.path().join("data")).unwrap() {
            let f = f.unwrap().path();
            if f.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("telemetry")
            {
                stored.extend(std::fs::read(&f).unwrap());
            }
        }
        if memchr_count(&stored, b"[REDACTED]") >= 7 {
            break;
        }
    }
    assert!(
        memchr_count(&stored, b"[REDACTED]") >= 7,
        "bodies not stored"
    );
    assert_eq!(memchr_count(&stored, KEY.as_bytes()), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines = aigw.log_lines().join("\n");
    assert!(!lines.contains(KEY), "{lines}");
}

fn memchr_count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}
