//! TLS on the listener (`server.tls_cert`, `server.tls_key`): the live
//! rustls config that every new connection's handshake uses, and the
//! watcher that re-reads the pair.
//!
//! - Whether the listener speaks TLS is decided at start (like the listen
//!   address); which pair it serves follows the files and the live config.
//! - Every `interval` the watcher reads both files (each at most
//!   [`crate::config::MAX_PEM_BYTES`]) and compares them with what it last
//!   saw. A changed pair that loads replaces the config for new
//!   connections (open ones keep theirs); one that does not (unreadable,
//!   not PEM, a key that does not fit, or caught half-written) keeps the
//!   old pair, logs a warning once per distinct failure and counts
//!   `aigw_tls_reloads{result="failed"}`.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::config::{TlsError, TlsPaths};
use crate::state::AppState;

/// The listener's live TLS config.
pub(crate) struct Tls {
    current: ArcSwap<rustls::ServerConfig>,
}

impl Tls {
    /// Loads the pair at start.
    pub(crate) fn load(paths: &TlsPaths) -> Result<(Arc<Self>, Seen), TlsError> {
        let (cert, key) = paths.read()?;
        let config = paths.server_config(&cert, &key)?;
        let tls = Arc::new(Self {
            current: ArcSwap::new(config),
        });
        Ok((
            tls,
            Seen {
                paths: paths.clone(),
                cert,
                key,
                failure: None,
            },
        ))
    }

    /// The acceptor for a new connection.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.load_full())
    }
}

/// What the watcher last read.
pub(crate) struct Seen {
    paths: TlsPaths,
    cert: Vec<u8>,
    key: Vec<u8>,
    /// The last failure reported (a repeat is not logged again).
    failure: Option<String>,
}

/// What one look at the files did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reload {
    Unchanged,
    Swapped,
    Failed,
}

impl Tls {
    /// Reads the pair at `paths` (the live config's, else the last ones)
    /// and swaps it in when it changed and loads.
    pub(crate) fn check(&self, seen: &mut Seen, paths: Option<&TlsPaths>) -> Reload {
        let paths = paths.unwrap_or(&seen.paths).clone();
        let loaded = paths.read().and_then(|(cert, key)| {
            if paths == seen.paths && cert == seen.cert && key == seen.key {
                return Ok(None);
            }
            let config = paths.server_config(&cert, &key)?;
            Ok(Some((config, cert, key)))
        });
        match loaded {
            Ok(None) => {
                seen.failure = None;
                Reload::Unchanged
            }
            Ok(Some((config, cert, key))) => {
                self.current.store(config);
                tracing::info!(
                    cert = %paths.cert.display(),
                    key = %paths.key.display(),
                    "TLS certificate reloaded; new connections use it"
                );
                *seen = Seen {
                    paths,
                    cert,
                    key,
                    failure: None,
                };
                Reload::Swapped
            }
            Err(e) => {
                let why = e.to_string();
                if seen.failure.as_deref() == Some(why.as_str()) {
                    return Reload::Unchanged;
                }
                tracing::warn!("TLS certificate not reloaded, the previous one stays: {why}");
                seen.failure = Some(why);
                Reload::Failed
            }
        }
    }
}

/// Looks at the files every `interval` until `stop`.
pub(crate) async fn watch(
    tls: Arc<Tls>,
    mut seen: Seen,
    state: Arc<AppState>,
    interval: Duration,
    stop: CancellationToken,
) {
    let metrics = state.telemetry_hub.metrics().clone();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let live = state.runtime.load().config.server.tls.clone();
        // Reading two small files: off the runtime's threads.
        let (tls2, paths) = (tls.clone(), live);
        let checked = tokio::task::spawn_blocking(move || {
            let r = tls2.check(&mut seen, paths.as_ref());
            (r, seen)
        })
        .await;
        let Ok((result, back)) = checked else {
            tracing::error!("the TLS watcher's check panicked; TLS reloads stop");
            return;
        };
        seen = back;
        match result {
            Reload::Unchanged => {}
            Reload::Swapped => metrics.tls_reload("ok"),
            Reload::Failed => metrics.tls_reload("failed"),
        }
    }
}
