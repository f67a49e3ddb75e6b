//! `aigw keys client create|list|revoke|rotate`: virtual client keys,
//! through the running gateway's admin API (so it sees the change at once),
//! or straight on the data dir's store when no gateway runs (in team mode,
//! `[cluster] postgres_url` in the config file: on the shared store in
//! PostgreSQL, which every replica hears of). A secret is printed once,
//! when made or rotated.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::Paths;
use crate::vkeys::{NewKey, Period, SqliteBackend, VirtualKeys};

/// What `aigw keys client …` was asked.
#[derive(Debug, Clone)]
pub enum ClientKeyCmd {
    Create(CreateArgs),
    List { json: bool },
    Revoke { id: String },
    Rotate { id: String, grace_s: u64 },
}

#[derive(Debug, Clone, Default)]
pub struct CreateArgs {
    pub name: String,
    pub team: Option<String>,
    /// Comma-separated patterns: `gpt-5*,claude-*`.
    pub models: Option<String>,
    pub rpm: u32,
    pub tpm: u32,
    pub budget_usd: Option<f64>,
    pub period: Option<String>,
    /// `30d`, `12h`… (humantime).
    pub expires: Option<String>,
    /// `k=v`, repeated.
    pub tags: Vec<String>,
}

impl CreateArgs {
    fn to_new_key(&self) -> anyhow::Result<NewKey> {
        let period = match &self.period {
            Some(p) => Some(
                Period::parse(p)
                    .with_context(|| format!("--period {p:?}: daily, weekly or monthly"))?,
            ),
            None => None,
        };
        let expires_in_s = match &self.expires {
            Some(e) => Some(
                humantime::parse_duration(e)
                    .with_context(|| format!("--expires {e:?}: a duration such as 30d or 12h"))?
                    .as_secs(),
            ),
            None => None,
        };
        let mut tags = BTreeMap::new();
        for t in &self.tags {
            let (k, v) = t
                .split_once('=')
                .with_context(|| format!("--tag {t:?}: KEY=VALUE"))?;
            tags.insert(k.to_string(), v.to_string());
        }
        Ok(NewKey {
            name: self.name.clone(),
            team: self.team.clone(),
            models: self
                .models
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
            rpm: self.rpm,
            tpm: self.tpm,
            budget_usd: self.budget_usd,
            period,
            expires_in_s,
            tags,
        })
    }
}

/// Runs the command against the running gateway, else on the data dir.
pub async fn client_keys(paths: &Paths, cmd: ClientKeyCmd) -> anyhow::Result<ExitCode> {
    let out = match super::status::running(paths).await? {
        Some(gw) => {
            let token = gw.token.clone().with_context(|| {
                format!(
                    "a gateway runs on {} but this data dir has no admin token",
                    gw.listen
                )
            })?;
            remote(&gw.http, &gw.base, &token, &cmd).await?
        }
        None => {
            let paths = paths.clone();
            let cmd2 = cmd.clone();
            tokio::task::spawn_blocking(move || local(&paths, &cmd2)).await??
        }
    };
    print(&cmd, &out);
    Ok(ExitCode::SUCCESS)
}

async fn remote(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    cmd: &ClientKeyCmd,
) -> anyhow::Result<Value> {
    let url = |p: &str| format!("{base}/admin/api/keys/client{p}");
    let rb = match cmd {
        ClientKeyCmd::Create(a) => http.post(url("")).json(&new_key_json(&a.to_new_key()?)),
        ClientKeyCmd::List { .. } => http.get(url("")),
        ClientKeyCmd::Revoke { id } => http.post(url(&format!("/{id}/revoke"))).json(&json!({})),
        ClientKeyCmd::Rotate { id, grace_s } => http
            .post(url(&format!("/{id}/rotate")))
            .json(&json!({ "grace_s": grace_s })),
    };
    let r = rb.bearer_auth(token).send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "{}",
            v["error"]["message"]
                .as_str()
                .map_or_else(|| format!("the gateway answered {status}"), str::to_string)
        );
    }
    Ok(v)
}

