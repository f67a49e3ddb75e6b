//! Error-class fallback, retry rules, the elapsed-time budget and the cost
//! strategy, over scripted upstreams ([`super::tests`]).

use std::time::Duration;

use http::StatusCode;

use super::tests::{ABC, gateway, request, run};
use super::{DispatchError, ProxyResponse, ResponseBody};
use crate::upstream::scripted::{OK, Script, json, never};
use crate::vocab::{ErrorClass, RouteMode};

const CTX: &str = r#"{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
const FILTER: &str =
    r#"{"error":{"message":"filtered","type":null,"code":"content_filter","status":400}}"#;
const OVERLOADED: &str =
    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;

fn classes(resp: &ProxyResponse) -> Vec<Option<String>> {
    resp.attempts.iter().map(|a| a.error.clone()).collect()
}

#[tokio::test]
async fn a_context_length_error_falls_back_when_the_route_says_so_health_untouched() {
    let (rt, health) = gateway(
        &format!("fallback_on = [\"context_length_exceeded\"]\n{ABC}"),
        "",
    );
    let s = Script::default();
    s.on(1, || json(400, CTX)).on(2, || json(200, OK));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1, 2]);
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.served.provider, "b");
    assert_eq!(
        classes(&resp),
        [Some("context_length_exceeded".into()), None]
    );
    // A too-long prompt is not a's fault: no failure counted.
    let snap = health.snapshot(tokio::time::Instant::now());
    let a = snap.iter().find(|(p, _, _)| p == "a").unwrap();
    assert_eq!(a.2.consecutive_failures, 0);

    // Without the rule the 400 is the client's, as before.
    let (rt, health) = gateway(ABC, "");
    let s = Script::default();
    s.on(1, || json(400, CTX));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1]);
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(classes(&resp), [Some("client_error".into())]);
}

#[tokio::test]
async fn every_target_too_small_relays_the_last_upstream_error() {
    let route = "fallback_on = [\"context_length_exceeded\", \"content_filter\"]\n\
                 [[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\n";
    let (rt, health) = gateway(route, "");
    let s = Script::default();
    s.on(1, || json(400, FILTER)).on(2, || json(400, CTX));
    let Err(DispatchError::Exhausted { last, attempts, .. }) =
        run(&s, &rt, &health, &request(false)).await
    else {
        panic!("expected exhausted");
    };
    assert_eq!(last.class, ErrorClass::ContextLengthExceeded);
    assert_eq!(last.status, Some(StatusCode::BAD_REQUEST));
    assert_eq!(last.body.as_deref(), Some(CTX.as_bytes()));
    let errs: Vec<_> = attempts.iter().map(|a| a.error.clone().unwrap()).collect();
    assert_eq!(errs, ["content_filter", "context_length_exceeded"]);
}

#[tokio::test]
async fn a_class_with_its_own_targets_goes_on_with_those_only() {
    // c/big is named only for context_length_exceeded: never in the route's order.
    let route = format!("{ABC}[routes.fallback_targets]\ncontext_length_exceeded = [\"c/big\"]\n");
    let (rt, health) = gateway(&route, "");
    // A 5xx from a goes on with the route (b), as always.
    let s = Script::default();
    s.on(1, || json(503, "{}")).on(2, || json(200, OK));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1, 2]);
    assert_eq!(resp.served.provider, "b");
    // A too-long prompt skips b and c (as the route forwards it) for c/big.
    let s = Script::default();
    s.on(1, || json(400, CTX)).on(3, || json(200, OK));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1, 3]);
    assert_eq!(s.models(), ["m", "big"]);
    assert_eq!(
        (resp.served.provider.as_str(), resp.served.model.as_str()),
        ("c", "big")
    );
    assert_eq!(resp.served.mode, RouteMode::ModelFallback);
    // A class target that is one of the route's own is that target.
    let route = format!("{ABC}[routes.fallback_targets]\ncontext_length_exceeded = [\"c\"]\n");
    let (rt, health) = gateway(&route, "");
    assert_eq!(rt.routes["m"].targets.len(), 3);
    let s = Script::default();
    s.on(1, || json(400, CTX)).on(3, || json(200, OK));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1, 3]);
    assert_eq!(resp.served.mode, RouteMode::ProviderFallback);
}

