//! `aigw-release` as the release script drives it: keygen writes a private
//! key file and prints its public key; pack + sign produce archives,
//! detached signatures, a manifest and SHA256SUMS that the updater's own
//! verification accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use gateway_core::update::{PublicKey, verify};

const TOOL: &str = env!("CARGO_BIN_EXE_aigw-release");

fn tool(args: &[&str]) -> Output {
    Command::new(TOOL)
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn keygen_writes_a_private_key_file_and_prints_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("release.key");
    let public = ok(tool(&["keygen", "--out", &p(&key)]));
    let public = PublicKey::parse(public.trim()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        ok(tool(&["pubkey", "--key", &p(&key)])).trim(),
        public.to_base64()
    );
    assert_eq!(
        ok(tool(&["pubkey", "--key", &p(&key), "--pem"])),
        public.to_pem()
    );
    let before = std::fs::read(&key).unwrap();
    assert!(!tool(&["keygen", "--out", &p(&key)]).status.success());
    assert_eq!(
        std::fs::read(&key).unwrap(),
        before,
        "keygen overwrote a key"
    );
}

#[test]
fn pack_and_sign_produce_a_release_the_updater_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("release.key");
    let public = PublicKey::parse(ok(tool(&["keygen", "--out", &p(&key)])).trim()).unwrap();
    let bin = dir.path().join("aigw");
    std::fs::write(&bin, b"#!/bin/sh\necho 'aigw 3.1.4'\n").unwrap();
    let readme = dir.path().join("README.md");
    std::fs::write(&readme, b"# aigw\n").unwrap();
    let deb = dir.path().join("out").join("aigw_3.1.4_amd64.deb");
    std::fs::create_dir_all(deb.parent().unwrap()).unwrap();
    std::fs::write(&deb, b"not really a deb").unwrap();
    let out = dir.path().join("out");

    let file_arg = format!("{}=README.md", p(&readme));
    let pack = |o: &Path| {
        ok(tool(&[
            "pack",
            "--binary",
            &p(&bin),
            "--version",
            "3.1.4",
            "--target",
            "x-test",
            "--out-dir",
            &p(o),
            "--file",
            &file_arg,
            "--mtime",
            "1700000000",
        ]))
    };
    let archive = pack(&out);
    let archive = Path::new(archive.trim()).to_path_buf();
    assert_eq!(archive, out.join("aigw-3.1.4-x-test.tar.gz"));
    let again = dir.path().join("again");
    pack(&again);
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        std::fs::read(again.join("aigw-3.1.4-x-test.tar.gz")).unwrap(),
        "archives are not reproducible"
    );

    let desktop_bin = dir.path().join("aigw-desktop-build");
    std::fs::write(&desktop_bin, b"#!/bin/sh\necho 'aigw-desktop 3.1.4'\n").unwrap();
    let icon = dir.path().join("icon.png");
    std::fs::write(&icon, b"png").unwrap();
    let desktop = ok(tool(&[
        "pack",
        "--app",
        "desktop",
        "--binary",
        &p(&desktop_bin),
        "--version",
        "3.1.4",
        "--target",
        "x-test",
        "--out-dir",
        &p(&out),
        "--file",
        &format!("{}=share/icons/aigw-desktop.png", p(&icon)),
    ]));
    let desktop = Path::new(desktop.trim()).to_path_buf();
    assert_eq!(desktop, out.join("aigw-desktop-3.1.4-x-test.tar.gz"));

    let listed = ok(tool(&[
        "sign",
        "--desktop-archive",
        &format!("x-test={}", p(&desktop)),
        "--key",
        &p(&key),
        "--version",
        "3.1.4",
        "--archive",
        &format!("x-test={}", p(&archive)),
        "--extra",
        &p(&deb),
        "--out-dir",
        &p(&out),
        "--minimum-version",
        "3.0.0",
        "--date",
        "1700000000",
    ]));
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            "aigw-3.1.4-x-test.tar.gz",
            "aigw-desktop-3.1.4-x-test.tar.gz",
            "aigw_3.1.4_amd64.deb",
            "manifest.json",
            "SHA256SUMS"
        ]
    );

    let manifest = std::fs::read(out.join("manifest.json")).unwrap();
    let sig = std::fs::read_to_string(out.join("manifest.json.sig")).unwrap();
    let checked = verify::manifest(&manifest, &sig, &public).unwrap();
    assert_eq!(checked.version.to_string(), "3.1.4");
    assert_eq!(checked.manifest.date, "2023-11-14T22:13:20Z");
    assert_eq!(checked.manifest.minimum_version.as_deref(), Some("3.0.0"));
    let entry = &checked.manifest.targets["x-test"];
    assert_eq!(entry.url, "aigw-3.1.4-x-test.tar.gz");
    assert_eq!(entry.binary, "aigw-3.1.4-x-test/aigw");
    verify::archive(&std::fs::read(&archive).unwrap(), entry, &public).unwrap();
    let d = &checked.manifest.desktop["x-test"];
    assert_eq!(d.url, "aigw-desktop-3.1.4-x-test.tar.gz");
    assert_eq!(d.binary, "aigw-desktop-3.1.4-x-test/aigw-desktop");
    verify::archive(&std::fs::read(&desktop).unwrap(), d, &public).unwrap();

    for f in [
        "aigw-3.1.4-x-test.tar.gz",
        "aigw-desktop-3.1.4-x-test.tar.gz",
        "aigw_3.1.4_amd64.deb",
        "manifest.json",
        "SHA256SUMS",
    ] {
        let file = out.join(f);
        verify::detached(&file, &out.join(format!("{f}.sig")), &public).unwrap();
    }
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    for line in sums.lines() {
        let (sum, name) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(out.join(name)).unwrap();
        assert_eq!(sum, verify::sha256_hex(&bytes), "{name}");
    }
    assert_eq!(sums.lines().count(), 4);
}
