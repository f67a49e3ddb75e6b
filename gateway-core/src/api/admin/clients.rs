//! "Connect tools" over HTTP: list (viewer), preview (admin: it shows the
//! token that would be written), connect and disconnect (admin, audited).
//! The work is [`crate::clients::service`]'s.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Serialize;

use super::Principal;
use crate::api::ApiError;
use crate::clients::service::{self, ConnectRequest};
use crate::clients::{ClientError, ClientInfo, ClientOutcome, ClientPreview, Tool};
use crate::state::AppState;

/// `GET /clients`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct ClientList {
    /// The base URL tools are pointed at (`http://127.0.0.1:4000`).
    pub gateway: String,
    pub clients: Vec<ClientInfo>,
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        let m = e.to_string();
        match e {
            ClientError::Unknown(_) => ApiError::missing("unknown_client", m),
            ClientError::NotConnectable { .. } => ApiError::conflict("client_not_connectable", m),
            ClientError::RoutingLoop(_) => ApiError::conflict("routing_loop", m),
            ClientError::NotInstalled { .. } => ApiError::conflict("client_not_installed", m),
            ClientError::Unsupported { .. } => ApiError::conflict("client_file_unsupported", m),
            ClientError::Invalid(_) => ApiError::bad_request("invalid_client_request", m),
            ClientError::NoDataDir => ApiError::unavailable("no_data_dir", m),
            ClientError::Publish(e) => ApiError::from(*e),
            ClientError::Io { .. } | ClientError::Key(_) => ApiError::internal(m),
        }
    }
}

fn tool(name: &str) -> Result<Tool, ApiError> {
    Tool::parse(name).ok_or_else(|| ClientError::Unknown(name.into()).into())
}

fn body(b: Option<Json<ConnectRequest>>) -> ConnectRequest {
    b.map(|Json(b)| b).unwrap_or_default()
}

pub async fn list(State(s): State<Arc<AppState>>) -> Result<Json<ClientList>, ApiError> {
    Ok(Json(ClientList {
        gateway: service::gateway_url(&s),
        clients: service::list(&s).await?,
    }))
}

pub async fn preview(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
    b: Option<Json<ConnectRequest>>,
) -> Result<Json<ClientPreview>, ApiError> {
    Ok(Json(service::preview(&s, tool(&name)?, body(b)).await?))
}

pub async fn connect(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    b: Option<Json<ConnectRequest>>,
) -> Result<Json<ClientOutcome>, ApiError> {
    let out = service::connect(&s, tool(&name)?, body(b), &p.actor, "api").await?;
    Ok(Json(out))
}

pub async fn disconnect(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<ClientOutcome>, ApiError> {
    Ok(Json(service::disconnect(&s, tool(&name)?, &p.actor).await?))
}
