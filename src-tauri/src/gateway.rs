//! The in-process gateway: where its settings come from (the same config
//! file, data dir and `AIGW_*` variables as `aigw serve`), starting it,
//! what state it is in, and the few things the tray and the window do to it.
//!
//! The window reaches the admin API through [`GatewayHost::admin_request`]:
//! the gateway's own axum router, called in-process with the admin token, so
//! the token never reaches the web page.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use gateway_core::clients::service::{self as clients, ConnectRequest};
use gateway_core::clients::{ClientError, ClientInfo, ClientOutcome, Tool};
use gateway_core::config::{Paths, ensure_config_file, parse_listen};
use gateway_core::lifecycle::{LifecycleError, Published};
use gateway_core::secrets::Secret;
use gateway_core::secrets::admin::AdminTokens;
use gateway_core::server::{AppState, StartError};
use gateway_core::sync::LockExt;
use gateway_core::{GatewayHandle, GatewayOptions};
use http::{Method, Request, header};
use http_body_util::BodyExt;
use serde::Serialize;
use serde_json::Value;
use tower::ServiceExt;

/// Where the gateway's config and data live and what it listens on.
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub paths: Paths,
    /// Overrides `server.listen` (`AIGW_LISTEN`; tests pass port 0).
    pub listen: Option<SocketAddr>,
    /// Admin tokens to use; `None` = the keychain (as `aigw serve` does), so
    /// `aigw config …` on the same machine can talk to this gateway.
    pub admin_tokens: Option<AdminTokens>,
    /// Threads serving client connections (`AIGW_THREADS`; default one per
    /// core), as for `aigw serve --threads`.
    pub serve_threads: usize,
}

impl HostOptions {
    /// `AIGW_CONFIG`, `AIGW_DATA_DIR`, `AIGW_LISTEN` and `AIGW_THREADS`, as
    /// `aigw serve` reads them; unset or empty = the OS defaults, the
    /// config's `server.listen` and one serving thread per core.
    pub fn from_env() -> Result<Self, Failure> {
        let path = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let paths = Paths::resolve(path("AIGW_CONFIG"), path("AIGW_DATA_DIR"))
            .map_err(|e| Failure::new(FailureKind::Other, format!("{e:#}")))?;
        let listen = match std::env::var("AIGW_LISTEN") {
            Ok(l) if !l.trim().is_empty() => Some(parse_listen(l.trim()).ok_or_else(|| {
                Failure::new(
                    FailureKind::InvalidConfig,
                    format!("AIGW_LISTEN={l:?} is not an address like 127.0.0.1:4000"),
                )
            })?),
            _ => None,
        };
        let serve_threads = match std::env::var("AIGW_THREADS") {
            Ok(t) if !t.trim().is_empty() => t
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| {
                    Failure::new(
                        FailureKind::InvalidConfig,
                        format!("AIGW_THREADS={t:?} is not a number of threads from 1 to 256"),
                    )
                })?,
            _ => gateway_core::server::default_serve_threads(),
        };
        Ok(Self {
            paths,
            listen,
            admin_tokens: None,
            serve_threads,
        })
    }
}

/// Why the gateway is not running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Another program listens on the address.
    PortInUse,
    /// The config file (or `AIGW_LISTEN`) is invalid.
    InvalidConfig,
    Other,
}

impl Failure {
    fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    fn from_start(e: &StartError) -> Self {
        match e {
            StartError::Bind { addr, source, .. }
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                Self::new(
                    FailureKind::PortInUse,
                    format!(
                        "{addr} is already in use. Is another AI Model Gateway (or `aigw serve`) running? \
                     Stop it and choose Retry, or set server.listen (or AIGW_LISTEN) to another address."
                    ),
                )
            }
            other => Self::new(FailureKind::Other, other.to_string()),
        }
    }
}

/// The gateway's state as the tray and the window show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Starting,
    Running,
    Paused,
    Error,
    Stopping,
    Stopped,
}

