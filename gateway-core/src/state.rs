//! The state every handler shares ([`AppState`]): the live runtime, target
//! health, the upstream client, telemetry, the config lifecycle, admin
//! tokens, the pause switch. [`crate::server::start`] builds it and starts
//! the tasks around it; a publish is [`AppState::apply`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::lifecycle::ConfigManager;
use crate::limits::connections::Connections;
use crate::routing::health::HealthRegistry;
use crate::routing::{Catalog, LiveRuntime, Runtime, spawn_probes};
use crate::secrets::admin::AdminTokens;
use crate::ssrf::GuardedResolver;
use crate::sync::LockExt;
use crate::telemetry::{TelemetryHub, TelemetrySink};
use crate::upstream::UpstreamClient;

/// Shared by every request handler.
#[derive(Debug)]
pub struct AppState {
    /// The live routing table, swapped on publish ([`LiveRuntime`]).
    pub runtime: Arc<LiveRuntime>,
    pub health: Arc<HealthRegistry>,
    /// The upstream client off the serving threads; see [`AppState::client`].
    pub(crate) shared_client: UpstreamClient,
    pub catalog: Catalog,
    pub telemetry: Arc<dyn TelemetrySink>,
    /// Metrics, the request log and its writer queue.
    pub telemetry_hub: TelemetryHub,
    /// The address actually bound.
    pub listen: SocketAddr,
    pub data_dir: Option<PathBuf>,
    /// Versions, publish, rollback, audit.
    pub lifecycle: ConfigManager,
    /// Team mode's shared engines (`[cluster]`); `None` on a single node.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    pub admin_tokens: AdminTokens,
    /// The upstream client's SSRF guard, updated on every publish.
    pub(crate) resolver: GuardedResolver,
    pub started: std::time::Instant,
    /// Paused (tray / admin API): client requests get 503 until resumed.
    pub paused: std::sync::atomic::AtomicBool,
    /// The program the admin API's updater updates.
    pub update_host: crate::update::host::UpdateHost,
    /// Client connections open now (`server.max_connections` caps them).
    pub connections: Arc<Connections>,
    /// "Connect tools": the home dir and backups the admin API edits
    /// (`None` without a data dir).
    pub clients: Option<crate::clients::Clients>,
    /// Which coding tool sent a request lately (by `user-agent`).
    pub clients_seen: crate::clients::LastSeen,
    /// Failed admin logins per peer (`limits.login_max_failures`).
    pub logins: crate::limits::login::LoginLimiter,
    /// The exact response cache (`[routes.cache]`), kept across publishes.
    pub cache: Arc<crate::cache::ResponseCache>,
    /// Virtual client keys (`aigw keys client …`), kept across publishes.
    pub vkeys: Arc<crate::vkeys::VirtualKeys>,
    /// Team mode: cooldowns, sticky bindings and cache entries shared with
    /// the other replicas through Redis (`cluster::shared`).
    pub shared: Option<Arc<crate::cluster::shared::SharedState>>,
    /// Admin UI sessions (server-side; `logout` ends one).
    pub sessions: crate::api::admin::Sessions,
    pub(crate) generation: AtomicU64,
    pub(crate) probes: Mutex<CancellationToken>,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    /// The runtime `start` ran on: background tasks go there, also when a
    /// publish arrives on a serving thread.
    pub(crate) background: tokio::runtime::Handle,
}

thread_local! {
    /// A serving thread's own upstream client, built on its first use (TLS
    /// roots make a client costly to build; start-up stays fast): the tasks
    /// of its pooled connections live on that thread's runtime, so an
    /// upstream answer wakes the thread that waits for it.
    static THREAD_CLIENT: std::cell::OnceCell<(GuardedResolver, std::cell::OnceCell<UpstreamClient>)> =
        const { std::cell::OnceCell::new() };
}

impl AppState {
    /// `[audit] retention_days`: prunes now and at most hourly on writes.
    pub(crate) fn set_audit_retention(&self, days: u32) {
        if let Err(e) = self.lifecycle.store().set_audit_retention(days) {
            tracing::warn!("audit retention: {e}");
        }
    }
}

impl crate::lifecycle::Host for AppState {
    fn lifecycle(&self) -> &ConfigManager {
        &self.lifecycle
    }

    fn apply(self: &Arc<Self>, config: Config) {
        AppState::apply(self, config);
    }
}

impl AppState {
    /// The upstream client: the serving thread's own on a serving thread,
    /// else the shared one (both resolve through the same SSRF guard).
    pub fn client(&self) -> UpstreamClient {
        THREAD_CLIENT
            .with(|c| {
                let (resolver, client) = c.get()?;
                let built = client.get_or_init(|| {
                    UpstreamClient::new(resolver.clone()).unwrap_or_else(|e| {
                        tracing::warn!("serving thread uses the shared upstream client: {e}");
                        self.shared_client.clone()
                    })
                });
                Some(built.clone())
            })
            .unwrap_or_else(|| self.shared_client.clone())
    }

    /// Makes the calling thread a serving thread: its upstream client is
    /// its own, built on first use (see [`AppState::client`]).
    pub(crate) fn serve_on_this_thread(&self) {
        THREAD_CLIENT
            .with(|c| c.set((self.resolver.clone(), std::cell::OnceCell::new())))
            .ok();
    }

    /// What routing needs of the state (see [`crate::routing::Upstreams`]).
    pub fn upstreams(&self) -> crate::routing::Upstreams<'_> {
        crate::routing::Upstreams {
            client: self.client(),
            catalog: &self.catalog,
            health: &self.health,
            shared: self.shared.as_deref(),
        }
    }

    /// Swaps in a new, already validated config. Never fails: key problems
    /// surface per provider (see [`Runtime::build`]).
    pub fn apply(self: &Arc<Self>, config: Config) {
        self.set_audit_retention(config.audit_retention_days);
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.resolver
            .policy
            .store(Arc::new(config.server.ssrf.clone()));
        let prev = self.runtime.load();
        let mut rt = Runtime::build_after(config, &self.health, generation, Some(&prev));
        rt.keep_sessions(&prev);
        self.runtime.store(Arc::new(rt));
        self.catalog.invalidate();
        self.cache
            .set_max_bytes(self.runtime.load().config.server.cache_max_bytes);
        self.restart_probes();
    }

    pub(crate) fn restart_probes(self: &Arc<Self>) {
        let token = self.shutdown.child_token();
        let old = {
            let mut p = self.probes.lock_or_recover();
            std::mem::replace(&mut *p, token.clone())
        };
        old.cancel();
        let _on = self.background.enter();
        let rt = self.runtime.load_full();
        spawn_probes(rt, &self.shared_client, &self.health, &self.tasks, token);
    }

    /// Cancelled when the gateway shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}
