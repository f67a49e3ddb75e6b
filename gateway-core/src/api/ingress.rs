//! The client ingress every protocol shares (OpenAI's endpoints, Anthropic
//! Messages): extract (who the client is, its body, the routing fields),
//! check (paused, the ingress rate limit), call [`pipeline::handle`], and
//! map what came of it to the response, with the `x-aigw-*` headers and
//! errors in the client's protocol. Every request ends in one telemetry
//! event, a refused one included.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use tokio::time::Instant;

use super::ApiError;
use super::body::read_body;
use super::error::{H_SHOULD_RETRY, retry_after_secs, retry_cannot_fix, shape_for};
use crate::cache::{self, CacheKey, Entry, Lookup};
use crate::pipeline::{self, Answer, Handled, Inbound, Via};
use crate::providers::ClientHeaders;
use crate::routing::{ProxyRequest, Runtime, body};
use crate::state::AppState;
use crate::telemetry::Origin;
use crate::vkeys::LiveKey;
use crate::vocab::{Endpoint, ErrorClass, Served};

mod shared;

pub const H_REQUEST_ID: HeaderName = HeaderName::from_static("x-aigw-request-id");
pub const H_PROVIDER: HeaderName = HeaderName::from_static("x-aigw-provider");
pub const H_MODEL: HeaderName = HeaderName::from_static("x-aigw-model");
pub const H_ROUTE_MODE: HeaderName = HeaderName::from_static("x-aigw-route-mode");
pub const H_ATTEMPTS: HeaderName = HeaderName::from_static("x-aigw-attempts");
pub const H_OVERHEAD: HeaderName = HeaderName::from_static("x-aigw-overhead-ms");
/// On routes with `[routes.cache]`: `hit` (served from the cache) or `miss`.
pub const H_CACHE: HeaderName = HeaderName::from_static("x-aigw-cache");

/// The setting [`read_body`]'s 413 names on the client API.
pub(super) const MAX_BODY: &str = "server.max_body_bytes";

/// The router's fallbacks, in the shape of the path's protocol.
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

/// A gateway client key sent beside the client's own upstream credential
/// (for providers with `api_key = "client"`, e.g. a Claude subscription):
/// Claude Code sets it through `ANTHROPIC_CUSTOM_HEADERS`.
pub const H_GATEWAY_KEY: HeaderName = HeaderName::from_static("x-aigw-key");

/// The client's identity: its key's reference when client keys are set,
/// else its address. The key is `x-aigw-key` when present, else
/// `authorization: Bearer`, `x-api-key`, `api-key` or `x-goog-api-key`
/// (Gemini clients; the Gemini ingress moves a `?key=` there).
pub(super) fn authenticate(
    rt: &Runtime,
    headers: &HeaderMap,
    peer: &str,
) -> Result<String, ApiError> {
    identify(rt, headers, peer).map(|c| c.client)
}

/// Who sent a request: the name of its virtual key, its client key's
/// reference, or (on an open gateway) its address; and its virtual key.
pub(super) struct Caller {
    pub client: String,
    pub vkey: Option<Arc<LiveKey>>,
}

/// A key is needed when client keys are set or a virtual key exists.
fn key_required(rt: &Runtime) -> bool {
    !rt.config.server.client_keys.is_empty() || rt.vkeys.any_usable()
}

