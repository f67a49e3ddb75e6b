//! Client connections: the accept loop, the connection cap, and the
//! timeouts that close a connection a client holds without using it.
//!
//! - A new connection must deliver a whole request head within
//!   `server.header_read_timeout_s`; so must an idle keep-alive connection,
//!   counted from the first byte of its next request (a head trickled in
//!   byte by byte does not extend it).
//! - A connection with no request in progress is closed after
//!   `server.keepalive_idle_s`.
//! - While a request is in progress — its body arriving, its upstream
//!   thinking before the first byte, its stream flowing — neither applies.
//!   A request body that stops arriving is ended where bodies are read
//!   (`server.body_idle_timeout_s`, `api::body`).
//! - At most `server.max_connections` are open at once, over every serving
//!   thread; one more is answered 503 (`too_many_connections`) and closed
//!   rather than left waiting in the listen queue.
//! - Accept errors (`EMFILE` at the open-file limit) never end the loop: it
//!   logs, backs off and goes on.
//! - With serving threads, each accepts from the one listener, and a thread
//!   that already serves [`SPREAD_SLACK`] more connections than the least
//!   busy one hands a new connection to it (before any byte is read or TLS
//!   handshake done): whichever thread the kernel woke, a burst of
//!   connections ends up spread evenly, and so does the work of their
//!   streams, which stays on the thread that serves the connection.
//! - On a TLS listener (`server::tls`) the handshake runs inside the
//!   connection's slot (it counts against `max_connections`) and must end
//!   within `server.header_read_timeout_s`; an over-cap connection is closed
//!   without an answer (a plain-text 503 would not reach a TLS client).
//!
//! Every limit is read from the live config when a connection is accepted.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use futures_util::task::AtomicWaker;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::AppState;
use super::tls::Tls;
use crate::config::ServerConfig;
use crate::limits::connections::{Connections, Served, Slot};

/// Connections being turned away (503) at once; past that an over-cap
/// connection is closed without an answer.
const MAX_TURNING_AWAY: usize = 64;
/// How long a turned-away connection may take to receive its 503.
const TURN_AWAY_FOR: Duration = Duration::from_secs(2);

/// The connection limits of the live config.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read: Duration,
    keepalive_idle: Duration,
    max_connections: usize,
}

impl Limits {
    fn of(s: &ServerConfig) -> Self {
        Self {
            header_read: s.header_read_timeout,
            keepalive_idle: s.keepalive_idle,
            max_connections: s.max_connections,
        }
    }
}

/// How many more connections than the least busy serving thread a thread
/// serves before it hands new ones over: 2, so that two threads taking
/// turns never hand anything over.
pub(super) const SPREAD_SLACK: usize = 2;

/// A serving thread's share in spreading new connections over all of them.
pub(super) struct Spread {
    me: usize,
    to: Arc<[mpsc::UnboundedSender<Handed>]>,
    incoming: mpsc::UnboundedReceiver<Handed>,
}

impl Spread {
    /// One for each of `n` serving threads. The queues are bounded by
    /// `server.max_connections`: a connection holds its slot while queued.
    pub(super) fn among(n: usize) -> Vec<Spread> {
        let (to, from): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::unbounded_channel()).unzip();
        let to: Arc<[_]> = to.into();
        from.into_iter()
            .enumerate()
            .map(|(me, incoming)| Spread {
                me,
                to: to.clone(),
                incoming,
            })
            .collect()
    }
}

/// A connection accepted on one serving thread for another.
struct Handed {
    tcp: std::net::TcpStream,
    peer: SocketAddr,
    limits: Limits,
    slot: Slot,
    served: Served,
}

/// The serving thread for a new connection accepted on thread `me`, given
/// how many each serves now: the least busy one if `me` serves at least
/// [`SPREAD_SLACK`] more (the first of equals), else `me`.
fn pick(me: usize, open: impl IntoIterator<Item = usize>) -> usize {
    let (mut mine, mut least) = (0, (me, usize::MAX));
    for (i, n) in open.into_iter().enumerate() {
        if i == me {
            mine = n;
        }
        if n < least.1 {
            least = (i, n);
        }
    }
    if least.1.saturating_add(SPREAD_SLACK) <= mine {
        least.0
    } else {
        me
    }
}

