//! Per-request telemetry events. The request path only builds a
//! [`RequestEvent`] and hands it to a [`TelemetrySink`]; sinks must not block
//! (the default one writes a tracing line).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::routing::RouteMode;

/// One upstream attempt of a request.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptEvent {
    pub provider: String,
    pub model: String,
    pub status: Option<u16>,
    /// `rate_limited`, `timeout`, `connect`, `upstream_5xx`, `stream_broken`,
    /// `key_missing`, … — `None` on success.
    pub error: Option<String>,
    pub latency_ms: f64,
}

/// Everything recorded about one request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestEvent {
    pub request_id: String,
    pub time: SystemTime,
    pub client: String,
    pub endpoint: &'static str,
    pub requested_model: String,
    pub provider: Option<String>,
    pub forwarded_model: Option<String>,
    pub route_mode: Option<RouteMode>,
    pub stream: bool,
    pub attempts: Vec<AttemptEvent>,
    pub status: u16,
    /// Error class when the request failed (or a stream broke).
    pub error: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub overhead_ms: f64,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    /// The client went away before the answer was complete.
    pub cancelled: bool,
}

pub trait TelemetrySink: Send + Sync + std::fmt::Debug {
    /// Must return at once: never block the request path.
    fn record(&self, event: RequestEvent);
}

/// Writes one structured tracing line per request (never keys or bodies).
#[derive(Debug, Default)]
pub struct LogSink;

impl TelemetrySink for LogSink {
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
            attempts = e.attempts.len(),
            status = e.status,
            error = e.error.as_deref().unwrap_or("-"),
            latency_ms = format_args!("{:.1}", e.latency_ms),
            ttft_ms = format_args!("{:.1}", e.ttft_ms.unwrap_or(0.0)),
            overhead_ms = format_args!("{:.3}", e.overhead_ms),
            tokens_in = e.tokens_in.unwrap_or(0),
            tokens_out = e.tokens_out.unwrap_or(0),
            cancelled = e.cancelled,
            "request"
        );
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
