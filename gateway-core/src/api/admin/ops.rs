//! Status, audit, providers (with probes), keys and local-server detection.
//! Secrets are write-only: reported as present or absent, never returned.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use super::Principal;
use crate::api::ApiError;
use crate::pipeline::{self, Answer, Inbound, Via};
use crate::routing::{detect_local as detect, probe_provider};
use crate::secrets::{KeyIndex, SecretRef};
use crate::server::AppState;
use crate::telemetry::Origin;
use crate::vocab::ErrorClass;

pub async fn status(State(s): State<Arc<AppState>>) -> Response {
    let rt = s.runtime.load();
    let live = s.lifecycle.live_version();
    let health: Vec<_> = s
        .health
        .snapshot(tokio::time::Instant::now())
        .into_iter()
        .map(|(provider, model, h)| serde_json::json!({ "provider": provider, "model": model, "health": h }))
        .collect();
    Json(serde_json::json!({
        "version": crate::VERSION,
        "paused": s.paused.load(std::sync::atomic::Ordering::SeqCst),
        "listen": s.listen.to_string(),
        "endpoint": format!("http://{}/v1", s.listen),
        "uptime_s": s.started.elapsed().as_secs(),
        "config_version": live.id,
        "config_path": s.lifecycle.path(),
        "config_file_error": s.lifecycle.file_error(),
        "active_profile": rt.config.active_profile,
        "profiles": rt.config.profiles,
        "providers": rt.providers.len(),
        "routes": rt.routes.len(),
        "admin_token_storage": s.admin_tokens.storage,
        "targets": health,
        "telemetry": {
            "dropped_events": s.telemetry_hub.dropped_events(),
            "queue_depth": s.telemetry_hub.queue_depth(),
        },
    }))
    .into_response()
}

#[derive(Deserialize)]
pub struct Page {
    limit: Option<u32>,
    before: Option<i64>,
}

