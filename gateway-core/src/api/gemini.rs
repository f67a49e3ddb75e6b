//! The Gemini ingress, for Gemini CLI and the Google GenAI SDKs
//! (`GOOGLE_GEMINI_BASE_URL`, the SDKs' base-URL option):
//! `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent`
//! (always answered as SSE, as with `?alt=sse`), `:countTokens`, and the
//! same under `/v1/models/…` (the Python SDK's default path when only a
//! base URL is set); `GET /v1beta/models` and `/v1beta/models/{model}`.
//!
//! The model comes from the path and is routed like every other request:
//! passed through to `kind = "gemini"` targets, translated
//! (`translate/gemini_via_chat.rs`) for the others. The client's key may
//! come in `x-goog-api-key`, `?key=` (moved into `x-goog-api-key`, never
//! forwarded in a URL) or as a bearer token. Errors are in Gemini's shape
//! `{"error":{"code","message","status"}}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, Uri, header};
use serde::Deserialize;

use super::ApiError;
use super::anthropic::H_TOKEN_COUNT;
use super::body::read_body;
use super::error::{H_SHOULD_RETRY, retry_cannot_fix};
use super::ingress::{
    H_PROVIDER, MAX_BODY, PathModel, authenticate, client_head, peer_of, proxy_with,
};
use crate::config::ProviderKind;
use crate::providers::{ClientHeaders, forward_client_head};
use crate::routing::sticky::SessionKey;
use crate::routing::{ModelEntry, Runtime, resolve};
use crate::state::AppState;
use crate::translate::tokens::estimate_gemini_tokens;
use crate::translate::wire::gemini::{Content, GenerateRequest};
use crate::upstream::read_bounded;
use crate::vocab::Endpoint;

const SHAPE: Endpoint = Endpoint::GenerateContent;

/// Largest upstream `countTokens` answer read.
const MAX_COUNT_BODY: usize = 64 * 1024;

/// `GET /v1beta/models` page size: 50 unless `pageSize` says (at most 1000).
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 1000;

/// `POST /v1beta/models/{model}:{method}` and `/v1/models/{model}:{method}`.
pub async fn post(
    State(state): State<Arc<AppState>>,
    Path(rest): Path<String>,
    req: Request,
) -> Response {
    let Some((model, method)) = rest.rsplit_once(':') else {
        return not_found(&rest);
    };
    let model = model.strip_prefix("models/").unwrap_or(model).to_string();
    let req = key_to_header(req);
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        "countTokens" => return count_tokens(state, req, model).await,
        _ => return not_found(&rest),
    };
    proxy_with(state, req, SHAPE, Some(PathModel { model, stream })).await
}

fn not_found(rest: &str) -> Response {
    ApiError::not_found(format!(
        "no such Gemini method: models/{rest} (the gateway serves generateContent, \
         streamGenerateContent and countTokens)"
    ))
    .into_response_for(SHAPE)
}

/// A `?key=` moves into `x-goog-api-key` (unless that header came too);
/// `key` and `alt` leave the query, which a passthrough would otherwise
/// forward (the gateway builds its own `?alt=sse`).
fn key_to_header(mut req: Request) -> Request {
    let Some(query) = req.uri().query().map(str::to_string) else {
        return req;
    };
    let mut key = None;
    let mut kept = Vec::new();
    for kv in query.split('&') {
        let (name, value) = kv.split_once('=').unwrap_or((kv, ""));
        match name {
            "key" => key = Some(value.to_string()),
            "alt" | "" => {}
            _ => kept.push(kv),
        }
    }
    if let Some(k) = key
        && !req.headers().contains_key("x-goog-api-key")
        && let Ok(mut v) = HeaderValue::try_from(k)
    {
        v.set_sensitive(true);
        req.headers_mut().insert("x-goog-api-key", v);
    }
    let path = req.uri().path();
    let pq = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = pq.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(u) = Uri::from_parts(parts) {
            *req.uri_mut() = u;
        }
    }
    req
}

/// A `countTokens` body: `contents`, or a whole `generateContentRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountTokensRequest {
    #[serde(default)]
    contents: Vec<Content>,
    #[serde(default)]
    generate_content_request: Option<GenerateRequest>,
}

