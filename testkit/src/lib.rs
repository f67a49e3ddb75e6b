//! Fake OpenAI-compatible upstream servers for integration tests and demos.
//! Each one also speaks Anthropic Messages on `POST /v1/messages` (same
//! behaviors, Anthropic shapes), so one fake can stand in for either kind
//! of provider.
//!
//! Each [`FakeUpstream`] is a real HTTP server (axum on hyper) bound on
//! `127.0.0.1:0` and served from a background tokio task. Its behavior is
//! scripted per request with [`Behavior`]s (a FIFO queue plus a default), and
//! every request it receives is recorded for assertions.
//!
//! ```no_run
//! # async fn demo() {
//! use testkit::{Behavior, FakeUpstream};
//! let up = FakeUpstream::start("alpha").await;
//! up.push(Behavior::Status { status: 429, retry_after: Some(1), body: None });
//! // point the gateway at up.base_url() ...
//! assert_eq!(up.request_count(), 0);
//! # }
//! ```

mod anthropic;
mod azure;
mod bedrock;
mod behavior;
mod frames;
mod gemini;
mod hostile;
mod postgres;
mod redis;
mod script;
mod server;
pub mod vertex;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use azure::{AZURE_VERSIONS, AzureReply, FakeAzure};
pub use bedrock::{AwsKeys, BedrockReply, FakeBedrock, frame as aws_event_frame};
pub use behavior::{Behavior, Hostile, Reply, ToolCallSpec};
pub use gemini::{FakeGemini, GeminiReply};
pub use postgres::{PG_DATABASE, PG_USER, PostgresServer};
pub use redis::RedisServer;
pub use script::{Script, ScriptRule, probe_model};
pub use vertex::FakeVertex;

/// The CA that issued [`FakeUpstream::start_tls`]'s certificate (PEM): point
/// `SSL_CERT_FILE` at a copy of it to make a client trust that upstream.
pub const TEST_CA_PEM: &str = include_str!("../tls/ca.pem");

/// One request received by a [`FakeUpstream`].
#[derive(Clone, Debug)]
pub struct Recorded {
    /// HTTP version (`HTTP/2.0` when a TLS client negotiated h2).
    pub version: http::Version,
    /// HTTP method, e.g. `"POST"`.
    pub method: String,
    /// Request path without the query string, e.g. `"/v1/chat/completions"`.
    pub path: String,
    /// The query string, without `?` (e.g. `beta=true`).
    pub query: Option<String>,
    /// All request headers as received.
    pub headers: http::HeaderMap,
    /// The full request body.
    pub body: bytes::Bytes,
}

impl Recorded {
    /// The body parsed as JSON (`Value::Null` when it is empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `"model"` field of a JSON body, if any.
    pub fn model(&self) -> Option<String> {
        self.json()
            .get("model")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    }

    /// A header value as a string (first value; `None` if absent or not visible ASCII).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Whether this is the model listing (`GET /v1/models`), which is not a proxied request.
    fn is_models_listing(&self) -> bool {
        self.method == "GET" && server::endpoint_of(&self.path) == Some("/models")
    }
}

/// Mutable state shared between the handle and the server task.
pub(crate) struct State {
    pub(crate) queue: VecDeque<Behavior>,
    pub(crate) default: Behavior,
    pub(crate) models: Vec<String>,
    pub(crate) required_key: Option<String>,
    pub(crate) count_tokens_status: Option<u16>,
    pub(crate) requests: Vec<Recorded>,
}

/// What `POST /v1/messages/count_tokens` answers: `{"input_tokens": COUNTED_TOKENS}`.
pub const COUNTED_TOKENS: u64 = 4242;

pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) state: Mutex<State>,
    pub(crate) cancelled: AtomicUsize,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A fake OpenAI-compatible upstream. Stops serving on [`FakeUpstream::shutdown`] or drop.
pub struct FakeUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// A duplicate of the listening socket, used to stop listening synchronously on shutdown.
    listener_dup: Option<std::net::TcpListener>,
    task: tokio::task::JoinHandle<()>,
    tls: bool,
}

