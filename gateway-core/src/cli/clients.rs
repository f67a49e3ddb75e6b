//! `aigw clients list|status|connect|disconnect` and `aigw run
//! claude|codex`. The files are edited here, by this process (its `$HOME`);
//! a client key's publish goes to the running gateway's admin API when one
//! serves this config, else to the data dir (`cli::config`).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::clients::{
    ClientInfo, Clients, LOCAL_TOKEN, ModelMap, Target, Tool, base_url_for, keys, launch,
};
use crate::config::{Config, DEFAULT_CONFIG, Paths};

/// `aigw clients connect` flags.
#[derive(Debug, Default)]
pub struct ConnectArgs {
    pub models: ModelMap,
    pub dry_run: bool,
    pub force: bool,
    pub subscription: bool,
}

fn tool(name: &str) -> anyhow::Result<Tool> {
    Tool::parse(name).ok_or_else(|| crate::clients::ClientError::Unknown(name.into()).into())
}

/// The config (the file's, or the embedded default when there is none yet)
/// and the address the gateway listens on.
fn config(paths: &Paths) -> anyhow::Result<(Config, SocketAddr)> {
    let config = if paths.config_file.exists() {
        crate::lifecycle::load_for_start(&paths.config_file, &paths.data_dir)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .config
    } else {
        Config::parse(DEFAULT_CONFIG, "default config").map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let listen = std::env::var("AIGW_LISTEN")
        .ok()
        .and_then(|l| crate::config::parse_listen(&l))
        .unwrap_or(config.server.listen);
    Ok((config, listen))
}

fn routes(config: &Config) -> Vec<String> {
    config
        .routes
        .iter()
        .map(|r| r.model.clone())
        .filter(|m| !m.contains('*'))
        .collect()
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn table(list: &[ClientInfo], notes: bool) {
    println!(
        "{:<12} {:<9} {:<9} {:<7} FILE",
        "TOOL", "INSTALLED", "CONNECTED", "DRIFTED"
    );
    for c in list {
        let connected = if c.connectable {
            yes_no(c.connected)
        } else {
            "-"
        };
        println!(
            "{:<12} {:<9} {:<9} {:<7} {}",
            c.name,
            yes_no(c.installed),
            connected,
            if c.connectable {
                yes_no(c.drifted)
            } else {
                "-"
            },
            c.files.first().map(String::as_str).unwrap_or("-")
        );
        if notes && let Some(n) = &c.note {
            println!("{:<12} note: {n}", "");
        }
    }
}

/// `aigw clients list`.
pub fn list(paths: &Paths) -> anyhow::Result<ExitCode> {
    let (_, listen) = config(paths)?;
    let target = Target {
        base_url: base_url_for(listen),
        ..Target::default()
    };
    table(&Clients::for_paths(paths).list(&target), false);
    Ok(ExitCode::SUCCESS)
}

/// `aigw clients status`: the list with notes, where backups live, and
/// when a running gateway last saw each tool.
pub fn status(paths: &Paths) -> anyhow::Result<ExitCode> {
    let (_, listen) = config(paths)?;
    let clients = Clients::for_paths(paths);
    let base = base_url_for(listen);
    let target = Target {
        base_url: base.clone(),
        ..Target::default()
    };
    let seen = last_seen(paths, &base);
    println!(
        "gateway: {base}{}",
        if seen.is_some() {
            " (running)"
        } else {
            " (not reachable)"
        }
    );
    println!("backups: {}", clients.state_dir().display());
    let mut list = clients.list(&target);
    if let Some(seen) = &seen {
        for c in &mut list {
            c.last_seen = seen
                .iter()
                .find(|(n, _)| *n == c.name)
                .and_then(|(_, t)| t.clone());
        }
    }
    table(&list, true);
    for c in list.iter().filter(|c| c.last_seen.is_some()) {
        println!(
            "last seen: {} at {}",
            c.name,
            c.last_seen.as_deref().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Tool → last seen, from the gateway running at `base` (None when none
/// answers or it refuses our admin token).
fn last_seen(paths: &Paths, base: &str) -> Option<Vec<(String, Option<String>)>> {
    let tokens = crate::secrets::admin::AdminTokens::read_existing(&paths.data_dir)?;
    let http = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_millis(1500))
        .no_proxy()
        .build()
        .ok()?;
    let v: serde_json::Value = http
        .get(format!("{base}/admin/api/clients"))
        .bearer_auth(tokens.viewer.expose())
        .send()
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .ok()?;
    Some(
        v["clients"]
            .as_array()?
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or_default().to_string(),
                    c["last_seen"].as_str().map(str::to_string),
                )
            })
            .collect(),
    )
}

/// `aigw clients connect NAME [--model M …] [--dry-run] [--force]`.
pub async fn connect(paths: &Paths, name: &str, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let tool = tool(name)?;
    crate::clients::check_connectable(tool)?;
    crate::clients::check_subscription(tool, args.subscription)?;
    let (config, listen) = config(paths)?;
    if let Some(why) = keys::routing_loop(&config, listen) {
        bail!("requests would loop: {why}");
    }
    let mut models = args.models;
    if models.available.is_empty() {
        models.available = routes(&config);
    }
    let live = std::fs::read_to_string(&paths.config_file).unwrap_or_default();
    let token = keys::prepare(&paths.data_dir, &config, &live, tool, !args.dry_run)?;
    let target = Target {
        base_url: base_url_for(listen),
        token: token.value.clone(),
        models,
        subscription: args.subscription,
    };
    let clients = Clients::for_paths(paths);
    if args.dry_run {
        let p = clients.preview(tool, &target)?;
        for f in &p.files {
            let before = f.before.as_deref().unwrap_or("");
            let after = f.after.as_deref().unwrap_or("");
            let old = if f.before.is_some() {
                f.path.clone()
            } else {
                "/dev/null".into()
            };
            print!(
                "{}",
                crate::lifecycle::diff::unified(before, after, &old, &f.path)
            );
        }
        if let (Some(_), Some(r)) = (&token.publish, &token.key_ref) {
            println!("note: connect adds the client key {r} to server.client_keys");
        }
        for w in &p.warnings {
            eprintln!("warning: {w}");
        }
        println!("dry run: nothing written");
        return Ok(ExitCode::SUCCESS);
    }
    if let (Some(_), Some(r)) = (&token.publish, &token.key_ref) {
        let r = r.clone();
        super::config::publish_edit(paths, &format!("connect {tool}: client key {r}"), |live| {
            keys::add_client_key(live, &r).map_err(Into::into)
        })
        .await
        .context("adding the client key to server.client_keys")?;
        println!("added client key {r} to server.client_keys");
    }
    let out = clients.connect_with(tool, &target, args.force)?;
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    println!("{}", out.message);
    Ok(ExitCode::SUCCESS)
}

/// `aigw clients disconnect NAME`.
pub fn disconnect(paths: &Paths, name: &str) -> anyhow::Result<ExitCode> {
    let tool = tool(name)?;
    let out = Clients::for_paths(paths).disconnect(tool)?;
    println!(
        "{} ({})",
        out.message,
        out.restored.as_deref().unwrap_or("nothing")
    );
    Ok(ExitCode::SUCCESS)
}

/// `aigw run claude|codex [ARGS…]`: the tool pointed at the gateway, no
/// file edited. With client keys configured, the tool's key must exist
/// (`aigw clients connect NAME` mints it).
pub fn run(
    paths: &Paths,
    name: &str,
    subscription: bool,
    args: &[OsString],
) -> anyhow::Result<ExitCode> {
    let Some(tool) = launch::tool_for(name) else {
        bail!("aigw run knows claude and codex, not {name:?}");
    };
    let (config, listen) = config(paths)?;
    if let Some(why) = keys::routing_loop(&config, listen) {
        bail!("requests would loop: {why}");
    }
    let token = if config.server.client_keys.is_empty() {
        LOCAL_TOKEN.to_string()
    } else {
        let r = keys::key_ref(tool);
        let listed = config.server.client_keys.iter().any(|k| k.to_string() == r);
        match crate::secrets::keychain_get(&keys::key_name(tool)) {
            Ok(k) if listed => k.expose().to_string(),
            _ => bail!(
                "this gateway needs client keys and {r} is not set up yet: run `aigw clients connect {}` once (it mints the key), or set ANTHROPIC_AUTH_TOKEN / the key yourself",
                tool.name()
            ),
        }
    };
    let target = Target {
        base_url: base_url_for(listen),
        token,
        models: ModelMap::default(),
        subscription,
    };
    let Some(cmd) = launch::command(tool, &target, args) else {
        bail!("aigw run cannot start {name}");
    };
    let program = cmd.get_program().to_string_lossy().into_owned();
    let code =
        launch::run(cmd).with_context(|| format!("cannot start `{program}` (is it on PATH?)"))?;
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}
