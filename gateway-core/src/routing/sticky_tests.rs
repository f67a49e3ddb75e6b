//! Sticky sessions through the attempt loop, over scripted upstreams: a
//! session stays on its target, moves on failover and stays moved, expires,
//! is bounded, and its key comes from headers before body fields.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use super::health::HealthRegistry;
use super::tests::{gateway, run};
use super::{ProxyRequest, Runtime};
use crate::config::Config;
use crate::upstream::scripted::{OK, Script, json};
use crate::vocab::{Endpoint, RouteMode};

const AB: &str = "strategy = \"weighted\"\n[[routes.targets]]\nprovider = \"a\"\nweight = 1\n[[routes.targets]]\nprovider = \"b\"\nweight = 1\n";

/// A chat request whose body names session `user` (if any), with `headers`.
fn req_with(user: Option<&str>, headers: &[(&str, &str)]) -> ProxyRequest {
    let user = user.map_or(String::new(), |u| format!(r#","user":"{u}""#));
    let body = Bytes::from(format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}]{user}}}"#
    ));
    let mut h = HeaderMap::new();
    for (n, v) in headers {
        h.insert(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    ProxyRequest::new(
        Endpoint::ChatCompletions,
        body,
        "req_test".into(),
        "test".into(),
        crate::providers::ClientHeaders::new(h, None, false),
    )
    .unwrap()
}

fn session(key: &str) -> ProxyRequest {
    req_with(Some(key), &[])
}

/// Both upstreams answer `n` times each.
fn both_ok(n: usize) -> Script {
    let s = Script::default();
    for _ in 0..n {
        s.on(1, || json(200, OK)).on(2, || json(200, OK));
    }
    s
}

async fn served_by(s: &Script, rt: &Arc<Runtime>, h: &HealthRegistry, r: &ProxyRequest) -> String {
    run(s, rt, h, r).await.ok().unwrap().served.provider
}

#[tokio::test]
async fn one_session_on_a_50_50_route_stays_on_one_target() {
    let (rt, health) = gateway(AB, "");
    let s = both_ok(8);
    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(served_by(&s, &rt, &health, &session("sess-1")).await);
    }
    assert!(got.iter().all(|p| p == &got[0]), "{got:?}");
    // without a session the same route spreads 50/50
    let s = both_ok(4);
    let mut spread = Vec::new();
    for _ in 0..4 {
        spread.push(served_by(&s, &rt, &health, &req_with(None, &[])).await);
    }
    assert_eq!(spread.iter().filter(|p| *p == "a").count(), 2, "{spread:?}");
}

#[tokio::test]
async fn two_sessions_spread_and_each_stays() {
    let (rt, health) = gateway(AB, "");
    let s = both_ok(8);
    let first = served_by(&s, &rt, &health, &session("one")).await;
    let second = served_by(&s, &rt, &health, &session("two")).await;
    assert_ne!(first, second);
    for _ in 0..3 {
        assert_eq!(served_by(&s, &rt, &health, &session("one")).await, first);
        assert_eq!(served_by(&s, &rt, &health, &session("two")).await, second);
    }
}

#[tokio::test]
async fn a_failure_moves_the_session_and_it_stays_moved() {
    let (rt, health) = gateway(AB, "");
    let s = Script::default();
    // first request: a (the round robin's first pick) serves
    s.on(1, || json(200, OK));
    // second: the session's a fails, b serves
    s.on(1, || json(503, "{}")).on(2, || json(200, OK));
    // then b keeps it, though a answers again
    for _ in 0..4 {
        s.on(2, || json(200, OK));
    }
    s.on(1, || json(200, OK));
    assert_eq!(served_by(&s, &rt, &health, &session("mover")).await, "a");
    let moved = run(&s, &rt, &health, &session("mover")).await.ok().unwrap();
    assert_eq!(moved.served.provider, "b");
    assert_eq!(moved.served.mode, RouteMode::ProviderFallback);
    for _ in 0..4 {
        let r = run(&s, &rt, &health, &session("mover")).await.ok().unwrap();
        assert_eq!(r.served.provider, "b");
        assert_eq!(r.served.mode, RouteMode::Direct);
    }
    assert_eq!(s.ports(), [1, 1, 2, 2, 2, 2, 2]);
}

