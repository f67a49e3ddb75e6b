use std::time::Duration;

/// What a [`crate::FakeUpstream`] does with one proxied request.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// Normal success, honoring the request.
    ///
    /// * `POST /v1/chat/completions`: a `chat.completion` with content `"Hello from NAME"`, or — when
    ///   `"stream": true` — SSE `chat.completion.chunk` frames: a role-only delta
    ///   `{"role":"assistant","content":""}`, content deltas `"Hello"`, `" from "`, `NAME`, a final
    ///   chunk with `finish_reason: "stop"`, a usage chunk with empty `choices` if
    ///   `stream_options.include_usage` is true, then `data: [DONE]`.
    /// * `POST /v1/completions`: a `text_completion` (streams the same way, text in `choices[0].text`;
    ///   the preamble chunk has empty text).
    /// * `POST /v1/embeddings`: a list with one 4-float embedding per input.
    /// * `POST /v1/responses`: a minimal Responses API object; when streaming, events
    ///   `response.created`, `response.output_text.delta` x3, `response.completed` (no `[DONE]`).
    /// * `POST /v1/messages` (Anthropic Messages): a `message` with one text block
    ///   `"Hello from NAME"`, `stop_reason: "end_turn"`; when streaming, `message_start`, `ping`,
    ///   a text block (`content_block_start`, 3 `text_delta`s, `content_block_stop`),
    ///   `message_delta`, `message_stop`. Every behavior has an Anthropic-shaped equivalent there
    ///   (errors as `{"type":"error","error":{…}}`, tool calls as `tool_use` blocks).
    ///
    /// `"model"` in the response echoes the request's model (`"fake-model"` if absent).
    /// Usage: prompt_tokens 10, completion_tokens 3.
    Ok,
    /// Like [`Behavior::Ok`], except that a `POST /v1/chat/completions` whose JSON body has a
    /// non-empty `"tools"` array is answered like [`Behavior::ToolCall`] (streamed or not, per the
    /// request's `"stream"`). Lets one long-running fake serve both plain and tool-calling clients.
    Auto,
    /// Respond with this status and an OpenAI error body `{"error":{"message","type","code"}}`
    /// (or `body` verbatim if `Some`), plus a `Retry-After: N` header when `retry_after` is set.
    Status {
        status: u16,
        retry_after: Option<u64>,
        body: Option<String>,
    },
    /// Wait, then do the inner behavior.
    Delay(Duration, Box<Behavior>),
    /// Never respond (sleeps for an hour) — for timeout tests.
    Hang,
    /// Streaming response regardless of the request's `stream` flag: role-only chunk, then each
    /// string as a content delta, `interval` apart (also before the first delta), then the finish
    /// chunk, a usage chunk if requested (completion_tokens = number of deltas), `[DONE]`.
    Stream {
        deltas: Vec<String>,
        interval: Duration,
    },
    /// 200 + SSE headers, sends only the role-only preamble chunk, then aborts the connection
    /// (the chunked body is never terminated).
    StreamDieBeforeContent,
    /// 200 + SSE, role chunk and `after` content deltas (`"tok0"`, `"tok1"`, ...), then aborts the
    /// connection abruptly.
    StreamDieAfterContent { after: usize },
    /// Role chunk + `after` content deltas (`"tok0"`, ...), then stalls forever without closing.
    StreamStallAfterContent { after: usize },
    /// A tool call to function `get_weather` (id `call_1`, arguments `{"city":"Paris"}`),
    /// `finish_reason: "tool_calls"`. Streams (arguments in 3 pieces) when the request streams.
    ToolCall,
    /// Reply 200 with this exact JSON body (`content-type: application/json`).
    Json(serde_json::Value),
    /// A scripted assistant turn (reasoning, text, several tool calls), in the shape of the
    /// endpoint called: chat completions (`reasoning_content`, `tool_calls`) or Anthropic
    /// Messages (thinking, text and `tool_use` blocks). Streams when the request streams
    /// (reasoning and text in pieces, each tool call's arguments in 3 pieces). Other endpoints
    /// answer like [`Behavior::Ok`].
    Reply(Reply),
    /// Role chunk (or `message_start`) and `after` content deltas (`"tok0"`, ...), then an
    /// error event in the endpoint's protocol (`data: {"error":…}` for chat, `event: error`
    /// with `overloaded_error` for Anthropic), then the stream ends.
    StreamError { after: usize },
    /// Answers chosen by the request's text and usage counted from it
    /// ([`crate::Script`]): chat completions and Anthropic Messages, streamed
    /// or not, in the shapes of [`Behavior::Reply`]. Other endpoints answer
    /// like [`Behavior::Ok`].
    Scripted(crate::Script),

    /// A hostile upstream: what a gateway must treat as an upstream
    /// failure, never as the client's success ([`Hostile`]).
    Hostile(Hostile),
}

