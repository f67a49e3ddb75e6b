//! Response-cache entries shared through Redis (team mode): an answer
//! cached on one replica is a hit on every other.
//!
//! `aigw:cache:{<key hex>}` = the entry ([`encode`]), with the route's
//! cache TTL. Lookups go to the local cache first; on a local miss Redis is
//! asked once (value and remaining TTL in one round trip, within
//! [`LOOKUP_TIMEOUT`]) and a hit is kept locally for what is left of its
//! TTL. Entries are written through the writer queue after the answer,
//! never on the request path, and only up to [`MAX_SHARED_ENTRY`] bytes.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::HeaderValue;

use crate::cache::{CacheKey, Entry};

/// The longest a request waits for Redis on a local cache miss; past it
/// the request goes upstream as a miss.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_millis(100);

/// The largest entry shared (encoded); larger answers are cached on their
/// replica only (which also caps them at a quarter of `server.cache_max_mb`).
pub const MAX_SHARED_ENTRY: usize = 1 << 20;

const MAGIC: &[u8; 6] = b"aigw1\n";

pub fn key(k: &CacheKey) -> String {
    format!("aigw:cache:{{{}}}", hex::encode(k.0))
}

/// `MAGIC`, then five length-prefixed fields (u32 big-endian): content
/// type, provider, model, route (`\0` + name, or empty for none), body.
pub fn encode(e: &Entry) -> Option<Bytes> {
    let route = e
        .route
        .as_ref()
        .map(|r| format!("\0{r}"))
        .unwrap_or_default();
    let fields: [&[u8]; 5] = [
        e.content_type
            .as_ref()
            .map_or(&[][..], HeaderValue::as_bytes),
        e.provider.as_bytes(),
        e.model.as_bytes(),
        route.as_bytes(),
        &e.body,
    ];
    let len = MAGIC.len() + fields.iter().map(|f| 4 + f.len()).sum::<usize>();
    if len > MAX_SHARED_ENTRY {
        return None;
    }
    let mut b = BytesMut::with_capacity(len);
    b.put_slice(MAGIC);
    for f in fields {
        b.put_u32(u32::try_from(f.len()).ok()?);
        b.put_slice(f);
    }
    Some(b.freeze())
}

/// An entry [`encode`] wrote; `None` for anything else.
pub fn decode(raw: Bytes) -> Option<Entry> {
    if raw.len() > MAX_SHARED_ENTRY || !raw.starts_with(MAGIC) {
        return None;
    }
    let mut b = raw.slice(MAGIC.len()..);
    let mut next = || {
        if b.remaining() < 4 {
            return None;
        }
        let n = b.get_u32() as usize;
        (b.remaining() >= n).then(|| b.split_to(n))
    };
    let ct = next()?;
    let provider = String::from_utf8(next()?.to_vec()).ok()?;
    let model = String::from_utf8(next()?.to_vec()).ok()?;
    let route = next()?;
    let body = next()?;
    let route = match route.first() {
        None => None,
        Some(0) => Some(String::from_utf8(route[1..].to_vec()).ok()?),
        Some(_) => return None,
    };
    let content_type = if ct.is_empty() {
        None
    } else {
        Some(HeaderValue::from_maybe_shared(ct).ok()?)
    };
    Some(Entry {
        body,
        content_type,
        provider,
        model,
        route,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_junk_is_refused() {
        let e = Entry {
            body: Bytes::from_static(b"{\"id\":1}"),
            content_type: Some(HeaderValue::from_static("application/json")),
            provider: "up".into(),
            model: "m".into(),
            route: Some("m".into()),
        };
        let d = decode(encode(&e).unwrap()).unwrap();
        assert_eq!(
            (&d.body, &d.content_type, &d.provider, &d.model, &d.route),
            (&e.body, &e.content_type, &e.provider, &e.model, &e.route)
        );
        let bare = Entry {
            content_type: None,
            route: None,
            ..e
        };
        let d = decode(encode(&bare).unwrap()).unwrap();
        assert_eq!((d.content_type, d.route), (None, None));
        let raw = encode(&bare).unwrap();
        assert!(decode(raw.slice(..raw.len() - 1)).is_none(), "truncated");
        assert!(decode(Bytes::from_static(b"garbage")).is_none());
        let huge = Entry {
            body: Bytes::from(vec![b'x'; MAX_SHARED_ENTRY]),
            ..bare
        };
        assert!(encode(&huge).is_none(), "over the bound: not shared");
    }

    #[test]
    fn keys_are_tagged_hex() {
        let k = key(&CacheKey([0xab; 32]));
        assert_eq!(k, format!("aigw:cache:{{{}}}", "ab".repeat(32)));
    }
}
