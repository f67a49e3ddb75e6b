//! Shared test helpers: [`TestGateway`], the one way a test starts the
//! gateway in-process (on 127.0.0.1:0, with a config written against real
//! fake upstreams, capturing its telemetry events); [`aigw::Aigw`] for the
//! binary as a child process; config snippets and body helpers.
#![allow(dead_code)]

pub mod aigw;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_core::config::Config;
use gateway_core::secrets::admin::AdminTokens;
use gateway_core::telemetry::{RequestEvent, TelemetrySink};
use gateway_core::{GatewayHandle, GatewayOptions};
use serde_json::{Value, json};
use testkit::FakeUpstream;

/// A secret in the test's private Secret Service under `name` plus this
/// process's id, removed on drop. `None` (the test skips, saying why)
/// unless AIGW_TEST_KEYRING=1 (rt.sh and scripts/test.sh run one).
pub struct KeychainEntry(pub String);

impl KeychainEntry {
    pub fn set(name: &str, value: &str) -> Option<Self> {
        if std::env::var("AIGW_TEST_KEYRING").as_deref() != Ok("1") {
            eprintln!("skipped: AIGW_TEST_KEYRING != 1 (run through rt.sh / scripts/test.sh)");
            return None;
        }
        let name = format!("{name}-{}", std::process::id());
        gateway_core::secrets::keychain_set(&name, value).unwrap();
        Some(Self(name))
    }
}

impl Drop for KeychainEntry {
    fn drop(&mut self) {
        let _ = gateway_core::secrets::keychain_delete(&self.0);
    }
}

#[derive(Debug, Default)]
pub struct Capture(pub Mutex<Vec<RequestEvent>>);

impl TelemetrySink for Capture {
    fn record(&self, e: RequestEvent) {
        self.0.lock().unwrap().push(e);
    }
}

impl Capture {
    pub fn events(&self) -> Vec<RequestEvent> {
        self.0.lock().unwrap().clone()
    }
    /// Waits for `n` events (streams record theirs when they end).
    pub async fn wait(&self, n: usize) -> Vec<RequestEvent> {
        for _ in 0..500 {
            let ev = self.events();
            if ev.len() >= n {
                return ev;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} telemetry events, got {:?}", self.events());
    }
}

/// An in-process gateway on 127.0.0.1:0: the handle, its base URL, a client,
/// its admin tokens, the request events it recorded, and the temp dir (data
/// dir and config file) it owns. [`TestGateway::start`] for a gateway from a
/// config alone, [`TestGateway::builder`] for the rest. Dropping it stops
/// the server. Test files add helpers of their own in `impl TestGateway`.
pub struct TestGateway {
    pub handle: GatewayHandle,
    pub url: String,
    pub http: reqwest::Client,
    pub capture: Arc<Capture>,
    /// Ephemeral tokens (never the keychain), also with a data dir.
    pub tokens: AdminTokens,
    data_dir: Option<PathBuf>,
    config_path: Option<PathBuf>,
    dir: Option<tempfile::TempDir>,
}

/// Where a [`TestGateway`] keeps its files.
enum Files {
    /// Nothing on disk: in-memory store, no request log.
    None,
    /// A temp dir of its own: `DIR/data`, and `DIR/config.toml` (written
    /// with the config) if `config_file`.
    Temp { config_file: bool },
    /// `DIR/data` and `DIR/config.toml` in the caller's dir (which the
    /// caller writes, or leaves to a publish to create).
    In(PathBuf),
}

pub struct TestGatewayBuilder {
    toml: String,
    files: Files,
    watch_interval: Option<Duration>,
    serve_threads: usize,
    clients: Option<gateway_core::clients::Clients>,
}

impl TestGateway {
    /// A gateway serving `toml`, without files.
    pub async fn start(toml: &str) -> TestGateway {
        TestGateway::builder(toml).start().await
    }

    pub fn builder(toml: &str) -> TestGatewayBuilder {
        TestGatewayBuilder {
            toml: toml.to_owned(),
            files: Files::None,
            watch_interval: None,
            serve_threads: 0,
            clients: None,
        }
    }

    pub async fn chat(&self, body: &Value) -> reqwest::Response {
        self.post("/v1/chat/completions", body).await
    }

    /// A plain chat request for model `m` of session `sid`, named by the
    /// session header `header`.
    pub async fn chat_in_session(&self, header: &str, sid: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/chat/completions", self.url))
            .header(header, sid)
            .json(&chat_body("m", false))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub fn admin_token(&self) -> &str {
        self.tokens.admin.expose()
    }

    /// `METHOD /admin/api{path}` as the admin: status and JSON body (null
    /// if it is not JSON).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.admin_as(self.admin_token(), method, path, body).await
    }

