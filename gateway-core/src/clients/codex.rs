//! Codex CLI (0.171): `~/.codex/config.toml`, edited with `toml_edit` so
//! every other table, key, comment and the order stay: top-level
//! `model_provider = "aigw"` and `[model_providers.aigw]` with `name`
//! (Codex refuses a provider without one), `base_url` (`…/v1`), `wire_api =
//! "responses"`, `experimental_bearer_token` (an `env_key` nobody sets
//! makes Codex fail) and `supports_websockets = false` (the gateway serves
//! no WebSocket Responses; Codex would retry it for seconds). `model`
//! only when a model is given. `~/.codex/auth.json` is never touched.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, value};

use super::{ClientError, Edit, Target};

pub const PROVIDER_ID: &str = "aigw";
pub const PROVIDER_NAME: &str = "AI Model Gateway";

fn parse(path: &Path, text: &str) -> Result<DocumentMut, ClientError> {
    text.parse::<DocumentMut>()
        .map_err(|e| ClientError::unsupported(path, format!("not valid TOML: {e}")))
}

/// The provider table connect writes.
pub fn provider_table(t: &Target) -> Table {
    let mut p = Table::new();
    p["name"] = value(PROVIDER_NAME);
    p["base_url"] = value(t.v1());
    p["wire_api"] = value("responses");
    if t.subscription {
        // the ChatGPT login's token goes upstream; the gateway key beside it
        p["requires_openai_auth"] = value(true);
        let mut h = toml_edit::InlineTable::new();
        h.insert("x-aigw-key", t.token.as_str().into());
        p["http_headers"] = value(h);
    } else {
        p["experimental_bearer_token"] = value(t.token.as_str());
    }
    p["supports_websockets"] = value(false);
    p
}

pub fn apply(path: &Path, before: Option<&str>, t: &Target) -> Result<Edit, ClientError> {
    let mut doc = parse(path, before.unwrap_or(""))?;
    let mut warnings = Vec::new();
    let mut touched = vec![
        "model_provider".to_string(),
        format!("model_providers.{PROVIDER_ID}"),
    ];
    if let Some(old) = doc.get("model_provider").and_then(Item::as_str)
        && old != PROVIDER_ID
    {
        warnings.push(format!(
            "model_provider was {old:?}; it comes back on disconnect"
        ));
    }
    set_keeping_decor(&mut doc, "model_provider", PROVIDER_ID);
    if let Some(m) = &t.models.model {
        set_keeping_decor(&mut doc, "model", m);
        touched.push("model".into());
    } else if let Some(m) = doc.get("model").and_then(Item::as_str) {
        warnings.push(format!(
            "Codex will ask the gateway for model {m:?} (your `model`): the gateway needs a route or provider for it"
        ));
    }
    if doc.get("profile").is_some() {
        warnings.push(
            "a `profile` is set: a profile with its own model_provider overrides this one".into(),
        );
    }
    let providers = doc.entry("model_providers").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(providers) = providers.as_table_mut() else {
        return Err(ClientError::unsupported(
            path,
            "model_providers is not a [table] (an inline table?); add [model_providers.aigw] by hand or make it a table",
        ));
    };
    let mut table = provider_table(t);
    if let Some(Item::Table(old)) = providers.get(PROVIDER_ID) {
        // keep where it was
        if let Some(pos) = old.position() {
            table.set_position(Some(pos));
        }
    }
    providers.insert(PROVIDER_ID, Item::Table(table));
    Ok(Edit {
        text: doc.to_string(),
        warnings,
        touched,
    })
}

/// `key = "v"` at the top level; an existing value keeps its spacing and
/// trailing comment.
fn set_keeping_decor(doc: &mut DocumentMut, key: &str, v: &str) {
    match doc.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = v.into();
            *old.decor_mut() = decor;
        }
        None => doc[key] = value(v),
    }
}

pub fn unapply(
    path: &Path,
    current: &str,
    original: Option<&str>,
    touched: &[String],
) -> Result<String, ClientError> {
    let mut doc = parse(path, current)?;
    let orig = original.and_then(|o| o.parse::<DocumentMut>().ok());
    for key in touched {
        if key.starts_with("model_providers.") {
            let back = orig
                .as_ref()
                .and_then(|o| o.get("model_providers"))
                .and_then(|p| p.get(PROVIDER_ID))
                .cloned();
            if let Some(providers) = doc
                .get_mut("model_providers")
                .and_then(Item::as_table_like_mut)
            {
                match back {
                    Some(item) => {
                        providers.insert(PROVIDER_ID, item);
                    }
                    None => {
                        providers.remove(PROVIDER_ID);
                    }
                }
            }
            let had = orig
                .as_ref()
                .is_some_and(|o| o.get("model_providers").is_some());
            let empty = doc
                .get("model_providers")
                .and_then(Item::as_table_like)
                .is_some_and(|t| t.is_empty());
            if !had && empty {
                doc.remove("model_providers");
            }
        } else {
            match orig.as_ref().and_then(|o| o.get(key)).cloned() {
                Some(item) => doc[key.as_str()] = item,
                None => {
                    doc.remove(key);
                }
            }
        }
    }
    Ok(doc.to_string())
}

/// Every provider base URL the file names (to see it points at us).
pub fn base_urls(text: &str) -> Vec<String> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return vec![];
    };
    doc.get("model_providers")
        .and_then(Item::as_table_like)
        .map(|t| {
            t.iter()
                .filter_map(|(_, p)| p.get("base_url")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
