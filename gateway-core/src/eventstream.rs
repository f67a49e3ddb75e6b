//! The AWS event stream (`application/vnd.amazon.eventstream`) of Bedrock's
//! ConverseStream, read frame by frame into the same [`SseEvent`]s the
//! stream relay handles for SSE upstreams, so one relay serves both.
//!
//! A frame is a prelude (total length, headers length, CRC32), headers, a
//! payload and a CRC32 of the whole; [`aws_smithy_eventstream`] decodes and
//! checks it. Each frame becomes one event:
//! - `:message-type` `event`: `event` is its `:event-type`
//!   (`messageStart`, `contentBlockDelta`…), `data` its JSON payload;
//! - `exception` (`:exception-type` `throttlingException`…) and `error`
//!   (`:error-code`): `event` is `error` and `data` an OpenAI-shaped error
//!   `{"error":{"message","type","code"}}` (the type as sent, the code in
//!   snake case).
//!
//! Bounds: a frame is refused over [`MAX_EVENT_BYTES`] (16 MiB, as for an
//! SSE event; AWS's own limit is 16 MiB too), read from its prelude before
//! it is buffered whole. A frame that does not decode (bad CRC, bad
//! lengths) ends the decoding: one event that is not JSON is given (a
//! `bad_upstream_body` before the first content, skipped after) and the
//! rest of the body is dropped.

use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Buf, BytesMut};
use serde_json::json;

use crate::sse::{EventTooLarge, MAX_EVENT_BYTES, SseEvent};

/// What a frame that does not decode becomes (not JSON: garbage).
pub const BAD_FRAME: &str = "<invalid event-stream frame>";

#[derive(Debug, Default)]
pub struct EventStreamSplitter {
    buf: BytesMut,
    /// A frame failed to decode: everything after it is dropped.
    broken: bool,
}

impl EventStreamSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The events of every frame `chunk` completes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, EventTooLarge> {
        let mut events = Vec::new();
        if self.broken {
            return Ok(events);
        }
        self.buf.extend_from_slice(chunk);
        while self.buf.len() >= 4 {
            let total = (&self.buf[..4]).get_u32() as usize;
            if total > MAX_EVENT_BYTES {
                return Err(EventTooLarge(MAX_EVENT_BYTES));
            }
            if self.buf.len() < total.max(16) {
                break;
            }
            let frame = self.buf.split_to(total.max(16)).freeze();
            match aws_smithy_eventstream::frame::read_message_from(frame) {
                Ok(m) => events.push(event_of(&m)),
                Err(e) => {
                    tracing::debug!("event-stream frame does not decode: {e}");
                    self.broken = true;
                    self.buf.clear();
                    events.push(SseEvent {
                        event: None,
                        data: BAD_FRAME.into(),
                    });
                    break;
                }
            }
        }
        Ok(events)
    }

    /// At the end of the body: what never made a whole frame is dropped.
    pub fn finish(&mut self) {
        self.buf.clear();
    }
}

fn header<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

/// `throttlingException` → `throttling_exception`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn event_of(m: &Message) -> SseEvent {
    let payload = String::from_utf8_lossy(m.payload()).into_owned();
    match header(m, ":message-type").unwrap_or("event") {
        "event" => SseEvent {
            event: header(m, ":event-type").map(str::to_string),
            data: payload,
        },
        kind => {
            let (kind, message) = if kind == "exception" {
                let message = serde_json::from_str::<serde_json::Value>(&payload)
                    .ok()
                    .and_then(|v| {
                        v.get("message")
                            .or_else(|| v.get("Message"))
                            .and_then(|m| m.as_str())
                            .map(str::to_string)
                    })
                    .unwrap_or(payload);
                (header(m, ":exception-type").unwrap_or("exception"), message)
            } else {
                (
                    header(m, ":error-code").unwrap_or("error"),
                    header(m, ":error-message").unwrap_or_default().to_string(),
                )
            };
            let body = json!({"error": {
                "message": message,
                "type": kind,
                "code": snake_case(kind),
            }});
            SseEvent {
                event: Some("error".into()),
                data: body.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::event_stream::Header;

    fn frame(headers: &[(&str, &str)], payload: &str) -> Vec<u8> {
        let mut m = Message::new(payload.as_bytes().to_vec());
        for (k, v) in headers {
            m = m.add_header(Header::new(
                k.to_string(),
                HeaderValue::String(v.to_string().into()),
            ));
        }
        let mut out = Vec::new();
        aws_smithy_eventstream::frame::write_message_to(&m, &mut out).unwrap();
        out
    }

    #[test]
    fn frames_split_anywhere_become_events() {
        let mut bytes = frame(
            &[
                (":event-type", "contentBlockDelta"),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            r#"{"contentBlockIndex":0,"delta":{"text":"Hi"},"p":"abcd"}"#,
        );
        bytes.extend(frame(
            &[
                (":exception-type", "throttlingException"),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            r#"{"message":"Too many requests, please wait before trying again."}"#,
        ));
        for cut in 0..bytes.len() {
            let mut s = EventStreamSplitter::new();
            let mut evs = s.push(&bytes[..cut]).unwrap();
            evs.extend(s.push(&bytes[cut..]).unwrap());
            assert_eq!(evs.len(), 2, "cut at {cut}");
            assert_eq!(evs[0].event.as_deref(), Some("contentBlockDelta"));
            assert!(evs[0].data.contains("\"Hi\""));
            assert_eq!(evs[1].event.as_deref(), Some("error"));
            let v: serde_json::Value = serde_json::from_str(&evs[1].data).unwrap();
            assert_eq!(v["error"]["code"], "throttling_exception");
            assert_eq!(
                v["error"]["message"],
                "Too many requests, please wait before trying again."
            );
            assert_eq!(s.pending(), 0);
        }
    }

    #[test]
    fn a_bad_frame_or_an_oversized_one_stops_the_decoding() {
        let mut bytes = frame(
            &[(":event-type", "messageStart")],
            r#"{"role":"assistant"}"#,
        );
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let mut s = EventStreamSplitter::new();
        let evs = s.push(&bytes).unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].data, BAD_FRAME);
        assert!(s.push(&bytes).unwrap().is_empty());
        let mut s = EventStreamSplitter::new();
        let huge = ((MAX_EVENT_BYTES + 1) as u32).to_be_bytes();
        assert!(s.push(&huge).is_err());
        assert_eq!(
            snake_case("modelStreamErrorException"),
            "model_stream_error_exception"
        );
    }
}
