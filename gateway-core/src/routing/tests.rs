//! The attempt loop and the stream relay without HTTP: routes over
//! scripted upstreams ([`crate::upstream::UpstreamClient::scripted`]), on a paused clock
//! where time matters (timeouts, backoff), so nothing waits for real.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;

use super::health::{Admission, HealthRegistry};
use super::{
    Catalog, DispatchError, ProxyRequest, ProxyResponse, ResponseBody, Runtime, StreamOutcome,
    Upstreams, direct, dispatch,
};
use crate::config::Config;
use crate::upstream::BodyError;
use crate::upstream::scripted::{
    CONTENT, DONE, ERROR_EVENT, OK, Script, json, never, refused, sse, with_header,
};
use crate::vocab::{Endpoint, RouteMode};

/// Providers `a`, `b`, `c` (ports 1–3) and route `m` over them, with
/// `route` appended to the route's table and `extra` to the file.
pub(crate) fn gateway(route: &str, extra: &str) -> (Arc<Runtime>, HealthRegistry) {
    let mut src = String::new();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        src += &format!(
            "[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{}/v1\"\ntimeout_s = 30\n\n",
            i + 1
        );
    }
    src += &format!("{extra}\n[[routes]]\nmodel = \"m\"\n{route}\n");
    let config = Config::parse(&src, "test.toml").unwrap();
    let health = HealthRegistry::default();
    let rt = Runtime::build(config, &health, 1);
    (Arc::new(rt), health)
}

pub(crate) const ABC: &str = "[[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\n[[routes.targets]]\nprovider = \"c\"\n";

pub(crate) fn request(stream: bool) -> ProxyRequest {
    let body = Bytes::from(format!(
        r#"{{"model":"m","stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
    ));
    let (id, client) = ("req_test".into(), "test".into());
    ProxyRequest::new(
        Endpoint::ChatCompletions,
        body,
        id,
        client,
        Default::default(),
    )
    .unwrap()
}

pub(crate) async fn run(
    script: &Script,
    rt: &Arc<Runtime>,
    health: &HealthRegistry,
    req: &ProxyRequest,
) -> Result<ProxyResponse, DispatchError> {
    let catalog = Catalog::default();
    let up = Upstreams {
        client: script.client(),
        catalog: &catalog,
        health,
        shared: None,
    };
    dispatch(&up, rt, req).await
}

fn classes(resp: &ProxyResponse) -> Vec<Option<String>> {
    resp.attempts.iter().map(|a| a.error.clone()).collect()
}

/// The relayed stream, and how it ended.
async fn relayed(resp: ProxyResponse) -> (String, StreamOutcome) {
    let ResponseBody::Stream(relay) = resp.body else {
        panic!("not a stream");
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let body = relay.into_body(move |o| {
        let _ = tx.send(o);
    });
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        String::from_utf8(bytes.to_vec()).unwrap(),
        rx.await.unwrap(),
    )
}

#[tokio::test]
async fn falls_back_in_route_order_and_reports_every_attempt() {
    let (rt, health) = gateway(ABC, "");
    let s = Script::default();
    s.on(1, || json(500, r#"{"error":{"message":"boom"}}"#))
        .on(2, || with_header(429, "retry-after", "7"))
        .on(3, || json(200, OK));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1, 2, 3]);
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.served.provider, "c");
    assert_eq!(resp.served.mode, RouteMode::ProviderFallback);
    assert_eq!(
        classes(&resp),
        [
            Some("upstream_5xx".into()),
            Some("rate_limited".into()),
            None
        ]
    );
    assert_eq!(resp.usage.map(|u| u.total()), Some(4));
    // One 429 opens b's breaker (rate_limit_threshold 1) for its Retry-After.
    let now = tokio::time::Instant::now();
    match health.get("b", "m").admit(now) {
        Admission::Open(until) => {
            let left = until - now;
            assert!(
                left > Duration::from_secs(6) && left <= Duration::from_secs(7),
                "{left:?}"
            );
        }
        other => panic!("b should cool down, is {other:?}"),
    }
    // One 500 is below a's failure threshold (3): a stays in rotation.
    assert!(matches!(health.get("a", "m").admit(now), Admission::Closed));
}