/// [`authenticate`] with the virtual key. A presented `aigw_vk_…` secret
/// must be a working virtual key, also on an open gateway: a revoked,
/// expired or rotated-out key gets 401 at once.
pub(super) fn identify(rt: &Runtime, headers: &HeaderMap, peer: &str) -> Result<Caller, ApiError> {
    let presented = match headers.get(&H_GATEWAY_KEY) {
        Some(v) => v.to_str().ok(),
        None => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
            .or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()))
            .or_else(|| headers.get("x-goog-api-key").and_then(|v| v.to_str().ok())),
    }
    .map(str::trim);
    if let Some(p) = presented
        && p.starts_with(crate::vkeys::SECRET_PREFIX)
    {
        let key = rt
            .vkeys
            .authenticate(p)
            .ok_or_else(ApiError::unauthorized)?;
        return Ok(Caller {
            client: key.name(),
            vkey: Some(key),
        });
    }
    if !key_required(rt) {
        return Ok(Caller {
            client: peer.to_string(),
            vkey: None,
        });
    }
    let presented = presented.ok_or_else(ApiError::unauthorized)?;
    // Compare against every key so timing does not reveal which matched.
    let mut found = None;
    for (label, key) in &rt.client_keys {
        if key.ct_eq(presented.as_bytes()) && found.is_none() {
            found = Some(label.clone());
        }
    }
    found
        .map(|client| Caller { client, vkey: None })
        .ok_or_else(ApiError::unauthorized)
}

/// What of the client's request head goes upstream. Its credential
/// headers are its own (forwarded to providers with `api_key = "client"`)
/// unless they carried the gateway's key: with client keys on, that key
/// must then come in `x-aigw-key`.
pub(super) fn client_head(rt: &Runtime, parts: http::request::Parts) -> ClientHeaders {
    let own_credential = !key_required(rt) || parts.headers.contains_key(&H_GATEWAY_KEY);
    ClientHeaders::new(parts.headers, parts.uri.query(), own_credential)
}

pub(super) fn peer_of(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "local".to_string(), |c| c.0.ip().to_string())
}

/// What a request's admission charged to the ingress and model limits
/// token budgets: settled once its usage is known.
struct Charge {
    ingress: Arc<crate::limits::KeyedLimiter>,
    client: String,
    model: Option<Arc<crate::limits::ProviderLimiter>>,
    estimated: u64,
    /// The virtual key's reservation (its RPM/TPM and budget), if any.
    vkey: Option<KeyCharge>,
    /// Taken from the shared limits (team mode): settled there, the local
    /// limiters above untouched.
    shared: Option<shared::SharedCharge>,
}

/// What a virtual key reserved for a request.
struct KeyCharge {
    keys: Arc<crate::vkeys::VirtualKeys>,
    key: Arc<LiveKey>,
    reserved_usd: f64,
}

impl Charge {
    /// Replaces the estimate with `actual` tokens; a virtual key's budget
    /// reservation is given back (nothing was spent).
    fn settle(&self, actual: u64) {
        self.settle_cost(actual, 0.0);
    }

    fn settle_cost(&self, actual: u64, cost_usd: f64) {
        if let Some(sh) = &self.shared {
            sh.settle(self.estimated, actual, cost_usd);
            if let Some(k) = &self.vkey {
                // This replica's account of the key's spend (list, flush).
                k.keys.settle(&k.key, 0.0, cost_usd, 0, 0);
            }
            return;
        }
        self.ingress.settle(&self.client, self.estimated, actual);
        if let Some(m) = &self.model {
            m.settle(self.estimated, actual);
        }
        if let Some(k) = &self.vkey {
            k.keys
                .settle(&k.key, k.reserved_usd, cost_usd, self.estimated, actual);
        }
    }

    /// Settles from the request's event: its tokens (reported, or estimated
    /// from the bytes of a complete answer) and cost; `unknown` tokens when
    /// it has none, and then the reserved cost too when `unknown` is the
    /// estimate (a stream cut before its usage).
    fn settle_from(&self, ev: &crate::telemetry::RequestEvent, unknown: u64) {
        let actual = match (ev.tokens_in, ev.tokens_out) {
            (None, None) => unknown,
            (i, o) => i.unwrap_or(0).saturating_add(o.unwrap_or(0)),
        };
        let reserved = self.vkey.as_ref().map_or(0.0, |k| k.reserved_usd);
        let cost = match ev.cost_usd {
            Some(c) => c,
            None if ev.tokens_in.is_none() && ev.tokens_out.is_none() && unknown > 0 => reserved,
            None => 0.0,
        };
        self.settle_cost(actual, cost);
    }

