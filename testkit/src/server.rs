//! The accept loop and the request handler.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::anthropic::{self, MessagesSse};
use crate::frames::{self, Ctx, Kind, Sse, sse_body};
use crate::{Behavior, Recorded, Shared};

/// The part of `path` after the `/v1` prefix (without trailing slashes), e.g. `"/chat/completions"`.
pub(crate) fn endpoint_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1")?;
    if !rest.is_empty() && !rest.starts_with('/') {
        return None;
    }
    Some(rest.trim_end_matches('/'))
}

/// Accept connections until the task is aborted. Connection tasks live in a `JoinSet` owned by
/// this future, so aborting it also tears down every open connection.
/// With `tls`, each connection is a TLS session first (ALPN `h2` and
/// `http/1.1`).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let router = Router::new().fallback(handle).with_state(shared);
    let mut conns = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Transient (e.g. EMFILE) or the listener was shut down; the latter ends with
                // the task being aborted.
                tracing::debug!(error = %e, "fake upstream: accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        let svc = TowerToHyperService::new(router.clone());
        let tls = tls.clone();
        conns.spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let served = match tls {
                None => builder.serve_connection(TokioIo::new(stream), svc).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => builder.serve_connection(TokioIo::new(s), svc).await,
                    Err(e) => {
                        tracing::debug!(error = %e, "fake upstream: TLS handshake failed");
                        return;
                    }
                },
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "fake upstream: connection ended with error");
            }
        });
    }
}

enum Route {
    Models,
    Api(Kind),
    /// Anthropic Messages (`POST /v1/messages`).
    Messages,
    /// `POST /v1/messages/count_tokens`.
    CountTokens,
    Unknown,
}

enum Plan {
    BadBody(String),
    /// `true`: answer in Anthropic's error shape.
    Unauthorized(bool),
    Models(Vec<String>),
    NotFound,
    Run(Behavior, Kind),
    RunMessages(Behavior),
    /// `None`: the count; else this error status.
    CountTokens(Option<u16>),
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (body, read_err) = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => (b, None),
        Err(e) => (Bytes::new(), Some(e.to_string())),
    };
    let rec = Recorded {
        version: parts.version,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    let mut resp = respond(&shared, rec, read_err).await;
    if let Ok(v) = HeaderValue::from_str(&shared.name) {
        resp.headers_mut().insert("x-fake-upstream", v);
    }
    resp
}

