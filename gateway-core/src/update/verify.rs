//! Verification, in the order the updater applies it: the manifest's
//! signature before its content is trusted; then each archive's size, SHA-256
//! and signature before anything is extracted.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::{Result, UpdateError};
use super::keys::{PublicKey, Signature};
use super::manifest::{Checked, Manifest, TargetEntry};

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Verifies `sig_text` (the base64 content of `manifest.json.sig`) over the
/// exact manifest bytes with `key`, then parses and checks the manifest.
pub fn manifest(bytes: &[u8], sig_text: &str, key: &PublicKey) -> Result<Checked> {
    let refused = || UpdateError::ManifestSignature {
        key: key.to_base64(),
    };
    let sig = Signature::parse(sig_text).map_err(|_| refused())?;
    if !key.verify(bytes, &sig) {
        return Err(refused());
    }
    Manifest::parse(bytes)
}

/// Checks a downloaded archive against its manifest entry: size, then
/// SHA-256, then the ed25519 signature of its bytes.
pub fn archive(bytes: &[u8], entry: &TargetEntry, key: &PublicKey) -> Result<()> {
    let got = bytes.len() as u64;
    if got != entry.size {
        return Err(UpdateError::Size {
            expected: entry.size,
            got,
        });
    }
    let sum = sha256_hex(bytes);
    if !sum.eq_ignore_ascii_case(&entry.sha256) {
        return Err(UpdateError::Checksum {
            expected: entry.sha256.clone(),
            got: sum,
        });
    }
    let refused = || UpdateError::ArchiveSignature {
        key: key.to_base64(),
    };
    let sig = Signature::parse(&entry.signature).map_err(|_| refused())?;
    if !key.verify(bytes, &sig) {
        return Err(refused());
    }
    Ok(())
}

/// Verifies a file against a detached signature file (one base64 line, as
/// written next to every release artifact). Returns the file's SHA-256.
pub fn detached(file: &Path, sig_file: &Path, key: &PublicKey) -> Result<String> {
    let bytes =
        std::fs::read(file).map_err(|e| UpdateError::io(format!("read {}", file.display()), e))?;
    let sig_text = std::fs::read_to_string(sig_file)
        .map_err(|e| UpdateError::io(format!("read {}", sig_file.display()), e))?;
    let refused = || UpdateError::FileSignature {
        file: file.to_path_buf(),
        key: key.to_base64(),
    };
    let sig = Signature::parse(&sig_text).map_err(|_| refused())?;
    if !key.verify(&bytes, &sig) {
        return Err(refused());
    }
    Ok(sha256_hex(&bytes))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::keys::SigningKey;
    use super::super::manifest::{PRODUCT, SCHEMA};
    use super::*;

    fn manifest_for(archive: &[u8], archive_sig: String) -> Vec<u8> {
        Manifest {
            schema: SCHEMA,
            product: PRODUCT.into(),
            version: "0.9.0".into(),
            date: "2026-11-25T13:00:00Z".into(),
            minimum_version: None,
            notes_url: None,
            targets: BTreeMap::from([(
                "t".into(),
                TargetEntry {
                    url: "a.tar.gz".into(),
                    size: archive.len() as u64,
                    sha256: sha256_hex(archive),
                    signature: archive_sig,
                    binary: "a/aigw".into(),
                },
            )]),
            desktop: BTreeMap::new(),
        }
        .to_json()
        .unwrap()
    }

    #[test]
    fn a_signed_manifest_and_archive_verify() {
        let key = SigningKey::generate().unwrap();
        let archive_bytes = b"archive bytes".to_vec();
        let bytes = manifest_for(&archive_bytes, key.sign(&archive_bytes).to_base64());
        let sig = key.sign(&bytes).to_base64();
        let checked = manifest(&bytes, &sig, &key.public()).unwrap();
        let entry = &checked.manifest.targets["t"];
        archive(&archive_bytes, entry, &key.public()).unwrap();
    }

    #[test]
    fn each_tampering_is_refused_for_its_own_reason() {
        let key = SigningKey::generate().unwrap();
        let data = b"archive bytes".to_vec();
        let bytes = manifest_for(&data, key.sign(&data).to_base64());
        let sig = key.sign(&bytes).to_base64();
        let public = key.public();

        // Manifest edited after signing; signed by another key; garbage signature.
        let mut edited = bytes.clone();
        let pos = edited.iter().position(|&b| b == b'9').unwrap();
        edited[pos] = b'8';
        let err = manifest(&edited, &sig, &public).unwrap_err();
        assert!(
            matches!(err, UpdateError::ManifestSignature { .. }),
            "{err}"
        );
        let other = SigningKey::generate().unwrap().public();
        let err = manifest(&bytes, &sig, &other).unwrap_err();
        assert!(
            matches!(err, UpdateError::ManifestSignature { .. }),
            "{err}"
        );
        let err = manifest(&bytes, "garbage", &public).unwrap_err();
        assert!(
            matches!(err, UpdateError::ManifestSignature { .. }),
            "{err}"
        );

        let checked = manifest(&bytes, &sig, &public).unwrap();
        let entry = checked.manifest.targets["t"].clone();
        // Truncated, altered, and a validly signed manifest carrying a wrong archive signature.
        let err = archive(&data[..4], &entry, &public).unwrap_err();
        assert!(matches!(err, UpdateError::Size { .. }), "{err}");
        let mut altered = data.clone();
        altered[0] ^= 1;
        let err = archive(&altered, &entry, &public).unwrap_err();
        assert!(matches!(err, UpdateError::Checksum { .. }), "{err}");
        let wrong_sig = manifest_for(&data, key.sign(b"other").to_base64());
        let checked = manifest(&wrong_sig, &key.sign(&wrong_sig).to_base64(), &public).unwrap();
        let err = archive(&data, &checked.manifest.targets["t"], &public).unwrap_err();
        assert!(matches!(err, UpdateError::ArchiveSignature { .. }), "{err}");
    }

    #[test]
    fn detached_signatures_verify_files() {
        let key = SigningKey::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.tar.gz");
        let sig = dir.path().join("f.tar.gz.sig");
        std::fs::write(&file, b"payload").unwrap();
        std::fs::write(&sig, format!("{}\n", key.sign(b"payload").to_base64())).unwrap();
        assert_eq!(
            detached(&file, &sig, &key.public()).unwrap(),
            sha256_hex(b"payload")
        );
        std::fs::write(&file, b"payloaD").unwrap();
        let err = detached(&file, &sig, &key.public()).unwrap_err();
        assert!(matches!(err, UpdateError::FileSignature { .. }), "{err}");
    }
}
