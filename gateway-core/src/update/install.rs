//! File-level steps of an update: ask a binary its version, stage a new
//! binary beside the one it replaces, swap it in with one atomic rename, and
//! keep the replaced binary for rollback.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use semver::Version;
use serde::{Deserialize, Serialize};
use tempfile::TempPath;

use super::App;
use super::error::{Result, UpdateError};
use super::manifest::parse_version;
use super::verify::sha256_hex;

/// How long `BINARY --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `path --version` and parses `aigw X.Y.Z` from its first line.
pub fn binary_version(path: &Path, app: App) -> Result<Version> {
    let fail = |reason: String| UpdateError::UnknownVersion {
        path: path.to_path_buf(),
        reason,
    };
    let mut child = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    let deadline = Instant::now() + VERSION_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "no answer within {}s",
                    VERSION_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut out)
            .map_err(|e| fail(e.to_string()))?;
    }
    if !status.success() {
        return Err(fail(format!("it exited with {status}")));
    }
    let line = out.lines().next().unwrap_or_default();
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        [name, v] if *name == app.name() => {
            parse_version(v, "reported version").map_err(|e| fail(e.to_string()))
        }
        _ => Err(fail(format!("it printed {line:?}, not \"{app} VERSION\""))),
    }
}

/// The running executable's path, canonical. On Linux, once an update has
/// renamed a new file over it, `/proc/self/exe` reads `PATH (deleted)`: the
/// path is still where the (new) program is installed, so the suffix goes.
pub fn running_exe() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    #[cfg(target_os = "linux")]
    if let Some(name) = exe.file_name().and_then(|n| n.to_str())
        && let Some(live) = name.strip_suffix(" (deleted)")
    {
        return exe.with_file_name(live).canonicalize();
    }
    exe.canonicalize()
}

/// Copies `source` into a hidden temp file in `dest`'s directory (same file
/// system, so the final rename is atomic) with `dest`'s permissions, synced to
/// disk. The file is deleted when the returned path is dropped unpersisted.
pub fn stage_beside(dest: &Path, source: &Path) -> Result<TempPath> {
    let dir = parent(dest);
    let ctx = || format!("stage the new binary in {}", dir.display());
    let mut staged = tempfile::Builder::new()
        .prefix(".aigw-update-")
        .tempfile_in(dir)
        .map_err(|e| UpdateError::io(ctx(), e))?;
    let mut src = std::fs::File::open(source).map_err(|e| UpdateError::io(ctx(), e))?;
    std::io::copy(&mut src, staged.as_file_mut()).map_err(|e| UpdateError::io(ctx(), e))?;
    let perms = match std::fs::metadata(dest) {
        Ok(m) => m.permissions(),
        Err(_) => fresh_permissions(&src).map_err(|e| UpdateError::io(ctx(), e))?,
    };
    staged
        .as_file()
        .set_permissions(perms)
        .map_err(|e| UpdateError::io(ctx(), e))?;
    staged
        .as_file()
        .sync_all()
        .map_err(|e| UpdateError::io(ctx(), e))?;
    // Closing the write handle now: executing a file open for writing fails (ETXTBSY).
    Ok(staged.into_temp_path())
}

/// Puts `staged` in place of `dest` with one atomic rename; on Unix the
/// running executable is replaced through `self_replace`. On Windows, where a
/// running `.exe` (this one, or a gateway still serving from it) cannot be
/// overwritten, both go through [`swap_aside`].
pub fn swap_in(staged: TempPath, dest: &Path, is_self: bool) -> Result<()> {
    let ctx = || format!("replace {}", dest.display());
    if cfg!(windows) {
        swap_aside(staged, dest).map_err(|e| UpdateError::io(ctx(), e))?;
    } else if is_self {
        self_replace::self_replace(&staged).map_err(|e| UpdateError::io(ctx(), e))?;
        drop(staged);
    } else {
        staged
            .persist(dest)
            .map_err(|e| UpdateError::io(ctx(), e.error))?;
    }
    sync_dir(parent(dest));
    Ok(())
}

/// Windows' replace: a running `.exe` cannot be overwritten or deleted, but
/// it can be renamed. `dest` is renamed aside (`.NAME.old-PID-NANOS` in its
/// directory), then `staged` renamed into its place; if that fails, `dest` is
/// renamed back. The aside file is deleted when it can be; while it still
/// runs it cannot, and the next swap in that directory removes it
/// ([`sweep_aside`]). Compiled everywhere so its tests run on Linux.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn swap_aside(staged: TempPath, dest: &Path) -> std::io::Result<()> {
    sweep_aside(dest);
    let aside = aside_path(dest);
    let had = match std::fs::rename(dest, &aside) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    if let Err(e) = staged.persist(dest) {
        if had {
            let _ = std::fs::rename(&aside, dest);
        }
        return Err(e.error);
    }
    if had {
        let _ = std::fs::remove_file(&aside);
    }
    Ok(())
}

fn aside_prefix(dest: &Path) -> String {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.old-")
}

