//! OpenTelemetry trace export: OTLP/HTTP with the JSON encoding
//! (`POST {telemetry.otlp_endpoint}/v1/traces`, `Content-Type:
//! application/json`), when `telemetry.otlp_endpoint` is set.
//!
//! Hand-rolled on purpose: OTLP/JSON (the protobuf JSON mapping of
//! `ExportTraceServiceRequest`: hex ids, unix-nanos strings, typed attribute
//! values) is a stable, simple wire format, while the `opentelemetry-otlp`
//! SDK would add minutes of build on our 2-core machines and a second HTTP
//! stack next to reqwest.
//!
//! A request becomes one SERVER span named `{operation} {requested model}`
//! and one CLIENT child span per upstream attempt, with the OpenTelemetry
//! GenAI semantic attributes (`gen_ai.*`) and `aigw.*` ones. The trace id is
//! the request id's 128 bits (`x-aigw-request-id: req_<32 hex>`), so a trace
//! is found from a request. Events record durations, not start times: the
//! span starts when the request came in and lasts its latency; attempts are
//! laid out one after the other from there by their latencies.
//!
//! Off the request path like the log writer: [`OtlpSink::record`] only
//! `try_send`s into a bounded queue (a full queue drops and counts); the
//! exporter task posts batches of up to [`BATCH`] spans, or what it has every
//! [`FLUSH_EVERY`], with a short timeout. A batch the collector refuses or
//! cannot take is counted and dropped, never retried; failures are logged at
//! most once a minute. On shutdown what is queued is sent, unless the
//! collector fails then (the rest is dropped and counted).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prometheus_client::metrics::counter::Counter;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::{RequestEvent, TelemetrySink};
use crate::config::{OtlpConfig, ProviderKind};
use crate::routing::LiveRuntime;
use crate::vocab::RouteMode;

/// Most spans in one export request.
pub(crate) const BATCH: usize = 256;
/// How often a partial batch is sent.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// Requests waiting for the exporter before new ones are dropped.
pub(crate) const QUEUE: usize = 4096;
/// Whole-request timeout of one export.
const TIMEOUT: Duration = Duration::from_secs(5);
const WARN_EVERY: Duration = Duration::from_secs(60);

const KIND_SERVER: u8 = 2;
const KIND_CLIENT: u8 = 3;
const STATUS_ERROR: u8 = 2;

/// Puts events on the exporter's queue, never waiting.
#[derive(Debug)]
pub(crate) struct OtlpSink {
    pub tx: mpsc::Sender<RequestEvent>,
    pub dropped_full: Counter,
}

impl TelemetrySink for OtlpSink {
    fn record(&self, mut event: RequestEvent) {
        event.request_body = None;
        event.response_body = None;
        let spans = 1 + event.attempts.len() as u64;
        if self.tx.try_send(event).is_err() {
            self.dropped_full.inc_by(spans);
        }
    }
}

/// What the spans say about a provider, from the running config.
#[derive(Debug, Clone, Default)]
pub(crate) struct Upstream {
    pub system: &'static str,
    pub host: Option<String>,
    pub port: Option<u16>,
}

fn upstream(live: &LiveRuntime, name: &str) -> Option<Upstream> {
    let rt = live.load();
    let p = rt.config.providers.iter().find(|p| p.name == name)?;
    Some(Upstream {
        system: match p.kind {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Vertex => "vertex_ai",
        },
        host: p.base_url.host_str().map(str::to_string),
        port: p.base_url.port_or_known_default(),
    })
}

/// `gen_ai.operation.name` of an endpoint.
fn operation(endpoint: &str) -> &str {
    match endpoint {
        "chat_completions" | "responses" | "messages" => "chat",
        "completions" => "text_completion",
        other => other,
    }
}

#[derive(Default)]
struct Attrs(Vec<Value>);