#[tokio::test]
async fn a_client_error_is_returned_as_is_without_fallback() {
    let (rt, health) = gateway(ABC, "");
    let s = Script::default();
    s.on(1, || {
        json(
            400,
            r#"{"error":{"message":"bad","code":"invalid_request"}}"#,
        )
    });
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1]);
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(resp.served.mode, RouteMode::Direct);
    assert_eq!(classes(&resp), [Some("client_error".into())]);
    let ResponseBody::Full(b) = &resp.body else {
        panic!("a stream")
    };
    assert!(b.starts_with(br#"{"error":{"message":"bad""#));
}

#[tokio::test]
async fn a_rewritten_model_is_a_model_fallback_and_is_what_the_upstream_gets() {
    let route = "[[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\nmodel = \"other\"\n";
    let (rt, health) = gateway(route, "");
    let s = Script::default();
    s.on(1, refused).on(2, || json(200, OK));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.models(), ["m", "other"]);
    assert_eq!(resp.served.model, "other");
    assert_eq!(resp.served.mode, RouteMode::ModelFallback);
    assert_eq!(classes(&resp), [Some("connect".into()), None]);
}

#[tokio::test(start_paused = true)]
async fn a_silent_upstream_times_out_at_its_deadline_then_falls_back() {
    let (rt, health) = gateway(ABC, "");
    let s = Script::default();
    s.on(1, never).on(2, || json(200, OK));
    let t0 = tokio::time::Instant::now();
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(classes(&resp), [Some("timeout".into()), None]);
    assert_eq!(resp.served.provider, "b");
    // The paused clock jumped a's 30 s deadline; nothing slept for real.
    assert!(t0.elapsed() >= Duration::from_secs(30));
    assert!(resp.upstream_time >= Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn a_retry_pass_waits_a_jittered_backoff_then_tries_again() {
    let route = "retries = 1\n[[routes.targets]]\nprovider = \"a\"\n";
    let (rt, health) = gateway(route, "[routing]\nretry_backoff_ms = 1000\n");
    let s = Script::default();
    s.on(1, || json(503, "{}")).on(1, || json(200, OK));
    let t0 = tokio::time::Instant::now();
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1, 1]);
    assert_eq!(classes(&resp), [Some("upstream_5xx".into()), None]);
    // Backoff of the first retry pass: 1 s × a jitter in [0.5, 1.5).
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn max_attempts_caps_retries_and_the_last_failure_is_reported() {
    let route =
        "retries = 5\n[[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\n";
    let (rt, health) = gateway(route, "[routing]\nmax_attempts = 3\n");
    let s = Script::default();
    for _ in 0..2 {
        s.on(1, || json(500, "{}")).on(2, || json(502, "{}"));
    }
    let Err(DispatchError::Exhausted {
        last,
        target,
        attempts,
        ..
    }) = run(&s, &rt, &health, &request(false)).await
    else {
        panic!("should be exhausted");
    };
    assert_eq!(s.ports(), [1, 2, 1]);
    assert_eq!(attempts.len(), 3);
    assert_eq!(target.provider, "a");
    assert_eq!(last.status, Some(StatusCode::INTERNAL_SERVER_ERROR));
}

#[tokio::test]
async fn a_stream_that_errors_before_content_falls_back_invisibly() {
    let (rt, health) = gateway(ABC, "");
    let s = Script::default();
    s.on(1, || sse(vec![Ok(ERROR_EVENT)]))
        .on(2, || sse(vec![Ok(CONTENT), Ok(DONE)]));
    let resp = run(&s, &rt, &health, &request(true)).await.ok().unwrap();
    assert_eq!(resp.served.provider, "b");
    assert_eq!(classes(&resp), [Some("stream_error".into()), None]);
    let (body, outcome) = relayed(resp).await;
    assert!(
        !body.contains("overloaded"),
        "a's error reached the client: {body}"
    );
    assert!(
        body.contains("hello") && body.ends_with("data: [DONE]\n\n"),
        "{body}"
    );
    assert!(outcome.completed && outcome.error.is_none());
}

#[tokio::test]
async fn a_stream_that_breaks_after_content_ends_with_an_error_event_and_counts_against_its_target()
{
    let route = "failure_threshold = 1\n[[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\n";
    let (rt, health) = gateway(route, "");
    let s = Script::default();
    s.on(1, || sse(vec![Ok(CONTENT), Err(BodyError::reset())]));
    let resp = run(&s, &rt, &health, &request(true)).await.ok().unwrap();
    // Committed at the first content frame: no fallback after that.
    assert_eq!(resp.served.provider, "a");
    let (body, outcome) = relayed(resp).await;
    assert_eq!(s.ports(), [1]);
    assert!(body.starts_with(CONTENT), "{body}");
    assert!(body.contains(r#""code":"stream_broken""#), "{body}");
    assert!(!outcome.completed);
    assert_eq!(outcome.error.as_deref(), Some("stream_broken"));
    let now = tokio::time::Instant::now();
    assert!(matches!(
        health.get("a", "m").admit(now),
        Admission::Open(_)
    ));
}

#[tokio::test]
async fn when_every_target_cools_down_the_one_that_recovers_first_is_probed() {
    let route = "[[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\n";
    let (rt, health) = gateway(route, "");
    let s = Script::default();
    s.on(1, || with_header(429, "retry-after", "60"))
        .on(2, || with_header(429, "retry-after", "5"));
    let first = run(&s, &rt, &health, &request(false)).await;
    assert!(matches!(first, Err(DispatchError::Exhausted { .. })));
    // Both cool down now; b's cooldown ends first, so b gets the probe.
    s.on(2, || json(200, OK));
    let resp = run(&s, &rt, &health, &request(false)).await.ok().unwrap();
    assert_eq!(s.ports(), [1, 2, 2]);
    assert_eq!(resp.served.provider, "b");
}

#[tokio::test]
async fn direct_calls_one_provider_and_leaves_routing_health_alone() {
    let (rt, health) = gateway(ABC, "");
    let s = Script::default();
    s.on(2, || json(500, "{}"));
    let req = request(false);
    let Err((f, _)) = direct(&s.client(), &rt, 1, "pinned", &req).await else {
        panic!("a 500 is no answer");
    };
    assert_eq!(f.class.as_str(), "upstream_5xx");
    assert_eq!(s.models(), ["pinned"]);
    let now = tokio::time::Instant::now();
    assert!(matches!(health.get("b", "m").admit(now), Admission::Closed));
    assert!(matches!(
        health.get("b", "pinned").admit(now),
        Admission::Closed
    ));
}

// Pattern routes: which route a name takes, what is forwarded, whose health.

/// Providers `a`, `b`, `c` (ports 1–3) and exactly the routes in `routes`.
fn gateway_with(routes: &str) -> (Arc<Runtime>, HealthRegistry) {
    let mut src = String::new();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        src += &format!(
            "[[providers]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{}/v1\"\n\n",
            i + 1
        );
    }
    src += routes;
    let config = Config::parse(&src, "test.toml").unwrap();
    let health = HealthRegistry::default();
    let rt = Runtime::build(config, &health, 1);
    (Arc::new(rt), health)
}

fn request_for(model: &str) -> ProxyRequest {
    let body = Bytes::from(format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]}}"#
    ));
    ProxyRequest::new(
        Endpoint::ChatCompletions,
        body,
        "req_test".into(),
        "test".into(),
        Default::default(),
    )
    .unwrap()
}

