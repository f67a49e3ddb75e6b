//! The attempt loop. For one request: order the route's targets, skip those
//! cooling down or over their provider's local limit, try each in turn,
//! fall back on exactly the fallback signals (408, 429, 5xx, connect error,
//! timeout, a stream that breaks before its first content frame, and the
//! 4xx the route's `fallback_on` / `retry_on_*` rules name), go on with a
//! class's own targets after such an error, retry in bounded, jittered
//! passes within the route's `max_elapsed_s`, and report which target
//! served and how.
//! One attempt against one target is `attempt`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use rand::Rng;
use tokio::time::Instant;

use super::Upstreams;
use super::attempt::{Rules, attempt};
use super::body::RequestPeek;
use super::health::{Admission, FailureClass};
use super::runtime::{RouteRuntime, RouteTarget, Runtime};
use super::sticky::SessionKey;
use super::stream::StreamRelay;
use super::table::MatchKind;
use crate::providers::ClientHeaders;
use crate::vocab::{AttemptEvent, Endpoint, ErrorClass, RouteMode, Served, Usage, ms};

/// A client request, read just enough to route it.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub endpoint: Endpoint,
    pub peek: RequestPeek,
    /// The client's body, forwarded untouched unless the model is rewritten.
    pub body: Bytes,
    pub request_id: String,
    pub client: String,
    pub est_tokens: u64,
    /// Fallback test: the route's preferred target fails without being called.
    pub force_fail_first: bool,
    /// Client headers some providers forward (`anthropic-version`, `anthropic-beta`).
    pub headers: ClientHeaders,
    /// The sticky session this request belongs to, if it names one:
    /// found on first use ([`ProxyRequest::session`]), so a request on a
    /// route that is not sticky and not translated never looks for it.
    session: std::sync::OnceLock<Option<SessionKey>>,
}

impl ProxyRequest {
    /// A request for `endpoint` from `client`: the body's routing fields
    /// peeked, and the token estimate local limits charge for it (from the
    /// body's size and `max_tokens`).
    pub fn new(
        endpoint: Endpoint,
        body: Bytes,
        request_id: String,
        client: String,
        headers: ClientHeaders,
    ) -> Result<Self, super::body::PeekError> {
        let peek = super::body::peek(&body)?;
        Ok(Self {
            session: std::sync::OnceLock::new(),
            endpoint,
            est_tokens: crate::limits::estimate_tokens(body.len(), peek.max_tokens),
            peek,
            body,
            request_id,
            client,
            force_fail_first: false,
            headers,
        })
    }

    /// A request whose model (and streaming) came in its path, not its
    /// body (the Gemini ingress, [`super::body::peek_with_model`]).
    pub fn with_model(
        endpoint: Endpoint,
        body: Bytes,
        model: &str,
        stream: bool,
        request_id: String,
        client: String,
        headers: ClientHeaders,
    ) -> Result<Self, super::body::PeekError> {
        let peek = super::body::peek_with_model(&body, model, stream)?;
        Ok(Self {
            session: std::sync::OnceLock::new(),
            endpoint,
            est_tokens: crate::limits::estimate_tokens(body.len(), peek.max_tokens),
            peek,
            body,
            request_id,
            client,
            force_fail_first: false,
            headers,
        })
    }

    /// Estimated (input, output) tokens: the body at 4 bytes a token, and
    /// `max_tokens` (256 when absent), what a `cost` route prices.
    pub fn est_io(&self) -> (u64, u64) {
        (
            crate::telemetry::cost::estimate_tokens(self.body.len() as u64),
            self.peek
                .max_tokens
                .unwrap_or(crate::limits::DEFAULT_OUTPUT_TOKENS),
        )
    }

    /// The sticky session the request names: the client's headers take
    /// precedence over the body's fields (see [`SessionKey::from_request`]).
    pub fn session(&self) -> Option<&SessionKey> {
        self.session
            .get_or_init(|| {
                SessionKey::from_request(self.headers.map(), self.peek.session.as_deref())
            })
            .as_ref()
    }
}

// One per request, moved a few times: boxing would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum ResponseBody {
    Full(Bytes),
    Stream(StreamRelay),
}

