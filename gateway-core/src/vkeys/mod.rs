//! Virtual keys: client keys made at runtime (`aigw keys client …`, the
//! admin API, the UI's Keys page), each with a name, a team, the models it
//! may ask for (patterns like `gpt-5*`), its own RPM/TPM, a USD budget per
//! UTC day, week or month, an expiry and tags. Only the SHA-256 of a
//! secret is stored (and a short prefix to recognise it by); the secret is
//! shown once, when made or rotated.
//!
//! The keys are data, not config: kept in a [`KeyBackend`] (SQLite in the
//! config store, `backend`), loaded into memory at start and checked on the
//! hot path from a map by hash, updated on create, revoke and rotate. A
//! request reserves its estimated cost against its key's budget before it
//! goes upstream and settles on the real cost after (a failure refunds);
//! spend is written back off the hot path, in batches ([`VirtualKeys::flush`],
//! every [`FLUSH_EVERY`] and at shutdown). `period`: the UTC budget periods.
//! `shared`: a key's limits and budget as shared ones (team mode, Redis).

pub mod backend;
pub mod period;
pub mod pg;
pub mod shared;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use backend::{BackendError, KeyBackend, MemoryBackend, SqliteBackend, StoredKey, StoredSpend};
pub use period::Period;

use crate::limits::ProviderLimiter;
use crate::store::now_ms;
use crate::sync::{LockExt, RwLockExt};
use crate::vocab::pattern::Pattern;

/// What every virtual key's secret starts with.
pub const SECRET_PREFIX: &str = "aigw_vk_";
/// Keys (revoked ones included) one gateway holds.
pub const MAX_KEYS: usize = 10_000;
/// Model patterns per key.
pub const MAX_PATTERNS: usize = 32;
/// Tags per key; a tag's key and value are at most [`MAX_TAG_LEN`] bytes.
pub const MAX_TAGS: usize = 16;
pub const MAX_TAG_LEN: usize = 64;
/// A key's name and team are at most this many bytes.
pub const MAX_NAME_LEN: usize = 64;
/// The longest grace a rotated secret may keep working for.
pub const MAX_GRACE: Duration = Duration::from_secs(7 * 86_400);
/// How often spend is written back.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// What is shown of a key (never its secret or its hash).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// `vk_` and 12 hex digits.
    pub id: String,
    pub name: String,
    pub team: Option<String>,
    /// Patterns of the models it may ask for (`gpt-5*`); empty: any.
    pub models: Vec<String>,
    /// Requests and tokens per minute; 0: unlimited.
    pub rpm: u32,
    pub tpm: u32,
    /// USD per `period`; `None`: no budget.
    pub budget_usd: Option<f64>,
    pub period: Period,
    pub expires_at_ms: Option<i64>,
    pub tags: BTreeMap<String, String>,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    /// The secret's first characters (`aigw_vk_1a2b3c4d`), to recognise it.
    pub prefix: String,
}

/// A key to make: what the operator chose.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub rpm: u32,
    #[serde(default)]
    pub tpm: u32,
    #[serde(default)]
    pub budget_usd: Option<f64>,
    #[serde(default)]
    pub period: Option<Period>,
    /// Seconds from now until the key stops working.
    #[serde(default)]
    #[cfg_attr(test, ts(type = "number | null"))]
    pub expires_in_s: Option<u64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A key with what it spent this period.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    #[serde(flatten)]
    pub info: KeyInfo,
    /// `active`, `revoked` or `expired`.
    pub status: &'static str,
    pub spent_usd: f64,
    /// Reserved by requests under way.
    pub reserved_usd: f64,
    pub period_start_ms: i64,
    /// When the budget resets (the next period's start).
    pub resets_at_ms: i64,
}

/// A key and its secret, which is shown this once.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub key: KeyInfo,
    pub secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("no virtual key {0:?}")]
    NotFound(String),
    #[error("virtual key {0:?} is revoked")]
    Revoked(String),
    #[error("at most {MAX_KEYS} virtual keys")]
    TooMany,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Why a key's request was refused before it went upstream.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The key may not ask for this model.
    ModelNotAllowed { model: String },
    /// Over the key's RPM or TPM.
    RateLimited { rpm: u32, tpm: u32, wait: Duration },
    /// The reservation would go over the budget; it resets at `resets_at_ms`.
    BudgetExceeded {
        budget_usd: f64,
        spent_usd: f64,
        resets_at_ms: i64,
    },
}

#[derive(Debug)]
struct Spend {
    period_start_ms: i64,
    spent: f64,
    reserved: f64,
    /// Team mode: spent here and not yet added to the shared store (part
    /// of `spent`).
    unflushed: f64,
}

/// A loaded key: its info, limiter and spend counters.
#[derive(Debug)]
pub struct LiveKey {
    info: RwLock<KeyInfo>,
    patterns: Vec<ModelRule>,
    limiter: ProviderLimiter,
    spend: Mutex<Spend>,
}

