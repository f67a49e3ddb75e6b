//! `aigw backup --out FILE [--telemetry]` and `aigw restore FILE`.
//!
//! A backup is one `.tar.gz` under `aigw-backup/`: `manifest.json` (aigw
//! version, schema versions, counts, key *names* — never values),
//! `config.db` (config versions and the audit log) and, with `--telemetry`,
//! `telemetry.db` (the request log). The databases are consistent copies
//! (`VACUUM INTO`) taken while a gateway may be running. Keys stay in the
//! OS keychain: they are not in backups.
//!
//! Restore refuses while a gateway serves this installation, refuses a
//! database whose schema is newer than this binary's, and reads only the
//! three known entries. The files it replaces stay beside the new ones as
//! `*.before-restore`; the config file is rewritten from the restored live
//! version, and the restore is audited.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::Paths;
use crate::store::{CONFIG_DB, ConfigStore};

const ROOT: &str = "aigw-backup";
const TELEMETRY_DB: &str = "telemetry.db";
/// The largest manifest restore reads.
pub const MAX_MANIFEST: u64 = 1 << 20;

fn user_version(path: &Path) -> anyhow::Result<i64> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// A consistent copy of the SQLite database `src` at `dest`.
fn vacuum_into(src: &Path, dest: &Path) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open(src)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute("VACUUM INTO ?1", [dest.to_string_lossy()])?;
    Ok(())
}

/// Key names this installation uses: set through aigw, or referenced.
fn key_names(paths: &Paths) -> Value {
    let mut keyring = crate::secrets::KeyIndex::new(&paths.data_dir).names();
    let mut env = Vec::new();
    if let Ok(s) = crate::lifecycle::load_for_start(&paths.config_file, &paths.data_dir) {
        let c = s.config;
        for r in c
            .providers
            .iter()
            .flat_map(|p| &p.api_keys)
            .chain(&c.server.client_keys)
        {
            match r {
                crate::secrets::SecretRef::Keyring(n) if !keyring.contains(n) => {
                    keyring.push(n.clone());
                }
                crate::secrets::SecretRef::Env(n) if !env.contains(n) => env.push(n.clone()),
                _ => {}
            }
        }
    }
    keyring.sort();
    json!({ "keyring": keyring, "env": env })
}