    /// The key's id and team, for the request's event.
    fn tag(&self, ev: &mut crate::telemetry::RequestEvent) {
        if let Some(k) = &self.vkey {
            tag_event(ev, &k.key);
        }
    }
}

fn tag_event(ev: &mut crate::telemetry::RequestEvent, key: &LiveKey) {
    ev.virtual_key = Some(key.id());
    ev.team = key.team();
}

/// A request refused before it was routed, and why (for its event).
struct Refused {
    client: String,
    error: ApiError,
    class: ErrorClass,
    vkey: Option<Arc<LiveKey>>,
}

/// Routes one client request; errors the gateway makes are in the shape
/// of `endpoint`'s protocol.
pub(super) async fn proxy(state: Arc<AppState>, req: Request, endpoint: Endpoint) -> Response {
    proxy_with(state, req, endpoint, None).await
}

/// The model a request names in its path (the Gemini ingress:
/// `models/{model}:streamGenerateContent`), and whether it streams.
pub(super) struct PathModel {
    pub model: String,
    pub stream: bool,
}

/// [`proxy`], the model taken from the path when `path` is given.
pub(super) async fn proxy_with(
    state: Arc<AppState>,
    req: Request,
    endpoint: Endpoint,
    path: Option<PathModel>,
) -> Response {
    let received = Instant::now();
    let rt = state.runtime.load_full();
    let request_id = format!("req_{}", uuid::Uuid::now_v7().simple());
    let admitted = admit(&state, &rt, req, endpoint, path, &request_id).await;
    let (mut inbound, charge) = match admitted {
        Ok((req, charge)) => (
            Inbound {
                req,
                origin: Origin::Client,
                received,
            },
            charge,
        ),
        Err(r) => {
            let mut ev = pipeline::event(
                &request_id,
                received,
                &r.client,
                endpoint,
                "",
                Origin::Client,
            );
            ev.status = r.error.status().as_u16();
            ev.error = Some(r.class.to_string());
            if let Some(k) = &r.vkey {
                tag_event(&mut ev, k);
            }
            state.telemetry.record(ev);
            let mut resp = r.error.into_response_for(endpoint);
            resp.headers_mut().insert(H_REQUEST_ID, hv(&request_id));
            return resp;
        }
    };
    let stream = inbound.req.peek.stream;
    let request_bytes = inbound.req.body.len();
    let lookup = cache::lookup(&rt.routes, &inbound.req);
    let hit = match lookup {
        Lookup::Key { key, .. } => cached(&state, &key).await,
        Lookup::Bypass => {
            state.cache.count(false);
            None
        }
        Lookup::Off => None,
    };
    let handled = match &hit {
        Some(entry) => cache::serve::answer(&inbound, entry, rt.config.telemetry.store_bodies),
        None => {
            let h = pipeline::handle(&state.upstreams(), &rt, &mut inbound, Via::Route).await;
            match lookup {
                Lookup::Key { key, ttl } => fill(&state, key, ttl, h),
                _ => h,
            }
        }
    };
    let asked = Asked {
        stream,
        request_bytes,
        charge,
    };
    let mut out = respond(&state, rt, handled, endpoint, &request_id, asked);
    if lookup != Lookup::Off {
        let v = if hit.is_some() { "hit" } else { "miss" };
        out.headers_mut()
            .insert(H_CACHE, HeaderValue::from_static(v));
    }
    out
}

/// A cache lookup: this replica's cache, then (team mode, on a local
/// miss) the entries other replicas shared; counted once, as a hit or a
/// miss.
async fn cached(state: &AppState, key: &CacheKey) -> Option<Arc<Entry>> {
    let mut found = state.cache.find(key);
    if found.is_none()
        && let Some(s) = &state.shared
    {
        found = s.get_cached(&state.cache, key).await;
    }
    state.cache.count(found.is_some());
    found
}

