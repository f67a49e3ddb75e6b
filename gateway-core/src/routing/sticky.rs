//! Sticky sessions: a session's requests on a `weighted` or `latency` route
//! keep going to the target that served it last, so the provider's prompt
//! cache stays warm. A session is named by its [`SessionKey`] (a header or a
//! body field, see [`SessionKey::from_request`]).
//!
//! Each route has its own [`StickyTable`]: a bounded LRU of session → target
//! index with a TTL since last use. The table is sharded (16 mutexes once
//! the bound is 1,024 or more) so requests of different sessions only meet in
//! a short critical section (a hash lookup); a request without a session key
//! never touches it. An entry is the 8-byte session hash, the 4-byte target
//! index and a 16-byte last-use time in a linked hash map node: about 64
//! bytes with the map's own overhead, so the default bound of 10,000
//! sessions per route is under 1 MB.
//!
//! The key itself is never stored or logged: the table keeps the first 8
//! bytes of `sha256("aigw:" + key)`, and telemetry or logs may show the hex
//! of the first 16 ([`SessionKey::id`]), which is also the `prompt_cache_key`
//! derived for OpenAI upstreams.
//!
//! Team mode (`[cluster] redis_url`): a binding is also published to Redis
//! (`cluster::sessions`, TTL `routing.sticky_ttl_s`) when it is new, moves,
//! or was last published more than a quarter of the TTL ago
//! ([`StickyTable::set`] says when), and a session this table does not
//! know is looked up there once ([`StickyTable::recall`] keeps the answer),
//! so a session keeps its target across replicas behind a load balancer.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use hashlink::LruCache;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::sync::LockExt;

/// Headers that name a session, in order of precedence (before the body's
/// `prompt_cache_key`, Anthropic `metadata.user_id` and `user`).
pub const SESSION_HEADERS: [&str; 3] = ["x-claude-code-session-id", "x-session-id", "x-sticky-key"];

/// Longest session key read; a longer one is not a session key (ignored).
pub const MAX_KEY_LEN: usize = 512;

/// A request's session, hashed: the raw key is dropped once hashed.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey {
    digest: [u8; 16],
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionKey({})", self.id())
    }
}

impl SessionKey {
    /// `None` for an empty or over-long key.
    pub fn new(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_KEY_LEN {
            return None;
        }
        let mut h = Sha256::new();
        h.update(b"aigw:");
        h.update(raw.as_bytes());
        let full = h.finalize();
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        Some(Self { digest })
    }

    /// The first session header present (in [`SESSION_HEADERS`] order),
    /// else the body's session field (`body`, read by `routing::body::peek`).
    pub fn from_request(headers: &HeaderMap, body: Option<&str>) -> Option<Self> {
        SESSION_HEADERS
            .iter()
            .find_map(|name| {
                headers
                    .get(*name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Self::new)
            })
            .or_else(|| body.and_then(Self::new))
    }

    /// 32 hex digits of `sha256("aigw:" + key)`: safe to log, stable per
    /// session (the derived `prompt_cache_key`).
    pub fn id(&self) -> String {
        hex::encode(self.digest)
    }

    fn slot(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.digest[..8]);
        u64::from_le_bytes(b)
    }
}

/// Keys are already uniform hashes: use them as they are.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    target: u32,
    /// When the binding was last published (team mode), in seconds since
    /// the table's epoch.
    synced: u32,
    last_used: Instant,
}

type Shard = LruCache<u64, Entry, BuildHasherDefault<Identity>>;

/// One route's sessions: bounded LRU, entries expire `ttl` after last use.
pub struct StickyTable {
    ttl: Duration,
    max: usize,
    shards: Box<[Mutex<Shard>]>,
    epoch: Instant,
}

impl std::fmt::Debug for StickyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StickyTable")
            .field("ttl", &self.ttl)
            .field("max", &self.max)
            .field("len", &self.len())
            .finish()
    }
}

/// Shards once the bound is large enough for the split to stay near LRU.
const SHARDS: usize = 16;
const SHARD_FROM: usize = 1024;

impl StickyTable {
    pub fn new(ttl: Duration, max: usize) -> Self {
        let max = max.max(1);
        let n = if max >= SHARD_FROM { SHARDS } else { 1 };
        let per = max.div_ceil(n);
        let shards = (0..n)
            .map(|_| Mutex::new(LruCache::with_hasher(per, BuildHasherDefault::default())))
            .collect();
        Self {
            ttl,
            max,
            shards,
            epoch: Instant::now(),
        }
    }

