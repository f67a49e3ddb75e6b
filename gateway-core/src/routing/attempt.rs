//! One attempt against one target. The target's provider says which of its
//! endpoints serves the client's: the same one forwards the client's bytes
//! (only the model spliced in); another one translates the request, the
//! answer, error bodies and stream events ([`crate::translate`]). The
//! answer is classified into success, a client error returned as is, or a
//! fallback signal.

use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use tokio::time::Instant;

use super::RouteMode;
use super::answer;
use super::body::rewrite_model;
use super::engine::{Failure, Outcome, ProxyRequest, ProxyResponse, ResponseBody, served};
use super::health::FailureClass;
use super::runtime::{RouteRuntime, RouteTarget};
use super::stream::{self, Framing, Peeked, StreamRelay};
use crate::class::ErrorClass;
use crate::config::Config;
use crate::providers::Endpoint;
use crate::server::AppState;
use crate::telemetry::{AttemptEvent, ms};
use crate::translate::{RequestCtx, Translation, errors};
use crate::upstream::{ReadError, SendError, read_bounded};

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
/// can, the client gets a 400 in its protocol's error shape.
fn refused(class: ErrorClass, endpoint: Endpoint, msg: String) -> Failure {
    let code = if class == ErrorClass::Unsupported {
        "unsupported_endpoint"
    } else {
        "untranslatable_request"
    };
    let mut f = Failure::new(class, msg.clone());
    f.status = Some(StatusCode::BAD_REQUEST);
    f.body = Some(errors::client_body(
        endpoint,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        code,
        &msg,
    ));
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

pub(super) async fn attempt(
    state: &AppState,
    config: &Config,
    route: &RouteRuntime,
    target: &RouteTarget,
    req: &ProxyRequest,
    mode: RouteMode,
) -> Outcome {
    let provider = &target.provider;
    let name = &provider.spec.name;
    if let Some(err) = &provider.key_error {
        return Outcome::Fallback(
            Failure::new(ErrorClass::KeyMissing, err.clone()),
            Duration::ZERO,
        );
    }
    let fwd = target.forwarded(&req.peek.model);
    let Some(upstream_ep) = provider.api.upstream_endpoint(req.endpoint) else {
        return Outcome::Fallback(unsupported(name, req.endpoint), Duration::ZERO);
    };
    let translation = Translation::between(req.endpoint, upstream_ep);
    let (body, tctx) = match translation {
        None if fwd == req.peek.model => (req.body.clone(), RequestCtx::default()),
        None => (
            rewrite_model(&req.body, &req.peek.model_span, fwd),
            RequestCtx::default(),
        ),
        Some(t) => match t.request(&req.body, fwd) {
            Ok(tr) => (tr.body, tr.ctx),
            // The client's request cannot be expressed for this upstream:
            // another target may speak the client's protocol natively.
            Err(e) => {
                let f = refused(
                    ErrorClass::Untranslatable,
                    req.endpoint,
                    format!("{name}: {e}"),
                );
                return Outcome::Fallback(f, Duration::ZERO);
            }
        },
    };
    let started = Instant::now();
    let deadline = started + provider.spec.timeout;
    let client = state.client();
    let send = client.send(provider.api.request(upstream_ep, body, &req.headers));
    let resp = match tokio::time::timeout_at(deadline, send).await {
        Err(_) => {
            let f = Failure::new(
                ErrorClass::Timeout,
                format!("{name}: no response within {:?}", provider.spec.timeout),
            );
            return Outcome::Fallback(f, started.elapsed());
        }
        Ok(Err(e)) => return Outcome::Fallback(classify_send_error(&e, name), started.elapsed()),
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    let scrub = &provider.scrub;
    // A content type echoing a secret is dropped, not relayed.
    let mut content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .filter(|v| !scrub.found_in(v.as_bytes()))
        .cloned();
    if status.is_redirection() {
        // Redirects are not followed (the target might not be a provider,
        // and the key would go with it) nor handed to the client.
        let f = Failure::new(
            ErrorClass::UpstreamRedirect,
            format!("{name}: upstream answered {status}, a redirect (not followed)"),
        );
        return Outcome::Fallback(f, started.elapsed());
    }
    if !status.is_success() {
        let retry_after = answer::retry_after(resp.headers(), config.routing.max_cooldown);
        let read = resp.into_body().read_capped(MAX_ERROR_BODY);
        let body = tokio::time::timeout_at(deadline, read)
            .await
            .unwrap_or_default();
        let mut body = scrub.scrub(body);
        // The client gets upstream errors in its own protocol's shape.
        if let Some(t) = translation {
            body = t.error_body(status, &body);
            content_type = Some(HeaderValue::from_static("application/json"));
        }
        let latency = started.elapsed();
        let fallback = status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error();
        if !fallback {
            return Outcome::Client {
                status,
                content_type,
                body,
                latency,
            };
        }
        let (class, health) = if status == StatusCode::TOO_MANY_REQUESTS {
            (ErrorClass::RateLimited, FailureClass::RateLimited)
        } else if status == StatusCode::REQUEST_TIMEOUT {
            (ErrorClass::Timeout, FailureClass::Error)
        } else {
            (ErrorClass::Upstream5xx, FailureClass::Error)
        };
        let mut f = Failure::new(class, format!("{name}: upstream answered {status}"));
        f.status = Some(status);
        f.body = Some(body);
        f.content_type = content_type;
        f.retry_after = retry_after;
        f.health = health;
        return Outcome::Fallback(f, latency);
    }

    let is_sse = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if req.peek.stream && is_sse {
        let framing = Framing::new(
            upstream_ep,
            req.endpoint,
            translation.map(|t| t.stream(&tctx)),
            scrub.clone(),
        );
        let max_held = stream::PREAMBLE_MAX_BYTES.min(config.server.max_upstream_body_bytes);
        return match stream::peek(resp, framing, deadline, name, max_held).await {
            Peeked::Failed(f) => Outcome::Fallback(f, started.elapsed()),
            Peeked::Committed {
                held,
                upstream,
                framing,
                state: sstate,
            } => {
                let ttft = started.elapsed();
                target.health.on_success(ttft);
                let relay = StreamRelay::new(
                    held,
                    upstream,
                    framing,
                    sstate,
                    provider.spec.stream_idle_timeout,
                    target.health.clone(),
                    route.spec.cooldown,
                    route.spec.failure_threshold,
                    provider.clone(),
                    req.est_tokens,
                );
                Outcome::Done(ProxyResponse {
                    status,
                    content_type,
                    retry_after: None,
                    body: ResponseBody::Stream(relay),
                    served: served(target, &req.peek.model, mode),
                    attempts: vec![AttemptEvent {
                        provider: name.clone(),
                        model: fwd.to_string(),
                        status: Some(status.as_u16()),
                        error: None,
                        latency_ms: ms(ttft),
                    }],
                    upstream_time: ttft,
                    ttft: Some(ttft),
                    usage: None,
                })
            }
        };
    }

    let cap = config.server.max_upstream_body_bytes;
    let read = read_bounded(resp, cap);
    let body = match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(b)) => b,
        Ok(Err(ReadError::TooLarge(cap))) => {
            let f = Failure::new(
                ErrorClass::UpstreamBodyTooLarge,
                format!("{name}: answer larger than {cap} bytes (server.max_upstream_body_bytes)"),
            );
            return Outcome::Fallback(f, started.elapsed());
        }
        Ok(Err(ReadError::Broken(e))) => {
            let f = Failure::new(
                ErrorClass::Network,
                format!("{name}: reading upstream body failed: {e}"),
            );
            return Outcome::Fallback(f, started.elapsed());
        }
        Err(_) => {
            let f = Failure::new(
                ErrorClass::Timeout,
                format!(
                    "{name}: body not complete within {:?}",
                    provider.spec.timeout
                ),
            );
            return Outcome::Fallback(f, started.elapsed());
        }
    };
    let usage = match answer::check(upstream_ep, &body) {
        Ok(u) => u,
        Err(why) => {
            let f = Failure::new(ErrorClass::BadUpstreamBody, format!("{name}: {why}"));
            return Outcome::Fallback(f, started.elapsed());
        }
    };
    let body = scrub.scrub(body);
    let body = match translation {
        None => body,
        Some(t) => match t.response(&body, &tctx) {
            Ok(b) => {
                content_type = Some(HeaderValue::from_static("application/json"));
                b
            }
            Err(e) => {
                let f = Failure::new(ErrorClass::BadUpstreamBody, format!("{name}: {e}"));
                return Outcome::Fallback(f, started.elapsed());
            }
        },
    };
    let latency = started.elapsed();
    target.health.on_success(latency);
    if let Some(u) = usage {
        provider.limiter.settle(req.est_tokens, u.total());
    }
    Outcome::Done(ProxyResponse {
        status,
        content_type,
        retry_after: None,
        body: ResponseBody::Full(body),
        served: served(target, &req.peek.model, mode),
        attempts: vec![AttemptEvent {
            provider: name.clone(),
            model: fwd.to_string(),
            status: Some(status.as_u16()),
            error: None,
            latency_ms: ms(latency),
        }],
        upstream_time: latency,
        ttft: Some(latency),
        usage,
    })
}