/// Stores a successful answer of a cache miss: a full 2xx body now, a
/// stream's relayed bytes when it completes cleanly (within the entry cap).
/// Errors, relayed 4xx and broken or cancelled streams are never stored.
fn fill(state: &AppState, key: CacheKey, ttl: Duration, mut h: Handled) -> Handled {
    let cache = &state.cache;
    let shared = state.shared.clone();
    let Some(served) = &h.served else { return h };
    let meta = |body, content_type| Entry {
        body,
        content_type,
        provider: served.provider.clone(),
        model: served.model.clone(),
        route: served.route.clone(),
    };
    match &mut h.answer {
        Answer::Full {
            status,
            content_type,
            body,
            ..
        } if status.is_success() && h.failure.is_none() => {
            let entry = meta(body.clone(), content_type.clone());
            if let Some(s) = &shared {
                s.put_cached(&key, &entry, ttl);
            }
            cache.insert(key, entry, ttl);
        }
        Answer::Stream {
            status,
            content_type,
            relay,
            ..
        } if status.is_success() => {
            let entry = meta(bytes::Bytes::new(), content_type.clone());
            let cache = cache.clone();
            let cap = cache.max_entry_bytes();
            relay.tee(cap, move |body| {
                let entry = Entry { body, ..entry };
                if let Some(s) = &shared {
                    s.put_cached(&key, &entry, ttl);
                }
                cache.insert(key, entry, ttl);
            });
        }
        _ => {}
    }
    h
}

/// A response of `body` with the upstream's `headers` and content type.
fn with_headers(body: Body, headers: HeaderMap, content_type: Option<HeaderValue>) -> Response {
    let mut r = Response::new(body);
    *r.headers_mut() = headers;
    if let Some(ct) = content_type {
        r.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    r
}

/// What [`respond`] needs of the request it answers.
struct Asked {
    stream: bool,
    request_bytes: usize,
    charge: Charge,
}

/// Extract and check: the client, the pause switch, the ingress RPM, the
/// body within its bounds, the routing fields, then the ingress TPM and the
/// requested model's limit (both charged the request's token estimate).
async fn admit(
    state: &AppState,
    rt: &Runtime,
    req: Request,
    endpoint: Endpoint,
    path: Option<PathModel>,
    request_id: &str,
) -> Result<(ProxyRequest, Charge), Refused> {
    let peer = peer_of(&req);
    let (parts, body) = req.into_parts();
    let caller = identify(rt, &parts.headers, &peer).map_err(|error| Refused {
        client: peer.clone(),
        error,
        class: ErrorClass::Unauthorized,
        vkey: None,
    })?;
    let vkey = caller.vkey.clone();
    let refuse = |client: &str, error, class| Refused {
        client: client.to_string(),
        error,
        class,
        vkey: vkey.clone(),
    };
    let client = caller.client;
    state
        .clients_seen
        .observe(parts.headers.get(header::USER_AGENT));
    if state.paused.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(refuse(&client, ApiError::paused(), ErrorClass::Paused));
    }
    let shared = state.cluster.as_ref().and_then(|c| c.limits.clone());
    // Shared limits are all taken at once, after the body is read.
    if shared.is_none()
        && let Err(wait) = rt.ingress.check(&client)
    {
        let e = ingress_rpm_error(rt.ingress.rpm(), wait);
        return Err(refuse(&client, e, ErrorClass::IngressRateLimited));
    }
    let server = &rt.config.server;
    let (limit, idle) = (server.max_body_bytes, server.body_idle_timeout);
    let bytes = read_body(&parts.headers, body, limit, MAX_BODY, idle)
        .await
        .map_err(|e| refuse(&client, e, ErrorClass::BadRequest))?;
    let headers = client_head(rt, parts);
    let (id, who) = (request_id.to_string(), client.clone());
    let made = match path {
        None => ProxyRequest::new(endpoint, bytes, id, who, headers),
        Some(p) => ProxyRequest::with_model(endpoint, bytes, &p.model, p.stream, id, who, headers),
    };
    let req = made.map_err(|e| {
        let code = match e {
            body::PeekError::Json(_) | body::PeekError::NotObject => "invalid_json",
            body::PeekError::MissingModel | body::PeekError::BadModel => "invalid_model",
            body::PeekError::BadStream => "invalid_stream",
        };
        refuse(
            &client,
            ApiError::bad_request(code, e.to_string()),
            ErrorClass::BadRequest,
        )
    })?;
    if let Some(limits) = shared {
        return shared::admit(rt, limits, req, caller.vkey)
            .await
            .map_err(|(error, class)| refuse(&client, error, class));
    }
    let mut charge =
        charge_tokens(rt, &req).map_err(|e| refuse(&client, e, ErrorClass::IngressRateLimited))?;
    if let Some(key) = caller.vkey {
        let cost = estimate_cost(rt, &req);
        if let Err(r) = key.admit(&req.peek.model, req.est_tokens, cost) {
            charge.settle(0);
            let (error, class) = key_refusal(r);
            return Err(refuse(&client, error, class));
        }
        charge.vkey = Some(KeyCharge {
            keys: rt.vkeys.clone(),
            key,
            reserved_usd: cost,
        });
    }
    Ok((req, charge))
}

