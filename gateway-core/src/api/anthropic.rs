//! Anthropic Messages handlers, for Claude Code and other Anthropic-protocol
//! agents. `POST /v1/messages` goes through the same routing and fallback as
//! the OpenAI endpoints (passed through to Anthropic providers, translated
//! for OpenAI-compatible ones); errors are in Anthropic's shape.
//! `POST /v1/messages/count_tokens` is answered locally with an estimate.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::body::read_body;
use super::ingress::{MAX_BODY, authenticate, peer_of, proxy};
use crate::state::AppState;
use crate::translate::tokens::estimate_input_tokens;
use crate::translate::wire::anthropic::{CountTokensResponse, MessagesRequest};
use crate::vocab::Endpoint;

pub async fn messages(State(s): State<Arc<AppState>>, req: Request) -> Response {
    proxy(s, req, Endpoint::Messages).await
}

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
    match serde_json::from_slice::<MessagesRequest>(&bytes) {
        Ok(r) => Json(CountTokensResponse {
            input_tokens: estimate_input_tokens(&r),
        })
        .into_response(),
        Err(e) => ApiError::bad_request("invalid_request", format!("invalid request: {e}"))
            .into_response_for(Endpoint::Messages),
    }
}
