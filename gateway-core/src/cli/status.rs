//! `aigw status`: whether a gateway serves this config and how it is —
//! version, config version (and a rejected config file), providers'
//! health, listen address, UI URL. Exit status 0 when it runs, 3 when
//! nothing answers (like `systemctl status`), 1 on other errors.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::Paths;
use crate::secrets::admin::AdminTokens;

/// The exit status of `aigw status` when no gateway answers.
pub const NOT_RUNNING: u8 = 3;

/// A gateway answering on the configured address.
pub(crate) struct Running {
    pub base: String,
    pub listen: SocketAddr,
    pub http: reqwest::Client,
    /// The admin token of this data dir, when one is stored.
    pub token: Option<String>,
}

/// The address the CLI looks for a gateway on: `AIGW_LISTEN`, else the
/// config's `server.listen` (the file's, or the last committed version's
/// when the file is invalid).
pub(crate) fn listen_addr(paths: &Paths) -> anyhow::Result<SocketAddr> {
    if let Some(a) = listen_env() {
        return Ok(a);
    }
    match crate::lifecycle::load_for_start(&paths.config_file, &paths.data_dir) {
        Ok(s) => Ok(s.config.server.listen),
        // No config file yet: the default config's address.
        Err(_) if !paths.config_file.exists() => Ok(crate::config::Config::parse("", "default")
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .server
            .listen),
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

/// `AIGW_LISTEN`, when set to an address.
pub(crate) fn listen_env() -> Option<SocketAddr> {
    std::env::var("AIGW_LISTEN")
        .ok()
        .and_then(|l| crate::config::parse_listen(&l))
}

/// The HTTP client the CLI calls a local gateway with: 30 s a call,
/// never through a proxy.
pub(crate) fn local_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
}

/// Whether `base` answers `/healthz` with a 2xx within 800 ms.
pub(crate) async fn answers(http: &reqwest::Client, base: &str) -> bool {
    tokio::time::timeout(
        Duration::from_millis(800),
        http.get(format!("{base}/healthz")).send(),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .is_some_and(|r| r.status().is_success())
}

/// The gateway answering `/healthz` on [`listen_addr`], if any.
pub(crate) async fn running(paths: &Paths) -> anyhow::Result<Option<Running>> {
    running_on(paths, listen_addr(paths)?).await
}

/// The gateway answering `/healthz` on `listen`, if any, with this data
/// dir's admin token.
pub(crate) async fn running_on(
    paths: &Paths,
    listen: SocketAddr,
) -> anyhow::Result<Option<Running>> {
    let base = format!("http://{listen}");
    let http = local_client()?;
    if !answers(&http, &base).await {
        return Ok(None);
    }
    let token = AdminTokens::read_existing(&paths.data_dir).map(|t| t.admin.expose().to_string());
    Ok(Some(Running {
        base,
        listen,
        http,
        token,
    }))
}

impl Running {
    /// `GET /admin/api{path}` with the admin token; `None` without one or
    /// when it is refused.
    pub(crate) async fn admin_get(&self, path: &str) -> Option<Value> {
        let token = self.token.as_deref()?;
        let r = self
            .http
            .get(format!("{}/admin/api{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// `/ready?detail=true` (answered on loopback without a token).
    pub(crate) async fn ready(&self) -> (u16, Value) {
        let mut rb = self.http.get(format!("{}/ready?detail=true", self.base));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        match rb.send().await {
            Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
            Err(e) => (0, json!({ "error": e.to_string() })),
        }
    }

    /// What `aigw status --json` prints for a running gateway.
    pub(crate) async fn report(&self) -> Value {
        let (ready_code, ready) = self.ready().await;
        let status = self.admin_get("/status").await;
        json!({
            "running": true,
            "listen": self.listen.to_string(),
            "endpoint": format!("{}/v1", self.base),
            "ui": format!("{}/ui", self.base),
            "ready": ready_code == 200,
            "health": ready,
            "status": status,
        })
    }
}

/// `aigw status [--json]`.
pub async fn status(paths: &Paths, as_json: bool) -> anyhow::Result<ExitCode> {
    let Some(gw) = running(paths).await? else {
        let listen = listen_addr(paths)?;
        if as_json {
            println!(
                "{}",
                json!({ "running": false, "listen": listen.to_string() })
            );
        } else {
            println!("aigw is not running (nothing answers on http://{listen})");
        }
        return Ok(ExitCode::from(NOT_RUNNING));
    };
    let report = gw.report().await;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let h = &report["health"];
    let st = &report["status"];
    println!("aigw is running on http://{}", gw.listen);
    println!("  version:        {}", h["version"].as_str().unwrap_or("?"));
    println!("  config version: {}", h["config_version"]);
    if let Some(p) = st["config_path"].as_str() {
        println!("  config file:    {p}");
    }
    if let Some(e) = h["config_file_error"].as_str() {
        println!("  CONFIG FILE INVALID (serving the last good version): {e}");
    }
    if st["paused"] == true {
        println!("  PAUSED: client requests are refused");
    }
    println!(
        "  endpoint:       {}",
        report["endpoint"].as_str().unwrap_or("")
    );
    println!("  UI:             {}", report["ui"].as_str().unwrap_or(""));
    let ready = if report["ready"] == true {
        "ready".to_string()
    } else {
        format!("NOT READY: {}", h["reason"].as_str().unwrap_or("?"))
    };
    println!("  readiness:      {ready}");
    let providers = h["providers"].as_array().cloned().unwrap_or_default();
    if providers.is_empty() {
        println!("  providers:      none configured");
    }
    for p in providers {
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        let open = targets.iter().filter(|t| t["open"] == true).count();
        println!(
            "  provider {:<16} {:<9} key:{:<8} {} target(s){}",
            p["name"].as_str().unwrap_or("?"),
            if p["usable"] == true {
                "usable"
            } else {
                "UNUSABLE"
            },
            p["key"].as_str().unwrap_or("?"),
            targets.len(),
            if open > 0 {
                format!(", {open} with an open circuit")
            } else {
                String::new()
            }
        );
    }
    if st.is_null() {
        println!("  (no admin token for this data dir: uptime and pause state not shown)");
    } else {
        println!("  uptime:         {} s", st["uptime_s"]);
    }
    Ok(ExitCode::SUCCESS)
}
