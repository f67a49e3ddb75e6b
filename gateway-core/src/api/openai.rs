//! The OpenAI-compatible client API: Chat Completions, Completions,
//! Embeddings and Responses go through the shared ingress
//! ([`super::ingress::proxy`]); `/v1/models` is [`super::models`].

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use super::ingress::proxy;
use crate::state::AppState;
use crate::vocab::Endpoint;

pub async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok", "version": crate::VERSION })).into_response()
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
