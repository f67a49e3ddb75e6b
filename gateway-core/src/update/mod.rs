//! Signed self-update: `aigw update check|apply|rollback|verify|key`.
//!
//! A release is a manifest (`manifest.json`, see [`manifest`]) signed as a
//! whole (`manifest.json.sig`), plus one `.tar.gz` per target whose size,
//! SHA-256 and ed25519 signature the manifest lists. The updater trusts one
//! public key, embedded at build time ([`keys::EMBEDDED_PUBKEY`]).
//!
//! Before anything is replaced: the manifest signature, then the archive
//! size, checksum and signature are verified; downgrades are refused unless
//! asked for; the extracted binary, staged beside the installed one, must run
//! and report the offered version. The installed binary is then kept in
//! `<data_dir>/updates/previous/` and the staged one renamed over it (one
//! atomic rename); until that rename nothing the user runs has changed.
//!
//! Downloads use a blocking reqwest client that resolves through the
//! providers' SSRF guard and follows redirects only on the same host and
//! port, never from https to http ([`fetch`]). `self_update` does the
//! archive extraction (`Extract`); its GitHub/S3/manifest backends are not
//! used because none verifies a signature over the manifest itself.
//! `self-replace` swaps the running executable; any other target path gets a
//! plain rename. Everything here blocks: from async code use `spawn_blocking`.
//!
//! # Layout
//! - [`keys`]: ed25519 keys and signatures, key files, the embedded key.
//! - [`manifest`]: the manifest format and its checks.
//! - [`verify`]: signature and checksum verification.
//! - [`fetch`]: URL rules and downloads.
//! - [`install`]: staging, the atomic swap, the kept previous binary.
//! - [`apply`]: `check`, `apply`, `rollback`.
//! - [`release`]: the producer side (archives, signatures, manifest, sums).
//! - [`cli`]: the `aigw update` subcommands.

pub mod apply;
pub mod cli;
pub mod error;
pub mod fetch;
pub mod host;
pub mod install;
pub mod keys;
pub mod manifest;
pub mod release;
pub mod verify;

pub use apply::{Action, Installed, Options, Outcome, RolledBack, Source, Status};
pub use cli::{UpdateCommand, run};
pub use error::UpdateError;
pub use keys::{PublicKey, Signature, SigningKey};
pub use manifest::Manifest;

/// The target triple this build was compiled for: the key it looks up in a
/// manifest's `targets`.
pub const BUILD_TARGET: &str = env!("AIGW_BUILD_TARGET");

/// The manifest URL this build was released with (`AIGW_UPDATE_URL` at build
/// time); `None` for builds from source, which must be told one.
pub const DEFAULT_MANIFEST_URL: Option<&str> = option_env!("AIGW_UPDATE_URL");

/// Which program an update is for. One release ships both: the headless
/// gateway (`targets` in the manifest) and the desktop tray app (`desktop`).
/// They share the workspace version, the release key and the verification
/// path; each keeps its own previous binary for rollback.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[cfg_attr(test, ts(rename = "UpdateApp"))]
pub enum App {
    /// `aigw`, the headless gateway and CLI.
    #[default]
    #[value(name = "aigw")]
    #[serde(rename = "aigw")]
    Gateway,
    /// `aigw-desktop`, the tray app (which hosts the gateway in-process).
    #[value(name = "desktop")]
    #[serde(rename = "aigw-desktop")]
    Desktop,
}

impl App {
    /// The executable's name (without `.exe`) and the prefix of its archives.
    pub fn name(self) -> &'static str {
        match self {
            App::Gateway => "aigw",
            App::Desktop => "aigw-desktop",
        }
    }

    /// `NAME-VERSION-TARGET`: an archive's file stem and its top directory.
    pub fn archive_stem(self, version: &str, target: &str) -> String {
        format!("{}-{version}-{target}", self.name())
    }
}

impl std::fmt::Display for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
