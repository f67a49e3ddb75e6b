//! `aigw run claude|codex [ARGS…]`: starts the tool pointed at the gateway
//! through its environment or `-c` overrides; nothing on disk is edited.
//! On unix the tool replaces aigw (`exec`); elsewhere aigw waits for it and
//! exits with its code.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command;

use super::codex::{PROVIDER_ID, PROVIDER_NAME};
use super::{Target, Tool};

/// The program `name` on a `PATH`-style list.
pub fn find_in(path: &OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path).find_map(|dir| {
        let candidates = if cfg!(windows) {
            vec![
                dir.join(format!("{name}.exe")),
                dir.join(format!("{name}.cmd")),
            ]
        } else {
            vec![dir.join(name)]
        };
        candidates.into_iter().find(|p| is_executable(p))
    })
}

#[cfg(unix)]
fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &std::path::Path) -> bool {
    p.is_file()
}

/// The tools `aigw run` starts, by the name given on the command line.
pub fn tool_for(name: &str) -> Option<Tool> {
    match name {
        "claude" | "claude-code" => Some(Tool::ClaudeCode),
        "codex" => Some(Tool::Codex),
        _ => None,
    }
}

/// The command to run: program, args and environment changes.
pub fn command(tool: Tool, target: &Target, args: &[OsString]) -> Option<Command> {
    match tool {
        Tool::ClaudeCode => {
            let mut c = Command::new("claude");
            c.env("ANTHROPIC_BASE_URL", target.base());
            if target.subscription {
                // the user's Claude login goes upstream; the gateway key beside it
                let existing = std::env::var("ANTHROPIC_CUSTOM_HEADERS").ok();
                c.env(
                    "ANTHROPIC_CUSTOM_HEADERS",
                    super::claude::custom_headers(existing.as_deref(), &target.token),
                );
            } else {
                c.env("ANTHROPIC_AUTH_TOKEN", &target.token)
                    // both set: Claude Code warns about two auth methods
                    .env_remove("ANTHROPIC_API_KEY");
            }
            let m = &target.models;
            for (k, v) in [
                ("ANTHROPIC_MODEL", &m.model),
                ("ANTHROPIC_DEFAULT_OPUS_MODEL", &m.opus),
                ("ANTHROPIC_DEFAULT_SONNET_MODEL", &m.sonnet),
                ("ANTHROPIC_DEFAULT_HAIKU_MODEL", &m.haiku),
            ] {
                if let Some(v) = v {
                    c.env(k, v);
                }
            }
            c.args(args);
            Some(c)
        }
        Tool::Codex => {
            let mut c = Command::new("codex");
            let p = format!("model_providers.{PROVIDER_ID}");
            let q = super::jsonc::quote;
            let mut overrides = vec![
                format!("model_provider={}", q(PROVIDER_ID)),
                format!("{p}.name={}", q(PROVIDER_NAME)),
                format!("{p}.base_url={}", q(&target.v1())),
                format!("{p}.wire_api={}", q("responses")),
                format!("{p}.supports_websockets=false"),
            ];
            if target.subscription {
                overrides.push(format!("{p}.requires_openai_auth=true"));
                overrides.push(format!(
                    "{p}.http_headers={{ \"x-aigw-key\" = {} }}",
                    q(&target.token)
                ));
            } else {
                overrides.push(format!(
                    "{p}.experimental_bearer_token={}",
                    q(&target.token)
                ));
            }
            if let Some(m) = &target.models.model {
                overrides.push(format!("model={}", q(m)));
            }
            for o in overrides {
                c.arg("-c").arg(o);
            }
            c.args(args);
            Some(c)
        }
        _ => None,
    }
}

/// Runs it: `exec` on unix (returns only on failure), else spawn and wait.
pub fn run(mut cmd: Command) -> std::io::Result<i32> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(cmd.exec())
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status()?;
        Ok(status.code().unwrap_or(1))
    }
}
