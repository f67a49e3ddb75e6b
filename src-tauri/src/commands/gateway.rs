//! The gateway as the desktop sees it: status, pause/resume, routing
//! profile, retrying a failed start. The tray does the same through
//! [`GatewayHost`] directly.

use tauri::{AppHandle, Runtime, State};

use super::CommandError;
use crate::gateway::{GatewayHost, HostStatus};

/// Running, paused or failed (with the reason), the endpoint, profiles.
#[tauri::command]
pub fn desktop_status(host: State<'_, GatewayHost>) -> HostStatus {
    host.status()
}

/// Pause or resume, through the admin API (audited like any other action).
#[tauri::command]
pub async fn set_paused<R: Runtime>(
    app: AppHandle<R>,
    host: State<'_, GatewayHost>,
    paused: bool,
) -> Result<HostStatus, CommandError> {
    host.set_paused(paused).await?;
    crate::tray::refresh(&app);
    Ok(host.status())
}

/// Switches the routing profile; `null` = the top-level routes.
#[tauri::command]
pub async fn switch_profile<R: Runtime>(
    app: AppHandle<R>,
    host: State<'_, GatewayHost>,
    profile: Option<String>,
) -> Result<HostStatus, CommandError> {
    host.switch_profile(profile.as_deref(), "desktop-window")
        .await?;
    crate::tray::refresh(&app);
    Ok(host.status())
}

/// Starts the gateway again after a failure (e.g. the port was taken).
#[tauri::command]
pub async fn retry_start<R: Runtime>(
    app: AppHandle<R>,
    host: State<'_, GatewayHost>,
) -> Result<HostStatus, CommandError> {
    let result = host.start().await;
    crate::tray::refresh(&app);
    match result {
        Ok(_) => Ok(host.status()),
        Err(f) => Err(CommandError::new("gateway_not_running", f.message)),
    }
}
