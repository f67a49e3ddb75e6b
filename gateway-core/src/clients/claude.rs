//! Claude Code: `~/.claude/settings.json`, object `env`:
//! `ANTHROPIC_BASE_URL` (without `/v1`), `ANTHROPIC_AUTH_TOKEN` (the one
//! auth variable: an `ANTHROPIC_API_KEY` there is taken out while
//! connected — Claude Code warns when both are set — and comes back on
//! disconnect), and the model variables when a model map is given.
//! Subscription mode keeps the user's Claude login: no auth variable, the
//! gateway token as `x-aigw-key` in `ANTHROPIC_CUSTOM_HEADERS` instead.

use std::path::Path;

use super::jsonc::{Doc, J};
use super::{ClientError, Edit, Target};

const BASE: &str = "ANTHROPIC_BASE_URL";
const TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
const API_KEY: &str = "ANTHROPIC_API_KEY";
const CUSTOM_HEADERS: &str = "ANTHROPIC_CUSTOM_HEADERS";

/// `ANTHROPIC_CUSTOM_HEADERS` (one `Name: value` per line) with the
/// gateway key line set, the others kept.
pub fn custom_headers(existing: Option<&str>, token: &str) -> String {
    let mut lines: Vec<&str> = existing
        .unwrap_or("")
        .lines()
        .filter(|l| {
            let name = l.split(':').next().unwrap_or("").trim();
            !name.is_empty() && !name.eq_ignore_ascii_case("x-aigw-key")
        })
        .collect();
    let ours = format!("x-aigw-key: {token}");
    lines.push(&ours);
    lines.join("\n")
}

fn parse(path: &Path, text: &str) -> Result<Doc, ClientError> {
    let doc = Doc::parse(text).map_err(|e| ClientError::unsupported(path, e))?;
    if doc.is_object(&["env"]) == Some(false) {
        return Err(ClientError::unsupported(path, "\"env\" is not an object"));
    }
    Ok(doc)
}

pub fn apply(path: &Path, before: Option<&str>, t: &Target) -> Result<Edit, ClientError> {
    let mut doc = parse(path, before.unwrap_or("{}\n"))?;
    let mut warnings = Vec::new();
    let set = |doc: &mut Doc, key: &str, v: &str| {
        doc.set(&["env", key], &J::str(v))
            .map_err(|e| ClientError::unsupported(path, e))
    };
    set(&mut doc, BASE, t.base())?;
    let mut touched = vec![BASE.to_string()];
    if t.subscription {
        let headers = custom_headers(doc.get_str(&["env", CUSTOM_HEADERS]).as_deref(), &t.token);
        set(&mut doc, CUSTOM_HEADERS, &headers)?;
        touched.push(CUSTOM_HEADERS.into());
        if doc.get_str(&["env", TOKEN]).is_some() || doc.get_str(&["env", API_KEY]).is_some() {
            warnings.push(format!(
                "subscription mode: env.{TOKEN} / env.{API_KEY} is set, so Claude Code sends that key rather than your Claude login"
            ));
        }
    } else {
        set(&mut doc, TOKEN, &t.token)?;
        touched.push(TOKEN.into());
    }
    if !t.subscription
        && doc
            .remove(&["env", API_KEY])
            .map_err(|e| ClientError::unsupported(path, e))?
    {
        touched.push(API_KEY.into());
        warnings.push(format!(
            "env.{API_KEY} was taken out while connected (Claude Code warns when it and {TOKEN} are both set); it is in the backup and comes back on disconnect"
        ));
    }
    let m = &t.models;
    for (key, v) in [
        ("ANTHROPIC_MODEL", &m.model),
        ("ANTHROPIC_DEFAULT_OPUS_MODEL", &m.opus),
        ("ANTHROPIC_DEFAULT_SONNET_MODEL", &m.sonnet),
        ("ANTHROPIC_DEFAULT_HAIKU_MODEL", &m.haiku),
    ] {
        if let Some(v) = v {
            set(&mut doc, key, v)?;
            touched.push(key.into());
        }
    }
    Ok(Edit {
        text: doc.into_text(),
        warnings,
        touched: touched.into_iter().map(|k| format!("env.{k}")).collect(),
    })
}

/// Our keys out of `current`: each back to its original value, or gone;
/// `env` itself goes when we made it and it is empty now.
pub fn unapply(
    path: &Path,
    current: &str,
    original: Option<&str>,
    touched: &[String],
) -> Result<String, ClientError> {
    let doc = parse(path, current)?;
    super::jsonc::restore(doc, original, touched, "env")
        .map_err(|e| ClientError::unsupported(path, e))
}

/// `env.ANTHROPIC_BASE_URL`, if set.
pub fn base_url(text: &str) -> Option<String> {
    Doc::parse(text).ok()?.get_str(&["env", BASE])
}
