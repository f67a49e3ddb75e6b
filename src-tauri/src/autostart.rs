//! Start at login (tauri-plugin-autostart): off by default, toggled from the
//! tray or the settings page. A login start passes [`HIDDEN_FLAG`], so the
//! app starts in the tray without opening its window.

use tauri::{AppHandle, Runtime};
use tauri_plugin_autostart::ManagerExt;

/// Start with the window hidden (tray only).
pub const HIDDEN_FLAG: &str = "--hidden";

pub fn is_enabled<R: Runtime>(app: &AppHandle<R>) -> Result<bool, String> {
    app.autolaunch().is_enabled().map_err(|e| e.to_string())
}

/// For the tray: an unreadable setting shows as off.
pub fn enabled<R: Runtime>(app: &AppHandle<R>) -> bool {
    is_enabled(app).unwrap_or(false)
}

pub fn set<R: Runtime>(app: &AppHandle<R>, on: bool) -> Result<(), String> {
    // The Linux backend writes ~/.config/autostart/ but creates only the
    // last directory: make sure ~/.config exists (a fresh home may lack it).
    #[cfg(target_os = "linux")]
    if on && let Some(home) = std::env::home_dir() {
        let _ = std::fs::create_dir_all(home.join(".config"));
    }
    let launch = app.autolaunch();
    let r = if on {
        launch.enable()
    } else {
        launch.disable()
    };
    r.map_err(|e| {
        format!(
            "cannot turn start at login {}: {e}",
            if on { "on" } else { "off" }
        )
    })?;
    tracing::info!("start at login turned {}", if on { "on" } else { "off" });
    Ok(())
}