impl Attrs {
    fn str(&mut self, key: &str, v: &str) {
        self.0
            .push(json!({"key": key, "value": {"stringValue": v}}));
    }
    fn int(&mut self, key: &str, v: u64) {
        // int64 is a string in the protobuf JSON mapping
        self.0
            .push(json!({"key": key, "value": {"intValue": v.to_string()}}));
    }
    fn double(&mut self, key: &str, v: f64) {
        if v.is_finite() {
            self.0
                .push(json!({"key": key, "value": {"doubleValue": v}}));
        }
    }
    fn bool(&mut self, key: &str, v: bool) {
        self.0.push(json!({"key": key, "value": {"boolValue": v}}));
    }
    fn upstream(&mut self, up: Option<&Upstream>) {
        self.str("gen_ai.system", up.map_or("_OTHER", |u| u.system));
        if let Some(host) = up.and_then(|u| u.host.as_deref()) {
            self.str("server.address", host);
        }
        if let Some(port) = up.and_then(|u| u.port) {
            self.int("server.port", u64::from(port));
        }
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn nanos_of_ms(ms: f64) -> u64 {
    Duration::try_from_secs_f64(ms / 1000.0)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn random_id<const N: usize>() -> String {
    loop {
        let b: [u8; N] = rand::random();
        if b.iter().any(|&x| x != 0) {
            return hex::encode(b);
        }
    }
}

/// The request id's 32 hex digits, or a random id for any other shape.
fn trace_id(request_id: &str) -> String {
    let h = request_id.strip_prefix("req_").unwrap_or(request_id);
    if h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()) && h.bytes().any(|b| b != b'0') {
        return h.to_ascii_lowercase();
    }
    random_id::<16>()
}

fn span(
    ids: (&str, &str, Option<&str>),
    name: String,
    kind: u8,
    (start, end): (u64, u64),
    attrs: Attrs,
    error: Option<&str>,
) -> Value {
    let (trace, id, parent) = ids;
    let mut s = json!({
        "traceId": trace,
        "spanId": id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": start.to_string(),
        "endTimeUnixNano": end.to_string(),
        "attributes": attrs.0,
    });
    if let Some(p) = parent {
        s["parentSpanId"] = json!(p);
    }
    if let Some(e) = error {
        s["status"] = json!({"code": STATUS_ERROR, "message": e});
    }
    s
}

/// One request's spans: the server span, then one per attempt.
pub(crate) fn request_spans(
    e: &RequestEvent,
    upstream: &dyn Fn(&str) -> Option<Upstream>,
) -> Vec<Value> {
    let trace = trace_id(&e.request_id);
    let root = random_id::<8>();
    let start = unix_nanos(e.time);
    let end = start.saturating_add(nanos_of_ms(e.latency_ms));
    let op = operation(e.endpoint);
    let named = |model: &str| match model {
        "" => op.to_string(),
        m => format!("{op} {m}"),
    };
    let status_error = |status: u16| (status >= 400).then(|| status.to_string());

    let mut a = Attrs::default();
    a.str("gen_ai.operation.name", op);
    a.str("gen_ai.request.model", &e.requested_model);
    if let Some(p) = &e.provider {
        a.upstream(upstream(p).as_ref());
        a.str("aigw.provider", p);
    }
    if let Some(m) = &e.forwarded_model {
        a.str("gen_ai.response.model", m);
    }
    if let Some(r) = &e.route {
        a.str("aigw.route", r);
    }
    if let Some(n) = e.tokens_in {
        a.int("gen_ai.usage.input_tokens", n);
    }
    if let Some(n) = e.tokens_out {
        a.int("gen_ai.usage.output_tokens", n);
    }
    if let Some(n) = e.cache_read_tokens {
        a.int("gen_ai.usage.cache_read_input_tokens", n);
    }
    if let Some(n) = e.cache_write_tokens {
        a.int("gen_ai.usage.cache_creation_input_tokens", n);
    }
    a.int("http.response.status_code", u64::from(e.status));
    let error = e.error.clone().or_else(|| status_error(e.status));
    if let Some(err) = &error {
        a.str("error.type", err);
    }
    a.str("aigw.request_id", &e.request_id);
    a.str("aigw.endpoint", e.endpoint);
    a.str(
        "aigw.route_mode",
        e.route_mode.map_or("none", RouteMode::as_str),
    );
    a.int("aigw.attempts", e.attempts.len() as u64);
    a.bool("aigw.stream", e.stream);
    if let Some(t) = e.ttft_ms {
        a.double("aigw.ttft_ms", t);
    }
    a.double("aigw.overhead_ms", e.overhead_ms);
    if let Some(c) = e.cost_usd {
        a.double("aigw.cost_usd", c);
    }
    if e.tokens_estimated {
        a.bool("aigw.tokens_estimated", true);
    }
    if e.cancelled {
        a.bool("aigw.cancelled", true);
    }
    let mut out = Vec::with_capacity(1 + e.attempts.len());
    out.push(span(
        (&trace, &root, None),
        named(&e.requested_model),
        KIND_SERVER,
        (start, end),
        a,
        error.as_deref(),
    ));

    let mut at = start;
    let last = e.attempts.len().saturating_sub(1);
    for (i, t) in e.attempts.iter().enumerate() {
        let t_end = at.saturating_add(nanos_of_ms(t.latency_ms)).min(end);
        let mut a = Attrs::default();
        a.str("gen_ai.operation.name", op);
        a.upstream(upstream(&t.provider).as_ref());
        a.str("gen_ai.request.model", &t.model);
        let error = t.error.clone().or_else(|| t.status.and_then(status_error));
        // the attempt that served carries the answer's model and usage
        if i == last && error.is_none() && e.status < 400 {
            a.str("gen_ai.response.model", &t.model);
            if let Some(n) = e.tokens_in {
                a.int("gen_ai.usage.input_tokens", n);
            }
            if let Some(n) = e.tokens_out {
                a.int("gen_ai.usage.output_tokens", n);
            }
        }
        if let Some(s) = t.status {
            a.int("http.response.status_code", u64::from(s));
        }
        if let Some(err) = &error {
            a.str("error.type", err);
        }
        a.str("aigw.provider", &t.provider);
        a.int("aigw.attempt", i as u64 + 1);
        out.push(span(
            (&trace, &random_id::<8>(), Some(&root)),
            named(&t.model),
            KIND_CLIENT,
            (at, t_end),
            a,
            error.as_deref(),
        ));
        at = t_end;
    }
    out
}

/// Posts batches to the collector and counts the outcome.
#[derive(Debug)]
pub(crate) struct Exporter {
    client: reqwest::Client,
    url: reqwest::Url,
    resource: Value,
    exported: Counter,
    failed: Counter,
    last_warn: Option<Instant>,
    unlogged: u64,
}

impl Exporter {
    /// Its own plain client: the collector is operator-configured (usually
    /// loopback), not an upstream behind the SSRF guard.
    pub(crate) fn new(
        config: &OtlpConfig,
        exported: Counter,
        failed: Counter,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("aigw/", env!("CARGO_PKG_VERSION")))
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut attrs = Attrs::default();
        attrs.str("service.name", &config.service_name);
        attrs.str("service.version", crate::VERSION);
        Ok(Self {
            client,
            url: config.traces_url.clone(),
            resource: json!({ "attributes": attrs.0 }),
            exported,
            failed,
            last_warn: None,
            unlogged: 0,
        })
    }

    /// The `ExportTraceServiceRequest` for `spans`.
    fn payload(&self, spans: Vec<Value>) -> Value {
        json!({"resourceSpans": [{
            "resource": self.resource,
            "scopeSpans": [{
                "scope": {"name": "aigw", "version": crate::VERSION},
                "spans": spans,
            }],
        }]})
    }

    /// Sends one batch; `false` when the collector did not take it.
    async fn send(&mut self, spans: Vec<Value>) -> bool {
        let n = spans.len() as u64;
        if n == 0 {
            return true;
        }
        let body = self.payload(spans);
        let err = match self.client.post(self.url.clone()).json(&body).send().await {
            Ok(r) if r.status().is_success() => {
                self.exported.inc_by(n);
                return true;
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                format!("HTTP {status} {text}")
            }
            Err(e) => error_chain(&e),
        };
        self.failed.inc_by(n);
        self.warn(n, &err);
        false
    }

    fn warn(&mut self, n: u64, err: &str) {
        let now = Instant::now();
        if self
            .last_warn
            .is_some_and(|t| now.duration_since(t) < WARN_EVERY)
        {
            self.unlogged += 1;
            return;
        }
        let earlier = match self.unlogged {
            0 => String::new(),
            k => format!(" ({k} more failure(s) since the last message)"),
        };
        tracing::warn!(
            "OTLP export to {} failed, {n} span(s) dropped: {err}{earlier}",
            self.url
        );
        self.last_warn = Some(now);
        self.unlogged = 0;
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Exports until `drain` fires, then sends what is queued and ends.
pub(crate) async fn run_exporter(
    live: Arc<LiveRuntime>,
    mut exp: Exporter,
    mut rx: mpsc::Receiver<RequestEvent>,
    drain: CancellationToken,
) {
    let lookup = |name: &str| upstream(&live, name);
    let mut spans: Vec<Value> = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut draining = false;
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                spans.extend(request_spans(&ev, &lookup));
                if spans.len() >= BATCH {
                    let rest = spans.split_off(BATCH);
                    let ok = exp.send(std::mem::replace(&mut spans, rest)).await;
                    if !ok && draining {
                        // shutting down and the collector fails: do not wait on it again
                        let mut lost = spans.len() as u64;
                        while let Ok(ev) = rx.try_recv() {
                            lost += 1 + ev.attempts.len() as u64;
                        }
                        exp.failed.inc_by(lost);
                        return;
                    }
                }
            }
            _ = tick.tick(), if !draining => {
                if !spans.is_empty() {
                    exp.send(std::mem::take(&mut spans)).await;
                }
            }
            () = drain.cancelled(), if !draining => {
                // no new events from here on; what is queued still goes out
                rx.close();
                draining = true;
            }
        }
    }
    exp.send(spans).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::AttemptEvent;

