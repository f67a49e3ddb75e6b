//! "Connect tools" over the admin API, with the home dir in a temp dir:
//! roles, audit, errors, the routing-loop refusal, last seen from the
//! user-agent, and a client key minted per tool.

use std::path::{Path, PathBuf};

use crate::common;
use common::*;
use gateway_core::clients::Clients;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::FakeUpstream;

struct Setup {
    gw: TestGateway,
    home: PathBuf,
    _dir: tempfile::TempDir,
}

async fn setup(toml: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".claude")).unwrap();
    let clients = Clients::new(home.clone(), dir.path().join("state"))
        .with_search_path(dir.path().join("no-bin"));
    let gw = TestGateway::builder(toml)
        .config_file()
        .clients(clients)
        .start()
        .await;
    Setup {
        gw,
        home,
        _dir: dir,
    }
}

async fn as_viewer(gw: &TestGateway, method: Method, path: &str) -> (u16, Value) {
    let r = gw
        .http
        .request(method, format!("{}/admin/api{path}", gw.url))
        .bearer_auth(gw.tokens.viewer.expose())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[tokio::test]
async fn connect_and_disconnect_over_the_admin_api() {
    let a = FakeUpstream::start("a").await;
    let s = setup(&format!(
        "{}{}",
        provider(&a, ""),
        route("gpt-5.5", "", &[("a", None)])
    ))
    .await;
    let gw = &s.gw;
    let file = s.home.join(".claude/settings.json");
    std::fs::write(&file, "{\n  \"theme\": \"dark\"\n}\n").unwrap();

    // viewers list, but cannot preview (it shows the token) or connect
    let (st, list) = as_viewer(gw, Method::GET, "/clients").await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["gateway"], gw.url.as_str());
    let names: Vec<&str> = list["clients"]
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
    let claude = &list["clients"][0];
    assert_eq!(claude["installed"], true, "its dir exists");
    assert_eq!(claude["connected"], false);
    assert_eq!(list["clients"][4]["connectable"], true);
    assert_eq!(list["clients"][5]["connectable"], false);
    for path in [
        "/clients/claude-code/preview",
        "/clients/claude-code/connect",
    ] {
        let (st, body) = as_viewer(gw, Method::POST, path).await;
        assert_eq!(st, 403, "{path}: {body}");
    }
    assert_eq!(read(&file), "{\n  \"theme\": \"dark\"\n}\n");

    // preview: the file before and after, nothing written
    let (st, p) = gw
        .admin_post(
            "/clients/claude-code/preview",
            json!({"models": {"model": "gpt-5.5"}}),
        )
        .await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["files"][0]["before"], "{\n  \"theme\": \"dark\"\n}\n");
    let after = p["files"][0]["after"].as_str().unwrap();
    assert!(
        after.contains(&format!("\"ANTHROPIC_BASE_URL\": \"{}\"", gw.url)),
        "{after}"
    );
    assert!(after.contains("\"ANTHROPIC_MODEL\": \"gpt-5.5\""));
    assert_eq!(p["files"][0]["mode"], "0600");
    assert_eq!(read(&file), "{\n  \"theme\": \"dark\"\n}\n");

    let (st, out) = gw
        .admin(Method::POST, "/clients/claude-code/connect", None)
        .await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["connected"], true);
    let v: Value = serde_json::from_str(&read(&file)).unwrap();
    assert_eq!(v["env"]["ANTHROPIC_AUTH_TOKEN"], "aigw-local");
    assert_eq!(v["theme"], "dark");
    let (_, list) = gw.admin_get("/clients").await;
    assert_eq!(list["clients"][0]["connected"], true);

    // opencode gets the routes as its models
    std::fs::create_dir_all(s.home.join(".config/opencode")).unwrap();
    let (st, out) = gw
        .admin(Method::POST, "/clients/opencode/connect", None)
        .await;
    assert_eq!(st, 200, "{out}");
    let oc = read(&s.home.join(".config/opencode/opencode.json"));
    assert!(oc.contains("\"gpt-5.5\": {"), "{oc}");

    let (st, out) = gw
        .admin(Method::POST, "/clients/claude-code/disconnect", None)
        .await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["restored"], "byte-exact");
    assert_eq!(read(&file), "{\n  \"theme\": \"dark\"\n}\n");

    // audited: actor, tool, files; never the token
    let (_, audit) = gw.admin_get("/audit").await;
    let entries = audit["entries"].as_array().unwrap();
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["detail"].to_string().contains("claude-code"))
            .unwrap_or_else(|| panic!("no {action} in {audit}"))
            .clone()
    };
    let c = find("client_connect");
    assert_eq!(c["actor"], "admin-token");
    let detail = c["detail"].to_string();
    assert!(
        detail.contains("claude-code") && detail.contains("settings.json"),
        "{detail}"
    );
    assert!(
        !audit.to_string().contains("aigw-local"),
        "no token in the audit log"
    );
    let d = find("client_disconnect");
    assert!(d["detail"].to_string().contains("byte-exact"));

    // errors
    let (st, e) = gw.admin(Method::POST, "/clients/vim/connect", None).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("unknown_client"))
    );
    let (st, e) = gw
        .admin(Method::POST, "/clients/cursor/connect", None)
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("client_not_connectable"))
    );
    let (st, e) = gw
        .admin(Method::POST, "/clients/gemini-cli/preview", None)
        .await;
    assert_eq!(st, 200, "{e}");
    let after = e["files"][0]["after"].as_str().unwrap();
    assert!(after.contains("GOOGLE_GEMINI_BASE_URL=http://"), "{e}");
    assert!(after.contains("GEMINI_API_KEY="), "{e}");
    let (st, e) = gw.admin(Method::POST, "/clients/codex/connect", None).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("client_not_installed")),
        "{e}"
    );
    let (st, _) = gw
        .admin_post("/clients/codex/connect", json!({"force": true}))
        .await;
    assert_eq!(st, 200);
    assert!(s.home.join(".codex/config.toml").is_file());
}

