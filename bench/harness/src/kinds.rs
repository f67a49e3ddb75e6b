//! `aigw-bench kinds`: what a translated path costs per provider kind,
//! against chat-completions passthrough to an OpenAI-kind provider, in one
//! run on one aigw. The mock upstream speaks each kind's protocol with the
//! same answer (see `bench/mock-upstream`), so the difference is the
//! gateway's translation: requests, answers and stream events.
//!
//! Each round measures, in turn, direct-to-mock chat and then every path
//! of [`PATHS`] (c=1 sequential requests, and streams for TTFT), so
//! background load moves them alike. CPU per request is the aigw process
//! tree's user + system ticks over each path's own requests.
//!
//! Adding a kind (Bedrock, Vertex, Azure): a [`PROVIDERS`] row (its
//! provider table pointing at the mock), routes in [`ROUTES`], and the
//! [`PATHS`] rows that reach it; the mock needs its protocol's rows.
//!
//! [`measure`], the alternating loop, also serves the standard run's
//! translated paths (`translated.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;
use tokio::time::Instant;

use crate::client::{self, Endpoint, Load, LoadResult, Wire};
use crate::procs::{self, Proc};
use crate::scenario::{M_C1, M_TTFT, Machine};

/// The key the Gemini-kind provider sends (the mock checks none).
const GEMINI_KEY_ENV: &str = "AIGW_BENCH_GEMINI_KEY";

/// The Vertex-kind provider's service-account JSON.
const VERTEX_SA_ENV: &str = "AIGW_BENCH_VERTEX_SA";

/// A throwaway service account whose `token_uri` is the mock's: a fresh
/// RSA key from `openssl genpkey` (PKCS#8, as Google issues them).
async fn vertex_service_account(mock: SocketAddr) -> anyhow::Result<String> {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .await?;
    anyhow::ensure!(out.status.success(), "openssl genpkey failed");
    let pem = String::from_utf8(out.stdout)?;
    Ok(serde_json::json!({
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "bench",
        "private_key": pem,
        "client_email": "bench@p.iam.gserviceaccount.com",
        "token_uri": format!("http://{mock}/token"),
    })
    .to_string())
}

/// Provider tables, `{mock}` replaced by the mock's address.
const PROVIDERS: &[(&str, &str)] = &[
    (
        "mock-openai",
        "kind = \"openai\"\nbase_url = \"http://{mock}/v1\"\n",
    ),
    (
        "mock-gemini",
        "kind = \"gemini\"\nbase_url = \"http://{mock}/v1beta\"\napi_key = \"env:AIGW_BENCH_GEMINI_KEY\"\n",
    ),
    (
        "mock-azure",
        "kind = \"azure\"\nbase_url = \"http://{mock}\"\napi_key = \"env:AIGW_BENCH_GEMINI_KEY\"\n",
    ),
    // The mock grants any JWT; the gateway still signs one per token.
    (
        "mock-vertex",
        "kind = \"vertex\"\nproject = \"p\"\nregion = \"us-central1\"\nbase_url = \"http://{mock}/v1\"\n\
         service_account = \"env:AIGW_BENCH_VERTEX_SA\"\n",
    ),
    // The mock checks no signature; the gateway still signs every request.
    (
        "mock-bedrock",
        "kind = \"bedrock\"\nregion = \"us-east-1\"\nbase_url = \"http://{mock}\"\n\
         access_key_id = \"env:AIGW_BENCH_GEMINI_KEY\"\nsecret_access_key = \"env:AIGW_BENCH_GEMINI_KEY\"\n",
    ),
];

/// `(route model, provider, forwarded model)`: the forwarded model tells
/// the mock how to answer.
const ROUTES: &[(&str, &str, &str)] = &[
    ("openai-c1", "mock-openai", M_C1),
    ("openai-ttft", "mock-openai", M_TTFT),
    ("gemini-c1", "mock-gemini", M_C1),
    ("gemini-ttft", "mock-gemini", M_TTFT),
    ("vertex-c1", "mock-vertex", M_C1),
    ("vertex-ttft", "mock-vertex", M_TTFT),
    ("azure-c1", "mock-azure", M_C1),
    ("azure-ttft", "mock-azure", M_TTFT),
    // The mock's Converse answers ignore the model's plan (no pacing).
    ("bedrock-c1", "mock-bedrock", M_C1),
    ("bedrock-ttft", "mock-bedrock", M_TTFT),
];

