//! The request log in PostgreSQL (team mode, `[cluster] postgres_url`):
//! every replica also writes its request rows here, in batches, off the
//! request path, so the request list and the per-key/team spend view
//! (`GET /admin/api/telemetry/keys`) of any replica show every replica's
//! traffic. The SQLite log stays (the charts read it, per replica).
//!
//! [`run_writer`] takes the events of its own bounded queue (filled next to
//! the SQLite one by the hub's sink; a full queue drops the event and
//! counts it under `reason="postgres_queue_full"`) in batches of up to
//! [`BATCH`], inserts each in one statement (`ON CONFLICT (request_id) DO
//! NOTHING`: a batch retried after a lost answer is not written twice),
//! and while PostgreSQL is down keeps the batch in hand and retries with a
//! backoff up to [`RETRY_MAX`]: what was queued is written when it returns.
//! At shutdown it tries for [`DRAIN_FOR`] more, then counts what is left
//! under `reason="postgres_write_failed"`. No bodies are written here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_util::sync::CancellationToken;

use super::query::{Filter, Outcome, RequestPage, RequestRow, RequestsQuery, Window};
use super::spend::{MAX_ROWS, Spend, SpendRow};
use super::{RequestEvent, unix_ms};
use crate::cluster::pg::Pg;
use crate::routing::LiveRuntime;

/// Schema step 3: the shared request log.
pub const MIGRATION: &str = "
CREATE TABLE aigw_requests (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    replica TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    client TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    requested_model TEXT NOT NULL,
    provider TEXT,
    forwarded_model TEXT,
    route_mode TEXT,
    route TEXT,
    stream BOOLEAN NOT NULL,
    attempts INTEGER NOT NULL,
    status INTEGER NOT NULL,
    error TEXT,
    latency_ms DOUBLE PRECISION NOT NULL,
    ttft_ms DOUBLE PRECISION,
    overhead_ms DOUBLE PRECISION NOT NULL,
    tokens_in BIGINT,
    tokens_out BIGINT,
    cache_read_tokens BIGINT,
    cache_write_tokens BIGINT,
    tokens_estimated BOOLEAN NOT NULL,
    cost_usd DOUBLE PRECISION,
    cancelled BOOLEAN NOT NULL,
    origin TEXT NOT NULL,
    key_name TEXT,
    virtual_key TEXT,
    team TEXT
);
CREATE INDEX aigw_requests_ts ON aigw_requests (ts_ms, id);
CREATE INDEX aigw_requests_key ON aigw_requests (virtual_key, ts_ms);
";

/// Rows inserted in one statement at most.
pub const BATCH: usize = 512;
/// The longest wait between two tries while PostgreSQL is down.
pub const RETRY_MAX: Duration = Duration::from_secs(5);
/// At shutdown, how long the writer keeps trying to write what is queued.
pub const DRAIN_FOR: Duration = Duration::from_secs(5);
/// The longest one insert or query may take.
pub const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows deleted per retention statement (it repeats until none is left).
const RETENTION_CHUNK: i64 = 10_000;

/// The shared log: the cluster's PostgreSQL and this replica's name (in
/// each row).
#[derive(Clone)]
pub struct PgLog {
    pub pg: Arc<Pg>,
    pub replica: String,
}

impl std::fmt::Debug for PgLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLog")
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PgLogError {
    #[error("request log (PostgreSQL): {0}")]
    Pg(String),
    #[error("invalid cursor")]
    BadCursor,
}

fn err(e: impl std::fmt::Display) -> PgLogError {
    PgLogError::Pg(e.to_string())
}

async fn timed<T>(
    f: impl std::future::Future<Output = Result<T, PgLogError>>,
) -> Result<T, PgLogError> {
    tokio::time::timeout(OP_TIMEOUT, f)
        .await
        .map_err(|_| err(format!("no answer within {}s", OP_TIMEOUT.as_secs())))?
}

