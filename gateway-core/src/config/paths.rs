use std::path::{Path, PathBuf};

/// The embedded first-run config: listens on `127.0.0.1:4000`, no providers.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// Where the config file and the data dir (SQLite, logs) live.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// OS defaults (`directories`), overridden by explicit values (flags or
    /// `AIGW_CONFIG` / `AIGW_DATA_DIR`, which clap resolves before this).
    pub fn resolve(config: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let dirs = directories::ProjectDirs::from("dev", "aigw", "aigw");
        let config_file = match config {
            Some(p) => p,
            None => dirs
                .as_ref()
                .map(|d| d.config_dir().join("config.toml"))
                .ok_or_else(|| {
                    anyhow::anyhow!("no home directory found: pass --config or set AIGW_CONFIG")
                })?,
        };
        let data_dir = match data_dir {
            Some(p) => p,
            None => dirs
                .as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .ok_or_else(|| {
                    anyhow::anyhow!("no home directory found: pass --data-dir or set AIGW_DATA_DIR")
                })?,
        };
        Ok(Self {
            config_file,
            data_dir,
        })
    }
}

/// Creates `path` from the embedded default when it does not exist yet.
/// Returns true when it wrote the file.
pub fn ensure_config_file(path: &Path) -> std::io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // Owner-only, like every config file a publish writes.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = match opts.open(path) {
        Ok(f) => f,
        // Another aigw starting at the same moment wrote it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    std::io::Write::write_all(&mut f, DEFAULT_CONFIG.as_bytes())?;
    f.sync_all()?;
    Ok(true)
}
