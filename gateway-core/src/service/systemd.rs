//! systemd: a user unit (`systemctl --user`) or the hardened system unit.

use std::path::Path;

use super::{Cmd, Os, Plan, Scope, ServiceError, ServiceSpec, utf8};

/// The unit's file name, user and system alike.
pub const UNIT: &str = "aigw.service";

/// The system unit shipped in the .deb (`packaging/systemd/aigw.service`).
const SYSTEM_UNIT: &str = include_str!("../../../packaging/systemd/aigw.service");

/// Where the system unit is installed: /etc overrides the .deb's copy in
/// /usr/lib/systemd/system.
const SYSTEM_DIR: &str = "/etc/systemd/system";

/// Quotes one word for a unit file's command line or assignment: systemd
/// reads C-style escapes inside double quotes, expands `%` specifiers and
/// `$` variables (both doubled to stay literal).
fn quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The user unit's text.
pub fn user_unit(spec: &ServiceSpec) -> Result<String, ServiceError> {
    let exe = utf8(&spec.exe)?;
    let mut env = String::new();
    for (k, v) in spec.env() {
        env.push_str(&format!(
            "Environment={}\n",
            quote(&format!("{k}={}", utf8(v)?))
        ));
    }
    Ok(format!(
        "# Written by `aigw service install`; `aigw service uninstall` removes it.\n\
         # The gateway in your user session: the keychain holds keyring:NAME keys.\n\
         [Unit]\n\
         Description=AI Model Gateway (aigw), an OpenAI-compatible LLM gateway\n\
         \n\
         [Service]\n\
         Type=exec\n\
         ExecStart={} serve\n\
         {env}\
         Restart=on-failure\n\
         RestartSec=2s\n\
         # In-flight requests and streams get server.shutdown_grace_s (default 30 s).\n\
         TimeoutStopSec=40s\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        quote(exe)
    ))
}

/// The system unit: the packaged one with this binary in `ExecStart` (and
/// `AIGW_CONFIG` / `AIGW_DATA_DIR` replaced when given).
pub fn system_unit(spec: &ServiceSpec) -> Result<String, ServiceError> {
    let exe = quote(utf8(&spec.exe)?);
    let mut out = String::with_capacity(SYSTEM_UNIT.len() + 64);
    for line in SYSTEM_UNIT.lines() {
        let replaced = if line.starts_with("ExecStart=") {
            Some(format!("ExecStart={exe} serve"))
        } else {
            let mut r = None;
            for (k, v) in spec.env() {
                if line.starts_with(&format!("Environment={k}=")) {
                    r = Some(format!(
                        "Environment={}",
                        quote(&format!("{k}={}", utf8(v)?))
                    ));
                }
            }
            r
        };
        out.push_str(replaced.as_deref().unwrap_or(line));
        out.push('\n');
    }
    Ok(out)
}

fn systemctl(user: bool, args: &[&str]) -> Cmd {
    let mut c = Cmd::new("systemctl", &[]);
    if user {
        c = c.arg("--user");
    }
    for a in args {
        c = c.arg(*a);
    }
    c
}

fn commands(user: bool) -> (Vec<Cmd>, Vec<Cmd>, Vec<Cmd>) {
    let install = vec![
        systemctl(user, &["daemon-reload"]),
        systemctl(user, &["enable", "--now", UNIT]),
    ];
    let uninstall = vec![systemctl(user, &["disable", "--now", UNIT]).may_fail()];
    let status = vec![
        systemctl(user, &["is-enabled", UNIT]).may_fail(),
        systemctl(user, &["is-active", UNIT]).may_fail(),
    ];
    (install, uninstall, status)
}

pub fn user_plan(spec: &ServiceSpec) -> Result<Plan, ServiceError> {
    let (install, uninstall, status) = commands(true);
    Ok(Plan {
        os: Os::Linux,
        scope: Scope::User,
        name: UNIT.into(),
        file: user_unit_path(&spec.home),
        contents: user_unit(spec)?.into_bytes(),
        dirs: Vec::new(),
        install,
        uninstall,
        status,
    })
}

pub fn system_plan(spec: &ServiceSpec) -> Result<Plan, ServiceError> {
    let (install, uninstall, status) = commands(false);
    Ok(Plan {
        os: Os::Linux,
        scope: Scope::System,
        name: UNIT.into(),
        file: Path::new(SYSTEM_DIR).join(UNIT),
        contents: system_unit(spec)?.into_bytes(),
        dirs: Vec::new(),
        install,
        uninstall,
        status,
    })
}

/// `~/.config/systemd/user/aigw.service` (systemd reads
/// `$XDG_CONFIG_HOME/systemd/user`, which defaults to that).
pub fn user_unit_path(home: &Path) -> std::path::PathBuf {
    home.join(".config/systemd/user").join(UNIT)
}