/// Serves `listener` until `token` is cancelled, then lets in-flight
/// requests finish for up to `grace` and closes what is left.
pub(super) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    state: Arc<AppState>,
    token: CancellationToken,
    grace: Duration,
    tls: Option<Arc<Tls>>,
    mut spread: Option<Spread>,
) {
    let tasks = TaskTracker::new();
    // Cancelled when the grace period is over: the remaining connections close.
    let hard = CancellationToken::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The head timeout is ours (`Watched`): hyper's restarts after every
    // response and would close idle keep-alive connections at the same time.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None);
    builder.http2().timer(TokioTimer::new());
    let ctx = Starter {
        app,
        builder: Arc::new(builder),
        token: token.clone(),
        hard: hard.clone(),
        tls: tls.clone(),
        tasks: tasks.clone(),
    };
    let mut errors = AcceptErrors::default();
    loop {
        // On a single-threaded serving runtime a burst of new connections
        // (hundreds of streams opened at once) must not wait behind the
        // accept loop: each accepted connection starts before the next.
        tokio::task::yield_now().await;
        let handed = async {
            match spread.as_mut() {
                Some(s) => s.incoming.recv().await,
                None => std::future::pending().await,
            }
        };
        let accepted = tokio::select! {
            () = token.cancelled() => break,
            r = listener.accept() => r,
            Some(h) = handed => {
                match TcpStream::from_std(h.tcp) {
                    Ok(tcp) => ctx.start(tcp, h.peer, h.limits, h.slot, h.served),
                    Err(e) => tracing::debug!(peer = %h.peer, "cannot take a connection over: {e}"),
                }
                continue;
            }
        };
        let (tcp, peer) = match accepted {
            Ok(c) => {
                errors.recovered();
                c
            }
            Err(e) => {
                if let Some(pause) = errors.failed(&e) {
                    tokio::select! {
                        () = token.cancelled() => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let limits = Limits::of(&state.runtime.load().config.server);
        let Some(slot) = state.connections.try_take(limits.max_connections) else {
            state.connections.warn_refused(limits.max_connections);
            if tls.is_some() {
                continue; // dropped: closed
            }
            turn_away(
                tcp,
                &state.connections,
                &tasks,
                &hard,
                limits.max_connections,
            );
            continue;
        };
        let Some(s) = spread.as_ref() else {
            ctx.start(tcp, peer, limits, slot, state.connections.serve_on(0));
            continue;
        };
        let to = pick(s.me, state.connections.each_thread());
        let served = state.connections.serve_on(to);
        if to == s.me {
            ctx.start(tcp, peer, limits, slot, served);
            continue;
        }
        // Off this thread's reactor, onto the other's when it takes it.
        match tcp.into_std() {
            Ok(tcp) => {
                let h = Handed {
                    tcp,
                    peer,
                    limits,
                    slot,
                    served,
                };
                if s.to[to].send(h).is_ok() {
                    state.connections.handed_off();
                }
                // else that thread has stopped serving (shutdown): closed.
            }
            Err(e) => tracing::debug!(%peer, "cannot hand a connection over: {e}"),
        }
    }
    drop(listener);
    tasks.close();
    tokio::select! {
        () = tasks.wait() => return,
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace of {grace:?} expired; closing remaining connections");
        }
    }
    hard.cancel();
    tasks.wait().await;
}

/// What starting a connection's task needs.
struct Starter {
    app: axum::Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    token: CancellationToken,
    hard: CancellationToken,
    tls: Option<Arc<Tls>>,
    tasks: TaskTracker,
}

impl Starter {
    /// Serves `tcp` (after its TLS handshake, on a TLS listener) in a task
    /// of this thread's runtime; its slot and count are held until it ends.
    fn start(&self, tcp: TcpStream, peer: SocketAddr, limits: Limits, slot: Slot, served: Served) {
        let (app, builder, token, hard) = (
            self.app.clone(),
            self.builder.clone(),
            self.token.clone(),
            self.hard.clone(),
        );
        let acceptor = self.tls.as_ref().map(|t| t.acceptor());
        self.tasks.spawn(async move {
            match acceptor {
                None => serve_one(&builder, tcp, peer, app, limits, token, hard).await,
                Some(acceptor) => {
                    let shake = tokio::time::timeout(limits.header_read, acceptor.accept(tcp));
                    let stream = tokio::select! {
                        r = shake => r,
                        () = token.cancelled() => return,
                    };
                    match stream {
                        Ok(Ok(stream)) => {
                            serve_one(&builder, stream, peer, app, limits, token, hard).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(
                            %peer,
                            "no TLS handshake within server.header_read_timeout_s"
                        ),
                    }
                }
            }
            drop((slot, served));
        });
    }
}

async fn serve_one<S>(
    builder: &auto::Builder<TokioExecutor>,
    tcp: S,
    peer: SocketAddr,
    app: axum::Router,
    limits: Limits,
    token: CancellationToken,
    hard: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(Watched::new(tcp, activity.clone(), limits));
    let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let active = Active::begin(&activity);
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        let call = tower::ServiceExt::oneshot(app.clone(), req);
        async move {
            let resp = call.await?;
            Ok::<_, Infallible>(resp.map(|body| Tracked {
                body,
                active: Some(active),
            }))
        }
    });
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, "client connection ended: {e}");
                }
                return;
            }
            () = token.cancelled(), if !draining => {
                // Idle connections close now, busy ones after their request.
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = hard.cancelled() => return,
        }
    }
}

