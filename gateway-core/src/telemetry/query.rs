//! Reads of the request log for charts and the request list. Each function
//! takes a connection (run them through [`super::Db::read`] or
//! [`super::Db::read_async`]) and returns serde types. Percentiles are
//! computed here over the rows of each bucket (nearest rank), so the UI
//! draws what it gets.
//!
//! Counting rules: an *error* is a request with an error class other than
//! `client_cancelled` (cancellations are counted apart); latency percentiles
//! cover requests that reached an upstream (local refusals would drag them
//! to zero); route modes (and so *fallbacks*: `provider_fallback` or
//! `model_fallback`) count answered requests (status < 400) only — a failed
//! request's mode names the target that gave the final error.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};
use serde::{Deserialize, Serialize};

use super::db::DbError;
use crate::vocab::ErrorClass;

/// Narrows a query; every set field must match exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// The provider that served (or gave the final error).
    pub provider: Option<String>,
    /// The forwarded model.
    pub model: Option<String>,
    /// The route: the model name the client asked for, or, when it has a
    /// `*`, the pattern route as written (every name `claude-*` took).
    pub route: Option<String>,
    /// The client (its key reference, or its address).
    pub client: Option<String>,
    /// `client` (default: replays and benchmarks are not client traffic),
    /// `replay`, `bench`, `verify`, `fallback_test`, or `all`.
    pub origin: Option<String>,
    /// Full-text search (see [`MAX_SEARCH_CHARS`]): the request id exactly,
    /// or a case-insensitive substring of the requested or forwarded model,
    /// provider, route, client, endpoint, error class, and the stored
    /// bodies (with `telemetry.store_bodies`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

/// The longest search text `q` may be.
pub const MAX_SEARCH_CHARS: usize = 200;

/// `text` as a `LIKE` pattern matching it anywhere (`\` escapes).
fn like_anywhere(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// `[from_ms, to_ms)` in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Window {
    /// The last `minutes` up to `now_ms`.
    pub fn last_minutes(now_ms: i64, minutes: i64) -> Self {
        Self {
            from_ms: now_ms - minutes * 60_000,
            to_ms: now_ms,
        }
    }
}

/// Builds `WHERE` clauses with positional arguments.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    args: Vec<Value>,
}

impl Where {
    fn push(&mut self, clause: &str, arg: Value) {
        self.args.push(arg);
        self.clauses
            .push(clause.replace('?', &format!("?{}", self.args.len())));
    }

    fn window(&mut self, w: Window) {
        self.push("ts_ms >= ?", Value::Integer(w.from_ms));
        self.push("ts_ms < ?", Value::Integer(w.to_ms));
    }

    fn filter(&mut self, f: &Filter) {
        let route_col = match &f.route {
            Some(r) if r.contains('*') => "route",
            _ => "requested_model",
        };
        let eq = [
            ("provider", &f.provider),
            ("forwarded_model", &f.model),
            (route_col, &f.route),
            ("client", &f.client),
        ];
        for (col, v) in eq {
            if let Some(v) = v {
                self.push(&format!("{col} = ?"), Value::Text(v.clone()));
            }
        }
        match f.origin.as_deref() {
            Some("all") => {}
            Some(o) => self.push("origin = ?", Value::Text(o.to_string())),
            None => self.push("origin = ?", Value::Text("client".into())),
        }
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            self.args.push(Value::Text(q.to_string()));
            let exact = self.args.len();
            self.args.push(Value::Text(like_anywhere(q)));
            let like = self.args.len();
            let cols = [
                "requested_model",
                "forwarded_model",
                "provider",
                "route",
                "client",
                "endpoint",
                "error",
            ]
            .map(|c| format!("{c} LIKE ?{like} ESCAPE '\\'"))
            .join(" OR ");
            self.clauses.push(format!(
                "(request_id = ?{exact} OR {cols} OR EXISTS (SELECT 1 FROM bodies b
                   WHERE b.request = requests.id
                   AND (b.request_body LIKE ?{like} ESCAPE '\\'
                        OR b.response_body LIKE ?{like} ESCAPE '\\')))"
            ));
        }
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// p50/p95/p99 of a sample.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Nearest-rank percentile of sorted values.
fn rank(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let i = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[i]
}

/// Quantiles of `v` (sorted in place); `None` when empty.
pub fn quantiles(v: &mut [f64]) -> Option<Quantiles> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Quantiles {
        p50: rank(v, 0.50),
        p95: rank(v, 0.95),
        p99: rank(v, 0.99),
    })
}

