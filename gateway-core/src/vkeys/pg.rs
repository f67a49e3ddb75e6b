//! Virtual keys and their spend in PostgreSQL (team mode, `[cluster]
//! postgres_url`): the [`KeyBackend`] every replica shares. Keys made,
//! rotated or revoked on any replica are written here and announced with
//! `NOTIFY aigw_keys, '<id>'`; each replica still checks requests against
//! its in-memory map (no database read per request) and re-reads the keys
//! named in a notification ([`run_sync`]), and every key every
//! [`POLL_EVERY`] in case a notification was missed (PostgreSQL restarted,
//! the listener reconnecting).
//!
//! Spend: each replica adds what it spent since its last flush to the row
//! of the key and period (`spent_usd = spent_usd + delta`, one transaction,
//! rows locked in id order so concurrent flushes never deadlock) and reads
//! every key's total back, so its view includes the other replicas' spend
//! as of their last flush ([`crate::vkeys::FLUSH_EVERY`]).
//!
//! The trait is synchronous: these methods block on the runtime they were
//! made on and must be called off its async threads (the admin API, the
//! flusher and [`run_sync`] use the blocking pool).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cluster::pg::{Pg, PgEvent, Subscription};

use super::VirtualKeys;
use super::backend::{BackendError, KeyBackend, StoredKey, StoredSpend};

/// The notification channel of key changes; the payload is the key's id.
pub const CHANNEL: &str = "aigw_keys";
/// How often every key is re-read, whatever the notifications said.
pub const POLL_EVERY: Duration = Duration::from_secs(5);
/// The longest one statement (or transaction) of this store may take.
pub const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema step 2 (after the config versions and audit of step 1).
pub const MIGRATION: &str = "
CREATE TABLE aigw_virtual_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    old_hash TEXT,
    old_until_ms BIGINT,
    info TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE aigw_virtual_key_spend (
    id TEXT PRIMARY KEY,
    period_start_ms BIGINT NOT NULL,
    spent_usd DOUBLE PRECISION NOT NULL,
    updated_ms BIGINT NOT NULL
);
";

/// Keys in PostgreSQL, through the cluster's pool.
#[derive(Clone)]
pub struct PgKeyBackend {
    pg: Arc<Pg>,
    rt: tokio::runtime::Handle,
}

impl std::fmt::Debug for PgKeyBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgKeyBackend")
    }
}

fn pg_err(e: impl std::fmt::Display) -> BackendError {
    BackendError::Postgres(e.to_string())
}

fn row_key(r: &tokio_postgres::Row) -> Result<StoredKey, BackendError> {
    let info: String = r.try_get("info").map_err(pg_err)?;
    Ok(StoredKey {
        info: serde_json::from_str(&info)?,
        hash: r.try_get("hash").map_err(pg_err)?,
        old_hash: r.try_get("old_hash").map_err(pg_err)?,
        old_until_ms: r.try_get("old_until_ms").map_err(pg_err)?,
    })
}

impl PgKeyBackend {
    /// Must be made on the runtime the pool's connections run on.
    pub fn new(pg: Arc<Pg>) -> Self {
        Self {
            pg,
            rt: tokio::runtime::Handle::current(),
        }
    }