/// Answers an over-cap connection 503 and closes it, in a task of its own
/// (bounded by [`MAX_TURNING_AWAY`] and [`TURN_AWAY_FOR`]).
fn turn_away(
    tcp: TcpStream,
    conns: &Arc<Connections>,
    tasks: &TaskTracker,
    hard: &CancellationToken,
    max: usize,
) {
    struct TurningAway(Arc<Connections>);
    impl Drop for TurningAway {
        fn drop(&mut self) {
            self.0.turning_away.fetch_sub(1, Ordering::AcqRel);
        }
    }
    if conns.turning_away.fetch_add(1, Ordering::AcqRel) >= MAX_TURNING_AWAY {
        conns.turning_away.fetch_sub(1, Ordering::AcqRel);
        return; // dropped: closed without an answer
    }
    let guard = TurningAway(conns.clone());
    let hard = hard.clone();
    tasks.spawn(async move {
        tokio::select! {
            _ = tokio::time::timeout(TURN_AWAY_FOR, refuse(tcp, max)) => {}
            () = hard.cancelled() => {}
        }
        drop(guard);
    });
}

/// The 503 itself: written before the request is read (the request does
/// not matter), then the write side closed and what the client sent
/// drained, so that closing does not reset the connection before the
/// client has read the answer.
async fn refuse(mut tcp: TcpStream, max: usize) -> io::Result<()> {
    let body = crate::translate::errors::openai_body(
        "api_error",
        "too_many_connections",
        format!(
            "the gateway has reached its connection limit (server.max_connections = {max}); retry shortly"
        ),
    );
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let mut answer = head.into_bytes();
    answer.extend_from_slice(&body);
    tcp.write_all(&answer).await?;
    tcp.shutdown().await?;
    let mut sink = [0u8; 2048];
    while tcp.read(&mut sink).await? > 0 {}
    Ok(())
}

/// Accept errors in a row: connection-level ones are skipped, resource
/// ones (`EMFILE`, `ENFILE`, `ENOBUFS`…) back off from 10 ms to 1 s.
#[derive(Debug, Default)]
struct AcceptErrors {
    run: u64,
    pause: Duration,
}

