//! Connect tools for a running gateway — what the admin API handlers and
//! the desktop app call: the gateway's base URL (its listen address), its
//! routes as the model list, the routing-loop check, a client key per tool
//! published through the config lifecycle, and an audit entry per connect
//! and disconnect (actor, tool, files; never the token).

use std::sync::Arc;

use serde::Deserialize;

use super::{
    ClientError, ClientInfo, ClientOutcome, ClientPreview, Clients, ModelMap, Target, Tool,
    base_url_for, check_connectable, keys,
};
use crate::lifecycle::Change;
use crate::state::AppState;

/// What preview and connect take (the admin API's body).
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(rename = "ConnectBody"))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectRequest {
    #[cfg_attr(test, ts(as = "Option<ModelMap>", optional))]
    pub models: ModelMap,
    /// Create the tool's config dir even when it does not look installed.
    #[cfg_attr(test, ts(as = "Option<bool>", optional))]
    pub force: bool,
    /// Claude Code / Codex keep their own login (subscriptions, for
    /// providers with `api_key = "client"`); the gateway key goes as
    /// `x-aigw-key`.
    #[cfg_attr(test, ts(as = "Option<bool>", optional))]
    pub subscription: bool,
}

fn clients(s: &AppState) -> Result<Clients, ClientError> {
    s.clients.clone().ok_or(ClientError::NoDataDir)
}

/// The base URL tools are pointed at.
pub fn gateway_url(s: &AppState) -> String {
    base_url_for(s.listen)
}

/// The routes' exact model names, when the caller named none.
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

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Invalid(format!("task failed: {e}")))?
}

/// Every tool, with when this gateway last saw it.
pub async fn list(s: &Arc<AppState>) -> Result<Vec<ClientInfo>, ClientError> {
    let c = clients(s)?;
    let target = Target {
        base_url: gateway_url(s),
        ..Target::default()
    };
    let mut list = blocking(move || Ok(c.list(&target))).await?;
    for info in &mut list {
        if let Some(t) = Tool::parse(&info.name) {
            info.last_seen = s.clients_seen.get(t);
        }
    }
    Ok(list)
}

/// The target for `tool` (its token minted when `mint`) and the token's
/// story: the config to publish first when a client key was added.
async fn target(
    s: &Arc<AppState>,
    tool: Tool,
    models: ModelMap,
    subscription: bool,
    mint: bool,
) -> Result<(Target, keys::Token), ClientError> {
    // refused before anything is minted
    check_connectable(tool)?;
    super::check_subscription(tool, subscription)?;
    let rt = s.runtime.load_full();
    if let Some(why) = keys::routing_loop(&rt.config, s.listen) {
        return Err(ClientError::RoutingLoop(why));
    }
    let data_dir = s.data_dir.clone().ok_or(ClientError::NoDataDir)?;
    let live = s.lifecycle.live_version().toml.unwrap_or_default();
    let config = rt.config.clone();
    let token = blocking(move || keys::prepare(&data_dir, &config, &live, tool, mint)).await?;
    let target = Target {
        base_url: gateway_url(s),
        token: token.value.clone(),
        models: with_routes(s, models),
        subscription,
    };
    Ok((target, token))
}

/// What connect would write (it shows the token: admin only).
pub async fn preview(
    s: &Arc<AppState>,
    tool: Tool,
    req: ConnectRequest,
) -> Result<ClientPreview, ClientError> {
    let c = clients(s)?;
    let (target, token) = target(s, tool, req.models, req.subscription, false).await?;
    let mut p = blocking(move || c.preview(tool, &target)).await?;
    if let (Some(_), Some(r)) = (&token.publish, &token.key_ref) {
        p.warnings.push(format!(
            "connect adds the client key {r} to server.client_keys (a new config version)"
        ));
    }
    Ok(p)
}

/// Connects `tool`; `actor` and `source` (`ui`, `api`, `tray`…) go into the
/// audit log and the config version a new client key makes.
pub async fn connect(
    s: &Arc<AppState>,
    tool: Tool,
    req: ConnectRequest,
    actor: &str,
    source: &str,
) -> Result<ClientOutcome, ClientError> {
    let c = clients(s)?;
    let force = req.force;
    let (target, token) = target(s, tool, req.models, req.subscription, true).await?;
    if let (Some(toml), Some(r)) = (&token.publish, &token.key_ref) {
        let message = format!("connect {tool}: client key {r}");
        let change = Change {
            toml,
            source,
            actor,
            message: &message,
            base_version: None,
        };
        s.lifecycle
            .publish(&|cfg| s.apply(cfg), change)
            .await
            .map_err(|e| ClientError::Publish(Box::new(e)))?;
    }
    let out = blocking(move || c.connect_with(tool, &target, force)).await?;
    let _ = s.lifecycle.store().audit(
        actor,
        "client_connect",
        None,
        &serde_json::json!({
            "tool": tool.name(),
            "files": out.files,
            "connected": out.connected,
            "client_key": token.key_ref,
        }),
    );
    tracing::info!("{} connected by {actor}", tool.label());
    Ok(out)
}

/// Undoes connect (audited).
pub async fn disconnect(
    s: &Arc<AppState>,
    tool: Tool,
    actor: &str,
) -> Result<ClientOutcome, ClientError> {
    let c = clients(s)?;
    let out = blocking(move || c.disconnect(tool)).await?;
    let _ = s.lifecycle.store().audit(
        actor,
        "client_disconnect",
        None,
        &serde_json::json!({
            "tool": tool.name(),
            "files": out.files,
            "restored": out.restored,
        }),
    );
    tracing::info!("{} disconnected by {actor}", tool.label());
    Ok(out)
}
