//! `aigw diagnose --out FILE`: the diagnostics bundle
//! ([`crate::diagnostics`]) of this installation, with the running
//! gateway's status when one serves it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::config::Paths;
use crate::diagnostics::{Inputs, bundle};

pub async fn diagnose(paths: &Paths, out: &Path) -> anyhow::Result<ExitCode> {
    let status = match super::status::running(paths).await {
        Ok(Some(gw)) => gw.report().await,
        Ok(None) => json!({
            "running": false,
            "listen": super::status::listen_addr(paths).ok().map(|a| a.to_string()),
        }),
        Err(e) => json!({ "running": false, "error": e.to_string() }),
    };
    let doctor = match super::doctor_report(paths).await {
        Ok((text, _)) => text,
        Err(e) => format!("doctor failed: {e}\n"),
    };
    let db = paths.data_dir.join(crate::store::CONFIG_DB);
    let data_dir = paths.data_dir.clone();
    let config_file = paths.config_file.clone();
    let archive = tokio::task::spawn_blocking(move || {
        let live_toml = db
            .is_file()
            .then(|| crate::store::ConfigStore::open(&db).ok()?.latest().ok()?)
            .flatten()
            .and_then(|v| v.toml);
        bundle(&Inputs {
            status,
            config_file: Some(config_file),
            data_dir: Some(data_dir),
            live_toml,
            doctor,
            extra_secrets: Vec::new(),
        })
    })
    .await??;
    crate::store::perms::private_file(out)
        .and_then(|()| std::fs::write(out, &archive))
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} ({} bytes): secrets are redacted, but read it before you share it",
        out.display(),
        archive.len()
    );
    Ok(ExitCode::SUCCESS)
}
