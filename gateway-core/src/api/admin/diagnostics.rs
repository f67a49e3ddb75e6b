//! `GET /admin/api/diagnostics`: the diagnostics bundle
//! ([`crate::diagnostics`]) as a `.tar.gz` download; admin role only (the
//! UI's "Download diagnostics" on Settings). The download is audited.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header;

use super::Principal;
use crate::api::ApiError;
use crate::config::Paths;
use crate::diagnostics::{Inputs, bundle};
use crate::secrets::admin::Role;
use crate::state::AppState;

pub async fn download(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    if p.role != Role::Admin {
        return Err(ApiError::forbidden(
            "admin_role_required",
            "the diagnostics bundle needs the admin role",
        ));
    }
    let axum::Json(status) = super::ops::status(State(s.clone())).await;
    let status = serde_json::to_value(status).unwrap_or_default();
    let doctor = match (s.lifecycle.path(), &s.data_dir) {
        (Some(config_file), Some(data_dir)) => {
            let paths = Paths {
                config_file: config_file.clone(),
                data_dir: data_dir.clone(),
            };
            match crate::cli::doctor_report(&paths).await {
                Ok((text, _)) => text,
                Err(e) => format!("doctor failed: {e}\n"),
            }
        }
        _ => "doctor skipped: this gateway runs without a config file or data dir\n".to_string(),
    };
    let rt = s.runtime.load();
    let mut extra: Vec<String> = vec![
        s.admin_tokens.admin.expose().to_string(),
        s.admin_tokens.viewer.expose().to_string(),
    ];
    extra.extend(rt.client_keys.iter().map(|(_, k)| k.expose().to_string()));
    let inputs = Inputs {
        status,
        config_file: s.lifecycle.path().cloned(),
        data_dir: s.data_dir.clone(),
        live_toml: s.lifecycle.live_version().toml,
        doctor,
        extra_secrets: extra,
    };
    let archive = tokio::task::spawn_blocking(move || bundle(&inputs))
        .await?
        .map_err(|e| ApiError::internal(format!("cannot build the diagnostics bundle: {e}")))?;
    let _ = s.lifecycle.store().audit(
        &p.actor,
        "diagnostics",
        None,
        &serde_json::json!({ "bytes": archive.len() }),
    );
    let name = format!(
        "attachment; filename=\"aigw-diagnostics-{}.tar.gz\"",
        crate::store::now_ms() / 1000
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        archive,
    )
        .into_response())
}
