//! One measured direct call: body in, status/latency/TTFT/tokens/cost out,
//! recorded in telemetry under its origin.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::pipeline::{self, Answer, Inbound, Via};
use crate::routing::{ProxyRequest, Runtime};
use crate::state::AppState;
use crate::telemetry::Origin;
use crate::vocab::Endpoint;

/// What to send where.
#[derive(Debug, Clone)]
pub struct Call {
    pub endpoint: Endpoint,
    pub body: Bytes,
    pub provider: String,
    pub model: String,
    pub origin: Origin,
}

/// What came back, measured.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct CallResult {
    pub request_id: String,
    pub provider: String,
    pub model: String,
    pub endpoint: &'static str,
    pub stream: bool,
    pub status: u16,
    /// Error class when no usable answer came back (or the stream broke).
    pub error: Option<String>,
    pub error_message: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    pub tokens_estimated: bool,
    pub cost_usd: Option<f64>,
    /// The answer (raw SSE for streams), capped at 64 KiB.
    pub response: String,
}

const RESPONSE_CAP: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no provider named {0:?}")]
    NoProvider(String),
    #[error("{0}")]
    BadBody(String),
}

impl Call {
    /// Sends the call to its provider and model (outside routing, see
    /// [`Via::Pinned`]), reads the whole answer (a stream to its end) and
    /// records the call in telemetry under its origin.
    pub async fn run(
        &self,
        state: &Arc<AppState>,
        rt: &Arc<Runtime>,
    ) -> Result<CallResult, CallError> {
        let provider = rt
            .provider_index(&self.provider)
            .ok_or_else(|| CallError::NoProvider(self.provider.clone()))?;
        let request_id = format!("{}_{}", self.origin.as_str(), uuid::Uuid::now_v7().simple());
        let req = ProxyRequest::new(
            self.endpoint,
            self.body.clone(),
            request_id.clone(),
            self.origin.as_str().to_string(),
            Default::default(),
        )
        .map_err(|e| CallError::BadBody(e.to_string()))?;
        let stream = req.peek.stream;
        let mut inbound = Inbound {
            req,
            origin: self.origin,
            received: Instant::now(),
        };
        let via = Via::Pinned {
            provider,
            model: self.model.clone(),
        };
        let h = pipeline::handle(&state.upstreams(), rt, &mut inbound, via).await;
        let mut ev = h.event;
        let response = match h.answer {
            Answer::Full { body, .. } => cap(&body),
            Answer::Stream { relay, .. } => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let body = relay.into_body(move |o| {
                    let _ = tx.send(o);
                });
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                if let Ok(o) = rx.await {
                    pipeline::finish(&mut ev, o, rt, self.body.len());
                }
                cap(&bytes)
            }
            Answer::Refused(_) => String::new(),
        };
        let r = CallResult {
            request_id,
            provider: self.provider.clone(),
            model: self.model.clone(),
            endpoint: self.endpoint.as_str(),
            stream,
            status: ev.status,
            error: ev.error.clone(),
            error_message: h.failure,
            latency_ms: ev.latency_ms,
            ttft_ms: ev.ttft_ms,
            tokens_in: ev.tokens_in,
            tokens_out: ev.tokens_out,
            tokens_estimated: ev.tokens_estimated,
            cost_usd: ev.cost_usd,
            response,
        };
        state.telemetry.record(ev);
        Ok(r)
    }
}

fn cap(b: &[u8]) -> String {
    let end = b.len().min(RESPONSE_CAP);
    String::from_utf8_lossy(&b[..end]).into_owned()
}