/// Requests per route mode.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteModes {
    pub direct: u64,
    pub provider_fallback: u64,
    pub model_fallback: u64,
    /// Answered from the response cache (`[routes.cache]`).
    #[serde(default)]
    pub cache: u64,
}

/// One time bucket of a series.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub start_ms: i64,
    pub requests: u64,
    pub errors: u64,
    pub errors_by_class: BTreeMap<String, u64>,
    pub cancelled: u64,
    pub latency_ms: Option<Quantiles>,
    pub ttft_ms: Option<Quantiles>,
    /// Input tokens (cached ones included) and output tokens of the
    /// requests whose usage is known.
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// The parts of `tokens_in` read from / written to prompt caches.
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Answered requests whose usage is unknown (a stream cut before its
    /// usage arrived): not in the token or cost sums.
    pub usage_unknown: u64,
    pub cost_usd: f64,
    pub route_modes: RouteModes,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub from_ms: i64,
    pub to_ms: i64,
    pub bucket_ms: i64,
    pub buckets: Vec<Bucket>,
}

/// Most buckets one series may have.
pub const MAX_BUCKETS: i64 = 2_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("the window must end after it starts")]
    EmptyWindow,
    #[error("bucket must be at least 1 s and give at most {MAX_BUCKETS} buckets over the window")]
    BadBucket,
    #[error("bad cursor")]
    BadCursor,
    #[error("the search text q may have at most {MAX_SEARCH_CHARS} characters")]
    SearchTooLong,
}

/// `a / b` rounded up, for positive `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b > 0)
}

/// Checks a window and bucket size before querying.
pub fn check_series(w: Window, bucket_ms: i64) -> Result<(), QueryError> {
    if w.to_ms <= w.from_ms {
        return Err(QueryError::EmptyWindow);
    }
    if bucket_ms < 1000 || ceil_div(w.to_ms - w.from_ms, bucket_ms) > MAX_BUCKETS {
        return Err(QueryError::BadBucket);
    }
    Ok(())
}

/// A bucket size giving about 60 buckets, rounded to a friendly step.
pub fn auto_bucket_ms(w: Window) -> i64 {
    const STEPS: [i64; 12] = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 86_400];
    let want = (w.to_ms - w.from_ms) / 60;
    let step = STEPS
        .iter()
        .map(|s| s * 1000)
        .find(|&s| s >= want)
        .unwrap_or(86_400_000);
    let n = ceil_div(w.to_ms - w.from_ms, step);
    if n > MAX_BUCKETS {
        ceil_div(w.to_ms - w.from_ms, MAX_BUCKETS)
    } else {
        step
    }
}

/// One row of the log as the series counts it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec<'a> {
    pub error: Option<&'a str>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub cost_usd: Option<f64>,
    pub route_mode: Option<&'a str>,
    pub attempts: i64,
    pub cancelled: bool,
    pub status: u16,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
}

/// Counts `r` into `b` (the counting rules above); returns the latency
/// sample (requests that reached an upstream) and the TTFT sample.
pub(crate) fn tally(b: &mut Bucket, r: &Rec<'_>) -> (Option<f64>, Option<f64>) {
    b.requests += 1;
    if r.cancelled {
        b.cancelled += 1;
    }
    if let Some(class) = r
        .error
        .filter(|c| *c != ErrorClass::ClientCancelled.as_str())
    {
        b.errors += 1;
        match b.errors_by_class.get_mut(class) {
            Some(n) => *n += 1,
            None => {
                b.errors_by_class.insert(class.to_string(), 1);
            }
        }
    }
    let count = |v: Option<i64>| v.unwrap_or(0).max(0) as u64;
    b.tokens_in += count(r.tokens_in);
    b.tokens_out += count(r.tokens_out);
    b.cache_read_tokens += count(r.cache_read_tokens);
    b.cache_write_tokens += count(r.cache_write_tokens);
    b.cost_usd += r.cost_usd.unwrap_or(0.0);
    if r.attempts > 0 && r.status < 400 && (r.tokens_in.is_none() || r.tokens_out.is_none()) {
        b.usage_unknown += 1;
    }
    match r.route_mode.filter(|_| r.status < 400) {
        Some("direct") => b.route_modes.direct += 1,
        Some("provider_fallback") => b.route_modes.provider_fallback += 1,
        Some("model_fallback") => b.route_modes.model_fallback += 1,
        Some("cache") => b.route_modes.cache += 1,
        _ => {}
    }
    samples(r)
}

