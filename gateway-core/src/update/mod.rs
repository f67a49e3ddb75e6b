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
//! `self_update` does the download (`Download`, blocking reqwest) and the
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
