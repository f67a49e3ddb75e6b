//! The tray menu: every item id in one enum ([`MenuId`]), and the menu as
//! plain data ([`model`]) computed from the gateway's status, so what the
//! tray shows is tested without a display. `build` turns it into Tauri menu
//! items.

use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Runtime};

use crate::gateway::{HostStatus, RunState};

/// Every tray menu item. The string form given to Tauri is private to
/// [`MenuId::encode`] and [`MenuId::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuId {
    /// The disabled status line.
    Status,
    /// The disabled line with the last action's result.
    Notice,
    CopyEndpoint,
    OpenWindow,
    /// The "Routing profile" submenu.
    Profiles,
    /// A routing profile; `None` = the top-level routes.
    Profile(Option<String>),
    ManageKeys,
    /// The "Connect tools" submenu.
    Tools,
    /// A coding agent (`gateway_core::clients::Tool::name`): checked while
    /// connected; a click connects or disconnects it.
    Tool(String),
    /// The disabled line in it while no tool is known (gateway not running).
    ToolsNote,
    /// The window on the Connect tools page.
    OpenConnectTools,
    /// Pause, resume, or retry a failed start, depending on the state.
    PauseResume,
    StartAtLogin,
    CheckUpdates,
    /// "Install update X" after a check found one.
    InstallUpdate,
    /// "Restart to use X" once a new version is installed on disk.
    RestartToUpdate,
    Quit,
}

const PROFILE: &str = "profile:";
const TOOL: &str = "tool:";

impl MenuId {
    pub fn encode(&self) -> String {
        match self {
            MenuId::Status => "status".into(),
            MenuId::Notice => "notice".into(),
            MenuId::CopyEndpoint => "copy-endpoint".into(),
            MenuId::OpenWindow => "open-window".into(),
            MenuId::Profiles => "profiles".into(),
            MenuId::Profile(None) => "profile-default".into(),
            MenuId::Profile(Some(name)) => format!("{PROFILE}{name}"),
            MenuId::ManageKeys => "manage-keys".into(),
            MenuId::Tools => "tools".into(),
            MenuId::Tool(name) => format!("{TOOL}{name}"),
            MenuId::ToolsNote => "tools-note".into(),
            MenuId::OpenConnectTools => "open-connect-tools".into(),
            MenuId::PauseResume => "pause-resume".into(),
            MenuId::StartAtLogin => "start-at-login".into(),
            MenuId::CheckUpdates => "check-updates".into(),
            MenuId::InstallUpdate => "install-update".into(),
            MenuId::RestartToUpdate => "restart-to-update".into(),
            MenuId::Quit => "quit".into(),
        }
    }

    pub fn parse(id: &str) -> Option<Self> {
        Some(match id {
            "status" => MenuId::Status,
            "notice" => MenuId::Notice,
            "copy-endpoint" => MenuId::CopyEndpoint,
            "open-window" => MenuId::OpenWindow,
            "profiles" => MenuId::Profiles,
            "profile-default" => MenuId::Profile(None),
            "manage-keys" => MenuId::ManageKeys,
            "tools" => MenuId::Tools,
            "tools-note" => MenuId::ToolsNote,
            "open-connect-tools" => MenuId::OpenConnectTools,
            "pause-resume" => MenuId::PauseResume,
            "start-at-login" => MenuId::StartAtLogin,
            "check-updates" => MenuId::CheckUpdates,
            "install-update" => MenuId::InstallUpdate,
            "restart-to-update" => MenuId::RestartToUpdate,
            "quit" => MenuId::Quit,
            other => match other.strip_prefix(TOOL) {
                Some(name) if !name.is_empty() => MenuId::Tool(name.to_owned()),
                Some(_) => return None,
                None => MenuId::Profile(Some(other.strip_prefix(PROFILE)?.to_owned())),
            },
        })
    }
}

/// What the tray shows: the gateway's status plus the desktop's own bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayModel {
    pub status: HostStatus,
    pub autostart: bool,
    /// The last tray action's result ("Endpoint copied", an error…).
    pub notice: Option<String>,
    pub update: Option<TrayUpdate>,
    /// The coding agents and whether each is connected (`GET
    /// /admin/api/clients`); `None` until the gateway has answered.
    pub tools: Option<Vec<TrayTool>>,
}

