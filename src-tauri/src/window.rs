//! The main window: showing it (optionally on a page), close-to-tray, and
//! the banner that says why the gateway is not running.
//!
//! Closing the window to the tray destroys it, and its webview with it: the
//! WebKit web process (most of the app's memory, and a timer that reads
//! `/proc/self/smaps`) goes too, so the app idles in the tray as the gateway
//! and a tray icon. [`show`] builds a new one from the `main` window of
//! `tauri.conf.json` (which the app does not create by itself: `"create":
//! false`), and the UI loads its state again. A `--hidden` (login) start
//! builds none until the window is first opened.
//!
//! Pages are addressed by the UI's hash routes (`#/providers`); the app also
//! emits a `navigate` event with the page name, for a UI that routes
//! otherwise.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tauri::webview::{PageLoadEvent, PageLoadPayload};
use tauri::{
    AppHandle, Emitter, Manager, Runtime, Webview, WebviewWindow, WebviewWindowBuilder, Window,
    WindowEvent,
};

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

/// Whether the main window exists (shown, or being built); closed to the
/// tray, it does not.
pub fn is_open<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.get_webview_window(MAIN).is_some()
}

/// Shows, unminimises and focuses the main window, building it (and its
/// webview) first when it was closed or never opened; then opens `page`.
pub fn show<R: Runtime>(app: &AppHandle<R>, page: Option<Page>) {
    let closing = CLOSING.load(Ordering::SeqCst);
    if !closing && let Some(w) = app.get_webview_window(MAIN) {
        reveal(app, &w, page);
        return;
    }
    // Callers run on the main thread (tray menu and icon events, the second
    // launch); building a webview there deadlocks on Windows (WebView2), so
    // a task asks for it and the event loop builds it.
    let Some(tasks) = app.try_state::<crate::tasks::Tasks>() else {
        return;
    };
    let handle = app.clone();
    tasks.spawn(async move {
        // A window being closed cannot be shown again: wait until it is
        // gone (about 130 ms after the close here), then build a new one.
        let mut waited = Duration::ZERO;
        while closing && handle.get_webview_window(MAIN).is_some() && waited < CLOSE_WAIT {
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
        }
        if let Some(w) = create(&handle) {
            reveal(&handle, &w, page);
        }
    });
}

/// Builds the main window, hidden, from its entry in `tauri.conf.json`:
/// the same size, title and URL (the embedded UI) each time. `None` (and a
/// warning) if it cannot be built.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> Option<WebviewWindow<R>> {
    if let Some(w) = app.get_webview_window(MAIN) {
        return Some(w);
    }
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == MAIN) else {
        tracing::error!("tauri.conf.json has no {MAIN:?} window");
        return None;
    };
    let built = WebviewWindowBuilder::from_config(app, config).and_then(|b| b.build());
    match built {
        Ok(w) => {
            crate::marker::emit("webview-created", "");
            fix_c_locale(&w);
            Some(w)
        }
        Err(e) => {
            tracing::warn!("cannot build the window: {e}");
            app.get_webview_window(MAIN)
        }
    }
}

fn reveal<R: Runtime>(app: &AppHandle<R>, w: &WebviewWindow<R>, page: Option<Page>) {
    crate::platform::window_shown(app);
    let _ = w.unminimize();
    if let Err(e) = w.show() {
        tracing::warn!("cannot show the window: {e}");
    }
    let _ = w.set_focus();
    if let Some(page) = page {
        // A new webview runs this once its page is committed, before the
        // UI's router reads the hash.
        let js = format!("window.location.hash = '#/{}';", page.name());
        if let Err(e) = w.eval(js) {
            tracing::warn!("cannot open page {}: {e}", page.name());
        }
        let _ = app.emit_to(MAIN, "navigate", page.name());
    }
}

/// The main window was closed and is not destroyed yet.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// How long [`show`] waits for a closed window to be destroyed.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The web context's languages are set (it outlives the webviews on Linux).
#[cfg(target_os = "linux")]
static LANGUAGES_SET: AtomicBool = AtomicBool::new(false);

/// Gives the page a real language when the process runs under the C locale.
///
/// WebKitGTK takes `navigator.language` from `LANGUAGE`/`LC_ALL`/
/// `LC_MESSAGES`/`LANG`; under `C` or `C.UTF-8` (containers, minimal
/// installs) it reports "C", which is no BCP 47 tag: every `Intl` call then
/// throws, and the UI's chart library calls one when it loads. The web
/// context's preferred languages override it; the page is reloaded so it
/// starts with them.
fn fix_c_locale<R: Runtime>(w: &WebviewWindow<R>) {
    // Tauri keeps the web context for the app's life on Linux, so the
    // languages set for the first webview hold for every later one, which
    // then loads with them: no reload.
    #[cfg(target_os = "linux")]
    if c_locale(|k| std::env::var(k).ok()) && !LANGUAGES_SET.swap(true, Ordering::SeqCst) {
        let r = w.with_webview(|wv| {
            use webkit2gtk::{WebContextExt, WebViewExt};
            let view = wv.inner();
            if let Some(ctx) = view.context() {
                ctx.set_preferred_languages(&["en-US"]);
            }
            view.reload();
        });
        if let Err(e) = r {
            LANGUAGES_SET.store(false, Ordering::SeqCst);
            tracing::warn!("cannot set the page language: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = w;
}

/// Whether glib's language list would start with the C locale.
// Called on Linux only; its unit test runs on every OS.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
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

/// Closing the window closes it to the tray: the window and its webview are
/// destroyed (the run loop then keeps the app, see `setup::on_run_event`),
/// the gateway keeps running, and [`show`] builds a new window ("Quit" in
/// the tray menu ends the app). Without a tray icon, closing quits.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if window.label() != MAIN {
        return;
    }
    match event {
        WindowEvent::CloseRequested { .. }
            if window
                .app_handle()
                .tray_by_id(crate::tray::TRAY_ID)
                .is_some() =>
        {
            // Unmapped at once; the webview is dropped right after.
            CLOSING.store(true, Ordering::SeqCst);
            if let Err(e) = window.hide() {
                tracing::warn!("cannot hide the window: {e}");
            }
            crate::platform::window_hidden(window.app_handle());
            crate::marker::emit("window-hidden", "");
        }
        WindowEvent::Destroyed => {
            CLOSING.store(false, Ordering::SeqCst);
            crate::marker::emit("webview-dropped", "");
        }
        _ => {}
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
