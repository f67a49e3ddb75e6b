//! The probes people point at a gateway: `GET /health` (alive: the process
//! answers), `GET /ready` (200 when a config is loaded, the gateway is not
//! paused and at least one provider is usable; 503 otherwise) beside the
//! older `/healthz`. All three take `?detail=true` for per-provider state
//! (names, key presence, circuit state — never a key, a header value or an
//! upstream error text), answered only to a loopback peer or with an admin
//! token; on a listener that is not loopback-only (0.0.0.0, `::`, a LAN
//! address) only with a token, whoever asks (see [`operator_only`], which
//! `/metrics` shares). Plain probes stay open for load balancers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::{ApiError, PeerAddr};
use crate::secrets::admin::Role;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct DetailQuery {
    detail: Option<String>,
}

/// One model target of a provider in `?detail=true`.
#[derive(Serialize)]
pub struct TargetState {
    pub model: String,
    /// The circuit is open: requests skip this target until the cooldown ends.
    pub open: bool,
    pub consecutive_failures: u32,
    pub cooldown_remaining_ms: Option<u64>,
}

/// One provider in `?detail=true`.
#[derive(Serialize)]
pub struct ProviderState {
    pub name: String,
    /// Its key resolves (or it needs none) and not every target's circuit is open.
    pub usable: bool,
    /// `none` (keyless), `present` or `missing`.
    pub key: &'static str,
    pub targets: Vec<TargetState>,
}

/// The answer of `/health` and `/ready`.
#[derive(Serialize)]
pub struct HealthReport {
    /// `ok`, or for `/ready` `not_ready`.
    pub status: &'static str,
    pub version: &'static str,
    /// Why `/ready` says 503.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_version: Option<i64>,
    /// Set when the config file is invalid and the last good version serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_file_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<ProviderState>>,
    /// Team mode (`?detail=true`): shared engines that are down.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Per-provider state of the live runtime.
pub(crate) fn provider_states(s: &AppState) -> Vec<ProviderState> {
    let rt = s.runtime.load();
    let snap = s.health.snapshot(tokio::time::Instant::now());
    rt.providers
        .iter()
        .map(|p| {
            let targets: Vec<TargetState> = snap
                .iter()
                .filter(|(name, _, _)| *name == p.spec.name)
                .map(|(_, model, h)| TargetState {
                    model: model.clone(),
                    open: h.open,
                    consecutive_failures: h.consecutive_failures,
                    cooldown_remaining_ms: h.cooldown_remaining_ms,
                })
                .collect();
            let key = match (p.spec.api_keys.is_empty(), &p.key_error) {
                (true, None) => "none",
                (false, None) => "present",
                (_, Some(_)) => "missing",
            };
            let usable = p.spec.enabled
                && key != "missing"
                && (targets.is_empty() || targets.iter().any(|t| !t.open));
            ProviderState {
                name: p.spec.name.clone(),
                usable,
                key,
                targets,
            }
        })
        .collect()
}

/// Whether an operator view (`?detail=true`, `/metrics`) may be answered:
/// with an admin-role token (`Authorization: Bearer`: the admin token or a
/// named one; a viewer token is not enough); without one only when the
/// listener is loopback-only and the peer is loopback (or an in-process call
/// without a socket). Off loopback every peer needs the token — behind a
/// reverse proxy on the same host every peer looks like loopback.
pub(crate) fn operator_only(s: &AppState, peer: &str, headers: &HeaderMap) -> bool {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| {
            s.admin_tokens
                .identify(t.trim())
                .is_some_and(|(role, _)| role == Role::Admin)
        });
    if token {
        return true;
    }
    let peer_loopback = peer == "local"
        || peer
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    peer_loopback && s.listen.ip().is_loopback()
}

fn wants_detail(q: &DetailQuery) -> Result<bool, ApiError> {
    match q.detail.as_deref() {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1" | "") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "invalid_detail",
            format!("detail={other:?}: use detail=true or detail=false"),
        )),
    }
}

async fn report(
    s: Arc<AppState>,
    peer: PeerAddr,
    headers: HeaderMap,
    q: DetailQuery,
    ready: bool,
) -> Response {
    let detail = match wants_detail(&q) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    if detail && !operator_only(&s, &peer.0, &headers) {
        let why = if s.listen.ip().is_loopback() {
            "?detail=true is answered only on loopback or with the admin token (Authorization: Bearer …)"
        } else {
            "?detail=true needs the admin token (Authorization: Bearer …) when the gateway listens beyond loopback"
        };
        return ApiError::forbidden("detail_forbidden", why).into_response();
    }
    let providers = provider_states(&s);
    let mut reason = None;
    if ready {
        let paused = s.paused.load(std::sync::atomic::Ordering::SeqCst);
        if paused {
            reason = Some("the gateway is paused".to_string());
        } else if providers.is_empty() {
            reason = Some("no providers are configured".to_string());
        } else if !providers.iter().any(|p| p.usable) {
            reason = Some(
                "no provider is usable (every key is missing or every target's circuit is open)"
                    .to_string(),
            );
        }
    }
    let code = if reason.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = HealthReport {
        status: if reason.is_some() { "not_ready" } else { "ok" },
        version: crate::VERSION,
        reason,
        config_version: detail.then(|| s.lifecycle.live_version().id),
        config_file_error: if detail {
            s.lifecycle.file_error()
        } else {
            None
        },
        providers: detail.then_some(providers),
        warnings: match (&s.cluster, detail) {
            (Some(c), true) => c.warnings(),
            _ => Vec::new(),
        },
    };
    (code, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `GET /health`: the process answers (liveness).
pub async fn health(
    State(s): State<Arc<AppState>>,
    peer: PeerAddr,
    headers: HeaderMap,
    Query(q): Query<DetailQuery>,
) -> Response {
    report(s, peer, headers, q, false).await
}

/// `GET /ready`: 200 when requests can be served, 503 with the reason.
pub async fn ready(
    State(s): State<Arc<AppState>>,
    peer: PeerAddr,
    headers: HeaderMap,
    Query(q): Query<DetailQuery>,
) -> Response {
    report(s, peer, headers, q, true).await
}
