//! A client without a network, for unit tests of the request path: every
//! request is answered by a function of the test's, with a status, headers
//! and a body that may come in chunks, stall or break.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{Request, Response};
use http_body_util::BodyExt;
use http_body_util::StreamBody;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Frame;

use super::{BodyError, Inner, SendError, UpstreamBody, UpstreamClient};

pub(crate) type Answer =
    Pin<Box<dyn Future<Output = Result<Response<UpstreamBody>, SendError>> + Send>>;

#[derive(Clone)]
pub(crate) struct Responder(Arc<dyn Fn(Request<Bytes>) -> Answer + Send + Sync>);

impl Responder {
    pub(super) async fn send(
        &self,
        req: Request<Bytes>,
    ) -> Result<Response<UpstreamBody>, SendError> {
        (self.0)(req).await
    }
}

pub(crate) type ScriptedBody = UnsyncBoxBody<Bytes, BodyError>;

impl UpstreamClient {
    /// A client whose every request `answer` answers.
    pub(crate) fn scripted(
        answer: impl Fn(Request<Bytes>) -> Answer + Send + Sync + 'static,
    ) -> Self {
        Self(Inner::Scripted(Responder(Arc::new(answer))))
    }
}

impl UpstreamBody {
    /// A body of these chunks, each as soon as it is polled.
    pub(crate) fn chunks<I>(chunks: I) -> Self
    where
        I: IntoIterator<Item = Result<Bytes, BodyError>>,
        I::IntoIter: Send + 'static,
    {
        Self::from_stream(futures_util::stream::iter(chunks))
    }

    /// A body of whatever `s` yields, when it yields it.
    pub(crate) fn from_stream(
        s: impl Stream<Item = Result<Bytes, BodyError>> + Send + 'static,
    ) -> Self {
        let frames = s.map(|c| c.map(Frame::data));
        Self::Scripted(StreamBody::new(frames).boxed_unsync())
    }
}

impl SendError {
    /// What a refused connection looks like.
    pub(crate) fn refused() -> Self {
        Self {
            connect: true,
            message: "connection refused".into(),
        }
    }
}

impl BodyError {
    /// What a connection reset mid-body looks like.
    pub(crate) fn reset() -> Self {
        Self("connection reset by peer".into())
    }
}

// Upstreams for tests, answering in turn.

type Reply = Box<dyn FnOnce() -> Answer + Send>;

/// Upstreams told apart by port (provider `a` on port 1, `b` on 2, …):
/// each answers its queued replies in turn and records what it was sent.
#[derive(Default, Clone)]
pub(crate) struct Script {
    replies: Arc<Mutex<HashMap<u16, VecDeque<Reply>>>>,
    sent: Arc<Mutex<Vec<(u16, serde_json::Value)>>>,
}

impl Script {
    pub(crate) fn on(&self, port: u16, reply: impl FnOnce() -> Answer + Send + 'static) -> &Self {
        self.replies
            .lock()
            .unwrap()
            .entry(port)
            .or_default()
            .push_back(Box::new(reply));
        self
    }

    pub(crate) fn client(&self) -> UpstreamClient {
        let s = self.clone();
        UpstreamClient::scripted(move |req: Request<Bytes>| {
            let port = req.uri().port_u16().unwrap_or(0);
            let body = serde_json::from_slice(req.body()).unwrap_or_default();
            s.sent.lock().unwrap().push((port, body));
            let next = s
                .replies
                .lock()
                .unwrap()
                .get_mut(&port)
                .and_then(VecDeque::pop_front);
            match next {
                Some(reply) => reply(),
                None => Box::pin(async move { panic!("no reply queued for port {port}") }),
            }
        })
    }

    pub(crate) fn ports(&self) -> Vec<u16> {
        self.sent.lock().unwrap().iter().map(|(p, _)| *p).collect()
    }

    pub(crate) fn models(&self) -> Vec<String> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .map(|(_, b)| b["model"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

pub(crate) fn json(status: u16, body: &'static str) -> Answer {
    Box::pin(async move {
        Ok(Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(UpstreamBody::chunks([Ok(Bytes::from_static(
                body.as_bytes(),
            ))]))
            .unwrap())
    })
}

pub(crate) fn with_header(status: u16, name: &'static str, value: &'static str) -> Answer {
    Box::pin(async move {
        Ok(Response::builder()
            .status(status)
            .header(name, value)
            .body(UpstreamBody::chunks([Ok(Bytes::from_static(b"{}"))]))
            .unwrap())
    })
}

pub(crate) fn sse(chunks: Vec<Result<&'static str, BodyError>>) -> Answer {
    Box::pin(async move {
        let chunks = chunks
            .into_iter()
            .map(|c| c.map(|s: &'static str| Bytes::from_static(s.as_bytes())));
        Ok(Response::builder()
            .header("content-type", "text/event-stream")
            .body(UpstreamBody::chunks(chunks.collect::<Vec<_>>()))
            .unwrap())
    })
}

pub(crate) fn refused() -> Answer {
    Box::pin(async { Err(SendError::refused()) })
}

pub(crate) fn never() -> Answer {
    Box::pin(std::future::pending())
}

pub(crate) const OK: &str = r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
pub(crate) const CONTENT: &str = "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"}}]}\n\n";
pub(crate) const DONE: &str = "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
pub(crate) const ERROR_EVENT: &str =
    "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n";
