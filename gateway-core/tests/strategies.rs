//! Strategies and background health, against real upstreams.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use std::time::Duration;

use common::*;
use gateway_core::routing::health::HealthSnapshot;
use testkit::{Behavior, FakeUpstream};

#[tokio::test]
async fn weighted_routes_split_traffic_by_weight() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let toml = format!(
        "{}{}[[routes]]\nmodel = \"m\"\nstrategy = \"weighted\"\n\
         [[routes.targets]]\nprovider = \"a\"\nweight = 3\n[[routes.targets]]\nprovider = \"b\"\nweight = 1\n",
        provider(&a, ""),
        provider(&b, "")
    );
    let gw = TestGateway::start(&toml).await;
    let mut modes = Vec::new();
    for _ in 0..40 {
        let r = gw.chat(&chat_body("m", false)).await;
        assert_eq!(r.status(), 200);
        modes.push(header(&r, "x-aigw-route-mode"));
    }
    // smooth weighted round robin is exact: 30 / 10
    assert_eq!((a.request_count(), b.request_count()), (30, 10));
    // the weighted pick is the preferred target: no fallback happened
    assert!(modes.iter().all(|m| m == "direct"), "{modes:?}");
    // and a failing pick falls back to the other
    b.set_default(Behavior::status(503));
    for _ in 0..8 {
        assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    }
    assert_eq!(a.request_count(), 38);
}

#[tokio::test]
async fn latency_strategy_prefers_the_faster_target() {
    let slow = FakeUpstream::start("slow").await;
    let fast = FakeUpstream::start("fast").await;
    slow.set_default(Behavior::delay(Duration::from_millis(80), Behavior::Ok));
    let toml = format!(
        "{}{}{}",
        provider(&slow, ""),
        provider(&fast, ""),
        route(
            "m",
            "strategy = \"latency\"",
            &[("slow", None), ("fast", None)]
        )
    );
    let gw = TestGateway::start(&toml).await;
    for _ in 0..60 {
        assert_eq!(gw.chat(&chat_body("m", false)).await.status(), 200);
    }
    // both get measured, then the fast one carries most traffic; the slow
    // one still gets exploration samples
    let (s, f) = (slow.request_count(), fast.request_count());
    assert!(f >= 40, "fast={f} slow={s}");
    assert!(s >= 1, "no exploration: slow={s}");
}

#[tokio::test]
async fn background_probe_opens_and_closes_the_breaker() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    a.set_required_key(Some("never-sent")); // GET /models answers 401: probe fails
    let toml = format!(
        "{}{}{}",
        provider(&a, "health_check_interval_s = 1"),
        provider(&b, ""),
        route("m", "cooldown_s = 1", &[("a", None), ("b", None)])
    );
    let gw = TestGateway::start(&toml).await;
    // the first probe runs at once and fails: a is skipped without a request
    let open = |h: &HealthSnapshot| h.open;
    assert!(
        wait_health(&gw, "a", 50, open).await,
        "probe did not open the breaker"
    );
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "b");
    assert_eq!(a.request_count(), 0);
    // the upstream recovers; the next probe (within a second) closes the
    // breaker: wait for that, up to 5 s, instead of a fixed 2.3 s
    a.set_required_key(None);
    let closed = |h: &HealthSnapshot| !h.open && h.consecutive_failures == 0;
    wait_health(&gw, "a", 100, closed).await;
    let r = gw.chat(&chat_body("m", false)).await;
    assert_eq!(header(&r, "x-aigw-provider"), "a");
    assert!(
        a.requests()
            .iter()
            .filter(|r| r.path == "/v1/models")
            .count()
            >= 2
    );
}

/// Polls `provider`'s health every 50 ms, up to `tries` times, until
/// `want` holds; whether it did.
async fn wait_health(
    gw: &TestGateway,
    provider: &str,
    tries: u32,
    want: impl Fn(&HealthSnapshot) -> bool,
) -> bool {
    for _ in 0..tries {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let snap = gw
            .handle
            .state()
            .health
            .snapshot(tokio::time::Instant::now());
        if snap.iter().any(|(p, _, h)| p == provider && want(h)) {
            return true;
        }
    }
    false
}