pub struct ProxyResponse {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    /// Upstream headers relayed to the client (request ids, rate limits).
    pub headers: http::HeaderMap,
    pub body: ResponseBody,
    pub served: Served,
    pub attempts: Vec<AttemptEvent>,
    /// Time spent waiting on upstreams (and retry backoff): the rest is ours.
    pub upstream_time: Duration,
    /// Time to first content (streams) or to the full answer.
    pub ttft: Option<Duration>,
    pub usage: Option<Usage>,
}

/// Why an attempt did not produce the answer.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Why: telemetry, error codes, health.
    pub class: ErrorClass,
    pub message: String,
    pub status: Option<StatusCode>,
    pub body: Option<Bytes>,
    pub content_type: Option<HeaderValue>,
    pub retry_after: Option<Duration>,
    pub health: FailureClass,
    /// Upstream headers relayed with `body` when it reaches the client.
    pub headers: http::HeaderMap,
}

impl Failure {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            status: None,
            body: None,
            content_type: None,
            retry_after: None,
            health: FailureClass::Error,
            headers: http::HeaderMap::new(),
        }
    }

    pub fn is_timeout(&self) -> bool {
        self.class == ErrorClass::Timeout
    }
}

#[allow(clippy::large_enum_variant)]
pub enum DispatchError {
    /// No route, no provider prefix, no provider lists it.
    ModelNotFound { model: String },
    /// Every target was skipped by local provider limits.
    LocalLimit { retry_after: Duration },
    /// `provider/model` to a disabled provider, or a route whose every
    /// target is one (`provider` names them).
    ProviderDisabled { provider: String },
    /// Every attempt failed; `last` is the final failure, `target` who gave it.
    Exhausted {
        last: Failure,
        target: Served,
        attempts: Vec<AttemptEvent>,
        upstream_time: Duration,
    },
}

#[allow(clippy::large_enum_variant)]
pub(super) enum Outcome {
    Done(ProxyResponse),
    /// A 4xx other than 408/429: the client's fault, returned as is.
    Client {
        status: StatusCode,
        content_type: Option<HeaderValue>,
        headers: http::HeaderMap,
        body: Bytes,
        latency: Duration,
    },
    Fallback(Failure, Duration),
}

/// What one request's attempts have produced so far.
struct Tally<'a> {
    up: &'a Upstreams<'a>,
    rules: Rules<'a>,
    route: &'a RouteRuntime,
    req: &'a ProxyRequest,
    attempts: Vec<AttemptEvent>,
    upstream_time: Duration,
    last: Option<(usize, Failure)>,
    max_attempts: usize,
}

