//! `aigw config …`: validate, diff, publish, history, show, rollback.
//! Config commands talk to the running gateway's admin API when one serves
//! this config, and work on the data dir directly when none runs — either
//! way every change is validated, versioned and audited the same way.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::config::{Config, Paths, Severity, format_issue};
use crate::lifecycle::{Change, ConfigManager, Published};
use crate::store::ConfigStore;

/// Where config commands go.
enum Target {
    Running {
        base: String,
        token: String,
        http: reqwest::Client,
    },
    Offline(Box<ConfigManager>),
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The gateway serving `paths.config_file`, if one runs; else the data dir.
async fn target(paths: &Paths) -> anyhow::Result<Target> {
    let startup = crate::lifecycle::load_for_start(&paths.config_file, &paths.data_dir)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some((e, v)) = &startup.file_rejected {
        eprintln!("{e}");
        eprintln!(
            "{}: invalid; the last committed version {v} is the live config",
            paths.config_file.display()
        );
    }
    let config = startup.config;
    let listen = super::status::listen_env().unwrap_or(config.server.listen);
    if let Some(running) = super::status::running_on(paths, listen).await? {
        let token = running.token.with_context(|| {
            format!(
                "a gateway runs on {listen} but no admin token was found (keychain or {})",
                paths.data_dir.display()
            )
        })?;
        let super::status::Running { base, http, .. } = running;
        let status: Value = http
            .get(format!("{base}/admin/api/status"))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()
            .context("the running gateway refused our admin token")?
            .json()
            .await?;
        if let Some(theirs) = status["config_path"].as_str()
            && canonical(Path::new(theirs)) != canonical(&paths.config_file)
        {
            bail!(
                "the gateway on {listen} serves another config ({theirs}); pass --config {theirs} or stop it",
            );
        }
        return Ok(Target::Running { base, token, http });
    }
    crate::store::perms::private_dir(&paths.data_dir)?;
    let store = ConfigStore::open(&paths.data_dir.join(crate::store::CONFIG_DB))?;
    // Team mode: versions go to PostgreSQL (every replica picks them up).
    let store = match &config.cluster.postgres_url {
        Some(url) => {
            let pg = std::sync::Arc::new(crate::cluster::pg::Pg::open(url)?);
            let id = crate::cluster::replica_id(&config.cluster, listen);
            store.with_remote(std::sync::Arc::new(crate::store::pg::PgConfigStore::new(
                pg,
                format!("{id} (cli)"),
            )?))
        }
        None => store,
    };
    let mgr = ConfigManager::open(store, Some(paths.config_file.clone()), &config)?;
    Ok(Target::Offline(Box::new(mgr)))
}

async fn api(
    base: &str,
    token: &str,
    http: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut rb = http
        .request(method, format!("{base}/admin/api{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

fn read_file(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

fn print_validation(origin: &str, v: &Value) {
    for kind in ["errors", "warnings"] {
        for i in v[kind].as_array().into_iter().flatten() {
            if let Ok(issue) = serde_json::from_value::<crate::config::Issue>(i.clone()) {
                let label = if kind == "errors" { "error" } else { "warning" };
                eprintln!("{label}: {}", format_issue(origin, &issue));
            }
        }
    }
}

fn print_summary(s: &Value) {
    let mut parts = Vec::new();
    for (key, label) in [
        ("providers_added", "+provider"),
        ("providers_removed", "-provider"),
        ("providers_changed", "~provider"),
        ("routes_added", "+route"),
        ("routes_removed", "-route"),
        ("routes_changed", "~route"),
        ("sections_changed", "~"),
    ] {
        for n in s[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            parts.push(format!("{label} {n}"));
        }
    }
    if parts.is_empty() {
        println!("summary: no structural change");
    } else {
        println!("summary: {}", parts.join(", "));
    }
}

fn print_published(p: &Value) {
    if p["unchanged"].as_bool() == Some(true) {
        println!(
            "unchanged: the live config is already this (version {})",
            p["version"]["id"]
        );
    } else {
        println!("published version {}", p["version"]["id"]);
        print_summary(&p["version"]["summary"]);
    }
    for r in p["restart_required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        println!("note: {r}");
    }
}

fn invalid(origin: &str, body: &Value) -> ExitCode {
    eprintln!("{origin}: invalid; nothing was applied");
    print_validation(origin, &body["validation"]);
    ExitCode::from(2)
}

/// `aigw config validate [FILE]`: exit 0 when valid, 2 when not.
pub fn validate(paths: &Paths, file: Option<PathBuf>) -> ExitCode {
    let file = file.unwrap_or_else(|| paths.config_file.clone());
    let origin = file.display().to_string();
    match Config::load(&file) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("warning: {}", format_issue(&origin, w));
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
                eprintln!("warning: {}", format_issue(&e.origin, w));
            }
            ExitCode::from(2)
        }
    }
}

/// `aigw config diff FILE`: what publishing FILE would change.
pub async fn diff(paths: &Paths, file: &Path) -> anyhow::Result<ExitCode> {
    let toml = read_file(file)?;
    let preview = match target(paths).await? {
        Target::Running { base, token, http } => {
            api(
                &base,
                &token,
                &http,
                reqwest::Method::POST,
                "/config/diff",
                Some(serde_json::json!({"toml": toml})),
            )
            .await?
            .1
        }
        Target::Offline(m) => serde_json::to_value(m.preview(&toml))?,
    };
    print!("{}", preview["unified"].as_str().unwrap_or_default());
    print_summary(&preview["summary"]);
    print_validation(&file.display().to_string(), &preview["validation"]);
    Ok(if preview["validation"]["valid"].as_bool() == Some(true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn offline_result(
    r: Result<Published, crate::lifecycle::LifecycleError>,
    origin: &str,
) -> anyhow::Result<ExitCode> {
    match r {
        Ok(p) => {
            print_published(&serde_json::to_value(p)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::lifecycle::LifecycleError::Invalid(v)) => {
            Ok(invalid(origin, &serde_json::json!({ "validation": v })))
        }
        Err(e) => Err(e.into()),
    }
}

fn online_result(status: u16, body: &Value, origin: &str) -> anyhow::Result<ExitCode> {
    match status {
        200 => {
            print_published(body);
            Ok(ExitCode::SUCCESS)
        }
        422 => Ok(invalid(origin, body)),
        _ => bail!(
            "gateway refused ({status}): {}",
            body["error"]["message"].as_str().unwrap_or("?")
        ),
    }
}

/// `aigw config publish FILE -m MSG`.
pub async fn publish(paths: &Paths, file: &Path, message: &str) -> anyhow::Result<ExitCode> {
    let toml = read_file(file)?;
    let origin = file.display().to_string();
    match target(paths).await? {
        Target::Running { base, token, http } => {
            let (status, v) = post_publish(&base, &token, &http, &toml, message).await?;
            online_result(status, &v, &origin)
        }
        Target::Offline(m) => offline_result(
            m.publish(&|_| {}, cli_change(&toml, message)).await,
            &origin,
        ),
    }
}

/// `POST /config/publish` of `toml` (source `cli`) to a running gateway.
async fn post_publish(
    base: &str,
    token: &str,
    http: &reqwest::Client,
    toml: &str,
    message: &str,
) -> anyhow::Result<(u16, Value)> {
    let body = serde_json::json!({ "toml": toml, "message": message, "source": "cli" });
    api(
        base,
        token,
        http,
        reqwest::Method::POST,
        "/config/publish",
        Some(body),
    )
    .await
}

/// A publish by the CLI, into the data dir.
fn cli_change<'a>(toml: &'a str, message: &'a str) -> Change<'a> {
    Change {
        toml,
        source: "cli",
        actor: "cli",
        message,
        base_version: None,
    }
}

/// Publishes `edit(live TOML)` (source `cli`): through the running
/// gateway's admin API when one serves this config, else into the data
/// dir — validated, versioned and audited either way.
pub(crate) async fn publish_edit(
    paths: &Paths,
    message: &str,
    edit: impl FnOnce(&str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    match target(paths).await? {
        Target::Running { base, token, http } => {
            let (status, live) =
                api(&base, &token, &http, reqwest::Method::GET, "/config", None).await?;
            if status != 200 {
                bail!("the gateway refused to show its config ({status})");
            }
            let toml = edit(live["version"]["toml"].as_str().unwrap_or_default())?;
            let (status, v) = post_publish(&base, &token, &http, &toml, message).await?;
            if status != 200 {
                bail!(
                    "the gateway refused the publish ({status}): {}",
                    v["error"]["message"].as_str().unwrap_or("?")
                );
            }
            Ok(())
        }
        Target::Offline(m) => {
            let toml = edit(m.live_version().toml.as_deref().unwrap_or_default())?;
            m.publish(&|_| {}, cli_change(&toml, message)).await?;
            Ok(())
        }
    }
}

/// `aigw config rollback VERSION -m MSG`.
pub async fn rollback(paths: &Paths, version: i64, message: &str) -> anyhow::Result<ExitCode> {
    match target(paths).await? {
        Target::Running { base, token, http } => {
            let body = serde_json::json!({ "version": version, "message": message });
            let (status, v) = api(
                &base,
                &token,
                &http,
                reqwest::Method::POST,
                "/config/rollback",
                Some(body),
            )
            .await?;
            online_result(status, &v, &format!("version {version}"))
        }
        Target::Offline(m) => offline_result(
            m.rollback(&|_| {}, version, "cli", message).await,
            &format!("version {version}"),
        ),
    }
}

/// `aigw config history`.
pub async fn history(paths: &Paths, limit: u32) -> anyhow::Result<ExitCode> {
    let (live, versions) = match target(paths).await? {
        Target::Running { base, token, http } => {
            let (_, v) = api(
                &base,
                &token,
                &http,
                reqwest::Method::GET,
                &format!("/config/history?limit={limit}"),
                None,
            )
            .await?;
            (v["live_version"].as_i64(), v["versions"].clone())
        }
        Target::Offline(m) => (
            Some(m.live_version().id),
            serde_json::to_value(m.store().history(limit, None)?)?,
        ),
    };
    for v in versions.as_array().into_iter().flatten() {
        let id = v["id"].as_i64().unwrap_or_default();
        let when = v["created_at_ms"]
            .as_i64()
            .map(format_ms)
            .unwrap_or_default();
        let mark = if Some(id) == live { "*" } else { " " };
        println!(
            "{mark}{id:>5}  {when}  {:<8} {:<14} {}",
            v["source"].as_str().unwrap_or(""),
            v["actor"].as_str().unwrap_or(""),
            v["message"].as_str().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `aigw config show [VERSION]`: the TOML of a version (default: live),
/// provider header values redacted.
pub async fn show(paths: &Paths, version: Option<i64>) -> anyhow::Result<ExitCode> {
    let v = match target(paths).await? {
        Target::Running { base, token, http } => {
            let path = match version {
                Some(id) => format!("/config/versions/{id}"),
                None => "/config".to_string(),
            };
            let (status, v) = api(&base, &token, &http, reqwest::Method::GET, &path, None).await?;
            if status != 200 {
                bail!("{}", v["error"]["message"].as_str().unwrap_or("not found"));
            }
            if version.is_some() {
                v
            } else {
                v["version"].clone()
            }
        }
        Target::Offline(m) => match version {
            Some(id) => serde_json::to_value(
                m.store()
                    .get(id)?
                    .with_context(|| format!("no config version {id}"))?,
            )?,
            None => serde_json::to_value(m.live_version())?,
        },
    };
    // Header values may be credentials as written: never on a terminal.
    let toml = crate::lifecycle::redact::header_values(v["toml"].as_str().unwrap_or_default());
    print!("{toml}");
    Ok(ExitCode::SUCCESS)
}

/// `YYYY-MM-DD HH:MM:SS` UTC, without a date crate.
pub fn format_ms(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    httpdate::fmt_http_date(t)
}