fn aside_path(dest: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    parent(dest).join(format!(
        "{}{}-{nanos}",
        aside_prefix(dest),
        std::process::id()
    ))
}

/// Removes what earlier [`swap_aside`]s left beside `dest` (best effort: one
/// still running stays until a later swap).
fn sweep_aside(dest: &Path) {
    let prefix = aside_prefix(dest);
    let Ok(entries) = std::fs::read_dir(parent(dest)) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Permissions for a binary that has no predecessor: the source's, executable.
fn fresh_permissions(src: &std::fs::File) -> std::io::Result<std::fs::Permissions> {
    #[allow(unused_mut)]
    let mut perms = src.metadata()?.permissions();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        perms.set_mode(0o755);
    }
    Ok(perms)
}

/// Makes a rename durable (best effort; a no-op where directories cannot be opened).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// What is recorded next to the kept previous binary.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, ts(rename = "UpdatePrevious"))]
pub struct PreviousMeta {
    /// Version the kept binary reported.
    pub version: String,
    /// SHA-256 of the kept binary, checked before it is restored.
    pub sha256: String,
    /// Where it was installed (and where rollback puts it back).
    pub binary: PathBuf,
    /// The version that replaced it.
    pub replaced_by: String,
    /// When it was kept (RFC 3339 UTC).
    pub saved_at: String,
}

/// `<data_dir>/updates/previous/`: the binary the last update (or rollback)
/// replaced, and its [`PreviousMeta`] in `previous.json`.
#[derive(Clone, Debug)]
pub struct PreviousSlot {
    dir: PathBuf,
    app: App,
}

impl PreviousSlot {
    /// `updates/previous/` for `aigw`, `updates/previous-desktop/` for the
    /// desktop app: updating one never drops the other's kept version.
    pub fn new(data_dir: &Path, app: App) -> Self {
        let name = match app {
            App::Gateway => "previous",
            App::Desktop => "previous-desktop",
        };
        Self {
            dir: data_dir.join("updates").join(name),
            app,
        }
    }

    pub fn binary_path(&self) -> PathBuf {
        self.dir.join(format!(
            "{}{}",
            self.app.name(),
            std::env::consts::EXE_SUFFIX
        ))
    }

    /// The record of the kept binary, if there is one (its bytes are checked
    /// only by [`Self::load`]).
    pub fn meta(&self) -> Option<PreviousMeta> {
        let text = std::fs::read(self.meta_path()).ok()?;
        serde_json::from_slice(&text).ok()
    }

    fn meta_path(&self) -> PathBuf {
        self.dir.join("previous.json")
    }

    /// Copies `installed` into the slot (temp file + rename) and records `meta`.
    pub fn save(&self, installed: &Path, meta: &PreviousMeta) -> Result<()> {
        let ctx = || format!("keep the current binary in {}", self.dir.display());
        std::fs::create_dir_all(&self.dir).map_err(|e| UpdateError::io(ctx(), e))?;
        let staged = stage_beside(&self.binary_path(), installed)?;
        staged
            .persist(self.binary_path())
            .map_err(|e| UpdateError::io(ctx(), e.error))?;
        let json = serde_json::to_vec_pretty(meta)
            .map_err(|e| UpdateError::io(ctx(), std::io::Error::other(e)))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| UpdateError::io(ctx(), e))?;
        std::io::Write::write_all(&mut tmp, &json).map_err(|e| UpdateError::io(ctx(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| UpdateError::io(ctx(), e))?;
        tmp.persist(self.meta_path())
            .map_err(|e| UpdateError::io(ctx(), e.error))?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// The kept binary and its record, after checking its SHA-256.
    pub fn load(&self) -> Result<(PathBuf, PreviousMeta)> {
        let meta_path = self.meta_path();
        let bin = self.binary_path();
        if !meta_path.exists() || !bin.exists() {
            return Err(UpdateError::NoPrevious { path: bin });
        }
        let ctx = |p: &Path| format!("read {}", p.display());
        let text = std::fs::read(&meta_path).map_err(|e| UpdateError::io(ctx(&meta_path), e))?;
        let meta: PreviousMeta = serde_json::from_slice(&text)
            .map_err(|e| UpdateError::io(ctx(&meta_path), std::io::Error::other(e)))?;
        let bytes = std::fs::read(&bin).map_err(|e| UpdateError::io(ctx(&bin), e))?;
        let got = sha256_hex(&bytes);
        if got != meta.sha256 {
            return Err(UpdateError::PreviousAltered {
                path: bin,
                expected: meta.sha256,
                got,
            });
        }
        Ok((bin, meta))
    }
}

/// Whether dpkg installed `path` (as part of the `aigw` package, the desktop
/// app's, or any other): such files are updated by installing the package.
pub fn dpkg_owned(path: &Path) -> bool {
    let Ok(dir) = std::fs::read_dir("/var/lib/dpkg/info") else {
        return false;
    };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "list"))
        .any(|list| listed_in(&list, path))
}

