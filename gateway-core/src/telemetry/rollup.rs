//! Per-minute rollups of the request log (schema v7), kept by the writer in
//! the same transaction as the rows: one row per minute and origin with the
//! series' counters and log-scale histograms of latency and TTFT. Series and
//! summaries of unfiltered traffic (every filter but `origin` unset) over
//! more than [`ROLLUP_ABOVE`] requests read them instead of every row: a
//! 7-day window is 10,080 rollup rows per origin instead of millions of
//! requests.
//!
//! What differs from a scan of the rows: percentiles are the midpoint of the
//! histogram bin holding the nearest-rank sample (bins grow by [`RATIO`], so
//! within ±2 %). Counts and sums are exact: the partial minutes at the
//! window's ends and the minutes a bucket edge cuts through are read from
//! the rows.

use std::collections::{BTreeSet, HashMap};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::db::DbError;
use super::query::{
    Bucket, Filter, Quantiles, Rec, Window, merge_counts, origin_of, origin_only, scan_rows, tally,
    window_where,
};

/// Windows with fewer requests than this are read from the rows (exact
/// percentiles); more, from the rollups.
pub const ROLLUP_ABOVE: u64 = 20_000;

const MINUTE_MS: i64 = 60_000;

/// Each histogram bin is this much wider than the one below it.
const RATIO: f64 = 1.04;
/// Values below this (ms) share bin 0.
const FLOOR_MS: f64 = 0.001;
/// Bins: 0.001 ms × 1.04^1000 ≈ 100 million s: every latency fits.
const BINS: usize = 1000;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rollups (
    minute             INTEGER NOT NULL,
    origin             TEXT NOT NULL,
    requests           INTEGER NOT NULL,
    errors             INTEGER NOT NULL,
    cancelled          INTEGER NOT NULL,
    tokens_in          INTEGER NOT NULL,
    tokens_out         INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    usage_unknown      INTEGER NOT NULL,
    cost_usd           REAL NOT NULL,
    direct             INTEGER NOT NULL,
    provider_fallback  INTEGER NOT NULL,
    model_fallback     INTEGER NOT NULL,
    cache              INTEGER NOT NULL,
    errors_by_class    TEXT NOT NULL,
    latency            BLOB NOT NULL,
    ttft               BLOB NOT NULL,
    PRIMARY KEY (minute, origin)
) WITHOUT ROWID;
";

/// A sparse log-scale histogram: (bin, count) pairs sorted by bin, each bin
/// once. A week's dashboard merges some 20,000 minute histograms into its
/// buckets; merging sorted runs is linear, where a map paid a lookup per
/// bin (bench/results/scale.md).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Hist {
    bins: Vec<(u16, u64)>,
}

fn bin_of(v: f64) -> u16 {
    if v.is_nan() || v <= FLOOR_MS {
        return 0;
    }
    let i = ((v / FLOOR_MS).ln() / RATIO.ln()).floor() as i64 + 1;
    i.clamp(1, BINS as i64 - 1) as u16
}

/// The value a bin stands for: the geometric middle of its range.
fn value_of(bin: u16) -> f64 {
    if bin == 0 {
        return 0.0;
    }
    FLOOR_MS * RATIO.powf(f64::from(bin) - 0.5)
}

impl Hist {
    pub(crate) fn add(&mut self, v: f64) {
        self.add_to(bin_of(v), 1);
    }

    fn add_to(&mut self, bin: u16, n: u64) {
        match self.bins.binary_search_by_key(&bin, |&(b, _)| b) {
            Ok(i) => self.bins[i].1 += n,
            Err(i) => self.bins.insert(i, (bin, n)),
        }
    }

    /// Adds the sorted, distinct pairs `other`.
    fn merge_sorted(&mut self, other: impl IntoIterator<Item = (u16, u64)>) {
        let mine = std::mem::take(&mut self.bins);
        let mut out = Vec::with_capacity(mine.len() + 8);
        let mut a = mine.into_iter().peekable();
        for (b, n) in other {
            while let Some(&(ab, an)) = a.peek() {
                if ab >= b {
                    break;
                }
                out.push((ab, an));
                a.next();
            }
            match a.peek_mut() {
                Some((ab, an)) if *ab == b => {
                    out.push((b, *an + n));
                    a.next();
                }
                _ => out.push((b, n)),
            }
        }
        out.extend(a);
        self.bins = out;
    }

