//! `mock-upstream`: an OpenAI-compatible upstream for benchmarks, on hyper 1
//! directly so that it costs as little CPU as possible next to the gateway
//! under test.
//!
//! What it does is chosen per request by the model name, so every gateway
//! forwards the choice untouched: `-`-separated tokens, each a letter and a
//! number of milliseconds or frames:
//!
//! - `l<ms>`: latency before the response head (and so before the first token);
//! - `n<frames>`: content deltas of a stream (default 16);
//! - `p<ms>`: pacing between deltas (default 10).
//!
//! `mock-l20` answers a non-streaming request after 20 ms; with
//! `"stream": true`, `mock-l0-n20-p50` sends the role and first delta at once,
//! then 19 more deltas 50 ms apart, a finish chunk and `[DONE]`.
//!
//! ```text
//! mock-upstream [--listen 127.0.0.1:9100] [--threads 1]
//! ```
//! Prints `listening on http://ADDR` once bound. Serves `GET /v1/models`,
//! `GET /healthz`, and the generate endpoints of each protocol in
//! [`ROUTES`] (a table: a helper adding a provider kind adds its rows and
//! its answer shape), all with the same answer in their own wire format:
//!
//! - OpenAI: `POST …/chat/completions` (and `…/completions`);
//! - Azure OpenAI: `POST /openai/deployments/{d}/chat/completions?api-version=…`
//!   (the model from the body, else the deployment name) and
//!   `POST /openai/v1/chat/completions` (OpenAI's answers);
//! - Gemini: `POST /v1beta/models/{m}:generateContent` and
//!   `:streamGenerateContent?alt=sse` (also under `/v1/`), the model from
//!   the path: `candidates`/`usageMetadata`, SSE events ending in CRLF CRLF.
//! - Anthropic Messages: `POST …/messages` (the model and `"stream"` from
//!   the body): a `message` answer, or the event sequence `message_start`,
//!   `content_block_start`, `ping`, a `content_block_delta` (`text_delta`)
//!   per delta, `content_block_stop`, `message_delta` (stop reason, usage),
//!   `message_stop`, paced like the chat stream;
//! - Vertex AI: its token and prediction paths ([`vertex`], outside the
//!   table).

// A benchmark tool, not the gateway: it owns no TaskTracker to spawn through
// (clippy.toml disallows bare tokio::spawn for the gateway's tasks).
#![allow(clippy::disallowed_methods)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};

mod vertex;

/// What one request asks of the mock, read from its model name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    latency: Duration,
    deltas: u32,
    pacing: Duration,
}

impl Plan {
    fn from_model(model: &str) -> Self {
        let mut plan = Plan {
            latency: Duration::ZERO,
            deltas: 16,
            pacing: Duration::from_millis(10),
        };
        for tok in model.split('-') {
            let mut chars = tok.chars();
            let Some(kind) = chars.next() else { continue };
            let Ok(v) = chars.as_str().parse::<u64>() else {
                continue;
            };
            match kind {
                'l' => plan.latency = Duration::from_millis(v),
                'n' => plan.deltas = u32::try_from(v.clamp(1, 100_000)).unwrap_or(1),
                'p' => plan.pacing = Duration::from_millis(v),
                _ => {}
            }
        }
        plan
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The value after `"key":` when it starts at `i`, for a flat scan of a
/// request body (enough for what gateways send; not a JSON parser).
fn value_after(body: &[u8], key: &[u8]) -> Option<usize> {
    let at = find(body, key)?;
    let i = skip_ws(body, at + key.len());
    (body.get(i) == Some(&b':')).then(|| skip_ws(body, i + 1))
}

/// `model` and `stream` of a chat request body.
fn read_request(body: &[u8]) -> (String, bool) {
    let model = value_after(body, b"\"model\"")
        .filter(|&i| body.get(i) == Some(&b'"'))
        .and_then(|i| {
            let rest = &body[i + 1..];
            let end = rest.iter().position(|&b| b == b'"')?;
            std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
        })
        .unwrap_or_else(|| "mock".to_string());
    let stream = value_after(body, b"\"stream\"").is_some_and(|i| body[i..].starts_with(b"true"));
    (model, stream)
}

/// JSON-safe model name (gateways send plain ids; anything else is replaced).
fn safe(model: &str) -> &str {
    if model
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b))
    {
        model
    } else {
        "mock"
    }
}

