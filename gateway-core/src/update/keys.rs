//! Release signing keys: ed25519 (`ed25519-dalek`), written as base64 (32-byte
//! keys, 64-byte signatures). Signatures are over the exact bytes of a file
//! (no prehash, no framing), so `openssl pkeyutl -verify -rawin` checks them too.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer;
use zeroize::Zeroize;

use super::error::{Result, UpdateError};

/// The documented default release key for builds made without
/// `AIGW_UPDATE_PUBKEY` (plain `cargo build`). Its private half is not in the
/// repository; `packaging/release.sh` always embeds the public half of the key
/// it signs with instead. See docs/install.md, "Release keys".
pub const DEV_PUBKEY: &str = "essWqVcUu6iwBL1uDPnhY5dod1+7565KG+2oX2U/HhQ=";

/// Debug builds only: a public key trusted instead of the embedded one
/// (see [`PublicKey::trusted`]).
pub const DEV_UPDATE_PUBKEY_ENV: &str = "AIGW_DEV_UPDATE_PUBKEY";

/// The release public key compiled into this build (`AIGW_UPDATE_PUBKEY` at
/// build time, else [`DEV_PUBKEY`]).
pub const EMBEDDED_PUBKEY: &str = match option_env!("AIGW_UPDATE_PUBKEY") {
    Some(k) => k,
    None => DEV_PUBKEY,
};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A release verification key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses a base64 public key (as printed by `aigw-release keygen`).
    pub fn parse(text: &str) -> Result<Self> {
        let bytes: [u8; 32] = decode_fixed(text, "public key")?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|e| UpdateError::InvalidKey {
                what: "public key",
                reason: e.to_string(),
            })
    }

    /// The key compiled into this build.
    pub fn embedded() -> Result<Self> {
        Self::parse(EMBEDDED_PUBKEY)
    }

    /// The key updates are verified with by default: [`Self::embedded`] —
    /// except that *debug* builds (never released: `packaging/release.sh`
    /// builds `--release`) use `AIGW_DEV_UPDATE_PUBKEY` when it is set, so
    /// end-to-end tests can sign releases for the app and gateway they
    /// start. Release builds ignore the variable.
    pub fn trusted() -> Result<Self> {
        #[cfg(debug_assertions)]
        if let Some(k) = std::env::var(DEV_UPDATE_PUBKEY_ENV)
            .ok()
            .filter(|k| !k.trim().is_empty())
        {
            return Self::parse(k.trim());
        }
        Self::embedded()
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0.as_bytes())
    }

    /// The key as a PEM SubjectPublicKeyInfo, for `openssl pkeyutl -pubin`.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.0.as_bytes());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            B64.encode(der)
        )
    }

    /// Checks `sig` over exactly `message` (strict verification: no malleable
    /// or small-order encodings).
    pub fn verify(&self, message: &[u8], sig: &Signature) -> bool {
        self.0.verify_strict(message, &sig.0).is_ok()
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// A detached ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature(ed25519_dalek::Signature);

impl Signature {
    /// Parses a base64 signature; surrounding whitespace (a `.sig` file's
    /// trailing newline) is ignored.
    pub fn parse(text: &str) -> Result<Self> {
        let bytes: [u8; 64] = decode_fixed(text, "signature")?;
        Ok(Self(ed25519_dalek::Signature::from_bytes(&bytes)))
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0.to_bytes())
    }
}

/// A release signing key. Lives only in a file outside the repository
/// (mode 0600); `Debug` never shows the secret.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(public {})", self.public())
    }
}

