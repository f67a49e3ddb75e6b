//! The audit log's hash chain. Each row stores `prev_hash` (the hash of
//! the row before it) and `hash = sha256(prev_hash "\n" canonical row)`,
//! the canonical row being the JSON array `[id, at_ms, actor, action,
//! version_id, detail, peer]`. Editing, reordering or deleting a row in the
//! middle breaks the link at the next row; [`verify`] names the first row
//! whose stored hash or link is wrong.
//!
//! Retention ([`prune`]) deletes the oldest rows and keeps the hash of the
//! last one deleted in `audit_anchor`: the first remaining row must link to
//! it, so a pruned log still verifies. The chain is not signed: someone who
//! can write `config.db` can rebuild it from scratch; it shows edits made
//! with an SQLite shell, not ones made by rewriting every later hash.
//!
//! The peer of an audit row is the caller's IP address: the admin API sets
//! it for the request being served with [`with_peer`] (a task-local, also
//! seen by `spawn_blocking` work that re-enters it with [`sync_with_peer`]);
//! outside a request it is `local`.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

tokio::task_local! {
    static PEER: String;
}

/// Runs `f` with `peer` as the peer of every audit row it writes.
pub async fn with_peer<F: std::future::Future>(peer: String, f: F) -> F::Output {
    PEER.scope(peer, f).await
}

/// [`with_peer`] for synchronous work (the blocking pool).
pub fn sync_with_peer<T>(peer: String, f: impl FnOnce() -> T) -> T {
    PEER.sync_scope(peer, f)
}

/// The peer of the admin request being served, else `local`.
pub fn current_peer() -> String {
    PEER.try_with(Clone::clone)
        .unwrap_or_else(|_| "local".to_string())
}

/// `id, at_ms, actor, action, version_id, detail, peer` as stored.
pub(crate) type StoredRow = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    String,
    Option<String>,
);

/// A row to append.
pub struct Row<'a> {
    pub at_ms: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub version_id: Option<i64>,
    /// The detail as stored (JSON text).
    pub detail: &'a str,
    pub peer: &'a str,
}

