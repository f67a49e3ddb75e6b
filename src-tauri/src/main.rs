//! `aigw-desktop`: the tray app. Logs go to stderr (`AIGW_LOG=debug` for
//! more), test markers to stdout.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    // The updater runs the new binary with --version before installing it:
    // answer without starting a window or the gateway.
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("aigw-desktop {}", gateway_core::VERSION);
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIGW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(gateway_core::telemetry::logline::Stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match aigw_desktop::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aigw-desktop: {e}");
            ExitCode::FAILURE
        }
    }
}
