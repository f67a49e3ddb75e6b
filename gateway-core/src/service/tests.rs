//! Every OS's service files, generated and checked on every OS: written to
//! a temp dir and read back by the real parsers where this machine has them
//! (`systemd-analyze verify`, Python's `plistlib` and XML parser), else
//! checked by content (the skip says which).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

fn spec(exe: &str, home: &str) -> ServiceSpec {
    ServiceSpec {
        exe: PathBuf::from(exe),
        home: PathBuf::from(home),
        config: None,
        data_dir: None,
        windows_user: Some("WORK\\ada".into()),
        windows_xml_dir: PathBuf::from(home).join("data"),
        windows_launcher: None,
    }
}

fn text(plan: &Plan) -> String {
    String::from_utf8(plan.contents.clone()).unwrap()
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn write(dir: &Path, plan: &Plan) -> PathBuf {
    let name = plan.file.file_name().unwrap();
    let p = dir.join(name);
    std::fs::write(&p, &plan.contents).unwrap();
    p
}

/// `systemd-analyze verify` on the unit, with `ExecStart`'s binary existing
/// (it checks that). Returns its stderr, or `None` when it is not here.
fn analyze(unit: &Path) -> Option<(bool, String)> {
    if !have("systemd-analyze") {
        eprintln!("skipped systemd-analyze verify: systemd-analyze is not installed");
        return None;
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    Some((out.status.success(), err))
}

#[test]
fn systemd_user_unit_runs_this_binary_with_the_explicit_paths() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("my bin/aigw");
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    std::fs::write(&exe, "#!/bin/sh\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut s = spec(exe.to_str().unwrap(), "/home/ada");
    s.config = Some("/home/ada/100% aigw/config.toml".into());
    let plan = plan(Os::Linux, Scope::User, &s, 501).unwrap();
    assert_eq!(
        plan.file,
        Path::new("/home/ada/.config/systemd/user/aigw.service")
    );
    let unit = text(&plan);
    assert!(
        unit.contains(&format!("ExecStart=\"{}\" serve\n", exe.display())),
        "{unit}"
    );
    // % is a specifier in unit files: doubled.
    assert!(
        unit.contains("Environment=\"AIGW_CONFIG=/home/ada/100%% aigw/config.toml\"\n"),
        "{unit}"
    );
    assert!(!unit.contains("AIGW_DATA_DIR"), "{unit}");
    assert!(unit.contains("WantedBy=default.target"), "{unit}");
    let cmds: Vec<String> = plan.install.iter().map(Cmd::display).collect();
    assert_eq!(
        cmds,
        [
            "systemctl --user daemon-reload",
            "systemctl --user enable --now aigw.service"
        ]
    );
    assert_eq!(
        plan.uninstall[0].display(),
        "systemctl --user disable --now aigw.service"
    );

    let file = write(dir.path(), &plan);
    if let Some((ok, err)) = analyze(&file) {
        assert!(ok, "systemd-analyze verify failed: {err}");
        assert!(!err.contains("aigw.service:"), "warnings: {err}");
    }
}

#[test]
fn systemd_verify_catches_a_broken_unit() {
    // The check above can fail: a unit whose binary is missing is rejected.
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(
        Os::Linux,
        Scope::User,
        &spec("/nonexistent/aigw", "/home/ada"),
        0,
    )
    .unwrap();
    let file = write(dir.path(), &plan);
    if let Some((ok, err)) = analyze(&file) {
        assert!(
            !ok || err.contains("/nonexistent/aigw"),
            "a missing binary passed: {err}"
        );
    }
}

#[test]
fn systemd_system_unit_is_the_packaged_one_with_this_binary() {
    let mut s = spec("/opt/aigw/bin/aigw", "/root");
    s.data_dir = Some("/srv/aigw".into());
    let plan = plan(Os::Linux, Scope::System, &s, 0).unwrap();
    assert_eq!(plan.file, Path::new("/etc/systemd/system/aigw.service"));
    let unit = text(&plan);
    assert!(
        unit.contains("ExecStart=\"/opt/aigw/bin/aigw\" serve\n"),
        "{unit}"
    );
    assert!(!unit.contains("/usr/bin/aigw serve"), "{unit}");
    assert!(unit.contains("Environment=\"AIGW_DATA_DIR=/srv/aigw\"\n"));
    // The rest is the packaged unit: hardening and its config path.
    assert!(unit.contains("DynamicUser=yes"));
    assert!(unit.contains("Environment=AIGW_CONFIG=/etc/aigw/config.toml"));
    assert!(unit.contains("WantedBy=multi-user.target"));
    assert_eq!(
        plan.install[1].display(),
        "systemctl enable --now aigw.service"
    );
}

#[test]
fn launchd_agent_plist_is_valid_and_points_at_this_binary() {
    let mut s = spec("/Users/ada/bin/aigw & co/aigw", "/Users/ada");
    s.data_dir = Some("/Users/ada/aigw-data".into());
    let plan = plan(Os::MacOs, Scope::User, &s, 501).unwrap();
    assert_eq!(
        plan.file,
        Path::new("/Users/ada/Library/LaunchAgents/dev.aigw.aigw.plist")
    );
    assert_eq!(plan.dirs, [PathBuf::from("/Users/ada/Library/Logs")]);
    let xml = text(&plan);
    assert!(
        xml.contains("<string>/Users/ada/bin/aigw &amp; co/aigw</string>"),
        "{xml}"
    );
    assert!(!xml.contains("/usr/local/bin/aigw"), "{xml}");
    assert!(!xml.contains("__HOME__"), "{xml}");
    assert!(xml.contains("<string>/Users/ada/Library/Logs/aigw.log</string>"));
    assert!(xml.contains("<key>AIGW_DATA_DIR</key>\n    <string>/Users/ada/aigw-data</string>"));
    assert!(
        !xml.contains("launchctl bootstrap"),
        "the install comment stays out"
    );
    let cmds: Vec<String> = plan.install.iter().map(Cmd::display).collect();
    assert_eq!(
        cmds,
        [
            "launchctl bootout gui/501/dev.aigw.aigw",
            "launchctl bootstrap gui/501 /Users/ada/Library/LaunchAgents/dev.aigw.aigw.plist"
        ]
    );
    assert!(plan.install[0].may_fail && !plan.install[1].may_fail);

    // A real plist parser reads it back (Python's plistlib, as plutil would).
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), &plan);
    let py = r#"
import plistlib, sys, json
d = plistlib.load(open(sys.argv[1], 'rb'))
print(json.dumps(d))
"#;
    match Command::new("python3")
        .arg("-c")
        .arg(py)
        .arg(&file)
        .output()
    {
        Ok(out) if out.status.success() => {
            let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(d["Label"], "dev.aigw.aigw");
            assert_eq!(
                d["ProgramArguments"],
                serde_json::json!(["/Users/ada/bin/aigw & co/aigw", "serve"])
            );
            assert_eq!(
                d["EnvironmentVariables"]["AIGW_DATA_DIR"],
                "/Users/ada/aigw-data"
            );
            assert_eq!(d["RunAtLoad"], true);
        }
        Ok(out) => panic!(
            "plistlib rejected the plist: {}\n{xml}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("skipped the plistlib check: no python3 ({e})"),
    }
}

#[test]
fn windows_task_is_utf16_crlf_task_scheduler_xml() {
    let mut s = spec(r"C:\Program Files\aigw\aigw.exe", r"C:\Users\ada");
    s.windows_launcher = Some(r"C:\Program Files\aigw\aigww.exe".into());
    s.windows_xml_dir = PathBuf::from(r"C:\Users\ada\AppData\Roaming\aigw\data");
    s.config = Some(r"C:\Users\ada\My Config\".into());
    let plan = plan(Os::Windows, Scope::User, &s, 0).unwrap();
    assert_eq!(plan.name, "aigw");
    // UTF-16LE with a BOM, CRLF only.
    assert_eq!(&plan.contents[..2], &[0xFF, 0xFE]);
    let units: Vec<u16> = plan.contents[2..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let xml = String::from_utf16(&units).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n"));
    assert_eq!(xml.matches('\n').count(), xml.matches("\r\n").count());
    // The console-less launcher, which runs aigw.exe with these arguments.
    assert!(xml.contains(r"<Command>C:\Program Files\aigw\aigww.exe</Command>"));
    // A trailing backslash before the closing quote is doubled.
    assert!(
        xml.contains(
            r#"<Arguments>--config &quot;C:\Users\ada\My Config\\&quot; serve</Arguments>"#
        ),
        "{xml}"
    );
    assert!(xml.contains(r"<UserId>WORK\ada</UserId>"));
    assert!(xml.contains("<LogonType>InteractiveToken</LogonType>"));
    assert!(xml.contains("<ExecutionTimeLimit>PT0S</ExecutionTimeLimit>"));
    let create = plan.install[0].display();
    assert!(
        create.starts_with("schtasks /Create /TN aigw /XML "),
        "{create}"
    );
    assert!(create.ends_with("aigw-task.xml /F"), "{create}");
    assert_eq!(plan.uninstall[1].display(), "schtasks /Delete /TN aigw /F");

    // An XML parser reads the UTF-16 file with its declaration.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aigw-task.xml");
    std::fs::write(&file, &plan.contents).unwrap();
    let py = r#"
import sys, xml.etree.ElementTree as ET
ns = {'t': 'http://schemas.microsoft.com/windows/2004/02/mit/task'}
r = ET.parse(sys.argv[1]).getroot()
print(r.find('t:Actions/t:Exec/t:Command', ns).text)
print(r.find('t:Actions/t:Exec/t:Arguments', ns).text)
"#;
    match Command::new("python3")
        .arg("-c")
        .arg(py)
        .arg(&file)
        .output()
    {
        Ok(out) if out.status.success() => {
            let got = String::from_utf8(out.stdout).unwrap();
            assert_eq!(
                got,
                "C:\\Program Files\\aigw\\aigww.exe\n--config \"C:\\Users\\ada\\My Config\\\\\" serve\n"
            );
        }
        Ok(out) => panic!(
            "the XML parser rejected the task: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("skipped the XML parser check: no python3 ({e})"),
    }
}

#[test]
fn windows_task_without_the_launcher_runs_aigw_exe_itself() {
    let s = spec(r"C:\tools\aigw.exe", r"C:\Users\ada");
    let plan = plan(Os::Windows, Scope::User, &s, 0).unwrap();
    let units: Vec<u16> = plan.contents[2..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let xml = String::from_utf16(&units).unwrap();
    assert!(
        xml.contains(r"<Command>C:\tools\aigw.exe</Command>"),
        "{xml}"
    );
    assert!(xml.contains("<Arguments>serve</Arguments>"), "{xml}");
}

#[test]
fn windows_quoting_follows_commandlinetoargvw() {
    use super::windows::test_quote as q;
    assert_eq!(q(r"C:\a b\c"), r#""C:\a b\c""#);
    assert_eq!(q(r"C:\dir\"), r#""C:\dir\\""#);
    assert_eq!(q(r#"a"b"#), r#""a\"b""#);
    assert_eq!(q(r#"a\"b"#), r#""a\\\"b""#);
}

#[test]
fn windows_needs_a_user_and_system_scope_is_refused_with_the_reason() {
    let mut s = spec(r"C:\aigw.exe", r"C:\Users\ada");
    s.windows_user = None;
    assert_eq!(
        plan(Os::Windows, Scope::User, &s, 0).unwrap_err(),
        ServiceError::NoWindowsUser
    );
    let e = plan(Os::Windows, Scope::System, &s, 0).unwrap_err();
    assert!(e.to_string().contains("scheduled task"), "{e}");
    let e = plan(Os::MacOs, Scope::System, &s, 0).unwrap_err();
    assert!(e.to_string().contains("Keychain"), "{e}");
}
