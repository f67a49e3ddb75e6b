//! Rollups of the request log, kept by the writer in the same transaction as
//! the rows: the series' counters and log-scale histograms of latency and
//! TTFT, at two grains.
//!
//! - `rollups` (schema v7): one row per minute and origin, for unfiltered
//!   traffic (every filter but `origin` unset).
//! - `rollups_hour` (schema v8): one row per hour, origin and *dimension
//!   value*: all traffic (`dim = ''`), and per `provider`, forwarded `model`,
//!   `requested_model`, pattern `route` and `client`, so a chart filtered by
//!   one of them reads 168 rows for a week instead of scanning every row of
//!   the week for the few that match.
//!
//! Series and summaries over windows whose hours hold more than
//! [`ROLLUP_ABOVE`] requests read the coarsest grain that fits: the hourly
//! rollups when the filter names at most one dimension and the buckets are
//! whole hours (or one bucket, a summary); the per-minute ones for
//! unfiltered traffic in buckets of whole minutes; the rows otherwise. The
//! parts of the window a grain cannot cover — the partial units at its ends
//! and the units a bucket edge cuts through — are read from the next finer
//! grain, down to the rows.
//!
//! What differs from a scan of the rows: percentiles are the midpoint of the
//! histogram bin holding the nearest-rank sample (bins grow by [`RATIO`], so
//! within ±2 %). Counts and sums are exact.

use std::collections::{BTreeSet, HashMap};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::db::DbError;
use super::query::{
    Bucket, Filter, Quantiles, Rec, Window, merge_counts, origin_of, origin_only, samples,
    scan_rows, tally, window_where,
};

/// Windows whose hours hold fewer requests than this are read from the
/// rows (exact percentiles); more, from the rollups.
pub const ROLLUP_ABOVE: u64 = 20_000;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// Each histogram bin is this much wider than the one below it.
const RATIO: f64 = 1.04;
/// Values below this (ms) share bin 0.
const FLOOR_MS: f64 = 0.001;
/// Bins: 0.001 ms × 1.04^1000 ≈ 100 million s: every latency fits.
const BINS: usize = 1000;

/// The counter columns both grains keep, after their key.
macro_rules! counter_columns {
    () => {
        "requests           INTEGER NOT NULL,
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
    ttft               BLOB NOT NULL,"
    };
}

/// The per-minute rollups (v7).
pub(crate) const SCHEMA: &str = concat!(
    "
CREATE TABLE IF NOT EXISTS rollups (
    minute             INTEGER NOT NULL,
    origin             TEXT NOT NULL,
    ",
    counter_columns!(),
    "
    PRIMARY KEY (minute, origin)
) WITHOUT ROWID;
"
);

/// The hourly rollups by dimension (v8).
pub(crate) const SCHEMA_HOURS: &str = concat!(
    "
CREATE TABLE IF NOT EXISTS rollups_hour (
    dim                TEXT NOT NULL,
    value              TEXT NOT NULL,
    hour               INTEGER NOT NULL,
    origin             TEXT NOT NULL,
    ",
    counter_columns!(),
    "
    PRIMARY KEY (dim, value, hour, origin)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_state (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO rollup_state (name, value) VALUES ('hours_through_id', 0);
"
);

/// How long the writer holds hourly rollups in memory before storing them
/// (with the batch of rows that comes next), and how many cells at most.
/// One hourly row per dimension value is read and rewritten per store: at
/// every batch of 512, that was four times the rows' own cost
/// (bench/results/scale.md). Rows not yet in them are found by id
/// (`hours_through_id`), so every read stays exact meanwhile.
pub(crate) const HOURS_HELD_FOR: std::time::Duration = std::time::Duration::from_secs(10);
pub(crate) const HOURS_HELD_MAX: usize = 20_000;

/// A sparse log-scale histogram: (bin, count) pairs sorted by bin, each bin
/// once. A week's dashboard merges some 20,000 minute histograms into its
/// buckets; merging sorted runs is linear, where a map paid a lookup per
/// bin (bench/results/scale.md).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Hist {
    bins: Vec<(u16, u64)>,
}

/// The histogram bins of `r`'s latency and TTFT samples.
fn bins_of(r: &Rec<'_>) -> (Option<u16>, Option<u16>) {
    let (l, t) = samples(r);
    (l.map(bin_of), t.map(bin_of))
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

/// The counters and histograms of one rollup row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cell {
    pub counts: Bucket,
    pub latency: Hist,
    pub ttft: Hist,
}

impl Cell {
    /// Counts `r`, whose latency and TTFT samples fall in `bins`.
    fn add_binned(&mut self, r: &Rec<'_>, bins: (Option<u16>, Option<u16>)) {
        tally(&mut self.counts, r);
        self.add_bins(bins);
    }

    fn add_bins(&mut self, (l, t): (Option<u16>, Option<u16>)) {
        if let Some(l) = l {
            self.latency.add_to(l, 1);
        }
        if let Some(t) = t {
            self.ttft.add_to(t, 1);
        }
    }

    fn merge(&mut self, o: &Cell) {
        merge_counts(&mut self.counts, &o.counts);
        self.latency.merge(&o.latency);
        self.ttft.merge(&o.ttft);
    }
}

/// The dimension values of one request that the hourly rollups key on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keys<'a> {
    pub provider: Option<&'a str>,
    pub model: Option<&'a str>,
    pub requested_model: &'a str,
    pub route: Option<&'a str>,
    pub client: &'a str,
}

