#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use super::*;

/// A home dir and a state dir in one temp dir; nothing on the search path.
struct Env {
    _dir: tempfile::TempDir,
    home: PathBuf,
    clients: Clients,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let clients = Clients::new(home.clone(), dir.path().join("data/clients"))
        .with_search_path(dir.path().join("no-bin"));
    Env {
        _dir: dir,
        home,
        clients,
    }
}

fn target() -> Target {
    Target {
        base_url: "http://127.0.0.1:4000".into(),
        token: "aigw-local".into(),
        models: ModelMap::default(),
        subscription: false,
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/clients")
}

fn golden_in(name: &str) -> String {
    std::fs::read_to_string(golden_dir().join(name)).unwrap()
}

/// Compares with `tests/golden/clients/NAME`; `AIGW_WRITE_GOLDEN=1`
/// rewrites it.
fn golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("AIGW_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(actual, want, "{} differs", path.display());
}

fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Connect, check the file against its golden "after", disconnect, check
/// the original is back byte for byte and aigw's state is gone.
fn round_trip(tool: Tool, file: &Path, before: &str, after_golden: &str, t: &Target) {
    let e_clients = |c: &Clients| {
        let info = c.list(t);
        info.into_iter().find(|i| i.name == tool.name()).unwrap()
    };
    put(file, before);
    #[cfg(unix)]
    std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let env_clients = CLIENTS.with(|c| c.borrow().clone()).unwrap();
    let preview = env_clients.preview(tool, t).unwrap();
    assert_eq!(preview.files[0].before.as_deref(), Some(before));
    let out = env_clients.connect(tool, t).unwrap();
    assert!(out.connected, "{out:?}");
    let after = read(file);
    assert_eq!(preview.files[0].after.as_deref(), Some(after.as_str()));
    golden(after_golden, &after);
    #[cfg(unix)]
    assert_eq!(mode(file), 0o600);
    let info = e_clients(&env_clients);
    assert!(info.connected && !info.drifted, "{info:?}");
    let out = env_clients.disconnect(tool).unwrap();
    assert_eq!(out.restored.as_deref(), Some("byte-exact"), "{out:?}");
    assert_eq!(read(file), before);
    #[cfg(unix)]
    assert_eq!(mode(file), 0o644, "the original's mode comes back");
    let info = e_clients(&env_clients);
    assert!(!info.connected, "{info:?}");
    assert!(!env_clients.state_dir().join(tool.name()).exists());
}

thread_local! {
    static CLIENTS: std::cell::RefCell<Option<Clients>> = const { std::cell::RefCell::new(None) };
}

fn with(e: &Env) {
    CLIENTS.with(|c| *c.borrow_mut() = Some(e.clients.clone()));
}

#[test]
fn claude_code_gets_one_auth_variable_and_its_file_back_byte_for_byte() {
    let e = env();
    with(&e);
    let file = e.home.join(".claude/settings.json");
    let before = golden_in("claude.before.json");
    let mut t = target();
    t.models.opus = Some("claude-opus-4-8".into());
    put(&file, &before);
    let p = e.clients.preview(Tool::ClaudeCode, &t).unwrap();
    assert!(
        p.warnings.iter().any(|w| w.contains("ANTHROPIC_API_KEY")),
        "{:?}",
        p.warnings
    );
    round_trip(Tool::ClaudeCode, &file, &before, "claude.after.json", &t);
    let after = golden_in("claude.after.json");
    let v: serde_json::Value = serde_json::from_str(&after).unwrap();
    assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:4000");
    assert_eq!(v["env"]["ANTHROPIC_AUTH_TOKEN"], "aigw-local");
    assert_eq!(v["env"]["ANTHROPIC_DEFAULT_OPUS_MODEL"], "claude-opus-4-8");
    assert!(v["env"].get("ANTHROPIC_API_KEY").is_none());
    assert!(v["env"].get("ANTHROPIC_MODEL").is_none());
    assert_eq!(v["env"]["DISABLE_TELEMETRY"], "1");
}

/// Subscription mode: the user's Claude login stays (no auth variable, an
/// API key left alone with a warning), the gateway key joins the user's own
/// custom headers, and disconnect gives the file back as it was.
#[test]
fn claude_code_subscription_mode_keeps_the_login_and_custom_headers() {
    let e = env();
    let file = e.home.join(".claude/settings.json");
    let before = "{\n  \"env\": {\n    \"ANTHROPIC_CUSTOM_HEADERS\": \"X-Team: blue\",\n    \"DISABLE_TELEMETRY\": \"1\"\n  },\n  \"theme\": \"dark\"\n}\n";
    put(&file, before);
    let mut t = target();
    t.subscription = true;
    t.token = "aigw-client-key".into();
    let out = e.clients.connect(Tool::ClaudeCode, &t).unwrap();
    assert!(out.connected && out.warnings.is_empty(), "{out:?}");
    let d = jsonc::Doc::parse(&read(&file)).unwrap();
    assert_eq!(
        d.get_str(&["env", "ANTHROPIC_BASE_URL"]).as_deref(),
        Some("http://127.0.0.1:4000")
    );
    assert_eq!(
        d.get_str(&["env", "ANTHROPIC_CUSTOM_HEADERS"]).as_deref(),
        Some("X-Team: blue\nx-aigw-key: aigw-client-key")
    );
    assert_eq!(d.get_str(&["env", "ANTHROPIC_AUTH_TOKEN"]), None);
    assert_eq!(
        d.get_str(&["env", "DISABLE_TELEMETRY"]).as_deref(),
        Some("1")
    );
    let out = e.clients.disconnect(Tool::ClaudeCode).unwrap();
    assert_eq!(out.restored.as_deref(), Some("byte-exact"), "{out:?}");
    assert_eq!(read(&file), before);

    // an API key in the file would win over the login: said, not removed
    let with_key = "{\"env\": {\"ANTHROPIC_API_KEY\": \"sk-ant-mine\"}}\n";
    put(&file, with_key);
    let out = e.clients.connect(Tool::ClaudeCode, &t).unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("Claude login")),
        "{out:?}"
    );
    let d = jsonc::Doc::parse(&read(&file)).unwrap();
    assert_eq!(
        d.get_str(&["env", "ANTHROPIC_API_KEY"]).as_deref(),
        Some("sk-ant-mine")
    );
    assert_eq!(
        d.get_str(&["env", "ANTHROPIC_CUSTOM_HEADERS"]).as_deref(),
        Some("x-aigw-key: aigw-client-key")
    );
    e.clients.disconnect(Tool::ClaudeCode).unwrap();
    assert_eq!(read(&file), with_key);
    assert!(check_subscription(Tool::Opencode, true).is_err());
    assert!(check_subscription(Tool::Codex, true).is_ok());
}