impl LiveKey {
    fn new(info: KeyInfo, spend: Option<StoredSpend>, now: i64) -> Self {
        let start = info.period.start(now);
        let spent = spend
            .filter(|s| s.period_start_ms == start)
            .map_or(0.0, |s| s.spent_usd);
        Self {
            patterns: info.models.iter().map(|m| ModelRule::new(m)).collect(),
            limiter: ProviderLimiter::new(info.rpm, info.tpm),
            spend: Mutex::new(Spend {
                period_start_ms: start,
                spent,
                reserved: 0.0,
                unflushed: 0.0,
            }),
            info: RwLock::new(info),
        }
    }

    pub fn id(&self) -> String {
        self.info.read_or_recover().id.clone()
    }

    pub fn name(&self) -> String {
        self.info.read_or_recover().name.clone()
    }

    pub fn team(&self) -> Option<String> {
        self.info.read_or_recover().team.clone()
    }

    pub fn info(&self) -> KeyInfo {
        self.info.read_or_recover().clone()
    }

    fn usable(&self, now: i64) -> bool {
        let i = self.info.read_or_recover();
        i.revoked_at_ms.is_none() && i.expires_at_ms.is_none_or(|e| now < e)
    }

    pub fn allows(&self, model: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(model))
    }

    /// Checks `model`, takes one request and `tokens` from the key's RPM/TPM
    /// and reserves `cost_usd` of its budget.
    pub fn admit(&self, model: &str, tokens: u64, cost_usd: f64) -> Result<(), Refusal> {
        if !self.allows(model) {
            return Err(Refusal::ModelNotAllowed {
                model: model.to_string(),
            });
        }
        let (budget, period) = {
            let i = self.info.read_or_recover();
            (i.budget_usd, i.period)
        };
        let now = now_ms();
        {
            let mut s = self.spend.lock_or_recover();
            roll(&mut s, period, now);
            if let Some(b) = budget {
                let used = s.spent + s.reserved;
                if used >= b || used + cost_usd > b {
                    return Err(Refusal::BudgetExceeded {
                        budget_usd: b,
                        spent_usd: s.spent,
                        resets_at_ms: period.next_reset(now),
                    });
                }
            }
            s.reserved += cost_usd;
        }
        if let Err(wait) = self.limiter.try_acquire(tokens) {
            self.unreserve(cost_usd);
            let (rpm, tpm) = self.limiter.limits();
            return Err(Refusal::RateLimited { rpm, tpm, wait });
        }
        Ok(())
    }

    fn unreserve(&self, cost_usd: f64) {
        let mut s = self.spend.lock_or_recover();
        s.reserved = (s.reserved - cost_usd).max(0.0);
    }

    /// Replaces the reservation of `reserved_usd` and `est_tokens` by what
    /// the request really cost.
    fn settle(&self, reserved_usd: f64, actual_usd: f64, est_tokens: u64, actual_tokens: u64) {
        self.limiter.settle(est_tokens, actual_tokens);
        let period = self.info.read_or_recover().period;
        let mut s = self.spend.lock_or_recover();
        let start = s.period_start_ms;
        roll(&mut s, period, now_ms());
        // A reservation made in the period before was cleared with it.
        if s.period_start_ms == start {
            s.reserved = (s.reserved - reserved_usd).max(0.0);
        }
        if actual_usd.is_finite() && actual_usd > 0.0 {
            s.spent += actual_usd;
            s.unflushed += actual_usd;
        }
    }

    fn view(&self, now: i64) -> KeyView {
        let info = self.info();
        let mut s = self.spend.lock_or_recover();
        roll(&mut s, info.period, now);
        let status = if info.revoked_at_ms.is_some() {
            "revoked"
        } else if info.expires_at_ms.is_some_and(|e| now >= e) {
            "expired"
        } else {
            "active"
        };
        KeyView {
            status,
            spent_usd: s.spent,
            reserved_usd: s.reserved,
            period_start_ms: s.period_start_ms,
            resets_at_ms: info.period.next_reset(now),
            info,
        }
    }

    fn stored_spend(&self) -> StoredSpend {
        let s = self.spend.lock_or_recover();
        StoredSpend {
            period_start_ms: s.period_start_ms,
            spent_usd: s.spent,
        }
    }

    /// Team mode: what was spent here since the last flush, taken out of
    /// `unflushed` (given back by [`LiveKey::untake_delta`] if the flush fails).
    fn take_delta(&self) -> Option<StoredSpend> {
        let mut s = self.spend.lock_or_recover();
        if s.unflushed <= 0.0 {
            return None;
        }
        let d = std::mem::take(&mut s.unflushed);
        Some(StoredSpend {
            period_start_ms: s.period_start_ms,
            spent_usd: d,
        })
    }

    fn untake_delta(&self, d: StoredSpend) {
        let mut s = self.spend.lock_or_recover();
        if s.period_start_ms == d.period_start_ms {
            s.unflushed += d.spent_usd;
        }
    }

    /// Team mode: the spend every replica flushed, plus what this one spent
    /// since.
    fn merge_stored(&self, stored: StoredSpend, now: i64) {
        let period = self.info.read_or_recover().period;
        let mut s = self.spend.lock_or_recover();
        roll(&mut s, period, now);
        if stored.period_start_ms == s.period_start_ms {
            s.spent = stored.spent_usd + s.unflushed;
        }
    }
}

