//! What each tray item does. Quick ones run here on the main thread; the
//! ones that wait (pause, profile switch, connecting a tool, update
//! check/install, restart, quit) run as tracked
//! tasks and report through the tray's notice line.

use tauri::menu::MenuEvent;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_clipboard_manager::ClipboardExt;

use super::menu::MenuId;
use super::{redraw_all, refresh, set_notice};
use crate::gateway::{GatewayHost, RunState};
use crate::tasks::Tasks;
use crate::window::{self, Page};

pub fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let Some(id) = MenuId::parse(event.id().as_ref()) else {
        tracing::warn!("unknown tray menu item {:?}", event.id());
        return;
    };
    crate::marker::emit("tray-menu", &id.encode());
    let tasks = app.state::<Tasks>();
    match id {
        MenuId::Status | MenuId::Notice | MenuId::Profiles | MenuId::Tools | MenuId::ToolsNote => {}
        MenuId::OpenConnectTools => window::show(app, Some(Page::Connect)),
        MenuId::Tool(name) => {
            // The clicked check item toggled itself; show the real state
            // until the connect or disconnect is done.
            redraw_all(app);
            tasks.spawn(super::tools::toggle(app.clone(), name));
        }
        MenuId::CopyEndpoint => copy_endpoint(app),
        MenuId::OpenWindow => window::show(app, None),
        MenuId::ManageKeys => window::show(app, Some(Page::Providers)),
        MenuId::Profile(profile) => {
            // The clicked check item toggled itself; show the real state
            // until the switch is done.
            redraw_all(app);
            tasks.spawn(switch_profile(app.clone(), profile));
        }
        MenuId::PauseResume => tasks.spawn(pause_resume(app.clone())),
        MenuId::StartAtLogin => {
            let on = !crate::autostart::enabled(app);
            let notice = crate::autostart::set(app, on).err();
            set_notice(app, notice);
            redraw_all(app);
        }
        MenuId::CheckUpdates => {
            window::show(app, Some(Page::Updates));
            tasks.spawn(check_updates(app.clone()));
        }
        MenuId::InstallUpdate => tasks.spawn(install_update(app.clone())),
        MenuId::RestartToUpdate => tasks.spawn(crate::updates::restart(app.clone())),
        MenuId::Quit => tasks.spawn(quit(app.clone())),
    }
}

fn copy_endpoint<R: Runtime>(app: &AppHandle<R>) {
    let Some(url) = app.state::<GatewayHost>().status().endpoint else {
        return;
    };
    let notice = match app.clipboard().write_text(url.clone()) {
        Ok(()) => format!("Copied {url}"),
        Err(e) => format!("Cannot copy to the clipboard: {e}"),
    };
    set_notice(app, Some(notice));
}

async fn switch_profile<R: Runtime>(app: AppHandle<R>, profile: Option<String>) {
    let host = app.state::<GatewayHost>();
    let notice = match host
        .switch_profile(profile.as_deref(), "desktop-tray")
        .await
    {
        Ok(p) if p.unchanged => None,
        Ok(p) => Some(format!(
            "Profile {} (config version {})",
            profile.as_deref().unwrap_or("default"),
            p.version.id
        )),
        Err(e) => Some(format!("Profile not switched: {e}")),
    };
    set_notice(&app, notice);
}

async fn pause_resume<R: Runtime>(app: AppHandle<R>) {
    let host = app.state::<GatewayHost>();
    let notice = match host.status().state {
        RunState::Running => host
            .set_paused(true)
            .await
            .err()
            .map(|e| format!("Not paused: {e}")),
        RunState::Paused => host
            .set_paused(false)
            .await
            .err()
            .map(|e| format!("Not resumed: {e}")),
        RunState::Error | RunState::Stopped => {
            refresh(&app);
            host.start()
                .await
                .err()
                .map(|_| "Start failed again".to_owned())
        }
        RunState::Starting | RunState::Stopping => None,
    };
    set_notice(&app, notice);
}

async fn check_updates<R: Runtime>(app: AppHandle<R>) {
    set_notice(&app, Some("Checking for updates…".into()));
    let result = crate::updates::check(&app).await;
    let notice = match &result {
        Ok(c) => c.summary.clone(),
        Err(e) => format!("Update check failed: {}", e.message),
    };
    crate::marker::emit("update-check", &notice);
    // The Updates page can show the details.
    let payload = match result {
        Ok(c) => serde_json::json!({ "ok": true, "result": c }),
        Err(e) => serde_json::json!({ "ok": false, "error": e }),
    };
    let _ = app.emit("update-check", payload);
    set_notice(&app, Some(notice));
}

async fn install_update<R: Runtime>(app: AppHandle<R>) {
    set_notice(&app, Some("Downloading and verifying the update…".into()));
    let notice = match crate::updates::install(&app).await {
        Ok(gateway_core::update::Outcome::Updated { to, .. }) => {
            format!("Installed {to}: restart to use it")
        }
        Ok(gateway_core::update::Outcome::UpToDate { version }) => {
            format!("Up to date ({version})")
        }
        Ok(gateway_core::update::Outcome::DryRun { to, .. }) => format!("Verified {to}"),
        Err(e) => format!("Update not installed: {}", e.message),
    };
    crate::marker::emit("update-install", &notice);
    set_notice(&app, Some(notice));
}

/// Graceful: the gateway stops accepting, in-flight requests finish, then
/// the app exits 0.
pub async fn quit<R: Runtime>(app: AppHandle<R>) {
    app.state::<GatewayHost>().shutdown().await;
    app.exit(0);
}