#[tokio::test]
async fn retry_on_message_and_status_make_a_4xx_a_fallback_signal() {
    let route = format!("retry_on_message = [\"OVERLOADED\"]\nretry_on_status = [404]\n{ABC}");
    let (rt, health) = gateway(&route, "");
    let s = Script::default();
    s.on(1, || json(400, OVERLOADED))
        .on(2, || {
            json(404, r#"{"error":{"message":"no such deployment"}}"#)
        })
        .on(3, || json(200, OK));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1, 2, 3]);
    assert_eq!(
        classes(&resp),
        [Some("retry_rule".into()), Some("retry_rule".into()), None]
    );
    // The provider's trouble: counted against a's health.
    let snap = health.snapshot(tokio::time::Instant::now());
    let a = snap.iter().find(|(p, _, _)| p == "a").unwrap();
    assert_eq!(a.2.consecutive_failures, 1);
    // A 400 that says nothing of the kind is still the client's.
    let s = Script::default();
    s.on(1, || {
        json(400, r#"{"error":{"message":"bad temperature"}}"#)
    });
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1]);
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_cuts_the_running_attempt_and_starts_no_other() {
    let route = format!("max_elapsed_s = 5\nretries = 3\n{ABC}");
    let (rt, health) = gateway(&route, "");
    let s = Script::default();
    s.on(1, never).on(2, || json(200, OK));
    let t0 = tokio::time::Instant::now();
    let Err(DispatchError::Exhausted { last, attempts, .. }) =
        run(&s, &rt, &health, &request(false)).await
    else {
        panic!("expected exhausted");
    };
    // a's own timeout is 30 s: the budget cut it at 5 s; b never tried.
    assert_eq!(s.ports(), [1]);
    assert_eq!(attempts.len(), 1);
    assert_eq!(last.class, ErrorClass::Timeout);
    assert!(last.message.contains("max_elapsed_s"), "{}", last.message);
    assert_eq!(t0.elapsed(), Duration::from_secs(5));

    // No budget: the same upstreams serve (a times out at 30 s, b answers).
    let (rt, health) = gateway(ABC, "");
    let s = Script::default();
    s.on(1, never).on(2, || json(200, OK));
    assert!(run(&s, &rt, &health, &request(false)).await.is_ok());
    assert_eq!(s.ports(), [1, 2]);
}

const PRICES: &str = "[[telemetry.prices]]\nprovider = \"a\"\ninput_per_mtok = 5\noutput_per_mtok = 15\n\
[[telemetry.prices]]\nprovider = \"c\"\ninput_per_mtok = 0.1\noutput_per_mtok = 0.4\n";

#[tokio::test]
async fn the_cost_strategy_tries_the_cheapest_first_unknown_last() {
    // b's model "m" has no price: last. c is cheapest, then a.
    let (rt, health) = gateway(&format!("strategy = \"cost\"\n{ABC}"), PRICES);
    let route = &rt.routes["m"];
    let req = request(false);
    assert_eq!(route.order_for(None, req.est_io()), [2, 0, 1]);
    let (i, o) = req.est_io();
    assert_eq!(o, 256);
    let want = (i as f64 * 0.1 + 256.0 * 0.4) / 1e6;
    assert_eq!(route.estimated_cost(2, req.est_io()), Some(want));
    assert_eq!(route.estimated_cost(1, req.est_io()), None);
    assert!(!route.spec.sticky);
    let s = Script::default();
    s.on(3, || json(503, "{}")).on(1, || json(200, OK));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [3, 1]);
    assert_eq!(resp.served.provider, "a");
    let ResponseBody::Full(_) = resp.body else {
        panic!("a stream")
    };
}
