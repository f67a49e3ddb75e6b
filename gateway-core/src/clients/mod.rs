//! "Connect tools": point coding agents (Claude Code, Codex, opencode,
//! Continue, Gemini CLI) at this gateway by editing only the keys the gateway owns in
//! their config files, and undo it byte for byte.
//!
//! - [`Tool`]: the tools we know, their names, files and detection.
//! - [`Clients`]: list / preview / connect / disconnect over a home dir and
//!   a state dir (`<data_dir>/clients`), where each tool's backup lives.
//! - `backup`: the backup and state file per tool, atomic writes, hashes.
//! - `jsonc`: JSON/JSONC edits on the `jsonc-parser` crate's syntax tree
//!   (comments, order and layout of everything we do not own stay).
//! - `claude`, `codex`, `opencode`, `continue_dev`, `gemini_cli`: one file
//!   per tool: what connect writes and what disconnect merges out of a
//!   drifted file (Gemini CLI also gets its auth type set in settings.json).
//! - `guided`: tools listed but not written (Cursor).
//! - `seen`: which tool sent a request lately (from its `user-agent`).
//! - `keys`: client keys per tool and the routing-loop check (the level
//!   above, where the config lifecycle is).
//! - [`service`]: all of it for a running gateway ([`crate::state::AppState`]):
//!   what the admin API and the desktop app call.
//! - `launch`: `aigw run claude|codex` (nothing on disk edited).
//!
//! The rules: back up each file before the first change; disconnect
//! restores the original byte for byte when the file is still exactly what
//! we wrote, else merges out only our keys (`restored: "merged"`); when the
//! original was absent and the file is unchanged, it is deleted. Files
//! holding a token are written 0600 (unix), always atomically.

mod backup;
mod claude;
mod codex;
mod continue_dev;
mod gemini_cli;
mod guided;
mod jsonc;
pub mod keys;
pub mod launch;
mod opencode;
mod seen;
pub mod service;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use seen::LastSeen;

use backup::Backup;

/// The tools "Connect tools" knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    ClaudeCode,
    Codex,
    Opencode,
    Continue,
    GeminiCli,
    Cursor,
}

impl Tool {
    pub const ALL: [Tool; 6] = [
        Tool::ClaudeCode,
        Tool::Codex,
        Tool::Opencode,
        Tool::Continue,
        Tool::GeminiCli,
        Tool::Cursor,
    ];

    /// The CLI and API name: `claude-code`, `codex`, …
    pub fn name(self) -> &'static str {
        match self {
            Tool::ClaudeCode => "claude-code",
            Tool::Codex => "codex",
            Tool::Opencode => "opencode",
            Tool::Continue => "continue",
            Tool::GeminiCli => "gemini-cli",
            Tool::Cursor => "cursor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Tool::ClaudeCode => "Claude Code",
            Tool::Codex => "Codex CLI",
            Tool::Opencode => "opencode",
            Tool::Continue => "Continue",
            Tool::GeminiCli => "Gemini CLI",
            Tool::Cursor => "Cursor",
        }
    }

    pub fn parse(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether aigw writes this tool's files (Cursor: no).
    pub fn connectable(self) -> bool {
        !matches!(self, Tool::Cursor)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Programs on PATH that mean "installed".
    fn binaries(self) -> &'static [&'static str] {
        match self {
            Tool::ClaudeCode => &["claude"],
            Tool::Codex => &["codex"],
            Tool::Opencode => &["opencode"],
            Tool::Continue => &["cn"],
            Tool::GeminiCli => &["gemini"],
            Tool::Cursor => &["cursor"],
        }
    }

    /// The tool's config dir under the home dir.
    fn dir(self, home: &Path) -> PathBuf {
        match self {
            Tool::ClaudeCode => home.join(".claude"),
            Tool::Codex => home.join(".codex"),
            Tool::Opencode => home.join(".config").join("opencode"),
            Tool::Continue => home.join(".continue"),
            Tool::GeminiCli => home.join(".gemini"),
            Tool::Cursor => home.join(".cursor"),
        }
    }

    /// The file connect edits (Cursor: where its settings are, shown but
    /// never written).
    fn file(self, home: &Path) -> PathBuf {
        let dir = self.dir(home);
        match self {
            Tool::ClaudeCode => dir.join("settings.json"),
            Tool::Codex => dir.join("config.toml"),
            // opencode reads either; an existing .jsonc wins.
            Tool::Opencode => {
                let jsonc = dir.join("opencode.jsonc");
                if jsonc.is_file() && !dir.join("opencode.json").is_file() {
                    jsonc
                } else {
                    dir.join("opencode.json")
                }
            }
            Tool::Continue => dir.join("config.yaml"),
            Tool::GeminiCli => dir.join(".env"),
            Tool::Cursor => dir.join("(Cursor settings database)"),
        }
    }
}