    fn stamp(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.epoch).as_secs()).unwrap_or(u32::MAX)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn shard(&self, key: &SessionKey) -> &Mutex<Shard> {
        // A byte the map's hash does not use picks the shard.
        &self.shards[usize::from(key.digest[8]) % self.shards.len()]
    }

    /// The session's target if it was used within the TTL; an expired entry
    /// is removed. A hit counts as a use.
    pub fn get(&self, key: &SessionKey, now: Instant) -> Option<usize> {
        let slot = key.slot();
        let mut s = self.shard(key).lock_or_recover();
        let e = s.get_mut(&slot)?;
        if now.saturating_duration_since(e.last_used) > self.ttl {
            s.remove(&slot);
            return None;
        }
        e.last_used = now;
        Some(e.target as usize)
    }

    /// Whether the session has a live entry (not counted as a use).
    pub fn contains(&self, key: &SessionKey, now: Instant) -> bool {
        let s = self.shard(key).lock_or_recover();
        s.peek(&key.slot())
            .is_some_and(|e| now.saturating_duration_since(e.last_used) <= self.ttl)
    }

    /// The session is now on `target` (it served the request). True when
    /// team mode should publish the binding: it is new, it moved, or it was
    /// last published more than a quarter of the TTL ago.
    pub fn set(&self, key: &SessionKey, target: usize, now: Instant) -> bool {
        let slot = key.slot();
        let target = u32::try_from(target).unwrap_or(u32::MAX);
        let stamp = self.stamp(now);
        let every = u32::try_from((self.ttl / 4).as_secs().max(1)).unwrap_or(u32::MAX);
        let mut s = self.shard(key).lock_or_recover();
        let kept = s
            .get(&slot)
            .filter(|e| e.target == target && stamp.saturating_sub(e.synced) < every)
            .map(|e| e.synced);
        s.insert(
            slot,
            Entry {
                target,
                synced: kept.unwrap_or(stamp),
                last_used: now,
            },
        );
        kept.is_none()
    }

    /// Team mode: another replica's binding of the session, found in Redis
    /// on a miss here: kept as if it had been published now.
    pub fn recall(&self, key: &SessionKey, target: usize, now: Instant) {
        let target = u32::try_from(target).unwrap_or(u32::MAX);
        let synced = self.stamp(now);
        self.shard(key).lock_or_recover().insert(
            key.slot(),
            Entry {
                target,
                synced,
                last_used: now,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock_or_recover().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> SessionKey {
        SessionKey::new(s).unwrap()
    }

    #[test]
    fn keys_are_hashed_and_bounded() {
        assert_eq!(k("abc"), k(" abc "));
        assert_ne!(k("abc"), k("abd"));
        assert!(SessionKey::new("").is_none());
        assert!(SessionKey::new(&"x".repeat(MAX_KEY_LEN + 1)).is_none());
        let id = k("secret-session").id();
        assert_eq!(id.len(), 32);
        assert!(!format!("{:?}", k("secret-session")).contains("secret"));
        // sha256("aigw:abc"), first 16 bytes
        let full = hex::encode(Sha256::digest(b"aigw:abc"));
        assert_eq!(k("abc").id(), full[..32]);
    }

    #[test]
    fn header_precedence_then_body() {
        let mut h = HeaderMap::new();
        assert_eq!(SessionKey::from_request(&h, Some("body")), Some(k("body")));
        h.insert("x-sticky-key", "sticky".parse().unwrap());
        assert_eq!(
            SessionKey::from_request(&h, Some("body")),
            Some(k("sticky"))
        );
        h.insert("x-session-id", "sess".parse().unwrap());
        assert_eq!(SessionKey::from_request(&h, Some("body")), Some(k("sess")));
        h.insert("x-claude-code-session-id", "cc".parse().unwrap());
        assert_eq!(SessionKey::from_request(&h, Some("body")), Some(k("cc")));
        // an empty header is no session key: the next source counts
        h.insert("x-claude-code-session-id", "".parse().unwrap());
        assert_eq!(SessionKey::from_request(&h, Some("body")), Some(k("sess")));
        assert_eq!(SessionKey::from_request(&HeaderMap::new(), None), None);
    }

    #[test]
    fn ttl_since_last_use_and_lru_bound() {
        let t = StickyTable::new(Duration::from_secs(10), 2);
        let now = Instant::now();
        t.set(&k("a"), 1, now);
        t.set(&k("b"), 0, now);
        assert_eq!(t.get(&k("a"), now + Duration::from_secs(9)), Some(1));
        // a was used at 9 s: alive at 18 s; b (last used at 0) is gone
        assert_eq!(t.get(&k("b"), now + Duration::from_secs(11)), None);
        assert_eq!(t.get(&k("a"), now + Duration::from_secs(18)), Some(1));
        t.set(&k("b"), 0, now + Duration::from_secs(18));
        // a is the most recently used after this get; c evicts b
        assert_eq!(t.get(&k("a"), now + Duration::from_secs(18)), Some(1));
        t.set(&k("c"), 2, now + Duration::from_secs(18));
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(&k("b"), now + Duration::from_secs(18)), None);
        assert_eq!(t.get(&k("c"), now + Duration::from_secs(18)), Some(2));
    }

    #[test]
    fn bindings_are_published_when_new_moved_or_a_quarter_ttl_old() {
        let t = StickyTable::new(Duration::from_secs(40), 10);
        let now = Instant::now();
        assert!(t.set(&k("a"), 1, now), "new");
        assert!(!t.set(&k("a"), 1, now + Duration::from_secs(5)));
        assert!(t.set(&k("a"), 0, now + Duration::from_secs(6)), "moved");
        assert!(!t.set(&k("a"), 0, now + Duration::from_secs(15)));
        assert!(t.set(&k("a"), 0, now + Duration::from_secs(16)), "10 s old");
        // Recalled from Redis: known here, not published again at once.
        assert!(!t.contains(&k("b"), now));
        t.recall(&k("b"), 2, now);
        assert!(t.contains(&k("b"), now));
        assert!(!t.set(&k("b"), 2, now + Duration::from_secs(1)));
        assert!(
            !t.contains(&k("b"), now + Duration::from_secs(42)),
            "expired"
        );
    }

    #[test]
    fn an_entry_is_small() {
        // key + value of a map node; the node adds two links (16 bytes) and
        // the table a pointer and a control byte: ~58 bytes in all
        assert!(std::mem::size_of::<(u64, Entry)>() <= 32);
    }

    #[test]
    fn large_tables_are_sharded_and_bounded() {
        let t = StickyTable::new(Duration::from_secs(60), 4096);
        assert_eq!(t.shards.len(), SHARDS);
        let now = Instant::now();
        for i in 0..10_000 {
            t.set(&k(&format!("s{i}")), i % 3, now);
        }
        assert!(t.len() <= 4096, "{}", t.len());
        assert!(t.len() > 3000, "{}", t.len());
    }
}
