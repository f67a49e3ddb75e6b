//! One attempt against one target. The target's provider says which of its
//! endpoints serves the client's: the same one forwards the client's bytes
//! (only the model spliced in); another one translates the request, the
//! answer, error bodies and stream events ([`crate::translate`]). The
//! answer is classified into success, a client error returned as is, or a
//! fallback signal.

use std::time::Duration;

use super::answer;
use super::body::rewrite_model;
use super::classify;
use super::engine::{Failure, Outcome, ProxyRequest, ProxyResponse, ResponseBody, served};
use super::health::FailureClass;
use super::keys::PoolKey;
use super::runtime::RouteTarget;
use super::stream::{self, Breaker, Framing, Peeked, StreamRelay};
use crate::config::{Config, ErrorRules, RouteSpec};
use crate::translate::{RequestCtx, TranslateError, Translation, errors};
use crate::upstream::{ReadError, SendError, UpstreamBody, UpstreamClient, read_bounded};
use crate::vocab::{AttemptEvent, Endpoint, ErrorClass, RouteMode, Usage, ms};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use tokio::time::Instant;

/// Cap on upstream error bodies we keep to relay.
const MAX_ERROR_BODY: usize = 256 * 1024;

/// The target's provider cannot serve this endpoint at all (e.g. embeddings
/// on an Anthropic provider): skipped, and a 400 if no target can.
fn unsupported(provider: &str, endpoint: Endpoint) -> Failure {
    let msg = format!(
        "provider {provider:?} cannot serve {}",
        endpoint.path().trim_start_matches('/')
    );
    refused(ErrorClass::Unsupported, endpoint, msg)
}

/// A target that cannot take this request: the next one is tried; when none
/// can, the client gets a 400 (401 for a missing credential of its own) in
/// its protocol's error shape.
fn refused(class: ErrorClass, endpoint: Endpoint, msg: String) -> Failure {
    let (status, kind, code) = match class {
        ErrorClass::Unsupported => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "unsupported_endpoint",
        ),
        ErrorClass::NoClientCredential => (
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "client_credential_required",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "untranslatable_request",
        ),
    };
    let mut f = Failure::new(class, msg.clone());
    f.status = Some(status);
    f.body = Some(errors::client_body(endpoint, status, kind, code, &msg));
    f.content_type = Some(HeaderValue::from_static("application/json"));
    f
}

fn classify_send_error(e: &SendError, provider: &str) -> Failure {
    if e.connect {
        // The cause tells a refused port from a refused certificate or the
        // SSRF guard; hyper's messages carry no URL.
        Failure::new(
            ErrorClass::Connect,
            format!("{provider}: cannot connect to upstream: {e}"),
        )
    } else {
        Failure::new(
            ErrorClass::Network,
            format!("{provider}: upstream request failed: {e}"),
        )
    }
}

/// The bounds, breaker settings and error rules one attempt runs under.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rules<'a> {
    /// `server.max_upstream_body_bytes`: cap on an answer read whole.
    pub max_body: usize,
    /// `routing.max_cooldown_s`: cap on an upstream's `Retry-After`.
    pub max_cooldown: Duration,
    /// The route's breaker, which a stream that breaks after its first
    /// content frame counts against.
    pub cooldown: Duration,
    pub failure_threshold: u32,
    /// The route's `fallback_on` / `retry_on_*` rules.
    pub errors: &'a ErrorRules,
    /// The end of the route's `max_elapsed_s` budget: no answer is waited
    /// for past it.
    pub until: Option<Instant>,
}

impl<'a> Rules<'a> {
    pub(super) fn of(config: &Config, route: &'a RouteSpec, started: Instant) -> Self {
        Self {
            max_body: config.server.max_upstream_body_bytes,
            max_cooldown: config.routing.max_cooldown,
            cooldown: route.cooldown,
            failure_threshold: route.failure_threshold,
            errors: &route.errors,
            until: route.errors.max_elapsed.map(|d| started + d),
        }
    }
}

/// The request as the target's provider gets it.
struct Prepared {
    upstream: Endpoint,
    translation: Option<Translation>,
    body: Bytes,
    ctx: RequestCtx,
}

