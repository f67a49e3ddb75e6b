//! Telemetry and config at scale (`bench/scale.sh`, bench/README.md,
//! "Scale"). Not a test: it generates a big request log through the
//! gateway's own `telemetry::Db` (schema, batched inserts, rollups) and
//! measures the gateway's own query code (`telemetry::query`: what the
//! admin API's summary, series and request list call), retention pruning
//! while writes go on, and `Config::parse`, the runtime build and the diff
//! of a config with many routes and providers.
//!
//! ```sh
//! scale gen    --db FILE --rows 10000000 [--days 30]
//! scale query  --db FILE [--reps 20]
//! scale prune  --db FILE --rows 1000000 [--rate 2000]
//! scale config --routes 1000 --providers 200 --wildcards 100 --out FILE [--reps 10]
//! ```
//!
//! Every result line is `name: value` (wall and CPU time of the measuring
//! thread: the machine may be shared).

// A benchmark tool, not the gateway: it owns no TaskTracker.
#![allow(
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::expect_used,
    clippy::unwrap_used
)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway_core::Config;
use gateway_core::routing::Runtime;
use gateway_core::routing::health::HealthRegistry;
use gateway_core::telemetry::query::{self, Filter, RequestsQuery, Window};
use gateway_core::telemetry::{AttemptEvent, Db, Origin, RequestEvent, Retention};
use gateway_core::vocab::RouteMode;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("usage: scale gen|query|prune|config [options] (see the source)");
        std::process::exit(2);
    };
    let opts = Opts::parse(&args[1..]);
    match cmd.as_str() {
        "gen" => gen_rows(&opts),
        "query" => queries(&opts),
        "prune" => prune(&opts),
        "config" => config(&opts),
        other => {
            eprintln!("unknown command {other}");
            std::process::exit(2);
        }
    }
}

struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Self {
        let mut m = HashMap::new();
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let Some(k) = k.strip_prefix("--") else {
                eprintln!("unexpected argument {k}");
                std::process::exit(2);
            };
            let v = it.next().cloned().unwrap_or_default();
            m.insert(k.to_string(), v);
        }
        Self(m)
    }
    fn num(&self, k: &str, default: u64) -> u64 {
        self.0
            .get(k)
            .map(|v| v.replace('_', "").parse().expect("a number"))
            .unwrap_or(default)
    }
    fn path(&self, k: &str) -> PathBuf {
        PathBuf::from(self.0.get(k).unwrap_or_else(|| {
            eprintln!("--{k} is required");
            std::process::exit(2);
        }))
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = s
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `f` `reps` times; prints p50/p95/max wall and mean CPU in ms.
fn measure<T>(name: &str, reps: u64, mut f: impl FnMut() -> T) -> T {
    let mut walls = Vec::new();
    let cpu0 = thread_cpu();
    let mut out = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        out = Some(std::hint::black_box(f()));
        walls.push(ms(t.elapsed()));
    }
    let cpu = ms(thread_cpu() - cpu0) / walls.len() as f64;
    walls.sort_by(f64::total_cmp);
    let p = |q: f64| walls[((q * walls.len() as f64).ceil() as usize).clamp(1, walls.len()) - 1];
    println!(
        "{name}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms, cpu {:.2} ms (n={})",
        p(0.5),
        p(0.95),
        walls[walls.len() - 1],
        cpu,
        walls.len()
    );
    out.expect("at least one run")
}

/// splitmix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Skewed towards small indexes (a few models, clients take most traffic).
    fn skewed(&mut self, n: u64) -> u64 {
        let u = self.unit();
        ((u * u * u) * n as f64) as u64 % n
    }
}

const ENDPOINTS: [&str; 4] = ["chat_completions", "messages", "responses", "embeddings"];
const ERRORS: [(&str, u16); 6] = [
    ("rate_limited", 429),
    ("upstream_5xx", 502),
    ("timeout", 504),
    ("bad_request", 400),
    ("connect", 502),
    ("stream_broken", 200),
];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

