//! One benchmark run: the mock upstream, then each gateway in turn, every
//! gateway measured next to fresh direct-to-mock numbers taken in the same
//! minutes (alternating rounds for the latency scenarios) so that background
//! load shifts both sides alike.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;
use tokio::time::Instant;

use crate::client::{self, Endpoint, Load, LoadResult};
use crate::procs::{self, Proc};
use crate::targets::{self, Gateway, Paths};

/// Concurrency 1, no upstream latency: the gateway's own added time.
pub const M_C1: &str = "mock-l0";
/// Concurrency 64 against a 20 ms upstream: throughput.
pub const M_C64: &str = "mock-l20";
/// Streams for time to first token and frame gaps: 5 deltas, 10 ms apart.
pub const M_TTFT: &str = "mock-l0-n5-p10";
/// Many concurrent streams: 20 deltas, 50 ms apart (about one second each).
pub const M_STREAMS: &str = "mock-l0-n20-p50";
/// Streams held open together: 40 deltas, 250 ms apart (about ten seconds).
pub const M_HELD: &str = "mock-l0-n40-p250";

/// How much of everything to do.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub profile: &'static str,
    pub prompt_bytes: usize,
    pub c1_rounds: usize,
    pub c1_requests: u64,
    pub c1_warmup: u64,
    pub c1_block_max_s: u64,
    pub c64_concurrency: usize,
    pub c64_warmup_s: u64,
    pub c64_duration_s: u64,
    pub ttft_rounds: usize,
    pub ttft_streams: u64,
    pub stream_levels: Vec<usize>,
    /// A stream stalls when it is silent longer than this (send → first
    /// event included), or fails.
    pub stall_ms: u64,
    pub cold_starts: usize,
    /// Streams opened at once and held (RSS per stream), when the gateway
    /// passed every level of `stream_levels`.
    pub held_streams: usize,
    pub held_model: &'static str,
    /// Throughput at a tail bound, one core.
    pub tail: crate::tail::Params,
    pub quiet_below: f64,
    /// Longest wait for a quiet machine at the start of the run …
    pub quiet_max_s: u64,
    /// … and before each further gateway.
    pub quiet_gateway_s: u64,
}

impl Params {
    pub fn full() -> Self {
        Self {
            profile: "full",
            prompt_bytes: 1024,
            c1_rounds: 10,
            c1_requests: 600,
            c1_warmup: 100,
            c1_block_max_s: 10,
            c64_concurrency: 64,
            c64_warmup_s: 2,
            c64_duration_s: 10,
            ttft_rounds: 8,
            ttft_streams: 25,
            stream_levels: vec![64, 128, 256, 512, 1024, 2048],
            stall_ms: 1000,
            cold_starts: 4,
            held_streams: 4096,
            held_model: M_HELD,
            tail: crate::tail::Params::full(),
            quiet_below: 0.8,
            quiet_max_s: 600,
            quiet_gateway_s: 120,
        }
    }

    /// A few seconds in all: proves the harness works (CI smoke).
    pub fn quick() -> Self {
        Self {
            profile: "quick",
            prompt_bytes: 1024,
            c1_rounds: 1,
            c1_requests: 200,
            c1_warmup: 20,
            c1_block_max_s: 5,
            c64_concurrency: 16,
            c64_warmup_s: 0,
            c64_duration_s: 1,
            ttft_rounds: 1,
            ttft_streams: 10,
            stream_levels: vec![32],
            stall_ms: 2000,
            cold_starts: 2,
            held_streams: 64,
            held_model: M_STREAMS,
            tail: crate::tail::Params::quick(),
            quiet_below: f64::INFINITY,
            quiet_max_s: 0,
            quiet_gateway_s: 0,
        }
    }
}

/// Direct and through-the-gateway results of one scenario, same minutes.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub direct: LoadResult,
    pub gateway: LoadResult,
}

/// One level of the concurrent-streams scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub streams: usize,
    pub ok: u64,
    pub errors: u64,
    pub stalled: u64,
    pub max_gap_us: Option<u64>,
    pub max_silence_us: Option<u64>,
    pub ttft_p99_us: Option<u64>,
    pub first_error: Option<String>,
}

impl Level {
    pub fn passed(&self) -> bool {
        self.stalled == 0 && self.errors == 0 && self.ok == self.streams as u64
    }
}

/// Streams opened at once and held open together: what each one costs in
/// memory while it is open.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub level: Level,
    /// The server's tree just before the streams opened …
    pub rss_before_kib: u64,
    /// … and the most seen while they were open.
    pub rss_peak_kib: u64,
}