    fn merge(&mut self, o: &Hist) {
        self.merge_sorted(o.bins.iter().copied());
    }

    /// Pairs of (bin: u16 LE, count: u32 LE).
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bins.len() * 6);
        for (b, n) in &self.bins {
            out.extend_from_slice(&b.to_le_bytes());
            out.extend_from_slice(&(u32::try_from(*n).unwrap_or(u32::MAX)).to_le_bytes());
        }
        out
    }

    /// Adds an [`Hist::encode`]d histogram (bins ascending; a blob that is
    /// not, written by hand, is added bin by bin).
    fn merge_encoded(&mut self, bytes: &[u8]) {
        let pairs = bytes.chunks_exact(6).map(|c| {
            (
                u16::from_le_bytes([c[0], c[1]]),
                u64::from(u32::from_le_bytes([c[2], c[3], c[4], c[5]])),
            )
        });
        let mut last = None;
        if pairs
            .clone()
            .all(|(b, _)| last.replace(b).is_none_or(|l| l < b))
        {
            self.merge_sorted(pairs);
        } else {
            for (b, n) in pairs {
                self.add_to(b, n);
            }
        }
    }

    fn rank(&self, total: u64, p: f64) -> f64 {
        let want = ((p * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (b, n) in &self.bins {
            seen += n;
            if seen >= want {
                return value_of(*b);
            }
        }
        0.0
    }

    pub(crate) fn quantiles(&self) -> Option<Quantiles> {
        let total: u64 = self.bins.iter().map(|&(_, n)| n).sum();
        if total == 0 {
            return None;
        }
        Some(Quantiles {
            p50: self.rank(total, 0.50),
            p95: self.rank(total, 0.95),
            p99: self.rank(total, 0.99),
        })
    }
}

/// One minute of one origin.
#[derive(Debug, Clone, Default)]
pub(crate) struct Minute {
    pub counts: Bucket,
    pub latency: Hist,
    pub ttft: Hist,
}

impl Minute {
    pub(crate) fn add(&mut self, r: &Rec<'_>) {
        let (l, t) = tally(&mut self.counts, r);
        if let Some(l) = l {
            self.latency.add(l);
        }
        if let Some(t) = t {
            self.ttft.add(t);
        }
    }
}

/// What a batch adds, by (minute, origin).
pub(crate) type Pending = HashMap<(i64, String), Minute>;

pub(crate) fn minute_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(MINUTE_MS)
}

const COLS: &str = "requests, errors, cancelled, tokens_in, tokens_out, cache_read_tokens,
    cache_write_tokens, usage_unknown, cost_usd, direct, provider_fallback, model_fallback, cache,
    errors_by_class, latency, ttft";

/// Reads the columns [`COLS`] from `r` starting at column `at`.
fn read_minute(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Minute> {
    let u = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(at + i)?.max(0) as u64) };
    let mut m = Minute::default();
    let b = &mut m.counts;
    b.requests = u(0)?;
    b.errors = u(1)?;
    b.cancelled = u(2)?;
    b.tokens_in = u(3)?;
    b.tokens_out = u(4)?;
    b.cache_read_tokens = u(5)?;
    b.cache_write_tokens = u(6)?;
    b.usage_unknown = u(7)?;
    b.cost_usd = r.get(at + 8)?;
    b.route_modes.direct = u(9)?;
    b.route_modes.provider_fallback = u(10)?;
    b.route_modes.model_fallback = u(11)?;
    b.route_modes.cache = u(12)?;
    let classes: String = r.get(at + 13)?;
    b.errors_by_class = serde_json::from_str(&classes).unwrap_or_default();
    m.latency.merge_encoded(r.get_ref(at + 14)?.as_blob()?);
    m.ttft.merge_encoded(r.get_ref(at + 15)?.as_blob()?);
    Ok(m)
}