#[test]
fn codex_subscription_mode_uses_the_chatgpt_login() {
    let e = env();
    let file = e.home.join(".codex/config.toml");
    let before = "# mine\nmodel = \"gpt-5.5\"\n\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\n";
    put(&file, before);
    let mut t = target();
    t.subscription = true;
    e.clients.connect(Tool::Codex, &t).unwrap();
    let after: toml::Table = toml::from_str(&read(&file)).unwrap();
    let p = &after["model_providers"]["aigw"];
    assert_eq!(p["requires_openai_auth"].as_bool(), Some(true));
    assert_eq!(p["http_headers"]["x-aigw-key"].as_str(), Some("aigw-local"));
    assert!(p.get("experimental_bearer_token").is_none());
    assert_eq!(p["supports_websockets"].as_bool(), Some(false));
    assert_eq!(
        after["mcp_servers"]["docs"]["command"].as_str(),
        Some("docs-mcp")
    );
    e.clients.disconnect(Tool::Codex).unwrap();
    assert_eq!(read(&file), before);
}

#[test]
fn codex_keeps_foreign_tables_comments_and_order() {
    let e = env();
    with(&e);
    let file = e.home.join(".codex/config.toml");
    let before = golden_in("codex.before.toml");
    round_trip(Tool::Codex, &file, &before, "codex.after.toml", &target());
    let after: toml::Table = toml::from_str(&golden_in("codex.after.toml")).unwrap();
    assert_eq!(after["model_provider"].as_str(), Some("aigw"));
    let p = &after["model_providers"]["aigw"];
    assert_eq!(p["name"].as_str(), Some("AI Model Gateway"));
    assert_eq!(p["base_url"].as_str(), Some("http://127.0.0.1:4000/v1"));
    assert_eq!(p["wire_api"].as_str(), Some("responses"));
    assert_eq!(p["experimental_bearer_token"].as_str(), Some("aigw-local"));
    assert_eq!(p["supports_websockets"].as_bool(), Some(false));
    assert!(p.get("env_key").is_none());
    assert_eq!(after["mcp_servers"]["x"]["command"].as_str(), Some("npx"));
    assert!(after["desktop"]["notify"].as_bool().unwrap());
}

