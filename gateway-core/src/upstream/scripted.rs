//! A client without a network, for unit tests of the request path: every
//! request is answered by a function of the test's, with a status, headers
//! and a body that may come in chunks, stall or break.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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
pub(crate) struct Script(Arc<dyn Fn(Request<Bytes>) -> Answer + Send + Sync>);

impl Script {
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
        Self(Inner::Scripted(Script(Arc::new(answer))))
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
