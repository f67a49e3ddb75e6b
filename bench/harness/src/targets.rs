//! The gateways under test and how each is started, configured, checked for
//! health and addressed. Every one forwards to the same mock upstream on
//! 127.0.0.1 and listens on 127.0.0.1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use http::{HeaderName, HeaderValue};
use tokio::process::Command;

use crate::client::Endpoint;

/// LiteLLM refuses to start without a strong master key; clients send it.
const LITELLM_MASTER_KEY: &str = "sk-aigwbench-7c1e4a9b2d6f8e0a5c3b1d9f7e2a4c6b8d0f1e3a";

/// The models the scenarios use (the mock reads its behaviour from the name).
pub const MODELS: &[&str] = &[
    crate::scenario::M_C1,
    crate::scenario::M_C64,
    crate::scenario::M_TTFT,
    crate::scenario::M_STREAMS,
    crate::scenario::M_HELD,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway {
    Aigw,
    /// Another aigw binary (`--aigw-before`), e.g. the build before an
    /// optimisation, measured in the same run.
    AigwBefore,
    Litellm,
    Portkey,
}

impl Gateway {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "aigw" => Self::Aigw,
            "aigw-before" => Self::AigwBefore,
            "litellm" => Self::Litellm,
            "portkey" => Self::Portkey,
            other => {
                anyhow::bail!("unknown gateway {other:?} (aigw, aigw-before, litellm, portkey)")
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Aigw => "aigw",
            Self::AigwBefore => "aigw-before",
            Self::Litellm => "litellm",
            Self::Portkey => "portkey",
        }
    }

    /// The health endpoint polled for cold start.
    pub fn health_path(self) -> &'static str {
        match self {
            Self::Aigw | Self::AigwBefore => "/healthz",
            Self::Litellm => "/health/liveliness",
            // Portkey's root route answers "AI Gateway says hey!".
            Self::Portkey => "/",
        }
    }

    /// Headers every request through this gateway carries.
    pub fn endpoint(self, port: u16, mock: SocketAddr) -> anyhow::Result<Endpoint> {
        let mut headers = Vec::new();
        if self == Self::Litellm {
            headers.push((
                http::header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {LITELLM_MASTER_KEY}"))?,
            ));
        }
        if self == Self::Portkey {
            headers.push((
                HeaderName::from_static("x-portkey-provider"),
                HeaderValue::from_static("openai"),
            ));
            headers.push((
                HeaderName::from_static("x-portkey-custom-host"),
                HeaderValue::from_str(&format!("http://{mock}/v1"))?,
            ));
        }
        Ok(Endpoint {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            path: "/v1/chat/completions".into(),
            headers,
            wire: crate::client::Wire::Chat,
        })
    }
}

/// Where the binaries and peer installs are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub aigw: PathBuf,
    pub aigw_before: Option<PathBuf>,
    /// `bench/` (holds `.venv` and `node_modules`).
    pub bench: PathBuf,
}

impl Paths {
    pub fn litellm(&self) -> PathBuf {
        self.bench.join(".venv/bin/litellm")
    }

    pub fn portkey(&self) -> PathBuf {
        self.bench
            .join("node_modules/@portkey-ai/gateway/build/start-server.js")
    }
}