/// A new period starts from nothing spent.
fn roll(s: &mut Spend, period: Period, now: i64) {
    let start = period.start(now);
    if start != s.period_start_ms {
        *s = Spend {
            period_start_ms: start,
            spent: 0.0,
            reserved: 0.0,
            unflushed: 0.0,
        };
    }
}

/// A model a key may ask for: a name, or a pattern with one `*`.
#[derive(Debug)]
enum ModelRule {
    Exact(String),
    Pattern(Pattern),
}

impl ModelRule {
    fn new(m: &str) -> Self {
        Pattern::parse(m).map_or_else(|| Self::Exact(m.to_string()), Self::Pattern)
    }

    fn matches(&self, model: &str) -> bool {
        match self {
            Self::Exact(m) => m == model,
            Self::Pattern(p) => p.matches(model),
        }
    }
}

/// A secret's hash as stored: SHA-256, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{SECRET_PREFIX}{}", hex::encode(b))
}

fn new_id() -> String {
    let mut b = [0u8; 6];
    rand::rng().fill_bytes(&mut b);
    format!("vk_{}", hex::encode(b))
}

fn display_prefix(secret: &str) -> String {
    secret.chars().take(SECRET_PREFIX.len() + 8).collect()
}

/// A secret the map accepts: until when (`None`: for as long as the key).
#[derive(Debug, Clone)]
struct Accepted {
    key: Arc<LiveKey>,
    until_ms: Option<i64>,
}

#[derive(Debug, Default)]
struct Maps {
    /// By the secret's SHA-256.
    by_hash: HashMap<[u8; 32], Accepted>,
    by_id: HashMap<String, (Arc<LiveKey>, StoredKey)>,
}

/// Every virtual key, in memory, with the backend they are kept in.
#[derive(Debug)]
pub struct VirtualKeys {
    backend: Arc<dyn KeyBackend>,
    maps: RwLock<Maps>,
    /// Keys not revoked: when 0 the hot path does no lookup.
    usable: AtomicUsize,
    /// Keys whose spend changed since the last flush.
    dirty: Mutex<HashSet<String>>,
    /// Changes made here (create, revoke, rotate): a [`VirtualKeys::refresh`]
    /// that read the store before one of them reads it again.
    writes: AtomicUsize,
    /// Team mode: the local copy of the shared keys (`config.db`), to start
    /// on when the shared store is unreachable ([`VirtualKeys::load_shared`]).
    copy: Option<Arc<dyn KeyBackend>>,
}

fn hash_bytes(hex_hash: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_hash, &mut out).ok()?;
    Some(out)
}

impl VirtualKeys {
    /// Loads every key of `backend`.
    pub fn load(backend: Arc<dyn KeyBackend>) -> Result<Self, KeyError> {
        let rows = backend.load()?;
        Ok(Self::from_rows(backend, rows))
    }

    fn from_rows(
        backend: Arc<dyn KeyBackend>,
        rows: Vec<(StoredKey, Option<StoredSpend>)>,
    ) -> Self {
        let now = now_ms();
        let mut maps = Maps::default();
        let mut usable = 0;
        for (stored, spend) in rows {
            let live = Arc::new(LiveKey::new(stored.info.clone(), spend, now));
            if stored.info.revoked_at_ms.is_none() {
                usable += 1;
                insert_hashes(&mut maps, &live, &stored);
            }
            maps.by_id
                .insert(stored.info.id.clone(), (live, stored.clone()));
        }
        Self {
            backend,
            maps: RwLock::new(maps),
            usable: AtomicUsize::new(usable),
            dirty: Mutex::new(HashSet::new()),
            writes: AtomicUsize::new(0),
            copy: None,
        }
    }