pub(crate) async fn respond(
    shared: &Arc<Shared>,
    rec: Recorded,
    read_err: Option<String>,
) -> Response {
    let plan = {
        let mut st = shared.lock();
        st.requests.push(rec.clone());
        let authorized = match &st.required_key {
            None => true,
            Some(key) => {
                rec.header(AUTHORIZATION.as_str()).as_deref() == Some(&*format!("Bearer {key}"))
                    || rec.header("x-api-key").as_deref() == Some(key.as_str())
            }
        };
        let route = match (rec.method.as_str(), endpoint_of(&rec.path)) {
            ("GET", Some("/models")) => Route::Models,
            ("POST", Some("/chat/completions")) => Route::Api(Kind::Chat),
            ("POST", Some("/completions")) => Route::Api(Kind::Completion),
            ("POST", Some("/embeddings")) => Route::Api(Kind::Embeddings),
            ("POST", Some("/responses")) => Route::Api(Kind::Responses),
            ("POST", Some("/messages")) => Route::Messages,
            ("POST", Some("/messages/count_tokens")) => Route::CountTokens,
            _ => Route::Unknown,
        };
        if let Some(e) = read_err {
            Plan::BadBody(e)
        } else if !authorized {
            Plan::Unauthorized(matches!(route, Route::Messages | Route::CountTokens))
        } else {
            match route {
                Route::Models => Plan::Models(st.models.clone()),
                Route::Api(kind) => {
                    let b = st.queue.pop_front().unwrap_or_else(|| st.default.clone());
                    Plan::Run(b, kind)
                }
                Route::Messages => {
                    let b = st.queue.pop_front().unwrap_or_else(|| st.default.clone());
                    Plan::RunMessages(b)
                }
                Route::CountTokens => Plan::CountTokens(st.count_tokens_status),
                Route::Unknown => Plan::NotFound,
            }
        }
    };
    match plan {
        Plan::BadBody(e) => error_response(
            StatusCode::BAD_REQUEST,
            &format!("could not read request body: {e}"),
            "invalid_request_error",
            None,
        ),
        Plan::Unauthorized(true) => json_response(
            StatusCode::UNAUTHORIZED,
            &anthropic::error_body(401, "invalid x-api-key"),
        ),
        Plan::Unauthorized(false) => error_response(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        Plan::Models(ids) => {
            let data: Vec<Value> = ids
                .iter()
                .map(|id| {
                    json!({"id": id, "object": "model", "created": frames::CREATED, "owned_by": shared.name})
                })
                .collect();
            json_response(StatusCode::OK, &json!({"object": "list", "data": data}))
        }
        Plan::NotFound => error_response(
            StatusCode::NOT_FOUND,
            &format!("Unknown request URL: {} {}", rec.method, rec.path),
            "invalid_request_error",
            Some("unknown_url"),
        ),
        Plan::CountTokens(None) => json_response(
            StatusCode::OK,
            &json!({"input_tokens": crate::COUNTED_TOKENS}),
        ),
        Plan::CountTokens(Some(status)) => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &anthropic::error_body(status, "count_tokens refused"),
        ),
        Plan::Run(b, kind) => run(shared, b, kind, &rec).await,
        Plan::RunMessages(b) => run_messages(shared, b, &rec).await,
    }
}

fn request_ctx(kind: Kind, req: &Value) -> Ctx {
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake-model")
        .to_owned();
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let input_count = match req.get("input") {
        Some(Value::Array(items)) if items.first().is_some_and(Value::is_number) => 1,
        Some(Value::Array(items)) => items.len(),
        _ => 1,
    };
    Ctx {
        kind,
        model,
        stream,
        include_usage,
        input_count,
    }
}

