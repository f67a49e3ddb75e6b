//! Status, audit, providers (with probes), keys and local-server detection.
//! Secrets are write-only: reported as present or absent, never returned.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::Principal;
use crate::api::ApiError;
use crate::config::ProviderKind;
use crate::pipeline::{self, Answer, Inbound, Via};
use crate::routing::health::HealthSnapshot;
use crate::routing::keys::KeySnapshot;
use crate::routing::{LocalServer, ProbeReport, detect_local as detect, probe_provider};
use crate::secrets::admin::TokenStorage;
use crate::secrets::{KeyIndex, SecretRef};
use crate::state::AppState;
use crate::store::AuditEntry;
use crate::telemetry::Origin;
use crate::vocab::{AttemptEvent, ErrorClass, RouteMode};

/// One target's health in `GET /status`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct TargetHealth {
    pub provider: String,
    pub model: String,
    pub health: HealthSnapshot,
}

/// One provider's switch and key pool in `GET /status`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct ProviderState {
    pub name: String,
    /// `enabled = false`: skipped by routing, shown as disabled.
    pub enabled: bool,
    /// Every key cooling (a pool's 429/401/403): the provider is cooling.
    pub cooling: bool,
    /// By reference (`keyring:a`), never by value.
    pub keys: Vec<KeySnapshot>,
}

/// The request log writer's state in `GET /status`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct TelemetryState {
    /// Events the log did not take.
    pub dropped_events: u64,
    /// Events waiting for the writer.
    pub queue_depth: usize,
}

/// `GET /status`: what runs, with which config, and how its targets are.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct Status {
    pub version: &'static str,
    pub paused: bool,
    pub listen: String,
    pub endpoint: String,
    pub uptime_s: u64,
    pub config_version: i64,
    pub config_path: Option<PathBuf>,
    pub config_file_error: Option<String>,
    pub active_profile: Option<String>,
    pub profiles: Vec<String>,
    /// How many providers and routes the live config has.
    pub providers: usize,
    pub routes: usize,
    pub admin_token_storage: TokenStorage,
    pub targets: Vec<TargetHealth>,
    /// Each provider's `enabled` switch and key pool.
    pub provider_states: Vec<ProviderState>,
    pub telemetry: TelemetryState,
    /// Team mode: shared engines that are down (limits are then local).
    pub cluster_warnings: Vec<String>,
}

pub async fn status(State(s): State<Arc<AppState>>) -> Json<Status> {
    let rt = s.runtime.load();
    let live = s.lifecycle.live_version();
    let targets = s
        .health
        .snapshot(tokio::time::Instant::now())
        .into_iter()
        .map(|(provider, model, health)| TargetHealth {
            provider,
            model,
            health,
        })
        .collect();
    Json(Status {
        version: crate::VERSION,
        paused: s.paused.load(std::sync::atomic::Ordering::SeqCst),
        listen: s.listen.to_string(),
        endpoint: format!("http://{}/v1", s.listen),
        uptime_s: s.started.elapsed().as_secs(),
        config_version: live.id,
        config_path: s.lifecycle.path().cloned(),
        config_file_error: s.lifecycle.file_error(),
        active_profile: rt.config.active_profile.clone(),
        profiles: rt.config.profiles.clone(),
        providers: rt.providers.len(),
        routes: rt.routes.len(),
        admin_token_storage: s.admin_tokens.storage.clone(),
        targets,
        provider_states: rt
            .providers
            .iter()
            .map(|p| {
                let now = tokio::time::Instant::now();
                ProviderState {
                    name: p.spec.name.clone(),
                    enabled: p.spec.enabled,
                    cooling: p.is_pool() && p.keys_cooling_until(now).is_some(),
                    keys: p.key_state.snapshot(&p.keys, now),
                }
            })
            .collect(),
        telemetry: TelemetryState {
            dropped_events: s.telemetry_hub.dropped_events(),
            queue_depth: s.telemetry_hub.queue_depth(),
        },
        cluster_warnings: s.cluster.as_ref().map(|c| c.warnings()).unwrap_or_default(),
    })
}