/// The command that starts `gw` on `port` (a fresh scratch dir per start).
pub fn command(
    gw: Gateway,
    paths: &Paths,
    port: u16,
    mock: SocketAddr,
    scratch: &Path,
) -> anyhow::Result<Command> {
    std::fs::create_dir_all(scratch)?;
    Ok(match gw {
        Gateway::Aigw | Gateway::AigwBefore => {
            let bin = if gw == Gateway::AigwBefore {
                paths
                    .aigw_before
                    .clone()
                    .context("aigw-before needs --aigw-before PATH")?
            } else {
                paths.aigw.clone()
            };
            // The default cap (512 connections, each over it answered 503)
            // would refuse the larger bursts; the bench measures them.
            let mut toml = format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\nmax_connections = 10000\n\n\
                 [[providers]]\nname = \"mock\"\nkind = \"openai\"\nbase_url = \"http://{mock}/v1\"\n"
            );
            for m in MODELS {
                toml.push_str(&format!(
                    "\n[[routes]]\nmodel = \"{m}\"\n[[routes.targets]]\nprovider = \"mock\"\n"
                ));
            }
            toml.push_str(&crate::translated::aigw_config(mock));
            let cfg = scratch.join("aigw.toml");
            std::fs::write(&cfg, toml)?;
            let mut c = Command::new(bin);
            c.arg("serve")
                .arg("--config")
                .arg(&cfg)
                .arg("--data-dir")
                .arg(scratch.join("data"))
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .env(crate::translated::ANTHROPIC_KEY_ENV, "bench-anthropic-key")
                // No keychain in the benchmark: the admin token goes to a file.
                .env_remove("DBUS_SESSION_BUS_ADDRESS");
            c
        }
        Gateway::Litellm => {
            let mut yaml = String::from("model_list:\n");
            for m in MODELS {
                yaml.push_str(&format!(
                    "  - model_name: \"{m}\"\n    litellm_params:\n      model: \"openai/{m}\"\n      api_base: \"http://{mock}/v1\"\n      api_key: \"sk-bench\"\n"
                ));
            }
            yaml.push_str("litellm_settings:\n  drop_params: true\n");
            yaml.push_str(&format!(
                "general_settings:\n  master_key: \"{LITELLM_MASTER_KEY}\"\n"
            ));
            let cfg = scratch.join("litellm.yaml");
            std::fs::write(&cfg, yaml)?;
            let exe = paths.litellm();
            anyhow::ensure!(
                exe.exists(),
                "{} missing: run bash bench/setup-peers.sh",
                exe.display()
            );
            let mut c = Command::new(exe);
            c.arg("--config")
                .arg(&cfg)
                .arg("--host")
                .arg("127.0.0.1")
                .arg("--port")
                .arg(port.to_string())
                .arg("--num_workers")
                .arg("1")
                // Offline and quiet: the bundled cost map, no telemetry.
                .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
                .env("LITELLM_TELEMETRY", "False")
                .env("LITELLM_LOG", "ERROR")
                .env("HOME", scratch)
                .current_dir(scratch);
            c
        }
        Gateway::Portkey => {
            let js = paths.portkey();
            anyhow::ensure!(
                js.exists(),
                "{} missing: run bash bench/setup-peers.sh",
                js.display()
            );
            let mut c = Command::new("node");
            c.arg(js)
                .arg(format!("--port={port}"))
                .arg("--headless")
                .env("NODE_ENV", "production")
                .current_dir(scratch);
            c
        }
    })
}

/// A gateway's version, read from its install (no code of it is run).
pub fn version(gw: Gateway, paths: &Paths) -> String {
    match gw {
        Gateway::Aigw | Gateway::AigwBefore => {
            let bin = match gw {
                Gateway::AigwBefore => paths.aigw_before.clone().unwrap_or_default(),
                _ => paths.aigw.clone(),
            };
            std::process::Command::new(&bin)
                .arg("--version")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map_or_else(
                    || "?".into(),
                    |s| format!("{} ({})", s.trim(), bin.display()),
                )
        }
        Gateway::Litellm => find_dist_info(&paths.bench.join(".venv/lib"), "litellm-")
            .unwrap_or_else(|| "not installed".into()),
        Gateway::Portkey => std::fs::read_to_string(
            paths
                .bench
                .join("node_modules/@portkey-ai/gateway/package.json"),
        )
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| {
            v["version"]
                .as_str()
                .map(|v| format!("@portkey-ai/gateway {v}"))
        })
        .unwrap_or_else(|| "not installed".into()),
    }
}

/// `litellm-1.2.3.dist-info` under `lib/python3.X/site-packages`.
fn find_dist_info(lib: &Path, prefix: &str) -> Option<String> {
    for py in std::fs::read_dir(lib).ok()?.flatten() {
        let sp = py.path().join("site-packages");
        for e in std::fs::read_dir(&sp).ok()?.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if let Some(v) = n
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".dist-info"))
                && v.starts_with(|c: char| c.is_ascii_digit())
            {
                return Some(format!("litellm {v}"));
            }
        }
    }
    None
}

/// `what --version`'s first line, for the machine description.
pub fn tool_version(what: &str, arg: &str) -> String {
    std::process::Command::new(what)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).to_string();
            if s.trim().is_empty() {
                s = String::from_utf8_lossy(&o.stderr).to_string();
            }
            s.lines().next().unwrap_or("").trim().to_string()
        })
        .filter(|s| !s.is_empty())
        .with_context(|| format!("{what} not found"))
        .unwrap_or_else(|e| e.to_string())
}
