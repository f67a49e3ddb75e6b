//! Vertex AI's credential: a Google service account's JSON key (from a
//! `keyring:`/`env:` reference) signs a JWT (RS256, aws-lc-rs) that its
//! `token_uri` exchanges for an OAuth access token (the "JWT bearer" grant,
//! RFC 7523). The token is cached and fetched again [`REFRESH_EARLY`]
//! before it expires or when Vertex answers 401; one fetch at a time
//! (concurrent requests wait for it). Neither the private key nor a token
//! is ever logged or put in an error message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::{HeaderValue, Method, Uri, header};
use tokio::time::Instant;

use crate::ssrf::{self, SsrfPolicy};
use crate::upstream::{UpstreamClient, read_bounded};

/// Largest service-account JSON accepted (Google's are about 2.3 KB).
pub const MAX_SERVICE_ACCOUNT_BYTES: usize = 64 * 1024;
/// Largest token-endpoint answer read (Google's are under 2 KB).
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// A token is fetched again this long before it expires.
pub const REFRESH_EARLY: Duration = Duration::from_secs(300);
/// Longest `expires_in` believed (Google's tokens live one hour).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The lifetime asked of the JWT grant (Google's maximum).
const JWT_LIFETIME_S: u64 = 3600;
/// The OAuth scope Vertex AI needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The `token_uri` of a key that names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const GRANT_TYPE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

