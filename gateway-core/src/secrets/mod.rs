//! Provider and client keys. Config never holds a key, only a reference:
//! `env:VAR` (an environment variable) or `keyring:NAME` (the OS keychain via
//! the `keyring` crate, service [`KEYRING_SERVICE`]). Resolved keys are held
//! in [`Secret`], whose `Debug`/`Display` never print the value.

pub mod admin;
pub mod scrub;

use std::fmt;
use std::sync::Arc;

/// Keychain service name under which every `keyring:NAME` entry lives.
pub const KEYRING_SERVICE: &str = "ai-model-gateway";

/// A reference to a key, as written in config.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    Env(String),
    Keyring(String),
}

impl SecretRef {
    /// Parses `env:VAR` or `keyring:NAME`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let valid = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if let Some(var) = s.strip_prefix("env:") {
            if valid(var) {
                return Ok(Self::Env(var.to_string()));
            }
        } else if let Some(name) = s.strip_prefix("keyring:") {
            if valid(name) {
                return Ok(Self::Keyring(name.to_string()));
            }
        } else {
            return Err(
                "a key reference must be \"env:VAR\" or \"keyring:NAME\" (keys never go in config files)"
                    .to_string(),
            );
        }
        Err(format!(
            "invalid key reference name in {:?}: use letters, digits, '_', '-', '.'",
            redact_ref(s)
        ))
    }

    /// Looks the key up. Errors say what is missing, never the value.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            Self::Env(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
                Ok(_) => Err(SecretError::Missing(format!(
                    "environment variable {var} is empty"
                ))),
                Err(_) => Err(SecretError::Missing(format!(
                    "environment variable {var} is not set"
                ))),
            },
            Self::Keyring(name) => keychain_get(name),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(v) => write!(f, "env:{v}"),
            Self::Keyring(n) => write!(f, "keyring:{n}"),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Someone may paste a key where a reference belongs: never echo more than a
/// prefix of it back.
fn redact_ref(s: &str) -> String {
    let head: String = s.chars().take(12).collect();
    if s.chars().count() > 12 {
        format!("{head}…")
    } else {
        head
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{0}")]
    Missing(String),
    #[error("keychain unavailable: {0}")]
    Keychain(String),
}

/// A resolved key. Cheap to clone; never printed.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }
    /// The raw value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Constant-time comparison (client key checks).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        let a = self.0.as_bytes();
        if a.len() != other.len() {
            return false;
        }
        a.iter().zip(other).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

fn keychain_entry(name: &str) -> Result<keyring::Entry, SecretError> {
    keyring::Entry::new(KEYRING_SERVICE, name).map_err(|e| SecretError::Keychain(e.to_string()))
}

/// Reads `keyring:NAME` from the OS keychain.
pub fn keychain_get(name: &str) -> Result<Secret, SecretError> {
    match keychain_entry(name)?.get_password() {
        Ok(v) => Ok(Secret::new(v)),
        Err(keyring::Error::NoEntry) => Err(SecretError::Missing(format!(
            "no key named {name:?} in the OS keychain (set it with `aigw keys set {name}`)"
        ))),
        Err(e) => Err(SecretError::Keychain(e.to_string())),
    }
}

/// Stores `keyring:NAME` in the OS keychain.
pub fn keychain_set(name: &str, value: &str) -> Result<(), SecretError> {
    keychain_entry(name)?
        .set_password(value)
        .map_err(|e| SecretError::Keychain(e.to_string()))
}

/// Deletes `keyring:NAME`; Ok(false) when it did not exist.
pub fn keychain_delete(name: &str) -> Result<bool, SecretError> {
    match keychain_entry(name)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(SecretError::Keychain(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_refs_and_rejects_raw_keys() {
        assert_eq!(
            SecretRef::parse("env:OPENAI_KEY"),
            Ok(SecretRef::Env("OPENAI_KEY".into()))
        );
        assert_eq!(
            SecretRef::parse("keyring:openai"),
            Ok(SecretRef::Keyring("openai".into()))
        );
        let err = SecretRef::parse("sk-proj-abcdefghijklmnopqrstuvwxyz").unwrap_err();
        assert!(!err.contains("abcdefghijklmnop"), "{err}");
        assert!(SecretRef::parse("env:").is_err());
        assert!(SecretRef::parse("keyring:a b").is_err());
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert!(s.ct_eq(b"sk-very-secret"));
        assert!(!s.ct_eq(b"sk-very-secreT"));
        assert!(!s.ct_eq(b"sk"));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = SecretRef::Env("AIGW_TEST_SURELY_UNSET_VAR".into())
            .resolve()
            .unwrap_err();
        assert!(err.to_string().contains("AIGW_TEST_SURELY_UNSET_VAR"));
    }
}

/// The names of keys set through `aigw keys` (keychains cannot be listed
/// portably). Names only, never values: `keys.json` in the data dir.
#[derive(Debug, Clone)]
pub struct KeyIndex {
    path: std::path::PathBuf,
}

impl KeyIndex {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            path: data_dir.join("keys.json"),
        }
    }

    pub fn names(&self) -> Vec<String> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
            .unwrap_or_default()
    }

    fn write(&self, names: &[String]) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            crate::store::perms::private_dir(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        std::io::Write::write_all(
            &mut f,
            &serde_json::to_vec_pretty(names).unwrap_or_default(),
        )?;
        drop(f);
        crate::store::perms::tighten_file(&tmp)?;
        std::fs::rename(tmp, &self.path)
    }

    /// Stores the secret in the keychain and records its name.
    pub fn set(&self, name: &str, value: &str) -> Result<(), SecretError> {
        SecretRef::parse(&format!("keyring:{name}")).map_err(SecretError::Missing)?;
        keychain_set(name, value)?;
        let mut names = self.names();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
            names.sort();
            self.write(&names)
                .map_err(|e| SecretError::Keychain(format!("key index: {e}")))?;
        }
        Ok(())
    }

    /// Deletes from the keychain and the index; Ok(false) if it was in neither.
    pub fn remove(&self, name: &str) -> Result<bool, SecretError> {
        let existed = keychain_delete(name)?;
        let mut names = self.names();
        let before = names.len();
        names.retain(|n| n != name);
        if names.len() != before {
            self.write(&names)
                .map_err(|e| SecretError::Keychain(format!("key index: {e}")))?;
        }
        Ok(existed || names.len() != before)
    }

    /// Each indexed name and whether the keychain still holds it.
    pub fn list(&self) -> Vec<(String, bool)> {
        self.names()
            .into_iter()
            .map(|n| {
                let present = keychain_get(&n).is_ok();
                (n, present)
            })
            .collect()
    }
}