/// What a hostile upstream does (hostile.rs), in the shape of the endpoint
/// called: Chat Completions and the other OpenAI endpoints, or Anthropic
/// Messages.
#[derive(Clone, Debug)]
pub enum Hostile {
    /// garbage, half a JSON, redirects, odd `Retry-After` values (see
    /// [`Behavior::garbage`], [`Behavior::half_json`],
    /// [`Behavior::redirect`], [`Behavior::retry_after_raw`]).
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: bytes::Bytes,
    },
    /// 200 whose JSON body is an error object in the endpoint's shape
    /// (`{"error":{…}}`; Anthropic's `{"type":"error",…}` on `/v1/messages`).
    ErrorIn200,
    /// 200 with a valid non-streamed answer of about `bytes` bytes (its text
    /// is `a` repeated), sent in 64 KiB chunks without being held in memory.
    HugeBody { bytes: u64 },
    /// 200 SSE: about `bytes` of preamble (role-only chunks; `ping`s on
    /// `/v1/messages`), then a short normal answer (`"Hello"`).
    PreambleFlood { bytes: u64 },
    /// Echoes the credential it was sent (the bearer token or `x-api-key`):
    /// `status` with an error body `Incorrect API key provided: KEY` in the
    /// endpoint's shape, or — with `stream_after = Some(n)` — 200 SSE with
    /// `n` content deltas and then an error event carrying it.
    EchoKey {
        status: u16,
        stream_after: Option<usize>,
    },
    /// 200 SSE: the preamble, one event of a type no protocol defines, then
    /// the connection aborts.
    StreamUnknownThenDie,
    /// 200 SSE whose first event's data is not JSON (`<html>…`), then the end.
    StreamGarbage,
}

/// A scripted assistant turn for [`Behavior::Reply`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    /// Reasoning text: `reasoning_content` in chat, a `thinking` block in Anthropic.
    pub thinking: Option<String>,
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCallSpec>,
}

/// One tool call of a [`Reply`].
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCallSpec {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text.
    pub arguments: String,
}

impl Reply {
    /// A reply with this text.
    pub fn text(text: &str) -> Reply {
        Reply {
            text: Some(text.to_owned()),
            ..Reply::default()
        }
    }

    /// Adds reasoning text.
    pub fn with_thinking(mut self, thinking: &str) -> Reply {
        self.thinking = Some(thinking.to_owned());
        self
    }

    /// Adds a tool call with these arguments.
    pub fn tool_call(mut self, id: &str, name: &str, arguments: &serde_json::Value) -> Reply {
        self.tool_calls.push(ToolCallSpec {
            id: id.to_owned(),
            name: name.to_owned(),
            arguments: arguments.to_string(),
        });
        self
    }

    /// Output tokens reported for it: one per streamed piece, at least 1.
    pub(crate) fn output_tokens(&self) -> u64 {
        let pieces = u64::from(self.thinking.is_some()) * 2
            + u64::from(self.text.is_some()) * 3
            + self.tool_calls.len() as u64 * 3;
        pieces.max(1)
    }
}

impl Behavior {
    /// Shorthand for `Behavior::Status { status, retry_after: None, body: None }`.
    pub fn status(status: u16) -> Behavior {
        Behavior::Status {
            status,
            retry_after: None,
            body: None,
        }
    }

    /// 200 with a body that is not JSON.
    pub fn garbage() -> Behavior {
        Behavior::raw(
            200,
            "text/html",
            "<html><body>502 Bad Gateway</body></html>",
        )
    }

    /// 200 with JSON cut off in the middle.
    pub fn half_json() -> Behavior {
        Behavior::raw(
            200,
            "application/json",
            r#"{"id":"chatcmpl-half","object":"chat.completion","choices":[{"index":0,"mess"#,
        )
    }

    /// `status` (a 3xx) pointing at `location`.
    pub fn redirect(status: u16, location: &str) -> Behavior {
        Behavior::Hostile(Hostile::Raw {
            status,
            headers: vec![("location".into(), location.into())],
            body: bytes::Bytes::new(),
        })
    }

    /// `status` with an OpenAI error body and header `name: value` verbatim
    /// (`retry-after-ms: inf`, `retry-after: 1e30`…).
    pub fn retry_after_raw(status: u16, name: &str, value: &str) -> Behavior {
        Behavior::Hostile(Hostile::Raw {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (name.into(), value.into()),
            ],
            body: bytes::Bytes::from_static(
                br#"{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}"#,
            ),
        })
    }

    /// `status`, `content-type` and `body` verbatim.
    pub fn raw(status: u16, content_type: &str, body: &str) -> Behavior {
        Behavior::Hostile(Hostile::Raw {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        })
    }

    /// Shorthand for `Behavior::Delay(d, Box::new(inner))`.
    pub fn delay(d: Duration, inner: Behavior) -> Behavior {
        Behavior::Delay(d, Box::new(inner))
    }
}

impl From<Hostile> for Behavior {
    fn from(h: Hostile) -> Behavior {
        Behavior::Hostile(h)
    }
}
