//! The diagnostics bundle (`aigw diagnose --out FILE`, `GET
//! /admin/api/diagnostics`): one `.tar.gz` with what a bug report needs —
//! status, config versions, doctor results, recent errors, recent audit,
//! the config (references only), key names, platform facts — and no
//! secret. Every text that goes in passes [`Redactor::text`]: the secret
//! values this installation knows (provider and client keys, admin tokens,
//! header values, keychain entries, secret-looking env vars) and anything
//! shaped like a key (`sk-…`, `aigw_admin_…`, `Bearer …`) become `[REDACTED]`.
//! The config additionally has every header value and every inline
//! credential replaced before that. Request bodies never go in.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{Config, HeaderSource};
use crate::secrets::{KeyIndex, SecretRef};

pub use crate::lifecycle::redact::REDACTED;

/// How many of each go in: config versions, audit entries, failed requests.
pub const MAX_VERSIONS: u32 = 50;
pub const MAX_AUDIT: u32 = 200;
pub const MAX_ERRORS: u32 = 100;

/// What a bundle is made of; gathered by the CLI (talking to a running
/// gateway or not) or by the admin API (from the gateway's own state).
#[derive(Debug, Default)]
pub struct Inputs {
    /// The status of the running gateway, or what is known without one.
    pub status: Value,
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    /// The live (committed) config's TOML.
    pub live_toml: Option<String>,
    /// `aigw doctor`'s report.
    pub doctor: String,
    /// Secret values known to the caller beyond [`known_secrets`] (the
    /// running gateway's admin tokens).
    pub extra_secrets: Vec<String>,
}

/// Replaces secrets in text.
#[derive(Debug, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another goes whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(mut secrets: Vec<String>) -> Self {
        secrets.retain(|s| s.len() >= crate::secrets::scrub::MIN_SECRET_LEN);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// `s` with every known secret and every key-shaped word redacted.
    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for sec in &self.secrets {
            if out.contains(sec.as_str()) {
                out = out.replace(sec.as_str(), REDACTED);
            }
        }
        redact_shapes(&out)
    }

    pub fn json(&self, v: &Value) -> String {
        self.text(&serde_json::to_string_pretty(v).unwrap_or_default())
    }
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
}

