//! Team mode: every replica follows the shared store's newest version. A
//! publish on any replica sends `NOTIFY aigw_config` at its commit; the
//! LISTEN task ([`crate::cluster::pg`]) hands it here and the replica
//! swaps within a round trip. A notification missed (PostgreSQL restarted,
//! the LISTEN connection down) is caught by the poll every [`SYNC_POLL`],
//! and by the resync each reconnect triggers.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Host;
use crate::cluster::pg::{Pg, PgEvent};
use crate::store::pg::CONFIG_CHANNEL;

/// The poll fallback: how often a replica compares its live version id
/// with the shared store's newest.
pub const SYNC_POLL: Duration = Duration::from_secs(3);

/// Follows the shared store until `stop` (nothing without one).
pub fn spawn_cluster_sync<L: Host>(
    state: &Arc<L>,
    pg: &Arc<Pg>,
    tracker: &TaskTracker,
    stop: CancellationToken,
) {
    if state.lifecycle().store().remote().is_none() {
        return;
    }
    let mut sub = pg.subscribe(&[CONFIG_CHANNEL]);
    let state = state.clone();
    tracker.spawn(async move {
        let mut poll = tokio::time::interval(SYNC_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut listening = true;
        let mut failing = false;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                e = sub.next(), if listening => {
                    if e.is_none() {
                        listening = false;
                    }
                    if let Some(PgEvent::Notify { payload, .. }) = &e {
                        tracing::debug!(version = %payload, "config version announced");
                    }
                }
                _ = poll.tick() => {}
            }
            match state.lifecycle().sync(&|c| state.apply(c)).await {
                Ok(_) => {
                    if failing {
                        tracing::info!("the shared config store answers again");
                        failing = false;
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(
                            "cannot read the shared config store: {e}; serving the running config, retrying every {}s",
                            SYNC_POLL.as_secs()
                        );
                        failing = true;
                    }
                }
            }
        }
    });
}