/// `sha256(prev "\n" [id, at_ms, actor, action, version_id, detail, peer])`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn link(
    prev: &str,
    id: i64,
    at_ms: i64,
    actor: &str,
    action: &str,
    version_id: Option<i64>,
    detail: &str,
    peer: Option<&str>,
) -> String {
    let canonical = serde_json::json!([id, at_ms, actor, action, version_id, detail, peer]);
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// The hash the next row links to: the newest row's, else the anchor's,
/// else empty (the first row of a log).
fn tail_hash(conn: &Connection) -> rusqlite::Result<String> {
    if let Some(h) = conn
        .query_row("SELECT hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
    {
        return Ok(h);
    }
    Ok(anchor(conn)?.map(|a| a.1).unwrap_or_default())
}

fn anchor(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row(
        "SELECT last_pruned_id, hash FROM audit_anchor WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Appends `row` to the chain; call inside a transaction. Returns its id.
pub fn insert(conn: &Connection, row: &Row<'_>) -> rusqlite::Result<i64> {
    let prev = tail_hash(conn)?;
    conn.execute(
        "INSERT INTO audit (at_ms, actor, action, version_id, detail, peer, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '')",
        params![
            row.at_ms,
            row.actor,
            row.action,
            row.version_id,
            row.detail,
            row.peer,
            prev
        ],
    )?;
    let id = conn.last_insert_rowid();
    let h = link(
        &prev,
        id,
        row.at_ms,
        row.actor,
        row.action,
        row.version_id,
        row.detail,
        Some(row.peer),
    );
    conn.execute("UPDATE audit SET hash = ?1 WHERE id = ?2", params![h, id])?;
    Ok(id)
}

/// Replaces the detail of row `id` when it is the newest row (rehashing
/// it); false when it is not (the caller appends a new row instead).
pub fn update_tail_detail(conn: &Connection, id: i64, detail: &str) -> rusqlite::Result<bool> {
    let tail: Option<i64> = conn.query_row("SELECT max(id) FROM audit", [], |r| r.get(0))?;
    if tail != Some(id) {
        return Ok(false);
    }
    let (prev, at_ms, actor, action, version_id, peer): (
        String,
        i64,
        String,
        String,
        Option<i64>,
        Option<String>,
    ) = conn.query_row(
        "SELECT prev_hash, at_ms, actor, action, version_id, peer FROM audit WHERE id = ?1",
        [id],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        },
    )?;
    let h = link(
        &prev,
        id,
        at_ms,
        &actor,
        &action,
        version_id,
        detail,
        peer.as_deref(),
    );
    conn.execute(
        "UPDATE audit SET detail = ?1, hash = ?2 WHERE id = ?3",
        params![detail, h, id],
    )?;
    Ok(true)
}

/// What [`verify`] found.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verified {
    /// Rows checked.
    pub rows: u64,
    /// The id of the last pruned row the chain starts from, if any.
    pub anchor: Option<i64>,
    /// The first row that does not verify, and why.
    pub broken: Option<Broken>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Broken {
    pub id: i64,
    pub reason: String,
}

/// Walks the chain in id order from the anchor and reports the first row
/// whose link to the row before or whose own hash is wrong.
pub fn verify(conn: &Connection) -> rusqlite::Result<Verified> {
    let mut walk = Walk::new(anchor(conn)?);
    let mut stmt = conn.prepare(
        "SELECT id, at_ms, actor, action, version_id, detail, peer, prev_hash, hash
         FROM audit ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let row: StoredRow = (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        );
        if !walk.step(&row, &r.get::<_, String>(7)?, &r.get::<_, String>(8)?) {
            break;
        }
    }
    Ok(walk.done())
}

/// [`verify`]'s walk over rows from any store (SQLite or PostgreSQL).
pub(crate) struct Walk {
    anchor: Option<i64>,
    prev: String,
    out: Verified,
}

impl Walk {
    pub(crate) fn new(anchor: Option<(i64, String)>) -> Self {
        Self {
            anchor: anchor.as_ref().map(|a| a.0),
            prev: anchor.map(|a| a.1).unwrap_or_default(),
            out: Verified {
                rows: 0,
                anchor: None,
                broken: None,
            },
        }
    }

    /// Checks the next row (in id order); false once one is broken.
    pub(crate) fn step(&mut self, row: &StoredRow, stored_prev: &str, stored: &str) -> bool {
        let (id, at_ms, actor, action, version_id, detail, peer) = row;
        let id = *id;
        self.out.rows += 1;
        if let Some(a) = self.anchor
            && id <= a
        {
            self.out.broken = Some(Broken {
                id,
                reason: format!("row {id} is at or before the pruned anchor (row {a})"),
            });
            return false;
        }
        if stored_prev != self.prev {
            self.out.broken = Some(Broken {
                id,
                reason: "does not link to the row before it (a row was deleted, inserted or changed before it)".into(),
            });
            return false;
        }
        let h = link(
            &self.prev,
            id,
            *at_ms,
            actor,
            action,
            *version_id,
            detail,
            peer.as_deref(),
        );
        if h != stored {
            self.out.broken = Some(Broken {
                id,
                reason: "its content does not match its hash (the row was changed)".into(),
            });
            return false;
        }
        self.prev = stored.to_string();
        true
    }

    pub(crate) fn done(mut self) -> Verified {
        self.out.anchor = self.anchor;
        self.out
    }
}

/// Deletes the rows older than `cutoff_ms` and records the last one's id
/// and hash as the anchor; call inside a transaction. The newest row is
/// always kept. Returns how many rows went.
pub fn prune(conn: &Connection, cutoff_ms: i64) -> rusqlite::Result<usize> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, hash FROM audit WHERE at_ms < ?1
               AND id < (SELECT max(id) FROM audit)
             ORDER BY id DESC LIMIT 1",
            [cutoff_ms],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, hash)) = last else {
        return Ok(0);
    };
    let n = conn.execute("DELETE FROM audit WHERE id <= ?1", [id])?;
    conn.execute(
        "INSERT INTO audit_anchor (id, last_pruned_id, hash) VALUES (1, ?1, ?2)
         ON CONFLICT(id) DO UPDATE SET last_pruned_id = excluded.last_pruned_id, hash = excluded.hash",
        params![id, hash],
    )?;
    Ok(n)
}

