//! The config store in PostgreSQL (`[cluster] postgres_url`): config
//! versions and the audit log's hash chain shared by every replica, in the
//! tables of migration 1 ([`crate::cluster::pg`]). [`super::ConfigStore`]
//! hands its version and audit calls here when a replica runs in team mode;
//! the local `config.db` keeps the rest (virtual keys until they move,
//! backups).
//!
//! - A version is inserted with its audit row in one transaction that also
//!   locks the one row of `aigw_config_head` (publishes on several replicas
//!   queue there: ids stay a clean sequence, none is lost), moves the head
//!   to it and sends `NOTIFY aigw_config, '<id>'` — delivered by PostgreSQL
//!   only when the transaction commits.
//! - Audit rows are chained as in [`super::chain`] under a transaction-level
//!   advisory lock ([`AUDIT_LOCK`]), so two replicas never link to the same
//!   tail.
//! - The store's callers are synchronous (rusqlite's shape): the work runs
//!   on a runtime of its own (one thread, [`PgConfigStore::new`]) and the
//!   caller waits for it, at most for the pool's and statements' bounds.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::GenericClient;

use super::chain::{self, StoredRow};
use super::{AuditEntry, NewAudit, NewVersion, StoreError, Version, now_ms};
use crate::cluster::pg::{Pg, PgError};

/// The channel a publish notifies (payload: the new version's id).
pub const CONFIG_CHANNEL: &str = "aigw_config";
/// The advisory lock every audit insert takes ("aigwaudt").
pub const AUDIT_LOCK: i64 = 0x6169_6777_6175_6474;
/// How long a version's transaction may stay open waiting for the publish
/// that began it to commit (its file step); then it rolls back.
pub const PENDING_LIMIT: Duration = Duration::from_secs(30);

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        Self::Postgres(e.to_string())
    }
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Postgres(PgError::db(&e).to_string())
}

/// The PostgreSQL half of [`super::ConfigStore`].
pub struct PgConfigStore {
    pg: Arc<Pg>,
    replica: String,
    rt: tokio::runtime::Handle,
    /// Ends the runtime's thread when the store goes.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl std::fmt::Debug for PgConfigStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfigStore")
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

const VERSION_COLS: &str = "id, created_at_ms, source, actor, message, hash, diff, summary, toml";

fn version_row(r: &tokio_postgres::Row, with_toml: bool) -> Version {
    let summary: String = r.get(7);
    Version {
        id: r.get(0),
        created_at_ms: r.get(1),
        source: r.get(2),
        actor: r.get(3),
        message: r.get(4),
        hash: r.get(5),
        diff: r.get(6),
        summary: serde_json::from_str(&summary).unwrap_or(serde_json::Value::Null),
        toml: with_toml.then(|| r.get(8)),
    }
}

/// An audit row to append (owned: it crosses to the store's runtime).
struct AuditRow {
    at_ms: i64,
    actor: String,
    action: String,
    version_id: Option<i64>,
    detail: String,
    peer: String,
}

async fn tail_hash(c: &impl GenericClient) -> Result<String, tokio_postgres::Error> {
    if let Some(r) = c
        .query_opt("SELECT hash FROM audit ORDER BY id DESC LIMIT 1", &[])
        .await?
    {
        return Ok(r.get(0));
    }
    Ok(anchor(c).await?.map(|a| a.1).unwrap_or_default())
}

async fn anchor(c: &impl GenericClient) -> Result<Option<(i64, String)>, tokio_postgres::Error> {
    Ok(c.query_opt(
        "SELECT last_pruned_id, hash FROM audit_anchor WHERE id = 1",
        &[],
    )
    .await?
    .map(|r| (r.get(0), r.get(1))))
}

/// Appends `row` to the chain; call inside a transaction.
async fn insert_audit(
    c: &impl GenericClient,
    row: &AuditRow,
) -> Result<i64, tokio_postgres::Error> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await?;
    let prev = tail_hash(c).await?;
    let id: i64 = c
        .query_one(
            "INSERT INTO audit (at_ms, actor, action, version_id, detail, peer, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, '') RETURNING id",
            &[
                &row.at_ms,
                &row.actor,
                &row.action,
                &row.version_id,
                &row.detail,
                &row.peer,
                &prev,
            ],
        )
        .await?
        .get(0);
    let h = chain::link(
        &prev,
        id,
        row.at_ms,
        &row.actor,
        &row.action,
        row.version_id,
        &row.detail,
        Some(&row.peer),
    );
    c.execute("UPDATE audit SET hash = $1 WHERE id = $2", &[&h, &id])
        .await?;
    Ok(id)
}

