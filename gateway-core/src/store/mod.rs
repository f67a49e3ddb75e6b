//! The config store: every published config is a version in SQLite
//! (`config.db` in the data dir) with who, when, why, the full TOML, its
//! hash and its diff against the version before; plus an audit log of every
//! operator action (publish, rollback, rejected edits, key changes, logins).
//! A version is only ever written together with its audit entry, in one
//! transaction ([`ConfigStore::begin_version`]).
//!
//! - `perms`: owner-only modes for the data dir and its files.
//! - `chain`: the audit log's hash chain (each row hashes the one before;
//!   `aigw audit verify`) and its retention.

pub mod chain;
pub mod perms;
pub mod pg;

/// `PRAGMA user_version` of `config.db`: 2 adds the audit log's `peer`,
/// `prev_hash` and `hash` columns and the `audit_anchor` table; 3 the
/// virtual keys' tables (`virtual_keys`, `virtual_key_spend`, see
/// [`crate::vkeys::backend`]). `aigw
/// restore` refuses a backup whose store is newer than this binary knows.
pub const SCHEMA_VERSION: i64 = 3;

/// The store's file name in the data dir.
pub const CONFIG_DB: &str = "config.db";

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::sync::LockExt;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("config store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The shared store of team mode (`[cluster] postgres_url`).
    #[error("config store: {0}")]
    Postgres(String),
    #[error("config store {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// A stored config version.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub id: i64,
    pub created_at_ms: i64,
    /// `startup`, `file`, `cli`, `ui`, `api`, `rollback`, `profile`.
    pub source: String,
    pub actor: String,
    pub message: String,
    pub hash: String,
    /// Unified diff against the previous version (empty for the first).
    pub diff: String,
    /// JSON summary: providers/routes added, removed, changed (a
    /// `lifecycle::diff::DiffSummary` when written; `null` when the stored
    /// text does not parse).
    #[cfg_attr(test, ts(type = "Partial<import('./DiffSummary').DiffSummary> | null"))]
    pub summary: serde_json::Value,
    /// The full config text; left out of history pages.
    #[cfg_attr(test, ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toml: Option<String>,
}

pub struct NewVersion<'a> {
    pub source: &'a str,
    pub actor: &'a str,
    pub message: &'a str,
    pub toml: &'a str,
    pub hash: &'a str,
    pub diff: &'a str,
    pub summary: &'a serde_json::Value,
}

impl NewVersion<'_> {
    /// The version to store, made at `at_ms` (its id is set on insert).
    pub(crate) fn at(&self, at_ms: i64) -> Version {
        Version {
            id: 0,
            created_at_ms: at_ms,
            source: self.source.into(),
            actor: self.actor.into(),
            message: self.message.into(),
            hash: self.hash.into(),
            diff: self.diff.into(),
            summary: self.summary.clone(),
            toml: Some(self.toml.into()),
        }
    }
}

/// The audit entry written with a new version (its `version_id` is the
/// version's id).
pub struct NewAudit<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub detail: &'a serde_json::Value,
}

/// One operator action in the audit log.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    /// `publish`, `rollback`, `publish_rejected`, `file_rejected`,
    /// `key_set`, `key_delete`, `login`, `login_failed`.
    pub action: String,
    pub version_id: Option<i64>,
    /// What the action was about (its shape depends on `action`).
    #[cfg_attr(test, ts(type = "unknown"))]
    pub detail: serde_json::Value,
    /// The caller's IP address (`local` for the CLI, the file watcher and
    /// startup; `null` on rows written before store schema 2).
    pub peer: Option<String>,
    /// This row's link in the hash chain (hex SHA-256).
    pub hash: String,
}

