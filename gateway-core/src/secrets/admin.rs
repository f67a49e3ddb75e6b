//! The admin API's bearer tokens: `admin` (read and write) and `viewer`
//! (read only). 256 random bits each, created on first run and kept in the
//! OS keychain (service [`ADMIN_SERVICE`]); where no keychain is reachable,
//! in a 0600 file in the data dir, with a warning.
//!
//! Named admin tokens (`aigw admin-token --name alice`) are admin tokens
//! whose audit rows carry the name as actor. They live where the two main
//! tokens live (keychain entries `admin-token.NAME`, their names listed in
//! `admin-token-names.json` in the data dir; or the `named` map of
//! `admin-tokens.json`); a running gateway reads new ones when a token it
//! does not know arrives and that list changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rand::RngCore;

use crate::sync::LockExt;

use super::Secret;

pub const ADMIN_SERVICE: &str = "ai-model-gateway-admin";

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
}

/// Where the tokens live.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStorage {
    Keychain,
    File(PathBuf),
    /// Given by the host (tests, the desktop app) or ephemeral.
    Memory,
}

#[derive(Debug, Clone)]
pub struct AdminTokens {
    pub admin: Secret,
    pub viewer: Secret,
    pub storage: TokenStorage,
    /// Named admin tokens (shared by clones).
    pub named: Arc<NamedTokens>,
}

/// At most this many named tokens per data dir.
pub const MAX_NAMED: usize = 100;
const NAMES_FILE: &str = "admin-token-names.json";

/// The named admin tokens and where to reload them from.
#[derive(Debug, Default)]
pub struct NamedTokens {
    list: RwLock<Vec<(String, Secret)>>,
    /// The data dir to reload from (none for tokens held in memory).
    dir: Option<PathBuf>,
    /// The modification time of the list when last read.
    stamp: Mutex<Option<SystemTime>>,
}

impl NamedTokens {
    fn loaded(dir: &Path, storage: &TokenStorage) -> Self {
        let n = Self {
            dir: Some(dir.to_path_buf()),
            ..Self::default()
        };
        n.reload(storage);
        n
    }

    fn list_path(dir: &Path, storage: &TokenStorage) -> PathBuf {
        match storage {
            TokenStorage::File(p) => p.clone(),
            _ => dir.join(NAMES_FILE),
        }
    }

    /// Re-reads the tokens when their list changed since the last read.
    fn reload(&self, storage: &TokenStorage) {
        let Some(dir) = &self.dir else { return };
        let path = Self::list_path(dir, storage);
        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        {
            let mut stamp = self.stamp.lock_or_recover();
            if mtime.is_none() || *stamp == mtime {
                return;
            }
            *stamp = mtime;
        }
        let list = read_named(dir, storage);
        *self.list.write().unwrap_or_else(|e| e.into_inner()) = list;
    }

    fn find(&self, token: &str) -> Option<String> {
        let list = self.list.read().unwrap_or_else(|e| e.into_inner());
        // every entry compared, constant-time each
        let mut found = None;
        for (name, secret) in list.iter() {
            if secret.ct_eq(token.as_bytes()) {
                found = Some(name.clone());
            }
        }
        found
    }

    /// The names, sorted.
    pub fn names(&self) -> Vec<String> {
        let list = self.list.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = list.iter().map(|(n, _)| n.clone()).collect();
        v.sort();
        v
    }

    /// Adds a named token held in memory only (tests, hosts).
    pub fn add_in_memory(&self, name: &str) -> Secret {
        let t = Secret::new(generate("aigw_admin_"));
        self.list
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.to_string(), t.clone()));
        t
    }
}

/// Names: 1 to 64 of `a-z A-Z 0-9 . _ -`, not `admin`/`viewer`/`unknown`/`aigw`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !["admin", "viewer", "unknown", "aigw", "local"].contains(&name)
        && !name.starts_with("session:")
        && !name.ends_with("-token");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid token name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-' (not admin, viewer, unknown, aigw or local)"
        ))
    }
}

