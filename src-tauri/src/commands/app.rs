//! The app itself: the page's ready signal and start at login.

use tauri::{AppHandle, Runtime};

use super::CommandError;

/// The page calls this once it has rendered; tests wait for the marker.
#[tauri::command]
pub fn frontend_ready(href: Option<String>) {
    crate::marker::emit("frontend-ready", href.as_deref().unwrap_or(""));
}

/// Whether the app starts at login (off unless the user turns it on).
#[tauri::command]
pub fn get_autostart<R: Runtime>(app: AppHandle<R>) -> Result<bool, CommandError> {
    crate::autostart::is_enabled(&app).map_err(|e| CommandError::new("autostart_error", e))
}

#[tauri::command]
pub fn set_autostart<R: Runtime>(app: AppHandle<R>, enabled: bool) -> Result<bool, CommandError> {
    crate::autostart::set(&app, enabled).map_err(|e| CommandError::new("autostart_error", e))?;
    crate::tray::refresh(&app);
    Ok(enabled)
}