fn completion(model: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"{model}","choices":[{{"index":0,"message":{{"role":"assistant","content":"Hello from the mock upstream."}},"logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}}}"#,
        model = safe(model)
    ))
}

fn chunk(model: &str, delta: &str, finish: &str) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"{model}\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n",
        model = safe(model)
    )
}

/// A paced SSE body: role + first delta at once, then one delta per
/// `pacing`, then the finish chunk and `[DONE]`.
struct Sse {
    proto: Proto,
    model: String,
    plan: Plan,
    sent: u32,
    start: Instant,
    sleep: Pin<Box<Sleep>>,
    done: bool,
}

impl Sse {
    fn new(proto: Proto, model: String, plan: Plan) -> Self {
        let start = Instant::now();
        Self {
            proto,
            model,
            plan,
            sent: 0,
            start,
            sleep: Box::pin(tokio::time::sleep_until(start)),
            done: false,
        }
    }

    fn next_frame(&mut self) -> Bytes {
        let i = self.sent;
        self.sent += 1;
        let mut out = String::with_capacity(512);
        if self.proto == Proto::Gemini {
            let last = self.sent == self.plan.deltas;
            out.push_str(&gemini_event(&self.model, &format!("tok{i} "), last));
            self.pace(last);
            return Bytes::from(out);
        }
        if self.proto == Proto::Anthropic {
            let last = self.sent == self.plan.deltas;
            anthropic_frame(&mut out, &self.model, i, last);
            self.pace(last);
            return Bytes::from(out);
        }
        if i == 0 {
            out.push_str(&chunk(
                &self.model,
                r#"{"role":"assistant","content":""}"#,
                "null",
            ));
        }
        out.push_str(&chunk(
            &self.model,
            &format!(r#"{{"content":"tok{i} "}}"#),
            "null",
        ));
        let last = self.sent == self.plan.deltas;
        if last {
            out.push_str(&chunk(&self.model, "{}", "\"stop\""));
            out.push_str("data: [DONE]\n\n");
        }
        self.pace(last);
        Bytes::from(out)
    }

    /// Done after the last frame, else the next one at its time.
    fn pace(&mut self, last: bool) {
        if last {
            self.done = true;
        } else {
            let next = self.start + self.plan.pacing * self.sent;
            self.sleep.as_mut().reset(next);
        }
    }
}

impl Body for Sse {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.sent > 0 && self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(Some(Ok(Frame::data(self.next_frame()))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// The wire format of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// OpenAI chat completions (also Azure OpenAI's paths).
    OpenAi,
    /// Gemini `generateContent`; streams are chosen by the path.
    Gemini,
    /// Anthropic Messages.
    Anthropic,
}

/// Where a route reads the model that chooses the mock's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModelAt {
    /// The body's `"model"`.
    Body,
    /// The body's `"model"`, else the path segment after the prefix
    /// (Azure's deployment).
    BodyOrSegment,
    /// The path between the prefix and the suffix (Gemini's `models/{m}:…`).
    Path,
}

/// Whether a route's answer streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streams {
    /// When the body says `"stream": true`.
    Body,
    Always,
    Never,
}

/// One row of the dispatch table: `POST` paths that start with `prefix`
/// and end with `suffix`.
struct Route {
    prefix: &'static str,
    suffix: &'static str,
    proto: Proto,
    model: ModelAt,
    stream: Streams,
}

/// The generate endpoints, first match wins (the most specific first).
/// Bedrock (`/model/{id}/converse…`) is answered by `converse`, Vertex's
/// whole answers and token endpoint by `vertex::answer`; Vertex's Gemini
/// streams are the row below (the plan is read from the model's tokens in
/// the path).
const ROUTES: &[Route] = &[
    Route {
        prefix: "/v1/projects/",
        suffix: ":streamGenerateContent",
        proto: Proto::Gemini,
        model: ModelAt::Path,
        stream: Streams::Always,
    },
    Route {
        prefix: "/openai/deployments/",
        suffix: "/chat/completions",
        proto: Proto::OpenAi,
        model: ModelAt::BodyOrSegment,
        stream: Streams::Body,
    },
    Route {
        prefix: "/openai/v1/",
        suffix: "/chat/completions",
        proto: Proto::OpenAi,
        model: ModelAt::Body,
        stream: Streams::Body,
    },
    Route {
        prefix: "/v1beta/models/",
        suffix: ":generateContent",
        proto: Proto::Gemini,
        model: ModelAt::Path,
        stream: Streams::Never,
    },
    Route {
        prefix: "/v1beta/models/",
        suffix: ":streamGenerateContent",
        proto: Proto::Gemini,
        model: ModelAt::Path,
        stream: Streams::Always,
    },
    Route {
        prefix: "/v1/models/",
        suffix: ":generateContent",
        proto: Proto::Gemini,
        model: ModelAt::Path,
        stream: Streams::Never,
    },
    Route {
        prefix: "/v1/models/",
        suffix: ":streamGenerateContent",
        proto: Proto::Gemini,
        model: ModelAt::Path,
        stream: Streams::Always,
    },
    Route {
        prefix: "/",
        suffix: "/messages",
        proto: Proto::Anthropic,
        model: ModelAt::Body,
        stream: Streams::Body,
    },
    Route {
        prefix: "/",
        suffix: "/chat/completions",
        proto: Proto::OpenAi,
        model: ModelAt::Body,
        stream: Streams::Body,
    },
    Route {
        prefix: "/",
        suffix: "/completions",
        proto: Proto::OpenAi,
        model: ModelAt::Body,
        stream: Streams::Body,
    },
];

fn route_for(path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| {
        path.len() >= r.prefix.len() + r.suffix.len()
            && path.starts_with(r.prefix)
            && path.ends_with(r.suffix)
    })
}

