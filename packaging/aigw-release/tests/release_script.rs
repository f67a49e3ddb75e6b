//! The shell side of a release, cheaply: `packaging/release.sh` answers
//! `--help` and refuses bad arguments before it builds anything, and the
//! desktop archive that `packaging/desktop/pack.sh` makes installs into a
//! prefix with its `install.sh` and uninstalls again. The full release.sh
//! (release builds of both apps, ~20 min) is run by hand, not here.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TOOL: &str = env!("CARGO_BIN_EXE_aigw-release");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn release_sh(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo().join("packaging/release.sh"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn release_sh_help_names_every_flag_and_artefact() {
    let out = release_sh(&["--help"]);
    assert!(out.status.success(), "{}", text(&out));
    let help = text(&out);
    for flag in [
        "--key",
        "--update-url",
        "--base-url",
        "--minimum-version",
        "--notes-url",
        "--out",
        "--no-desktop",
        "--appimage",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
    for file in [
        "aigw-VERSION-TARGET.tar.gz",
        "aigw-desktop-VERSION-TARGET.tar.gz",
        "manifest.json",
        "SHA256SUMS",
    ] {
        assert!(help.contains(file), "--help does not mention {file}");
    }
    assert!(
        !help.contains("set -euo"),
        "--help leaks the script:\n{help}"
    );
}

#[test]
fn release_sh_refuses_bad_arguments_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, "not used").unwrap();
    let key = key.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&[], "--key FILE is required"),
        (&["--key"], "--key needs a value"),
        (&["--key", key, "--out"], "--out needs a value"),
        (
            &["--key", key, "--frobnicate"],
            "unknown argument --frobnicate",
        ),
        (
            &["--key", key, "--no-desktop", "--appimage"],
            "cannot go with --no-desktop",
        ),
        (&["--key", "/nonexistent/release.key"], "no key file at"),
    ];
    for (args, says) in cases {
        let out = release_sh(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
        assert!(
            !text(&out).contains("=="),
            "{args:?} started work: {}",
            text(&out)
        );
    }
}

#[test]
fn desktop_archive_installs_into_a_prefix_and_uninstalls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let build = d.join("aigw-desktop");
    std::fs::write(&build, "#!/bin/sh\necho 'aigw-desktop 2.7.1'\n").unwrap();
    std::fs::set_permissions(&build, std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = Command::new("bash")
        .arg(repo().join("packaging/desktop/pack.sh"))
        .args([TOOL, build.to_str().unwrap(), "2.7.1", "x-test"])
        .arg(d.join("dist"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let archive = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(archive, d.join("dist/aigw-desktop-2.7.1-x-test.tar.gz"));

    let unpacked = d.join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap();
    assert!(tar.status.success(), "{}", text(&tar));
    let top = unpacked.join("aigw-desktop-2.7.1-x-test");
    for f in [
        "aigw-desktop",
        "install.sh",
        "aigw-desktop.desktop",
        "icons/32x32.png",
        "icons/128x128.png",
        "icons/256x256.png",
        "README.md",
        "docs/desktop.md",
    ] {
        assert!(top.join(f).is_file(), "{f} missing from the archive");
    }
    let entry = std::fs::read_to_string(top.join("aigw-desktop.desktop")).unwrap();
    for line in [
        "[Desktop Entry]",
        "Type=Application",
        "Exec=aigw-desktop",
        "Icon=aigw-desktop",
    ] {
        assert!(entry.lines().any(|l| l == line), "no {line} in:\n{entry}");
    }

    // install.sh into a prefix, the way a user runs it (HOME too, so a
    // mistake cannot reach the real one).
    let prefix = d.join("home/.local");
    let install = |arg: Option<&str>| {
        let mut cmd = Command::new("sh");
        cmd.arg(top.join("install.sh"))
            .args(arg)
            .env("HOME", d.join("home"))
            .env("PREFIX", &prefix);
        cmd.output().unwrap()
    };
    let out = install(None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("installed aigw-desktop 2.7.1"),
        "{}",
        text(&out)
    );
    let bin = prefix.join("bin/aigw-desktop");
    let mode = std::fs::metadata(&bin).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(top.join("aigw-desktop")).unwrap()
    );
    let installed =
        std::fs::read_to_string(prefix.join("share/applications/aigw-desktop.desktop")).unwrap();
    assert!(
        installed.contains(&format!("Exec=\"{}\"\n", bin.display())),
        "the menu entry should run the installed binary by its path:\n{installed}"
    );
    for size in ["32x32", "128x128", "256x256"] {
        let icon = prefix.join(format!("share/icons/hicolor/{size}/apps/aigw-desktop.png"));
        assert!(icon.is_file(), "{} missing", icon.display());
    }
    assert!(
        !prefix.join("share/icons/hicolor/icon-theme.cache").exists(),
        "install.sh must not create an icon cache"
    );

    // Installing again (an upgrade by hand) works; uninstall removes it all.
    assert!(install(None).status.success());
    let out = install(Some("--uninstall"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!bin.exists());
    assert!(
        !prefix
            .join("share/applications/aigw-desktop.desktop")
            .exists()
    );
    assert!(
        !prefix
            .join("share/icons/hicolor/128x128/apps/aigw-desktop.png")
            .exists()
    );

    let out = install(Some("--bogus"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