#[tokio::test]
async fn a_provider_pointing_at_the_gateway_itself_is_refused() {
    // port 0 binds somewhere; the loop is detected against the bound port,
    // so write the config after learning it: publish one that loops
    let s = setup("").await;
    let gw = &s.gw;
    let port = gw.url.rsplit(':').next().unwrap();
    let looping = format!(
        "[[providers]]\nname = \"self\"\nkind = \"openai\"\nbase_url = \"http://localhost:{port}/v1\"\n"
    );
    let (st, body) = gw
        .admin_post("/config/publish", json!({"toml": looping}))
        .await;
    assert_eq!(st, 200, "{body}");
    let (st, e) = gw
        .admin(Method::POST, "/clients/claude-code/connect", None)
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (409, Some("routing_loop")),
        "{e}"
    );
    assert!(!s.home.join(".claude/settings.json").exists());
}

#[tokio::test]
async fn requests_from_a_tool_show_as_last_seen() {
    let a = FakeUpstream::start("a").await;
    let s = setup(&format!(
        "{}{}",
        provider(&a, ""),
        route("m", "", &[("a", None)])
    ))
    .await;
    let gw = &s.gw;
    let (_, list) = gw.admin_get("/clients").await;
    assert_eq!(list["clients"][1]["last_seen"], Value::Null);
    let r = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("user-agent", "codex_cli_rs/0.171.0 (Linux; x86_64)")
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, list) = gw.admin_get("/clients").await;
    let seen = list["clients"][1]["last_seen"].as_str().unwrap_or_default();
    assert!(seen.ends_with('Z'), "{list}");
    assert_eq!(
        list["clients"][0]["last_seen"],
        Value::Null,
        "not Claude Code"
    );
}