impl Held {
    pub fn kib_per_stream(&self) -> f64 {
        self.rss_peak_kib.saturating_sub(self.rss_before_kib) as f64
            / self.level.streams.max(1) as f64
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct GatewayResult {
    pub name: String,
    pub version: String,
    /// Set when the gateway could not be started or stopped answering.
    pub fatal: Option<String>,
    pub load_before: f64,
    pub quiet_before: bool,
    pub load_after: f64,
    /// Start to health 200 on an empty data dir (aigw creates its databases).
    pub first_run_ms: Option<f64>,
    /// Start to health 200 again, data dir kept: what a restart costs.
    pub cold_start_ms: Vec<f64>,
    pub rss_idle_kib: Option<u64>,
    pub rss_load_kib: Option<u64>,
    pub c1: Option<Pair>,
    pub c64: Option<Pair>,
    /// Gateway CPU (user + system) per 1,000 requests, in ms.
    pub cpu_ms_per_1k_c1: Option<f64>,
    pub cpu_ms_per_1k_c64: Option<f64>,
    /// The mock's CPU per 1,000 direct requests in the same rounds, in ms.
    pub mock_cpu_ms_per_1k_c1: Option<f64>,
    pub mock_cpu_ms_per_1k_c64: Option<f64>,
    pub ttft: Option<Pair>,
    pub stream_levels: Vec<Level>,
    pub held: Option<Held>,
    pub tail: Option<crate::tail::TailBound>,
    /// aigw only: the translated paths against passthrough.
    pub translated: Option<crate::translated::Translated>,
}

impl GatewayResult {
    /// Median of the restarts, else the first run.
    pub fn cold_start_median_ms(&self) -> Option<f64> {
        let mut v = self.cold_start_ms.clone();
        if v.is_empty() {
            return self.first_run_ms;
        }
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    /// The most concurrent streams that ran without a stall (levels are
    /// tried in order; the first failure ends the climb).
    pub fn max_streams_ok(&self) -> usize {
        let mut best = 0;
        for l in &self.stream_levels {
            if !l.passed() {
                break;
            }
            best = l.streams;
        }
        best
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub kernel: String,
    pub memory: String,
    pub rustc: String,
    pub python: String,
    pub node: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "?".into(), |s| s.trim().to_string());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .map_or_else(
                || "?".into(),
                |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0),
            );
        Self {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "?".into(), |s| s.trim().to_string()),
            memory,
            rustc: targets::tool_version("rustc", "--version"),
            python: targets::tool_version("python3", "--version"),
            node: targets::tool_version("node", "--version"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub label: String,
    pub date: String,
    pub machine: Machine,
    pub params: Params,
    pub load_at_start: f64,
    /// Concurrent streams straight to the mock (harness + mock capacity).
    pub direct_stream_levels: Vec<Level>,
    pub direct_held: Option<Held>,
    /// The mock alone on one core.
    pub direct_tail: Option<crate::tail::TailBound>,
    pub gateways: Vec<GatewayResult>,
}

pub struct Run {
    pub params: Params,
    pub paths: Paths,
    pub mock_bin: PathBuf,
    pub scratch: PathBuf,
    pub gateways: Vec<Gateway>,
    pub label: String,
}

fn load(model: &str, stream: bool, concurrency: usize, requests: Option<u64>, p: &Params) -> Load {
    Load {
        model: model.to_string(),
        stream,
        concurrency,
        requests,
        duration: Duration::from_secs(p.c1_block_max_s.max(1)),
        timeout: Duration::from_secs(30),
        prompt_bytes: p.prompt_bytes,
    }
}

/// Samples a process tree's RSS until stopped; the maximum seen.
struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let task = tokio::spawn(async move {
            // Bounded by the flag; each scenario that starts one stops it.
            while !s.load(Ordering::Relaxed) {
                m.fetch_max(procs::rss_tree_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self { stop, max, task }
    }

    async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.max.load(Ordering::Relaxed)
    }
}

fn say(msg: &str) {
    eprintln!("{msg}");
}

fn us(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.1} ms", v as f64 / 1000.0)
    } else {
        format!("{v} µs")
    }
}

fn brief(r: &LoadResult) -> String {
    let mut s = format!(
        "{} ok, {} err, {:.0} rps, p50 {}, p99 {}",
        r.ok,
        r.errors,
        r.rps,
        us(r.latency.p50),
        us(r.latency.p99)
    );
    if let Some(t) = &r.ttft {
        s.push_str(&format!(
            ", ttft p99 {}, max gap {}",
            us(t.p99),
            us(r.max_gap_us.unwrap_or(0))
        ));
    }
    if let Some(e) = &r.first_error {
        s.push_str(&format!(" [first error: {e}]"));
    }
    s
}

impl Run {
    pub async fn execute(&self) -> anyhow::Result<Report> {
        let p = &self.params;
        std::fs::create_dir_all(&self.scratch)?;
        let (load_at_start, _) =
            procs::wait_quiet(p.quiet_below, Duration::from_secs(p.quiet_max_s)).await;

        // The mock upstream, shared by every target.
        let mock_port = procs::free_port()?;
        let mock_addr = SocketAddr::from(([127, 0, 0, 1], mock_port));
        let mut cmd = Command::new(&self.mock_bin);
        cmd.arg("--listen").arg(mock_addr.to_string());
        let mut mock = Proc::spawn("mock-upstream", cmd, &self.scratch.join("mock.log"))?;
        procs::wait_healthy(
            &mut mock,
            mock_addr,
            "/healthz",
            Instant::now(),
            Duration::from_secs(10),
        )
        .await?;
        let direct = Endpoint {
            addr: mock_addr,
            path: "/v1/chat/completions".into(),
            headers: Vec::new(),
            wire: crate::client::Wire::Chat,
        };

        say("== direct: concurrent streams");
        let direct_stream_levels = self.stream_levels(&direct).await;
        let direct_held = self.held(&direct, mock.pid()).await;
        say("== direct: throughput at a tail bound, mock on one core");
        let direct_tail = Some(crate::tail::run(&p.tail, &direct, mock.pid(), None).await);

        let mut gateways = Vec::new();
        for &gw in &self.gateways {
            let r = self.gateway(gw, &direct, mock_addr, mock.pid()).await;
            gateways.push(r);
        }
        mock.stop(Duration::from_secs(2)).await;

        Ok(Report {
            label: self.label.clone(),
            date: crate::report::now_utc(),
            machine: Machine::read(),
            params: p.clone(),
            load_at_start,
            direct_stream_levels,
            direct_held: Some(direct_held),
            direct_tail,
            gateways,
        })
    }

    async fn stream_levels(&self, ep: &Endpoint) -> Vec<Level> {
        let p = &self.params;
        let mut out = Vec::new();
        for &n in &p.stream_levels {
            let level = self.streams_at_once(ep, M_STREAMS, n).await;
            let passed = level.passed();
            out.push(level);
            if !passed {
                break;
            }
        }
        out
    }

    /// `n` streams of `model` opened at once.
    async fn streams_at_once(&self, ep: &Endpoint, model: &str, n: usize) -> Level {
        let p = &self.params;
        let mut l = load(model, true, n, Some(n as u64), p);
        l.duration = Duration::from_secs(60);
        let r = client::run(ep, &l).await;
        let level = Level {
            streams: n,
            ok: r.ok,
            errors: r.errors,
            stalled: r.stalled(Duration::from_millis(p.stall_ms)),
            max_gap_us: r.max_gap_us,
            max_silence_us: r.max_silence_us,
            ttft_p99_us: r.ttft.as_ref().map(|t| t.p99),
            first_error: r.first_error.clone(),
        };
        say(&format!(
            "   {n} streams: {} ok, {} errors, {} stalled, ttft p99 {}, max gap {}, max silence {}",
            level.ok,
            level.errors,
            level.stalled,
            us(level.ttft_p99_us.unwrap_or(0)),
            us(level.max_gap_us.unwrap_or(0)),
            us(level.max_silence_us.unwrap_or(0))
        ));
        level
    }

    /// `held_streams` long streams opened at once, the server's RSS
    /// sampled while they are open.
    async fn held(&self, ep: &Endpoint, pid: u32) -> Held {
        let n = self.params.held_streams;
        say(&format!("   holding {n} streams"));
        let rss_before_kib = procs::rss_tree_kib(pid);
        let sampler = RssSampler::start(pid);
        let level = self.streams_at_once(ep, self.params.held_model, n).await;
        let rss_peak_kib = sampler.finish().await.max(rss_before_kib);
        let h = Held {
            level,
            rss_before_kib,
            rss_peak_kib,
        };
        say(&format!(
            "   RSS {} KiB before, {} KiB peak: {:.1} KiB per stream",
            h.rss_before_kib,
            h.rss_peak_kib,
            h.kib_per_stream()
        ));
        h
    }

    /// Cold starts, then every scenario against a running `gw`.
    async fn gateway(
        &self,
        gw: Gateway,
        direct: &Endpoint,
        mock: SocketAddr,
        mock_pid: u32,
    ) -> GatewayResult {
        let p = &self.params;
        say(&format!("== {}", gw.name()));
        let mut res = GatewayResult {
            name: gw.name().to_string(),
            version: targets::version(gw, &self.paths),
            ..Default::default()
        };
        let (l, quiet) =
            procs::wait_quiet(p.quiet_below, Duration::from_secs(p.quiet_gateway_s)).await;
        res.load_before = l;
        res.quiet_before = quiet;

        // Cold starts: the first on an empty data dir, then restarts on the
        // same one (the previous instance stopped first), each on a fresh
        // port; the last one stays up for the scenarios.
        let scratch = self.scratch.join(gw.name());
        let _ = std::fs::remove_dir_all(&scratch);
        let mut running: Option<(Proc, u16)> = None;
        let starts = p.cold_starts.max(1);
        for i in 0..starts {
            if let Some((old, _)) = running.take() {
                old.stop(Duration::from_secs(10)).await;
            }
            let port = match procs::free_port() {
                Ok(p) => p,
                Err(e) => {
                    res.fatal = Some(format!("no free port: {e}"));
                    return res;
                }
            };
            let started = match self.start(gw, port, mock, &scratch).await {
                Ok(s) => s,
                Err(e) => {
                    say(&format!("   cannot start {}: {e:#}", gw.name()));
                    res.fatal = Some(format!("{e:#}"));
                    return res;
                }
            };
            let ms = started.1.as_secs_f64() * 1000.0;
            if i == 0 {
                res.first_run_ms = Some(ms);
                say(&format!("   first run {ms:.1} ms"));
            } else {
                res.cold_start_ms.push(ms);
                say(&format!("   restart {ms:.1} ms"));
            }
            running = Some((started.0, port));
        }
        let Some((mut proc, port)) = running else {
            res.fatal = Some("not started".into());
            return res;
        };
        let ep = match gw.endpoint(port, mock) {
            Ok(e) => e,
            Err(e) => {
                res.fatal = Some(format!("{e:#}"));
                proc.stop(Duration::from_secs(10)).await;
                return res;
            }
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        res.rss_idle_kib = Some(proc.rss_kib());

        self.scenarios(&mut res, &mut proc, direct, &ep, mock_pid)
            .await;
        if matches!(gw, Gateway::Aigw | Gateway::AigwBefore) {
            res.translated = Some(crate::translated::run(&proc, direct, port, p).await);
        }

        if let Err(e) = proc.check_alive() {
            res.fatal.get_or_insert(format!("{e:#}"));
        }
        res.load_after = procs::loadavg();
        proc.stop(Duration::from_secs(10)).await;
        res
    }

    async fn start(
        &self,
        gw: Gateway,
        port: u16,
        mock: SocketAddr,
        scratch: &Path,
    ) -> anyhow::Result<(Proc, Duration)> {
        let cmd = targets::command(gw, &self.paths, port, mock, scratch)?;
        let log = self.scratch.join(format!("{}.log", gw.name()));
        let t0 = Instant::now();
        let mut proc = Proc::spawn(gw.name(), cmd, &log)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        match procs::wait_healthy(
            &mut proc,
            addr,
            gw.health_path(),
            t0,
            Duration::from_secs(120),
        )
        .await
        {
            Ok(d) => Ok((proc, d)),
            Err(e) => {
                proc.stop(Duration::from_secs(5)).await;
                Err(e.context(format!("see {}", log.display())))
            }
        }
    }

    async fn scenarios(
        &self,
        res: &mut GatewayResult,
        proc: &mut Proc,
        direct: &Endpoint,
        ep: &Endpoint,
        mock_pid: u32,
    ) {
        let p = &self.params;
        let ticks = procs::clock_ticks() as f64;
        let per_1k = |used: u64, ok: u64| used as f64 / ticks * 1000.0 / ok as f64 * 1000.0;

        // Concurrency 1: alternating direct / gateway rounds.
        let mut c1: Option<Pair> = None;
        let mut c1_ticks = 0u64;
        let mut mock_ticks = 0u64;
        for _ in 0..p.c1_rounds {
            let warm = load(M_C1, false, 1, Some(p.c1_warmup), p);
            let _ = client::run(direct, &warm).await;
            let m0 = procs::cpu_tree_ticks(mock_pid);
            let d = client::run(direct, &load(M_C1, false, 1, Some(p.c1_requests), p)).await;
            mock_ticks += procs::cpu_tree_ticks(mock_pid).saturating_sub(m0);
            let _ = client::run(ep, &warm).await;
            let before = proc.cpu_ticks();
            let g = client::run(ep, &load(M_C1, false, 1, Some(p.c1_requests), p)).await;
            c1_ticks += proc.cpu_ticks().saturating_sub(before);
            c1 = Some(match c1 {
                None => Pair {
                    direct: d,
                    gateway: g,
                },
                Some(prev) => Pair {
                    direct: prev.direct.merge(d),
                    gateway: prev.gateway.merge(g),
                },
            });
        }
        if let Some(c) = &c1 {
            say(&format!("   c=1 direct:  {}", brief(&c.direct)));
            say(&format!("   c=1 gateway: {}", brief(&c.gateway)));
            if c.gateway.ok > 0 {
                res.cpu_ms_per_1k_c1 = Some(per_1k(c1_ticks, c.gateway.ok));
            }
            if c.direct.ok > 0 {
                res.mock_cpu_ms_per_1k_c1 = Some(per_1k(mock_ticks, c.direct.ok));
            }
        }
        res.c1 = c1;

        // Concurrency 64 against a 20 ms upstream.
        let mut l = load(M_C64, false, p.c64_concurrency, None, p);
        if p.c64_warmup_s > 0 {
            l.duration = Duration::from_secs(p.c64_warmup_s);
            let _ = client::run(direct, &l).await;
        }
        l.duration = Duration::from_secs(p.c64_duration_s);
        let m0 = procs::cpu_tree_ticks(mock_pid);
        let d = client::run(direct, &l).await;
        if d.ok > 0 {
            res.mock_cpu_ms_per_1k_c64 = Some(per_1k(
                procs::cpu_tree_ticks(mock_pid).saturating_sub(m0),
                d.ok,
            ));
        }
        if p.c64_warmup_s > 0 {
            l.duration = Duration::from_secs(p.c64_warmup_s);
            let _ = client::run(ep, &l).await;
        }
        l.duration = Duration::from_secs(p.c64_duration_s);
        let sampler = RssSampler::start(proc.pid());
        let before = proc.cpu_ticks();
        let g = client::run(ep, &l).await;
        let used = proc.cpu_ticks().saturating_sub(before);
        let rss = sampler.finish().await;
        if g.ok > 0 {
            res.cpu_ms_per_1k_c64 = Some(per_1k(used, g.ok));
        }
        say(&format!(
            "   c={} direct:  {}",
            p.c64_concurrency,
            brief(&d)
        ));
        say(&format!(
            "   c={} gateway: {}",
            p.c64_concurrency,
            brief(&g)
        ));
        res.c64 = Some(Pair {
            direct: d,
            gateway: g,
        });

        // Streams at concurrency 1: time to first token, frame gaps.
        let mut ttft: Option<Pair> = None;
        for _ in 0..p.ttft_rounds {
            let l = load(M_TTFT, true, 1, Some(p.ttft_streams), p);
            let d = client::run(direct, &l).await;
            let g = client::run(ep, &l).await;
            ttft = Some(match ttft {
                None => Pair {
                    direct: d,
                    gateway: g,
                },
                Some(prev) => Pair {
                    direct: prev.direct.merge(d),
                    gateway: prev.gateway.merge(g),
                },
            });
        }
        if let Some(t) = &ttft {
            say(&format!("   stream direct:  {}", brief(&t.direct)));
            say(&format!("   stream gateway: {}", brief(&t.gateway)));
        }
        res.ttft = ttft;

        // Concurrent streams, climbing.
        let sampler2 = RssSampler::start(proc.pid());
        res.stream_levels = self.stream_levels(ep).await;
        let rss2 = sampler2.finish().await;
        res.rss_load_kib = Some(rss.max(rss2));

        // Held streams, for a gateway that passed every level.
        if res.stream_levels.len() == p.stream_levels.len()
            && res.stream_levels.iter().all(Level::passed)
        {
            res.held = Some(self.held(ep, proc.pid()).await);
        }

        say("   throughput at a tail bound, gateway on one core");
        res.tail = Some(crate::tail::run(&p.tail, ep, proc.pid(), Some(mock_pid)).await);
    }
}