/// One attempt: prepare the request for the target, send it by the
/// provider's deadline, then classify what came back (an error status, a
/// stream, a whole answer).
pub(super) async fn attempt(
    client: &UpstreamClient,
    rules: &Rules<'_>,
    target: &RouteTarget,
    key: usize,
    req: &ProxyRequest,
    mode: RouteMode,
) -> Outcome {
    let provider = &target.provider;
    let name = &provider.spec.name;
    let Some(pool_key) = provider.keys.get(key) else {
        let f = Failure::new(ErrorClass::KeyMissing, format!("{name}: no key {key}"));
        return Outcome::Fallback(f, Duration::ZERO);
    };
    let mut prepared = match prepare(target, pool_key, req) {
        Ok(p) => p,
        Err(f) => return Outcome::Fallback(*f, Duration::ZERO),
    };
    let body = std::mem::take(&mut prepared.body);
    let started = Instant::now();
    let own_deadline = started + provider.spec.timeout;
    let deadline = rules.until.map_or(own_deadline, |u| u.min(own_deadline));
    let mut request = pool_key.api.model_request(
        prepared.upstream,
        pool_key
            .api
            .upstream_model(target.forwarded(&req.peek.model)),
        req.peek.stream,
        body,
        &req.headers,
    );
    crate::providers::forward_client_head(
        &mut request,
        &req.headers,
        prepared.translation.is_none(),
        provider.spec.client_auth.then_some(provider.spec.kind),
    );
    let timed_out = || {
        let msg = if deadline < own_deadline {
            format!("{name}: no response within the route's max_elapsed_s")
        } else {
            format!("{name}: no response within {:?}", provider.spec.timeout)
        };
        Outcome::Fallback(Failure::new(ErrorClass::Timeout, msg), started.elapsed())
    };
    // A fetched token (Vertex): on the request, and once more after a 401.
    let mut token = None;
    if pool_key.api.token_cache().is_some() {
        match Box::pin(fetched_token(
            client,
            &*pool_key.api,
            &mut request,
            deadline,
        ))
        .await
        {
            Ok(t) => token = Some((t, copy_request(&request))),
            Err(Some(why)) => return auth_failed(name, &why, started),
            Err(None) => return timed_out(),
        }
    }
    let resp = loop {
        let send = client.send(request);
        let resp = match tokio::time::timeout_at(deadline, send).await {
            Err(_) => return timed_out(),
            Ok(Err(e)) => {
                return Outcome::Fallback(classify_send_error(&e, name), started.elapsed());
            }
            Ok(Ok(r)) => r,
        };
        if resp.status() == StatusCode::UNAUTHORIZED
            && let Some((used, mut again)) = token.take()
            && let Some(cache) = pool_key.api.token_cache()
        {
            // The token was refused (revoked, or expired early): one new one.
            cache.invalidate(&used);
            match Box::pin(fetched_token(client, &*pool_key.api, &mut again, deadline)).await {
                Ok(_) => {}
                Err(Some(why)) => return auth_failed(name, &why, started),
                Err(None) => return timed_out(),
            }
            request = again;
            continue;
        }
        break resp;
    };
    let status = resp.status();
    if status.is_redirection() {
        // Redirects are not followed (the target might not be a provider,
        // and the key would go with it) nor handed to the client.
        let f = Failure::new(
            ErrorClass::UpstreamRedirect,
            format!("{name}: upstream answered {status}, a redirect (not followed)"),
        );
        return Outcome::Fallback(f, started.elapsed());
    }
    let answer = Answer {
        target,
        api: pool_key.api.as_ref(),
        key: pool_key.name.as_deref(),
        req,
        mode,
        rules,
        prepared: &prepared,
        started,
        deadline,
    };
    // The bodies are read here, not in `Answer`'s methods: an async method
    // per case would nest one more future (copied into this one's state)
    // on every request.
    let head = Head::of(target, &resp);
    if !status.is_success() {
        let retry_after = answer::retry_after(resp.headers(), rules.max_cooldown);
        let read = resp.into_body().read_capped(MAX_ERROR_BODY);
        let body = tokio::time::timeout_at(deadline, read)
            .await
            .unwrap_or_default();
        return answer.error_status(head, retry_after, body);
    }
    let is_sse = head
        .content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    // Bedrock's ConverseStream answers with an AWS event stream.
    let is_aws_stream = prepared.upstream == Endpoint::Converse
        && head
            .content_type
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/vnd.amazon.eventstream"));
    if req.peek.stream && (is_sse || is_aws_stream) {
        return answer.stream(head, resp).await;
    }
    let read = read_bounded(resp, rules.max_body);
    let body = tokio::time::timeout_at(deadline, read).await;
    answer.whole(head, body)
}

