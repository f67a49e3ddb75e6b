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
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use super::Principal;
use crate::api::ApiError;
use crate::secrets::admin::Role;
use crate::server::AppState;
use crate::update::host;
use crate::update::{Options, Outcome, UpdateError};

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

fn key_error(e: &UpdateError) -> Response {
    ApiError::bad_request("update_key", e.to_string()).into_response()
}

fn not_configured() -> Response {
    ApiError::bad_request(
        "update_not_configured",
        "this build has no release manifest URL: set AIGW_UPDATE_URL or pass manifest_url",
    )
    .into_response()
}

/// `GET /admin/api/update/check`: the signed manifest against the installed
/// binary, plus what a rollback would restore. `?manifest_url=`: admin only.
pub async fn check(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<CheckQuery>,
) -> Response {
    let manifest_url = match manifest_override(&s, &p, "check", q.manifest_url) {
        Ok(u) => u,
        Err(refused) => return refused.into_response(),
    };
    let h = s.update_host;
    let mut out = serde_json::json!({
        "app": h.app,
        "version": crate::VERSION,
        "restart_supported": h.restart_supported,
        "previous": host::previous(h, &data_dir(&s)),
    });
    let opts = match options(&s, manifest_url) {
        Ok(Some(o)) => o,
        Ok(None) => {
            out["configured"] = false.into();
            out["message"] = "this build has no release manifest URL; set AIGW_UPDATE_URL, pass ?manifest_url=, or use `aigw update check --manifest-url URL`".into();
            return Json(out).into_response();
        }
        Err(e) => return key_error(&e),
    };
    out["configured"] = true.into();
    match host::check(opts).await {
        Ok(status) => {
            out["status"] = serde_json::to_value(status).unwrap_or_default();
            Json(out).into_response()
        }
        Err(e) => {
            // The error, and beside it what is known without the manifest
            // (the running version, what a rollback would restore), so a
            // rollback stays possible while the release server is down.
            let mut body = serde_json::json!({ "error": {
                "message": e.to_string(),
                "type": "invalid_request_error",
                "code": "update_check_failed",
            }});
            for key in [
                "app",
                "version",
                "restart_supported",
                "previous",
                "configured",
            ] {
                body[key] = out[key].take();
            }
            (http::StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

/// `POST /admin/api/update/apply`: downloads, verifies and installs (or, with
/// `dry_run`, only verifies). On any error nothing was changed.
pub async fn apply(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: axum::body::Bytes,
) -> Response {
    // No body means the defaults; a body that does not parse is refused
    // (never read as "not a dry run").
    let b: ApplyBody = if body.iter().all(u8::is_ascii_whitespace) {
        ApplyBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return ApiError::bad_request(
                    "invalid_json",
                    format!("send {{\"dry_run\"?: bool, \"allow_downgrade\"?: bool, \"manifest_url\"?: string}}: {e}"),
                )
                .into_response();
            }
        }
    };
    let manifest_url = match manifest_override(&s, &p, "apply", b.manifest_url) {
        Ok(u) => u,
        Err(refused) => return refused.into_response(),
    };
    let mut opts = match options(&s, manifest_url) {
        Ok(Some(o)) => o,
        Ok(None) => return not_configured(),
        Err(e) => return key_error(&e),
    };
    opts.allow_downgrade = b.allow_downgrade;
    let app = opts.app;
    match host::install(opts, b.dry_run).await {
        Ok(outcome) => {
            let mut out = serde_json::to_value(&outcome).unwrap_or_default();
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
                out["restart_needed"] = true.into();
            }
            Json(out).into_response()
        }
        Err(e) => {
            tracing::warn!("{app} update refused: {e}");
            failure(&e)
        }
    }
}

/// `POST /admin/api/update/rollback`: puts back the binary the last install
/// replaced.
pub async fn rollback(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
) -> Response {
    let h = s.update_host;
    match host::rollback(h, data_dir(&s)).await {
        Ok(r) => {
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
            let mut out = serde_json::to_value(&r).unwrap_or_default();
            out["restart_needed"] = true.into();
            Json(out).into_response()
        }
        Err(e) => failure(&e),
    }
}

fn failure(e: &UpdateError) -> Response {
    let code = match e {
        UpdateError::PackageManaged { .. } => "package_managed",
        UpdateError::NoPrevious { .. } => "no_previous",
        _ => "update_failed",
    };
    ApiError::bad_request(code, format!("nothing was changed: {e}")).into_response()
}