fn read_names(dir: &Path) -> Vec<String> {
    std::fs::read(dir.join(NAMES_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn read_named(dir: &Path, storage: &TokenStorage) -> Vec<(String, Secret)> {
    match storage {
        TokenStorage::File(p) => std::fs::read(p)
            .ok()
            .and_then(|b| serde_json::from_slice::<FileTokens>(&b).ok())
            .map(|f| {
                f.named
                    .into_iter()
                    .map(|(n, t)| (n, Secret::new(t)))
                    .collect()
            })
            .unwrap_or_default(),
        TokenStorage::Keychain => read_names(dir)
            .into_iter()
            .take(MAX_NAMED)
            .filter_map(|n| {
                let e = keyring::Entry::new(
                    ADMIN_SERVICE,
                    &entry_name(&format!("admin-token.{n}"), dir),
                )
                .ok()?;
                Some((n, Secret::new(e.get_password().ok()?)))
            })
            .collect(),
        TokenStorage::Memory => Vec::new(),
    }
}

/// Writes `bytes` to `path`, 0600.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path)?;
    std::io::Write::write_all(&mut file, bytes)
}

fn generate(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}

impl AdminTokens {
    /// Fresh tokens held only in memory.
    pub fn ephemeral() -> Self {
        Self {
            admin: Secret::new(generate("aigw_admin_")),
            viewer: Secret::new(generate("aigw_viewer_")),
            storage: TokenStorage::Memory,
            named: Arc::default(),
        }
    }

    /// The role and, for a named token, the name of a presented token.
    /// An unknown token rereads the named tokens when their list changed.
    pub fn identify(&self, token: &str) -> Option<(Role, Option<String>)> {
        if let Some(role) = self.role_of(token) {
            return Some((role, None));
        }
        if let Some(n) = self.named.find(token) {
            return Some((Role::Admin, Some(n)));
        }
        self.named.reload(&self.storage);
        self.named.find(token).map(|n| (Role::Admin, Some(n)))
    }

    /// `aigw admin-token --name NAME`: the named token, created (next to
    /// the main tokens) when there is none yet.
    pub fn named_token(&self, data_dir: &Path, name: &str) -> anyhow::Result<Secret> {
        check_name(name).map_err(anyhow::Error::msg)?;
        if let Some((_, t)) = read_named(data_dir, &self.storage)
            .into_iter()
            .find(|(n, _)| n == name)
        {
            return Ok(t);
        }
        let token = generate("aigw_admin_");
        match &self.storage {
            TokenStorage::Keychain => {
                let mut names = read_names(data_dir);
                if names.len() >= MAX_NAMED {
                    anyhow::bail!("at most {MAX_NAMED} named admin tokens");
                }
                keyring::Entry::new(
                    ADMIN_SERVICE,
                    &entry_name(&format!("admin-token.{name}"), data_dir),
                )?
                .set_password(&token)?;
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
                write_private(&data_dir.join(NAMES_FILE), &serde_json::to_vec(&names)?)?;
            }
            TokenStorage::File(p) => {
                let mut f: FileTokens = serde_json::from_slice(&std::fs::read(p)?)?;
                if f.named.len() >= MAX_NAMED {
                    anyhow::bail!("at most {MAX_NAMED} named admin tokens");
                }
                f.named.insert(name.to_string(), token.clone());
                write_private(p, &serde_json::to_vec(&f)?)?;
            }
            TokenStorage::Memory => anyhow::bail!("admin tokens held in memory cannot be named"),
        }
        Ok(Secret::new(token))
    }

    /// Which role a presented token has (constant-time comparisons).
    pub fn role_of(&self, token: &str) -> Option<Role> {
        let a = self.admin.ct_eq(token.as_bytes());
        let v = self.viewer.ct_eq(token.as_bytes());
        if a {
            Some(Role::Admin)
        } else if v {
            Some(Role::Viewer)
        } else {
            None
        }
    }

    /// Loads the tokens, creating them on first run: keychain first, else
    /// `admin-tokens.json` (0600) in `data_dir`.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        match from_keychain(data_dir) {
            Ok(t) => return Ok(t),
            Err(e) => tracing::warn!(
                "OS keychain unavailable ({e}); keeping admin tokens in a 0600 file in {}",
                data_dir.display()
            ),
        }
        from_file(&data_dir.join("admin-tokens.json"))
    }

    /// Reads existing tokens (for the CLI talking to a running gateway).
    pub fn read_existing(data_dir: &Path) -> Option<Self> {
        let get = |n: &str| {
            keyring::Entry::new(ADMIN_SERVICE, &entry_name(n, data_dir))
                .ok()?
                .get_password()
                .ok()
        };
        if let (Some(a), Some(v)) = (get("admin-token"), get("viewer-token")) {
            let storage = TokenStorage::Keychain;
            return Some(Self {
                admin: Secret::new(a),
                viewer: Secret::new(v),
                named: Arc::new(NamedTokens::loaded(data_dir, &storage)),
                storage,
            });
        }
        let path = data_dir.join("admin-tokens.json");
        let f: FileTokens = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        let storage = TokenStorage::File(path);
        Some(Self {
            admin: Secret::new(f.admin),
            viewer: Secret::new(f.viewer),
            named: Arc::new(NamedTokens::loaded(data_dir, &storage)),
            storage,
        })
    }
}

