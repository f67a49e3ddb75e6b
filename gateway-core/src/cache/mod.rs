//! The exact response cache (opt-in per route, `[routes.cache]`): an
//! answer is served again to the same client for the same request while
//! its entry lives. `key`: what makes two requests the same (endpoint,
//! route and its forwarded models, client identity, session, stream flag,
//! canonical body) and which requests may be cached at all; `store`: the
//! entries, with a TTL each and an LRU bound in bytes
//! (`server.cache_max_mb`); `serve`: a hit as the pipeline's answer.

pub mod key;
pub mod serve;
mod store;

pub use key::{CacheKey, Lookup, lookup};
pub use store::{CacheStats, Entry, ResponseCache};