impl AcceptErrors {
    fn failed(&mut self, e: &io::Error) -> Option<Duration> {
        use io::ErrorKind::*;
        if matches!(
            e.kind(),
            ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
        ) {
            return None;
        }
        self.run += 1;
        if self.run == 1 {
            tracing::warn!(
                "cannot accept client connections: {e}; retrying with backoff (at the open-file limit, raise `ulimit -n` or lower server.max_connections)"
            );
        }
        self.pause = (self.pause * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        Some(self.pause)
    }

    fn recovered(&mut self) {
        if self.run > 0 {
            tracing::info!(
                "accepting client connections again after {} failed accepts",
                self.run
            );
            *self = Self::default();
        }
    }
}

/// What the requests of one connection are doing, shared by its service
/// (which counts them) and its socket (which times out when none is).
#[derive(Debug, Default)]
struct Activity {
    /// Requests in progress: from a whole head until the response body is
    /// done (or dropped).
    active: AtomicUsize,
    /// Requests begun on this connection.
    begun: AtomicU64,
    /// The socket reader, woken when the last request in progress ends so
    /// that the keep-alive timeout starts even if it was not reading.
    reader: AtomicWaker,
}

/// One request in progress.
struct Active(Arc<Activity>);

impl Active {
    fn begin(a: &Arc<Activity>) -> Self {
        a.begun.fetch_add(1, Ordering::Release);
        a.active.fetch_add(1, Ordering::AcqRel);
        Self(a.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.reader.wake();
        }
    }
}

/// A response body that ends its request's [`Active`] when it ends.
struct Tracked<B> {
    body: B,
    active: Option<Active>,
}

impl<B: HttpBody + Unpin> HttpBody for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(r, Poll::Ready(None)) {
            this.active = None;
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A request head is arriving (or expected, on a new connection).
    Head,
    /// No request in progress, nothing received since the last one.
    Idle,
    /// A request is in progress: no timeout here.
    Busy,
}

/// The client socket, failing its reads with `TimedOut` once the phase's
/// deadline has passed while no request is in progress.
struct Watched<S> {
    io: S,
    activity: Arc<Activity>,
    limits: Limits,
    /// [`Activity::begun`] when the reader last looked.
    seen: u64,
    phase: Phase,
    due: Instant,
    /// Armed at `due` or earlier: a deadline that moved later is re-armed
    /// when the timer fires, not on every request.
    timer: Pin<Box<Sleep>>,
}

impl<S> Watched<S> {
    fn new(io: S, activity: Arc<Activity>, limits: Limits) -> Self {
        let due = Instant::now() + limits.header_read;
        Self {
            io,
            activity,
            limits,
            seen: 0,
            phase: Phase::Head,
            due,
            timer: Box::pin(tokio::time::sleep_until(due)),
        }
    }

    fn arm(&mut self, phase: Phase, after: Duration) {
        self.phase = phase;
        self.due = Instant::now() + after;
    }

    /// Polls the deadline; true once it has passed.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.timer.deadline() > self.due {
                self.timer.as_mut().reset(self.due);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            if self.timer.deadline() >= self.due {
                return true;
            }
            // Fired for a deadline that has since moved later.
            self.timer.as_mut().reset(self.due);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.activity.active.load(Ordering::Acquire) > 0 {
            this.phase = Phase::Busy;
            if r.is_pending() {
                this.activity.reader.register(cx.waker());
            }
            return r;
        }
        let begun = this.activity.begun.load(Ordering::Acquire);
        if this.phase == Phase::Busy || begun != this.seen {
            // The last request has ended: idle until the next one starts.
            this.seen = begun;
            this.arm(Phase::Idle, this.limits.keepalive_idle);
        }
        match r {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                if this.phase == Phase::Idle {
                    this.arm(Phase::Head, this.limits.header_read);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.expired(cx) => {
                let why = match this.phase {
                    Phase::Head => "no whole request head within server.header_read_timeout_s",
                    _ => "idle for server.keepalive_idle_s",
                };
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)))
            }
            r => r,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::pick;

    #[test]
    fn a_new_connection_goes_to_the_least_busy_thread_only_past_the_slack() {
        // this thread is not 2 over the least busy: it keeps the connection
        assert_eq!(pick(0, [0, 0]), 0);
        assert_eq!(pick(0, [1, 0]), 0);
        assert_eq!(pick(1, [3, 4]), 1);
        // 2 over: to the least busy, the first of equals
        assert_eq!(pick(0, [2, 0]), 1);
        assert_eq!(pick(2, [5, 3, 7, 3]), 1);
        // this thread is the least busy, or the only one
        assert_eq!(pick(1, [9, 0, 9]), 1);
        assert_eq!(pick(0, [100]), 0);
    }
}
