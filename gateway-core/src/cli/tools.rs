//! `aigw replay` and `aigw bench-models`: run against this config and data
//! dir through an in-process gateway on an ephemeral loopback port (no
//! client traffic reaches it), so they work whether or not `aigw serve`
//! runs. Results land in the same telemetry log and `bench.db`.

use std::process::ExitCode;

use crate::config::{Config, Paths};
use crate::tools::modelbench::{self, Protocol, Spec, Target};
use crate::tools::replay::{self, ReplaySpec};
use crate::{GatewayHandle, GatewayOptions};

pub(super) async fn local_gateway(paths: &Paths) -> anyhow::Result<GatewayHandle> {
    let config = Config::load(&paths.config_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut opts = GatewayOptions::new(config);
    opts.listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    opts.data_dir = Some(paths.data_dir.clone());
    Ok(crate::start(opts).await?)
}

/// `aigw replay REQUEST_ID --to PROVIDER[:MODEL] [--body FILE]`.
pub async fn replay(
    paths: &Paths,
    request_id: Option<String>,
    to: &str,
    body: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let (provider, model) = match to.split_once(':') {
        Some((p, m)) => (p.to_string(), Some(m.to_string())),
        None => (to.to_string(), None),
    };
    let body = match body {
        Some(f) => Some(serde_json::from_str(&std::fs::read_to_string(f)?)?),
        None => None,
    };
    let gw = local_gateway(paths).await?;
    let spec = ReplaySpec {
        request_id,
        body,
        endpoint: None,
        provider,
        model,
    };
    let result = replay::replay(gw.state(), spec).await;
    gw.shutdown().await;
    let r = result?;
    let row = |label: &str,
               p: &str,
               m: &str,
               status: u16,
               lat: f64,
               ttft: Option<f64>,
               ti: Option<u64>,
               to: Option<u64>,
               cost: Option<f64>| {
        println!(
            "{label:<9} {p:<14} {m:<24} {status:>6} {lat:>10.0} {:>9} {:>8} {:>8} {:>10}",
            ttft.map(|t| format!("{t:.0}"))
                .unwrap_or_else(|| "-".into()),
            ti.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            to.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            cost.map(|c| format!("${c:.5}"))
                .unwrap_or_else(|| "-".into()),
        );
    };
    println!(
        "{:<9} {:<14} {:<24} {:>6} {:>10} {:>9} {:>8} {:>8} {:>10}",
        "", "provider", "model", "status", "latency ms", "ttft ms", "tok in", "tok out", "cost"
    );
    if let Some(o) = &r.original {
        row(
            "original",
            o.provider.as_deref().unwrap_or("-"),
            o.forwarded_model.as_deref().unwrap_or(&o.requested_model),
            o.status,
            o.latency_ms,
            o.ttft_ms,
            o.tokens_in,
            o.tokens_out,
            o.cost_usd,
        );
    }
    let p = &r.replay;
    row(
        "replay",
        &p.provider,
        &p.model,
        p.status,
        p.latency_ms,
        p.ttft_ms,
        p.tokens_in,
        p.tokens_out,
        p.cost_usd,
    );
    if let Some(e) = &p.error_message {
        println!("error: {e}");
    }
    println!("replay request id: {}", p.request_id);
    println!("{}", p.response.chars().take(2000).collect::<String>());
    Ok(if p.error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub struct BenchArgs {
    pub targets: Vec<Target>,
    pub protocols: Vec<Protocol>,
    pub stream: Vec<bool>,
    pub requests: u32,
    pub concurrency: u32,
    pub max_cost_usd: f64,
    /// Run without showing the estimate first and asking.
    pub yes: bool,
}

impl BenchArgs {
    /// From the `aigw bench-models` flags: `--stream` is off, on or both;
    /// no `--protocol` means chat.
    pub fn from_flags(
        targets: Vec<Target>,
        protocols: Vec<Protocol>,
        stream: &str,
        requests: u32,
        concurrency: u32,
        max_cost_usd: f64,
        yes: bool,
    ) -> anyhow::Result<Self> {
        let stream = match stream {
            "off" => vec![false],
            "on" => vec![true],
            "both" => vec![false, true],
            other => anyhow::bail!("--stream {other:?}: use off, on or both"),
        };
        let protocols = if protocols.is_empty() {
            vec![Protocol::Chat]
        } else {
            protocols
        };
        Ok(Self {
            targets,
            protocols,
            stream,
            requests,
            concurrency,
            max_cost_usd,
            yes,
        })
    }
}

/// `aigw bench-models`.
pub async fn bench_models(paths: &Paths, a: BenchArgs) -> anyhow::Result<ExitCode> {
    let spec = Spec {
        targets: a.targets,
        protocols: a.protocols,
        stream: a.stream,
        requests: a.requests,
        concurrency: a.concurrency,
        max_tokens: 32,
        max_cost_usd: a.max_cost_usd,
    };
    let gw = local_gateway(paths).await?;
    let result = async {
        spec.check(gw.state())?;
        let e = spec.estimate(gw.state());
        let cost = e
            .cost_usd
            .map(|c| format!("about ${c:.4}"))
            .unwrap_or_else(|| format!("unknown (no price for {})", e.unpriced.join(", ")));
        println!(
            "{} requests, ~{} tokens in, ≤{} tokens out, cost {cost}; hard cap ${:.4}",
            e.requests, e.tokens_in, e.tokens_out, e.max_cost_usd
        );
        if !a.yes {
            anyhow::bail!("re-run with --yes to send these requests");
        }
        Ok::<_, anyhow::Error>(modelbench::run(gw.state(), spec, "cli").await?)
    }
    .await;
    gw.shutdown().await;
    let run = result?;
    println!(
        "{:<14} {:<24} {:<9} {:<6} {:>5} {:>8} {:>9} {:>9} {:>9} {:>9} {:>8}  errors",
        "provider",
        "model",
        "protocol",
        "stream",
        "sent",
        "success",
        "lat p50",
        "lat p95",
        "ttft p50",
        "ttft p95",
        "tok/s"
    );
    let f = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into());
    for r in &run.reports {
        let errors: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<14} {:<24} {:<9} {:<6} {:>5} {:>7.0}% {:>9} {:>9} {:>9} {:>9} {:>8}  {}",
            r.provider,
            r.model,
            format!("{:?}", r.protocol).to_lowercase(),
            r.stream,
            r.sent,
            r.success_rate * 100.0,
            f(r.latency_ms.map(|q| q.p50)),
            f(r.latency_ms.map(|q| q.p95)),
            f(r.ttft_ms.map(|q| q.p50)),
            f(r.ttft_ms.map(|q| q.p95)),
            f(r.tokens_per_s),
            errors.join(" ")
        );
    }
    println!(
        "run {} — spent about ${:.4}{}",
        run.id,
        run.spent_usd,
        if run.stopped_by_cost_cap {
            " — STOPPED by the cost cap"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