/// A chat request of session `sid` (`X-Claude-Code-Session-Id`).
async fn in_session(gw: &TestGateway, sid: &str) -> reqwest::Response {
    gw.chat_in_session("x-claude-code-session-id", sid).await
}

#[tokio::test]
async fn sticky_sessions_stay_on_their_target_and_move_on_failover() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let toml = format!(
        "{}{}{}",
        provider(&a, ""),
        provider(&b, ""),
        route(
            "m",
            "strategy = \"weighted\"\nfailure_threshold = 1\ncooldown_s = 1",
            &[("a", None), ("b", None)]
        )
    );
    let gw = TestGateway::start(&toml).await;
    // 8 requests of one session on a 50/50 route: one target
    let mut served = Vec::new();
    for _ in 0..8 {
        let r = in_session(&gw, "s-1").await;
        assert_eq!(r.status(), 200);
        served.push(header(&r, "x-aigw-provider"));
    }
    assert!(served.iter().all(|p| p == &served[0]), "{served:?}");
    assert_eq!(a.request_count() + b.request_count(), 8);
    // a second session goes to the other target, and stays
    let other = header(&in_session(&gw, "s-2").await, "x-aigw-provider");
    assert_ne!(other, served[0]);
    for _ in 0..3 {
        assert_eq!(
            header(&in_session(&gw, "s-2").await, "x-aigw-provider"),
            other
        );
    }
    // s-1's target fails: the session moves, and stays moved after the
    // target recovers
    let (first, second) = if served[0] == "a" { (&a, &b) } else { (&b, &a) };
    first.push(Behavior::status(503));
    let moved = in_session(&gw, "s-1").await;
    assert_eq!(moved.status(), 200);
    assert_eq!(header(&moved, "x-aigw-provider"), second.name());
    assert_eq!(header(&moved, "x-aigw-route-mode"), "provider_fallback");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = first.request_count();
    for _ in 0..4 {
        let r = in_session(&gw, "s-1").await;
        assert_eq!(header(&r, "x-aigw-provider"), second.name());
        assert_eq!(header(&r, "x-aigw-route-mode"), "direct");
    }
    assert_eq!(first.request_count(), before);
    // without a session the route still splits 50/50
    let (na, nb) = (a.request_count(), b.request_count());
    for _ in 0..4 {
        gw.chat(&chat_body("m", false)).await;
    }
    assert_eq!((a.request_count() - na, b.request_count() - nb), (2, 2));
}

#[tokio::test]
async fn sticky_sessions_survive_a_publish_that_keeps_the_route() {
    let a = FakeUpstream::start("a").await;
    let b = FakeUpstream::start("b").await;
    let base = format!("{}{}", provider(&a, ""), provider(&b, ""));
    let r = |extra: &str| {
        route(
            "m",
            &format!("strategy = \"weighted\"\n{extra}"),
            &[("a", None), ("b", None)],
        )
    };
    let gw = TestGateway::builder(&format!("{base}{}", r("")))
        .config_file()
        .start()
        .await;
    // s-2 takes the round robin's second pick so that s-1 is not on the
    // new runtime's first pick by chance
    let s1 = header(&in_session(&gw, "s-1").await, "x-aigw-provider");
    let s2 = header(&in_session(&gw, "s-2").await, "x-aigw-provider");
    assert_ne!(s1, s2);
    // a publish that changes only the cooldown: sessions kept
    let next = format!("{base}{}", r("cooldown_s = 7"));
    let (st, v) = gw
        .admin_post("/config/publish", serde_json::json!({"toml": next}))
        .await;
    assert_eq!(st, 200, "{v}");
    for _ in 0..3 {
        assert_eq!(header(&in_session(&gw, "s-2").await, "x-aigw-provider"), s2);
        assert_eq!(header(&in_session(&gw, "s-1").await, "x-aigw-provider"), s1);
    }
}
