//! OpenAI-compatible handlers. Thin: authenticate, limit, read the body,
//! peek the routing fields, call [`routing::dispatch`], map the result to the
//! wire with the `x-aigw-*` headers, and hand the telemetry event over.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use tokio::time::Instant;

use super::ApiError;
use super::body::read_body;
use super::error::{retry_after_secs, shape_for};
use crate::class::ErrorClass;
use crate::limits::estimate_tokens;
use crate::providers::{ClientHeaders, Endpoint};
use crate::routing::{self, DispatchError, ProxyRequest, ResponseBody, Runtime, Served, body};
use crate::server::AppState;
use crate::telemetry::{Origin, RequestEvent, cost, ms};

pub const H_REQUEST_ID: HeaderName = HeaderName::from_static("x-aigw-request-id");
pub const H_PROVIDER: HeaderName = HeaderName::from_static("x-aigw-provider");
pub const H_MODEL: HeaderName = HeaderName::from_static("x-aigw-model");
pub const H_ROUTE_MODE: HeaderName = HeaderName::from_static("x-aigw-route-mode");
pub const H_ATTEMPTS: HeaderName = HeaderName::from_static("x-aigw-attempts");
pub const H_OVERHEAD: HeaderName = HeaderName::from_static("x-aigw-overhead-ms");

pub async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok", "version": crate::VERSION })).into_response()
}

/// The setting [`read_body`]'s 413 names on the client API.
pub(super) const MAX_BODY: &str = "server.max_body_bytes";

pub async fn not_found(req: Request) -> Response {
    ApiError::not_found(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.uri().path()
    ))
    .into_response_for(shape_for(req.uri().path()))
}

pub async fn method_not_allowed(req: Request) -> Response {
    ApiError::method_not_allowed().into_response_for(shape_for(req.uri().path()))
}

pub async fn chat_completions(State(s): State<Arc<AppState>>, req: Request) -> Response {
    proxy(s, req, Endpoint::ChatCompletions).await
}
pub async fn completions(State(s): State<Arc<AppState>>, req: Request) -> Response {
    proxy(s, req, Endpoint::Completions).await
}
pub async fn embeddings(State(s): State<Arc<AppState>>, req: Request) -> Response {
    proxy(s, req, Endpoint::Embeddings).await
}
pub async fn responses(State(s): State<Arc<AppState>>, req: Request) -> Response {
    proxy(s, req, Endpoint::Responses).await
}

/// The client's identity: its key's reference when client keys are set,
/// else its address.
pub(super) fn authenticate(
    rt: &Runtime,
    headers: &HeaderMap,
    peer: &str,
) -> Result<String, ApiError> {
    if rt.config.server.client_keys.is_empty() {
        return Ok(peer.to_string());
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    // Compare against every key so timing does not reveal which matched.
    let mut found = None;
    for (label, key) in &rt.client_keys {
        if key.ct_eq(presented.as_bytes()) && found.is_none() {
            found = Some(label.clone());
        }
    }
    found.ok_or_else(ApiError::unauthorized)
}

pub(super) fn peer_of(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "local".to_string(), |c| c.0.ip().to_string())
}

fn new_request_id() -> String {
    format!("req_{}", uuid::Uuid::now_v7().simple())
}

struct Ctx {
    state: Arc<AppState>,
    request_id: String,
    received: Instant,
    client: String,
    endpoint: Endpoint,
    model: String,
    stream: bool,
}

impl Ctx {
    fn event(&self, status: u16) -> RequestEvent {
        let elapsed = self.received.elapsed();
        let mut e = RequestEvent::new(
            self.request_id.clone(),
            // when the request came in
            SystemTime::now()
                .checked_sub(elapsed)
                .unwrap_or_else(SystemTime::now),
            self.client.clone(),
            self.endpoint.as_str(),
            self.model.clone(),
            Origin::Client,
        );
        e.stream = self.stream;
        e.status = status;
        e.latency_ms = ms(elapsed);
        e.overhead_ms = ms(elapsed);
        e
    }