/// One coding agent as the "Connect tools" submenu shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayTool {
    /// `claude-code`, `codex`…
    pub name: String,
    /// "Claude Code"…
    pub label: String,
    pub installed: bool,
    pub connected: bool,
    /// Only connectable tools get an item (Cursor is guided in the window).
    pub connectable: bool,
}

pub const TOOLS_LABEL: &str = "Connect tools";
pub const OPEN_CONNECT_TOOLS_LABEL: &str = "Open Connect tools page";

/// A tool's item label: its name, and whether it was found when that helps
/// (a connected tool is checked, which says enough).
pub fn tool_label(t: &TrayTool) -> String {
    match (t.connected, t.installed) {
        (true, _) => t.label.clone(),
        (false, true) => format!("{} (installed)", t.label),
        (false, false) => format!("{} (not found)", t.label),
    }
}

/// The "Connect tools" submenu: a check item per connectable tool, then the
/// window's page (where Cursor, the previews and the launchers are).
fn tools_submenu(tools: Option<&[TrayTool]>, up: bool) -> Entry {
    let mut items: Vec<Entry> = match tools {
        Some(list) => list
            .iter()
            .filter(|t| t.connectable)
            .map(|t| Entry::Check {
                id: MenuId::Tool(t.name.clone()),
                label: tool_label(t),
                enabled: up,
                checked: t.connected,
            })
            .collect(),
        None => Vec::new(),
    };
    if items.is_empty() {
        let why = if up {
            "Looking for tools…"
        } else {
            "The gateway is not running"
        };
        items.push(Entry::Item {
            id: MenuId::ToolsNote,
            label: why.into(),
            enabled: false,
        });
    }
    items.push(Entry::Separator);
    items.push(Entry::Item {
        id: MenuId::OpenConnectTools,
        label: OPEN_CONNECT_TOOLS_LABEL.into(),
        enabled: true,
    });
    Entry::Submenu {
        id: MenuId::Tools,
        label: TOOLS_LABEL.into(),
        enabled: true,
        items,
    }
}

/// What the tray offers about updates besides "Check for updates…".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayUpdate {
    /// The last check found this version.
    Available(String),
    /// This version is installed on disk; a restart runs it.
    RestartPending(String),
}

/// One menu entry, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Item {
        id: MenuId,
        label: String,
        enabled: bool,
    },
    Check {
        id: MenuId,
        label: String,
        enabled: bool,
        checked: bool,
    },
    Submenu {
        id: MenuId,
        label: String,
        enabled: bool,
        items: Vec<Entry>,
    },
    Separator,
}

pub const DEFAULT_PROFILE_LABEL: &str = "default (top-level routes)";

/// The status line: "Running on 127.0.0.1:4000", "Paused", "Error: …".
pub fn status_line(s: &HostStatus) -> String {
    let addr = s.listen.map(|a| a.to_string()).unwrap_or_default();
    match s.state {
        RunState::Running if s.config_file_error.is_some() => {
            format!("Running on {addr} (config file invalid: last good version)")
        }
        RunState::Running => format!("Running on {addr}"),
        RunState::Paused => "Paused".into(),
        RunState::Error => {
            let why = s
                .error
                .as_ref()
                .map(|e| e.message.as_str())
                .unwrap_or("unknown");
            format!("Error: {}", truncate(why, 90))
        }
        RunState::Starting => "Starting…".into(),
        RunState::Stopping => "Stopping…".into(),
        RunState::Stopped => "Stopped".into(),
    }
}

