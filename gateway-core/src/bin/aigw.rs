//! `aigw`: the headless host of `gateway_core`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway_core::config::{Config, Paths, Severity, ensure_config_file};
use gateway_core::secrets::KeyIndex;
use gateway_core::{GatewayOptions, start};

/// mimalloc: about 10 % fewer instructions per proxied request than the
/// system allocator (bench/README.md). Built with arena eager commit off
/// (`.cargo/config.toml`), which keeps idle RSS near the system allocator's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "aigw",
    version,
    about = "AI Model Gateway: an OpenAI-compatible LLM gateway with fallback"
)]
struct Cli {
    /// Config file (default: the OS config dir; created from the embedded default when missing).
    #[arg(long, global = true, env = "AIGW_CONFIG")]
    config: Option<PathBuf>,
    /// Data dir for SQLite and logs (default: the OS data dir).
    #[arg(long, global = true, env = "AIGW_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway until SIGINT/SIGTERM.
    Serve {
        /// Listen address, overriding server.listen (e.g. 127.0.0.1:4000).
        #[arg(long, env = "AIGW_LISTEN")]
        listen: Option<String>,
        /// Threads serving client connections (default: one per core). On a
        /// workstation, 1 costs the least CPU per request; a busy team
        /// server wants one per core.
        #[arg(long, env = "AIGW_THREADS", value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: Option<u16>,
    },
    /// Config tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Provider and client keys in the OS keychain (values never printed).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Send a logged request (or --body FILE) again to one provider and
    /// model, bypassing routing; compare with the original.
    Replay {
        /// The logged request's id (x-aigw-request-id); needs
        /// telemetry.store_bodies = true unless --body is given.
        request_id: Option<String>,
        /// PROVIDER or PROVIDER:MODEL.
        #[arg(long)]
        to: String,
        /// A JSON request body to send instead of the stored one.
        #[arg(long)]
        body: Option<PathBuf>,
    },
    /// Synthetic benchmark: N small requests per target and protocol.
    BenchModels {
        /// PROVIDER:MODEL, repeatable.
        #[arg(long = "target", required = true)]
        targets: Vec<gateway_core::tools::modelbench::Target>,
        /// chat, messages, responses (repeatable; default chat).
        #[arg(long = "protocol")]
        protocols: Vec<gateway_core::tools::modelbench::Protocol>,
        /// off, on or both.
        #[arg(long, default_value = "both")]
        stream: String,
        /// Requests per target, protocol and stream mode.
        #[arg(short = 'n', long, default_value_t = 5)]
        requests: u32,
        #[arg(long, default_value_t = 2)]
        concurrency: u32,
        /// Hard cost cap in USD: the run stops before exceeding it.
        #[arg(long, default_value_t = 0.05)]
        max_cost: f64,
        /// Send the requests (without it, only the estimate is shown).
        #[arg(long)]
        yes: bool,
    },
    /// Probe each provider: reachability, auth, latency, models.
    Probe,
    /// Check config, data dir, keychain, port, providers, local model servers.
    Doctor,
    /// Print the admin API token (to log in to /ui of a headless gateway).
    AdminToken {
        /// The read-only viewer token instead.
        #[arg(long)]
        viewer: bool,
    },
    /// Print where the config and data live.
    Paths,
    /// Signed self-update: check, apply (keeps the old binary), rollback.
    Update {
        #[command(subcommand)]
        command: gateway_core::update::UpdateCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Store a key; the secret is read from stdin (never an argument).
    /// Reference it in config as "keyring:NAME".
    Set { name: String },
    /// List key names and whether the keychain holds them.
    List,
    /// Delete a key.
    Rm { name: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check a config file; exit 0 when valid (warnings are printed).
    Validate {
        /// File to check (default: the active config).
        file: Option<PathBuf>,
    },
    /// Show what publishing FILE would change against the live config.
    Diff { file: PathBuf },
    /// Validate FILE and make it the live config (a new, audited version,
    /// hot-swapped when a gateway is running).
    Publish {
        file: PathBuf,
        #[arg(short, long, default_value = "")]
        message: String,
    },
    /// Published versions, newest first (* = live).
    History {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Print a version's TOML (default: the live one).
    Show { version: Option<i64> },
    /// Make an earlier version live again (itself a new, audited version).
    Rollback {
        version: i64,
        #[arg(short, long, default_value = "")]
        message: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIGW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(gateway_core::telemetry::logline::Stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .event_format(gateway_core::telemetry::logline::LineFormat::default())
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aigw: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let paths = Paths::resolve(cli.config, cli.data_dir)?;
    match cli.command {
        Command::Paths => {
            println!("config: {}", paths.config_file.display());
            println!("data:   {}", paths.data_dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { listen, threads } => serve(paths, listen, threads),
        Command::Config { command } => block_on(config_command(&paths, command)),
        Command::Probe => block_on(gateway_core::cli::probe(&paths)),
        Command::AdminToken { viewer } => {
            let Some(t) = gateway_core::secrets::admin::AdminTokens::read_existing(&paths.data_dir)
            else {
                anyhow::bail!(
                    "no admin token yet for data dir {} (it is created when `aigw serve` first runs)",
                    paths.data_dir.display()
                );
            };
            println!(
                "{}",
                if viewer {
                    t.viewer.expose()
                } else {
                    t.admin.expose()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            request_id,
            to,
            body,
        } => block_on(gateway_core::cli::replay(
            &paths,
            request_id,
            &to,
            body.as_deref(),
        )),
        Command::BenchModels {
            targets,
            protocols,
            stream,
            requests,
            concurrency,
            max_cost,
            yes,
        } => {
            let stream = match stream.as_str() {
                "off" => vec![false],
                "on" => vec![true],
                "both" => vec![false, true],
                other => anyhow::bail!("--stream {other:?}: use off, on or both"),
            };
            let protocols = if protocols.is_empty() {
                vec![gateway_core::tools::modelbench::Protocol::Chat]
            } else {
                protocols
            };
            let args = gateway_core::cli::BenchArgs {
                targets,
                protocols,
                stream,
                requests,
                concurrency,
                max_cost_usd: max_cost,
                yes,
            };
            block_on(gateway_core::cli::bench_models(&paths, args))
        }
        Command::Doctor => block_on(gateway_core::cli::doctor(&paths)),
        Command::Keys { command } => keys(&paths, command),
        Command::Update { command } => {
            gateway_core::update::run(command, &paths.data_dir, &mut std::io::stdout())
        }
    }
}

fn block_on(
    f: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

async fn config_command(paths: &Paths, command: ConfigCommand) -> anyhow::Result<ExitCode> {
    use gateway_core::cli;
    match command {
        ConfigCommand::Validate { file } => Ok(validate(paths, file)),
        ConfigCommand::Diff { file } => cli::diff(paths, &file).await,
        ConfigCommand::Publish { file, message } => cli::publish(paths, &file, &message).await,
        ConfigCommand::History { limit } => cli::history(paths, limit).await,
        ConfigCommand::Show { version } => cli::show(paths, version).await,
        ConfigCommand::Rollback { version, message } => {
            cli::rollback(paths, version, &message).await
        }
    }
}

fn validate(paths: &Paths, file: Option<PathBuf>) -> ExitCode {
    let file = file.unwrap_or_else(|| paths.config_file.clone());
    let origin = file.display().to_string();
    match Config::load(&file) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!(
                    "warning: {}",
                    gateway_core::config::format_issue(&origin, w)
                );
            }
            let profile = c
                .active_profile
                .as_ref()
                .map(|p| format!(", profile {p}"))
                .unwrap_or_default();
            println!(
                "{origin}: valid ({} providers, {} routes{profile})",
                c.providers.len(),
                c.routes.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            for w in e.issues.iter().filter(|i| i.severity == Severity::Warning) {
                eprintln!(
                    "warning: {}",
                    gateway_core::config::format_issue(&e.origin, w)
                );
            }
            ExitCode::from(2)
        }
    }
}

fn keys(paths: &Paths, command: KeysCommand) -> anyhow::Result<ExitCode> {
    use std::io::{IsTerminal, Read};
    let index = KeyIndex::new(&paths.data_dir);
    match command {
        KeysCommand::Set { name } => {
            if std::io::stdin().is_terminal() {
                eprintln!("Paste the secret for {name:?}, then Enter and Ctrl-D:");
            }
            let mut secret = String::new();
            std::io::stdin().read_to_string(&mut secret)?;
            let secret = secret.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                anyhow::bail!("no secret on stdin; try: printf %s \"$KEY\" | aigw keys set {name}");
            }
            index.set(&name, secret)?;
            println!("stored {name:?} in the OS keychain; use api_key = \"keyring:{name}\"");
        }
        KeysCommand::List => {
            for (name, present) in index.list() {
                println!(
                    "{name}\t{}",
                    if present {
                        "present"
                    } else {
                        "missing from keychain"
                    }
                );
            }
        }
        KeysCommand::Rm { name } => {
            if index.remove(&name)? {
                println!("removed {name:?}");
            } else {
                anyhow::bail!("no key named {name:?}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(paths: Paths, listen: Option<String>, threads: Option<u16>) -> anyhow::Result<ExitCode> {
    let listen: Option<SocketAddr> = match listen {
        Some(l) => Some(gateway_core::config::parse_listen(&l).ok_or_else(|| {
            anyhow::anyhow!("--listen {l:?} is not an address like 127.0.0.1:4000")
        })?),
        None => None,
    };
    if ensure_config_file(&paths.config_file)? {
        tracing::info!("created default config at {}", paths.config_file.display());
    }
    let config = match gateway_core::lifecycle::load_for_start(&paths.config_file, &paths.data_dir)
    {
        Ok(s) => {
            if let Some((e, version)) = &s.file_rejected {
                eprintln!("{e}");
                tracing::error!(
                    "{} is invalid: serving the last committed version {version} instead (fix the file, it is watched, or publish a config)",
                    paths.config_file.display()
                );
            }
            s.config
        }
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    for w in &config.warnings {
        tracing::warn!(
            "{}",
            gateway_core::config::format_issue(&paths.config_file.display().to_string(), w)
        );
    }
    if config.providers.is_empty() {
        tracing::info!(
            "no providers configured yet: add one to {} (see docs/config.md)",
            paths.config_file.display()
        );
    }
    // Client connections get their own threads (`serve_threads`); this
    // runtime only carries background work and signals.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let opts = GatewayOptions {
            data_dir: Some(paths.data_dir.clone()),
            listen,
            config_path: Some(paths.config_file.clone()),
            serve_threads: threads
                .map_or_else(gateway_core::server::default_serve_threads, usize::from),
            ..GatewayOptions::new(config)
        };
        let handle = start(opts).await?;
        tracing::info!(
            "config {}, data {}",
            paths.config_file.display(),
            paths.data_dir.display()
        );
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        handle.shutdown().await;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
