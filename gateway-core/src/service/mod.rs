//! `aigw service install|uninstall|status`: run `aigw serve` in the
//! background at login (or boot) under the OS's own service manager.
//!
//! Everything an install does is first computed as a [`Plan`] — the file to
//! write (its path and bytes) and the commands to run — by pure functions
//! that take the OS as a value, so every platform's output is unit-tested
//! on every OS; `cli::service` carries the plan out.
//!
//! - `systemd`: a user unit in `~/.config/systemd/user/aigw.service`
//!   (`systemctl --user`), or with `--system` the hardened unit from
//!   `packaging/systemd/aigw.service` in `/etc/systemd/system/`.
//! - `launchd`: a per-user agent `~/Library/LaunchAgents/dev.aigw.aigw.plist`
//!   from `packaging/macos/dev.aigw.aigw.plist` (`launchctl bootstrap gui/UID`).
//! - `windows`: a per-user scheduled task "aigw" started at logon
//!   (`schtasks /Create /XML`), its Task Scheduler XML in UTF-16 with CRLF.
//!
//! Per-user services run in the login session, so the OS keychain holds
//! `keyring:NAME` provider keys as it does for `aigw serve`.

mod launchd;
mod systemd;
mod windows;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use launchd::LABEL as LAUNCHD_LABEL;
pub use windows::TASK_NAME as WINDOWS_TASK;

/// The operating systems with a service manager we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    /// The OS this binary was built for; `None` elsewhere (BSDs).
    pub fn current() -> Option<Os> {
        if cfg!(target_os = "linux") {
            Some(Os::Linux)
        } else if cfg!(target_os = "macos") {
            Some(Os::MacOs)
        } else if cfg!(windows) {
            Some(Os::Windows)
        } else {
            None
        }
    }
}

/// Per-user (the default: runs in the login session, with the keychain) or
/// system-wide (Linux only: the hardened system unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    System,
}

/// What the service runs.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The `aigw` binary (absolute).
    pub exe: PathBuf,
    /// The user's home directory.
    pub home: PathBuf,
    /// `--config` / `AIGW_CONFIG` when given (absolute), passed on to the
    /// service; `None` leaves the OS default, the same as `aigw paths`.
    pub config: Option<PathBuf>,
    /// `--data-dir` / `AIGW_DATA_DIR` when given (absolute).
    pub data_dir: Option<PathBuf>,
    /// Windows: `DOMAIN\user` the task runs as (its logon trigger's user).
    pub windows_user: Option<String>,
    /// Windows: where the task XML is kept (the data dir).
    pub windows_xml_dir: PathBuf,
    /// Windows: `aigww.exe` beside `exe` when it is there: the task runs it
    /// (it starts `aigw.exe` without a console window); `None` runs `exe`
    /// itself, whose console window then shows at logon.
    pub windows_launcher: Option<PathBuf>,
}

impl ServiceSpec {
    /// The environment the service gets: the explicit paths only.
    fn env(&self) -> Vec<(&'static str, &Path)> {
        let mut env = Vec::new();
        if let Some(c) = &self.config {
            env.push(("AIGW_CONFIG", c.as_path()));
        }
        if let Some(d) = &self.data_dir {
            env.push(("AIGW_DATA_DIR", d.as_path()));
        }
        env
    }
}

/// A command to run: a program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<OsString>,
    /// A failure is reported but does not stop the rest (e.g. stopping a
    /// service that is not running).
    pub may_fail: bool,
}

impl Cmd {
    fn new(program: &str, args: &[&str]) -> Self {
        Cmd {
            program: program.to_owned(),
            args: args.iter().map(OsString::from).collect(),
            may_fail: false,
        }
    }

    fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    fn may_fail(mut self) -> Self {
        self.may_fail = true;
        self
    }

    /// As a shell-like line, for `--dry-run` and messages.
    pub fn display(&self) -> String {
        let mut s = self.program.clone();
        for a in &self.args {
            let a = a.to_string_lossy();
            s.push(' ');
            if a.contains([' ', '"', '\'']) || a.is_empty() {
                s.push('"');
                s.push_str(&a.replace('"', "\\\""));
                s.push('"');
            } else {
                s.push_str(&a);
            }
        }
        s
    }
}

/// Everything `aigw service` does on one OS, computed without side effects.
#[derive(Debug, Clone)]
pub struct Plan {
    pub os: Os,
    pub scope: Scope,
    /// The service's name in its manager (`aigw.service`, `dev.aigw.aigw`,
    /// the task `aigw`).
    pub name: String,
    /// The unit / plist / task XML and where it goes.
    pub file: PathBuf,
    pub contents: Vec<u8>,
    /// Directories to create before writing `file` (besides its parent).
    pub dirs: Vec<PathBuf>,
    /// Run after writing the file.
    pub install: Vec<Cmd>,
    /// Run before removing the file.
    pub uninstall: Vec<Cmd>,
    /// Prints the manager's view of the service.
    pub status: Vec<Cmd>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServiceError {
    #[error(
        "--system is for Linux (the systemd system unit); on macOS use the per-user launchd agent (the default): a LaunchDaemon runs outside your login session, where the Keychain is not available"
    )]
    SystemOnMac,
    #[error(
        "--system is not supported on Windows: a Windows service must speak the service control protocol, which aigw does not; the per-user scheduled task (the default) starts aigw at logon in your session, with Credential Manager"
    )]
    SystemOnWindows,
    #[error("a path for the service is not valid UTF-8: {0}")]
    NotUtf8(PathBuf),
    #[error("unknown user: set USERNAME (and USERDOMAIN) for the scheduled task")]
    NoWindowsUser,
}

/// The plan for `os` and `scope`. `uid` is the user's numeric id (launchd's
/// `gui/UID` domain; ignored elsewhere).
pub fn plan(os: Os, scope: Scope, spec: &ServiceSpec, uid: u32) -> Result<Plan, ServiceError> {
    match (os, scope) {
        (Os::Linux, Scope::User) => systemd::user_plan(spec),
        (Os::Linux, Scope::System) => systemd::system_plan(spec),
        (Os::MacOs, Scope::User) => launchd::plan(spec, uid),
        (Os::MacOs, Scope::System) => Err(ServiceError::SystemOnMac),
        (Os::Windows, Scope::User) => windows::plan(spec),
        (Os::Windows, Scope::System) => Err(ServiceError::SystemOnWindows),
    }
}

fn utf8(p: &Path) -> Result<&str, ServiceError> {
    p.to_str()
        .ok_or_else(|| ServiceError::NotUtf8(p.to_owned()))
}

/// Escapes text for an XML element or attribute.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
