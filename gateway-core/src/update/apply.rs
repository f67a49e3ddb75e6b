//! The updater's verbs: [`check`], [`apply`] (optionally a dry run) and
//! [`rollback`]. Blocking; see the module docs for the order of checks.

use std::path::{Path, PathBuf};

use semver::Version;
use serde::Serialize;

use super::error::{Result, UpdateError};
use super::install::{
    PreviousMeta, PreviousSlot, binary_version, dpkg_owned, running_exe, stage_beside, swap_in,
};
use super::keys::PublicKey;
use super::manifest::{Checked, MAX_MANIFEST_BYTES, TargetEntry, now_rfc3339, parse_version};
use super::{App, BUILD_TARGET, fetch, verify};
use crate::ssrf::SsrfPolicy;

/// Where releases come from and whom to trust.
#[derive(Clone, Debug)]
pub struct Source {
    /// The release manifest URL (`https`, or `http` to loopback).
    pub manifest_url: String,
    /// The release public key; [`PublicKey::embedded`] unless a caller
    /// explicitly trusts another (tests, self-signed builds).
    pub key: PublicKey,
}

/// What to update and how.
#[derive(Clone, Debug)]
pub struct Options {
    pub source: Source,
    /// Which program's builds to take from the manifest.
    pub app: App,
    /// Holds `updates/staging/` (downloads) and `updates/previous/` (rollback).
    pub data_dir: PathBuf,
    /// The binary to update; `None` = the running executable (which must
    /// then be `app`: the desktop app updates itself, `aigw` itself).
    pub binary: Option<PathBuf>,
    /// Install an older release than the installed one.
    pub allow_downgrade: bool,
    /// Target triple to pick from the manifest (this build's by default).
    pub target: String,
    /// The SSRF guard every download resolves through: the running
    /// config's (`server.allow_private_upstreams`) in a gateway, the
    /// default (loopback allowed, private ranges refused) elsewhere.
    pub ssrf: SsrfPolicy,
}

impl Options {
    pub fn new(source: Source, data_dir: PathBuf) -> Self {
        Self {
            source,
            app: App::Gateway,
            data_dir,
            binary: None,
            allow_downgrade: false,
            target: BUILD_TARGET.to_owned(),
            ssrf: SsrfPolicy::default(),
        }
    }
}

/// The binary an update would replace.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, ts(rename = "UpdateInstalled"))]
pub struct Installed {
    /// Canonical path (symlinks resolved: the real file is replaced).
    pub path: PathBuf,
    pub version: Version,
    /// Whether it is the running executable (which may be running an older
    /// version than `version`, the one on disk, until it restarts).
    pub is_self: bool,
}

/// What applying the verified manifest would do.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(test, ts(rename = "UpdateAction"))]
pub enum Action {
    /// The installed version is the offered one.
    UpToDate,
    /// The offered version is newer.
    Update,
    /// The offered version is older: refused unless downgrades are allowed.
    Downgrade,
    /// The installed version is below the release's `minimum_version`.
    BelowMinimum { minimum: String },
    /// The release has no build for this target.
    NoBuild { available: Vec<String> },
}

/// The result of [`check`]: a verified manifest set against the installed binary.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, ts(rename = "UpdateStatus"))]
pub struct Status {
    pub app: App,
    pub installed: Installed,
    pub offered: Version,
    pub date: String,
    pub notes_url: Option<String>,
    pub target: String,
    /// `"action": "update"` etc., with its fields (`minimum`, `available`) beside it.
    #[serde(flatten)]
    pub action: Action,
    pub manifest_url: String,
    pub key: String,
}

/// The result of [`apply`].
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[cfg_attr(test, ts(rename = "InstallOutcome"))]
pub enum Outcome {
    UpToDate {
        version: Version,
    },
    /// Everything was downloaded and verified; nothing was replaced.
    DryRun {
        from: Version,
        to: Version,
        binary: PathBuf,
    },
    Updated {
        from: Version,
        to: Version,
        binary: PathBuf,
        /// Where the replaced binary is kept for [`rollback`].
        previous: PathBuf,
    },
}