fn write_minute(conn: &Connection, minute: i64, origin: &str, m: &Minute) -> Result<(), DbError> {
    let b = &m.counts;
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO rollups (minute, origin, {COLS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    ))?;
    stmt.execute(params![
        minute,
        origin,
        i(b.requests),
        i(b.errors),
        i(b.cancelled),
        i(b.tokens_in),
        i(b.tokens_out),
        i(b.cache_read_tokens),
        i(b.cache_write_tokens),
        i(b.usage_unknown),
        b.cost_usd,
        i(b.route_modes.direct),
        i(b.route_modes.provider_fallback),
        i(b.route_modes.model_fallback),
        i(b.route_modes.cache),
        serde_json::to_string(&b.errors_by_class).unwrap_or_else(|_| "{}".into()),
        m.latency.encode(),
        m.ttft.encode(),
    ])?;
    Ok(())
}

/// Adds a batch's minutes to the stored ones (in the writer's transaction).
pub(crate) fn add_pending(conn: &Connection, pending: Pending) -> Result<(), DbError> {
    let mut get = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM rollups WHERE minute = ?1 AND origin = ?2"
    ))?;
    for ((minute, origin), mut m) in pending {
        if let Some(old) = get
            .query_row(params![minute, origin], |r| read_minute(r, 0))
            .optional()?
        {
            merge_counts(&mut m.counts, &old.counts);
            m.latency.merge(&old.latency);
            m.ttft.merge(&old.ttft);
        }
        write_minute(conn, minute, &origin, &m)?;
    }
    Ok(())
}

/// Recomputes the rollups of minutes `from..to` (every minute when `None`)
/// from the rows: the v7 migration, and the minute retention cut through.
pub(crate) fn rebuild(conn: &Connection, range: Option<(i64, i64)>) -> Result<(), DbError> {
    let (from, to) = range.unwrap_or((i64::MIN, i64::MAX));
    conn.execute(
        "DELETE FROM rollups WHERE minute >= ?1 AND minute < ?2",
        params![from, to],
    )?;
    let (from_ms, to_ms) = (from.saturating_mul(MINUTE_MS), to.saturating_mul(MINUTE_MS));
    // Minute by minute in time order, so only one minute is held at a time.
    let sql = format!(
        "SELECT {}, origin FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY ts_ms",
        super::query::REC_COLUMNS
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params![from_ms, to_ms])?;
    let mut current: Option<i64> = None;
    let mut pending = Pending::new();
    while let Some(r) = rows.next()? {
        let ts: i64 = r.get(0)?;
        let minute = minute_of(ts);
        if current != Some(minute) {
            for ((m, o), v) in pending.drain() {
                write_minute(conn, m, &o, &v)?;
            }
            current = Some(minute);
        }
        let rec = Rec {
            error: r
                .get_ref(1)?
                .as_str_or_null()
                .map_err(rusqlite::Error::from)?,
            latency_ms: r.get(2)?,
            ttft_ms: r.get(3)?,
            tokens_in: r.get(4)?,
            tokens_out: r.get(5)?,
            cost_usd: r.get(6)?,
            route_mode: r
                .get_ref(7)?
                .as_str_or_null()
                .map_err(rusqlite::Error::from)?,
            attempts: r.get(8)?,
            cancelled: r.get(9)?,
            status: r.get(10)?,
            cache_read_tokens: r.get(11)?,
            cache_write_tokens: r.get(12)?,
        };
        let origin: String = r.get(13)?;
        pending.entry((minute, origin)).or_default().add(&rec);
    }
    for ((m, o), v) in pending.drain() {
        write_minute(conn, m, &o, &v)?;
    }
    Ok(())
}

/// After retention: drops the rollups of minutes before the oldest row left
/// and recomputes the minute it falls in.
pub(crate) fn trim(conn: &Connection) -> Result<(), DbError> {
    let oldest: Option<i64> =
        conn.query_row("SELECT min(ts_ms) FROM requests", [], |r| r.get(0))?;
    match oldest {
        None => {
            conn.execute("DELETE FROM rollups", [])?;
        }
        Some(ts) => {
            let m = minute_of(ts);
            conn.execute("DELETE FROM rollups WHERE minute < ?1", [m])?;
            rebuild(conn, Some((m, m + 1)))?;
        }
    }
    Ok(())
}

