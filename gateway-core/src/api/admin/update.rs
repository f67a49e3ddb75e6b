//! Signed updates of the program hosting the gateway (`aigw`, or the desktop
//! app): check (viewer), install and roll back (admin, audited). Naming
//! another release manifest URL than the configured one (`manifest_url`)
//! makes the gateway fetch that URL: admin only, and audited
//! (`update_manifest_url`). Every fetch resolves through the running
//! config's SSRF guard (`crate::update::fetch`). The checks
//! and their order are `crate::update`'s; here only the HTTP shape. After an
//! install or rollback the running process still runs the old code until it
//! restarts: the answer says so (`restart_needed`).

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::Principal;
use crate::api::ApiError;
use crate::secrets::admin::Role;
use crate::state::AppState;
use crate::update::host;
use crate::update::install::PreviousMeta;
use crate::update::{App, Options, Outcome, RolledBack, Status, UpdateError};

#[derive(Deserialize)]
pub struct CheckQuery {
    /// Overrides the release manifest URL.
    manifest_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ApplyBody {
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    allow_downgrade: bool,
    manifest_url: Option<String>,
}

/// Where downloads and the kept previous binary go: the data dir, or the
/// temp dir for a gateway started without one (tests, embedded hosts).
fn data_dir(s: &AppState) -> PathBuf {
    s.data_dir.clone().unwrap_or_else(std::env::temp_dir)
}

/// The updater's options, resolving through the running config's SSRF
/// policy (the one providers connect through).
fn options(s: &AppState, manifest_url: Option<String>) -> Result<Option<Options>, UpdateError> {
    let mut opts = host::options(s.update_host, &data_dir(s), manifest_url)?;
    if let Some(o) = &mut opts {
        o.ssrf = s.runtime.load().config.server.ssrf.clone();
    }
    Ok(opts)
}

/// A `manifest_url` that overrides the configured one: refused (403) for a
/// viewer, audited for an admin before anything is fetched. `Ok(url)` is
/// the override to use (`None`: the configured URL).
fn manifest_override(
    s: &AppState,
    p: &Principal,
    verb: &str,
    manifest_url: Option<String>,
) -> Result<Option<String>, ApiError> {
    let Some(url) = manifest_url.filter(|u| !u.trim().is_empty()) else {
        return Ok(None);
    };
    if p.role != Role::Admin {
        return Err(ApiError::forbidden(
            "admin_role_required",
            "overriding the release manifest URL (manifest_url) needs the admin role; viewers check against the configured URL",
        ));
    }
    let detail = serde_json::json!({ "url": url, "verb": verb, "app": s.update_host.app });
    if let Err(e) = s
        .lifecycle
        .store()
        .audit(&p.actor, "update_manifest_url", None, &detail)
    {
        tracing::warn!("update {verb} with manifest_url {url:?} not done: cannot audit it: {e}");
        return Err(ApiError::internal(format!(
            "cannot record the audit entry for manifest_url, so it was not fetched: {e}"
        )));
    }
    tracing::info!("update {verb} against manifest_url {url:?} by {}", p.actor);
    Ok(Some(url))
}

fn key_error(e: UpdateError) -> ApiError {
    ApiError::bad_request("update_key", e.to_string())
}

fn not_configured() -> ApiError {
    ApiError::bad_request(
        "update_not_configured",
        "this build has no release manifest URL: set AIGW_UPDATE_URL or pass manifest_url",
    )
}

/// What is known without the manifest: the running program and what a
/// rollback would restore. Sent beside the error when a check fails, so a
/// rollback stays possible while the release server is down.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct Running {
    pub app: App,
    /// The running version.
    pub version: &'static str,
    /// The host restarts itself into a new version (the desktop app).
    pub restart_supported: bool,
    /// The version kept for rollback.
    pub previous: Option<PreviousMeta>,
    /// Whether the build knows a release manifest URL.
    pub configured: bool,
}

/// `GET /update/check`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct UpdateCheck {
    #[serde(flatten)]
    pub running: Running,
    /// Without a manifest URL: what to do instead.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    /// The verified manifest set against the installed binary.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// `GET /admin/api/update/check`: the signed manifest against the installed
