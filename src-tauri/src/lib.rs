//! # AI Model Gateway desktop app
//!
//! A Tauri 2 tray app hosting `gateway_core` in-process: the same gateway,
//! config file, data dir and `AIGW_*` variables as `aigw serve`, plus a tray
//! icon (state, endpoint, profiles, pause, updates, quit) and a window with
//! the operator UI, which reaches the admin API in-process.
//!
//! This file registers plugins and commands only.
//!
//! # Layout
//! - [`gateway`]: hosting the gateway, its state, in-process admin calls.
//! - [`commands`]: what the window can invoke, a file per domain.
//! - `tray`: the tray icon, its menu (ids in one enum) and actions.
//! - `window`: show/navigate, close-to-tray, the "not running" banner.
//! - `setup`: start-up, shut-down, signals.
//! - `assets`: serves the UI's `/ui/` asset paths from the window's root.
//! - `platform`: what differs per OS (macOS menu bar and Dock, Windows
//!   tray clicks).
//! - `updates`, `autostart`, `tasks`, `marker`: small pieces of the above.

mod assets;
mod autostart;
pub mod commands;
pub mod gateway;
mod marker;
mod platform;
mod setup;
mod tasks;
mod tray;
mod updates;
mod window;

/// Runs the app until the tray's "Quit" (or a signal).
pub fn run() -> tauri::Result<()> {
    let mut context = tauri::generate_context!();
    assets::serve_ui_base(&mut context);
    let app = tauri::Builder::default()
        // First: a second launch only focuses the running app.
        .plugin(tauri_plugin_single_instance::init(setup::second_instance))
        // macOS: a LaunchAgent plist (the AppleScript login item would ask
        // for the Automation permission); Windows: the HKCU Run key; Linux:
        // an XDG autostart entry.
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![autostart::HIDDEN_FLAG]),
        ))
        .plugin(tauri_plugin_clipboard_manager::init())
        .invoke_handler(commands::handler())
        .setup(setup::setup)
        .on_window_event(window::on_window_event)
        .on_page_load(window::on_page_load)
        .build(context)?;
    app.run(setup::on_run_event);
    Ok(())
}
