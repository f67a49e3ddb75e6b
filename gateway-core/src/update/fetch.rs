//! Downloads through `self_update::Download` (blocking reqwest): the manifest,
//! its signature and the archive. Call from a thread that may block, never
//! from inside an async runtime (use `spawn_blocking` there).

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use super::error::{Result, UpdateError};

/// Time allowed for the manifest and its signature.
const SMALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed for an archive.
const ARCHIVE_TIMEOUT: Duration = Duration::from_secs(600);

/// Parses an update URL: `https`, or plain `http` to a loopback host only
/// (everything is signed, but the update check should not leak over the LAN
/// in clear text or be trivially blockable).
pub fn source_url(text: &str) -> Result<Url> {
    let bad = |reason: &str| UpdateError::BadUrl {
        url: text.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(bad(
            "plain http is only allowed to 127.0.0.1/localhost; use https",
        )),
        _ => Err(bad("only https URLs are supported")),
    }
}

/// Resolves a manifest `url` field (absolute, or relative to the manifest).
pub fn resolve(manifest_url: &Url, reference: &str) -> Result<Url> {
    let joined = manifest_url
        .join(reference)
        .map_err(|e| UpdateError::BadUrl {
            url: reference.to_owned(),
            reason: e.to_string(),
        })?;
    source_url(joined.as_str())
}

/// The manifest signature lives next to the manifest as `<manifest>.sig`.
pub fn signature_url(manifest_url: &Url) -> Result<Url> {
    source_url(&format!("{manifest_url}.sig"))
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Downloads a small document (manifest, signature) into memory.
pub fn small(url: &Url, max_bytes: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    download(url, max_bytes, SMALL_TIMEOUT, &mut buf)?;
    Ok(buf)
}

/// Downloads an archive into `dest`, refusing more than `max_bytes`.
pub fn archive(url: &Url, max_bytes: u64, dest: &mut impl Write) -> Result<()> {
    download(url, max_bytes, ARCHIVE_TIMEOUT, dest)?;
    dest.flush().map_err(|e| UpdateError::Download {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

fn download(url: &Url, max_bytes: u64, timeout: Duration, dest: &mut impl Write) -> Result<()> {
    self_update::Download::from_url(url.as_str())
        .request_header(
            "user-agent",
            format!("aigw/{} (self-update)", crate::VERSION),
        )
        .timeout(timeout)
        .max_download_size(max_bytes)
        .download_to(dest)
        .map_err(|e| UpdateError::Download {
            url: url.to_string(),
            reason: crate::with_causes(&e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        source_url("https://releases.example/m.json").unwrap();
        source_url("http://127.0.0.1:8080/m.json").unwrap();
        source_url("http://localhost/m.json").unwrap();
        source_url("http://[::1]:9/m.json").unwrap();
        assert!(source_url("http://192.168.1.2/m.json").is_err());
        assert!(source_url("file:///etc/passwd").is_err());
        assert!(source_url("not a url").is_err());
    }

    #[test]
    fn archive_urls_resolve_against_the_manifest() {
        let m = source_url("https://r.example/stable/manifest.json").unwrap();
        assert_eq!(
            resolve(&m, "aigw-1.tar.gz").unwrap().as_str(),
            "https://r.example/stable/aigw-1.tar.gz"
        );
        assert_eq!(
            resolve(&m, "https://cdn.example/a.tar.gz")
                .unwrap()
                .as_str(),
            "https://cdn.example/a.tar.gz"
        );
        assert!(resolve(&m, "http://cdn.example/a.tar.gz").is_err());
        assert_eq!(
            signature_url(&m).unwrap().as_str(),
            "https://r.example/stable/manifest.json.sig"
        );
    }
}
