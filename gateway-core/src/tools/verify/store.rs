//! `verify.db` in the data dir: baselines (the newest
//! [`BASELINES_PER_TARGET`] per target are kept) and runs (the newest
//! [`RUNS_KEPT`]), each row the value as JSON.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Baseline, Run};
use crate::tools::modelbench::Target;

pub const BASELINES_PER_TARGET: u32 = 10;
pub const RUNS_KEPT: u32 = 1000;

pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        if let Err(e) = crate::store::perms::private_sqlite(path) {
            tracing::warn!("{}: {e}", path.display());
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS baselines (id INTEGER PRIMARY KEY, provider TEXT NOT NULL,
                 model TEXT NOT NULL, created_ms INTEGER NOT NULL, baseline TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS baselines_target ON baselines (provider, model, id);
             CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL, run TEXT NOT NULL);",
        )?;
        Ok(Self { conn })
    }

    pub fn insert_baseline(&self, b: &Baseline) -> Result<i64, rusqlite::Error> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO baselines (provider, model, created_ms, baseline) VALUES (?1, ?2, ?3, '')",
            params![b.target.provider, b.target.model, b.created_ms],
        )?;
        let id = tx.last_insert_rowid();
        let mut stored = b.clone();
        stored.id = id;
        tx.execute(
            "UPDATE baselines SET baseline = ?1 WHERE id = ?2",
            params![serde_json::to_string(&stored).unwrap_or_default(), id],
        )?;
        tx.execute(
            "DELETE FROM baselines WHERE provider = ?1 AND model = ?2 AND id NOT IN
               (SELECT id FROM baselines WHERE provider = ?1 AND model = ?2 ORDER BY id DESC LIMIT ?3)",
            params![b.target.provider, b.target.model, BASELINES_PER_TARGET],
        )?;
        tx.commit()?;
        Ok(id)
    }

    pub fn latest_baseline(&self, t: &Target) -> Result<Option<Baseline>, rusqlite::Error> {
        let s: Option<String> = self
            .conn
            .query_row(
                "SELECT baseline FROM baselines WHERE provider = ?1 AND model = ?2 ORDER BY id DESC LIMIT 1",
                params![t.provider, t.model],
                |r| r.get(0),
            )
            .optional()?;
        Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Newest first.
    pub fn baselines(&self, limit: u32) -> Result<Vec<Baseline>, rusqlite::Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT baseline FROM baselines ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit], |r| r.get::<_, String>(0))?;
        Ok(rows
            .filter_map(Result::ok)
            .filter_map(|s| serde_json::from_str(&s).ok())
            .collect())
    }

    pub fn insert_run(&self, run: &Run) -> Result<i64, rusqlite::Error> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO runs (started_ms, run) VALUES (?1, '')",
            params![run.started_ms],
        )?;
        let id = tx.last_insert_rowid();
        let mut stored = run.clone();
        stored.id = id;
        tx.execute(
            "UPDATE runs SET run = ?1 WHERE id = ?2",
            params![serde_json::to_string(&stored).unwrap_or_default(), id],
        )?;
        tx.execute(
            "DELETE FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?1)",
            [RUNS_KEPT],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Newest first.
    pub fn runs(&self, limit: u32) -> Result<Vec<Run>, rusqlite::Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT run FROM runs ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit], |r| r.get::<_, String>(0))?;
        Ok(rows
            .filter_map(Result::ok)
            .filter_map(|s| serde_json::from_str(&s).ok())
            .collect())
    }

    pub fn run(&self, id: i64) -> Result<Option<Run>, rusqlite::Error> {
        let s: Option<String> = self
            .conn
            .query_row("SELECT run FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
    }
}
