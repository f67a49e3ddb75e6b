//! Config lifecycle: validate → preview (diff against live) → publish (a new
//! version, swapped in atomically) → history/audit → rollback. The config
//! file and the store stay consistent: a publish writes the file, and a hand
//! edit of the file is validated and recorded as a version (or rejected
//! with the reason while the running version stays live) by `watcher`.
//!
//! A publish is all or nothing. In order: the new file is staged beside the
//! config file and synced; the version and its audit entry are inserted in
//! one transaction; the staged file is renamed into place; the transaction
//! commits; only then is the new config applied. A failure at any step
//! undoes the earlier ones (the transaction rolls back, the old file is
//! renamed back) and the live config stays. A crash between the rename and
//! the commit leaves a file no version matches: the next start records it as
//! a hand edit, like any file changed while the gateway was stopped.
//!
//! - `diff`: unified diff, change summary, secret redaction.
//! - `draft`: structured edits (add a provider, reorder a route…) for the UI.
//! - `file`: replacing the config file (stage, rename, undo).
//! - `watcher`: polls the config file for hand edits.

pub mod diff;
pub mod draft;
mod file;
pub mod redact;
mod sync;
mod watcher;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use sync::spawn_cluster_sync;
pub use watcher::spawn_watcher;

/// What the file watcher needs of the gateway that hosts it: its config
/// manager, and how a new config is applied (swapped in).
pub trait Host: Send + Sync + 'static {
    fn lifecycle(&self) -> &ConfigManager;
    fn apply(self: &Arc<Self>, config: Config);
}

use crate::config::{Config, ConfigError, Issue, Severity};
use crate::store::{ConfigStore, NewAudit, NewVersion, StoreError, Version};
use crate::sync::LockExt;

pub fn hash(toml: &str) -> String {
    hex::encode(Sha256::digest(toml.as_bytes()))
}

/// Validation result, for previews and refusals.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub valid: bool,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

impl Validation {
    fn of(result: &Result<Config, ConfigError>) -> Self {
        let issues: Vec<Issue> = match result {
            Ok(c) => c.warnings.clone(),
            Err(e) => e.issues.clone(),
        };
        let (errors, warnings) = issues
            .into_iter()
            .partition(|i| i.severity == Severity::Error);
        Self {
            valid: result.is_ok(),
            errors,
            warnings,
        }
    }
}

/// A preview: what publishing this candidate would change.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub live_version: i64,
    pub validation: Validation,
    pub unified: String,
    pub summary: diff::DiffSummary,
    /// Changes that only take effect after a restart (e.g. `server.listen`).
    pub restart_required: Vec<String>,
}

/// A publish, rollback or profile switch: the version now live.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub version: Version,
    /// True when the candidate equals the live config (nothing recorded).
    pub unchanged: bool,
    pub restart_required: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("config is invalid: {} error(s)", .0.errors.len())]
    Invalid(Validation),
    #[error("the live config is version {live}, not {expected}: reload and try again")]
    Conflict { live: i64, expected: i64 },
    #[error("no config version {0}")]
    NoSuchVersion(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "cannot write config file {path}: {source}; nothing was published, version {live} stays live"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
        live: i64,
    },
    #[error(
        "cannot record the new version: {source}; nothing was published, version {live} stays live"
    )]
    Record { source: StoreError, live: i64 },
}

/// Puts a published config into effect (the running gateway's hot swap, or
/// nothing when the CLI edits a stopped gateway's store).
pub type Apply<'a> = &'a (dyn Fn(Config) + Send + Sync);

/// Who asks and why.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub toml: &'a str,
    pub source: &'a str,
    pub actor: &'a str,
    pub message: &'a str,
    /// Optimistic concurrency: refuse if the live version moved.
    pub base_version: Option<i64>,
}

#[derive(Debug, Clone)]
struct Live {
    version: Version,
    toml: Arc<str>,
}

#[derive(Debug)]
pub struct ConfigManager {
    path: Option<PathBuf>,
    /// Shared with the blocking tasks that write it (see [`blocking`]).
    store: Arc<ConfigStore>,
    live: Mutex<Live>,
    /// Serialises publishes (and the watcher) so versions stay linear. Owned
    /// guards: a publish's blocking work holds it to its end, even when the
    /// caller stopped waiting.
    publish: Arc<tokio::sync::Mutex<()>>,
    /// Why the last hand edit of the file was rejected, until a good one.
    file_error: Mutex<Option<String>>,
}

