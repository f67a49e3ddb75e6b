//! Throughput at a tail bound: the most requests per second a server
//! sustains while its p99 stays within a bound, with the server pinned to
//! one core (`taskset`) and the load harness (and, for a gateway, the mock
//! upstream behind it) pinned to another. Closed loop: concurrency climbs
//! 1, 2, 4, … and each step runs for a fixed time against the instant mock;
//! the result is the best step whose p99 is within the bound with no
//! errors. The climb ends at the first step over the bound.

use std::time::Duration;

use serde::Serialize;

use crate::client::{self, Endpoint, Load};
use crate::procs;
use crate::scenario::M_C1;

#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub levels: Vec<usize>,
    pub warmup_ms: u64,
    pub step_s: u64,
    pub p99_bound_us: u64,
}

impl Params {
    pub fn full() -> Self {
        Self {
            levels: vec![1, 2, 4, 8, 16, 32, 64, 128],
            warmup_ms: 500,
            step_s: 3,
            p99_bound_us: 5_000,
        }
    }

    pub fn quick() -> Self {
        Self {
            levels: vec![1, 4],
            warmup_ms: 100,
            step_s: 1,
            p99_bound_us: 5_000,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub concurrency: usize,
    pub ok: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The server's CPU (its process tree) per request in this step, µs.
    pub cpu_us_per_req: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TailBound {
    /// What ran where, or why the scenario was skipped.
    pub placement: String,
    pub skipped: Option<String>,
    pub steps: Vec<Step>,
}

impl TailBound {
    /// The step with the most requests/s within the bound.
    pub fn best(&self, bound_us: u64) -> Option<&Step> {
        self.steps
            .iter()
            .filter(|s| s.errors == 0 && s.ok > 0 && s.p99_us <= bound_us)
            .max_by(|a, b| a.rps.total_cmp(&b.rps))
    }
}

/// The two CPUs used: the server's and the harness's.
fn two_cpus() -> Result<(u32, u32, String), String> {
    let cpus = procs::allowed_cpus();
    match cpus.as_slice() {
        [a, b, ..] => {
            let all = cpus
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            Ok((*a, *b, all))
        }
        _ => Err(format!("needs 2 CPUs, this process may use {}", cpus.len())),
    }
}

/// Runs the climb against `ep`, whose server is the process tree of
/// `server`; `beside` (the mock behind a gateway) shares the harness's CPU.
pub async fn run(p: &Params, ep: &Endpoint, server: u32, beside: Option<u32>) -> TailBound {
    let (server_cpu, harness_cpu, all) = match two_cpus() {
        Ok(c) => c,
        Err(why) => {
            return TailBound {
                skipped: Some(why),
                ..Default::default()
            };
        }
    };
    let me = std::process::id();
    let pinned = (|| -> anyhow::Result<()> {
        procs::pin_tree(server, &server_cpu.to_string())?;
        procs::pin(me, &harness_cpu.to_string())?;
        if let Some(b) = beside {
            procs::pin_tree(b, &harness_cpu.to_string())?;
        }
        Ok(())
    })();
    let mut out = TailBound {
        placement: format!(
            "server on CPU {server_cpu}; harness{} on CPU {harness_cpu}",
            if beside.is_some() { " and mock" } else { "" }
        ),
        ..Default::default()
    };
    match pinned {
        Err(e) => out.skipped = Some(format!("{e:#}")),
        Ok(()) => out.steps = climb(p, ep, server).await,
    }
    // Everyone back on every CPU, whatever happened.
    let _ = procs::pin_tree(server, &all);
    let _ = procs::pin(me, &all);
    if let Some(b) = beside {
        let _ = procs::pin_tree(b, &all);
    }
    out
}

async fn climb(p: &Params, ep: &Endpoint, server: u32) -> Vec<Step> {
    let ticks = procs::clock_ticks() as f64;
    let mut steps = Vec::new();
    for &c in &p.levels {
        let mut l = Load {
            model: M_C1.into(),
            stream: false,
            concurrency: c,
            requests: None,
            duration: Duration::from_millis(p.warmup_ms),
            timeout: Duration::from_secs(10),
            prompt_bytes: 1024,
        };
        let _ = client::run(ep, &l).await;
        l.duration = Duration::from_secs(p.step_s);
        let before = procs::cpu_tree_ticks(server);
        let r = client::run(ep, &l).await;
        let used = procs::cpu_tree_ticks(server).saturating_sub(before);
        let step = Step {
            concurrency: c,
            ok: r.ok,
            errors: r.errors,
            rps: r.rps,
            p50_us: r.latency.p50,
            p99_us: r.latency.p99,
            cpu_us_per_req: (r.ok > 0).then(|| used as f64 / ticks * 1e6 / r.ok as f64),
        };
        eprintln!(
            "   tail c={c}: {:.0} req/s, p50 {} µs, p99 {} µs, {} errors",
            step.rps, step.p50_us, step.p99_us, step.errors
        );
        let over = step.errors > 0 || step.ok == 0 || step.p99_us > p.p99_bound_us;
        steps.push(step);
        if over {
            break;
        }
    }
    steps
}