#[test]
fn opencode_jsonc_keeps_its_comments() {
    let e = env();
    with(&e);
    let file = e.home.join(".config/opencode/opencode.jsonc");
    let before = golden_in("opencode.before.jsonc");
    let mut t = target();
    t.models.available = vec!["gpt-5.5".into(), "claude-*".into(), "qwen3-coder".into()];
    round_trip(Tool::Opencode, &file, &before, "opencode.after.jsonc", &t);
    let after = golden_in("opencode.after.jsonc");
    assert!(after.contains("// opencode: my settings") && after.contains("/* dark */"));
    let d = jsonc::Doc::parse(&after).unwrap();
    assert_eq!(
        d.get_str(&["provider", "aigw", "options", "baseURL"])
            .as_deref(),
        Some("http://127.0.0.1:4000/v1")
    );
    assert_eq!(
        d.get_str(&["provider", "aigw", "npm"]).as_deref(),
        Some("@ai-sdk/openai-compatible")
    );
    assert!(
        d.get_raw(&["provider", "aigw", "models", "qwen3-coder"])
            .is_some()
    );
    assert!(
        d.get_raw(&["provider", "aigw", "models", "claude-*"])
            .is_none()
    );
    assert!(d.get_raw(&["provider", "ollama"]).is_some());
}

#[test]
fn continue_appends_marked_entries_and_removes_exactly_those() {
    let e = env();
    with(&e);
    let file = e.home.join(".continue/config.yaml");
    let before = golden_in("continue.before.yaml");
    let mut t = target();
    t.models.model = Some("gpt-5.5".into());
    round_trip(Tool::Continue, &file, &before, "continue.after.yaml", &t);
    let after = golden_in("continue.after.yaml");
    assert!(after.starts_with(&before[..before.find("\n  # a comment").unwrap()]));
    assert!(after.contains("  - name: \"AI Model Gateway (gpt-5.5)\"\n    provider: openai\n"));
}

#[test]
fn continue_layouts_it_cannot_edit_are_refused_and_empty_lists_work() {
    let e = env();
    let file = e.home.join(".continue/config.yaml");
    let mut t = target();
    t.models.model = Some("m".into());
    for bad in [
        "models: [{name: x, provider: openai, model: m}]\n",
        "models:\n\t- name: x\n",
    ] {
        put(&file, bad);
        let err = e.clients.connect(Tool::Continue, &t).unwrap_err();
        assert!(matches!(err, ClientError::Unsupported { .. }), "{err}");
        assert_eq!(read(&file), bad, "nothing written");
    }
    let src = "name: a\nmodels: []\ncontext: []\n";
    put(&file, src);
    e.clients.connect(Tool::Continue, &t).unwrap();
    assert_eq!(
        read(&file),
        "name: a\nmodels:\n  - name: \"AI Model Gateway (m)\"\n    provider: openai\n    model: \"m\"\n    apiBase: \"http://127.0.0.1:4000/v1\"\n    apiKey: \"aigw-local\"\ncontext: []\n"
    );
    // the user edits: our entry goes, theirs stays, `models: []` is back
    let edited = read(&file).replace("context: []\n", "context: []\nrules: [x]\n");
    put(&file, &edited);
    let out = e.clients.disconnect(Tool::Continue).unwrap();
    assert_eq!(out.restored.as_deref(), Some("merged"));
    assert_eq!(
        read(&file),
        "name: a\nmodels: []\ncontext: []\nrules: [x]\n"
    );
    // no model known: a clear error, not an empty list
    put(&file, src);
    let err = e.clients.connect(Tool::Continue, &target()).unwrap_err();
    assert!(err.to_string().contains("needs a model"), "{err}");
}