impl ConfigManager {
    /// Opens the store and records `initial` as a version when it differs
    /// from the newest stored one (first run, or a file edited while the
    /// gateway was stopped — a hand edit, audited like one the watcher sees;
    /// this is also where a file left by a publish that crashed before its
    /// commit ends up).
    pub fn open(
        store: ConfigStore,
        path: Option<PathBuf>,
        initial: &Config,
    ) -> Result<Self, StoreError> {
        let toml: &str = &initial.source;
        let h = hash(toml);
        if store.remote().is_some() {
            let version = open_shared(&store, toml, &h);
            return Ok(Self {
                path,
                store: Arc::new(store),
                live: Mutex::new(Live {
                    version,
                    toml: Arc::from(toml),
                }),
                publish: Arc::new(tokio::sync::Mutex::new(())),
                file_error: Mutex::new(None),
            });
        }
        let version = match store.latest()? {
            Some(v) if v.hash == h => v,
            prev => {
                let (source, message, diff, summary) = match &prev {
                    None => (
                        "startup",
                        "initial config".to_string(),
                        String::new(),
                        diff::DiffSummary::default(),
                    ),
                    Some(p) => {
                        let old = p.toml.as_deref().unwrap_or_default();
                        (
                            "file",
                            format!(
                                "config file changed while the gateway was stopped (the last committed version is {})",
                                p.id
                            ),
                            diff::unified(old, toml, &format!("version {}", p.id), "config file"),
                            diff::summarize(old, toml),
                        )
                    }
                };
                let summary = serde_json::to_value(summary).unwrap_or_default();
                let v = store.insert_version_audited(
                    &NewVersion {
                        source,
                        actor: "aigw",
                        message: &message,
                        toml,
                        hash: &h,
                        diff: &diff,
                        summary: &summary,
                    },
                    &NewAudit {
                        actor: "aigw",
                        action: source,
                        detail: &serde_json::json!({ "message": message }),
                    },
                )?;
                if source == "file" {
                    tracing::warn!(version = v.id, "{message}: recorded as version {}", v.id);
                }
                v
            }
        };
        // Started on the last good version because the file is invalid
        // (see [`load_for_start`]): the status says why from the start.
        let file_error = path.as_deref().and_then(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            if hash(&text) == h {
                return None;
            }
            let origin = p.display().to_string();
            Config::parse(&text, &origin).err().map(|e| {
                e.issues
                    .iter()
                    .filter(|i| i.severity == Severity::Error)
                    .map(|i| crate::config::format_issue(&origin, i))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        });
        Ok(Self {
            path,
            store: Arc::new(store),
            live: Mutex::new(Live {
                version,
                toml: Arc::from(toml),
            }),
            publish: Arc::new(tokio::sync::Mutex::new(())),
            file_error: Mutex::new(file_error),
        })
    }

    fn live(&self) -> Live {
        self.live.lock_or_recover().clone()
    }

    pub fn store(&self) -> &ConfigStore {
        &self.store
    }

    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// The live version (with its TOML).
    pub fn live_version(&self) -> Version {
        let l = self.live();
        let mut v = l.version;
        v.toml = Some(l.toml.to_string());
        v
    }

    pub fn file_error(&self) -> Option<String> {
        self.file_error.lock_or_recover().clone()
    }

    pub fn validate(&self, toml: &str) -> Validation {
        with_key_warnings(Validation::of(&Config::parse(toml, "candidate")), toml)
    }

    pub fn preview(&self, toml: &str) -> Preview {
        let live = self.live();
        let parsed = Config::parse(toml, "candidate");
        Preview {
            live_version: live.version.id,
            validation: with_key_warnings(Validation::of(&parsed), toml),
            unified: diff::unified(
                &live.toml,
                toml,
                &format!("live (version {})", live.version.id),
                "candidate",
            ),
            summary: diff::summarize(&live.toml, toml),
            restart_required: restart_required(&live.toml, parsed.as_ref().ok()),
        }
    }

    /// Validates, writes the file, records the version, swaps it in. An
    /// invalid config is never applied; the audit log records the refusal.
    pub async fn publish(
        &self,
        apply: Apply<'_>,
        change: Change<'_>,
    ) -> Result<Published, LifecycleError> {
        let guard = Arc::clone(&self.publish).lock_owned().await;
        self.publish_locked(guard, apply, change).await
    }

    /// The store and file work runs on the blocking pool (see [`blocking`]).
    async fn publish_locked(
        &self,
        guard: tokio::sync::OwnedMutexGuard<()>,
        apply: Apply<'_>,
        change: Change<'_>,
    ) -> Result<Published, LifecycleError> {
        let live = self.live();
        if let Some(expected) = change.base_version
            && expected != live.version.id
        {
            return Err(LifecycleError::Conflict {
                live: live.version.id,
                expected,
            });
        }
        let config = match Config::parse(change.toml, "candidate") {
            Ok(c) => c,
            Err(e) => {
                let validation = Validation::of(&Err(e));
                let detail = serde_json::json!({
                    "source": change.source,
                    "message": change.message,
                    "errors": validation.errors,
                });
                let action = if change.source == "file" {
                    "file_rejected"
                } else {
                    "publish_rejected"
                };
                let store = Arc::clone(&self.store);
                let actor = change.actor.to_string();
                blocking(move || {
                    let _guard = guard;
                    store.audit(&actor, action, None, &detail)
                })
                .await?;
                return Err(LifecycleError::Invalid(validation));
            }
        };
        let restart = restart_required(&live.toml, Some(&config));
        let h = hash(change.toml);
        if h == live.version.hash {
            return Ok(Published {
                version: self.live_version(),
                unchanged: true,
                restart_required: restart,
            });
        }
        let unified = diff::unified(
            &live.toml,
            change.toml,
            &format!("version {}", live.version.id),
            "new",
        );
        let summary =
            serde_json::to_value(diff::summarize(&live.toml, change.toml)).unwrap_or_default();
        let action = if change.source == "rollback" {
            "rollback"
        } else {
            "publish"
        };
        let detail = serde_json::json!({
            "source": change.source,
            "message": change.message,
            "from_version": live.version.id,
            "summary": summary,
            "restart_required": restart,
        });
        // A hand edit is already in the file; anything else is written to it.
        let target = self.path.clone().filter(|_| change.source != "file");
        let failed = |e: LifecycleError| {
            tracing::error!(source = change.source, actor = change.actor, "{e}");
            e
        };
        let store = Arc::clone(&self.store);
        let live_id = live.version.id;
        let (source, actor, message, toml) = (
            change.source.to_string(),
            change.actor.to_string(),
            change.message.to_string(),
            change.toml.to_string(),
        );
        let (_guard, written) = blocking(move || {
            let new = NewVersion {
                source: &source,
                actor: &actor,
                message: &message,
                toml: &toml,
                hash: &h,
                diff: &unified,
                summary: &summary,
            };
            let audit = NewAudit {
                actor: &actor,
                action,
                detail: &detail,
            };
            let written = write_and_record(&store, target.as_deref(), &new, &audit, live_id);
            (guard, written)
        })
        .await;
        let version = written.map_err(failed)?;
        apply(config);
        *self.live.lock_or_recover() = Live {
            version: version.clone(),
            toml: Arc::from(change.toml),
        };
        *self.file_error.lock_or_recover() = None;
        tracing::info!(
            version = version.id,
            source = change.source,
            actor = change.actor,
            "config published"
        );
        Ok(Published {
            version,
            unchanged: false,
            restart_required: restart,
        })
    }

    /// Team mode: takes the shared store's newest version when it is newer
    /// than the live one (a publish on another replica, announced by
    /// `NOTIFY` or found by the poll), writes it to this replica's config
    /// file (its local copy) and applies it. Returns the version now live
    /// when it changed.
    pub async fn sync(&self, apply: Apply<'_>) -> Result<Option<i64>, StoreError> {
        let Some(remote) = self.store.remote().cloned() else {
            return Ok(None);
        };
        let _guard = Arc::clone(&self.publish).lock_owned().await;
        let live = self.live();
        let r = Arc::clone(&remote);
        let newest = blocking(move || r.latest_id()).await?;
        let Some(id) = newest.filter(|id| *id > live.version.id) else {
            return Ok(None);
        };
        let r = Arc::clone(&remote);
        let Some(version) = blocking(move || r.get(id)).await? else {
            return Ok(None);
        };
        let text = version.toml.clone().unwrap_or_default();
        if version.hash == live.version.hash {
            *self.live.lock_or_recover() = Live {
                version,
                toml: live.toml,
            };
            return Ok(Some(id));
        }
        let config = match Config::parse(&text, &format!("version {id}")) {
            Ok(c) => c,
            Err(e) => {
                let why = e.to_string();
                tracing::error!(
                    version = id,
                    "the cluster's version {id} does not load on this replica, the running config stays: {why}"
                );
                // Not retried until a newer version: keep its id as seen.
                let mut l = self.live.lock_or_recover();
                l.version.id = id;
                *self.file_error.lock_or_recover() = Some(format!("version {id}: {why}"));
                return Ok(None);
            }
        };
        if let Some(path) = self.path.clone() {
            let body = text.clone();
            let written = blocking(move || {
                file::Staged::write(&path, body.as_bytes())
                    .and_then(file::Staged::install)
                    .map(file::Installed::keep)
                    .map_err(|e| (path, e))
            })
            .await;
            if let Err((path, e)) = written {
                tracing::warn!(
                    version = id,
                    "cannot write the cluster's version {id} to {}: {e}; applied anyway",
                    path.display()
                );
            }
        }
        apply(config);
        *self.live.lock_or_recover() = Live {
            version,
            toml: Arc::from(text.as_str()),
        };
        *self.file_error.lock_or_recover() = None;
        tracing::info!(version = id, "config version {id} from the cluster applied");
        Ok(Some(id))
    }

    /// Publishes an earlier version's TOML as a new, audited version.
    pub async fn rollback(
        &self,
        apply: Apply<'_>,
        id: i64,
        actor: &str,
        message: &str,
    ) -> Result<Published, LifecycleError> {
        let store = Arc::clone(&self.store);
        let old = blocking(move || store.get(id))
            .await?
            .ok_or(LifecycleError::NoSuchVersion(id))?;
        let toml = old.toml.unwrap_or_default();
        let msg = if message.is_empty() {
            format!("rollback to version {id}")
        } else {
            format!("rollback to version {id}: {message}")
        };
        self.publish(
            apply,
            Change {
                toml: &toml,
                source: "rollback",
                actor,
                message: &msg,
                base_version: None,
            },
        )
        .await
    }

    /// Switches `server.profile`, keeping the file's comments and layout.
    pub async fn switch_profile(
        &self,
        apply: Apply<'_>,
        profile: Option<&str>,
        actor: &str,
    ) -> Result<Published, LifecycleError> {
        let guard = Arc::clone(&self.publish).lock_owned().await;
        let live = self.live();
        let mut doc: toml_edit::DocumentMut =
            live.toml.parse().map_err(|e: toml_edit::TomlError| {
                LifecycleError::Invalid(Validation {
                    valid: false,
                    errors: vec![Issue {
                        severity: Severity::Error,
                        path: String::new(),
                        line: None,
                        column: None,
                        message: e.to_string(),
                    }],
                    warnings: Vec::new(),
                })
            })?;
        let server = doc.entry("server").or_insert(toml_edit::table());
        if let Some(t) = server.as_table_like_mut() {
            match profile {
                Some(p) => {
                    t.insert("profile", toml_edit::value(p));
                }
                None => {
                    t.remove("profile");
                }
            }
        }
        let toml = doc.to_string();
        let message = match profile {
            Some(p) => format!("switch routing profile to {p}"),
            None => "switch to the top-level routes".to_string(),
        };
        self.publish_locked(
            guard,
            apply,
            Change {
                toml: &toml,
                source: "profile",
                actor,
                message: &message,
                base_version: None,
            },
        )
        .await
    }

    /// The watcher saw the file change. The file is read again under the
    /// publish lock: what the watcher read may be stale by now (a publish
    /// that was writing it meanwhile must not be undone by an old read).
    pub(crate) async fn file_changed(&self, apply: Apply<'_>) {
        let guard = Arc::clone(&self.publish).lock_owned().await;
        let Some(path) = self.path.clone() else {
            return;
        };
        let Ok(text) = blocking(move || std::fs::read_to_string(path)).await else {
            return;
        };
        let toml = text.as_str();
        if hash(toml) == self.live().version.hash {
            return;
        }
        let change = Change {
            toml,
            source: "file",
            actor: "file",
            message: "config file edited",
            base_version: None,
        };
        match self.publish_locked(guard, apply, change).await {
            Ok(p) => tracing::info!(version = p.version.id, "config file edit applied"),
            Err(LifecycleError::Invalid(v)) => {
                let origin = self
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let why = v
                    .errors
                    .iter()
                    .map(|i| crate::config::format_issue(&origin, i))
                    .collect::<Vec<_>>()
                    .join("; ");
                tracing::error!("config file edit rejected, the running config stays: {why}");
                *self.file_error.lock_or_recover() = Some(why);
            }
            Err(e) => tracing::error!("config file edit not applied: {e}"),
        }
    }
}

/// Team mode's start: the file's config is recorded as the first version
/// when the shared store has none; when it has one that differs, the
/// replica starts on its file and [`ConfigManager::sync`] catches up at
/// once (the live version id 0 is older than any stored one). PostgreSQL
/// unreachable: the same, with a warning, until it returns.
fn open_shared(store: &ConfigStore, toml: &str, h: &str) -> Version {
    let local = Version {
        id: 0,
        created_at_ms: crate::store::now_ms(),
        source: "file".into(),
        actor: "aigw".into(),
        message: "the local config file (not yet matched with the cluster)".into(),
        hash: h.into(),
        diff: String::new(),
        summary: serde_json::Value::Null,
        toml: None,
    };
    let summary = serde_json::to_value(diff::DiffSummary::default()).unwrap_or_default();
    let first = store.insert_first_version(
        &NewVersion {
            source: "startup",
            actor: "aigw",
            message: "initial config",
            toml,
            hash: h,
            diff: "",
            summary: &summary,
        },
        &NewAudit {
            actor: "aigw",
            action: "startup",
            detail: &serde_json::json!({ "message": "initial config" }),
        },
    );
    match first {
        Ok(v) if v.hash == h => v,
        Ok(v) => {
            tracing::info!(
                version = v.id,
                "the cluster's live config is version {}: it replaces this replica's config file",
                v.id
            );
            local
        }
        Err(e) => {
            tracing::warn!(
                "{e}: starting on the local config file (the last config this replica saw); \
                 the cluster's versions are picked up when PostgreSQL answers again"
            );
            local
        }
    }
}

/// Steps 1–4 of a publish (see the module docs), on the blocking pool: the
/// staged file, the version and audit entry in one open transaction, the
/// file into place, the commit (or the old file back).
fn write_and_record(
    store: &ConfigStore,
    target: Option<&Path>,
    new: &NewVersion<'_>,
    audit: &NewAudit<'_>,
    live: i64,
) -> Result<Version, LifecycleError> {
    let write_error = |path: &Path, source| LifecycleError::Write {
        path: path.to_path_buf(),
        source,
        live,
    };
    let record_error = |source| LifecycleError::Record { source, live };
    // 1. Stage the file (what a full disk refuses, before any change).
    let staged = match target {
        Some(path) => {
            Some(file::Staged::write(path, new.toml.as_bytes()).map_err(|e| write_error(path, e))?)
        }
        None => None,
    };
    // 2. Version and audit entry, in one transaction left open.
    let pending = store.begin_version(new, audit).map_err(record_error)?;
    // 3. The file into place (an error drops `pending`: rolled back).
    let installed = match (staged, target) {
        (Some(s), Some(path)) => Some(s.install().map_err(|e| write_error(path, e))?),
        _ => None,
    };
    // 4. Commit; if that fails, the old file goes back.
    let version = match pending.commit() {
        Ok(v) => v,
        Err(e) => {
            if let Some(i) = installed {
                i.undo();
            }
            return Err(record_error(e));
        }
    };
    if let Some(i) = installed {
        i.keep();
    }
    Ok(version)
}

/// Runs blocking store and file work (rusqlite, `std::fs`) on the blocking
/// pool, off the async runtime, inside the caller's tracing span. A panic in
/// it resumes in the caller, as it did when the work ran inline.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let span = tracing::Span::current();
    // the audit rows it writes keep the peer of the request being served
    let peer = crate::store::chain::current_peer();
    match tokio::task::spawn_blocking(move || {
        span.in_scope(|| crate::store::chain::sync_with_peer(peer, f))
    })
    .await
    {
        Ok(v) => v,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("blocking config work did not run: {e}"),
    }
}