pub fn model(m: &TrayModel) -> Vec<Entry> {
    let s = &m.status;
    let up = matches!(s.state, RunState::Running | RunState::Paused);
    let item = |id, label: &str, enabled| Entry::Item {
        id,
        label: label.into(),
        enabled,
    };
    let mut v = vec![item(MenuId::Status, &status_line(s), false)];
    if let Some(n) = &m.notice {
        v.push(item(MenuId::Notice, &truncate(n, 90), false));
    }
    v.push(Entry::Separator);
    v.push(item(MenuId::CopyEndpoint, "Copy endpoint URL", up));
    v.push(item(MenuId::OpenWindow, "Open window", true));
    let mut profiles = vec![Entry::Check {
        id: MenuId::Profile(None),
        label: DEFAULT_PROFILE_LABEL.into(),
        enabled: up,
        checked: s.active_profile.is_none(),
    }];
    profiles.extend(s.profiles.iter().map(|p| Entry::Check {
        id: MenuId::Profile(Some(p.clone())),
        label: p.clone(),
        enabled: up,
        checked: s.active_profile.as_deref() == Some(p),
    }));
    v.push(Entry::Submenu {
        id: MenuId::Profiles,
        label: "Routing profile".into(),
        enabled: up,
        items: profiles,
    });
    v.push(tools_submenu(m.tools.as_deref(), up));
    v.push(item(MenuId::ManageKeys, "Manage keys…", true));
    let (label, enabled) = match s.state {
        RunState::Running => ("Pause", true),
        RunState::Paused => ("Resume", true),
        RunState::Error | RunState::Stopped => ("Retry start", true),
        RunState::Starting | RunState::Stopping => ("Pause", false),
    };
    v.push(item(MenuId::PauseResume, label, enabled));
    v.push(Entry::Separator);
    v.push(Entry::Check {
        id: MenuId::StartAtLogin,
        label: "Start at login".into(),
        enabled: true,
        checked: m.autostart,
    });
    v.push(item(MenuId::CheckUpdates, "Check for updates…", true));
    match &m.update {
        Some(TrayUpdate::RestartPending(version)) => v.push(item(
            MenuId::RestartToUpdate,
            &format!("Restart to use {version}"),
            s.state != RunState::Stopping,
        )),
        Some(TrayUpdate::Available(version)) => v.push(item(
            MenuId::InstallUpdate,
            &format!("Install update {version}"),
            true,
        )),
        None => {}
    }
    v.push(Entry::Separator);
    v.push(item(MenuId::Quit, "Quit", s.state != RunState::Stopping));
    v
}

/// The tooltip (and the icon's accessible name).
pub fn tooltip(s: &HostStatus) -> String {
    format!("AI Model Gateway — {}", status_line(s))
}

fn truncate(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() <= max && line.len() == s.len() {
        return line.to_owned();
    }
    let mut t: String = line.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Turns the model into a Tauri menu.
pub fn build<R: Runtime>(app: &AppHandle<R>, entries: &[Entry]) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    for e in entries {
        append(app, e, &|i| menu.append(i))?;
    }
    Ok(menu)
}