impl std::fmt::Display for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which models a tool is pointed at. All optional: without them a tool
/// keeps its own defaults (and the gateway routes what it sends).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelMap {
    /// The default model (`ANTHROPIC_MODEL`, Codex `model`, opencode
    /// `model`, Continue's first entry).
    #[cfg_attr(test, ts(optional))]
    pub model: Option<String>,
    /// Claude Code's `ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL`.
    #[cfg_attr(test, ts(optional))]
    pub opus: Option<String>,
    #[cfg_attr(test, ts(optional))]
    pub sonnet: Option<String>,
    #[cfg_attr(test, ts(optional))]
    pub haiku: Option<String>,
    /// Models the gateway serves (its exact routes), for the tools that
    /// list models (opencode's `models`, Continue's entries); default:
    /// the gateway's exact route models.
    #[cfg_attr(test, ts(as = "Option<Vec<String>>", optional))]
    pub available: Vec<String>,
}

impl ModelMap {
    /// The models to list: `model` first, then `available`, no
    /// duplicates, no wildcard patterns, at most [`MAX_LISTED`].
    fn listed(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for m in self.model.iter().chain(self.available.iter()) {
            let m = m.trim();
            if m.is_empty() || m.contains('*') || out.iter().any(|o| o == m) {
                continue;
            }
            out.push(m.to_string());
            if out.len() == MAX_LISTED {
                break;
            }
        }
        out
    }

    /// Names are plain text of a bounded length.
    fn check(&self) -> Result<(), ClientError> {
        let all = [&self.model, &self.opus, &self.sonnet, &self.haiku];
        for m in all.into_iter().flatten().chain(self.available.iter()) {
            if m.is_empty() || m.len() > 200 || m.chars().any(char::is_control) {
                return Err(ClientError::Invalid(format!(
                    "model name {m:?}: 1–200 printable characters"
                )));
            }
        }
        if self.available.len() > 1000 {
            return Err(ClientError::Invalid("more than 1000 models".into()));
        }
        Ok(())
    }
}

/// Subscription mode exists for the tools with a login of their own.
pub fn check_subscription(tool: Tool, subscription: bool) -> Result<(), ClientError> {
    if subscription && !matches!(tool, Tool::ClaudeCode | Tool::Codex) {
        return Err(ClientError::Invalid(format!(
            "subscription mode is for Claude Code and Codex, not {tool}"
        )));
    }
    Ok(())
}

/// At most this many models are written into opencode's or Continue's file.
pub const MAX_LISTED: usize = 50;

/// Where a tool is pointed and with which token.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The gateway without `/v1`: `http://127.0.0.1:4000`.
    pub base_url: String,
    /// What the tool sends as its key (a client key, or `aigw-local`).
    pub token: String,
    pub models: ModelMap,
    /// Subscription mode (Claude Code, Codex): the tool keeps its own login
    /// (Claude subscription, ChatGPT) for providers with `api_key =
    /// "client"`; the token travels as `x-aigw-key` instead of as the
    /// tool's API key.
    pub subscription: bool,
}

impl Target {
    fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
    fn v1(&self) -> String {
        format!("{}/v1", self.base())
    }
    fn check(&self) -> Result<(), ClientError> {
        let b = self.base();
        if !(b.starts_with("http://") || b.starts_with("https://")) || b.len() > 500 {
            return Err(ClientError::Invalid(format!(
                "gateway base URL {b:?}: use http(s)://host:port"
            )));
        }
        if self.token.is_empty()
            || self.token.len() > 500
            || self
                .token
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ClientError::Invalid(
                "the token is empty, too long or has spaces".into(),
            ));
        }
        self.models.check()
    }
}

/// The token written when the gateway has no client keys (any string works).
pub const LOCAL_TOKEN: &str = "aigw-local";

/// One tool in the list.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientInfo {
    pub name: String,
    pub label: String,
    pub installed: bool,
    /// We connected it (our backup exists).
    pub connected: bool,
    /// Connected, but the file changed since we wrote it.
    pub drifted: bool,
    pub connectable: bool,
    pub files: Vec<String>,
    pub note: Option<String>,
    /// RFC 3339: the last request with this tool's user-agent (running
    /// gateway only).
    pub last_seen: Option<String>,
}

