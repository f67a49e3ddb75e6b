//! Verification runs over HTTP: recording a baseline and running a
//! verification send real, billed traffic (admin role); viewers read the
//! suite, baselines and past runs.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::tools::{Page, found, open_db, source, store_error};
use crate::api::ApiError;
use crate::state::AppState;
use crate::tools::modelbench::{Estimate, Target};
use crate::tools::verify::{self, Baseline, BaselineSpec, Run, RunSpec, Store, SuiteInfo};

fn store(s: &AppState) -> Result<Store, ApiError> {
    open_db(s, "verify.db", Store::open)
}

pub async fn suite() -> Json<SuiteInfo> {
    Json(verify::suite())
}

#[derive(Deserialize)]
pub struct EstimateBody {
    target: Target,
    #[serde(default)]
    max_cost_usd: Option<f64>,
}

pub async fn estimate(
    State(s): State<Arc<AppState>>,
    body: Option<Json<EstimateBody>>,
) -> Result<Json<Estimate>, ApiError> {
    let Json(b) = body.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_json",
            "send {\"target\": {\"provider\", \"model\"}}",
        )
    })?;
    if s.runtime
        .load()
        .provider_index(&b.target.provider)
        .is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_verify",
            format!("no provider named {:?}", b.target.provider),
        ));
    }
    Ok(Json(verify::estimate(
        &s,
        &b.target,
        b.max_cost_usd.unwrap_or(0.05),
    )))
}

#[derive(Deserialize)]
pub struct BaselineBody {
    #[serde(flatten)]
    spec: BaselineSpec,
    #[serde(default)]
    source: Option<String>,
}

pub async fn record_baseline(
    State(s): State<Arc<AppState>>,
    body: Option<Json<BaselineBody>>,
) -> Result<Json<Baseline>, ApiError> {
    let Json(b) = body.ok_or_else(|| {
        ApiError::bad_request("invalid_json", "send {\"target\", \"max_cost_usd\"?}")
    })?;
    let src = source(b.source.as_deref()).to_string();
    Ok(Json(verify::record_baseline(&s, b.spec, &src).await?))
}

#[derive(Deserialize)]
pub struct RunBody {
    #[serde(flatten)]
    spec: RunSpec,
    #[serde(default)]
    source: Option<String>,
}

/// Runs the suite and answers when it is done (8 small requests).
pub async fn start(
    State(s): State<Arc<AppState>>,
    body: Option<Json<RunBody>>,
) -> Result<Json<Run>, ApiError> {
    let Json(b) = body.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_json",
            "send {\"target\", \"baseline\"?, \"max_cost_usd\"?, \"token_tolerance_pct\"?}",
        )
    })?;
    let src = source(b.source.as_deref()).to_string();
    Ok(Json(verify::run(&s, b.spec, &src).await?))
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
#[cfg_attr(test, ts(rename = "VerifyBaselines"))]
pub struct Baselines {
    pub baselines: Vec<Baseline>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Serialize)]
#[cfg_attr(test, ts(rename = "VerifyRuns"))]
pub struct Runs {
    pub runs: Vec<Run>,
}

pub async fn baselines(
    State(s): State<Arc<AppState>>,
    Query(q): Query<Page>,
) -> Result<Json<Baselines>, ApiError> {
    let baselines = store(&s)?.baselines(q.limit()).map_err(store_error)?;
    Ok(Json(Baselines { baselines }))
}

pub async fn list(
    State(s): State<Arc<AppState>>,
    Query(q): Query<Page>,
) -> Result<Json<Runs>, ApiError> {
    let runs = store(&s)?.runs(q.limit()).map_err(store_error)?;
    Ok(Json(Runs { runs }))
}

pub async fn get(
    State(s): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> Result<Json<Run>, ApiError> {
    found(store(&s)?.run(id), || format!("no verification run {id}"))
}