#[derive(Debug)]
pub struct ConfigStore {
    /// Shared with the virtual keys' backend ([`ConfigStore::shared_conn`]).
    conn: std::sync::Arc<Mutex<Connection>>,
    /// When audit retention last ran (see [`chain::prune`]).
    last_prune_ms: std::sync::atomic::AtomicI64,
    /// `[audit] retention_days`; 0 keeps every row.
    retention_days: std::sync::atomic::AtomicU32,
    /// Team mode: versions and the audit log live in PostgreSQL
    /// ([`pg::PgConfigStore`]); this file keeps the rest.
    remote: Option<std::sync::Arc<pg::PgConfigStore>>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS config_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    message TEXT NOT NULL,
    toml TEXT NOT NULL,
    hash TEXT NOT NULL,
    diff TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    version_id INTEGER,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at_ms);
CREATE TABLE IF NOT EXISTS audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_pruned_id INTEGER NOT NULL,
    hash TEXT NOT NULL
);
";

impl ConfigStore {
    /// Opens (creating, owner-only) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        perms::private_sqlite(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        match Self::open_conn(path, false) {
            // The shared-memory index beside the file (`-shm`) needs a little
            // space: on a full disk, keep it in memory instead, so that the
            // gateway still starts and serves its committed config.
            Err(StoreError::Sql(e)) if no_room(&e) => {
                tracing::warn!(
                    "config store {}: {e}; opened in exclusive mode (is the disk full?): other processes cannot open it until aigw restarts",
                    path.display()
                );
                Self::init(Self::open_conn(path, true)?)
            }
            r => Self::init(r?),
        }
    }

    fn open_conn(path: &Path, exclusive: bool) -> Result<Connection, StoreError> {
        let conn = Connection::open(path)?;
        if exclusive {
            // Before the first access: no shared memory is ever set up.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Reads the schema: fails here, not later, when the disk is full.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
        Ok(conn)
    }

    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(crate::vkeys::backend::SCHEMA)?;
        chain::migrate(&conn)?;
        Ok(Self {
            conn: std::sync::Arc::new(Mutex::new(conn)),
            last_prune_ms: std::sync::atomic::AtomicI64::new(0),
            retention_days: std::sync::atomic::AtomicU32::new(0),
            remote: None,
        })
    }

    /// Keeps versions and the audit log in PostgreSQL from now on.
    pub fn with_remote(mut self, remote: std::sync::Arc<pg::PgConfigStore>) -> Self {
        self.remote = Some(remote);
        self
    }

    /// The PostgreSQL store, in team mode.
    pub fn remote(&self) -> Option<&std::sync::Arc<pg::PgConfigStore>> {
        self.remote.as_ref()
    }

    /// A consistent copy of the whole store in a new file (`VACUUM INTO`),
    /// taken while the store stays in use.
    pub fn copy_to(&self, dest: &Path) -> Result<(), StoreError> {
        self.conn()
            .execute("VACUUM INTO ?1", [dest.to_string_lossy()])?;
        Ok(())
    }

    /// The store's connection, for the virtual keys kept in the same file
    /// ([`crate::vkeys::SqliteBackend`]): one connection, so a store opened
    /// in exclusive mode (a full disk) serves them too.
    pub fn shared_conn(&self) -> std::sync::Arc<Mutex<Connection>> {
        self.conn.clone()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock_or_recover()
    }

    fn row(r: &rusqlite::Row<'_>, with_toml: bool) -> rusqlite::Result<Version> {
        let summary: String = r.get(7)?;
        Ok(Version {
            id: r.get(0)?,
            created_at_ms: r.get(1)?,
            source: r.get(2)?,
            actor: r.get(3)?,
            message: r.get(4)?,
            hash: r.get(5)?,
            diff: r.get(6)?,
            summary: serde_json::from_str(&summary).unwrap_or(serde_json::Value::Null),
            toml: if with_toml { Some(r.get(8)?) } else { None },
        })
    }

    const COLS: &'static str =
        "id, created_at_ms, source, actor, message, hash, diff, summary, toml";

    pub fn latest(&self) -> Result<Option<Version>, StoreError> {
        if let Some(r) = &self.remote {
            return r.latest();
        }
        let sql = format!(
            "SELECT {} FROM config_versions ORDER BY id DESC LIMIT 1",
            Self::COLS
        );
        Ok(self
            .conn()
            .query_row(&sql, [], |r| Self::row(r, true))
            .optional()?)
    }

    pub fn get(&self, id: i64) -> Result<Option<Version>, StoreError> {
        if let Some(r) = &self.remote {
            return r.get(id);
        }
        let sql = format!("SELECT {} FROM config_versions WHERE id = ?1", Self::COLS);
        Ok(self
            .conn()
            .query_row(&sql, [id], |r| Self::row(r, true))
            .optional()?)
    }

    /// Newest first, without the TOML bodies; `before` pages back.
    pub fn history(&self, limit: u32, before: Option<i64>) -> Result<Vec<Version>, StoreError> {
        if let Some(r) = &self.remote {
            return r.history(limit, before);
        }
        let sql = format!(
            "SELECT {} FROM config_versions WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            Self::COLS
        );
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], |r| {
            Self::row(r, false)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a version and its audit entry in one transaction.
    pub fn insert_version_audited(
        &self,
        v: &NewVersion<'_>,
        a: &NewAudit<'_>,
    ) -> Result<Version, StoreError> {
        self.begin_version(v, a)?.commit()
    }

    /// Inserts a version and its audit entry in a transaction left open:
    /// [`PendingVersion::commit`] makes both durable, dropping the pending
    /// version rolls both back. The store is locked meanwhile (publishes
    /// keep it for the few file operations between the two).
    pub fn begin_version(
        &self,
        v: &NewVersion<'_>,
        a: &NewAudit<'_>,
    ) -> Result<PendingVersion<'_>, StoreError> {
        if let Some(r) = &self.remote {
            let (version, pending) = r.begin_version(v, a, &chain::current_peer(), false)?;
            return Ok(PendingVersion {
                inner: Pending::Pg(pending),
                version,
                open: true,
            });
        }
        let at = now_ms();
        let conn = self.conn();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut pending = PendingVersion {
            inner: Pending::Sqlite(conn),
            open: true,
            version: v.at(at),
        };
        let Pending::Sqlite(conn) = &pending.inner else {
            unreachable!("a SQLite version");
        };
        // An error returns here and drops `pending`: both rows roll back.
        conn.execute(
            "INSERT INTO config_versions (created_at_ms, source, actor, message, toml, hash, diff, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![at, v.source, v.actor, v.message, v.toml, v.hash, v.diff, v.summary.to_string()],
        )?;
        let id = conn.last_insert_rowid();
        chain::insert(
            conn,
            &chain::Row {
                at_ms: at,
                actor: a.actor,
                action: a.action,
                version_id: Some(id),
                detail: &a.detail.to_string(),
                peer: &chain::current_peer(),
            },
        )?;
        pending.version.id = id;
        Ok(pending)
    }

    /// Records the first version, unless one exists: then the newest is
    /// returned and nothing is written (team mode: replicas starting
    /// together on an empty database record one).
    pub fn insert_first_version(
        &self,
        v: &NewVersion<'_>,
        a: &NewAudit<'_>,
    ) -> Result<Version, StoreError> {
        if let Some(r) = &self.remote {
            let (version, pending) = r.begin_version(v, a, &chain::current_peer(), true)?;
            if let Some(p) = pending {
                p.commit()?;
            }
            return Ok(version);
        }
        match self.latest()? {
            Some(v) => Ok(v),
            None => self.insert_version_audited(v, a),
        }
    }

    /// Appends an audit row; its peer is the one of the admin request being
    /// served ([`chain::with_peer`]), else `local`.
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        version_id: Option<i64>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.audit_from(&chain::current_peer(), actor, action, version_id, detail)
    }

    /// [`Self::audit`] with an explicit peer address.
    pub fn audit_from(
        &self,
        peer: &str,
        actor: &str,
        action: &str,
        version_id: Option<i64>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.maybe_prune();
        if let Some(r) = &self.remote {
            return r
                .audit_from(peer, actor, action, version_id, detail)
                .map(drop);
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        chain::insert(
            &tx,
            &chain::Row {
                at_ms: now_ms(),
                actor,
                action,
                version_id,
                detail: &detail.to_string(),
                peer,
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// An audit row that counts repeats (failed logins of one peer in one
    /// window): inserted when `row` is `None` (or names no row), else that
    /// row's detail replaced. Returns the row's id.
    ///
    /// Only the newest row is ever updated (its hash recomputed): once
    /// another row follows it, a repeat starts a new row, so the chain
    /// never changes behind its tail.
    pub fn audit_counted(
        &self,
        row: Option<i64>,
        peer: &str,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        if let Some(r) = &self.remote {
            return r.audit_counted(row, peer, actor, action, detail);
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let detail = detail.to_string();
        if let Some(id) = row
            && chain::update_tail_detail(&tx, id, &detail)?
        {
            tx.commit()?;
            return Ok(id);
        }
        let id = chain::insert(
            &tx,
            &chain::Row {
                at_ms: now_ms(),
                actor,
                action,
                version_id: None,
                detail: &detail,
                peer,
            },
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Walks the audit chain from its anchor (see [`chain::verify`]).
    pub fn verify_audit(&self) -> Result<chain::Verified, StoreError> {
        if let Some(r) = &self.remote {
            return r.verify_audit();
        }
        Ok(chain::verify(&self.conn())?)
    }

    /// Sets `[audit] retention_days` (0 keeps every row) and prunes now.
    pub fn set_audit_retention(&self, days: u32) -> Result<usize, StoreError> {
        use std::sync::atomic::Ordering;
        self.retention_days.store(days, Ordering::Relaxed);
        self.last_prune_ms.store(now_ms(), Ordering::Relaxed);
        self.prune_audit(days, now_ms())
    }

    /// Deletes rows older than `days` before `now_ms`, keeping the chain
    /// verifiable (see [`chain::prune`]). Returns how many went.
    pub fn prune_audit(&self, days: u32, now_ms: i64) -> Result<usize, StoreError> {
        if days == 0 {
            return Ok(0);
        }
        let cutoff = now_ms - i64::from(days) * 86_400_000;
        if let Some(r) = &self.remote {
            return r.prune_audit(cutoff);
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = chain::prune(&tx, cutoff)?;
        tx.commit()?;
        Ok(n)
    }

    /// Retention runs at most hourly, on the write path.
    fn maybe_prune(&self) {
        use std::sync::atomic::Ordering;
        let days = self.retention_days.load(Ordering::Relaxed);
        let now = now_ms();
        let last = self.last_prune_ms.load(Ordering::Relaxed);
        if days == 0 || now - last < 3_600_000 {
            return;
        }
        self.last_prune_ms.store(now, Ordering::Relaxed);
        if let Err(e) = self.prune_audit(days, now) {
            tracing::warn!("audit retention: {e}");
        }
    }

    pub fn audit_log(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        if let Some(r) = &self.remote {
            return r.audit_log(limit, before);
        }
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, at_ms, actor, action, version_id, detail, peer, hash FROM audit
             WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], |r| {
            let detail: String = r.get(5)?;
            Ok(AuditEntry {
                id: r.get(0)?,
                at_ms: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                version_id: r.get(4)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                peer: r.get(6)?,
                hash: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A version and its audit entry inserted in a still open transaction
/// (see [`ConfigStore::begin_version`]). Dropped uncommitted, it rolls back.
#[must_use = "dropping a pending version rolls it back"]
pub struct PendingVersion<'a> {
    inner: Pending<'a>,
    version: Version,
    open: bool,
}

enum Pending<'a> {
    Sqlite(MutexGuard<'a, Connection>),
    /// `None`: nothing to commit.
    Pg(Option<pg::PendingPg>),
}

impl PendingVersion<'_> {
    /// The version as it will be once committed (with its id).
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// Commits both rows; on failure neither is stored.
    pub fn commit(mut self) -> Result<Version, StoreError> {
        match &mut self.inner {
            Pending::Sqlite(conn) => conn.execute_batch("COMMIT")?,
            Pending::Pg(p) => {
                self.open = false;
                if let Some(p) = p.take() {
                    p.commit()?;
                }
            }
        }
        self.open = false;
        Ok(self.version.clone())
    }
}

impl Drop for PendingVersion<'_> {
    fn drop(&mut self) {
        // SQLite may have rolled back already (a full disk at COMMIT); a
        // PostgreSQL one rolls back when its handle goes.
        if let Pending::Sqlite(conn) = &self.inner
            && self.open
            && !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::error!("config store: cannot roll back a version: {e}");
        }
    }
}

/// A full disk, or an I/O error setting up the `-shm` file beside the store.
fn no_room(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version<'a>(toml: &'a str, hash: &'a str, summary: &'a serde_json::Value) -> NewVersion<'a> {
        NewVersion {
            source: "cli",
            actor: "admin",
            message: "m",
            toml,
            hash,
            diff: "",
            summary,
        }
    }

    fn audit<'a>(detail: &'a serde_json::Value) -> NewAudit<'a> {
        NewAudit {
            actor: "admin",
            action: "publish",
            detail,
        }
    }

    fn count(s: &ConfigStore, table: &str) -> i64 {
        s.conn()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn versions_and_audit_roundtrip() {
        let s = ConfigStore::open_in_memory().unwrap();
        assert!(s.latest().unwrap().is_none());
        let summary = serde_json::json!({"providers_added": ["a"]});
        let detail = serde_json::json!({"m": 1});
        let v1 = s
            .insert_version_audited(&version("[server]\n", "h1", &summary), &audit(&detail))
            .unwrap();
        let v2 = s
            .insert_version_audited(
                &version("[server]\nlisten = \"127.0.0.1:1\"\n", "h2", &summary),
                &audit(&detail),
            )
            .unwrap();
        assert!(v2.id > v1.id);
        assert_eq!(s.latest().unwrap().unwrap().hash, "h2");
        let h = s.history(10, None).unwrap();
        assert_eq!(
            h.iter().map(|v| v.id).collect::<Vec<_>>(),
            vec![v2.id, v1.id]
        );
        assert!(h[0].toml.is_none());
        assert_eq!(s.history(10, Some(v2.id)).unwrap().len(), 1);
        assert_eq!(
            s.get(v1.id).unwrap().unwrap().toml.as_deref(),
            Some("[server]\n")
        );
        let a = s.audit_log(10, None).unwrap();
        assert_eq!(a[0].action, "publish");
        assert_eq!(a[0].version_id, Some(v2.id));
        assert_eq!(a[1].version_id, Some(v1.id));
        s.audit("admin", "login", None, &serde_json::json!({}))
            .unwrap();
        assert_eq!(s.audit_log(10, None).unwrap()[0].version_id, None);
    }

    #[test]
    fn a_version_is_never_stored_without_its_audit_entry() {
        let s = ConfigStore::open_in_memory().unwrap();
        let (summary, detail) = (serde_json::json!({}), serde_json::json!({}));
        s.insert_version_audited(&version("a", "h1", &summary), &audit(&detail))
            .unwrap();
        // the audit insert fails: the version insert before it rolls back
        s.conn()
            .execute_batch(
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit
                 BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END;",
            )
            .unwrap();
        let e = s
            .insert_version_audited(&version("b", "h2", &summary), &audit(&detail))
            .unwrap_err();
        assert!(e.to_string().contains("injected audit failure"), "{e}");
        assert_eq!(count(&s, "config_versions"), 1);
        assert_eq!(count(&s, "audit"), 1);
        assert_eq!(s.latest().unwrap().unwrap().hash, "h1");
        s.conn().execute_batch("DROP TRIGGER no_audit").unwrap();
        // a pending version dropped without commit leaves nothing either
        let p = s
            .begin_version(&version("c", "h3", &summary), &audit(&detail))
            .unwrap();
        assert!(p.version().id > 1);
        drop(p);
        assert_eq!(count(&s, "config_versions"), 1);
        assert_eq!(count(&s, "audit"), 1);
        // and the store still works after both
        let v = s
            .insert_version_audited(&version("d", "h4", &summary), &audit(&detail))
            .unwrap();
        assert_eq!(s.latest().unwrap().unwrap().id, v.id);
        assert_eq!(count(&s, "audit"), 2);
    }
}