    /// [`Self::admin`] with another bearer token (the viewer's, a wrong one).
    pub async fn admin_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}/admin/api{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// `GET /admin/api{path}` with the viewer token.
    pub async fn viewer_get(&self, path: &str) -> (u16, Value) {
        let viewer = self.tokens.viewer.expose();
        self.admin_as(viewer, reqwest::Method::GET, path, None)
            .await
    }

    /// `POST /admin/api{path}` with the viewer token.
    pub async fn viewer_post(&self, path: &str, body: Value) -> (u16, Value) {
        let viewer = self.tokens.viewer.expose();
        self.admin_as(viewer, reqwest::Method::POST, path, Some(body))
            .await
    }

    /// `GET /metrics` (open on a loopback listener), as text.
    pub async fn metrics_text(&self) -> String {
        let r = self.http.get(format!("{}/metrics", self.url)).send().await;
        r.unwrap().text().await.unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        self.admin(reqwest::Method::GET, path, None).await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> (u16, Value) {
        self.admin(reqwest::Method::POST, path, Some(body)).await
    }

    /// The data dir (the gateway must have one).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.as_deref().expect("a gateway with a data dir")
    }

    /// The config file (the gateway must have one).
    pub fn config_path(&self) -> &Path {
        self.config_path
            .as_deref()
            .expect("a gateway with a config file")
    }

    /// Stops the gateway and waits for it (in-flight requests end, the
    /// request log is flushed); hands back its temp dir, if it has one, to
    /// read what it left there.
    pub async fn shutdown(self) -> Option<tempfile::TempDir> {
        self.handle.shutdown().await;
        self.dir
    }
}

impl TestGatewayBuilder {
    /// A data dir in a temp dir of its own (`DIR/data`).
    pub fn data_dir(mut self) -> Self {
        if matches!(self.files, Files::None) {
            self.files = Files::Temp { config_file: false };
        }
        self
    }

    /// Also the config written to `DIR/config.toml` of its temp dir, which
    /// publishes write and whose hand edits it picks up.
    pub fn config_file(mut self) -> Self {
        self.files = Files::Temp { config_file: true };
        self
    }

    /// `dir/data` and `dir/config.toml` in `dir`, which the caller keeps
    /// (e.g. to restart a gateway over the same files).
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.files = Files::In(dir.to_path_buf());
        self
    }

    /// How often the config file is checked for hand edits (default 1 s).
    pub fn watch_interval(mut self, every: Duration) -> Self {
        self.watch_interval = Some(every);
        self
    }

    /// Client connections on `n` dedicated threads (`0`, the default:
    /// on the test's runtime).
    pub fn serve_threads(mut self, n: usize) -> Self {
        self.serve_threads = n;
        self
    }

    /// "Connect tools" on this home dir and state dir (never the real
    /// `$HOME`).
    pub fn clients(mut self, c: gateway_core::clients::Clients) -> Self {
        self.clients = Some(c);
        self
    }

    pub async fn start(self) -> TestGateway {
        let toml = &self.toml;
        let config = Config::parse(toml, "test.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let (dir, root, config_file) = match self.files {
            Files::None => (None, None, false),
            Files::Temp { config_file } => {
                let dir = tempfile::tempdir().unwrap();
                let root = dir.path().to_path_buf();
                (Some(dir), Some(root), config_file)
            }
            Files::In(root) => (None, Some(root), true),
        };
        let data_dir = root.as_ref().map(|r| r.join("data"));
        let config_path = root
            .as_ref()
            .filter(|_| config_file)
            .map(|r| r.join("config.toml"));
        if let (Some(path), Some(_)) = (&config_path, &dir) {
            std::fs::write(path, toml).unwrap();
        }
        let capture = Arc::new(Capture::default());
        let tokens = AdminTokens::ephemeral();
        let mut opts = GatewayOptions::new(config);
        opts.listen = Some("127.0.0.1:0".parse().unwrap());
        opts.telemetry = Some(capture.clone());
        opts.admin_tokens = Some(tokens.clone());
        opts.data_dir = data_dir.clone();
        opts.config_path = config_path.clone();
        if let Some(every) = self.watch_interval {
            opts.watch_interval = every;
        }
        opts.serve_threads = self.serve_threads;
        opts.clients = self.clients;
        let handle = gateway_core::start(opts).await.unwrap();
        TestGateway {
            url: handle.base_url(),
            handle,
            http: reqwest::Client::new(),
            capture,
            tokens,
            data_dir,
            config_path,
            dir,
        }
    }
}

/// A `[[providers]]` table for a fake upstream.
pub fn provider(up: &FakeUpstream, extra: &str) -> String {
    format!(
        "[[providers]]\nname = \"{}\"\nkind = \"openai\"\nbase_url = \"{}\"\n{extra}\n",
        up.name(),
        up.base_url()
    )
}

/// A route over `targets`: `(provider, Some(model))`.
pub fn route(model: &str, extra: &str, targets: &[(&str, Option<&str>)]) -> String {
    let mut s = format!("[[routes]]\nmodel = \"{model}\"\n{extra}\n");
    for (p, m) in targets {
        s.push_str(&format!("[[routes.targets]]\nprovider = \"{p}\"\n"));
        if let Some(m) = m {
            s.push_str(&format!("model = \"{m}\"\n"));
        }
    }
    s
}

pub fn chat_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
    })
}

pub fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("missing header {name}: {:?}", resp.headers()))
}

/// Concatenated `choices[0].delta.content` of an SSE body.
pub fn streamed_text(body: &str) -> String {
    testkit::parse_sse(body)
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// Two upstreams and a gateway routing `gpt-4o-mini` to primary, then to
/// backup with the model rewritten.
pub async fn pair(route_extra: &str) -> (FakeUpstream, FakeUpstream, TestGateway) {
    let primary = FakeUpstream::start("primary").await;
    let backup = FakeUpstream::start("backup").await;
    let toml = format!(
        "{}{}{}",
        provider(&primary, "timeout_s = 2"),
        provider(&backup, "timeout_s = 2"),
        route(
            "gpt-4o-mini",
            route_extra,
            &[("primary", None), ("backup", Some("llama-3.1-8b"))]
        )
    );
    let gw = TestGateway::start(&toml).await;
    (primary, backup, gw)
}
