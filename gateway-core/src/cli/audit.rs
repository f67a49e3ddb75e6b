//! `aigw audit list` and `aigw audit verify`: read `config.db` in the data
//! dir directly (a running gateway keeps writing meanwhile; SQLite's WAL
//! lets both).

use std::process::ExitCode;

use crate::config::Paths;
use crate::store::{CONFIG_DB, ConfigStore};

fn open(paths: &Paths) -> anyhow::Result<ConfigStore> {
    // Team mode: the audit log is the cluster's, in PostgreSQL.
    if let Ok(config) = crate::config::Config::load(&paths.config_file)
        && let Some(url) = &config.cluster.postgres_url
    {
        let pg = std::sync::Arc::new(crate::cluster::pg::Pg::open(url)?);
        let remote = crate::store::pg::PgConfigStore::new(pg, "cli".into())?;
        return Ok(ConfigStore::open_in_memory()?.with_remote(std::sync::Arc::new(remote)));
    }
    let path = paths.data_dir.join(CONFIG_DB);
    if !path.exists() {
        anyhow::bail!(
            "no config store at {} (it is created when `aigw serve` first runs)",
            path.display()
        );
    }
    Ok(ConfigStore::open(&path)?)
}

/// `aigw audit list [--limit N]`: newest first, one row a line.
pub fn list(paths: &Paths, limit: u32) -> anyhow::Result<ExitCode> {
    let store = open(paths)?;
    for e in store.audit_log(limit.min(10_000), None)? {
        println!(
            "{}\t#{}\t{}\t{}\t{}{}",
            super::format_ms(e.at_ms),
            e.id,
            e.actor,
            e.peer.as_deref().unwrap_or("-"),
            e.action,
            e.version_id.map(|v| format!("\tv{v}")).unwrap_or_default(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `aigw audit verify`: exit 0 when the chain holds, 1 naming the first
/// broken row.
pub fn verify(paths: &Paths) -> anyhow::Result<ExitCode> {
    let store = open(paths)?;
    let v = store.verify_audit()?;
    let from = v
        .anchor
        .map(|a| format!(" (from the anchor after pruned row {a})"))
        .unwrap_or_default();
    match v.broken {
        None => {
            println!("audit chain ok: {} rows verified{from}", v.rows);
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            println!(
                "audit chain BROKEN at row {}: {} ({} rows checked{from})",
                b.id, b.reason, v.rows
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