impl<'a> Keys<'a> {
    /// (dimension, value) pairs the request counts in: all traffic, and
    /// each dimension it has a value for.
    fn dims(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        [
            ("", Some("")),
            ("provider", self.provider),
            ("model", self.model),
            ("requested_model", Some(self.requested_model)),
            ("route", self.route),
            ("client", Some(self.client)),
        ]
        .into_iter()
        .filter_map(|(d, v)| Some((d, v?)))
    }
}

/// The one dimension a filter narrows by (`("", "")`: none but the origin),
/// as the hourly rollups key it; `None` when it narrows by more, or
/// searches.
fn dim_of(f: &Filter) -> Option<(&'static str, &str)> {
    if f.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
        return None;
    }
    let route_dim = match &f.route {
        Some(r) if r.contains('*') => "route",
        _ => "requested_model",
    };
    let mut set = [
        ("provider", &f.provider),
        ("model", &f.model),
        (route_dim, &f.route),
        ("client", &f.client),
    ]
    .into_iter()
    .filter_map(|(d, v)| Some((d, v.as_deref()?)));
    match (set.next(), set.next()) {
        (None, _) => Some(("", "")),
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// What a batch adds to the rollups.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// By (minute, origin).
    minutes: HashMap<(i64, String), Cell>,
    /// By hour, then by [`Pending::hour_key`] (dimension, origin, value).
    hours: HashMap<i64, HashMap<String, Cell>>,
    /// Scratch for looking a key up without allocating.
    key: String,
}

/// The dimensions in the order [`Keys::dims`] gives them; a key names one
/// by its index.
const DIMS: [&str; 6] = [
    "",
    "provider",
    "model",
    "requested_model",
    "route",
    "client",
];

impl Pending {
    pub(crate) fn add(&mut self, ts_ms: i64, origin: &str, keys: &Keys<'_>, r: &Rec<'_>) {
        let minute = self
            .minutes
            .entry((minute_of(ts_ms), origin.to_string()))
            .or_default();
        let bins = bins_of(r);
        minute.add_binned(r, bins);
        self.add_hours(ts_ms, origin, keys, r, bins);
    }

    fn add_hours(
        &mut self,
        ts_ms: i64,
        origin: &str,
        keys: &Keys<'_>,
        r: &Rec<'_>,
        bins: (Option<u16>, Option<u16>),
    ) {
        let cells = self.hours.entry(ts_ms.div_euclid(HOUR_MS)).or_default();
        for (dim, value) in keys.dims() {
            Self::hour_key(&mut self.key, dim, origin, value);
            let cell = match cells.get_mut(self.key.as_str()) {
                Some(c) => c,
                None => cells.entry(self.key.clone()).or_default(),
            };
            cell.add_binned(r, bins);
        }
    }

    /// The dimension's index as a digit, the origin (ours: never a NUL),
    /// a NUL, then the value (anything).
    fn hour_key(buf: &mut String, dim: &str, origin: &str, value: &str) {
        let i = DIMS.iter().position(|d| *d == dim).unwrap_or(0);
        buf.clear();
        buf.push(char::from(b'0' + i as u8));
        buf.push_str(origin);
        buf.push('\0');
        buf.push_str(value);
    }

    /// (dimension, origin, value) of a [`Pending::hour_key`].
    fn split_key(key: &str) -> (&'static str, &str, &str) {
        let dim = DIMS[usize::from(key.as_bytes()[0] - b'0')];
        let (origin, value) = key[1..].split_once('\0').unwrap_or((&key[1..], ""));
        (dim, origin, value)
    }

    fn is_empty(&self) -> bool {
        self.minutes.is_empty() && self.hours.is_empty()
    }

