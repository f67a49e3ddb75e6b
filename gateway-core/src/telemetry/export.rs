//! The filtered request list as CSV or JSON Lines, for
//! `GET /admin/api/telemetry/export` and `aigw logs export`: the same
//! filters and search as the list, newest first, read a page at a time
//! (so memory stays flat) and at most [`MAX_EXPORT_ROWS`] rows.

use rusqlite::Connection;

use super::db::DbError;
use super::query::{RequestRow, RequestsQuery, requests_up_to};

/// Rows one export may hold; more is refused by the caller or cut here.
pub const MAX_EXPORT_ROWS: u32 = 100_000;
/// Rows an export holds when no `limit` is given.
pub const DEFAULT_EXPORT_ROWS: u32 = 10_000;
/// Rows read per page.
const PAGE: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// The first line (CSV's header; nothing for JSON Lines).
    pub fn header(self) -> String {
        match self {
            Format::Csv => format!("{}\n", COLUMNS.join(",")),
            Format::Jsonl => String::new(),
        }
    }

    /// One row, newline-terminated.
    pub fn line(self, r: &RequestRow) -> String {
        match self {
            Format::Csv => csv_line(r),
            Format::Jsonl => {
                let mut s = serde_json::to_string(r).unwrap_or_default();
                s.push('\n');
                s
            }
        }
    }
}

const COLUMNS: [&str; 24] = [
    "id",
    "time_ms",
    "client",
    "endpoint",
    "requested_model",
    "route",
    "provider",
    "forwarded_model",
    "route_mode",
    "stream",
    "attempts",
    "status",
    "error",
    "latency_ms",
    "ttft_ms",
    "overhead_ms",
    "tokens_in",
    "tokens_out",
    "tokens_estimated",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "cancelled",
    "time",
];

/// A text cell: quoted when it has a comma, quote or line break; a leading
/// `= + - @` (a formula to spreadsheets) gets a `'` first.
fn text(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn csv_line(r: &RequestRow) -> String {
    let time = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(r.time_ms.max(0) as u64),
    );
    let cells = [
        text(&r.id),
        r.time_ms.to_string(),
        text(&r.client),
        text(&r.endpoint),
        text(&r.requested_model),
        text(&opt(&r.route)),
        text(&opt(&r.provider)),
        text(&opt(&r.forwarded_model)),
        text(&opt(&r.route_mode)),
        r.stream.to_string(),
        r.attempts.to_string(),
        r.status.to_string(),
        text(&opt(&r.error)),
        r.latency_ms.to_string(),
        opt(&r.ttft_ms),
        r.overhead_ms.to_string(),
        opt(&r.tokens_in),
        opt(&r.tokens_out),
        r.tokens_estimated.to_string(),
        opt(&r.cache_read_tokens),
        opt(&r.cache_write_tokens),
        opt(&r.cost_usd),
        r.cancelled.to_string(),
        text(&time),
    ];
    let mut s = cells.join(",");
    s.push('\n');
    s
}

/// The next page of an export: rows of `q` after `cursor`, at most `left`.
/// Returns the rows and the cursor to go on from (`None` at the end).
pub fn page(
    conn: &Connection,
    q: &RequestsQuery,
    cursor: Option<String>,
    left: u32,
) -> Result<(Vec<RequestRow>, Option<String>), DbError> {
    let q = RequestsQuery {
        limit: Some(left.min(PAGE)),
        cursor,
        ..q.clone()
    };
    let p = requests_up_to(conn, &q, PAGE)?;
    Ok((p.items, p.next_cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(text("-1,2"), "\"'-1,2\"");
        assert_eq!(Format::Csv.header().split(',').count(), COLUMNS.len());
    }
}