#[derive(Deserialize)]
pub struct Page {
    limit: Option<u32>,
    before: Option<i64>,
}

/// `GET /audit`: a page of the audit log, newest first.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct Audit {
    pub entries: Vec<AuditEntry>,
}

pub async fn audit(
    State(s): State<Arc<AppState>>,
    Query(q): Query<Page>,
) -> Result<Json<Audit>, ApiError> {
    let entries = s
        .lifecycle
        .store()
        .audit_log(q.limit.unwrap_or(100).min(1000), q.before)?;
    Ok(Json(Audit { entries }))
}

/// Whether a provider's key is there: `none` (keyless), `present`, or
/// `missing` (referenced but not found; `key_error` says why).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPresence {
    None,
    Present,
    Missing,
}

/// One model's health under a provider.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct ModelHealth {
    pub model: String,
    pub health: HealthSnapshot,
}

/// One provider in `GET /providers`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct ProviderInfo {
    pub name: String,
    #[cfg_attr(test, ts(type = "string"))]
    pub kind: ProviderKind,
    pub base_url: String,
    /// `keyring:NAME` or `env:VAR`; `null` for a keyless provider.
    pub api_key_ref: Option<String>,
    pub key: KeyPresence,
    pub key_error: Option<String>,
    /// `enabled = false`: routing skips it.
    pub enabled: bool,
    #[cfg_attr(test, ts(type = "\"round_robin\" | \"least_recently_limited\""))]
    pub key_rotation: crate::config::KeyRotation,
    /// The key pool by reference (`api_key` is a pool of one), each with
    /// its presence and cooldown; never a key's value.
    pub keys: Vec<KeySnapshot>,
    pub timeout_s: u64,
    pub rpm: u32,
    pub tpm: u32,
    pub targets: Vec<ModelHealth>,
    /// `kind = "azure"`: `"preview"` or a dated version; absent for the v1 API.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `kind = "azure"`: model → deployment (absent when there are none).
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployments: Option<std::collections::BTreeMap<String, String>>,
}

/// `GET /providers`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct Providers {
    pub providers: Vec<ProviderInfo>,
}

pub async fn providers(State(s): State<Arc<AppState>>) -> Json<Providers> {
    let rt = s.runtime.load();
    let now = tokio::time::Instant::now();
    let snap = s.health.snapshot(now);
    let providers = rt
        .providers
        .iter()
        .map(|p| ProviderInfo {
            name: p.spec.name.clone(),
            kind: p.spec.kind,
            base_url: p.spec.base_url.as_str().to_string(),
            api_key_ref: if p.spec.client_auth {
                Some(crate::config::CLIENT_AUTH.to_string())
            } else {
                p.spec.api_keys.first().map(ToString::to_string)
            },
            key: match (p.spec.api_keys.is_empty(), &p.key_error) {
                (true, _) => KeyPresence::None,
                (false, None) => KeyPresence::Present,
                (false, Some(_)) => KeyPresence::Missing,
            },
            enabled: p.spec.enabled,
            key_rotation: p.spec.key_rotation,
            keys: p.key_state.snapshot(&p.keys, now),
            key_error: p.key_error.clone(),
            timeout_s: p.spec.timeout.as_secs(),
            rpm: p.spec.rpm,
            tpm: p.spec.tpm,
            api_version: p.spec.azure.as_ref().and_then(|a| match &a.api {
                crate::config::AzureApi::V1 => None,
                crate::config::AzureApi::Preview => Some("preview".to_string()),
                crate::config::AzureApi::Dated(v) => Some(v.clone()),
            }),
            deployments: p
                .spec
                .azure
                .as_ref()
                .filter(|a| !a.deployments.is_empty())
                .map(|a| a.deployments.clone()),
            targets: snap
                .iter()
                .filter(|(name, _, _)| *name == p.spec.name)
                .map(|(_, model, h)| ModelHealth {
                    model: model.clone(),
                    health: h.clone(),
                })
                .collect(),
        })
        .collect();
    Json(Providers { providers })
}