/// What a host starts from (see [`load_for_start`]).
#[derive(Debug)]
pub struct Startup {
    pub config: Config,
    /// Set when the file was invalid: why, and the committed version
    /// served instead.
    pub file_rejected: Option<(ConfigError, i64)>,
}

/// The config a host starts from: the config file's. When the file is
/// invalid and the store in `data_dir` holds a committed version, that
/// version instead — the file's errors come back to be reported, and the
/// config watcher records the rejection (`file_rejected`) as it does for
/// any bad hand edit. With nothing committed (a first run) an invalid file
/// is the error.
pub fn load_for_start(config_file: &Path, data_dir: &Path) -> Result<Startup, ConfigError> {
    let file_error = match Config::load(config_file) {
        Ok(config) => {
            return Ok(Startup {
                config,
                file_rejected: None,
            });
        }
        Err(e) => e,
    };
    let db = data_dir.join(crate::store::CONFIG_DB);
    if !db.is_file() {
        return Err(file_error);
    }
    let latest = ConfigStore::open(&db).and_then(|s| s.latest());
    let version = match latest {
        Ok(Some(v)) => v,
        Ok(None) => return Err(file_error),
        Err(e) => {
            tracing::warn!("no committed version to fall back on: {e}");
            return Err(file_error);
        }
    };
    let toml = version.toml.as_deref().unwrap_or_default();
    match Config::parse(toml, &format!("version {}", version.id)) {
        Ok(config) => Ok(Startup {
            config,
            file_rejected: Some((file_error, version.id)),
        }),
        Err(e) => {
            tracing::warn!("the last committed version does not load either: {e}");
            Err(file_error)
        }
    }
}