    /// Moves the hourly cells out (the writer holds them; see [`Held`]).
    pub(crate) fn take_hours(&mut self) -> Pending {
        Pending {
            hours: std::mem::take(&mut self.hours),
            ..Pending::default()
        }
    }

    fn hour_cells(&self) -> usize {
        self.hours.values().map(HashMap::len).sum()
    }
}

/// Hourly cells of committed rows, not yet stored in `rollups_hour`.
#[derive(Debug, Default)]
pub(crate) struct Held {
    pending: Pending,
    since: Option<std::time::Instant>,
}

impl Held {
    /// Whether the next batch should store what is held.
    pub(crate) fn due(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= HOURS_HELD_FOR)
            || self.pending.hour_cells() >= HOURS_HELD_MAX
    }

    /// Adds the hourly cells of a committed batch.
    pub(crate) fn absorb(&mut self, batch: Pending) {
        if batch.hours.is_empty() {
            return;
        }
        self.since.get_or_insert_with(std::time::Instant::now);
        for (hour, cells) in batch.hours {
            let mine = self.pending.hours.entry(hour).or_default();
            for (key, cell) in cells {
                match mine.get_mut(&key) {
                    Some(c) => c.merge(&cell),
                    None => {
                        mine.insert(key, cell);
                    }
                }
            }
        }
    }

    /// Stores what is held (and `extra`, a batch not yet held) in the
    /// writer's transaction; call [`Held::stored`] once it commits.
    pub(crate) fn store(&self, conn: &Connection, extra: &Pending) -> Result<(), DbError> {
        store_hours(conn, &self.pending)?;
        store_hours(conn, extra)?;
        mark_hours_through(conn)
    }

    pub(crate) fn stored(&mut self) {
        *self = Held::default();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.hours.is_empty()
    }
}

pub(crate) fn minute_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(MINUTE_MS)
}

const COLS: &str = "requests, errors, cancelled, tokens_in, tokens_out, cache_read_tokens,
    cache_write_tokens, usage_unknown, cost_usd, direct, provider_fallback, model_fallback, cache,
    errors_by_class, latency, ttft";

/// Reads the columns [`COLS`] from `r` starting at column `at`.
fn read_cell(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Cell> {
    let u = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(at + i)?.max(0) as u64) };
    let mut m = Cell::default();
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

/// The values of [`COLS`], in order.
fn cell_values(m: &Cell) -> [Value; 16] {
    let b = &m.counts;
    let i = |v: u64| Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));
    [
        i(b.requests),
        i(b.errors),
        i(b.cancelled),
        i(b.tokens_in),
        i(b.tokens_out),
        i(b.cache_read_tokens),
        i(b.cache_write_tokens),
        i(b.usage_unknown),
        Value::Real(b.cost_usd),
        i(b.route_modes.direct),
        i(b.route_modes.provider_fallback),
        i(b.route_modes.model_fallback),
        i(b.route_modes.cache),
        Value::Text(serde_json::to_string(&b.errors_by_class).unwrap_or_else(|_| "{}".into())),
        Value::Blob(m.latency.encode()),
        Value::Blob(m.ttft.encode()),
    ]
}

/// `?1, ?2, …, ?n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A rollup table's key columns, in the order its methods take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grain {
    Minute,
    Hour,
}

impl Grain {
    fn unit_ms(self) -> i64 {
        match self {
            Grain::Minute => MINUTE_MS,
            Grain::Hour => HOUR_MS,
        }
    }

    fn table(self) -> &'static str {
        match self {
            Grain::Minute => "rollups",
            Grain::Hour => "rollups_hour",
        }
    }

    fn key_columns(self) -> &'static str {
        match self {
            Grain::Minute => "minute, origin",
            Grain::Hour => "dim, value, hour, origin",
        }
    }

    fn key_match(self) -> &'static str {
        match self {
            Grain::Minute => "minute = ?1 AND origin = ?2",
            Grain::Hour => "dim = ?1 AND value = ?2 AND hour = ?3 AND origin = ?4",
        }
    }

    fn unit_column(self) -> &'static str {
        match self {
            Grain::Minute => "minute",
            Grain::Hour => "hour",
        }
    }

    /// The next finer grain that can answer `filter`; `None`: the rows.
    fn finer(self, filter: &Filter) -> Option<Grain> {
        match self {
            Grain::Hour if origin_only(filter) => Some(Grain::Minute),
            _ => None,
        }
    }
}

/// Adds `m` to the stored row keyed `key` (or stores it).
fn add_to_row(conn: &Connection, g: Grain, key: &[Value], m: &Cell) -> Result<(), DbError> {
    let mut get = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM {} WHERE {}",
        g.table(),
        g.key_match()
    ))?;
    match get
        .query_row(params_from_iter(key.iter()), |r| read_cell(r, 0))
        .optional()?
    {
        Some(mut old) => {
            old.merge(m);
            write_row(conn, g, key, &old)
        }
        None => write_row(conn, g, key, m),
    }
}

