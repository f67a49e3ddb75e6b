//! `aigw service` as a user runs it, in a throwaway HOME: the dry run shows
//! the unit it would write; status says "not installed"; on Linux an
//! install writes the user unit and then needs the systemd user manager
//! (this test never reaches the real one: the manager reads the real
//! HOME, so enabling the unit from the throwaway one fails either way),
//! and uninstall removes the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const AIGW: &str = env!("CARGO_BIN_EXE_aigw");

fn aigw(home: &Path, args: &[&str]) -> Output {
    Command::new(AIGW)
        .args(["--data-dir", home.join("data").to_str().unwrap()])
        .args(args)
        .env("HOME", home)
        .env_remove("AIGW_CONFIG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn service_dry_run_status_install_and_uninstall_in_a_fresh_home() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let data = h.join("data");

    let o = aigw(h, &["service", "install", "--dry-run"]);
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    if cfg!(target_os = "linux") {
        let unit = h.join(".config/systemd/user/aigw.service");
        assert!(
            out.starts_with(&format!("# would write {}\n", unit.display())),
            "{out}"
        );
        assert!(
            out.contains(&format!("ExecStart=\"{AIGW}\" serve")),
            "{out}"
        );
        assert!(
            out.contains(&format!("Environment=\"AIGW_DATA_DIR={}\"", data.display())),
            "{out}"
        );
        assert!(out.ends_with("systemctl --user enable --now aigw.service\n"));
        assert!(!unit.exists(), "a dry run writes nothing");

        let o = aigw(h, &["service", "status"]);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        assert!(stdout(&o).contains("not installed"));

        let o = aigw(h, &["service", "install"]);
        let written = std::fs::read_to_string(&unit).unwrap();
        assert!(written.contains(&format!("ExecStart=\"{AIGW}\" serve")));
        if o.status.success() {
            // Only where a user manager serves this throwaway HOME.
            eprintln!("installed: {}", stdout(&o));
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("`systemctl --user"), "{err}");
            eprintln!("the install stopped at the user manager, as expected here: {err}");
        }
        let o = aigw(h, &["service", "status"]);
        assert!(stdout(&o).contains("aigw.service: installed"), "{o:?}");

        let o = aigw(h, &["service", "uninstall"]);
        assert!(o.status.success(), "{o:?}");
        assert!(!unit.exists());
        assert!(stdout(&o).contains("aigw.service is uninstalled"));
    }

    // --system and --user together is a usage error.
    let o = aigw(h, &["service", "status", "--user", "--system"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}
