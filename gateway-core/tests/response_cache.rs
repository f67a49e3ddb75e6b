//! The exact response cache (issue 18, item 5): opt-in per route with
//! `cache = { ttl_s = … }`; an identical request of the same client is
//! answered from the cache (`x-aigw-cache: hit`, route mode `cache`)
//! without reaching the upstream, streams replayed; errors, `temperature > 0`
//! and broken streams are never stored; entries expire and the least
//! recently used go first at the `server.cache_max_mb` bound.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common;

use common::*;
use gateway_core::vocab::RouteMode;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream, Hostile};

async fn cached(route_cache: &str, server: &str) -> (FakeUpstream, TestGateway) {
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "{server}{}{}",
        provider(&up, ""),
        route("m", route_cache, &[("up", None)])
    );
    (up, TestGateway::start(&toml).await)
}

const ON: &str = "cache = { ttl_s = 300 }";

fn body(text: &str) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": text}]})
}

impl TestGateway {
    async fn raw(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut rb = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (n, v) in headers {
            rb = rb.header(*n, *v);
        }
        rb.send().await.unwrap()
    }
}

async fn metric(gw: &TestGateway, name: &str) -> String {
    let text = gw
        .http
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test]
async fn a_second_identical_request_is_served_from_the_cache() {
    let (up, gw) = cached(ON, "").await;
    let r1 = gw.chat(&body("hi")).await;
    assert_eq!(r1.status(), 200);
    assert_eq!(header(&r1, "x-aigw-cache"), "miss");
    assert_eq!(header(&r1, "x-aigw-route-mode"), "direct");
    let a1: Value = r1.json().await.unwrap();

    let r2 = gw.chat(&body("hi")).await;
    assert_eq!(r2.status(), 200);
    assert_eq!(header(&r2, "x-aigw-cache"), "hit");
    assert_eq!(header(&r2, "x-aigw-route-mode"), "cache");
    assert_eq!(header(&r2, "x-aigw-provider"), "up");
    assert_eq!(header(&r2, "x-aigw-model"), "m");
    assert_eq!(header(&r2, "x-aigw-attempts"), "0");
    assert!(header(&r2, "content-type").starts_with("application/json"));
    let a2: Value = r2.json().await.unwrap();
    assert_eq!(a1, a2);
    assert_eq!(up.request_count(), 1, "the hit never reached the upstream");

    // Key order and whitespace are not part of the key.
    let reordered = r#"{ "messages": [{"content": "hi", "role": "user"}],  "model": "m" }"#;
    let r3 = gw.raw("/v1/chat/completions", reordered, &[]).await;
    assert_eq!(header(&r3, "x-aigw-cache"), "hit");
    // Another prompt is another entry.
    assert_eq!(
        header(&gw.chat(&body("other")).await, "x-aigw-cache"),
        "miss"
    );
    assert_eq!(up.request_count(), 2);

    let ev = gw.capture.wait(4).await;
    assert_eq!(ev[0].route_mode, Some(RouteMode::Direct));
    assert_eq!(ev[1].route_mode, Some(RouteMode::Cache));
    assert_eq!(
        (
            ev[1].status,
            ev[1].provider.as_deref(),
            ev[1].attempts.len()
        ),
        (200, Some("up"), 0)
    );
    assert_eq!(ev[1].cost_usd, Some(0.0));

    assert_eq!(metric(&gw, "aigw_cache_hits_total").await, "2");
    assert_eq!(metric(&gw, "aigw_cache_misses_total").await, "2");
    assert_eq!(metric(&gw, "aigw_cache_entries").await, "2");
    let bytes: u64 = metric(&gw, "aigw_cache_bytes").await.parse().unwrap();
    assert!(bytes > 0);
    let (s, stats) = gw.admin_get("/telemetry/cache").await;
    assert_eq!(s, 200);
    assert_eq!(
        (stats["hits"].as_u64(), stats["misses"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(stats["max_bytes"].as_u64(), Some(64 << 20));
    let (_, routes) = gw.admin_get("/routes").await;
    assert_eq!(routes["routes"][0]["cache_ttl_s"], 300);
}

#[tokio::test]
async fn a_route_without_cache_never_caches_nor_says_so() {
    let (up, gw) = cached("", "").await;
    for _ in 0..2 {
        let r = gw.chat(&body("hi")).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("x-aigw-cache").is_none());
    }
    let (_, routes) = gw.admin_get("/routes").await;
    assert_eq!(routes["routes"][0]["cache_ttl_s"], Value::Null);
    assert_eq!(up.request_count(), 2);
}

#[tokio::test]
async fn sessions_and_client_keys_are_part_of_the_key() {
    // Two client keys, read from variables the test process already has.
    let (up, gw) = cached(ON, "[server]\nclient_keys = [\"env:PATH\", \"env:HOME\"]\n").await;
    let (a, b) = (
        std::env::var("PATH").unwrap(),
        std::env::var("HOME").unwrap(),
    );
    let text = body("hi").to_string();
    let send = |key: String, session: &'static str| {
        let gw = &gw;
        let text = text.clone();
        async move {
            let auth = format!("Bearer {key}");
            let r = gw
                .raw(
                    "/v1/chat/completions",
                    &text,
                    &[("authorization", &auth), ("x-session-id", session)],
                )
                .await;
            assert_eq!(r.status(), 200);
            header(&r, "x-aigw-cache")
        }
    };
    assert_eq!(send(a.clone(), "s1").await, "miss");
    assert_eq!(send(a.clone(), "s1").await, "hit");
    // Never one client's answer for another client key.
    assert_eq!(send(b.clone(), "s1").await, "miss");
    assert_eq!(send(b, "s1").await, "hit");
    // Another session of the same client: its own entry.
    assert_eq!(send(a, "s2").await, "miss");
    assert_eq!(up.request_count(), 3);
}

#[tokio::test]
async fn a_streamed_hit_is_the_stream_replayed() {
    let (up, gw) = cached(ON, "").await;
    let first = gw.chat(&chat_body("m", true)).await;
    assert_eq!(header(&first, "x-aigw-cache"), "miss");
    let first = first.text().await.unwrap();
    assert_eq!(streamed_text(&first), "Hello from up");

    let r = gw.chat(&chat_body("m", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-aigw-cache"), "hit");
    assert_eq!(header(&r, "x-aigw-route-mode"), "cache");
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    assert_eq!(header(&r, "cache-control"), "no-cache");
    let replay = r.text().await.unwrap();
    let events = testkit::parse_sse(&replay);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    for e in &events[..events.len() - 1] {
        let v: Value = serde_json::from_str(e).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
    }
    assert_eq!(streamed_text(&replay), "Hello from up");
    assert_eq!(replay, first, "the stream as relayed the first time");
    assert_eq!(up.request_count(), 1);
    let ev = gw.capture.wait(2).await;
    assert_eq!(
        (ev[1].route_mode, ev[1].stream),
        (Some(RouteMode::Cache), true)
    );

    // A stream and a JSON answer are entries of their own.
    let full = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&full, "x-aigw-cache"), "miss");
    assert_eq!(up.request_count(), 2);
}

#[tokio::test]
async fn an_anthropic_stream_translated_from_chat_is_replayed_in_its_protocol() {
    let (up, gw) = cached(ON, "").await;
    let msg = json!({"model": "m", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let first = gw.post("/v1/messages", &msg).await.text().await.unwrap();
    let r = gw.post("/v1/messages", &msg).await;
    assert_eq!(header(&r, "x-aigw-cache"), "hit");
    let replay = r.text().await.unwrap();
    assert_eq!(replay, first);
    assert!(replay.contains("event: message_stop"));
    assert_eq!(up.request_count(), 1);
}

#[tokio::test]
async fn a_broken_stream_is_not_cached() {
    let (up, gw) = cached(ON, "").await;
    up.push(Behavior::StreamDieAfterContent { after: 2 });
    let broken = gw.chat(&chat_body("m", true)).await.text().await.unwrap();
    assert!(broken.contains("stream_broken"), "{broken}");
    let r = gw.chat(&chat_body("m", true)).await;
    assert_eq!(header(&r, "x-aigw-cache"), "miss");
    assert_eq!(streamed_text(&r.text().await.unwrap()), "Hello from up");
    assert_eq!(up.request_count(), 2);
}

#[tokio::test]
async fn errors_are_never_cached() {
    let (up, gw) = cached(ON, "").await;
    up.push(Behavior::status(500));
    up.push(Behavior::status(400));
    assert_eq!(gw.chat(&body("hi")).await.status(), 500);
    let r = gw.chat(&body("hi")).await;
    assert_eq!(
        (r.status().as_u16(), header(&r, "x-aigw-cache")),
        (400, "miss".into())
    );
    let r = gw.chat(&body("hi")).await;
    assert_eq!(
        (r.status().as_u16(), header(&r, "x-aigw-cache")),
        (200, "miss".into())
    );
    let r = gw.chat(&body("hi")).await;
    assert_eq!(
        (r.status().as_u16(), header(&r, "x-aigw-cache")),
        (200, "hit".into())
    );
    assert_eq!(up.request_count(), 3);
}

#[tokio::test]
async fn sampled_requests_are_cached_only_when_told() {
    let hot = json!({"model": "m", "temperature": 0.7,
        "messages": [{"role": "user", "content": "hi"}]});
    let cold = json!({"model": "m", "temperature": 0,
        "messages": [{"role": "user", "content": "hi"}]});
    let (up, gw) = cached(ON, "").await;
    for _ in 0..2 {
        assert_eq!(header(&gw.chat(&hot).await, "x-aigw-cache"), "miss");
    }
    assert_eq!(up.request_count(), 2);
    assert_eq!(header(&gw.chat(&cold).await, "x-aigw-cache"), "miss");
    assert_eq!(header(&gw.chat(&cold).await, "x-aigw-cache"), "hit");
    assert_eq!(up.request_count(), 3);

    let (up, gw) = cached("cache = { ttl_s = 300, cache_temperature = true }", "").await;
    assert_eq!(header(&gw.chat(&hot).await, "x-aigw-cache"), "miss");
    assert_eq!(header(&gw.chat(&hot).await, "x-aigw-cache"), "hit");
    assert_eq!(up.request_count(), 1);
}

#[tokio::test]
async fn an_entry_expires_after_its_ttl() {
    let (up, gw) = cached("cache = { ttl_s = 1 }", "").await;
    assert_eq!(header(&gw.chat(&body("hi")).await, "x-aigw-cache"), "miss");
    assert_eq!(header(&gw.chat(&body("hi")).await, "x-aigw-cache"), "hit");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(header(&gw.chat(&body("hi")).await, "x-aigw-cache"), "miss");
    assert_eq!(up.request_count(), 2);
}

#[tokio::test]
async fn the_least_recently_used_entry_is_evicted_at_the_bound() {
    // 1 MiB: five answers of 192 KiB fit (each within a quarter of the
    // bound), a sixth evicts one.
    let (up, gw) = cached(ON, "[server]\ncache_max_mb = 1\n").await;
    up.set_default(Behavior::Hostile(Hostile::HugeBody { bytes: 3 * 65_536 }));
    let ask = |p: &'static str| {
        let gw = &gw;
        async move {
            let r = gw.chat(&body(p)).await;
            assert_eq!(r.status(), 200);
            let h = header(&r, "x-aigw-cache");
            r.bytes().await.unwrap();
            h
        }
    };
    for p in ["a", "b", "c", "d", "e"] {
        assert_eq!(ask(p).await, "miss", "{p}");
    }
    assert_eq!(ask("a").await, "hit"); // a is now the most recent
    assert_eq!(ask("f").await, "miss"); // evicts b, the least recent
    assert_eq!(metric(&gw, "aigw_cache_entries").await, "5");
    let bytes: u64 = metric(&gw, "aigw_cache_bytes").await.parse().unwrap();
    assert!(bytes <= 1 << 20, "{bytes}");
    for p in ["a", "c", "d", "e", "f"] {
        assert_eq!(ask(p).await, "hit", "{p}");
    }
    assert_eq!(ask("b").await, "miss");
    assert_eq!(up.request_count(), 7);
}

#[tokio::test]
async fn cache_settings_are_checked() {
    use gateway_core::config::Config;
    let up = FakeUpstream::start("up").await;
    let bad = |route_cache: &str, server: &str| {
        let toml = format!(
            "{server}{}{}",
            provider(&up, ""),
            route("m", route_cache, &[("up", None)])
        );
        Config::parse(&toml, "t.toml").unwrap_err().to_string()
    };
    assert!(bad("cache = { ttl_s = 0 }", "").contains("routes[0].cache.ttl_s"));
    assert!(bad("cache = { ttl = 5 }", "").contains("ttl"));
    assert!(bad("", "[server]\ncache_max_mb = 0\n").contains("server.cache_max_mb"));
    // The table form, with the defaults.
    let toml = format!(
        "{}{}",
        provider(&up, ""),
        route("m", "[routes.cache]", &[("up", None)])
    );
    let c = Config::parse(&toml, "t.toml").unwrap();
    let cache = c.routes[0].cache.clone().unwrap();
    assert_eq!(
        (cache.ttl, cache.cache_temperature),
        (Duration::from_secs(300), false)
    );
    assert_eq!(c.server.cache_max_bytes, 64 << 20);
    assert!(c.routes[0].cache.is_some());
}

#[tokio::test]
async fn a_hit_is_logged_as_route_mode_cache_with_its_bodies() {
    use gateway_core::telemetry::Db;
    use gateway_core::telemetry::query::{self, RequestsQuery};
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "[telemetry]\nstore_bodies = true\n{}{}",
        provider(&up, ""),
        route("m", ON, &[("up", None)])
    );
    let gw = TestGateway::builder(&toml).data_dir().start().await;
    let first = gw.chat(&body("hi")).await.text().await.unwrap();
    let hit = gw.chat(&body("hi")).await;
    let id = header(&hit, "x-aigw-request-id");
    assert_eq!(hit.text().await.unwrap(), first);
    let path = gw.data_dir().join("telemetry.db");
    let _dir = gw.shutdown().await;
    let db = Db::open(&path).unwrap();
    let detail = db.read(|c| query::request(c, &id)).unwrap().unwrap();
    let row = &detail.request;
    assert_eq!(row.route_mode.as_deref(), Some("cache"));
    assert_eq!((row.status, row.attempts), (200, 0));
    assert_eq!(row.provider.as_deref(), Some("up"));
    assert_eq!(detail.response_body.as_deref(), Some(first.as_str()));
    assert!(detail.request_body.is_some_and(|b| b.contains("\"hi\"")));
    let series = db
        .read(|c| {
            let page = query::requests(c, &RequestsQuery::default())?;
            Ok(page.items.len())
        })
        .unwrap();
    assert_eq!(series, 2);
}

#[tokio::test]
async fn entries_survive_a_publish_that_keeps_the_route_and_not_one_that_changes_it() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let cfg = |server: &str, target: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{server}\n{}{}{}",
            provider(&a, ""),
            provider(&b, ""),
            route("m", ON, &[(target, None)])
        )
    };
    let v1 = cfg("", "a");
    let gw = TestGateway::builder(&v1).config_file().start().await;
    assert_eq!(header(&gw.chat(&body("hi")).await, "x-aigw-cache"), "miss");
    let publish = |toml: String, base: u64| {
        let gw = &gw;
        async move {
            let (s, p) = gw
                .admin_post(
                    "/config/publish",
                    json!({"toml": toml, "base_version": base}),
                )
                .await;
            assert_eq!(s, 200, "{p}");
        }
    };
    // Another bound, same route: the entry is still served.
    publish(cfg("cache_max_mb = 2", "a"), 1).await;
    let (_, stats) = gw.admin_get("/telemetry/cache").await;
    assert_eq!(stats["max_bytes"].as_u64(), Some(2 << 20));
    let r = gw.chat(&body("hi")).await;
    assert_eq!(
        (header(&r, "x-aigw-cache"), header(&r, "x-aigw-provider")),
        ("hit".into(), "a".into())
    );
    // The route now goes to b: its key changed, b answers.
    publish(cfg("cache_max_mb = 2", "b"), 2).await;
    let r = gw.chat(&body("hi")).await;
    assert_eq!(
        (header(&r, "x-aigw-cache"), header(&r, "x-aigw-provider")),
        ("miss".into(), "b".into())
    );
    assert_eq!(header(&gw.chat(&body("hi")).await, "x-aigw-cache"), "hit");
    assert_eq!((a.request_count(), b.request_count()), (1, 1));
}