#[tokio::test]
async fn a_cooling_target_does_not_hold_its_sessions() {
    let route = AB.replace("strategy", "failure_threshold = 1\nstrategy");
    let (rt, health) = gateway(&route, "");
    let s = Script::default();
    s.on(1, || json(200, OK)).on(2, || json(200, OK));
    s.on(1, || json(500, "{}")).on(2, || json(200, OK));
    s.on(2, || json(200, OK));
    assert_eq!(served_by(&s, &rt, &health, &session("x")).await, "a");
    assert_eq!(served_by(&s, &rt, &health, &session("y")).await, "b");
    // z's pick is a, whose failure opens a's breaker; b serves z
    assert_eq!(served_by(&s, &rt, &health, &session("z")).await, "b");
    // x's target is cooling: the strategy picks for x (b), direct
    let r = run(&s, &rt, &health, &session("x")).await.ok().unwrap();
    assert_eq!(r.served.provider, "b");
    assert_eq!(r.served.mode, RouteMode::Direct);
    assert_eq!(s.ports(), [1, 2, 1, 2, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_session_expires_its_ttl_after_last_use() {
    let (rt, health) = gateway(AB, "[routing]\nsticky_ttl_s = 10\n");
    let s = both_ok(8);
    assert_eq!(served_by(&s, &rt, &health, &session("t")).await, "a");
    // another request moves the round robin on to b next
    tokio::time::advance(Duration::from_secs(9)).await;
    assert_eq!(served_by(&s, &rt, &health, &session("t")).await, "a");
    tokio::time::advance(Duration::from_secs(9)).await;
    // used 9 s ago: still a
    assert_eq!(served_by(&s, &rt, &health, &session("t")).await, "a");
    tokio::time::advance(Duration::from_secs(11)).await;
    // expired: the round robin picks again (b is next after one pick of a)
    assert_eq!(served_by(&s, &rt, &health, &session("t")).await, "b");
    assert_eq!(served_by(&s, &rt, &health, &session("t")).await, "b");
}

#[tokio::test]
async fn the_table_is_bounded_least_recently_used_first() {
    let (rt, health) = gateway(AB, "[routing]\nsticky_max_sessions = 2\n");
    let s = both_ok(8);
    assert_eq!(served_by(&s, &rt, &health, &session("A")).await, "a");
    assert_eq!(served_by(&s, &rt, &health, &session("B")).await, "b");
    // C evicts A (least recently used)
    assert_eq!(served_by(&s, &rt, &health, &session("C")).await, "a");
    assert_eq!(rt.routes["m"].sticky.as_ref().unwrap().len(), 2);
    // A is forgotten: the round robin sends it to b now
    assert_eq!(served_by(&s, &rt, &health, &session("A")).await, "b");
    // C (used after B) survived A's insert, B did not
    assert_eq!(served_by(&s, &rt, &health, &session("C")).await, "a");
}

#[tokio::test]
async fn sticky_false_spreads_and_priority_has_no_table() {
    let route = AB.replace(
        "strategy = \"weighted\"",
        "strategy = \"weighted\"\nsticky = false",
    );
    let (rt, health) = gateway(&route, "");
    assert!(rt.routes["m"].sticky.is_none());
    let s = both_ok(4);
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(served_by(&s, &rt, &health, &session("same")).await);
    }
    assert_eq!(got, ["a", "b", "a", "b"]);
    let (rt, _) = gateway("[[routes.targets]]\nprovider = \"a\"\n", "");
    assert!(rt.routes["m"].sticky.is_none());
    let (rt, _) = gateway(&AB.replace("weighted", "latency"), "");
    assert!(rt.routes["m"].sticky.is_some());
}

#[tokio::test]
async fn headers_come_before_body_fields() {
    let (rt, health) = gateway(AB, "");
    let s = both_ok(16);
    // The same X-Claude-Code-Session-Id with a different body user each
    // time: one target.
    let cc = |u: &str| {
        req_with(
            Some(u),
            &[("x-claude-code-session-id", "cc"), ("x-session-id", u)],
        )
    };
    let first = served_by(&s, &rt, &health, &cc("u1")).await;
    for u in ["u2", "u3", "u4"] {
        assert_eq!(served_by(&s, &rt, &health, &cc(u)).await, first);
    }
    // X-Sticky-Key alone, body user varying: one target too
    let sk = |u: &str| req_with(Some(u), &[("x-sticky-key", "k")]);
    let first = served_by(&s, &rt, &health, &sk("v1")).await;
    for u in ["v2", "v3"] {
        assert_eq!(served_by(&s, &rt, &health, &sk(u)).await, first);
    }
    assert_eq!(rt.routes["m"].sticky.as_ref().unwrap().len(), 2);
}

#[tokio::test]
async fn sessions_are_per_route_and_survive_a_publish_that_keeps_the_targets() {
    let two = format!(
        "[[providers]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n\n\
         [[providers]]\nname = \"b\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:2/v1\"\n\n\
         [[routes]]\nmodel = \"m\"\n{AB}\n[[routes]]\nmodel = \"n\"\n{AB}"
    );
    let health = HealthRegistry::default();
    let build = |src: &str, g| Runtime::build(Config::parse(src, "t.toml").unwrap(), &health, g);
    let rt = Arc::new(build(&two, 1));
    let s = both_ok(8);
    assert_eq!(served_by(&s, &rt, &health, &session("p")).await, "a");
    assert_eq!(rt.routes["m"].sticky.as_ref().unwrap().len(), 1);
    assert!(rt.routes["n"].sticky.as_ref().unwrap().is_empty());

    // same targets: the table is carried over and the session stays on a
    let mut next = build(
        &two.replace("model = \"n\"", "model = \"n\"\ncooldown_s = 5"),
        2,
    );
    next.keep_sessions(&rt);
    let next = Arc::new(next);
    assert!(Arc::ptr_eq(
        next.routes["m"].sticky.as_ref().unwrap(),
        rt.routes["m"].sticky.as_ref().unwrap()
    ));
    // (the round robin of the new runtime starts over: its first pick is a,
    // so take it with another session first)
    assert_eq!(served_by(&s, &next, &health, &session("q")).await, "a");
    assert_eq!(served_by(&s, &next, &health, &session("p")).await, "a");

    // targets changed (weights are not identity, order is): a fresh table
    let swapped = two.replacen(
        "provider = \"a\"\nweight = 1\n[[routes.targets]]\nprovider = \"b\"",
        "provider = \"b\"\nweight = 1\n[[routes.targets]]\nprovider = \"a\"",
        1,
    );
    let mut third = build(&swapped, 3);
    third.keep_sessions(&next);
    assert!(third.routes["m"].sticky.as_ref().unwrap().is_empty());
    assert_eq!(third.routes["n"].sticky.as_ref().unwrap().len(), 0);
}
