//! The cap on client connections (`server.max_connections`): how many are
//! open now over every serving thread, a slot per accepted connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The client connections open now, over every serving thread.
#[derive(Debug, Default)]
pub struct Connections {
    open: AtomicUsize,
    /// Connections being turned away (503) now (`server::conn`).
    pub(crate) turning_away: AtomicUsize,
    /// Over-cap connections since the last warning, and when that was.
    refused: AtomicU64,
    last_warned_s: AtomicU64,
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