impl Tally<'_> {
    /// Tries target `i`; `Some` when the request is answered (success or a
    /// client error returned as is), `None` to go on with the next target.
    async fn try_target(
        &mut self,
        i: usize,
        mode: RouteMode,
        admission: Admission,
    ) -> Option<ProxyResponse> {
        let target = &self.route.targets[i];
        let provider = &target.provider;
        // A pool tries its keys in rotation; a key that gets 429/401/403
        // cools and the next one is tried for this same target. The last
        // key's answer is handled like any target's.
        let keys = match provider.key_order(Instant::now()) {
            Ok(k) if !k.is_empty() => k,
            _ => vec![
                provider
                    .key_state
                    .soonest(|k| provider.keys[k].error.is_none()),
            ],
        };
        let mut outcome = None;
        for (n, &k) in keys.iter().enumerate() {
            let o = attempt(&self.up.client, &self.rules, target, k, self.req, mode).await;
            let last = n + 1 == keys.len() || self.attempts.len() + 1 >= self.max_attempts;
            if provider.is_pool()
                && let Some((status, retry_after, latency)) = key_refused(&o)
            {
                let cool = match status {
                    StatusCode::TOO_MANY_REQUESTS => {
                        retry_after.unwrap_or(self.route.spec.cooldown)
                    }
                    _ => self.rules.max_cooldown,
                }
                .min(self.rules.max_cooldown);
                let key = provider.keys[k].name.clone();
                let reason = format!(
                    "{}: key {} got {status}",
                    provider.spec.name,
                    key.as_deref().unwrap_or("-")
                );
                provider.key_state.cool(k, Instant::now(), cool, &reason);
                if let Some(s) = self.up.shared {
                    s.poke();
                }
                tracing::warn!(provider = %provider.spec.name, key = key.as_deref().unwrap_or("-"), status = status.as_u16(), "key cooling down");
                if !last {
                    self.upstream_time += latency;
                    self.attempts.push(AttemptEvent {
                        provider: provider.spec.name.clone(),
                        model: target.forwarded(&self.req.peek.model).to_string(),
                        status: Some(status.as_u16()),
                        error: Some(
                            match &o {
                                _ if status == StatusCode::TOO_MANY_REQUESTS => {
                                    ErrorClass::RateLimited
                                }
                                Outcome::Fallback(f, _) => f.class,
                                _ => ErrorClass::ClientError,
                            }
                            .to_string(),
                        ),
                        latency_ms: ms(latency),
                        key,
                    });
                    continue;
                }
            }
            outcome = Some((o, k));
            break;
        }
        // The last key always leaves its outcome.
        let (outcome, k) = outcome?;
        let key_name = || provider.keys[k].name.clone();
        match outcome {
            Outcome::Done(mut resp) => {
                if self.route.sticky.is_some()
                    && self.route.served_session(self.req.session(), i)
                    && let (Some(shared), Some(session)) = (self.up.shared, self.req.session())
                {
                    shared.bind_session(self.route, session, i);
                }
                self.attempts.append(&mut resp.attempts);
                resp.attempts = std::mem::take(&mut self.attempts);
                resp.upstream_time += self.upstream_time;
                Some(resp)
            }
            Outcome::Client {
                status,
                content_type,
                headers,
                body,
                latency,
            } => {
                self.upstream_time += latency;
                target.health.release(admission);
                provider.limiter.settle(self.req.est_tokens, 0);
                self.attempts.push(AttemptEvent {
                    provider: provider.spec.name.clone(),
                    model: target.forwarded(&self.req.peek.model).to_string(),
                    status: Some(status.as_u16()),
                    error: Some(ErrorClass::ClientError.to_string()),
                    latency_ms: ms(latency),
                    key: key_name(),
                });
                Some(ProxyResponse {
                    status,
                    content_type,
                    headers,
                    body: ResponseBody::Full(body),
                    served: served(target, &self.req.peek.model, mode),
                    attempts: std::mem::take(&mut self.attempts),
                    upstream_time: self.upstream_time,
                    ttft: None,
                    usage: None,
                })
            }
            Outcome::Fallback(f, latency) => {
                self.upstream_time += latency;
                provider.limiter.settle(self.req.est_tokens, 0);
                record_failure(self.route, target, &f, self.up.shared);
                self.fail(i, f, latency);
                if let Some(a) = self.attempts.last_mut() {
                    a.key = key_name();
                }
                None
            }
        }
    }

    fn fail(&mut self, i: usize, f: Failure, latency: Duration) {
        let target = &self.route.targets[i];
        self.attempts
            .push(attempt_event(target, &self.req.peek.model, &f, latency));
        self.last = Some((i, f));
    }
}

