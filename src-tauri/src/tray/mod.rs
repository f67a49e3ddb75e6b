//! The tray icon: its picture and tooltip follow the gateway's state
//! (running, paused, error), its menu gives the everyday actions.
//!
//! - `menu`: the item ids (one enum) and the menu as data, from the status.
//! - `actions`: what each item does.
//! - `icons`: the three state icons (RGBA PNGs, see `icons/generate.sh`).
//! - `tools`: the "Connect tools" submenu's state and clicks (through the
//!   admin API in-process).
//!
//! Every change goes through [`refresh`], which redraws on the main thread,
//! and only when what the tray would show has changed: it compares on the
//! calling thread first, so an unchanged tray never wakes the main thread.
//! A watcher calls it every second while the window is open and every
//! [`REFRESH_CLOSED`] while it is closed to the tray, so edits made
//! elsewhere (the config file, the CLI) show up in the tray too; the
//! window's own changes and the tray's refresh at once. The tools' state is
//! read every [`TOOLS_EVERY`] ([`TOOLS_CLOSED`] with the window closed) and
//! right after a connect or disconnect.

mod actions;
mod icons;
pub mod menu;
mod tools;

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use gateway_core::sync::LockExt;
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio_util::sync::CancellationToken;

use crate::gateway::{GatewayHost, RunState};
use menu::{TrayModel, TrayTool, TrayUpdate};

pub use actions::quit;

/// The tray icon's id (also names its D-Bus object on Linux).
pub const TRAY_ID: &str = "main-tray";

/// How long the last action's result stays in the menu.
const NOTICE_FOR: Duration = Duration::from_secs(20);

/// How often the coding agents' state is read for the submenu's check marks
/// (it reads their config files) while the window is open.
pub const TOOLS_EVERY: Duration = Duration::from_secs(5);

/// ... and while it is closed to the tray.
pub const TOOLS_CLOSED: Duration = Duration::from_secs(30);

/// How often the tray looks for changes made outside the app while the
/// window is open ...
pub const REFRESH_OPEN: Duration = Duration::from_secs(1);

/// ... and while it is closed to the tray.
pub const REFRESH_CLOSED: Duration = Duration::from_secs(5);

/// What the tray currently shows, and the last action's result (with when).
#[derive(Default)]
pub struct TrayState {
    shown: Mutex<Option<TrayModel>>,
    notice: Mutex<Option<(String, Instant)>>,
    /// The coding agents' state, as last read.
    tools: Mutex<Option<Vec<TrayTool>>>,
    /// A connect or disconnect from the tray is running.
    toggling: AtomicBool,
}

fn current<R: Runtime>(app: &AppHandle<R>, tray: &TrayState) -> TrayModel {
    let notice = tray.notice.lock_or_recover();
    let status = app.state::<GatewayHost>().status();
    let tools = tray.tools.lock_or_recover().clone();
    TrayModel {
        tools,
        update: update_offer(app, status.data_dir.as_deref()),
        status,
        autostart: crate::autostart::enabled(app),
        notice: notice
            .as_ref()
            .filter(|(_, at)| at.elapsed() < NOTICE_FOR)
            .map(|(text, _)| text.clone()),
    }
}

fn update_offer<R: Runtime>(
    app: &AppHandle<R>,
    data_dir: Option<&std::path::Path>,
) -> Option<TrayUpdate> {
    if let Some(v) = data_dir.and_then(crate::updates::restart_pending) {
        return Some(TrayUpdate::RestartPending(v));
    }
    app.try_state::<crate::updates::UpdateState>()?
        .available()
        .map(TrayUpdate::Available)
}

/// Creates the tray icon. Needs [`GatewayHost`] and [`TrayState`] managed.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let state = app.state::<TrayState>();
    let model = current(app, &state);
    let tray_menu = menu::build(app, &menu::model(&model))?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icons::for_state(model.status.state)?)
        .icon_as_template(crate::platform::CURRENT.tray_icon_is_template())
        .tooltip(menu::tooltip(&model.status))
        .menu(&tray_menu)
        .show_menu_on_left_click(crate::platform::CURRENT.menu_on_left_click())
        .on_tray_icon_event(crate::platform::on_tray_icon_event)
        .on_menu_event(actions::on_menu_event)
        .build(app)?;
    *state.shown.lock_or_recover() = Some(model);
    Ok(())
}

/// Redraws the tray if what it shows has changed. Callable from any thread;
/// a no-op where there is no tray (tests).
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    dispatch(app, false);
}

