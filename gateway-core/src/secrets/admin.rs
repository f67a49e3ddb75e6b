//! The admin API's bearer tokens: `admin` (read and write) and `viewer`
//! (read only). 256 random bits each, created on first run and kept in the
//! OS keychain (service [`ADMIN_SERVICE`]); where no keychain is reachable,
//! in a 0600 file in the data dir, with a warning.

use std::path::{Path, PathBuf};

use rand::RngCore;

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
        }
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
            return Some(Self {
                admin: Secret::new(a),
                viewer: Secret::new(v),
                storage: TokenStorage::Keychain,
            });
        }
        let path = data_dir.join("admin-tokens.json");
        let f: FileTokens = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        Some(Self {
            admin: Secret::new(f.admin),
            viewer: Secret::new(f.viewer),
            storage: TokenStorage::File(path),
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
    Ok(AdminTokens {
        admin: Secret::new(get_or_make("admin-token", "aigw_admin_")?),
        viewer: Secret::new(get_or_make("viewer-token", "aigw_viewer_")?),
        storage: TokenStorage::Keychain,
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FileTokens {
    admin: String,
    viewer: String,
}

fn from_file(path: &Path) -> std::io::Result<AdminTokens> {
    if let Ok(b) = std::fs::read(path)
        && let Ok(f) = serde_json::from_slice::<FileTokens>(&b)
    {
        // Written 0644 by hand or by an older version: owner-only now.
        crate::store::perms::tighten_file(path)?;
        return Ok(AdminTokens {
            admin: Secret::new(f.admin),
            viewer: Secret::new(f.viewer),
            storage: TokenStorage::File(path.to_path_buf()),
        });
    }
    let f = FileTokens {
        admin: generate("aigw_admin_"),
        viewer: generate("aigw_viewer_"),
    };
    if let Some(dir) = path.parent() {
        crate::store::perms::private_dir(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path)?;
    std::io::Write::write_all(&mut file, &serde_json::to_vec(&f).unwrap_or_default())?;
    Ok(AdminTokens {
        admin: Secret::new(f.admin),
        viewer: Secret::new(f.viewer),
        storage: TokenStorage::File(path.to_path_buf()),
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
