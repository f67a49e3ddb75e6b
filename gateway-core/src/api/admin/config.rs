//! Config lifecycle over HTTP: validate → diff → publish → history →
//! rollback, and the routing-profile switch.

use std::sync::Arc;

use std::path::PathBuf;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::Principal;
use crate::api::ApiError;
use crate::config::Strategy;
use crate::lifecycle::{Change, Preview, Published, Validation};
use crate::state::AppState;
use crate::store::Version;

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

fn bad_body() -> ApiError {
    ApiError::bad_request(
        "invalid_json",
        "request body must be JSON with the documented fields",
    )
}

/// `GET /config`: the live version and where it came from.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct LiveConfig {
    pub version: Version,
    pub path: Option<PathBuf>,
    pub active_profile: Option<String>,
    pub profiles: Vec<String>,
    pub file_error: Option<String>,
}

/// A version as `p` may see it: a viewer gets the config text with every
/// provider header value redacted (they may hold credentials as written).
fn for_principal(mut v: Version, p: &Principal) -> Version {
    if p.role != crate::secrets::admin::Role::Admin {
        v.toml = v.toml.map(|t| crate::lifecycle::redact::header_values(&t));
    }
    v
}

pub async fn get_config(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
) -> Json<LiveConfig> {
    let rt = s.runtime.load();
    Json(LiveConfig {
        version: for_principal(s.lifecycle.live_version(), &p),
        path: s.lifecycle.path().cloned(),
        active_profile: rt.config.active_profile.clone(),
        profiles: rt.config.profiles.clone(),
        file_error: s.lifecycle.file_error(),
    })
}

pub async fn validate(
    State(s): State<Arc<AppState>>,
    body: Option<Json<Candidate>>,
) -> Result<Json<Validation>, ApiError> {
    let Json(c) = body.ok_or_else(bad_body)?;
    Ok(Json(s.lifecycle.validate(&c.toml)))
}

pub async fn diff(
    State(s): State<Arc<AppState>>,
    body: Option<Json<Candidate>>,
) -> Result<Json<Preview>, ApiError> {
    let Json(c) = body.ok_or_else(bad_body)?;
    Ok(Json(s.lifecycle.preview(&c.toml)))
}

pub async fn publish(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Option<Json<PublishBody>>,
) -> Result<Json<Published>, ApiError> {
    let Json(b) = body.ok_or_else(bad_body)?;
    let source = match b.source.as_deref() {
        Some(src @ ("ui" | "cli" | "api")) => src,
        None => "api",
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_source",
                format!("source {other:?}: use ui, cli or api"),
            ));
        }
    };
    let change = Change {
        toml: &b.toml,
        source,
        actor: &p.actor,
        message: &b.message,
        base_version: b.base_version,
    };
    Ok(Json(s.lifecycle.publish(&|c| s.apply(c), change).await?))
}

/// `GET /config/history`: a page of versions, newest first.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct History {
    pub live_version: i64,
    pub versions: Vec<Version>,
}

pub async fn history(
    State(s): State<Arc<AppState>>,
    Query(q): Query<Page>,
) -> Result<Json<History>, ApiError> {
    let versions = s
        .lifecycle
        .store()
        .history(q.limit.unwrap_or(50).min(500), q.before)?;
    Ok(Json(History {
        live_version: s.lifecycle.live_version().id,
        versions,
    }))
}

pub async fn version(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<Version>, ApiError> {
    s.lifecycle
        .store()
        .get(id)?
        .map(|v| Json(for_principal(v, &p)))
        .ok_or_else(|| ApiError::not_found(format!("no config version {id}")))
}

pub async fn rollback(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Option<Json<RollbackBody>>,
) -> Result<Json<Published>, ApiError> {
    let Json(b) = body.ok_or_else(bad_body)?;
    let published = s
        .lifecycle
        .rollback(&|c| s.apply(c), b.version, &p.actor, &b.message)
        .await?;
    Ok(Json(published))
}

pub async fn profile(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Option<Json<ProfileBody>>,
) -> Result<Json<Published>, ApiError> {
    let Json(b) = body.ok_or_else(bad_body)?;
    let published = s
        .lifecycle
        .switch_profile(&|c| s.apply(c), b.profile.as_deref(), &p.actor)
        .await?;
    Ok(Json(published))
}

#[derive(Deserialize)]
pub struct DraftBody {
    ops: Vec<crate::lifecycle::draft::Op>,
    /// Edit this text instead of the live config (chained edits in the UI).
    #[serde(default)]
    base_toml: Option<String>,
}

/// `POST /config/draft`: the edited TOML and its preview.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct Draft {
    pub toml: String,
    pub preview: Preview,
}