const PRECEDENCE: &str = r#"
[[routes]]
model = "*"
[[routes.targets]]
provider = "c"
model = "local"
[[routes]]
model = "claude-*"
[[routes.targets]]
provider = "b"
[[routes]]
model = "claude-opus-4-8"
[[routes.targets]]
provider = "a"
[[routes]]
model = "claude-opus-*"
[[routes.targets]]
provider = "a"
model = "{model}-latest"
"#;

#[tokio::test]
async fn exact_beats_the_longest_pattern_which_beats_star() {
    let (rt, health) = gateway_with(PRECEDENCE);
    // (requested, port that serves, forwarded model, route reported)
    let cases = [
        ("claude-opus-4-8", 1, "claude-opus-4-8", "claude-opus-4-8"),
        ("claude-opus-5", 1, "claude-opus-5-latest", "claude-opus-*"),
        ("claude-sonnet-5", 2, "claude-sonnet-5", "claude-*"),
        (
            "claude-haiku-4-5-20251001",
            2,
            "claude-haiku-4-5-20251001",
            "claude-*",
        ),
        ("gpt-5-codex", 3, "local", "*"),
        // `claude` is not `claude-`: only `*` takes it
        ("claude", 3, "local", "*"),
    ];
    for (model, port, fwd, route) in cases {
        let s = Script::default();
        s.on(port, || json(200, OK));
        let resp = run(&s, &rt, &health, &request_for(model))
            .await
            .ok()
            .unwrap();
        assert_eq!(s.ports(), [port], "{model}");
        assert_eq!(s.models(), [fwd], "{model}");
        assert_eq!(resp.served.model, fwd, "{model}");
        assert_eq!(resp.served.route.as_deref(), Some(route), "{model}");
        assert_eq!(resp.served.mode, RouteMode::Direct);
    }
}

