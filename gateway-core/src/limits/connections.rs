//! The cap on client connections (`server.max_connections`): how many are
//! open now over every serving thread, a slot per accepted connection; and
//! how many each serving thread serves (`server::conn` shares new ones out
//! by that count).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The client connections open now, over every serving thread.
#[derive(Debug, Default)]
pub struct Connections {
    open: AtomicUsize,
    /// Connections being turned away (503) now (`server::conn`).
    pub(crate) turning_away: AtomicUsize,
    /// Over-cap connections since the last warning, and when that was.
    refused: AtomicU64,
    last_warned_s: AtomicU64,
    /// With serving threads: the connections each serves now.
    per_thread: OnceLock<Box<[AtomicUsize]>>,
    /// Connections a serving thread accepted and handed to another.
    handed_off: AtomicU64,
}

impl Connections {
    /// Client connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    pub(crate) fn try_take(self: &Arc<Self>, max: usize) -> Option<Slot> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(self.clone()))
    }

    /// Counts connections per serving thread from now on (`n` threads; set
    /// once, a later call changes nothing).
    pub(crate) fn per_thread(&self, n: usize) {
        let _ = self
            .per_thread
            .set((0..n).map(|_| AtomicUsize::new(0)).collect());
    }

    /// The connections each serving thread serves now, in thread order
    /// (none without serving threads); read as each new connection is
    /// accepted, so it allocates nothing.
    pub(crate) fn each_thread(&self) -> impl Iterator<Item = usize> + '_ {
        self.per_thread
            .get()
            .into_iter()
            .flat_map(|t| t.iter().map(|n| n.load(Ordering::Relaxed)))
    }

    /// Thread `i` serves one more connection, until the guard drops.
    pub(crate) fn serve_on(self: &Arc<Self>, i: usize) -> Served {
        if let Some(n) = self.per_thread.get().and_then(|t| t.get(i)) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        Served(self.clone(), i)
    }

    pub(crate) fn handed_off(&self) {
        self.handed_off.fetch_add(1, Ordering::Relaxed);
    }

    /// `aigw_client_connections` (by serving thread, or `thread="all"`)
    /// and `aigw_client_connections_handed_off`, for `/metrics`.
    pub fn append_metrics(&self, body: &mut String, openmetrics: bool) {
        use std::fmt::Write;
        let mut out = String::from(
            "# HELP aigw_client_connections Client connections open now, by the serving thread that serves them\n\
             # TYPE aigw_client_connections gauge\n",
        );
        let by: Vec<usize> = self.each_thread().collect();
        if by.is_empty() {
            let _ = writeln!(
                out,
                "aigw_client_connections{{thread=\"all\"}} {}",
                self.open()
            );
        }
        for (i, n) in by.iter().enumerate() {
            let _ = writeln!(out, "aigw_client_connections{{thread=\"{i}\"}} {n}");
        }
        let family = if openmetrics {
            "aigw_client_connections_handed_off"
        } else {
            "aigw_client_connections_handed_off_total"
        };
        let _ = writeln!(
            out,
            "# HELP {family} Connections a serving thread accepted and handed to a less busy one\n\
             # TYPE {family} counter\n\
             aigw_client_connections_handed_off_total {}",
            self.handed_off.load(Ordering::Relaxed)
        );
        match body.rfind("# EOF") {
            Some(at) if openmetrics => body.insert_str(at, &out),
            _ => body.push_str(&out),
        }
    }

    /// At most one warning every 10 s while connections are refused.
    pub(crate) fn warn_refused(&self, max: usize) {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = crate::store::now_ms().unsigned_abs() / 1000;
        let last = self.last_warned_s.load(Ordering::Relaxed);
        if now >= last + 10
            && self
                .last_warned_s
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.refused.store(0, Ordering::Relaxed);
            tracing::warn!(
                "{n} connection(s) refused with 503: server.max_connections = {max} are open"
            );
        }
    }
}

/// One open connection, counted until dropped.
pub(crate) struct Slot(Arc<Connections>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection counted on serving thread `.1` until dropped.
pub(crate) struct Served(Arc<Connections>, usize);

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(n) = self.0.per_thread.get().and_then(|t| t.get(self.1)) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
