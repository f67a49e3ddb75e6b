//! Spend by virtual key and by team over a window, from the request log
//! (`GET /admin/api/telemetry/keys`): requests, errors, tokens and cost of
//! each key (the [`MAX_ROWS`] dearest) and of each team.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::db::DbError;
use super::query::Window;

/// Keys (and teams) listed, dearest first.
pub const MAX_ROWS: u32 = 200;

/// One key's (or team's) traffic in the window.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    /// The key's id (`None` on a team row).
    pub virtual_key: Option<String>,
    /// The key's name as it was when the requests were made.
    pub name: Option<String>,
    pub team: Option<String>,
    pub requests: u64,
    pub errors: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    pub from_ms: i64,
    pub to_ms: i64,
    pub keys: Vec<SpendRow>,
    pub teams: Vec<SpendRow>,
}

fn rows(conn: &Connection, sql: &str, w: Window, key: bool) -> Result<Vec<SpendRow>, DbError> {
    let mut s = conn.prepare(sql)?;
    let out = s
        .query_map(params![w.from_ms, w.to_ms, MAX_ROWS], |r| {
            Ok(SpendRow {
                virtual_key: if key { r.get(0)? } else { None },
                name: if key { r.get(1)? } else { None },
                team: r.get(2)?,
                requests: r.get::<_, i64>(3)?.max(0) as u64,
                errors: r.get::<_, i64>(4)?.max(0) as u64,
                tokens_in: r.get::<_, i64>(5)?.max(0) as u64,
                tokens_out: r.get::<_, i64>(6)?.max(0) as u64,
                cost_usd: r.get(7)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(out)
}

const COLS: &str = "count(*), sum(CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END),
    coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0), coalesce(sum(cost_usd), 0.0)";

/// Spend of every virtual key and team in `w` (client traffic only).
pub fn spend(conn: &Connection, w: Window) -> Result<Spend, DbError> {
    let keys = rows(
        conn,
        &format!(
            "SELECT virtual_key, max(client), max(team), {COLS} FROM requests
             WHERE ts_ms >= ?1 AND ts_ms < ?2 AND virtual_key IS NOT NULL AND origin = 'client'
             GROUP BY virtual_key ORDER BY 8 DESC, 4 DESC LIMIT ?3"
        ),
        w,
        true,
    )?;
    let teams = rows(
        conn,
        &format!(
            "SELECT NULL, NULL, team, {COLS} FROM requests
             WHERE ts_ms >= ?1 AND ts_ms < ?2 AND team IS NOT NULL AND origin = 'client'
             GROUP BY team ORDER BY 8 DESC, 4 DESC LIMIT ?3"
        ),
        w,
        false,
    )?;
    Ok(Spend {
        from_ms: w.from_ms,
        to_ms: w.to_ms,
        keys,
        teams,
    })
}
