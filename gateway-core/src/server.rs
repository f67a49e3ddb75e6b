//! Runtime state and the start handle. [`start`] binds, serves and returns a
//! [`GatewayHandle`]; hosts (the `aigw` binary, the desktop app, tests) keep
//! it and call [`GatewayHandle::shutdown`]. A config publish is
//! [`AppState::apply`]: build a new runtime, swap it atomically; requests in
//! flight finish on the one they started with.
//!
//! - `conn`: the accept loop, the connection cap and the timeouts of client
//!   connections.
//! - `tls`: TLS on the listener and the reload of its certificate files.

mod conn;
mod fdlimit;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::lifecycle::{ConfigManager, spawn_watcher};
use crate::routing::health::HealthRegistry;
use crate::routing::{Catalog, Runtime};
use crate::secrets::admin::AdminTokens;
use crate::ssrf::GuardedResolver;
use crate::store::ConfigStore;
use crate::telemetry::{LogSink, TelemetryHub, TelemetrySink};
use crate::upstream::UpstreamClient;

pub use crate::limits::connections::Connections;
pub use crate::state::AppState;

/// What a host passes to [`start`].
pub struct GatewayOptions {
    pub config: Config,
    /// Where SQLite and logs go (created 0700 if missing).
    pub data_dir: Option<PathBuf>,
    /// Overrides `server.listen` (flag / `AIGW_LISTEN`; tests pass port 0).
    pub listen: Option<SocketAddr>,
    /// Where request events go; defaults to a tracing line per request.
    pub telemetry: Option<Arc<dyn TelemetrySink>>,
    /// The config file: publishes write it, hand edits of it are picked up.
    pub config_path: Option<PathBuf>,
    /// Admin API tokens; default: the keychain (or a 0600 file) when there
    /// is a data dir, else fresh in-memory tokens.
    pub admin_tokens: Option<AdminTokens>,
    /// How often the config file is checked for hand edits.
    pub watch_interval: Duration,
    /// Which program hosts the gateway, for the admin API's updater
    /// (`aigw` by default; the desktop app says so and that it can restart).
    pub update_host: crate::update::host::UpdateHost,
    /// Client connections are served on this many dedicated threads, each
    /// running its own single-threaded runtime (a connection, its requests
    /// and their upstream calls then stay on one thread: no cross-thread
    /// wake-ups on the request path). `0` serves on the runtime `start` is
    /// called from (the default; tests and embedders). Background work
    /// (probes, the config watcher, the telemetry writer) always runs on
    /// the caller's runtime. See [`default_serve_threads`].
    pub serve_threads: usize,
    /// "Connect tools" over the admin API: whose home dir and which state
    /// dir; default `$HOME` and `<data_dir>/clients` when there is a data
    /// dir, else none (the API answers 503).
    pub clients: Option<crate::clients::Clients>,
}

impl GatewayOptions {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            data_dir: None,
            listen: None,
            telemetry: None,
            config_path: None,
            admin_tokens: None,
            watch_interval: Duration::from_secs(1),
            update_host: Default::default(),
            serve_threads: 0,
            clients: None,
        }
    }
}

/// One serving thread per core (what `aigw serve` and the desktop app use).
pub fn default_serve_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A running gateway. Dropping it stops the server (without waiting).
pub struct GatewayHandle {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: CancellationToken,
    server: Option<JoinHandle<()>>,
    tls: bool,
}

impl GatewayHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (`https://` on a TLS listener), for clients and tests.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting, lets in-flight requests finish (up to
    /// `server.shutdown_grace_s`), stops background tasks, and waits.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        self.join().await;
    }

    /// Waits until the server has stopped (after [`Self::shutdown_token`] is cancelled).
    pub async fn join(&mut self) {
        if let Some(h) = self.server.take()
            && let Err(e) = h.await
        {
            tracing::error!("server task failed: {e}");
        }
    }
}

/// How long a dropped handle waits for the server and its tasks beyond
/// the in-flight requests' grace.
const DROP_WAIT_EXTRA: Duration = Duration::from_secs(5);

