//! The upstream HTTP client: hyper-util's pooled client (HTTP/1.1 and, by
//! ALPN, HTTP/2) over rustls with the platform's certificate verifier,
//! resolving through the SSRF guard. Requests are built by the providers as
//! `http::Request<Bytes>` with their URIs parsed once, so a proxied request
//! costs no URL parsing, redirect bookkeeping or retry layer (reqwest spent
//! about 25k instructions per request on those; bench/README.md).
//!
//! When the environment names an HTTP proxy (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY`, upper or lower case), requests go through reqwest instead,
//! which implements proxies (CONNECT tunnels, `NO_PROXY`, proxy
//! credentials) in full.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderValue, Request, Response, header};
use http_body_util::{BodyDataStream, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::ssrf::GuardedResolver;
use crate::with_causes;

#[cfg(test)]
pub(crate) mod scripted;

type Direct = Client<hyper_rustls::HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>;

/// The product token: the `user-agent` of the gateway's own requests, and
/// appended to a client's it forwards.
pub const USER_AGENT: &str = concat!("aigw/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_IDLE: Duration = Duration::from_secs(90);
const POOL_MAX_IDLE_PER_HOST: usize = 256;
/// Cap on model lists and other small answers read whole (probes, doctor).
pub const MAX_LIST_BYTES: usize = 8 * 1024 * 1024;
/// The environment variables that name a proxy.
pub const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Pooled and keep-alive, with no per-request global timeout: each attempt
/// sets its own deadline and streams have an idle timeout. Cloning shares
/// the pool.
#[derive(Clone)]
pub struct UpstreamClient(Inner);

#[derive(Clone)]
enum Inner {
    Direct(Arc<Direct>),
    Proxied(reqwest::Client),
    #[cfg(test)]
    Scripted(scripted::Responder),
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Inner::Direct(_) => "UpstreamClient(direct)",
            Inner::Proxied(_) => "UpstreamClient(through the environment's proxy)",
            #[cfg(test)]
            Inner::Scripted(_) => "UpstreamClient(scripted)",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(String);

/// The environment variable naming a proxy, if one does.
pub fn proxy_from_env() -> Option<&'static str> {
    PROXY_VARS
        .into_iter()
        .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// The TLS settings every upstream client shares: TLS 1.2 and 1.3 with
/// aws-lc-rs, certificates checked by the platform verifier (the OS trust
/// store, as browsers do). Loading the roots is the costly part of building
/// a client, so it happens once per process.
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, BuildError> {
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| format!("cannot load the platform's TLS roots: {e}"))?;
            Ok(rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth())
        })
        .clone()
        .map_err(BuildError)
}

impl UpstreamClient {
    /// A client resolving through `resolver` (the SSRF guard), or through
    /// the environment's proxy when there is one.
    pub fn new(resolver: GuardedResolver) -> Result<Self, BuildError> {
        let tls = tls_config()?;
        if proxy_from_env().is_some() {
            let mut tls = tls;
            tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            let c = reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .dns_resolver(Arc::new(resolver))
                .user_agent(USER_AGENT)
                .connect_timeout(CONNECT_TIMEOUT)
                .pool_idle_timeout(POOL_IDLE)
                .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
                .tcp_nodelay(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| BuildError(format!("cannot build the HTTP client: {e}")))?;
            return Ok(Self(Inner::Proxied(c)));
        }
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let c = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .build(https);
        Ok(Self(Inner::Direct(Arc::new(c))))
    }

    /// Sends `req` (adding `user-agent: aigw/VERSION` when it has none) and
    /// returns once the response head has arrived.
    pub async fn send(&self, mut req: Request<Bytes>) -> Result<Response<UpstreamBody>, SendError> {
        req.headers_mut()
            .entry(header::USER_AGENT)
            .or_insert(HeaderValue::from_static(USER_AGENT));
        match &self.0 {
            Inner::Direct(c) => match c.request(req.map(Full::new)).await {
                Ok(r) => Ok(r.map(UpstreamBody::Direct)),
                Err(e) => Err(SendError {
                    connect: e.is_connect(),
                    message: with_causes(&e),
                }),
            },
            Inner::Proxied(c) => {
                let r = reqwest::Request::try_from(req.map(reqwest::Body::from))
                    .map_err(SendError::proxied)?;
                match c.execute(r).await {
                    Ok(r) => Ok(Response::from(r).map(UpstreamBody::Proxied)),
                    Err(e) => Err(SendError::proxied(e)),
                }
            }
            #[cfg(test)]
            Inner::Scripted(s) => s.send(req).await,
        }
    }
}