/// Fills `buckets` from the rollups when they can answer (see the module
/// doc); `false` when the caller should scan the rows.
pub(crate) fn series(
    conn: &Connection,
    w: Window,
    bucket_ms: i64,
    filter: &Filter,
    buckets: &mut [Bucket],
) -> Result<bool, DbError> {
    if !origin_only(filter) || (buckets.len() > 1 && bucket_ms % MINUTE_MS != 0) {
        return Ok(false);
    }
    // Whole minutes inside the window; the partial ones at its ends come
    // from the rows.
    let lo = w.from_ms.div_euclid(MINUTE_MS) + i64::from(w.from_ms.rem_euclid(MINUTE_MS) > 0);
    let hi = w.to_ms.div_euclid(MINUTE_MS);
    if hi <= lo {
        return Ok(false);
    }
    let origin = origin_of(filter);
    let mut clause = String::from("minute >= ?1 AND minute < ?2");
    let mut args = vec![Value::Integer(lo), Value::Integer(hi)];
    if let Some(o) = origin {
        clause.push_str(" AND origin = ?3");
        args.push(Value::Text(o.to_string()));
    }
    let total: i64 = conn.query_row(
        &format!("SELECT coalesce(sum(requests), 0) FROM rollups WHERE {clause}"),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    if (total.max(0) as u64) < ROLLUP_ABOVE {
        return Ok(false);
    }
    let n = buckets.len();
    let index = |ts: i64| (((ts - w.from_ms) / bucket_ms).max(0) as usize).min(n - 1);
    // Minutes a bucket edge cuts through are read from the rows too.
    let cut: BTreeSet<i64> = (1..n as i64)
        .map(|k| w.from_ms + k * bucket_ms)
        .filter(|edge| edge.rem_euclid(MINUTE_MS) != 0)
        .map(minute_of)
        .filter(|m| (lo..hi).contains(m))
        .collect();
    let mut lat = vec![Hist::default(); n];
    let mut ttft = vec![Hist::default(); n];
    let mut stmt = conn.prepare(&format!(
        "SELECT minute, {COLS} FROM rollups WHERE {clause}"
    ))?;
    let mut rows = stmt.query(params_from_iter(args.iter()))?;
    while let Some(r) = rows.next()? {
        let minute: i64 = r.get(0)?;
        if cut.contains(&minute) {
            continue;
        }
        let m = read_minute(r, 1)?;
        let i = index(minute * MINUTE_MS);
        merge_counts(&mut buckets[i], &m.counts);
        lat[i].merge(&m.latency);
        ttft[i].merge(&m.ttft);
    }
    let ends = [
        Window {
            from_ms: w.from_ms,
            to_ms: lo * MINUTE_MS,
        },
        Window {
            from_ms: hi * MINUTE_MS,
            to_ms: w.to_ms,
        },
    ];
    let cut_minutes = cut.iter().map(|m| Window {
        from_ms: m * MINUTE_MS,
        to_ms: (m + 1) * MINUTE_MS,
    });
    for part in ends.into_iter().chain(cut_minutes) {
        if part.to_ms <= part.from_ms {
            continue;
        }
        let (wh, args) = window_where(part, filter);
        scan_rows(conn, &wh, &args, |ts, rec| {
            let i = index(ts);
            let (l, t) = tally(&mut buckets[i], rec);
            if let Some(l) = l {
                lat[i].add(l);
            }
            if let Some(t) = t {
                ttft[i].add(t);
            }
        })?;
    }
    for (i, b) in buckets.iter_mut().enumerate() {
        b.latency_ms = lat[i].quantiles();
        b.ttft_ms = ttft[i].quantiles();
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::super::query::{self, series_rows};
    use super::super::{AttemptEvent, Db, Origin, RequestEvent, Retention};
    use super::*;
    use crate::vocab::RouteMode;

    const T0: i64 = 1_700_000_000_000 + 12_345; // not on a minute

    /// `n` varied events, one every `step_ms` from `T0`.
    fn events(n: usize, step_ms: i64) -> Vec<RequestEvent> {
        (0..n)
            .map(|i| {
                let ts = T0 + i as i64 * step_ms;
                let origin = if i % 10 == 0 {
                    Origin::Bench
                } else {
                    Origin::Client
                };
                let mut e = RequestEvent::new(
                    format!("r{i}"),
                    UNIX_EPOCH + Duration::from_millis(ts as u64),
                    format!("client-{}", i % 7),
                    "chat_completions",
                    "m".into(),
                    origin,
                );
                e.status = 200;
                e.latency_ms = 1.0 + (i % 997) as f64;
                if i % 2 == 0 {
                    e.ttft_ms = Some(0.5 + (i % 89) as f64);
                }
                if i % 3 > 0 {
                    e.attempts.push(AttemptEvent {
                        provider: "p".into(),
                        model: "m".into(),
                        status: Some(200),
                        error: None,
                        latency_ms: e.latency_ms,
                        key: None,
                    });
                }
                match i % 13 {
                    0 => {
                        e.error = Some("rate_limited".into());
                        e.status = 429;
                    }
                    1 => {
                        e.error = Some("client_cancelled".into());
                        e.cancelled = true;
                    }
                    2 => e.route_mode = Some(RouteMode::ProviderFallback),
                    _ => e.route_mode = Some(RouteMode::Direct),
                }
                if i % 5 > 0 {
                    e.tokens_in = Some(10 + i as u64 % 50);
                    e.tokens_out = Some(3);
                    e.cache_read_tokens = Some(2);
                    e.cost_usd = Some(0.001);
                }
                e
            })
            .collect()
    }

    fn log(n: usize, step_ms: i64) -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        for chunk in events(n, step_ms).chunks(2_000) {
            db.insert(chunk, 1024).unwrap();
        }
        (dir, db)
    }

    /// The series both ways: (from the rollups, from the rows).
    fn both(db: &Db, w: Window, bucket_ms: i64, f: &Filter) -> (Vec<Bucket>, Vec<Bucket>) {
        db.read(|c| {
            let s = query::series(c, w, bucket_ms, f)?;
            let mut rows = s.buckets.clone();
            for b in &mut rows {
                *b = Bucket {
                    start_ms: b.start_ms,
                    ..Bucket::default()
                };
            }
            series_rows(c, w, bucket_ms, f, &mut rows)?;
            Ok((s.buckets, rows))
        })
        .unwrap()
    }

    fn same(a: &[Bucket], b: &[Bucket]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            let strip = |b: &Bucket| Bucket {
                latency_ms: None,
                ttft_ms: None,
                cost_usd: (b.cost_usd * 1e6).round(),
                ..b.clone()
            };
            assert_eq!(strip(x), strip(y));
            for (q, r) in [(x.latency_ms, y.latency_ms), (x.ttft_ms, y.ttft_ms)] {
                assert_eq!(q.is_some(), r.is_some());
                if let (Some(q), Some(r)) = (q, r) {
                    for (u, v) in [(q.p50, r.p50), (q.p95, r.p95), (q.p99, r.p99)] {
                        assert!((u - v).abs() <= v * 0.021, "{u} against {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn long_windows_read_the_rollups_and_agree_with_the_rows() {
        // 30,000 requests, one every 250 ms: ~2 h; the window starts and
        // ends off the minute, so its ends come from the rows.
        let (_dir, db) = log(30_000, 250);
        let w = Window {
            from_ms: T0 + 7_777,
            to_ms: T0 + 30_000 * 250 - 3_333,
        };
        let counted = db
            .read(|c| {
                let mut v = vec![Bucket::default()];
                series(c, w, w.to_ms - w.from_ms, &Filter::default(), &mut v)
            })
            .unwrap();
        assert!(
            counted,
            "a window of 27,000 client requests is read from the rollups"
        );
        for f in [
            Filter::default(),
            Filter {
                origin: Some("all".into()),
                ..Filter::default()
            },
        ] {
            let (r, rows) = both(&db, w, w.to_ms - w.from_ms, &f);
            same(&r, &rows);
            let (r, rows) = both(&db, w, 600_000, &f);
            assert!(r.iter().map(|b| b.requests).sum::<u64>() > ROLLUP_ABOVE);
            same(&r, &rows);
        }
        // a filter the rollups cannot answer, and a short window: the rows
        let short = Window {
            from_ms: T0,
            to_ms: T0 + 600_000,
        };
        for (w, f) in [
            (
                w,
                Filter {
                    client: Some("client-1".into()),
                    ..Filter::default()
                },
            ),
            (short, Filter::default()),
        ] {
            let used = db
                .read(|c| series(c, w, 60_000, &f, &mut vec![Bucket::default(); 1000]))
                .unwrap();
            assert!(!used);
        }
    }

    #[test]
    fn a_version_6_log_gains_rollups_and_retention_keeps_them_right() {
        let (dir, db) = log(30_000, 250);
        let w = Window {
            from_ms: T0,
            to_ms: T0 + 30_000 * 250,
        };
        let (before, _) = both(&db, w, 60_000, &Filter::default());
        drop(db);
        // the same log as v6 wrote it: no rollups table
        let path = dir.path().join("t.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch("DROP TABLE rollups; PRAGMA user_version = 6;")
                .unwrap();
        }
        let db = Db::open(&path).unwrap();
        let (after, rows) = both(&db, w, 60_000, &Filter::default());
        assert_eq!(after, before, "the migration computes what the writer kept");
        same(&after, &rows);
        let v: i64 = db
            .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(v, 7);
        // retention cuts through a minute: its rollup is recomputed
        let cut = T0 + 8_000 * 250 + 20_000;
        let now = SystemTime::now();
        let age = Duration::from_millis((crate::telemetry::unix_ms(now) - cut) as u64);
        let r = db
            .enforce_retention(
                now,
                Retention {
                    max_age: Some(age),
                    max_bytes: u64::MAX,
                },
            )
            .unwrap();
        assert!(r.expired >= 8_000, "{r:?}");
        let all = Filter {
            origin: Some("all".into()),
            ..Filter::default()
        };
        let (after, rows) = both(&db, w, 60_000, &all);
        assert!(after.iter().map(|b| b.requests).sum::<u64>() > ROLLUP_ABOVE);
        same(&after, &rows);
        let left: i64 = db
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM rollups WHERE minute < ?1",
                    [minute_of(cut)],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(left, 0);
    }

    /// Merging (of histograms and of blobs, sorted or not) counts every
    /// sample in its bin, as adding them one by one does.
    #[test]
    fn merges_agree_with_adding_one_by_one() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / f64::from(1u32 << 31) * 5_000.0
        };
        let (mut all, mut merged, mut blobs) = (Hist::default(), Hist::default(), Hist::default());
        for _ in 0..50 {
            let mut part = Hist::default();
            for _ in 0..40 {
                let v = next();
                part.add(v);
                all.add(v);
            }
            merged.merge(&part);
            blobs.merge_encoded(&part.encode());
        }
        assert_eq!(merged, all);
        assert_eq!(blobs, all);
        assert!(all.bins.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(all.bins.iter().map(|&(_, n)| n).sum::<u64>(), 2_000);
        // A blob with its bins out of order (not ours) still adds up.
        let mut odd = Hist::default();
        let blob: Vec<u8> = [(9u16, 2u32), (3, 1), (9, 4)]
            .iter()
            .flat_map(|(b, n)| b.to_le_bytes().into_iter().chain(n.to_le_bytes()))
            .collect();
        odd.add_to(3, 1);
        odd.merge_encoded(&blob);
        assert_eq!(odd.bins, [(3, 2), (9, 6)]);
    }

    #[test]
    fn histogram_percentiles_are_within_two_percent() {
        let mut h = Hist::default();
        let mut v: Vec<f64> = (1..=10_000).map(|i| f64::from(i) * 0.37).collect();
        for x in &v {
            h.add(*x);
        }
        let mut back = Hist::default();
        back.merge_encoded(&h.encode());
        assert_eq!(back, h);
        let exact = super::super::query::quantiles(&mut v).unwrap();
        let approx = back.quantiles().unwrap();
        for (e, a) in [
            (exact.p50, approx.p50),
            (exact.p95, approx.p95),
            (exact.p99, approx.p99),
        ] {
            assert!((a - e).abs() / e < 0.02, "{a} against {e}");
        }
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(-1.0), 0);
        assert_eq!(bin_of(f64::NAN), 0);
        assert_eq!(bin_of(1e30), (BINS - 1) as u16);
        assert!(Hist::default().quantiles().is_none());
    }
}