async fn run(shared: &Arc<Shared>, mut b: Behavior, kind: Kind, rec: &Recorded) -> Response {
    while let Behavior::Delay(d, inner) = b {
        tokio::time::sleep(d).await;
        b = *inner;
    }
    let req: Option<Value> = serde_json::from_slice(&rec.body).ok();
    if let Behavior::Auto = b {
        b = if kind == Kind::Chat && has_tools(req.as_ref()) {
            Behavior::ToolCall
        } else {
            Behavior::Ok
        };
    }
    let ctx = request_ctx(kind, req.as_ref().unwrap_or(&Value::Null));
    let sse = |build: &dyn Fn(&mut Sse<'_>)| {
        let mut s = Sse::new(&ctx);
        build(&mut s);
        sse_response(s.take_body(Arc::clone(shared)))
    };
    match b {
        Behavior::Ok => {
            if req.as_ref().is_none_or(|v| !v.is_object()) {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "We could not parse the JSON body of your request.",
                    "invalid_request_error",
                    None,
                );
            }
            if ctx.stream && kind != Kind::Embeddings {
                let name = shared.name.clone();
                sse(&|s| {
                    s.preamble()
                        .delta("Hello")
                        .delta(" from ")
                        .delta(&name)
                        .finish("stop");
                })
            } else {
                json_response(StatusCode::OK, &frames::ok_body(&ctx, &shared.name))
            }
        }
        Behavior::Status {
            status,
            retry_after,
            body,
        } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = match body {
                Some(body) => {
                    let mut r = Response::new(Body::from(body));
                    *r.status_mut() = code;
                    r.headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    r
                }
                None => {
                    let (ty, err_code) = error_kind(code);
                    let msg = format!(
                        "fake upstream {}: simulated HTTP {}",
                        shared.name,
                        code.as_u16()
                    );
                    error_response(code, &msg, ty, err_code)
                }
            };
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
        Behavior::Delay(..) | Behavior::Auto => unreachable_delay(),
        Behavior::Hostile(h) => crate::hostile::respond(shared, &h, rec, false),
        Behavior::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "fake upstream: hang ended",
                "server_error",
                None,
            )
        }
        Behavior::Stream { deltas, interval } => sse(&|s| {
            s.preamble();
            for d in &deltas {
                s.sleep(interval).delta(d);
            }
            s.finish("stop");
        }),
        Behavior::StreamDieBeforeContent => sse(&|s| {
            s.preamble().abort();
        }),
        Behavior::StreamDieAfterContent { after } => sse(&|s| {
            s.preamble();
            for i in 0..after {
                s.delta(&format!("tok{i}"));
            }
            s.abort();
        }),
        Behavior::StreamStallAfterContent { after } => sse(&|s| {
            s.preamble();
            for i in 0..after {
                s.delta(&format!("tok{i}"));
            }
            s.stall();
        }),
        Behavior::ToolCall => {
            if ctx.stream {
                sse(&|s| {
                    s.chat().preamble().tool_call().finish("tool_calls");
                })
            } else {
                json_response(StatusCode::OK, &frames::tool_call_body(&ctx))
            }
        }
        Behavior::Json(v) => json_response(StatusCode::OK, &v),
        Behavior::Reply(r) if kind == Kind::Chat => {
            if ctx.stream {
                sse(&|s| {
                    s.reply(&r);
                })
            } else {
                json_response(StatusCode::OK, &frames::reply_body(&ctx, &r))
            }
        }
        Behavior::Scripted(script) if kind == Kind::Chat => {
            let (r, prompt, out) = script.answer(req.as_ref().unwrap_or(&Value::Null));
            if ctx.stream {
                sse(&|s| {
                    s.reply(&r);
                })
            } else {
                let mut body = frames::reply_body(&ctx, &r);
                body["usage"] = json!({
                    "prompt_tokens": prompt,
                    "completion_tokens": out,
                    "total_tokens": prompt + out,
                });
                json_response(StatusCode::OK, &body)
            }
        }
        Behavior::Reply(_) | Behavior::Scripted(_) => {
            json_response(StatusCode::OK, &frames::ok_body(&ctx, &shared.name))
        }
        Behavior::StreamError { after } => sse(&|s| {
            s.preamble();
            for i in 0..after {
                s.delta(&format!("tok{i}"));
            }
            s.error_frame("fake upstream: simulated mid-stream failure");
        }),
    }
}