/// One measured path: a client protocol (posting to its own endpoint,
/// [`Wire::path`]) to a route.
pub struct PathSpec {
    pub name: &'static str,
    pub wire: Wire,
    pub model_c1: &'static str,
    pub model_ttft: &'static str,
}

/// The first row is the baseline the others are compared with.
const PATHS: &[PathSpec] = &[
    PathSpec {
        name: "chat → openai (passthrough)",
        wire: Wire::Chat,
        model_c1: "openai-c1",
        model_ttft: "openai-ttft",
    },
    PathSpec {
        name: "chat → gemini",
        wire: Wire::Chat,
        model_c1: "gemini-c1",
        model_ttft: "gemini-ttft",
    },
    PathSpec {
        name: "messages → gemini",
        wire: Wire::Messages,
        model_c1: "gemini-c1",
        model_ttft: "gemini-ttft",
    },
    PathSpec {
        name: "chat → vertex (Gemini, OAuth token)",
        wire: Wire::Chat,
        model_c1: "vertex-c1",
        model_ttft: "vertex-ttft",
    },
    PathSpec {
        name: "chat → azure (v1 API)",
        wire: Wire::Chat,
        model_c1: "azure-c1",
        model_ttft: "azure-ttft",
    },
    PathSpec {
        name: "chat → bedrock (Converse, SigV4)",
        wire: Wire::Chat,
        model_c1: "bedrock-c1",
        model_ttft: "bedrock-ttft",
    },
];

#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub profile: &'static str,
    pub rounds: usize,
    pub c1_requests: u64,
    pub c1_warmup: u64,
    pub ttft_streams: u64,
    pub prompt_bytes: usize,
    pub quiet_max_s: u64,
}

impl Params {
    fn counts(&self) -> Counts {
        Counts {
            rounds: self.rounds,
            c1_requests: self.c1_requests,
            c1_warmup: self.c1_warmup,
            ttft_streams: self.ttft_streams,
            prompt_bytes: self.prompt_bytes,
        }
    }

    pub fn full() -> Self {
        Self {
            profile: "full",
            rounds: 6,
            c1_requests: 500,
            c1_warmup: 100,
            ttft_streams: 25,
            prompt_bytes: 1024,
            quiet_max_s: 120,
        }
    }

    pub fn quick() -> Self {
        Self {
            profile: "quick",
            rounds: 1,
            c1_requests: 100,
            c1_warmup: 10,
            ttft_streams: 5,
            prompt_bytes: 1024,
            quiet_max_s: 0,
        }
    }
}

/// What [`measure`] sends per path and round.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub rounds: usize,
    pub c1_requests: u64,
    pub c1_warmup: u64,
    pub ttft_streams: u64,
    pub prompt_bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathResult {
    pub name: String,
    pub c1: LoadResult,
    pub ttft: LoadResult,
    /// aigw CPU (user + system) per 1,000 c=1 requests, in ms.
    pub cpu_ms_per_1k: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KindsReport {
    pub label: String,
    pub date: String,
    pub machine: Machine,
    pub params: Params,
    pub load_at_start: f64,
    pub quiet: bool,
    pub aigw: String,
    pub direct_c1: LoadResult,
    pub direct_ttft: LoadResult,
    pub paths: Vec<PathResult>,
}

/// Direct-to-mock and every path, measured by [`measure`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Measured {
    pub direct_c1: LoadResult,
    pub direct_ttft: LoadResult,
    pub paths: Vec<PathResult>,
}

fn load(model: &str, stream: bool, requests: u64, p: &Counts) -> Load {
    Load {
        model: model.to_string(),
        stream,
        concurrency: 1,
        requests: Some(requests),
        duration: Duration::from_secs(60),
        timeout: Duration::from_secs(30),
        prompt_bytes: p.prompt_bytes,
    }
}

fn config(port: u16, mock: SocketAddr) -> String {
    let mut toml = format!("[server]\nlisten = \"127.0.0.1:{port}\"\n");
    for (name, table) in PROVIDERS {
        toml.push_str(&format!(
            "\n[[providers]]\nname = \"{name}\"\n{}",
            table.replace("{mock}", &mock.to_string())
        ));
    }
    for (model, provider, fwd) in ROUTES {
        toml.push_str(&format!(
            "\n[[routes]]\nmodel = \"{model}\"\n[[routes.targets]]\nprovider = \"{provider}\"\nmodel = \"{fwd}\"\n"
        ));
    }
    toml
}

fn merge(acc: Option<LoadResult>, r: LoadResult) -> Option<LoadResult> {
    Some(match acc {
        Some(a) => a.merge(r),
        None => r,
    })
}