fn append<R: Runtime>(
    app: &AppHandle<R>,
    e: &Entry,
    add: &dyn Fn(&dyn IsMenuItem<R>) -> tauri::Result<()>,
) -> tauri::Result<()> {
    match e {
        Entry::Item { id, label, enabled } => add(&MenuItem::with_id(
            app,
            id.encode(),
            label,
            *enabled,
            None::<&str>,
        )?),
        Entry::Check {
            id,
            label,
            enabled,
            checked,
        } => add(&CheckMenuItem::with_id(
            app,
            id.encode(),
            label,
            *enabled,
            *checked,
            None::<&str>,
        )?),
        Entry::Submenu {
            id,
            label,
            enabled,
            items,
        } => {
            let sub = Submenu::with_id(app, id.encode(), label, *enabled)?;
            for i in items {
                append(app, i, &|x| sub.append(x))?;
            }
            add(&sub)
        }
        Entry::Separator => add(&PredefinedMenuItem::separator(app)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{Failure, FailureKind};

    fn status(state: RunState) -> HostStatus {
        HostStatus {
            state,
            listen: Some("127.0.0.1:4000".parse().unwrap()),
            endpoint: Some("http://127.0.0.1:4000/v1".into()),
            error: None,
            profiles: vec!["cheap".into(), "local-only".into()],
            active_profile: Some("local-only".into()),
            config_version: Some(3),
            config_file_error: None,
            config_path: None,
            data_dir: None,
        }
    }

    fn labels(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .filter_map(|e| match e {
                Entry::Item { label, .. }
                | Entry::Check { label, .. }
                | Entry::Submenu { label, .. } => Some(label.clone()),
                Entry::Separator => None,
            })
            .collect()
    }

    #[test]
    fn the_status_line_says_when_the_last_good_version_serves() {
        let mut s = status(RunState::Running);
        assert_eq!(status_line(&s), "Running on 127.0.0.1:4000");
        s.config_file_error = Some("config.toml:3: bogus".into());
        assert_eq!(
            status_line(&s),
            "Running on 127.0.0.1:4000 (config file invalid: last good version)"
        );
    }

    #[test]
    fn ids_round_trip() {
        let all = [
            MenuId::Status,
            MenuId::Notice,
            MenuId::CopyEndpoint,
            MenuId::OpenWindow,
            MenuId::Profiles,
            MenuId::Profile(None),
            MenuId::Profile(Some("local-only".into())),
            MenuId::Profile(Some("default".into())),
            MenuId::ManageKeys,
            MenuId::Tools,
            MenuId::ToolsNote,
            MenuId::Tool("claude-code".into()),
            MenuId::Tool("profile:x".into()),
            MenuId::OpenConnectTools,
            MenuId::PauseResume,
            MenuId::StartAtLogin,
            MenuId::CheckUpdates,
            MenuId::InstallUpdate,
            MenuId::RestartToUpdate,
            MenuId::Quit,
        ];
        for id in all {
            assert_eq!(MenuId::parse(&id.encode()), Some(id.clone()), "{id:?}");
        }
        assert_eq!(MenuId::parse("nonsense"), None);
        assert_eq!(MenuId::parse("tool:"), None);
        // A profile named like a tool id stays a profile.
        assert_eq!(
            MenuId::parse(&MenuId::Profile(Some("tool:codex".into())).encode()),
            Some(MenuId::Profile(Some("tool:codex".into())))
        );
    }

    #[test]
    fn running_menu_has_every_action() {
        let m = TrayModel {
            status: status(RunState::Running),
            autostart: false,
            notice: None,
            update: None,
            tools: None,
        };
        assert_eq!(
            labels(&model(&m)),
            [
                "Running on 127.0.0.1:4000",
                "Copy endpoint URL",
                "Open window",
                "Routing profile",
                "Connect tools",
                "Manage keys…",
                "Pause",
                "Start at login",
                "Check for updates…",
                "Quit"
            ]
        );
    }

    #[test]
    fn profiles_submenu_checks_the_active_one() {
        let m = TrayModel {
            status: status(RunState::Running),
            autostart: true,
            notice: None,
            update: None,
            tools: None,
        };
        let entries = model(&m);
        let Some(Entry::Submenu { items, .. }) =
            entries.iter().find(|e| matches!(e, Entry::Submenu { .. }))
        else {
            panic!("no profiles submenu");
        };
        let checks: Vec<(String, bool)> = items
            .iter()
            .map(|e| match e {
                Entry::Check { label, checked, .. } => (label.clone(), *checked),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            checks,
            [
                (DEFAULT_PROFILE_LABEL.into(), false),
                ("cheap".into(), false),
                ("local-only".into(), true)
            ]
        );
        assert!(entries.contains(&Entry::Check {
            id: MenuId::StartAtLogin,
            label: "Start at login".into(),
            enabled: true,
            checked: true
        }));
    }

    #[test]
    fn paused_and_error_states() {
        let m = TrayModel {
            status: status(RunState::Paused),
            autostart: false,
            notice: Some("Paused from the tray".into()),
            update: None,
            tools: None,
        };
        let l = labels(&model(&m));
        assert_eq!(l[0], "Paused");
        assert_eq!(l[1], "Paused from the tray");
        assert!(l.contains(&"Resume".to_string()));

        let mut s = status(RunState::Error);
        s.listen = None;
        s.error = Some(Failure {
            kind: FailureKind::PortInUse,
            message: "127.0.0.1:4000 is already in use. Is another AI Model Gateway running?"
                .into(),
        });
        let entries = model(&TrayModel {
            status: s,
            autostart: false,
            notice: None,
            update: None,
            tools: None,
        });
        let l = labels(&entries);
        assert!(
            l[0].starts_with("Error: 127.0.0.1:4000 is already in use"),
            "{}",
            l[0]
        );
        assert!(l.contains(&"Retry start".to_string()));
        // Nothing to copy or switch while no gateway runs.
        assert!(entries.contains(&Entry::Item {
            id: MenuId::CopyEndpoint,
            label: "Copy endpoint URL".into(),
            enabled: false
        }));
    }

    #[test]
    fn long_errors_are_cut_to_one_line() {
        let t = truncate(&format!("{}\nsecond line", "x".repeat(200)), 20);
        assert_eq!(t.chars().count(), 20);
        assert!(t.ends_with('…'));
        assert_eq!(truncate("short", 20), "short");
        assert_eq!(truncate("one\ntwo", 20), "one…");
    }

    #[test]
    fn update_items_follow_the_last_check_and_the_install() {
        let base = TrayModel {
            status: status(RunState::Running),
            autostart: false,
            notice: None,
            update: None,
            tools: None,
        };
        let after = |update| {
            let l = labels(&model(&TrayModel {
                update: Some(update),
                ..base.clone()
            }));
            let i = l.iter().position(|x| x == "Check for updates…").unwrap();
            l[i + 1].clone()
        };
        assert_eq!(
            after(TrayUpdate::Available("0.2.0".into())),
            "Install update 0.2.0"
        );
        assert_eq!(
            after(TrayUpdate::RestartPending("0.2.0".into())),
            "Restart to use 0.2.0"
        );
        let l = labels(&model(&base));
        assert!(
            !l.iter()
                .any(|x| x.starts_with("Install update") || x.starts_with("Restart to"))
        );
    }

    fn tool(name: &str, label: &str, installed: bool, connected: bool) -> TrayTool {
        TrayTool {
            name: name.into(),
            label: label.into(),
            installed,
            connected,
            connectable: true,
        }
    }

    fn tools_items(m: &TrayModel) -> Vec<Entry> {
        let entries = model(m);
        let Some(Entry::Submenu { items, enabled, .. }) = entries
            .into_iter()
            .find(|e| matches!(e, Entry::Submenu { label, .. } if label == TOOLS_LABEL))
        else {
            panic!("no Connect tools submenu");
        };
        assert!(enabled, "the submenu opens even when the gateway is down");
        items
    }

    #[test]
    fn tools_submenu_checks_the_connected_ones() {
        let mut cursor = tool("cursor", "Cursor", true, false);
        cursor.connectable = false;
        let m = TrayModel {
            status: status(RunState::Running),
            autostart: false,
            notice: None,
            update: None,
            tools: Some(vec![
                tool("claude-code", "Claude Code", true, true),
                tool("codex", "Codex CLI", true, false),
                tool("opencode", "opencode", false, false),
                cursor,
            ]),
        };
        let items = tools_items(&m);
        assert_eq!(
            items,
            [
                Entry::Check {
                    id: MenuId::Tool("claude-code".into()),
                    label: "Claude Code".into(),
                    enabled: true,
                    checked: true
                },
                Entry::Check {
                    id: MenuId::Tool("codex".into()),
                    label: "Codex CLI (installed)".into(),
                    enabled: true,
                    checked: false
                },
                Entry::Check {
                    id: MenuId::Tool("opencode".into()),
                    label: "opencode (not found)".into(),
                    enabled: true,
                    checked: false
                },
                Entry::Separator,
                Entry::Item {
                    id: MenuId::OpenConnectTools,
                    label: OPEN_CONNECT_TOOLS_LABEL.into(),
                    enabled: true
                },
            ]
        );
        // Disconnecting Claude Code moves its check mark on the next rebuild.
        let mut after = m.clone();
        if let Some(t) = after.tools.as_mut() {
            t[0].connected = false;
        }
        assert_ne!(after, m, "a changed tool state makes the tray redraw");
        assert!(tools_items(&after).contains(&Entry::Check {
            id: MenuId::Tool("claude-code".into()),
            label: "Claude Code (installed)".into(),
            enabled: true,
            checked: false
        }));
    }

    #[test]
    fn tools_submenu_without_a_gateway() {
        let mut s = status(RunState::Error);
        s.listen = None;
        let m = TrayModel {
            status: s,
            autostart: false,
            notice: None,
            update: None,
            tools: Some(vec![tool("codex", "Codex CLI", true, true)]),
        };
        // Known tools stay listed but cannot be toggled; the page still opens.
        let items = tools_items(&m);
        assert!(matches!(
            &items[0],
            Entry::Check {
                enabled: false,
                checked: true,
                ..
            }
        ));
        assert!(matches!(
            items.last(),
            Some(Entry::Item {
                id: MenuId::OpenConnectTools,
                enabled: true,
                ..
            })
        ));
        let unknown = tools_items(&TrayModel {
            tools: None,
            ..m.clone()
        });
        assert_eq!(
            unknown[0],
            Entry::Item {
                id: MenuId::ToolsNote,
                label: "The gateway is not running".into(),
                enabled: false
            }
        );
        let looking = tools_items(&TrayModel {
            status: status(RunState::Running),
            tools: None,
            ..m
        });
        assert!(matches!(&looking[0], Entry::Item { label, .. } if label == "Looking for tools…"));
    }
}