pub async fn audit(State(s): State<Arc<AppState>>, Query(q): Query<Page>) -> Response {
    match s
        .lifecycle
        .store()
        .audit_log(q.limit.unwrap_or(100).min(1000), q.before)
    {
        Ok(a) => Json(serde_json::json!({ "entries": a })).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

pub async fn providers(State(s): State<Arc<AppState>>) -> Response {
    let rt = s.runtime.load();
    let now = tokio::time::Instant::now();
    let snap = s.health.snapshot(now);
    let list: Vec<_> = rt
        .providers
        .iter()
        .map(|p| {
            let targets: Vec<_> = snap
                .iter()
                .filter(|(name, _, _)| *name == p.spec.name)
                .map(|(_, model, h)| serde_json::json!({ "model": model, "health": h }))
                .collect();
            serde_json::json!({
                "name": p.spec.name,
                "kind": p.spec.kind,
                "base_url": p.spec.base_url.as_str(),
                "api_key_ref": p.spec.api_key.as_ref().map(ToString::to_string),
                "key": match (&p.spec.api_key, &p.key_error) {
                    (None, _) => "none",
                    (Some(_), None) => "present",
                    (Some(_), Some(_)) => "missing",
                },
                "key_error": p.key_error,
                "timeout_s": p.spec.timeout.as_secs(),
                "rpm": p.spec.rpm,
                "tpm": p.spec.tpm,
                "targets": targets,
            })
        })
        .collect();
    Json(serde_json::json!({ "providers": list })).into_response()
}

pub async fn probe(State(s): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let rt = s.runtime.load_full();
    let Some(i) = rt.provider_index(&name) else {
        return ApiError::not_found(format!("no provider named {name:?}")).into_response();
    };
    Json(probe_provider(&s.client(), &rt.providers[i]).await).into_response()
}

pub async fn detect_local(State(s): State<Arc<AppState>>) -> Response {
    Json(serde_json::json!({ "servers": detect(&s.client()).await })).into_response()
}

fn key_index(s: &AppState) -> Option<KeyIndex> {
    s.data_dir.as_deref().map(KeyIndex::new)
}

pub async fn list_keys(State(s): State<Arc<AppState>>) -> Response {
    let rt = s.runtime.load();
    // Names set through aigw, plus every keyring ref the config uses.
    let mut names: Vec<String> = key_index(&s).map(|i| i.names()).unwrap_or_default();
    for p in &rt.config.providers {
        if let Some(SecretRef::Keyring(n)) = &p.api_key
            && !names.contains(n)
        {
            names.push(n.clone());
        }
    }
    names.sort();
    let keys = tokio::task::spawn_blocking(move || {
        names
            .into_iter()
            .map(|n| {
                let present = crate::secrets::keychain_get(&n).is_ok();
                serde_json::json!({ "name": n, "present": present, "ref": format!("keyring:{n}") })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    Json(serde_json::json!({ "keys": keys })).into_response()
}

#[derive(Deserialize)]
pub struct SetKey {
    secret: String,
}

pub async fn set_key(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    body: Option<Json<SetKey>>,
) -> Response {
    let Some(Json(b)) = body else {
        return ApiError::bad_request("invalid_json", "send {\"secret\": \"…\"}").into_response();
    };
    if b.secret.trim().is_empty() {
        return ApiError::bad_request("empty_secret", "the secret is empty").into_response();
    }
    let Some(index) = key_index(&s) else {
        return ApiError::bad_request("no_data_dir", "this gateway runs without a data dir")
            .into_response();
    };
    let n = name.clone();
    let result = tokio::task::spawn_blocking(move || index.set(&n, b.secret.trim())).await;
    match result {
        Ok(Ok(())) => {
            let _ = s.lifecycle.store().audit(
                &p.actor,
                "key_set",
                None,
                &serde_json::json!({ "name": name }),
            );
            reload_keys(&s);
            Json(serde_json::json!({ "name": name, "present": true, "ref": format!("keyring:{name}") }))
                .into_response()
        }
        Ok(Err(e)) => ApiError::bad_request("keychain_error", e.to_string()).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

pub async fn delete_key(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Response {
    let Some(index) = key_index(&s) else {
        return ApiError::bad_request("no_data_dir", "this gateway runs without a data dir")
            .into_response();
    };
    let n = name.clone();
    match tokio::task::spawn_blocking(move || index.remove(&n)).await {
        Ok(Ok(true)) => {
            let _ = s.lifecycle.store().audit(
                &p.actor,
                "key_delete",
                None,
                &serde_json::json!({ "name": name }),
            );
            reload_keys(&s);
            Json(serde_json::json!({ "name": name, "present": false })).into_response()
        }
        Ok(Ok(false)) => ApiError::not_found(format!("no key named {name:?}")).into_response(),
        Ok(Err(e)) => ApiError::bad_request("keychain_error", e.to_string()).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// Keys are resolved when a runtime is built: rebuild it so a new key is
/// used at once (same config, same version).
fn reload_keys(s: &Arc<AppState>) {
    let config = (*s.runtime.load().config).clone();
    s.apply(config);
}

#[derive(Deserialize)]
pub struct PauseBody {
    paused: bool,
}

/// Pause: client requests get 503 `gateway_paused` until resumed.
pub async fn pause(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Option<Json<PauseBody>>,
) -> Response {
    let Some(Json(b)) = body else {
        return ApiError::bad_request("invalid_json", "send {\"paused\": true|false}")
            .into_response();
    };
    s.paused
        .store(b.paused, std::sync::atomic::Ordering::SeqCst);
    let action = if b.paused { "pause" } else { "resume" };
    let _ = s
        .lifecycle
        .store()
        .audit(&p.actor, action, None, &serde_json::json!({}));
    tracing::info!("gateway {action}d by {}", p.actor);
    Json(serde_json::json!({ "paused": b.paused })).into_response()
}

#[derive(Deserialize)]
pub struct FallbackTestBody {
    model: String,
}

/// Sends a tiny real request through the route with its preferred target
/// forced to fail, and reports which target served and how. Logged as a
/// fallback test, never as client traffic.
pub async fn fallback_test(
    State(s): State<Arc<AppState>>,
    body: Option<Json<FallbackTestBody>>,
) -> Result<Response, ApiError> {
    let Json(b) =
        body.ok_or_else(|| ApiError::bad_request("invalid_json", "send {\"model\": \"…\"}"))?;
    let payload = serde_json::json!({
        "model": b.model,
        "messages": [{ "role": "user", "content": "aigw fallback test: reply with OK" }],
        "max_tokens": 8,
    });
    let request_id = format!("fbt_{}", uuid::Uuid::now_v7().simple());
    let req = crate::routing::ProxyRequest::new(
        crate::vocab::Endpoint::ChatCompletions,
        bytes::Bytes::from(payload.to_string()),
        request_id.clone(),
        "fallback-test".into(),
        Default::default(),
    )
    .map_err(|e| ApiError::bad_request("invalid_model", e.to_string()))?;
    let inbound = Inbound {
        req,
        origin: Origin::FallbackTest,
        received: tokio::time::Instant::now(),
    };
    let rt = s.runtime.load_full();
    let h = pipeline::handle(&s.upstreams(), &rt, inbound, Via::RouteFirstFails).await;
    let mut out = serde_json::json!({
        "request_id": request_id,
        "status": h.event.status,
        "attempts": h.event.attempts,
    });
    if let Some(t) = &h.served {
        out["provider"] = t.provider.clone().into();
        out["model"] = t.model.clone().into();
        out["route_mode"] = t.mode.as_str().into();
    }
    match h.answer {
        Answer::Refused(r) if r.class == ErrorClass::ModelNotFound => return Err(r.into()),
        _ if h.failure.is_some() => out["error"] = h.failure.clone().into(),
        Answer::Full { body, .. } => {
            out["body"] = String::from_utf8_lossy(&body[..body.len().min(2000)]).into();
        }
        Answer::Stream { .. } | Answer::Refused(_) => out["body"] = "".into(),
    }
    s.telemetry.record(h.event);
    Ok(Json(out).into_response())
}