/// `POST /v1/messages`: the behavior in Anthropic Messages shapes.
async fn run_messages(shared: &Arc<Shared>, mut b: Behavior, rec: &Recorded) -> Response {
    while let Behavior::Delay(d, inner) = b {
        tokio::time::sleep(d).await;
        b = *inner;
    }
    let req: Option<Value> = serde_json::from_slice(&rec.body).ok();
    let Some(req) = req.filter(Value::is_object) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &anthropic::error_body(400, "We could not parse the JSON body of your request."),
        );
    };
    if let Behavior::Auto = b {
        b = if has_tools(Some(&req)) {
            Behavior::ToolCall
        } else {
            Behavior::Ok
        };
    }
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake-model")
        .to_owned();
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let sse = |build: &dyn Fn(&mut MessagesSse)| {
        let mut s = MessagesSse::new(&model);
        build(&mut s);
        sse_response(sse_body(s.take_steps(), Arc::clone(shared)))
    };
    let hello = || -> Vec<String> { vec!["Hello".into(), " from ".into(), shared.name.clone()] };
    let toks = |after: usize| -> Vec<String> { (0..after).map(|i| format!("tok{i}")).collect() };
    match b {
        Behavior::Ok | Behavior::Auto | Behavior::Delay(..) => {
            if stream {
                sse(&|s| {
                    s.start()
                        .text(&hello(), Duration::ZERO, true)
                        .finish("end_turn");
                })
            } else {
                let text = hello().concat();
                let content = vec![json!({"type": "text", "text": text})];
                json_response(
                    StatusCode::OK,
                    &anthropic::message_body(&model, content, "end_turn", 3),
                )
            }
        }
        Behavior::Status {
            status,
            retry_after,
            body,
        } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = match body {
                Some(body) => {
                    let mut r = Response::new(Body::from(body));
                    *r.status_mut() = code;
                    r.headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    r
                }
                None => {
                    let msg = format!("fake upstream {}: simulated HTTP {status}", shared.name);
                    json_response(code, &anthropic::error_body(status, &msg))
                }
            };
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
        Behavior::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            json_response(
                StatusCode::GATEWAY_TIMEOUT,
                &anthropic::error_body(504, "fake upstream: hang ended"),
            )
        }
        Behavior::Stream { deltas, interval } => sse(&|s| {
            s.start().text(&deltas, interval, true).finish("end_turn");
        }),
        Behavior::StreamDieBeforeContent => sse(&|s| {
            s.start().abort();
        }),
        Behavior::StreamDieAfterContent { after } => sse(&|s| {
            s.start().text(&toks(after), Duration::ZERO, false).abort();
        }),
        Behavior::StreamStallAfterContent { after } => sse(&|s| {
            s.start().text(&toks(after), Duration::ZERO, false).stall();
        }),
        Behavior::StreamError { after } => sse(&|s| {
            s.start();
            if after > 0 {
                s.text(&toks(after), Duration::ZERO, false);
            }
            s.error(529, "Overloaded");
        }),
        Behavior::ToolCall | Behavior::Reply(_) => {
            let r = match b {
                Behavior::Reply(r) => r,
                _ => anthropic::tool_call_reply(),
            };
            if stream {
                sse(&|s| {
                    s.reply(&r);
                })
            } else {
                json_response(StatusCode::OK, &anthropic::reply_body(&model, &r))
            }
        }
        Behavior::Json(v) => json_response(StatusCode::OK, &v),
        Behavior::Scripted(script) => {
            let (r, prompt, out) = script.answer(&req);
            if stream {
                sse(&|s| {
                    s.reply(&r);
                })
            } else {
                let mut body = anthropic::reply_body(&model, &r);
                body["usage"] = json!({"input_tokens": prompt, "output_tokens": out});
                json_response(StatusCode::OK, &body)
            }
        }
        Behavior::Hostile(h) => crate::hostile::respond(shared, &h, rec, true),
    }
}

/// Whether a request body has a non-empty `"tools"` array.
fn has_tools(req: Option<&Value>) -> bool {
    req.and_then(|v| v.get("tools"))
        .and_then(Value::as_array)
        .is_some_and(|tools| !tools.is_empty())
}

/// `Delay` and `Auto` are resolved before the match; answer something sane rather than panicking.
fn unreachable_delay() -> Response {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "fake upstream: delay/auto behavior not resolved",
        "server_error",
        None,
    )
}

fn error_kind(code: StatusCode) -> (&'static str, Option<&'static str>) {
    match code.as_u16() {
        400 => ("invalid_request_error", None),
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("invalid_request_error", Some("model_not_found")),
        408 => ("timeout_error", None),
        413 => ("invalid_request_error", Some("request_too_large")),
        429 => ("rate_limit_error", Some("rate_limit_exceeded")),
        s if s >= 500 => ("server_error", None),
        _ => ("invalid_request_error", None),
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut resp = Response::new(Body::from(v.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn error_response(status: StatusCode, message: &str, ty: &str, code: Option<&str>) -> Response {
    json_response(
        status,
        &json!({"error": {"message": message, "type": ty, "param": null, "code": code}}),
    )
}

fn sse_response(body: Body) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
