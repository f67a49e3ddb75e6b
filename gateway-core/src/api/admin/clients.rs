//! "Connect tools" over HTTP: list (viewer), preview (admin: it shows the
//! token that would be written), connect and disconnect (admin, audited
//! with the actor, tool and files — never the token). The edits are
//! [`crate::clients::Clients`]'s; this layer adds the gateway's base URL,
//! its routes as the model list, the routing-loop check and the client key
//! per tool ([`crate::clients::keys`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::Principal;
use crate::api::ApiError;
use crate::clients::{
    ClientError, ClientInfo, ClientOutcome, ClientPreview, Clients, ModelMap, Target, Tool,
    base_url_for, keys,
};
use crate::lifecycle::Change;
use crate::state::AppState;

/// `GET /clients`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct ClientList {
    /// The base URL tools are pointed at (`http://127.0.0.1:4000`).
    pub gateway: String,
    pub clients: Vec<ClientInfo>,
}

/// Body of preview and connect (optional).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectBody {
    #[cfg_attr(test, ts(as = "Option<ModelMap>", optional))]
    pub models: ModelMap,
    #[cfg_attr(test, ts(as = "Option<bool>", optional))]
    /// Create the tool's config dir even when it does not look installed.
    pub force: bool,
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
            ClientError::Io { .. } | ClientError::Key(_) => ApiError::internal(m),
        }
    }
}

fn clients(s: &AppState) -> Result<Clients, ApiError> {
    s.clients.clone().ok_or_else(|| {
        ApiError::unavailable(
            "no_data_dir",
            "this gateway runs without a data dir: connecting tools needs one for the backups",
        )
    })
}

fn tool(name: &str) -> Result<Tool, ApiError> {
    Tool::parse(name).ok_or_else(|| ClientError::Unknown(name.into()).into())
}

/// The routes' exact model names, for the tools that list models.
fn with_routes(s: &AppState, mut models: ModelMap) -> ModelMap {
    if models.available.is_empty() {
        let rt = s.runtime.load();
        models.available = rt
            .config
            .routes
            .iter()
            .map(|r| r.model.clone())
            .filter(|m| !m.contains('*'))
            .collect();
    }
    models
}

pub async fn list(State(s): State<Arc<AppState>>) -> Result<Json<ClientList>, ApiError> {
    let c = clients(&s)?;
    let gateway = base_url_for(s.listen);
    let target = Target {
        base_url: gateway.clone(),
        ..Target::default()
    };
    let mut list = tokio::task::spawn_blocking(move || c.list(&target)).await?;
    for info in &mut list {
        if let Some(t) = Tool::parse(&info.name) {
            info.last_seen = s.clients_seen.get(t);
        }
    }
    Ok(Json(ClientList {
        gateway,
        clients: list,
    }))
}

/// The target for `tool`: base URL, token (minted when `mint`), models;
/// and the config to publish first when a client key was added.
async fn target(
    s: &Arc<AppState>,
    tool: Tool,
    body: ConnectBody,
    mint: bool,
) -> Result<(Target, keys::Token), ApiError> {
    // the library's 409, before anything is minted
    crate::clients::check_connectable(tool)?;
    let rt = s.runtime.load_full();
    if let Some(why) = keys::routing_loop(&rt.config, s.listen) {
        return Err(ClientError::RoutingLoop(why).into());
    }
    let data_dir = s.data_dir.clone().ok_or_else(|| {
        ApiError::unavailable("no_data_dir", "this gateway runs without a data dir")
    })?;
    let live = s.lifecycle.live_version().toml.unwrap_or_default();
    let config = rt.config.clone();
    let token =
        tokio::task::spawn_blocking(move || keys::prepare(&data_dir, &config, &live, tool, mint))
            .await??;
    let target = Target {
        base_url: base_url_for(s.listen),
        token: token.value.clone(),
        models: with_routes(s, body.models),
    };
    Ok((target, token))
}

pub async fn preview(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Option<Json<ConnectBody>>,
) -> Result<Json<ClientPreview>, ApiError> {
    let tool = tool(&name)?;
    let c = clients(&s)?;
    let (target, token) = target(&s, tool, body.map(|b| b.0).unwrap_or_default(), false).await?;
    let mut p = tokio::task::spawn_blocking(move || c.preview(tool, &target)).await??;
    if let (Some(_), Some(r)) = (&token.publish, &token.key_ref) {
        p.warnings.push(format!(
            "connect adds the client key {r} to server.client_keys (a new config version)"
        ));
    }
    Ok(Json(p))
}

pub async fn connect(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Option<Json<ConnectBody>>,
) -> Result<Json<ClientOutcome>, ApiError> {
    let tool = tool(&name)?;
    let c = clients(&s)?;
    let body = body.map(|b| b.0).unwrap_or_default();
    let force = body.force;
    let (target, token) = target(&s, tool, body, true).await?;
    if let (Some(toml), Some(r)) = (&token.publish, &token.key_ref) {
        let message = format!("connect {tool}: client key {r}");
        let change = Change {
            toml,
            source: "api",
            actor: &p.actor,
            message: &message,
            base_version: None,
        };
        s.lifecycle.publish(&|cfg| s.apply(cfg), change).await?;
    }
    let out = tokio::task::spawn_blocking(move || c.connect_with(tool, &target, force)).await??;
    let _ = s.lifecycle.store().audit(
        &p.actor,
        "client_connect",
        None,
        &serde_json::json!({
            "tool": tool.name(),
            "files": out.files,
            "connected": out.connected,
            "client_key": token.key_ref,
        }),
    );
    tracing::info!("{} connected by {}", tool.label(), p.actor);
    Ok(Json(out))
}

pub async fn disconnect(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<ClientOutcome>, ApiError> {
    let tool = tool(&name)?;
    let c = clients(&s)?;
    let out = tokio::task::spawn_blocking(move || c.disconnect(tool)).await??;
    let _ = s.lifecycle.store().audit(
        &p.actor,
        "client_disconnect",
        None,
        &serde_json::json!({
            "tool": tool.name(),
            "files": out.files,
            "restored": out.restored,
        }),
    );
    tracing::info!("{} disconnected by {}", tool.label(), p.actor);
    Ok(Json(out))
}