    /// A gateway-made error, recorded and sent.
    fn fail(&self, e: ApiError, class: ErrorClass) -> Response {
        let mut ev = self.event(e.status.as_u16());
        ev.error = Some(class.to_string());
        self.state.telemetry.record(ev);
        let mut resp = e.into_response_for(self.endpoint);
        resp.headers_mut()
            .insert(H_REQUEST_ID, hv(&self.request_id));
        resp
    }
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn served_headers(
    h: &mut HeaderMap,
    request_id: &str,
    served: &Served,
    attempts: usize,
    overhead: Duration,
) {
    h.insert(H_REQUEST_ID, hv(request_id));
    h.insert(H_PROVIDER, hv(&served.provider));
    h.insert(H_MODEL, hv(&served.model));
    h.insert(H_ROUTE_MODE, HeaderValue::from_static(served.mode.as_str()));
    h.insert(H_ATTEMPTS, HeaderValue::from(attempts));
    h.insert(H_OVERHEAD, hv(&ms_3(overhead)));
}

/// Milliseconds with three decimals (`{:.3}` of [`ms`]), formatted from
/// integer microseconds: float formatting is a visible cost per request.
fn ms_3(d: Duration) -> String {
    let us = (d.as_nanos() + 500) / 1000;
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// Authenticates, limits, reads and routes one request; errors the gateway
/// makes are in the shape of `endpoint`'s protocol.
pub(super) async fn proxy(state: Arc<AppState>, req: Request, endpoint: Endpoint) -> Response {
    let received = Instant::now();
    let rt = state.runtime.load_full();
    let peer = peer_of(&req);
    let (parts, body) = req.into_parts();
    let mut ctx = Ctx {
        state: state.clone(),
        request_id: new_request_id(),
        received,
        client: peer.clone(),
        endpoint,
        model: String::new(),
        stream: false,
    };
    match authenticate(&rt, &parts.headers, &peer) {
        Ok(c) => ctx.client = c,
        Err(e) => return ctx.fail(e, ErrorClass::Unauthorized),
    }
    if state.paused.load(std::sync::atomic::Ordering::Relaxed) {
        return ctx.fail(ApiError::paused(), ErrorClass::Paused);
    }
    if let Err(wait) = rt.ingress.check(&ctx.client) {
        let e = ApiError::rate_limited(
            "rate_limit_exceeded",
            format!(
                "gateway limit of {} requests per minute for this client reached",
                rt.ingress.rpm()
            ),
            wait,
        );
        return ctx.fail(e, ErrorClass::IngressRateLimited);
    }
    let server = &rt.config.server;
    let (limit, idle) = (server.max_body_bytes, server.body_idle_timeout);
    let read = read_body(&parts.headers, body, limit, MAX_BODY, idle).await;
    let bytes = match read {
        Ok(b) => b,
        Err(e) => return ctx.fail(e, ErrorClass::BadRequest),
    };
    let peek = match body::peek(&bytes) {
        Ok(p) => p,
        Err(e) => {
            let code = match e {
                body::PeekError::Json(_) | body::PeekError::NotObject => "invalid_json",
                body::PeekError::MissingModel | body::PeekError::BadModel => "invalid_model",
                body::PeekError::BadStream => "invalid_stream",
            };
            let e = ApiError::bad_request(code, e.to_string());
            return ctx.fail(e, ErrorClass::BadRequest);
        }
    };
    ctx.model = peek.model.clone();
    ctx.stream = peek.stream;
    let preq = ProxyRequest {
        endpoint,
        est_tokens: estimate_tokens(bytes.len(), peek.max_tokens),
        peek,
        body: bytes,
        request_id: ctx.request_id.clone(),
        client: ctx.client.clone(),
        force_fail_first: false,
        headers: ClientHeaders::from_headers(&parts.headers),
    };

    match routing::dispatch(&state.upstreams(), &rt, &preq).await {
        Ok(resp) => {
            let overhead = received.elapsed().saturating_sub(resp.upstream_time);
            let mut ev = ctx.event(resp.status.as_u16());
            ev.provider = Some(resp.served.provider.clone());
            ev.forwarded_model = Some(resp.served.model.clone());
            ev.route_mode = Some(resp.served.mode);
            ev.ttft_ms = resp.ttft.map(ms);
            ev.overhead_ms = ms(overhead);
            let n_attempts = resp.attempts.len();
            ev.attempts = resp.attempts;
            if !resp.status.is_success() {
                ev.error = Some(ErrorClass::UpstreamClientError.to_string());
            }
            let tcfg = &rt.config.telemetry;
            if tcfg.store_bodies {
                ev.request_body = Some(preq.body.clone());
            }
            let mut out = match resp.body {
                ResponseBody::Full(b) => {
                    if resp.status.is_success() {
                        let body = &b;
                        cost::settle(
                            &mut ev,
                            resp.usage,
                            preq.body.len(),
                            || cost::answer_text_bytes(body),
                            &tcfg.prices,
                        );
                    }
                    if tcfg.store_bodies {
                        ev.response_body = Some(b.clone());
                    }
                    state.telemetry.record(ev);
                    Response::new(Body::from(b))
                }
                ResponseBody::Stream(mut relay) => {
                    if tcfg.store_bodies {
                        relay = relay.capture_body(tcfg.max_body_bytes.saturating_add(1));
                    }
                    let sink = state.telemetry.clone();
                    let rt = rt.clone();
                    let request_bytes = preq.body.len();
                    Response::new(relay.into_body(move |o| {
                        ev.latency_ms += ms(o.duration);
                        let prices = &rt.config.telemetry.prices;
                        cost::settle(&mut ev, o.usage, request_bytes, || o.text_bytes, prices);
                        ev.cancelled = o.cancelled;
                        ev.error = o.error;
                        ev.response_body = o.body;
                        sink.record(ev);
                    }))
                }
            };
            *out.status_mut() = resp.status;
            let h = out.headers_mut();
            if let Some(ct) = resp.content_type {
                h.insert(header::CONTENT_TYPE, ct);
            }
            if preq.peek.stream && resp.status.is_success() {
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            }
            served_headers(h, &ctx.request_id, &resp.served, n_attempts, overhead);
            out
        }
        Err(DispatchError::ModelNotFound { model }) => {
            ctx.fail(ApiError::model_not_found(&model), ErrorClass::ModelNotFound)
        }
        Err(DispatchError::LocalLimit { retry_after }) => ctx.fail(
            ApiError::rate_limited(
                "provider_rate_limited",
                "every target of this route is over its local provider rate limit",
                retry_after,
            ),
            ErrorClass::ProviderRateLimited,
        ),
        Err(DispatchError::Exhausted {
            last,
            target,
            attempts,
            upstream_time,
        }) => {
            let overhead = received.elapsed().saturating_sub(upstream_time);
            let n = attempts.len();
            let mut out = match (last.status, last.body.clone()) {
                // The last upstream answered: its status and body, as sent.
                (Some(status), Some(b)) => {
                    let mut r = Response::new(Body::from(b));
                    *r.status_mut() = status;
                    if let Some(ct) = last.content_type.clone() {
                        r.headers_mut().insert(header::CONTENT_TYPE, ct);
                    }
                    if let Some(ra) = last.retry_after {
                        r.headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(ra)));
                    }
                    r
                }
                _ => {
                    let msg = format!("all {n} upstream attempt(s) failed; last: {}", last.message);
                    if last.is_timeout() {
                        ApiError::gateway_timeout(msg).into_response_for(endpoint)
                    } else {
                        ApiError::upstream_failed(last.class, msg).into_response_for(endpoint)
                    }
                }
            };
            let mut ev = ctx.event(out.status().as_u16());
            ev.provider = Some(target.provider.clone());
            ev.forwarded_model = Some(target.model.clone());
            ev.route_mode = Some(target.mode);
            ev.overhead_ms = ms(overhead);
            ev.attempts = attempts;
            ev.error = Some(last.class.to_string());
            if rt.config.telemetry.store_bodies {
                ev.request_body = Some(preq.body.clone());
                ev.response_body = last.body;
            }
            state.telemetry.record(ev);
            served_headers(out.headers_mut(), &ctx.request_id, &target, n, overhead);
            out
        }
    }
}

