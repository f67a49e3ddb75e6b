//! The one Server-Sent Events splitter used for upstream streams.
//!
//! [`SseSplitter`] takes raw body chunks as they arrive and hands back, per
//! chunk, the bytes of every event completed so far (to forward untouched,
//! never re-framed) and those events parsed. Events split across chunks, the
//! three line terminators (`\n`, `\r\n`, `\r`) and multi-byte UTF-8 cut at a
//! chunk edge are handled: bytes are only cut at line terminators.

use bytes::{Bytes, BytesMut};

/// One parsed event: its `event:` name (if any) and its `data:` lines joined.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn is_done(&self) -> bool {
        self.data.trim() == "[DONE]"
    }
}

/// Output of one [`SseSplitter::push`].
#[derive(Debug, Default)]
pub struct Split {
    /// Raw bytes of the events completed by this push (possibly empty).
    pub bytes: Bytes,
    /// Those events parsed (comments and empty events are dropped).
    pub events: Vec<SseEvent>,
}

#[derive(Debug, Default)]
pub struct SseSplitter {
    buf: BytesMut,
    /// Where line scanning resumes in `buf`.
    scan: usize,
    /// End of the last complete event in `buf`.
    boundary: usize,
    cur: SseEvent,
    has_field: bool,
    /// Max bytes a single event may reach before it is treated as an error.
    limit: usize,
}

/// An upstream event over this size is refused (a runaway or hostile stream).
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("stream event larger than {0} bytes")]
pub struct EventTooLarge(pub usize);

impl SseSplitter {
    pub fn new() -> Self {
        Self {
            limit: MAX_EVENT_BYTES,
            ..Default::default()
        }
    }

    /// Bytes received but not yet part of a complete event.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<Split, EventTooLarge> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        loop {
            let rest = &self.buf[self.scan..];
            let Some(pos) = memchr::memchr2(b'\n', b'\r', rest) else {
                break;
            };
            let term_len = if rest[pos] == b'\r' {
                match rest.get(pos + 1) {
                    Some(b'\n') => 2,
                    Some(_) => 1,
                    // A lone '\r' at the end: wait, it may be half of "\r\n".
                    None => break,
                }
            } else {
                1
            };
            let line_start = self.scan;
            let line_end = self.scan + pos;
            self.scan = line_end + term_len;
            if line_end == line_start {
                if self.has_field {
                    let ev = std::mem::take(&mut self.cur);
                    if !ev.data.is_empty() || ev.event.is_some() {
                        events.push(ev);
                    }
                    self.has_field = false;
                }
                self.boundary = self.scan;
            } else {
                let line = &self.buf[line_start..line_end];
                Self::field(&mut self.cur, &mut self.has_field, line);
            }
        }
        if self.buf.len() - self.boundary > self.limit {
            return Err(EventTooLarge(self.limit));
        }
        let bytes = self.buf.split_to(self.boundary).freeze();
        self.scan -= self.boundary;
        self.boundary = 0;
        Ok(Split { bytes, events })
    }

    /// One non-empty line of the current event, as bytes: no copy of the
    /// line is made; only `data` and `event` values are kept.
    fn field(cur: &mut SseEvent, has_field: &mut bool, line: &[u8]) {
        // A comment (keep-alive) is still a field, so the blank line after
        // it completes an event boundary we can forward.
        *has_field = true;
        if line.first() == Some(&b':') {
            return;
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if !cur.data.is_empty() {
                    cur.data.push('\n');
                }
                push_utf8(&mut cur.data, value);
            }
            b"event" => {
                let mut e = String::new();
                push_utf8(&mut e, value);
                cur.event = Some(e);
            }
            _ => {}
        }
    }

    /// At end of stream: whatever is left that never got its blank line.
    pub fn finish(&mut self) -> Bytes {
        self.scan = 0;
        self.boundary = 0;
        self.has_field = false;
        self.cur = SseEvent::default();
        self.buf.split().freeze()
    }
}

/// Appends `bytes` as text, invalid UTF-8 replaced (as `from_utf8_lossy`).
fn push_utf8(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(parts: &[&[u8]]) -> (Vec<u8>, Vec<SseEvent>) {
        let mut s = SseSplitter::new();
        let mut out = Vec::new();
        let mut evs = Vec::new();
        for p in parts {
            let r = s.push(p).unwrap();
            out.extend_from_slice(&r.bytes);
            evs.extend(r.events);
        }
        (out, evs)
    }

    #[test]
    fn splits_events_across_chunks() {
        let (out, evs) = feed(&[b"data: {\"a\"", b":1}\n", b"\ndata: [DO", b"NE]\n\n"]);
        assert_eq!(out, b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].data, "{\"a\":1}");
        assert!(evs[1].is_done());
    }

    #[test]
    fn crlf_and_cr_terminators() {
        let (out, evs) = feed(&[b"event: x\r\ndata: 1\r", b"\n\r\ndata: 2\r\rdata: 3\n\n"]);
        assert_eq!(
            out.len(),
            b"event: x\r\ndata: 1\r\n\r\ndata: 2\r\rdata: 3\n\n".len()
        );
        let data: Vec<&str> = evs.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["1", "2", "3"]);
        assert_eq!(evs[0].event.as_deref(), Some("x"));
    }

    #[test]
    fn holds_incomplete_event_and_utf8() {
        let text = "data: héllo wörld\n\n".as_bytes();
        let mut s = SseSplitter::new();
        // cut inside the two-byte 'é'
        let r1 = s.push(&text[..8]).unwrap();
        assert!(r1.bytes.is_empty() && r1.events.is_empty());
        assert_eq!(s.pending(), 8);
        let r2 = s.push(&text[8..]).unwrap();
        assert_eq!(r2.events[0].data, "héllo wörld");
        assert_eq!(&r2.bytes[..], text);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_forwarded_as_is() {
        let raw = b"event: e\xff\ndata: a\xffb\ndata:c\n\n";
        let (out, evs) = feed(&[raw]);
        assert_eq!(out, raw);
        assert_eq!(evs[0].event.as_deref(), Some("e\u{fffd}"));
        assert_eq!(evs[0].data, "a\u{fffd}b\nc");
    }

    #[test]
    fn multiline_data_and_comments() {
        let (_, evs) = feed(&[b": keep-alive\n\ndata: a\ndata: b\nid: 7\n\n"]);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].data, "a\nb");
    }

    #[test]
    fn oversized_event_is_refused() {
        let mut s = SseSplitter::new();
        s.limit = 8;
        assert!(s.push(b"data: 0123456789").is_err());
    }
}