    /// Team mode: loads the keys of the shared store and keeps a copy of
    /// them in `copy` (create, rotate, revoke and every change read back are
    /// copied too). When the shared store cannot be reached the keys come
    /// from the copy, as last seen (a warning says so), and the shared store
    /// is read again when it is back ([`VirtualKeys::refresh`]). Blocks.
    pub fn load_shared(
        shared: Arc<dyn KeyBackend>,
        copy: Arc<dyn KeyBackend>,
    ) -> Result<Self, KeyError> {
        let mut keys = match shared.load() {
            Ok(rows) => {
                let stored: Vec<StoredKey> = rows.iter().map(|(k, _)| k.clone()).collect();
                if let Err(e) = copy.put_all(&stored) {
                    tracing::warn!("virtual keys: cannot update the local copy: {e}");
                }
                Self::from_rows(shared, rows)
            }
            Err(e) => {
                let Ok(rows) = copy.load() else {
                    return Err(e.into());
                };
                tracing::warn!(
                    "virtual keys: {e}; serving the {} key(s) of the local copy as last seen until it is back (spend counts from the copy's last flush)",
                    rows.len()
                );
                Self::from_rows(shared, rows)
            }
        };
        keys.copy = Some(copy);
        Ok(keys)
    }

    /// Keys only in memory.
    pub fn in_memory() -> Self {
        Self::load(Arc::new(MemoryBackend::default())).unwrap_or_else(|_| Self {
            backend: Arc::new(MemoryBackend::default()),
            maps: RwLock::default(),
            usable: AtomicUsize::new(0),
            dirty: Mutex::default(),
            writes: AtomicUsize::new(0),
            copy: None,
        })
    }

    /// Whether any key is not revoked (then a client must present a key).
    pub fn any_usable(&self) -> bool {
        self.usable.load(Ordering::Relaxed) > 0
    }

    /// The key a presented secret belongs to, when it is one that works
    /// now (not revoked, not expired, not a rotated secret past its grace).
    pub fn authenticate(&self, presented: &str) -> Option<Arc<LiveKey>> {
        if !presented.starts_with(SECRET_PREFIX) {
            return None;
        }
        let h: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let now = now_ms();
        let maps = self.maps.read_or_recover();
        let a = maps.by_hash.get(&h)?;
        (a.until_ms.is_none_or(|u| now < u) && a.key.usable(now)).then(|| a.key.clone())
    }

    /// Makes a key; its secret is in the answer only.
    pub fn create(&self, new: NewKey) -> Result<Issued, KeyError> {
        let now = now_ms();
        let info = validate(new, now)?;
        let secret = new_secret();
        let info = KeyInfo {
            prefix: display_prefix(&secret),
            ..info
        };
        let stored = StoredKey {
            info: info.clone(),
            hash: hash_secret(&secret),
            old_hash: None,
            old_until_ms: None,
        };
        let mut maps = self.maps.write_or_recover();
        if maps.by_id.len() >= MAX_KEYS {
            return Err(KeyError::TooMany);
        }
        self.backend.put(&stored)?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.copy_out(std::slice::from_ref(&stored));
        let live = Arc::new(LiveKey::new(info.clone(), None, now));
        insert_hashes(&mut maps, &live, &stored);
        maps.by_id.insert(info.id.clone(), (live, stored));
        self.usable.fetch_add(1, Ordering::Relaxed);
        Ok(Issued { key: info, secret })
    }

    /// Every key, newest first, with its spend.
    pub fn list(&self) -> Vec<KeyView> {
        let now = now_ms();
        let mut v: Vec<KeyView> = self
            .maps
            .read_or_recover()
            .by_id
            .values()
            .map(|(k, _)| k.view(now))
            .collect();
        v.sort_by(|a, b| {
            b.info
                .created_at_ms
                .cmp(&a.info.created_at_ms)
                .then_with(|| a.info.id.cmp(&b.info.id))
        });
        v
    }

    pub fn get(&self, id: &str) -> Option<KeyView> {
        let maps = self.maps.read_or_recover();
        maps.by_id.get(id).map(|(k, _)| k.view(now_ms()))
    }

    /// Revokes a key: its secrets stop working now.
    pub fn revoke(&self, id: &str) -> Result<KeyInfo, KeyError> {
        let mut maps = self.maps.write_or_recover();
        let (live, stored) = maps
            .by_id
            .get(id)
            .cloned()
            .ok_or_else(|| KeyError::NotFound(id.to_string()))?;
        if stored.info.revoked_at_ms.is_some() {
            return Ok(stored.info);
        }
        let mut stored = stored;
        stored.info.revoked_at_ms = Some(now_ms());
        self.backend.put(&stored)?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.copy_out(std::slice::from_ref(&stored));
        *live.info.write_or_recover() = stored.info.clone();
        maps.by_hash.retain(|_, a| !Arc::ptr_eq(&a.key, &live));
        let info = stored.info.clone();
        maps.by_id.insert(id.to_string(), (live, stored));
        self.usable.fetch_sub(1, Ordering::Relaxed);
        Ok(info)
    }

