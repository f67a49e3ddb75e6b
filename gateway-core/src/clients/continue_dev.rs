//! Continue: `~/.continue/config.yaml`. One entry per model is appended to
//! the top-level `models:` list (block style), each named `AI Model
//! Gateway (<model>)` — the name marks ours, so disconnect removes exactly
//! those. The edit is line-based: every other line stays byte-identical.
//! Layouts we cannot edit safely (a flow-style `models: [...]`, tabs) are
//! refused with a message rather than rewritten.

use std::path::Path;

use super::jsonc::quote;
use super::{ClientError, Edit, Target};

pub const NAME_PREFIX: &str = "AI Model Gateway (";

/// The top-level `models:` block: its key line and the lines of its items.
struct Block {
    /// Index of the `models:` line.
    key: usize,
    /// One past the last line holding an item (blank and comment lines
    /// after the items are not part of it).
    end: usize,
    /// The column of the items' `-`.
    dash: usize,
    /// `models: []`: the line is replaced by a block list.
    empty_flow: bool,
}

fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

fn is_top_level_key(line: &str) -> bool {
    !line.starts_with([' ', '\t', '#', '-', '\r', '\n'])
        && !line.trim().is_empty()
        && !line.starts_with("---")
}

fn find(path: &Path, ls: &[&str]) -> Result<Option<Block>, ClientError> {
    if ls
        .iter()
        .any(|l| l.starts_with('\t') || l.trim_start_matches(' ').starts_with('\t'))
    {
        return Err(ClientError::unsupported(
            path,
            "indented with tabs; aigw edits only space-indented YAML (add the model by hand)",
        ));
    }
    if let Some(key) = ls.iter().position(|l| {
        l.strip_prefix("models:")
            .is_some_and(|rest| rest.trim() == "[]")
    }) {
        return Ok(Some(Block {
            key,
            end: key + 1,
            dash: 2,
            empty_flow: true,
        }));
    }
    let Some(key) = ls.iter().position(|l| {
        l.strip_prefix("models:")
            .is_some_and(|rest| rest.trim().is_empty() || rest.trim_start().starts_with('#'))
    }) else {
        if ls.iter().any(|l| l.starts_with("models:")) {
            return Err(ClientError::unsupported(
                path,
                "`models:` is written in flow style ([...]); aigw only appends to a block list (one `- name:` per line) — add the entry by hand or rewrite the list as a block",
            ));
        }
        return Ok(None);
    };
    let mut end = key + 1;
    let mut dash = None;
    for (i, l) in ls.iter().enumerate().skip(key + 1) {
        let trimmed = l.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if is_top_level_key(l) || l.starts_with("---") || l.starts_with("...") {
            break;
        }
        let indent = l.len() - l.trim_start_matches(' ').len();
        if dash.is_none() {
            if !l.trim_start().starts_with('-') {
                return Err(ClientError::unsupported(
                    path,
                    "`models:` is not a list; aigw appends only to a `- …` list",
                ));
            }
            dash = Some(indent);
        }
        if indent == 0 && !l.starts_with('-') {
            break;
        }
        end = i + 1;
    }
    Ok(Some(Block {
        key,
        end,
        dash: dash.unwrap_or(2),
        empty_flow: false,
    }))
}

fn entry(model: &str, t: &Target, dash: usize, nl: &str) -> String {
    let d = " ".repeat(dash);
    let k = " ".repeat(dash + 2);
    format!(
        "{d}- name: {}{nl}{k}provider: openai{nl}{k}model: {}{nl}{k}apiBase: {}{nl}{k}apiKey: {}{nl}",
        quote(&format!("{NAME_PREFIX}{model})")),
        quote(model),
        quote(&t.v1()),
        quote(&t.token),
    )
}

pub fn apply(path: &Path, before: Option<&str>, t: &Target) -> Result<Edit, ClientError> {
    let models = t.models.listed();
    if models.is_empty() {
        return Err(ClientError::Invalid(
            "Continue needs a model: pass a model (--model) or add an exact [[routes]] model to the gateway".into(),
        ));
    }
    let text = before.unwrap_or("");
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let ls = lines(text);
    let mut out = String::with_capacity(text.len() + 512);
    match find(path, &ls)? {
        Some(b) => {
            // the list lines stay; ours go after its last item
            let mut entries = String::new();
            for m in &models {
                entries.push_str(&entry(m, t, b.dash, nl));
            }
            for (i, l) in ls.iter().enumerate() {
                if b.empty_flow && i == b.key {
                    out.push_str("models:");
                    out.push_str(nl);
                } else {
                    out.push_str(l);
                }
                if i + 1 == b.end {
                    if !l.ends_with('\n') {
                        out.push_str(nl);
                    }
                    out.push_str(&entries);
                }
            }
        }
        None => {
            if before.is_none() {
                out.push_str(&format!(
                    "name: Local Assistant{nl}version: 1.0.0{nl}schema: v1{nl}"
                ));
            } else {
                out.push_str(text);
                if !text.is_empty() && !text.ends_with('\n') {
                    out.push_str(nl);
                }
            }
            out.push_str("models:");
            out.push_str(nl);
            for m in &models {
                out.push_str(&entry(m, t, 2, nl));
            }
        }
    }
    Ok(Edit {
        text: out,
        warnings: vec![],
        touched: vec!["models".into()],
    })
}

/// Whether a list item line is one of ours.
fn is_ours(line: &str) -> bool {
    let rest = line.trim_start_matches(' ');
    let Some(rest) = rest.strip_prefix("- name:") else {
        return false;
    };
    let v = rest.trim().trim_start_matches(['"', '\'']);
    v.starts_with(NAME_PREFIX)
}

/// Our entries out; the `models:` line too when we added it and the list
/// is empty now.
pub fn unapply(path: &Path, current: &str, original: Option<&str>) -> Result<String, ClientError> {
    let ls = lines(current);
    let Some(b) = find(path, &ls)? else {
        return Ok(current.to_string());
    };
    let mut keep = vec![true; ls.len()];
    let mut i = b.key + 1;
    while i < b.end {
        let l = ls[i];
        let indent = l.len() - l.trim_start_matches(' ').len();
        if indent == b.dash && is_ours(l) {
            keep[i] = false;
            i += 1;
            // its lines: deeper than the dash, up to the next item
            while i < b.end {
                let l = ls[i];
                let ind = l.len() - l.trim_start_matches(' ').len();
                let item_start = ind == b.dash && l.trim_start().starts_with('-');
                if item_start || (ind <= b.dash && !l.trim().is_empty()) {
                    break;
                }
                keep[i] = false;
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    let items_left = (b.key + 1..b.end).any(|i| {
        keep[i] && {
            let t = ls[i].trim();
            !t.is_empty() && !t.starts_with('#')
        }
    });
    // an emptied list goes back to the original's `models:` line, or goes
    let original_key = original.and_then(|o| {
        lines(o)
            .into_iter()
            .find(|l| l.starts_with("models:"))
            .map(str::to_string)
    });
    let mut out = String::with_capacity(current.len());
    for (i, (l, k)) in ls.iter().zip(keep).enumerate() {
        if i == b.key && !items_left && !b.empty_flow {
            if let Some(orig) = &original_key {
                out.push_str(orig);
            }
            continue;
        }
        if k {
            out.push_str(l);
        }
    }
    Ok(out)
}