/// Structured edits → a candidate TOML and its preview. Publishes nothing.
pub async fn draft(
    State(s): State<Arc<AppState>>,
    body: Option<Json<DraftBody>>,
) -> Result<Json<Draft>, ApiError> {
    let Json(b) = body.ok_or_else(bad_body)?;
    let base = b
        .base_toml
        .unwrap_or_else(|| s.lifecycle.live_version().toml.unwrap_or_default());
    let toml = crate::lifecycle::draft::apply(&base, &b.ops)
        .map_err(|e| ApiError::bad_request("invalid_draft", e.to_string()))?;
    let preview = s.lifecycle.preview(&toml);
    Ok(Json(Draft { toml, preview }))
}

/// One live route, as `GET /routes` lists it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct RouteInfo {
    /// The name clients send, or a pattern (`claude-*`, `*`).
    pub model: String,
    /// `model` has a `*`: it takes every name it matches that no exact
    /// route or more specific pattern takes.
    pub pattern: bool,
    pub strategy: Strategy,
    pub cooldown_s: u64,
    pub failure_threshold: u32,
    pub rate_limit_threshold: u32,
    pub retries: u32,
    /// Sticky sessions in effect: true for a `weighted` or `latency` route
    /// unless `sticky = false`; always false for `priority`.
    pub sticky: bool,
    /// The response cache's TTL in seconds; `null` when the route does not cache.
    pub cache_ttl_s: Option<u64>,
    pub targets: Vec<RouteTarget>,
}

/// A target of a live route.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct RouteTarget {
    pub provider: String,
    /// The forwarded model; `null` forwards the requested name.
    pub model: Option<String>,
    pub weight: u32,
}

/// `GET /routes`: the live routes (the active profile's, when one is set).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct RoutesInfo {
    pub routes: Vec<RouteInfo>,
    pub profiles: Vec<String>,
    pub active_profile: Option<String>,
    /// With `?model=NAME`: where a request for NAME would go.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<RouteMatch>,
}

/// `GET /routes?model=NAME`: the route a request for NAME takes, as
/// requests resolve it (exact, pattern, `provider/model`, a listed model).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
pub struct RouteMatch {
    pub model: String,
    /// `null` when nothing routes the name (a request gets 404).
    pub kind: Option<crate::routing::MatchKind>,
    /// The route's name as written; `null` for an implicit route.
    pub route: Option<String>,
    /// The targets in config order, each with the concrete model it forwards.
    pub targets: Vec<RouteTarget>,
}

#[derive(Deserialize)]
pub struct RoutesQuery {
    model: Option<String>,
}

/// The live routes (the active profile's, when one is set), as JSON.
pub async fn routes(
    State(s): State<Arc<AppState>>,
    Query(q): Query<RoutesQuery>,
) -> Result<Json<RoutesInfo>, ApiError> {
    let rt = s.runtime.load_full();
    let matched = match q.model {
        Some(m) if m.is_empty() || m.len() > MAX_MODEL_LEN => {
            return Err(ApiError::bad_request(
                "invalid_model",
                format!("model must be 1 to {MAX_MODEL_LEN} bytes"),
            ));
        }
        Some(m) => Some(
            match crate::routing::resolve(&s.upstreams(), &rt, &m).await {
                Ok((r, kind)) => RouteMatch {
                    route: (!r.implicit).then(|| r.spec.model.clone()),
                    kind: Some(kind),
                    targets: r
                        .targets
                        .iter()
                        .zip(&r.spec.targets)
                        .map(|(t, spec)| RouteTarget {
                            provider: t.provider.spec.name.clone(),
                            model: Some(t.forwarded(&m).to_string()),
                            weight: spec.weight,
                        })
                        .collect(),
                    model: m,
                },
                Err(_) => RouteMatch {
                    model: m,
                    kind: None,
                    route: None,
                    targets: Vec::new(),
                },
            },
        ),
        None => None,
    };
    let routes = rt
        .config
        .routes
        .iter()
        .map(|r| RouteInfo {
            model: r.model.clone(),
            pattern: r.model.contains('*'),
            strategy: r.strategy,
            cooldown_s: r.cooldown.as_secs(),
            failure_threshold: r.failure_threshold,
            rate_limit_threshold: r.rate_limit_threshold,
            retries: r.retries,
            sticky: r.sticky,
            cache_ttl_s: r.cache.as_ref().map(|c| c.ttl.as_secs()),
            targets: r
                .targets
                .iter()
                .map(|t| RouteTarget {
                    provider: t.provider.clone(),
                    model: t.model.clone(),
                    weight: t.weight,
                })
                .collect(),
        })
        .collect();
    Ok(Json(RoutesInfo {
        routes,
        profiles: rt.config.profiles.clone(),
        active_profile: rt.config.active_profile.clone(),
        matched,
    }))
}

/// Longest model name `?model=` takes.
const MAX_MODEL_LEN: usize = 256;