    /// A new secret for a key; the old one keeps working for `grace`.
    pub fn rotate(&self, id: &str, grace: Duration) -> Result<Issued, KeyError> {
        if grace > MAX_GRACE {
            return Err(KeyError::Invalid(format!(
                "grace_s: at most {} seconds",
                MAX_GRACE.as_secs()
            )));
        }
        let mut maps = self.maps.write_or_recover();
        let (live, mut stored) = maps
            .by_id
            .get(id)
            .cloned()
            .ok_or_else(|| KeyError::NotFound(id.to_string()))?;
        if stored.info.revoked_at_ms.is_some() {
            return Err(KeyError::Revoked(id.to_string()));
        }
        let secret = new_secret();
        let now = now_ms();
        let old = std::mem::replace(&mut stored.hash, hash_secret(&secret));
        (stored.old_hash, stored.old_until_ms) = if grace.is_zero() {
            (None, None)
        } else {
            (Some(old), Some(now + grace.as_millis() as i64))
        };
        stored.info.prefix = display_prefix(&secret);
        self.backend.put(&stored)?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.copy_out(std::slice::from_ref(&stored));
        *live.info.write_or_recover() = stored.info.clone();
        maps.by_hash.retain(|_, a| !Arc::ptr_eq(&a.key, &live));
        insert_hashes(&mut maps, &live, &stored);
        let info = stored.info.clone();
        maps.by_id.insert(id.to_string(), (live, stored));
        Ok(Issued { key: info, secret })
    }

    /// Team mode: copies `keys` to the local copy (a failure only warns).
    fn copy_out(&self, keys: &[StoredKey]) {
        if let Some(c) = &self.copy
            && !keys.is_empty()
            && let Err(e) = c.put_all(keys)
        {
            tracing::warn!("virtual keys: cannot update the local copy: {e}");
        }
    }

    /// Marks `key`'s spend to be written at the next flush.
    fn touch(&self, key: &LiveKey) {
        self.dirty.lock_or_recover().insert(key.id());
    }

    /// Settles a request of `key` (see [`LiveKey::settle`]).
    pub fn settle(
        &self,
        key: &LiveKey,
        reserved_usd: f64,
        actual_usd: f64,
        est_tokens: u64,
        actual_tokens: u64,
    ) {
        key.settle(reserved_usd, actual_usd, est_tokens, actual_tokens);
        if actual_usd > 0.0 {
            self.touch(key);
        }
    }

    /// Writes the spend that changed since the last flush. In team mode
    /// ([`KeyBackend::shared`]) it adds this replica's deltas to the shared
    /// store and takes every key's total from it (what the other replicas
    /// spent). Blocks: call it off the async threads.
    pub fn flush(&self) -> Result<usize, KeyError> {
        if self.backend.shared() {
            return self.flush_shared();
        }
        let ids: Vec<String> = self.dirty.lock_or_recover().drain().collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let rows: Vec<(String, StoredSpend)> = {
            let maps = self.maps.read_or_recover();
            ids.iter()
                .filter_map(|id| {
                    maps.by_id
                        .get(id)
                        .map(|(k, _)| (id.clone(), k.stored_spend()))
                })
                .collect()
        };
        if let Err(e) = self.backend.save_spend(&rows) {
            // Kept for the next flush.
            self.dirty.lock_or_recover().extend(ids);
            return Err(e.into());
        }
        Ok(rows.len())
    }

    fn flush_shared(&self) -> Result<usize, KeyError> {
        self.dirty.lock_or_recover().clear();
        let keys: Vec<(String, Arc<LiveKey>)> = {
            let maps = self.maps.read_or_recover();
            maps.by_id
                .iter()
                .map(|(id, (k, _))| (id.clone(), k.clone()))
                .collect()
        };
        let mut taken = Vec::new();
        let mut deltas = Vec::new();
        for (id, k) in &keys {
            if let Some(d) = k.take_delta() {
                taken.push((k.clone(), d));
                deltas.push((id.clone(), d));
            }
        }
        match self.backend.add_spend(&deltas) {
            Ok(totals) => {
                let now = now_ms();
                let maps = self.maps.read_or_recover();
                for (id, t) in totals {
                    if let Some((k, _)) = maps.by_id.get(&id) {
                        k.merge_stored(t, now);
                    }
                }
                Ok(deltas.len())
            }
            Err(e) => {
                // Kept for the next flush.
                for (k, d) in taken {
                    k.untake_delta(d);
                }
                Err(e.into())
            }
        }
    }

