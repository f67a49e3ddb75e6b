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