/// A snapshot of the host, for the tray menu and `desktop_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostStatus {
    pub state: RunState,
    /// The address actually bound.
    pub listen: Option<SocketAddr>,
    /// `http://ADDR/v1`, what clients are pointed at.
    pub endpoint: Option<String>,
    pub error: Option<Failure>,
    /// Routing profiles of the live config, and the active one (`None` =
    /// the top-level routes).
    pub profiles: Vec<String>,
    pub active_profile: Option<String>,
    pub config_version: Option<i64>,
    /// Set when the config file is invalid and the gateway serves the last
    /// good (committed) version instead: why, with file:line.
    pub config_file_error: Option<String>,
    pub config_path: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
}

/// The answer of an in-process admin API call: HTTP status and JSON body
/// (a non-JSON body comes as a string, an empty one as `null`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminResponse {
    pub status: u16,
    pub body: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the gateway is not running: {0}")]
    NotRunning(String),
    #[error("{0}")]
    Lifecycle(#[from] LifecycleError),
    #[error("the admin API answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("{0}")]
    Client(#[from] ClientError),
}

impl HostError {
    /// A stable code for the `{code, message}` the window receives.
    pub fn code(&self) -> &'static str {
        match self {
            HostError::BadRequest(_) => "invalid_request",
            HostError::NotRunning(_) => "gateway_not_running",
            HostError::Lifecycle(LifecycleError::Invalid(_)) => "invalid_config",
            HostError::Lifecycle(LifecycleError::Conflict { .. }) => "version_conflict",
            HostError::Lifecycle(_) => "config_error",
            HostError::Api { .. } => "admin_api_error",
            HostError::Client(_) => "client_error",
        }
    }
}

struct Running {
    handle: GatewayHandle,
    router: axum::Router,
    admin_token: Secret,
}

enum Slot {
    Stopped,
    Starting,
    Running(Running),
    Failed(Failure),
    Stopping,
}

/// How often a failed gateway is started again on the window's behalf.
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Owns the in-process gateway; managed as Tauri state.
pub struct GatewayHost {
    options: Result<HostOptions, Failure>,
    slot: Mutex<Slot>,
    last_start: Mutex<Option<Instant>>,
}

impl GatewayHost {
    pub fn new(options: HostOptions) -> Self {
        Self::with(Ok(options))
    }

    /// From the environment, like `aigw serve`; a bad variable becomes the
    /// error the window and tray show.
    pub fn from_env() -> Self {
        Self::with(HostOptions::from_env())
    }

