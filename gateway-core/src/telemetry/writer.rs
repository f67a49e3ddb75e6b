//! Off the request path: [`QueueSink::record`] only `try_send`s into a
//! bounded channel; a full channel drops the event and counts it. The
//! writer task takes what is queued in batches (waiting up to [`LINGER`] for
//! a part-full one to fill) and inserts each batch in one transaction on the
//! blocking pool. On shutdown the queue is closed and
//! drained before the task ends, so [`crate::GatewayHandle::shutdown`] waits
//! for every accepted event to be on disk. The retention task runs at start
//! and then every [`RETENTION_EVERY`]. A batch that cannot be written (a
//! full disk) is dropped and counted; [`FailureLog`] keeps that from
//! flooding the log.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::db::{Db, Retention};
use super::{RequestEvent, TelemetrySink};
use crate::routing::LiveRuntime;

/// Most events written in one transaction.
pub(crate) const BATCH: usize = 512;
/// How long the writer waits for more events before writing a part-full
/// batch. Without it a steady trickle of requests costs one transaction (and
/// one blocking-pool hand-off) per request, more CPU than the requests
/// themselves; rows show up in the log at most this much later.
pub(crate) const LINGER: Duration = Duration::from_millis(50);
/// How often retention runs.
pub(crate) const RETENTION_EVERY: Duration = Duration::from_secs(600);
/// While writes keep failing, how often at most the writer says so again.
pub(crate) const FAILURE_REPORT_EVERY: Duration = Duration::from_secs(60);

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
    live: Arc<LiveRuntime>,
    db: Db,
    mut rx: mpsc::Receiver<RequestEvent>,
    drain: CancellationToken,
    dropped_failed: Counter,
) {
    let mut draining = false;
    let mut failures = FailureLog::new(FAILURE_REPORT_EVERY);
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
        let cap = live.load().config.telemetry.max_body_bytes;
        let db = db.clone();
        let res = tokio::task::spawn_blocking(move || db.insert(&batch, cap)).await;
        let err = match res {
            Ok(Ok(())) => {
                if let Some(Report::Recovered { batches, events }) = failures.succeeded() {
                    tracing::warn!(
                        "telemetry: writes succeed again; {events} event(s) in {batches} batch(es) were not written meanwhile"
                    );
                }
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        dropped_failed.inc_by(n as u64);
        match failures.failed(n as u64, Instant::now()) {
            Some(Report::First) => tracing::error!(
                "telemetry: {n} event(s) not written: {err} (while this lasts, failures are counted and reported at most every {}s)",
                FAILURE_REPORT_EVERY.as_secs()
            ),
            Some(Report::Suppressed { batches, events }) => tracing::error!(
                "telemetry: still failing: {events} more event(s) in {batches} batch(es) not written; last error: {err}"
            ),
            Some(Report::Recovered { .. }) | None => {}
        }
    }
    // The hourly rollups held in memory (the next open would recover them).
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || db.store_held_rollups()).await {
        tracing::warn!(
            "telemetry: hourly rollups not stored at shut-down (the next start adds them): {e}"
        );
    }
}

/// What the writer logs about failed batches: the first failure at once,
/// then the count of failures since the last line at most once per `every`,
/// and one line when a write succeeds again. (A full disk fails every batch,
/// some twenty a second under load.)
#[derive(Debug)]
pub(crate) struct FailureLog {
    every: Duration,
    /// `None` while writes succeed.
    failing: Option<Failing>,
}

#[derive(Debug)]
struct Failing {
    last_report: Instant,
    /// Not reported yet.
    batches: u64,
    events: u64,
    /// Since the first failure.
    total_batches: u64,
    total_events: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// The first failure after writes succeeded: log it.
    First,
    /// Failures since the last line.
    Suppressed { batches: u64, events: u64 },
    /// A write succeeded after failures; what was lost in all.
    Recovered { batches: u64, events: u64 },
}

impl FailureLog {
    pub(crate) fn new(every: Duration) -> Self {
        Self {
            every,
            failing: None,
        }
    }

    /// A batch of `events` failed at `now`: what to log, if anything.
    pub(crate) fn failed(&mut self, events: u64, now: Instant) -> Option<Report> {
        let Some(f) = &mut self.failing else {
            self.failing = Some(Failing {
                last_report: now,
                batches: 0,
                events: 0,
                total_batches: 1,
                total_events: events,
            });
            return Some(Report::First);
        };
        f.batches += 1;
        f.events += events;
        f.total_batches += 1;
        f.total_events += events;
        if now.saturating_duration_since(f.last_report) < self.every {
            return None;
        }
        f.last_report = now;
        let report = Report::Suppressed {
            batches: f.batches,
            events: f.events,
        };
        (f.batches, f.events) = (0, 0);
        Some(report)
    }

    /// A batch was written.
    pub(crate) fn succeeded(&mut self) -> Option<Report> {
        let f = self.failing.take()?;
        Some(Report::Recovered {
            batches: f.total_batches,
            events: f.total_events,
        })
    }
}

/// Applies the configured retention now and every [`RETENTION_EVERY`].
pub(crate) async fn run_retention(live: Arc<LiveRuntime>, db: Db, stop: CancellationToken) {
    loop {
        let t = &live.load().config.telemetry;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_logged_once_then_counted_once_a_minute() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut log = FailureLog::new(Duration::from_secs(60));
        assert_eq!(log.succeeded(), None);
        assert_eq!(log.failed(10, at(0)), Some(Report::First));
        // ~18 batches a second for a minute: nothing until the minute is up
        let mut lines = 0;
        for i in 1..60 * 18 {
            if log.failed(2, at(i * 1000 / 18)).is_some() {
                lines += 1;
            }
        }
        assert_eq!(lines, 0);
        assert_eq!(
            log.failed(2, at(60_000)),
            Some(Report::Suppressed {
                batches: 60 * 18,
                events: 2 * 60 * 18
            })
        );
        // the next minute starts from that line
        assert_eq!(log.failed(1, at(60_001)), None);
        assert_eq!(log.failed(1, at(119_999)), None);
        assert_eq!(
            log.failed(1, at(120_000)),
            Some(Report::Suppressed {
                batches: 3,
                events: 3
            })
        );
        assert_eq!(log.failed(5, at(120_500)), None);
        // recovery: one line with everything lost, then quiet
        assert_eq!(
            log.succeeded(),
            Some(Report::Recovered {
                batches: 60 * 18 + 5,
                events: 10 + 2 * 60 * 18 + 3 + 5
            })
        );
        assert_eq!(log.succeeded(), None);
        // a new failure is a first one again, logged at once
        assert_eq!(log.failed(1, at(121_002)), Some(Report::First));
    }
}