/// Runs every path and returns the report.
pub async fn run(
    p: Params,
    aigw: &Path,
    mock_bin: &Path,
    scratch: PathBuf,
    label: &str,
) -> anyhow::Result<KindsReport> {
    std::fs::create_dir_all(&scratch)?;
    let (load_at_start, quiet) = procs::wait_quiet(0.8, Duration::from_secs(p.quiet_max_s)).await;
    let mock_addr = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
    let mut cmd = Command::new(mock_bin);
    cmd.arg("--listen").arg(mock_addr.to_string());
    let mut mock = Proc::spawn("mock-upstream", cmd, &scratch.join("mock.log"))?;
    procs::wait_healthy(
        &mut mock,
        mock_addr,
        "/healthz",
        Instant::now(),
        Duration::from_secs(10),
    )
    .await?;

    let port = procs::free_port()?;
    let cfg = scratch.join("aigw-kinds.toml");
    std::fs::write(&cfg, config(port, mock_addr))?;
    let data = scratch.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let mut cmd = Command::new(aigw);
    cmd.arg("serve")
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env(GEMINI_KEY_ENV, "bench-gemini-key")
        .env(VERTEX_SA_ENV, vertex_service_account(mock_addr).await?)
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    let mut gw = Proc::spawn("aigw", cmd, &scratch.join("aigw.log"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    procs::wait_healthy(
        &mut gw,
        addr,
        "/healthz",
        Instant::now(),
        Duration::from_secs(30),
    )
    .await?;

    let direct = Endpoint {
        addr: mock_addr,
        path: "/v1/chat/completions".into(),
        headers: Vec::new(),
        wire: Wire::Chat,
    };
    let m = measure(&gw, &direct, addr, PATHS, &p.counts()).await;
    gw.check_alive()?;
    gw.stop(Duration::from_secs(5)).await;
    mock.stop(Duration::from_secs(2)).await;

    let version = std::process::Command::new(aigw)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".into(), |s| s.trim().to_string());
    Ok(KindsReport {
        label: label.to_string(),
        date: crate::report::now_utc(),
        machine: Machine::read(),
        params: p,
        load_at_start,
        quiet,
        aigw: format!("{version} ({})", aigw.display()),
        direct_c1: m.direct_c1,
        direct_ttft: m.direct_ttft,
        paths: m.paths,
    })
}

/// Warms every path up, then in each round runs direct-to-mock c=1 and
/// every path's c=1 requests (with `gw`'s CPU over each path's own
/// requests), then direct and every path's streams: alternating, so
/// background load moves them alike. `addr` is the gateway's.
pub async fn measure(
    gw: &Proc,
    direct: &Endpoint,
    addr: SocketAddr,
    paths: &[PathSpec],
    p: &Counts,
) -> Measured {
    let eps: Vec<Endpoint> = paths
        .iter()
        .map(|s| Endpoint {
            addr,
            path: s.wire.path().into(),
            headers: Vec::new(),
            wire: s.wire,
        })
        .collect();
    // Warm-up (connections, caches, the request log).
    let _ = client::run(direct, &load(M_C1, false, p.c1_warmup, p)).await;
    for (s, ep) in paths.iter().zip(&eps) {
        let w = client::run(ep, &load(s.model_c1, false, p.c1_warmup, p)).await;
        eprintln!(
            "   warm-up {}: {} ok, {} err {:?}",
            s.name, w.ok, w.errors, w.first_error
        );
    }

    let mut direct_c1 = None;
    let mut direct_ttft = None;
    let mut c1: Vec<Option<LoadResult>> = vec![None; paths.len()];
    let mut ttft: Vec<Option<LoadResult>> = vec![None; paths.len()];
    let mut ticks = vec![0u64; paths.len()];
    for round in 0..p.rounds.max(1) {
        eprintln!("   round {}/{}", round + 1, p.rounds.max(1));
        let r = client::run(direct, &load(M_C1, false, p.c1_requests, p)).await;
        direct_c1 = merge(direct_c1, r);
        for (i, (s, ep)) in paths.iter().zip(&eps).enumerate() {
            let before = gw.cpu_ticks();
            let r = client::run(ep, &load(s.model_c1, false, p.c1_requests, p)).await;
            ticks[i] += gw.cpu_ticks().saturating_sub(before);
            c1[i] = merge(c1[i].take(), r);
        }
        let r = client::run(direct, &load(M_TTFT, true, p.ttft_streams, p)).await;
        direct_ttft = merge(direct_ttft, r);
        for (i, (s, ep)) in paths.iter().zip(&eps).enumerate() {
            let r = client::run(ep, &load(s.model_ttft, true, p.ttft_streams, p)).await;
            ttft[i] = merge(ttft[i].take(), r);
        }
    }

    let hz = procs::clock_ticks().max(1) as f64;
    let paths = paths
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let c = c1[i].take().unwrap_or_default();
            let cpu_ms = ticks[i] as f64 * 1000.0 / hz;
            PathResult {
                name: s.name.to_string(),
                cpu_ms_per_1k: if c.ok == 0 {
                    0.0
                } else {
                    cpu_ms * 1000.0 / c.ok as f64
                },
                c1: c,
                ttft: ttft[i].take().unwrap_or_default(),
            }
        })
        .collect();
    Measured {
        direct_c1: direct_c1.unwrap_or_default(),
        direct_ttft: direct_ttft.unwrap_or_default(),
        paths,
    }
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn signed_ms(us: i64) -> String {
    format!("{:+.3}", us as f64 / 1000.0)
}

/// The report as a Markdown page.
pub fn markdown(r: &KindsReport) -> String {
    let m = &r.machine;
    let mut out = format!(
        "# Translated paths per provider kind vs passthrough ({})\n\n\
         {} · {} × {} · {} · kernel {} · {}\n\n\
         aigw: {} · load average at start {:.2}{} · profile `{}`: {} round(s) of {} sequential \
         requests (c=1) and {} streams (5 deltas, 10 ms apart) per path, alternating with \
         direct-to-mock rounds; prompt {} bytes.\n\n",
        r.label,
        r.date,
        m.nproc,
        m.cpu,
        m.memory,
        m.kernel,
        m.rustc,
        r.aigw,
        r.load_at_start,
        if r.quiet { "" } else { " (never quiet)" },
        r.params.profile,
        r.params.rounds,
        r.params.c1_requests,
        r.params.ttft_streams,
        r.params.prompt_bytes,
    );
    out.push_str(
        "| path | ok / err | c=1 p50 ms | c=1 p99 ms | added p50 vs direct | added p99 vs direct | \
         added p50 vs passthrough | added p99 vs passthrough | CPU ms / 1,000 req | TTFT p99 ms | \
         added TTFT p99 vs passthrough |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let d = &r.direct_c1.latency;
    out.push_str(&format!(
        "| direct to mock | {} / {} | {} | {} | | | | | | {} | |\n",
        r.direct_c1.ok,
        r.direct_c1.errors,
        ms(d.p50),
        ms(d.p99),
        r.direct_ttft
            .ttft
            .as_ref()
            .map_or("–".into(), |t| ms(t.p99)),
    ));
    let base = r.paths.first();
    for p in &r.paths {
        let l = &p.c1.latency;
        let diff = |a: u64, b: u64| signed_ms(a as i64 - b as i64);
        let tt = p.ttft.ttft.as_ref().map(|t| t.p99);
        let base_tt = base.and_then(|b| b.ttft.ttft.as_ref().map(|t| t.p99));
        let (bp50, bp99) = base.map_or((0, 0), |b| (b.c1.latency.p50, b.c1.latency.p99));
        out.push_str(&format!(
            "| {} | {} / {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} |\n",
            p.name,
            p.c1.ok,
            p.c1.errors + p.ttft.errors,
            ms(l.p50),
            ms(l.p99),
            diff(l.p50, d.p50),
            diff(l.p99, d.p99),
            diff(l.p50, bp50),
            diff(l.p99, bp99),
            p.cpu_ms_per_1k,
            tt.map_or("–".into(), ms),
            match (tt, base_tt) {
                (Some(a), Some(b)) => diff(a, b),
                _ => "–".into(),
            },
        ));
    }
    let errors: Vec<String> = r
        .paths
        .iter()
        .filter_map(|p| {
            p.c1.first_error
                .as_ref()
                .or(p.ttft.first_error.as_ref())
                .map(|e| format!("- {}: {e}", p.name))
        })
        .collect();
    if !errors.is_empty() {
        out.push_str("\nFirst errors:\n");
        out.push_str(&errors.join("\n"));
        out.push('\n');
    }
    out.push_str(
        "\nAdded = the path minus direct-to-mock (or minus the passthrough path), same run, \
         alternating rounds. CPU = the aigw process tree's user + system time over that path's \
         c=1 requests (clock-tick resolution). Reproduce: `bash bench/kinds.sh` \
         (`--quick` for a smoke).\n",
    );
    out
}
