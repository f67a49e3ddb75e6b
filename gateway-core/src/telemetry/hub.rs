//! What the gateway holds for telemetry: the metrics, the SQLite log (when
//! there is a data dir) and its queue, the OTLP exporter's queue (when
//! `telemetry.otlp_endpoint` is set), and the sink the handlers record to
//! (metrics → log queue → OTLP queue → the host's sink or a log line).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::db::Db;
use super::metrics::Metrics;
use super::otlp::{self, Exporter, OtlpSink};
use super::writer::{QueueSink, run_retention, run_writer};
use super::{RequestEvent, TelemetrySink};
use crate::config::TelemetryConfig;
use crate::routing::LiveRuntime;
use crate::routing::health::HealthRegistry;
use crate::sync::LockExt;

/// The log file's name in the data dir.
pub const DB_FILE: &str = "telemetry.db";

#[derive(Debug)]
pub struct TelemetryHub {
    metrics: Arc<Metrics>,
    db: Option<Db>,
    /// Why there is no log despite a data dir.
    db_error: Option<String>,
    tx: Option<mpsc::Sender<RequestEvent>>,
    rx: Mutex<Option<mpsc::Receiver<RequestEvent>>>,
    /// The OTLP exporter and its queue, until [`spawn_tasks`] starts it.
    otlp: Mutex<Option<(Exporter, mpsc::Receiver<RequestEvent>)>>,
    /// Team mode: the shared request log in PostgreSQL, and its queue
    /// until [`spawn_tasks`] starts its writer.
    pg: Option<super::pg::PgLog>,
    pg_rx: Mutex<Option<mpsc::Receiver<RequestEvent>>>,
    drain: CancellationToken,
    /// The sink's deferred recordings.
    deferred: TaskTracker,
    /// The line thread's queue, to wait for it at shutdown.
    lines: Option<LineQueue>,
}

/// How long events wait for more before the host's sink gets them together.
/// One request log line per request, written as it ended, cost the serving
/// thread a `write(2)` and (after a pause, with cold caches) tens of
/// microseconds just when the client's next request tends to arrive: the
/// first token of a stream that follows another waited for it (bench/README,
/// "Round 4"). Lines show up at most this much later.
pub(crate) const SINK_LINGER: Duration = Duration::from_millis(50);

/// Metrics first (by reference), then the queue, then the host's sink.
#[derive(Debug)]
struct HubSink {
    metrics: Arc<Metrics>,
    queue: Option<QueueSink>,
    /// Team mode: the PostgreSQL log's queue.
    pg_queue: Option<QueueSink>,
    otlp: Option<OtlpSink>,
    /// The host's sink and what waits for it: see [`HubSink::record`].
    pending: Arc<Pending>,
    /// The tasks that hand [`Pending`] events over.
    deferred: TaskTracker,
}

/// Events for the host's sink, handed over in one batch [`SINK_LINGER`]
/// after the first of them.
#[derive(Debug)]
struct Pending {
    next: Arc<dyn TelemetrySink>,
    events: Mutex<Vec<RequestEvent>>,
    /// The thread that writes the batches ([`spawn_line_thread`]); `None`
    /// when it could not be started, and then the batches are written
    /// where they are handed over.
    lines: Option<LineQueue>,
}

impl Pending {
    /// Queues `event`; true when it is the first of a batch.
    fn push(&self, event: RequestEvent) -> bool {
        let mut q = self.events.lock_or_recover();
        q.push(event);
        q.len() == 1
    }

    fn take(&self) -> Vec<RequestEvent> {
        std::mem::take(&mut *self.events.lock_or_recover())
    }

    /// Writes what is queued here and now.
    fn flush(&self) {
        let events = self.take();
        if !events.is_empty() {
            self.next.record_batch(events);
        }
    }