/// The result of [`rollback`].
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, ts(rename = "UpdateRollback"))]
pub struct RolledBack {
    pub binary: PathBuf,
    /// Version now installed (the kept one).
    pub restored: String,
    /// Version that was replaced (now kept in turn: a second rollback undoes the first).
    pub replaced: String,
}

/// Finds the binary to update and its version. Without `binary`, the running
/// executable, which must be `app` (by file name): `aigw update --app
/// desktop` needs `--binary`, the desktop app updates itself.
pub fn installed(app: App, binary: Option<&Path>) -> Result<Installed> {
    let canon = |p: &Path| {
        p.canonicalize()
            .map_err(|e| UpdateError::io(format!("find {}", p.display()), e))
    };
    let current = running_exe().map_err(|e| UpdateError::io("find the running executable", e))?;
    let path = match binary {
        Some(p) => canon(p)?,
        None => {
            let stem = current
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if stem != app.name() {
                return Err(UpdateError::WrongProgram {
                    running: current,
                    app: app.name(),
                });
            }
            current.clone()
        }
    };
    if path == current {
        // What is on disk: after an install that has not been restarted into
        // yet, that is the new version, not this process's.
        let version = match binary_version(&path, app) {
            Ok(v) => v,
            Err(_) => parse_version(crate::VERSION, "this build's version")?,
        };
        return Ok(Installed {
            path,
            version,
            is_self: true,
        });
    }
    let version = binary_version(&path, app)?;
    Ok(Installed {
        path,
        version,
        is_self: false,
    })
}

/// Fetches the manifest and its signature, verifies them, and compares the
/// release with the installed binary. Changes nothing.
pub fn check(opts: &Options) -> Result<Status> {
    let installed = installed(opts.app, opts.binary.as_deref())?;
    let (checked, _) = fetch_manifest(&opts.source, &opts.ssrf)?;
    Ok(status(opts, installed, &checked))
}

fn fetch_manifest(source: &Source, ssrf: &SsrfPolicy) -> Result<(Checked, reqwest::Url)> {
    let url = fetch::source_url(&source.manifest_url)?;
    let bytes = fetch::small(&url, MAX_MANIFEST_BYTES, ssrf)?;
    let sig = fetch::small(&fetch::signature_url(&url)?, 4096, ssrf)?;
    let sig = String::from_utf8_lossy(&sig);
    Ok((verify::manifest(&bytes, &sig, &source.key)?, url))
}

fn status(opts: &Options, installed: Installed, checked: &Checked) -> Status {
    let m = &checked.manifest;
    let builds = m.builds(opts.app);
    let action = if !builds.contains_key(&opts.target) {
        Action::NoBuild {
            available: builds.keys().cloned().collect(),
        }
    } else if let Some(min) = checked
        .minimum_version
        .as_ref()
        .filter(|min| installed.version < **min)
    {
        Action::BelowMinimum {
            minimum: min.to_string(),
        }
    } else if checked.version == installed.version {
        Action::UpToDate
    } else if checked.version > installed.version {
        Action::Update
    } else {
        Action::Downgrade
    };
    Status {
        app: opts.app,
        offered: checked.version.clone(),
        date: m.date.clone(),
        notes_url: m.notes_url.clone(),
        target: opts.target.clone(),
        action,
        manifest_url: opts.source.manifest_url.clone(),
        key: opts.source.key.to_base64(),
        installed,
    }
}