/// The latency sample of `r` (requests that reached an upstream) and its
/// TTFT sample, as [`tally`] counts them.
pub(crate) fn samples(r: &Rec<'_>) -> (Option<f64>, Option<f64>) {
    ((r.attempts > 0).then_some(r.latency_ms), r.ttft_ms)
}

/// Adds `b`'s counters to `into` (not its percentiles).
pub(crate) fn merge_counts(into: &mut Bucket, b: &Bucket) {
    into.requests += b.requests;
    into.errors += b.errors;
    for (class, n) in &b.errors_by_class {
        *into.errors_by_class.entry(class.clone()).or_default() += n;
    }
    into.cancelled += b.cancelled;
    into.tokens_in += b.tokens_in;
    into.tokens_out += b.tokens_out;
    into.cache_read_tokens += b.cache_read_tokens;
    into.cache_write_tokens += b.cache_write_tokens;
    into.usage_unknown += b.usage_unknown;
    into.cost_usd += b.cost_usd;
    into.route_modes.direct += b.route_modes.direct;
    into.route_modes.provider_fallback += b.route_modes.provider_fallback;
    into.route_modes.model_fallback += b.route_modes.model_fallback;
    into.route_modes.cache += b.route_modes.cache;
}

/// The columns [`scan`] reads, in [`Rec`] order after `ts_ms`.
pub(crate) const REC_COLUMNS: &str = "ts_ms, error, latency_ms, ttft_ms, tokens_in, tokens_out,
    cost_usd, route_mode, attempts, cancelled, status, cache_read_tokens, cache_write_tokens";

/// Calls `f(ts_ms, rec)` for every row `SELECT {REC_COLUMNS} FROM requests {wh}` gives.
pub(crate) fn scan_rows(
    conn: &Connection,
    wh: &str,
    args: &[Value],
    mut f: impl FnMut(i64, &Rec<'_>),
) -> Result<(), DbError> {
    let sql = format!("SELECT {REC_COLUMNS} FROM requests {wh}");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(args.iter()))?;
    while let Some(r) = rows.next()? {
        let error = r
            .get_ref(1)?
            .as_str_or_null()
            .map_err(rusqlite::Error::from)?;
        let route_mode = r
            .get_ref(7)?
            .as_str_or_null()
            .map_err(rusqlite::Error::from)?;
        let rec = Rec {
            error,
            latency_ms: r.get(2)?,
            ttft_ms: r.get(3)?,
            tokens_in: r.get(4)?,
            tokens_out: r.get(5)?,
            cost_usd: r.get(6)?,
            route_mode,
            attempts: r.get(8)?,
            cancelled: r.get(9)?,
            status: r.get(10)?,
            cache_read_tokens: r.get(11)?,
            cache_write_tokens: r.get(12)?,
        };
        f(r.get(0)?, &rec);
    }
    Ok(())
}

/// The time-bucketed series over `w`. Long windows of unfiltered traffic
/// are read from the per-minute rollups ([`super::rollup`]): exact counts
/// and sums, percentiles within 2 % (see `docs/telemetry.md`).
pub fn series(
    conn: &Connection,
    w: Window,
    bucket_ms: i64,
    filter: &Filter,
) -> Result<Series, DbError> {
    check_series(w, bucket_ms)?;
    let n = ceil_div(w.to_ms - w.from_ms, bucket_ms) as usize;
    let mut buckets: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            start_ms: w.from_ms + i as i64 * bucket_ms,
            ..Bucket::default()
        })
        .collect();
    if !super::rollup::series(conn, w, bucket_ms, filter, &mut buckets)? {
        series_rows(conn, w, bucket_ms, filter, &mut buckets)?;
    }
    Ok(Series {
        from_ms: w.from_ms,
        to_ms: w.to_ms,
        bucket_ms,
        buckets,
    })
}

