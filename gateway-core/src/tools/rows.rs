//! The tools' own SQLite files (`bench.db`, `verify.db`): owner-only, WAL,
//! each row one value as JSON (rows that no longer parse are left out).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Params, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The `runs` table both tools keep: the run as JSON, its id inside it.
pub const RUNS_TABLE: &str = "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL, run TEXT NOT NULL);";

/// Opens (creating) `path` owner-only, in WAL mode, with `schema` applied.
pub fn open(path: &Path, schema: &str) -> Result<Connection, rusqlite::Error> {
    // Owner-only like the rest of the data dir (SQLite would say why
    // it cannot open the file, should this fail too).
    if let Err(e) = crate::store::perms::private_sqlite(path) {
        tracing::warn!("{}: {e}", path.display());
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(&format!("PRAGMA journal_mode = WAL;\n{schema}"))?;
    Ok(conn)
}

/// The values of a query's single JSON column.
pub fn json_rows<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
) -> Result<Vec<T>, rusqlite::Error> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(p, |r| r.get::<_, String>(0))?;
    Ok(rows
        .filter_map(Result::ok)
        .filter_map(|s| serde_json::from_str(&s).ok())
        .collect())
}

/// The value of a query's single JSON column in its one row, if any.
pub fn json_row<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
) -> Result<Option<T>, rusqlite::Error> {
    let s: Option<String> = conn.query_row(sql, p, |r| r.get(0)).optional()?;
    Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Inserts `value` with `insert` (its JSON column `''`), then stores it as
/// JSON with the new row id (set by `set_id`) through `UPDATE {table} SET
/// {column} = ?1 WHERE id = ?2`. Returns the id; the caller's transaction
/// (if any) makes it one step.
pub fn insert_with_id<T: Serialize + Clone>(
    conn: &Connection,
    insert: &str,
    p: impl Params,
    (table, column): (&str, &str),
    value: &T,
    set_id: fn(&mut T, i64),
) -> Result<i64, rusqlite::Error> {
    conn.execute(insert, p)?;
    let id = conn.last_insert_rowid();
    let mut stored = value.clone();
    set_id(&mut stored, id);
    conn.execute(
        &format!("UPDATE {table} SET {column} = ?1 WHERE id = ?2"),
        params![serde_json::to_string(&stored).unwrap_or_default(), id],
    )?;
    Ok(id)
}

/// Stores a run in the `runs` table ([`RUNS_TABLE`]); with `keep`, only the
/// newest `keep` runs stay.
pub fn insert_run<T: Serialize + Clone>(
    conn: &Connection,
    started_ms: i64,
    run: &T,
    set_id: fn(&mut T, i64),
    keep: Option<u32>,
) -> Result<i64, rusqlite::Error> {
    let tx = conn.unchecked_transaction()?;
    let id = insert_with_id(
        &tx,
        "INSERT INTO runs (started_ms, run) VALUES (?1, '')",
        [started_ms],
        ("runs", "run"),
        run,
        set_id,
    )?;
    if let Some(keep) = keep {
        tx.execute(
            "DELETE FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?1)",
            [keep],
        )?;
    }
    tx.commit()?;
    Ok(id)
}

/// Stored runs, newest first.
pub fn runs<T: DeserializeOwned>(conn: &Connection, limit: u32) -> Result<Vec<T>, rusqlite::Error> {
    json_rows(
        conn,
        "SELECT run FROM runs ORDER BY id DESC LIMIT ?1",
        [limit],
    )
}

/// One stored run.
pub fn run<T: DeserializeOwned>(conn: &Connection, id: i64) -> Result<Option<T>, rusqlite::Error> {
    json_row(conn, "SELECT run FROM runs WHERE id = ?1", [id])
}