/// The model and whether to stream, as `route` reads them.
fn plan_request(route: &Route, path: &str, body: &[u8]) -> (String, bool) {
    let (body_model, body_stream) = read_request(body);
    let inner = &path[route.prefix.len()..path.len() - route.suffix.len()];
    let from_body = value_after(body, b"\"model\"").is_some();
    let model = match route.model {
        ModelAt::Body => body_model,
        ModelAt::BodyOrSegment if from_body => body_model,
        ModelAt::BodyOrSegment => inner.split('/').next().unwrap_or("mock").to_string(),
        ModelAt::Path => inner.to_string(),
    };
    let stream = match route.stream {
        Streams::Body => body_stream,
        Streams::Always => true,
        Streams::Never => false,
    };
    (model, stream)
}

fn gemini_answer(model: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"candidates":[{{"content":{{"role":"model","parts":[{{"text":"Hello from the mock upstream."}}]}},"finishReason":"STOP","index":0}}],"usageMetadata":{{"promptTokenCount":12,"candidatesTokenCount":7,"totalTokenCount":19}},"modelVersion":"{model}","responseId":"mock"}}"#,
        model = safe(model)
    ))
}

/// One `streamGenerateContent?alt=sse` event (Gemini ends them with CRLF
/// CRLF); the last carries `finishReason` and `usageMetadata`.
fn gemini_event(model: &str, text: &str, last: bool) -> String {
    let end = if last {
        r#","finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":7,"totalTokenCount":19}"#
    } else {
        "}]"
    };
    format!(
        "data: {{\"candidates\":[{{\"content\":{{\"role\":\"model\",\"parts\":[{{\"text\":\"{text}\"}}]}},\"index\":0{end},\"modelVersion\":\"{model}\",\"responseId\":\"mock\"}}\r\n\r\n",
        model = safe(model)
    )
}

fn anthropic_answer(model: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"id":"msg_mock","type":"message","role":"assistant","model":"{model}","content":[{{"type":"text","text":"Hello from the mock upstream."}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{"input_tokens":12,"output_tokens":7}}}}"#,
        model = safe(model)
    ))
}

/// One Anthropic SSE event (`event:` line named after its `type`).
fn anthropic_event(out: &mut String, name: &str, data: &str) {
    out.push_str("event: ");
    out.push_str(name);
    out.push_str("\ndata: ");
    out.push_str(data);
    out.push_str("\n\n");
}