/// `keyring:` references the keychain cannot resolve, as warnings (`env:`
/// ones are already warned about by validation). Presence only, never values.
fn with_key_warnings(mut v: Validation, toml: &str) -> Validation {
    let Ok(config) = Config::parse(toml, "candidate") else {
        return v;
    };
    for (i, p) in config.providers.iter().enumerate() {
        let pool = p.api_keys.len() > 1;
        for (j, r) in p.api_keys.iter().enumerate() {
            let crate::secrets::SecretRef::Keyring(_) = r else {
                continue;
            };
            let Err(e) = r.resolve() else {
                continue;
            };
            v.warnings.push(Issue {
                severity: Severity::Warning,
                path: if pool {
                    format!("providers[{i}].api_keys[{j}]")
                } else {
                    format!("providers[{i}].api_key")
                },
                line: None,
                column: None,
                message: format!("{r}: {e}; requests to {:?} will fail over", p.name),
            });
        }
    }
    v
}

fn restart_required(live: &str, new: Option<&Config>) -> Vec<String> {
    let (Some(new), Ok(old)) = (new, Config::parse(live, "live")) else {
        return Vec::new();
    };
    let mut v = Vec::new();
    if old.server.listen != new.server.listen {
        v.push(format!(
            "server.listen ({} → {}) takes effect after a restart",
            old.server.listen, new.server.listen
        ));
    }
    if old.server.shutdown_grace != new.server.shutdown_grace {
        v.push("server.shutdown_grace_s takes effect after a restart".to_string());
    }
    let otlp = |c: &Config| {
        c.telemetry
            .otlp
            .as_ref()
            .map(|o| (o.traces_url.to_string(), o.service_name.clone()))
    };
    if otlp(&old) != otlp(new) {
        v.push(
            "telemetry.otlp_endpoint / otlp_service_name take effect after a restart".to_string(),
        );
    }
    if old.cluster != new.cluster {
        v.push("[cluster] takes effect after a restart".to_string());
    }
    if old.telemetry.queue_capacity != new.telemetry.queue_capacity {
        v.push("telemetry.queue_capacity takes effect after a restart".to_string());
    }
    v
}