/// `:countTokens`: counted by the model's preferred target when it is
/// `kind = "gemini"` (and can count), else estimated locally
/// (`translate/tokens.rs`); `x-aigw-token-count` says which. Like
/// `/v1/messages/count_tokens`, it never touches a target's health.
async fn count_tokens(state: Arc<AppState>, req: Request, model: String) -> Response {
    let rt = state.runtime.load_full();
    let peer = peer_of(&req);
    let (parts, body) = req.into_parts();
    if let Err(e) = authenticate(&rt, &parts.headers, &peer) {
        return e.into_response_for(SHAPE);
    }
    let server = &rt.config.server;
    let (limit, idle) = (server.max_body_bytes, server.body_idle_timeout);
    let bytes = match read_body(&parts.headers, body, limit, MAX_BODY, idle).await {
        Ok(b) => b,
        Err(e) => return e.into_response_for(SHAPE),
    };
    let estimate = match serde_json::from_slice::<CountTokensRequest>(&bytes) {
        Ok(r) => match &r.generate_content_request {
            Some(g) => estimate_gemini_tokens(&g.contents, g.system_instruction.as_ref(), &g.tools),
            None => estimate_gemini_tokens(&r.contents, None, &[]),
        },
        Err(e) => {
            return ApiError::bad_request("invalid_request", format!("invalid request: {e}"))
                .into_response_for(SHAPE);
        }
    };
    let headers = client_head(&rt, parts);
    if let Some(resp) = upstream_count(&state, &rt, &model, headers, bytes).await {
        return resp;
    }
    let mut resp = Json(serde_json::json!({ "totalTokens": estimate })).into_response();
    resp.headers_mut()
        .insert(H_TOKEN_COUNT, HeaderValue::from_static("estimate"));
    resp
}

/// The Gemini upstream's count, or `None` to estimate.
async fn upstream_count(
    state: &AppState,
    rt: &Arc<Runtime>,
    model: &str,
    headers: ClientHeaders,
    body: Bytes,
) -> Option<Response> {
    let session = SessionKey::from_request(headers.map(), None);
    let up = state.upstreams();
    let (route, _) = resolve(&up, rt, model).await.ok()?;
    let target = &route.targets[*route.order(session.as_ref()).first()?];
    let p = &target.provider;
    if p.spec.kind != ProviderKind::Gemini
        || p.key_error.is_some()
        || (p.spec.client_auth && !headers.has_credential())
    {
        return None;
    }
    let mut req = p
        .api()
        .gemini_count_request(target.forwarded(model), body)?;
    let client_auth = p.spec.client_auth.then_some(p.spec.kind);
    forward_client_head(&mut req, &headers, true, client_auth);
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
    let counted = status.is_success()
        && serde_json::from_slice::<serde_json::Value>(&answer)
            .ok()
            .is_some_and(|v| v.get("totalTokens").and_then(|n| n.as_u64()).is_some());
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

/// `GET /v1beta/models` paging: `pageSize`, and the `nextPageToken` of the
/// page before.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    page_size: Option<usize>,
    page_token: Option<String>,
}

/// `GET /v1beta/models`: the gateway's models (those `GET /v1/models`
/// lists) in Gemini's list shape.
pub async fn list(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let req = key_to_header(req);
    let page = match axum::extract::Query::<Page>::try_from_uri(req.uri()) {
        Ok(axum::extract::Query(p)) => p,
        Err(e) => {
            return ApiError::bad_request("invalid_query", e.body_text()).into_response_for(SHAPE);
        }
    };
    let rt = state.runtime.load_full();
    if let Err(e) = authenticate(&rt, req.headers(), &peer_of(&req)) {
        return e.into_response_for(SHAPE);
    }
    let size = page
        .page_size
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_PAGE)
        .min(MAX_PAGE);
    let start = match page.page_token.as_deref().filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => match t.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                return ApiError::bad_request("invalid_page_token", "pageToken is not valid")
                    .into_response_for(SHAPE);
            }
        },
    };
    let cat = state.catalog.get(&rt, &state.client()).await;
    let models: Vec<_> = cat
        .entries
        .iter()
        .skip(start)
        .take(size)
        .map(model_json)
        .collect();
    let mut out = serde_json::json!({ "models": models });
    let next = start.saturating_add(size);
    if next < cat.entries.len() {
        out["nextPageToken"] = next.to_string().into();
    }
    Json(out).into_response()
}

/// `GET /v1beta/models/{model}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let req = key_to_header(req);
    let rt = state.runtime.load_full();
    if let Err(e) = authenticate(&rt, req.headers(), &peer_of(&req)) {
        return e.into_response_for(SHAPE);
    }
    let id = id.strip_prefix("models/").unwrap_or(&id).to_string();
    let cat = state.catalog.get(&rt, &state.client()).await;
    let entry = match cat.entries.iter().find(|e| e.id == id) {
        Some(e) => e.clone(),
        None if rt.routes.lookup(&id).is_some() => ModelEntry {
            id,
            owned_by: "aigw".into(),
            provider: None,
        },
        None => return ApiError::model_not_found(&id).into_response_for(SHAPE),
    };
    Json(model_json(&entry)).into_response()
}

/// Gemini's `Model`: the catalog knows no token limits or versions.
fn model_json(e: &ModelEntry) -> serde_json::Value {
    serde_json::json!({
        "name": format!("models/{}", e.id),
        "displayName": e.id,
        "description": format!("served by aigw ({})", e.owned_by),
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    })
}