/// One realistic event at `ts_ms` (40 models on 20 providers, 300 clients,
/// 60 pool keys, 100 virtual keys in 12 teams, ~4 % errors, 1 % cancelled,
/// 5 % fallbacks, 3 % non-client traffic).
fn event(rng: &mut Rng, seq: u64, ts_ms: i64) -> RequestEvent {
    let model = rng.skewed(40);
    let provider = (model + rng.below(2) * 7) % 20;
    let origin = match rng.below(100) {
        0 => Origin::Bench,
        1 => Origin::Replay,
        2 => Origin::Verify,
        _ => Origin::Client,
    };
    let client = rng.skewed(300);
    let id = format!(
        "{:012x}-{:04x}-7{:03x}-{:016x}",
        ts_ms,
        seq & 0xffff,
        (seq >> 16) & 0xfff,
        rng.next()
    );
    let mut e = RequestEvent::new(
        id,
        UNIX_EPOCH + Duration::from_millis(ts_ms as u64),
        format!("keyring:client-{client:03}"),
        ENDPOINTS[rng.skewed(4) as usize],
        format!("model-{model:02}"),
        origin,
    );
    if model.is_multiple_of(5) {
        e.route = Some(format!("model-{}*", model / 10));
    }
    let prov = format!("provider-{provider:02}");
    let fwd = format!("upstream-model-{model:02}");
    e.stream = rng.below(2) == 0;
    let r = rng.below(1000);
    let (error, status) = if r < 40 {
        let (c, s) = ERRORS[rng.below(ERRORS.len() as u64) as usize];
        (Some(c.to_string()), s)
    } else if r < 50 {
        e.cancelled = true;
        (Some("client_cancelled".to_string()), 499)
    } else {
        (None, 200)
    };
    let latency = 50.0 + 2000.0 * rng.unit() * rng.unit() + 20_000.0 * rng.unit().powi(8);
    let fallback = rng.below(20) == 0;
    let key = Some(format!("keyring:{prov}-key-{}", rng.below(3)));
    if fallback {
        e.attempts.push(AttemptEvent {
            provider: format!("provider-{:02}", (provider + 1) % 20),
            model: fwd.clone(),
            status: Some(429),
            error: Some("rate_limited".into()),
            latency_ms: 30.0 + 50.0 * rng.unit(),
            key: key.clone(),
        });
    }
    e.attempts.push(AttemptEvent {
        provider: prov.clone(),
        model: fwd.clone(),
        status: Some(status),
        error: error.clone(),
        latency_ms: latency,
        key,
    });
    e.route_mode = Some(if fallback {
        RouteMode::ProviderFallback
    } else {
        RouteMode::Direct
    });
    e.provider = Some(prov);
    e.forwarded_model = Some(fwd);
    e.status = status;
    e.error = error;
    e.latency_ms = latency;
    e.overhead_ms = 0.05 + 0.2 * rng.unit();
    if e.stream {
        e.ttft_ms = Some(latency * (0.1 + 0.3 * rng.unit()));
    }
    if status < 400 && !e.cancelled {
        let tin = 200 + rng.below(20_000);
        let tout = 10 + rng.below(2000);
        e.tokens_in = Some(tin);
        e.tokens_out = Some(tout);
        if rng.below(3) == 0 {
            e.cache_read_tokens = Some(tin / 2);
        }
        e.cost_usd = Some(tin as f64 * 2.5e-6 + tout as f64 * 1e-5);
    }
    if rng.below(3) > 0 {
        let vk = rng.skewed(100);
        e.virtual_key = Some(format!("vk_{vk:03}"));
        e.team = Some(format!("team-{:02}", vk % 12));
    }
    e
}

/// `gen`: `rows` events spread over the last `days`, oldest first, in
/// transactions of `batch` through `Db::insert` (as the writer does).
fn gen_rows(o: &Opts) {
    let path = o.path("db");
    let rows = o.num("rows", 10_000_000);
    let days = o.num("days", 30) as i64;
    let batch = o.num("batch", 20_000) as usize;
    let seed = o.num("seed", 1);
    let db = Db::open(&path).expect("open the log");
    let end = now_ms();
    let start = end - days * 86_400_000;
    let step = (end - start) as f64 / rows as f64;
    let mut rng = Rng(seed);
    let t0 = Instant::now();
    let cpu0 = thread_cpu();
    let mut buf = Vec::with_capacity(batch);
    for i in 0..rows {
        let ts = start + (i as f64 * step + rng.unit() * step) as i64;
        buf.push(event(&mut rng, i, ts.min(end - 1)));
        if buf.len() == batch || i + 1 == rows {
            db.insert(&buf, 64 * 1024).expect("insert");
            buf.clear();
            if (i + 1) % 1_000_000 < batch as u64 {
                eprintln!(
                    "  {} rows, {:.0} s, {:.0} rows/s",
                    i + 1,
                    t0.elapsed().as_secs_f64(),
                    (i + 1) as f64 / t0.elapsed().as_secs_f64()
                );
            }
        }
    }
    // What the writer does when it stops: the hourly rollups it holds.
    db.store_held_rollups().expect("store the held rollups");
    let wall = t0.elapsed();
    let cpu = thread_cpu() - cpu0;
    println!(
        "generate: {rows} rows over {days} days in {:.1} s wall, {:.1} s cpu ({:.0} rows/s)",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        rows as f64 / wall.as_secs_f64()
    );
    drop(db);
    let size = file_bytes(&path);
    println!(
        "db size: {:.1} MiB, {:.1} MiB per million rows",
        size as f64 / 1048576.0,
        size as f64 / 1048576.0 / (rows as f64 / 1e6)
    );
}

