//! The release manifest: one JSON document describing the latest release,
//! served next to its archives and signed as a whole (`manifest.json.sig`).
//!
//! ```json
//! {
//!   "schema": 1,
//!   "product": "aigw",
//!   "version": "0.2.0",
//!   "date": "2026-11-25T13:00:00Z",
//!   "minimum_version": "0.1.0",
//!   "targets": {
//!     "x86_64-unknown-linux-gnu": {
//!       "url": "aigw-0.2.0-x86_64-unknown-linux-gnu.tar.gz",
//!       "size": 4321987,
//!       "sha256": "9f86d0…",
//!       "signature": "base64 ed25519 signature of the archive",
//!       "binary": "aigw-0.2.0-x86_64-unknown-linux-gnu/aigw"
//!     }
//!   },
//!   "desktop": {
//!     "x86_64-unknown-linux-gnu": {
//!       "url": "aigw-desktop-0.2.0-x86_64-unknown-linux-gnu.tar.gz",
//!       "…": "the same fields, for the desktop app's archive",
//!       "binary": "aigw-desktop-0.2.0-x86_64-unknown-linux-gnu/aigw-desktop"
//!     }
//!   }
//! }
//! ```
//!
//! `targets` holds the headless `aigw` builds (every release has at least
//! one); `desktop` the tray app's, where the release has them (older readers
//! ignore it).
//!
//! `url` may be relative (resolved against the manifest URL). `minimum_version`
//! is the oldest installed version allowed to update to this release by itself;
//! older ones are told to install it from the archive. Unknown fields are
//! ignored so later schemas can add some; a different `schema` is refused.

use std::collections::BTreeMap;

use semver::Version;
use serde::{Deserialize, Serialize};

use super::App;
use super::error::{Result, UpdateError};
use super::keys::Signature;

/// The manifest format this build reads and writes.
pub const SCHEMA: u32 = 1;
/// The product name every manifest must carry (guards against a manifest of
/// another program signed with the same key).
pub const PRODUCT: &str = "aigw";
/// Manifests larger than this are refused before parsing.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// The manifest as it is on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: u32,
    pub product: String,
    pub version: String,
    /// Release date, RFC 3339 UTC.
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes_url: Option<String>,
    /// `aigw` archives per target triple (e.g. `x86_64-unknown-linux-gnu`).
    pub targets: BTreeMap<String, TargetEntry>,
    /// `aigw-desktop` archives per target triple.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub desktop: BTreeMap<String, TargetEntry>,
}

/// One platform's archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetEntry {
    /// Absolute http(s) URL or a path relative to the manifest URL.
    pub url: String,
    /// Archive size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the archive.
    pub sha256: String,
    /// Base64 ed25519 signature of the archive bytes (also published as `<archive>.sig`).
    pub signature: String,
    /// Path of the executable (`aigw` or `aigw-desktop`) inside the archive.
    pub binary: String,
}

/// A manifest whose fields were checked: versions are semver, checksums hex,
/// signatures well-formed, binary paths relative and inside the archive.
#[derive(Clone, Debug)]
pub struct Checked {
    pub manifest: Manifest,
    pub version: Version,
    pub minimum_version: Option<Version>,
}

impl Manifest {
    /// The archives of `app`, per target triple.
    pub fn builds(&self, app: App) -> &BTreeMap<String, TargetEntry> {
        match app {
            App::Gateway => &self.targets,
            App::Desktop => &self.desktop,
        }
    }

    /// Pretty JSON, as published (and signed byte for byte).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(self)
            .map_err(|e| UpdateError::Manifest(format!("cannot serialize: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Parses and checks manifest bytes. Call only on bytes whose signature
    /// was verified (see [`super::verify::manifest`]).
    pub fn parse(bytes: &[u8]) -> Result<Checked> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| UpdateError::Manifest(format!("not a release manifest: {e}")))?;
        if manifest.schema != SCHEMA {
            return Err(UpdateError::Manifest(format!(
                "schema {} is not supported by this build (it reads schema {SCHEMA}); install the new release from its archive",
                manifest.schema
            )));
        }
        if manifest.product != PRODUCT {
            return Err(UpdateError::Manifest(format!(
                "it describes {:?}, not {PRODUCT:?}",
                manifest.product
            )));
        }
        let version = parse_version(&manifest.version, "version")?;
        let minimum_version = manifest
            .minimum_version
            .as_deref()
            .map(|v| parse_version(v, "minimum_version"))
            .transpose()?;
        if manifest.targets.is_empty() {
            return Err(UpdateError::Manifest("it lists no targets".into()));
        }
        for (map, entries) in [
            ("targets", &manifest.targets),
            ("desktop", &manifest.desktop),
        ] {
            for (target, entry) in entries {
                entry
                    .check()
                    .map_err(|reason| UpdateError::Manifest(format!("{map}.{target}: {reason}")))?;
            }
        }
        Ok(Checked {
            manifest,
            version,
            minimum_version,
        })
    }
}

impl TargetEntry {
    fn check(&self) -> std::result::Result<(), String> {
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("sha256 {:?} is not 64 hex digits", self.sha256));
        }
        Signature::parse(&self.signature).map_err(|e| format!("signature: {e}"))?;
        if self.url.is_empty() {
            return Err("empty url".into());
        }
        let binary = std::path::Path::new(&self.binary);
        let inside = binary.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        if self.binary.is_empty() || !inside {
            return Err(format!(
                "binary {:?} must be a relative path inside the archive",
                self.binary
            ));
        }
        Ok(())
    }
}

