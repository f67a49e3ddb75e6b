//! One measured direct call: body in, status/latency/TTFT/tokens/cost out,
//! recorded in telemetry under its origin.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::class::ErrorClass;
use crate::providers::Endpoint;
use crate::routing::{ProxyRequest, ResponseBody, Runtime, body, direct};
use crate::server::AppState;
use crate::telemetry::{Origin, RequestEvent, cost, ms};

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
    pub async fn run(&self, state: &Arc<AppState>, rt: &Runtime) -> Result<CallResult, CallError> {
        let provider = rt
            .provider_index(&self.provider)
            .ok_or_else(|| CallError::NoProvider(self.provider.clone()))?;
        let peek = body::peek(&self.body).map_err(|e| CallError::BadBody(e.to_string()))?;
        let request_id = format!("{}_{}", self.origin.as_str(), uuid::Uuid::now_v7().simple());
        let req = ProxyRequest {
            endpoint: self.endpoint,
            est_tokens: crate::limits::estimate_tokens(self.body.len(), peek.max_tokens),
            peek,
            body: self.body.clone(),
            request_id: request_id.clone(),
            client: self.origin.as_str().to_string(),
            force_fail_first: false,
            headers: Default::default(),
        };
        let started = Instant::now();
        let mut r = CallResult {
            request_id,
            provider: self.provider.clone(),
            model: self.model.clone(),
            endpoint: self.endpoint.as_str(),
            stream: req.peek.stream,
            status: 0,
            error: None,
            error_message: None,
            latency_ms: 0.0,
            ttft_ms: None,
            tokens_in: None,
            tokens_out: None,
            tokens_estimated: false,
            cost_usd: None,
            response: String::new(),
        };
        let mut text_bytes = 0u64;
        match direct(&state.client(), rt, provider, &self.model, &req).await {
            Err((f, _)) => {
                r.status = f.status.map_or(502, |s| s.as_u16());
                r.error = Some(f.class.to_string());
                r.error_message = Some(f.message.clone());
                if let Some(b) = &f.body {
                    r.response = cap(b);
                }
            }
            Ok(resp) => {
                r.status = resp.status.as_u16();
                r.ttft_ms = resp.ttft.map(ms);
                match resp.body {
                    ResponseBody::Full(b) => {
                        if let Some(u) = resp.usage {
                            r.tokens_in = u.prompt_tokens;
                            r.tokens_out = u.completion_tokens;
                        }
                        text_bytes = cost::answer_text_bytes(&b);
                        r.response = cap(&b);
                        if !resp.status.is_success() {
                            r.error = Some(ErrorClass::ClientError.to_string());
                        }
                    }
                    ResponseBody::Stream(relay) => {
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        let body = relay.into_body(move |o| {
                            let _ = tx.send(o);
                        });
                        let bytes = body
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        r.response = cap(&bytes);
                        if let Ok(o) = rx.await {
                            if let Some(u) = o.usage {
                                r.tokens_in = u.prompt_tokens;
                                r.tokens_out = u.completion_tokens;
                            }
                            text_bytes = o.text_bytes;
                            r.error = o.error;
                        }
                    }
                }
            }
        }
        r.latency_ms = ms(started.elapsed());
        if r.error.is_none() && (r.tokens_in.is_none() || r.tokens_out.is_none()) {
            r.tokens_estimated = true;
            r.tokens_in = r
                .tokens_in
                .or(Some(cost::estimate_tokens(self.body.len() as u64)));
            r.tokens_out = r.tokens_out.or(Some(cost::estimate_tokens(text_bytes)));
        }
        if let (Some(i), Some(o)) = (r.tokens_in, r.tokens_out) {
            r.cost_usd = cost::price_for(&rt.config.telemetry.prices, &self.provider, &self.model)
                .map(|p| p.cost(i, o));
        }
        state.telemetry.record(self.event(&r, started));
        Ok(r)
    }

    fn event(&self, r: &CallResult, started: Instant) -> RequestEvent {
        let time = SystemTime::now()
            .checked_sub(started.elapsed())
            .unwrap_or_else(SystemTime::now);
        let mut e = RequestEvent::new(
            r.request_id.clone(),
            time,
            self.origin.as_str().to_string(),
            self.endpoint.as_str(),
            self.model.clone(),
            self.origin,
        );
        e.provider = Some(self.provider.clone());
        e.forwarded_model = Some(self.model.clone());
        e.stream = r.stream;
        e.status = r.status;
        e.error = r.error.clone();
        e.latency_ms = r.latency_ms;
        e.ttft_ms = r.ttft_ms;
        e.tokens_in = r.tokens_in;
        e.tokens_out = r.tokens_out;
        e.tokens_estimated = r.tokens_estimated;
        e.cost_usd = r.cost_usd;
        e
    }
}

fn cap(b: &[u8]) -> String {
    let end = b.len().min(RESPONSE_CAP);
    String::from_utf8_lossy(&b[..end]).into_owned()
}
