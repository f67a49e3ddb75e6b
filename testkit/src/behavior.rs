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

    /// Shorthand for `Behavior::Delay(d, Box::new(inner))`.
    pub fn delay(d: Duration, inner: Behavior) -> Behavior {
        Behavior::Delay(d, Box::new(inner))
    }
}
