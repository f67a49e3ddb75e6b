//! The window's commands against a real in-process gateway, through Tauri's
//! mock runtime (no display, no D-Bus): what the UI does through
//! `invoke(...)` — admin API round trips, pause, routing profiles — and what
//! it sees when the port is taken.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use aigw_desktop::commands;
use aigw_desktop::gateway::{GatewayHost, HostOptions};
use gateway_core::config::Paths;
use gateway_core::secrets::admin::AdminTokens;
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

const CONFIG: &str = r#"# the desktop test config: comments survive a profile switch
[server]
listen = "127.0.0.1:4000"

[[providers]]
name = "local"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[[routes]]
model = "chat"
[[routes.targets]]
provider = "local"

[profiles.local-only]
[[profiles.local-only.routes]]
model = "chat"
[[profiles.local-only.routes.targets]]
provider = "local"
model = "small"

[profiles.cheap]
[[profiles.cheap.routes]]
model = "chat"
[[profiles.cheap.routes.targets]]
provider = "local"
model = "tiny"
"#;

fn options(dir: &Path, listen: &str) -> HostOptions {
    let config_file = dir.join("config.toml");
    if !config_file.exists() {
        std::fs::write(&config_file, CONFIG).unwrap();
    }
    HostOptions {
        paths: Paths {
            config_file,
            data_dir: dir.join("data"),
        },
        listen: Some(listen.parse().unwrap()),
        // Never the developer's keychain.
        admin_tokens: Some(AdminTokens::ephemeral()),
        // As the app runs: connections on their own threads.
        serve_threads: 2,
    }
}

/// A mock app managing a started host, and its window.
fn app_with(host: GatewayHost) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = mock_builder()
        .manage(host)
        .invoke_handler(commands::handler())
        .build(mock_context(noop_assets()))
        .unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, window)
}

fn started(dir: &Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let host = GatewayHost::new(options(dir, "127.0.0.1:0"));
    tauri::async_runtime::block_on(host.start()).unwrap();
    app_with(host)
}

/// `invoke(cmd, args)` as the page does; `Err` is the rejection value.
fn invoke(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let req = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(w, req).map(|b| b.deserialize::<Value>().unwrap())
}

fn admin(w: &WebviewWindow<MockRuntime>, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = invoke(
        w,
        "admin_request",
        json!({ "method": method, "path": path, "body": body }),
    )
    .unwrap();
    (r["status"].as_u64().unwrap() as u16, r["body"].clone())
}

#[test]
fn admin_request_round_trips_through_the_gateway_router() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, w) = started(dir.path());

    let (status, body) = admin(&w, "GET", "/admin/api/status", Value::Null);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["paused"], false);
    assert_eq!(body["profiles"], json!(["cheap", "local-only"]));
    let desktop = invoke(&w, "desktop_status", json!({})).unwrap();
    assert_eq!(desktop["state"], "running");
    assert_eq!(body["listen"], desktop["listen"]);
    assert_eq!(
        desktop["endpoint"],
        format!("http://{}/v1", desktop["listen"].as_str().unwrap())
    );

    // A write with a JSON body, validated by the gateway.
    let (status, body) = admin(
        &w,
        "POST",
        "/admin/api/config/validate",
        json!({ "toml": "[server]\nlisten = 5" }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["valid"], false);

    // Query strings pass through; API errors keep their shape and status.
    let (status, body) = admin(&w, "GET", "/admin/api/config/history?limit=1", Value::Null);
    assert_eq!(status, 200);
    assert_eq!(body["versions"].as_array().map(Vec::len), Some(1), "{body}");
    let (status, body) = admin(&w, "GET", "/admin/api/config/versions/999", Value::Null);
    assert_eq!(status, 404);
    assert!(body["error"]["message"].is_string(), "{body}");

    // Method names are case-insensitive; garbage is refused as {code, message}.
    assert_eq!(admin(&w, "get", "/healthz", Value::Null).0, 200);
    let err = invoke(
        &w,
        "admin_request",
        json!({ "method": "GET", "path": "http://evil.example/" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_request", "{err}");
    let err = invoke(
        &w,
        "admin_request",
        json!({ "method": "GET IT", "path": "/healthz" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_request", "{err}");
}

#[test]
fn pause_refuses_client_requests_until_resumed_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, w) = started(dir.path());
    let chat = json!({ "model": "chat", "messages": [{ "role": "user", "content": "hi" }] });

    let s = invoke(&w, "set_paused", json!({ "paused": true })).unwrap();
    assert_eq!(s["state"], "paused");
    let (status, body) = admin(&w, "POST", "/v1/chat/completions", chat.clone());
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "gateway_paused");

    let s = invoke(&w, "set_paused", json!({ "paused": false })).unwrap();
    assert_eq!(s["state"], "running");
    // Running again: the request reaches routing (the fake upstream port is
    // closed, so it fails upstream — but it is no longer refused as paused).
    let (status, body) = admin(&w, "POST", "/v1/chat/completions", chat);
    assert_ne!(body["error"]["code"], "gateway_paused", "{status} {body}");

    let (_, audit) = admin(&w, "GET", "/admin/api/audit", Value::Null);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"pause") && actions.contains(&"resume"),
        "{actions:?}"
    );
}

#[test]
fn switching_profile_is_a_versioned_audited_publish() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, w) = started(dir.path());
    let config_file = dir.path().join("config.toml");

    let s = invoke(&w, "switch_profile", json!({ "profile": "local-only" })).unwrap();
    assert_eq!(s["active_profile"], "local-only");
    assert_eq!(s["config_version"], 2);
    let text = std::fs::read_to_string(&config_file).unwrap();
    assert!(text.contains("profile = \"local-only\""), "{text}");
    assert!(
        text.starts_with("# the desktop test config"),
        "comments survive: {text}"
    );

    let (_, history) = admin(&w, "GET", "/admin/api/config/history", Value::Null);
    let newest = &history["versions"][0];
    assert_eq!(newest["source"], "profile", "{newest}");
    assert_eq!(newest["actor"], "desktop-window");

    // Back to the top-level routes.
    let s = invoke(&w, "switch_profile", json!({ "profile": null })).unwrap();
    assert_eq!(s["active_profile"], Value::Null);
    assert_eq!(s["config_version"], 3);
    assert!(
        !std::fs::read_to_string(&config_file)
            .unwrap()
            .contains("profile =")
    );

    // An unknown profile is refused; the live config stays.
    let err = invoke(&w, "switch_profile", json!({ "profile": "nope" })).unwrap_err();
    assert_eq!(err["code"], "invalid_config", "{err}");
    assert_eq!(
        invoke(&w, "desktop_status", json!({})).unwrap()["config_version"],
        3
    );
}

