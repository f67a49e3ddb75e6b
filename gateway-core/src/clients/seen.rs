//! Which tool sent a request lately, from its `user-agent` (best effort;
//! the prefixes are in docs/clients.md). One atomic per tool: no lock, no
//! allocation on the request path.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Tool;

/// `user-agent` prefixes (ASCII, compared case-insensitively) per tool.
pub const PREFIXES: [(&str, Tool); 9] = [
    ("claude-cli/", Tool::ClaudeCode),
    ("codex_", Tool::Codex),
    ("codex-", Tool::Codex),
    ("opencode/", Tool::Opencode),
    ("continue/", Tool::Continue),
    ("geminicli/", Tool::GeminiCli),
    // 0.61: `GeminiCLI-tui/0.61.0/<model> (linux; x64; terminal)`.
    ("geminicli-", Tool::GeminiCli),
    ("cursor/", Tool::Cursor),
    ("cursor-", Tool::Cursor),
];

/// The last time (unix ms) a request of each tool arrived.
#[derive(Debug, Default)]
pub struct LastSeen {
    at_ms: [AtomicU64; Tool::ALL.len()],
}

/// The tool a `user-agent` names, if any.
pub fn tool_of(user_agent: &[u8]) -> Option<Tool> {
    let first = user_agent.first()?.to_ascii_lowercase();
    if !matches!(first, b'c' | b'o' | b'g') {
        return None;
    }
    PREFIXES.iter().find_map(|(p, tool)| {
        let p = p.as_bytes();
        (user_agent.len() >= p.len() && user_agent[..p.len()].eq_ignore_ascii_case(p))
            .then_some(*tool)
    })
}

impl LastSeen {
    /// Notes a request with this `user-agent`.
    pub fn observe(&self, user_agent: Option<&http::HeaderValue>) {
        if let Some(tool) = user_agent.and_then(|ua| tool_of(ua.as_bytes())) {
            self.at_ms[tool.index()].store(crate::store::now_ms().max(0) as u64, Ordering::Relaxed);
        }
    }

    /// RFC 3339 (UTC) of the last request, if one came.
    pub fn get(&self, tool: Tool) -> Option<String> {
        let ms = self.at_ms[tool.index()].load(Ordering::Relaxed);
        (ms > 0).then(|| {
            humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
            )
            .to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_map_to_tools() {
        assert_eq!(
            tool_of(b"claude-cli/2.1.197 (external, cli)"),
            Some(Tool::ClaudeCode)
        );
        assert_eq!(tool_of(b"codex_cli_rs/0.171.0 (Linux)"), Some(Tool::Codex));
        assert_eq!(tool_of(b"codex_exec/0.171.0"), Some(Tool::Codex));
        assert_eq!(
            tool_of(b"GeminiCLI/0.61.0 (linux; x64)"),
            Some(Tool::GeminiCli)
        );
        assert_eq!(
            tool_of(b"GeminiCLI-tui/0.61.0/gemini-2.5-flash (linux; x64; terminal)"),
            Some(Tool::GeminiCli)
        );
        assert_eq!(tool_of(b"curl/8.0"), None);
        assert_eq!(tool_of(b"c"), None);
        assert_eq!(tool_of(b""), None);
        let seen = LastSeen::default();
        assert_eq!(seen.get(Tool::Codex), None);
        seen.observe(Some(&http::HeaderValue::from_static("codex_exec/1")));
        let at = seen.get(Tool::Codex).unwrap_or_default();
        assert!(at.ends_with('Z') && at.len() == 24, "{at}");
        assert_eq!(seen.get(Tool::ClaudeCode), None);
    }
}
