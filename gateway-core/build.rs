//! Build-time facts for the self-updater (`src/update/`):
//! - `AIGW_BUILD_TARGET`: the target triple release manifests are keyed by;
//! - `AIGW_UPDATE_PUBKEY` (optional): the release public key to embed instead
//!   of the documented dev key; checked here so a typo fails the build, not the
//!   first update;
//! - `AIGW_UPDATE_URL` (optional): the default manifest URL.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=AIGW_BUILD_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=AIGW_UPDATE_PUBKEY");
    println!("cargo:rerun-if-env-changed=AIGW_UPDATE_URL");
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
