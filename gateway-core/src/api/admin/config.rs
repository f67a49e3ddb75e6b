//! Config lifecycle over HTTP: validate → diff → publish → history →
//! rollback, and the routing-profile switch.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::StatusCode;
use serde::Deserialize;

use super::Principal;
use crate::api::ApiError;
use crate::lifecycle::{Change, LifecycleError};
use crate::server::AppState;

#[derive(Deserialize)]
pub struct Candidate {
    toml: String,
}

#[derive(Deserialize)]
pub struct PublishBody {
    toml: String,
    #[serde(default)]
    message: String,
    /// `ui`, `cli` or `api` (default).
    #[serde(default)]
    source: Option<String>,
    /// Refuse when the live version is no longer this one.
    #[serde(default)]
    base_version: Option<i64>,
}

#[derive(Deserialize)]
pub struct RollbackBody {
    version: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
pub struct ProfileBody {
    /// `null` switches back to the top-level routes.
    profile: Option<String>,
}

#[derive(Deserialize)]
pub struct Page {
    limit: Option<u32>,
    before: Option<i64>,
}

fn bad_body() -> Response {
    ApiError::bad_request(
        "invalid_json",
        "request body must be JSON with the documented fields",
    )
    .into_response()
}

pub(super) fn lifecycle_error(e: LifecycleError) -> Response {
    match e {
        LifecycleError::Invalid(v) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({
                "error": {
                    "message": "config is invalid; nothing was applied",
                    "type": "invalid_request_error",
                    "code": "invalid_config",
                },
                "validation": v,
            })),
        )
            .into_response(),
        LifecycleError::Conflict { .. } => {
            ApiError::conflict("version_conflict", e.to_string()).into_response()
        }
        LifecycleError::NoSuchVersion(_) => ApiError::not_found(e.to_string()).into_response(),
        LifecycleError::Store(_) | LifecycleError::Write { .. } | LifecycleError::Record { .. } => {
            ApiError::internal(e.to_string()).into_response()
        }
    }
}

pub async fn get_config(State(s): State<Arc<AppState>>) -> Response {
    let v = s.lifecycle.live_version();
    let rt = s.runtime.load();
    Json(serde_json::json!({
        "version": v,
        "path": s.lifecycle.path(),
        "active_profile": rt.config.active_profile,
        "profiles": rt.config.profiles,
        "file_error": s.lifecycle.file_error(),
    }))
    .into_response()
}

pub async fn validate(State(s): State<Arc<AppState>>, body: Option<Json<Candidate>>) -> Response {
    let Some(Json(c)) = body else {
        return bad_body();
    };
    Json(s.lifecycle.validate(&c.toml)).into_response()
}

pub async fn diff(State(s): State<Arc<AppState>>, body: Option<Json<Candidate>>) -> Response {
    let Some(Json(c)) = body else {
        return bad_body();
    };
    Json(s.lifecycle.preview(&c.toml)).into_response()
}

pub async fn publish(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Option<Json<PublishBody>>,
) -> Response {
    let Some(Json(b)) = body else {
        return bad_body();
    };
    let source = match b.source.as_deref() {
        Some(src @ ("ui" | "cli" | "api")) => src,
        None => "api",
        Some(other) => {
            return ApiError::bad_request(
                "invalid_source",
                format!("source {other:?}: use ui, cli or api"),
            )
            .into_response();
        }
    };
    let change = Change {
        toml: &b.toml,
        source,
        actor: &p.actor,
        message: &b.message,
        base_version: b.base_version,
    };
    match s.lifecycle.publish(&|c| s.apply(c), change).await {
        Ok(p) => Json(p).into_response(),
        Err(e) => lifecycle_error(e),
    }
}

pub async fn history(State(s): State<Arc<AppState>>, Query(q): Query<Page>) -> Response {
    match s
        .lifecycle
        .store()
        .history(q.limit.unwrap_or(50).min(500), q.before)
    {
        Ok(v) => Json(serde_json::json!({
            "live_version": s.lifecycle.live_version().id,
            "versions": v,
        }))
        .into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

pub async fn version(State(s): State<Arc<AppState>>, Path(id): Path<i64>) -> Response {
    match s.lifecycle.store().get(id) {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => ApiError::not_found(format!("no config version {id}")).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

pub async fn rollback(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Option<Json<RollbackBody>>,
) -> Response {
    let Some(Json(b)) = body else {
        return bad_body();
    };
    match s
        .lifecycle
        .rollback(&|c| s.apply(c), b.version, &p.actor, &b.message)
        .await
    {
        Ok(p) => Json(p).into_response(),
        Err(e) => lifecycle_error(e),
    }
}

pub async fn profile(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Option<Json<ProfileBody>>,
) -> Response {
    let Some(Json(b)) = body else {
        return bad_body();
    };
    match s
        .lifecycle
        .switch_profile(&|c| s.apply(c), b.profile.as_deref(), &p.actor)
        .await
    {
        Ok(p) => Json(p).into_response(),
        Err(e) => lifecycle_error(e),
    }
}

#[derive(Deserialize)]
pub struct DraftBody {
    ops: Vec<crate::lifecycle::draft::Op>,
    /// Edit this text instead of the live config (chained edits in the UI).
    #[serde(default)]
    base_toml: Option<String>,
}

/// Structured edits → a candidate TOML and its preview. Publishes nothing.
pub async fn draft(State(s): State<Arc<AppState>>, body: Option<Json<DraftBody>>) -> Response {
    let Some(Json(b)) = body else {
        return bad_body();
    };
    let base = b
        .base_toml
        .unwrap_or_else(|| s.lifecycle.live_version().toml.unwrap_or_default());
    match crate::lifecycle::draft::apply(&base, &b.ops) {
        Ok(toml) => {
            let preview = s.lifecycle.preview(&toml);
            Json(serde_json::json!({ "toml": toml, "preview": preview })).into_response()
        }
        Err(e) => ApiError::bad_request("invalid_draft", e.to_string()).into_response(),
    }
}

/// The live routes (the active profile's, when one is set), as JSON.
pub async fn routes(State(s): State<Arc<AppState>>) -> Response {
    let rt = s.runtime.load();
    let routes: Vec<_> = rt
        .config
        .routes
        .iter()
        .map(|r| {
            serde_json::json!({
                "model": r.model,
                "strategy": r.strategy,
                "cooldown_s": r.cooldown.as_secs(),
                "failure_threshold": r.failure_threshold,
                "rate_limit_threshold": r.rate_limit_threshold,
                "retries": r.retries,
                "targets": r.targets.iter().map(|t| serde_json::json!({
                    "provider": t.provider,
                    "model": t.model,
                    "weight": t.weight,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(serde_json::json!({
        "routes": routes,
        "profiles": rt.config.profiles,
        "active_profile": rt.config.active_profile,
    }))
    .into_response()
}
