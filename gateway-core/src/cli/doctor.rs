//! `aigw probe` and `aigw doctor`: diagnostics that work whether or not a
//! gateway is running.

use std::process::ExitCode;

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
    let (report, failures) = doctor_report(paths).await?;
    print!("{report}");
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What `aigw doctor` prints, and how many checks failed (also for the
/// diagnostics bundle).
pub async fn doctor_report(paths: &Paths) -> anyhow::Result<(String, usize)> {
    let mut r = Report::default();
    let origin = paths.config_file.display().to_string();
    let config = match Config::load(&paths.config_file) {
        Ok(c) => {
            r.check(
                true,
                format!(
                    "config {origin} is valid ({} providers, {} routes)",
                    c.providers.len(),
                    c.routes.len()
                ),
            );
            for w in &c.warnings {
                r.note(format!("  warning: {}", format_issue(&origin, w)));
            }
            Some(c)
        }
        Err(e) => {
            r.check(false, format!("{e}"));
            None
        }
    };
    let probe_file = paths.data_dir.join(".doctor-write-test");
    let writable = crate::store::perms::private_dir(&paths.data_dir)
        .and_then(|()| std::fs::write(&probe_file, b"ok"))
        .is_ok();
    let _ = std::fs::remove_file(&probe_file);
    r.check(
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
        Ok(()) => r.check(true, "OS keychain is reachable".into()),
        Err(e) => r.check(
            false,
            format!("OS keychain unavailable ({e}); use env: key refs or start a Secret Service"),
        ),
    }
    if let Some(c) = &config {
        let addr = c.server.listen;
        let http = super::status::local_client()?;
        let running = super::status::answers(&http, &format!("http://{addr}")).await;
        if running {
            r.check(true, format!("a gateway answers on http://{addr}"));
        } else {
            match std::net::TcpListener::bind(addr) {
                Ok(_) => r.check(true, format!("{addr} is free (no gateway running)")),
                Err(e) => r.check(false, format!("{addr} is taken by something else: {e}")),
            }
        }
        if !addr.ip().is_loopback() && c.server.client_keys.is_empty() {
            r.check(
                false,
                format!(
                    "listening on {addr} beyond loopback without client_keys: anyone on the network can spend your credit"
                ),
            );
        }
        for p in probe_all(c.clone()).await? {
            let ok = p.reachable && p.auth_ok != Some(false) && p.error.is_none();
            r.check(ok, format!("provider {}", report_line(&p)));
        }
    }
    let client = crate::server::http_client()?;
    let local = detect_local(&client).await;
    if local.is_empty() {
        r.note("· no local Ollama (11434) or LM Studio (1234) found".into());
    }
    for s in local {
        let known = config.as_ref().is_some_and(|c| {
            c.providers
                .iter()
                .any(|p| p.base_url.as_str().starts_with(s.base_url))
        });
        r.note(format!(
            "· local {} at {} with {} model(s){}",
            s.name,
            s.base_url,
            s.models.len(),
            if known {
                " (configured)"
            } else {
                " — add it as a keyless provider (kind = \"openai\")"
            }
        ));
    }
    if r.failures == 0 {
        r.note("all checks passed".into());
    } else {
        let n = r.failures;
        r.note(format!("{n} check(s) failed"));
    }
    let mut text = r.lines.join("\n");
    text.push('\n');
    Ok((text, r.failures))
}

#[derive(Default)]
struct Report {
    lines: Vec<String>,
    failures: usize,
}

impl Report {
    fn check(&mut self, ok: bool, what: String) {
        self.lines
            .push(format!("{} {what}", if ok { "✓" } else { "✗" }));
        if !ok {
            self.failures += 1;
        }
    }

    fn note(&mut self, line: String) {
        self.lines.push(line);
    }
}