#[test]
fn a_drifted_file_keeps_the_users_edit_and_loses_only_our_keys() {
    let e = env();
    let file = e.home.join(".codex/config.toml");
    let before = golden_in("codex.before.toml");
    put(&file, &before);
    e.clients.connect(Tool::Codex, &target()).unwrap();
    let edited = read(&file).replace("notify = true", "notify = true\nsound = \"ping\"");
    put(&file, &edited);
    let info = e.clients.list(&target());
    let codex = info.iter().find(|i| i.name == "codex").unwrap();
    assert!(codex.connected && codex.drifted, "{codex:?}");
    let out = e.clients.disconnect(Tool::Codex).unwrap();
    assert_eq!(out.restored.as_deref(), Some("merged"));
    assert_eq!(
        read(&file),
        before.replace("notify = true", "notify = true\nsound = \"ping\""),
        "only our keys went; model_provider is the original's again"
    );

    // Claude Code: the user's own env key back, their new key kept
    let file = e.home.join(".claude/settings.json");
    let before = golden_in("claude.before.json");
    put(&file, &before);
    e.clients.connect(Tool::ClaudeCode, &target()).unwrap();
    let edited = read(&file).replace("\"zeta\": true", "\"zeta\": false");
    put(&file, &edited);
    let out = e.clients.disconnect(Tool::ClaudeCode).unwrap();
    assert_eq!(out.restored.as_deref(), Some("merged"));
    let now = read(&file);
    let v: serde_json::Value = serde_json::from_str(&now).unwrap();
    assert_eq!(v["zeta"], false);
    assert_eq!(v["env"]["ANTHROPIC_API_KEY"], "sk-ant-user-own-key");
    assert!(v["env"].get("ANTHROPIC_BASE_URL").is_none());
    assert!(v["env"].get("ANTHROPIC_AUTH_TOKEN").is_none());
    assert!(now.starts_with("{\n  \"$schema\""), "{now}");

    // opencode: a model the user added to our provider goes with it
    let file = e.home.join(".config/opencode/opencode.json");
    put(&file, "{\n  \"theme\": \"x\"\n}\n");
    let mut t = target();
    t.models.model = Some("m1".into());
    e.clients.connect(Tool::Opencode, &t).unwrap();
    let edited = read(&file).replace("\"theme\": \"x\"", "\"theme\": \"y\"");
    put(&file, &edited);
    e.clients.disconnect(Tool::Opencode).unwrap();
    assert_eq!(read(&file), "{\n  \"theme\": \"y\"\n}\n");
}

#[test]
fn an_absent_file_is_created_and_deleted_again() {
    let e = env();
    // not installed: no dir, nothing on the search path
    let err = e.clients.connect(Tool::Codex, &target()).unwrap_err();
    assert!(matches!(err, ClientError::NotInstalled { .. }), "{err}");
    assert!(!e.home.join(".codex").exists());
    let out = e
        .clients
        .connect_with(Tool::Codex, &target(), true)
        .unwrap();
    assert!(out.connected);
    let file = e.home.join(".codex/config.toml");
    let text = read(&file);
    assert!(text.starts_with("model_provider = \"aigw\"\n"), "{text}");
    #[cfg(unix)]
    {
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&e.home.join(".codex")), 0o700);
    }
    let out = e.clients.disconnect(Tool::Codex).unwrap();
    assert_eq!(out.restored.as_deref(), Some("removed"));
    assert!(!file.exists());
    assert!(!e.home.join(".codex").exists(), "the dir we made goes too");
    // disconnecting again: nothing to do
    let out = e.clients.disconnect(Tool::Codex).unwrap();
    assert_eq!(out.restored.as_deref(), Some("nothing"));

    // installed (its binary on the search path): the dir is made without --force
    let bin = e.home.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    put(&bin.join("claude"), "#!/bin/sh\n");
    #[cfg(unix)]
    std::fs::set_permissions(
        bin.join("claude"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let c = e.clients.clone().with_search_path(&bin);
    c.connect(Tool::ClaudeCode, &target()).unwrap();
    let text = read(&e.home.join(".claude/settings.json"));
    assert_eq!(
        text,
        "{\n  \"env\": {\n    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:4000\",\n    \"ANTHROPIC_AUTH_TOKEN\": \"aigw-local\"\n  }\n}\n"
    );
}

#[test]
fn reconnecting_keeps_the_first_backup() {
    let e = env();
    let file = e.home.join(".claude/settings.json");
    let before = golden_in("claude.before.json");
    put(&file, &before);
    e.clients.connect(Tool::ClaudeCode, &target()).unwrap();
    let mut t = target();
    t.token = "aigw-claude-code-new".into();
    t.models.model = Some("claude-sonnet-5".into());
    let out = e.clients.connect(Tool::ClaudeCode, &t).unwrap();
    assert!(out.warnings.iter().any(|w| w.contains("already connected")));
    let v: serde_json::Value = serde_json::from_str(&read(&file)).unwrap();
    assert_eq!(v["env"]["ANTHROPIC_AUTH_TOKEN"], "aigw-claude-code-new");
    assert_eq!(v["env"]["ANTHROPIC_MODEL"], "claude-sonnet-5");
    // a third connect without the model: ANTHROPIC_MODEL does not linger
    e.clients.connect(Tool::ClaudeCode, &target()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&read(&file)).unwrap();
    assert!(v["env"].get("ANTHROPIC_MODEL").is_none());
    let out = e.clients.disconnect(Tool::ClaudeCode).unwrap();
    assert_eq!(out.restored.as_deref(), Some("byte-exact"));
    assert_eq!(read(&file), before);
}

#[test]
fn a_file_pointed_here_by_hand_is_reported_not_taken_over() {
    let e = env();
    let file = e.home.join(".claude/settings.json");
    let src = "{\"env\": {\"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:4000/\"}}";
    put(&file, src);
    let info = e.clients.list(&target());
    let c = info.iter().find(|i| i.name == "claude-code").unwrap();
    assert!(!c.connected);
    assert_eq!(c.note.as_deref(), Some(BY_HAND));
    let out = e.clients.connect(Tool::ClaudeCode, &target()).unwrap();
    assert!(!out.connected && out.message.contains(BY_HAND), "{out:?}");
    assert_eq!(read(&file), src);
    let out = e.clients.disconnect(Tool::ClaudeCode).unwrap();
    assert_eq!(out.restored.as_deref(), Some("nothing"));
    assert_eq!(read(&file), src);
}

#[test]
fn list_never_fails_and_guided_tools_are_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let c = Clients::new(dir.path().join("no/such/home"), dir.path().join("state"))
        .with_search_path(dir.path().join("no-bin"));
    let list = c.list(&target());
    let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
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
    assert!(list.iter().all(|i| !i.installed && !i.connected));
    let i = list.iter().find(|i| i.name == "cursor").unwrap();
    assert!(!i.connectable && i.note.is_some(), "{i:?}");
    let err = c.connect_with(Tool::Cursor, &target(), true).unwrap_err();
    assert!(matches!(err, ClientError::NotConnectable { .. }));
    assert!(list[4].connectable, "gemini-cli: {:?}", list[4]);
    assert!(!dir.path().join("no").exists(), "list writes nothing");
    // a broken file is a note, not a failure
    put(&dir.path().join("state/codex/state.json"), "{not json");
    let list = c.list(&target());
    assert!(list[1].note.as_deref().unwrap().contains("unreadable"));
}