/// Longest upstream error message quoted in a gateway-made error.
const MAX_QUOTED: usize = 300;

/// An error body's `error.status` and `error.message` (Gemini, OpenAI
/// shapes), at most [`MAX_QUOTED`] bytes; empty when it has none.
fn upstream_message(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let err = v.get("error").unwrap_or(&v);
    let text = |k: &str| err.get(k).and_then(|s| s.as_str()).unwrap_or_default();
    let mut out = [text("status"), text("message")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if out.len() > MAX_QUOTED {
        let mut end = MAX_QUOTED;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

/// The provider's token on `request` by the deadline: `Err(Some(why))`
/// when none could be had, `Err(None)` when the deadline passed.
async fn fetched_token(
    client: &UpstreamClient,
    api: &dyn crate::providers::ProviderApi,
    request: &mut http::Request<Bytes>,
    deadline: Instant,
) -> Result<HeaderValue, Option<String>> {
    match tokio::time::timeout_at(deadline, crate::providers::authorize(api, client, request)).await
    {
        Err(_) => Err(None),
        Ok(Err(why)) => Err(Some(why)),
        Ok(Ok(t)) => t.ok_or(None),
    }
}

/// No token: the provider's credential failed, a fallback signal.
fn auth_failed(name: &str, why: &str, started: Instant) -> Outcome {
    let f = Failure::new(ErrorClass::AuthFailed, format!("{name}: {why}"));
    Outcome::Fallback(f, started.elapsed())
}

/// A copy of a built request (its body is shared), to send again.
fn copy_request(r: &http::Request<Bytes>) -> http::Request<Bytes> {
    let mut c = http::Request::new(r.body().clone());
    *c.method_mut() = r.method().clone();
    *c.uri_mut() = r.uri().clone();
    *c.version_mut() = r.version();
    *c.headers_mut() = r.headers().clone();
    c
}

/// Upstream response headers clients use, relayed to them: request ids,
/// rate-limit state, processing time.
fn relayed(name: &str) -> bool {
    matches!(name, "request-id" | "x-request-id" | "openai-processing-ms")
        || name.starts_with("x-ratelimit-")
        || name.starts_with("anthropic-ratelimit-")
}

/// What the client gets of an upstream's response head.
pub(super) struct Head {
    status: StatusCode,
    content_type: Option<HeaderValue>,
    /// The [`relayed`] headers, none of them echoing a secret.
    headers: HeaderMap,
}

impl Head {
    fn of(target: &RouteTarget, resp: &Response<UpstreamBody>) -> Self {
        let scrub = &target.provider.scrub;
        let mut headers = HeaderMap::new();
        for (name, value) in resp.headers() {
            if relayed(name.as_str()) && !scrub.found_in(value.as_bytes()) {
                headers.append(name.clone(), value.clone());
            }
        }
        Self {
            status: resp.status(),
            content_type: content_type(target, resp),
            headers,
        }
    }
}

/// The body the target's provider gets: the client's bytes (the model
/// spliced in when it is rewritten), or a translation into the provider's
/// protocol. Fails when the provider has no such endpoint or the request
/// cannot be expressed in its protocol: another target may take it. (The
/// failure is boxed: a large error in the `Result` would be copied on
/// every request, failing or not.)
fn prepare(
    target: &RouteTarget,
    key: &PoolKey,
    req: &ProxyRequest,
) -> Result<Prepared, Box<Failure>> {
    let provider = &target.provider;
    let name = &provider.spec.name;
    if let Some(err) = provider.key_error.as_ref().or(key.error.as_ref()) {
        return Err(Box::new(Failure::new(ErrorClass::KeyMissing, err.clone())));
    }
    if provider.spec.client_auth && !req.headers.has_credential() {
        let msg = format!(
            "{name}: forwards the client's own credential (api_key = \"client\"), and this request \
             carried none of its own (with client keys on, send the gateway key in x-aigw-key and \
             your own in authorization or x-api-key)"
        );
        return Err(Box::new(refused(
            ErrorClass::NoClientCredential,
            req.endpoint,
            msg,
        )));
    }
    let fwd = key.api.upstream_model(target.forwarded(&req.peek.model));
    let Some(upstream) = key.api.upstream_endpoint_for(req.endpoint, fwd) else {
        return Err(Box::new(unsupported(name, req.endpoint)));
    };
    let translation = Translation::between(req.endpoint, upstream);
    // Gemini names the model in the path: its body never changes.
    let model_in_path = req.endpoint == Endpoint::GenerateContent;
    let (body, ctx) = match translation {
        None if fwd == req.peek.model || model_in_path => (req.body.clone(), RequestCtx::default()),
        None => (
            rewrite_model(&req.body, &req.peek.model_span, fwd),
            RequestCtx::default(),
        ),
        Some(t) => match t.request_streamed(
            &req.body,
            fwd,
            req.session().map(|s| s.id()).as_deref(),
            req.peek.stream,
        ) {
            Ok(tr) => (tr.body, tr.ctx),
            Err(e) => {
                return Err(Box::new(refused(
                    ErrorClass::Untranslatable,
                    req.endpoint,
                    format!("{name}: {e}"),
                )));
            }
        },
    };
    Ok(Prepared {
        upstream,
        translation,
        body,
        ctx,
    })
}

/// The upstream's content type, unless it echoes one of the provider's
/// secrets (then it is dropped, not relayed).
fn content_type(target: &RouteTarget, resp: &Response<UpstreamBody>) -> Option<HeaderValue> {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .filter(|v| !target.provider.scrub.found_in(v.as_bytes()))
        .cloned()
}

/// What an attempt that got a response head knows while it reads the rest.
struct Answer<'a> {
    target: &'a RouteTarget,
    /// The behaviour of the key the request went with.
    api: &'a dyn crate::providers::ProviderApi,
    /// The pool key's reference, for telemetry.
    key: Option<&'a str>,
    req: &'a ProxyRequest,
    mode: RouteMode,
    rules: &'a Rules<'a>,
    prepared: &'a Prepared,
    started: Instant,
    deadline: Instant,
}

impl Answer<'_> {
    fn name(&self) -> &str {
        &self.target.provider.spec.name
    }

    fn fallback(&self, class: ErrorClass, message: String) -> Outcome {
        Outcome::Fallback(Failure::new(class, message), self.started.elapsed())
    }

    /// A non-2xx status and its (capped) body: 408, 429 and 5xx fall back,
    /// and so do the 4xx the route's rules name (`fallback_on` classes,
    /// `retry_on_status`, `retry_on_message`); other 4xx are the client's,
    /// relayed as they are (in the client's protocol's shape).
    fn error_status(&self, head: Head, retry_after: Option<Duration>, body: Bytes) -> Outcome {
        let Head {
            status,
            mut content_type,
            headers,
        } = head;
        let mut body = self.target.provider.scrub.scrub(body);
        // Read in the upstream's own protocol, before any translation.
        if !self.target.provider.spec.client_auth && self.api.rejects_key_live(status, &body) {
            return self.key_refused(status, &body);
        }
        let rules = self.rules.errors;
        let named = if rules.fallback_on.is_empty() {
            None
        } else {
            classify::classify(&body).filter(|c| rules.fallback_on.contains(c))
        };
        let retry = rules.retry_on_status.contains(&status.as_u16())
            || classify::mentions(&body, &rules.retry_on_message);
        if let Some(t) = self.prepared.translation {
            body = t.error_body(status, &body);
            content_type = Some(HeaderValue::from_static("application/json"));
        }
        let latency = self.started.elapsed();
        let (class, health) = match status {
            StatusCode::TOO_MANY_REQUESTS => (ErrorClass::RateLimited, FailureClass::RateLimited),
            StatusCode::REQUEST_TIMEOUT => (ErrorClass::Timeout, FailureClass::Error),
            s if s.is_server_error() => (ErrorClass::Upstream5xx, FailureClass::Error),
            _ => match named {
                // Health-neutral (the request's fault): `record_failure` skips it.
                Some(c) => (c, FailureClass::Error),
                None if retry => (ErrorClass::RetryRule, FailureClass::Error),
                None => {
                    return Outcome::Client {
                        status,
                        content_type,
                        headers,
                        body,
                        latency,
                    };
                }
            },
        };
        let mut f = Failure::new(
            class,
            format!("{}: upstream answered {status}", self.name()),
        );
        f.status = Some(status);
        f.body = Some(body);
        f.content_type = content_type;
        f.retry_after = retry_after;
        f.health = health;
        f.headers = headers;
        Outcome::Fallback(f, latency)
    }

    /// The upstream refused the provider's key (see
    /// [`crate::providers::ProviderApi::rejects_key_live`]): a fallback
    /// signal that counts against the target's health (and cools the key
    /// of a pool); the client gets a 401 in its shape when no target is
    /// left, naming the upstream's status and message (already scrubbed).
    fn key_refused(&self, status: StatusCode, body: &[u8]) -> Outcome {
        let said = upstream_message(body);
        let msg = format!(
            "{}: the upstream refused the provider's key ({status}{}{said})",
            self.name(),
            if said.is_empty() { "" } else { ": " }
        );
        let mut f = Failure::new(ErrorClass::KeyRefused, msg.clone());
        f.status = Some(StatusCode::UNAUTHORIZED);
        f.body = Some(errors::client_body(
            self.req.endpoint,
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "upstream_key_refused",
            &msg,
        ));
        f.content_type = Some(HeaderValue::from_static("application/json"));
        Outcome::Fallback(f, self.started.elapsed())
    }

    /// A stream: held until its first content frame (a failure before it
    /// falls back), then relayed.
    async fn stream(&self, head: Head, resp: Response<UpstreamBody>) -> Outcome {
        let provider = &self.target.provider;
        let framing = Framing::new(
            self.prepared.upstream,
            self.req.endpoint,
            self.prepared
                .translation
                .and_then(|t| t.stream(&self.prepared.ctx)),
            provider.scrub.clone(),
        );
        let max_held = stream::PREAMBLE_MAX_BYTES.min(self.rules.max_body);
        match stream::peek(resp, framing, self.deadline, self.name(), max_held).await {
            Peeked::Failed(f) => Outcome::Fallback(f, self.started.elapsed()),
            Peeked::Committed(committed)
                if committed.withheld_by_filter()
                    && self
                        .rules
                        .errors
                        .fallback_on
                        .contains(&ErrorClass::ContentFilter) =>
            {
                // Nothing was sent yet: the next target is asked
                // (health-neutral); when none is left the client gets a
                // 400 `content_filter` in its protocol's shape.
                let msg = format!(
                    "{}: the stream was withheld by the upstream's content filter",
                    self.name()
                );
                let mut f = Failure::new(ErrorClass::ContentFilter, msg.clone());
                f.status = Some(StatusCode::BAD_REQUEST);
                f.body = Some(errors::client_body(
                    self.req.endpoint,
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "content_filter",
                    &msg,
                ));
                f.content_type = Some(HeaderValue::from_static("application/json"));
                Outcome::Fallback(f, self.started.elapsed())
            }
            Peeked::Committed(committed) => {
                let mut head = head;
                if self.prepared.upstream == Endpoint::Converse {
                    head.content_type = Some(HeaderValue::from_static("text/event-stream"));
                }
                let ttft = self.started.elapsed();
                self.target.health.on_success(ttft);
                let breaker = Breaker {
                    health: self.target.health.clone(),
                    cooldown: self.rules.cooldown,
                    failure_threshold: self.rules.failure_threshold,
                };
                let relay =
                    StreamRelay::new(committed, breaker, provider.clone(), self.req.est_tokens);
                self.done(head, ResponseBody::Stream(relay), ttft, None)
            }
        }
    }

    /// A whole answer as it was read (within the body cap, by the
    /// deadline): checked to be an answer, scrubbed, translated.
    fn whole(
        &self,
        mut head: Head,
        read: Result<Result<Bytes, ReadError>, tokio::time::error::Elapsed>,
    ) -> Outcome {
        let provider = &self.target.provider;
        let name = self.name();
        let body = match read {
            Ok(Ok(b)) => b,
            Ok(Err(ReadError::TooLarge(cap))) => {
                return self.fallback(
                    ErrorClass::UpstreamBodyTooLarge,
                    format!(
                        "{name}: answer larger than {cap} bytes (server.max_upstream_body_bytes)"
                    ),
                );
            }
            Ok(Err(ReadError::Broken(e))) => {
                return self.fallback(
                    ErrorClass::Network,
                    format!("{name}: reading upstream body failed: {e}"),
                );
            }
            Err(_) => {
                return self.fallback(
                    ErrorClass::Timeout,
                    format!(
                        "{name}: body not complete within {:?}",
                        provider.spec.timeout
                    ),
                );
            }
        };
        let usage = match answer::check(self.prepared.upstream, &body) {
            Ok(u) => u,
            Err(why) => {
                return self.fallback(ErrorClass::BadUpstreamBody, format!("{name}: {why}"));
            }
        };
        let body = provider.scrub.scrub(body);
        // `fallback_on = ["content_filter"]` also takes a 200 whose every
        // choice the upstream's filter withheld (Azure OpenAI).
        let filtered = self
            .rules
            .errors
            .fallback_on
            .contains(&ErrorClass::ContentFilter)
            && matches!(
                self.prepared.upstream,
                Endpoint::ChatCompletions | Endpoint::Completions
            )
            && classify::filtered_answer(&body);
        let body = match self.prepared.translation {
            None => body,
            Some(t) => match t.response(&body, &self.prepared.ctx) {
                Ok(b) => {
                    head.content_type = Some(HeaderValue::from_static("application/json"));
                    b
                }
                Err(TranslateError::Blocked(why)) => {
                    let (status, body) = t.blocked_body(&format!("{name}: {why}"));
                    let content_type = Some(HeaderValue::from_static("application/json"));
                    if !self
                        .rules
                        .errors
                        .fallback_on
                        .contains(&ErrorClass::ContentFilter)
                    {
                        return Outcome::Client {
                            status,
                            content_type,
                            headers: head.headers,
                            body,
                            latency: self.started.elapsed(),
                        };
                    }
                    // `fallback_on = ["content_filter"]`: health-neutral, the
                    // next target is asked; the last one's block is relayed.
                    let mut f = Failure::new(
                        ErrorClass::ContentFilter,
                        format!("{name}: prompt blocked: {why}"),
                    );
                    f.status = Some(status);
                    f.body = Some(body);
                    f.content_type = content_type;
                    f.headers = head.headers;
                    return Outcome::Fallback(f, self.started.elapsed());
                }
                Err(e) => {
                    return self.fallback(ErrorClass::BadUpstreamBody, format!("{name}: {e}"));
                }
            },
        };
        let latency = self.started.elapsed();
        if filtered {
            // Health-neutral like a filtered prompt; the last target's
            // answer is relayed as it came.
            let mut f = Failure::new(
                ErrorClass::ContentFilter,
                format!("{name}: answer withheld by the upstream's content filter"),
            );
            f.status = Some(head.status);
            f.body = Some(body);
            f.content_type = head.content_type;
            f.headers = head.headers;
            return Outcome::Fallback(f, latency);
        }
        self.target.health.on_success(latency);
        if let Some(u) = usage {
            provider.limiter.settle(self.req.est_tokens, u.total());
            self.target.health.on_usage(u.input(), u.cache_read());
        }
        self.done(head, ResponseBody::Full(body), latency, usage)
    }

    /// The answer, served by this target after `ttft`.
    #[inline(always)]
    fn done(
        &self,
        head: Head,
        body: ResponseBody,
        ttft: Duration,
        usage: Option<Usage>,
    ) -> Outcome {
        let status = head.status;
        Outcome::Done(ProxyResponse {
            status,
            content_type: head.content_type,
            headers: head.headers,
            body,
            served: served(self.target, &self.req.peek.model, self.mode),
            attempts: vec![AttemptEvent {
                provider: self.name().to_string(),
                model: self.target.forwarded(&self.req.peek.model).to_string(),
                status: Some(status.as_u16()),
                error: None,
                latency_ms: ms(ttft),
                key: self.key.map(str::to_string),
            }],
            upstream_time: ttft,
            ttft: Some(ttft),
            usage,
        })
    }
}
