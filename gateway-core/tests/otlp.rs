#![allow(clippy::unwrap_used, clippy::expect_used)]
//! OpenTelemetry trace export as an operator meets it: point
//! `telemetry.otlp_endpoint` at a collector and every request arrives there
//! as an OTLP/JSON trace — a server span with the GenAI attributes and one
//! child span per upstream attempt — flushed on shutdown. A collector that is
//! down costs spans (counted), never requests.

use crate::common;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use common::{TestGateway, chat_body, header, provider, route};
use gateway_core::config::Config;
use serde_json::{Value, json};
use testkit::{Behavior, FakeUpstream};

/// A fake OTLP/HTTP collector: records every `POST /v1/traces` JSON body.
struct Collector {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Collector {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        // `Json` refuses a body that is not `Content-Type: application/json`.
        async fn traces(
            State(bodies): State<Arc<Mutex<Vec<Value>>>>,
            Json(body): Json<Value>,
        ) -> Json<Value> {
            bodies.lock().unwrap().push(body);
            Json(json!({}))
        }
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .with_state(bodies.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Collector {
            url,
            bodies,
            _server: server,
        }
    }

    /// Every span received, with the resource attributes it came with.
    fn spans(&self) -> Vec<(Value, Value)> {
        let mut out = Vec::new();
        for body in self.bodies.lock().unwrap().iter() {
            for rs in body["resourceSpans"].as_array().unwrap() {
                for ss in rs["scopeSpans"].as_array().unwrap() {
                    assert_eq!(ss["scope"]["name"], "aigw");
                    for s in ss["spans"].as_array().unwrap() {
                        out.push((rs["resource"].clone(), s.clone()));
                    }
                }
            }
        }
        out
    }
}

/// An attribute's value as JSON (`{"stringValue": …}` unwrapped; intValue
/// is a string in OTLP/JSON and parsed here).
fn attr(span: &Value, key: &str) -> Option<Value> {
    let kv = span["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == key)?;
    let v = &kv["value"];
    Some(if let Some(s) = v.get("stringValue") {
        s.clone()
    } else if let Some(i) = v.get("intValue") {
        json!(i.as_str().unwrap().parse::<i64>().unwrap())
    } else if let Some(d) = v.get("doubleValue") {
        d.clone()
    } else if let Some(b) = v.get("boolValue") {
        b.clone()
    } else {
        panic!("unknown attribute value {v}")
    })
}

fn is_hex(s: &Value, len: usize) -> bool {
    s.as_str()
        .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn nanos(s: &Value, field: &str) -> u128 {
    s[field].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_fallback_arrives_as_a_server_span_with_one_child_per_attempt() {
    let collector = Collector::start().await;
    let primary = FakeUpstream::start("primary").await;
    let backup = FakeUpstream::start("backup").await;
    let down = FakeUpstream::start("down").await;
    down.set_default(Behavior::status(503));
    let toml = format!(
        "[telemetry]\notlp_endpoint = \"{}/\"\notlp_service_name = \"gw-under-test\"\n{}{}{}{}{}",
        collector.url,
        provider(&primary, "timeout_s = 2"),
        provider(&backup, "timeout_s = 2"),
        provider(&down, "timeout_s = 2"),
        route(
            "gpt-4o-mini",
            "",
            &[("primary", None), ("backup", Some("llama-3.1-8b"))]
        ),
        route("only-down", "", &[("down", None)]),
    );
    let gw = TestGateway::start(&toml).await;
    let state = gw.handle.state().clone();

    primary.push(Behavior::Status {
        status: 429,
        retry_after: Some(7),
        body: None,
    });
    let resp = gw.chat(&chat_body("gpt-4o-mini", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-aigw-route-mode"), "model_fallback");
    let request_id = header(&resp, "x-aigw-request-id");
    let failed = gw.chat(&chat_body("only-down", false)).await;
    assert!(failed.status().is_server_error(), "{}", failed.status());
    let failed_id = header(&failed, "x-aigw-request-id");
    gw.capture.wait(2).await;

    // shutdown flushes what the exporter holds
    gw.handle.shutdown().await;

    let spans = collector.spans();
    assert_eq!(spans.len(), 5, "{spans:#?}");
    for (resource, _) in &spans {
        let svc = json!({"attributes": resource["attributes"]});
        assert_eq!(attr(&svc, "service.name"), Some(json!("gw-under-test")));
        assert!(attr(&svc, "service.version").is_some());
    }
    let spans: Vec<Value> = spans.into_iter().map(|(_, s)| s).collect();
    for s in &spans {
        assert!(is_hex(&s["traceId"], 32), "{s}");
        assert!(is_hex(&s["spanId"], 16), "{s}");
        assert!(nanos(s, "startTimeUnixNano") <= nanos(s, "endTimeUnixNano"));
    }
    let by_request = |id: &str| {
        spans
            .iter()
            .find(|s| attr(s, "aigw.request_id") == Some(json!(id)))
            .cloned()
            .unwrap_or_else(|| panic!("no server span for {id}: {spans:#?}"))
    };
    let children = |root: &Value| -> Vec<Value> {
        let mut c: Vec<Value> = spans
            .iter()
            .filter(|s| s.get("parentSpanId") == Some(&root["spanId"]))
            .cloned()
            .collect();
        c.sort_by_key(|s| attr(s, "aigw.attempt").unwrap().as_i64());
        c
    };

    // the fallback: one server span…
    let root = by_request(&request_id);
    assert_eq!(root["kind"], 2, "SPAN_KIND_SERVER");
    assert!(root.get("parentSpanId").is_none());
    assert_eq!(root["name"], "chat gpt-4o-mini");
    // the trace id is the request id's hex
    assert_eq!(root["traceId"], request_id.trim_start_matches("req_"));
    assert_eq!(attr(&root, "gen_ai.operation.name"), Some(json!("chat")));
    assert_eq!(attr(&root, "gen_ai.system"), Some(json!("openai")));
    assert_eq!(
        attr(&root, "gen_ai.request.model"),
        Some(json!("gpt-4o-mini"))
    );
    assert_eq!(
        attr(&root, "gen_ai.response.model"),
        Some(json!("llama-3.1-8b"))
    );
    assert_eq!(attr(&root, "gen_ai.usage.input_tokens"), Some(json!(10)));
    assert_eq!(attr(&root, "gen_ai.usage.output_tokens"), Some(json!(3)));
    assert_eq!(attr(&root, "http.response.status_code"), Some(json!(200)));
    assert_eq!(
        attr(&root, "aigw.route_mode"),
        Some(json!("model_fallback"))
    );
    assert_eq!(attr(&root, "aigw.provider"), Some(json!("backup")));
    assert_eq!(attr(&root, "aigw.attempts"), Some(json!(2)));
    assert!(attr(&root, "aigw.ttft_ms").is_some());
    assert_eq!(attr(&root, "error.type"), None);
    assert!(root.get("status").is_none_or(|s| s["code"] != 2), "{root}");

    // …and a client span per attempt, in order, inside it
    let kids = children(&root);
    assert_eq!(kids.len(), 2, "{spans:#?}");
    for k in &kids {
        assert_eq!(k["traceId"], root["traceId"]);
        assert_eq!(k["kind"], 3, "SPAN_KIND_CLIENT");
        assert!(nanos(k, "startTimeUnixNano") >= nanos(&root, "startTimeUnixNano"));
        assert!(nanos(k, "endTimeUnixNano") <= nanos(&root, "endTimeUnixNano"));
        assert_eq!(attr(k, "server.address"), Some(json!("127.0.0.1")));
    }
    assert!(nanos(&kids[0], "endTimeUnixNano") <= nanos(&kids[1], "startTimeUnixNano"));
    assert_eq!(attr(&kids[0], "aigw.provider"), Some(json!("primary")));
    assert_eq!(
        attr(&kids[0], "gen_ai.request.model"),
        Some(json!("gpt-4o-mini"))
    );
    assert_eq!(
        attr(&kids[0], "http.response.status_code"),
        Some(json!(429))
    );
    assert_eq!(attr(&kids[0], "error.type"), Some(json!("rate_limited")));
    assert_eq!(kids[0]["status"]["code"], 2, "STATUS_CODE_ERROR");
    assert_eq!(attr(&kids[1], "aigw.provider"), Some(json!("backup")));
    assert_eq!(
        attr(&kids[1], "gen_ai.request.model"),
        Some(json!("llama-3.1-8b"))
    );
    assert_eq!(
        attr(&kids[1], "gen_ai.response.model"),
        Some(json!("llama-3.1-8b"))
    );
    assert_eq!(
        attr(&kids[1], "http.response.status_code"),
        Some(json!(200))
    );
    assert_eq!(attr(&kids[1], "error.type"), None);

    // the failure: an ERROR server span with error.type
    let root = by_request(&failed_id);
    assert_eq!(root["status"]["code"], 2, "STATUS_CODE_ERROR: {root}");
    let class = attr(&root, "error.type").expect("error.type");
    assert!(!class.as_str().unwrap().is_empty());
    assert!(attr(&root, "http.response.status_code").unwrap().as_i64() >= Some(500));
    let kids = children(&root);
    assert_eq!(kids.len(), 1);
    assert_eq!(attr(&kids[0], "error.type"), Some(json!("upstream_5xx")));
    assert_eq!(kids[0]["status"]["code"], 2);

    let metrics = state.telemetry_hub.render_metrics(&state.health, false);
    assert!(
        metrics.contains("aigw_otlp_spans_exported_total 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_collector_that_is_down_costs_spans_not_requests() {
    let dead = testkit::refused_addr().await;
    let up = FakeUpstream::start("up").await;
    let toml = format!(
        "[telemetry]\notlp_endpoint = \"http://{dead}\"\n{}{}",
        provider(&up, ""),
        route("m", "", &[("up", None)]),
    );
    let gw = TestGateway::start(&toml).await;
    let state = gw.handle.state().clone();
    for _ in 0..3 {
        let resp = gw.chat(&chat_body("m", false)).await;
        assert_eq!(resp.status(), 200);
    }
    gw.capture.wait(3).await;
    gw.handle.shutdown().await;
    let metrics = state.telemetry_hub.render_metrics(&state.health, false);
    // three requests, one attempt each
    assert!(
        metrics.contains("aigw_otlp_spans_dropped_total{reason=\"export_failed\"} 6"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aigw_otlp_spans_exported_total 0"),
        "{metrics}"
    );
}

#[test]
fn otlp_endpoint_is_validated() {
    let parse = |t: &str| Config::parse(&format!("[telemetry]\n{t}\n"), "cfg.toml");

    let c = parse("otlp_endpoint = \"http://127.0.0.1:4318\"").unwrap();
    let o = c.telemetry.otlp.unwrap();
    assert_eq!(o.traces_url.as_str(), "http://127.0.0.1:4318/v1/traces");
    assert_eq!(o.service_name, "aigw");
    let c = parse("otlp_endpoint = \"https://otel.example/base/\"\notlp_service_name = \"edge\"")
        .unwrap();
    let o = c.telemetry.otlp.unwrap();
    assert_eq!(o.traces_url.as_str(), "https://otel.example/base/v1/traces");
    assert_eq!(o.service_name, "edge");
    // the full traces URL is taken as is
    let c = parse("otlp_endpoint = \"http://127.0.0.1:4318/v1/traces\"").unwrap();
    assert_eq!(
        c.telemetry.otlp.unwrap().traces_url.as_str(),
        "http://127.0.0.1:4318/v1/traces"
    );
    assert!(parse("").unwrap().telemetry.otlp.is_none());

    for (bad, why) in [
        ("otlp_endpoint = \"grpc://127.0.0.1:4317\"", "http"),
        ("otlp_endpoint = \"127.0.0.1:4318\"", ""),
        ("otlp_endpoint = \"http://h:4318/?x=1\"", "query"),
        ("otlp_endpoint = \"http://u:p@h:4318\"", "credentials"),
        (
            "otlp_endpoint = \"http://h:4318\"\notlp_service_name = \" \"",
            "empty",
        ),
    ] {
        let e = parse(bad).unwrap_err();
        let i = e
            .issues
            .iter()
            .find(|i| i.path.starts_with("telemetry.otlp_"))
            .unwrap_or_else(|| panic!("{bad}: {e}"));
        assert!(i.line.is_some(), "{i:?}");
        assert!(i.message.contains(why), "{bad}: {}", i.message);
    }
}
