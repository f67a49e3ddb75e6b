//! `admin_request`: the window's transport to the admin API. The page calls
//! `window.__TAURI__.core.invoke('admin_request', {method, path, body})`
//! and gets `{status, body}` — the same status and JSON an HTTP client of
//! `/admin/api/…` would get, without ever holding the admin token.

use serde_json::Value;
use tauri::{AppHandle, Runtime, State};

use super::CommandError;
use crate::gateway::{AdminResponse, GatewayHost};

/// `path` is the gateway path, e.g. `/admin/api/config/history?limit=20`.
/// When the gateway failed to start, a call first tries to start it again
/// (so the UI's "Try again" works once the port is free). A write may change
/// what the tray shows (pause, profile, a connected tool), so the tray is
/// refreshed after it.
#[tauri::command]
pub async fn admin_request<R: Runtime>(
    app: AppHandle<R>,
    host: State<'_, GatewayHost>,
    method: String,
    path: String,
    body: Option<Value>,
) -> Result<AdminResponse, CommandError> {
    let restarted = host.retry_if_failed().await;
    let resp = host.admin_request(&method, &path, body).await?;
    if restarted || !method.eq_ignore_ascii_case("GET") {
        crate::tray::refresh(&app);
    }
    if !method.eq_ignore_ascii_case("GET") && path.starts_with("/admin/api/clients/") {
        crate::tray::tools_changed(&app);
    }
    Ok(resp)
}
