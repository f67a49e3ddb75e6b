//! Downloads with a blocking reqwest client: the manifest, its signature
//! and the archive. Call from a thread that may block, never from inside an
//! async runtime (use `spawn_blocking` there).
//!
//! Every fetch goes through the providers' SSRF guard: host names resolve
//! through [`GuardedResolver`] with the caller's policy, IP-literal hosts are
//! checked before the request. Redirects are followed only to the same host
//! and port, never from https to http, and at most [`MAX_REDIRECTS`] times.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use reqwest::Url;

use super::error::{Result, UpdateError};
use crate::ssrf::{self, GuardedResolver, SsrfPolicy};

/// Time allowed for the manifest and its signature.
const SMALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed for an archive.
const ARCHIVE_TIMEOUT: Duration = Duration::from_secs(600);
/// Time allowed to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects one fetch follows (each to the same host and port).
pub const MAX_REDIRECTS: usize = 5;

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

/// Why a redirect from `previous` (`first` being the URL asked for) to
/// `to` is not followed; `None` when it may be.
pub fn redirect_refusal(first: &Url, previous: &Url, to: &Url) -> Option<String> {
    if !matches!(to.scheme(), "http" | "https") {
        return Some(format!(
            "redirect to {to} refused: only http and https are followed"
        ));
    }
    if previous.scheme() == "https" && to.scheme() == "http" {
        return Some(format!(
            "redirect from {previous} to {to} refused: it downgrades https to http"
        ));
    }
    if to.host_str() != first.host_str()
        || to.port_or_known_default() != first.port_or_known_default()
    {
        return Some(format!(
            "redirect from {previous} to {to} refused: updates are fetched from {} only (a redirect must stay on the same host and port)",
            origin(first)
        ));
    }
    None
}

fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The SSRF decision for an IP-literal host (names are checked when they
/// resolve, by the client's resolver).
pub fn literal_refusal(url: &Url, policy: &SsrfPolicy) -> Option<String> {
    let ip = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()?;
    ssrf::check(ip, policy).err()
}

/// A client for one fetch: the SSRF guard as its resolver, the redirect
/// rules above, `timeout` for the whole exchange.
fn client(timeout: Duration, policy: &SsrfPolicy) -> Result<reqwest::blocking::Client, String> {
    let resolver = GuardedResolver {
        policy: Arc::new(ArcSwap::from_pointee(policy.clone())),
    };
    let guard = policy.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        let (Some(first), Some(previous)) = (attempt.previous().first(), attempt.previous().last())
        else {
            return attempt.follow();
        };
        if attempt.previous().len() > MAX_REDIRECTS {
            let why = format!("more than {MAX_REDIRECTS} redirects");
            return attempt.error(why);
        }
        let refusal = redirect_refusal(first, previous, attempt.url())
            .or_else(|| literal_refusal(attempt.url(), &guard));
        match refusal {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    });
    let mut tls = crate::upstream::tls_config().map_err(|e| e.to_string())?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(Arc::new(resolver))
        .redirect(redirects)
        .user_agent(format!("aigw/{} (self-update)", crate::VERSION))
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", crate::with_causes(&e)))
}

/// Downloads a small document (manifest, signature) into memory.
pub fn small(url: &Url, max_bytes: u64, policy: &SsrfPolicy) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    download(url, max_bytes, SMALL_TIMEOUT, policy, &mut buf)?;
    Ok(buf)
}