#[test]
fn bad_targets_and_files_are_refused() {
    let e = env();
    let mut t = target();
    t.token = "two words".into();
    assert!(matches!(
        e.clients.preview(Tool::Codex, &t),
        Err(ClientError::Invalid(_))
    ));
    let file = e.home.join(".claude/settings.json");
    for bad in ["[1]", "{\"env\": 3}", "{"] {
        put(&file, bad);
        let err = e.clients.connect(Tool::ClaudeCode, &target()).unwrap_err();
        assert!(
            matches!(err, ClientError::Unsupported { .. }),
            "{bad}: {err}"
        );
        assert_eq!(read(&file), bad);
    }
    let file = e.home.join(".codex/config.toml");
    put(&file, "model_providers = { aigw = { name = \"x\" } }\n");
    let err = e.clients.connect(Tool::Codex, &target()).unwrap_err();
    assert!(err.to_string().contains("inline table"), "{err}");
}

#[test]
fn base_urls_from_listen_addresses() {
    assert_eq!(
        base_url_for("0.0.0.0:4000".parse().unwrap()),
        "http://127.0.0.1:4000"
    );
    assert_eq!(
        base_url_for("[::]:4001".parse().unwrap()),
        "http://[::1]:4001"
    );
    assert_eq!(
        base_url_for("127.0.0.1:9".parse().unwrap()),
        "http://127.0.0.1:9"
    );
}

