//! Replacing the config file so that every failure leaves the old one in
//! place. A publish stages the new text in a temp file beside the config
//! file (same dir: the rename is atomic) and syncs it — on a full disk this
//! is what fails, before anything changed. Then, with the version still
//! uncommitted, the staged file is renamed over the config file and the dir
//! synced; the old file stays reachable under a hard link until the store
//! has committed, so undoing needs no free space: a rename back.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The new text on disk beside the config file, not yet in its place.
/// Dropped, it removes the temp file.
#[derive(Debug)]
pub(super) struct Staged {
    path: PathBuf,
    /// `None` once renamed into place.
    tmp: Option<PathBuf>,
}

/// The new file in place, the old one kept until [`Installed::keep`] or
/// [`Installed::undo`]. Dropped, it keeps the new file.
#[derive(Debug)]
pub(super) struct Installed {
    path: PathBuf,
    old: Old,
}

#[derive(Debug)]
enum Old {
    /// There was no file.
    None,
    /// A hard link to the old file.
    Link(PathBuf),
    /// The old bytes (where the filesystem has no hard links).
    Bytes(Vec<u8>),
    /// Already kept or undone.
    Done,
}

/// `dir/.NAME.SUFFIX` beside `path`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".to_string());
    path.with_file_name(format!(".{name}.{suffix}"))
}

fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

impl Staged {
    /// Writes `text` beside `path` with `path`'s mode and owner (0600 for a
    /// new file) and syncs it to disk. A symlinked config file stays a
    /// symlink: its target is what gets replaced.
    pub(super) fn write(path: &Path, text: &[u8]) -> io::Result<Staged> {
        let path = &std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let tmp = beside(path, "aigw-new");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        // From here on, an error drops `staged`, which removes the temp file.
        let staged = Staged {
            path: path.to_path_buf(),
            tmp: Some(tmp),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let (mode, owner) = match std::fs::metadata(path) {
                Ok(m) => (m.permissions().mode() & 0o7777, Some((m.uid(), m.gid()))),
                Err(_) => (0o600, None),
            };
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
            let mine = f.metadata()?;
            if let Some((uid, gid)) = owner
                && (uid, gid) != (mine.uid(), mine.gid())
            {
                // Only root may give a file away; others keep their own.
                let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
            }
        }
        f.write_all(text)?;
        f.sync_all()?;
        Ok(staged)
    }

    /// Renames the staged file over the config file and syncs the dir. On
    /// an error the old file is back in place.
    pub(super) fn install(mut self) -> io::Result<Installed> {
        let path = self.path.clone();
        let Some(tmp) = self.tmp.clone() else {
            return Err(io::Error::other("staged file already installed"));
        };
        let old = match std::fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Old::None,
            Err(e) => return Err(e),
            Ok(_) => {
                let link = beside(&path, "aigw-old");
                let _ = std::fs::remove_file(&link);
                match std::fs::hard_link(&path, &link) {
                    Ok(()) => Old::Link(link),
                    Err(_) => Old::Bytes(std::fs::read(&path)?),
                }
            }
        };
        let mut installed = Installed { path, old };
        if let Err(e) = std::fs::rename(&tmp, &installed.path) {
            installed.forget();
            return Err(e);
        }
        // The temp path is the config file now: not ours to remove.
        self.tmp = None;
        if let Err(e) = sync_dir(&installed.path) {
            installed.undo();
            return Err(e);
        }
        Ok(installed)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = &self.tmp {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

impl Installed {
    /// The new file stays: the old one's link is removed.
    pub(super) fn keep(mut self) {
        self.forget();
    }

    fn forget(&mut self) {
        if let Old::Link(link) = std::mem::replace(&mut self.old, Old::Done)
            && let Err(e) = std::fs::remove_file(&link)
        {
            tracing::warn!("cannot remove {}: {e}", link.display());
        }
    }

    /// Puts the old file back (or removes the new one if there was none).
    pub(super) fn undo(mut self) {
        let path = &self.path;
        let res = match std::mem::replace(&mut self.old, Old::Done) {
            Old::Done => return,
            Old::None => std::fs::remove_file(path),
            Old::Link(link) => std::fs::rename(&link, path),
            Old::Bytes(bytes) => Staged::write(path, &bytes)
                .and_then(Staged::install)
                .map(Installed::keep),
        }
        .and_then(|()| sync_dir(path));
        if let Err(e) = res {
            tracing::error!(
                "cannot restore the previous config file {}: {e}",
                path.display()
            );
        }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        self.forget();
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replace_keeps_the_mode_and_undo_restores_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

        let installed = Staged::write(&path, b"new").unwrap().install().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o640);
        installed.undo();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(mode(&path), 0o640);
        assert_eq!(names(dir.path()), ["config.toml"]);

        Staged::write(&path, b"newer")
            .unwrap()
            .install()
            .unwrap()
            .keep();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "newer");
        assert_eq!(mode(&path), 0o640);
        assert_eq!(names(dir.path()), ["config.toml"]);

        // staged but never installed: the file is untouched, no temp left
        drop(Staged::write(&path, b"dropped").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "newer");
        assert_eq!(names(dir.path()), ["config.toml"]);
    }

    #[test]
    fn a_symlinked_config_file_stays_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        let link = dir.path().join("config.toml");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        Staged::write(&link, b"new")
            .unwrap()
            .install()
            .unwrap()
            .keep();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        assert_eq!(names(dir.path()), ["config.toml", "real.toml"]);
    }

    #[test]
    fn a_new_file_is_owner_only_and_undo_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let installed = Staged::write(&path, b"x").unwrap().install().unwrap();
        assert_eq!(mode(&path), 0o600);
        installed.undo();
        assert!(names(dir.path()).is_empty());
    }
}