/// Downloads, verifies and installs the release in the manifest.
///
/// Order: manifest signature → version decision → archive download into
/// `<data_dir>/updates/staging` → size, SHA-256, archive signature → extract →
/// stage beside the installed binary → the staged binary must report the
/// offered version → (dry run stops here) → keep the installed binary in
/// `<data_dir>/updates/previous` → one atomic rename. Any error before the
/// rename leaves the installed binary untouched; temp files are removed.
pub fn apply(opts: &Options, dry_run: bool) -> Result<Outcome> {
    let installed = installed(opts.app, opts.binary.as_deref())?;
    if dpkg_owned(&installed.path) {
        return Err(UpdateError::PackageManaged {
            path: installed.path,
        });
    }
    // Fail before downloading when the binary's directory is not writable.
    drop(probe_writable(&installed.path)?);
    let (checked, manifest_url) = fetch_manifest(&opts.source, &opts.ssrf)?;
    let st = status(opts, installed.clone(), &checked);
    match st.action {
        Action::UpToDate => {
            return Ok(Outcome::UpToDate {
                version: installed.version,
            });
        }
        Action::Update => {}
        Action::Downgrade if opts.allow_downgrade => {}
        Action::Downgrade => {
            return Err(UpdateError::Downgrade {
                installed: installed.version.to_string(),
                offered: checked.version.to_string(),
            });
        }
        Action::BelowMinimum { minimum } => {
            return Err(UpdateError::BelowMinimum {
                installed: installed.version.to_string(),
                version: checked.version.to_string(),
                minimum,
            });
        }
        Action::NoBuild { available } => {
            return Err(UpdateError::NoTarget {
                version: checked.version.to_string(),
                target: opts.target.clone(),
                available: available.join(", "),
            });
        }
    }
    let Some(entry) = checked.manifest.builds(opts.app).get(&opts.target) else {
        return Err(UpdateError::Manifest(format!(
            "no {} build for {}",
            opts.app, opts.target
        )));
    };

    let staging = opts.data_dir.join("updates").join("staging");
    std::fs::create_dir_all(&staging)
        .map_err(|e| UpdateError::io(format!("create {}", staging.display()), e))?;
    let work = tempfile::Builder::new()
        .prefix("download-")
        .tempdir_in(&staging)
        .map_err(|e| UpdateError::io(format!("create a temp dir in {}", staging.display()), e))?;
    let extracted = download_and_extract(&manifest_url, entry, opts, work.path())?;

    let staged = stage_beside(&installed.path, &extracted)?;
    let reported = binary_version(&staged, opts.app).map_err(|e| UpdateError::SmokeTest {
        path: installed.path.clone(),
        reason: e.to_string(),
    })?;
    if reported != checked.version {
        return Err(UpdateError::SmokeTest {
            path: installed.path.clone(),
            reason: format!(
                "it reports {reported}, the manifest says {}",
                checked.version
            ),
        });
    }
    if dry_run {
        return Ok(Outcome::DryRun {
            from: installed.version,
            to: checked.version,
            binary: installed.path,
        });
    }

    let slot = PreviousSlot::new(&opts.data_dir, opts.app);
    let bytes = std::fs::read(&installed.path)
        .map_err(|e| UpdateError::io(format!("read {}", installed.path.display()), e))?;
    slot.save(
        &installed.path,
        &PreviousMeta {
            version: installed.version.to_string(),
            sha256: verify::sha256_hex(&bytes),
            binary: installed.path.clone(),
            replaced_by: checked.version.to_string(),
            saved_at: now_rfc3339(),
        },
    )?;
    swap_in(staged, &installed.path, installed.is_self)?;
    Ok(Outcome::Updated {
        from: installed.version,
        to: checked.version,
        binary: installed.path,
        previous: slot.binary_path(),
    })
}

/// A temp file beside `binary` (removed on drop): proves the swap can happen.
fn probe_writable(binary: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = binary.parent().unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".aigw-update-")
        .tempfile_in(dir)
        .map_err(|e| {
            UpdateError::io(
                format!(
                    "cannot write to {} (run the update as the user who owns {})",
                    dir.display(),
                    binary.display()
                ),
                e,
            )
        })
}