fn write_row(conn: &Connection, g: Grain, key: &[Value], m: &Cell) -> Result<(), DbError> {
    let values = cell_values(m);
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {} ({}, {COLS}) VALUES ({})",
        g.table(),
        g.key_columns(),
        placeholders(key.len() + values.len())
    ))?;
    stmt.execute(params_from_iter(key.iter().chain(values.iter())))?;
    Ok(())
}

fn minute_key(minute: i64, origin: &str) -> [Value; 2] {
    [Value::Integer(minute), Value::Text(origin.to_string())]
}

fn hour_key(dim: &str, value: &str, hour: i64, origin: &str) -> [Value; 4] {
    [
        Value::Text(dim.to_string()),
        Value::Text(value.to_string()),
        Value::Integer(hour),
        Value::Text(origin.to_string()),
    ]
}

/// Adds a batch's per-minute rollups to the stored ones (in the writer's
/// transaction); its hourly ones go to [`Held`].
pub(crate) fn add_minutes(conn: &Connection, pending: &Pending) -> Result<(), DbError> {
    for ((minute, origin), m) in &pending.minutes {
        add_to_row(conn, Grain::Minute, &minute_key(*minute, origin), m)?;
    }
    Ok(())
}

fn store_hours(conn: &Connection, pending: &Pending) -> Result<(), DbError> {
    for (hour, cells) in &pending.hours {
        for (key, m) in cells {
            let (dim, origin, value) = Pending::split_key(key);
            add_to_row(conn, Grain::Hour, &hour_key(dim, value, *hour, origin), m)?;
        }
    }
    Ok(())
}

/// Records that every row there is now counted in `rollups_hour`.
fn mark_hours_through(conn: &Connection) -> Result<(), DbError> {
    conn.execute(
        "UPDATE rollup_state SET value = (SELECT coalesce(max(id), 0) FROM requests)
         WHERE name = 'hours_through_id'",
        [],
    )?;
    Ok(())
}

/// The last row id `rollups_hour` counts; rows after it are in no hourly
/// rollup yet (held by the writer, or lost with a process that stopped).
fn hours_through(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn
        .query_row(
            "SELECT value FROM rollup_state WHERE name = 'hours_through_id'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// At open: adds the rows after `hours_through_id` (what a process that
/// stopped still held) to the hourly rollups.
pub(crate) fn recover_hours(conn: &Connection) -> Result<(), DbError> {
    let after = hours_through(conn)?;
    let last: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM requests", [], |r| {
        r.get(0)
    })?;
    if last <= after {
        return Ok(());
    }
    let mut pending = Pending::default();
    for_each_row(
        conn,
        "id > ?1",
        &[Value::Integer(after)],
        |ts, origin, keys, rec| {
            pending.add_hours(ts, origin, keys, rec, bins_of(rec));
            Ok(())
        },
    )?;
    store_hours(conn, &pending)?;
    mark_hours_through(conn)
}

/// Stores `pending`'s minutes over rows known to be gone (a rebuild
/// deleted them).
fn write_minutes(conn: &Connection, pending: &mut Pending) -> Result<(), DbError> {
    for ((minute, origin), m) in pending.minutes.drain() {
        write_row(conn, Grain::Minute, &minute_key(minute, &origin), &m)?;
    }
    Ok(())
}

/// Stores `pending` over rows known to be gone (a rebuild deleted them).
fn write_pending(conn: &Connection, pending: &mut Pending) -> Result<(), DbError> {
    write_minutes(conn, pending)?;
    for (hour, cells) in pending.hours.drain() {
        for (key, m) in cells {
            let (dim, origin, value) = Pending::split_key(&key);
            write_row(conn, Grain::Hour, &hour_key(dim, value, hour, origin), &m)?;
        }
    }
    Ok(())
}