    /// Runs `f` to its end (at most [`OP_TIMEOUT`]) from a blocking thread.
    fn run<T>(&self, f: impl Future<Output = Result<T, BackendError>>) -> Result<T, BackendError> {
        self.rt.block_on(async {
            tokio::time::timeout(OP_TIMEOUT, f)
                .await
                .map_err(|_| pg_err(format!("no answer within {}s", OP_TIMEOUT.as_secs())))?
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, BackendError> {
        self.pg.client().await.map_err(pg_err)
    }
}

impl KeyBackend for PgKeyBackend {
    fn load(&self) -> Result<Vec<(StoredKey, Option<StoredSpend>)>, BackendError> {
        self.run(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT k.hash, k.old_hash, k.old_until_ms, k.info, s.period_start_ms, s.spent_usd
                     FROM aigw_virtual_keys k LEFT JOIN aigw_virtual_key_spend s ON s.id = k.id",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let start: Option<i64> = r.try_get("period_start_ms").map_err(pg_err)?;
                let spent: Option<f64> = r.try_get("spent_usd").map_err(pg_err)?;
                let spend = start.zip(spent).map(|(period_start_ms, spent_usd)| StoredSpend {
                    period_start_ms,
                    spent_usd,
                });
                out.push((row_key(r)?, spend));
            }
            Ok(out)
        })
    }

    fn put(&self, key: &StoredKey) -> Result<(), BackendError> {
        let info = serde_json::to_string(&key.info)?;
        self.run(async {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(pg_err)?;
            tx.execute(
                "INSERT INTO aigw_virtual_keys (id, hash, old_hash, old_until_ms, info, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, old_hash = excluded.old_hash,
                   old_until_ms = excluded.old_until_ms, info = excluded.info,
                   updated_ms = excluded.updated_ms",
                &[
                    &key.info.id,
                    &key.hash,
                    &key.old_hash,
                    &key.old_until_ms,
                    &info,
                    &crate::store::now_ms(),
                ],
            )
            .await
            .map_err(pg_err)?;
            // Delivered to every listener when the transaction commits.
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &key.info.id])
                .await
                .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)
        })
    }

    fn save_spend(&self, spend: &[(String, StoredSpend)]) -> Result<(), BackendError> {
        // Totals: only the single-store path calls this; team mode adds deltas.
        self.run(async {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(pg_err)?;
            for (id, s) in spend {
                tx.execute(
                    "INSERT INTO aigw_virtual_key_spend (id, period_start_ms, spent_usd, updated_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET period_start_ms = excluded.period_start_ms,
                       spent_usd = excluded.spent_usd, updated_ms = excluded.updated_ms",
                    &[id, &s.period_start_ms, &s.spent_usd, &crate::store::now_ms()],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.commit().await.map_err(pg_err)
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn add_spend(
        &self,
        deltas: &[(String, StoredSpend)],
    ) -> Result<Vec<(String, StoredSpend)>, BackendError> {
        let mut sorted: Vec<&(String, StoredSpend)> = deltas.iter().collect();
        // One lock order for every replica's transaction: no deadlock.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let ids: Vec<&str> = sorted.iter().map(|(id, _)| id.as_str()).collect();
        let starts: Vec<i64> = sorted.iter().map(|(_, s)| s.period_start_ms).collect();
        let spent: Vec<f64> = sorted.iter().map(|(_, s)| s.spent_usd).collect();
        self.run(async {
            let c = self.client().await?;
            if !ids.is_empty() {
                c.execute(
                    "INSERT INTO aigw_virtual_key_spend AS s (id, period_start_ms, spent_usd, updated_ms)
                     SELECT d.id, d.start, d.spent, $4
                     FROM unnest($1::text[], $2::bigint[], $3::float8[]) AS d(id, start, spent)
                     ORDER BY d.id
                     ON CONFLICT (id) DO UPDATE SET
                       spent_usd = CASE
                         WHEN s.period_start_ms = excluded.period_start_ms
                           THEN s.spent_usd + excluded.spent_usd
                         WHEN s.period_start_ms < excluded.period_start_ms THEN excluded.spent_usd
                         ELSE s.spent_usd END,
                       period_start_ms = GREATEST(s.period_start_ms, excluded.period_start_ms),
                       updated_ms = excluded.updated_ms",
                    &[&ids, &starts, &spent, &crate::store::now_ms()],
                )
                .await
                .map_err(pg_err)?;
            }
            let rows = c
                .query(
                    "SELECT id, period_start_ms, spent_usd FROM aigw_virtual_key_spend",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get::<_, String>(0).map_err(pg_err)?,
                        StoredSpend {
                            period_start_ms: r.try_get(1).map_err(pg_err)?,
                            spent_usd: r.try_get(2).map_err(pg_err)?,
                        },
                    ))
                })
                .collect()
        })
    }

    fn fetch(&self, ids: Option<&[String]>) -> Result<Vec<StoredKey>, BackendError> {
        self.run(async {
            let c = self.client().await?;
            let rows = match ids {
                Some(ids) => {
                    c.query(
                        "SELECT hash, old_hash, old_until_ms, info FROM aigw_virtual_keys
                         WHERE id = ANY($1)",
                        &[&ids],
                    )
                    .await
                }
                None => {
                    c.query(
                        "SELECT hash, old_hash, old_until_ms, info FROM aigw_virtual_keys",
                        &[],
                    )
                    .await
                }
            }
            .map_err(pg_err)?;
            rows.iter().map(row_key).collect()
        })
    }
}

/// Keeps `keys` in step with the shared store: re-reads the key each
/// notification on [`CHANNEL`] names, every key when the listener
/// reconnected (notifications may have been missed), and every key every
/// [`POLL_EVERY`], until `stop`.
pub async fn run_sync(keys: Arc<VirtualKeys>, mut sub: Subscription, stop: CancellationToken) {
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut open = true;
    loop {
        let ids: Option<Vec<String>> = tokio::select! {
            () = stop.cancelled() => break,
            _ = poll.tick() => None,
            ev = sub.next(), if open => match ev {
                None => { open = false; continue; }
                Some(PgEvent::Notify { payload, .. }) if !payload.is_empty() => Some(vec![payload]),
                Some(_) => None,
            },
        };
        let k = keys.clone();
        let res = tokio::task::spawn_blocking(move || k.refresh(ids.as_deref())).await;
        match res {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("virtual keys: cannot re-read the shared keys: {e}"),
            Err(e) => tracing::warn!("virtual keys: re-read task: {e}"),
        }
    }
}