/// Needs a Secret Service (AIGW_TEST_KEYRING=1).
#[tokio::test]
async fn with_client_keys_each_tool_gets_its_own_key() {
    if std::env::var("AIGW_TEST_KEYRING").as_deref() != Ok("1") {
        eprintln!("skipped: AIGW_TEST_KEYRING != 1");
        return;
    }
    // one pre-existing client key, from the environment of this process
    let a = FakeUpstream::start("a").await;
    let s = setup(&format!(
        "[server]\nclient_keys = [\"env:PATH\"]\n{}{}",
        provider(&a, ""),
        route("m", "", &[("a", None)])
    ))
    .await;
    let gw = &s.gw;
    let (st, p) = gw
        .admin(Method::POST, "/clients/claude-code/preview", None)
        .await;
    assert_eq!(st, 200, "{p}");
    assert!(
        p["warnings"]
            .to_string()
            .contains("keyring:aigw-client-claude-code")
    );
    let (st, out) = gw
        .admin(Method::POST, "/clients/claude-code/connect", None)
        .await;
    assert_eq!(st, 200, "{out}");
    let v: Value = serde_json::from_str(&read(&s.home.join(".claude/settings.json"))).unwrap();
    let key = v["env"]["ANTHROPIC_AUTH_TOKEN"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        key.starts_with("aigw-claude-code-") && key.len() > 40,
        "{key}"
    );
    // published: a new version lists the ref, and the key authenticates
    let (_, live) = gw.admin_get("/config").await;
    let toml = live["version"]["toml"].as_str().unwrap();
    assert!(toml.contains("keyring:aigw-client-claude-code"), "{toml}");
    let r = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(&key)
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ev = gw.capture.wait(1).await;
    assert_eq!(ev.last().unwrap().client, "keyring:aigw-client-claude-code");
    // the key never shows in an answer or the audit log
    let (_, audit) = gw.admin_get("/audit").await;
    assert!(!audit.to_string().contains(&key));
    assert!(!out.to_string().contains(&key));
    // connecting again reuses the key; no second publish
    let (_, h1) = gw.admin_get("/config/history").await;
    gw.admin(Method::POST, "/clients/claude-code/connect", None)
        .await;
    let (_, h2) = gw.admin_get("/config/history").await;
    assert_eq!(h1["live_version"], h2["live_version"]);
    let v: Value = serde_json::from_str(&read(&s.home.join(".claude/settings.json"))).unwrap();
    assert_eq!(v["env"]["ANTHROPIC_AUTH_TOKEN"], key.as_str());
    let _ = gateway_core::secrets::keychain_delete("aigw-client-claude-code");
}

const AIGW: &str = env!("CARGO_BIN_EXE_aigw");

/// `aigw ARGS` with HOME, config and data dir in `dir`; (code, stdout, stderr).
fn aigw(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = std::process::Command::new(AIGW);
    c.arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .env("HOME", dir.join("home"))
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", dir.join("bin").display()),
        )
        .env_remove("AIGW_LISTEN")
        .env_remove("AIGW_CONFIG")
        .env_remove("AIGW_DATA_DIR")
        .env_remove("ANTHROPIC_BASE_URL");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A config on a port nothing listens on (no gateway runs: offline).
fn cli_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("home")).unwrap();
    std::fs::create_dir_all(p.join("bin")).unwrap();
    std::fs::write(
        p.join("config.toml"),
        "[server]\nlisten = \"127.0.0.1:1\"\n\n[[providers]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\n[[routes]]\nmodel = \"gpt-5.5\"\n[[routes.targets]]\nprovider = \"a\"\n",
    )
    .unwrap();
    dir
}