/// A parsed service-account key.
pub struct ServiceAccount {
    client_email: String,
    private_key_id: Option<String>,
    /// As written in the key (the JWT's `aud`).
    token_uri: String,
    token_url: Uri,
    key: KeyPair,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

impl ServiceAccount {
    /// Parses a service account's JSON key; the error says what is wrong
    /// with it and never quotes it.
    pub fn parse(json: &str) -> Result<Self, String> {
        if json.len() > MAX_SERVICE_ACCOUNT_BYTES {
            return Err(format!(
                "the service account JSON is larger than {MAX_SERVICE_ACCOUNT_BYTES} bytes"
            ));
        }
        let f: KeyFile = serde_json::from_str(json).map_err(|e| {
            format!(
                "the service account is not a JSON key file (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        if let Some(k) = f.kind.as_deref().filter(|k| *k != "service_account") {
            return Err(format!(
                "the JSON key is of type {k:?}, not \"service_account\" (create a key for a \
                 service account in the Cloud console: IAM → Service accounts → Keys)"
            ));
        }
        let client_email = f
            .client_email
            .filter(|e| !e.is_empty())
            .ok_or("the service account JSON has no client_email")?;
        let pem = f
            .private_key
            .ok_or("the service account JSON has no private_key")?;
        let key = private_key(&pem)?;
        let token_uri = f.token_uri.unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string());
        let token_url = token_url(&token_uri)?;
        Ok(Self {
            client_email,
            private_key_id: f.private_key_id,
            token_uri,
            token_url,
            key,
        })
    }

    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// The SSRF guard on `token_uri` when its host is an IP literal (names
    /// are checked when they resolve, as for every upstream).
    pub fn check_token_uri(&self, policy: &SsrfPolicy) -> Result<(), String> {
        let Some(host) = self.token_url.host() else {
            return Ok(());
        };
        match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
        {
            Ok(ip) => ssrf::check(ip, policy).map_err(|why| format!("token_uri: {why}")),
            Err(_) => Ok(()),
        }
    }

    /// The signed JWT asking for a token at `now` (seconds since the epoch).
    pub fn assertion(&self, now: u64) -> Result<String, String> {
        let mut head = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            head["kid"] = kid.as_str().into();
        }
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + JWT_LIFETIME_S,
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(head.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "signing the token request failed".to_string())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// The key of a `-----BEGIN PRIVATE KEY-----` (PKCS #8, what Google
/// issues) or `-----BEGIN RSA PRIVATE KEY-----` (PKCS #1) block.
fn private_key(pem: &str) -> Result<KeyPair, String> {
    let bad = || "the service account's private_key is not an RSA private key in PEM".to_string();
    let (label, rest) = pem
        .trim()
        .strip_prefix("-----BEGIN ")
        .and_then(|r| r.split_once("-----"))
        .ok_or_else(bad)?;
    let end = format!("-----END {label}-----");
    let body = rest.split(end.as_str()).next().ok_or_else(bad)?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(b64).map_err(|_| bad())?;
    let key = match label {
        "PRIVATE KEY" => KeyPair::from_pkcs8(&der),
        "RSA PRIVATE KEY" => KeyPair::from_der(&der),
        _ => return Err(bad()),
    };
    key.map_err(|_| bad())
}

/// `token_uri` as a URL: `https://`, or `http://` to a loopback host (tests,
/// a local token broker).
fn token_url(s: &str) -> Result<Uri, String> {
    let u: Uri = s
        .parse()
        .map_err(|_| format!("the service account's token_uri {s:?} is not a URL"))?;
    let loopback = u.host().is_some_and(|h| {
        h == "localhost"
            || h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    match u.scheme_str() {
        Some("https") if u.host().is_some() => Ok(u),
        Some("http") if loopback => Ok(u),
        _ => Err(format!(
            "the service account's token_uri {s:?} must be an https:// URL"
        )),
    }
}

#[derive(Clone)]
struct Cached {
    /// `Bearer …`, marked sensitive.
    bearer: HeaderValue,
    refresh_at: Instant,
}

/// The provider's current token, and the one fetch under way.
pub struct TokenCache {
    account: ServiceAccount,
    current: std::sync::Mutex<Option<Cached>>,
    /// Held while a token is fetched: who finds the token stale waits here,
    /// then looks again.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub fn new(account: ServiceAccount) -> Self {
        Self {
            account,
            current: std::sync::Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<HeaderValue> {
        let now = Instant::now();
        let cur = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cur.as_ref()
            .filter(|c| c.refresh_at > now)
            .map(|c| c.bearer.clone())
    }

    /// The `authorization` value to send: the cached token while it is
    /// fresh, else one fetched now (by one caller; the others wait for it).
    /// A token that came back with less than [`REFRESH_EARLY`] to live is
    /// used for this request and fetched again for the next.
    pub async fn bearer(&self, client: &UpstreamClient) -> Result<HeaderValue, String> {
        if let Some(b) = self.fresh() {
            return Ok(b);
        }
        let _turn = self.fetching.lock().await;
        if let Some(b) = self.fresh() {
            return Ok(b);
        }
        let got = self.fetch(client).await?;
        let bearer = got.bearer.clone();
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(got);
        Ok(bearer)
    }

    /// Vertex refused `used` (401): the next [`Self::bearer`] fetches a new
    /// token, unless another request has already replaced it.
    pub fn invalidate(&self, used: &HeaderValue) {
        let mut cur = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cur.as_ref().is_some_and(|c| c.bearer == used) {
            *cur = None;
        }
    }

    async fn fetch(&self, client: &UpstreamClient) -> Result<Cached, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let jwt = self.account.assertion(now)?;
        let body = format!("grant_type={GRANT_TYPE}&assertion={jwt}");
        let req = super::super::build_request(
            Method::POST,
            self.account.token_url.clone(),
            Bytes::from(body),
            [(
                &header::CONTENT_TYPE,
                &HeaderValue::from_static("application/x-www-form-urlencoded"),
            )],
        );
        let started = Instant::now();
        let resp = client.send(req).await.map_err(|e| {
            if e.connect {
                format!("cannot connect to the token endpoint: {e}")
            } else {
                format!("the token request failed: {e}")
            }
        })?;
        let status = resp.status();
        let body = read_bounded(resp, MAX_TOKEN_RESPONSE_BYTES)
            .await
            .map_err(|_| "the token endpoint's answer broke off or is too large".to_string())?;
        #[derive(serde::Deserialize)]
        struct Answer {
            access_token: Option<String>,
            expires_in: Option<u64>,
            error: Option<String>,
            error_description: Option<String>,
        }
        let a: Option<Answer> = serde_json::from_slice(&body).ok();
        if !status.is_success() {
            // OAuth errors name the problem (`invalid_grant: Invalid JWT
            // Signature.`); they carry no secret. Bounded, as are all messages.
            let why = a
                .and_then(|a| {
                    let e = a.error?;
                    Some(match a.error_description {
                        Some(d) => format!("{e}: {d}"),
                        None => e,
                    })
                })
                .map(|w| w.chars().take(200).collect::<String>())
                .unwrap_or_default();
            return Err(format!(
                "the token endpoint refused the service account {} ({status}{}{why})",
                self.account.client_email,
                if why.is_empty() { "" } else { ": " }
            ));
        }
        let a = a.ok_or("the token endpoint's answer is not JSON")?;
        let token = a
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or("the token endpoint's answer has no access_token")?;
        let bearer = super::super::secret_header(&format!("Bearer {token}"))
            .ok_or("the token endpoint's access_token is not a valid header value")?;
        let lifetime =
            Duration::from_secs(a.expires_in.unwrap_or(JWT_LIFETIME_S)).min(MAX_TOKEN_LIFETIME);
        Ok(Cached {
            bearer,
            refresh_at: started + lifetime.saturating_sub(REFRESH_EARLY),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    fn key_json(token_uri: &str) -> (String, Vec<u8>) {
        let k = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = k.as_der().unwrap();
        let b64 = STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        let json = serde_json::json!({"type": "service_account", "project_id": "p",
            "private_key_id": "kid1", "private_key": pem,
            "client_email": "gw@p.iam.gserviceaccount.com", "token_uri": token_uri});
        (json.to_string(), k.public_key().as_ref().to_vec())
    }

    #[test]
    fn signs_a_jwt_grant_google_can_verify() {
        let (json, public) = key_json("https://oauth2.googleapis.com/token");
        let sa = ServiceAccount::parse(&json).unwrap();
        assert!(!format!("{sa:?}").contains("BEGIN"));
        let jwt = sa.assertion(1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let head: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(head["alg"], "RS256");
        assert_eq!(head["kid"], "kid1");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "gw@p.iam.gserviceaccount.com");
        assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_003_600u64);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
            .verify(signed.as_bytes(), &sig)
            .unwrap();
        // A flipped byte does not verify.
        let mut bad = sig.clone();
        bad[0] ^= 1;
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
                .verify(signed.as_bytes(), &bad)
                .is_err()
        );
    }

    #[test]
    fn bad_keys_say_what_is_wrong_without_quoting_them() {
        let (json, _) = key_json("https://oauth2.googleapis.com/token");
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        for (field, value, says) in [
            ("type", "authorized_user", "not \"service_account\""),
            (
                "private_key",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                "not an RSA private key",
            ),
            (
                "token_uri",
                "http://oauth2.googleapis.com/token",
                "must be an https:// URL",
            ),
            ("token_uri", "ftp://x/token", "must be an https:// URL"),
        ] {
            let mut w = v.clone();
            w[field] = value.into();
            let e = ServiceAccount::parse(&w.to_string()).unwrap_err();
            assert!(e.contains(says), "{field}: {e}");
            assert!(!e.contains("BEGIN"), "{e}");
        }
        v.as_object_mut().unwrap().remove("client_email");
        assert!(
            ServiceAccount::parse(&v.to_string())
                .unwrap_err()
                .contains("client_email")
        );
        let e = ServiceAccount::parse("sk-not-json").unwrap_err();
        assert!(
            e.contains("not a JSON key file") && !e.contains("sk-"),
            "{e}"
        );
        let big = "x".repeat(MAX_SERVICE_ACCOUNT_BYTES + 1);
        assert!(
            ServiceAccount::parse(&big)
                .unwrap_err()
                .contains("larger than")
        );
        // Loopback over http is allowed (tests, a local broker); the SSRF
        // guard judges IP literals.
        let (json, _) = key_json("http://127.0.0.1:9/token");
        let sa = ServiceAccount::parse(&json).unwrap();
        sa.check_token_uri(&SsrfPolicy::default()).unwrap();
        let (json, _) = key_json("https://10.0.0.1/token");
        let sa = ServiceAccount::parse(&json).unwrap();
        assert!(
            sa.check_token_uri(&SsrfPolicy::default())
                .unwrap_err()
                .contains("SSRF")
        );
    }
}