/// One file a connect or disconnect would write.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// `None`: the file does not exist yet.
    pub before: Option<String>,
    /// `None`: the file is deleted.
    pub after: Option<String>,
    /// The mode the file gets (`"0600"`), unix.
    pub mode: Option<String>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientPreview {
    pub name: String,
    pub files: Vec<FileChange>,
    pub warnings: Vec<String>,
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientOutcome {
    pub name: String,
    pub connected: bool,
    pub files: Vec<String>,
    /// Disconnect: `byte-exact`, `merged`, `removed` or `nothing`.
    pub restored: Option<String>,
    pub message: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("unknown tool {0:?}: use claude-code, codex, opencode, continue, gemini-cli or cursor")]
    Unknown(String),
    #[error("{tool} is not connected by aigw: {reason}")]
    NotConnectable { tool: &'static str, reason: String },
    #[error(
        "{label} does not look installed (no `{bin}` on PATH, no {dir}); install it first or pass --force"
    )]
    NotInstalled {
        label: &'static str,
        bin: &'static str,
        dir: String,
    },
    #[error("requests would loop: {0}")]
    RoutingLoop(String),
    #[error("{path}: {message}")]
    Unsupported { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("client key: {0}")]
    Key(String),
    #[error("this gateway runs without a data dir: connecting tools needs one for the backups")]
    NoDataDir,
    #[error("publishing the client key: {0}")]
    Publish(Box<crate::lifecycle::LifecycleError>),
}

