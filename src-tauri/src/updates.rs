//! Signed self-update of the desktop app through `gateway_core::update`:
//! the release manifest's `desktop` builds, verified with the embedded key
//! (manifest signature, archive checksum and signature, the new binary's
//! `--version`) before this executable is replaced; the replaced one is kept
//! in `<data dir>/updates/previous-desktop/` for rollback. The new version
//! runs after a restart ([`restart`]).
//!
//! The window does the same through the admin API (`/admin/api/update/*`,
//! in-process); the tray uses the functions here. Either way the tray
//! learns what is installed on disk from the kept version's record
//! ([`restart_pending`]), so it offers "Restart to use X" after both.
//!
//! A desktop app installed by its `.deb` is updated by installing the new
//! `.deb`: the updater refuses to replace files dpkg owns, and says so.

use std::sync::Mutex;

use gateway_core::sync::LockExt;
use gateway_core::update::host::{self, UpdateHost};
use gateway_core::update::{Action, Outcome, Status};
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};

use crate::commands::CommandError;
use crate::gateway::GatewayHost;

/// The last check's offer, for the tray's "Install update X" item.
#[derive(Default)]
pub struct UpdateState {
    available: Mutex<Option<String>>,
}

impl UpdateState {
    pub fn available(&self) -> Option<String> {
        self.available.lock_or_recover().clone()
    }

    fn set_available(&self, v: Option<String>) {
        *self.available.lock_or_recover() = v;
    }
}

/// The check's result for the window, with a one-line summary for the tray.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateCheck {
    pub summary: String,
    #[serde(flatten)]
    pub status: Status,
}

fn options(host: &GatewayHost) -> Result<gateway_core::update::Options, CommandError> {
    let data_dir = host.status().data_dir.ok_or_else(|| {
        CommandError::new(
            "no_data_dir",
            "no data dir: the gateway settings are invalid",
        )
    })?;
    host::options(UpdateHost::DESKTOP, &data_dir, None)
        .map_err(|e| CommandError::new("update_key", e.to_string()))?
        .ok_or_else(|| {
            CommandError::new(
                "no_update_source",
                "this build has no update URL (it was not built by packaging/release.sh); set AIGW_UPDATE_URL",
            )
        })
}

pub async fn check<R: Runtime>(app: &AppHandle<R>) -> Result<UpdateCheck, CommandError> {
    let opts = options(&app.state::<GatewayHost>())?;
    let status = host::check(opts)
        .await
        .map_err(|e| CommandError::new("update_check_failed", e.to_string()))?;
    if let Some(state) = app.try_state::<UpdateState>() {
        state.set_available((status.action == Action::Update).then(|| status.offered.to_string()));
    }
    Ok(UpdateCheck {
        summary: summary(&status),
        status,
    })
}

/// Downloads, verifies and installs the offered desktop build; the running
/// app keeps running the old code until [`restart`].
pub async fn install<R: Runtime>(app: &AppHandle<R>) -> Result<Outcome, CommandError> {
    let opts = options(&app.state::<GatewayHost>())?;
    let outcome = host::install(opts, false)
        .await
        .map_err(|e| CommandError::new("update_failed", format!("nothing was changed: {e}")))?;
    if let Some(state) = app.try_state::<UpdateState>() {
        state.set_available(None);
    }
    Ok(outcome)
}

/// The version installed on disk when it is not the one running (after an
/// install or a rollback, from the tray or the window): a restart runs it.
pub fn restart_pending(data_dir: &std::path::Path) -> Option<String> {
    let meta = host::previous(UpdateHost::DESKTOP, data_dir)?;
    let exe = gateway_core::update::install::running_exe().ok()?;
    let kept_for_this_exe = meta.binary.canonicalize().is_ok_and(|b| b == exe);
    (kept_for_this_exe && meta.replaced_by != gateway_core::VERSION).then_some(meta.replaced_by)
}

/// Stops the gateway gracefully, then starts the (new) executable again.
pub async fn restart<R: Runtime>(app: AppHandle<R>) {
    crate::marker::emit("restart", "");
    app.state::<GatewayHost>().shutdown().await;
    app.request_restart();
}

fn summary(s: &Status) -> String {
    match &s.action {
        Action::UpToDate => format!("Up to date ({})", s.installed.version),
        Action::Update => format!(
            "Update available: {} (installed {})",
            s.offered, s.installed.version
        ),
        Action::Downgrade => format!(
            "Up to date ({}; the release offers {})",
            s.installed.version, s.offered
        ),
        Action::BelowMinimum { minimum } => {
            format!(
                "Update {} needs at least {minimum}: reinstall from the release",
                s.offered
            )
        }
        Action::NoBuild { .. } => format!("Release {} has no build for this platform", s.offered),
    }
}
