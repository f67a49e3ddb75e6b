//! `aigw serve`: run the gateway until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use crate::config::{Paths, ensure_config_file, format_issue, parse_listen};
use crate::{GatewayOptions, start};

/// The log target these lines had in `bin/aigw.rs` (the binary's crate
/// name): `AIGW_LOG` filters and the log line show it.
const BIN: &str = "aigw";

/// `aigw serve [--listen ADDR] [--threads N]`.
pub fn serve(
    paths: Paths,
    listen: Option<String>,
    threads: Option<u16>,
) -> anyhow::Result<ExitCode> {
    let listen: Option<SocketAddr> = match listen {
        Some(l) => Some(parse_listen(&l).ok_or_else(|| {
            anyhow::anyhow!("--listen {l:?} is not an address like 127.0.0.1:4000")
        })?),
        None => None,
    };
    if ensure_config_file(&paths.config_file)? {
        tracing::info!(target: BIN, "created default config at {}", paths.config_file.display());
    }
    let config = match crate::lifecycle::load_for_start(&paths.config_file, &paths.data_dir) {
        Ok(s) => {
            if let Some((e, version)) = &s.file_rejected {
                eprintln!("{e}");
                tracing::error!(
                    target: BIN,
                    "{} is invalid: serving the last committed version {version} instead (fix the file, it is watched, or publish a config)",
                    paths.config_file.display()
                );
            }
            s.config
        }
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    for w in &config.warnings {
        tracing::warn!(
            target: BIN,
            "{}",
            format_issue(&paths.config_file.display().to_string(), w)
        );
    }
    if config.providers.is_empty() {
        tracing::info!(
            target: BIN,
            "no providers configured yet: add one to {} (see docs/config.md)",
            paths.config_file.display()
        );
    }
    // Client connections get their own threads (`serve_threads`); this
    // runtime only carries background work and signals.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let opts = GatewayOptions {
            data_dir: Some(paths.data_dir.clone()),
            listen,
            config_path: Some(paths.config_file.clone()),
            serve_threads: threads.map_or_else(crate::server::default_serve_threads, usize::from),
            ..GatewayOptions::new(config)
        };
        let handle = start(opts).await?;
        tracing::info!(
            target: BIN,
            "config {}, data {}",
            paths.config_file.display(),
            paths.data_dir.display()
        );
        shutdown_signal().await;
        tracing::info!(target: BIN, "shutting down: finishing in-flight requests");
        handle.shutdown().await;
        tracing::info!(target: BIN, "stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// With this variable set (by `aigww.exe`, the Windows launcher of the
/// logon task), `aigw serve` also shuts down when its stdin reaches end of
/// file: the launcher holds the pipe's other end, so the gateway stops
/// when the launcher is ended (`schtasks /End`).
pub const STOP_ON_STDIN_EOF: &str = "AIGW_STOP_ON_STDIN_EOF";

/// Resolves when stdin reaches end of file (or fails), if
/// [`STOP_ON_STDIN_EOF`] is set; else never.
async fn stdin_eof() {
    if std::env::var_os(STOP_ON_STDIN_EOF).is_none_or(|v| v.is_empty() || v == "0") {
        return std::future::pending().await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: a blocking read of a pipe, with nothing to cancel
    // (the process exits after shutdown).
    let spawned = std::thread::Builder::new()
        .name("stdin-eof".into())
        .spawn(move || {
            let mut buf = [0u8; 256];
            let mut stdin = std::io::stdin().lock();
            while matches!(std::io::Read::read(&mut stdin, &mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        tracing::error!(target: BIN, "cannot watch stdin: {e}");
        return std::future::pending().await;
    }
    let _ = rx.await;
    tracing::info!(target: BIN, "stdin closed ({STOP_ON_STDIN_EOF}): the launcher ended");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(target: BIN, "cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(target: BIN, "cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
        () = stdin_eof() => {},
    }
}