    /// Team mode: takes the keys `ids` (`None`: all) as the shared store has
    /// them now: keys another replica made, revoked or rotated. Blocks: call
    /// it off the async threads. Answers how many keys were read.
    pub fn refresh(&self, ids: Option<&[String]>) -> Result<usize, KeyError> {
        if !self.backend.shared() {
            return Ok(0);
        }
        let mut tries = 0;
        let (stored, mut maps) = loop {
            let before = self.writes.load(Ordering::Relaxed);
            let stored = self.backend.fetch(ids)?;
            let maps = self.maps.write_or_recover();
            tries += 1;
            // A change made here meanwhile may be newer than what was read.
            if self.writes.load(Ordering::Relaxed) == before || tries == 3 {
                break (stored, maps);
            }
        };
        let n = stored.len();
        let now = now_ms();
        let mut changed = Vec::new();
        for st in stored {
            let id = st.info.id.clone();
            match maps.by_id.get(&id).cloned() {
                Some((_, old)) if old == st => {}
                // A revocation is final: an older read does not undo it.
                Some((_, old))
                    if old.info.revoked_at_ms.is_some() && st.info.revoked_at_ms.is_none() => {}
                Some((live, old)) => {
                    if old.info.revoked_at_ms.is_none() && st.info.revoked_at_ms.is_some() {
                        self.usable.fetch_sub(1, Ordering::Relaxed);
                    }
                    *live.info.write_or_recover() = st.info.clone();
                    maps.by_hash.retain(|_, a| !Arc::ptr_eq(&a.key, &live));
                    if st.info.revoked_at_ms.is_none() {
                        insert_hashes(&mut maps, &live, &st);
                    }
                    changed.push(st.clone());
                    maps.by_id.insert(id, (live, st));
                }
                None => {
                    if maps.by_id.len() >= MAX_KEYS {
                        tracing::warn!("virtual keys: at most {MAX_KEYS}; {id} not loaded");
                        continue;
                    }
                    let live = Arc::new(LiveKey::new(st.info.clone(), None, now));
                    if st.info.revoked_at_ms.is_none() {
                        self.usable.fetch_add(1, Ordering::Relaxed);
                        insert_hashes(&mut maps, &live, &st);
                    }
                    changed.push(st.clone());
                    maps.by_id.insert(id, (live, st));
                }
            }
        }
        drop(maps);
        self.copy_out(&changed);
        Ok(n)
    }

    /// Every [`FLUSH_EVERY`] until `stop`, then once more (on the blocking
    /// pool: the store may be PostgreSQL or a busy disk).
    pub async fn run_flusher(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        let flush = |keys: Arc<Self>| async move {
            tokio::task::spawn_blocking(move || keys.flush())
                .await
                .unwrap_or_else(|e| Err(KeyError::Invalid(format!("flush task: {e}"))))
        };
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(FLUSH_EVERY) => {}
            }
            // (Nothing spent since the last flush, on a local store: no
            // hop to the blocking pool, which an idle gateway would make
            // every FLUSH_EVERY.)
            if !self.backend.shared() && self.dirty.lock_or_recover().is_empty() {
                continue;
            }
            if let Err(e) = flush(self.clone()).await {
                tracing::warn!("virtual key spend: {e}");
            }
        }
        if let Err(e) = flush(self.clone()).await {
            tracing::warn!("virtual key spend at shutdown: {e}");
        }
    }
}

fn insert_hashes(maps: &mut Maps, live: &Arc<LiveKey>, stored: &StoredKey) {
    if let Some(h) = hash_bytes(&stored.hash) {
        maps.by_hash.insert(
            h,
            Accepted {
                key: live.clone(),
                until_ms: None,
            },
        );
    }
    if let (Some(old), Some(until)) = (&stored.old_hash, stored.old_until_ms)
        && let Some(h) = hash_bytes(old)
    {
        maps.by_hash.insert(
            h,
            Accepted {
                key: live.clone(),
                until_ms: Some(until),
            },
        );
    }
}

