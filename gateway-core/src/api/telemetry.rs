//! Telemetry over HTTP: the chart and request-log queries (mounted by
//! api/admin under `/admin/api`, behind its auth) and `GET /metrics`
//! (Prometheus, on the listen address). Thin: parse the query string, run
//! the query from [`crate::telemetry::query`] on the blocking pool, answer
//! JSON. Times are milliseconds since the Unix epoch.
//!
//! - `GET /telemetry/series?minutes=60&bucket_s=60&provider=&model=&route=&client=`
//!   (or `from=MS&to=MS` instead of `minutes`; `bucket_s` defaults to about
//!   60 buckets over the window)
//! - `GET /telemetry/requests?limit=50&cursor=&outcome=ok|error|cancelled|fallback`
//!   plus the same window and filters (no window = all)
//!   and `q=` (search: request id, model, provider, route, error, bodies)
//! - `GET /telemetry/requests/{id}`: one request, its attempts, stored bodies
//! - `GET /telemetry/export?format=csv|jsonl&limit=` the filtered list as a
//!   streamed file (default 10 000 rows, at most 100 000)
//! - `GET /telemetry/summary?minutes=60`: requests/min, error rate, p95
//!   latency, fallbacks, cost, dropped events
//! - `GET /telemetry/keys?minutes=`: spend, requests and tokens by
//!   virtual key and by team (default: the last 30 days)
//! - `GET /telemetry/cache`: the response cache's hits and misses since
//!   start, its entries and bytes, and its bound

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::state::AppState;
use crate::telemetry::query::{
    self, Filter, Outcome, RequestDetail, RequestPage, RequestsQuery, Series, Summary, Window,
};
use crate::telemetry::{Db, export, metrics, unix_ms};

/// The telemetry query routes; mounted by api/admin under `/admin/api`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/telemetry/series", get(series))
        .route("/telemetry/requests", get(requests))
        .route("/telemetry/requests/{id}", get(request))
        .route("/telemetry/summary", get(summary))
        .route("/telemetry/cache", get(cache_stats))
        .route("/telemetry/keys", get(key_spend))
        .route("/telemetry/export", get(export))
}

/// The query string shared by the endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Window start (ms since the epoch); with `to`.
    pub from: Option<i64>,
    /// Window end (ms since the epoch, exclusive); default now.
    pub to: Option<i64>,
    /// The last N minutes (instead of `from`).
    pub minutes: Option<i64>,
    /// Series bucket size in seconds.
    pub bucket_s: Option<i64>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub route: Option<String>,
    pub client: Option<String>,
    /// `client` (default), `replay`, `bench`, `verify`, `fallback_test` or `all`.
    pub origin: Option<String>,
    pub outcome: Option<Outcome>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// Search text (see [`Filter::q`]).
    pub q: Option<String>,
    /// `csv` or `jsonl` (export only).
    pub format: Option<export::Format>,
}

/// Longest window a query may span (400 days).
const MAX_WINDOW_MS: i64 = 400 * 86_400_000;

impl Params {
    fn filter(&self) -> Filter {
        let f = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Filter {
            provider: f(&self.provider),
            model: f(&self.model),
            route: f(&self.route),
            client: f(&self.client),
            origin: f(&self.origin),
            q: f(&self.q),
        }
    }

