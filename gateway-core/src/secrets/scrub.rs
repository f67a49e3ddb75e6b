//! Scrubbing the secrets the gateway sent upstream out of what comes back.
//! An upstream that echoes the key it was given (`Incorrect API key
//! provided: sk-…`, a debug page, a streamed error) must not hand it to the
//! client, the request log or telemetry: every upstream body relayed —
//! passthrough or translated, whole or event by event — goes through the
//! provider's [`Scrubber`] first, which replaces each secret with
//! [`REDACTED`].
//!
//! The needles are the provider's resolved key and the values of configured
//! headers whose name says they carry a credential; the `Bearer …` and
//! `x-api-key` forms contain the key itself, so replacing the key covers
//! them. Secrets shorter than [`MIN_SECRET_LEN`] bytes are not scrubbed (a
//! two-letter test key would garble every answer). A secret split across
//! two stream events (a model spelling it out token by token) is not seen.

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use memchr::memmem::Finder;

/// What a scrubbed secret becomes.
pub const REDACTED: &[u8] = b"[REDACTED]";
/// Secrets shorter than this are left alone.
pub const MIN_SECRET_LEN: usize = 6;

/// The secrets one provider is sent, ready to be searched for.
#[derive(Clone, Default)]
pub struct Scrubber {
    needles: Arc<[Finder<'static>]>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} secrets)", self.needles.len())
    }
}

/// Header names whose configured values are credentials.
pub fn is_credential_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["auth", "key", "token", "secret", "cookie", "password"]
        .iter()
        .any(|w| n.contains(w))
}

impl Scrubber {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut needles: Vec<Finder<'static>> = Vec::new();
        for s in secrets {
            if s.len() >= MIN_SECRET_LEN && !needles.iter().any(|n| n.needle() == s) {
                needles.push(Finder::new(s).into_owned());
            }
        }
        // Longest first: a secret containing another is replaced whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.needle().len()));
        Self {
            needles: needles.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Whether `b` holds one of the secrets.
    pub fn found_in(&self, b: &[u8]) -> bool {
        self.needles.iter().any(|n| n.find(b).is_some())
    }

    /// `b` with every secret replaced; the same `Bytes` (no copy) when it
    /// holds none.
    pub fn scrub(&self, b: Bytes) -> Bytes {
        if !self.found_in(&b) {
            return b;
        }
        Bytes::from(self.replaced(&b))
    }

    /// Scrubs `buf[from..]` in place.
    pub fn scrub_tail(&self, buf: &mut BytesMut, from: usize) {
        if from >= buf.len() || !self.found_in(&buf[from..]) {
            return;
        }
        let tail = buf.split_off(from);
        buf.extend_from_slice(&self.replaced(&tail));
    }

    /// `s` with every secret replaced.
    pub fn scrub_str(&self, s: &str) -> String {
        if !self.found_in(s.as_bytes()) {
            return s.to_string();
        }
        String::from_utf8_lossy(&self.replaced(s.as_bytes())).into_owned()
    }

    fn replaced(&self, b: &[u8]) -> Vec<u8> {
        let mut cur = b.to_vec();
        for n in self.needles.iter() {
            if n.find(&cur).is_none() {
                continue;
            }
            let mut out = Vec::with_capacity(cur.len());
            let mut at = 0;
            for i in n.find_iter(&cur) {
                // Overlapping matches: the first one wins.
                if i < at {
                    continue;
                }
                out.extend_from_slice(&cur[at..i]);
                out.extend_from_slice(REDACTED);
                at = i + n.needle().len();
            }
            out.extend_from_slice(&cur[at..]);
            cur = out;
        }
        cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_secret_and_its_forms() {
        let s = Scrubber::new([&b"sk-live-123456"[..], b"org-secret-9"]);
        let body = Bytes::from_static(
            b"Incorrect API key provided: sk-live-123456. Bearer sk-live-123456 org-secret-9",
        );
        assert_eq!(
            &s.scrub(body)[..],
            b"Incorrect API key provided: [REDACTED]. Bearer [REDACTED] [REDACTED]"
        );
    }

    #[test]
    fn leaves_clean_bodies_and_short_keys_alone() {
        let s = Scrubber::new([&b"abc"[..]]);
        assert!(s.is_empty());
        let s = Scrubber::new([&b"sk-live-123456"[..]]);
        let clean = Bytes::from_static(b"{\"choices\":[]}");
        let out = s.scrub(clean.clone());
        // Not copied.
        assert_eq!(out.as_ptr(), clean.as_ptr());
    }

    #[test]
    fn scrubs_a_tail_only() {
        let s = Scrubber::new([&b"sk-live-123456"[..]]);
        let mut buf = BytesMut::from(&b"keep sk-live-123456|data: sk-live-123456\n\n"[..]);
        s.scrub_tail(&mut buf, 20);
        assert_eq!(&buf[..], b"keep sk-live-123456|data: [REDACTED]\n\n");
        assert_eq!(s.scrub_str("x sk-live-123456 y"), "x [REDACTED] y");
    }

    #[test]
    fn credential_header_names() {
        for n in ["api-key", "X-Api-Key", "Authorization", "x-auth-token"] {
            assert!(is_credential_header(n), "{n}");
        }
        assert!(!is_credential_header("anthropic-version"));
    }
}