/// `aigw backup --out FILE [--telemetry]`.
pub fn backup(paths: &Paths, out: &Path, telemetry: bool) -> anyhow::Result<ExitCode> {
    let db = paths.data_dir.join(CONFIG_DB);
    if !db.is_file() {
        bail!(
            "nothing to back up: no {} (has a gateway run with this data dir?)",
            db.display()
        );
    }
    let tmp = tempfile::tempdir_in(&paths.data_dir)?;
    let config_copy = tmp.path().join(CONFIG_DB);
    ConfigStore::open(&db)?.copy_to(&config_copy)?;
    let store = ConfigStore::open(&config_copy)?;
    let live = store.latest()?;
    let versions = store.history(u32::MAX, None)?.len();
    let audit = store.audit_log(u32::MAX, None)?.len();
    drop(store);
    let store_schema = user_version(&config_copy)?;
    let tdb = paths.data_dir.join(TELEMETRY_DB);
    let telemetry_copy = tmp.path().join(TELEMETRY_DB);
    let telemetry_schema = if telemetry {
        if !tdb.is_file() {
            bail!("--telemetry: no {} to back up", tdb.display());
        }
        vacuum_into(&tdb, &telemetry_copy)?;
        Some(user_version(&telemetry_copy)?)
    } else {
        None
    };
    let manifest = json!({
        "kind": "aigw-backup",
        "aigw_version": crate::VERSION,
        "created_at_ms": crate::store::now_ms(),
        "store_schema": store_schema,
        "telemetry_schema": telemetry_schema,
        "config_versions": versions,
        "live_version": live.as_ref().map(|v| v.id),
        "audit_entries": audit,
        "keys": key_names(paths),
        "keys_note": "key values are never in a backup: set them again with `aigw keys set NAME` on a new machine",
    });
    crate::store::perms::private_file(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    let file = std::fs::File::create(out)?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let m = serde_json::to_vec_pretty(&manifest)?;
    let mut h = tar::Header::new_gnu();
    h.set_size(m.len() as u64);
    h.set_mode(0o600);
    h.set_mtime((crate::store::now_ms() / 1000).max(0) as u64);
    h.set_cksum();
    tar.append_data(&mut h, format!("{ROOT}/manifest.json"), m.as_slice())?;
    tar.append_path_with_name(&config_copy, format!("{ROOT}/{CONFIG_DB}"))?;
    if telemetry {
        tar.append_path_with_name(&telemetry_copy, format!("{ROOT}/{TELEMETRY_DB}"))?;
    }
    tar.into_inner()?.finish()?.sync_all()?;
    println!(
        "wrote {}: {versions} config version(s), {audit} audit entries{}",
        out.display(),
        if telemetry { ", the request log" } else { "" }
    );
    println!("key names are listed in its manifest; key values are never in a backup");
    Ok(ExitCode::SUCCESS)
}

/// What a backup archive holds once unpacked into a temp dir.
struct Unpacked {
    manifest: Value,
    config_db: PathBuf,
    telemetry_db: Option<PathBuf>,
}

fn unpack(archive: &Path, into: &Path) -> anyhow::Result<Unpacked> {
    let file = std::fs::File::open(archive)
        .with_context(|| format!("cannot open {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut manifest = None;
    let (mut config_db, mut telemetry_db) = (None, None);
    for entry in tar.entries().context("not a .tar.gz backup")? {
        let mut entry = entry.context("not a .tar.gz backup")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if !entry.header().entry_type().is_file() {
            bail!("unexpected entry {name:?} in the backup (only regular files)");
        }
        let dest = match name.strip_prefix(&format!("{ROOT}/")) {
            Some("manifest.json") => {
                let mut buf = Vec::new();
                entry
                    .by_ref()
                    .take(MAX_MANIFEST + 1)
                    .read_to_end(&mut buf)?;
                if buf.len() as u64 > MAX_MANIFEST {
                    bail!("the backup's manifest is larger than {MAX_MANIFEST} bytes");
                }
                manifest = Some(serde_json::from_slice::<Value>(&buf).context("manifest.json")?);
                continue;
            }
            Some(CONFIG_DB) => config_db.insert(into.join(CONFIG_DB)).clone(),
            Some(TELEMETRY_DB) => telemetry_db.insert(into.join(TELEMETRY_DB)).clone(),
            _ => bail!("unexpected entry {name:?} in the backup"),
        };
        crate::store::perms::private_file(&dest)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&dest)?;
        std::io::copy(&mut entry, &mut f)?;
        f.sync_all()?;
    }
    let manifest = manifest.context("not an aigw backup: no manifest.json")?;
    if manifest["kind"] != "aigw-backup" {
        bail!("not an aigw backup (manifest kind {})", manifest["kind"]);
    }
    Ok(Unpacked {
        manifest,
        config_db: config_db.context("the backup holds no config.db")?,
        telemetry_db,
    })
}

/// Refuses a database this binary's schema is older than.
fn check_schema(what: &str, path: &Path, manifest: &Value, known: i64) -> anyhow::Result<()> {
    let v = user_version(path).with_context(|| format!("the backup's {what} is not SQLite"))?;
    let claimed = manifest[format!("{what}_schema")].as_i64().unwrap_or(v);
    let newest = v.max(claimed);
    if newest > known {
        bail!(
            "the backup's {what} has schema {newest}, newer than this aigw {} knows ({known}): upgrade aigw first; nothing was restored",
            crate::VERSION
        );
    }
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ok != "ok" {
        bail!("the backup's {what} is damaged ({ok}); nothing was restored");
    }
    Ok(())
}

/// Moves `new` into `dest` (a database); the old one stays as
/// `dest.before-restore`, its `-wal`/`-shm` folded in first.
fn replace_db(new: &Path, dest: &Path) -> anyhow::Result<()> {
    let side = |suffix: &str| {
        let mut s = dest.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    if dest.is_file() {
        let conn = rusqlite::Connection::open(dest)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        drop(conn);
        std::fs::rename(dest, side(".before-restore"))?;
    }
    for s in ["-wal", "-shm"] {
        match std::fs::remove_file(side(s)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    std::fs::rename(new, dest)?;
    crate::store::perms::private_sqlite(dest)?;
    Ok(())
}

/// `aigw restore FILE`.
pub async fn restore(paths: &Paths, archive: &Path) -> anyhow::Result<ExitCode> {
    if let Some(gw) = super::status::running(paths).await? {
        bail!(
            "a gateway is running on http://{}: stop it first (restore replaces its config store); nothing was restored",
            gw.listen
        );
    }
    crate::store::perms::private_dir(&paths.data_dir)?;
    let tmp = tempfile::tempdir_in(&paths.data_dir)?;
    let u = unpack(archive, tmp.path())?;
    check_schema(
        "store",
        &u.config_db,
        &u.manifest,
        crate::store::SCHEMA_VERSION,
    )?;
    if let Some(t) = &u.telemetry_db {
        check_schema(
            "telemetry",
            t,
            &u.manifest,
            crate::telemetry::db::schema_version(),
        )?;
    }
    replace_db(&u.config_db, &paths.data_dir.join(CONFIG_DB))?;
    if let Some(t) = &u.telemetry_db {
        replace_db(t, &paths.data_dir.join(TELEMETRY_DB))?;
    }
    let store = ConfigStore::open(&paths.data_dir.join(CONFIG_DB))?;
    let live = store.latest()?;
    if let Some(v) = &live {
        let toml = v.toml.as_deref().unwrap_or_default();
        let old = std::fs::read_to_string(&paths.config_file).ok();
        if old.as_deref() != Some(toml) {
            if old.is_some() {
                let mut keep = paths.config_file.as_os_str().to_owned();
                keep.push(".before-restore");
                std::fs::copy(&paths.config_file, PathBuf::from(keep))?;
            } else {
                if let Some(dir) = paths
                    .config_file
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir)?;
                }
                crate::store::perms::private_file(&paths.config_file)?;
            }
            std::fs::write(&paths.config_file, toml)
                .with_context(|| format!("cannot write {}", paths.config_file.display()))?;
        }
    }
    store.audit(
        "cli",
        "restore",
        live.as_ref().map(|v| v.id),
        &json!({
            "archive_created_at_ms": u.manifest["created_at_ms"],
            "archive_aigw_version": u.manifest["aigw_version"],
            "telemetry": u.telemetry_db.is_some(),
        }),
    )?;
    println!(
        "restored {} config version(s){}; the live version is {}",
        u.manifest["config_versions"],
        if u.telemetry_db.is_some() {
            " and the request log"
        } else {
            ""
        },
        live.map_or_else(|| "none".to_string(), |v| v.id.to_string())
    );
    let names = u.manifest["keys"]["keyring"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for n in names.iter().filter_map(Value::as_str) {
        let present = crate::secrets::keychain_get(n).is_ok();
        println!(
            "key {n}: {}",
            if present {
                "present in this keychain"
            } else {
                "MISSING here: aigw keys set NAME"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