/// [`series`] from every row in the window (exact percentiles).
pub(crate) fn series_rows(
    conn: &Connection,
    w: Window,
    bucket_ms: i64,
    filter: &Filter,
    buckets: &mut [Bucket],
) -> Result<(), DbError> {
    let n = buckets.len();
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut ttft: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut wh = Where::default();
    wh.window(w);
    wh.filter(filter);
    scan_rows(conn, &wh.sql(), &wh.args, |ts, rec| {
        let i = ((ts - w.from_ms) / bucket_ms) as usize;
        let Some(b) = buckets.get_mut(i) else {
            return;
        };
        let (l, t) = tally(b, rec);
        if let Some(l) = l {
            lat[i].push(l);
        }
        if let Some(t) = t {
            ttft[i].push(t);
        }
    })?;
    for (i, b) in buckets.iter_mut().enumerate() {
        b.latency_ms = quantiles(&mut lat[i]);
        b.ttft_ms = quantiles(&mut ttft[i]);
    }
    Ok(())
}

/// The origin a filter selects: `None` for every origin.
pub(crate) fn origin_of(f: &Filter) -> Option<&str> {
    match f.origin.as_deref() {
        Some("all") => None,
        Some(o) => Some(o),
        None => Some("client"),
    }
}

/// A filter that narrows by nothing but the origin (the rollups can answer it).
pub(crate) fn origin_only(f: &Filter) -> bool {
    f.provider.is_none()
        && f.model.is_none()
        && f.route.is_none()
        && f.client.is_none()
        && f.q.as_deref().is_none_or(|q| q.trim().is_empty())
}

/// The window and origin clauses of a raw scan.
pub(crate) fn window_where(w: Window, f: &Filter) -> (String, Vec<Value>) {
    let mut wh = Where::default();
    wh.window(w);
    wh.filter(f);
    (wh.sql(), wh.args)
}

/// One request as listed.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRow {
    /// The gateway's request id (`x-aigw-request-id`).
    pub id: String,
    pub time_ms: i64,
    pub client: String,
    pub endpoint: String,
    pub requested_model: String,
    pub provider: Option<String>,
    pub forwarded_model: Option<String>,
    pub route_mode: Option<String>,
    pub stream: bool,
    pub attempts: u32,
    pub status: u16,
    pub error: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub overhead_ms: f64,
    /// `None`: unknown (a stream cut before its usage arrived).
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    pub tokens_estimated: bool,
    /// Parts of `tokens_in` read from / written to the prompt cache, when
    /// the upstream reported them.
    pub cache_read_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub cancelled: bool,
    /// The route that matched as written (`claude-*`); `null` for an
    /// implicit route or a request that matched none.
    pub route: Option<String>,
    /// The pool key of the last attempt, by reference (`keyring:a`);
    /// never a key's value. `null` for a keyless provider.
    #[serde(default)]
    pub key_name: Option<String>,
}

const ROW_COLUMNS: &str = "request_id, ts_ms, client, endpoint, requested_model, provider,
    forwarded_model, route_mode, stream, attempts, status, error, latency_ms, ttft_ms,
    overhead_ms, tokens_in, tokens_out, tokens_estimated, cost_usd, cancelled, id,
    cache_read_tokens, cache_write_tokens, route, key_name";

fn row(r: &Row<'_>) -> rusqlite::Result<RequestRow> {
    let u = |v: Option<i64>| v.map(|n| n.max(0) as u64);
    Ok(RequestRow {
        id: r.get(0)?,
        time_ms: r.get(1)?,
        client: r.get(2)?,
        endpoint: r.get(3)?,
        requested_model: r.get(4)?,
        provider: r.get(5)?,
        forwarded_model: r.get(6)?,
        route_mode: r.get(7)?,
        stream: r.get(8)?,
        attempts: r.get(9)?,
        status: r.get(10)?,
        error: r.get(11)?,
        latency_ms: r.get(12)?,
        ttft_ms: r.get(13)?,
        overhead_ms: r.get(14)?,
        tokens_in: u(r.get(15)?),
        tokens_out: u(r.get(16)?),
        tokens_estimated: r.get(17)?,
        cache_read_tokens: u(r.get(21)?),
        cache_write_tokens: u(r.get(22)?),
        cost_usd: r.get(18)?,
        cancelled: r.get(19)?,
        route: r.get(23)?,
        key_name: r.get(24)?,
    })
}

/// Which requests to list by outcome.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered without an error class.
    Ok,
    /// Failed, broken or refused (cancellations excluded).
    Error,
    /// The client went away.
    Cancelled,
    /// Answered by a fallback target.
    Fallback,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestsQuery {
    pub window: Option<Window>,
    pub filter: Filter,
    pub outcome: Option<Outcome>,
    /// At most this many (1–500; default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestPage {
    /// Newest first.
    pub items: Vec<RequestRow>,
    /// Pass as `cursor` for the next (older) page; `None` at the end.
    pub next_cursor: Option<String>,
}

