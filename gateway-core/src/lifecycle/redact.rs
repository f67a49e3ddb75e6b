//! Provider header values out of config text shown to viewers and out of
//! every diff: `[[providers]] headers` may carry a credential as written
//! (an Azure `api-key`), so each value there becomes `"[REDACTED]"`.
//! References (`env:VAR`, `keyring:NAME`) name no secret and stay, so a
//! diff still shows a reference that changed.

use toml_edit::{DocumentMut, Item, Value};

/// What a redacted header value reads as.
pub const REDACTED: &str = "[REDACTED]";

/// `text` with every provider header value redacted, layout and comments
/// kept. Text that does not parse is redacted line by line (a
/// `headers` table's lines, an inline `headers = {…}`).
pub fn header_values(text: &str) -> String {
    let Ok(mut doc) = text.parse::<DocumentMut>() else {
        return by_line(text);
    };
    let mut changed = false;
    match doc.get_mut("providers") {
        Some(Item::ArrayOfTables(providers)) => {
            for p in providers.iter_mut() {
                match p.get_mut("headers") {
                    Some(Item::Table(t)) => {
                        for (_, v) in t.iter_mut() {
                            if let Item::Value(v) = v {
                                changed |= redact_value(v);
                            }
                        }
                    }
                    Some(Item::Value(v)) => changed |= redact_inline(v),
                    _ => {}
                }
            }
        }
        // `providers = [{ name = …, headers = {…} }]`
        Some(Item::Value(Value::Array(providers))) => {
            for p in providers.iter_mut() {
                if let Some(v) = p.as_inline_table_mut().and_then(|t| t.get_mut("headers")) {
                    changed |= redact_inline(v);
                }
            }
        }
        _ => {}
    }
    if changed {
        doc.to_string()
    } else {
        text.to_string()
    }
}

/// Every value of an inline `headers = {…}`.
fn redact_inline(v: &mut Value) -> bool {
    let mut changed = false;
    if let Value::InlineTable(t) = v {
        for (_, v) in t.iter_mut() {
            changed |= redact_value(v);
        }
    }
    changed
}

fn is_reference(s: &str) -> bool {
    s.starts_with("env:") || s.starts_with("keyring:")
}

/// A literal string (or anything not a string) becomes `"[REDACTED]"`,
/// its surrounding whitespace and comments kept.
fn redact_value(v: &mut Value) -> bool {
    if v.as_str().is_some_and(|s| is_reference(s) || s == REDACTED) {
        return false;
    }
    let decor = v.decor().clone();
    *v = Value::from(REDACTED);
    *v.decor_mut() = decor;
    true
}

/// The fallback for text that is not TOML (a candidate with a typo): in a
/// `[providers.headers]` table every `key = value` line, and on any line
/// an inline `headers = {…}`, loses its values.
fn by_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_headers = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            let name: String = t
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            in_headers = name == "providers.headers";
            out.push_str(line);
            continue;
        }
        let key = t.split('=').next().unwrap_or("").trim();
        let assignment = in_headers && t.contains('=') && !t.starts_with('#');
        if assignment || key == "headers" || key.starts_with("headers.") {
            out.push_str(&redact_assignment(line));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// `k = "v"` (or `k = {a = "v"}`) with every quoted string after the first
/// `=` that is not a reference replaced.
fn redact_assignment(line: &str) -> String {
    let Some(eq) = line.find('=') else {
        return line.to_string();
    };
    let (head, rest) = line.split_at(eq + 1);
    let mut out = head.to_string();
    let mut chars = rest.char_indices().peekable();
    let mut last = 0;
    let mut in_inline_key = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '{' | ',' => in_inline_key = true,
            '=' => in_inline_key = false,
            '"' | '\'' => {
                let start = i;
                let mut end = rest.len();
                for (j, d) in chars.by_ref() {
                    if d == c {
                        end = j + 1;
                        break;
                    }
                }
                let inner = &rest[start + 1..end.saturating_sub(1).max(start + 1)];
                if !in_inline_key && !is_reference(inner) {
                    out.push_str(&rest[last..start]);
                    out.push('"');
                    out.push_str(REDACTED);
                    out.push('"');
                    last = end;
                }
            }
            '#' => break,
            _ => {}
        }
    }
    out.push_str(&rest[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_go_references_and_layout_stay() {
        let t = "# mine\n[[providers]]\nname = \"az\"\nkind = \"openai\"\nbase_url = \"https://x/v1\"\n\
                 [providers.headers]\napi-key = \"abc123secret\" # azure\nx-ref = \"keyring:az\"\n\n\
                 [[providers]]\nname = \"or\"\nheaders = { HTTP-Referer = \"https://me.example\", x-k = \"env:K\" }\n";
        let r = header_values(t);
        assert!(
            !r.contains("abc123secret") && !r.contains("me.example"),
            "{r}"
        );
        assert!(r.contains("keyring:az") && r.contains("env:K"), "{r}");
        assert!(r.contains("# mine") && r.contains("# azure"), "{r}");
        assert!(r.contains("api-key = \"[REDACTED]\""), "{r}");
        let inline = "providers = [{ name = \"az\", headers = { api-key = \"abc123secret\" } }]\n";
        let r = header_values(inline);
        assert!(!r.contains("abc123secret") && r.contains("api-key"), "{r}");
        // nothing to redact: the text as it was
        let plain = "[server]\nlisten = \"127.0.0.1:1\"\n";
        assert_eq!(header_values(plain), plain);
    }

    #[test]
    fn text_that_does_not_parse_is_redacted_by_line() {
        let t = "[[providers]]\nname = \"az\"\nheaders = { api-key = \"abc123secret\" }\n\
                 [providers.headers]\nx-other = 'lit-secret'\nbroken = = \n";
        let r = header_values(t);
        assert!(
            !r.contains("abc123secret") && !r.contains("lit-secret"),
            "{r}"
        );
        assert!(r.contains("api-key") && r.contains("x-other"), "{r}");
    }
}
