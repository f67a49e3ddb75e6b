//! `server.tls_cert` / `server.tls_key`: the PEM pair the listener serves.
//! Both or neither; each file must be readable, at most [`MAX_PEM_BYTES`],
//! and the key must match the certificate — checked here, so a broken pair
//! is a config error naming the path, and again whenever the listener
//! re-reads the files (`server::tls`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::super::raw::RawServer;
use super::Validator;

/// The largest certificate chain or key file read (1 MiB).
pub const MAX_PEM_BYTES: u64 = 1 << 20;

/// Where the listener's certificate chain and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is larger than {MAX_PEM_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----): {why}", path.display())]
    NoCert { path: PathBuf, why: String },
    #[error("{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {why}", path.display())]
    NoKey { path: PathBuf, why: String },
    #[error("the key {} does not fit the certificate {}: {why}", key.display(), cert.display())]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        why: String,
    },
}

impl TlsError {
    /// The file at fault (the key for a mismatch).
    pub fn path(&self) -> &Path {
        match self {
            TlsError::Read { path, .. }
            | TlsError::TooLarge { path }
            | TlsError::NoCert { path, .. }
            | TlsError::NoKey { path, .. } => path,
            TlsError::Mismatch { key, .. } => key,
        }
    }
}

/// Reads a PEM file with the size bound.
fn read_bounded(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    let read = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(read)?;
    let mut buf = Vec::new();
    f.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(read)?;
    if buf.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(buf)
}

impl TlsPaths {
    /// Both files as they are now (what the listener compares to notice a
    /// change).
    pub fn read(&self) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
        Ok((read_bounded(&self.cert)?, read_bounded(&self.key)?))
    }

    /// The server config for `cert` and `key` (the bytes of [`Self::read`]):
    /// TLS 1.2 and 1.3 with the aws-lc-rs provider, ALPN `h2` then
    /// `http/1.1`.
    pub fn server_config(
        &self,
        cert: &[u8],
        key: &[u8],
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::NoCert {
                path: self.cert.clone(),
                why: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCert {
                path: self.cert.clone(),
                why: "no certificate block".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::NoKey {
            path: self.key.clone(),
            why: e.to_string(),
        })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Mismatch {
                cert: self.cert.clone(),
                key: self.key.clone(),
                why: e.to_string(),
            })?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Mismatch {
                cert: self.cert.clone(),
                key: self.key.clone(),
                why: e.to_string(),
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Reads and checks the pair.
    pub fn load(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let (cert, key) = self.read()?;
        self.server_config(&cert, &key)
    }
}

impl Validator<'_> {
    /// `server.tls_cert` and `server.tls_key`: both or neither, a pair
    /// that loads.
    pub(super) fn tls(&mut self, s: &RawServer) -> Option<TlsPaths> {
        match (&s.tls_cert, &s.tls_key) {
            (None, None) => None,
            (Some(c), None) => {
                self.error(
                    "server.tls_key",
                    c,
                    "server.tls_cert is set but server.tls_key is not: set both (PEM paths) or neither",
                );
                None
            }
            (None, Some(k)) => {
                self.error(
                    "server.tls_cert",
                    k,
                    "server.tls_key is set but server.tls_cert is not: set both (PEM paths) or neither",
                );
                None
            }
            (Some(c), Some(k)) => {
                for (key, v) in [("server.tls_cert", c), ("server.tls_key", k)] {
                    if v.get_ref().trim().is_empty() {
                        self.error(key, v, "must be a file path");
                        return None;
                    }
                }
                let paths = TlsPaths {
                    cert: PathBuf::from(c.get_ref()),
                    key: PathBuf::from(k.get_ref()),
                };
                match paths.load() {
                    Ok(_) => Some(paths),
                    Err(e) => {
                        let (key, at) = if e.path() == paths.key {
                            ("server.tls_key", k)
                        } else {
                            ("server.tls_cert", c)
                        };
                        self.error(key, at, e.to_string());
                        None
                    }
                }
            }
        }
    }
}
