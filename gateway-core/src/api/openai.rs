//! The OpenAI-compatible client API: Chat Completions, Completions,
//! Embeddings and Responses go through the shared ingress
//! ([`super::ingress::proxy`]); `/v1/models` is [`super::models`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::ingress::proxy;
use crate::state::AppState;
use crate::vocab::Endpoint;

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

/// `GET /v1/responses`: Codex's Responses-over-WebSocket attempt
/// (`Upgrade: websocket`, `OpenAI-Beta: responses_websockets=…`), which
/// the gateway does not serve. 426 Upgrade Required is the answer Codex
/// takes as "no WebSocket here" and streams over HTTP at once; to 404, 405
/// or 501 it retries the upgrade six more times (about 6 s a turn), and a
/// 400 fails the turn. Any other GET is a 405 as before.
pub async fn responses_websocket(req: Request) -> Response {
    let upgrade = req
        .headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        let mut resp = ApiError::method_not_allowed().into_response();
        resp.headers_mut()
            .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
        return resp;
    }
    ApiError::from_status(
        http::StatusCode::UPGRADE_REQUIRED,
        "the gateway serves /v1/responses over HTTP (POST, stream: true), not WebSocket",
    )
    .into_response()
}