fn listed_in(list: &Path, path: &Path) -> bool {
    std::fs::read_to_string(list)
        .map(|s| s.lines().any(|l| Path::new(l) == path))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn script(path: &Path, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn versions_are_read_from_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok");
        script(&ok, "echo 'aigw 1.4.2'");
        assert_eq!(
            binary_version(&ok, App::Gateway).unwrap(),
            Version::new(1, 4, 2)
        );
        let other = dir.path().join("other");
        script(&other, "echo 'bash 5.2'");
        assert!(binary_version(&other, App::Gateway).is_err());
        let failing = dir.path().join("failing");
        script(&failing, "exit 3");
        assert!(binary_version(&failing, App::Gateway).is_err());
        assert!(binary_version(&dir.path().join("missing"), App::Gateway).is_err());
        let desktop = dir.path().join("desktop");
        script(&desktop, "echo 'aigw-desktop 1.4.3'");
        assert_eq!(
            binary_version(&desktop, App::Desktop).unwrap(),
            Version::new(1, 4, 3)
        );
        assert!(binary_version(&desktop, App::Gateway).is_err());
        assert!(binary_version(&ok, App::Desktop).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn staging_keeps_permissions_and_swapping_is_one_rename() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("aigw");
        script(&dest, "echo 'aigw 1.0.0'");
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o750)).unwrap();
        let new = dir.path().join("new");
        std::fs::write(&new, "#!/bin/sh\necho 'aigw 2.0.0'\n").unwrap();
        let staged = stage_beside(&dest, &new).unwrap();
        let staged_path = staged.to_path_buf();
        assert_eq!(staged_path.parent(), dest.parent());
        let mode = std::fs::metadata(&staged_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o750);
        assert_eq!(
            binary_version(&staged_path, App::Gateway).unwrap(),
            Version::new(2, 0, 0)
        );
        swap_in(staged, &dest, false).unwrap();
        assert!(!staged_path.exists());
        assert_eq!(
            binary_version(&dest, App::Gateway).unwrap(),
            Version::new(2, 0, 0)
        );
    }

    #[test]
    fn a_dropped_stage_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("aigw");
        std::fs::write(&dest, b"old").unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"new").unwrap();
        drop(stage_beside(&dest, &src).unwrap());
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["aigw", "src"]);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn swapping_aside_replaces_and_sweeps_what_earlier_swaps_left() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("aigw.exe");
        std::fs::write(&dest, b"old").unwrap();
        // Left by an earlier swap whose old binary was still running.
        std::fs::write(dir.path().join(".aigw.exe.old-1-2"), b"older").unwrap();
        std::fs::write(dir.path().join("other.exe"), b"other").unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"new").unwrap();
        let staged = stage_beside(&dest, &src).unwrap();
        swap_aside(staged, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert_eq!(names_in(dir.path()), ["aigw.exe", "other.exe", "src"]);
        // A first install: nothing to move aside.
        let fresh = dir.path().join("fresh.exe");
        swap_aside(stage_beside(&fresh, &src).unwrap(), &fresh).unwrap();
        assert_eq!(std::fs::read(&fresh).unwrap(), b"new");
    }

    #[test]
    fn a_failed_swap_aside_puts_the_old_binary_back() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("aigw.exe");
        std::fs::write(&dest, b"old").unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"new").unwrap();
        let staged = stage_beside(&dest, &src).unwrap();
        // The rename into place fails: the staged file is gone.
        std::fs::remove_file(&staged).unwrap();
        assert!(swap_aside(staged, &dest).is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert_eq!(names_in(dir.path()), ["aigw.exe", "src"]);
    }

    #[test]
    fn the_previous_slot_detects_alteration() {
        let dir = tempfile::tempdir().unwrap();
        let slot = PreviousSlot::new(dir.path(), App::Gateway);
        assert!(matches!(slot.load(), Err(UpdateError::NoPrevious { .. })));
        let bin = dir.path().join("aigw");
        std::fs::write(&bin, b"old binary").unwrap();
        let meta = PreviousMeta {
            version: "1.0.0".into(),
            sha256: sha256_hex(b"old binary"),
            binary: bin.clone(),
            replaced_by: "1.1.0".into(),
            saved_at: "2026-11-25T13:00:00Z".into(),
        };
        slot.save(&bin, &meta).unwrap();
        let (kept, loaded) = slot.load().unwrap();
        assert_eq!(loaded, meta);
        assert_eq!(std::fs::read(&kept).unwrap(), b"old binary");
        std::fs::write(&kept, b"evil").unwrap();
        assert!(matches!(
            slot.load(),
            Err(UpdateError::PreviousAltered { .. })
        ));
    }

    #[test]
    fn dpkg_lists_are_matched_by_exact_path() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("aigw.list");
        std::fs::write(&list, "/.\n/usr\n/usr/bin\n/usr/bin/aigw\n").unwrap();
        assert!(listed_in(&list, Path::new("/usr/bin/aigw")));
        assert!(!listed_in(&list, Path::new("/usr/local/bin/aigw")));
        assert!(!listed_in(
            &dir.path().join("missing"),
            Path::new("/usr/bin/aigw")
        ));
    }
}
