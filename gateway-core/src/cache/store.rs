//! The entries: a map by key plus a recency index, under one lock held
//! only for map updates (never across an await). Every entry has its own
//! expiry; past the byte bound the least recently used entries go first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use serde::Serialize;
use tokio::time::Instant;

use super::CacheKey;
use crate::sync::LockExt;

/// What one entry costs besides its body (key, index, names): counted so
/// that many tiny entries still meet the bound.
const ENTRY_OVERHEAD: usize = 256;

/// An entry may take at most this share of the bound (1/4): one answer
/// never empties the whole cache.
const ENTRY_SHARE: usize = 4;

/// A cached answer: a 2xx body as the client got it (a stream's bytes as
/// relayed, a JSON answer as is) and which target produced it.
#[derive(Debug)]
pub struct Entry {
    pub body: Bytes,
    pub content_type: Option<HeaderValue>,
    pub provider: String,
    pub model: String,
    pub route: Option<String>,
}

impl Entry {
    fn size(&self) -> usize {
        self.body.len() + self.provider.len() + self.model.len() + ENTRY_OVERHEAD
    }
}

struct Slot {
    entry: Arc<Entry>,
    expires: Instant,
    /// Its position in [`Inner::recency`].
    used: u64,
    size: usize,
}

#[derive(Default)]
struct Inner {
    map: HashMap<CacheKey, Slot>,
    /// Last use → key, oldest first.
    recency: BTreeMap<u64, CacheKey>,
    tick: u64,
    bytes: usize,
    max_bytes: usize,
}

impl Inner {
    fn remove(&mut self, key: &CacheKey) {
        if let Some(s) = self.map.remove(key) {
            self.recency.remove(&s.used);
            self.bytes -= s.size;
        }
    }

    fn evict_to(&mut self, max: usize) {
        while self.bytes > max {
            let Some((_, key)) = self.recency.pop_first() else {
                break;
            };
            if let Some(s) = self.map.remove(&key) {
                self.bytes -= s.size;
            }
        }
    }
}

/// Counters and size, for `/metrics` and the UI.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct CacheStats {
    /// Requests on caching routes answered from the cache, since start.
    pub hits: u64,
    /// Requests on caching routes that were not.
    pub misses: u64,
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
}

/// The gateway's response cache; lives as long as the gateway (across
/// publishes: a changed route changes its keys, so old entries just age out).
pub struct ResponseCache {
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl ResponseCache {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                max_bytes,
                ..Inner::default()
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// A new bound (a publish): entries past it are evicted now.
    pub fn set_max_bytes(&self, max: usize) {
        let mut g = self.inner.lock_or_recover();
        g.max_bytes = max;
        g.evict_to(max);
    }

    /// The largest entry stored (a quarter of the bound).
    pub fn max_entry_bytes(&self) -> usize {
        self.inner.lock_or_recover().max_bytes / ENTRY_SHARE
    }

    /// The live entry for `key`, counted as a hit, or a miss.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Entry>> {
        let found = self.find(key);
        self.count(found.is_some());
        found
    }

    /// The live entry for `key`, not counted (team mode counts once it has
    /// also asked Redis).
    pub fn find(&self, key: &CacheKey) -> Option<Arc<Entry>> {
        let now = Instant::now();
        let mut g = self.inner.lock_or_recover();
        match g.map.get(key).map(|s| (s.expires, s.used)) {
            Some((expires, _)) if expires <= now => {
                g.remove(key);
                None
            }
            Some((_, used)) => {
                g.tick += 1;
                let tick = g.tick;
                g.recency.remove(&used);
                g.recency.insert(tick, *key);
                g.map.get_mut(key).map(|s| {
                    s.used = tick;
                    s.entry.clone()
                })
            }
            None => None,
        }
    }

    /// Counts a request on a caching route that was not looked up (not
    /// cacheable) as a miss.
    pub fn count(&self, hit: bool) {
        let c = if hit { &self.hits } else { &self.misses };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Stores `entry` for `ttl`, evicting the least recently used entries
    /// to stay within the bound; an entry over a quarter of the bound is
    /// not stored.
    pub fn insert(&self, key: CacheKey, entry: Entry, ttl: Duration) {
        self.insert_shared(key, entry, ttl);
    }

    /// [`ResponseCache::insert`], returning the entry as stored (or as it
    /// would have been, when over the bound): an entry another replica
    /// cached, found in Redis.
    pub fn insert_shared(&self, key: CacheKey, entry: Entry, ttl: Duration) -> Arc<Entry> {
        let size = entry.size();
        let entry = Arc::new(entry);
        let mut g = self.inner.lock_or_recover();
        if size > g.max_bytes / ENTRY_SHARE {
            return entry;
        }
        g.remove(&key);
        let max = g.max_bytes;
        g.evict_to(max.saturating_sub(size));
        g.tick += 1;
        let used = g.tick;
        g.recency.insert(used, key);
        g.bytes += size;
        g.map.insert(
            key,
            Slot {
                entry: entry.clone(),
                expires: Instant::now() + ttl,
                used,
                size,
            },
        );
        entry
    }

    pub fn stats(&self) -> CacheStats {
        let g = self.inner.lock_or_recover();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: g.map.len() as u64,
            bytes: g.bytes as u64,
            max_bytes: g.max_bytes as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> Entry {
        Entry {
            body: Bytes::from(vec![b'x'; n]),
            content_type: None,
            provider: "p".into(),
            model: "m".into(),
            route: None,
        }
    }

    fn key(b: u8) -> CacheKey {
        CacheKey([b; 32])
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_their_ttl() {
        let c = ResponseCache::new(1 << 20);
        c.insert(key(1), entry(10), Duration::from_secs(5));
        assert!(c.get(&key(1)).is_some());
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(c.get(&key(1)).is_none());
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.entries, s.bytes), (1, 1, 0, 0));
    }

    #[tokio::test]
    async fn the_least_recently_used_entry_goes_first() {
        // 4 entries of ~1 KiB fit in 4.5 KiB; each within a quarter.
        let c = ResponseCache::new(4 * 1024 + 512 + 4 * ENTRY_OVERHEAD);
        let ttl = Duration::from_secs(60);
        for b in 1..=4 {
            c.insert(key(b), entry(1000), ttl);
        }
        assert!(c.get(&key(1)).is_some()); // 1 is now the most recent
        c.insert(key(5), entry(1000), ttl);
        assert!(c.get(&key(2)).is_none(), "2 was the least recently used");
        for b in [1, 3, 4, 5] {
            assert!(c.get(&key(b)).is_some(), "{b}");
        }
        assert!(c.stats().bytes <= c.stats().max_bytes);
        // A smaller bound evicts at once.
        c.set_max_bytes(2 * (1000 + 1 + 1 + ENTRY_OVERHEAD));
        assert_eq!(c.stats().entries, 2);
    }

    #[test]
    fn an_entry_over_a_quarter_of_the_bound_is_not_stored() {
        let c = ResponseCache::new(4000);
        c.insert(key(1), entry(1000), Duration::from_secs(60));
        assert_eq!(c.stats().entries, 0);
        c.insert(key(1), entry(500), Duration::from_secs(60));
        assert_eq!(c.stats().entries, 1);
    }
}