/// binary, plus what a rollback would restore. `?manifest_url=`: admin only.
pub async fn check(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<CheckQuery>,
) -> Result<Json<UpdateCheck>, ApiError> {
    let manifest_url = manifest_override(&s, &p, "check", q.manifest_url)?;
    let h = s.update_host;
    let mut running = Running {
        app: h.app,
        version: crate::VERSION,
        restart_supported: h.restart_supported,
        previous: host::previous(h, &data_dir(&s)),
        configured: false,
    };
    let Some(opts) = options(&s, manifest_url).map_err(key_error)? else {
        return Ok(Json(UpdateCheck {
            running,
            message: Some(
                "this build has no release manifest URL; set AIGW_UPDATE_URL, pass ?manifest_url=, or use `aigw update check --manifest-url URL`",
            ),
            status: None,
        }));
    };
    running.configured = true;
    match host::check(opts).await {
        Ok(status) => Ok(Json(UpdateCheck {
            running,
            message: None,
            status: Some(status),
        })),
        Err(e) => {
            let fields = match serde_json::to_value(running) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => serde_json::Map::new(),
            };
            Err(ApiError::bad_request("update_check_failed", e.to_string()).with_fields(fields))
        }
    }
}

/// `POST /update/apply`: the outcome; after a real install, the running
/// process still runs the old code until it restarts.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
#[cfg_attr(test, ts(rename = "UpdateOutcome"))]
pub struct Applied {
    #[serde(flatten)]
    pub outcome: Outcome,
    /// `true` after an install (`outcome: "updated"`), absent otherwise.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_needed: Option<bool>,
}

/// `POST /admin/api/update/apply`: downloads, verifies and installs (or, with
/// `dry_run`, only verifies). On any error nothing was changed.
pub async fn apply(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: axum::body::Bytes,
) -> Result<Json<Applied>, ApiError> {
    // No body means the defaults; a body that does not parse is refused
    // (never read as "not a dry run").
    let b: ApplyBody = if body.iter().all(u8::is_ascii_whitespace) {
        ApplyBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(
                "invalid_json",
                format!("send {{\"dry_run\"?: bool, \"allow_downgrade\"?: bool, \"manifest_url\"?: string}}: {e}"),
            )
        })?
    };
    let manifest_url = manifest_override(&s, &p, "apply", b.manifest_url)?;
    let mut opts = options(&s, manifest_url)
        .map_err(key_error)?
        .ok_or_else(not_configured)?;
    opts.allow_downgrade = b.allow_downgrade;
    let app = opts.app;
    let outcome = host::install(opts, b.dry_run).await.inspect_err(|e| {
        tracing::warn!("{app} update refused: {e}");
    })?;
    let mut restart_needed = None;
    if let Outcome::Updated {
        from, to, binary, ..
    } = &outcome
    {
        tracing::info!(
            "{app} updated from {from} to {to} at {} by {}",
            binary.display(),
            p.actor
        );
        let _ = s.lifecycle.store().audit(
            &p.actor,
            "update_apply",
            None,
            &serde_json::json!({ "app": app, "from": from, "to": to, "binary": binary }),
        );
        restart_needed = Some(true);
    }
    Ok(Json(Applied {
        outcome,
        restart_needed,
    }))
}

/// `POST /update/rollback`: what was put back; the running process needs
/// a restart to run it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
#[cfg_attr(test, ts(rename = "UpdateRolledBack"))]
pub struct RollbackDone {
    #[serde(flatten)]
    pub rolled_back: RolledBack,
    pub restart_needed: bool,
}

/// `POST /admin/api/update/rollback`: puts back the binary the last install
/// replaced.
pub async fn rollback(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
) -> Result<Json<RollbackDone>, ApiError> {
    let h = s.update_host;
    let r = host::rollback(h, data_dir(&s)).await?;
    tracing::info!(
        "{} rolled back to {} at {} by {}",
        h.app,
        r.restored,
        r.binary.display(),
        p.actor
    );
    let _ = s.lifecycle.store().audit(
        &p.actor,
        "update_rollback",
        None,
        &serde_json::json!({ "app": h.app, "restored": r.restored, "replaced": r.replaced, "binary": r.binary }),
    );
    Ok(Json(RollbackDone {
        rolled_back: r,
        restart_needed: true,
    }))
}
