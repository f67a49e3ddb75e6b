//! The "Connect tools" submenu's data and clicks. The tools' state and
//! connect/disconnect go through `gateway_core::clients::service`, the
//! domain functions the admin API's handlers call (`GET /admin/api/clients`,
//! `POST …/clients/{name}/connect|disconnect`): the same files, backups,
//! client key, routing-loop check and audit entry (actor `desktop-tray`,
//! source `tray`), so the tray cannot behave differently from the window or
//! `aigw clients`.

use std::sync::atomic::Ordering;

use gateway_core::clients::{ClientInfo, ClientOutcome};
use gateway_core::sync::LockExt;
use tauri::{AppHandle, Manager, Runtime};

use super::menu::TrayTool;
use super::{TrayState, refresh as redraw, set_notice};
use crate::gateway::{GatewayHost, HostError};

/// Who the audit log names for a change made from the tray.
const ACTOR: &str = "desktop-tray";

/// The submenu's view of the list.
pub fn tray_tools(list: Vec<ClientInfo>) -> Vec<TrayTool> {
    list.into_iter()
        .map(|c| TrayTool {
            name: c.name,
            label: c.label,
            installed: c.installed,
            connected: c.connected,
            connectable: c.connectable,
        })
        .collect()
}

/// The notice after a connect or disconnect: the gateway's own message
/// (which says how the files were restored), or why it failed.
pub fn outcome_notice(
    label: &str,
    connect: bool,
    result: &Result<ClientOutcome, HostError>,
) -> String {
    match result {
        Ok(o) => match o.message.trim() {
            "" if connect => format!("{label} connected"),
            "" => format!("{label} disconnected"),
            m => m.to_owned(),
        },
        Err(e) => {
            let verb = if connect {
                "not connected"
            } else {
                "not disconnected"
            };
            format!("{label} {verb}: {e}")
        }
    }
}

/// Reads the tools' state again; the next redraw shows it. When the gateway
/// is not running, the last known state stays (its items are disabled
/// while the gateway is down).
pub async fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let (Some(host), Some(state)) = (app.try_state::<GatewayHost>(), app.try_state::<TrayState>())
    else {
        return;
    };
    match host.clients().await {
        Ok(list) => *state.tools.lock_or_recover() = Some(tray_tools(list)),
        Err(HostError::NotRunning(_)) => {}
        Err(e) => tracing::debug!("tray: cannot list tools: {e}"),
    }
    redraw(app);
}

/// A click on a tool: connect it when it is not connected, else disconnect
/// it; the result shows in the notice line and the check mark follows.
pub async fn toggle<R: Runtime>(app: AppHandle<R>, name: String) {
    let (Some(host), Some(state)) = (app.try_state::<GatewayHost>(), app.try_state::<TrayState>())
    else {
        return;
    };
    if state.toggling.swap(true, Ordering::SeqCst) {
        set_notice(
            &app,
            Some("Wait: the last tool change is still running".into()),
        );
        return;
    }
    let known = state
        .tools
        .lock_or_recover()
        .as_ref()
        .and_then(|l| l.iter().find(|t| t.name == name).cloned());
    let (label, connect) = match &known {
        Some(t) => (t.label.clone(), !t.connected),
        None => (name.clone(), true),
    };
    set_notice(
        &app,
        Some(format!(
            "{} {label}…",
            if connect {
                "Connecting"
            } else {
                "Disconnecting"
            }
        )),
    );
    let result = host.set_tool_connected(&name, connect, ACTOR).await;
    let notice = outcome_notice(&label, connect, &result);
    crate::marker::emit("tray-tool", &notice);
    refresh(&app).await;
    state.toggling.store(false, Ordering::SeqCst);
    set_notice(&app, Some(notice));
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::clients::ClientError;

    fn info(name: &str, label: &str, connectable: bool) -> ClientInfo {
        ClientInfo {
            name: name.into(),
            label: label.into(),
            installed: false,
            connected: true,
            drifted: true,
            connectable,
            files: vec![format!("/h/.{name}/config")],
            note: None,
            last_seen: Some("2026-12-04T21:00:00.000Z".into()),
        }
    }

    #[test]
    fn the_list_becomes_tray_tools() {
        let tools = tray_tools(vec![
            info("codex", "Codex CLI", true),
            info("cursor", "Cursor", false),
        ]);
        assert_eq!(
            tools,
            [
                TrayTool {
                    name: "codex".into(),
                    label: "Codex CLI".into(),
                    installed: false,
                    connected: true,
                    connectable: true
                },
                TrayTool {
                    name: "cursor".into(),
                    label: "Cursor".into(),
                    installed: false,
                    connected: true,
                    connectable: false
                }
            ]
        );
    }

    #[test]
    fn notices_carry_the_gateways_words() {
        let out = |message: &str| ClientOutcome {
            name: "codex".into(),
            connected: false,
            files: vec![],
            restored: Some("byte-exact".into()),
            message: message.into(),
            warnings: vec![],
        };
        assert_eq!(
            outcome_notice(
                "Codex CLI",
                false,
                &Ok(out("/h/.codex/config.toml restored byte for byte"))
            ),
            "/h/.codex/config.toml restored byte for byte"
        );
        assert_eq!(
            outcome_notice("Codex CLI", true, &Ok(out(" "))),
            "Codex CLI connected"
        );
        assert_eq!(
            outcome_notice("Codex CLI", false, &Ok(out(""))),
            "Codex CLI disconnected"
        );
        let refused = Err(HostError::Client(ClientError::RoutingLoop(
            "provider \"self\" is this gateway".into(),
        )));
        assert_eq!(
            outcome_notice("Codex CLI", true, &refused),
            "Codex CLI not connected: requests would loop: provider \"self\" is this gateway"
        );
        let down = Err(HostError::NotRunning("it is stopped".into()));
        assert_eq!(
            outcome_notice("Codex CLI", false, &down),
            "Codex CLI not disconnected: the gateway is not running: it is stopped"
        );
    }
}