/// Redraws even when nothing changed: a clicked check item toggles itself
/// natively, and the menu must show the real state again.
pub fn redraw_all<R: Runtime>(app: &AppHandle<R>) {
    dispatch(app, true);
}

fn dispatch<R: Runtime>(app: &AppHandle<R>, force: bool) {
    let Some(state) = app.try_state::<TrayState>() else {
        return;
    };
    // The watcher calls this every few seconds: wake the main thread (and its
    // GTK loop) only when there is something new to show. `redraw` compares
    // again there, so two refreshes racing still draw once.
    if !force {
        let model = current(app, &state);
        if state.shown.lock_or_recover().as_ref() == Some(&model) {
            return;
        }
    }
    let handle = app.clone();
    if let Err(e) = app.run_on_main_thread(move || redraw(&handle, force)) {
        tracing::warn!("cannot refresh the tray: {e}");
    }
}

/// Sets (or clears) the line with the last action's result, shown for a
/// while.
pub fn set_notice<R: Runtime>(app: &AppHandle<R>, notice: Option<String>) {
    if let Some(state) = app.try_state::<TrayState>() {
        *state.notice.lock_or_recover() = notice.map(|n| (n, Instant::now()));
    }
    refresh(app);
}

/// Runs on the main thread, so redraws never interleave.
fn redraw<R: Runtime>(app: &AppHandle<R>, force: bool) {
    let (Some(state), Some(tray)) = (app.try_state::<TrayState>(), app.tray_by_id(TRAY_ID)) else {
        return;
    };
    let model = current(app, &state);
    let previous = {
        let mut shown = state.shown.lock_or_recover();
        if !force && shown.as_ref() == Some(&model) {
            return;
        }
        shown.replace(model.clone())
    };
    let prev_state = previous.as_ref().map(|m| m.status.state);
    match menu::build(app, &menu::model(&model)) {
        Ok(m) => {
            if let Err(e) = tray.set_menu(Some(m)) {
                tracing::warn!("cannot set the tray menu: {e}");
            }
        }
        Err(e) => tracing::warn!("cannot build the tray menu: {e}"),
    }
    if prev_state != Some(model.status.state) {
        match icons::for_state(model.status.state) {
            Ok(icon) => {
                let _ = tray.set_icon(Some(icon));
                if crate::platform::CURRENT.tray_icon_is_template() {
                    let _ = tray.set_icon_as_template(true);
                }
            }
            Err(e) => tracing::warn!("tray icon: {e}"),
        }
        // The banner in the window follows the error state.
        if model.status.state == RunState::Error {
            if let Some(err) = &model.status.error {
                crate::window::show_banner(app, &err.message);
            }
        } else if prev_state == Some(RunState::Error) {
            crate::window::clear_banner(app);
        }
    }
    let _ = tray.set_tooltip(Some(menu::tooltip(&model.status)));
    // The window's UI can follow pause and profile changes live.
    let _ = app.emit("gateway-status", &model.status);
}

/// Refreshes the tray every [`REFRESH_OPEN`] while the window is open and
/// every [`REFRESH_CLOSED`] while it is closed to the tray (the tools' state
/// every [`TOOLS_EVERY`] and [`TOOLS_CLOSED`]), until `token` is cancelled.
///
/// What the app changes itself (tray items, the window's commands) redraws
/// at once; this poll is for changes made outside it: the config file
/// edited by hand, `aigw` calling the admin API, an update installed from
/// the command line, the notice timing out, coding agents installed or
/// connected elsewhere. With the window closed nobody watches the tray
/// closely, and a slower poll keeps the idle app asleep.
pub async fn watch<R: Runtime>(app: AppHandle<R>, token: CancellationToken) {
    let mut tools_read: Option<Instant> = None;
    loop {
        let open = crate::window::is_open(&app);
        let tools_every = if open { TOOLS_EVERY } else { TOOLS_CLOSED };
        if tools_read.is_none_or(|t| t.elapsed() >= tools_every) {
            tools_read = Some(Instant::now());
            tokio::select! {
                () = token.cancelled() => return,
                () = tools::refresh(&app) => {}
            }
        }
        let every = if open { REFRESH_OPEN } else { REFRESH_CLOSED };
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(every) => refresh(&app),
        }
    }
}

/// A tool was connected or disconnected elsewhere (the window): read the
/// tools' state now, so the check marks follow at once.
pub fn tools_changed<R: Runtime>(app: &AppHandle<R>) {
    if let Some(tasks) = app.try_state::<crate::tasks::Tasks>() {
        let handle = app.clone();
        tasks.spawn(async move { tools::refresh(&handle).await });
    }
}
