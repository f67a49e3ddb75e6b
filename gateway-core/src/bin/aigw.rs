//! `aigw`: the headless host of `gateway_core`. Parses the flags and
//! dispatches to `gateway_core::cli`, where the commands live.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway_core::cli;
use gateway_core::config::Paths;

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
    /// Verification runs: is a provider serving the model it claims?
    Verify {
        #[command(subcommand)]
        command: VerifyCommand,
    },
    /// Probe each provider: reachability, auth, latency, models.
    Probe,
    /// Check config, data dir, keychain, port, providers, local model servers.
    Doctor,
    /// Whether a gateway serves this config: version, config version,
    /// providers' health, listen address, UI URL (exit 3 when not running).
    Status {
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a diagnostics bundle (.tar.gz: status, versions, doctor,
    /// recent errors and audit, config with references only, platform);
    /// secrets are redacted.
    Diagnose {
        #[arg(long)]
        out: PathBuf,
    },
    /// Back the config store (versions, audit) up into one .tar.gz, with
    /// key names but never key values.
    Backup {
        #[arg(long)]
        out: PathBuf,
        /// Include the request log (telemetry.db).
        #[arg(long)]
        telemetry: bool,
    },
    /// Restore a backup into this data dir (the gateway must be stopped;
    /// a newer schema is refused).
    Restore { file: PathBuf },
    /// Print the admin API token (to log in to /ui of a headless gateway).
    AdminToken {
        /// The read-only viewer token instead.
        #[arg(long, conflicts_with = "name")]
        viewer: bool,
        /// A named admin token (created on first use): audit rows of its
        /// requests and sessions name NAME as actor.
        #[arg(long)]
        name: Option<String>,
    },
    /// The request log: the last requests, `-f` to follow new ones, or
    /// `export` the filtered list as CSV / JSON Lines.
    Logs {
        #[command(subcommand)]
        command: Option<LogsCommand>,
        /// Keep printing requests as they are logged (Ctrl-C stops).
        #[arg(short, long)]
        follow: bool,
        /// How many of the latest requests to print first.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u32,
        #[command(flatten)]
        filter: LogFilterArgs,
    },
    /// Team mode: check the shared engines of `[cluster]` (Redis,
    /// PostgreSQL): reachable, versions, schema. Exits 1 on any failure.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// The audit log of operator actions: list it, verify its hash chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print where the config and data live.
    Paths,
    /// Connect coding tools (claude-code, codex, opencode, continue,
    /// gemini-cli) to this gateway, or undo it; cursor is listed only.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Start claude or codex pointed at this gateway without editing its
    /// files (environment / -c overrides).
    Run {
        /// Keep the tool's own login (Claude subscription, ChatGPT) for
        /// providers with api_key = "client"; the gateway key goes as
        /// x-aigw-key.
        #[arg(long)]
        subscription: bool,
        /// claude or codex.
        tool: String,
        /// Passed to the tool as they are.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Signed self-update: check, apply (keeps the old binary), rollback.
    Update {
        #[command(subcommand)]
        command: gateway_core::update::UpdateCommand,
    },
    /// Run `aigw serve` in the background at login: a systemd user unit
    /// (Linux), a launchd agent (macOS), a scheduled task (Windows).
    Service {
        #[command(subcommand)]
        command: cli::service::ServiceCommand,
    },
}

#[derive(Subcommand)]
enum VerifyCommand {
    /// Record the probe suite's answers, token counts and latency from a
    /// trusted PROVIDER:MODEL as its baseline.
    Baseline {
        #[arg(long)]
        target: gateway_core::tools::modelbench::Target,
        /// Hard cost cap in USD.
        #[arg(long, default_value_t = 0.05)]
        max_cost: f64,
        /// Send the requests (without it, only the estimate is shown).
        #[arg(long)]
        yes: bool,
    },
    /// Run the probe suite against PROVIDER:MODEL and score it against a
    /// baseline: exit 0 normal, 2 suspect, 3 highly_suspect.
    Run {
        #[arg(long)]
        target: gateway_core::tools::modelbench::Target,
        /// The baseline's PROVIDER:MODEL (default: the target's own).
        #[arg(long)]
        baseline: Option<gateway_core::tools::modelbench::Target>,
        /// Hard cost cap in USD.
        #[arg(long, default_value_t = 0.05)]
        max_cost: f64,
        /// Input-token counts further off than this (percent) count.
        #[arg(long, default_value_t = gateway_core::tools::verify::DEFAULT_TOKEN_TOLERANCE_PCT)]
        tolerance: f64,
        /// Send the requests (without it, only the estimate is shown).
        #[arg(long)]
        yes: bool,
    },
    /// Past verification runs, newest first.
    List {
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Tools: installed, connected, drifted, file.
    List,
    /// The list with notes and where the backups are.
    Status,
    /// Point NAME at this gateway (backs its file up first).
    Connect {
        name: String,
        /// Default model (ANTHROPIC_MODEL, Codex `model`, …).
        #[arg(long)]
        model: Option<String>,
        /// Claude Code's ANTHROPIC_DEFAULT_OPUS_MODEL.
        #[arg(long)]
        opus: Option<String>,
        #[arg(long)]
        sonnet: Option<String>,
        #[arg(long)]
        haiku: Option<String>,
        /// Print the change as a diff; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Create the tool's config dir even if it does not look installed.
        #[arg(long)]
        force: bool,
        /// Claude Code / Codex keep their own login (subscriptions, for
        /// providers with api_key = "client"); the gateway key goes as
        /// x-aigw-key.
        #[arg(long)]
        subscription: bool,
    },
    /// Undo connect: the original file back (byte for byte when unchanged).
    Disconnect { name: String },
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
    /// Virtual client keys (team mode): made at runtime with a name, team,
    /// allowed models, RPM/TPM and a USD budget; the secret is shown once.
    Client {
        #[command(subcommand)]
        command: ClientKeysCommand,
    },
}

#[derive(Subcommand)]
enum ClientKeysCommand {
    /// Make a key and print its secret (once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        team: Option<String>,
        /// Allowed model patterns, comma-separated: 'gpt-5*,claude-*' (default: any).
        #[arg(long)]
        models: Option<String>,
        #[arg(long, default_value_t = 0)]
        rpm: u32,
        #[arg(long, default_value_t = 0)]
        tpm: u32,
        /// USD per --period.
        #[arg(long)]
        budget_usd: Option<f64>,
        /// daily, weekly or monthly (UTC; default monthly).
        #[arg(long)]
        period: Option<String>,
        /// Stops working after this long: 30d, 12h…
        #[arg(long)]
        expires: Option<String>,
        /// A metadata tag KEY=VALUE (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Keys with status, spend and budget.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop a key at once.
    Revoke { id: String },
    /// A new secret; the old one keeps working for --grace-s seconds.
    Rotate {
        id: String,
        #[arg(long, default_value_t = 0)]
        grace_s: u64,
    },
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

#[derive(clap::Args, Clone, Default)]
struct LogFilterArgs {
    /// Only this forwarded model.
    #[arg(long, global = true)]
    model: Option<String>,
    /// Only this provider.
    #[arg(long, global = true)]
    provider: Option<String>,
    /// Only this route (the requested model, or a pattern route as written).
    #[arg(long, global = true)]
    route: Option<String>,
    /// Search: a request id, or text in models, provider, route, error or
    /// stored bodies.
    #[arg(long, short = 'q', global = true)]
    q: Option<String>,
    /// client (default), replay, bench, fallback_test or all.
    #[arg(long, global = true)]
    origin: Option<String>,
}

#[derive(Subcommand)]
enum LogsCommand {
    /// The filtered list, newest first, to stdout.
    Export {
        /// csv or jsonl.
        #[arg(long, value_parser = ["csv", "jsonl"])]
        format: String,
        /// At most this many rows (up to 100000).
        #[arg(long, default_value_t = 10_000)]
        limit: u32,
        /// Only the last N minutes.
        #[arg(long)]
        minutes: Option<i64>,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Connect to Redis and PostgreSQL and report each: ok or fail.
    Check {
        /// One JSON document instead of lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Newest rows first: time, id, actor, peer, action, version.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Walk the hash chain; exit 1 naming the first row that was changed,
    /// inserted or deleted.
    Verify,
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
    let explicit = (cli.config.clone(), cli.data_dir.clone());
    let paths = Paths::resolve(cli.config, cli.data_dir)?;
    match cli.command {
        Command::Service { command } => {
            cli::service::service(&paths, explicit.0, explicit.1, command)
        }
        Command::Paths => Ok(cli::paths(&paths)),
        Command::Serve { listen, threads } => cli::serve(paths, listen, threads),
        Command::Config { command } => block_on(config_command(&paths, command)),
        Command::Probe => block_on(cli::probe(&paths)),
        Command::AdminToken { viewer, name } => cli::admin_token(&paths, viewer, name.as_deref()),
        Command::Logs {
            command,
            follow,
            lines,
            filter,
        } => {
            let f = cli::logs::LogFilter {
                model: filter.model,
                provider: filter.provider,
                route: filter.route,
                q: filter.q,
                origin: filter.origin,
            };
            match command {
                None => cli::logs::tail(&paths, &f, lines, follow),
                Some(LogsCommand::Export {
                    format,
                    limit,
                    minutes,
                }) => {
                    let format = if format == "csv" {
                        gateway_core::telemetry::export::Format::Csv
                    } else {
                        gateway_core::telemetry::export::Format::Jsonl
                    };
                    cli::logs::export(&paths, &f, format, limit, minutes)
                }
            }
        }
        Command::Cluster {
            command: ClusterCommand::Check { json },
        } => block_on(cli::cluster::check(&paths, json)),
        Command::Audit { command } => match command {
            AuditCommand::List { limit } => cli::audit::list(&paths, limit),
            AuditCommand::Verify => cli::audit::verify(&paths),
        },
        Command::Replay {
            request_id,
            to,
            body,
        } => block_on(cli::replay(&paths, request_id, &to, body.as_deref())),
        Command::BenchModels {
            targets,
            protocols,
            stream,
            requests,
            concurrency,
            max_cost,
            yes,
        } => {
            let args = cli::BenchArgs::from_flags(
                targets,
                protocols,
                &stream,
                requests,
                concurrency,
                max_cost,
                yes,
            )?;
            block_on(cli::bench_models(&paths, args))
        }
        Command::Verify { command } => match command {
            VerifyCommand::Baseline {
                target,
                max_cost,
                yes,
            } => block_on(cli::verify::baseline(&paths, target, max_cost, yes)),
            VerifyCommand::Run {
                target,
                baseline,
                max_cost,
                tolerance,
                yes,
            } => {
                let spec = gateway_core::tools::verify::RunSpec {
                    target,
                    baseline,
                    max_cost_usd: max_cost,
                    token_tolerance_pct: Some(tolerance),
                };
                block_on(cli::verify::run(&paths, spec, yes))
            }
            VerifyCommand::List { limit } => cli::verify::list(&paths, limit),
        },
        Command::Doctor => block_on(cli::doctor(&paths)),
        Command::Status { json } => block_on(cli::status(&paths, json)),
        Command::Diagnose { out } => block_on(cli::diagnose(&paths, &out)),
        Command::Backup { out, telemetry } => cli::backup(&paths, &out, telemetry),
        Command::Restore { file } => block_on(cli::restore(&paths, &file)),
        Command::Keys { command } => match command {
            KeysCommand::Set { name } => cli::set_key(&paths, &name),
            KeysCommand::List => cli::list_keys(&paths),
            KeysCommand::Rm { name } => cli::remove_key(&paths, &name),
            KeysCommand::Client { command } => {
                use cli::vkeys::{ClientKeyCmd, CreateArgs};
                let cmd = match command {
                    ClientKeysCommand::Create {
                        name,
                        team,
                        models,
                        rpm,
                        tpm,
                        budget_usd,
                        period,
                        expires,
                        tags,
                    } => ClientKeyCmd::Create(CreateArgs {
                        name,
                        team,
                        models,
                        rpm,
                        tpm,
                        budget_usd,
                        period,
                        expires,
                        tags,
                    }),
                    ClientKeysCommand::List { json } => ClientKeyCmd::List { json },
                    ClientKeysCommand::Revoke { id } => ClientKeyCmd::Revoke { id },
                    ClientKeysCommand::Rotate { id, grace_s } => {
                        ClientKeyCmd::Rotate { id, grace_s }
                    }
                };
                block_on(cli::vkeys::client_keys(&paths, cmd))
            }
        },
        Command::Clients { command } => match command {
            ClientsCommand::List => cli::clients::list(&paths),
            ClientsCommand::Status => cli::clients::status(&paths),
            ClientsCommand::Connect {
                name,
                model,
                opus,
                sonnet,
                haiku,
                dry_run,
                force,
                subscription,
            } => {
                let args = cli::clients::ConnectArgs {
                    models: gateway_core::clients::ModelMap {
                        model,
                        opus,
                        sonnet,
                        haiku,
                        available: Vec::new(),
                    },
                    dry_run,
                    force,
                    subscription,
                };
                block_on(cli::clients::connect(&paths, &name, args))
            }
            ClientsCommand::Disconnect { name } => cli::clients::disconnect(&paths, &name),
        },
        Command::Run {
            tool,
            subscription,
            args,
        } => cli::clients::run(&paths, &tool, subscription, &args),
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
    match command {
        ConfigCommand::Validate { file } => Ok(cli::validate(paths, file)),
        ConfigCommand::Diff { file } => cli::diff(paths, &file).await,
        ConfigCommand::Publish { file, message } => cli::publish(paths, &file, &message).await,
        ConfigCommand::History { limit } => cli::history(paths, limit).await,
        ConfigCommand::Show { version } => cli::show(paths, version).await,
        ConfigCommand::Rollback { version, message } => {
            cli::rollback(paths, version, &message).await
        }
    }
}