fn new_key_json(k: &NewKey) -> Value {
    json!({
        "name": k.name,
        "team": k.team,
        "models": k.models,
        "rpm": k.rpm,
        "tpm": k.tpm,
        "budget_usd": k.budget_usd,
        "period": k.period.map(Period::as_str),
        "expires_in_s": k.expires_in_s,
        "tags": k.tags,
    })
}

fn local(paths: &Paths, cmd: &ClientKeyCmd) -> anyhow::Result<Value> {
    crate::store::perms::private_dir(&paths.data_dir)?;
    let db = paths.data_dir.join(crate::store::CONFIG_DB);
    // The store first: it makes (or migrates) config.db.
    let store = crate::store::ConfigStore::open(&db)?;
    let backend: Arc<dyn crate::vkeys::KeyBackend> = match postgres_url(paths)? {
        Some(url) => {
            let pg = crate::cluster::pg::Pg::open(&url)
                .map_err(|e| anyhow::anyhow!("[cluster] postgres_url: {e}"))?;
            Arc::new(crate::vkeys::pg::PgKeyBackend::new(Arc::new(pg)))
        }
        None => Arc::new(SqliteBackend::new(store.shared_conn())),
    };
    let keys = VirtualKeys::load(backend)?;
    let audit = |action: &str, k: &crate::vkeys::KeyInfo| {
        let detail = json!({"id": k.id, "name": k.name, "team": k.team, "prefix": k.prefix});
        store.audit("cli", action, None, &detail)
    };
    Ok(match cmd {
        ClientKeyCmd::Create(a) => {
            let issued = keys.create(a.to_new_key()?)?;
            audit("virtual_key_create", &issued.key)?;
            serde_json::to_value(issued)?
        }
        ClientKeyCmd::List { .. } => json!({ "keys": keys.list() }),
        ClientKeyCmd::Revoke { id } => {
            let info = keys.revoke(id)?;
            audit("virtual_key_revoke", &info)?;
            serde_json::to_value(info)?
        }
        ClientKeyCmd::Rotate { id, grace_s } => {
            let issued = keys.rotate(id, Duration::from_secs(*grace_s))?;
            audit("virtual_key_rotate", &issued.key)?;
            serde_json::to_value(issued)?
        }
    })
}

/// Team mode: the config file's `[cluster] postgres_url` (a config file
/// that does not load is an error, not a silent fall-back to the local store).
fn postgres_url(paths: &Paths) -> anyhow::Result<Option<crate::config::EngineUrl>> {
    if !paths.config_file.exists() {
        return Ok(None);
    }
    let config =
        crate::config::Config::load(&paths.config_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(config.cluster.postgres_url.clone())
}

#[allow(clippy::print_stdout)]
fn print(cmd: &ClientKeyCmd, v: &Value) {
    match cmd {
        ClientKeyCmd::Create(_) | ClientKeyCmd::Rotate { .. } => {
            println!("id:     {}", v["key"]["id"].as_str().unwrap_or(""));
            println!("name:   {}", v["key"]["name"].as_str().unwrap_or(""));
            println!("secret: {}", v["secret"].as_str().unwrap_or(""));
            println!("(the secret is shown this once; only its hash is kept)");
        }
        ClientKeyCmd::Revoke { id } => println!("revoked {id}"),
        ClientKeyCmd::List { json: true } => println!("{v:#}"),
        ClientKeyCmd::List { json: false } => {
            println!("ID\tNAME\tTEAM\tSTATUS\tPREFIX\tSPENT_USD\tBUDGET_USD\tRESETS");
            for k in v["keys"].as_array().into_iter().flatten() {
                let budget = k["budget_usd"].as_f64().map_or_else(
                    || "-".to_string(),
                    |b| format!("{b:.2}/{}", k["period"].as_str().unwrap_or("")),
                );
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{:.4}\t{}\t{}",
                    k["id"].as_str().unwrap_or(""),
                    k["name"].as_str().unwrap_or(""),
                    k["team"].as_str().unwrap_or("-"),
                    k["status"].as_str().unwrap_or(""),
                    k["prefix"].as_str().unwrap_or(""),
                    k["spent_usd"].as_f64().unwrap_or(0.0),
                    budget,
                    k["resets_at_ms"]
                        .as_i64()
                        .map(crate::vkeys::period::rfc3339)
                        .unwrap_or_default(),
                );
            }
        }
    }
}
