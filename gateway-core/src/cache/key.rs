//! What makes two requests the same answer, and which may be cached.
//!
//! The key hashes (SHA-256, length-prefixed fields): the ingress endpoint,
//! the route as written and every target's provider and forwarded model
//! (a publish that changes them changes the key), the client's identity
//! (its key's label, or its address without client keys: one client's
//! answer is never served to another), the session key
//! ([`ProxyRequest::session`]), whether the client streams (a stream hit
//! replays the relayed stream's bytes, a JSON hit the JSON answer), and the
//! body in canonical form: JSON with keys sorted, whitespace gone, and the
//! top-level `stream` and `stream_options` removed.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::routing::{ProxyRequest, RouteTable};
use crate::vocab::pattern::forward_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey(pub [u8; 32]);

/// What the cache makes of a request on its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The route does not cache (or the model has no route written).
    Off,
    /// The route caches, but not this request (`temperature > 0` without
    /// `cache_temperature`): a miss, never stored.
    Bypass,
    /// Look up, and store a 2xx answer for `ttl`.
    Key { key: CacheKey, ttl: Duration },
}

/// The cache's view of `req`: only requests whose model matches a route
/// the operator wrote with `[routes.cache]`.
pub fn lookup(routes: &RouteTable, req: &ProxyRequest) -> Lookup {
    let Some((route, _)) = routes.lookup(&req.peek.model) else {
        return Lookup::Off;
    };
    let spec = &route.spec;
    let Some(cache) = &spec.cache else {
        return Lookup::Off;
    };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&req.body) else {
        return Lookup::Bypass;
    };
    let hot = body
        .get("temperature")
        .and_then(serde_json::Value::as_f64)
        .is_some_and(|t| t > 0.0);
    if hot && !cache.cache_temperature {
        return Lookup::Bypass;
    }
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(b"aigw-cache-v1");
    field(req.endpoint.as_str().as_bytes());
    field(spec.model.as_bytes());
    for t in &spec.targets {
        field(t.provider.as_bytes());
        field(forward_name(t.model.as_deref(), &req.peek.model).as_bytes());
    }
    field(req.client.as_bytes());
    field(req.session().map(|s| s.id()).unwrap_or_default().as_bytes());
    field(if req.peek.stream { b"stream" } else { b"full" });
    let mut canon = Vec::with_capacity(req.body.len());
    canonical(&body, true, &mut canon);
    field(&canon);
    Lookup::Key {
        key: CacheKey(h.finalize().into()),
        ttl: cache.ttl,
    }
}

/// `v` as JSON with object keys sorted; at the top level without `stream`
/// and `stream_options`.
pub fn canonical(v: &serde_json::Value, top: bool, out: &mut Vec<u8>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m
                .keys()
                .filter(|k| !(top && matches!(k.as_str(), "stream" | "stream_options")))
                .collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(k, out);
                out.push(b':');
                if let Some(v) = m.get(k) {
                    canonical(v, false, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(v, false, out);
            }
            out.push(b']');
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(
        serde_json::Value::String(s.to_string())
            .to_string()
            .as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        let mut out = Vec::new();
        canonical(&serde_json::from_str(s).unwrap(), true, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn key_order_whitespace_and_the_stream_flag_do_not_matter() {
        let a = canon(
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
        );
        let b = canon(r#"{ "messages" : [ {"content":"hi", "role":"user"} ], "model":"m" }"#);
        assert_eq!(a, b);
        assert_eq!(
            a,
            r#"{"messages":[{"content":"hi","role":"user"}],"model":"m"}"#
        );
        // Only at the top level: a nested "stream" is content.
        assert_ne!(canon(r#"{"x":{"stream":1}}"#), canon(r#"{"x":{}}"#));
        // Array order is content.
        assert_ne!(canon(r#"{"x":[1,2]}"#), canon(r#"{"x":[2,1]}"#));
    }
}
