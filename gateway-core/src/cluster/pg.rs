//! PostgreSQL for team mode (`[cluster] postgres_url`): a connection pool,
//! the embedded, versioned schema and a `LISTEN` task other parts subscribe
//! to.
//!
//! - **Pool**: `deadpool-postgres`, at most [`POOL_SIZE`] connections,
//!   created lazily (a replica starts while PostgreSQL is down). Each
//!   connection attempt is bounded by [`CONNECT_TIMEOUT`], each statement by
//!   [`STATEMENT_TIMEOUT`] (`statement_timeout`, set per session), waiting
//!   for a free connection by [`POOL_WAIT`].
//! - **TLS**: with `sslmode=require`, `verify-ca` or `verify-full` in the
//!   URL the connection uses rustls and the certificate is always checked
//!   against the platform's roots (as `verify-full`); `prefer` tries TLS
//!   the same way; no `sslmode` (or `disable`/`allow`) connects in plain
//!   text.
//! - **Schema**: [`MIGRATIONS`] are numbered steps, recorded in the
//!   `aigw_schema` table. Each runs in its own transaction under a
//!   transaction-level advisory lock ([`SCHEMA_LOCK`]), so replicas starting
//!   together apply each step once. A database whose schema is newer than
//!   this binary knows is refused ([`PgError::SchemaTooNew`]).
//! - **LISTEN**: one dedicated connection (not from the pool) listens on
//!   every channel subscribed with [`Pg::subscribe`]; it reconnects after a
//!   failure (every [`LISTEN_RETRY`]) and tells subscribers with
//!   [`PgEvent::Reconnected`] that they may have missed notifications.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt;
use tokio::sync::{Notify, broadcast};
use tokio_postgres::{AsyncMessage, config::SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_util::sync::CancellationToken;

use crate::config::{EngineUrl, POSTGRES_SCHEMES};
use crate::sync::LockExt;

/// Most pooled connections per replica.
pub const POOL_SIZE: usize = 16;
/// One connection attempt (TCP, TLS, authentication).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One statement (`statement_timeout`).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Waiting for a free pooled connection.
pub const POOL_WAIT: Duration = Duration::from_secs(5);
/// Between two attempts of the LISTEN connection to reconnect.
pub const LISTEN_RETRY: Duration = Duration::from_secs(1);
/// The LISTEN connection checks itself this often (`SELECT 1`), so that a
/// silently dropped connection is noticed.
pub const LISTEN_PING: Duration = Duration::from_secs(5);
/// Notifications buffered per subscriber; one that falls further behind
/// gets [`PgEvent::Reconnected`] (resync) instead of the ones it missed.
pub const EVENT_BUFFER: usize = 256;
/// The advisory lock key migrations run under ("aigwschm").
pub const SCHEMA_LOCK: i64 = 0x6169_6777_7363_686d;

/// A numbered schema step.
#[derive(Debug)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every step this binary knows, in order (V adds 2 and 3).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "config versions and audit",
        sql: MIGRATION_1,
    },
    Migration {
        version: 2,
        name: "virtual keys and spend",
        sql: crate::vkeys::pg::MIGRATION,
    },
    Migration {
        version: 3,
        name: "request log",
        sql: crate::telemetry::pg::MIGRATION,
    },
];

/// The schema version this binary expects.
pub fn schema_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Config versions and the audit log (the same columns as `config.db`,
/// see [`crate::store`]); `aigw_config_head` holds one row locked by
/// publishes so that versions stay a clean sequence.
const MIGRATION_1: &str = "
CREATE TABLE config_versions (
    id BIGSERIAL PRIMARY KEY,
    created_at_ms BIGINT NOT NULL,
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    message TEXT NOT NULL,
    toml TEXT NOT NULL,
    hash TEXT NOT NULL,
    diff TEXT NOT NULL,
    summary TEXT NOT NULL,
    replica TEXT NOT NULL
);
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    version_id BIGINT,
    detail TEXT NOT NULL,
    peer TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_at ON audit(at_ms);
CREATE TABLE audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_pruned_id BIGINT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE aigw_config_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    live_version BIGINT
);
INSERT INTO aigw_config_head (id, live_version) VALUES (1, NULL);
";

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("postgres_url: {0}")]
    Url(String),
    #[error("PostgreSQL TLS: {0}")]
    Tls(String),
    #[error("PostgreSQL: {0}")]
    Db(String),
    #[error(
        "the PostgreSQL schema is at version {found}, newer than this aigw knows ({known}): upgrade aigw"
    )]
    SchemaTooNew { found: i32, known: i32 },
}

