//! The request log in SQLite (`telemetry.db` in the data dir), WAL mode so
//! chart queries read while the writer writes. One row per request in
//! `requests`, its upstream attempts in `attempts`, and — only with
//! `telemetry.store_bodies` — redacted, capped bodies in `bodies`.
//! Retention deletes by age, then oldest first until the size cap holds.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use super::query::Rec;
use super::redact::prepare_body;
use super::{RequestEvent, unix_ms};
use crate::sync::LockExt;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("telemetry database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("telemetry database {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("telemetry database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("telemetry database task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Query(#[from] super::query::QueryError),
}

/// Bump with a migration when the schema changes.
const SCHEMA_VERSION: i64 = 8;

/// The schema this binary writes (for backups: `aigw restore` refuses newer).
pub fn schema_version() -> i64 {
    SCHEMA_VERSION
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id               INTEGER PRIMARY KEY,
    request_id       TEXT NOT NULL UNIQUE,
    ts_ms            INTEGER NOT NULL,
    client           TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    requested_model  TEXT NOT NULL,
    provider         TEXT,
    forwarded_model  TEXT,
    route_mode       TEXT,
    stream           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    status           INTEGER NOT NULL,
    error            TEXT,
    latency_ms       REAL NOT NULL,
    ttft_ms          REAL,
    overhead_ms      REAL NOT NULL,
    tokens_in        INTEGER,
    tokens_out       INTEGER,
    tokens_estimated INTEGER NOT NULL,
    cost_usd         REAL,
    cancelled        INTEGER NOT NULL,
    origin           TEXT NOT NULL DEFAULT 'client',
    cache_read_tokens  INTEGER,
    cache_write_tokens INTEGER,
    route              TEXT,
    key_name           TEXT,
    virtual_key        TEXT,
    team               TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts_ms);
CREATE TABLE IF NOT EXISTS attempts (
    request   INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    n         INTEGER NOT NULL,
    provider  TEXT NOT NULL,
    model     TEXT NOT NULL,
    status    INTEGER,
    error     TEXT,
    latency_ms REAL NOT NULL,
    key_name  TEXT,
    PRIMARY KEY (request, n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bodies (
    request  INTEGER PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
    request_body  TEXT,
    response_body TEXT
);
";

/// How long and how much the log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Rows older than this go; `None` keeps them until the size cap bites.
    pub max_age: Option<Duration>,
    /// Bytes of live pages the database may hold.
    pub max_bytes: u64,
}

/// What one retention pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    pub expired: u64,
    pub over_size: u64,
    pub used_bytes: u64,
}

/// Handle to the log: one writer connection (the writer task and retention
/// take turns on it) and a small pool of read connections for queries.
#[derive(Debug, Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Hourly rollups of committed rows, stored every few seconds (locked
    /// after `writer`).
    hours: Mutex<super::rollup::Held>,
}

/// How long a connection waits for another's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows deleted per transaction by retention, so the writer is not held up long.
const DELETE_CHUNK: i64 = 1_000;
/// Longest pause retention takes between two turns on the writer connection.
const MAX_PAUSE: Duration = Duration::from_millis(250);
/// Most rows one step of the size cap deletes (then it measures again).
const OVER_SIZE_STEP: i64 = 5_000;
/// Pages returned to the file system per turn on the writer connection.
const VACUUM_STEP: i64 = 256;

impl Db {
    /// Opens (creating if needed, owner-only: it may hold prompts) the log
    /// at `path`, to write it: the hourly rollups a process that stopped
    /// still held are added (one process writes a log at a time).
    pub fn open(path: &Path) -> Result<Self, DbError> {
        Self::open_as(path, true)
    }

    /// Opens the log to read it (`aigw logs`), maybe while a gateway writes
    /// it: what that gateway holds is not touched (reads add those rows
    /// from the table, see [`super::rollup`]).
    pub fn open_to_read(path: &Path) -> Result<Self, DbError> {
        Self::open_as(path, false)
    }

    fn open_as(path: &Path, writer: bool) -> Result<Self, DbError> {
        crate::store::perms::private_sqlite(path).map_err(|source| DbError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let err = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // auto_vacuum only takes effect before the first table exists.
        conn.execute_batch(
            "PRAGMA auto_vacuum = INCREMENTAL;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;",
        )
        .map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version == 1 {
            // v2: `origin` tells client traffic from replays and benchmarks.
            conn.execute_batch(
                "ALTER TABLE requests ADD COLUMN origin TEXT NOT NULL DEFAULT 'client';",
            )
            .map_err(err)?;
        }
        if (1..3).contains(&version) {
            // v3: prompt-cache reads and writes, apart from tokens_in (which
            // counts them); NULL where the upstream did not say.
            conn.execute_batch(
                "ALTER TABLE requests ADD COLUMN cache_read_tokens INTEGER;
                 ALTER TABLE requests ADD COLUMN cache_write_tokens INTEGER;",
            )
            .map_err(err)?;
        }
        if (1..4).contains(&version) {
            // v4: `route`, the route that matched (a pattern such as `claude-*`).
            conn.execute_batch("ALTER TABLE requests ADD COLUMN route TEXT;")
                .map_err(err)?;
        }
        if (1..5).contains(&version) {
            // v5: `key_name`, the pool key (its reference, never its value).
            conn.execute_batch("ALTER TABLE requests ADD COLUMN key_name TEXT;")
                .map_err(err)?;
            // (`attempts` missing: SCHEMA below makes it with the column.)
            let attempts: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'attempts'",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            if attempts > 0 {
                conn.execute_batch("ALTER TABLE attempts ADD COLUMN key_name TEXT;")
                    .map_err(err)?;
            }
        }
        if (1..6).contains(&version) {
            // v6: `virtual_key` (the virtual key's id; `client` is its name)
            // and its `team`.
            conn.execute_batch(
                "ALTER TABLE requests ADD COLUMN virtual_key TEXT;
                 ALTER TABLE requests ADD COLUMN team TEXT;",
            )
            .map_err(err)?;
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(SCHEMA).map_err(err)?;
            conn.execute_batch(super::rollup::SCHEMA).map_err(err)?;
            conn.execute_batch(super::rollup::SCHEMA_HOURS)
                .map_err(err)?;
        }
        if (1..8).contains(&version) {
            // v7: per-minute rollups; v8: hourly rollups by dimension; both
            // computed from the rows already there (a unit's rows at a time).
            let tx = conn.unchecked_transaction().map_err(err)?;
            let mut rebuilt = Ok(());
            if version < 7 {
                rebuilt = super::rollup::rebuild_minutes(&tx);
            }
            rebuilt
                .and_then(|()| super::rollup::rebuild_hours(&tx))
                .map_err(|e| match e {
                    DbError::Sql(source) => err(source),
                    other => other,
                })?;
            tx.commit().map_err(err)?;
        }
        if version < SCHEMA_VERSION {
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(err)?;
        }
        // What a process that stopped still held goes into the hourly rollups.
        if writer {
            let tx = conn.unchecked_transaction().map_err(err)?;
            super::rollup::recover_hours(&tx).map_err(|e| match e {
                DbError::Sql(source) => err(source),
                other => other,
            })?;
            tx.commit().map_err(err)?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(conn),
                readers: Mutex::new(Vec::new()),
                hours: Mutex::default(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a read connection (blocking: call from a blocking thread).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, DbError>) -> Result<T, DbError> {
        let conn = match self.inner.readers.lock_or_recover().pop() {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.inner.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|source| DbError::Open {
                    path: self.inner.path.clone(),
                    source,
                })?;
                c.busy_timeout(BUSY_TIMEOUT)?;
                c
            }
        };
        let out = f(&conn);
        let mut pool = self.inner.readers.lock_or_recover();
        if pool.len() < 4 {
            pool.push(conn);
        }
        out
    }

    /// Runs a blocking read on the blocking pool.
    pub async fn read_async<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.read(f))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Inserts events in one transaction. Bodies are redacted and capped at
    /// `body_cap` bytes here, off the request path.
    pub fn insert(&self, events: &[RequestEvent], body_cap: usize) -> Result<(), DbError> {
        let mut conn = self.inner.writer.lock_or_recover();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let hours = {
            let mut req = tx.prepare_cached(
                "INSERT OR IGNORE INTO requests (request_id, ts_ms, client, endpoint,
                    requested_model, provider, forwarded_model, route_mode, stream, attempts,
                    status, error, latency_ms, ttft_ms, overhead_ms, tokens_in, tokens_out,
                    tokens_estimated, cost_usd, cancelled, origin, cache_read_tokens,
                    cache_write_tokens, route, key_name, virtual_key, team)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                    ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
            )?;
            let mut att = tx.prepare_cached(
                "INSERT INTO attempts (request, n, provider, model, status, error, latency_ms,
                    key_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut bod = tx.prepare_cached(
                "INSERT INTO bodies (request, request_body, response_body) VALUES (?1, ?2, ?3)",
            )?;
            let mut pending = super::rollup::Pending::default();
            for e in events {
                let n = req.execute(params![
                    e.request_id,
                    unix_ms(e.time),
                    e.client,
                    e.endpoint,
                    e.requested_model,
                    e.provider,
                    e.forwarded_model,
                    e.route_mode.map(|m| m.as_str()),
                    e.stream,
                    e.attempts.len() as i64,
                    e.status,
                    e.error,
                    e.latency_ms,
                    e.ttft_ms,
                    e.overhead_ms,
                    e.tokens_in.map(|t| t as i64),
                    e.tokens_out.map(|t| t as i64),
                    e.tokens_estimated,
                    e.cost_usd,
                    e.cancelled,
                    e.origin.as_str(),
                    e.cache_read_tokens.map(|t| t as i64),
                    e.cache_write_tokens.map(|t| t as i64),
                    e.route,
                    e.attempts.last().and_then(|a| a.key.as_deref()),
                    e.virtual_key,
                    e.team,
                ])?;
                if n == 0 {
                    continue; // a duplicate request id: keep the first
                }
                let keys = super::rollup::Keys {
                    provider: e.provider.as_deref(),
                    model: e.forwarded_model.as_deref(),
                    requested_model: &e.requested_model,
                    route: e.route.as_deref(),
                    client: &e.client,
                };
                pending.add(
                    unix_ms(e.time),
                    e.origin.as_str(),
                    &keys,
                    &Rec {
                        error: e.error.as_deref(),
                        latency_ms: e.latency_ms,
                        ttft_ms: e.ttft_ms,
                        tokens_in: e.tokens_in.map(|t| t as i64),
                        tokens_out: e.tokens_out.map(|t| t as i64),
                        cost_usd: e.cost_usd,
                        route_mode: e.route_mode.map(|m| m.as_str()),
                        attempts: e.attempts.len() as i64,
                        cancelled: e.cancelled,
                        status: e.status,
                        cache_read_tokens: e.cache_read_tokens.map(|t| t as i64),
                        cache_write_tokens: e.cache_write_tokens.map(|t| t as i64),
                    },
                );
                let id = tx.last_insert_rowid();
                for (i, a) in e.attempts.iter().enumerate() {
                    att.execute(params![
                        id,
                        i as i64,
                        a.provider,
                        a.model,
                        a.status,
                        a.error,
                        a.latency_ms,
                        a.key
                    ])?;
                }
                if e.request_body.is_some() || e.response_body.is_some() {
                    let prep =
                        |b: &Option<bytes::Bytes>| b.as_ref().map(|b| prepare_body(b, body_cap));
                    bod.execute(params![id, prep(&e.request_body), prep(&e.response_body)])?;
                }
            }
            let hours = pending.take_hours();
            super::rollup::add_minutes(&tx, &pending)?;
            hours
        };
        let mut held = self.inner.hours.lock_or_recover();
        let store = held.due();
        if store {
            held.store(&tx, &hours)?;
        }
        tx.commit()?;
        if store {
            held.stored();
        } else {
            held.absorb(hours);
        }
        Ok(())
    }

    /// Stores the hourly rollups the writer holds (at shut-down; reads are
    /// exact without it, and the next open recovers them).
    pub fn store_held_rollups(&self) -> Result<(), DbError> {
        let mut conn = self.inner.writer.lock_or_recover();
        let mut held = self.inner.hours.lock_or_recover();
        if held.is_empty() {
            return Ok(());
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        held.store(&tx, &super::rollup::Pending::default())?;
        tx.commit()?;
        held.stored();
        Ok(())
    }

    /// Deletes rows older than `max_age`, then the oldest rows until the live
    /// pages fit in `max_bytes`, and gives the freed pages back to the OS.
    pub fn enforce_retention(
        &self,
        now: SystemTime,
        policy: Retention,
    ) -> Result<RetentionReport, DbError> {
        let mut report = RetentionReport::default();
        if let Some(age) = policy.max_age {
            let cutoff = unix_ms(now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH));
            loop {
                let turn = Instant::now();
                let n = self.delete_chunk("WHERE ts_ms < ?1", cutoff, DELETE_CHUNK)?;
                give_way(turn);
                report.expired += n;
                if n < DELETE_CHUNK as u64 {
                    break;
                }
            }
        }
        // Oldest first until the live pages fit, aiming 10 % under the cap.
        for _ in 0..50 {
            let used = self.used_bytes()?;
            report.used_bytes = used;
            if used <= policy.max_bytes {
                break;
            }
            // On a read connection: counting millions of rows must not hold
            // up the writer.
            let rows: i64 =
                self.read(|c| Ok(c.query_row("SELECT count(*) FROM requests", [], |r| r.get(0))?))?;
            if rows == 0 {
                break;
            }
            let target = policy.max_bytes as f64 * 0.9;
            let share = (1.0 - target / used as f64).clamp(0.01, 1.0);
            let mut left = ((rows as f64 * share).ceil() as i64).clamp(1, OVER_SIZE_STEP);
            while left > 0 {
                let k = left.min(DELETE_CHUNK);
                let turn = Instant::now();
                let gone = self.delete_chunk("", 0, k)?;
                give_way(turn);
                report.over_size += gone;
                left = if gone < k as u64 { 0 } else { left - k };
            }
        }
        if report.expired + report.over_size > 0 {
            // The rollups of the minutes now gone, and of the one cut through.
            let mut conn = self.inner.writer.lock_or_recover();
            let mut held = self.inner.hours.lock_or_recover();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            held.store(&tx, &super::rollup::Pending::default())?;
            super::rollup::trim(&tx)?;
            tx.commit()?;
            held.stored();
        }
        // Freed pages back to the file system, VACUUM_STEP pages per turn on
        // the writer connection, so the writer waits for one step at most.
        let mut last_free = i64::MAX;
        loop {
            let turn = Instant::now();
            let conn = self.inner.writer.lock_or_recover();
            let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            // (A log made without incremental auto-vacuum frees nothing.)
            if free == 0 || free >= last_free {
                break;
            }
            last_free = free;
            // Frees one page per step: run it to the end.
            let mut vacuum = conn.prepare(&format!("PRAGMA incremental_vacuum({VACUUM_STEP})"))?;
            let mut rows = vacuum.query([])?;
            while rows.next()?.is_some() {}
            drop(rows);
            drop(vacuum);
            drop(conn);
            give_way(turn);
        }
        {
            let conn = self.inner.writer.lock_or_recover();
            // A checkpoint that also truncates the WAL file.
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        report.used_bytes = self.used_bytes()?;
        Ok(report)
    }

    /// Deletes up to `limit` of the oldest rows matching `filter` (which may
    /// use `?1`); returns how many went.
    fn delete_chunk(&self, filter: &str, arg: i64, limit: i64) -> Result<u64, DbError> {
        let mut conn = self.inner.writer.lock_or_recover();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let sql = format!(
            "DELETE FROM requests WHERE id IN
               (SELECT id FROM requests {filter} ORDER BY ts_ms, id LIMIT {limit})"
        );
        let n = if filter.contains("?1") {
            tx.execute(&sql, [arg])?
        } else {
            tx.execute(&sql, [])?
        };
        tx.commit()?;
        Ok(n as u64)
    }

    /// Bytes in pages holding data (the file may be larger until vacuumed).
    pub fn used_bytes(&self) -> Result<u64, DbError> {
        let conn = self.inner.writer.lock_or_recover();
        let (pages, free, size): (i64, i64, i64) = conn.query_row(
            "SELECT p.page_count, f.freelist_count, s.page_size
             FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(((pages - free).max(0) * size) as u64)
    }
}

/// Retention's turn on the writer connection began at `turn` and has ended:
/// sleeps as long as it took (at most [`MAX_PAUSE`]), so retention holds the
/// connection at most half the time. Without the pause the retention thread
/// takes the lock again at once (a mutex is not fair) and a long prune
/// starved the writer for seconds (bench/results/scale.md).
fn give_way(turn: Instant) {
    std::thread::sleep(turn.elapsed().min(MAX_PAUSE));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `requests` table as schema versions 1 (no `origin`) and 2 made it.
    fn old_log(path: &Path, version: i64) {
        let conn = Connection::open(path).unwrap();
        let origin = if version >= 2 {
            ",\n    origin TEXT NOT NULL DEFAULT 'client'"
        } else {
            ""
        };
        conn.execute_batch(&format!(
            "CREATE TABLE requests (
                id INTEGER PRIMARY KEY, request_id TEXT NOT NULL UNIQUE, ts_ms INTEGER NOT NULL,
                client TEXT NOT NULL, endpoint TEXT NOT NULL, requested_model TEXT NOT NULL,
                provider TEXT, forwarded_model TEXT, route_mode TEXT, stream INTEGER NOT NULL,
                attempts INTEGER NOT NULL, status INTEGER NOT NULL, error TEXT,
                latency_ms REAL NOT NULL, ttft_ms REAL, overhead_ms REAL NOT NULL,
                tokens_in INTEGER, tokens_out INTEGER, tokens_estimated INTEGER NOT NULL,
                cost_usd REAL, cancelled INTEGER NOT NULL{origin});
             INSERT INTO requests (request_id, ts_ms, client, endpoint, requested_model, stream,
                attempts, status, latency_ms, overhead_ms, tokens_in, tokens_out,
                tokens_estimated, cancelled)
             VALUES ('old', 1, 'c', 'chat_completions', 'm', 0, 1, 200, 1.0, 0.1, 5, 6, 0, 0);
             PRAGMA user_version = {version};"
        ))
        .unwrap();
    }

    #[test]
    fn version_1_and_2_logs_gain_the_cache_columns() {
        for version in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.db");
            old_log(&path, version);
            let db = Db::open(&path).unwrap();
            let mut e = RequestEvent::new(
                "new".into(),
                SystemTime::now(),
                "c".into(),
                "messages",
                "m".into(),
                super::super::Origin::Client,
            );
            e.cache_read_tokens = Some(900);
            e.cache_write_tokens = Some(100);
            db.insert(&[e], 1024).unwrap();
            let got: Vec<(String, Option<i64>, Option<i64>, String)> = db
                .read(|c| {
                    let mut s = c.prepare(
                        "SELECT request_id, cache_read_tokens, cache_write_tokens, origin
                         FROM requests ORDER BY id",
                    )?;
                    let rows = s
                        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(rows)
                })
                .unwrap();
            assert_eq!(
                got,
                [
                    ("old".into(), None, None, "client".into()),
                    ("new".into(), Some(900), Some(100), "client".into())
                ],
                "from version {version}"
            );
            let v: i64 = db
                .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
                .unwrap();
            assert_eq!(v, SCHEMA_VERSION);
            drop(db);
            // opening again migrates nothing twice
            Db::open(&path).unwrap();
        }
    }

    /// Inserts made while a prune of many chunks runs all go in, and the
    /// prune takes only the rows past the age (the pauses between its
    /// chunks are for the writer: bench/scale.sh measures what they buy).
    #[test]
    fn inserts_made_during_a_long_prune_all_go_in() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let old = SystemTime::now() - Duration::from_secs(7200);
        let ev = |id: String, at: SystemTime| {
            RequestEvent::new(
                id,
                at,
                "c".into(),
                "chat_completions",
                "m".into(),
                super::super::Origin::Client,
            )
        };
        // Eight chunks of old rows.
        let rows: Vec<RequestEvent> = (0..8 * DELETE_CHUNK)
            .map(|i| ev(format!("old-{i}"), old))
            .collect();
        db.insert(&rows, 1024).unwrap();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (db, done) = (db.clone(), done.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    db.insert(&[ev(format!("new-{i}"), SystemTime::now())], 1024)
                        .unwrap();
                    i += 1;
                }
                i
            })
        };
        let report = db
            .enforce_retention(
                SystemTime::now(),
                Retention {
                    max_age: Some(Duration::from_secs(3600)),
                    max_bytes: u64::MAX,
                },
            )
            .unwrap();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let inserted: i64 = writer.join().unwrap();
        assert_eq!(report.expired, 8 * DELETE_CHUNK as u64);
        let (left, new): (i64, i64) = db
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*), count(*) FILTER (WHERE request_id LIKE 'new-%') FROM requests",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .unwrap();
        assert!(inserted > 0);
        assert_eq!((left, new), (inserted, inserted));
    }
}