    /// Hands what is queued to the line thread; the receiver answers once it
    /// is written. Written here when the thread is gone or [`LINE_QUEUE`]
    /// batches already wait for it (a stderr nobody reads: the serving
    /// thread then waits on the pipe, as any writer would).
    fn hand_off(&self) -> Option<oneshot::Receiver<()>> {
        let events = self.take();
        if events.is_empty() {
            return None;
        }
        let events = match &self.lines {
            Some(q) => match q.send(events) {
                Ok(written) => return Some(written),
                Err(events) => events,
            },
            None => events,
        };
        self.next.record_batch(events);
        None
    }
}

/// Batches waiting for the line thread, at most.
const LINE_QUEUE: usize = 64;

/// A batch for the line thread, and who waits for it to be written.
struct Handoff {
    events: Vec<RequestEvent>,
    written: oneshot::Sender<()>,
}

/// The line thread's queue.
#[derive(Debug, Clone)]
struct LineQueue(std::sync::mpsc::SyncSender<Handoff>);

impl Handoff {
    fn new(events: Vec<RequestEvent>) -> (Self, oneshot::Receiver<()>) {
        let (written, rx) = oneshot::channel();
        (Self { events, written }, rx)
    }
}

impl LineQueue {
    /// Queues `events`; gives them back when the queue is full or the
    /// thread has ended.
    fn send(&self, events: Vec<RequestEvent>) -> Result<oneshot::Receiver<()>, Vec<RequestEvent>> {
        use std::sync::mpsc::TrySendError;
        let (h, written) = Handoff::new(events);
        match self.0.try_send(h) {
            Ok(()) => Ok(written),
            Err(TrySendError::Full(h) | TrySendError::Disconnected(h)) => Err(h.events),
        }
    }

    /// Queues an empty batch behind what waits, blocking while the queue is
    /// full; `None` when the thread has ended.
    fn queue_behind(&self) -> Option<oneshot::Receiver<()>> {
        let (h, written) = Handoff::new(Vec::new());
        self.0.send(h).ok().map(|()| written)
    }
}

/// The thread that hands the host's sink its batches (for `aigw`, that
/// formats and writes the request log lines). Formatting a line is ~15k
/// instructions, 13 % of what a request cost its serving thread when the
/// batches were written there (at one request at a time, 50 ms of requests
/// are ~300 lines, ~1.5 ms in which that thread serves nothing else;
/// bench/results/floor.md). It sleeps until a batch comes, at most one per
/// serving thread per [`SINK_LINGER`], and ends when the hub and its sink
/// are gone.
fn spawn_line_thread(next: Arc<dyn TelemetrySink>) -> Option<LineQueue> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Handoff>(LINE_QUEUE);
    let started = std::thread::Builder::new()
        .name("aigw-log".into())
        .spawn(move || {
            for h in rx {
                if !h.events.is_empty() {
                    next.record_batch(h.events);
                }
                let _ = h.written.send(());
            }
        });
    match started {
        Ok(_) => Some(LineQueue(tx)),
        Err(e) => {
            tracing::warn!(
                "request log lines are written on the serving threads: cannot start their thread: {e}"
            );
            None
        }
    }
}

/// Flushes when dropped, unless taken: when the runtime it waits on shuts
/// down before the linger is over (a serving thread's), so no event is lost.
struct FlushOnDrop(Option<Arc<Pending>>);

impl FlushOnDrop {
    /// The events, to hand over rather than flush here.
    fn take(mut self) -> Option<Arc<Pending>> {
        self.0.take()
    }
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            p.flush();
        }
    }
}