pub async fn list_models(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let rt = state.runtime.load_full();
    if let Err(e) = authenticate(&rt, req.headers(), &peer_of(&req)) {
        return e.into_response();
    }
    let cat = state.catalog.get(&rt, &state.client()).await;
    let data: Vec<_> = cat.entries.iter().map(model_json).collect();
    Json(serde_json::json!({ "object": "list", "data": data })).into_response()
}

pub async fn get_model(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let rt = state.runtime.load_full();
    if let Err(e) = authenticate(&rt, req.headers(), &peer_of(&req)) {
        return e.into_response();
    }
    let cat = state.catalog.get(&rt, &state.client()).await;
    match cat.entries.iter().find(|e| e.id == id) {
        Some(e) => Json(model_json(e)).into_response(),
        None => ApiError::model_not_found(&id).into_response(),
    }
}

fn model_json(e: &routing::ModelEntry) -> serde_json::Value {
    serde_json::json!({ "id": e.id, "object": "model", "created": 0, "owned_by": e.owned_by })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_header_matches_float_formatting() {
        for nanos in [
            0u64,
            499,
            1_234,
            87_654,
            999_999,
            1_000_000,
            12_345_678,
            3_000_400_000,
        ] {
            let d = Duration::from_nanos(nanos);
            assert_eq!(ms_3(d), format!("{:.3}", ms(d)), "{nanos} ns");
        }
    }
}
