//! Stored bodies (only with `telemetry.store_bodies = true`) are redacted and
//! capped before they reach the disk. Key-like strings become `[REDACTED]`:
//! - known key prefixes: `sk-`/`sk_` (OpenAI, Anthropic `sk-ant-`), `rk_`,
//!   `ghp_`/`gho_`/`ghs_`/`github_pat_`, `glpat-`, `xoxb-`/`xoxp-`, `hf_`,
//!   `AKIA` (AWS), `AIza` (Google);
//! - whatever follows `Bearer `;
//! - hex runs of 32+ characters;
//! - base64/base64url runs of 32+ characters mixing upper case, lower case
//!   and digits with a long unbroken stretch (tokens, JWT parts, inline
//!   image data), while paths and words are left alone.

use std::borrow::Cow;

pub const REDACTED: &str = "[REDACTED]";

const KEY_PREFIXES: &[&str] = &[
    "sk-",
    "sk_",
    "rk_",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "hf_",
    "AKIA",
    "AIza",
];

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'=' | b'.')
}

fn secret_like(run: &str, after_bearer: bool) -> bool {
    let n = run.len();
    if after_bearer && n >= 8 {
        return true;
    }
    if n >= 16 && KEY_PREFIXES.iter().any(|p| run.starts_with(p)) {
        return true;
    }
    if n < 32 {
        return false;
    }
    let core = run.trim_matches(|c| c == '=' || c == '.');
    if core.len() >= 32 && core.bytes().all(|b| b.is_ascii_hexdigit()) {
        return true;
    }
    let (mut upper, mut lower, mut digit) = (false, false, false);
    let mut stretch = 0usize;
    let mut longest = 0usize;
    for b in run.bytes() {
        upper |= b.is_ascii_uppercase();
        lower |= b.is_ascii_lowercase();
        digit |= b.is_ascii_digit();
        if b.is_ascii_alphanumeric() || b == b'+' {
            stretch += 1;
            longest = longest.max(stretch);
        } else {
            stretch = 0;
        }
    }
    upper && lower && digit && longest >= 24
}

/// `text` with key-like strings replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_token_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
        }
        // Token bytes are ASCII, so these are char boundaries.
        let run = &text[start..i];
        let before = text[..start].trim_end_matches([' ', '\t']);
        let after_bearer = before.len() < start
            && before.len() >= 6
            && before.is_char_boundary(before.len() - 6)
            && before[before.len() - 6..].eq_ignore_ascii_case("bearer");
        if secret_like(run, after_bearer) {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..start]);
            o.push_str(REDACTED);
            copied = i;
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// A body as stored: UTF-8 (lossy), redacted, at most `cap` bytes (cut at a
/// character boundary, with a note of how much was left out).
pub fn prepare_body(raw: &[u8], cap: usize) -> String {
    let text = String::from_utf8_lossy(raw);
    let red = redact(&text);
    if red.len() <= cap {
        return red.into_owned();
    }
    let mut end = cap;
    while end > 0 && !red.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}…[truncated {} bytes]",
        &red[..end],
        red.len().saturating_sub(end)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tokens_are_redacted() {
        let s = r#"{"messages":[{"content":"my key is sk-proj-AbCdEf0123456789xyzXYZ and the other sk-ant-api03-zzzzzzzzzzzzzzzzzzzz"}],"h":"Authorization: Bearer abcdefgh12345","x":"deadbeefdeadbeefdeadbeefdeadbeef00"}"#;
        let r = redact(s);
        assert!(!r.contains("sk-proj"), "{r}");
        assert!(!r.contains("sk-ant"), "{r}");
        assert!(!r.contains("abcdefgh12345"), "{r}");
        assert!(!r.contains("deadbeef"), "{r}");
        assert!(r.contains("Bearer [REDACTED]"), "{r}");
        assert!(r.contains("my key is [REDACTED] and"), "{r}");
    }

    #[test]
    fn base64_secrets_go_but_words_and_paths_stay() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        let text = format!("token {jwt} end");
        let r = redact(&text);
        assert_eq!(r, "token [REDACTED] end");
        let plain = "see https://example.com/docs/Getting-Started/v2/index.html and antidisestablishmentarianism_is_long";
        assert_eq!(redact(plain), plain);
        let img =
            "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk";
        assert!(
            redact(img).ends_with("base64,[REDACTED]"),
            "{}",
            redact(img)
        );
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn bodies_are_capped_at_char_boundaries() {
        let b = prepare_body("héllo wörld".as_bytes(), 2);
        assert!(b.starts_with('h') && b.contains("truncated"), "{b}");
        assert_eq!(prepare_body(b"short", 100), "short");
        assert_eq!(prepare_body(&[0xff, b'a'], 100), "\u{fffd}a");
    }
}