impl SigningKey {
    /// A fresh key from the OS random source.
    pub fn generate() -> Result<Self> {
        use rand::TryRngCore;
        let mut seed = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut seed)
            .map_err(|e| UpdateError::InvalidKey {
                what: "signing key",
                reason: format!("OS random source failed: {e}"),
            })?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        seed.zeroize();
        Ok(Self(key))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message))
    }

    /// The key file's text: a comment, the public key, the secret seed.
    pub fn to_file_text(&self) -> String {
        let mut seed = B64.encode(self.0.to_bytes());
        let text = format!(
            "# aigw release signing key (ed25519). Keep it secret; never commit it.\npublic: {}\nsecret: {seed}\n",
            self.public()
        );
        seed.zeroize();
        text
    }

    /// Parses [`to_file_text`](Self::to_file_text) output; the `public:` line,
    /// when present, must match the secret.
    pub fn from_file_text(text: &str) -> Result<Self> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).map(str::trim))
                .map(str::to_owned)
        };
        let mut secret = field("secret:").ok_or(UpdateError::InvalidKey {
            what: "signing key file",
            reason: "no `secret:` line".into(),
        })?;
        let seed = decode_fixed::<32>(&secret, "signing key");
        secret.zeroize();
        let mut seed = seed?;
        let key = Self(ed25519_dalek::SigningKey::from_bytes(&seed));
        seed.zeroize();
        if let Some(public) = field("public:")
            && PublicKey::parse(&public)? != key.public()
        {
            return Err(UpdateError::InvalidKey {
                what: "signing key file",
                reason: "its `public:` line does not belong to its secret".into(),
            });
        }
        Ok(key)
    }

    /// Writes a new key file with mode 0600; refuses to overwrite one.
    pub fn write_new(&self, path: &Path) -> Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let ctx = || format!("create key file {}", path.display());
        let mut file = opts.open(path).map_err(|e| UpdateError::io(ctx(), e))?;
        let mut text = self.to_file_text();
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all());
        text.zeroize();
        written.map_err(|e| UpdateError::io(ctx(), e))
    }

    /// Reads a key file; on Unix refuses one that group or others can read.
    pub fn read(path: &Path) -> Result<Self> {
        let ctx = || format!("read key file {}", path.display());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| UpdateError::io(ctx(), e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(UpdateError::InvalidKey {
                    what: "signing key file",
                    reason: format!(
                        "{} is readable by others (mode {:o}); run chmod 600 on it",
                        path.display(),
                        mode & 0o777
                    ),
                });
            }
        }
        let mut text = std::fs::read_to_string(path).map_err(|e| UpdateError::io(ctx(), e))?;
        let key = Self::from_file_text(&text);
        text.zeroize();
        key
    }
}

fn decode_fixed<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N]> {
    let bytes = B64
        .decode(text.trim())
        .map_err(|e| UpdateError::InvalidKey {
            what,
            reason: format!("not base64: {e}"),
        })?;
    let len = bytes.len();
    bytes.try_into().map_err(|_| UpdateError::InvalidKey {
        what,
        reason: format!("{len} bytes, expected {N}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_roundtrip_and_text_forms() {
        let key = SigningKey::generate().unwrap();
        let public = PublicKey::parse(&key.public().to_base64()).unwrap();
        let sig = Signature::parse(&format!("{}\n", key.sign(b"hello").to_base64())).unwrap();
        assert!(public.verify(b"hello", &sig));
        assert!(!public.verify(b"hellO", &sig));
        let other = SigningKey::generate().unwrap().public();
        assert!(!other.verify(b"hello", &sig));
        let again = SigningKey::from_file_text(&key.to_file_text()).unwrap();
        assert_eq!(again.public(), key.public());
        assert!(format!("{key:?}").contains(&key.public().to_base64()));
        assert!(!format!("{key:?}").contains(&B64.encode(key.0.to_bytes())));
    }

    #[test]
    fn mismatched_public_line_and_bad_text_are_refused() {
        let a = SigningKey::generate().unwrap();
        let b = SigningKey::generate().unwrap();
        let text = a
            .to_file_text()
            .replace(&a.public().to_base64(), &b.public().to_base64());
        assert!(SigningKey::from_file_text(&text).is_err());
        assert!(PublicKey::parse("not base64!").is_err());
        assert!(PublicKey::parse("AAAA").is_err());
        assert!(Signature::parse(&a.public().to_base64()).is_err());
    }

    #[test]
    fn the_embedded_key_parses() {
        PublicKey::embedded().unwrap();
    }

    #[test]
    fn pem_is_an_ed25519_spki() {
        let key = SigningKey::generate().unwrap().public();
        let pem = key.to_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = B64.decode(body).unwrap();
        assert_eq!(der.len(), 44);
        assert_eq!(&der[12..], key.0.as_bytes());
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("release.key");
        let key = SigningKey::generate().unwrap();
        key.write_new(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(key.write_new(&path).is_err());
        assert_eq!(SigningKey::read(&path).unwrap().public(), key.public());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = SigningKey::read(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