/// What a request is estimated to cost before it goes upstream: its input
/// estimate and `max_tokens` (as the `cost` strategy prices them) at the
/// dearest price among its route's targets, else the price table's for
/// the requested model; 0 when no price is known.
fn estimate_cost(rt: &Runtime, req: &ProxyRequest) -> f64 {
    let (tin, tout) = req.est_io();
    let model = &req.peek.model;
    let overrides = &rt.config.telemetry.prices;
    let by_route = rt.routes.lookup(model).and_then(|(route, _)| {
        route
            .targets
            .iter()
            .take(route.spec.targets.len())
            .filter_map(|t| {
                crate::telemetry::cost::price_for(
                    overrides,
                    &t.provider.spec.name,
                    t.forwarded(model),
                )
            })
            .map(|p| p.cost(tin, tout))
            .reduce(f64::max)
    });
    by_route
        .or_else(|| {
            crate::telemetry::cost::PriceTable::builtin()
                .get(model)
                .map(|p| p.cost(tin, tout))
        })
        .filter(|c| c.is_finite() && *c >= 0.0)
        .unwrap_or(0.0)
}

/// A virtual key's refusal as the client's error.
fn key_refusal(r: crate::vkeys::Refusal) -> (ApiError, ErrorClass) {
    use crate::vkeys::Refusal;
    match r {
        Refusal::ModelNotAllowed { model } => (
            ApiError::forbidden(
                "model_not_allowed",
                format!("this key may not use model {model:?} (model_not_allowed)"),
            ),
            ErrorClass::ModelNotAllowed,
        ),
        Refusal::RateLimited { rpm, tpm, wait } => (
            ApiError::rate_limited(
                "rate_limit_exceeded",
                format!(
                    "this key's limit of {rpm} requests / {tpm} tokens per minute (0 = none) reached"
                ),
                wait,
            ),
            ErrorClass::IngressRateLimited,
        ),
        Refusal::BudgetExceeded {
            budget_usd,
            spent_usd,
            resets_at_ms,
        } => {
            let wait = Duration::from_millis(
                u64::try_from(resets_at_ms - crate::store::now_ms()).unwrap_or(0),
            );
            (
                ApiError::rate_limited(
                    "budget_exceeded",
                    format!(
                        "this key's budget of ${budget_usd:.2} is spent (${spent_usd:.4} used); it resets at {} (budget_exceeded)",
                        crate::vkeys::period::rfc3339(resets_at_ms)
                    ),
                    wait,
                ),
                ErrorClass::BudgetExceeded,
            )
        }
    }
}

