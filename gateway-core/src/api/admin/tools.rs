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
    let source = b
        .source
        .as_deref()
        .filter(|s| matches!(*s, "ui" | "cli"))
        .unwrap_or("api");
    Ok(Json(modelbench::run(&s, b.spec, source).await?))
}

fn store(s: &AppState) -> Result<Store, ApiError> {
    let Some(dir) = &s.data_dir else {
        return Err(ApiError::bad_request(
            "no_data_dir",
            "this gateway runs without a data dir",
        ));
    };
    Store::open(&dir.join("bench.db")).map_err(store_error)
}

fn store_error(e: rusqlite::Error) -> ApiError {
    ApiError::internal(e.to_string())
}

#[derive(Deserialize)]
pub struct Page {
    limit: Option<u32>,
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
    let runs = store(&s)?
        .list(q.limit.unwrap_or(50).min(500))
        .map_err(store_error)?;
    Ok(Json(Runs { runs }))
}

pub async fn get(
    State(s): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> Result<Json<Run>, ApiError> {
    store(&s)?
        .get(id)
        .map_err(store_error)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no benchmark run {id}")))
}
