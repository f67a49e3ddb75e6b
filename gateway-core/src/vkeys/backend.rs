//! Where virtual keys and their spend are kept: the [`KeyBackend`] trait
//! (what a Redis or PostgreSQL store implements for a cluster), the SQLite
//! one in the config store's `config.db` (store schema 3: tables
//! `virtual_keys` and `virtual_key_spend`), and one in memory (a gateway
//! without a data dir).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};

use super::KeyInfo;
use crate::sync::LockExt;

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("virtual key store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("virtual key store: {0}")]
    Json(#[from] serde_json::Error),
    /// PostgreSQL (team mode) could not be reached or refused a statement.
    #[error("virtual key store (PostgreSQL): {0}")]
    Postgres(String),
}

/// A key as stored: what is shown of it, the SHA-256 (hex) of its secret,
/// and after a rotation the previous secret's hash with the time it stops
/// being accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredKey {
    pub info: KeyInfo,
    pub hash: String,
    pub old_hash: Option<String>,
    pub old_until_ms: Option<i64>,
}

/// What a period's spend is: the period's start (UTC ms) and the USD spent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredSpend {
    pub period_start_ms: i64,
    pub spent_usd: f64,
}

/// A store of virtual keys and their spend counters. Reads happen once, at
/// start ([`KeyBackend::load`]); the hot path runs on the in-memory copy
/// and writes spend back in batches ([`KeyBackend::save_spend`]).
pub trait KeyBackend: Send + Sync + std::fmt::Debug {
    /// Every key (revoked ones too) and its spend, if any was saved.
    fn load(&self) -> Result<Vec<(StoredKey, Option<StoredSpend>)>, BackendError>;
    /// Inserts or replaces a key (create, revoke, rotate).
    fn put(&self, key: &StoredKey) -> Result<(), BackendError>;
    /// Writes the spend of each key given.
    fn save_spend(&self, spend: &[(String, StoredSpend)]) -> Result<(), BackendError>;

    /// Inserts or replaces every key given (a local copy of a shared store).
    fn put_all(&self, keys: &[StoredKey]) -> Result<(), BackendError> {
        keys.iter().try_for_each(|k| self.put(k))
    }

    /// Whether several gateways share this store (team mode): then spend is
    /// written as deltas ([`KeyBackend::add_spend`]) and keys another
    /// replica changed are read back ([`KeyBackend::fetch`]).
    fn shared(&self) -> bool {
        false
    }

    /// Adds each delta to the stored spend of its key and period (a later
    /// period replaces an earlier one) and answers every key's spend as
    /// stored now. Only called when [`KeyBackend::shared`].
    fn add_spend(
        &self,
        _deltas: &[(String, StoredSpend)],
    ) -> Result<Vec<(String, StoredSpend)>, BackendError> {
        Ok(Vec::new())
    }

    /// The keys `ids` as stored now (`None`: every key). Only called when
    /// [`KeyBackend::shared`].
    fn fetch(&self, _ids: Option<&[String]>) -> Result<Vec<StoredKey>, BackendError> {
        Ok(Vec::new())
    }
}

/// Keys kept only in memory (no data dir): gone on restart.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    pub(super) keys: Mutex<HashMap<String, StoredKey>>,
    pub(super) spend: Mutex<HashMap<String, StoredSpend>>,
}

impl KeyBackend for MemoryBackend {
    fn load(&self) -> Result<Vec<(StoredKey, Option<StoredSpend>)>, BackendError> {
        let spend = self.spend.lock_or_recover();
        Ok(self
            .keys
            .lock_or_recover()
            .values()
            .map(|k| (k.clone(), spend.get(&k.info.id).copied()))
            .collect())
    }

    fn put(&self, key: &StoredKey) -> Result<(), BackendError> {
        self.keys
            .lock_or_recover()
            .insert(key.info.id.clone(), key.clone());
        Ok(())
    }

    fn save_spend(&self, spend: &[(String, StoredSpend)]) -> Result<(), BackendError> {
        let mut m = self.spend.lock_or_recover();
        for (id, s) in spend {
            m.insert(id.clone(), *s);
        }
        Ok(())
    }
}

/// The tables of store schema 3 (also created by [`crate::store`]).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS virtual_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    old_hash TEXT,
    old_until_ms INTEGER,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS virtual_key_spend (
    id TEXT PRIMARY KEY,
    period_start_ms INTEGER NOT NULL,
    spent_usd REAL NOT NULL
);
";

/// Keys in `config.db`, on the config store's own connection
/// ([`crate::store::ConfigStore::shared_conn`]), which made the tables.
#[derive(Debug)]
pub struct SqliteBackend {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteBackend {
    pub fn new(conn: Arc<Mutex<Connection>>) -> Self {
        Self { conn }
    }
}

impl KeyBackend for SqliteBackend {
    fn load(&self) -> Result<Vec<(StoredKey, Option<StoredSpend>)>, BackendError> {
        let conn = self.conn.lock_or_recover();
        let mut stmt = conn.prepare(
            "SELECT k.hash, k.old_hash, k.old_until_ms, k.info, s.period_start_ms, s.spent_usd
             FROM virtual_keys k LEFT JOIN virtual_key_spend s ON s.id = k.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<f64>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (hash, old_hash, old_until_ms, info, start, spent) = row?;
            let key = StoredKey {
                info: serde_json::from_str(&info)?,
                hash,
                old_hash,
                old_until_ms,
            };
            let spend = start
                .zip(spent)
                .map(|(period_start_ms, spent_usd)| StoredSpend {
                    period_start_ms,
                    spent_usd,
                });
            out.push((key, spend));
        }
        Ok(out)
    }

    fn put(&self, key: &StoredKey) -> Result<(), BackendError> {
        let info = serde_json::to_string(&key.info)?;
        self.conn.lock_or_recover().execute(
            "INSERT INTO virtual_keys (id, hash, old_hash, old_until_ms, info) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET hash = excluded.hash, old_hash = excluded.old_hash,
               old_until_ms = excluded.old_until_ms, info = excluded.info",
            params![key.info.id, key.hash, key.old_hash, key.old_until_ms, info],
        )?;
        Ok(())
    }

    fn put_all(&self, keys: &[StoredKey]) -> Result<(), BackendError> {
        let mut conn = self.conn.lock_or_recover();
        let tx = conn.transaction()?;
        for key in keys {
            let info = serde_json::to_string(&key.info)?;
            tx.execute(
                "INSERT INTO virtual_keys (id, hash, old_hash, old_until_ms, info) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET hash = excluded.hash, old_hash = excluded.old_hash,
                   old_until_ms = excluded.old_until_ms, info = excluded.info",
                params![key.info.id, key.hash, key.old_hash, key.old_until_ms, info],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn save_spend(&self, spend: &[(String, StoredSpend)]) -> Result<(), BackendError> {
        let mut conn = self.conn.lock_or_recover();
        let tx = conn.transaction()?;
        for (id, s) in spend {
            tx.execute(
                "INSERT INTO virtual_key_spend (id, period_start_ms, spent_usd) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET period_start_ms = excluded.period_start_ms,
                   spent_usd = excluded.spent_usd",
                params![id, s.period_start_ms, s.spent_usd],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
