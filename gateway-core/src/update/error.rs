//! The update layer's one error type. Every variant says what was refused and
//! why, in words a user can act on; callers add "nothing was changed".

use std::path::PathBuf;

/// Why a check, apply, rollback or verification did not go through.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("invalid {what}: {reason}")]
    InvalidKey { what: &'static str, reason: String },

    #[error("update URL {url:?} refused: {reason}")]
    BadUrl { url: String, reason: String },

    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },

    #[error(
        "the manifest signature does not verify with public key {key}: the manifest was altered or signed with another key"
    )]
    ManifestSignature { key: String },

    #[error("invalid release manifest: {0}")]
    Manifest(String),

    #[error("release {version} has no build for this platform ({target}); it has: {available}")]
    NoTarget {
        version: String,
        target: String,
        available: String,
    },

    #[error(
        "installed {installed} is older than release {version}'s minimum_version {minimum}: install {version} from the release archive (docs/install.md)"
    )]
    BelowMinimum {
        installed: String,
        version: String,
        minimum: String,
    },

    #[error(
        "refusing to downgrade from {installed} to {offered}; pass --allow-downgrade to do it anyway"
    )]
    Downgrade { installed: String, offered: String },

    #[error(
        "the downloaded archive is {got} bytes but the manifest says {expected}: the download was truncated or altered"
    )]
    Size { expected: u64, got: u64 },

    #[error(
        "archive checksum mismatch: sha256 {got}, the manifest says {expected}: the download was altered"
    )]
    Checksum { expected: String, got: String },

    #[error("the archive signature does not verify with public key {key}")]
    ArchiveSignature { key: String },

    #[error("the signature of {file} does not verify with public key {key}")]
    FileSignature { file: PathBuf, key: String },

    #[error("cannot extract {binary:?} from the archive: {reason}")]
    Extract { binary: String, reason: String },

    #[error("the new binary failed its self-check ({path} --version): {reason}")]
    SmokeTest { path: PathBuf, reason: String },

    #[error("cannot tell the version of {path}: {reason}")]
    UnknownVersion { path: PathBuf, reason: String },

    #[error(
        "{path} was installed by a Debian package: update it by installing the release's .deb instead (`sudo apt install ./aigw_VERSION_ARCH.deb`, or the desktop app's .deb)"
    )]
    PackageManaged { path: PathBuf },

    #[error(
        "the running program is {running}, not {app}: say which {app} binary to update (--binary PATH)"
    )]
    WrongProgram { running: PathBuf, app: &'static str },

    #[error("no previous version to roll back to ({path} does not exist)")]
    NoPrevious { path: PathBuf },

    #[error(
        "the kept previous binary {path} changed since it was saved (sha256 {got}, recorded {expected}); refusing to restore it"
    )]
    PreviousAltered {
        path: PathBuf,
        expected: String,
        got: String,
    },

    /// The I/O error is part of the message (not a `source()`), so that it
    /// is shown once however the error is printed.
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
}

impl UpdateError {
    /// An I/O error with what was being done, e.g. `"write /usr/local/bin/.aigw-new"`.
    pub(crate) fn io(context: impl Into<String>, cause: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            cause,
        }
    }
}

/// Shorthand for results of this layer.
pub type Result<T, E = UpdateError> = std::result::Result<T, E>;
