//! The config store: every published config is a version in SQLite
//! (`config.db` in the data dir) with who, when, why, the full TOML, its
//! hash and its diff against the version before; plus an audit log of every
//! operator action (publish, rollback, rejected edits, key changes, logins).

use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[error("config store: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

/// A stored config version.
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
    /// JSON summary: providers/routes added, removed, changed.
    pub summary: serde_json::Value,
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

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    /// `publish`, `rollback`, `publish_rejected`, `file_rejected`,
    /// `key_set`, `key_delete`, `login`, `login_failed`.
    pub action: String,
    pub version_id: Option<i64>,
    pub detail: serde_json::Value,
}

#[derive(Debug)]
pub struct ConfigStore {
    conn: Mutex<Connection>,
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
";

impl ConfigStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::init(conn)
    }

    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
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
        let sql = format!("SELECT {} FROM config_versions WHERE id = ?1", Self::COLS);
        Ok(self
            .conn()
            .query_row(&sql, [id], |r| Self::row(r, true))
            .optional()?)
    }

    /// Newest first, without the TOML bodies; `before` pages back.
    pub fn history(&self, limit: u32, before: Option<i64>) -> Result<Vec<Version>, StoreError> {
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

    pub fn insert_version(&self, v: &NewVersion<'_>) -> Result<Version, StoreError> {
        let at = now_ms();
        let conn = self.conn();
        conn.execute(
            "INSERT INTO config_versions (created_at_ms, source, actor, message, toml, hash, diff, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![at, v.source, v.actor, v.message, v.toml, v.hash, v.diff, v.summary.to_string()],
        )?;
        Ok(Version {
            id: conn.last_insert_rowid(),
            created_at_ms: at,
            source: v.source.into(),
            actor: v.actor.into(),
            message: v.message.into(),
            hash: v.hash.into(),
            diff: v.diff.into(),
            summary: v.summary.clone(),
            toml: Some(v.toml.into()),
        })
    }

    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        version_id: Option<i64>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO audit (at_ms, actor, action, version_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now_ms(), actor, action, version_id, detail.to_string()],
        )?;
        Ok(())
    }

    /// An audit row that counts repeats (failed logins of one peer in one
    /// window): inserted when `row` is `None` (or names no row), else that
    /// row's detail replaced. Returns the row's id.
    pub fn audit_counted(
        &self,
        row: Option<i64>,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let conn = self.conn();
        if let Some(id) = row
            && conn.execute(
                "UPDATE audit SET detail = ?1 WHERE id = ?2",
                params![detail.to_string(), id],
            )? == 1
        {
            return Ok(id);
        }
        conn.execute(
            "INSERT INTO audit (at_ms, actor, action, version_id, detail) VALUES (?1, ?2, ?3, NULL, ?4)",
            params![now_ms(), actor, action, detail.to_string()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    pub fn audit_log(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, at_ms, actor, action, version_id, detail FROM audit
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
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_audit_roundtrip() {
        let s = ConfigStore::open_in_memory().unwrap();
        assert!(s.latest().unwrap().is_none());
        let summary = serde_json::json!({"providers_added": ["a"]});
        let v1 = s
            .insert_version(&NewVersion {
                source: "startup",
                actor: "aigw",
                message: "first",
                toml: "[server]\n",
                hash: "h1",
                diff: "",
                summary: &summary,
            })
            .unwrap();
        let v2 = s
            .insert_version(&NewVersion {
                source: "cli",
                actor: "admin",
                message: "second",
                toml: "[server]\nlisten = \"127.0.0.1:1\"\n",
                hash: "h2",
                diff: "+listen",
                summary: &summary,
            })
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
        s.audit(
            "admin",
            "publish",
            Some(v2.id),
            &serde_json::json!({"m": 1}),
        )
        .unwrap();
        let a = s.audit_log(10, None).unwrap();
        assert_eq!(a[0].action, "publish");
        assert_eq!(a[0].version_id, Some(v2.id));
    }
}
