//! Config diffs for previews, history and audit: a unified text diff and a
//! summary of what changed (providers and routes added, removed, changed;
//! other sections changed). Key-like strings are redacted from both — config
//! holds only key references, but a pasted key must not spread further —
//! and so is every provider header value ([`super::redact`]).

use std::collections::BTreeMap;

use serde::Serialize;
use similar::TextDiff;

/// What a change touches, by name.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DiffSummary {
    pub providers_added: Vec<String>,
    pub providers_removed: Vec<String>,
    pub providers_changed: Vec<String>,
    pub routes_added: Vec<String>,
    pub routes_removed: Vec<String>,
    pub routes_changed: Vec<String>,
    /// Other top-level tables that changed (`server`, `limits`, `profiles`…).
    pub sections_changed: Vec<String>,
}

impl DiffSummary {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `--- live` / `+++ candidate` unified diff with 3 lines of context.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    // Provider header values may be credentials as written: never in a diff.
    let (old, new) = (
        super::redact::header_values(old),
        super::redact::header_values(new),
    );
    let d = TextDiff::from_lines(&old, &new);
    redact(
        &d.unified_diff()
            .context_radius(3)
            .header(old_name, new_name)
            .to_string(),
    )
}

/// What changed, by name. Unparseable input gives an empty summary (the
/// validation errors say why).
pub fn summarize(old: &str, new: &str) -> DiffSummary {
    let (Ok(o), Ok(n)) = (old.parse::<toml::Table>(), new.parse::<toml::Table>()) else {
        return DiffSummary::default();
    };
    let mut s = DiffSummary::default();
    let by = |t: &toml::Table, table: &str, key: &str| -> BTreeMap<String, toml::Value> {
        t.get(table)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        let k = e.get(key)?.as_str()?.to_string();
                        Some((k, e.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    compare(
        &by(&o, "providers", "name"),
        &by(&n, "providers", "name"),
        &mut s.providers_added,
        &mut s.providers_removed,
        &mut s.providers_changed,
    );
    compare(
        &by(&o, "routes", "model"),
        &by(&n, "routes", "model"),
        &mut s.routes_added,
        &mut s.routes_removed,
        &mut s.routes_changed,
    );
    let mut sections: Vec<&String> = o.keys().chain(n.keys()).collect();
    sections.sort();
    sections.dedup();
    for k in sections {
        if k != "providers" && k != "routes" && o.get(k) != n.get(k) {
            s.sections_changed.push(k.clone());
        }
    }
    s
}

fn compare(
    old: &BTreeMap<String, toml::Value>,
    new: &BTreeMap<String, toml::Value>,
    added: &mut Vec<String>,
    removed: &mut Vec<String>,
    changed: &mut Vec<String>,
) {
    for (k, v) in new {
        match old.get(k) {
            None => added.push(k.clone()),
            Some(ov) if ov != v => changed.push(k.clone()),
            Some(_) => {}
        }
    }
    removed.extend(old.keys().filter(|k| !new.contains_key(*k)).cloned());
}

/// Replaces key-looking tokens (`sk-…`, `Bearer …`, long hex/base64 runs)
/// with `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '='))
            })
            .unwrap_or(tail.len());
        let word = &tail[..end];
        if looks_secret(word) {
            out.push_str("[REDACTED]");
        } else {
            out.push_str(word);
        }
        rest = &tail[end..];
    }
    out
}

fn looks_secret(w: &str) -> bool {
    let prefixed = [
        "sk-", "sk_", "pk-", "rk-", "gsk_", "xai-", "AIza", "ghp_", "hf_",
    ]
    .iter()
    .any(|p| w.starts_with(p) && w.len() >= p.len() + 16);
    if prefixed {
        return true;
    }
    // A long run mixing letters and digits with no spaces: a token, not a word.
    w.len() >= 32
        && w.chars().any(|c| c.is_ascii_digit())
        && w.chars().any(|c| c.is_ascii_alphabetic())
        && !w.contains('/')
        && !w.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"
[server]
listen = "127.0.0.1:4000"
[[providers]]
name = "a"
base_url = "http://127.0.0.1:1/v1"
[[providers]]
name = "b"
base_url = "http://127.0.0.1:2/v1"
[[routes]]
model = "m"
[[routes.targets]]
provider = "a"
"#;

    #[test]
    fn summary_names_what_changed() {
        let b = A
            .replace(
                "name = \"b\"\nbase_url = \"http://127.0.0.1:2/v1\"",
                "name = \"c\"\nbase_url = \"http://127.0.0.1:3/v1\"",
            )
            .replace("provider = \"a\"", "provider = \"c\"")
            .replace("4000", "4001");
        let s = summarize(A, &b);
        assert_eq!(s.providers_added, ["c"]);
        assert_eq!(s.providers_removed, ["b"]);
        assert!(s.providers_changed.is_empty());
        assert_eq!(s.routes_changed, ["m"]);
        assert_eq!(s.sections_changed, ["server"]);
        assert!(summarize(A, A).is_empty());
    }

    #[test]
    fn unified_diff_shows_lines() {
        let d = unified(A, &A.replace("4000", "4001"), "live", "candidate");
        assert!(d.contains("--- live") && d.contains("+++ candidate"));
        assert!(
            d.contains("-listen = \"127.0.0.1:4000\"")
                && d.contains("+listen = \"127.0.0.1:4001\"")
        );
    }

    #[test]
    fn redacts_keys() {
        let t = "api_key = \"sk-proj-abcdefghijklmnopqrstuv\"\nx = \"0123456789abcdef0123456789abcdef99\" keep model-name gpt-4o-mini";
        let r = redact(t);
        assert!(!r.contains("abcdefghijklmnop"), "{r}");
        assert!(!r.contains("0123456789abcdef0123"), "{r}");
        assert!(r.contains("keep model-name gpt-4o-mini"), "{r}");
        assert!(redact("http://127.0.0.1:11434/v1").contains("127.0.0.1:11434"));
    }
}