/// Recomputes from the rows the rollups of `grains` for the units in
/// `from_ms..to_ms` (whole units of each grain): the migrations, and the
/// unit retention cut through.
fn rebuild(conn: &Connection, grains: &[Grain], from_ms: i64, to_ms: i64) -> Result<(), DbError> {
    for g in grains {
        let unit = g.unit_ms();
        conn.execute(
            &format!(
                "DELETE FROM {} WHERE {c} >= ?1 AND {c} < ?2",
                g.table(),
                c = g.unit_column()
            ),
            params![from_ms.div_euclid(unit), to_ms.div_euclid(unit)],
        )?;
    }
    let (minutes, hours) = (
        grains.contains(&Grain::Minute),
        grains.contains(&Grain::Hour),
    );
    // In time order, storing each unit when the next begins, so only one
    // hour (one minute) is held at a time.
    let (mut minute, mut hour) = (None, None);
    let mut pending = Pending::default();
    for_each_row(
        conn,
        "ts_ms >= ?1 AND ts_ms < ?2 ORDER BY ts_ms",
        &[Value::Integer(from_ms), Value::Integer(to_ms)],
        |ts, origin, keys, rec| {
            if minute != Some(minute_of(ts)) {
                write_minutes(conn, &mut pending)?;
                minute = Some(minute_of(ts));
            }
            if hour != Some(ts.div_euclid(HOUR_MS)) {
                write_pending(conn, &mut pending)?;
                hour = Some(ts.div_euclid(HOUR_MS));
            }
            let bins = bins_of(rec);
            if minutes {
                pending
                    .minutes
                    .entry((minute_of(ts), origin.to_string()))
                    .or_default()
                    .add_binned(rec, bins);
            }
            if hours {
                pending.add_hours(ts, origin, keys, rec, bins);
            }
            Ok(())
        },
    )?;
    if !pending.is_empty() {
        write_pending(conn, &mut pending)?;
    }
    Ok(())
}

/// Calls `f(ts_ms, origin, keys, rec)` for each row of
/// `SELECT … FROM requests WHERE {wh}`.
fn for_each_row(
    conn: &Connection,
    wh: &str,
    args: &[Value],
    mut f: impl FnMut(i64, &str, &Keys<'_>, &Rec<'_>) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let sql = format!(
        "SELECT {}, origin, provider, forwarded_model, requested_model, route, client
         FROM requests WHERE {wh}",
        super::query::REC_COLUMNS
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(args.iter()))?;
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<Option<String>> { r.get(i) };
    while let Some(r) = rows.next()? {
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
        let (provider, model, route) = (text(r, 14)?, text(r, 15)?, text(r, 17)?);
        let (requested, client): (String, String) = (r.get(16)?, r.get(18)?);
        let keys = Keys {
            provider: provider.as_deref(),
            model: model.as_deref(),
            requested_model: &requested,
            route: route.as_deref(),
            client: &client,
        };
        f(r.get(0)?, &origin, &keys, &rec)?;
    }
    Ok(())
}

/// The v7 migration: per-minute rollups of every row.
pub(crate) fn rebuild_minutes(conn: &Connection) -> Result<(), DbError> {
    rebuild(conn, &[Grain::Minute], i64::MIN, i64::MAX)
}

/// The v8 migration: hourly rollups of every row.
pub(crate) fn rebuild_hours(conn: &Connection) -> Result<(), DbError> {
    rebuild(conn, &[Grain::Hour], i64::MIN, i64::MAX)?;
    mark_hours_through(conn)
}

/// After retention: drops the rollups of units before the oldest row left
/// and recomputes the minute and the hour it falls in (from the rows: what
/// the writer held is stored first, [`Held::store`]).
pub(crate) fn trim(conn: &Connection) -> Result<(), DbError> {
    let oldest: Option<i64> =
        conn.query_row("SELECT min(ts_ms) FROM requests", [], |r| r.get(0))?;
    let Some(ts) = oldest else {
        conn.execute("DELETE FROM rollups", [])?;
        conn.execute("DELETE FROM rollups_hour", [])?;
        // (row ids start again from 1)
        return mark_hours_through(conn);
    };
    for g in [Grain::Minute, Grain::Hour] {
        let unit = g.unit_ms();
        let first = ts.div_euclid(unit);
        conn.execute(
            &format!("DELETE FROM {} WHERE {} < ?1", g.table(), g.unit_column()),
            [first],
        )?;
        rebuild(conn, &[g], first * unit, (first + 1) * unit)?;
    }
    Ok(())
}

/// The buckets of a series being filled, with their histograms.
struct Acc<'a> {
    /// Rows after this id are in no hourly rollup yet ([`Held`]).
    hours_through: i64,
    from_ms: i64,
    bucket_ms: i64,
    buckets: &'a mut [Bucket],
    lat: Vec<Hist>,
    ttft: Vec<Hist>,
}