#[test]
fn a_taken_port_is_reported_in_words_and_retry_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = blocker.local_addr().unwrap().port();
    let host = GatewayHost::new(options(dir.path(), &format!("127.0.0.1:{port}")));
    let failure = tauri::async_runtime::block_on(host.start()).unwrap_err();
    assert_eq!(failure.kind, aigw_desktop::gateway::FailureKind::PortInUse);
    let (_app, w) = app_with(host);

    let s = invoke(&w, "desktop_status", json!({})).unwrap();
    assert_eq!(s["state"], "error");
    assert_eq!(s["error"]["kind"], "port_in_use");
    let msg = s["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("127.0.0.1:{port} is already in use")),
        "{msg}"
    );

    // The UI's API calls get a 503 in the API's error shape, with the reason.
    let (status, body) = admin(&w, "GET", "/admin/api/status", Value::Null);
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "gateway_not_running");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{body}"
    );
    let err = invoke(&w, "set_paused", json!({ "paused": true })).unwrap_err();
    assert_eq!(err["code"], "gateway_not_running", "{err}");

    // Still taken: retry fails the same way.
    let err = invoke(&w, "retry_start", json!({})).unwrap_err();
    assert_eq!(err["code"], "gateway_not_running");
    // Freed: the UI's next call ("Try again") starts it (retries are at
    // most every 2 s), and the call is answered by the started gateway.
    drop(blocker);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (status, body) = admin(&w, "GET", "/admin/api/status", Value::Null);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["listen"], format!("127.0.0.1:{port}"));
    let s = invoke(&w, "retry_start", json!({})).unwrap();
    assert_eq!(s["state"], "running");
}

#[test]
fn retry_start_recovers_once_the_port_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = blocker.local_addr().unwrap().port();
    let host = GatewayHost::new(options(dir.path(), &format!("127.0.0.1:{port}")));
    assert!(tauri::async_runtime::block_on(host.start()).is_err());
    let (_app, w) = app_with(host);
    drop(blocker);
    let s = invoke(&w, "retry_start", json!({})).unwrap();
    assert_eq!(s["state"], "running");
    assert_eq!(s["listen"], format!("127.0.0.1:{port}"));
    assert_eq!(admin(&w, "GET", "/healthz", Value::Null).0, 200);
}