fn opt_i64(v: Option<u64>) -> Option<i64> {
    v.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl PgLog {
    /// Inserts `events` in one statement; rows already there are skipped.
    pub async fn insert(&self, events: &[RequestEvent]) -> Result<(), PgLogError> {
        if events.is_empty() {
            return Ok(());
        }
        timed(async {
            let c = self.pg.client().await.map_err(err)?;
            let mut sql = String::from(
                "INSERT INTO aigw_requests (request_id, replica, ts_ms, client, endpoint,
                   requested_model, provider, forwarded_model, route_mode, route, stream,
                   attempts, status, error, latency_ms, ttft_ms, overhead_ms, tokens_in,
                   tokens_out, cache_read_tokens, cache_write_tokens, tokens_estimated,
                   cost_usd, cancelled, origin, key_name, virtual_key, team) VALUES ",
            );
            const COLS: usize = 28;
            let mut vals: Vec<Box<dyn ToSql + Sync + Send>> =
                Vec::with_capacity(events.len() * COLS);
            for (i, e) in events.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for j in 0..COLS {
                    if j > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("${}", i * COLS + j + 1));
                }
                sql.push(')');
                vals.push(Box::new(e.request_id.clone()));
                vals.push(Box::new(self.replica.clone()));
                vals.push(Box::new(unix_ms(e.time)));
                vals.push(Box::new(e.client.clone()));
                vals.push(Box::new(e.endpoint.to_string()));
                vals.push(Box::new(e.requested_model.clone()));
                vals.push(Box::new(e.provider.clone()));
                vals.push(Box::new(e.forwarded_model.clone()));
                vals.push(Box::new(e.route_mode.map(|m| m.as_str().to_string())));
                vals.push(Box::new(e.route.clone()));
                vals.push(Box::new(e.stream));
                vals.push(Box::new(
                    i32::try_from(e.attempts.len()).unwrap_or(i32::MAX),
                ));
                vals.push(Box::new(i32::from(e.status)));
                vals.push(Box::new(e.error.clone()));
                vals.push(Box::new(e.latency_ms));
                vals.push(Box::new(e.ttft_ms));
                vals.push(Box::new(e.overhead_ms));
                vals.push(Box::new(opt_i64(e.tokens_in)));
                vals.push(Box::new(opt_i64(e.tokens_out)));
                vals.push(Box::new(opt_i64(e.cache_read_tokens)));
                vals.push(Box::new(opt_i64(e.cache_write_tokens)));
                vals.push(Box::new(e.tokens_estimated));
                vals.push(Box::new(e.cost_usd));
                vals.push(Box::new(e.cancelled));
                vals.push(Box::new(e.origin.as_str().to_string()));
                vals.push(Box::new(e.attempts.last().and_then(|a| a.key.clone())));
                vals.push(Box::new(e.virtual_key.clone()));
                vals.push(Box::new(e.team.clone()));
            }
            sql.push_str(" ON CONFLICT (request_id) DO NOTHING");
            let params: Vec<&(dyn ToSql + Sync)> = vals
                .iter()
                .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                .collect();
            c.execute(sql.as_str(), &params).await.map_err(err)?;
            Ok(())
        })
        .await
    }

    /// Deletes rows older than `before_ms`, a chunk at a time.
    pub async fn expire(&self, before_ms: i64) -> Result<u64, PgLogError> {
        let mut total = 0;
        loop {
            let n = timed(async {
                let c = self.pg.client().await.map_err(err)?;
                c.execute(
                    "DELETE FROM aigw_requests WHERE id IN
                       (SELECT id FROM aigw_requests WHERE ts_ms < $1 LIMIT $2)",
                    &[&before_ms, &RETENTION_CHUNK],
                )
                .await
                .map_err(err)
            })
            .await?;
            total += n;
            if n < RETENTION_CHUNK as u64 {
                return Ok(total);
            }
        }
    }

    /// The request list of every replica (see [`super::query::requests`];
    /// the search `q` looks at the same columns, not at bodies).
    pub async fn requests(&self, q: &RequestsQuery) -> Result<RequestPage, PgLogError> {
        let limit = q.limit.unwrap_or(50).clamp(1, 500) as usize;
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
            Some(Outcome::Cancelled) => wh.clauses.push("cancelled".into()),
            Some(Outcome::Fallback) => wh.clauses.push(
                "route_mode IN ('provider_fallback', 'model_fallback') AND status < 400".into(),
            ),
            None => {}
        }
        if let Some(c) = &q.cursor {
            let (ts, id) = c
                .split_once('_')
                .and_then(|(t, i)| Some((t.parse::<i64>().ok()?, i.parse::<i64>().ok()?)))
                .ok_or(PgLogError::BadCursor)?;
            let a = wh.arg(ts);
            let b = wh.arg(id);
            wh.clauses
                .push(format!("(ts_ms < {a} OR (ts_ms = {a} AND id < {b}))"));
        }
        let sql = format!(
            "SELECT request_id, ts_ms, client, endpoint, requested_model, provider,
               forwarded_model, route_mode, stream, attempts, status, error, latency_ms, ttft_ms,
               overhead_ms, tokens_in, tokens_out, tokens_estimated, cost_usd, cancelled, id,
               cache_read_tokens, cache_write_tokens, route, key_name
             FROM aigw_requests {} ORDER BY ts_ms DESC, id DESC LIMIT {}",
            wh.sql(),
            limit + 1
        );
        let rows = timed(async {
            let c = self.pg.client().await.map_err(err)?;
            c.query(sql.as_str(), &wh.params()).await.map_err(err)
        })
        .await?;
        let more = rows.len() > limit;
        let mut items = Vec::with_capacity(limit);
        let mut last_id = 0i64;
        for r in rows.iter().take(limit) {
            last_id = r.try_get(20).map_err(err)?;
            items.push(row(r).map_err(err)?);
        }
        let next_cursor = items
            .last()
            .filter(|_| more)
            .map(|last| format!("{}_{last_id}", last.time_ms));
        Ok(RequestPage { items, next_cursor })
    }

    /// Spend of every virtual key and team in `w` over every replica (see
    /// [`super::spend::spend`]).
    pub async fn spend(&self, w: Window) -> Result<Spend, PgLogError> {
        const COLS: &str = "count(*), count(error),
            coalesce(sum(tokens_in), 0)::BIGINT, coalesce(sum(tokens_out), 0)::BIGINT,
            coalesce(sum(cost_usd), 0.0)::FLOAT8";
        let keys_sql = format!(
            "SELECT virtual_key, max(client), max(team), {COLS} FROM aigw_requests
             WHERE ts_ms >= $1 AND ts_ms < $2 AND virtual_key IS NOT NULL AND origin = 'client'
             GROUP BY virtual_key ORDER BY 8 DESC, 4 DESC LIMIT $3"
        );
        let teams_sql = format!(
            "SELECT NULL::TEXT, NULL::TEXT, team, {COLS} FROM aigw_requests
             WHERE ts_ms >= $1 AND ts_ms < $2 AND team IS NOT NULL AND origin = 'client'
             GROUP BY team ORDER BY 8 DESC, 4 DESC LIMIT $3"
        );
        let max = i64::from(MAX_ROWS);
        let (keys, teams) = timed(async {
            let c = self.pg.client().await.map_err(err)?;
            let k = c
                .query(keys_sql.as_str(), &[&w.from_ms, &w.to_ms, &max])
                .await
                .map_err(err)?;
            let t = c
                .query(teams_sql.as_str(), &[&w.from_ms, &w.to_ms, &max])
                .await
                .map_err(err)?;
            Ok::<_, PgLogError>((k, t))
        })
        .await?;
        let conv = |rows: &[tokio_postgres::Row], key: bool| -> Result<Vec<SpendRow>, PgLogError> {
            rows.iter()
                .map(|r| {
                    let n = |i: usize| -> Result<u64, PgLogError> {
                        Ok(r.try_get::<_, i64>(i).map_err(err)?.max(0) as u64)
                    };
                    Ok(SpendRow {
                        virtual_key: if key {
                            r.try_get(0).map_err(err)?
                        } else {
                            None
                        },
                        name: if key {
                            r.try_get(1).map_err(err)?
                        } else {
                            None
                        },
                        team: r.try_get(2).map_err(err)?,
                        requests: n(3)?,
                        errors: n(4)?,
                        tokens_in: n(5)?,
                        tokens_out: n(6)?,
                        cost_usd: r.try_get(7).map_err(err)?,
                    })
                })
                .collect()
        };
        Ok(Spend {
            from_ms: w.from_ms,
            to_ms: w.to_ms,
            keys: conv(&keys, true)?,
            teams: conv(&teams, false)?,
        })
    }
}

