//! Replay and the synthetic model benchmark over HTTP (admin role: both
//! send real, billed traffic with the provider keys).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::ApiError;
use crate::server::AppState;
use crate::tools::modelbench::{self, BenchError, Spec, Store};
use crate::tools::replay::{self, ReplayError, ReplaySpec};

pub async fn replay(State(s): State<Arc<AppState>>, body: Option<Json<ReplaySpec>>) -> Response {
    let Some(Json(spec)) = body else {
        return ApiError::bad_request(
            "invalid_json",
            "send {\"request_id\" or \"body\", \"provider\", \"model\"?}",
        )
        .into_response();
    };
    match replay::replay(&s, spec).await {
        Ok(r) => Json(r).into_response(),
        Err(e @ ReplayError::NotFound(_)) => ApiError::not_found(e.to_string()).into_response(),
        Err(e @ ReplayError::Telemetry(_)) => ApiError::internal(e.to_string()).into_response(),
        Err(e) => ApiError::bad_request("invalid_replay", e.to_string()).into_response(),
    }
}

fn bench_error(e: BenchError) -> Response {
    match e {
        BenchError::Invalid(m) => ApiError::bad_request("invalid_bench", m).into_response(),
        BenchError::Store(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

pub async fn estimate(State(s): State<Arc<AppState>>, body: Option<Json<Spec>>) -> Response {
    let Some(Json(spec)) = body else {
        return ApiError::bad_request("invalid_json", "send a benchmark spec").into_response();
    };
    if let Err(e) = spec.check(&s) {
        return bench_error(e);
    }
    Json(spec.estimate(&s)).into_response()
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
pub async fn start(State(s): State<Arc<AppState>>, body: Option<Json<RunBody>>) -> Response {
    let Some(Json(b)) = body else {
        return ApiError::bad_request("invalid_json", "send a benchmark spec").into_response();
    };
    let source = b
        .source
        .as_deref()
        .filter(|s| matches!(*s, "ui" | "cli"))
        .unwrap_or("api");
    match modelbench::run(&s, b.spec, source).await {
        Ok(run) => Json(run).into_response(),
        Err(e) => bench_error(e),
    }
}

fn store(s: &AppState) -> Result<Store, ApiError> {
    let Some(dir) = &s.data_dir else {
        return Err(ApiError::bad_request(
            "no_data_dir",
            "this gateway runs without a data dir",
        ));
    };
    Store::open(&dir.join("bench.db")).map_err(|e| ApiError::internal(e.to_string()))
}

#[derive(Deserialize)]
pub struct Page {
    limit: Option<u32>,
}

pub async fn list(State(s): State<Arc<AppState>>, Query(q): Query<Page>) -> Response {
    let store = match store(&s) {
        Ok(st) => st,
        Err(e) => return e.into_response(),
    };
    match store.list(q.limit.unwrap_or(50).min(500)) {
        Ok(runs) => Json(serde_json::json!({ "runs": runs })).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

pub async fn get(State(s): State<Arc<AppState>>, Path(id): Path<i64>) -> Response {
    let store = match store(&s) {
        Ok(st) => st,
        Err(e) => return e.into_response(),
    };
    match store.get(id) {
        Ok(Some(run)) => Json(run).into_response(),
        Ok(None) => ApiError::not_found(format!("no benchmark run {id}")).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}