#[test]
fn an_invalid_config_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\nbogus = 1\n",
    )
    .unwrap();
    let host = GatewayHost::new(options(dir.path(), "127.0.0.1:0"));
    let failure = tauri::async_runtime::block_on(host.start()).unwrap_err();
    assert_eq!(
        failure.kind,
        aigw_desktop::gateway::FailureKind::InvalidConfig
    );
    assert!(
        failure.message.contains("config.toml:3"),
        "{}",
        failure.message
    );
}

#[test]
fn an_invalid_config_with_a_committed_version_serves_the_last_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let host = GatewayHost::new(options(dir.path(), "127.0.0.1:0"));
    tauri::async_runtime::block_on(host.start()).unwrap();
    tauri::async_runtime::block_on(host.shutdown());
    std::fs::write(
        dir.path().join("config.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\nbogus = 1\n",
    )
    .unwrap();
    let host = GatewayHost::new(options(dir.path(), "127.0.0.1:0"));
    tauri::async_runtime::block_on(host.start()).unwrap();
    let s = host.status();
    assert_eq!(s.config_version, Some(1));
    let why = s
        .config_file_error
        .expect("the file's error is in the status");
    assert!(why.contains("config.toml:3"), "{why}");
    tauri::async_runtime::block_on(host.shutdown());
}

#[test]
fn first_run_creates_the_default_config() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths {
        config_file: dir.path().join("new/config.toml"),
        data_dir: dir.path().join("data"),
    };
    let host = GatewayHost::new(HostOptions {
        paths: paths.clone(),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_tokens: Some(AdminTokens::ephemeral()),
        serve_threads: 1,
    });
    tauri::async_runtime::block_on(host.start()).unwrap();
    let text = std::fs::read_to_string(&paths.config_file).unwrap();
    assert_eq!(text, gateway_core::config::DEFAULT_CONFIG);
    assert!(paths.data_dir.join("config.db").exists());
    tauri::async_runtime::block_on(host.shutdown());
    assert_eq!(
        host.status().state,
        aigw_desktop::gateway::RunState::Stopped
    );
}

#[test]
fn frontend_ready_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, w) = started(dir.path());
    assert_eq!(
        invoke(
            &w,
            "frontend_ready",
            json!({ "href": "tauri://localhost/" })
        )
        .unwrap(),
        Value::Null
    );
}

/// The window's (and the tray's) way to Connect tools: the admin API
/// in-process. Only calls that write nothing: the list reads the real
/// HOME's tool folders, the refusals come before any file is touched.
#[test]
fn connect_tools_answers_through_the_window_transport() {
    let dir = tempfile::tempdir().unwrap();
    let (app, w) = started(dir.path());

    // The tray's calls: the same domain functions, typed.
    use tauri::Manager;
    let host = app.state::<GatewayHost>();
    let listed = tauri::async_runtime::block_on(host.clients()).unwrap();
    assert_eq!(listed.len(), 6);
    assert!(listed.iter().any(|c| c.name == "cursor" && !c.connectable));
    let err =
        tauri::async_runtime::block_on(host.set_tool_connected("cursor", true, "desktop-tray"))
            .unwrap_err();
    assert!(err.to_string().contains("not connected by aigw"), "{err}");
    assert_eq!(err.code(), "client_error");
    let err = tauri::async_runtime::block_on(host.set_tool_connected("vim", true, "desktop-tray"))
        .unwrap_err();
    assert!(err.to_string().starts_with("unknown tool \"vim\""), "{err}");

    let (status, body) = admin(&w, "GET", "/admin/api/clients", Value::Null);
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "claude-code",
            "codex",
            "opencode",
            "continue",
            "gemini-cli",
            "cursor"
        ]
    );
    let desktop = invoke(&w, "desktop_status", json!({})).unwrap();
    let listen = desktop["listen"].as_str().unwrap().to_owned();
    assert_eq!(body["gateway"], format!("http://{listen}"));

    let (status, body) = admin(&w, "POST", "/admin/api/clients/cursor/connect", json!({}));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "client_not_connectable");
    let (status, body) = admin(&w, "POST", "/admin/api/clients/vim/connect", json!({}));
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "unknown_client");

    // A provider pointing at the gateway itself: connecting is refused
    // before anything is written (requests would go round in circles).
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:4000\"\n\n[[providers]]\nname = \"self\"\nkind = \"openai\"\nbase_url = \"http://{listen}/v1\"\n\n[[routes]]\nmodel = \"chat\"\n[[routes.targets]]\nprovider = \"self\"\n"
    );
    let (status, body) = admin(
        &w,
        "POST",
        "/admin/api/config/publish",
        json!({ "toml": toml, "message": "loop", "source": "ui" }),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin(&w, "POST", "/admin/api/clients/codex/connect", json!({}));
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "routing_loop");
}