fn row(r: &tokio_postgres::Row) -> Result<RequestRow, tokio_postgres::Error> {
    let u = |v: Option<i64>| v.map(|n| n.max(0) as u64);
    Ok(RequestRow {
        id: r.try_get(0)?,
        time_ms: r.try_get(1)?,
        client: r.try_get(2)?,
        endpoint: r.try_get(3)?,
        requested_model: r.try_get(4)?,
        provider: r.try_get(5)?,
        forwarded_model: r.try_get(6)?,
        route_mode: r.try_get(7)?,
        stream: r.try_get(8)?,
        attempts: r.try_get::<_, i32>(9)?.max(0) as u32,
        status: r.try_get::<_, i32>(10)?.clamp(0, i32::from(u16::MAX)) as u16,
        error: r.try_get(11)?,
        latency_ms: r.try_get(12)?,
        ttft_ms: r.try_get(13)?,
        overhead_ms: r.try_get(14)?,
        tokens_in: u(r.try_get(15)?),
        tokens_out: u(r.try_get(16)?),
        tokens_estimated: r.try_get(17)?,
        cost_usd: r.try_get(18)?,
        cancelled: r.try_get(19)?,
        cache_read_tokens: u(r.try_get(21)?),
        cache_write_tokens: u(r.try_get(22)?),
        route: r.try_get(23)?,
        key_name: r.try_get(24)?,
    })
}