fn parse_cursor(c: &str) -> Result<(i64, i64), QueryError> {
    let (ts, id) = c.split_once('_').ok_or(QueryError::BadCursor)?;
    match (ts.parse(), id.parse()) {
        (Ok(ts), Ok(id)) => Ok((ts, id)),
        _ => Err(QueryError::BadCursor),
    }
}

/// Recent requests, newest first, a page at a time.
pub fn requests(conn: &Connection, q: &RequestsQuery) -> Result<RequestPage, DbError> {
    requests_up_to(conn, q, 500)
}

/// [`requests`] with pages of up to `max` rows (exports read bigger ones).
pub(crate) fn requests_up_to(
    conn: &Connection,
    q: &RequestsQuery,
    max: u32,
) -> Result<RequestPage, DbError> {
    if q.filter
        .q
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_SEARCH_CHARS)
    {
        return Err(QueryError::SearchTooLong.into());
    }
    let limit = q.limit.unwrap_or(50).clamp(1, max) as usize;
    let mut wh = Where::default();
    if let Some(w) = q.window {
        wh.window(w);
    }
    wh.filter(&q.filter);
    match q.outcome {
        Some(Outcome::Ok) => wh.clauses.push("error IS NULL".into()),
        Some(Outcome::Error) => wh
            .clauses
            .push("error IS NOT NULL AND error <> 'client_cancelled'".into()),
        Some(Outcome::Cancelled) => wh.clauses.push("cancelled = 1".into()),
        Some(Outcome::Fallback) => wh
            .clauses
            .push("route_mode IN ('provider_fallback', 'model_fallback') AND status < 400".into()),
        None => {}
    }
    if let Some(c) = &q.cursor {
        let (ts, id) = parse_cursor(c)?;
        wh.args.push(Value::Integer(ts));
        let a = wh.args.len();
        wh.args.push(Value::Integer(id));
        let b = wh.args.len();
        wh.clauses
            .push(format!("(ts_ms < ?{a} OR (ts_ms = ?{a} AND id < ?{b}))"));
    }
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM requests {} ORDER BY ts_ms DESC, id DESC LIMIT {}",
        wh.sql(),
        limit + 1
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(wh.args.iter()))?;
    let mut items = Vec::with_capacity(limit);
    let mut last_id = 0;
    let mut more = false;
    while let Some(r) = rows.next()? {
        if items.len() == limit {
            more = true;
            break;
        }
        last_id = r.get(20)?;
        items.push(row(r)?);
    }
    let next_cursor = items
        .last()
        .filter(|_| more)
        .map(|last| format!("{}_{last_id}", last.time_ms));
    Ok(RequestPage { items, next_cursor })
}