/// Routes and forwards one request.
pub async fn dispatch(
    up: &Upstreams<'_>,
    rt: &Arc<Runtime>,
    req: &ProxyRequest,
) -> Result<ProxyResponse, DispatchError> {
    let started = Instant::now();
    let (route, _) = resolve(up, rt, &req.peek.model).await?;
    if route.targets.iter().all(|t| !t.provider.spec.enabled) {
        let mut names: Vec<&str> = route
            .targets
            .iter()
            .map(|t| t.provider.spec.name.as_str())
            .collect();
        names.dedup();
        return Err(DispatchError::ProviderDisabled {
            provider: names.join(", "),
        });
    }
    let session = route.sticky.as_ref().and_then(|_| req.session());
    // Team mode: a session this replica does not know may be bound on
    // another (one short Redis lookup, on a local miss only).
    if let (Some(shared), Some(table), Some(key)) = (up.shared, &route.sticky, session)
        && !table.contains(key, Instant::now())
    {
        shared.recall_session(&route, key).await;
    }
    let mut order = route.order_for(session, req.est_io());
    let first = order[0];
    let preferred = route.targets[first].forwarded(&req.peek.model).to_string();
    // Direct when the preferred target serves; otherwise the forwarded model
    // tells a provider fallback from a model fallback.
    let mode_of = |i: usize| {
        if i == first {
            RouteMode::Direct
        } else if route.targets[i].forwarded(&req.peek.model) == preferred {
            RouteMode::ProviderFallback
        } else {
            RouteMode::ModelFallback
        }
    };

    // Implicit routes have no name of their own.
    let route_name = (!route.implicit).then(|| route.spec.model.clone());
    let named = |mut resp: ProxyResponse| {
        resp.served.route = route_name.clone();
        resp
    };

    let max_attempts = rt.config.routing.max_attempts as usize;
    let rules = Rules::of(&rt.config, &route.spec, started);
    let until = rules.until;
    let spent = || until.is_some_and(|u| Instant::now() >= u);
    let mut t = Tally {
        up,
        rules,
        route: &route,
        req,
        attempts: Vec::new(),
        upstream_time: Duration::ZERO,
        last: None,
        max_attempts,
    };
    let mut cooling: Vec<(usize, Instant)> = Vec::new();
    let mut limited: Option<Duration> = None;
    // The classes whose own targets the request went on with.
    let mut switched: Vec<ErrorClass> = Vec::new();

    'passes: for pass in 0..=route.spec.retries {
        if pass > 0 {
            if t.attempts.is_empty() {
                break;
            }
            let base = rt.config.routing.retry_backoff.as_secs_f64()
                * f64::from(1u32 << (pass - 1).min(6));
            let wait = Duration::try_from_secs_f64(base * rand::rng().random_range(0.5..1.5))
                .unwrap_or(rt.config.routing.max_cooldown);
            if until.is_some_and(|u| Instant::now() + wait >= u) {
                break;
            }
            tokio::time::sleep(wait).await;
            t.upstream_time += wait;
        }
        let mut pos = 0;
        while let Some(&i) = order.get(pos) {
            pos += 1;
            if t.attempts.len() >= max_attempts || spent() {
                break 'passes;
            }
            if req.force_fail_first && pass == 0 && pos == 1 && switched.is_empty() {
                let f = Failure::new(
                    ErrorClass::Forced,
                    "fallback test: preferred target forced to fail",
                );
                t.fail(i, f, Duration::ZERO);
                continue;
            }
            let target = &route.targets[i];
            if !target.provider.spec.enabled {
                continue;
            }
            let admission = target.health.admit(Instant::now());
            if let Admission::Open(until) = admission {
                if pass == 0 {
                    cooling.push((i, until));
                }
                continue;
            }
            // Every key of its pool cooling: the provider is cooling.
            if target.provider.is_pool()
                && let Some(until) = target.provider.keys_cooling_until(Instant::now())
            {
                target.health.release(admission);
                if pass == 0 {
                    cooling.push((i, until));
                }
                continue;
            }
            let provider = &target.provider;
            if !provider.limiter.is_unlimited() {
                let t0 = Instant::now();
                let got = if provider.spec.queue_timeout.is_zero() {
                    provider.limiter.try_acquire(req.est_tokens)
                } else {
                    provider
                        .limiter
                        .acquire(req.est_tokens, provider.spec.queue_timeout)
                        .await
                };
                t.upstream_time += t0.elapsed();
                if let Err(wait) = got {
                    target.health.release(admission);
                    limited = Some(limited.map_or(wait, |l| l.min(wait)));
                    continue;
                }
            }
            if let Some(resp) = t.try_target(i, mode_of(i), admission).await {
                return Ok(named(resp));
            }
            // An error class with targets of its own: the request goes on
            // with those (once per class), not the rest of the route.
            if let Some((_, f)) = &t.last
                && !switched.contains(&f.class)
                && let Some(next) = route.targets_after(f.class)
            {
                switched.push(f.class);
                order = next.to_vec();
                pos = 0;
            }
        }
    }

    // Every target was cooling down: try the one whose cooldown ends first
    // rather than black-holing the route.
    if t.last
        .as_ref()
        .is_none_or(|(_, f)| f.class == ErrorClass::Forced)
        && t.attempts.len() < max_attempts
        && !spent()
        && let Some(&(i, _)) = cooling.iter().min_by_key(|(_, until)| *until)
    {
        route.targets[i].health.force_probe();
        if let Some(resp) = t.try_target(i, mode_of(i), Admission::Probe).await {
            return Ok(named(resp));
        }
    }

    match t.last {
        Some((i, f)) => Err(DispatchError::Exhausted {
            target: Served {
                route: route_name.clone(),
                ..served(&route.targets[i], &req.peek.model, mode_of(i))
            },
            last: f,
            attempts: t.attempts,
            upstream_time: t.upstream_time,
        }),
        None => Err(DispatchError::LocalLimit {
            retry_after: limited.unwrap_or(Duration::from_secs(1)),
        }),
    }
}