/// Words that look like keys or tokens: `sk-…`/`sk_…` (OpenAI, Anthropic,
/// OpenRouter…), `aigw_admin_…`/`aigw_viewer_…` (admin tokens), `xai-…`, `AIza…` (Google) with at least 8
/// more characters, and whatever follows `Bearer `.
pub fn redact_shapes(s: &str) -> String {
    const PREFIXES: [&str; 6] = ["sk-", "sk_", "aigw_admin_", "aigw_viewer_", "AIza", "xai-"];
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let at_word_start = i == 0 || !token_char(s[..i].chars().next_back().unwrap_or(' '));
        if rest
            .get(..7)
            .is_some_and(|w| w.eq_ignore_ascii_case("bearer "))
        {
            let tok: usize = rest[7..]
                .chars()
                .take_while(|c| token_char(*c))
                .map(char::len_utf8)
                .sum();
            if tok > 0 {
                out.push_str(&rest[..7]);
                out.push_str(REDACTED);
                i += 7 + tok;
                continue;
            }
        }
        if at_word_start && let Some(p) = PREFIXES.iter().find(|p| rest.starts_with(**p)) {
            let tail: usize = rest[p.len()..]
                .chars()
                .take_while(|c| token_char(*c))
                .map(char::len_utf8)
                .sum();
            if tail >= 8 {
                out.push_str(REDACTED);
                i += p.len() + tail;
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// A config's TOML with every provider header value redacted the way
/// viewers and diffs see it ([`crate::lifecycle::redact::header_values`]),
/// then every inline value of a credential key (one that is not a
/// `keyring:`/`env:` reference or `client`) replaced and comments dropped;
/// unparseable text is redacted line by line after `=`.
pub fn redact_config(toml: &str) -> String {
    let toml = crate::lifecycle::redact::header_values(toml);
    let Ok(mut doc) = toml.parse::<toml_edit::DocumentMut>() else {
        return toml
            .lines()
            .map(|l| match l.split_once('=') {
                Some((k, _)) => format!("{k}= \"{REDACTED}\""),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
    };
    redact_table(doc.as_table_mut());
    doc.set_trailing("");
    doc.to_string()
}

fn credential_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["key", "token", "secret", "password", "authorization"]
        .iter()
        .any(|w| k.contains(w))
}

fn is_reference(v: &str) -> bool {
    v.starts_with("keyring:") || v.starts_with("env:") || v == "client"
}

fn redact_item(item: &mut toml_edit::Item, credential: bool) {
    match item {
        toml_edit::Item::Value(v) => redact_value(v, credential),
        toml_edit::Item::Table(t) => redact_table(t),
        toml_edit::Item::ArrayOfTables(a) => {
            for t in a.iter_mut() {
                redact_table(t);
            }
        }
        toml_edit::Item::None => {}
    }
}

fn redact_value(v: &mut toml_edit::Value, credential: bool) {
    match v {
        toml_edit::Value::String(s) if credential && !is_reference(s.value()) => {
            *v = toml_edit::Value::from(REDACTED);
        }
        toml_edit::Value::Array(a) => {
            for x in a.iter_mut() {
                redact_value(x, credential);
            }
        }
        toml_edit::Value::InlineTable(t) => {
            for (k, x) in t.iter_mut() {
                redact_value(x, credential_key(k.get()));
            }
        }
        _ => {}
    }
}

fn redact_table(t: &mut toml_edit::Table) {
    t.decor_mut().clear();
    for (mut k, item) in t.iter_mut() {
        k.leaf_decor_mut().clear();
        let credential = credential_key(k.get());
        redact_item(item, credential);
    }
}

/// Every secret value this installation can reach: provider keys, client
/// keys, header values of `config`, keychain entries named in the key index,
/// admin tokens of `data_dir`, and the values of env vars whose names look
/// secret or that a reference names. Blocking (keychain).
pub fn known_secrets(config: Option<&Config>, data_dir: Option<&Path>) -> Vec<String> {
    let mut v = Vec::new();
    let mut refs: Vec<SecretRef> = Vec::new();
    if let Some(c) = config {
        for p in &c.providers {
            refs.extend(p.api_keys.iter().cloned());
            for (_, val) in &p.headers {
                let val = match val {
                    HeaderSource::Literal(v) => v,
                    HeaderSource::Secret(r) => {
                        refs.push(r.clone());
                        continue;
                    }
                };
                if let Ok(s) = val.to_str() {
                    v.push(s.to_string());
                    // `Bearer X`: X alone too
                    if let Some((_, t)) = s.split_once(' ') {
                        v.push(t.to_string());
                    }
                }
            }
        }
        refs.extend(c.server.client_keys.iter().cloned());
    }
    if let Some(dir) = data_dir {
        for n in KeyIndex::new(dir).names() {
            refs.push(SecretRef::Keyring(n));
        }
        if let Some(t) = crate::secrets::admin::AdminTokens::read_existing(dir) {
            v.push(t.admin.expose().to_string());
            v.push(t.viewer.expose().to_string());
        }
    }
    for r in refs {
        if let Ok(s) = r.resolve() {
            v.push(s.expose().to_string());
        }
    }
    for (name, val) in std::env::vars() {
        if credential_key(&name) || name.contains("API") || name.contains("PASS") {
            v.push(val);
        }
    }
    v
}

/// Facts about the machine, no values of env vars (names only).
pub fn platform() -> Value {
    let mut aigw_vars: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("AIGW_"))
        .collect();
    aigw_vars.sort();
    let proxies: Vec<&str> = crate::upstream::PROXY_VARS
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_some())
        .collect();
    json!({
        "aigw_version": crate::VERSION,
        "os": std::env::consts::OS,
        "os_family": std::env::consts::FAMILY,
        "arch": std::env::consts::ARCH,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_string()),
        "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "aigw_env_vars_set": aigw_vars,
        "proxy_env_vars_set": proxies,
        "store_schema": crate::store::SCHEMA_VERSION,
        "telemetry_schema": crate::telemetry::db::schema_version(),
    })
}

/// One failed request of the log (no bodies).
#[derive(Serialize)]
struct FailedRequest {
    request_id: String,
    ts_ms: i64,
    endpoint: String,
    requested_model: String,
    provider: Option<String>,
    forwarded_model: Option<String>,
    status: i64,
    error: Option<String>,
    attempts: i64,
}

/// The newest failed requests (status ≥ 400) of `telemetry.db`, read only.
fn recent_errors(data_dir: &Path) -> Value {
    // `telemetry::hub::DB_FILE`
    let path = data_dir.join("telemetry.db");
    if !path.is_file() {
        return json!({ "note": "no request log (telemetry.db) in the data dir" });
    }
    let read = || -> rusqlite::Result<Vec<FailedRequest>> {
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut stmt = conn.prepare(
            "SELECT request_id, ts_ms, endpoint, requested_model, provider, forwarded_model,
                    status, error, attempts
             FROM requests WHERE status >= 400 ORDER BY ts_ms DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([MAX_ERRORS], |r| {
            Ok(FailedRequest {
                request_id: r.get(0)?,
                ts_ms: r.get(1)?,
                endpoint: r.get(2)?,
                requested_model: r.get(3)?,
                provider: r.get(4)?,
                forwarded_model: r.get(5)?,
                status: r.get(6)?,
                error: r.get(7)?,
                attempts: r.get(8)?,
            })
        })?;
        rows.collect()
    };
    match read() {
        Ok(v) => json!({ "failed_requests": v }),
        Err(e) => json!({ "error": format!("cannot read the request log: {e}") }),
    }
}

/// Config versions (no TOML, no diffs) and the audit log, from `config.db`.
fn store_parts(data_dir: &Path) -> (Value, Value) {
    let path = data_dir.join(crate::store::CONFIG_DB);
    if !path.is_file() {
        let none = json!({ "note": "no config store (config.db) in the data dir" });
        return (none.clone(), none);
    }
    let store = match crate::store::ConfigStore::open(&path) {
        Ok(s) => s,
        Err(e) => {
            let e = json!({ "error": e.to_string() });
            return (e.clone(), e);
        }
    };
    let versions = match store.history(MAX_VERSIONS, None) {
        Ok(v) => Value::Array(
            v.into_iter()
                .map(|v| {
                    json!({
                        "id": v.id, "created_at_ms": v.created_at_ms, "source": v.source,
                        "actor": v.actor, "message": v.message, "hash": v.hash,
                        "summary": v.summary,
                    })
                })
                .collect(),
        ),
        Err(e) => json!({ "error": e.to_string() }),
    };
    let audit = match store.audit_log(MAX_AUDIT, None) {
        Ok(a) => serde_json::to_value(a).unwrap_or_default(),
        Err(e) => json!({ "error": e.to_string() }),
    };
    (versions, audit)
}

/// Key names and whether the keychain holds them (never values). Blocking.
pub fn key_names(config: Option<&Config>, data_dir: Option<&Path>) -> Value {
    let mut names: Vec<String> = data_dir
        .map(|d| KeyIndex::new(d).names())
        .unwrap_or_default();
    let mut env_refs = Vec::new();
    if let Some(c) = config {
        let refs = c
            .providers
            .iter()
            .flat_map(|p| &p.api_keys)
            .chain(&c.server.client_keys);
        for r in refs {
            match r {
                SecretRef::Keyring(n) if !names.contains(n) => names.push(n.clone()),
                SecretRef::Env(n) => env_refs.push(json!({
                    "env": n,
                    "present": std::env::var_os(n).is_some(),
                })),
                SecretRef::Keyring(_) => {}
            }
        }
    }
    names.sort();
    let keyring: Vec<Value> = names
        .into_iter()
        .map(|n| {
            let present = crate::secrets::keychain_get(&n).is_ok();
            json!({ "name": n, "present": present })
        })
        .collect();
    json!({ "keyring": keyring, "env": env_refs })
}

/// Builds the archive (blocking: keychain, SQLite). Everything it holds is
/// bounded: [`MAX_VERSIONS`], [`MAX_AUDIT`], [`MAX_ERRORS`], the config.
pub fn bundle(inputs: &Inputs) -> std::io::Result<Vec<u8>> {
    let file_text = inputs
        .config_file
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok());
    let live_config = inputs
        .live_toml
        .as_deref()
        .and_then(|t| Config::parse(t, "live").ok());
    let file_config = inputs.config_file.as_deref().map(|p| (p, Config::load(p)));
    let mut secrets = known_secrets(live_config.as_ref(), inputs.data_dir.as_deref());
    if let Some((_, Ok(c))) = &file_config {
        secrets.extend(known_secrets(Some(c), None));
    }
    secrets.extend(inputs.extra_secrets.iter().cloned());
    let r = Redactor::new(secrets);

    let mut files: Vec<(String, String)> = Vec::new();
    files.push(("status.json".into(), r.json(&inputs.status)));
    files.push(("platform.json".into(), r.json(&platform())));
    files.push((
        "paths.json".into(),
        r.json(&json!({
            "config_file": inputs.config_file,
            "data_dir": inputs.data_dir,
        })),
    ));
    if let Some(t) = &inputs.live_toml {
        files.push(("config/live.toml".into(), r.text(&redact_config(t))));
    }
    match (&file_text, &inputs.live_toml) {
        (Some(f), Some(l)) if f == l => {}
        (Some(f), _) => files.push(("config/file.toml".into(), r.text(&redact_config(f)))),
        _ => {}
    }
    if let Some((p, loaded)) = &file_config {
        let text = match loaded {
            Ok(c) => {
                let mut s = format!("{} is valid\n", p.display());
                for w in &c.warnings {
                    s.push_str(&format!(
                        "warning: {}\n",
                        crate::config::format_issue(&p.display().to_string(), w)
                    ));
                }
                s
            }
            Err(e) => format!("{e}\n"),
        };
        files.push(("config/validation.txt".into(), r.text(&text)));
    }
    files.push(("doctor.txt".into(), r.text(&inputs.doctor)));
    let keys_cfg = live_config
        .as_ref()
        .or(file_config.as_ref().and_then(|(_, c)| c.as_ref().ok()));
    files.push((
        "keys.json".into(),
        r.json(&key_names(keys_cfg, inputs.data_dir.as_deref())),
    ));
    if let Some(dir) = &inputs.data_dir {
        let (versions, audit) = store_parts(dir);
        files.push(("versions.json".into(), r.json(&versions)));
        files.push(("audit.json".into(), r.json(&audit)));
        files.push(("recent_errors.json".into(), r.json(&recent_errors(dir))));
    }
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let manifest = json!({
        "kind": "aigw-diagnostics",
        "aigw_version": crate::VERSION,
        "created_at_ms": crate::store::now_ms(),
        "files": names,
        "redaction": "known secret values and key-shaped words are [REDACTED]; header values and inline credentials in the config too; request bodies are never included",
    });
    files.insert(0, ("manifest.json".into(), r.json(&manifest)));
    tar_gz("aigw-diagnostics", &files)
}

/// A `.tar.gz` of text files under `root/`.
pub fn tar_gz(root: &str, files: &[(String, String)]) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let now = (crate::store::now_ms() / 1000).max(0) as u64;
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(now);
        h.set_cksum();
        tar.append_data(&mut h, format!("{root}/{name}"), text.as_bytes())?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_redacted() {
        let s = "key sk-abcdefgh1234 and sk-short, Bearer abc.def tok aigw_admin_0123456789 ask-me-anything";
        let out = redact_shapes(s);
        assert!(!out.contains("sk-abcdefgh1234"), "{out}");
        assert!(out.contains("sk-short"), "{out}");
        assert!(!out.contains("abc.def"), "{out}");
        assert!(!out.contains("aigw_admin_0123456789"), "{out}");
        assert!(out.contains("ask-me-anything"), "{out}");
        assert_eq!(redact_shapes("aigw_env_vars_set"), "aigw_env_vars_set");
        // multi-byte text around (and right before) a match
        let out = redact_shapes("✓ ok ✓sk-abcdefgh1234 Bearer ✓ é Bearer xyz");
        assert_eq!(out, "✓ ok ✓[REDACTED] Bearer ✓ é Bearer [REDACTED]");
    }

    #[test]
    fn config_keeps_references_and_drops_values() {
        let t = "# token: sk-in-a-comment-123456\n[[providers]]\nname = \"a\"\napi_key = \"env:A_KEY\"\nheaders = { \"X-Secret\" = \"hv-123456\" }\n[server]\nclient_keys = [\"keyring:c\", \"raw-inline-secret\"]\n";
        let out = redact_config(t);
        assert!(out.contains("env:A_KEY"), "{out}");
        assert!(out.contains("keyring:c"), "{out}");
        assert!(!out.contains("hv-123456"), "{out}");
        assert!(!out.contains("raw-inline-secret"), "{out}");
        assert!(!out.contains("sk-in-a-comment"), "{out}");
        assert!(out.contains("X-Secret"), "{out}");
    }

    #[test]
    fn known_values_go_whole() {
        let r = Redactor::new(vec!["abc123".into(), "abc123456".into(), "x".into()]);
        assert_eq!(
            r.text("v=abc123456 w=abc123 x"),
            "v=[REDACTED] w=[REDACTED] x"
        );
    }
}