/// The version's rows, the head moved, the notification queued (sent at
/// commit); `Err(newest)` instead when `only_first` and a version exists.
async fn insert_version(
    tx: &tokio_postgres::Transaction<'_>,
    only_first: bool,
    v: &Version,
    summary: &str,
    replica: &str,
    audit: &mut AuditRow,
) -> Result<Result<i64, Version>, StoreError> {
    tx.query_one(
        "SELECT live_version FROM aigw_config_head WHERE id = 1 FOR UPDATE",
        &[],
    )
    .await
    .map_err(pg_err)?;
    if only_first {
        let sql = format!("SELECT {VERSION_COLS} FROM config_versions ORDER BY id DESC LIMIT 1");
        if let Some(r) = tx.query_opt(&sql, &[]).await.map_err(pg_err)? {
            return Ok(Err(version_row(&r, true)));
        }
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO config_versions
               (created_at_ms, source, actor, message, toml, hash, diff, summary, replica)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &v.created_at_ms,
                &v.source,
                &v.actor,
                &v.message,
                &v.toml,
                &v.hash,
                &v.diff,
                &summary,
                &replica,
            ],
        )
        .await
        .map_err(pg_err)?
        .get(0);
    audit.version_id = Some(id);
    insert_audit(tx, audit).await.map_err(pg_err)?;
    tx.execute(
        "UPDATE aigw_config_head SET live_version = $1 WHERE id = 1",
        &[&id],
    )
    .await
    .map_err(pg_err)?;
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CONFIG_CHANNEL, &id.to_string()],
    )
    .await
    .map_err(pg_err)?;
    Ok(Ok(id))
}

/// A version inserted in a transaction still open on the store's runtime
/// (see [`super::ConfigStore::begin_version`]): `commit` ends it; dropped,
/// it rolls back.
pub struct PendingPg {
    commit:
        Option<tokio::sync::oneshot::Sender<std::sync::mpsc::SyncSender<Result<(), StoreError>>>>,
}

impl PendingPg {
    pub fn commit(mut self) -> Result<(), StoreError> {
        let Some(tx) = self.commit.take() else {
            return Err(StoreError::Postgres(
                "the version was already committed".into(),
            ));
        };
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        tx.send(done).map_err(|_| {
            StoreError::Postgres(format!(
                "the version's transaction ended before its commit (open longer than {}s?)",
                PENDING_LIMIT.as_secs()
            ))
        })?;
        wait.recv()
            .unwrap_or_else(|_| Err(StoreError::Postgres("the store's runtime stopped".into())))
    }
}