pub(super) fn served(t: &RouteTarget, requested: &str, mode: RouteMode) -> Served {
    Served {
        provider: t.provider.spec.name.clone(),
        model: t.forwarded(requested).to_string(),
        mode,
        route: None,
    }
}

fn attempt_event(t: &RouteTarget, requested: &str, f: &Failure, latency: Duration) -> AttemptEvent {
    AttemptEvent {
        provider: t.provider.spec.name.clone(),
        model: t.forwarded(requested).to_string(),
        status: f.status.map(|s| s.as_u16()),
        error: Some(f.class.to_string()),
        latency_ms: ms(latency),
        key: None,
    }
}

/// An answer that says the key, not the target, is spent or refused:
/// 429, 401, 403, or a refusal the provider names ([`ErrorClass::KeyRefused`],
/// counted as a 401) — with the upstream's `Retry-After` and the latency.
fn key_refused(o: &Outcome) -> Option<(StatusCode, Option<Duration>, Duration)> {
    match o {
        Outcome::Fallback(f, latency) if f.status == Some(StatusCode::TOO_MANY_REQUESTS) => {
            Some((StatusCode::TOO_MANY_REQUESTS, f.retry_after, *latency))
        }
        Outcome::Fallback(f, latency) if f.class == ErrorClass::KeyRefused => {
            Some((StatusCode::UNAUTHORIZED, None, *latency))
        }
        Outcome::Client {
            status, latency, ..
        } if matches!(*status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
            Some((*status, None, *latency))
        }
        _ => None,
    }
}

fn record_failure(
    route: &RouteRuntime,
    t: &RouteTarget,
    f: &Failure,
    shared: Option<&crate::cluster::shared::SharedState>,
) {
    if f.class.is_health_neutral() {
        return;
    }
    let opened = t.health.on_failure(
        f.health,
        Instant::now(),
        route.spec.cooldown,
        f.retry_after,
        route.spec.failure_threshold,
        route.spec.rate_limit_threshold,
        &f.message,
    );
    if opened {
        if let Some(s) = shared {
            s.poke();
        }
        tracing::warn!(
            provider = %t.provider.spec.name,
            model = t.model.as_deref().unwrap_or(&route.spec.model),
            reason = %f.message,
            "target cooling down"
        );
    }
}

/// The route for a model: a route the operator wrote (exact name, then
/// the most specific pattern, `*` last), then `provider/model`, then the
/// first provider that lists the model. A pattern route is bound to the
/// requested name (concrete forwarded models, their health); an exact
/// hit is one hash lookup and no allocation.
pub async fn resolve(
    up: &Upstreams<'_>,
    rt: &Arc<Runtime>,
    model: &str,
) -> Result<(Arc<RouteRuntime>, MatchKind), DispatchError> {
    if let Some((r, kind)) = rt.routes.lookup(model) {
        if r.pattern {
            return Ok((r.bind(model, up.health, &rt.config.telemetry.prices), kind));
        }
        return Ok((r.clone(), kind));
    }
    if let Some((prefix, rest)) = model.split_once('/')
        && !rest.is_empty()
        && let Some(p) = rt.provider_index(prefix)
    {
        let r = rt.implicit_route(p, Some(rest.to_string()), model, up.health);
        return Ok((r, MatchKind::Provider));
    }
    let catalog = up.catalog.get(rt, &up.client).await;
    match catalog.provider_for(model) {
        Some(p) => Ok((
            rt.implicit_route(p, None, model, up.health),
            MatchKind::Catalog,
        )),
        None => Err(DispatchError::ModelNotFound {
            model: model.to_string(),
        }),
    }
}
