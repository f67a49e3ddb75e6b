//! Browser sessions: after `POST /admin/api/login {"token": …}` the browser
//! holds `aigw_session=ID` — `HttpOnly`, `SameSite=Strict` — where ID is 256
//! random bits naming a session kept server-side (in memory, at most
//! [`MAX_SESSIONS`], 12 h each): `POST /logout` deletes it, so a captured
//! cookie stops working at once; a restart ends every session. The token
//! itself never goes in a URL or a cookie. Failed logins are limited per
//! peer address (`limits::login`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Principal;
use crate::api::{ApiError, PeerAddr};
use crate::secrets::admin::Role;
use crate::state::AppState;
use crate::store::now_ms;
use crate::sync::LockExt;

const COOKIE: &str = "aigw_session";
const TTL_S: i64 = 12 * 3600;
/// Sessions open at once; past that the one expiring first is dropped.
pub const MAX_SESSIONS: usize = 1000;

/// The server-side sessions, by the SHA-256 of their cookie value (the
/// value itself is not kept).
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Open>>,
}

#[derive(Debug, Clone)]
struct Open {
    role: Role,
    /// The audit actor of whoever logged in.
    actor: String,
    expires_s: i64,
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// A new session; returns the cookie value.
    fn open(&self, role: Role, actor: String) -> String {
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        let id = hex::encode(b);
        let now = now_ms() / 1000;
        let mut map = self.map.lock_or_recover();
        map.retain(|_, s| s.expires_s >= now);
        if map.len() >= MAX_SESSIONS
            && let Some(k) = map.iter().min_by_key(|(_, s)| s.expires_s).map(|(k, _)| *k)
        {
            map.remove(&k);
        }
        map.insert(
            digest(&id),
            Open {
                role,
                actor,
                expires_s: now + TTL_S,
            },
        );
        id
    }

    fn get(&self, id: &str) -> Option<Open> {
        let mut map = self.map.lock_or_recover();
        let k = digest(id);
        match map.get(&k) {
            Some(s) if s.expires_s >= now_ms() / 1000 => Some(s.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    fn close(&self, id: &str) -> bool {
        self.map.lock_or_recover().remove(&digest(id)).is_some()
    }

    /// Sessions open now (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.map.lock_or_recover().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("aigw_session="))
}

/// The caller of a valid, unexpired, not logged-out session cookie.
pub fn from_cookie(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let s = state.sessions.get(cookie_value(headers)?)?;
    Some(Principal {
        role: s.role,
        actor: s.actor,
    })
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
    let Some((role, name)) = state.admin_tokens.identify(l.token.trim()) else {
        // One audit row per peer and window, counting its failures.
        let f = state.logins.failed(&peer, window);
        let detail = serde_json::json!({
            "peer": peer,
            "failures": f.count,
            "window_s": window.as_secs(),
        });
        let store = state.lifecycle.store();
        if let Ok(row) = store.audit_counted(f.audit_row, &peer, "unknown", "login_failed", &detail)
            && f.audit_row != Some(row)
        {
            state.logins.set_audit_row(&peer, row);
        }
        return Err(ApiError::unauthorized_admin());
    };
    state.logins.succeeded(&peer);
    let actor = session_actor(role, name.as_deref());
    let id = state.sessions.open(role, actor.clone());
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={TTL_S}");
    let _ =
        state
            .lifecycle
            .store()
            .audit_from(&peer, &actor, "login", None, &serde_json::json!({}));
    let mut resp = Json(LoggedIn { role }).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// A session's audit actor: the token's name, else `session:ROLE`.
fn session_actor(role: Role, name: Option<&str>) -> String {
    name.map_or_else(|| format!("session:{}", role.as_str()), str::to_string)
}

/// `POST /logout`: ends the session of the cookie sent (a bearer caller
/// has none; it gets `ok` too).
pub async fn logout(
    State(state): State<Arc<AppState>>,
    axum::Extension(p): axum::Extension<Principal>,
    headers: HeaderMap,
) -> impl IntoResponse {
    if let Some(id) = cookie_value(&headers)
        && state.sessions.close(id)
    {
        let _ = state
            .lifecycle
            .store()
            .audit(&p.actor, "logout", None, &serde_json::json!({}));
    }
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