pub async fn probe(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<ProbeReport>, ApiError> {
    let rt = s.runtime.load_full();
    let i = rt
        .provider_index(&name)
        .ok_or_else(|| ApiError::not_found(format!("no provider named {name:?}")))?;
    Ok(Json(probe_provider(&s.client(), &rt.providers[i]).await))
}

/// `GET /detect-local`: model servers answering on this machine.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct DetectedServers {
    pub servers: Vec<LocalServer>,
}

pub async fn detect_local(State(s): State<Arc<AppState>>) -> Json<DetectedServers> {
    Json(DetectedServers {
        servers: detect(&s.client()).await,
    })
}

fn key_index(s: &AppState) -> Result<KeyIndex, ApiError> {
    s.data_dir
        .as_deref()
        .map(KeyIndex::new)
        .ok_or_else(|| ApiError::bad_request("no_data_dir", "this gateway runs without a data dir"))
}

/// A key name with its presence (`GET /keys`, `PUT /keys/{name}`).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct KeyInfo {
    pub name: String,
    pub present: bool,
    /// The reference a provider's `api_key` uses: `keyring:NAME`.
    #[serde(rename = "ref")]
    pub reference: String,
}

impl KeyInfo {
    fn new(name: String, present: bool) -> Self {
        let reference = format!("keyring:{name}");
        Self {
            name,
            present,
            reference,
        }
    }
}

/// `GET /keys`.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct Keys {
    pub keys: Vec<KeyInfo>,
}

