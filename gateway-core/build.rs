//! Build-time facts for the self-updater (`src/update/`):
//! - `AIGW_BUILD_TARGET`: the target triple release manifests are keyed by;
//! - `AIGW_UPDATE_PUBKEY` (optional): the release public key to embed instead
//!   of the documented dev key; checked here so a typo fails the build, not the
//!   first update;
//! - `AIGW_UPDATE_URL` (optional): the default manifest URL.
//!
//! And for the operator UI (`ui_assets`): `AIGW_UI_DIST`, where the UI build
//! lives; release builds are rerun when it changes.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=AIGW_BUILD_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=AIGW_UPDATE_PUBKEY");
    println!("cargo:rerun-if-env-changed=AIGW_UPDATE_URL");
    ui_assets();
    if let Ok(key) = std::env::var("AIGW_UPDATE_PUBKEY") {
        let ok = key.len() == 44
            && key.ends_with('=')
            && key[..43]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        if !ok {
            panic!(
                "AIGW_UPDATE_PUBKEY must be an ed25519 public key in base64 (44 chars, as printed by `aigw-release keygen`), got {key:?}"
            );
        }
    }
    if let Ok(url) = std::env::var("AIGW_UPDATE_URL")
        && !url.starts_with("https://")
        && !url.starts_with("http://")
    {
        panic!("AIGW_UPDATE_URL must be an http(s) URL, got {url:?}");
    }
}

/// The operator UI (`src/api/ui.rs`):
/// - `AIGW_UI_DIST`: `frontend/dist` as a canonical absolute path. Debug
///   builds read it at run time, and rust-embed only serves files whose
///   canonical path starts with it, so it must not contain `..` (as
///   `../frontend/dist` would while the folder does not exist yet).
/// - Release builds embed the folder, so they must be rebuilt when it
///   changes. While it does not exist yet, watch `frontend/` itself, so the
///   first `npm run build` is picked up too; never name a missing path, which
///   would rerun this script on every build.
fn ui_assets() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let root = std::path::Path::new(&manifest)
        .parent()
        .and_then(|p| p.canonicalize().ok());
    let dist = match root {
        Some(r) => r.join("frontend").join("dist"),
        None => std::path::PathBuf::from(&manifest).join("../frontend/dist"),
    };
    println!("cargo:rustc-env=AIGW_UI_DIST={}", dist.display());
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    if dist.is_dir() {
        println!("cargo:rerun-if-changed=../frontend/dist");
    } else if dist.parent().is_some_and(std::path::Path::is_dir) {
        println!("cargo:rerun-if-changed=../frontend");
    }
}
