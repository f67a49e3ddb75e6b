//! `verify.db` in the data dir: baselines (the newest
//! [`BASELINES_PER_TARGET`] per target are kept) and runs (the newest
//! [`RUNS_KEPT`]), each row the value as JSON.

use std::path::Path;

use rusqlite::{Connection, params};

use super::{Baseline, Run};
use crate::tools::modelbench::Target;
use crate::tools::rows;

pub const BASELINES_PER_TARGET: u32 = 10;
pub const RUNS_KEPT: u32 = 1000;

pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = rows::open(
            path,
            &format!(
                "CREATE TABLE IF NOT EXISTS baselines (id INTEGER PRIMARY KEY, provider TEXT NOT NULL,
                     model TEXT NOT NULL, created_ms INTEGER NOT NULL, baseline TEXT NOT NULL);
                 CREATE INDEX IF NOT EXISTS baselines_target ON baselines (provider, model, id);
                 {}",
                rows::RUNS_TABLE
            ),
        )?;
        Ok(Self { conn })
    }

    pub fn insert_baseline(&self, b: &Baseline) -> Result<i64, rusqlite::Error> {
        let tx = self.conn.unchecked_transaction()?;
        let id = rows::insert_with_id(
            &tx,
            "INSERT INTO baselines (provider, model, created_ms, baseline) VALUES (?1, ?2, ?3, '')",
            params![b.target.provider, b.target.model, b.created_ms],
            ("baselines", "baseline"),
            b,
            |b, id| b.id = id,
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
        rows::json_row(
            &self.conn,
            "SELECT baseline FROM baselines WHERE provider = ?1 AND model = ?2 ORDER BY id DESC LIMIT 1",
            params![t.provider, t.model],
        )
    }

    /// Newest first.
    pub fn baselines(&self, limit: u32) -> Result<Vec<Baseline>, rusqlite::Error> {
        rows::json_rows(
            &self.conn,
            "SELECT baseline FROM baselines ORDER BY id DESC LIMIT ?1",
            [limit],
        )
    }

    pub fn insert_run(&self, run: &Run) -> Result<i64, rusqlite::Error> {
        rows::insert_run(
            &self.conn,
            run.started_ms,
            run,
            |r, id| r.id = id,
            Some(RUNS_KEPT),
        )
    }

    /// Newest first.
    pub fn runs(&self, limit: u32) -> Result<Vec<Run>, rusqlite::Error> {
        rows::runs(&self.conn, limit)
    }

    pub fn run(&self, id: i64) -> Result<Option<Run>, rusqlite::Error> {
        rows::run(&self.conn, id)
    }
}