impl std::fmt::Debug for FakeUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeUpstream")
            .field("name", &self.shared.name)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeUpstream {
    /// Bind `127.0.0.1:0` and serve in a background tokio task. `name` appears in generated content
    /// and in the `x-fake-upstream` response header.
    ///
    /// # Panics
    /// If no loopback port can be bound (the test cannot proceed anyway).
    pub async fn start(name: &str) -> FakeUpstream {
        Self::start_with(name, None)
    }

    /// Like [`FakeUpstream::start`], speaking HTTPS (HTTP/2 or 1.1 by ALPN)
    /// with a certificate for `localhost` and `127.0.0.1` issued by the test
    /// CA in [`TEST_CA_PEM`], which no system trusts.
    ///
    /// # Panics
    /// If no loopback port can be bound or the embedded certificate does not load.
    pub async fn start_tls(name: &str) -> FakeUpstream {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(include_bytes!("../tls/localhost.pem"))
            .collect::<Result<Vec<_>, _>>();
        let key = PrivateKeyDer::from_pem_slice(include_bytes!("../tls/localhost.key"));
        let config = match (certs, key) {
            (Ok(certs), Ok(key)) => rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key)),
            (Err(e), _) | (_, Err(e)) => panic!("testkit: test certificate: {e}"),
        };
        let mut config = match config {
            Ok(c) => c,
            Err(e) => panic!("testkit: TLS config: {e}"),
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Self::start_with(name, Some(acceptor))
    }

    fn start_with(name: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> FakeUpstream {
        let std_listener = match std::net::TcpListener::bind(("127.0.0.1", 0)) {
            Ok(l) => l,
            Err(e) => panic!("testkit: cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match std_listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("testkit: no local address: {e}"),
        };
        let listener_dup = std_listener.try_clone().ok();
        let listener = std_listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(std_listener));
        let listener = match listener {
            Ok(l) => l,
            Err(e) => panic!("testkit: cannot register listener with tokio: {e}"),
        };
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                default: Behavior::Ok,
                models: vec!["fake-model".to_owned()],
                required_key: None,
                count_tokens_status: None,
                requests: Vec::new(),
            }),
            cancelled: AtomicUsize::new(0),
        });
        let is_tls = tls.is_some();
        // A fake upstream's accept loop, not gateway work: FakeUpstream's Drop aborts it.
        #[allow(clippy::disallowed_methods)]
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared), tls));
        tracing::debug!(name, %addr, "fake upstream started");
        FakeUpstream {
            addr,
            shared,
            listener_dup,
            task,
            tls: is_tls,
        }
    }

    /// The bound address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1` (`https://localhost:PORT/v1` when started
    /// with [`FakeUpstream::start_tls`]).
    pub fn base_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}/v1", self.addr.port())
        } else {
            format!("http://{}/v1", self.addr)
        }
    }

    /// The name given to [`FakeUpstream::start`].
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Queue a behavior consumed by the next proxied request to a known endpoint
    /// (`POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/responses`,
    /// `/v1/messages`), FIFO.
    /// When the queue is empty the default behavior is used. Requests rejected for a missing or
    /// wrong API key (see [`FakeUpstream::set_required_key`]) do not consume a behavior.
    pub fn push(&self, b: Behavior) {
        self.shared.lock().queue.push_back(b);
    }

    /// Set the behavior used when the queue is empty (initially [`Behavior::Ok`]).
    pub fn set_default(&self, b: Behavior) {
        self.shared.lock().default = b;
    }

    /// Set the model ids served by `GET /v1/models` (initially `["fake-model"]`).
    pub fn set_models(&self, ids: &[&str]) {
        self.shared.lock().models = ids.iter().map(|s| (*s).to_owned()).collect();
    }

    /// When `Some`, every request without `Authorization: Bearer KEY` (or `x-api-key: KEY`) gets a
    /// 401 error (Anthropic-shaped on `/v1/messages`, else OpenAI-shaped).
    pub fn set_required_key(&self, key: Option<&str>) {
        self.shared.lock().required_key = key.map(str::to_owned);
    }

    /// `POST /v1/messages/count_tokens` answers this status with an Anthropic error body
    /// instead of `{"input_tokens": COUNTED_TOKENS}` (e.g. 404: an upstream without it).
    pub fn set_count_tokens_status(&self, status: Option<u16>) {
        self.shared.lock().count_tokens_status = status;
    }

    /// Every request received, in arrival order (including `GET /v1/models`).
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// All recorded requests except `GET /v1/models`.
    pub fn proxied_requests(&self) -> Vec<Recorded> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| !r.is_models_listing())
            .cloned()
            .collect()
    }

    /// Number of proxied requests (everything except `GET /v1/models`).
    pub fn request_count(&self) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| !r.is_models_listing())
            .count()
    }

    /// Streaming responses whose body was dropped (client went away) before the stream finished.
    pub fn cancelled_streams(&self) -> usize {
        self.shared.cancelled.load(Ordering::SeqCst)
    }

    /// Poll until `cancelled_streams() >= n`; `false` on timeout.
    pub async fn wait_cancelled(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.cancelled_streams() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stop serving: the port refuses new connections immediately and open connections
    /// (including hanging or streaming responses) are torn down. Also happens on drop.
    pub fn shutdown(self) {
        drop(self);
    }

    fn stop(&mut self) {
        if let Some(dup) = self.listener_dup.take() {
            // On Linux, shutting down a listening socket takes it out of the LISTEN state at once,
            // so the port refuses connections even before the aborted task is dropped.
            let _ = socket2::SockRef::from(&dup).shutdown(std::net::Shutdown::Both);
        }
        self.task.abort();
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback address that refuses connections: binds `127.0.0.1:0`, reads the address and
/// drops the listener.
///
/// # Panics
/// If no loopback port can be bound.
pub async fn refused_addr() -> SocketAddr {
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
        Ok(l) => l,
        Err(e) => panic!("testkit: cannot bind 127.0.0.1:0: {e}"),
    };
    match listener.local_addr() {
        Ok(a) => a,
        Err(e) => panic!("testkit: no local address: {e}"),
    }
}

/// The `data:` payloads of an SSE text, one per event (multi-line data joined with `\n`).
/// Events without data lines (comments, bare `event:` lines) are skipped.
pub fn parse_sse(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        if line.is_empty() {
            if let Some(data) = current.take() {
                out.push(data);
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("data:") else {
            continue;
        };
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        match current.as_mut() {
            Some(data) => {
                data.push('\n');
                data.push_str(rest);
            }
            None => current = Some(rest.to_owned()),
        }
    }
    if let Some(data) = current {
        out.push(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_sse;

    #[test]
    fn parse_sse_joins_and_skips() {
        let text = ": comment\n\nevent: x\ndata: a\ndata: b\n\ndata:{\"k\":1}\r\n\r\nevent: only\n\ndata: [DONE]";
        assert_eq!(parse_sse(text), vec!["a\nb", "{\"k\":1}", "[DONE]"]);
    }
}
