//! Windows: a per-user scheduled task that starts `aigw serve` at logon, in
//! the user's session (so Credential Manager holds `keyring:NAME` keys).
//!
//! The task runs `aigww.exe` (src/bin/aigww.rs) when it is installed beside
//! `aigw.exe`: Task Scheduler gives a console program a visible console
//! window, the GUI-subsystem launcher starts `aigw.exe` without one.
//!
//! `schtasks /Create /XML` reads the Task Scheduler XML; it is written as
//! UTF-16 (little-endian, with a byte-order mark) and CRLF line ends, the
//! form Task Scheduler itself exports.

use super::{Cmd, Os, Plan, Scope, ServiceError, ServiceSpec, utf8, xml_escape};

/// The task's name (`schtasks /TN`).
pub const TASK_NAME: &str = "aigw";

/// Quotes one argument for a Windows command line (the rules of
/// `CommandLineToArgvW`, which Rust's argument parsing follows):
/// backslashes are literal except before a quote, so a trailing run of
/// them is doubled before the closing quote.
fn win_quote(s: &str) -> String {
    let mut out = String::from('"');
    let mut backslashes = 0;
    for c in s.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
                continue;
            }
            _ => {}
        }
        if c != '\\' {
            out.extend(std::iter::repeat_n('\\', backslashes));
            backslashes = 0;
            out.push(c);
        }
    }
    out.extend(std::iter::repeat_n('\\', backslashes * 2));
    out.push('"');
    out
}

/// The task's XML (as text, LF line ends; [`encode`] makes the file).
pub fn task_xml(spec: &ServiceSpec) -> Result<String, ServiceError> {
    let user = spec
        .windows_user
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or(ServiceError::NoWindowsUser)?;
    let user = xml_escape(user);
    // aigww.exe passes its arguments on to aigw.exe beside it.
    let exe = xml_escape(utf8(spec.windows_launcher.as_ref().unwrap_or(&spec.exe))?);
    // Task Scheduler has no environment setting: the explicit paths go as
    // the global flags.
    let mut args = Vec::new();
    if let Some(c) = &spec.config {
        args.push(format!("--config {}", win_quote(utf8(c)?)));
    }
    if let Some(d) = &spec.data_dir {
        args.push(format!("--data-dir {}", win_quote(utf8(d)?)));
    }
    args.push("serve".into());
    let args = xml_escape(&args.join(" "));
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<!-- Written by `aigw service install`; `aigw service uninstall` removes the task. -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>AI Model Gateway (aigw serve), started at logon.</Description>
    <URI>\{TASK_NAME}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{user}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{user}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>false</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{exe}</Command>
      <Arguments>{args}</Arguments>
    </Exec>
  </Actions>
</Task>
"#
    ))
}

/// The file's bytes: UTF-16LE with a byte-order mark, CRLF line ends.
pub fn encode(text: &str) -> Vec<u8> {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let mut out = vec![0xFF, 0xFE];
    for u in crlf.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

pub fn plan(spec: &ServiceSpec) -> Result<Plan, ServiceError> {
    let file = spec.windows_xml_dir.join("aigw-task.xml");
    Ok(Plan {
        os: Os::Windows,
        scope: Scope::User,
        name: TASK_NAME.into(),
        contents: encode(&task_xml(spec)?),
        dirs: Vec::new(),
        install: vec![
            Cmd::new("schtasks", &["/Create", "/TN", TASK_NAME, "/XML"])
                .arg(file.as_os_str())
                .arg("/F"),
            // Start it now, not only at the next logon.
            Cmd::new("schtasks", &["/Run", "/TN", TASK_NAME]),
        ],
        uninstall: vec![
            Cmd::new("schtasks", &["/End", "/TN", TASK_NAME]).may_fail(),
            Cmd::new("schtasks", &["/Delete", "/TN", TASK_NAME, "/F"]),
        ],
        status: vec![
            Cmd::new(
                "schtasks",
                &["/Query", "/TN", TASK_NAME, "/V", "/FO", "LIST"],
            )
            .may_fail(),
        ],
        file,
    })
}

#[cfg(test)]
pub(super) fn test_quote(s: &str) -> String {
    win_quote(s)
}
