//! The updater as a running program offers it (the admin API's
//! `/admin/api/update/*`, the desktop app's tray): which program it updates,
//! where releases come from, and the verbs as async calls.
//!
//! Where releases come from, first found wins: the caller's explicit manifest
//! URL, `AIGW_UPDATE_URL`, the URL the build was released with. Whom to
//! trust: [`PublicKey::trusted`] (the embedded key; debug builds may be told
//! another). What to replace: `AIGW_UPDATE_BINARY` if set, else the running
//! executable.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::apply::{self, Options, Outcome, RolledBack, Source, Status};
use super::error::{Result, UpdateError};
use super::install::PreviousMeta;
use super::keys::PublicKey;
use super::{App, DEFAULT_MANIFEST_URL};

/// What hosts the gateway: the program updates replace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpdateHost {
    pub app: App,
    /// The host can restart itself into the new version (the desktop app);
    /// otherwise whoever runs it (systemd, a terminal) restarts it.
    pub restart_supported: bool,
}

impl UpdateHost {
    pub const DESKTOP: Self = Self {
        app: App::Desktop,
        restart_supported: true,
    };
}

/// The manifest URL to use: `explicit`, else `AIGW_UPDATE_URL`, else the
/// build's; `None` when none is known.
pub fn manifest_url(explicit: Option<String>) -> Option<String> {
    explicit
        .filter(|u| !u.trim().is_empty())
        .or_else(|| {
            std::env::var("AIGW_UPDATE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty())
        })
        .or(DEFAULT_MANIFEST_URL.map(str::to_owned))
}

/// Options for `host`'s program, or `None` without a manifest URL.
pub fn options(
    host: UpdateHost,
    data_dir: &Path,
    manifest_url: Option<String>,
) -> Result<Option<Options>> {
    let Some(manifest_url) = self::manifest_url(manifest_url) else {
        return Ok(None);
    };
    let key = PublicKey::trusted()?;
    let mut opts = Options::new(Source { manifest_url, key }, data_dir.to_path_buf());
    opts.app = host.app;
    opts.binary = binary_override();
    Ok(Some(opts))
}

fn binary_override() -> Option<PathBuf> {
    std::env::var_os("AIGW_UPDATE_BINARY")
        .filter(|b| !b.is_empty())
        .map(PathBuf::from)
}

/// The version a rollback would restore for `host`'s program.
pub fn previous(host: UpdateHost, data_dir: &Path) -> Option<PreviousMeta> {
    apply::previous(data_dir, host.app)
}

/// [`apply::check`] off the async runtime.
pub async fn check(opts: Options) -> Result<Status> {
    blocking(move || apply::check(&opts)).await
}

/// [`apply::apply`] off the async runtime.
pub async fn install(opts: Options, dry_run: bool) -> Result<Outcome> {
    blocking(move || apply::apply(&opts, dry_run)).await
}

/// [`apply::rollback`] off the async runtime, to where the kept binary was
/// installed (or `AIGW_UPDATE_BINARY`).
pub async fn rollback(host: UpdateHost, data_dir: PathBuf) -> Result<RolledBack> {
    let binary = binary_override();
    blocking(move || apply::rollback(&data_dir, host.app, binary.as_deref())).await
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| UpdateError::io("run the updater", std::io::Error::other(e)))?
}
