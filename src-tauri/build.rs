//! Picks the web assets embedded in the window, then runs `tauri_build`.
//!
//! `tauri.conf.json` points `frontendDist` at `../frontend/dist` (the
//! operator UI, built with `npm --prefix frontend run build`). When that
//! build is missing (a fresh clone, a Rust-only change), the app embeds
//! `placeholder-dist/` instead, so `cargo build` never fails for want of a
//! Node build; the placeholder page says how to build the real UI and still
//! talks to the in-process gateway. The choice reaches the `generate_context!`
//! macro through `TAURI_CONFIG` (merged over tauri.conf.json by Tauri's
//! codegen); a `TAURI_CONFIG` set by the caller (the Tauri CLI) wins.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=TAURI_CONFIG");
    println!("cargo:rerun-if-changed=placeholder-dist");
    let dist = Path::new("../frontend/dist");
    // The assets are embedded: rebuild when the UI build changes. While it
    // does not exist yet, watch frontend/ so the first build is picked up;
    // never name a missing path (cargo would rerun this on every build).
    if dist.is_dir() {
        println!("cargo:rerun-if-changed=../frontend/dist");
    } else if Path::new("../frontend").is_dir() {
        println!("cargo:rerun-if-changed=../frontend");
    }
    if std::env::var_os("TAURI_CONFIG").is_none() && !dist.join("index.html").is_file() {
        println!(
            "cargo:warning=frontend/dist is not built: embedding src-tauri/placeholder-dist (build the UI with `npm --prefix frontend ci && npm --prefix frontend run build`)"
        );
        println!(
            r#"cargo:rustc-env=TAURI_CONFIG={{"build":{{"frontendDist":"placeholder-dist"}}}}"#
        );
    }
    tauri_build::build();
}
