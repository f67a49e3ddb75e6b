//! The admin API under `/admin/api/` (JSON). Every request needs a role:
//! a bearer token (`admin` or `viewer`) or a signed session cookie from
//! `POST /admin/api/login`. Viewers read; writes need `admin`. No CORS here,
//! and the guard in front refuses cross-origin browser writes.
//!
//! - `session`: the signed `HttpOnly; SameSite=Strict` cookie.
//! - `config`: validate, diff, publish, history, versions, rollback, profile.
//! - `ops`: status, audit, providers and probes, keys, local server detection.
//! - `tools`: replay and the synthetic model benchmark.
//! - `verify`: verification runs (probe suite, baselines, verdicts).
//! - `update`: check, install and roll back signed releases.
//! - `clients`: "Connect tools" (list, preview, connect, disconnect).
//! - `diagnostics`: the diagnostics bundle download (admin only).
//! - `vkeys`: virtual client keys (list, create, revoke, rotate).
//! - telemetry queries (`crate::api::telemetry`) are mounted here too.

#[cfg(test)]
mod bindings;
mod clients;
mod config;
mod diagnostics;
mod ops;
mod session;
mod tools;
mod update;
mod verify;
mod vkeys;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http::{Method, header};

use super::ApiError;
use super::body::admin_bodies as bodies;
use crate::secrets::admin::Role;
use crate::state::AppState;

pub use session::Sessions;

/// Who is calling, set by [`auth`] for the handlers.
#[derive(Debug, Clone)]
pub struct Principal {
    pub role: Role,
    /// For the audit log: `admin-token`, `viewer-token`, `session:admin`…
    pub actor: String,
}

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/status", get(ops::status))
        .route("/audit", get(ops::audit))
        .route("/providers", get(ops::providers))
        .route("/providers/{name}/probe", post(ops::probe))
        .route("/detect-local", get(ops::detect_local))
        .route("/keys", get(ops::list_keys))
        .route("/keys/{name}", put(ops::set_key).delete(ops::delete_key))
        .route("/keys/client", get(vkeys::list).post(vkeys::create))
        .route("/keys/client/{id}/revoke", post(vkeys::revoke))
        .route("/keys/client/{id}/rotate", post(vkeys::rotate))
        .route("/config", get(config::get_config))
        .route("/config/validate", post(config::validate))
        .route("/config/diff", post(config::diff))
        .route("/config/publish", post(config::publish))
        .route("/config/history", get(config::history))
        .route("/config/versions/{id}", get(config::version))
        .route("/config/rollback", post(config::rollback))
        .route("/config/profile", post(config::profile))
        .route("/config/draft", post(config::draft))
        .route("/routes", get(config::routes))
        .route("/pause", post(ops::pause))
        .route("/diagnostics", get(diagnostics::download))
        .route("/fallback-test", post(ops::fallback_test))
        .route("/replay", post(tools::replay))
        .route("/update/check", get(update::check))
        .route("/update/apply", post(update::apply))
        .route("/update/rollback", post(update::rollback))
        .route("/bench/estimate", post(tools::estimate))
        .route("/bench/runs", post(tools::start).get(tools::list))
        .route("/bench/runs/{id}", get(tools::get))
        .route("/verify/suite", get(verify::suite))
        .route("/verify/estimate", post(verify::estimate))
        .route(
            "/verify/baselines",
            post(verify::record_baseline).get(verify::baselines),
        )
        .route("/verify/runs", post(verify::start).get(verify::list))
        .route("/verify/runs/{id}", get(verify::get))
        .route("/clients", get(clients::list))
        .route("/clients/{name}/preview", post(clients::preview))
        .route("/clients/{name}/connect", post(clients::connect))
        .route("/clients/{name}/disconnect", post(clients::disconnect))
        .route("/session", get(session::whoami))
        .route("/logout", post(session::logout))
        .merge(crate::api::telemetry::routes())
        // bodies are read once the caller is known (413/408 as JSON)
        .layer(axum::middleware::from_fn_with_state(state.clone(), bodies))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        // login is the one route that needs no role
        .route(
            "/login",
            post(session::login).layer(axum::middleware::from_fn_with_state(state, bodies)),
        )
}

async fn auth(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let principal = if let Some(tok) = bearer {
        state
            .admin_tokens
            .identify(tok.trim())
            .map(|(role, name)| Principal {
                role,
                actor: name.unwrap_or_else(|| format!("{}-token", role.as_str())),
            })
    } else {
        session::from_cookie(&state, headers)
    };
    let Some(p) = principal else {
        return ApiError::unauthorized_admin().into_response();
    };
    let write = !matches!(*req.method(), Method::GET | Method::HEAD);
    if write && p.role != Role::Admin && req.uri().path() != "/logout" {
        return ApiError::forbidden(
            "admin_role_required",
            "this action needs the admin role; viewers read only",
        )
        .into_response();
    }
    req.extensions_mut().insert(p);
    // every audit row this request writes carries the caller's address
    let peer = super::peer_of(req.extensions());
    crate::store::chain::with_peer(peer, next.run(req)).await
}