    /// The window asked for; `None` when neither `from` nor `minutes` is set.
    fn window(&self, now_ms: i64) -> Result<Option<Window>, ApiError> {
        let to = self.to.unwrap_or(now_ms);
        let w = match (self.from, self.minutes) {
            (Some(_), Some(_)) => {
                return Err(bad("give either from/to or minutes, not both"));
            }
            (Some(from), None) => Window {
                from_ms: from,
                to_ms: to,
            },
            (None, Some(m)) if m > 0 => Window {
                from_ms: to - m.min(MAX_WINDOW_MS / 60_000) * 60_000,
                to_ms: to,
            },
            (None, Some(_)) => return Err(bad("minutes must be > 0")),
            (None, None) => return Ok(None),
        };
        if w.to_ms <= w.from_ms || w.to_ms - w.from_ms > MAX_WINDOW_MS {
            return Err(bad(
                "the window must end after it starts and span at most 400 days",
            ));
        }
        Ok(Some(w))
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_query", msg)
}

fn now_ms() -> i64 {
    unix_ms(SystemTime::now())
}

fn params(p: Result<Query<Params>, QueryRejection>) -> Result<Params, ApiError> {
    p.map(|Query(p)| p).map_err(|e| bad(e.body_text()))
}

fn db(state: &AppState) -> Result<Db, ApiError> {
    state.telemetry_hub.db().cloned().ok_or_else(|| {
        let why = state
            .telemetry_hub
            .db_error()
            .unwrap_or("the gateway runs without a data dir");
        ApiError::unavailable("telemetry_unavailable", format!("no request log: {why}"))
    })
}

async fn series(
    State(state): State<Arc<AppState>>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Series>, ApiError> {
    let p = params(p)?;
    let db = db(&state)?;
    let w = p
        .window(now_ms())?
        .unwrap_or_else(|| Window::last_minutes(now_ms(), 60));
    let bucket = match p.bucket_s {
        Some(s) => s.saturating_mul(1000),
        None => query::auto_bucket_ms(w),
    };
    query::check_series(w, bucket).map_err(|e| bad(e.to_string()))?;
    let filter = p.filter();
    let series = db
        .read_async(move |c| query::series(c, w, bucket, &filter))
        .await?;
    Ok(Json(series))
}

async fn requests(
    State(state): State<Arc<AppState>>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Json<RequestPage>, ApiError> {
    let p = params(p)?;
    let q = RequestsQuery {
        window: p.window(now_ms())?,
        filter: p.filter(),
        outcome: p.outcome,
        limit: p.limit,
        cursor: p.cursor.clone(),
    };
    // Team mode: every replica's requests.
    if let Some(pg) = state.telemetry_hub.postgres() {
        if q.filter
            .q
            .as_ref()
            .is_some_and(|t| t.chars().count() > query::MAX_SEARCH_CHARS)
        {
            return Err(bad(format!(
                "q: at most {} characters",
                query::MAX_SEARCH_CHARS
            )));
        }
        return Ok(Json(pg.requests(&q).await?));
    }
    let db = db(&state)?;
    Ok(Json(db.read_async(move |c| query::requests(c, &q)).await?))
}

/// `GET /telemetry/export`: the filtered, searched list (newest first) as
/// CSV or JSON Lines, streamed a page at a time.
async fn export(
    State(state): State<Arc<AppState>>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = params(p)?;
    let db = db(&state)?;
    let format = p.format.ok_or_else(|| bad("format must be csv or jsonl"))?;
    let limit = p.limit.unwrap_or(export::DEFAULT_EXPORT_ROWS);
    if limit == 0 || limit > export::MAX_EXPORT_ROWS {
        return Err(bad(format!(
            "limit must be 1 to {} rows",
            export::MAX_EXPORT_ROWS
        )));
    }
    let q = RequestsQuery {
        window: p.window(now_ms())?,
        filter: p.filter(),
        outcome: p.outcome,
        limit: None,
        cursor: p.cursor.clone(),
    };
    // The first page is read before answering, so a bad query is a 400.
    let first = {
        let (db, q) = (db.clone(), q.clone());
        db.read_async(move |c| export::page(c, &q, q.cursor.clone(), limit))
            .await?
    };
    struct At {
        db: Db,
        q: RequestsQuery,
        rows: Vec<query::RequestRow>,
        cursor: Option<String>,
        left: u32,
        header: Option<String>,
    }
    let start = At {
        db,
        q,
        left: limit - first.0.len() as u32,
        rows: first.0,
        cursor: first.1,
        header: Some(format.header()),
    };
    let body = futures_util::stream::unfold(start, move |mut at| async move {
        if let Some(h) = at.header.take() {
            return Some((Ok::<_, std::io::Error>(bytes::Bytes::from(h)), at));
        }
        if at.rows.is_empty() {
            let cursor = at.cursor.take().filter(|_| at.left > 0)?;
            let (db, q, left) = (at.db.clone(), at.q.clone(), at.left);
            match db
                .read_async(move |c| export::page(c, &q, Some(cursor), left))
                .await
            {
                Ok((rows, next)) => {
                    at.left -= rows.len() as u32;
                    at.rows = rows;
                    at.cursor = next;
                }
                Err(e) => {
                    at.left = 0;
                    tracing::warn!("telemetry export: {e}");
                    return Some((Err(std::io::Error::other(e.to_string())), at));
                }
            }
            if at.rows.is_empty() {
                return None;
            }
        }
        let chunk: String = at.rows.drain(..).map(|r| format.line(&r)).collect();
        Some((Ok(bytes::Bytes::from(chunk)), at))
    });
    let disposition = format!(
        "attachment; filename=\"aigw-requests.{}\"",
        format.extension()
    );
    let mut resp = axum::body::Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn request(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RequestDetail>, ApiError> {
    let db = db(&state)?;
    let key = id.clone();
    db.read_async(move |c| query::request(c, &key))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no request {id:?} in the log")))
}

/// The overview: the log's numbers plus the live state of the writer.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Serialize)]
pub struct SummaryBody {
    #[serde(flatten)]
    pub summary: Summary,
    /// Events the log did not take (writer behind, or a failed write).
    pub dropped_events: u64,
    /// Events waiting for the writer.
    pub queued_events: usize,
}

async fn summary(
    State(state): State<Arc<AppState>>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Json<SummaryBody>, ApiError> {
    let p = params(p)?;
    let db = db(&state)?;
    let w = p
        .window(now_ms())?
        .unwrap_or_else(|| Window::last_minutes(now_ms(), 60));
    let filter = p.filter();
    let hub = &state.telemetry_hub;
    let (dropped, queued) = (hub.dropped_events(), hub.queue_depth());
    let summary = db
        .read_async(move |c| query::summary(c, w, &filter))
        .await?;
    Ok(Json(SummaryBody {
        summary,
        dropped_events: dropped,
        queued_events: queued,
    }))
}

async fn key_spend(
    State(state): State<Arc<AppState>>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Json<crate::telemetry::spend::Spend>, ApiError> {
    let p = params(p)?;
    let w = p
        .window(now_ms())?
        .unwrap_or_else(|| Window::last_minutes(now_ms(), 30 * 24 * 60));
    // Team mode: every replica's traffic.
    if let Some(pg) = state.telemetry_hub.postgres() {
        return Ok(Json(pg.spend(w).await?));
    }
    let db = db(&state)?;
    Ok(Json(
        db.read_async(move |c| crate::telemetry::spend::spend(c, w))
            .await?,
    ))
}

async fn cache_stats(State(state): State<Arc<AppState>>) -> Json<crate::cache::CacheStats> {
    Json(state.cache.stats())
}

/// `GET /metrics`: Prometheus text 0.0.4, or OpenMetrics when the scraper's
/// `Accept` asks for `application/openmetrics-text`. Open on a loopback-only
/// listener; beyond loopback it needs the admin token (a viewer's is not enough)
/// (`super::health::operator_only`).
pub(crate) async fn metrics(
    State(state): State<Arc<AppState>>,
    peer: super::PeerAddr,
    headers: HeaderMap,
) -> Response {
    if !super::health::operator_only(&state, &peer.0, &headers) {
        return super::ApiError::unauthorized_admin().into_response();
    }
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    state.telemetry_hub.metrics().set_cache(state.cache.stats());
    let mut body = state
        .telemetry_hub
        .render_metrics(&state.health, openmetrics);
    state.connections.append_metrics(&mut body, openmetrics);
    if let Some(c) = &state.cluster {
        crate::cluster::append_metrics(c, &mut body, openmetrics);
    }
    if let Some(s) = &state.shared {
        s.append_metrics(&mut body, openmetrics);
    }
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::content_type(openmetrics)),
    );
    resp
}

/// The shared log (team mode): a bad cursor is the caller's 400; PostgreSQL
/// unreachable is 503 (the replica's own log and charts still answer).
impl From<crate::telemetry::pg::PgLogError> for ApiError {
    fn from(e: crate::telemetry::pg::PgLogError) -> Self {
        match e {
            crate::telemetry::pg::PgLogError::BadCursor => {
                ApiError::bad_request("invalid_query", e.to_string())
            }
            e => {
                tracing::error!("{e}");
                ApiError::unavailable(
                    "postgres_unavailable",
                    "the shared request log (PostgreSQL) is unreachable",
                )
            }
        }
    }
}