/// A request that got no response.
#[derive(Debug)]
pub struct SendError {
    /// No connection could be made (refused, unreachable, TLS handshake,
    /// DNS, the SSRF guard, connect timeout).
    pub connect: bool,
    message: String,
}

impl SendError {
    fn proxied(e: reqwest::Error) -> Self {
        Self {
            connect: e.is_connect(),
            message: without_url(&e),
        }
    }
}

/// reqwest errors embed the URL: keep messages short and stable.
fn without_url(e: &reqwest::Error) -> String {
    let mut message = with_causes(e);
    if let Some(u) = e.url() {
        message = message
            .replace(&format!(" ({u})"), "")
            .replace(u.as_str(), "<upstream>");
    }
    message
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A response body from either client.
#[derive(Debug)]
pub enum UpstreamBody {
    Direct(Incoming),
    Proxied(reqwest::Body),
    #[cfg(test)]
    Scripted(scripted::ScriptedBody),
}

/// Reading an upstream body failed (connection reset, malformed chunking…).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(String);

impl BodyError {
    fn from_error(e: &dyn std::error::Error) -> Self {
        Self(with_causes(e))
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Self::Direct(b) => Pin::new(b)
                .poll_frame(cx)
                .map_err(|e| BodyError::from_error(&e)),
            Self::Proxied(b) => Pin::new(b)
                .poll_frame(cx)
                .map_err(|e| BodyError(without_url(&e))),
            #[cfg(test)]
            Self::Scripted(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Direct(b) => b.is_end_stream(),
            Self::Proxied(b) => b.is_end_stream(),
            #[cfg(test)]
            Self::Scripted(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Direct(b) => b.size_hint(),
            Self::Proxied(b) => b.size_hint(),
            #[cfg(test)]
            Self::Scripted(b) => b.size_hint(),
        }
    }
}

impl UpstreamBody {
    /// At most `cap` bytes of the body; a read error ends it early.
    pub async fn read_capped(self, cap: usize) -> Bytes {
        let mut out = BytesMut::new();
        let mut s = self.into_stream();
        while let Some(Ok(chunk)) = s.next().await {
            let room = cap.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if out.len() >= cap {
                break;
            }
        }
        out.freeze()
    }

    /// The body's data frames as a stream.
    pub fn into_stream(self) -> BodyDataStream<Self> {
        BodyDataStream::new(self)
    }
}

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Over the cap (declared or counted).
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// The connection broke mid-body.
    #[error("{0}")]
    Broken(String),
}

/// The whole body of `resp`, refused once it passes `cap` bytes (a
/// declared `Content-Length` over the cap is refused before reading): a
/// hostile upstream must not fill memory.
pub async fn read_bounded(resp: Response<UpstreamBody>, cap: usize) -> Result<Bytes, ReadError> {
    let declared = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(ReadError::TooLarge(cap));
    }
    let mut s = resp.into_body().into_stream();
    let Some(first) = s.next().await else {
        return Ok(Bytes::new());
    };
    let first = first.map_err(|e| ReadError::Broken(e.to_string()))?;
    let Some(second) = s.next().await else {
        // The usual case: one frame, no copy.
        return if first.len() > cap {
            Err(ReadError::TooLarge(cap))
        } else {
            Ok(first)
        };
    };
    // The chunks are kept as they came and joined once at the end: a body
    // refused at the cap never held more than the cap.
    let mut total = first.len() + second.as_ref().map_or(0, |c| c.len());
    if total > cap {
        return Err(ReadError::TooLarge(cap));
    }
    let mut chunks = vec![first, second.map_err(|e| ReadError::Broken(e.to_string()))?];
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| ReadError::Broken(e.to_string()))?;
        total += chunk.len();
        if total > cap {
            return Err(ReadError::TooLarge(cap));
        }
        chunks.push(chunk);
    }
    let mut out = BytesMut::with_capacity(total);
    for c in chunks {
        out.extend_from_slice(&c);
    }
    Ok(out.freeze())
}