impl ClientError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        ClientError::Io {
            path: path.display().to_string(),
            source,
        }
    }
    fn unsupported(path: &Path, message: impl Into<String>) -> Self {
        ClientError::Unsupported {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// What a tool's module makes of a file: the new text and what to tell.
pub(crate) struct Edit {
    pub text: String,
    pub warnings: Vec<String>,
    /// The keys we set or removed (dotted paths), kept in the state file so
    /// a merge restores exactly those.
    pub touched: Vec<String>,
}

/// Files holding a token are owner-only.
const TOKEN_MODE: u32 = 0o600;
/// Files over this size are not edited (a config file is a few KiB).
pub(crate) const MAX_FILE: u64 = 4 << 20;

/// The tools on one home dir, their backups in one state dir.
#[derive(Debug, Clone)]
pub struct Clients {
    home: PathBuf,
    state_dir: PathBuf,
    /// Where "installed?" looks for binaries (default: `$PATH`).
    search_path: Option<OsString>,
}

impl Clients {
    pub fn new(home: PathBuf, state_dir: PathBuf) -> Self {
        Self {
            home,
            state_dir,
            search_path: None,
        }
    }

    /// `$HOME` (`directories::BaseDirs`) and `<data_dir>/clients`.
    pub fn for_paths(paths: &crate::config::Paths) -> Self {
        Self::for_data_dir(&paths.data_dir)
    }

    /// `$HOME` and `<data_dir>/clients`.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        let home = directories::BaseDirs::new()
            .map(|d| d.home_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from("/nonexistent-home"));
        Self::new(home, data_dir.join("clients"))
    }

    /// Looks for the tools' binaries on `path` (a `PATH`-style list)
    /// instead of `$PATH`.
    pub fn with_search_path(mut self, path: impl Into<OsString>) -> Self {
        self.search_path = Some(path.into());
        self
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The file `tool`'s connect edits.
    pub fn file_of(&self, tool: Tool) -> PathBuf {
        tool.file(&self.home)
    }

    /// A binary of `tool` on the search path, or its config dir exists.
    pub fn installed(&self, tool: Tool) -> bool {
        if tool.dir(&self.home).is_dir() {
            return true;
        }
        let path = self
            .search_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        tool.binaries()
            .iter()
            .any(|b| launch::find_in(&path, b).is_some())
    }

    /// Every tool; never fails (a file we cannot read shows in `note`).
    pub fn list(&self, target: &Target) -> Vec<ClientInfo> {
        Tool::ALL
            .into_iter()
            .map(|t| self.info(t, target))
            .collect()
    }

    fn info(&self, tool: Tool, target: &Target) -> ClientInfo {
        let path = self.file_of(tool);
        let mut info = ClientInfo {
            name: tool.name().into(),
            label: tool.label().into(),
            installed: self.installed(tool),
            connected: false,
            drifted: false,
            connectable: tool.connectable(),
            files: vec![path.display().to_string()],
            note: None,
            last_seen: None,
        };
        if !tool.connectable() {
            info.note = Some(guided::note(tool, target));
            if tool == Tool::Cursor {
                info.files.clear();
            }
            return info;
        }
        match (backup::load(&self.state_dir, tool), backup::read(&path)) {
            (Ok(Some(b)), Ok(current)) => {
                info.files = vec![b.path.display().to_string()];
                info.connected = true;
                info.drifted =
                    current.as_deref().map(backup::sha256_hex) != Some(b.written_sha256.clone());
                if current.is_none() {
                    info.note = Some("the file was deleted since aigw connected it".into());
                } else if info.drifted {
                    info.note = Some(
                        "edited since aigw connected it: disconnect merges out only aigw's keys"
                            .into(),
                    );
                }
            }
            (Ok(None), Ok(Some(bytes))) => {
                if let Ok(text) = std::str::from_utf8(&bytes)
                    && points_at(tool, text, target.base())
                {
                    info.note = Some(BY_HAND.into());
                }
            }
            (Ok(None), Ok(None)) => {}
            (Err(e), _) | (_, Err(e)) => info.note = Some(e.to_string()),
        }
        info
    }

    /// What connect would write, without writing.
    pub fn preview(&self, tool: Tool, target: &Target) -> Result<ClientPreview, ClientError> {
        let plan = self.plan(tool, target)?;
        Ok(ClientPreview {
            name: tool.name().into(),
            files: vec![FileChange {
                path: plan.path.display().to_string(),
                before: plan.current_text()?,
                after: Some(plan.edit.text.clone()),
                mode: mode_string(TOKEN_MODE),
            }],
            warnings: plan.edit.warnings,
        })
    }

    /// Connects `tool`, which must look installed.
    pub fn connect(&self, tool: Tool, target: &Target) -> Result<ClientOutcome, ClientError> {
        self.connect_with(tool, target, false)
    }

    /// Connects `tool`; `force` creates its config dir even when the tool
    /// does not look installed.
    pub fn connect_with(
        &self,
        tool: Tool,
        target: &Target,
        force: bool,
    ) -> Result<ClientOutcome, ClientError> {
        let plan = self.plan(tool, target)?;
        let path = &plan.path;
        let mut warnings = plan.edit.warnings.clone();
        if plan.by_hand {
            return Ok(ClientOutcome {
                name: tool.name().into(),
                connected: false,
                files: vec![path.display().to_string()],
                restored: None,
                message: format!(
                    "{} is {BY_HAND}: nothing written; remove it by hand to let aigw manage it",
                    path.display()
                ),
                warnings,
            });
        }
        let dir = path
            .parent()
            .ok_or_else(|| ClientError::unsupported(path, "no parent dir"))?;
        let mut created_dir = None;
        if !dir.is_dir() {
            if !force && !self.installed(tool) {
                return Err(ClientError::NotInstalled {
                    label: tool.label(),
                    bin: tool.binaries()[0],
                    dir: tool.dir(&self.home).display().to_string(),
                });
            }
            created_dir = Some(backup::create_private_dir(dir)?);
        }
        let bytes = plan.edit.text.as_bytes();
        let sha = backup::sha256_hex(bytes);
        let first = plan.backup.is_none();
        let state = match plan.backup {
            Some(mut b) => {
                b.written_sha256 = sha;
                b.touched = merge_touched(&b.touched, &plan.edit.touched);
                b
            }
            None => Backup::new(
                tool,
                path.clone(),
                plan.current.as_deref(),
                backup::mode_of(path),
                sha,
                created_dir.clone(),
                plan.edit.touched.clone(),
            ),
        };
        // The backup goes to disk before the file changes.
        backup::save(
            &self.state_dir,
            tool,
            &state,
            first.then_some(&plan.current),
        )?;
        if let Err(e) = backup::write_atomic(path, bytes, TOKEN_MODE) {
            if first {
                let _ = backup::forget(&self.state_dir, tool);
            }
            return Err(ClientError::io(path, e));
        }
        if tool == Tool::GeminiCli {
            let dir = backup::dir_of(&self.state_dir, tool);
            warnings.extend(gemini_cli::select_key_auth(path, &dir)?);
        }
        if !first {
            warnings.push("was already connected: updated in place, the first backup kept".into());
        }
        Ok(ClientOutcome {
            name: tool.name().into(),
            connected: true,
            files: vec![path.display().to_string()],
            restored: None,
            message: format!(
                "{} now points at {} (backup in {})",
                tool.label(),
                target.base(),
                backup::dir_of(&self.state_dir, tool).display()
            ),
            warnings,
        })
    }

    /// Undoes connect: the original back byte for byte, or our keys merged
    /// out of a file edited since.
    pub fn disconnect(&self, tool: Tool) -> Result<ClientOutcome, ClientError> {
        check_connectable(tool)?;
        let outcome = |files: Vec<String>, restored: &str, message: String| ClientOutcome {
            name: tool.name().into(),
            connected: false,
            files,
            restored: Some(restored.into()),
            message,
            warnings: Vec::new(),
        };
        let Some(b) = backup::load(&self.state_dir, tool)? else {
            let path = self.file_of(tool);
            let by_hand = backup::read(&path)?
                .as_deref()
                .and_then(|t| std::str::from_utf8(t).ok())
                .is_some_and(|t| points_at_any_gateway(tool, t));
            let message = if by_hand {
                format!(
                    "{} was not connected by aigw (no backup); {} was left as it is",
                    tool.label(),
                    path.display()
                )
            } else {
                format!("{} was not connected by aigw: nothing to do", tool.label())
            };
            return Ok(outcome(vec![], "nothing", message));
        };
        let path = b.path.clone();
        let files = vec![path.display().to_string()];
        let original = backup::load_original(&self.state_dir, tool, &b)?;
        let current = backup::read(&path)?;
        let result = match current {
            None => outcome(
                files,
                "nothing",
                format!(
                    "{} was deleted since aigw connected it: nothing restored",
                    path.display()
                ),
            ),
            Some(cur) if backup::sha256_hex(&cur) == b.written_sha256 => match &original {
                Some(orig) => {
                    backup::write_atomic(&path, orig, b.original_mode.unwrap_or(TOKEN_MODE))
                        .map_err(|e| ClientError::io(&path, e))?;
                    outcome(
                        files,
                        "byte-exact",
                        format!("{} restored byte for byte", path.display()),
                    )
                }
                None => {
                    std::fs::remove_file(&path).map_err(|e| ClientError::io(&path, e))?;
                    if let Some(top) = &b.created_dir {
                        // the dirs connect made, deepest first, each only
                        // when empty (the tool may have written there since)
                        let mut d = path.parent();
                        while let Some(dir) = d {
                            if !dir.starts_with(top) || std::fs::remove_dir(dir).is_err() {
                                break;
                            }
                            d = dir.parent();
                        }
                    }
                    outcome(
                        files,
                        "removed",
                        format!("{} removed (it did not exist before)", path.display()),
                    )
                }
            },
            Some(cur) => {
                let text = std::str::from_utf8(&cur)
                    .map_err(|_| ClientError::unsupported(&path, "not UTF-8 text any more"))?;
                let orig_text = original
                    .as_deref()
                    .map(|o| String::from_utf8_lossy(o).into_owned());
                let merged = unapply(tool, &path, text, orig_text.as_deref(), &b.touched)?;
                let mode = backup::mode_of(&path).unwrap_or(TOKEN_MODE);
                backup::write_atomic(&path, merged.as_bytes(), mode)
                    .map_err(|e| ClientError::io(&path, e))?;
                outcome(
                    files,
                    "merged",
                    format!(
                        "{} was edited since aigw connected it: only aigw's keys were taken out, your edits kept",
                        path.display()
                    ),
                )
            }
        };
        if tool == Tool::GeminiCli {
            gemini_cli::restore_auth(&path, &backup::dir_of(&self.state_dir, tool))?;
        }
        backup::forget(&self.state_dir, tool)?;
        Ok(result)
    }

    /// The file, its backup and the edit connect would make.
    fn plan(&self, tool: Tool, target: &Target) -> Result<Plan, ClientError> {
        check_connectable(tool)?;
        target.check()?;
        let backup = backup::load(&self.state_dir, tool)?;
        let path = backup
            .as_ref()
            .map_or_else(|| self.file_of(tool), |b| b.path.clone());
        let current = backup::read(&path)?;
        let text = match &current {
            Some(bytes) => Some(
                std::str::from_utf8(bytes)
                    .map_err(|_| ClientError::unsupported(&path, "not UTF-8 text; not edited"))?,
            ),
            None => None,
        };
        let by_hand = backup.is_none() && text.is_some_and(|t| points_at(tool, t, target.base()));
        // Reconnecting: start from the file with our earlier keys merged
        // out, so nothing of the last connect lingers.
        let base = match (&backup, text) {
            (Some(b), Some(t)) => {
                let original = backup::load_original(&self.state_dir, tool, b)?
                    .map(|o| String::from_utf8_lossy(&o).into_owned());
                Some(unapply(tool, &path, t, original.as_deref(), &b.touched)?)
            }
            (_, t) => t.map(str::to_string),
        };
        let edit = apply(tool, &path, base.as_deref(), target)?;
        Ok(Plan {
            path,
            current,
            backup,
            edit,
            by_hand,
        })
    }
}

const BY_HAND: &str = "already pointed at this gateway (by hand)";

struct Plan {
    path: PathBuf,
    current: Option<Vec<u8>>,
    backup: Option<Backup>,
    edit: Edit,
    by_hand: bool,
}

impl Plan {
    fn current_text(&self) -> Result<Option<String>, ClientError> {
        Ok(self
            .current
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }
}

fn merge_touched(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    for k in b {
        if !out.contains(k) {
            out.push(k.clone());
        }
    }
    out
}

fn mode_string(mode: u32) -> Option<String> {
    cfg!(unix).then(|| format!("{mode:04o}"))
}

/// `Err(NotConnectable)` for the guided tools (Cursor, Gemini CLI).
pub fn check_connectable(tool: Tool) -> Result<(), ClientError> {
    if tool.connectable() {
        Ok(())
    } else {
        Err(ClientError::NotConnectable {
            tool: tool.name(),
            reason: guided::reason(tool).into(),
        })
    }
}

fn apply(
    tool: Tool,
    path: &Path,
    before: Option<&str>,
    target: &Target,
) -> Result<Edit, ClientError> {
    match tool {
        Tool::ClaudeCode => claude::apply(path, before, target),
        Tool::Codex => codex::apply(path, before, target),
        Tool::Opencode => opencode::apply(path, before, target),
        Tool::Continue => continue_dev::apply(path, before, target),
        Tool::GeminiCli => gemini_cli::apply(path, before, target),
        Tool::Cursor => Err(ClientError::NotConnectable {
            tool: tool.name(),
            reason: guided::reason(tool).into(),
        }),
    }
}

fn unapply(
    tool: Tool,
    path: &Path,
    current: &str,
    original: Option<&str>,
    touched: &[String],
) -> Result<String, ClientError> {
    match tool {
        Tool::ClaudeCode => claude::unapply(path, current, original, touched),
        Tool::Codex => codex::unapply(path, current, original, touched),
        Tool::Opencode => opencode::unapply(path, current, original, touched),
        Tool::Continue => continue_dev::unapply(path, current, original),
        Tool::GeminiCli => Ok(gemini_cli::unapply(current, original, touched)),
        Tool::Cursor => Ok(current.to_string()),
    }
}

/// The file already sends the tool to `base` (set by hand).
fn points_at(tool: Tool, text: &str, base: &str) -> bool {
    match tool {
        Tool::ClaudeCode => claude::base_url(text).is_some_and(|u| same_url(&u, base)),
        Tool::Codex => codex::base_urls(text).iter().any(|u| same_url(u, base)),
        Tool::Opencode | Tool::Continue => {
            text.contains(&format!("{base}/v1")) || text.contains(&format!("{base}/v1/"))
        }
        Tool::GeminiCli => gemini_cli::points_at(text, base),
        Tool::Cursor => false,
    }
}

/// Any gateway-looking base URL (for disconnect's "not ours" message).
fn points_at_any_gateway(tool: Tool, text: &str) -> bool {
    match tool {
        Tool::ClaudeCode => claude::base_url(text).is_some(),
        _ => text.contains("127.0.0.1") || text.contains("localhost"),
    }
}

fn same_url(a: &str, base: &str) -> bool {
    let a = a.trim_end_matches('/');
    a == base || a.strip_suffix("/v1") == Some(base)
}

/// The gateway's base URL from its listen address (`0.0.0.0` →
/// `127.0.0.1`, `[::]` → `[::1]`).
pub fn base_url_for(listen: std::net::SocketAddr) -> String {
    let ip = match listen.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        }
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, listen.port()))
}

#[cfg(test)]
mod tests;