    fn event() -> RequestEvent {
        RequestEvent {
            request_id: "req_0190AbCdEf0123456789abcdef012345".into(),
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            client: "127.0.0.1".into(),
            endpoint: "embeddings",
            requested_model: "emb".into(),
            provider: Some("b".into()),
            forwarded_model: Some("emb-2".into()),
            route_mode: Some(RouteMode::ProviderFallback),
            route: Some("emb*".into()),
            stream: false,
            attempts: vec![
                AttemptEvent {
                    provider: "a".into(),
                    model: "emb".into(),
                    status: Some(503),
                    error: Some("upstream_5xx".into()),
                    latency_ms: 600.0,
                    key: None,
                },
                AttemptEvent {
                    provider: "b".into(),
                    model: "emb-2".into(),
                    status: Some(200),
                    error: None,
                    latency_ms: 600.0,
                    key: None,
                },
            ],
            status: 200,
            error: None,
            latency_ms: 1000.0,
            ttft_ms: None,
            overhead_ms: 0.5,
            tokens_in: Some(3),
            tokens_out: None,
            cache_read_tokens: None,
            cache_write_tokens: None,
            tokens_estimated: false,
            cost_usd: None,
            cancelled: false,
            origin: Default::default(),
            request_body: None,
            response_body: None,
        }
    }

    #[test]
    fn trace_id_is_the_request_id_and_attempts_stay_inside_the_request() {
        let spans = request_spans(&event(), &|_| None);
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0]["traceId"], "0190abcdef0123456789abcdef012345");
        assert_eq!(spans[0]["name"], "embeddings emb");
        assert_eq!(spans[0]["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(spans[0]["endTimeUnixNano"], "1700000001000000000");
        assert_eq!(spans[1]["endTimeUnixNano"], "1700000000600000000");
        assert_eq!(spans[2]["startTimeUnixNano"], "1700000000600000000");
        // clamped to the request's end
        assert_eq!(spans[2]["endTimeUnixNano"], "1700000001000000000");
        assert_eq!(spans[1]["status"]["code"], 2);
        assert!(spans[2].get("status").is_none());
        for s in &spans {
            assert_eq!(s["spanId"].as_str().map(str::len), Some(16));
        }
        assert_eq!(trace_id("not-a-uuid").len(), 32);
        assert_ne!(trace_id(&format!("req_{}", "0".repeat(32))), "0".repeat(32));
    }
}
