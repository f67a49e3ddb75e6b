//! `aigw logs [-f]` and `aigw logs export`: the request log read from
//! `telemetry.db` in the data dir directly (SQLite's WAL lets a running
//! gateway keep writing meanwhile).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Paths;
use crate::telemetry::Db;
use crate::telemetry::export::{self, Format, MAX_EXPORT_ROWS};
use crate::telemetry::query::{self, Filter, RequestRow, RequestsQuery};

/// The filters both commands take.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub model: Option<String>,
    pub provider: Option<String>,
    pub route: Option<String>,
    /// Search text (request id, models, provider, route, error, bodies).
    pub q: Option<String>,
    /// `client` (default), `replay`, `bench`, `fallback_test`, `all`.
    pub origin: Option<String>,
}

impl LogFilter {
    fn filter(&self) -> Filter {
        Filter {
            provider: self.provider.clone(),
            model: self.model.clone(),
            route: self.route.clone(),
            client: None,
            origin: self.origin.clone(),
            q: self.q.clone(),
        }
    }
}

fn open(paths: &Paths) -> anyhow::Result<Db> {
    let path = paths.data_dir.join(crate::telemetry::DB_FILE);
    if !path.exists() {
        anyhow::bail!(
            "no request log at {} (it is created when `aigw serve` first runs with a data dir)",
            path.display()
        );
    }
    Ok(Db::open_to_read(&path)?)
}

/// `TIME  ID  MODEL  PROVIDER  STATUS  MS  TOKENS`.
fn line(r: &RequestRow) -> String {
    let model = match (&r.forwarded_model, r.requested_model.as_str()) {
        (Some(f), req) if f != req => format!("{req}->{f}"),
        _ => r.requested_model.clone(),
    };
    let tokens = match (r.tokens_in, r.tokens_out) {
        (Some(i), Some(o)) => format!("{i}/{o}"),
        _ => "-".into(),
    };
    format!(
        "{}  {}  {}  {}  {}{}  {:.0}ms  {}",
        super::format_ms(r.time_ms),
        r.id,
        model,
        r.provider.as_deref().unwrap_or("-"),
        r.status,
        r.error
            .as_deref()
            .map(|e| format!(" {e}"))
            .unwrap_or_default(),
        r.latency_ms,
        tokens,
    )
}

/// `aigw logs [-n N] [-f]`: the last N requests, oldest first; with
/// `follow`, then every new one as it is logged (until Ctrl-C).
pub fn tail(paths: &Paths, f: &LogFilter, last: u32, follow: bool) -> anyhow::Result<ExitCode> {
    if f.q
        .as_ref()
        .is_some_and(|q| q.chars().count() > query::MAX_SEARCH_CHARS)
    {
        anyhow::bail!(
            "--q may have at most {} characters",
            query::MAX_SEARCH_CHARS
        );
    }
    let db = open(paths)?;
    let filter = f.filter();
    // the (N+1)th newest row: the N after it are printed first
    let mut after = db.read(|c| query::start_id(c, &filter, last.min(10_000)))?;
    let mut out = std::io::stdout().lock();
    if follow {
        eprintln!("following {} (Ctrl-C to stop)", db.path().display());
    }
    loop {
        let rows = db.read(|c| query::since(c, after, &filter, 1_000))?;
        for (id, r) in &rows {
            writeln!(out, "{}", line(r))?;
            after = *id;
        }
        out.flush()?;
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        if rows.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// `aigw logs export --format csv|jsonl`: the filtered list, newest first,
/// to stdout (at most `limit` rows).
pub fn export(
    paths: &Paths,
    f: &LogFilter,
    format: Format,
    limit: u32,
    minutes: Option<i64>,
) -> anyhow::Result<ExitCode> {
    if limit == 0 || limit > MAX_EXPORT_ROWS {
        anyhow::bail!("--limit must be 1 to {MAX_EXPORT_ROWS}");
    }
    let db = open(paths)?;
    let now = crate::store::now_ms();
    let q = RequestsQuery {
        window: minutes
            .filter(|m| *m > 0)
            .map(|m| query::Window::last_minutes(now, m.min(400 * 1440))),
        filter: f.filter(),
        outcome: None,
        limit: None,
        cursor: None,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(format.header().as_bytes())?;
    let (mut cursor, mut left) = (None, limit);
    loop {
        let (rows, next) = db.read(|c| export::page(c, &q, cursor.clone(), left))?;
        left -= rows.len() as u32;
        for r in &rows {
            out.write_all(format.line(r).as_bytes())?;
        }
        match next {
            Some(n) if left > 0 => cursor = Some(n),
            _ => break,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
