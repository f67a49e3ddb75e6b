//! The main window: showing it (optionally on a page), close-to-tray, and
//! the banner that says why the gateway is not running.
//!
//! Pages are addressed by the UI's hash routes (`#/providers`); the app also
//! emits a `navigate` event with the page name, for a UI that routes
//! otherwise.

use tauri::webview::{PageLoadEvent, PageLoadPayload};
use tauri::{AppHandle, Emitter, Manager, Runtime, Webview, Window, WindowEvent};

use crate::gateway::{GatewayHost, RunState};

pub const MAIN: &str = "main";

/// Pages the tray opens (the UI's hash routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Providers,
    Connect,
    Updates,
}

impl Page {
    pub fn name(self) -> &'static str {
        match self {
            Page::Providers => "providers",
            Page::Connect => "connect",
            Page::Updates => "settings",
        }
    }
}

/// Shows, unminimises and focuses the main window; then opens `page`.
pub fn show<R: Runtime>(app: &AppHandle<R>, page: Option<Page>) {
    let Some(w) = app.get_webview_window(MAIN) else {
        tracing::warn!("no main window");
        return;
    };
    crate::platform::window_shown(app);
    let _ = w.unminimize();
    if let Err(e) = w.show() {
        tracing::warn!("cannot show the window: {e}");
    }
    let _ = w.set_focus();
    if let Some(page) = page {
        let js = format!("window.location.hash = '#/{}';", page.name());
        if let Err(e) = w.eval(js) {
            tracing::warn!("cannot open page {}: {e}", page.name());
        }
        let _ = app.emit_to(MAIN, "navigate", page.name());
    }
}

/// Gives the page a real language when the process runs under the C locale.
///
/// WebKitGTK takes `navigator.language` from `LANGUAGE`/`LC_ALL`/
/// `LC_MESSAGES`/`LANG`; under `C` or `C.UTF-8` (containers, minimal
/// installs) it reports "C", which is no BCP 47 tag: every `Intl` call then
/// throws, and the UI's chart library calls one when it loads. The web
/// context's preferred languages override it; the page is reloaded so it
/// starts with them.
pub fn fix_c_locale<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(target_os = "linux")]
    if let Some(w) = app.get_webview_window(MAIN)
        && c_locale(|k| std::env::var(k).ok())
    {
        let r = w.with_webview(|wv| {
            use webkit2gtk::{WebContextExt, WebViewExt};
            let view = wv.inner();
            if let Some(ctx) = view.context() {
                ctx.set_preferred_languages(&["en-US"]);
            }
            view.reload();
        });
        if let Err(e) = r {
            tracing::warn!("cannot set the page language: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = app;
}

/// Whether glib's language list would start with the C locale.
fn c_locale(var: impl Fn(&str) -> Option<String>) -> bool {
    let first = ["LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .find_map(|k| var(k).filter(|v| !v.is_empty()));
    match first {
        None => true,
        Some(v) => {
            let v = v.split(':').next().unwrap_or_default();
            v == "C" || v.starts_with("C.") || v == "POSIX"
        }
    }
}

/// Closing the window hides it: the gateway keeps running in the tray
/// ("Quit" in the tray menu ends the app). Without a tray icon, closing quits.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event
        && window.label() == MAIN
        && window
            .app_handle()
            .tray_by_id(crate::tray::TRAY_ID)
            .is_some()
    {
        api.prevent_close();
        if let Err(e) = window.hide() {
            tracing::warn!("cannot hide the window: {e}");
        }
        crate::platform::window_hidden(window.app_handle());
        crate::marker::emit("window-hidden", "");
    }
}

/// Once a page has loaded: report `frontend-ready` when the UI has rendered
/// (for the smoke test), and when the gateway failed to start, show a
/// banner with the reason, whatever UI is embedded.
pub fn on_page_load<R: Runtime>(webview: &Webview<R>, payload: &PageLoadPayload<'_>) {
    if payload.event() != PageLoadEvent::Finished {
        return;
    }
    let _ = webview.eval(READY_PROBE);
    let status = webview.state::<GatewayHost>().status();
    if status.state == RunState::Error
        && let Some(err) = status.error
    {
        let _ = webview.eval(banner_js(&err.message));
    }
}

/// Removes the banner (after a successful retry).
pub fn clear_banner<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.eval("document.getElementById('aigw-desktop-banner')?.remove();");
    }
}

/// Shows the banner in an already loaded page.
pub fn show_banner<R: Runtime>(app: &AppHandle<R>, message: &str) {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.eval(banner_js(message));
    }
}

/// Calls `frontend_ready` once the UI has rendered something into its root
/// (React's `#root`, or any page without one), within 30 s.
const READY_PROBE: &str = r#"(function () {
  var n = 0;
  (function poll() {
    var root = document.getElementById('root');
    var rendered = root ? root.childElementCount > 0 : document.body && document.body.childElementCount > 0;
    if (rendered && window.__TAURI__) {
      var h = document.querySelector('h1');
      window.__TAURI__.core.invoke('frontend_ready', { href: location.href + ' ' + (h ? h.textContent : '') });
    } else if (n++ < 300) setTimeout(poll, 100);
  })();
})();"#;

fn banner_js(message: &str) -> String {
    // The message goes in as a JSON string literal and is set as text: it
    // can hold quotes, never markup.
    let msg =
        serde_json::Value::String(format!("The gateway is not running. {message}")).to_string();
    format!(
        r#"(function () {{
  var old = document.getElementById('aigw-desktop-banner'); if (old) old.remove();
  var b = document.createElement('div');
  b.id = 'aigw-desktop-banner'; b.setAttribute('role', 'alert');
  b.style.cssText = 'position:fixed;top:0;left:0;right:0;z-index:2147483647;padding:12px 16px;background:#b91c1c;color:#fff;font:14px/1.4 system-ui,sans-serif;display:flex;gap:12px;align-items:center;box-shadow:0 2px 8px rgba(0,0,0,.3)';
  var t = document.createElement('span'); t.style.flex = '1'; t.textContent = {msg};
  var r = document.createElement('button'); r.textContent = 'Retry';
  r.style.cssText = 'background:#fff;color:#b91c1c;border:0;border-radius:4px;padding:6px 12px;font-weight:600;cursor:pointer';
  r.onclick = function () {{ window.__TAURI__.core.invoke('retry_start').then(function () {{ location.reload(); }}, function (e) {{ t.textContent = 'The gateway is not running. ' + (e && e.message || e); }}); }};
  b.appendChild(t); b.appendChild(r); document.body.appendChild(b);
}})();"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_locale_is_detected_like_glib_does() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(c_locale(env(&[])));
        assert!(c_locale(env(&[("LANG", "C.UTF-8")])));
        assert!(c_locale(env(&[
            ("LC_ALL", "POSIX"),
            ("LANG", "de_DE.UTF-8")
        ])));
        assert!(!c_locale(env(&[("LANG", "de_DE.UTF-8")])));
        assert!(!c_locale(env(&[
            ("LANGUAGE", "fr:en"),
            ("LANG", "C.UTF-8")
        ])));
        assert!(!c_locale(env(&[("LANGUAGE", ""), ("LANG", "en_US.UTF-8")])));
    }
}
