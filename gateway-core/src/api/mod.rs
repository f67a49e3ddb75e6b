//! The HTTP surface on the listen address: the client ingress every
//! protocol shares (`ingress`: extract, check, [`crate::pipeline`], map),
//! the OpenAI-compatible client API (`openai`), the Anthropic Messages API
//! (`anthropic`), the Gemini ingress (`gemini`: `/v1beta/models/…`), the model list in either shape (`models`), typed errors rendered in each client protocol's shape
//! (`error`), and the guard every
//! request passes first (`guard`: Host allow-list against DNS rebinding,
//! cross-origin browser writes refused, opt-in CORS). `telemetry`: `GET
//! /metrics` and the chart/request-log queries (mounted by api/admin).
//! `ui`: the operator UI (`frontend/dist`, embedded) at `/ui`. `body`:
//! request bodies read with a size cap and an idle timeout.

pub(crate) mod admin;
mod anthropic;
mod body;
mod error;
mod gemini;
mod guard;
mod health;
mod ingress;
mod models;
mod openai;
pub mod telemetry;
mod ui;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use error::ApiError;

use crate::state::AppState;

/// The peer's IP address (`local` when served without a socket, as in
/// tests that call the router directly).
pub(crate) struct PeerAddr(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(peer_of(&parts.extensions)))
    }
}

/// The peer's IP address from a request's extensions (see [`PeerAddr`]).
pub(crate) fn peer_of(ext: &http::Extensions) -> String {
    ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "local".to_string(), |c| c.0.ip().to_string())
}

/// The whole router, state attached.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(health::health))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/completions", post(openai::completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .route(
            "/v1/responses",
            post(openai::responses).get(openai::responses_websocket),
        )
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{*id}", get(models::get).post(gemini::post))
        .route("/v1beta/models", get(gemini::list))
        .route("/v1beta/models/{*id}", get(gemini::get).post(gemini::post))
        .route("/metrics", get(telemetry::metrics))
        .nest("/admin/api", admin::router(state.clone()))
        .merge(ui::routes())
        .fallback(ingress::not_found)
        .method_not_allowed_fallback(ingress::method_not_allowed)
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}
