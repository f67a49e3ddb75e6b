//! Start-up and shut-down: start the gateway, create the tray, show the
//! window (unless started hidden), keep running when the window is closed
//! to the tray, and stop everything gracefully on exit or on SIGINT/SIGTERM.

use std::time::Duration;

use tauri::{App, AppHandle, Manager, RunEvent, Runtime};

use crate::autostart::HIDDEN_FLAG;
use crate::gateway::GatewayHost;
use crate::tasks::Tasks;
use crate::tray::{self, TrayState};
use crate::window;

pub fn setup<R: Runtime>(app: &mut App<R>) -> Result<(), Box<dyn std::error::Error>> {
    let handle = app.handle().clone();
    let hidden = std::env::args().any(|a| a == HIDDEN_FLAG)
        || std::env::var("AIGW_DESKTOP_HIDDEN").is_ok_and(|v| v == "1");
    // The webview loads while the gateway starts (its page-load handler
    // runs once setup is done); a login start builds none until the window
    // is opened.
    if !hidden {
        window::create(&handle);
    }
    let host = GatewayHost::from_env();
    // A failure (port taken, invalid config) is kept by the host and shown
    // in the tray and the window; the app still starts.
    if let Ok(addr) = tauri::async_runtime::block_on(host.start()) {
        crate::marker::emit("gateway-started", &addr.to_string());
    }
    app.manage(host);
    app.manage(TrayState::default());
    app.manage(Tasks::default());
    app.manage(crate::updates::UpdateState::default());

    if let Err(e) = tray::create(&handle) {
        tracing::error!("no tray icon ({e}); closing the window will quit");
    }
    let tasks = app.state::<Tasks>();
    tasks.spawn(tray::watch(handle.clone(), tasks.token()));
    tasks.spawn(quit_on_signal(handle.clone(), tasks.token()));

    if hidden {
        crate::platform::window_hidden(&handle);
    } else {
        window::show(&handle, None);
    }
    Ok(())
}

/// A second launch brings the running app's window forward.
pub fn second_instance<R: Runtime>(app: &AppHandle<R>, _argv: Vec<String>, _cwd: String) {
    crate::marker::emit("second-instance", "");
    window::show(app, None);
}

pub fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    match event {
        // The last window was closed (to the tray): the app stays. "Quit",
        // a signal and a restart ask with an exit code and are let through.
        RunEvent::ExitRequested {
            code: None, api, ..
        } if app.tray_by_id(tray::TRAY_ID).is_some() => api.prevent_exit(),
        RunEvent::Exit => on_exit(app),
        _ => {}
    }
}

fn on_exit<R: Runtime>(app: &AppHandle<R>) {
    // Normally "Quit" has stopped the gateway already; this covers any
    // other way out.
    tauri::async_runtime::block_on(async {
        if let Some(host) = app.try_state::<GatewayHost>() {
            host.shutdown().await;
        }
        if let Some(tasks) = app.try_state::<Tasks>() {
            tasks.close(Duration::from_secs(5)).await;
        }
    });
    crate::marker::emit("exit", "");
}

/// Ctrl-C or SIGTERM quits like the tray's "Quit".
async fn quit_on_signal<R: Runtime>(app: AppHandle<R>, token: tokio_util::sync::CancellationToken) {
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = token.cancelled() => return,
        r = tokio::signal::ctrl_c() => if let Err(e) = r { tracing::warn!("cannot listen for Ctrl-C: {e}"); return },
        () = term => {}
    }
    tracing::info!("signal received: quitting");
    crate::tray::quit(app).await;
}
