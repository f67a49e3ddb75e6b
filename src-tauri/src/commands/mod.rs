//! The Tauri commands the window calls, a file per domain. Errors cross to
//! the page as `{code, message}`, never bare strings.
//!
//! - `admin`: `admin_request`, the window's transport to the admin API.
//! - `gateway`: desktop status, pause/resume, routing profile, retry.
//! - `app`: `frontend_ready`, start at login.
//! - `updates`: `check_for_updates`, `restart_app`.

pub mod admin;
pub mod app;
pub mod gateway;
pub mod updates;

use serde::Serialize;
use tauri::Runtime;
use tauri::ipc::Invoke;

use crate::gateway::HostError;

/// What a failed command returns to the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<HostError> for CommandError {
    fn from(e: HostError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

/// Every command, for `Builder::invoke_handler` (the app and the tests).
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        admin::admin_request,
        gateway::desktop_status,
        gateway::set_paused,
        gateway::switch_profile,
        gateway::retry_start,
        app::frontend_ready,
        app::get_autostart,
        app::set_autostart,
        updates::check_for_updates,
        updates::restart_app,
    ]
}