/// Downloads the archive into `work`, verifies it and extracts the binary.
fn download_and_extract(
    manifest_url: &reqwest::Url,
    entry: &TargetEntry,
    opts: &Options,
    work: &Path,
) -> Result<PathBuf> {
    let key = &opts.source.key;
    let url = fetch::resolve(manifest_url, &entry.url)?;
    // Windows releases are `.zip`, the others `.tar.gz` (release::zips).
    let zip = url.path().to_ascii_lowercase().ends_with(".zip");
    let archive_path = work.join(if zip { "release.zip" } else { "release.tar.gz" });
    let ctx = || format!("write {}", archive_path.display());
    let mut file = std::fs::File::create(&archive_path).map_err(|e| UpdateError::io(ctx(), e))?;
    fetch::archive(&url, entry.size, &opts.ssrf, &mut file)?;
    file.sync_all().map_err(|e| UpdateError::io(ctx(), e))?;
    drop(file);
    let bytes = std::fs::read(&archive_path)
        .map_err(|e| UpdateError::io(format!("read {}", archive_path.display()), e))?;
    verify::archive(&bytes, entry, key)?;
    drop(bytes);

    let out = work.join("extracted");
    let extract_err = |reason: String| UpdateError::Extract {
        binary: entry.binary.clone(),
        reason,
    };
    std::fs::create_dir(&out).map_err(|e| extract_err(e.to_string()))?;
    let kind = if zip {
        self_update::ArchiveKind::Zip
    } else {
        self_update::ArchiveKind::Tar(Some(self_update::Compression::Gz))
    };
    self_update::Extract::from_source(&archive_path)
        .archive(kind)
        .extract_file(&out, &entry.binary)
        .map_err(|e| extract_err(e.to_string()))?;
    let binary = out.join(&entry.binary);
    match std::fs::symlink_metadata(&binary) {
        Ok(m) if m.file_type().is_file() => Ok(binary),
        Ok(_) => Err(extract_err("it is not a regular file".into())),
        Err(e) => Err(extract_err(e.to_string())),
    }
}

/// What [`rollback`] would restore for `app`: the kept version's record.
pub fn previous(data_dir: &Path, app: App) -> Option<PreviousMeta> {
    PreviousSlot::new(data_dir, app).meta()
}

/// Puts back the binary kept by the last [`apply`] (or `rollback`), keeping
/// the one it replaces in its place. `binary` overrides where it goes (by
/// default: where it was installed).
pub fn rollback(data_dir: &Path, app: App, binary: Option<&Path>) -> Result<RolledBack> {
    let slot = PreviousSlot::new(data_dir, app);
    let (kept, meta) = slot.load()?;
    let target = binary.map(Path::to_path_buf).unwrap_or(meta.binary.clone());
    // The installed binary may be broken (that is why one rolls back), or
    // gone: its version is only informative here.
    let path = target.canonicalize().unwrap_or(target);
    let is_self = running_exe().is_ok_and(|p| p == path);
    if dpkg_owned(&path) {
        return Err(UpdateError::PackageManaged { path });
    }
    let current_version = if is_self {
        crate::VERSION.to_owned()
    } else {
        binary_version(&path, app)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "unknown".to_owned())
    };
    let staged = stage_beside(&path, &kept)?;
    let current_bytes = match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(UpdateError::io(format!("read {}", path.display()), e)),
    };
    // Keep what is being replaced aside first, swap, then make it the new
    // "previous" (so a second rollback undoes this one).
    let aside = tempfile::tempdir_in(data_dir.join("updates"))
        .map_err(|e| UpdateError::io(format!("create a temp dir in {}", data_dir.display()), e))?;
    let aside_slot = PreviousSlot::new(aside.path(), app);
    if let Some(bytes) = &current_bytes {
        aside_slot.save(
            &path,
            &PreviousMeta {
                version: current_version.clone(),
                sha256: verify::sha256_hex(bytes),
                binary: path.clone(),
                replaced_by: meta.version.clone(),
                saved_at: now_rfc3339(),
            },
        )?;
    }
    swap_in(staged, &path, is_self)?;
    if current_bytes.is_some() {
        let (aside_bin, aside_meta) = aside_slot.load()?;
        slot.save(&aside_bin, &aside_meta)?;
    }
    Ok(RolledBack {
        binary: path,
        restored: meta.version,
        replaced: current_version,
    })
}