/// `WHERE` clauses with `$n` arguments.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Where {
    fn arg(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.args.push(Box::new(v));
        format!("${}", self.args.len())
    }

    fn eq(&mut self, col: &str, v: String) {
        let a = self.arg(v);
        self.clauses.push(format!("{col} = {a}"));
    }

    fn window(&mut self, w: Window) {
        let a = self.arg(w.from_ms);
        let b = self.arg(w.to_ms);
        self.clauses.push(format!("ts_ms >= {a} AND ts_ms < {b}"));
    }

    fn filter(&mut self, f: &Filter) {
        let route_col = match &f.route {
            Some(r) if r.contains('*') => "route",
            _ => "requested_model",
        };
        for (col, v) in [
            ("provider", &f.provider),
            ("forwarded_model", &f.model),
            (route_col, &f.route),
            ("client", &f.client),
        ] {
            if let Some(v) = v {
                self.eq(col, v.clone());
            }
        }
        match f.origin.as_deref() {
            Some("all") => {}
            Some(o) => self.eq("origin", o.to_string()),
            None => self.eq("origin", "client".into()),
        }
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let exact = self.arg(q.to_string());
            let like = self.arg(format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            ));
            let cols = [
                "requested_model",
                "forwarded_model",
                "provider",
                "route",
                "client",
                "endpoint",
                "error",
            ]
            .map(|c| format!("{c} ILIKE {like}"))
            .join(" OR ");
            self.clauses
                .push(format!("(request_id = {exact} OR {cols})"));
        }
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// Writes the queue's batches until `drain` fires, then what is left (for
/// at most [`DRAIN_FOR`]) and ends. A batch that fails stays in hand and is
/// tried again (backoff 100 ms doubling to [`RETRY_MAX`]).
pub(crate) async fn run_writer(
    log: PgLog,
    mut rx: mpsc::Receiver<RequestEvent>,
    drain: CancellationToken,
    dropped_failed: Counter,
) {
    let mut batch: Vec<RequestEvent> = Vec::with_capacity(BATCH);
    let mut backoff = Duration::from_millis(100);
    let mut failing_since: Option<Instant> = None;
    let mut drain_until: Option<Instant> = None;
    loop {
        if batch.is_empty() {
            let n = if drain_until.is_some() {
                rx.recv_many(&mut batch, BATCH).await
            } else {
                tokio::select! {
                    n = rx.recv_many(&mut batch, BATCH) => n,
                    () = drain.cancelled() => {
                        rx.close();
                        drain_until = Some(Instant::now() + DRAIN_FOR);
                        continue;
                    }
                }
            };
            if n == 0 {
                break;
            }
            if drain_until.is_none() && batch.len() < BATCH {
                tokio::select! {
                    () = tokio::time::sleep(super::writer::LINGER) => {},
                    () = drain.cancelled() => {},
                }
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
            }
        }
        let res = match drain_until {
            // At shutdown no try outlasts the drain time.
            Some(until) => {
                let left = until
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(100));
                tokio::time::timeout(left, log.insert(&batch))
                    .await
                    .unwrap_or_else(|_| Err(err("no answer before shutdown")))
            }
            None => log.insert(&batch).await,
        };
        match res {
            Ok(()) => {
                if let Some(t) = failing_since.take() {
                    tracing::warn!(
                        "request log (PostgreSQL): writes succeed again after {}s; the queued rows are written",
                        t.elapsed().as_secs()
                    );
                }
                batch.clear();
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                if failing_since.is_none() {
                    failing_since = Some(Instant::now());
                    tracing::error!(
                        "request log (PostgreSQL): {} row(s) not written yet: {e} (kept and retried; the queue fills meanwhile)",
                        batch.len()
                    );
                }
                if drain_until.is_some_and(|u| Instant::now() >= u) {
                    let mut left = batch.len() as u64;
                    batch.clear();
                    while let Ok(_e) = rx.try_recv() {
                        left += 1;
                    }
                    dropped_failed.inc_by(left);
                    tracing::error!(
                        "request log (PostgreSQL): {left} row(s) not written at shutdown: {e}"
                    );
                    break;
                }
                let wait = backoff;
                backoff = (backoff * 2).min(RETRY_MAX);
                if drain_until.is_some() {
                    tokio::time::sleep(wait).await;
                } else {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {},
                        () = drain.cancelled() => {},
                    }
                    if drain.is_cancelled() && drain_until.is_none() {
                        rx.close();
                        drain_until = Some(Instant::now() + DRAIN_FOR);
                    }
                }
            }
        }
    }
}

/// Deletes rows older than `telemetry.retention` at start and every
/// [`super::writer::RETENTION_EVERY`] (any replica may; they delete the
/// same rows). `max_db_bytes` does not apply here: size PostgreSQL for the
/// retention you set.
pub(crate) async fn run_retention(live: Arc<LiveRuntime>, log: PgLog, stop: CancellationToken) {
    loop {
        if let Some(age) = live.load().config.telemetry.retention {
            let before =
                crate::store::now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
            match log.expire(before).await {
                Ok(n) if n > 0 => tracing::info!(expired = n, "request log (PostgreSQL) retention"),
                Ok(_) => {}
                Err(e) => tracing::warn!("request log (PostgreSQL) retention failed: {e}"),
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(super::writer::RETENTION_EVERY) => {}
        }
    }
}