#[test]
fn continue_lists_at_column_zero_and_crlf_json_are_edited_in_their_style() {
    let e = env();
    let file = e.home.join(".continue/config.yaml");
    let src = "models:\n- name: Mine\n  provider: ollama\n  model: x\n# end\n";
    put(&file, src);
    let mut t = target();
    t.models.model = Some("m".into());
    e.clients.connect(Tool::Continue, &t).unwrap();
    let after = read(&file);
    assert!(
        after.starts_with("models:\n- name: Mine\n  provider: ollama\n  model: x\n- name: \"AI Model Gateway (m)\"\n  provider: openai\n"),
        "{after}"
    );
    assert!(after.ends_with("# end\n"));
    // the user adds an entry after ours: it stays, ours goes
    let edited = after.replace("# end\n", "- name: Later\n  model: y\n# end\n");
    put(&file, &edited);
    let out = e.clients.disconnect(Tool::Continue).unwrap();
    assert_eq!(out.restored.as_deref(), Some("merged"));
    assert_eq!(
        read(&file),
        "models:\n- name: Mine\n  provider: ollama\n  model: x\n- name: Later\n  model: y\n# end\n"
    );

    let file = e.home.join(".claude/settings.json");
    let src = "{\r\n  \"a\": 1\r\n}\r\n";
    put(&file, src);
    e.clients.connect(Tool::ClaudeCode, &target()).unwrap();
    let after = read(&file);
    assert!(
        !after.replace("\r\n", "").contains('\n'),
        "CRLF kept: {after:?}"
    );
    e.clients.disconnect(Tool::ClaudeCode).unwrap();
    assert_eq!(read(&file), src);
}

#[test]
fn a_missing_home_dir_is_made_only_when_forced_and_goes_again() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("gone/home");
    let c = Clients::new(home.clone(), dir.path().join("state"))
        .with_search_path(dir.path().join("no-bin"));
    let mut t = target();
    t.models.model = Some("m".into());
    let err = c.connect(Tool::Opencode, &t).unwrap_err();
    assert!(matches!(err, ClientError::NotInstalled { .. }), "{err}");
    assert!(!dir.path().join("gone").exists());
    c.connect_with(Tool::Opencode, &t, true).unwrap();
    assert!(home.join(".config/opencode/opencode.json").is_file());
    #[cfg(unix)]
    assert_eq!(mode(&home.join(".config/opencode")), 0o700);
    let out = c.disconnect(Tool::Opencode).unwrap();
    assert_eq!(out.restored.as_deref(), Some("removed"));
    assert!(
        !dir.path().join("gone").exists(),
        "every dir connect made is gone"
    );
}

#[test]
fn gemini_cli_gets_its_env_and_gateway_auth_and_both_back() {
    let e = env();
    with(&e);
    let file = e.home.join(".gemini/.env");
    let settings = e.home.join(".gemini/settings.json");
    let before = "# my keys\nGEMINI_API_KEY=AIza-mine\nOTHER=1\n";
    let settings_before = "{\n  // logged in with Google\n  \"security\": {\"auth\": {\"selectedType\": \"oauth-personal\"}},\n  \"theme\": \"Dracula\"\n}\n";
    put(&settings, settings_before);
    let mut t = target();
    t.models.model = Some("gemini-2.5-pro".into());
    round_trip(Tool::GeminiCli, &file, before, "gemini.env.after", &t);
    // settings.json's auth type went to "gateway" and came back.
    assert_eq!(read(&settings), settings_before);

    // Connected, then edited by the user: disconnect takes out only our keys
    // (the original key line comes back) and the auth type.
    put(&file, before);
    let out = e.clients.connect(Tool::GeminiCli, &t).unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("oauth-personal")),
        "{out:?}"
    );
    let connected = read(&settings);
    assert!(
        connected.contains("\"gemini-api-key\"") && connected.contains("// logged in"),
        "{connected}"
    );
    assert!(connected.contains("Dracula"));
    let env = read(&file);
    assert!(
        env.contains("GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:4000\n"),
        "{env}"
    );
    assert!(
        env.contains("GEMINI_API_KEY=aigw-local\n")
            && env.contains("GEMINI_MODEL=gemini-2.5-pro\n")
    );
    std::fs::write(&file, format!("{env}NEW=2\n")).unwrap();
    let out = e.clients.disconnect(Tool::GeminiCli).unwrap();
    assert_eq!(out.restored.as_deref(), Some("merged"), "{out:?}");
    assert_eq!(
        read(&file),
        "# my keys\nGEMINI_API_KEY=AIza-mine\nOTHER=1\nNEW=2\n"
    );
    assert_eq!(read(&settings), settings_before);

    // No .env before, no settings.json: both are created, then removed.
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(&settings).unwrap();
    e.clients.connect(Tool::GeminiCli, &target()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&read(&settings)).unwrap();
    assert_eq!(v["security"]["auth"]["selectedType"], "gemini-api-key");
    let out = e.clients.disconnect(Tool::GeminiCli).unwrap();
    assert_eq!(out.restored.as_deref(), Some("removed"), "{out:?}");
    assert!(!file.exists() && !settings.exists());
}
