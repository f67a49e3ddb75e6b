//! Replay and the synthetic model benchmark over HTTP (admin role: both
//! send real, billed traffic with the provider keys).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use crate::api::ApiError;
use crate::state::AppState;
use crate::tools::modelbench::{self, Estimate, Run, Spec, Store};
use crate::tools::replay::{self, ReplayReport, ReplaySpec};

pub async fn replay(
    State(s): State<Arc<AppState>>,
    body: Option<Json<ReplaySpec>>,
) -> Result<Json<ReplayReport>, ApiError> {
    let Json(spec) = body.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_json",
            "send {\"request_id\" or \"body\", \"provider\", \"model\"?}",
        )
    })?;
    Ok(Json(replay::replay(&s, spec).await?))
}

fn no_spec() -> ApiError {
    ApiError::bad_request("invalid_json", "send a benchmark spec")
}

pub async fn estimate(
    State(s): State<Arc<AppState>>,
    body: Option<Json<Spec>>,
) -> Result<Json<Estimate>, ApiError> {
    let Json(spec) = body.ok_or_else(no_spec)?;
    spec.check(&s)?;
    Ok(Json(spec.estimate(&s)))
}

#[derive(Deserialize)]
pub struct RunBody {
    #[serde(flatten)]
    spec: Spec,
    #[serde(default)]
    source: Option<String>,
}

/// Runs the benchmark and answers when it is done (runs are small and
/// capped; the UI shows the estimate first).
pub async fn start(
    State(s): State<Arc<AppState>>,
    body: Option<Json<RunBody>>,
) -> Result<Json<Run>, ApiError> {
    let Json(b) = body.ok_or_else(no_spec)?;
    Ok(Json(
        modelbench::run(&s, b.spec, source(b.source.as_deref())).await?,
    ))
}

/// Who started a run, as recorded with it: `ui`, `cli`, else `api`.
pub(super) fn source(s: Option<&str>) -> &str {
    s.filter(|s| matches!(*s, "ui" | "cli")).unwrap_or("api")
}

/// Opens a tool's SQLite file `name` in the data dir with `open`.
pub(super) fn open_db<T>(
    s: &AppState,
    name: &str,
    open: fn(&std::path::Path) -> Result<T, rusqlite::Error>,
) -> Result<T, ApiError> {
    let Some(dir) = &s.data_dir else {
        return Err(ApiError::bad_request(
            "no_data_dir",
            "this gateway runs without a data dir",
        ));
    };
    open(&dir.join(name)).map_err(store_error)
}

pub(super) fn store_error(e: rusqlite::Error) -> ApiError {
    ApiError::internal(e.to_string())
}

/// A stored value as the answer; 404 with `missing` when there is none.
pub(super) fn found<T>(
    r: Result<Option<T>, rusqlite::Error>,
    missing: impl FnOnce() -> String,
) -> Result<Json<T>, ApiError> {
    r.map_err(store_error)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(missing()))
}

fn store(s: &AppState) -> Result<Store, ApiError> {
    open_db(s, "bench.db", Store::open)
}

/// `?limit=`: 50 unless given, at most 500.
#[derive(Deserialize)]
pub struct Page {
    limit: Option<u32>,
}

impl Page {
    pub(super) fn limit(&self) -> u32 {
        self.limit.unwrap_or(50).min(500)
    }
}

/// `GET /bench/runs`: stored runs, newest first.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
#[cfg_attr(test, ts(rename = "BenchRuns"))]
pub struct Runs {
    pub runs: Vec<Run>,
}

pub async fn list(
    State(s): State<Arc<AppState>>,
    Query(q): Query<Page>,
) -> Result<Json<Runs>, ApiError> {
    let runs = store(&s)?.list(q.limit()).map_err(store_error)?;
    Ok(Json(Runs { runs }))
}

pub async fn get(
    State(s): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> Result<Json<Run>, ApiError> {
    found(store(&s)?.get(id), || format!("no benchmark run {id}"))
}
