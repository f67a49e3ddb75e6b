//! Per-request telemetry. The request path only builds a [`RequestEvent`]
//! and hands it to a [`TelemetrySink`]; sinks never block. With a data dir
//! the events also go, through a bounded queue, to a SQLite log that the
//! chart queries read; `/metrics` serves Prometheus counters and histograms.
//!
//! - `cost`: the dated price table (`prices.toml`), config overrides, token
//!   estimates when the upstream reports no usage.
//! - `redact`: key-like strings out of stored bodies, size caps.
//! - `db`: the SQLite schema, batched inserts, retention.
//! - `writer`: the bounded queue, the writer task and the retention task.
//! - `rollup`: per-minute rollups the writer keeps, for long windows.
//! - `query`: time-bucketed series, the request list, one request's detail,
//!   the overview numbers (percentiles computed here, not in the browser).
//! - `export`: the filtered request list as CSV or JSON Lines.
//! - `logline`: the hosts' tracing line format, with a fast path for the
//!   per-request line.
//! - `metrics`: the Prometheus registry.
//! - `otlp`: OpenTelemetry trace export (OTLP/HTTP, JSON) with GenAI
//!   attributes, when `telemetry.otlp_endpoint` is set.
//! - `hub`: what [`crate::state::AppState`] holds: metrics, the log, the
//!   queues.

pub mod cost;
pub mod db;
pub mod export;
mod hub;
pub mod logline;
pub mod metrics;
mod otlp;
pub mod pg;
pub mod query;
pub mod redact;
mod rollup;
pub mod spend;
mod writer;

use std::time::SystemTime;

use crate::vocab::RouteMode;
use bytes::Bytes;
use serde::Serialize;

pub use crate::vocab::{AttemptEvent, ms};
pub use db::{Db, DbError, Retention};
pub use hub::{DB_FILE, TelemetryHub, spawn_tasks};
pub use metrics::Metrics;

/// Who caused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    #[default]
    Client,
    Replay,
    Bench,
    FallbackTest,
    Verify,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Client => "client",
            Origin::Replay => "replay",
            Origin::Bench => "bench",
            Origin::FallbackTest => "fallback_test",
            Origin::Verify => "verify",
        }
    }
}

/// Everything recorded about one request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestEvent {
    pub request_id: String,
    /// When the request was received.
    pub time: SystemTime,
    pub client: String,
    pub endpoint: &'static str,
    pub requested_model: String,
    pub provider: Option<String>,
    pub forwarded_model: Option<String>,
    pub route_mode: Option<RouteMode>,
    /// The route that matched, as the operator wrote it (`claude-*`);
    /// `requested_model` is the concrete name. `None`: an implicit route.
    pub route: Option<String>,
    pub stream: bool,
    pub attempts: Vec<AttemptEvent>,
    pub status: u16,
    /// Error class when the request failed (or a stream broke).
    pub error: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub overhead_ms: f64,
    /// Every input token, cached ones included (`None`: unknown, e.g. a
    /// stream cut before its usage arrived).
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    /// The part of `tokens_in` read from the provider's prompt cache, and
    /// the part written to it (Anthropic), when the upstream reported them.
    pub cache_read_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    /// The upstream reported no (or partial) usage: tokens, and so the cost,
    /// are estimates (bytes / 4).
    pub tokens_estimated: bool,
    /// From the price table; `None` when the model has no known price.
    pub cost_usd: Option<f64>,
    /// The client went away before the answer was complete.
    pub cancelled: bool,
    /// Client traffic, or the gateway's own (replays, benchmarks, fallback
    /// tests), which charts and metrics do not count as client traffic.
    pub origin: Origin,
    /// The virtual key's id when the client sent one (`client` is then
    /// its name), and its team.
    pub virtual_key: Option<String>,
    pub team: Option<String>,
    /// The client's body, only with `telemetry.store_bodies` (the writer
    /// redacts and caps it).
    #[serde(skip)]
    pub request_body: Option<Bytes>,
    /// The answer (or the relayed stream), only with `telemetry.store_bodies`.
    #[serde(skip)]
    pub response_body: Option<Bytes>,
}

impl RequestEvent {
    /// An event with nothing known yet but who asked what, when.
    pub fn new(
        request_id: String,
        time: SystemTime,
        client: String,
        endpoint: &'static str,
        requested_model: String,
        origin: Origin,
    ) -> Self {
        Self {
            request_id,
            time,
            client,
            endpoint,
            requested_model,
            provider: None,
            forwarded_model: None,
            route_mode: None,
            route: None,
            stream: false,
            attempts: Vec::new(),
            status: 0,
            error: None,
            latency_ms: 0.0,
            ttft_ms: None,
            overhead_ms: 0.0,
            tokens_in: None,
            tokens_out: None,
            cache_read_tokens: None,
            cache_write_tokens: None,
            tokens_estimated: false,
            cost_usd: None,
            cancelled: false,
            origin,
            virtual_key: None,
            team: None,
            request_body: None,
            response_body: None,
        }
    }
}

pub trait TelemetrySink: Send + Sync + std::fmt::Debug {
    /// Must return at once: never block the request path.
    fn record(&self, event: RequestEvent);

    /// Several events, oldest first (the hub hands the host's sink batches,
    /// off the request path): by default one [`Self::record`] each.
    fn record_batch(&self, events: Vec<RequestEvent>) {
        for e in events {
            self.record(e);
        }
    }
}

/// Writes one structured tracing line per request (never keys or bodies).
#[derive(Debug, Default)]
pub struct LogSink;

impl TelemetrySink for LogSink {
    /// The lines of a batch go out in one write where the host's writer is
    /// [`logline::Stderr`].
    fn record_batch(&self, events: Vec<RequestEvent>) {
        logline::batched(|| {
            for e in events {
                self.record(e);
            }
        });
    }

    fn record(&self, e: RequestEvent) {
        tracing::info!(
            target: "aigw::request",
            request_id = %e.request_id,
            client = %e.client,
            endpoint = e.endpoint,
            model = %e.requested_model,
            provider = e.provider.as_deref().unwrap_or("-"),
            forwarded_model = e.forwarded_model.as_deref().unwrap_or("-"),
            route_mode = e.route_mode.map_or("-", RouteMode::as_str),
            route = e.route.as_deref().unwrap_or("-"),
            // the pool key's reference (`keyring:a`), never its value
            key = e.attempts.last().and_then(|a| a.key.as_deref()).unwrap_or("-"),
            attempts = e.attempts.len(),
            status = e.status,
            error = e.error.as_deref().unwrap_or("-"),
            latency_ms = format_args!("{:.1}", e.latency_ms),
            ttft_ms = format_args!("{:.1}", e.ttft_ms.unwrap_or(0.0)),
            overhead_ms = format_args!("{:.3}", e.overhead_ms),
            tokens_in = %Count(e.tokens_in),
            tokens_out = %Count(e.tokens_out),
            cache_read_tokens = %Count(e.cache_read_tokens),
            cache_write_tokens = %Count(e.cache_write_tokens),
            tokens_estimated = e.tokens_estimated,
            cost_usd = %Cost(e.cost_usd),
            cancelled = e.cancelled,
            "request"
        );
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A token count in the request line: `unknown` when not reported (a
/// stream cut before its usage, or no cache figures), never a made-up 0.
struct Count(Option<u64>);

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("unknown"),
        }
    }
}

struct Cost(Option<f64>);

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(c) => write!(f, "{c:.6}"),
            None => f.write_str("unknown"),
        }
    }
}