/// Downloads an archive into `dest`, refusing more than `max_bytes`.
pub fn archive(
    url: &Url,
    max_bytes: u64,
    policy: &SsrfPolicy,
    dest: &mut impl Write,
) -> Result<()> {
    download(url, max_bytes, ARCHIVE_TIMEOUT, policy, dest)?;
    dest.flush().map_err(|e| UpdateError::Download {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

fn download(
    url: &Url,
    max_bytes: u64,
    timeout: Duration,
    policy: &SsrfPolicy,
    dest: &mut impl Write,
) -> Result<()> {
    let fail = |reason: String| UpdateError::Download {
        url: url.to_string(),
        reason,
    };
    if let Some(why) = literal_refusal(url, policy) {
        return Err(fail(why));
    }
    let client = client(timeout, policy).map_err(fail)?;
    let resp = client
        .get(url.clone())
        .send()
        .and_then(reqwest::blocking::Response::error_for_status)
        .map_err(|e| fail(crate::with_causes(&e)))?;
    if resp.content_length().is_some_and(|n| n > max_bytes) {
        return Err(fail(format!("larger than the {max_bytes} bytes allowed")));
    }
    let mut body = resp.take(max_bytes.saturating_add(1));
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(crate::with_causes(&e))),
        };
        total += n as u64;
        if total > max_bytes {
            return Err(fail(format!("larger than the {max_bytes} bytes allowed")));
        }
        dest.write_all(&buf[..n])
            .map_err(|e| fail(format!("cannot write the download: {e}")))?;
    }
    Ok(())
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
    fn redirects_stay_on_the_same_host_and_never_downgrade() {
        let u = |s: &str| Url::parse(s).unwrap();
        let first = u("https://releases.example/stable/manifest.json");
        for (to, followed) in [
            ("https://releases.example/v2/manifest.json", true),
            ("https://releases.example:443/m.json", true),
            ("https://RELEASES.example/m.json", true),
            ("http://releases.example/m.json", false),
            ("https://releases.example:8443/m.json", false),
            ("https://cdn.example/m.json", false),
            ("https://releases.example.evil.com/m.json", false),
            ("https://169.254.169.254/latest/meta-data", false),
            ("file:///etc/passwd", false),
        ] {
            let got = redirect_refusal(&first, &first, &u(to));
            assert_eq!(got.is_none(), followed, "{to}: {got:?}");
        }
        // loopback http (tests, local release servers): same host and port only
        let local = u("http://127.0.0.1:8080/m.json");
        assert!(redirect_refusal(&local, &local, &u("http://127.0.0.1:8080/x")).is_none());
        for other in [
            "http://localhost:8080/x",
            "http://127.0.0.2:8080/x",
            "http://127.0.0.1:8081/x",
        ] {
            let why = redirect_refusal(&local, &local, &u(other)).unwrap();
            assert!(why.contains("same host and port"), "{other}: {why}");
        }
        // a hop that went to https may not come back to http
        let hop = u("https://127.0.0.1:8080/x");
        let why = redirect_refusal(&local, &hop, &u("http://127.0.0.1:8080/y")).unwrap();
        assert!(why.contains("downgrades https to http"), "{why}");
    }

    /// IP-literal hosts get the providers' SSRF decision before any
    /// request (these addresses are never connected to).
    #[test]
    fn update_fetches_apply_the_ssrf_guard() {
        let default = SsrfPolicy::default();
        for bad in [
            "https://169.254.169.254/m.json",
            "https://[::ffff:169.254.169.254]/m.json",
            "https://[64:ff9b::a9fe:a9fe]/m.json",
            "https://[2002:a9fe:a9fe::1]/m.json",
            "https://0.0.0.0/m.json",
            "https://10.0.0.1/m.json",
            "https://[fd00::1]/m.json",
        ] {
            let url = Url::parse(bad).unwrap();
            let why = literal_refusal(&url, &default).unwrap();
            assert!(why.contains("SSRF"), "{bad}: {why}");
            let e = small(&url, 1024, &default).unwrap_err().to_string();
            assert!(e.contains("refused by the SSRF guard"), "{bad}: {e}");
        }
        for good in [
            "http://127.0.0.1:1/m.json",
            "https://[::1]/m.json",
            "https://releases.example/m.json",
        ] {
            assert_eq!(
                literal_refusal(&Url::parse(good).unwrap(), &default),
                None,
                "{good}"
            );
        }
        // the running config's allow list is the one applied
        let lan = SsrfPolicy {
            allow_private: vec![ssrf::Cidr::parse("10.0.0.0/8").unwrap()],
        };
        let url = Url::parse("https://10.0.0.1/m.json").unwrap();
        assert_eq!(literal_refusal(&url, &lan), None);
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