impl Acc<'_> {
    fn index(&self, ts: i64) -> usize {
        let n = self.buckets.len();
        (((ts - self.from_ms) / self.bucket_ms).max(0) as usize).min(n - 1)
    }

    /// Bucket edges inside `part` (the series' own ends are none).
    fn edges_in(&self, part: Window) -> impl Iterator<Item = i64> + use<> {
        let (from, step) = (self.from_ms, self.bucket_ms);
        let first = ((part.from_ms - from).max(0) + step - 1) / step;
        let last = (part.to_ms - from - 1).max(0) / step;
        (first.max(1)..=last.min(self.buckets.len() as i64 - 1)).map(move |k| from + k * step)
    }

    fn add_cell(&mut self, ts: i64, m: &Cell) {
        let i = self.index(ts);
        merge_counts(&mut self.buckets[i], &m.counts);
        self.lat[i].merge(&m.latency);
        self.ttft[i].merge(&m.ttft);
    }

    fn add_rec(&mut self, ts: i64, rec: &Rec<'_>) {
        let i = self.index(ts);
        let (l, t) = tally(&mut self.buckets[i], rec);
        if let Some(l) = l {
            self.lat[i].add(l);
        }
        if let Some(t) = t {
            self.ttft[i].add(t);
        }
    }

    fn add_rows(
        &mut self,
        conn: &Connection,
        part: Window,
        filter: &Filter,
    ) -> Result<(), DbError> {
        let (wh, args) = window_where(part, filter);
        scan_rows(conn, &wh, &args, |ts, rec| self.add_rec(ts, rec))
    }

    /// Adds `part` of the window from grain `g` (the rows when `None`);
    /// what `g` cannot cover comes from the next finer grain.
    fn fill(
        &mut self,
        conn: &Connection,
        part: Window,
        filter: &Filter,
        g: Option<Grain>,
    ) -> Result<(), DbError> {
        let Some(g) = g else {
            return self.add_rows(conn, part, filter);
        };
        let unit = g.unit_ms();
        let finer = g.finer(filter);
        // Whole units inside the part.
        let lo = part.from_ms.div_euclid(unit) + i64::from(part.from_ms.rem_euclid(unit) > 0);
        let hi = part.to_ms.div_euclid(unit);
        if hi <= lo {
            return self.fill(conn, part, filter, finer);
        }
        // Units a bucket edge cuts through come from the finer grain too.
        let cut: BTreeSet<i64> = self
            .edges_in(part)
            .filter(|edge| edge.rem_euclid(unit) != 0)
            .map(|edge| edge.div_euclid(unit))
            .filter(|u| (lo..hi).contains(u))
            .collect();
        let mut args = vec![Value::Integer(lo), Value::Integer(hi)];
        let mut clause = format!("{c} >= ?1 AND {c} < ?2", c = g.unit_column());
        if g == Grain::Hour {
            let (dim, value) = dim_of(filter).unwrap_or_default();
            clause.push_str(" AND dim = ?3 AND value = ?4");
            args.push(Value::Text(dim.to_string()));
            args.push(Value::Text(value.to_string()));
        }
        if let Some(o) = origin_of(filter) {
            clause.push_str(&format!(" AND origin = ?{}", args.len() + 1));
            args.push(Value::Text(o.to_string()));
        }
        {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {}, {COLS} FROM {} WHERE {clause}",
                g.unit_column(),
                g.table()
            ))?;
            let mut rows = stmt.query(params_from_iter(args.iter()))?;
            while let Some(r) = rows.next()? {
                let u: i64 = r.get(0)?;
                if !cut.contains(&u) {
                    self.add_cell(u * unit, &read_cell(r, 1)?);
                }
            }
        }
        if g == Grain::Hour {
            // The rows the writer still holds the hourly cells of: found by
            // id (the rowid, not the time index: they are the newest).
            let whole = Window {
                from_ms: lo * unit,
                to_ms: hi * unit,
            };
            let (wh, mut args) = window_where(whole, filter);
            args.push(Value::Integer(self.hours_through));
            let wh = format!("NOT INDEXED {wh} AND id > ?{}", args.len());
            scan_rows(conn, &wh, &args, |ts, rec| {
                if !cut.contains(&ts.div_euclid(unit)) {
                    self.add_rec(ts, rec);
                }
            })?;
        }
        let ends = [
            Window {
                from_ms: part.from_ms,
                to_ms: lo * unit,
            },
            Window {
                from_ms: hi * unit,
                to_ms: part.to_ms,
            },
        ];
        let cut_units = cut.iter().map(|u| Window {
            from_ms: u * unit,
            to_ms: (u + 1) * unit,
        });
        for sub in ends.into_iter().chain(cut_units) {
            if sub.to_ms > sub.from_ms {
                self.fill(conn, sub, filter, finer)?;
            }
        }
        Ok(())
    }
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
    let n = buckets.len();
    let whole = |unit: i64| n == 1 || bucket_ms % unit == 0;
    let grain = if dim_of(filter).is_some() && whole(HOUR_MS) {
        Grain::Hour
    } else if origin_only(filter) && whole(MINUTE_MS) {
        Grain::Minute
    } else {
        return Ok(false);
    };
    // One snapshot for every read below: a store of the held hourly cells
    // committed between reading `hours_through_id` and the rollups would
    // count those rows twice.
    let tx = conn.unchecked_transaction()?;
    let conn: &Connection = &tx;
    // What a scan of the rows would read: every request in the hours the
    // window touches, whatever the filter.
    let mut clause = String::from("dim = '' AND value = '' AND hour >= ?1 AND hour < ?2");
    let mut args = vec![
        Value::Integer(w.from_ms.div_euclid(HOUR_MS)),
        Value::Integer((w.to_ms - 1).div_euclid(HOUR_MS) + 1),
    ];
    if let Some(o) = origin_of(filter) {
        clause.push_str(" AND origin = ?3");
        args.push(Value::Text(o.to_string()));
    }
    let stored: i64 = conn.query_row(
        &format!("SELECT coalesce(sum(requests), 0) FROM rollups_hour WHERE {clause}"),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    // (and the newest rows, whose hourly cells the writer still holds)
    let through = hours_through(conn)?;
    let held: i64 = conn.query_row(
        "SELECT count(*) FROM requests NOT INDEXED WHERE id > ?1 AND ts_ms >= ?2 AND ts_ms < ?3",
        [through, w.from_ms, w.to_ms],
        |r| r.get(0),
    )?;
    if (stored.max(0) as u64).saturating_add(held.max(0) as u64) < ROLLUP_ABOVE {
        return Ok(false);
    }
    let mut acc = Acc {
        hours_through: through,
        from_ms: w.from_ms,
        bucket_ms,
        buckets,
        lat: vec![Hist::default(); n],
        ttft: vec![Hist::default(); n],
    };
    acc.fill(conn, w, filter, Some(grain))?;
    let (lat, ttft) = (std::mem::take(&mut acc.lat), std::mem::take(&mut acc.ttft));
    for ((b, l), t) in acc.buckets.iter_mut().zip(&lat).zip(&ttft) {
        b.latency_ms = l.quantiles();
        b.ttft_ms = t.quantiles();
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
                if i % 4 == 0 {
                    e.route = Some("m*".into());
                }
                if i % 3 > 0 {
                    e.provider = Some(format!("p{}", i % 5));
                    e.forwarded_model = Some(format!("fm{}", i % 2));
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
            c.execute_batch(
                "DROP TABLE rollups; DROP TABLE rollups_hour; PRAGMA user_version = 6;",
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        let (after, rows) = both(&db, w, 60_000, &Filter::default());
        assert_eq!(after, before, "the migration computes what the writer kept");
        same(&after, &rows);
        let v: i64 = db
            .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(v, 8);
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
        // and the hourly ones: none before the cut's hour, the rest right
        let provider = Filter {
            provider: Some("p2".into()),
            origin: Some("all".into()),
            ..Filter::default()
        };
        for bucket in [w.to_ms - w.from_ms, HOUR_MS] {
            let (after, rows) = both(&db, w, bucket, &provider);
            assert!(after.iter().map(|b| b.requests).sum::<u64>() > 1_000);
            same(&after, &rows);
        }
        let left: i64 = db
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM rollups_hour WHERE hour < ?1",
                    [cut.div_euclid(HOUR_MS)],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn hourly_rollups_answer_one_dimension_and_agree_with_the_rows() {
        // 60,000 requests, one every 250 ms: ~4 h 10 min.
        let (_dir, db) = log(60_000, 250);
        let end = T0 + 60_000 * 250;
        let on_hour = (T0.div_euclid(HOUR_MS) + 1) * HOUR_MS;
        let windows = [
            // off the minute and the hour at both ends
            Window {
                from_ms: T0 + 7_777,
                to_ms: end - 3_333,
            },
            // whole hours: no bucket edge cuts one
            Window {
                from_ms: on_hour,
                to_ms: on_hour + 3 * HOUR_MS,
            },
        ];
        let one = |f: fn(&mut Filter)| {
            let mut filter = Filter::default();
            f(&mut filter);
            filter
        };
        let filters = [
            Filter::default(),
            one(|f| f.origin = Some("all".into())),
            one(|f| f.provider = Some("p1".into())),
            one(|f| f.model = Some("fm0".into())),
            one(|f| f.route = Some("m".into())),
            one(|f| f.route = Some("m*".into())),
            one(|f| {
                f.client = Some("client-3".into());
                f.origin = Some("all".into());
            }),
        ];
        // First with every hourly cell still held by the writer (the rows
        // after `hours_through_id` answer for them), then stored.
        let through = |db: &Db| db.read(hours_through).unwrap();
        for held in [true, false] {
            if !held {
                assert_eq!(through(&db), 0, "nothing stored within {HOURS_HELD_FOR:?}");
                db.store_held_rollups().unwrap();
                assert_eq!(through(&db), 60_000);
            }
            for w in windows {
                for f in &filters {
                    for bucket in [w.to_ms - w.from_ms, HOUR_MS, 2 * HOUR_MS] {
                        let used = db
                            .read(|c| {
                                let n = ((w.to_ms - w.from_ms + bucket - 1) / bucket) as usize;
                                series(c, w, bucket, f, &mut vec![Bucket::default(); n])
                            })
                            .unwrap();
                        assert!(used, "{f:?} over {w:?} by {bucket} reads the rollups");
                        let (r, rows) = both(&db, w, bucket, f);
                        assert!(rows.iter().map(|b| b.requests).sum::<u64>() > 0, "{f:?}");
                        same(&r, &rows);
                    }
                }
            }
        }
        // Two dimensions at once, a search, or buckets that are not whole
        // hours with a dimension: the rows.
        let w = windows[0];
        for (f, bucket) in [
            (
                one(|f| {
                    f.provider = Some("p1".into());
                    f.client = Some("client-3".into());
                }),
                HOUR_MS,
            ),
            (one(|f| f.q = Some("fm0".into())), HOUR_MS),
            (one(|f| f.provider = Some("p1".into())), 30 * MINUTE_MS),
        ] {
            let used = db
                .read(|c| {
                    let n = ((w.to_ms - w.from_ms + bucket - 1) / bucket) as usize;
                    series(c, w, bucket, &f, &mut vec![Bucket::default(); n])
                })
                .unwrap();
            assert!(!used, "{f:?} by {bucket}");
        }
        // The whole hours do come from rollups_hour: a changed hourly row
        // shows in the answer.
        let f = one(|f| f.provider = Some("p1".into()));
        let w = windows[1];
        let (before, _) = both(&db, w, w.to_ms - w.from_ms, &f);
        let changed = rusqlite::Connection::open(db.path())
            .unwrap()
            .execute(
                "UPDATE rollups_hour SET requests = requests + 1000
                 WHERE dim = 'provider' AND value = 'p1' AND hour = ?1 AND origin = 'client'",
                [on_hour.div_euclid(HOUR_MS) + 1],
            )
            .unwrap();
        assert_eq!(changed, 1);
        let (after, _) = both(&db, w, w.to_ms - w.from_ms, &f);
        assert_eq!(after[0].requests, before[0].requests + 1000);
    }

    #[test]
    fn hourly_cells_a_stopped_process_held_are_recovered_at_open() {
        let (dir, db) = log(30_000, 250);
        db.store_held_rollups().unwrap();
        // more rows, whose hourly cells are only held, then the process stops
        let more: Vec<RequestEvent> = events(60_000, 250).into_iter().skip(30_000).collect();
        for chunk in more.chunks(2_000) {
            db.insert(chunk, 1024).unwrap();
        }
        let count = |db: &Db| -> (i64, i64) {
            db.read(|c| {
                let n = c.query_row(
                    "SELECT coalesce(sum(requests), 0) FROM rollups_hour WHERE dim = ''",
                    [],
                    |r| r.get(0),
                )?;
                Ok((n, hours_through(c)?))
            })
            .unwrap()
        };
        assert_eq!(count(&db), (30_000, 30_000));
        std::mem::forget(db); // no shut-down: what was held is lost
        // a reader (`aigw logs`, maybe beside a running gateway) leaves it
        let reader = Db::open_to_read(&dir.path().join("t.db")).unwrap();
        assert_eq!(count(&reader), (30_000, 30_000));
        drop(reader);
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        assert_eq!(count(&db), (60_000, 60_000));
        let w = Window {
            from_ms: T0,
            to_ms: T0 + 60_000 * 250,
        };
        let f = Filter {
            provider: Some("p3".into()),
            ..Filter::default()
        };
        let (r, rows) = both(&db, w, HOUR_MS, &f);
        same(&r, &rows);
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
    fn hour_keys_round_trip_any_value() {
        let mut buf = String::new();
        for dim in DIMS {
            for value in ["", "p1", "a\0b", "ü/*\u{1f}x"] {
                Pending::hour_key(&mut buf, dim, "client", value);
                assert_eq!(Pending::split_key(&buf), (dim, "client", value));
            }
        }
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