    fn with(options: Result<HostOptions, Failure>) -> Self {
        Self {
            options,
            slot: Mutex::new(Slot::Stopped),
            last_start: Mutex::new(None),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock_or_recover()
    }

    /// Loads the config (creating the default on first run) and starts the
    /// gateway. Does nothing when it already runs. A failure is kept and
    /// shown (`status().error`) until the next start.
    pub async fn start(&self) -> Result<SocketAddr, Failure> {
        {
            let mut slot = self.slot();
            match &*slot {
                Slot::Running(r) => return Ok(r.handle.local_addr()),
                Slot::Starting | Slot::Stopping => {
                    return Err(Failure::new(
                        FailureKind::Other,
                        "the gateway is starting or stopping",
                    ));
                }
                Slot::Stopped | Slot::Failed(_) => *slot = Slot::Starting,
            }
        }
        *self.last_start.lock_or_recover() = Some(Instant::now());
        let result = self.start_inner().await;
        let mut slot = self.slot();
        match result {
            Ok(running) => {
                let addr = running.handle.local_addr();
                *slot = Slot::Running(running);
                Ok(addr)
            }
            Err(f) => {
                tracing::error!("gateway not started: {}", f.message);
                *slot = Slot::Failed(f.clone());
                Err(f)
            }
        }
    }

    async fn start_inner(&self) -> Result<Running, Failure> {
        let opts = self.options.clone()?;
        let config_file = &opts.paths.config_file;
        match ensure_config_file(config_file) {
            Ok(true) => tracing::info!("created default config at {}", config_file.display()),
            Ok(false) => {}
            Err(e) => {
                return Err(Failure::new(
                    FailureKind::Other,
                    format!("cannot create {}: {e}", config_file.display()),
                ));
            }
        }
        // An invalid file with a committed version in the store: that
        // version serves, and the status reports the file's error.
        let startup = gateway_core::lifecycle::load_for_start(config_file, &opts.paths.data_dir)
            .map_err(|e| Failure::new(FailureKind::InvalidConfig, e.to_string()))?;
        if let Some((e, version)) = &startup.file_rejected {
            tracing::error!(
                "{} is invalid, serving the last committed version {version}: {e}",
                config_file.display()
            );
        }
        let config = startup.config;
        for w in &config.warnings {
            tracing::warn!(
                "{}",
                gateway_core::config::format_issue(&config_file.display().to_string(), w)
            );
        }
        let gw_opts = GatewayOptions {
            data_dir: Some(opts.paths.data_dir.clone()),
            listen: opts.listen,
            config_path: Some(config_file.clone()),
            admin_tokens: opts.admin_tokens,
            update_host: gateway_core::update::host::UpdateHost::DESKTOP,
            serve_threads: opts.serve_threads,
            ..GatewayOptions::new(config)
        };
        let handle = gateway_core::start(gw_opts)
            .await
            .map_err(|e| Failure::from_start(&e))?;
        let state = handle.state().clone();
        Ok(Running {
            router: gateway_core::api::router(state.clone()),
            admin_token: state.admin_tokens.admin.clone(),
            handle,
        })
    }

    /// After a failed start, starts again (at most every 2 s): the window's
    /// "Try again" then recovers once the port is free or the config file is
    /// fixed. Returns whether it started now.
    pub async fn retry_if_failed(&self) -> bool {
        if !matches!(&*self.slot(), Slot::Failed(_)) {
            return false;
        }
        let recent = self
            .last_start
            .lock_or_recover()
            .is_some_and(|t| t.elapsed() < RETRY_EVERY);
        !recent && self.start().await.is_ok()
    }

    /// The running gateway's state, or why there is none.
    pub fn app_state(&self) -> Result<Arc<AppState>, HostError> {
        match &*self.slot() {
            Slot::Running(r) => Ok(r.handle.state().clone()),
            other => Err(HostError::NotRunning(Self::why_not(other))),
        }
    }

    fn why_not(slot: &Slot) -> String {
        match slot {
            Slot::Failed(f) => f.message.clone(),
            Slot::Starting => "it is starting".into(),
            Slot::Stopping => "it is stopping".into(),
            Slot::Stopped | Slot::Running(_) => "it is stopped".into(),
        }
    }

    pub fn status(&self) -> HostStatus {
        let slot = self.slot();
        let paths = self.options.as_ref().ok().map(|o| &o.paths);
        let mut s = HostStatus {
            state: RunState::Stopped,
            listen: None,
            endpoint: None,
            error: None,
            profiles: Vec::new(),
            active_profile: None,
            config_version: None,
            config_file_error: None,
            config_path: paths.map(|p| p.config_file.clone()),
            data_dir: paths.map(|p| p.data_dir.clone()),
        };
        match &*slot {
            Slot::Running(r) => {
                let st = r.handle.state();
                let rt = st.runtime.load();
                let paused = st.paused.load(std::sync::atomic::Ordering::SeqCst);
                s.state = if paused {
                    RunState::Paused
                } else {
                    RunState::Running
                };
                s.listen = Some(st.listen);
                s.endpoint = Some(format!("http://{}/v1", st.listen));
                s.profiles = rt.config.profiles.clone();
                s.active_profile = rt.config.active_profile.clone();
                s.config_version = Some(st.lifecycle.live_version().id);
                s.config_file_error = st.lifecycle.file_error();
            }
            Slot::Failed(f) => {
                s.state = RunState::Error;
                s.error = Some(f.clone());
            }
            Slot::Starting => s.state = RunState::Starting,
            Slot::Stopping => s.state = RunState::Stopping,
            Slot::Stopped => {}
        }
        s
    }

    /// Calls the admin API in-process with the admin token. `path` is the
    /// gateway path (e.g. `/admin/api/status`, query string allowed). When
    /// the gateway is not running the answer is a 503 in the API's error
    /// shape, so the window shows it like any other API error.
    pub async fn admin_request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<AdminResponse, HostError> {
        let method = Method::from_bytes(method.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| HostError::BadRequest(format!("{method:?} is not an HTTP method")))?;
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(HostError::BadRequest(format!(
                "path {path:?} must be a gateway path such as /admin/api/status"
            )));
        }
        let (router, token) = match &*self.slot() {
            Slot::Running(r) => (r.router.clone(), r.admin_token.clone()),
            other => {
                return Ok(AdminResponse {
                    status: 503,
                    body: serde_json::json!({"error": {
                        "message": format!("the gateway is not running: {}", Self::why_not(other)),
                        "type": "gateway_unavailable",
                        "code": "gateway_not_running",
                    }}),
                });
            }
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1")
            .header(header::AUTHORIZATION, format!("Bearer {}", token.expose()));
        let payload = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(
                    serde_json::to_vec(&v).map_err(|e| HostError::BadRequest(e.to_string()))?,
                )
            }
            None => Body::empty(),
        };
        let mut req = req
            .body(payload)
            .map_err(|e| HostError::BadRequest(format!("bad request {path:?}: {e}")))?;
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))));
        let resp = match router.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| HostError::Api {
                status,
                message: e.to_string(),
            })?
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(AdminResponse { status, body })
    }

    /// Pause (client requests get 503 until resumed) or resume, through the
    /// admin API like any other operator action (audited).
    pub async fn set_paused(&self, paused: bool) -> Result<(), HostError> {
        let r = self
            .admin_request(
                "POST",
                "/admin/api/pause",
                Some(serde_json::json!({ "paused": paused })),
            )
            .await?;
        if r.status == 200 {
            Ok(())
        } else if r.status == 503 {
            Err(HostError::NotRunning(api_message(&r.body)))
        } else {
            Err(HostError::Api {
                status: r.status,
                message: api_message(&r.body),
            })
        }
    }

    /// Switches the routing profile (`None` = the top-level routes): a
    /// publish like any other, validated, versioned and audited as `actor`.
    pub async fn switch_profile(
        &self,
        profile: Option<&str>,
        actor: &str,
    ) -> Result<Published, HostError> {
        let state = self.app_state()?;
        let published = state
            .lifecycle
            .switch_profile(&|c| state.apply(c), profile, actor)
            .await?;
        Ok(published)
    }

    /// The coding agents and their state (Connect tools), as `GET
    /// /admin/api/clients` lists them.
    pub async fn clients(&self) -> Result<Vec<ClientInfo>, HostError> {
        let state = self.app_state()?;
        Ok(clients::list(&state).await?)
    }

    /// Connects (`connect`) or disconnects the tool `name` through the same
    /// domain functions as the admin API (files, backups, client key,
    /// routing-loop check), audited as `actor` with source `tray`.
    pub async fn set_tool_connected(
        &self,
        name: &str,
        connect: bool,
        actor: &str,
    ) -> Result<ClientOutcome, HostError> {
        let state = self.app_state()?;
        let tool = Tool::parse(name).ok_or_else(|| ClientError::Unknown(name.to_owned()))?;
        let out = if connect {
            clients::connect(&state, tool, ConnectRequest::default(), actor, "tray").await?
        } else {
            clients::disconnect(&state, tool, actor).await?
        };
        Ok(out)
    }

    /// Stops the gateway gracefully: stops accepting, lets in-flight requests
    /// finish (up to `server.shutdown_grace_s`), waits for its tasks.
    pub async fn shutdown(&self) {
        let running = {
            let mut slot = self.slot();
            match std::mem::replace(&mut *slot, Slot::Stopping) {
                Slot::Running(r) => Some(r),
                other => {
                    *slot = other;
                    None
                }
            }
        };
        if let Some(r) = running {
            tracing::info!("stopping the gateway: finishing in-flight requests");
            drop(r.router);
            r.handle.shutdown().await;
            *self.slot() = Slot::Stopped;
            tracing::info!("gateway stopped");
        }
    }
}

/// `error.message` of an API error body, else the body as text.
fn api_message(body: &Value) -> String {
    body.pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string())
}