/// Requests logged after row `after` (the log's own row id), oldest
/// first, at most `limit`; with each row's id (for `aigw logs -f`).
pub fn since(
    conn: &Connection,
    after: i64,
    filter: &Filter,
    limit: u32,
) -> Result<Vec<(i64, RequestRow)>, DbError> {
    let mut wh = Where::default();
    wh.filter(filter);
    wh.push("id > ?", Value::Integer(after));
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM requests {} ORDER BY id LIMIT {}",
        wh.sql(),
        limit.clamp(1, 10_000)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(wh.args.iter()), |r| {
            Ok((r.get(20)?, row(r)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The log's newest row id, less `back` (where `aigw logs -n N` starts).
pub fn start_id(conn: &Connection, filter: &Filter, back: u32) -> Result<i64, DbError> {
    let mut wh = Where::default();
    wh.filter(filter);
    let sql = format!(
        "SELECT id FROM requests {} ORDER BY id DESC LIMIT 1 OFFSET {}",
        wh.sql(),
        back
    );
    let id: Option<i64> = conn
        .query_row(&sql, params_from_iter(wh.args.iter()), |r| r.get(0))
        .optional()?;
    Ok(id.unwrap_or(0))
}

/// One upstream attempt as stored.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRow {
    pub provider: String,
    pub model: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: f64,
    /// The pool key it was sent with, by reference.
    #[serde(default)]
    pub key_name: Option<String>,
}

/// One request with its attempts and, when stored, its bodies.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestDetail {
    pub request: RequestRow,
    pub attempts: Vec<AttemptRow>,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

/// The request with this gateway request id.
pub fn request(conn: &Connection, id: &str) -> Result<Option<RequestDetail>, DbError> {
    let sql = format!("SELECT {ROW_COLUMNS} FROM requests WHERE request_id = ?1");
    let found = conn
        .query_row(&sql, [id], |r| Ok((row(r)?, r.get::<_, i64>(20)?)))
        .optional()?;
    let Some((request, rid)) = found else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT provider, model, status, error, latency_ms, key_name FROM attempts
         WHERE request = ?1 ORDER BY n",
    )?;
    let attempts = stmt
        .query_map([rid], |r| {
            Ok(AttemptRow {
                provider: r.get(0)?,
                model: r.get(1)?,
                status: r.get(2)?,
                error: r.get(3)?,
                latency_ms: r.get(4)?,
                key_name: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let bodies: Option<(Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT request_body, response_body FROM bodies WHERE request = ?1",
            [rid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (request_body, response_body) = bodies.unwrap_or_default();
    Ok(Some(RequestDetail {
        request,
        attempts,
        request_body,
        response_body,
    }))
}

/// The overview numbers over a window.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub from_ms: i64,
    pub to_ms: i64,
    pub requests: u64,
    pub requests_per_min: f64,
    pub errors: u64,
    /// `errors / requests` (0 without requests).
    pub error_rate: f64,
    pub cancelled: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    pub fallbacks: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Answered requests with unknown usage (not in the sums).
    pub usage_unknown: u64,
    pub cost_usd: f64,
}

/// The overview over `w`: one bucket of the series, reshaped.
pub fn summary(conn: &Connection, w: Window, filter: &Filter) -> Result<Summary, DbError> {
    if w.to_ms <= w.from_ms {
        return Err(QueryError::EmptyWindow.into());
    }
    let span = w.to_ms - w.from_ms;
    let s = series(conn, w, span.max(1000), filter)?;
    let b = s.buckets.into_iter().next().unwrap_or_default();
    let minutes = span as f64 / 60_000.0;
    Ok(Summary {
        from_ms: w.from_ms,
        to_ms: w.to_ms,
        requests: b.requests,
        requests_per_min: if minutes > 0.0 {
            b.requests as f64 / minutes
        } else {
            0.0
        },
        errors: b.errors,
        error_rate: if b.requests > 0 {
            b.errors as f64 / b.requests as f64
        } else {
            0.0
        },
        cancelled: b.cancelled,
        latency_p50_ms: b.latency_ms.map(|q| q.p50),
        latency_p95_ms: b.latency_ms.map(|q| q.p95),
        ttft_p95_ms: b.ttft_ms.map(|q| q.p95),
        fallbacks: b.route_modes.provider_fallback + b.route_modes.model_fallback,
        tokens_in: b.tokens_in,
        tokens_out: b.tokens_out,
        cache_read_tokens: b.cache_read_tokens,
        cache_write_tokens: b.cache_write_tokens,
        usage_unknown: b.usage_unknown,
        cost_usd: b.cost_usd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let q = quantiles(&mut v).unwrap();
        assert_eq!((q.p50, q.p95, q.p99), (50.0, 95.0, 99.0));
        let q = quantiles(&mut [7.0]).unwrap();
        assert_eq!((q.p50, q.p99), (7.0, 7.0));
        assert!(quantiles(&mut []).is_none());
    }

    #[test]
    fn buckets_are_checked_and_chosen() {
        let w = Window::last_minutes(10_000_000, 60);
        assert_eq!(auto_bucket_ms(w), 60_000);
        assert!(check_series(w, 60_000).is_ok());
        assert_eq!(check_series(w, 500), Err(QueryError::BadBucket));
        assert_eq!(check_series(w, 1000), Err(QueryError::BadBucket));
        let day = Window::last_minutes(100_000_000_000, 60 * 24 * 30);
        assert!(check_series(day, auto_bucket_ms(day)).is_ok());
        let empty = Window {
            from_ms: 5,
            to_ms: 5,
        };
        assert_eq!(check_series(empty, 1000), Err(QueryError::EmptyWindow));
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(parse_cursor("123_45"), Ok((123, 45)));
        assert_eq!(parse_cursor("x"), Err(QueryError::BadCursor));
    }
}