/// Parses a version as printed by `aigw --version` or written in a manifest
/// (a leading `v` is accepted).
pub fn parse_version(text: &str, what: &str) -> Result<Version> {
    let t = text.trim();
    Version::parse(t.strip_prefix('v').unwrap_or(t))
        .map_err(|e| UpdateError::Manifest(format!("{what} {text:?} is not a semver version: {e}")))
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2026-11-25T13:00:00Z`).
pub fn rfc3339_utc(unix_secs: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix_secs);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Now, as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_utc(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let sig = super::super::keys::SigningKey::generate()
            .unwrap()
            .sign(b"x")
            .to_base64();
        Manifest {
            schema: SCHEMA,
            product: PRODUCT.into(),
            version: "1.2.0".into(),
            date: "2026-11-25T13:00:00Z".into(),
            minimum_version: Some("1.0.0".into()),
            notes_url: None,
            targets: BTreeMap::from([(
                "x86_64-unknown-linux-gnu".into(),
                TargetEntry {
                    url: "aigw-1.2.0-x86_64-unknown-linux-gnu.tar.gz".into(),
                    size: 10,
                    sha256: "ab".repeat(32),
                    signature: sig,
                    binary: "aigw-1.2.0-x86_64-unknown-linux-gnu/aigw".into(),
                },
            )]),
            desktop: BTreeMap::new(),
        }
    }

    #[test]
    fn roundtrips_and_ignores_unknown_fields() {
        let m = sample();
        let checked = Manifest::parse(&m.to_json().unwrap()).unwrap();
        assert_eq!(checked.manifest, m);
        assert_eq!(checked.version, Version::new(1, 2, 0));
        assert_eq!(checked.minimum_version, Some(Version::new(1, 0, 0)));
        let mut v: serde_json::Value = serde_json::to_value(&m).unwrap();
        v["future_field"] = serde_json::json!(true);
        Manifest::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    }

    #[test]
    fn desktop_builds_are_optional_and_checked() {
        let m = sample();
        let json = String::from_utf8(m.to_json().unwrap()).unwrap();
        assert!(!json.contains("desktop"), "{json}");
        assert!(
            Manifest::parse(json.as_bytes())
                .unwrap()
                .manifest
                .builds(App::Desktop)
                .is_empty()
        );

        let mut with = sample();
        let mut entry = with.targets["x86_64-unknown-linux-gnu"].clone();
        entry.binary = "aigw-desktop-1.2.0-x86_64-unknown-linux-gnu/aigw-desktop".into();
        with.desktop
            .insert("x86_64-unknown-linux-gnu".into(), entry.clone());
        let checked = Manifest::parse(&with.to_json().unwrap()).unwrap();
        assert_eq!(
            checked.manifest.builds(App::Desktop)["x86_64-unknown-linux-gnu"],
            entry
        );
        assert_eq!(checked.manifest.builds(App::Gateway), &with.targets);

        entry.binary = "/usr/bin/aigw-desktop".into();
        with.desktop
            .insert("x86_64-unknown-linux-gnu".into(), entry);
        let err = Manifest::parse(&with.to_json().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("desktop.x86_64-unknown-linux-gnu"), "{err}");
    }

    #[test]
    fn refuses_bad_fields() {
        type Edit = Box<dyn Fn(&mut Manifest)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("schema", Box::new(|m| m.schema = 2)),
            ("describes", Box::new(|m| m.product = "other".into())),
            ("semver", Box::new(|m| m.version = "latest".into())),
            (
                "minimum_version",
                Box::new(|m| m.minimum_version = Some("x".into())),
            ),
            ("no targets", Box::new(|m| m.targets.clear())),
            (
                "hex",
                Box::new(|m| {
                    for e in m.targets.values_mut() {
                        e.sha256 = "zz".into();
                    }
                }),
            ),
            (
                "inside the archive",
                Box::new(|m| {
                    for e in m.targets.values_mut() {
                        e.binary = "../../etc/passwd".into();
                    }
                }),
            ),
            (
                "signature",
                Box::new(|m| {
                    for e in m.targets.values_mut() {
                        e.signature = "AAAA".into();
                    }
                }),
            ),
        ];
        for (want, edit) in cases {
            let mut m = sample();
            edit(&mut m);
            let err = Manifest::parse(&m.to_json().unwrap())
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
        assert!(Manifest::parse(b"<html>").is_err());
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn versions_accept_a_leading_v() {
        assert_eq!(
            parse_version("v0.3.1\n", "v").unwrap(),
            Version::new(0, 3, 1)
        );
        assert!(parse_version("0.3", "v").is_err());
    }
}
