//! `aigw update` as a user runs it, against a release server on 127.0.0.1
//! that serves releases this test builds and signs with its own key: apply
//! installs a release that then reports its version, rollback restores the
//! exact previous bytes, and every kind of tampering (archive, manifest,
//! wrong key, truncated download, lying binary, downgrade) is refused with
//! the installed binary left byte for byte as it was.
//!
//! The installed "aigw" is a small shell script (`--version` prints the
//! version it was built for); the updater is the real `aigw` binary, told
//! which binary to update with `--binary` — or, in one test, the real
//! binary (hard-linked into a temp dir) that updates itself.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gateway_core::update::release::{
    ArchiveFile, ReleaseArchive, ReleaseSpec, archive_stem, pack_archive, pack_zip, write_manifest,
};
use gateway_core::update::{App, BUILD_TARGET, SigningKey};

const AIGW: &str = env!("CARGO_BIN_EXE_aigw");

// ---------------------------------------------------------------- server

#[derive(Clone)]
enum Served {
    Bytes(Vec<u8>),
    /// Announces the full length, sends `at` bytes, then closes the connection.
    CutAt(Vec<u8>, usize),
    /// `302 Found` to this `Location`.
    Redirect(String),
}

/// A static file server on 127.0.0.1 whose files the test can swap. Plain
/// HTTP/1.1 over std sockets, one connection at a time, so a cut download is
/// exactly "headers and part of the body, then EOF".
struct ReleaseServer {
    url: String,
    files: Arc<Mutex<HashMap<String, Served>>>,
    /// The path of every request served, in order.
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ReleaseServer {
    fn start() -> Self {
        let files: Arc<Mutex<HashMap<String, Served>>> = Arc::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (shared, stopping, log) = (files.clone(), stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = answer(conn, &shared, &log);
                }
            }
        });
        Self {
            url,
            files,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn put(&self, path: &str, served: Served) {
        self.files.lock().unwrap().insert(path.to_owned(), served);
    }

    fn remove(&self, path: &str) {
        self.files.lock().unwrap().remove(path);
    }

    fn get(&self, path: &str) -> Vec<u8> {
        match self.files.lock().unwrap().get(path) {
            Some(Served::Bytes(b)) => b.clone(),
            _ => panic!("{path} not served"),
        }
    }

    fn manifest_url(&self) -> String {
        format!("{}/manifest.json", self.url)
    }

    fn requested(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(
    mut conn: TcpStream,
    files: &Mutex<HashMap<String, Served>>,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    log.lock().unwrap().push(path.clone());
    let served = files.lock().unwrap().get(&path).cloned();
    let mut location = String::new();
    let (status, len, body) = match &served {
        None => ("404 Not Found", 0, &[][..]),
        Some(Served::Bytes(b)) => ("200 OK", b.len(), &b[..]),
        Some(Served::CutAt(full, at)) => ("200 OK", full.len(), &full[..*at]),
        Some(Served::Redirect(to)) => {
            location = format!("Location: {to}\r\n");
            ("302 Found", 0, &[][..])
        }
    };
    write!(
        conn,
        "HTTP/1.1 {status}\r\n{location}Content-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
    )?;
    conn.write_all(body)?;
    conn.flush()?;
    conn.shutdown(std::net::Shutdown::Both)
}

// ---------------------------------------------------------------- fixture

struct Fixture {
    dir: tempfile::TempDir,
    key: SigningKey,
    server: ReleaseServer,
    /// The installed binary the updater is pointed at.
    install: PathBuf,
    data: PathBuf,
}

/// A stand-in aigw: `--version` prints `aigw VERSION`; anything else runs
/// `delegate` (a real aigw) so that e.g. `update rollback` works from it.
fn fake_aigw(version: &str, delegate: &Path) -> String {
    format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'aigw {version}'; exit 0; fi\nexec '{}' \"$@\"\n",
        delegate.display()
    )
}

fn write_exe(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Fixture {
    /// A fixture whose installed binary reports `installed_version`.
    fn new(installed_version: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let install = dir.path().join("install").join("aigw");
        write_exe(
            &install,
            fake_aigw(installed_version, Path::new(AIGW)).as_bytes(),
        );
        Self {
            data: dir.path().join("data"),
            key: SigningKey::generate().unwrap(),
            server: ReleaseServer::start(),
            install,
            dir,
        }
    }

    fn pubkey(&self) -> String {
        self.key.public().to_base64()
    }

    /// Builds, signs and serves a release whose binary has `content`.
    fn publish(&self, version: &str, content: &str, minimum: Option<&str>) {
        self.publish_apps(version, &[(App::Gateway, content)], minimum);
    }

    /// Builds, signs and serves a release with one archive per app, each
    /// holding that app's executable with the given content.
    fn publish_apps(&self, version: &str, apps: &[(App, &str)], minimum: Option<&str>) {
        self.publish_packed(version, apps, minimum, false);
    }

    /// [`Self::publish_apps`], as `.zip` archives (how Windows releases ship)
    /// when `zip`.
    fn publish_packed(
        &self,
        version: &str,
        apps: &[(App, &str)],
        minimum: Option<&str>,
        zip: bool,
    ) {
        let out = self.dir.path().join("releases").join(version);
        std::fs::create_dir_all(&out).unwrap();
        let mut archives = Vec::new();
        for (app, content) in apps {
            let bin = out.join(format!("{app}-binary"));
            write_exe(&bin, content.as_bytes());
            let stem = app.archive_stem(version, BUILD_TARGET);
            let archive = out.join(format!("{stem}.{}", if zip { "zip" } else { "tar.gz" }));
            let files = [ArchiveFile {
                source: bin,
                name: app.name().into(),
                executable: true,
            }];
            if zip {
                pack_zip(&archive, &stem, &files, 1_700_000_000).unwrap();
            } else {
                pack_archive(&archive, &stem, &files, 1_700_000_000).unwrap();
            }
            archives.push(ReleaseArchive {
                app: *app,
                target: BUILD_TARGET.into(),
                path: archive,
                binary: format!("{stem}/{app}"),
            });
        }
        let spec = ReleaseSpec {
            version: version.into(),
            date: "2026-11-25T13:00:00Z".into(),
            minimum_version: minimum.map(str::to_owned),
            notes_url: None,
            base_url: None,
            archives: archives.clone(),
        };
        write_manifest(&spec, &self.key, &out).unwrap();
        let names = ["manifest.json".to_owned(), "manifest.json.sig".to_owned()]
            .into_iter()
            .chain(
                archives
                    .iter()
                    .map(|a| a.path.file_name().unwrap().to_string_lossy().into_owned()),
            );
        for name in names {
            let bytes = std::fs::read(out.join(&name)).unwrap();
            self.server.put(&format!("/{name}"), Served::Bytes(bytes));
        }
    }

    /// Serves release `version` whose binary is a stand-in reporting `version`.
    fn publish_version(&self, version: &str) {
        self.publish(version, &fake_aigw(version, Path::new(AIGW)), None);
    }

    fn archive_path(&self, version: &str) -> String {
        format!("/{}.tar.gz", archive_stem(version, BUILD_TARGET))
    }

    /// Runs `aigw update ARGS` (the real binary) against this fixture.
    fn update(&self, args: &[&str]) -> Output {
        self.run(Path::new(AIGW), args)
    }

    /// `update check|apply` with this fixture's URL, key and installed binary.
    fn sourced(&self, verb: &str, extra: &[&str]) -> Output {
        self.sourced_at(&self.server.manifest_url(), verb, extra)
    }

    /// `update check|apply` against the manifest at `url`.
    fn sourced_at(&self, url: &str, verb: &str, extra: &[&str]) -> Output {
        let url = url.to_owned();
        let key = self.pubkey();
        let install = self.install.display().to_string();
        let mut args = vec![
            verb,
            "--manifest-url",
            &url,
            "--pubkey",
            &key,
            "--binary",
            &install,
        ];
        args.extend_from_slice(extra);
        self.update(&args)
    }

    fn run(&self, exe: &Path, args: &[&str]) -> Output {
        Command::new(exe)
            .arg("update")
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .env_remove("AIGW_CONFIG")
            .env_remove("AIGW_DATA_DIR")
            .env_remove("AIGW_UPDATE_URL")
            .env_remove("AIGW_UPDATE_BINARY")
            .output()
            .unwrap()
    }

    fn installed_version(&self) -> String {
        version_of(&self.install)
    }

    /// The installed binary, the previous slot and the staging area are as
    /// they were before a refused update.
    fn assert_untouched(&self, before: &[u8], out: &Output) {
        assert!(!out.status.success(), "expected a refusal:\n{}", text(out));
        assert!(text(out).contains("nothing was changed"), "{}", text(out));
        assert_eq!(
            std::fs::read(&self.install).unwrap(),
            before,
            "binary changed"
        );
        assert!(
            !self.data.join("updates/previous").exists(),
            "a previous version was recorded"
        );
        let install_dir: Vec<_> = std::fs::read_dir(self.install.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(install_dir, ["aigw"], "stray files beside the binary");
        let staging = self.data.join("updates/staging");
        if staging.exists() {
            assert_eq!(
                std::fs::read_dir(&staging).unwrap().count(),
                0,
                "downloads left behind"
            );
        }
    }
}

fn version_of(exe: &Path) -> String {
    let out = Command::new(exe).arg("--version").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------- stories

#[test]
fn check_then_apply_installs_the_new_release_and_rollback_restores_the_old() {
    let f = Fixture::new("1.0.0");
    let original = std::fs::read(&f.install).unwrap();
    f.publish_version("1.1.0");

    let check = ok(f.sourced("check", &[]));
    assert!(check.contains("installed  aigw 1.0.0"), "{check}");
    assert!(check.contains("latest     1.1.0"), "{check}");
    assert!(check.contains("update available"), "{check}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(f.sourced("check", &["--json"]))).unwrap();
    assert_eq!(json["action"], "update");
    assert_eq!(json["offered"], "1.1.0");

    let dry = ok(f.sourced("apply", &["--dry-run"]));
    assert!(dry.contains("Nothing was changed"), "{dry}");
    assert_eq!(std::fs::read(&f.install).unwrap(), original);
    assert!(!f.data.join("updates/previous").exists());

    let applied = ok(f.sourced("apply", &[]));
    assert!(applied.contains("from 1.0.0 to 1.1.0"), "{applied}");
    assert_eq!(f.installed_version(), "aigw 1.1.0");
    let kept = f.data.join("updates/previous/aigw");
    assert_eq!(std::fs::read(&kept).unwrap(), original);
    let mode = std::fs::metadata(&f.install).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    assert!(ok(f.sourced("check", &[])).contains("up to date"));
    assert!(ok(f.sourced("apply", &[])).contains("up to date"));

    // Rollback puts back the exact bytes; a second rollback undoes it.
    let back = ok(f.update(&["rollback"]));
    assert!(back.contains("1.0.0 restored"), "{back}");
    assert_eq!(std::fs::read(&f.install).unwrap(), original);
    assert_eq!(f.installed_version(), "aigw 1.0.0");
    ok(f.update(&["rollback"]));
    assert_eq!(f.installed_version(), "aigw 1.1.0");
}

#[test]
fn a_zip_release_installs_and_rolls_back_like_a_tar_gz_one() {
    // Windows releases ship as .zip (update/release.rs, `zips`); the updater
    // reads the format from the archive URL on any host.
    let f = Fixture::new("1.0.0");
    let original = std::fs::read(&f.install).unwrap();
    f.publish_packed(
        "1.1.0",
        &[(App::Gateway, &fake_aigw("1.1.0", Path::new(AIGW)))],
        None,
        true,
    );
    let applied = ok(f.sourced("apply", &[]));
    assert!(applied.contains("from 1.0.0 to 1.1.0"), "{applied}");
    assert_eq!(f.installed_version(), "aigw 1.1.0");
    assert!(
        f.server
            .requested()
            .iter()
            .any(|r| r.ends_with(&format!("{}.zip", archive_stem("1.1.0", BUILD_TARGET)))),
        "{:?}",
        f.server.requested()
    );
    let back = ok(f.update(&["rollback"]));
    assert!(back.contains("1.0.0 restored"), "{back}");
    assert_eq!(std::fs::read(&f.install).unwrap(), original);
}

#[test]
fn the_running_binary_replaces_itself_and_rolls_back() {
    let f = Fixture::new("0.0.1");
    // The real aigw, run from a temp dir: it updates itself. A hard link
    // where it can be (the updater renames new files over it and never
    // writes to the file itself, so the cargo-built aigw is not touched),
    // else a copy.
    let bin = f.dir.path().join("bin").join("aigw");
    let real = std::fs::read(AIGW).unwrap();
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    if std::fs::hard_link(AIGW, &bin).is_err() {
        write_exe(&bin, &real);
    }
    let current = semver::Version::parse(gateway_core::VERSION).unwrap();
    let next = semver::Version::new(current.major, current.minor, current.patch + 1).to_string();
    // The new release's binary answers --version and hands every other
    // command to the cargo-built aigw (which is run, never replaced).
    f.publish(&next, &fake_aigw(&next, Path::new(AIGW)), None);

    let out = f.run(
        &bin,
        &[
            "apply",
            "--manifest-url",
            &f.server.manifest_url(),
            "--pubkey",
            &f.pubkey(),
        ],
    );
    let applied = ok(out);
    assert!(applied.contains(&format!("to {next}")), "{applied}");
    assert_eq!(version_of(&bin), format!("aigw {next}"));

    // Rollback, run through the new binary, goes back to where the update
    // was installed (recorded with the kept binary), not to the aigw it runs as.
    let back = ok(f.run(&bin, &["rollback"]));
    assert!(back.contains(&format!("{current} restored")), "{back}");
    assert_eq!(std::fs::read(&bin).unwrap(), real);
    assert_eq!(version_of(&bin), format!("aigw {current}"));
    assert_eq!(
        std::fs::read(AIGW).unwrap(),
        real,
        "the cargo-built aigw changed"
    );
}

#[test]
fn a_tampered_archive_is_refused_and_nothing_changes() {
    let f = Fixture::new("1.0.0");
    let before = std::fs::read(&f.install).unwrap();
    f.publish_version("1.1.0");
    let path = f.archive_path("1.1.0");
    let mut archive = f.server.get(&path);
    let mid = archive.len() / 2;
    archive[mid] ^= 0x55;
    f.server.put(&path, Served::Bytes(archive));

    let out = f.sourced("apply", &[]);
    assert!(
        text(&out).contains("archive checksum mismatch"),
        "{}",
        text(&out)
    );
    f.assert_untouched(&before, &out);
    assert_eq!(f.installed_version(), "aigw 1.0.0");
}

#[test]
fn a_tampered_manifest_is_refused_and_nothing_changes() {
    let f = Fixture::new("1.0.0");
    let before = std::fs::read(&f.install).unwrap();
    f.publish_version("1.1.0");
    // Point the signed manifest at another (validly built) archive.
    f.publish("1.1.0-evil", &fake_aigw("6.6.6", Path::new(AIGW)), None);
    let evil_manifest = String::from_utf8(f.server.get("/manifest.json")).unwrap();
    let evil: serde_json::Value = serde_json::from_str(&evil_manifest).unwrap();
    f.publish_version("1.1.0");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&f.server.get("/manifest.json")).unwrap();
    manifest["targets"][BUILD_TARGET] = evil["targets"][BUILD_TARGET].clone();
    f.server.put(
        "/manifest.json",
        Served::Bytes(serde_json::to_vec_pretty(&manifest).unwrap()),
    );

    let out = f.sourced("apply", &[]);
    assert!(
        text(&out).contains("manifest signature does not verify"),
        "{}",
        text(&out)
    );
    f.assert_untouched(&before, &out);
    let out = f.sourced("check", &[]);
    assert!(!out.status.success());
}

#[test]
fn a_release_signed_with_another_key_is_refused_and_nothing_changes() {
    let f = Fixture::new("1.0.0");
    let before = std::fs::read(&f.install).unwrap();
    f.publish_version("1.1.0");
    let stranger = SigningKey::generate().unwrap().public().to_base64();
    let url = f.server.manifest_url();
    let install = f.install.display().to_string();
    let out = f.update(&[
        "apply",
        "--manifest-url",
        &url,
        "--pubkey",
        &stranger,
        "--binary",
        &install,
    ]);
    assert!(
        text(&out).contains("manifest signature does not verify"),
        "{}",
        text(&out)
    );
    f.assert_untouched(&before, &out);

    // Without --pubkey the build's own key is used, which did not sign this.
    let out = f.update(&["apply", "--manifest-url", &url, "--binary", &install]);
    assert!(
        text(&out).contains("manifest signature does not verify"),
        "{}",
        text(&out)
    );
    f.assert_untouched(&before, &out);
}

#[test]
fn a_truncated_download_is_refused_and_nothing_changes() {
    let f = Fixture::new("1.0.0");
    let before = std::fs::read(&f.install).unwrap();
    f.publish_version("1.1.0");
    let path = f.archive_path("1.1.0");
    let archive = f.server.get(&path);

    // The connection drops half way through.
    f.server
        .put(&path, Served::CutAt(archive.clone(), archive.len() / 2));
    let out = f.sourced("apply", &[]);
    assert!(text(&out).contains("download of"), "{}", text(&out));
    f.assert_untouched(&before, &out);

    // The server sends a short file as if it were complete.
    f.server
        .put(&path, Served::Bytes(archive[..archive.len() / 2].to_vec()));
    let out = f.sourced("apply", &[]);
    assert!(
        text(&out).contains("truncated or altered"),
        "{}",
        text(&out)
    );
    f.assert_untouched(&before, &out);

    // And a missing archive.
    f.server.remove(&path);
    let out = f.sourced("apply", &[]);
    assert!(text(&out).contains("404"), "{}", text(&out));
    f.assert_untouched(&before, &out);
}

#[test]
fn a_release_whose_binary_reports_another_version_is_refused() {
    let f = Fixture::new("1.0.0");
    let before = std::fs::read(&f.install).unwrap();
    f.publish("1.1.0", &fake_aigw("1.2.0", Path::new(AIGW)), None);
    let out = f.sourced("apply", &[]);
    assert!(text(&out).contains("it reports 1.2.0"), "{}", text(&out));
    f.assert_untouched(&before, &out);
}

#[test]
fn downgrades_need_allow_downgrade() {
    let f = Fixture::new("1.1.0");
    let before = std::fs::read(&f.install).unwrap();
    f.publish_version("1.0.0");
    assert!(ok(f.sourced("check", &[])).contains("--allow-downgrade"));
    let out = f.sourced("apply", &[]);
    assert!(
        text(&out).contains("refusing to downgrade from 1.1.0 to 1.0.0"),
        "{}",
        text(&out)
    );
    f.assert_untouched(&before, &out);

    ok(f.sourced("apply", &["--allow-downgrade"]));
    assert_eq!(f.installed_version(), "aigw 1.0.0");
}

#[test]
fn a_version_below_the_minimum_is_sent_to_the_archive() {
    let f = Fixture::new("0.9.0");
    let before = std::fs::read(&f.install).unwrap();
    f.publish("1.1.0", &fake_aigw("1.1.0", Path::new(AIGW)), Some("1.0.0"));
    let out = f.sourced("apply", &[]);
    assert!(
        text(&out).contains("minimum_version 1.0.0"),
        "{}",
        text(&out)
    );
    f.assert_untouched(&before, &out);
}

#[test]
fn rollback_without_a_previous_version_says_so() {
    let f = Fixture::new("1.0.0");
    let before = std::fs::read(&f.install).unwrap();
    let out = f.update(&["rollback", "--binary", &f.install.display().to_string()]);
    assert!(text(&out).contains("no previous version"), "{}", text(&out));
    f.assert_untouched(&before, &out);
}

#[test]
fn a_rollback_refuses_an_altered_kept_binary() {
    let f = Fixture::new("1.0.0");
    f.publish_version("1.1.0");
    ok(f.sourced("apply", &[]));
    let kept = f.data.join("updates/previous/aigw");
    std::fs::write(&kept, b"#!/bin/sh\necho pwned\n").unwrap();
    let installed = std::fs::read(&f.install).unwrap();
    let out = f.update(&["rollback"]);
    assert!(
        text(&out).contains("changed since it was saved"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&f.install).unwrap(), installed);
}

#[test]
fn verify_checks_a_downloaded_file_and_its_signature() {
    let f = Fixture::new("1.0.0");
    f.publish_version("1.1.0");
    let stem = archive_stem("1.1.0", BUILD_TARGET);
    let archive = f
        .dir
        .path()
        .join("releases/1.1.0")
        .join(format!("{stem}.tar.gz"));
    let file = archive.display().to_string();
    let good = ok(f.update(&["verify", &file, "--pubkey", &f.pubkey()]));
    assert!(good.contains("signature OK"), "{good}");

    let mut bytes = std::fs::read(&archive).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&archive, bytes).unwrap();
    let out = f.update(&["verify", &file, "--pubkey", &f.pubkey()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("does not verify"), "{}", text(&out));
}

#[test]
fn updates_need_an_https_url_and_a_url_at_all() {
    let f = Fixture::new("1.0.0");
    let install = f.install.display().to_string();
    let out = f.update(&[
        "check",
        "--manifest-url",
        "http://example.com/manifest.json",
        "--binary",
        &install,
    ]);
    assert!(text(&out).contains("use https"), "{}", text(&out));
    if gateway_core::update::DEFAULT_MANIFEST_URL.is_none() {
        let out = f.update(&["check", "--binary", &install]);
        assert!(text(&out).contains("--manifest-url"), "{}", text(&out));
    }
    let key = ok(f.update(&["key"]));
    assert!(key.contains("BEGIN PUBLIC KEY"), "{key}");
}

// ------------------------------------------------------- redirects

/// Redirects stay on the release server: one to the same host and port is
/// followed; one to another host (`localhost` on another port, 127.0.0.2)
/// is refused with the reason before anything is asked of that host; a
/// redirect loop ends after the limit.
#[test]
fn update_fetches_follow_redirects_only_on_the_same_host() {
    let f = Fixture::new("1.0.0");
    f.publish_version("1.1.0");
    let base = f.server.url.clone();

    // Same host and port (absolute and relative Location): followed.
    f.server.put(
        "/moved/manifest.json",
        Served::Redirect(format!("{base}/manifest.json")),
    );
    f.server.put(
        "/moved/manifest.json.sig",
        Served::Redirect("/manifest.json.sig".into()),
    );
    let out = ok(f.sourced_at(&format!("{base}/moved/manifest.json"), "check", &[]));
    assert!(out.contains("update available"), "{out}");
    // A host name resolves through the SSRF guard (loopback: allowed).
    let by_name = format!("http://localhost:{}/manifest.json", f.server.port());
    let out = ok(f.sourced_at(&by_name, "check", &[]));
    assert!(out.contains("update available"), "{out}");

    // Another host serving the same release: never reached.
    let other = ReleaseServer::start();
    for file in ["/manifest.json", "/manifest.json.sig"] {
        other.put(file, Served::Bytes(f.server.get(file)));
    }
    for (path, to) in [
        (
            "/away/manifest.json",
            format!("http://localhost:{}/manifest.json", other.port()),
        ),
        (
            "/away2/manifest.json",
            format!("http://127.0.0.2:{}/manifest.json", other.port()),
        ),
    ] {
        f.server.put(path, Served::Redirect(to.clone()));
        let out = f.sourced_at(&format!("{base}{path}"), "check", &[]);
        assert!(!out.status.success(), "{}", text(&out));
        let msg = text(&out);
        assert!(
            msg.contains(&format!("redirect from {base}{path} to {to} refused")),
            "{msg}"
        );
        assert!(msg.contains("same host and port"), "{msg}");
    }
    assert_eq!(other.requested(), Vec::<String>::new());

    // A loop: the first request and five redirects, then a refusal.
    f.server.put("/loop", Served::Redirect("/loop".into()));
    let out = f.sourced_at(&format!("{base}/loop"), "check", &[]);
    assert!(
        text(&out).contains("more than 5 redirects"),
        "{}",
        text(&out)
    );
    let loops = f
        .server
        .requested()
        .iter()
        .filter(|p| *p == "/loop")
        .count();
    assert_eq!(loops, 6);
}

// ------------------------------------------------------- the desktop app

/// A stand-in desktop app: `--version` prints `aigw-desktop VERSION`.
fn fake_desktop(version: &str) -> String {
    format!("#!/bin/sh\n[ \"$1\" = --version ] && echo 'aigw-desktop {version}'\n")
}

#[test]
fn desktop_builds_update_the_desktop_app_apart_from_aigw() {
    let f = Fixture::new("1.0.0");
    let desktop = f.dir.path().join("apps").join("aigw-desktop");
    write_exe(&desktop, fake_desktop("1.0.0").as_bytes());
    let desktop_before = std::fs::read(&desktop).unwrap();
    let aigw_before = std::fs::read(&f.install).unwrap();
    let d = desktop.display().to_string();
    let url = f.server.manifest_url();
    let key = f.pubkey();
    let desktop_args = |verb: &'static str| {
        vec![
            verb,
            "--app",
            "desktop",
            "--binary",
            &d,
            "--manifest-url",
            &url,
            "--pubkey",
            &key,
        ]
    };

    // A release without desktop builds offers nothing to the desktop app.
    f.publish_version("1.1.0");
    let out = f.update(&desktop_args("apply"));
    assert!(
        text(&out).contains("no build for") && text(&out).contains("nothing was changed"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(&desktop).unwrap(), desktop_before);

    f.publish_apps(
        "1.1.0",
        &[
            (App::Gateway, &fake_aigw("1.1.0", Path::new(AIGW))),
            (App::Desktop, &fake_desktop("1.1.0")),
        ],
        None,
    );
    let check = ok(f.update(&desktop_args("check")));
    assert!(check.contains("installed  aigw-desktop 1.0.0"), "{check}");
    assert!(check.contains("update available"), "{check}");

    // Installing the desktop build touches neither aigw nor its kept version.
    let applied = ok(f.update(&desktop_args("apply")));
    assert!(applied.contains("to 1.1.0"), "{applied}");
    assert!(
        applied.contains("aigw update rollback --app desktop"),
        "{applied}"
    );
    assert_eq!(version_of(&desktop), "aigw-desktop 1.1.0");
    assert_eq!(std::fs::read(&f.install).unwrap(), aigw_before);
    assert!(
        f.data
            .join("updates/previous-desktop/aigw-desktop")
            .exists()
    );
    assert!(!f.data.join("updates/previous").exists());

    // Then aigw from the same release; each rollback restores its own.
    ok(f.sourced("apply", &[]));
    assert_eq!(f.installed_version(), "aigw 1.1.0");
    let back = ok(f.update(&["rollback", "--app", "desktop"]));
    assert!(back.contains("1.0.0 restored"), "{back}");
    assert_eq!(std::fs::read(&desktop).unwrap(), desktop_before);
    assert_eq!(f.installed_version(), "aigw 1.1.0");
    ok(f.update(&["rollback"]));
    assert_eq!(std::fs::read(&f.install).unwrap(), aigw_before);
}

#[test]
fn a_tampered_desktop_archive_is_refused_and_nothing_changes() {
    let f = Fixture::new("1.0.0");
    let desktop = f.dir.path().join("apps").join("aigw-desktop");
    write_exe(&desktop, fake_desktop("1.0.0").as_bytes());
    let before = std::fs::read(&desktop).unwrap();
    f.publish_apps(
        "1.1.0",
        &[
            (App::Gateway, &fake_aigw("1.1.0", Path::new(AIGW))),
            (App::Desktop, &fake_desktop("1.1.0")),
        ],
        None,
    );
    // The desktop archive swapped for the (validly signed) aigw one: the
    // manifest's checksum for the desktop entry no longer matches.
    let aigw_archive = format!("/{}.tar.gz", archive_stem("1.1.0", BUILD_TARGET));
    let desktop_archive = format!(
        "/{}.tar.gz",
        App::Desktop.archive_stem("1.1.0", BUILD_TARGET)
    );
    let bytes = std::fs::read(
        f.dir
            .path()
            .join("releases/1.1.0")
            .join(aigw_archive.trim_start_matches('/')),
    )
    .unwrap();
    f.server.put(&desktop_archive, Served::Bytes(bytes));
    let d = desktop.display().to_string();
    let out = f.update(&[
        "apply",
        "--app",
        "desktop",
        "--binary",
        &d,
        "--manifest-url",
        &f.server.manifest_url(),
        "--pubkey",
        &f.pubkey(),
    ]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing was changed"), "{}", text(&out));
    assert_eq!(std::fs::read(&desktop).unwrap(), before);
    assert!(!f.data.join("updates/previous-desktop").exists());
}

#[test]
fn aigw_never_replaces_itself_with_the_desktop_app() {
    let f = Fixture::new("1.0.0");
    f.publish_apps(
        "1.1.0",
        &[
            (App::Gateway, &fake_aigw("1.1.0", Path::new(AIGW))),
            (App::Desktop, &fake_desktop("1.1.0")),
        ],
        None,
    );
    let out = f.update(&[
        "apply",
        "--app",
        "desktop",
        "--manifest-url",
        &f.server.manifest_url(),
        "--pubkey",
        &f.pubkey(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--binary PATH"), "{}", text(&out));
}

// ------------------------------------------------------- the admin API

mod admin_api {
    use super::*;
    use common::aigw::Aigw;
    use serde_json::{Value, json};

    fn token(f: &Fixture, viewer: bool) -> String {
        let mut cmd = Command::new(AIGW);
        cmd.arg("--data-dir").arg(&f.data).arg("admin-token");
        if viewer {
            cmd.arg("--viewer");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    async fn call(
        http: &reqwest::Client,
        method: reqwest::Method,
        url: String,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = http.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `?manifest_url=` makes the gateway fetch that URL: a viewer gets 403
    /// (the admin API's JSON error) and nothing is fetched, while a viewer's
    /// check against the configured URL still works; an admin's override is
    /// fetched and audited with the URL it named, on check and apply.
    #[tokio::test]
    async fn only_admins_may_override_the_manifest_url_and_it_is_audited() {
        let f = Fixture::new("1.0.0");
        f.publish_version("1.1.0");
        for file in ["/manifest.json", "/manifest.json.sig"] {
            f.server
                .put(&format!("/mirror{file}"), Served::Bytes(f.server.get(file)));
        }
        let mirror = format!("{}/mirror/manifest.json", f.server.url);
        let cfg = f.dir.path().join("config.toml");
        std::fs::write(&cfg, "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
        let (url, key) = (f.server.manifest_url(), f.pubkey());
        let install = f.install.display().to_string();
        let aigw = Aigw::serve_files(
            &cfg,
            &f.data,
            &[
                ("AIGW_UPDATE_URL", url.as_str()),
                ("AIGW_UPDATE_BINARY", install.as_str()),
                ("AIGW_DEV_UPDATE_PUBKEY", key.as_str()),
            ],
        );
        let (admin, viewer) = (token(&f, false), token(&f, true));
        let http = reqwest::Client::new();
        let api = |p: &str| format!("{}/admin/api/update/{p}", aigw.url);
        let check_at = |u: &str| {
            let mut api = reqwest::Url::parse(&api("check")).unwrap();
            api.query_pairs_mut().append_pair("manifest_url", u);
            api.to_string()
        };
        use reqwest::Method;
        let mirrored = |f: &Fixture| {
            f.server
                .requested()
                .iter()
                .filter(|p| p.starts_with("/mirror/"))
                .count()
        };

        let (st, err) = call(&http, Method::GET, check_at(&mirror), &viewer, None).await;
        assert_eq!(st, 403, "{err}");
        assert_eq!(err["error"]["code"], "admin_role_required", "{err}");
        assert_eq!(err["error"]["type"], "permission_error", "{err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("manifest_url"),
            "{err}"
        );
        // nothing at all was fetched: neither the override nor the default
        assert_eq!(f.server.requested(), Vec::<String>::new());

        let (st, check) = call(&http, Method::GET, api("check"), &viewer, None).await;
        assert_eq!(st, 200, "{check}");
        assert_eq!(check["status"]["manifest_url"], url.as_str(), "{check}");

        let (st, check) = call(&http, Method::GET, check_at(&mirror), &admin, None).await;
        assert_eq!(st, 200, "{check}");
        assert_eq!(check["status"]["manifest_url"], mirror.as_str(), "{check}");
        assert_eq!(check["status"]["offered"], "1.1.0", "{check}");
        assert_eq!(mirrored(&f), 2, "{:?}", f.server.requested());

        // apply with another manifest URL: audited too (the archive is not
        // mirrored, so it fails after the manifest; nothing changes).
        let (st, body) = call(
            &http,
            Method::POST,
            api("apply"),
            &admin,
            Some(json!({ "dry_run": true, "manifest_url": mirror })),
        )
        .await;
        assert_eq!(st, 400, "{body}");

        let (_, audit) = call(
            &http,
            Method::GET,
            format!("{}/admin/api/audit", aigw.url),
            &admin,
            None,
        )
        .await;
        let overrides: Vec<&Value> = audit["entries"]
            .as_array()
            .or(audit.as_array())
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "update_manifest_url")
            .collect();
        assert_eq!(overrides.len(), 2, "{audit}");
        for (e, verb) in overrides.iter().zip(["apply", "check"]) {
            assert_eq!(e["actor"], "admin-token", "{e}");
            assert_eq!(e["detail"]["url"], mirror.as_str(), "{e}");
            assert_eq!(e["detail"]["verb"], verb, "{e}");
        }
    }

    /// The operator UI's updater, over HTTP against `aigw serve`: viewers
    /// check, admins install and roll back; a tampered archive changes
    /// nothing; installs and rollbacks are audited.
    #[tokio::test]
    async fn check_install_and_roll_back_over_the_admin_api() {
        let f = Fixture::new("1.0.0");
        let original = std::fs::read(&f.install).unwrap();
        f.publish_version("1.1.0");
        let cfg = f.dir.path().join("config.toml");
        std::fs::write(&cfg, "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
        let url = f.server.manifest_url();
        let key = f.pubkey();
        let install = f.install.display().to_string();
        let aigw = Aigw::serve_files(
            &cfg,
            &f.data,
            &[
                ("AIGW_UPDATE_URL", url.as_str()),
                ("AIGW_UPDATE_BINARY", install.as_str()),
                ("AIGW_DEV_UPDATE_PUBKEY", key.as_str()),
            ],
        );
        let (admin, viewer) = (token(&f, false), token(&f, true));
        let http = reqwest::Client::new();
        let api = |p: &str| format!("{}/admin/api/update/{p}", aigw.url);
        use reqwest::Method;

        let (st, check) = call(&http, Method::GET, api("check"), &viewer, None).await;
        assert_eq!(st, 200, "{check}");
        assert_eq!(check["app"], "aigw");
        assert_eq!(check["restart_supported"], false);
        assert_eq!(check["previous"], Value::Null);
        assert_eq!(check["status"]["action"], "update", "{check}");
        assert_eq!(check["status"]["offered"], "1.1.0");
        assert_eq!(check["status"]["installed"]["version"], "1.0.0");

        let (st, body) = call(&http, Method::POST, api("apply"), &viewer, Some(json!({}))).await;
        assert_eq!(st, 403, "{body}");

        // A body that does not parse is refused, never read as "install".
        let r = http
            .post(api("apply"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(r#"{"dry_run": tru}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let (st, body) = call(
            &http,
            Method::POST,
            api("apply"),
            &admin,
            Some(json!({ "dry_run": true, "typo": 1 })),
        )
        .await;
        assert_eq!(
            (st, body["error"]["code"].as_str()),
            (400, Some("invalid_json")),
            "{body}"
        );
        assert_eq!(std::fs::read(&f.install).unwrap(), original);

        let (st, dry) = call(
            &http,
            Method::POST,
            api("apply"),
            &admin,
            Some(json!({ "dry_run": true })),
        )
        .await;
        assert_eq!(
            (st, dry["outcome"].as_str()),
            (200, Some("dry_run")),
            "{dry}"
        );
        assert_eq!(std::fs::read(&f.install).unwrap(), original);

        // A tampered archive: refused, nothing changed.
        let path = f.archive_path("1.1.0");
        let good = std::fs::read(
            f.dir
                .path()
                .join("releases/1.1.0")
                .join(path.trim_start_matches('/')),
        )
        .unwrap();
        let mut bad = good.clone();
        let n = bad.len();
        bad[n / 2] ^= 0x40;
        f.server.put(&path, Served::Bytes(bad));
        let (st, err) = call(&http, Method::POST, api("apply"), &admin, Some(json!({}))).await;
        assert_eq!(st, 400, "{err}");
        assert_eq!(err["error"]["code"], "update_failed", "{err}");
        let msg = err["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with("nothing was changed"), "{msg}");
        assert_eq!(std::fs::read(&f.install).unwrap(), original);

        f.server.put(&path, Served::Bytes(good));
        let (st, done) = call(&http, Method::POST, api("apply"), &admin, Some(json!({}))).await;
        assert_eq!(st, 200, "{done}");
        assert_eq!(done["outcome"], "updated");
        assert_eq!(done["to"], "1.1.0");
        assert_eq!(done["restart_needed"], true);
        assert_eq!(f.installed_version(), "aigw 1.1.0");

        let (_, check) = call(&http, Method::GET, api("check"), &viewer, None).await;
        assert_eq!(check["status"]["action"], "up_to_date", "{check}");
        assert_eq!(check["previous"]["version"], "1.0.0", "{check}");

        // The release server down: the check fails, but says what a
        // rollback would restore.
        f.server.remove("/manifest.json");
        let (st, err) = call(&http, Method::GET, api("check"), &viewer, None).await;
        assert_eq!(st, 400, "{err}");
        assert_eq!(err["error"]["code"], "update_check_failed", "{err}");
        assert_eq!(err["previous"]["version"], "1.0.0", "{err}");
        assert_eq!(err["app"], "aigw", "{err}");

        let (st, back) = call(&http, Method::POST, api("rollback"), &admin, None).await;
        assert_eq!(st, 200, "{back}");
        assert_eq!(back["restored"], "1.0.0");
        assert_eq!(std::fs::read(&f.install).unwrap(), original);

        let (_, audit) = call(
            &http,
            Method::GET,
            format!("{}/admin/api/audit", aigw.url),
            &viewer,
            None,
        )
        .await;
        let actions: Vec<&str> = audit["entries"]
            .as_array()
            .or(audit.as_array())
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert!(actions.contains(&"update_apply"), "{audit}");
        assert!(actions.contains(&"update_rollback"), "{audit}");
    }
}
