//! Per tool, under `<state_dir>/<tool>/`: `state.json` (the file we
//! edited, whether it existed, the sha256 of the bytes we wrote, the keys
//! we own) and `original` (its bytes before the first change). Atomic
//! writes: a temp file in the same dir, fsync, rename, fsync of the dir.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ClientError, MAX_FILE, Tool};

/// Whether the file existed before the first connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Original {
    /// Its bytes are in `original` next to the state file.
    Saved,
    Absent,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backup {
    pub tool: String,
    pub path: PathBuf,
    pub original: Original,
    /// Unix mode of the original, restored with it.
    pub original_mode: Option<u32>,
    pub original_sha256: Option<String>,
    pub written_sha256: String,
    /// The tool dir connect created (removed on disconnect when empty).
    pub created_dir: Option<PathBuf>,
    /// Dotted key paths connect set or removed.
    pub touched: Vec<String>,
}

impl Backup {
    pub fn new(
        tool: Tool,
        path: PathBuf,
        original: Option<&[u8]>,
        original_mode: Option<u32>,
        written_sha256: String,
        created_dir: Option<PathBuf>,
        touched: Vec<String>,
    ) -> Self {
        Self {
            tool: tool.name().into(),
            path,
            original: if original.is_some() {
                Original::Saved
            } else {
                Original::Absent
            },
            original_mode,
            original_sha256: original.map(sha256_hex),
            written_sha256,
            created_dir,
            touched,
        }
    }
}

pub fn dir_of(state_dir: &Path, tool: Tool) -> PathBuf {
    state_dir.join(tool.name())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The file's bytes, `None` when it does not exist; bounded.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, ClientError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ClientError::io(path, e)),
    };
    let mut out = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut out)
        .map_err(|e| ClientError::io(path, e))?;
    if out.len() as u64 > MAX_FILE {
        return Err(ClientError::unsupported(
            path,
            format!("larger than {} MiB; not edited", MAX_FILE >> 20),
        ));
    }
    Ok(Some(out))
}

pub fn load(state_dir: &Path, tool: Tool) -> Result<Option<Backup>, ClientError> {
    let path = dir_of(state_dir, tool).join("state.json");
    let Some(bytes) = read(&path)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ClientError::unsupported(&path, format!("unreadable aigw state: {e}")))
}

/// The original bytes (`None`: the file did not exist), checked against
/// the hash taken when they were saved.
pub fn load_original(
    state_dir: &Path,
    tool: Tool,
    b: &Backup,
) -> Result<Option<Vec<u8>>, ClientError> {
    if b.original == Original::Absent {
        return Ok(None);
    }
    let path = dir_of(state_dir, tool).join("original");
    let bytes = read(&path)?.ok_or_else(|| {
        ClientError::unsupported(&path, "the backup of the original file is missing")
    })?;
    if b.original_sha256.as_deref() != Some(sha256_hex(&bytes).as_str()) {
        return Err(ClientError::unsupported(
            &path,
            "the backup does not match its recorded sha256; not restored",
        ));
    }
    Ok(Some(bytes))
}

/// Writes the state (and, the first time, the original's bytes).
pub fn save(
    state_dir: &Path,
    tool: Tool,
    b: &Backup,
    original: Option<&Option<Vec<u8>>>,
) -> Result<(), ClientError> {
    let dir = dir_of(state_dir, tool);
    crate::store::perms::private_dir(state_dir).map_err(|e| ClientError::io(state_dir, e))?;
    crate::store::perms::private_dir(&dir).map_err(|e| ClientError::io(&dir, e))?;
    if let Some(Some(bytes)) = original {
        let p = dir.join("original");
        write_atomic(&p, bytes, 0o600).map_err(|e| ClientError::io(&p, e))?;
    }
    let p = dir.join("state.json");
    let json = serde_json::to_vec_pretty(b).map_err(|e| ClientError::Invalid(e.to_string()))?;
    write_atomic(&p, &json, 0o600).map_err(|e| ClientError::io(&p, e))
}

/// Drops the tool's state after a disconnect.
pub fn forget(state_dir: &Path, tool: Tool) -> Result<(), ClientError> {
    let dir = dir_of(state_dir, tool);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ClientError::io(&dir, e)),
    }
}

#[cfg(unix)]
pub fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
pub fn mode_of(_path: &Path) -> Option<u32> {
    None
}

/// Creates `dir` (and missing parents) owner-only; returns the topmost
/// dir it created.
pub fn create_private_dir(dir: &Path) -> Result<PathBuf, ClientError> {
    let mut top = dir.to_path_buf();
    while let Some(parent) = top.parent() {
        if parent.exists() {
            break;
        }
        top = parent.to_path_buf();
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(|e| ClientError::io(dir, e))?;
    Ok(top)
}

/// Temp file in the same dir, fsync, rename over `path`, fsync the dir.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("no parent dir"))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("no file name"))?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.aigw-{:016x}.tmp", rand::random::<u64>()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        #[cfg(unix)]
        {
            // the umask may have narrowed it; say exactly
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