/// Charges the request's token estimate to its client's TPM and to the
/// limit of its model (one request too), or the 429 saying which is spent.
fn charge_tokens(rt: &Runtime, req: &ProxyRequest) -> Result<Charge, ApiError> {
    let estimated = req.est_tokens;
    if let Err(wait) = rt.ingress.charge(&req.client, estimated) {
        return Err(ingress_tpm_error(rt.ingress.tpm(), estimated, wait));
    }
    let mut charge = Charge {
        ingress: rt.ingress.clone(),
        client: req.client.clone(),
        model: None,
        estimated,
        vkey: None,
        shared: None,
    };
    if let Some(limit) = rt.model_limits.lookup(&req.peek.model) {
        if let Err(wait) = limit.limiter.try_acquire(estimated) {
            charge.settle(0);
            let (rpm, tpm) = limit.limiter.limits();
            return Err(model_limit_error(
                &req.peek.model,
                &limit.model,
                (rpm, tpm),
                wait,
            ));
        }
        charge.model = Some(limit.limiter.clone());
    }
    Ok(charge)
}

fn ingress_rpm_error(rpm: u32, wait: Duration) -> ApiError {
    ApiError::rate_limited(
        "rate_limit_exceeded",
        format!("gateway limit of {rpm} requests per minute for this client reached"),
        wait,
    )
}

fn ingress_tpm_error(tpm: u32, estimated: u64, wait: Duration) -> ApiError {
    ApiError::rate_limited(
        "rate_limit_exceeded",
        format!(
            "gateway limit of {tpm} tokens per minute for this client reached \
             (this request is estimated at {estimated})"
        ),
        wait,
    )
}

fn model_limit_error(model: &str, entry: &str, (rpm, tpm): (u32, u32), wait: Duration) -> ApiError {
    let spent = match (rpm, tpm) {
        (0, t) => format!("{t} tokens per minute"),
        (r, 0) => format!("{r} requests per minute"),
        (r, t) => format!("{r} requests or {t} tokens per minute"),
    };
    ApiError::rate_limited(
        "rate_limit_exceeded",
        format!("gateway limit of {spent} for model {model:?} (limits.models {entry:?}) reached"),
        wait,
    )
}

/// Map: what came of the request, as the client's response; its event is
/// recorded now, or when the stream ends.
fn respond(
    state: &AppState,
    rt: Arc<Runtime>,
    h: Handled,
    endpoint: Endpoint,
    request_id: &str,
    asked: Asked,
) -> Response {
    let Asked {
        stream,
        request_bytes,
        charge,
    } = asked;
    let Handled {
        answer,
        mut event,
        served,
        attempts,
        overhead,
        ..
    } = h;
    charge.tag(&mut event);
    let (mut out, status) = match answer {
        Answer::Full {
            status,
            content_type,
            headers,
            retry_after,
            body,
        } => {
            charge.settle_from(&event, 0);
            state.telemetry.record(event);
            let mut r = with_headers(Body::from(body), headers, content_type);
            if let Some(ra) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(ra)));
            }
            (r, status)
        }
        Answer::Stream {
            status,
            content_type,
            headers,
            relay,
        } => {
            let sink = state.telemetry.clone();
            let body = relay.into_body(move |o| {
                pipeline::finish(&mut event, o, &rt, request_bytes);
                // A stream cut before its usage: the estimate stays charged.
                charge.settle_from(&event, charge.estimated);
                sink.record(event);
            });
            (with_headers(body, headers, content_type), status)
        }
        Answer::Refused(refusal) => {
            charge.settle(0);
            state.telemetry.record(event);
            let r = ApiError::from(refusal).into_response_for(endpoint);
            let status = r.status();
            (r, status)
        }
    };
    *out.status_mut() = status;
    let h = out.headers_mut();
    if stream && status.is_success() {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    // An upstream's 4xx of the client's, relayed: a retry cannot fix it either.
    if retry_cannot_fix(status) {
        h.insert(H_SHOULD_RETRY, HeaderValue::from_static("false"));
    }
    match &served {
        Some(served) => served_headers(h, request_id, served, attempts, overhead),
        None => {
            h.insert(H_REQUEST_ID, hv(request_id));
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::ms;

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