/// The events of delta `i` of a Messages stream: the first comes with
/// `message_start`, the text block's start and a `ping`; the last with the
/// block's stop, `message_delta` and `message_stop`.
fn anthropic_frame(out: &mut String, model: &str, i: u32, last: bool) {
    if i == 0 {
        anthropic_event(
            out,
            "message_start",
            &format!(
                r#"{{"type":"message_start","message":{{"id":"msg_mock","type":"message","role":"assistant","model":"{model}","content":[],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":12,"output_tokens":1}}}}}}"#,
                model = safe(model)
            ),
        );
        anthropic_event(
            out,
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        );
        anthropic_event(out, "ping", r#"{"type":"ping"}"#);
    }
    anthropic_event(
        out,
        "content_block_delta",
        &format!(
            r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"tok{i} "}}}}"#
        ),
    );
    if last {
        anthropic_event(
            out,
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        );
        anthropic_event(
            out,
            "message_delta",
            &format!(
                r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn","stop_sequence":null}},"usage":{{"output_tokens":{}}}}}"#,
                i + 1
            ),
        );
        anthropic_event(out, "message_stop", r#"{"type":"message_stop"}"#);
    }
}

type Out = http_body_util::Either<http_body_util::Full<Bytes>, Sse>;

fn full(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Out> {
    let mut r = Response::new(http_body_util::Either::Left(http_body_util::Full::new(
        body,
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}

async fn handle(req: Request<Incoming>) -> Result<Response<Out>, Infallible> {
    let path = req.uri().path();
    if req.method() == Method::POST
        && let Some((plan, body)) = vertex::answer(path)
    {
        if !plan.latency.is_zero() {
            tokio::time::sleep(plan.latency).await;
        }
        return Ok(full(StatusCode::OK, "application/json", body));
    }
    match (req.method(), path) {
        (&Method::GET, "/healthz") => Ok(full(
            StatusCode::OK,
            "application/json",
            Bytes::from_static(b"{\"status\":\"ok\"}"),
        )),
        (&Method::GET, "/v1/models" | "/models") => Ok(full(
            StatusCode::OK,
            "application/json",
            Bytes::from_static(
                br#"{"object":"list","data":[{"id":"mock","object":"model","created":0,"owned_by":"mock"}]}"#,
            ),
        )),
        (&Method::POST, p) if route_for(p).is_some() => {
            let Some(route) = route_for(p) else {
                return Ok(full(StatusCode::NOT_FOUND, "application/json", Bytes::new()));
            };
            let path = p.to_string();
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return Ok(full(
                        StatusCode::BAD_REQUEST,
                        "application/json",
                        Bytes::from_static(br#"{"error":{"message":"unreadable body"}}"#),
                    ));
                }
            };
            let (model, stream) = plan_request(route, &path, &body);
            let plan = Plan::from_model(&model);
            if !plan.latency.is_zero() {
                tokio::time::sleep(plan.latency).await;
            }
            if stream {
                let sse = Sse::new(route.proto, model, plan);
                let mut r = Response::new(http_body_util::Either::Right(sse));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/event-stream"),
                );
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-cache"),
                );
                Ok(r)
            } else {
                let answer = match route.proto {
                    Proto::OpenAi => completion(&model),
                    Proto::Gemini => gemini_answer(&model),
                    Proto::Anthropic => anthropic_answer(&model),
                };
                Ok(full(StatusCode::OK, "application/json", answer))
            }
        }
        (&Method::POST, p) if p.starts_with("/model/") => Ok(converse(p)),
        _ => Ok(full(
            StatusCode::NOT_FOUND,
            "application/json",
            Bytes::from_static(br#"{"error":{"message":"no such endpoint"}}"#),
        )),
    }
}

/// Bedrock Converse for `kind = "bedrock"` benchmarks (signatures are not
/// checked): `/model/{id}/converse` answers JSON, `/converse-stream` a
/// fixed AWS event stream (messageStart, one text delta, messageStop,
/// metadata).
fn converse(path: &str) -> Response<Out> {
    if path.ends_with("/converse") {
        return full(
            StatusCode::OK,
            "application/json",
            Bytes::from_static(
                br#"{"output":{"message":{"role":"assistant","content":[{"text":"Hello from the mock upstream."}]}},"stopReason":"end_turn","usage":{"inputTokens":12,"outputTokens":7,"totalTokens":19},"metrics":{"latencyMs":1}}"#,
            ),
        );
    }
    if !path.ends_with("/converse-stream") {
        return full(
            StatusCode::NOT_FOUND,
            "application/json",
            Bytes::from_static(br#"{"message":"no such operation"}"#),
        );
    }
    let mut out = Vec::new();
    for (kind, payload) in [
        ("messageStart", r#"{"role":"assistant"}"#),
        (
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"Hello from the mock upstream."}}"#,
        ),
        ("contentBlockStop", r#"{"contentBlockIndex":0}"#),
        ("messageStop", r#"{"stopReason":"end_turn"}"#),
        (
            "metadata",
            r#"{"usage":{"inputTokens":12,"outputTokens":7,"totalTokens":19},"metrics":{"latencyMs":1}}"#,
        ),
    ] {
        event_frame(&mut out, kind, payload.as_bytes());
    }
    let mut r = full(StatusCode::OK, "application/json", Bytes::from(out));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    r
}

/// One AWS event-stream `event` frame: prelude (lengths, CRC32), string
/// headers, payload, CRC32 of the whole.
fn event_frame(out: &mut Vec<u8>, kind: &str, payload: &[u8]) {
    let mut h = Vec::new();
    for (k, v) in [
        (":event-type", kind),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ] {
        h.push(k.len() as u8);
        h.extend_from_slice(k.as_bytes());
        h.push(7);
        h.extend_from_slice(&(v.len() as u16).to_be_bytes());
        h.extend_from_slice(v.as_bytes());
    }
    let start = out.len();
    let total = 12 + h.len() + payload.len() + 4;
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (IEEE, reflected), bit by bit: a few frames per request.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

async fn serve(listener: TcpListener) {
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("mock-upstream: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tcp), service_fn(handle));
            // Clients going away mid-stream is normal in a benchmark.
            let _ = conn.await;
        });
    }
}

struct Args {
    listen: SocketAddr,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 9100)),
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--listen" => {
                let v = val("--listen")?;
                args.listen = v.parse().map_err(|e| format!("--listen {v:?}: {e}"))?;
            }
            "--threads" => {
                let v = val("--threads")?;
                args.threads = v.parse().map_err(|e| format!("--threads {v:?}: {e}"))?;
            }
            "-h" | "--help" => {
                return Err("usage: mock-upstream [--listen 127.0.0.1:9100] [--threads 1]".into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if !args.listen.ip().is_loopback() {
        return Err("mock-upstream only listens on loopback addresses".into());
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mock-upstream: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mock-upstream: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        // A backlog of 4,096 like aigw's (tokio's bind gives 1,024): the
        // bench opens thousands of streams at once, directly too.
        let bound = (|| {
            let socket = if args.listen.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket.bind(args.listen)?;
            socket.listen(4096)
        })();
        let listener: TcpListener = match bound {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mock-upstream: cannot listen on {}: {e}", args.listen);
                return std::process::ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().unwrap_or(args.listen);
        println!("listening on http://{addr}");
        serve(listener).await;
        std::process::ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_from_model_names() {
        assert_eq!(
            Plan::from_model("mock-l20"),
            Plan {
                latency: Duration::from_millis(20),
                deltas: 16,
                pacing: Duration::from_millis(10)
            }
        );
        let p = Plan::from_model("mock-l0-n20-p50");
        assert_eq!((p.deltas, p.pacing), (20, Duration::from_millis(50)));
    }

    #[test]
    fn the_table_dispatches_each_protocol() {
        let plan = |path: &str, body: &[u8]| {
            let r = route_for(path).unwrap();
            let (m, s) = plan_request(r, path, body);
            (r.proto, m, s)
        };
        assert_eq!(
            plan(
                "/v1/chat/completions",
                br#"{"model":"mock-l5","stream":true}"#
            ),
            (Proto::OpenAi, "mock-l5".into(), true)
        );
        assert_eq!(
            plan("/openai/deployments/mock-l3/chat/completions", b"{}"),
            (Proto::OpenAi, "mock-l3".into(), false)
        );
        assert_eq!(
            plan("/openai/v1/chat/completions", br#"{"model":"m"}"#),
            (Proto::OpenAi, "m".into(), false)
        );
        assert_eq!(
            plan("/v1beta/models/mock-l0-n5:streamGenerateContent", b"{}"),
            (Proto::Gemini, "mock-l0-n5".into(), true)
        );
        assert_eq!(
            plan("/v1/models/mock-l0:generateContent", br#"{"stream":true}"#),
            (Proto::Gemini, "mock-l0".into(), false)
        );
        assert_eq!(
            plan("/v1/messages", br#"{"model":"mock-l0-n2","stream":true}"#),
            (Proto::Anthropic, "mock-l0-n2".into(), true)
        );
        assert!(route_for("/v1beta/models/x:countTokens").is_none());
        let ev = gemini_event("m", "tok0 ", true);
        assert!(
            ev.ends_with("\r\n\r\n") && ev.contains("\"finishReason\":\"STOP\""),
            "{ev}"
        );
        let v = ev.trim_start_matches("data: ").trim_end();
        assert!(v.starts_with('{') && v.ends_with('}'), "{v}");
    }

    #[test]
    fn messages_streams_are_anthropic_event_sequences() {
        // The body's pacing timer needs a runtime to be created in.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let _in_rt = rt.enter();
        let mut sse = Sse::new(Proto::Anthropic, "m".into(), Plan::from_model("mock-n2"));
        let mut all = String::from_utf8(sse.next_frame().to_vec()).unwrap();
        let second = String::from_utf8(sse.next_frame().to_vec()).unwrap();
        assert!(sse.done);
        all.push_str(&second);
        let mut names = Vec::new();
        for e in all.split("\n\n").filter(|e| !e.is_empty()) {
            let (head, data) = e.split_once('\n').unwrap();
            let name = head.strip_prefix("event: ").unwrap();
            let data = data.strip_prefix("data: ").unwrap();
            assert!(data.starts_with(&format!(r#"{{"type":"{name}""#)), "{e}");
            assert!(data.ends_with('}'), "{e}");
            names.push(name);
        }
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert!(second.contains(r#""delta":{"type":"text_delta","text":"tok1 "}"#));
        assert!(second.contains(r#""stop_reason":"end_turn""#));
        let answer = anthropic_answer("m");
        assert!(answer.starts_with(br#"{"id":"msg_mock","type":"message""#));
    }

    #[test]
    fn answers_vertex_paths() {
        let (_, b) = vertex::answer("/token").unwrap();
        assert!(b.starts_with(b"{\"access_token\""));
        let (plan, b) = vertex::answer(
            "/v1/projects/p/locations/us-central1/publishers/google/models/mock-l5:generateContent",
        )
        .unwrap();
        assert_eq!(plan.latency, Duration::from_millis(5));
        assert!(std::str::from_utf8(&b).unwrap().contains("\"candidates\""));
        let (_, b) = vertex::answer(
            "/v1/projects/p/locations/us-east5/publishers/anthropic/models/mock:rawPredict",
        )
        .unwrap();
        assert!(
            std::str::from_utf8(&b)
                .unwrap()
                .contains("\"type\":\"message\"")
        );
        assert!(vertex::answer("/v1/chat/completions").is_none());
    }

    #[test]
    fn converse_streams_are_framed_with_aws_crcs() {
        // The CRC-32 check value of "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let mut out = Vec::new();
        event_frame(&mut out, "messageStop", br#"{"stopReason":"end_turn"}"#);
        let total = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(total, out.len());
        let end = u32::from_be_bytes([
            out[total - 4],
            out[total - 3],
            out[total - 2],
            out[total - 1],
        ]);
        assert_eq!(end, crc32(&out[..total - 4]));
    }

    #[test]
    fn reads_model_and_stream_loosely() {
        let (m, s) = read_request(br#"{"messages":[], "model" : "mock-l5", "stream": true}"#);
        assert_eq!((m.as_str(), s), ("mock-l5", true));
        let (m, s) = read_request(br#"{"model":"x","stream":false}"#);
        assert_eq!((m.as_str(), s), ("x", false));
    }
}