fn file_bytes(path: &std::path::Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_path_buf(), PathBuf::from(wal)]
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// The newest row's time: windows end there (the log may be hours old).
fn newest(db: &Db) -> i64 {
    db.read(|c| -> Result<i64, gateway_core::telemetry::DbError> {
        Ok(
            c.query_row("SELECT coalesce(max(ts_ms), 0) FROM requests", [], |r| {
                r.get(0)
            })?,
        )
    })
    .expect("newest row")
        + 1
}

/// `query`: summary and series over 1 h, 24 h, 7 d (the UI's windows and
/// auto buckets), unfiltered and filtered, and request-list pages.
fn queries(o: &Opts) {
    let db = Db::open(&o.path("db")).expect("open the log");
    let reps = o.num("reps", 20);
    let end = newest(&db);
    let filters = [
        ("all", Filter::default()),
        (
            "provider",
            Filter {
                provider: Some("provider-03".into()),
                ..Filter::default()
            },
        ),
        (
            "client",
            Filter {
                client: Some("keyring:client-010".into()),
                ..Filter::default()
            },
        ),
    ];
    for (label, minutes) in [("1h", 60), ("24h", 1440), ("7d", 10_080)] {
        let w = Window::last_minutes(end, minutes);
        let bucket = query::auto_bucket_ms(w);
        for (fname, f) in &filters {
            let s = measure(&format!("summary {label} {fname}"), reps, || {
                db.read(|c| query::summary(c, w, f)).expect("summary")
            });
            println!("  ({} requests)", s.requests);
            measure(&format!("series {label} {fname}"), reps, || {
                db.read(|c| query::series(c, w, bucket, f)).expect("series")
            });
        }
    }
    let page = |q: &RequestsQuery| db.read(|c| query::requests(c, q)).expect("page");
    let first = measure("request list page 1 (50, newest)", reps, || {
        page(&RequestsQuery::default())
    });
    let cursor = first.next_cursor.clone();
    measure("request list page 2 (cursor)", reps, || {
        page(&RequestsQuery {
            cursor: cursor.clone(),
            ..RequestsQuery::default()
        })
    });
    for (fname, f) in &filters[1..] {
        measure(&format!("request list page 1 {fname}"), reps, || {
            page(&RequestsQuery {
                filter: f.clone(),
                ..RequestsQuery::default()
            })
        });
    }
    measure("request list page 1 outcome=error", reps, || {
        page(&RequestsQuery {
            outcome: Some(query::Outcome::Error),
            ..RequestsQuery::default()
        })
    });
    measure("request list page 1 24h window", reps, || {
        page(&RequestsQuery {
            window: Some(Window::last_minutes(end, 1440)),
            ..RequestsQuery::default()
        })
    });
}

