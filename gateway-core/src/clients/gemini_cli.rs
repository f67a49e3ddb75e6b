//! Gemini CLI: `~/.gemini/.env` gets `GOOGLE_GEMINI_BASE_URL` (the gateway,
//! without `/v1`: the CLI's SDK adds `/v1beta/models/…`), `GEMINI_API_KEY`
//! (the token) and, when a model is given, `GEMINI_MODEL`. Each key's line
//! is replaced where it stands (an `export KEY=` line stays an export) or
//! appended; every other line stays as it was.
//!
//! `~/.gemini/settings.json` gets `security.auth.selectedType =
//! "gemini-api-key"` (created when missing): with another type (a Google
//! login, Vertex) the CLI ignores the key, and with none it picks its
//! `"gateway"` type, which 0.61 refuses in `gemini -p`. The old value (or
//! that there was none) is kept in the tool's backup dir; disconnect puts
//! it back while the file still says `"gemini-api-key"`, and removes the
//! file if connect created it and nobody changed it since.

use std::path::Path;

use super::jsonc::{Doc, J};
use super::{ClientError, Edit, Target, backup};

const BASE_URL: &str = "GOOGLE_GEMINI_BASE_URL";
const API_KEY: &str = "GEMINI_API_KEY";
const MODEL: &str = "GEMINI_MODEL";

/// The auth type connect selects: API key auth, which takes
/// `GOOGLE_GEMINI_BASE_URL` and `GEMINI_API_KEY` from the `.env`. (Gemini
/// CLI 0.61 picks its `"gateway"` type by itself when only the base URL is
/// set, and then refuses to run `gemini -p`: "Invalid auth method
/// selected.")
pub const KEY_AUTH: &str = "gemini-api-key";
const AUTH_PATH: [&str; 3] = ["security", "auth", "selectedType"];
/// Where connect keeps settings.json's old `selectedType`.
const SAVED_AUTH: &str = "settings-selectedType.json";

/// `KEY` of a `KEY=…` / `export KEY=…` line.
fn key_of(line: &str) -> Option<&str> {
    let l = line.trim_start();
    let l = l.strip_prefix("export ").unwrap_or(l).trim_start();
    let (k, _) = l.split_once('=')?;
    let k = k.trim_end();
    (!k.is_empty() && !k.starts_with('#')).then_some(k)
}

/// The value of `key` in a `.env` text (quotes taken off).
pub fn value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .rev()
        .find(|l| key_of(l) == Some(key))
        .map(|l| {
            let v = l.split_once('=').map_or("", |(_, v)| v).trim();
            v.trim_matches(|c| c == '"' || c == '\'').to_string()
        })
}