#[tokio::test]
async fn a_pattern_route_falls_back_with_each_target_forwarding_its_own_name() {
    let routes = r#"
[[routes]]
model = "claude-*"
[[routes.targets]]
provider = "a"
[[routes.targets]]
provider = "b"
model = "openrouter/{model}"
[[routes.targets]]
provider = "c"
model = "llama3.1:8b"
"#;
    let (rt, health) = gateway_with(routes);
    let s = Script::default();
    s.on(1, || json(503, r#"{"error":{"message":"overloaded"}}"#))
        .on(2, refused)
        .on(3, || json(200, OK));
    let resp = run(&s, &rt, &health, &request_for("claude-sonnet-5"))
        .await
        .ok()
        .unwrap();
    assert_eq!(
        s.models(),
        [
            "claude-sonnet-5",
            "openrouter/claude-sonnet-5",
            "llama3.1:8b"
        ]
    );
    assert_eq!(resp.served.provider, "c");
    assert_eq!(resp.served.mode, RouteMode::ModelFallback);
    let attempted: Vec<_> = resp.attempts.iter().map(|a| a.model.as_str()).collect();
    assert_eq!(
        attempted,
        [
            "claude-sonnet-5",
            "openrouter/claude-sonnet-5",
            "llama3.1:8b"
        ]
    );
}

#[tokio::test]
async fn a_pattern_route_keeps_health_per_concrete_forwarded_model() {
    let routes = r#"
[[routes]]
model = "claude-*"
failure_threshold = 1
[[routes.targets]]
provider = "a"
[[routes.targets]]
provider = "b"
"#;
    let (rt, health) = gateway_with(routes);
    let s = Script::default();
    // claude-opus-4-8 fails on a: a cools down for that model only.
    s.on(1, || json(500, r#"{"error":{"message":"boom"}}"#))
        .on(2, || json(200, OK));
    run(&s, &rt, &health, &request_for("claude-opus-4-8"))
        .await
        .ok()
        .unwrap();
    let now = tokio::time::Instant::now();
    assert!(!health.get("a", "claude-opus-4-8").admit(now).allowed());
    // The same failing model is now sent to b straight away …
    let s = Script::default();
    s.on(2, || json(200, OK));
    let resp = run(&s, &rt, &health, &request_for("claude-opus-4-8"))
        .await
        .ok()
        .unwrap();
    assert_eq!(s.ports(), [2]);
    assert_eq!(resp.served.mode, RouteMode::ProviderFallback);
    // … while another name of the pattern still goes to a first.
    let s = Script::default();
    s.on(1, || json(200, OK));
    let resp = run(&s, &rt, &health, &request_for("claude-haiku-4-5-20251001"))
        .await
        .ok()
        .unwrap();
    assert_eq!(s.ports(), [1]);
    assert_eq!(resp.served.mode, RouteMode::Direct);
    // The pattern's shared entry took none of it.
    assert_eq!(
        health
            .get("a", "claude-*")
            .snapshot(now)
            .consecutive_failures,
        0
    );
}

#[tokio::test]
async fn unmatched_names_go_on_to_provider_prefix_and_exact_routes_stay_exact() {
    let routes = r#"
[[routes]]
model = "claude-*"
[[routes.targets]]
provider = "a"
[[routes]]
model = "gpt-4o"
[[routes.targets]]
provider = "b"
model = "{model}-2024"
"#;
    let (rt, health) = gateway_with(routes);
    // An exact route's template is made concrete at build time.
    let s = Script::default();
    s.on(2, || json(200, OK));
    let resp = run(&s, &rt, &health, &request_for("gpt-4o"))
        .await
        .ok()
        .unwrap();
    assert_eq!(s.models(), ["gpt-4o-2024"]);
    assert_eq!(resp.served.route.as_deref(), Some("gpt-4o"));
    // No pattern matches `c/some-model`: the provider prefix takes it,
    // and it has no route name of its own.
    let s = Script::default();
    s.on(3, || json(200, OK));
    let resp = run(&s, &rt, &health, &request_for("c/some-model"))
        .await
        .ok()
        .unwrap();
    assert_eq!(s.models(), ["some-model"]);
    assert_eq!(resp.served.route, None);
    // Nothing matches and no provider lists it: 404.
    let s = Script::default();
    s.on(1, || json(200, r#"{"data":[]}"#))
        .on(2, || json(200, r#"{"data":[]}"#))
        .on(3, || json(200, r#"{"data":[]}"#));
    let err = run(&s, &rt, &health, &request_for("mistral-large"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, DispatchError::ModelNotFound { model } if model == "mistral-large"));
}

/// The one wildcard config docs/clients.md shows: it validates and routes
/// the ids current clients send as the doc says.
#[tokio::test]
async fn the_documented_client_config_routes_current_client_ids() {
    let doc = include_str!("../../../docs/clients.md");
    let start = doc.find("One config for all of them:").unwrap();
    let block = &doc[start..];
    let block = &block[block.find("```toml\n").unwrap() + 8..];
    let toml = &block[..block.find("```").unwrap()];
    let config = Config::parse(toml, "docs/clients.md").unwrap();
    let health = HealthRegistry::default();
    let rt = Runtime::build(config, &health, 1);
    let cases = [
        ("claude-opus-4-8", "claude-*", "anthropic"),
        ("claude-sonnet-5", "claude-*", "anthropic"),
        ("claude-haiku-4-5-20251001", "claude-*", "anthropic"),
        ("gpt-5-codex", "gpt-5*", "openai"),
        ("qwen2.5:7b", "*", "ollama"),
    ];
    for (model, route, provider) in cases {
        let (r, _) = rt.routes.lookup(model).unwrap();
        assert_eq!(r.spec.model, route, "{model}");
        assert_eq!(r.targets[0].provider.spec.name, provider, "{model}");
    }
    let (claude, _) = rt.routes.lookup("claude-sonnet-5").unwrap();
    let bound = claude.bind("claude-sonnet-5", &health, &[]);
    assert_eq!(
        bound.targets[1].forwarded("claude-sonnet-5"),
        "anthropic/claude-sonnet-5"
    );
}

/// A weighted pattern route: one session asking for several names of the
/// pattern stays on one target (the route's sticky table is shared by the
/// names it takes), while sessionless traffic still alternates.
#[tokio::test]
async fn a_session_stays_on_its_target_across_the_names_a_pattern_takes() {
    let routes = "[[routes]]\nmodel = \"claude-*\"\nstrategy = \"weighted\"\n[[routes.targets]]\nprovider = \"a\"\n[[routes.targets]]\nprovider = \"b\"\n";
    let (rt, health) = gateway_with(routes);
    let ask = |model: &str, session: bool| {
        let sid = if session { r#","user":"sess-1""# } else { "" };
        let body = Bytes::from(format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]{sid}}}"#
        ));
        ProxyRequest::new(
            Endpoint::ChatCompletions,
            body,
            "req_test".into(),
            "test".into(),
            Default::default(),
        )
        .unwrap()
    };
    let mut served = Vec::new();
    for model in CLAUDE_IDS.iter().cycle().take(6) {
        let s = Script::default();
        s.on(1, || json(200, OK)).on(2, || json(200, OK));
        let resp = run(&s, &rt, &health, &ask(model, true)).await.ok().unwrap();
        served.push(resp.served.provider);
    }
    assert!(served.iter().all(|p| p == &served[0]), "{served:?}");
    let mut unkeyed = Vec::new();
    for model in CLAUDE_IDS.iter().cycle().take(4) {
        let s = Script::default();
        s.on(1, || json(200, OK)).on(2, || json(200, OK));
        let resp = run(&s, &rt, &health, &ask(model, false))
            .await
            .ok()
            .unwrap();
        unkeyed.push(resp.served.provider);
    }
    assert!(
        unkeyed.contains(&"a".to_string()) && unkeyed.contains(&"b".to_string()),
        "{unkeyed:?}"
    );
}

const CLAUDE_IDS: [&str; 3] = [
    "claude-opus-4-8",
    "claude-sonnet-5",
    "claude-haiku-4-5-20251001",
];
