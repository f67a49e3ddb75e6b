//! Browser sessions: after `POST /admin/api/login {"token": …}` the browser
//! holds `aigw_session=ROLE.EXPIRY.HMAC` — `HttpOnly`, `SameSite=Strict`,
//! signed with a key derived from the admin token (rotating the token ends
//! every session). The token itself never goes in a URL or a cookie.
//! Failed logins are limited per peer address (`limits::login`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, header};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Principal;
use crate::api::{ApiError, PeerAddr};
use crate::secrets::admin::Role;
use crate::state::AppState;
use crate::store::now_ms;

const COOKIE: &str = "aigw_session";
const TTL_S: i64 = 12 * 3600;

fn key(state: &AppState) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"aigw-session-v1\0");
    h.update(state.admin_tokens.admin.expose().as_bytes());
    h.finalize().to_vec()
}

/// HMAC-SHA256 of `payload` (HMAC takes keys of any length, so `None`
/// never happens in practice; callers treat it as "no valid session").
fn sign(state: &AppState, payload: &str) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(state)).ok()?;
    mac.update(payload.as_bytes());
    Some(hex::encode(mac.finalize().into_bytes()))
}

/// The role of a valid, unexpired session cookie.
pub fn from_cookie(state: &AppState, headers: &HeaderMap) -> Option<Role> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("aigw_session="))?;
    let (payload, sig) = value.rsplit_once('.')?;
    let (role, exp) = payload.split_once('.')?;
    let expected = sign(state, payload)?;
    let ok = expected.len() == sig.len()
        && expected
            .bytes()
            .zip(sig.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0;
    if !ok || exp.parse::<i64>().ok()? < now_ms() / 1000 {
        return None;
    }
    match role {
        "admin" => Some(Role::Admin),
        "viewer" => Some(Role::Viewer),
        _ => None,
    }
}

#[derive(serde::Deserialize)]
pub struct Login {
    token: String,
}

/// `POST /login`: the role the session cookie carries.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct LoggedIn {
    pub role: Role,
}

/// `GET /session`: who the caller is.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct Session {
    pub role: Role,
    /// `admin-token`, `viewer-token`, `session:admin`…
    pub actor: String,
}

/// `POST /logout`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct LoggedOut {
    pub ok: bool,
}

pub async fn login(
    State(state): State<Arc<AppState>>,
    PeerAddr(peer): PeerAddr,
    body: Option<Json<Login>>,
) -> Result<Response, ApiError> {
    let (max, window) = {
        let rt = state.runtime.load();
        (
            rt.config.limits.login_max_failures,
            rt.config.limits.login_window,
        )
    };
    if let Err(wait) = state.logins.check(&peer, max, window) {
        return Err(ApiError::rate_limited(
            "rate_limit_exceeded",
            format!(
                "too many failed logins from {peer}: {max} within {} s (limits.login_max_failures, limits.login_window_s); try again later",
                window.as_secs()
            ),
            wait,
        ));
    }
    let Json(l) =
        body.ok_or_else(|| ApiError::bad_request("invalid_json", "send {\"token\": \"…\"}"))?;
    let Some(role) = state.admin_tokens.role_of(l.token.trim()) else {
        // One audit row per peer and window, counting its failures.
        let f = state.logins.failed(&peer, window);
        let detail = serde_json::json!({
            "peer": peer,
            "failures": f.count,
            "window_s": window.as_secs(),
        });
        let store = state.lifecycle.store();
        if let Ok(row) = store.audit_counted(f.audit_row, "unknown", "login_failed", &detail)
            && f.audit_row != Some(row)
        {
            state.logins.set_audit_row(&peer, row);
        }
        return Err(ApiError::unauthorized_admin());
    };
    state.logins.succeeded(&peer);
    let payload = format!("{}.{}", role.as_str(), now_ms() / 1000 + TTL_S);
    let sig = sign(&state, &payload).ok_or_else(|| ApiError::internal("cannot sign a session"))?;
    let cookie =
        format!("{COOKIE}={payload}.{sig}; Path=/; HttpOnly; SameSite=Strict; Max-Age={TTL_S}");
    let _ = state
        .lifecycle
        .store()
        .audit(role.as_str(), "login", None, &serde_json::json!({}));
    let mut resp = Json(LoggedIn { role }).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

pub async fn logout() -> impl IntoResponse {
    let expired =
        HeaderValue::from_static("aigw_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (
        [(header::SET_COOKIE, expired)],
        Json(LoggedOut { ok: true }),
    )
}

pub async fn whoami(axum::Extension(p): axum::Extension<Principal>) -> Json<Session> {
    Json(Session {
        role: p.role,
        actor: p.actor,
    })
}