impl TelemetrySink for HubSink {
    fn record(&self, event: RequestEvent) {
        // Replays and benchmarks are logged, but are not client traffic.
        if event.origin == super::Origin::Client {
            self.metrics.observe(&event);
        }
        if let Some(q) = &self.queue {
            q.record(event.clone());
        }
        if let Some(q) = &self.pg_queue {
            q.record(event.clone());
        }
        if let Some(o) = &self.otlp {
            o.record(event.clone());
        }
        // The host's sink (for `aigw`, the request log line: the costliest
        // part of recording) gets events in batches: the first event of a
        // batch starts a task on this thread's runtime that, after the
        // linger, hands the batch to the line thread. Off the request's
        // latency and off the serving thread, one wake-up and one write for
        // many lines under load. [`TelemetryHub::settle`] waits for these
        // tasks and the line thread at shutdown.
        if !self.deferred.is_closed()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            if self.pending.push(event) {
                let flush = FlushOnDrop(Some(self.pending.clone()));
                self.deferred.spawn_on(
                    async move {
                        tokio::time::sleep(SINK_LINGER).await;
                        if let Some(written) = flush.take().and_then(|p| p.hand_off()) {
                            let _ = written.await;
                        }
                    },
                    &rt,
                );
            }
        } else {
            // Serving has stopped: in order, after what still waits.
            self.pending.flush();
            self.pending.next.record(event);
        }
    }
}

impl TelemetryHub {
    /// Opens the log in `data_dir` (if any), sets up the OTLP exporter (if
    /// configured; read only here) and builds the sink handlers record to;
    /// `next` gets every event after metrics, the log and the exporter. A log
    /// that cannot be opened is reported and the gateway runs without it.
    pub fn new(
        data_dir: Option<&Path>,
        config: &TelemetryConfig,
        next: Arc<dyn TelemetrySink>,
    ) -> (Self, Arc<dyn TelemetrySink>) {
        Self::with_postgres(data_dir, config, next, None)
    }