/// `prune`: retention deletes the oldest `rows` rows while a writer inserts
/// `rate` events a second through a bounded queue (capacity 10 000, as
/// `telemetry.queue_capacity`), producers never waiting (`try_send`).
fn prune(o: &Opts) {
    let path = o.path("db");
    let rows = o.num("rows", 1_000_000) as i64;
    let rate = o.num("rate", 2000);
    let db = Db::open(&path).expect("open the log");
    let cutoff: i64 = db
        .read(|c| {
            Ok(c.query_row(
                "SELECT ts_ms FROM requests ORDER BY ts_ms LIMIT 1 OFFSET ?1",
                [rows],
                |r| r.get(0),
            )?)
        })
        .expect("cutoff");
    let age = Duration::from_millis((now_ms() - cutoff).max(0) as u64);
    let (tx, rx) = sync_channel::<RequestEvent>(10_000);
    let stop = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicU64::new(0));
    let max_queue = Arc::new(AtomicU64::new(0));
    let queued = Arc::new(AtomicU64::new(0));
    // Producer: `rate` events a second, in 10 ms ticks.
    let producer = {
        let (stop, dropped, queued, max_queue) = (
            stop.clone(),
            dropped.clone(),
            queued.clone(),
            max_queue.clone(),
        );
        std::thread::spawn(move || {
            let mut rng = Rng(99);
            let mut seq = 1u64 << 40;
            let per_tick = (rate / 100).max(1);
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..per_tick {
                    seq += 1;
                    match tx.try_send(event(&mut rng, seq, now_ms())) {
                        Ok(()) => {
                            let q = queued.fetch_add(1, Ordering::Relaxed) + 1;
                            max_queue.fetch_max(q, Ordering::Relaxed);
                        }
                        Err(TrySendError::Full(_)) => {
                            dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
                next += Duration::from_millis(10);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    };
    // Writer: like telemetry/writer.rs, a batch (≤ 512) every 50 ms linger.
    let writer = {
        let (db, stop, queued) = (db.clone(), stop.clone(), queued.clone());
        std::thread::spawn(move || {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                loop {
                    let batch: Vec<RequestEvent> = rx.try_iter().take(512).collect();
                    if batch.is_empty() {
                        break;
                    }
                    queued.fetch_sub(batch.len() as u64, Ordering::Relaxed);
                    let t = Instant::now();
                    db.insert(&batch, 64 * 1024).expect("insert");
                    lat.push(ms(t.elapsed()));
                    if batch.len() < 512 {
                        break;
                    }
                }
            }
            lat
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let before = max_queue.swap(0, Ordering::Relaxed);
    let t = Instant::now();
    let cpu0 = thread_cpu();
    let report = db
        .enforce_retention(
            SystemTime::now(),
            Retention {
                max_age: Some(age),
                max_bytes: u64::MAX,
            },
        )
        .expect("retention");
    let (wall, cpu) = (t.elapsed(), thread_cpu() - cpu0);
    let during = max_queue.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    producer.join().expect("producer");
    let mut lat = writer.join().expect("writer");
    lat.sort_by(f64::total_cmp);
    let p = |q: f64| lat[((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "prune: {} rows expired in {:.2} s wall, {:.2} s cpu (retention thread)",
        report.expired,
        wall.as_secs_f64(),
        cpu.as_secs_f64()
    );
    println!(
        "writer during the run ({rate} events/s): {} batches, insert p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; queue max {} before pruning, {} during (capacity 10000); {} dropped",
        lat.len(),
        p(0.5),
        p(0.99),
        lat[lat.len() - 1],
        before,
        during,
        dropped.load(Ordering::Relaxed)
    );
}

/// The config text: `providers` providers, `routes` exact routes with two
/// targets each, `wildcards` pattern routes.
fn config_text(providers: usize, routes: usize, wildcards: usize, tweak: bool) -> String {
    use std::fmt::Write;
    let mut s = String::from("[server]\nlisten = \"127.0.0.1:0\"\n");
    for p in 0..providers {
        let _ = write!(
            s,
            "\n[[providers]]\nname = \"p{p:03}\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{}/v1\"\n",
            9000 + p
        );
    }
    for r in 0..routes {
        let cooldown = if tweak && r == routes / 2 { 31 } else { 30 };
        let _ = write!(
            s,
            "\n[[routes]]\nmodel = \"model-{r:04}\"\ncooldown_s = {cooldown}\n[[routes.targets]]\nprovider = \"p{:03}\"\nmodel = \"upstream-{r:04}\"\n[[routes.targets]]\nprovider = \"p{:03}\"\n",
            r % providers,
            (r + 1) % providers
        );
    }
    for w in 0..wildcards {
        let _ = write!(
            s,
            "\n[[routes]]\nmodel = \"family{w:03}-*\"\n[[routes.targets]]\nprovider = \"p{:03}\"\n",
            w % providers
        );
    }
    s
}

/// `config`: parse, runtime build and diff of a big config.
fn config(o: &Opts) {
    let (providers, routes, wildcards) = (
        o.num("providers", 200) as usize,
        o.num("routes", 1000) as usize,
        o.num("wildcards", 100) as usize,
    );
    let reps = o.num("reps", 10);
    let text = config_text(providers, routes, wildcards, false);
    let changed = config_text(providers, routes, wildcards, true);
    if let Some(out) = o.0.get("out") {
        std::fs::write(out, &text).expect("write the config");
        std::fs::write(format!("{out}.changed"), &changed).expect("write the config");
    }
    println!(
        "config: {providers} providers, {routes} routes, {wildcards} pattern routes, {} KiB, {} lines",
        text.len() / 1024,
        text.lines().count()
    );
    let parsed = measure("Config::parse", reps, || {
        Config::parse(&text, "scale").expect("valid")
    });
    let health = HealthRegistry::default();
    let mut generation = 0;
    measure("Runtime::build", reps, || {
        generation += 1;
        Runtime::build(parsed.clone(), &health, generation)
    });
    measure("diff::unified (one line changed)", reps, || {
        gateway_core::lifecycle::diff::unified(&text, &changed, "live", "new")
    });
    measure("diff::summarize (one line changed)", reps, || {
        gateway_core::lifecycle::diff::summarize(&text, &changed)
    });
    measure("parse + build + diff + summarize", reps, || {
        let c = Config::parse(&changed, "scale").expect("valid");
        let u = gateway_core::lifecycle::diff::unified(&text, &changed, "live", "new");
        let s = gateway_core::lifecycle::diff::summarize(&text, &changed);
        generation += 1;
        (Runtime::build(c, &health, generation), u, s)
    });
}