impl Drop for GatewayHandle {
    /// Stops the server like [`GatewayHandle::shutdown`] and, on a
    /// multi-threaded runtime, waits for it and its background tasks (the
    /// log writer's last batch included) for at most the shutdown grace
    /// plus [`DROP_WAIT_EXTRA`]. A current-thread runtime cannot be blocked
    /// from inside: there the tasks finish on their own after the handle is
    /// gone; call `shutdown().await` to wait.
    fn drop(&mut self) {
        self.shutdown.cancel();
        let Some(server) = self.server.take() else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if rt.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return;
        }
        let limit = self.state.runtime.load().config.server.shutdown_grace + DROP_WAIT_EXTRA;
        tokio::task::block_in_place(|| {
            rt.block_on(async {
                if tokio::time::timeout(limit, server).await.is_err() {
                    tracing::warn!(
                        "the gateway did not stop within {limit:?} of its handle's drop"
                    );
                }
            })
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}{hint}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("cannot create data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build HTTP client: {0}")]
    Client(#[from] crate::upstream::BuildError),
    #[error("cannot open the config store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot set up admin tokens: {0}")]
    Tokens(std::io::Error),
    #[error("cannot load the virtual keys: {0}")]
    VirtualKeys(#[from] crate::vkeys::KeyError),
    #[error("{0}")]
    Postgres(#[from] crate::cluster::pg::PgError),
    #[error("cannot start serving threads: {0}")]
    Threads(std::io::Error),
    #[error("cannot serve TLS: {0}")]
    Tls(#[from] crate::config::TlsError),
}

/// An upstream client resolving through a default (loopback-allowing,
/// private-refusing) SSRF guard: for the CLI's probes.
pub fn http_client() -> Result<UpstreamClient, crate::upstream::BuildError> {
    UpstreamClient::new(GuardedResolver::default())
}

/// Pending connections the kernel queues for `accept` (capped by
/// `net.core.somaxconn`, 4,096 on current Linux). tokio's default is
/// 1,024: a burst of thousands of streams opened at once would overflow
/// it, and a dropped SYN waits a second for its retransmit.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` (`SO_REUSEADDR` on Unix, as tokio's `bind` does) and
/// listens with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Binds and starts serving.
pub async fn start(opts: GatewayOptions) -> Result<GatewayHandle, StartError> {
    if let Some(dir) = &opts.data_dir {
        crate::store::perms::private_dir(dir).map_err(|source| StartError::DataDir {
            path: dir.clone(),
            source,
        })?;
    }
    let addr = opts.listen.unwrap_or(opts.config.server.listen);
    let max_connections = opts.config.server.max_connections;
    if let Some(limit) = fdlimit::raise()
        && !fdlimit::enough_for(limit, max_connections)
    {
        tracing::warn!(
            "the open-file limit is {limit}: server.max_connections = {max_connections} needs about {} \
             (raise the hard limit: ulimit -Hn, LimitNOFILE= in a systemd unit)",
            fdlimit::needed(max_connections)
        );
    }
    let listener = listen(addr).map_err(|source| {
        let hint = if source.kind() == std::io::ErrorKind::AddrInUse {
            " (the port is taken: is another aigw running? use --listen to pick another)"
        } else {
            ""
        };
        StartError::Bind { addr, source, hint }
    })?;
    let local = listener.local_addr().map_err(|source| StartError::Bind {
        addr,
        source,
        hint: "",
    })?;
    let grace = opts.config.server.shutdown_grace;
    let tls = match &opts.config.server.tls {
        Some(paths) => Some(tls::Tls::load(paths)?),
        None => None,
    };
    let store = match &opts.data_dir {
        Some(dir) => ConfigStore::open(&dir.join(crate::store::CONFIG_DB))?,
        None => ConfigStore::open_in_memory()?,
    };
    let pg = match &opts.config.cluster.postgres_url {
        Some(url) => Some(Arc::new(crate::cluster::pg::Pg::open(url)?)),
        None => None,
    };
    let cluster = opts.config.cluster.is_enabled().then(|| {
        Arc::new(crate::cluster::Cluster::new(
            &opts.config.cluster,
            local,
            pg.clone(),
        ))
    });
    let store = match (&pg, &cluster) {
        (Some(pg), Some(c)) => store.with_remote(Arc::new(crate::store::pg::PgConfigStore::new(
            Arc::clone(pg),
            c.replica_id.clone(),
        )?)),
        _ => store,
    };
    let lifecycle = ConfigManager::open(store, opts.config_path.clone(), &opts.config)?;
    let vkeys = match &pg {
        // Team mode: the keys every replica shares (read on the blocking
        // pool: the backend blocks on PostgreSQL).
        Some(pg) => {
            let backend = Arc::new(crate::vkeys::pg::PgKeyBackend::new(pg.clone()));
            // The keys as last seen, in config.db: to start on while
            // PostgreSQL is unreachable (never open to anyone).
            let copy = Arc::new(crate::vkeys::SqliteBackend::new(
                lifecycle.store().shared_conn(),
            ));
            let loaded = tokio::task::spawn_blocking(move || {
                crate::vkeys::VirtualKeys::load_shared(backend, copy)
            })
            .await
            .map_err(|e| crate::vkeys::KeyError::Invalid(format!("loading the keys: {e}")))??;
            Arc::new(loaded)
        }
        None => Arc::new(crate::vkeys::VirtualKeys::load(Arc::new(
            crate::vkeys::SqliteBackend::new(lifecycle.store().shared_conn()),
        ))?),
    };
    let admin_tokens = match (opts.admin_tokens, &opts.data_dir) {
        (Some(t), _) => t,
        (None, Some(dir)) => AdminTokens::load_or_create(dir).map_err(StartError::Tokens)?,
        (None, None) => AdminTokens::ephemeral(),
    };
    // Team mode: the request rows also go to the shared log.
    let pg_log = pg
        .as_ref()
        .zip(cluster.as_ref())
        .map(|(pg, c)| crate::telemetry::pg::PgLog {
            pg: pg.clone(),
            replica: c.replica_id.clone(),
        });
    let (telemetry_hub, telemetry) = TelemetryHub::with_postgres(
        opts.data_dir.as_deref(),
        &opts.config.telemetry,
        opts.telemetry.unwrap_or_else(|| Arc::new(LogSink)),
        pg_log,
    );
    let shutdown = CancellationToken::new();
    let health = Arc::new(HealthRegistry::default());
    let resolver = GuardedResolver::default();
    resolver
        .policy
        .store(Arc::new(opts.config.server.ssrf.clone()));
    let cache = Arc::new(crate::cache::ResponseCache::new(
        opts.config.server.cache_max_bytes,
    ));
    let mut rt = Runtime::build(opts.config, &health, 1);
    rt.vkeys = vkeys.clone();
    let runtime = Arc::new(ArcSwap::from_pointee(rt));
    let tasks = TaskTracker::new();
    // Team mode: cooldowns, sticky bindings and cache entries shared
    // through Redis (its two tasks end with the gateway).
    let shared = cluster.as_ref().and_then(|c| c.redis.clone()).map(|r| {
        crate::cluster::shared::SharedState::start(
            r,
            health.clone(),
            runtime.clone(),
            &tasks,
            shutdown.child_token(),
        )
    });
    let state = Arc::new(AppState {
        shared,
        vkeys,
        cache,
        runtime,
        health,
        shared_client: UpstreamClient::new(resolver.clone())?,
        resolver,
        catalog: Catalog::default(),
        telemetry,
        telemetry_hub,
        listen: local,
        clients: opts.clients.or_else(|| {
            opts.data_dir
                .as_deref()
                .map(crate::clients::Clients::for_data_dir)
        }),
        clients_seen: Default::default(),
        data_dir: opts.data_dir,
        lifecycle,
        cluster,
        admin_tokens,
        started: std::time::Instant::now(),
        paused: std::sync::atomic::AtomicBool::new(false),
        update_host: opts.update_host,
        connections: Arc::default(),
        logins: Default::default(),
        sessions: Default::default(),
        generation: AtomicU64::new(1),
        probes: Mutex::new(shutdown.child_token()),
        tasks,
        shutdown: shutdown.clone(),
        background: tokio::runtime::Handle::current(),
    });
    state.set_audit_retention(state.runtime.load().config.audit_retention_days);
    state.restart_probes();
    if let Some(pg) = &pg {
        crate::lifecycle::spawn_cluster_sync(&state, pg, &state.tasks, shutdown.child_token());
        // Keys another replica makes, rotates or revokes.
        let keys = pg.subscribe(&[crate::vkeys::pg::CHANNEL]);
        state.tasks.spawn(crate::vkeys::pg::run_sync(
            state.vkeys.clone(),
            keys,
            shutdown.child_token(),
        ));
        pg.spawn_listener(&state.tasks, shutdown.child_token());
    }
    spawn_watcher(
        &state,
        &state.tasks,
        shutdown.child_token(),
        opts.watch_interval,
    );
    crate::telemetry::spawn_tasks(
        &state.telemetry_hub,
        &state.runtime,
        &state.tasks,
        shutdown.child_token(),
    );
    crate::tools::modelbench::spawn_schedule(&state, &state.tasks, shutdown.child_token());
    if let Some(c) = &state.cluster {
        c.spawn_tasks(&state.tasks, &shutdown);
    }
    state
        .tasks
        .spawn(state.vkeys.clone().run_flusher(shutdown.child_token()));
    let tls = tls.map(|(tls, seen)| {
        state.tasks.spawn(tls::watch(
            tls.clone(),
            seen,
            state.clone(),
            opts.watch_interval,
            shutdown.child_token(),
        ));
        tls
    });
    let scheme = if tls.is_some() { "https" } else { "http" };

    let app = crate::api::router(state.clone());
    let served = if opts.serve_threads == 0 {
        let serve = conn::serve(
            listener,
            app,
            state.clone(),
            shutdown.clone(),
            grace,
            tls.clone(),
            None,
        );
        Serving::Here(Box::pin(serve))
    } else {
        let threads = listener.into_std().and_then(|l| {
            let (n, tls) = (opts.serve_threads, tls.clone());
            spawn_serve_threads(&l, n, &state, &app, &shutdown, grace, tls)
        });
        match threads {
            Ok(done) => Serving::Threads(done),
            Err(e) => {
                // Stops the threads already started and the background tasks.
                shutdown.cancel();
                return Err(StartError::Threads(e));
            }
        }
    };
    let st = state.clone();
    // The task that owns the tracker: it closes and waits for it; the handle joins it.
    #[allow(clippy::disallowed_methods)]
    let server = tokio::spawn(async move {
        match served {
            Serving::Here(serve) => serve.await,
            Serving::Threads(threads) => {
                let joined = tokio::task::spawn_blocking(move || {
                    for t in threads {
                        let _ = t.join();
                    }
                });
                if let Err(e) = joined.await {
                    tracing::error!("serving threads: {e}");
                }
            }
        }
        // Every request has ended: the log writer stores what is queued.
        st.telemetry_hub.settle().await;
        st.telemetry_hub.close();
        st.tasks.close();
        st.tasks.wait().await;
    });
    if let Some(var) = crate::upstream::proxy_from_env() {
        tracing::info!("upstream requests go through the proxy in {var} (NO_PROXY is honoured)");
    }
    tracing::info!("aigw {} listening on {scheme}://{local}", crate::VERSION);
    Ok(GatewayHandle {
        addr: local,
        state,
        shutdown,
        server: Some(server),
        tls: tls.is_some(),
    })
}

enum Serving {
    Here(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
    /// The serving threads, joined once they have finished.
    Threads(Vec<std::thread::JoinHandle<()>>),
}

/// `n` threads, each with a single-threaded runtime accepting from its own
/// handle on the one listening socket: whichever thread is free takes the
/// next connection, and serves it unless it already serves more than the
/// least busy thread (`conn::Spread`, which hands it over). Everything a
/// connection does (its requests, their upstream calls, stream relays) then
/// runs on that thread. Unlike `SO_REUSEPORT`, no other process can bind
/// the port beside us.
fn spawn_serve_threads(
    listener: &std::net::TcpListener,
    n: usize,
    state: &Arc<AppState>,
    app: &axum::Router,
    shutdown: &CancellationToken,
    grace: Duration,
    tls: Option<Arc<tls::Tls>>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    let mut done = Vec::with_capacity(n);
    state.connections.per_thread(n);
    for (i, spread) in conn::Spread::among(n).into_iter().enumerate() {
        let listener = listener.try_clone()?;
        // Built here so a failure is a start error, not a dead thread.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("aigw-blocking")
            .build()?;
        let (app, token, state, tls) = (app.clone(), shutdown.clone(), state.clone(), tls.clone());
        let thread = std::thread::Builder::new()
            .name(format!("aigw-serve-{i}"))
            .spawn(move || {
                state.serve_on_this_thread();
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => conn::serve(l, app, state, token, grace, tls, Some(spread)).await,
                        Err(e) => tracing::error!("serving thread {i} cannot listen: {e}"),
                    }
                });
                // Connections still open after the grace period are dropped
                // here; blocking work they started gets a moment to end.
                rt.shutdown_timeout(Duration::from_secs(1));
            })?;
        done.push(thread);
    }
    Ok(done)
}
