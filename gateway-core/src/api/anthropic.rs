//! Anthropic Messages handlers, for Claude Code and other Anthropic-protocol
//! agents. `POST /v1/messages` goes through the same routing and fallback as
//! the OpenAI endpoints (passed through to Anthropic providers, translated
//! for OpenAI-compatible ones); errors are in Anthropic's shape.
//! `POST /v1/messages/count_tokens` is counted by an Anthropic or Gemini
//! upstream, or estimated locally.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, header};

use super::ApiError;
use super::body::read_body;
use super::error::{H_SHOULD_RETRY, retry_cannot_fix};
use super::ingress::{H_PROVIDER, MAX_BODY, authenticate, client_head, peer_of, proxy};
use crate::config::ProviderKind;
use crate::providers::{ClientHeaders, forward_client_head};
use crate::routing::sticky::SessionKey;
use crate::routing::{Runtime, body, resolve};
use crate::state::AppState;
use crate::translate::count_via_gemini;
use crate::translate::tokens::estimate_input_tokens;
use crate::translate::wire::anthropic::{CountTokensResponse, MessagesRequest};
use crate::upstream::read_bounded;
use crate::vocab::Endpoint;

pub async fn messages(State(s): State<Arc<AppState>>, req: Request) -> Response {
    proxy(s, req, Endpoint::Messages).await
}

/// Says whether a `count_tokens` answer is the upstream's count or the
/// gateway's local estimate.
pub const H_TOKEN_COUNT: HeaderName = HeaderName::from_static("x-aigw-token-count");

/// Largest upstream `count_tokens` answer read.
const MAX_COUNT_BODY: usize = 64 * 1024;

/// `POST /v1/messages/count_tokens`: counted by the upstream when the
/// model's preferred target is `kind = "anthropic"` (or `"gemini"`, its
/// `:countTokens`), else (and when that
/// upstream cannot count: 404, 5xx, a timeout, garbage) estimated locally;
/// `x-aigw-token-count` says which. Never touches a target's health: a
/// provider without the endpoint is not a failing provider.
pub async fn count_tokens(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let rt = state.runtime.load_full();
    let peer = peer_of(&req);
    let (parts, body) = req.into_parts();
    if let Err(e) = authenticate(&rt, &parts.headers, &peer) {
        return e.into_response_for(Endpoint::Messages);
    }
    let server = &rt.config.server;
    let (limit, idle) = (server.max_body_bytes, server.body_idle_timeout);
    let bytes = match read_body(&parts.headers, body, limit, MAX_BODY, idle).await {
        Ok(b) => b,
        Err(e) => return e.into_response_for(Endpoint::Messages),
    };
    let estimate = match serde_json::from_slice::<MessagesRequest>(&bytes) {
        Ok(r) => estimate_input_tokens(&r),
        Err(e) => {
            return ApiError::bad_request("invalid_request", format!("invalid request: {e}"))
                .into_response_for(Endpoint::Messages);
        }
    };
    let headers = client_head(&rt, parts);
    if let Some(resp) = upstream_count(&state, &rt, headers, bytes).await {
        return resp;
    }
    let mut resp = Json(CountTokensResponse {
        input_tokens: estimate,
    })
    .into_response();
    resp.headers_mut()
        .insert(H_TOKEN_COUNT, HeaderValue::from_static("estimate"));
    resp
}

/// The upstream's count, or `None` to estimate.
async fn upstream_count(
    state: &AppState,
    rt: &Arc<Runtime>,
    headers: ClientHeaders,
    body: Bytes,
) -> Option<Response> {
    let peek = body::peek(&body).ok()?;
    let session = SessionKey::from_request(headers.map(), peek.session.as_deref());
    let up = state.upstreams();
    let (route, _) = resolve(&up, rt, &peek.model).await.ok()?;
    let target = &route.targets[*route.order(session.as_ref()).first()?];
    let p = &target.provider;
    let gemini = p.spec.kind == ProviderKind::Gemini;
    if !(gemini || p.spec.kind == ProviderKind::Anthropic)
        || p.key_error.is_some()
        || (p.spec.client_auth && !headers.has_credential())
    {
        return None;
    }
    let fwd = target.forwarded(&peek.model);
    let body = if gemini {
        count_via_gemini::request(&body, fwd).ok()?
    } else if fwd == peek.model {
        body
    } else {
        body::rewrite_model(&body, &peek.model_span, fwd)
    };
    let mut req = p.api().count_tokens_for(fwd, body, &headers)?;
    let client_auth = p.spec.client_auth.then_some(p.spec.kind);
    forward_client_head(&mut req, &headers, !gemini, client_auth);
    let deadline = tokio::time::Instant::now() + p.spec.timeout;
    let resp = tokio::time::timeout_at(deadline, up.client.send(req))
        .await
        .ok()?
        .ok()?;
    let status = resp.status();
    let answer = tokio::time::timeout_at(deadline, read_bounded(resp, MAX_COUNT_BODY))
        .await
        .ok()?
        .ok()?;
    if p.scrub.found_in(&answer) {
        return None;
    }
    if gemini {
        // Gemini's errors are not in the client's shape, nor its fault
        // when the key is refused: anything but a count is estimated.
        let n = count_via_gemini::response(&answer).filter(|_| status.is_success())?;
        let mut resp = Json(CountTokensResponse { input_tokens: n }).into_response();
        let h = resp.headers_mut();
        h.insert(H_TOKEN_COUNT, HeaderValue::from_static("upstream"));
        if let Ok(v) = HeaderValue::try_from(p.spec.name.as_str()) {
            h.insert(H_PROVIDER, v);
        }
        return Some(resp);
    }
    let counted = status.is_success()
        && serde_json::from_slice::<serde_json::Value>(&answer)
            .ok()
            .is_some_and(|v| v.get("input_tokens").and_then(|n| n.as_u64()).is_some());
    // The client's own errors (a malformed request, a rejected credential)
    // are relayed; an upstream that cannot count is estimated around.
    let relayed = status.is_client_error() && !matches!(status.as_u16(), 404 | 405 | 408 | 429);
    if !counted && !relayed {
        return None;
    }
    let mut resp = Response::new(axum::body::Body::from(answer));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(H_TOKEN_COUNT, HeaderValue::from_static("upstream"));
    if let Ok(v) = HeaderValue::try_from(p.spec.name.as_str()) {
        h.insert(H_PROVIDER, v);
    }
    if relayed && retry_cannot_fix(status) {
        h.insert(H_SHOULD_RETRY, HeaderValue::from_static("false"));
    }
    Some(resp)
}
