//! launchd: a per-user agent in `~/Library/LaunchAgents`, from the plist
//! shipped in `packaging/macos/`.

use std::path::Path;

use super::{Cmd, Os, Plan, Scope, ServiceError, ServiceSpec, utf8, xml_escape};

/// The agent's label (and file name without `.plist`).
pub const LABEL: &str = "dev.aigw.aigw";

const TEMPLATE: &str = include_str!("../../../packaging/macos/dev.aigw.aigw.plist");

/// The template's binary path, replaced by the running binary's.
const TEMPLATE_EXE: &str = "<string>/usr/local/bin/aigw</string>";

/// The template's environment, extended by the explicit paths.
const TEMPLATE_ENV: &str = "    <key>AIGW_LOG</key>\n    <string>info</string>\n";

/// The plist: the template with its install comment replaced, this binary,
/// the home directory for the log paths and the explicit paths added to
/// `EnvironmentVariables`.
pub fn plist(spec: &ServiceSpec) -> Result<String, ServiceError> {
    let exe = xml_escape(utf8(&spec.exe)?);
    let home = xml_escape(utf8(&spec.home)?);
    let mut env = String::from(TEMPLATE_ENV);
    for (k, v) in spec.env() {
        env.push_str(&format!(
            "    <key>{k}</key>\n    <string>{}</string>\n",
            xml_escape(utf8(v)?)
        ));
    }
    let text = match (TEMPLATE.find("<!--"), TEMPLATE.find("-->")) {
        (Some(a), Some(b)) if a < b => format!(
            "{}<!-- Written by `aigw service install`; `aigw service uninstall` removes it. -->{}",
            &TEMPLATE[..a],
            &TEMPLATE[b + 3..]
        ),
        _ => TEMPLATE.to_owned(),
    };
    Ok(text
        .replace(TEMPLATE_EXE, &format!("<string>{exe}</string>"))
        .replace(TEMPLATE_ENV, &env)
        .replace("__HOME__", &home))
}

pub fn plist_path(home: &Path) -> std::path::PathBuf {
    home.join("Library/LaunchAgents")
        .join(format!("{LABEL}.plist"))
}

pub fn plan(spec: &ServiceSpec, uid: u32) -> Result<Plan, ServiceError> {
    let file = plist_path(&spec.home);
    let domain = format!("gui/{uid}");
    let target = format!("{domain}/{LABEL}");
    Ok(Plan {
        os: Os::MacOs,
        scope: Scope::User,
        name: LABEL.into(),
        contents: plist(spec)?.into_bytes(),
        // StandardOutPath's directory: launchd does not create it.
        dirs: vec![spec.home.join("Library/Logs")],
        install: vec![
            // A previous install (another binary path) must go first:
            // bootstrap refuses a label that is loaded.
            Cmd::new("launchctl", &["bootout", &target]).may_fail(),
            Cmd::new("launchctl", &["bootstrap", &domain]).arg(file.as_os_str()),
        ],
        uninstall: vec![Cmd::new("launchctl", &["bootout", &target]).may_fail()],
        status: vec![Cmd::new("launchctl", &["print", &target]).may_fail()],
        file,
    })
}
