//! `aigw probe` and `aigw doctor`: diagnostics that work whether or not a
//! gateway is running.

use std::process::ExitCode;
use std::time::Duration;

use crate::config::{Config, Paths, format_issue};
use crate::routing::health::HealthRegistry;
use crate::routing::{ProbeReport, Runtime, detect_local, probe_provider};

fn report_line(r: &ProbeReport) -> String {
    let state = if !r.reachable {
        "UNREACHABLE"
    } else if r.auth_ok == Some(false) {
        "AUTH FAILED"
    } else if r.error.is_some() {
        "ERROR"
    } else {
        "ok"
    };
    let latency = r
        .latency_ms
        .map(|l| format!("{l:.0} ms"))
        .unwrap_or_else(|| "-".into());
    let models = match r.models.len() {
        0 => String::new(),
        n => {
            let head: Vec<&str> = r.models.iter().take(4).map(String::as_str).collect();
            format!(
                " models({n}): {}{}",
                head.join(", "),
                if n > 4 { ", …" } else { "" }
            )
        }
    };
    let err = r
        .error
        .as_deref()
        .map(|e| format!(" — {e}"))
        .unwrap_or_default();
    format!(
        "{:<16} {:<12} key:{:<8} {:>8}  {}{models}{err}",
        r.provider, state, r.key, latency, r.base_url
    )
}

async fn probe_all(config: Config) -> anyhow::Result<Vec<ProbeReport>> {
    let client = crate::server::http_client()?;
    let rt = Runtime::build(config, &HealthRegistry::default(), 0);
    Ok(
        futures_util::future::join_all(rt.providers.iter().map(|p| probe_provider(&client, p)))
            .await,
    )
}

/// `aigw probe`: each provider's reachability, auth, latency and models.
pub async fn probe(paths: &Paths) -> anyhow::Result<ExitCode> {
    let config = Config::load(&paths.config_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    if config.providers.is_empty() {
        println!("no providers configured in {}", paths.config_file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let reports = probe_all(config).await?;
    let mut bad = false;
    for r in &reports {
        println!("{}", report_line(r));
        bad |= !r.reachable || r.auth_ok == Some(false) || r.error.is_some();
    }
    Ok(if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `aigw doctor`: config, data dir, keychain, port, providers, local servers.
pub async fn doctor(paths: &Paths) -> anyhow::Result<ExitCode> {
    let mut failures = 0;
    let mut check = |ok: bool, what: String| {
        println!("{} {what}", if ok { "✓" } else { "✗" });
        if !ok {
            failures += 1;
        }
    };
    let origin = paths.config_file.display().to_string();
    let config = match Config::load(&paths.config_file) {
        Ok(c) => {
            check(
                true,
                format!(
                    "config {origin} is valid ({} providers, {} routes)",
                    c.providers.len(),
                    c.routes.len()
                ),
            );
            for w in &c.warnings {
                println!("  warning: {}", format_issue(&origin, w));
            }
            Some(c)
        }
        Err(e) => {
            check(false, format!("{e}"));
            None
        }
    };
    let probe_file = paths.data_dir.join(".doctor-write-test");
    let writable = crate::store::perms::private_dir(&paths.data_dir)
        .and_then(|()| std::fs::write(&probe_file, b"ok"))
        .is_ok();
    let _ = std::fs::remove_file(&probe_file);
    check(
        writable,
        format!("data dir {} is writable", paths.data_dir.display()),
    );
    let keychain = tokio::task::spawn_blocking(|| {
        match keyring::Entry::new(crate::secrets::KEYRING_SERVICE, "aigw-doctor-probe")
            .map(|e| e.get_password())
        {
            Ok(Ok(_)) | Ok(Err(keyring::Error::NoEntry)) => Ok(()),
            Ok(Err(e)) | Err(e) => Err(e.to_string()),
        }
    })
    .await?;
    match keychain {
        Ok(()) => check(true, "OS keychain is reachable".into()),
        Err(e) => check(
            false,
            format!("OS keychain unavailable ({e}); use env: key refs or start a Secret Service"),
        ),
    }
    if let Some(c) = &config {
        let addr = c.server.listen;
        let http = reqwest::Client::new();
        let running = tokio::time::timeout(
            Duration::from_millis(800),
            http.get(format!("http://{addr}/healthz")).send(),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .is_some_and(|r| r.status().is_success());
        if running {
            check(true, format!("a gateway answers on http://{addr}"));
        } else {
            match std::net::TcpListener::bind(addr) {
                Ok(_) => check(true, format!("{addr} is free (no gateway running)")),
                Err(e) => check(false, format!("{addr} is taken by something else: {e}")),
            }
        }
        if !addr.ip().is_loopback() && c.server.client_keys.is_empty() {
            check(
                false,
                format!(
                    "listening on {addr} beyond loopback without client_keys: anyone on the network can spend your credit"
                ),
            );
        }
        for r in probe_all(c.clone()).await? {
            let ok = r.reachable && r.auth_ok != Some(false) && r.error.is_none();
            check(ok, format!("provider {}", report_line(&r)));
        }
    }
    let client = crate::server::http_client()?;
    let local = detect_local(&client).await;
    if local.is_empty() {
        println!("· no local Ollama (11434) or LM Studio (1234) found");
    }
    for s in local {
        let known = config.as_ref().is_some_and(|c| {
            c.providers
                .iter()
                .any(|p| p.base_url.as_str().starts_with(s.base_url))
        });
        println!(
            "· local {} at {} with {} model(s){}",
            s.name,
            s.base_url,
            s.models.len(),
            if known {
                " (configured)"
            } else {
                " — add it as a keyless provider (kind = \"openai\")"
            }
        );
    }
    if failures == 0 {
        println!("all checks passed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{failures} check(s) failed");
        Ok(ExitCode::FAILURE)
    }
}