impl PgError {
    /// A driver error in words that name the problem (unreachable,
    /// authentication, TLS, timeout); never the URL or a password.
    pub fn db(e: &tokio_postgres::Error) -> Self {
        if let Some(d) = e.as_db_error() {
            let code = d.code().code();
            let what = match code {
                "28P01" | "28000" => "authentication failed: ",
                "3D000" => "no such database: ",
                "57014" => "statement timed out: ",
                _ => "",
            };
            return Self::Db(format!("{what}{} ({code})", d.message()));
        }
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s.push_str(": ");
            s.push_str(&inner.to_string());
            src = inner.source();
        }
        Self::Db(s)
    }

    fn pool(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Self::db(&e),
            deadpool_postgres::PoolError::Timeout(t) => Self::Db(format!(
                "cannot reach the server ({t:?} timed out after {}s)",
                match t {
                    deadpool_postgres::TimeoutType::Wait => POOL_WAIT.as_secs(),
                    _ => CONNECT_TIMEOUT.as_secs(),
                }
            )),
            other => Self::Db(other.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::db(&e)
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgEvent {
    /// A `NOTIFY channel, 'payload'`.
    Notify { channel: String, payload: String },
    /// The LISTEN connection (re)connected, or this subscriber fell behind:
    /// notifications may have been missed, resync from the tables.
    Reconnected,
}

/// A subscription to some channels (see [`Pg::subscribe`]).
pub struct Subscription {
    channels: Vec<String>,
    rx: broadcast::Receiver<PgEvent>,
}

impl Subscription {
    /// The next event for one of this subscription's channels; `None` when
    /// the listener is gone (the gateway shuts down).
    pub async fn next(&mut self) -> Option<PgEvent> {
        loop {
            match self.rx.recv().await {
                Ok(PgEvent::Notify { channel, payload }) => {
                    if self.channels.contains(&channel) {
                        return Some(PgEvent::Notify { channel, payload });
                    }
                }
                Ok(PgEvent::Reconnected) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(PgEvent::Reconnected);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// The PostgreSQL side of a replica.
pub struct Pg {
    pool: Pool,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    migrated: AtomicBool,
    events: broadcast::Sender<PgEvent>,
    channels: Mutex<BTreeSet<String>>,
    channels_changed: Notify,
    listening: AtomicBool,
    /// The LISTEN connection is up (status, `aigw_cluster_engine_up`).
    up: AtomicBool,
    /// Why it last went down (never holds the URL).
    last_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg")
            .field("hosts", &self.config.get_hosts())
            .finish_non_exhaustive()
    }
}

/// The parsed connection settings of a URL (no connection made).
pub fn pg_config(url: &str) -> Result<tokio_postgres::Config, PgError> {
    let mut parsed = reqwest::Url::parse(url).map_err(|e| PgError::Url(e.to_string()))?;
    let mut mode = None;
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "sslmode" {
                mode = Some(v.to_string());
                None
            } else {
                Some((k.to_string(), v.to_string()))
            }
        })
        .collect();
    parsed.set_query(None);
    if !pairs.is_empty() {
        parsed.query_pairs_mut().extend_pairs(pairs);
    }
    let mut config: tokio_postgres::Config = parsed
        .as_str()
        .parse()
        .map_err(|e: tokio_postgres::Error| PgError::Url(e.to_string()))?;
    config.ssl_mode(match mode.as_deref() {
        None | Some("disable" | "allow") => SslMode::Disable,
        Some("prefer") => SslMode::Prefer,
        Some("require" | "verify-ca" | "verify-full") => SslMode::Require,
        Some(other) => {
            return Err(PgError::Url(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    });
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let options = format!(
        "{} -c statement_timeout={}",
        config.get_options().unwrap_or_default(),
        STATEMENT_TIMEOUT.as_millis()
    );
    config.options(options.trim());
    if config.get_application_name().is_none() {
        config.application_name("aigw");
    }
    Ok(config)
}

fn tls() -> Result<MakeRustlsConnect, PgError> {
    crate::upstream::tls_config()
        .map(MakeRustlsConnect::new)
        .map_err(|e| PgError::Tls(e.to_string()))
}

impl Pg {
    /// The pool for `[cluster] postgres_url`; connects lazily (nothing is
    /// reached here). Fails only on a bad URL or reference.
    pub fn open(url: &EngineUrl) -> Result<Self, PgError> {
        let secret = url
            .resolve(POSTGRES_SCHEMES)
            .map_err(|e| PgError::Url(e.to_string()))?;
        Self::from_url(secret.expose())
    }

    /// [`Self::open`] from a URL in hand (tests, `aigw cluster check`).
    pub fn from_url(url: &str) -> Result<Self, PgError> {
        let config = pg_config(url)?;
        let tls = tls()?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(1)))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| PgError::Db(e.to_string()))?;
        Ok(Self {
            pool,
            config,
            tls,
            migrated: AtomicBool::new(false),
            events: broadcast::channel(EVENT_BUFFER).0,
            channels: Mutex::new(BTreeSet::new()),
            channels_changed: Notify::new(),
            listening: AtomicBool::new(false),
            up: AtomicBool::new(false),
            last_error: Mutex::new(None),
        })
    }

    /// Whether the LISTEN connection is up: false before it first connects
    /// and while it reconnects.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Why PostgreSQL was last unreachable.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock_or_recover().clone()
    }

    /// A pooled connection with the schema migrated (the first call that
    /// reaches the server runs the migrations).
    pub async fn client(&self) -> Result<deadpool_postgres::Object, PgError> {
        let mut client = self.pool.get().await.map_err(PgError::pool)?;
        if !self.migrated.load(Ordering::Acquire) {
            migrate(&mut client).await?;
            self.migrated.store(true, Ordering::Release);
        }
        Ok(client)
    }

    /// A pooled connection, the schema untouched (`aigw cluster check`).
    pub async fn raw_client(&self) -> Result<deadpool_postgres::Object, PgError> {
        self.pool.get().await.map_err(PgError::pool)
    }

    /// Runs the pending migrations now.
    pub async fn migrate(&self) -> Result<i32, PgError> {
        let mut client = self.raw_client().await?;
        let v = migrate(&mut client).await?;
        self.migrated.store(true, Ordering::Release);
        Ok(v)
    }

    /// Events for `channels` (each 1-63 of `a-z`, `0-9`, `_`), from now on.
    /// The LISTEN task ([`Self::spawn_listener`]) listens on every channel
    /// any subscriber named.
    pub fn subscribe(&self, channels: &[&str]) -> Subscription {
        let rx = self.events.subscribe();
        let mut set = self.channels.lock_or_recover();
        for c in channels {
            assert!(valid_channel(c), "bad LISTEN channel name {c:?}");
            set.insert((*c).to_string());
        }
        drop(set);
        self.channels_changed.notify_one();
        Subscription {
            channels: channels.iter().map(|c| (*c).to_string()).collect(),
            rx,
        }
    }

    /// Starts the LISTEN task (once); it ends with `stop`.
    pub fn spawn_listener(
        self: &Arc<Self>,
        tasks: &tokio_util::task::TaskTracker,
        stop: CancellationToken,
    ) {
        if self.listening.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = Arc::clone(self);
        tasks.spawn(async move {
            let mut warned = false;
            loop {
                let res = me.listen_once(&stop).await;
                me.up.store(false, Ordering::Release);
                match res {
                    Ok(()) => return,
                    Err(e) => {
                        *me.last_error.lock_or_recover() = Some(e.to_string());
                        if !warned {
                            tracing::warn!(
                                "PostgreSQL LISTEN connection: {e}; retrying every {}s",
                                LISTEN_RETRY.as_secs()
                            );
                            warned = true;
                        }
                    }
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(LISTEN_RETRY) => {}
                }
            }
        });
    }

    /// One LISTEN connection, until it fails (`Err`) or `stop` (`Ok`).
    async fn listen_once(&self, stop: &CancellationToken) -> Result<(), PgError> {
        let (client, mut conn) = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            r = self.config.connect(self.tls.clone()) => r?,
        };
        let (ntx, mut nrx) = tokio::sync::mpsc::unbounded_channel();
        // Drives the connection; aborted when this (tracked) task returns.
        #[allow(clippy::disallowed_methods)]
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(m) = messages.next().await {
                match m {
                    Ok(AsyncMessage::Notification(n)) => {
                        let _ = ntx.send(PgEvent::Notify {
                            channel: n.channel().to_string(),
                            payload: n.payload().to_string(),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => return PgError::db(&e),
                }
            }
            PgError::Db("the LISTEN connection closed".into())
        });
        let _abort = AbortOnDrop(driver.abort_handle());
        let mut driver = driver;
        let mut listening = BTreeSet::new();
        let mut ping = tokio::time::interval(LISTEN_PING);
        ping.tick().await;
        let mut first = true;
        loop {
            let wanted = self.channels.lock_or_recover().clone();
            let new: Vec<_> = wanted.difference(&listening).cloned().collect();
            if !new.is_empty() {
                let sql: String = new.iter().map(|c| format!("LISTEN \"{c}\";")).collect();
                client.batch_execute(&sql).await?;
                listening.extend(new);
            }
            if first {
                first = false;
                tracing::info!("PostgreSQL LISTEN connection up");
                self.up.store(true, Ordering::Release);
                let _ = self.events.send(PgEvent::Reconnected);
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = self.channels_changed.notified() => {}
                e = &mut driver => {
                    return Err(e.unwrap_or_else(|_| PgError::Db("the LISTEN task ended".into())));
                }
                n = nrx.recv() => {
                    if let Some(n) = n {
                        let _ = self.events.send(n);
                    }
                }
                _ = ping.tick() => {
                    tokio::time::timeout(STATEMENT_TIMEOUT, client.simple_query("SELECT 1"))
                        .await
                        .map_err(|_| PgError::Db("the LISTEN connection stopped answering".into()))??;
                }
            }
        }
    }

    /// Sends `NOTIFY channel, payload` (outside any transaction).
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), PgError> {
        let client = self.client().await?;
        client
            .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
            .await?;
        Ok(())
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn valid_channel(c: &str) -> bool {
    (1..=63).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS aigw_schema (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// The schema version a database is at (0: none yet), without changing it.
pub async fn current_schema(client: &tokio_postgres::Client) -> Result<i32, PgError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('aigw_schema') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: Option<i32> = client
        .query_one("SELECT max(version) FROM aigw_schema", &[])
        .await?
        .get(0);
    Ok(v.unwrap_or(0))
}

/// Applies every pending step of [`MIGRATIONS`], each in a transaction
/// under [`SCHEMA_LOCK`]; returns the version reached.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<i32, PgError> {
    let known = schema_version();
    let mut at = 0;
    for m in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await?;
        tx.batch_execute(SCHEMA_TABLE).await?;
        let current: i32 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM aigw_schema", &[])
            .await?
            .get(0);
        if current > known {
            return Err(PgError::SchemaTooNew {
                found: current,
                known,
            });
        }
        if current >= m.version {
            tx.commit().await?;
            at = current;
            continue;
        }
        tx.batch_execute(m.sql).await.map_err(|e| {
            PgError::Db(format!(
                "schema step {} ({}): {}",
                m.version,
                m.name,
                PgError::db(&e)
            ))
        })?;
        tx.execute(
            "INSERT INTO aigw_schema (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            version = m.version,
            "PostgreSQL schema: applied step {} ({})",
            m.version,
            m.name
        );
        at = m.version;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_sslmode_and_bounds() {
        let c = pg_config("postgres://u@db.internal:5433/gw?sslmode=verify-full").unwrap();
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        assert_eq!(c.get_ports(), &[5433]);
        assert_eq!(c.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert!(c.get_options().unwrap().contains("statement_timeout=10000"));
        let c = pg_config("postgres://u@db/gw").unwrap();
        assert_eq!(c.get_ssl_mode(), SslMode::Disable);
        let e = pg_config("postgres://u@db/gw?sslmode=sometimes").unwrap_err();
        assert!(e.to_string().contains("sslmode"), "{e}");
        assert!(valid_channel("aigw_config") && !valid_channel("a\"b") && !valid_channel(""));
    }
}
