//! `aigw-bench`: the benchmark harness (see `bench/README.md`).
//!
//! - `aigw-bench run`: the whole comparison in one go — starts the mock
//!   upstream, then each gateway (aigw, LiteLLM, Portkey), measures every
//!   scenario next to direct-to-mock numbers, and writes
//!   `OUT/LABEL.json` and `OUT/LABEL.md`.
//! - `aigw-bench load`: one load run against any address (for profiling).
//! - `aigw-bench kinds`: translated paths per provider kind against
//!   passthrough, on one aigw (`OUT/LABEL.json`, `OUT/LABEL.md`).
//!
//! All traffic goes to 127.0.0.1; every loop is bounded by a request count
//! and a duration.

// A benchmark tool, not the gateway: it owns no TaskTracker to spawn through
// (clippy.toml disallows bare tokio::spawn for the gateway's tasks).
#![allow(clippy::disallowed_methods)]

mod client;
mod kinds;
mod procs;
mod report;
mod scenario;
mod tail;
mod targets;
mod translated;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aigw-bench",
    about = "Benchmarks: direct vs aigw vs peer gateways"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every scenario against every gateway and write the report.
    Run {
        /// Gateways to compare, in order.
        #[arg(long, value_delimiter = ',', default_value = "aigw,litellm,portkey")]
        gateways: Vec<String>,
        /// A few seconds in all (CI smoke): small counts, no waiting for a quiet machine.
        #[arg(long)]
        quick: bool,
        /// Where the report goes.
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
        /// Report name: OUT/LABEL.json and OUT/LABEL.md.
        #[arg(long, default_value = "latest")]
        label: String,
        #[arg(long, default_value = "target/release/aigw")]
        aigw: PathBuf,
        /// A second aigw binary, measured as gateway `aigw-before`.
        #[arg(long)]
        aigw_before: Option<PathBuf>,
        #[arg(long, default_value = "target/release/mock-upstream")]
        mock: PathBuf,
        /// The bench/ directory (peer installs live there).
        #[arg(long, default_value = "bench")]
        bench_dir: PathBuf,
        /// Scratch space for configs, data dirs and gateway logs.
        #[arg(long, default_value = "bench/results/logs")]
        scratch: PathBuf,
        /// Longest wait for the load average to drop at the start, in seconds.
        #[arg(long)]
        quiet_max_s: Option<u64>,
        /// Longest wait for the load average to drop before each gateway, in seconds.
        #[arg(long)]
        quiet_gateway_s: Option<u64>,
    },
    /// Translated paths per provider kind (chat → Gemini, Messages →
    /// Gemini) against chat passthrough to an OpenAI-kind provider.
    Kinds {
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "bench/results")]
        out: PathBuf,
        #[arg(long, default_value = "kinds")]
        label: String,
        #[arg(long, default_value = "target/release/aigw")]
        aigw: PathBuf,
        #[arg(long, default_value = "target/release/mock-upstream")]
        mock: PathBuf,
        #[arg(long, default_value = "bench/results/logs")]
        scratch: PathBuf,
        /// Longest wait for the load average to drop at the start, in seconds.
        #[arg(long)]
        quiet_max_s: Option<u64>,
    },
    /// One load run against ADDR (prints JSON).
    Load {
        #[arg(long)]
        addr: SocketAddr,
        /// The client protocol: chat, messages or responses.
        #[arg(long, default_value = "chat")]
        wire: String,
        /// Default: the wire's endpoint (`/v1/chat/completions`,
        /// `/v1/messages`, `/v1/responses`).
        #[arg(long)]
        path: Option<String>,
        #[arg(long, default_value = "mock-l0")]
        model: String,
        #[arg(short = 'c', long, default_value_t = 1)]
        concurrency: usize,
        #[arg(short = 'n', long)]
        requests: Option<u64>,
        /// Seconds.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        #[arg(long)]
        stream: bool,
        #[arg(long, default_value_t = 1024)]
        prompt_bytes: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aigw-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Gateways run in their own process groups: on Ctrl-C or SIGTERM stop
    // them rather than leave them behind.
    let outcome = rt.block_on(async {
        tokio::select! {
            r = run(cli) => Some(r),
            () = interrupted() => None,
        }
    });
    let Some(outcome) = outcome else {
        procs::stop_all();
        eprintln!("aigw-bench: interrupted; stopped the processes it started");
        return ExitCode::from(130);
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aigw-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut i), Ok(mut t)) => {
            tokio::select! {
                _ = i.recv() => {},
                _ = t.recv() => {},
            }
        }
        _ => std::future::pending().await,
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Run {
            gateways,
            quick,
            out,
            label,
            aigw,
            aigw_before,
            mock,
            bench_dir,
            scratch,
            quiet_max_s,
            quiet_gateway_s,
        } => {
            let mut params = if quick {
                scenario::Params::quick()
            } else {
                scenario::Params::full()
            };
            if let Some(s) = quiet_max_s {
                params.quiet_max_s = s;
            }
            if let Some(s) = quiet_gateway_s {
                params.quiet_gateway_s = s;
            }
            let gateways = gateways
                .iter()
                .map(|g| targets::Gateway::parse(g))
                .collect::<anyhow::Result<Vec<_>>>()?;
            anyhow::ensure!(
                aigw.exists() || !gateways.contains(&targets::Gateway::Aigw),
                "{} not found: cargo build --release -p gateway-core --bin aigw",
                aigw.display()
            );
            anyhow::ensure!(
                mock.exists(),
                "{} not found: cargo build --release -p mock-upstream",
                mock.display()
            );
            let run = scenario::Run {
                params,
                paths: targets::Paths {
                    aigw: std::fs::canonicalize(&aigw).unwrap_or(aigw),
                    aigw_before: aigw_before.map(|p| std::fs::canonicalize(&p).unwrap_or(p)),
                    bench: std::fs::canonicalize(&bench_dir).unwrap_or(bench_dir),
                },
                mock_bin: mock,
                // Absolute: peers run with the scratch dir as their working dir.
                scratch: {
                    let dir = scratch.join(&label);
                    std::fs::create_dir_all(&dir)?;
                    std::fs::canonicalize(&dir)?
                },
                gateways,
                label: label.clone(),
            };
            let report = run.execute().await?;
            std::fs::create_dir_all(&out)?;
            let json = out.join(format!("{label}.json"));
            std::fs::write(&json, serde_json::to_string_pretty(&report)?)
                .with_context(|| json.display().to_string())?;
            let md = report::markdown(&report);
            let md_path = out.join(format!("{label}.md"));
            std::fs::write(&md_path, &md).with_context(|| md_path.display().to_string())?;
            println!("{md}");
            eprintln!("wrote {} and {}", md_path.display(), json.display());
            // The smoke fails when aigw itself failed a scenario.
            let aigw_failed = report.gateways.iter().any(|g| {
                g.name == "aigw"
                    && (g.fatal.is_some()
                        || g.c1
                            .as_ref()
                            .is_none_or(|p| p.gateway.ok == 0 || p.gateway.errors > 0)
                        || g.ttft
                            .as_ref()
                            .is_none_or(|p| p.gateway.ok == 0 || p.gateway.errors > 0)
                        || g.translated.as_ref().is_none_or(|t| t.failed()))
            });
            Ok(if aigw_failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Kinds {
            quick,
            out,
            label,
            aigw,
            mock,
            scratch,
            quiet_max_s,
        } => {
            let mut params = if quick {
                kinds::Params::quick()
            } else {
                kinds::Params::full()
            };
            if let Some(s) = quiet_max_s {
                params.quiet_max_s = s;
            }
            anyhow::ensure!(aigw.exists(), "{} not found", aigw.display());
            anyhow::ensure!(mock.exists(), "{} not found", mock.display());
            let aigw = std::fs::canonicalize(&aigw)?;
            let dir = scratch.join(&label);
            std::fs::create_dir_all(&dir)?;
            let report =
                kinds::run(params, &aigw, &mock, std::fs::canonicalize(&dir)?, &label).await?;
            std::fs::create_dir_all(&out)?;
            let json = out.join(format!("{label}.json"));
            std::fs::write(&json, serde_json::to_string_pretty(&report)?)?;
            let md = kinds::markdown(&report);
            let md_path = out.join(format!("{label}.md"));
            std::fs::write(&md_path, &md)?;
            println!("{md}");
            eprintln!("wrote {} and {}", md_path.display(), json.display());
            let failed = report
                .paths
                .iter()
                .any(|p| p.c1.ok == 0 || p.c1.errors > 0 || p.ttft.ok == 0 || p.ttft.errors > 0);
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Load {
            addr,
            wire,
            path,
            model,
            concurrency,
            requests,
            duration,
            stream,
            prompt_bytes,
        } => {
            anyhow::ensure!(
                addr.ip().is_loopback(),
                "benchmarks only target loopback addresses"
            );
            let wire = client::Wire::parse(&wire)?;
            let ep = client::Endpoint {
                addr,
                path: path.unwrap_or_else(|| wire.path().into()),
                headers: Vec::new(),
                wire,
            };
            let load = client::Load {
                model,
                stream,
                concurrency,
                requests,
                duration: Duration::from_secs(duration),
                timeout: Duration::from_secs(30),
                prompt_bytes,
            };
            let r = client::run(&ep, &load).await;
            println!("{}", serde_json::to_string_pretty(&r)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