pub async fn list_keys(State(s): State<Arc<AppState>>) -> Json<Keys> {
    let rt = s.runtime.load();
    // Names set through aigw, plus every keyring ref the config uses.
    let mut names: Vec<String> = key_index(&s).map(|i| i.names()).unwrap_or_default();
    for p in &rt.config.providers {
        let headers = p.headers.iter().filter_map(|(_, v)| match v {
            crate::config::HeaderSource::Secret(r) => Some(r),
            crate::config::HeaderSource::Literal(_) => None,
        });
        for r in p.api_keys.iter().chain(headers) {
            if let SecretRef::Keyring(n) = r
                && !names.contains(n)
            {
                names.push(n.clone());
            }
        }
    }
    names.sort();
    let keys = tokio::task::spawn_blocking(move || {
        names
            .into_iter()
            .map(|n| {
                let present = crate::secrets::keychain_get(&n).is_ok();
                KeyInfo::new(n, present)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    Json(Keys { keys })
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
) -> Result<Json<KeyInfo>, ApiError> {
    let Json(b) =
        body.ok_or_else(|| ApiError::bad_request("invalid_json", "send {\"secret\": \"…\"}"))?;
    if b.secret.trim().is_empty() {
        return Err(ApiError::bad_request("empty_secret", "the secret is empty"));
    }
    let index = key_index(&s)?;
    let n = name.clone();
    tokio::task::spawn_blocking(move || index.set(&n, b.secret.trim()))
        .await?
        .map_err(|e| ApiError::bad_request("keychain_error", e.to_string()))?;
    let _ = s.lifecycle.store().audit(
        &p.actor,
        "key_set",
        None,
        &serde_json::json!({ "name": name }),
    );
    reload_keys(&s);
    Ok(Json(KeyInfo::new(name, true)))
}

/// `DELETE /keys/{name}`: the key is gone.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct KeyDeleted {
    pub name: String,
    pub present: bool,
}

pub async fn delete_key(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<KeyDeleted>, ApiError> {
    let index = key_index(&s)?;
    let n = name.clone();
    let removed = tokio::task::spawn_blocking(move || index.remove(&n))
        .await?
        .map_err(|e| ApiError::bad_request("keychain_error", e.to_string()))?;
    if !removed {
        return Err(ApiError::not_found(format!("no key named {name:?}")));
    }
    let _ = s.lifecycle.store().audit(
        &p.actor,
        "key_delete",
        None,
        &serde_json::json!({ "name": name }),
    );
    reload_keys(&s);
    Ok(Json(KeyDeleted {
        name,
        present: false,
    }))
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

/// `POST /pause`: whether client requests are now refused.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct Paused {
    pub paused: bool,
}

/// Pause: client requests get 503 `gateway_paused` until resumed.
pub async fn pause(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Option<Json<PauseBody>>,
) -> Result<Json<Paused>, ApiError> {
    let Json(b) =
        body.ok_or_else(|| ApiError::bad_request("invalid_json", "send {\"paused\": true|false}"))?;
    s.paused
        .store(b.paused, std::sync::atomic::Ordering::SeqCst);
    let action = if b.paused { "pause" } else { "resume" };
    let _ = s
        .lifecycle
        .store()
        .audit(&p.actor, action, None, &serde_json::json!({}));
    tracing::info!("gateway {action}d by {}", p.actor);
    Ok(Json(Paused { paused: b.paused }))
}

#[derive(Deserialize)]
pub struct FallbackTestBody {
    model: String,
}

/// `POST /fallback-test`: what came of the test request. Served: the target
/// (provider, model, route mode) and the start of its answer (`body`). A
/// relayed upstream failure: its target and `error`, no `body`. Refused
/// (nothing to relay): `error`, and the target only when one was tried.
// Fields in the order the `json!` object this replaced wrote them (sorted
// keys), so the answer's bytes are the same.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct FallbackTestResult {
    pub attempts: Vec<AttemptEvent>,
    /// The start of the answer's body (up to 2000 bytes); `""` for a stream.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Why the request failed.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The forwarded model of the target that served (or failed last).
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub request_id: String,
    /// The route that matched, as written (`claude-*` for `claude-opus-4-8`).
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_mode: Option<RouteMode>,
    pub status: u16,
    /// A `cost` route: its targets in the order a request of this size
    /// takes (the first is the one forced to fail), each with its price.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_order: Option<Vec<CostEstimate>>,
}

/// One target of a `cost` route and what the test request would cost there.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct CostEstimate {
    pub provider: String,
    pub model: String,
    /// USD for the request's estimated tokens; `null`: no known price (tried last).
    pub estimated_usd: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Sends a tiny real request through the route with its preferred target
/// forced to fail, and reports which target served and how. Logged as a
/// fallback test, never as client traffic.
pub async fn fallback_test(
    State(s): State<Arc<AppState>>,
    body: Option<Json<FallbackTestBody>>,
) -> Result<Json<FallbackTestResult>, ApiError> {
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
    let mut inbound = Inbound {
        req,
        origin: Origin::FallbackTest,
        received: tokio::time::Instant::now(),
    };
    let rt = s.runtime.load_full();
    let h = pipeline::handle(&s.upstreams(), &rt, &mut inbound, Via::RouteFirstFails).await;
    let mut out = FallbackTestResult {
        attempts: h.event.attempts.clone(),
        body: None,
        error: None,
        model: None,
        provider: None,
        request_id,
        route: None,
        route_mode: None,
        status: h.event.status,
        cost_order: None,
    };
    if let Ok((route, _)) = crate::routing::resolve(&s.upstreams(), &rt, &b.model).await
        && route.spec.strategy == crate::config::Strategy::Cost
    {
        let tokens = inbound.req.est_io();
        let order = route.order_for(None, tokens);
        out.cost_order = Some(
            order
                .into_iter()
                .map(|i| CostEstimate {
                    provider: route.targets[i].provider.spec.name.clone(),
                    model: route.targets[i].forwarded(&b.model).to_string(),
                    estimated_usd: route.estimated_cost(i, tokens),
                    input_tokens: tokens.0,
                    output_tokens: tokens.1,
                })
                .collect(),
        );
    }
    if let Some(t) = &h.served {
        out.provider = Some(t.provider.clone());
        out.model = Some(t.model.clone());
        out.route_mode = Some(t.mode);
        out.route = t.route.clone();
    }
    match h.answer {
        Answer::Refused(r) if r.class == ErrorClass::ModelNotFound => return Err(r.into()),
        _ if h.failure.is_some() => out.error = h.failure.clone(),
        Answer::Full { body, .. } => {
            out.body = Some(String::from_utf8_lossy(&body[..body.len().min(2000)]).into_owned());
        }
        Answer::Stream { .. } | Answer::Refused(_) => out.body = Some(String::new()),
    }
    s.telemetry.record(h.event);
    Ok(Json(out))
}