#[cfg(unix)]
fn fake_tool(dir: &Path, name: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("bin").join(name);
    std::fs::write(
        &p,
        "#!/bin/sh\nenv | sort\nfor a in \"$@\"; do echo \"ARG:$a\"; done\nexit 7\n",
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn cli_lists_connects_and_disconnects() {
    let d = cli_dir();
    let dir = d.path();
    let (code, out, err) = aigw(dir, &["clients", "list"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("TOOL"), "{out}");
    assert!(out.contains("claude-code  no        no        no"), "{out}");
    assert!(out.contains("cursor       no        -"), "{out}");

    // not installed: refused without --force, exit 1 with the reason
    let (code, _, err) = aigw(dir, &["clients", "connect", "codex"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--force"), "{err}");

    // dry run: the diff, nothing written
    let (code, out, err) = aigw(
        dir,
        &["clients", "connect", "codex", "--dry-run", "--force"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("+model_provider = \"aigw\""), "{out}");
    assert!(
        out.contains("+base_url = \"http://127.0.0.1:1/v1\""),
        "{out}"
    );
    assert!(!dir.join("home/.codex").exists());

    let (code, out, err) = aigw(
        dir,
        &[
            "clients", "connect", "codex", "--force", "--model", "gpt-5.5",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("now points at http://127.0.0.1:1"), "{out}");
    let text = std::fs::read_to_string(dir.join("home/.codex/config.toml")).unwrap();
    assert!(
        text.contains("model = \"gpt-5.5\"") && text.contains("[model_providers.aigw]"),
        "{text}"
    );
    let (_, out, _) = aigw(dir, &["clients", "status"], &[]);
    assert!(out.contains("codex        yes       yes       no"), "{out}");
    assert!(out.contains("backups: "), "{out}");

    let (code, out, err) = aigw(dir, &["clients", "disconnect", "codex"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(removed)"), "{out}");
    assert!(!dir.join("home/.codex/config.toml").exists());

    for bad in [
        ["clients", "connect", "vim"],
        ["clients", "connect", "cursor"],
    ] {
        let (code, _, err) = aigw(dir, &bad, &[]);
        assert_eq!(code, 1, "{bad:?}");
        assert!(err.starts_with("aigw: "), "{err}");
    }
}

#[cfg(unix)]
#[test]
fn aigw_run_points_the_tool_here_without_editing_files() {
    let d = cli_dir();
    let dir = d.path();
    fake_tool(dir, "claude");
    fake_tool(dir, "codex");
    let (code, out, err) = aigw(
        dir,
        &["run", "claude", "-p", "hi there", "--verbose"],
        &[("ANTHROPIC_API_KEY", "sk-ant-mine")],
    );
    assert_eq!(code, 7, "the tool's exit code: {err}");
    assert!(
        out.contains("ANTHROPIC_BASE_URL=http://127.0.0.1:1\n"),
        "{out}"
    );
    assert!(out.contains("ANTHROPIC_AUTH_TOKEN=aigw-local\n"), "{out}");
    assert!(!out.contains("ANTHROPIC_API_KEY"), "{out}");
    assert!(
        out.contains("ARG:-p\nARG:hi there\nARG:--verbose\n"),
        "{out}"
    );

    let (code, out, err) = aigw(dir, &["run", "codex", "exec", "fix it"], &[]);
    assert_eq!(code, 7, "{err}");
    for o in [
        "ARG:-c\nARG:model_provider=\"aigw\"\n",
        "ARG:model_providers.aigw.name=\"AI Model Gateway\"\n",
        "ARG:model_providers.aigw.base_url=\"http://127.0.0.1:1/v1\"\n",
        "ARG:model_providers.aigw.wire_api=\"responses\"\n",
        "ARG:model_providers.aigw.experimental_bearer_token=\"aigw-local\"\n",
        "ARG:model_providers.aigw.supports_websockets=false\n",
        "ARG:exec\nARG:fix it\n",
    ] {
        assert!(out.contains(o), "{o} missing in {out}");
    }
    assert_eq!(
        std::fs::read_dir(dir.join("home")).unwrap().count(),
        0,
        "nothing written to HOME"
    );
    // subscription mode: the login stays, the gateway key goes beside it
    let (code, out, err) = aigw(
        dir,
        &["run", "--subscription", "claude", "-p", "hi"],
        &[("ANTHROPIC_CUSTOM_HEADERS", "X-Team: blue")],
    );
    assert_eq!(code, 7, "{err}");
    assert!(!out.contains("ANTHROPIC_AUTH_TOKEN"), "{out}");
    // (`env | sort` prints the two-line value's lines apart)
    assert!(
        out.contains("ANTHROPIC_CUSTOM_HEADERS=X-Team: blue\n")
            && out.lines().any(|l| l == "x-aigw-key: aigw-local"),
        "{out}"
    );
    let (code, out, err) = aigw(dir, &["run", "--subscription", "codex", "exec", "x"], &[]);
    assert_eq!(code, 7, "{err}");
    assert!(
        out.contains("ARG:model_providers.aigw.requires_openai_auth=true\n")
            && out.contains(
                "ARG:model_providers.aigw.http_headers={ \"x-aigw-key\" = \"aigw-local\" }\n"
            )
            && !out.contains("experimental_bearer_token"),
        "{out}"
    );

    let (code, _, err) = aigw(dir, &["run", "vim"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("claude and codex"), "{err}");
}

/// Needs a Secret Service (AIGW_TEST_KEYRING=1). Codex here, Claude Code in
/// the admin API test: each test owns its keychain entry.
#[cfg(unix)]
#[test]
fn cli_mints_a_client_key_publishes_it_and_the_launcher_uses_it() {
    if std::env::var("AIGW_TEST_KEYRING").as_deref() != Ok("1") {
        eprintln!("skipped: AIGW_TEST_KEYRING != 1");
        return;
    }
    let d = cli_dir();
    let dir = d.path();
    let cfg = dir.join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("[server]\n", "[server]\nclient_keys = [\"env:PATH\"]\n"),
    )
    .unwrap();
    // without the key, the launcher says what to do
    fake_tool(dir, "codex");
    let _ = gateway_core::secrets::keychain_delete("aigw-client-codex");
    let (code, _, err) = aigw(dir, &["run", "codex"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("aigw clients connect codex"), "{err}");

    let (code, out, err) = aigw(dir, &["clients", "connect", "codex"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("added client key keyring:aigw-client-codex"),
        "{out}"
    );
    // published offline: the config file and a new audited version
    let cfg_now = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        cfg_now.contains("client_keys = [\"env:PATH\", \"keyring:aigw-client-codex\"]"),
        "{cfg_now}"
    );
    let (_, hist, _) = aigw(dir, &["config", "history"], &[]);
    assert!(
        hist.contains("connect codex: client key keyring:aigw-client-codex"),
        "{hist}"
    );
    let toml = std::fs::read_to_string(dir.join("home/.codex/config.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&toml).unwrap();
    let key = doc["model_providers"]["aigw"]["experimental_bearer_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.starts_with("aigw-codex-"), "{key}");
    assert!(
        !out.contains(&key) && !err.contains(&key),
        "the key is never printed"
    );

    let (code, out, _) = aigw(dir, &["run", "codex"], &[]);
    assert_eq!(code, 7);
    assert!(
        out.contains(&format!("experimental_bearer_token=\"{key}\"")),
        "{out}"
    );
    let _ = gateway_core::secrets::keychain_delete("aigw-client-codex");
}

#[tokio::test]
async fn cli_status_shows_when_a_running_gateway_last_saw_a_tool() {
    let up = FakeUpstream::start("up").await;
    let d = cli_dir();
    let dir = d.path();
    let home = dir.join("home");
    let home_s = home.to_str().unwrap();
    let g = common::aigw::Aigw::serve_config(
        dir,
        &format!("{}{}", provider(&up, ""), route("m", "", &[("up", None)])),
        &[("HOME", home_s)],
    );
    let r = reqwest::Client::new()
        .post(format!("{}/v1/messages", g.url))
        .header("user-agent", "claude-cli/2.1.197 (external, cli)")
        .json(&json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let listen = g.url.trim_start_matches("http://").to_string();
    let (code, out, err) = aigw(dir, &["clients", "status"], &[("AIGW_LISTEN", &listen)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(running)"), "{out}");
    assert!(out.contains("last seen: claude-code at 20"), "{out}");
    assert!(!out.contains("last seen: codex"), "{out}");
    drop(g);
}
