//! What differs per OS in the tray and the window, in one place:
//!
//! - macOS: the tray icon is a menu-bar "template" (black glyph, drawn by
//!   macOS in the bar's colour); the app has no Dock icon while its window
//!   is hidden (`ActivationPolicy::Accessory`) and a normal one while it is
//!   shown, so Cmd-Tab reaches the open window. A left click opens the
//!   menu, as menu-bar items do.
//! - Windows: a left click on the tray icon opens the window, a right click
//!   the menu (the notification area's convention).
//! - Linux: the app indicator shows the menu on any click (it reports no
//!   clicks to the app).
//!
//! Single instance (tauri-plugin-single-instance: D-Bus on Linux, a named
//! mutex and window message on Windows, a socket in the user's temp dir on
//! macOS) and start at login (tauri-plugin-autostart: an XDG autostart entry,
//! the `HKCU\…\Run` key, a LaunchAgent) are registered in `lib.rs`.

use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconEvent};
use tauri::{AppHandle, Runtime};

/// The OSes whose tray behaviour differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desktop {
    Linux,
    MacOs,
    Windows,
}

/// The OS this app was built for.
pub const CURRENT: Desktop = if cfg!(target_os = "macos") {
    Desktop::MacOs
} else if cfg!(windows) {
    Desktop::Windows
} else {
    Desktop::Linux
};

impl Desktop {
    /// Tray icons are templates (alpha only) in the macOS menu bar.
    pub fn tray_icon_is_template(self) -> bool {
        self == Desktop::MacOs
    }

    /// Whether a left click on the tray icon opens the menu (else the
    /// window, on Windows).
    pub fn menu_on_left_click(self) -> bool {
        self != Desktop::Windows
    }

    /// Whether this tray event opens the main window.
    pub fn click_opens_window(self, button: MouseButton, state: MouseButtonState) -> bool {
        self == Desktop::Windows && button == MouseButton::Left && state == MouseButtonState::Up
    }
}

/// Tray clicks: on Windows a left click opens the window.
pub fn on_tray_icon_event<R: Runtime>(tray: &TrayIcon<R>, event: TrayIconEvent) {
    let opens = match event {
        TrayIconEvent::Click {
            button,
            button_state,
            ..
        } => CURRENT.click_opens_window(button, button_state),
        TrayIconEvent::DoubleClick { button, .. } => {
            CURRENT.click_opens_window(button, MouseButtonState::Up)
        }
        _ => false,
    };
    if opens {
        crate::window::show(tray.app_handle(), None);
    }
}

/// The window is about to be shown: on macOS the app gets its Dock icon.
pub fn window_shown<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(target_os = "macos")]
    if let Err(e) = app.set_activation_policy(tauri::ActivationPolicy::Regular) {
        tracing::warn!("cannot show the Dock icon: {e}");
    }
    #[cfg(not(target_os = "macos"))]
    let _ = app;
}

/// The window was hidden (or never shown): on macOS the app leaves the
/// Dock and lives in the menu bar only.
pub fn window_hidden<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(target_os = "macos")]
    if let Err(e) = app.set_activation_policy(tauri::ActivationPolicy::Accessory) {
        tracing::warn!("cannot hide the Dock icon: {e}");
    }
    #[cfg(not(target_os = "macos"))]
    let _ = app;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_os_tray_follows_its_convention() {
        use MouseButton::{Left, Right};
        use MouseButtonState::{Down, Up};
        assert!(Desktop::MacOs.tray_icon_is_template());
        assert!(!Desktop::Windows.tray_icon_is_template());
        assert!(!Desktop::Linux.tray_icon_is_template());

        assert!(Desktop::MacOs.menu_on_left_click());
        assert!(Desktop::Linux.menu_on_left_click());
        assert!(!Desktop::Windows.menu_on_left_click());

        // Windows: the left button's release opens the window; the right
        // button is the menu's.
        assert!(Desktop::Windows.click_opens_window(Left, Up));
        assert!(!Desktop::Windows.click_opens_window(Left, Down));
        assert!(!Desktop::Windows.click_opens_window(Right, Up));
        assert!(!Desktop::MacOs.click_opens_window(Left, Up));
        assert!(!Desktop::Linux.click_opens_window(Left, Up));
    }
}