fn check_text(what: &str, s: &str) -> Result<(), KeyError> {
    if s.is_empty() || s.len() > MAX_NAME_LEN {
        return Err(KeyError::Invalid(format!(
            "{what}: 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b' '))
    {
        return Err(KeyError::Invalid(format!(
            "{what} {s:?}: letters, digits, space and - _ . @ only"
        )));
    }
    Ok(())
}

/// Checks what the operator asked for; the key it makes has no prefix yet.
fn validate(new: NewKey, now: i64) -> Result<KeyInfo, KeyError> {
    let name = new.name.trim().to_string();
    check_text("name", &name)?;
    let team = new
        .team
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(t) = &team {
        check_text("team", t)?;
    }
    if new.models.len() > MAX_PATTERNS {
        return Err(KeyError::Invalid(format!(
            "models: at most {MAX_PATTERNS} patterns"
        )));
    }
    let mut models = Vec::new();
    for m in new.models {
        let m = m.trim().to_string();
        if m.is_empty() || m.len() > 256 || m.matches('*').count() > 1 {
            return Err(KeyError::Invalid(format!(
                "model pattern {m:?}: a model name with at most one '*' (up to 256 bytes)"
            )));
        }
        models.push(m);
    }
    if let Some(b) = new.budget_usd
        && !(0.0..=1e9).contains(&b)
    {
        return Err(KeyError::Invalid(
            "budget_usd: a number of USD from 0 to 1e9".into(),
        ));
    }
    if new.tags.len() > MAX_TAGS {
        return Err(KeyError::Invalid(format!("tags: at most {MAX_TAGS}")));
    }
    for (k, v) in &new.tags {
        if k.is_empty() || k.len() > MAX_TAG_LEN || v.len() > MAX_TAG_LEN {
            return Err(KeyError::Invalid(format!(
                "tag {k:?}: a key of 1 to {MAX_TAG_LEN} bytes, a value of at most {MAX_TAG_LEN}"
            )));
        }
    }
    let expires_at_ms = match new.expires_in_s {
        Some(0) => return Err(KeyError::Invalid("expires_in_s: at least 1".into())),
        Some(s) => {
            Some(now.saturating_add(i64::try_from(s.min(100 * 365 * 86_400)).unwrap_or(0) * 1000))
        }
        None => None,
    };
    Ok(KeyInfo {
        id: new_id(),
        name,
        team,
        models,
        rpm: new.rpm,
        tpm: new.tpm,
        budget_usd: new.budget_usd,
        period: new.period.unwrap_or_default(),
        expires_at_ms,
        tags: new.tags,
        created_at_ms: now,
        revoked_at_ms: None,
        prefix: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(keys: &VirtualKeys, budget: Option<f64>, models: &[&str]) -> Issued {
        keys.create(NewKey {
            name: "alice".into(),
            team: Some("ml".into()),
            models: models.iter().map(|m| m.to_string()).collect(),
            budget_usd: budget,
            ..NewKey::default()
        })
        .unwrap()
    }

    #[test]
    fn create_authenticate_revoke() {
        let keys = VirtualKeys::in_memory();
        assert!(!keys.any_usable());
        let k = key(&keys, None, &[]);
        assert!(k.secret.starts_with(SECRET_PREFIX) && k.secret.len() == 8 + 64);
        assert!(k.secret.starts_with(&k.key.prefix));
        assert!(keys.any_usable());
        assert!(keys.authenticate(&k.secret).is_some());
        assert!(keys.authenticate("aigw_vk_nope").is_none());
        keys.revoke(&k.key.id).unwrap();
        assert!(keys.authenticate(&k.secret).is_none());
        assert!(!keys.any_usable());
        assert_eq!(keys.list()[0].status, "revoked");
    }

    #[test]
    fn rotation_keeps_the_old_secret_for_its_grace_only() {
        let keys = VirtualKeys::in_memory();
        let k = key(&keys, None, &[]);
        let r = keys.rotate(&k.key.id, Duration::from_secs(60)).unwrap();
        assert!(keys.authenticate(&r.secret).is_some());
        assert!(keys.authenticate(&k.secret).is_some());
        let r2 = keys.rotate(&k.key.id, Duration::ZERO).unwrap();
        assert!(keys.authenticate(&r2.secret).is_some());
        assert!(keys.authenticate(&r.secret).is_none());
        assert!(keys.authenticate(&k.secret).is_none());
    }

    #[test]
    fn patterns_and_budgets() {
        let keys = VirtualKeys::in_memory();
        let k = key(&keys, Some(1.0), &["gpt-5*", "claude-haiku-4"]);
        let live = keys.authenticate(&k.secret).unwrap();
        assert!(live.allows("gpt-5-mini") && live.allows("claude-haiku-4"));
        assert!(!live.allows("claude-haiku-4-5") && !live.allows("gpt-4o"));
        assert!(matches!(
            live.admit("gpt-4o", 1, 0.0),
            Err(Refusal::ModelNotAllowed { .. })
        ));
        live.admit("gpt-5", 1, 0.6).unwrap();
        // reserved 0.6 of 1.0: another 0.6 would go over
        assert!(matches!(
            live.admit("gpt-5", 1, 0.6),
            Err(Refusal::BudgetExceeded { .. })
        ));
        // it cost 0.1: 0.9 left
        keys.settle(&live, 0.6, 0.1, 1, 1);
        live.admit("gpt-5", 1, 0.6).unwrap();
        keys.settle(&live, 0.6, 0.95, 1, 1);
        let e = live.admit("gpt-5", 1, 0.0).unwrap_err();
        let Refusal::BudgetExceeded { resets_at_ms, .. } = e else {
            panic!("{e:?}")
        };
        assert_eq!(resets_at_ms, Period::Monthly.next_reset(now_ms()));
        assert!((keys.list()[0].spent_usd - 1.05).abs() < 1e-9);
        assert_eq!(keys.flush().unwrap(), 1);
        assert_eq!(keys.flush().unwrap(), 0);
    }

    #[test]
    fn bad_input_is_refused() {
        let keys = VirtualKeys::in_memory();
        for bad in [
            NewKey::default(),
            NewKey {
                name: "a\nb".into(),
                ..NewKey::default()
            },
            NewKey {
                name: "a".into(),
                models: vec!["a**".into()],
                ..NewKey::default()
            },
            NewKey {
                name: "a".into(),
                budget_usd: Some(f64::NAN),
                ..NewKey::default()
            },
            NewKey {
                name: "a".into(),
                expires_in_s: Some(0),
                ..NewKey::default()
            },
        ] {
            assert!(matches!(keys.create(bad), Err(KeyError::Invalid(_))));
        }
    }

    /// A store two gateways share, in memory: spend is added.
    #[derive(Debug, Default)]
    struct Shared(MemoryBackend);

    impl KeyBackend for Shared {
        fn load(&self) -> Result<Vec<(StoredKey, Option<StoredSpend>)>, BackendError> {
            self.0.load()
        }
        fn put(&self, key: &StoredKey) -> Result<(), BackendError> {
            self.0.put(key)
        }
        fn save_spend(&self, spend: &[(String, StoredSpend)]) -> Result<(), BackendError> {
            self.0.save_spend(spend)
        }
        fn shared(&self) -> bool {
            true
        }
        fn add_spend(
            &self,
            deltas: &[(String, StoredSpend)],
        ) -> Result<Vec<(String, StoredSpend)>, BackendError> {
            let mut m = self.0.spend.lock_or_recover();
            for (id, d) in deltas {
                match m.get_mut(id) {
                    Some(e) if e.period_start_ms == d.period_start_ms => e.spent_usd += d.spent_usd,
                    _ => {
                        m.insert(id.clone(), *d);
                    }
                }
            }
            Ok(m.iter().map(|(k, v)| (k.clone(), *v)).collect())
        }
        fn fetch(&self, ids: Option<&[String]>) -> Result<Vec<StoredKey>, BackendError> {
            Ok(self
                .0
                .keys
                .lock_or_recover()
                .values()
                .filter(|k| ids.is_none_or(|ids| ids.contains(&k.info.id)))
                .cloned()
                .collect())
        }
    }

    #[test]
    fn replicas_on_a_shared_store_see_each_others_keys_and_spend() {
        let store = Arc::new(Shared::default());
        let a = VirtualKeys::load(store.clone()).unwrap();
        let b = VirtualKeys::load(store.clone()).unwrap();
        let k = key(&a, Some(10.0), &[]);
        assert!(b.authenticate(&k.secret).is_none());
        assert_eq!(b.refresh(Some(std::slice::from_ref(&k.key.id))).unwrap(), 1);
        assert!(b.any_usable());
        let (la, lb) = (
            a.authenticate(&k.secret).unwrap(),
            b.authenticate(&k.secret).unwrap(),
        );
        // spend on both adds up in the store, and each sees the total
        la.admit("m", 1, 1.0).unwrap();
        a.settle(&la, 1.0, 1.0, 1, 1);
        lb.admit("m", 1, 1.0).unwrap();
        b.settle(&lb, 1.0, 2.0, 1, 1);
        assert_eq!(a.flush().unwrap(), 1);
        assert_eq!(b.flush().unwrap(), 1);
        assert_eq!(a.flush().unwrap(), 0);
        assert!((b.get(&k.key.id).unwrap().spent_usd - 3.0).abs() < 1e-9);
        assert!((a.get(&k.key.id).unwrap().spent_usd - 3.0).abs() < 1e-9);
        // spend made after a flush counts on top of the shared total
        a.settle(&la, 0.0, 0.5, 1, 1);
        assert!((a.get(&k.key.id).unwrap().spent_usd - 3.5).abs() < 1e-9);
        b.flush().unwrap();
        assert!((a.get(&k.key.id).unwrap().spent_usd - 3.5).abs() < 1e-9);
        a.flush().unwrap();
        b.flush().unwrap();
        assert!((b.get(&k.key.id).unwrap().spent_usd - 3.5).abs() < 1e-9);
        // rotated on B with grace: A takes both secrets; revoked on B: neither
        let r = b.rotate(&k.key.id, Duration::from_secs(60)).unwrap();
        a.refresh(None).unwrap();
        assert!(a.authenticate(&r.secret).is_some() && a.authenticate(&k.secret).is_some());
        b.revoke(&k.key.id).unwrap();
        a.refresh(Some(std::slice::from_ref(&k.key.id))).unwrap();
        assert!(a.authenticate(&r.secret).is_none() && a.authenticate(&k.secret).is_none());
        assert!(!a.any_usable());
        // an older read never undoes a revocation
        let mut stale = store.fetch(None).unwrap().remove(0);
        stale.info.revoked_at_ms = None;
        store.put(&stale).unwrap();
        a.refresh(None).unwrap();
        assert!(a.authenticate(&r.secret).is_none());
        assert_eq!(a.get(&k.key.id).unwrap().status, "revoked");
    }
}
