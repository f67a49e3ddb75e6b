//! Sticky-session bindings shared through Redis (team mode), so a session
//! keeps its target on every replica behind a load balancer.
//!
//! `aigw:sticky:{<session id>}:<route>` = `<target index>:<provider>`,
//! with a TTL of `routing.sticky_ttl_s`. The session id is the 32 hex
//! digits of its hash ([`SessionKey::id`]); the route is the first 16 hex
//! digits of `sha256(route name)`. A binding is written (through the
//! writer queue, off the request path) when the route's table says so
//! ([`crate::routing::sticky::StickyTable::set`]); it is read only when the
//! local table misses, with a [`LOOKUP_TIMEOUT`], and only a binding whose
//! index still names the same provider is used.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::routing::RouteRuntime;
use crate::routing::sticky::SessionKey;

/// The longest a request waits for a binding on a local miss; past it the
/// route's strategy picks as if there were none.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_millis(100);

pub fn key(route: &str, session: &SessionKey) -> String {
    let h = Sha256::digest(route.as_bytes());
    format!("aigw:sticky:{{{}}}:{}", session.id(), hex::encode(&h[..8]))
}

/// What is stored for target `i` of `route`.
pub fn value(route: &RouteRuntime, i: usize) -> Option<String> {
    let t = route.targets.get(i)?;
    Some(format!("{i}:{}", t.provider.spec.name))
}

/// The target a stored binding names, if `route` still has it there (and
/// it is one of the route's own targets, not a class fallback).
pub fn target(route: &RouteRuntime, stored: &str) -> Option<usize> {
    let (i, provider) = stored.split_once(':')?;
    let i: usize = i.parse().ok()?;
    let own = route.spec.targets.len().min(route.targets.len());
    (i < own && route.targets[i].provider.spec.name == provider).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hide_the_session_and_tag_it() {
        let s = SessionKey::new("my-secret-session").unwrap();
        let k = key("claude-*", &s);
        assert!(!k.contains("secret"));
        assert!(k.starts_with(&format!("aigw:sticky:{{{}}}:", s.id())));
        assert_ne!(k, key("gpt-5", &s));
        assert_eq!(k.len(), "aigw:sticky:{}:".len() + 32 + 16);
    }
}