/// `text` with `key` set to `value`: its last line replaced in place, or a
/// line appended.
fn set(text: &str, key: &str, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match lines.iter().rposition(|l| key_of(l) == Some(key)) {
        Some(i) => {
            let export = lines[i].trim_start().starts_with("export ");
            lines[i] = format!("{}{key}={value}", if export { "export " } else { "" });
        }
        None => lines.push(format!("{key}={value}")),
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

pub fn apply(_path: &Path, before: Option<&str>, t: &Target) -> Result<Edit, ClientError> {
    let mut text = before.unwrap_or("").to_string();
    text = set(&text, BASE_URL, t.base());
    text = set(&text, API_KEY, &t.token);
    let mut touched = vec![BASE_URL.to_string(), API_KEY.to_string()];
    if let Some(m) = &t.models.model {
        if m.chars().any(|c| c.is_whitespace() || c == '#' || c == '"') {
            return Err(ClientError::Invalid(format!(
                "model {m:?}: a .env value cannot hold spaces, quotes or #"
            )));
        }
        text = set(&text, MODEL, m);
        touched.push(MODEL.into());
    }
    Ok(Edit {
        text,
        warnings: vec![],
        touched,
    })
}

/// Our keys out of a file edited since: each touched key's line as it was
/// in the original, or removed when the original had none.
pub fn unapply(current: &str, original: Option<&str>, touched: &[String]) -> String {
    let mut text = current.to_string();
    for key in touched {
        let was = original.and_then(|o| o.lines().rev().find(|l| key_of(l) == Some(key)));
        let mut lines: Vec<&str> = text.lines().collect();
        match (lines.iter().rposition(|l| key_of(l) == Some(key)), was) {
            (Some(i), Some(w)) => lines[i] = w,
            (Some(i), None) => {
                lines.remove(i);
            }
            (None, _) => {}
        }
        text = lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
    }
    text
}

pub fn points_at(text: &str, base: &str) -> bool {
    value(text, BASE_URL).is_some_and(|u| u.trim_end_matches('/') == base)
}

/// `settings.json` beside the `.env`.
fn settings_of(env_path: &Path) -> Option<std::path::PathBuf> {
    Some(env_path.parent()?.join("settings.json"))
}

/// Connect's second half: settings.json's `security.auth.selectedType`
/// made `"gemini-api-key"` (settings.json created when missing); the old
/// value (or that there was none, or no file) saved in `backup_dir`.
/// Returns a line for the outcome's warnings when a value was replaced.
pub fn select_key_auth(env_path: &Path, backup_dir: &Path) -> Result<Option<String>, ClientError> {
    let Some(path) = settings_of(env_path) else {
        return Ok(None);
    };
    let current = backup::read(&path)?;
    let text = match &current {
        Some(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| ClientError::unsupported(&path, "not UTF-8 text; not edited"))?,
        None => "{}\n",
    };
    let mut doc = Doc::parse(text).map_err(|e| ClientError::unsupported(&path, e))?;
    let old = doc.get_str(&AUTH_PATH);
    if old.as_deref() == Some(KEY_AUTH) {
        return Ok(None);
    }
    doc.set(&AUTH_PATH, &J::str(KEY_AUTH))
        .map_err(|e| ClientError::unsupported(&path, e))?;
    let written = doc.into_text();
    let saved = backup_dir.join(SAVED_AUTH);
    if !saved.exists() {
        let json = serde_json::json!({
            "selectedType": old,
            "created": current.is_none(),
            "written_sha256": backup::sha256_hex(written.as_bytes()),
        });
        backup::write_atomic(&saved, json.to_string().as_bytes(), 0o600)
            .map_err(|e| ClientError::io(&saved, e))?;
    }
    let mode = backup::mode_of(&path).unwrap_or(0o600);
    backup::write_atomic(&path, written.as_bytes(), mode).map_err(|e| ClientError::io(&path, e))?;
    Ok(old.map(|o| {
        format!(
            "{}: security.auth.selectedType was {o:?}, now \"{KEY_AUTH}\" (disconnect puts it back)",
            path.display()
        )
    }))
}

/// Disconnect's second half: settings.json's `selectedType` as it was
/// (the file removed when connect created it and it is unchanged), if it
/// still says `"gemini-api-key"`.
pub fn restore_auth(env_path: &Path, backup_dir: &Path) -> Result<(), ClientError> {
    let saved = backup_dir.join(SAVED_AUTH);
    let Some(bytes) = backup::read(&saved)? else {
        return Ok(());
    };
    let Ok(saved) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Ok(());
    };
    let Some(path) = settings_of(env_path) else {
        return Ok(());
    };
    let Some(cur) = backup::read(&path)? else {
        return Ok(());
    };
    if saved["created"] == true && saved["written_sha256"] == backup::sha256_hex(&cur).as_str() {
        return std::fs::remove_file(&path).map_err(|e| ClientError::io(&path, e));
    }
    let Ok(text) = std::str::from_utf8(&cur) else {
        return Ok(());
    };
    let mut doc = Doc::parse(text).map_err(|e| ClientError::unsupported(&path, e))?;
    if doc.get_str(&AUTH_PATH).as_deref() != Some(KEY_AUTH) {
        return Ok(());
    }
    let e = |e| ClientError::unsupported(&path, e);
    match saved["selectedType"].as_str() {
        Some(old) => doc.set(&AUTH_PATH, &J::str(old)).map_err(e)?,
        None => {
            doc.remove(&AUTH_PATH).map_err(e)?;
        }
    }
    let mode = backup::mode_of(&path).unwrap_or(0o600);
    backup::write_atomic(&path, doc.into_text().as_bytes(), mode)
        .map_err(|e| ClientError::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_are_set_in_place_and_taken_out_again() {
        let before = "# mine\nexport GEMINI_API_KEY=old\nOTHER=1\n";
        let t = Target {
            base_url: "http://127.0.0.1:4000/".into(),
            token: "tok".into(),
            ..Target::default()
        };
        let e = apply(Path::new(".env"), Some(before), &t).unwrap();
        assert_eq!(
            e.text,
            "# mine\nexport GEMINI_API_KEY=tok\nOTHER=1\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:4000\n"
        );
        assert!(points_at(&e.text, "http://127.0.0.1:4000"));
        assert_eq!(value(&e.text, "GEMINI_API_KEY").as_deref(), Some("tok"));
        // The user added a line since: only our keys go back.
        let edited = format!("{}NEW=2\n", e.text);
        assert_eq!(
            unapply(&edited, Some(before), &e.touched),
            "# mine\nexport GEMINI_API_KEY=old\nOTHER=1\nNEW=2\n"
        );
        assert_eq!(unapply("GEMINI_API_KEY=tok\n", None, &e.touched), "");
    }
}
