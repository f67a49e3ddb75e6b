//! `aigw verify baseline|run|list`: verification runs through an in-process
//! gateway on an ephemeral loopback port (like `aigw bench-models`); results
//! land in `verify.db` in the data dir. `run` exits 0 for `normal`, 2 for
//! `suspect`, 3 for `highly_suspect` (1: it could not run).

use std::process::ExitCode;

use super::tools::local_gateway;
use crate::config::Paths;
use crate::tools::modelbench::Target;
use crate::tools::verify::{self, BaselineSpec, ProbeResult, RunSpec, Store, Verdict};

fn show_estimate(gw: &crate::GatewayHandle, target: &Target, max_cost: f64) {
    let e = verify::estimate(gw.state(), target, max_cost);
    let cost = e
        .cost_usd
        .map(|c| format!("about ${c:.4}"))
        .unwrap_or_else(|| format!("unknown (no price for {})", e.unpriced.join(", ")));
    println!(
        "probe suite v{}: {} requests to {}:{}, ~{} tokens in, ≤{} tokens out, cost {cost}; hard cap ${:.4}",
        verify::SUITE_VERSION,
        e.requests,
        target.provider,
        target.model,
        e.tokens_in,
        e.tokens_out,
        e.max_cost_usd
    );
}

fn print_probes(probes: &[ProbeResult]) {
    println!(
        "{:<14} {:>6} {:>7} {:>8} {:>8} {:>10} {:>9}  answer",
        "probe", "status", "check", "tok in", "tok out", "latency ms", "ttft ms"
    );
    for p in probes {
        let check = match (p.passed, &p.error) {
            (_, Some(_)) => "error",
            (Some(true), _) => "pass",
            (Some(false), _) => "FAIL",
            (None, _) => "-",
        };
        let n = |v: Option<u64>| v.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
        let answer: String = p
            .error
            .clone()
            .unwrap_or_else(|| p.answer.replace('\n', " "))
            .chars()
            .take(60)
            .collect();
        println!(
            "{:<14} {:>6} {:>7} {:>8} {:>8} {:>10.0} {:>9}  {answer}",
            p.probe,
            p.status,
            check,
            n(p.tokens_in),
            n(p.tokens_out),
            p.latency_ms,
            p.ttft_ms
                .map(|t| format!("{t:.0}"))
                .unwrap_or_else(|| "-".into()),
        );
    }
}

/// `aigw verify baseline --target P:M`.
pub async fn baseline(
    paths: &Paths,
    target: Target,
    max_cost_usd: f64,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let gw = local_gateway(paths).await?;
    show_estimate(&gw, &target, max_cost_usd);
    let result = if yes {
        let spec = BaselineSpec {
            target,
            max_cost_usd,
        };
        verify::record_baseline(gw.state(), spec, "cli")
            .await
            .map_err(anyhow::Error::from)
    } else {
        Err(anyhow::anyhow!("re-run with --yes to send these requests"))
    };
    gw.shutdown().await;
    let b = result?;
    print_probes(&b.probes);
    println!(
        "baseline {} recorded for {}:{} — spent about ${:.4}",
        b.id, b.target.provider, b.target.model, b.spent_usd
    );
    Ok(ExitCode::SUCCESS)
}

/// `aigw verify run --target P:M [--baseline P:M]`.
pub async fn run(paths: &Paths, spec: RunSpec, yes: bool) -> anyhow::Result<ExitCode> {
    let gw = local_gateway(paths).await?;
    show_estimate(&gw, &spec.target, spec.max_cost_usd);
    let result = if yes {
        verify::run(gw.state(), spec, "cli")
            .await
            .map_err(anyhow::Error::from)
    } else {
        Err(anyhow::anyhow!("re-run with --yes to send these requests"))
    };
    gw.shutdown().await;
    let r = result?;
    print_probes(&r.probes);
    println!(
        "verdict: {} ({}:{} against the baseline of {}:{})",
        verdict_str(r.verdict),
        r.target.provider,
        r.target.model,
        r.baseline_target.provider,
        r.baseline_target.model
    );
    for reason in &r.reasons {
        println!(
            "  {} {}{}",
            if reason.counted { "*" } else { "-" },
            reason
                .probe
                .as_ref()
                .map(|p| format!("{p}: "))
                .unwrap_or_default(),
            reason.message
        );
    }
    println!("run {} — spent about ${:.4}", r.id, r.spent_usd);
    Ok(match r.verdict {
        Verdict::Normal => ExitCode::SUCCESS,
        Verdict::Suspect => ExitCode::from(2),
        Verdict::HighlySuspect => ExitCode::from(3),
    })
}

/// `aigw verify list`: past runs, newest first.
pub fn list(paths: &Paths, limit: u32) -> anyhow::Result<ExitCode> {
    let store = Store::open(&paths.data_dir.join("verify.db"))?;
    println!(
        "{:>5} {:<29} {:<30} {:<30} verdict",
        "run", "time", "target", "baseline"
    );
    for r in store.runs(limit.min(500))? {
        println!(
            "{:>5} {:<29} {:<30} {:<30} {}",
            r.id,
            super::format_ms(r.started_ms),
            format!("{}:{}", r.target.provider, r.target.model),
            format!("{}:{}", r.baseline_target.provider, r.baseline_target.model),
            verdict_str(r.verdict)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Normal => "normal",
        Verdict::Suspect => "suspect",
        Verdict::HighlySuspect => "highly_suspect",
    }
}