/// Store schema 2: adds `peer`, `prev_hash`, `hash` to `audit` and chains
/// the rows already there (oldest first), then sets `user_version`.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= super::SCHEMA_VERSION {
        return Ok(());
    }
    let cols: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('audit')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let r = (|| {
        for (col, def) in [
            ("peer", "TEXT"),
            ("prev_hash", "TEXT NOT NULL DEFAULT ''"),
            ("hash", "TEXT NOT NULL DEFAULT ''"),
        ] {
            if !cols.iter().any(|c| c == col) {
                conn.execute_batch(&format!("ALTER TABLE audit ADD COLUMN {col} {def}"))?;
            }
        }
        // Only rows without a hash (written before schema 2) are chained:
        // a row that has one keeps it, so running this again (a store
        // whose user_version was set back) never re-seals edited rows.
        let mut prev = String::new();
        let rows: Vec<(StoredRow, String)> = conn
            .prepare(
                "SELECT id, at_ms, actor, action, version_id, detail, peer, hash
                 FROM audit ORDER BY id",
            )?
            .query_map([], |r| {
                Ok((
                    (
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ),
                    r.get(7)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        for ((id, at, actor, action, vid, detail, peer), stored) in rows {
            if !stored.is_empty() {
                prev = stored;
                continue;
            }
            let h = link(
                &prev,
                id,
                at,
                &actor,
                &action,
                vid,
                &detail,
                peer.as_deref(),
            );
            conn.execute(
                "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE id = ?3",
                params![prev, h, id],
            )?;
            prev = h;
        }
        conn.pragma_update(None, "user_version", super::SCHEMA_VERSION)
    })();
    match r {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ConfigStore;
    use serde_json::json;

    /// A store with `n` audit rows of the admin doing `action`.
    fn store_with(n: i64, action: &str) -> ConfigStore {
        let s = ConfigStore::open_in_memory().unwrap();
        for i in 0..n {
            s.audit("admin", action, None, &json!({ "i": i })).unwrap();
        }
        s
    }

    /// Changes rows behind the store's back.
    fn sql(s: &ConfigStore, q: &str) {
        s.conn().execute(q, []).unwrap();
    }

    /// The id of the first row the chain check names, if any.
    fn broken(s: &ConfigStore) -> Option<i64> {
        s.verify_audit().unwrap().broken.map(|b| b.id)
    }

    /// Runs the migration from store schema 1 again.
    fn remigrate(s: &ConfigStore) {
        s.conn().pragma_update(None, "user_version", 1).unwrap();
        super::migrate(&s.conn()).unwrap();
    }

    #[test]
    fn the_chain_verifies_and_names_a_changed_row() {
        let s = ConfigStore::open_in_memory().unwrap();
        for i in 0..5 {
            s.audit_from("10.0.0.1", "alice", "key_set", None, &json!({ "i": i }))
                .unwrap();
        }
        let v = s.verify_audit().unwrap();
        assert_eq!((v.rows, v.broken.clone()), (5, None), "{v:?}");
        sql(&s, "UPDATE audit SET detail = '{\"i\":9}' WHERE id = 3");
        let b = s.verify_audit().unwrap().broken.unwrap();
        assert_eq!(b.id, 3, "{b:?}");
        sql(&s, "UPDATE audit SET detail = '{\"i\":2}' WHERE id = 3");
        assert_eq!(broken(&s), None);
        sql(&s, "DELETE FROM audit WHERE id = 2");
        assert_eq!(broken(&s), Some(3));
    }

    #[test]
    fn pruning_keeps_the_chain_verifiable() {
        let s = store_with(4, "login");
        // rows 1 and 2 are old
        sql(&s, "UPDATE audit SET at_ms = 0 WHERE id <= 2");
        // (changing at_ms broke their hashes: rebuild the chain as a
        // migration does for rows without one)
        sql(&s, "UPDATE audit SET hash = ''");
        remigrate(&s);
        assert_eq!(broken(&s), None);
        assert_eq!(s.prune_audit(30, super::super::now_ms()).unwrap(), 2);
        let v = s.verify_audit().unwrap();
        assert_eq!((v.rows, v.anchor, v.broken), (2, Some(2), None));
        s.audit("admin", "logout", None, &json!({})).unwrap();
        assert_eq!(broken(&s), None);
        // deleting the first remaining row is seen
        sql(&s, "DELETE FROM audit WHERE id = 3");
        assert_eq!(broken(&s), Some(4));
    }

    #[test]
    fn migrating_again_does_not_reseal_an_edited_row() {
        let s = store_with(3, "pause");
        sql(&s, "UPDATE audit SET actor = 'x' WHERE id = 2");
        remigrate(&s);
        assert_eq!(broken(&s), Some(2));
    }

    #[test]
    fn a_counted_row_is_only_updated_at_the_tail() {
        let s = ConfigStore::open_in_memory().unwrap();
        let a = s
            .audit_counted(None, "1.2.3.4", "unknown", "login_failed", &json!({"n": 1}))
            .unwrap();
        let b = s
            .audit_counted(
                Some(a),
                "1.2.3.4",
                "unknown",
                "login_failed",
                &json!({"n": 2}),
            )
            .unwrap();
        assert_eq!(a, b);
        s.audit("admin", "login", None, &json!({})).unwrap();
        let c = s
            .audit_counted(
                Some(a),
                "1.2.3.4",
                "unknown",
                "login_failed",
                &json!({"n": 3}),
            )
            .unwrap();
        assert_ne!(c, a);
        assert_eq!(broken(&s), None);
        let log = s.audit_log(10, None).unwrap();
        assert_eq!(log[0].peer.as_deref(), Some("1.2.3.4"));
        assert_eq!(log[1].peer.as_deref(), Some("local"));
    }
}
