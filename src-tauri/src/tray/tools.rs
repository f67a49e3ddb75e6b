//! The "Connect tools" submenu's data and clicks. The tools' state and
//! connect/disconnect go through the admin API in-process (`GET
//! /admin/api/clients`, `POST …/clients/{name}/connect|disconnect`): the
//! same handlers, key minting, routing-loop check and audit as the window
//! and `aigw clients`, so the tray cannot behave differently.

use std::sync::atomic::Ordering;

use gateway_core::sync::LockExt;
use serde::Deserialize;
use serde_json::Value;
use tauri::{AppHandle, Manager, Runtime};

use super::menu::TrayTool;
use super::{TrayState, refresh as redraw, set_notice};
use crate::gateway::{AdminResponse, GatewayHost, api_message};

const LIST: &str = "/admin/api/clients";

/// One element of `GET /admin/api/clients` (the fields the tray needs).
#[derive(Deserialize)]
struct Row {
    name: String,
    label: String,
    installed: bool,
    connected: bool,
    connectable: bool,
}

#[derive(Deserialize)]
struct List {
    clients: Vec<Row>,
}

/// The tools from a `GET /admin/api/clients` answer; `None` for anything
/// else (an error, an older gateway without the endpoint).
pub fn parse_list(resp: &AdminResponse) -> Option<Vec<TrayTool>> {
    if resp.status != 200 {
        return None;
    }
    let list = List::deserialize(&resp.body).ok()?;
    Some(
        list.clients
            .into_iter()
            .map(|r| TrayTool {
                name: r.name,
                label: r.label,
                installed: r.installed,
                connected: r.connected,
                connectable: r.connectable,
            })
            .collect(),
    )
}

/// The notice after a connect or disconnect: the gateway's own message
/// (which says how the files were restored), or why it failed.
pub fn outcome_notice(label: &str, connect: bool, resp: &AdminResponse) -> String {
    if (200..300).contains(&resp.status) {
        let msg = resp
            .body
            .get("message")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|m| !m.is_empty());
        match msg {
            Some(m) => m.to_owned(),
            None if connect => format!("{label} connected"),
            None => format!("{label} disconnected"),
        }
    } else {
        let verb = if connect {
            "not connected"
        } else {
            "not disconnected"
        };
        format!("{label} {verb}: {}", api_message(&resp.body))
    }
}

/// Reads the tools' state again; the next redraw shows it. When the gateway
/// does not answer, the last known state stays (its items are disabled
/// while the gateway is down).
pub async fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let (Some(host), Some(state)) = (app.try_state::<GatewayHost>(), app.try_state::<TrayState>())
    else {
        return;
    };
    match host.admin_request("GET", LIST, None).await {
        Ok(resp) => {
            if let Some(tools) = parse_list(&resp) {
                *state.tools.lock_or_recover() = Some(tools);
            } else if resp.status != 503 {
                tracing::debug!("tray: {LIST} answered {}", resp.status);
            }
        }
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
    let action = if connect { "connect" } else { "disconnect" };
    let path = format!("{LIST}/{name}/{action}");
    let notice = match host
        .admin_request("POST", &path, Some(serde_json::json!({})))
        .await
    {
        Ok(resp) => outcome_notice(&label, connect, &resp),
        Err(e) => format!("{label} {action} failed: {e}"),
    };
    crate::marker::emit("tray-tool", &notice);
    refresh(&app).await;
    state.toggling.store(false, Ordering::SeqCst);
    set_notice(&app, Some(notice));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resp(status: u16, body: Value) -> AdminResponse {
        AdminResponse { status, body }
    }

    #[test]
    fn list_answers_become_tray_tools() {
        let body = json!({"gateway": "http://127.0.0.1:4000", "clients": [
            {"name": "claude-code", "label": "Claude Code", "installed": true, "connected": true,
             "drifted": false, "connectable": true, "files": ["/h/.claude/settings.json"],
             "note": null, "last_seen": null},
            {"name": "cursor", "label": "Cursor", "installed": false, "connected": false,
             "drifted": false, "connectable": false, "files": [], "note": "guided", "last_seen": null}
        ]});
        let tools = parse_list(&resp(200, body.clone())).unwrap();
        assert_eq!(tools.len(), 2);
        assert_eq!(
            tools[0],
            TrayTool {
                name: "claude-code".into(),
                label: "Claude Code".into(),
                installed: true,
                connected: true,
                connectable: true
            }
        );
        assert!(!tools[1].connectable);
        assert_eq!(parse_list(&resp(503, body)), None);
        assert_eq!(
            parse_list(&resp(404, json!({"error": {"message": "no"}}))),
            None
        );
        assert_eq!(parse_list(&resp(200, json!({"clients": "nope"}))), None);
    }

    #[test]
    fn the_cores_list_type_parses() {
        // What `GET /admin/api/clients` serializes, from the core's own type:
        // a renamed field there fails here, not silently in the tray.
        let info = gateway_core::clients::ClientInfo {
            name: "codex".into(),
            label: "Codex CLI".into(),
            installed: false,
            connected: true,
            drifted: true,
            connectable: true,
            files: vec!["/h/.codex/config.toml".into()],
            note: None,
            last_seen: Some("2026-12-04T21:00:00.000Z".into()),
        };
        let body = json!({"gateway": "http://127.0.0.1:4000", "clients": [info]});
        let tools = parse_list(&resp(200, body)).unwrap();
        assert_eq!(
            tools,
            [TrayTool {
                name: "codex".into(),
                label: "Codex CLI".into(),
                installed: false,
                connected: true,
                connectable: true
            }]
        );
    }

    #[test]
    fn notices_carry_the_gateways_words() {
        let ok = resp(
            200,
            json!({"name": "codex", "connected": false, "files": [], "restored": "byte-exact",
                   "message": "Codex CLI disconnected; config.toml restored byte-exact", "warnings": []}),
        );
        assert_eq!(
            outcome_notice("Codex CLI", false, &ok),
            "Codex CLI disconnected; config.toml restored byte-exact"
        );
        let bare = resp(
            200,
            json!({"name": "codex", "connected": true, "message": ""}),
        );
        assert_eq!(
            outcome_notice("Codex CLI", true, &bare),
            "Codex CLI connected"
        );
        let refused = resp(
            409,
            json!({"error": {"message": "the gateway would call itself", "type": "invalid_request_error", "code": "routing_loop"}}),
        );
        assert_eq!(
            outcome_notice("Codex CLI", true, &refused),
            "Codex CLI not connected: the gateway would call itself"
        );
    }
}
