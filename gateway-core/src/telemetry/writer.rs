//! Off the request path: [`QueueSink::record`] only `try_send`s into a
//! bounded channel; a full channel drops the event and counts it. The
//! writer task takes what is queued in batches (waiting up to [`LINGER`] for
//! a part-full one to fill) and inserts each batch in one transaction on the
//! blocking pool. On shutdown the queue is closed and
//! drained before the task ends, so [`crate::GatewayHandle::shutdown`] waits
//! for every accepted event to be on disk. The retention task runs at start
//! and then every [`RETENTION_EVERY`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::db::{Db, Retention};
use super::{RequestEvent, TelemetrySink};
use crate::server::AppState;

/// Most events written in one transaction.
pub(crate) const BATCH: usize = 512;
/// How long the writer waits for more events before writing a part-full
/// batch. Without it a steady trickle of requests costs one transaction (and
/// one blocking-pool hand-off) per request, more CPU than the requests
/// themselves; rows show up in the log at most this much later.
pub(crate) const LINGER: Duration = Duration::from_millis(50);
/// How often retention runs.
pub(crate) const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// Puts events on the writer's queue, never waiting.
#[derive(Debug)]
pub(crate) struct QueueSink {
    pub tx: mpsc::Sender<RequestEvent>,
    pub dropped_full: Counter,
}

impl TelemetrySink for QueueSink {
    fn record(&self, event: RequestEvent) {
        if self.tx.try_send(event).is_err() {
            self.dropped_full.inc();
        }
    }
}

/// Writes batches until `drain` fires, then writes what is left and ends.
pub(crate) async fn run_writer(
    state: Arc<AppState>,
    db: Db,
    mut rx: mpsc::Receiver<RequestEvent>,
    drain: CancellationToken,
    dropped_failed: Counter,
) {
    let mut draining = false;
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        let n = if draining {
            rx.recv_many(&mut batch, BATCH).await
        } else {
            tokio::select! {
                n = rx.recv_many(&mut batch, BATCH) => n,
                () = drain.cancelled() => {
                    // No new events from here on; what is queued still goes in.
                    rx.close();
                    draining = true;
                    continue;
                }
            }
        };
        if n == 0 {
            break;
        }
        if !draining && batch.len() < BATCH {
            // Sleep rather than wait on the queue: events arriving meanwhile
            // wake nothing, then whatever came joins this batch.
            tokio::select! {
                () = tokio::time::sleep(LINGER) => {},
                () = drain.cancelled() => {},
            }
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
        }
        let n = batch.len();
        let cap = state.runtime.load().config.telemetry.max_body_bytes;
        let db = db.clone();
        let res = tokio::task::spawn_blocking(move || db.insert(&batch, cap)).await;
        let err = match res {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        dropped_failed.inc_by(n as u64);
        tracing::error!("telemetry: {n} event(s) not written: {err}");
    }
}

/// Applies the configured retention now and every [`RETENTION_EVERY`].
pub(crate) async fn run_retention(state: Arc<AppState>, db: Db, stop: CancellationToken) {
    loop {
        let t = &state.runtime.load().config.telemetry;
        let policy = Retention {
            max_age: t.retention,
            max_bytes: t.max_db_bytes,
        };
        let d = db.clone();
        let res =
            tokio::task::spawn_blocking(move || d.enforce_retention(SystemTime::now(), policy))
                .await;
        match res {
            Ok(Ok(r)) if r.expired + r.over_size > 0 => tracing::info!(
                expired = r.expired,
                over_size = r.over_size,
                used_bytes = r.used_bytes,
                "telemetry retention"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("telemetry retention failed: {e}"),
            Err(e) => tracing::warn!("telemetry retention task failed: {e}"),
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(RETENTION_EVERY) => {}
        }
    }
}