impl PgConfigStore {
    /// The store over `pg`; `replica` is recorded with each version.
    pub fn new(pg: Arc<Pg>, replica: String) -> Result<Self, StoreError> {
        let (htx, hrx) = std::sync::mpsc::sync_channel(1);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("aigw-pg-store".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = htx.send(Err(e));
                        return;
                    }
                };
                let _ = htx.send(Ok(rt.handle().clone()));
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| StoreError::Postgres(format!("cannot start the store's thread: {e}")))?;
        let rt = hrx
            .recv()
            .map_err(|_| StoreError::Postgres("the store's thread did not start".into()))?
            .map_err(|e| StoreError::Postgres(format!("cannot start the store's runtime: {e}")))?;
        Ok(Self {
            pg,
            replica,
            rt,
            _stop: stop,
        })
    }

    pub fn pg(&self) -> &Arc<Pg> {
        &self.pg
    }

    /// Runs `f` on the store's runtime and waits for it (from sync code,
    /// also on an async thread: the work never needs this thread).
    fn block<T: Send + 'static, F>(
        &self,
        f: impl FnOnce(Arc<Pg>) -> F + Send + 'static,
    ) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let pg = Arc::clone(&self.pg);
        self.rt.spawn(async move {
            let _ = tx.send(f(pg).await);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(StoreError::Postgres("the store's runtime stopped".into())))
    }

    pub fn latest(&self) -> Result<Option<Version>, StoreError> {
        self.block(|pg| async move {
            let c = pg.client().await?;
            let sql =
                format!("SELECT {VERSION_COLS} FROM config_versions ORDER BY id DESC LIMIT 1");
            Ok(c.query_opt(&sql, &[])
                .await
                .map_err(pg_err)?
                .map(|r| version_row(&r, true)))
        })
    }

    /// The newest version's id only (the poll fallback's cheap check).
    pub fn latest_id(&self) -> Result<Option<i64>, StoreError> {
        self.block(|pg| async move {
            let c = pg.client().await?;
            Ok(c.query_one("SELECT max(id) FROM config_versions", &[])
                .await
                .map_err(pg_err)?
                .get(0))
        })
    }

    pub fn get(&self, id: i64) -> Result<Option<Version>, StoreError> {
        self.block(move |pg| async move {
            let c = pg.client().await?;
            let sql = format!("SELECT {VERSION_COLS} FROM config_versions WHERE id = $1");
            Ok(c.query_opt(&sql, &[&id])
                .await
                .map_err(pg_err)?
                .map(|r| version_row(&r, true)))
        })
    }

    pub fn history(&self, limit: u32, before: Option<i64>) -> Result<Vec<Version>, StoreError> {
        self.block(move |pg| async move {
            let c = pg.client().await?;
            let sql = format!(
                "SELECT {VERSION_COLS} FROM config_versions WHERE id < $1 ORDER BY id DESC LIMIT $2"
            );
            let rows = c
                .query(&sql, &[&before.unwrap_or(i64::MAX), &i64::from(limit)])
                .await
                .map_err(pg_err)?;
            Ok(rows.iter().map(|r| version_row(r, false)).collect())
        })
    }

    /// Inserts a version and its audit row, moves the head and notifies,
    /// in a transaction left open until [`PendingPg::commit`]. With
    /// `only_first`, nothing is inserted when a version exists already (the
    /// newest is returned instead, with no pending transaction): replicas
    /// starting together on an empty database record one initial version.
    pub fn begin_version(
        &self,
        v: &NewVersion<'_>,
        a: &NewAudit<'_>,
        peer: &str,
        only_first: bool,
    ) -> Result<(Version, Option<PendingPg>), StoreError> {
        let at = now_ms();
        let mut version = v.at(at);
        let summary = v.summary.to_string();
        let audit = AuditRow {
            at_ms: at,
            actor: a.actor.into(),
            action: a.action.into(),
            version_id: None,
            detail: a.detail.to_string(),
            peer: peer.into(),
        };
        let replica = self.replica.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (commit_tx, commit_rx) =
            tokio::sync::oneshot::channel::<std::sync::mpsc::SyncSender<Result<(), StoreError>>>();
        let pg = Arc::clone(&self.pg);
        let v2 = version.clone();
        self.rt.spawn(async move {
            let mut audit = audit;
            let mut c = match pg.client().await {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.into()));
                    return;
                }
            };
            let tx = match tokio_postgres::Client::transaction(&mut c).await {
                Ok(tx) => tx,
                Err(e) => {
                    let _ = ready_tx.send(Err(pg_err(e)));
                    return;
                }
            };
            match insert_version(&tx, only_first, &v2, &summary, &replica, &mut audit).await {
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
                Ok(Err(existing)) => {
                    let _ = ready_tx.send(Ok(Err(existing)));
                }
                Ok(Ok(id)) => {
                    if ready_tx.send(Ok(Ok(id))).is_err() {
                        return;
                    }
                    match tokio::time::timeout(PENDING_LIMIT, commit_rx).await {
                        Ok(Ok(done)) => {
                            let _ = done.send(tx.commit().await.map_err(pg_err));
                        }
                        // dropped, or open too long: roll back
                        _ => {
                            let _ = tx.rollback().await;
                        }
                    }
                }
            }
        });
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err(StoreError::Postgres("the store's runtime stopped".into())))?;
        match ready {
            Err(existing) => Ok((existing, None)),
            Ok(id) => {
                version.id = id;
                Ok((
                    version,
                    Some(PendingPg {
                        commit: Some(commit_tx),
                    }),
                ))
            }
        }
    }

    pub fn audit_from(
        &self,
        peer: &str,
        actor: &str,
        action: &str,
        version_id: Option<i64>,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let row = AuditRow {
            at_ms: now_ms(),
            actor: actor.into(),
            action: action.into(),
            version_id,
            detail: detail.to_string(),
            peer: peer.into(),
        };
        self.block(move |pg| async move {
            let mut c = pg.client().await?;
            let tx = tokio_postgres::Client::transaction(&mut c)
                .await
                .map_err(pg_err)?;
            let id = insert_audit(&tx, &row).await.map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(id)
        })
    }

    /// [`super::ConfigStore::audit_counted`]: row `id`'s detail replaced
    /// when it is still the newest row, else a new row.
    pub fn audit_counted(
        &self,
        row: Option<i64>,
        peer: &str,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let new = AuditRow {
            at_ms: now_ms(),
            actor: actor.into(),
            action: action.into(),
            version_id: None,
            detail: detail.to_string(),
            peer: peer.into(),
        };
        self.block(move |pg| async move {
            let mut c = pg.client().await?;
            let tx = tokio_postgres::Client::transaction(&mut c)
                .await
                .map_err(pg_err)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                .await
                .map_err(pg_err)?;
            if let Some(id) = row {
                let r = tx
                    .query_opt(
                        "SELECT prev_hash, at_ms, actor, action, version_id, peer FROM audit
                         WHERE id = $1 AND id = (SELECT max(id) FROM audit)",
                        &[&id],
                    )
                    .await
                    .map_err(pg_err)?;
                if let Some(r) = r {
                    let (prev, at, actor, action, vid, peer): (
                        String,
                        i64,
                        String,
                        String,
                        Option<i64>,
                        Option<String>,
                    ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
                    let h = chain::link(
                        &prev,
                        id,
                        at,
                        &actor,
                        &action,
                        vid,
                        &new.detail,
                        peer.as_deref(),
                    );
                    tx.execute(
                        "UPDATE audit SET detail = $1, hash = $2 WHERE id = $3",
                        &[&new.detail, &h, &id],
                    )
                    .await
                    .map_err(pg_err)?;
                    tx.commit().await.map_err(pg_err)?;
                    return Ok(id);
                }
            }
            let id = insert_audit(&tx, &new).await.map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(id)
        })
    }

    pub fn verify_audit(&self) -> Result<chain::Verified, StoreError> {
        self.block(|pg| async move {
            let c = pg.client().await?;
            let mut walk = chain::Walk::new(anchor(client_of(&c)).await.map_err(pg_err)?);
            let rows = c
                .query(
                    "SELECT id, at_ms, actor, action, version_id, detail, peer, prev_hash, hash
                     FROM audit ORDER BY id",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            for r in rows {
                let row: StoredRow = (
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                );
                if !walk.step(&row, r.get(7), r.get(8)) {
                    break;
                }
            }
            Ok(walk.done())
        })
    }

    /// [`chain::prune`] on PostgreSQL.
    pub fn prune_audit(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        self.block(move |pg| async move {
            let mut c = pg.client().await?;
            let tx = tokio_postgres::Client::transaction(&mut c).await.map_err(pg_err)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                .await
                .map_err(pg_err)?;
            let last = tx
                .query_opt(
                    "SELECT id, hash FROM audit WHERE at_ms < $1
                       AND id < (SELECT max(id) FROM audit)
                     ORDER BY id DESC LIMIT 1",
                    &[&cutoff_ms],
                )
                .await
                .map_err(pg_err)?;
            let Some(r) = last else {
                return Ok(0);
            };
            let (id, hash): (i64, String) = (r.get(0), r.get(1));
            let n = tx
                .execute("DELETE FROM audit WHERE id <= $1", &[&id])
                .await
                .map_err(pg_err)?;
            tx.execute(
                "INSERT INTO audit_anchor (id, last_pruned_id, hash) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET last_pruned_id = excluded.last_pruned_id, hash = excluded.hash",
                &[&id, &hash],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    pub fn audit_log(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.block(move |pg| async move {
            let c = pg.client().await?;
            let rows = c
                .query(
                    "SELECT id, at_ms, actor, action, version_id, detail, peer, hash FROM audit
                     WHERE id < $1 ORDER BY id DESC LIMIT $2",
                    &[&before.unwrap_or(i64::MAX), &i64::from(limit)],
                )
                .await
                .map_err(pg_err)?;
            Ok(rows
                .iter()
                .map(|r| {
                    let detail: String = r.get(5);
                    AuditEntry {
                        id: r.get(0),
                        at_ms: r.get(1),
                        actor: r.get(2),
                        action: r.get(3),
                        version_id: r.get(4),
                        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                        peer: r.get(6),
                        hash: r.get(7),
                    }
                })
                .collect())
        })
    }
}

fn client_of(c: &deadpool_postgres::Object) -> &tokio_postgres::Client {
    c
}