    /// [`TelemetryHub::new`], and in team mode the rows also go to the
    /// shared log in PostgreSQL (its own queue of `queue_capacity`).
    pub fn with_postgres(
        data_dir: Option<&Path>,
        config: &TelemetryConfig,
        next: Arc<dyn TelemetrySink>,
        pg: Option<super::pg::PgLog>,
    ) -> (Self, Arc<dyn TelemetrySink>) {
        let metrics = Arc::new(Metrics::new());
        let (db, db_error) = match data_dir.map(|d| Db::open(&d.join(DB_FILE))) {
            None => (None, None),
            Some(Ok(db)) => (Some(db), None),
            Some(Err(e)) => {
                tracing::error!("request log disabled: {e}");
                (None, Some(e.to_string()))
            }
        };
        let (tx, rx) = match db {
            Some(_) => {
                let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let queue = tx.clone().map(|tx| QueueSink {
            tx,
            dropped_full: metrics.dropped_counter("queue_full"),
        });
        let exporter = config.otlp.as_ref().and_then(|c| {
            let exported = metrics.otlp_exported();
            let failed = metrics.otlp_dropped("export_failed");
            match Exporter::new(c, exported, failed) {
                Ok(e) => {
                    tracing::info!("exporting traces to {} (OTLP/JSON)", c.traces_url);
                    Some(e)
                }
                Err(e) => {
                    tracing::error!("OTLP trace export disabled: cannot build its client: {e}");
                    None
                }
            }
        });
        let (otlp_sink, otlp) = match exporter {
            Some(exp) => {
                let (tx, rx) = mpsc::channel(otlp::QUEUE);
                let sink = OtlpSink {
                    tx,
                    dropped_full: metrics.otlp_dropped("queue_full"),
                };
                (Some(sink), Some((exp, rx)))
            }
            None => (None, None),
        };
        let (pg_queue, pg_rx) = match &pg {
            Some(_) => {
                let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
                let q = QueueSink {
                    tx,
                    dropped_full: metrics.dropped_counter("postgres_queue_full"),
                };
                (Some(q), Some(rx))
            }
            None => (None, None),
        };
        let deferred = TaskTracker::new();
        let lines = spawn_line_thread(next.clone());
        let sink = Arc::new(HubSink {
            metrics: metrics.clone(),
            queue,
            pg_queue,
            otlp: otlp_sink,
            pending: Arc::new(Pending {
                next,
                events: Mutex::new(Vec::new()),
                lines: lines.clone(),
            }),
            deferred: deferred.clone(),
        });
        let hub = Self {
            metrics,
            db,
            db_error,
            tx,
            rx: Mutex::new(rx),
            otlp: Mutex::new(otlp),
            pg,
            pg_rx: Mutex::new(pg_rx),
            drain: CancellationToken::new(),
            deferred,
            lines,
        };
        (hub, sink)
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The request log, when there is a data dir and it opened.
    pub fn db(&self) -> Option<&Db> {
        self.db.as_ref()
    }

    /// Team mode: the request log every replica writes to.
    pub fn postgres(&self) -> Option<&super::pg::PgLog> {
        self.pg.as_ref()
    }

    pub fn db_error(&self) -> Option<&str> {
        self.db_error.as_deref()
    }

    /// Events dropped so far (queue full or write failed).
    pub fn dropped_events(&self) -> u64 {
        self.metrics.dropped_total()
    }

    /// Events waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx
            .as_ref()
            .map_or(0, |tx| tx.max_capacity() - tx.capacity())
    }

    /// The `/metrics` text.
    pub fn render_metrics(&self, health: &HealthRegistry, openmetrics: bool) -> String {
        self.metrics.set_queue_depth(self.queue_depth());
        self.metrics.render(health, openmetrics)
    }

    /// Serving has stopped: waits until every event recorded so far has
    /// reached the host's sink; later ones reach it at once.
    pub async fn settle(&self) {
        self.deferred.close();
        self.deferred.wait().await;
        // Batches handed over by tasks that a stopped serving runtime
        // dropped while they waited: an empty batch queues behind them.
        let Some(q) = self.lines.clone() else {
            return;
        };
        let queued = tokio::task::spawn_blocking(move || q.queue_behind());
        if let Ok(Some(written)) = queued.await {
            let _ = written.await;
        }
    }

    /// Serving has stopped: the writer stores what is queued, the exporter
    /// sends it, and both end.
    pub fn close(&self) {
        self.drain.cancel();
    }
}

/// Starts the OTLP exporter, the log writer and the retention task on
/// `tasks`; the exporter and the writer end after [`TelemetryHub::close`],
/// retention when `stop` is cancelled.
pub fn spawn_tasks(
    hub: &TelemetryHub,
    live: &Arc<LiveRuntime>,
    tasks: &TaskTracker,
    stop: CancellationToken,
) {
    let otlp = hub.otlp.lock_or_recover().take();
    if let Some((exp, rx)) = otlp {
        tasks.spawn(otlp::run_exporter(live.clone(), exp, rx, hub.drain.clone()));
    }
    if let Some(pg) = &hub.pg {
        if let Some(rx) = hub.pg_rx.lock_or_recover().take() {
            let failed = hub.metrics.dropped_counter("postgres_write_failed");
            tasks.spawn(super::pg::run_writer(
                pg.clone(),
                rx,
                hub.drain.clone(),
                failed,
            ));
        }
        tasks.spawn(super::pg::run_retention(
            live.clone(),
            pg.clone(),
            stop.clone(),
        ));
    }
    let Some(db) = hub.db.clone() else {
        return;
    };
    let rx = hub.rx.lock_or_recover().take();
    if let Some(rx) = rx {
        let failed = hub.metrics.dropped_counter("write_failed");
        tasks.spawn(run_writer(
            live.clone(),
            db.clone(),
            rx,
            hub.drain.clone(),
            failed,
        ));
    }
    tasks.spawn(run_retention(live.clone(), db, stop));
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::telemetry::Origin;

    /// Request ids, one list per hand-over, and the threads they came on;
    /// a batch takes `slow` to write.
    #[derive(Debug, Default)]
    struct Batches {
        seen: Mutex<Vec<Vec<String>>>,
        threads: Mutex<Vec<Option<String>>>,
        slow: Duration,
    }

    impl Batches {
        fn seen(&self) -> Vec<Vec<String>> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl TelemetrySink for Batches {
        fn record(&self, e: RequestEvent) {
            self.seen.lock().unwrap().push(vec![e.request_id]);
        }
        fn record_batch(&self, events: Vec<RequestEvent>) {
            let thread = std::thread::current().name().map(str::to_owned);
            self.threads.lock().unwrap().push(thread);
            std::thread::sleep(self.slow);
            let ids = events.into_iter().map(|e| e.request_id).collect();
            self.seen.lock().unwrap().push(ids);
        }
    }

    fn ev(id: &str) -> RequestEvent {
        RequestEvent::new(
            id.into(),
            SystemTime::now(),
            "127.0.0.1".into(),
            "chat_completions",
            "m".into(),
            Origin::Client,
        )
    }

    /// A runtime like a serving thread's.
    fn serving_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn ids(batches: &[&[&str]]) -> Vec<Vec<String>> {
        batches
            .iter()
            .map(|b| b.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[tokio::test]
    async fn the_hosts_sink_gets_events_in_batches_after_the_linger() {
        let sink = Arc::new(Batches::default());
        let (hub, rec) = TelemetryHub::new(None, &TelemetryConfig::default(), sink.clone());
        rec.record(ev("a"));
        rec.record(ev("b"));
        // metrics count at once; the host's sink waits for the batch
        assert!(sink.seen().is_empty());
        tokio::time::sleep(SINK_LINGER * 3).await;
        assert_eq!(sink.seen(), ids(&[&["a", "b"]]));
        rec.record(ev("c"));
        // shutdown waits for what is pending
        hub.settle().await;
        assert_eq!(sink.seen(), ids(&[&["a", "b"], &["c"]]));
        // after it, events go through at once
        rec.record(ev("d"));
        assert_eq!(sink.seen(), ids(&[&["a", "b"], &["c"], &["d"]]));
    }

    #[tokio::test]
    async fn batches_are_written_on_the_line_thread_not_the_serving_one() {
        let sink = Arc::new(Batches::default());
        let (_hub, rec) = TelemetryHub::new(None, &TelemetryConfig::default(), sink.clone());
        rec.record(ev("a"));
        tokio::time::sleep(SINK_LINGER * 3).await;
        assert_eq!(sink.seen(), ids(&[&["a"]]));
        assert_eq!(*sink.threads.lock().unwrap(), [Some("aigw-log".to_owned())]);
    }

    #[test]
    fn shutdown_waits_for_a_batch_handed_over_before_its_runtime_stopped() {
        let sink = Arc::new(Batches {
            slow: Duration::from_millis(300),
            ..Batches::default()
        });
        let (hub, rec) = TelemetryHub::new(None, &TelemetryConfig::default(), sink.clone());
        let rt = serving_runtime();
        rt.block_on(async {
            rec.record(ev("a"));
            rec.record(ev("b"));
            // handed over, and the line thread is still writing it
            tokio::time::sleep(SINK_LINGER + Duration::from_millis(100)).await;
        });
        assert_eq!(sink.threads.lock().unwrap().len(), 1);
        // the serving runtime stops: the task waiting for the write goes
        drop(rt);
        let main = serving_runtime();
        main.block_on(hub.settle());
        assert_eq!(sink.seen(), ids(&[&["a", "b"]]));
    }

    #[test]
    fn events_pending_when_a_serving_runtime_stops_are_not_lost() {
        let sink = Arc::new(Batches::default());
        let (_hub, rec) = TelemetryHub::new(None, &TelemetryConfig::default(), sink.clone());
        let rt = serving_runtime();
        rt.block_on(async {
            rec.record(ev("a"));
            rec.record(ev("b"));
        });
        assert!(sink.seen().is_empty());
        // a serving thread's runtime is dropped with its linger task pending
        drop(rt);
        assert_eq!(sink.seen(), ids(&[&["a", "b"]]));
    }
}
