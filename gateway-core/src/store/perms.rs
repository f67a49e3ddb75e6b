//! Owner-only permissions for what aigw keeps on disk. The data dir is 0700
//! and every file in it 0600: the request log may hold prompts
//! (`telemetry.store_bodies`), the token file holds the admin tokens.
//! Files are created owner-only before a library (SQLite creates 0644) gets
//! to create them, and ones left too open by an older version are
//! tightened. Nothing happens off Unix.

use std::io;
use std::path::Path;

/// What aigw keeps in its data dir. An existing dir holding one of these (or
/// nothing at all) is an aigw data dir, ours to tighten; any other dir
/// (`--data-dir $HOME`, a shared dir) is only warned about.
#[cfg(unix)]
const OURS: &[&str] = &[
    "config.db",
    "telemetry.db",
    "bench.db",
    "admin-tokens.json",
    "keys.json",
    "updates",
];

/// Creates `dir` 0700 (its parents with the default mode), or tightens an
/// existing aigw data dir that others can read to 0700.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::metadata(dir) {
            Ok(m) => return tighten_dir(dir, &m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => set_mode(dir, 0o700),
            // Created meanwhile (another aigw starting): check it like any.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                tighten_dir(dir, &std::fs::metadata(dir)?)
            }
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn tighten_dir(dir: &Path, m: &std::fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !m.is_dir() {
        return Err(io::Error::other(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let mode = m.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    // Sticky (`/tmp`) or not recognisably ours: leave it, but say so.
    if mode & 0o1000 != 0 || !is_data_dir(dir) {
        tracing::warn!(
            "data dir {} is open to other users (mode {mode:04o}); aigw leaves a dir it does not recognise as its own alone: chmod 700 it",
            dir.display()
        );
        return Ok(());
    }
    match set_mode(dir, 0o700) {
        Ok(()) => {
            tracing::info!("data dir {} was mode {mode:04o}: now 0700", dir.display());
            Ok(())
        }
        // Someone else's dir: we cannot fix it, and can still use it.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            tracing::warn!(
                "data dir {} is open to other users (mode {mode:04o}) and not ours to change: {e}",
                dir.display()
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn is_data_dir(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut empty = true;
    for e in entries.flatten() {
        empty = false;
        if OURS.iter().any(|n| e.file_name() == *n) {
            return true;
        }
    }
    empty
}

/// Creates `path` as an empty owner-only file if it is missing (so that
/// whatever opens it next keeps that mode), or tightens it to 0600.
pub fn private_file(path: &Path) -> io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts.open(path)?;
    #[cfg(unix)]
    tighten(&file, path)?;
    #[cfg(not(unix))]
    drop(file);
    Ok(())
}

/// Tightens `path` to 0600 if it exists (a missing file is fine).
pub fn tighten_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    match std::fs::File::open(path) {
        Ok(f) => tighten(&f, path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Prepares an SQLite database at `path`: the file is created 0600 before
/// SQLite opens it (its `-wal` and `-shm` files take the database file's
/// mode), and an existing database and its `-wal`/`-shm` are tightened.
pub fn private_sqlite(path: &Path) -> io::Result<()> {
    private_file(path)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        tighten_file(Path::new(&p))?;
    }
    Ok(())
}

#[cfg(unix)]
fn tighten(file: &std::fs::File, path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    match file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            tracing::warn!(
                "{} is open to other users (mode {mode:04o}) and not ours to change: {e}",
                path.display()
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn new_dirs_and_files_are_owner_only() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a/b/data");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("x.db");
        private_sqlite(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 0);
    }

    #[test]
    fn an_open_data_dir_and_its_files_are_tightened() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o755).unwrap();
        let db = dir.join("telemetry.db");
        std::fs::write(&db, b"").unwrap();
        set_mode(&db, 0o644).unwrap();
        let wal = dir.join("telemetry.db-wal");
        std::fs::write(&wal, b"").unwrap();
        set_mode(&wal, 0o664).unwrap();
        private_dir(&dir).unwrap();
        private_sqlite(&db).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&wal), 0o600);
        // an empty dir is ours too
        let empty = t.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        set_mode(&empty, 0o755).unwrap();
        private_dir(&empty).unwrap();
        assert_eq!(mode(&empty), 0o700);
    }

    #[test]
    fn a_dir_that_is_not_a_data_dir_is_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        std::fs::create_dir(&home).unwrap();
        std::fs::write(home.join(".bashrc"), b"").unwrap();
        set_mode(&home, 0o755).unwrap();
        private_dir(&home).unwrap();
        assert_eq!(mode(&home), 0o755);
        let shared = t.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        set_mode(&shared, 0o1777).unwrap();
        private_dir(&shared).unwrap();
        assert_eq!(mode(&shared), 0o1777);
    }
}
