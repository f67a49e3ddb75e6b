//! "Check for updates" through `gateway_core::update`: fetch the signed
//! release manifest, verify it with the embedded key and compare versions.
//! The desktop app only checks; it is updated by its package (the `.deb`),
//! so nothing is downloaded or replaced here. The manifest URL is the one
//! the build was released with, or `AIGW_UPDATE_URL`.

use gateway_core::update::{Action, Options, PublicKey, Source, Status};
use serde::Serialize;

use crate::commands::CommandError;
use crate::gateway::GatewayHost;

/// The check's result for the window, with a one-line summary for the tray.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateCheck {
    pub summary: String,
    #[serde(flatten)]
    pub status: Status,
}

pub async fn check(host: &GatewayHost) -> Result<UpdateCheck, CommandError> {
    let manifest_url = std::env::var("AIGW_UPDATE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .or(gateway_core::update::DEFAULT_MANIFEST_URL.map(str::to_owned))
        .ok_or_else(|| {
            CommandError::new(
                "no_update_source",
                "this build has no update URL (it was not built by packaging/release.sh); set AIGW_UPDATE_URL",
            )
        })?;
    let data_dir = host.status().data_dir.ok_or_else(|| {
        CommandError::new(
            "no_data_dir",
            "no data dir: the gateway settings are invalid",
        )
    })?;
    let key = PublicKey::embedded().map_err(|e| CommandError::new("update_key", e.to_string()))?;
    let opts = Options::new(Source { manifest_url, key }, data_dir);
    let status =
        tauri::async_runtime::spawn_blocking(move || gateway_core::update::apply::check(&opts))
            .await
            .map_err(|e| CommandError::new("update_check_failed", e.to_string()))?
            .map_err(|e| CommandError::new("update_check_failed", e.to_string()))?;
    Ok(UpdateCheck {
        summary: summary(&status),
        status,
    })
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