/// Tokens belong to one data dir (one gateway installation): the entry name
/// carries a short hash of its path.
fn entry_name(name: &str, data_dir: &Path) -> String {
    use sha2::Digest;
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let h = sha2::Sha256::digest(dir.to_string_lossy().as_bytes());
    format!("{name}:{}", &hex::encode(h)[..16])
}

fn from_keychain(data_dir: &Path) -> Result<AdminTokens, keyring::Error> {
    let get_or_make = |name: &str, prefix: &str| -> Result<String, keyring::Error> {
        let e = keyring::Entry::new(ADMIN_SERVICE, &entry_name(name, data_dir))?;
        match e.get_password() {
            Ok(v) => Ok(v),
            Err(keyring::Error::NoEntry) => {
                let v = generate(prefix);
                e.set_password(&v)?;
                Ok(v)
            }
            Err(err) => Err(err),
        }
    };
    let storage = TokenStorage::Keychain;
    Ok(AdminTokens {
        admin: Secret::new(get_or_make("admin-token", "aigw_admin_")?),
        viewer: Secret::new(get_or_make("viewer-token", "aigw_viewer_")?),
        named: Arc::new(NamedTokens::loaded(data_dir, &storage)),
        storage,
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FileTokens {
    admin: String,
    viewer: String,
    /// Named admin tokens by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    named: BTreeMap<String, String>,
}

fn from_file(path: &Path) -> std::io::Result<AdminTokens> {
    if let Ok(b) = std::fs::read(path)
        && let Ok(f) = serde_json::from_slice::<FileTokens>(&b)
    {
        // Written 0644 by hand or by an older version: owner-only now.
        crate::store::perms::tighten_file(path)?;
        let storage = TokenStorage::File(path.to_path_buf());
        return Ok(AdminTokens {
            admin: Secret::new(f.admin),
            viewer: Secret::new(f.viewer),
            named: Arc::new(NamedTokens::loaded(
                path.parent().unwrap_or(Path::new(".")),
                &storage,
            )),
            storage,
        });
    }
    let f = FileTokens {
        admin: generate("aigw_admin_"),
        viewer: generate("aigw_viewer_"),
        named: BTreeMap::new(),
    };
    if let Some(dir) = path.parent() {
        crate::store::perms::private_dir(dir)?;
    }
    write_private(path, &serde_json::to_vec(&f).unwrap_or_default())?;
    let storage = TokenStorage::File(path.to_path_buf());
    Ok(AdminTokens {
        admin: Secret::new(f.admin),
        viewer: Secret::new(f.viewer),
        named: Arc::new(NamedTokens::loaded(
            path.parent().unwrap_or(Path::new(".")),
            &storage,
        )),
        storage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_file_fallback() {
        let t = AdminTokens::ephemeral();
        assert_eq!(t.role_of(t.admin.expose()), Some(Role::Admin));
        assert_eq!(t.role_of(t.viewer.expose()), Some(Role::Viewer));
        assert_eq!(t.role_of("nope"), None);
        assert_eq!(t.admin.expose().len(), "aigw_admin_".len() + 64);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("admin-tokens.json");
        let a = from_file(&p).unwrap();
        #[cfg(unix)]
        let mode = || {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777
        };
        #[cfg(unix)]
        {
            assert_eq!(mode(), 0o600);
            // left world-readable (by hand, an older version): tightened
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let b = from_file(&p).unwrap();
        assert_eq!(a.admin.expose(), b.admin.expose());
        #[cfg(unix)]
        assert_eq!(mode(), 0o600);
    }
}
