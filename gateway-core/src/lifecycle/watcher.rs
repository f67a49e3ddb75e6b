//! Watches the config file for hand edits. It reads the file on every tick
//! and compares a hash: config files are small, and mtime granularity on
//! some filesystems would miss a quick same-size edit. No error ends it: a
//! file that cannot be read (`EMFILE`, removed for a moment) is logged once
//! and tried again on the next tick.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Host;

/// Watches `owner`'s config file (if it has one) every `every` until
/// `stop`; an edit goes through [`super::ConfigManager::file_changed`] and
/// is applied by `owner`.
pub fn spawn_watcher<L: Host>(
    state: &Arc<L>,
    tracker: &TaskTracker,
    stop: CancellationToken,
    every: Duration,
) {
    let Some(path) = state.lifecycle().path().cloned() else {
        return;
    };
    let state = state.clone();
    tracker.spawn(async move {
        // What the gateway runs now was read from this file at start.
        let mut last = Some(state.lifecycle().live_version().hash);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let text = match tokio::fs::read_to_string(&path).await {
                Ok(t) => t,
                Err(e) => {
                    if last.take().is_some() {
                        tracing::warn!("cannot read config file {}: {e}", path.display());
                    }
                    continue;
                }
            };
            let h = super::hash(&text);
            if last.as_ref() == Some(&h) {
                continue;
            }
            state.lifecycle().file_changed(&|c| state.apply(c)).await;
            // Done with this text once it is live, or refused as invalid
            // (the reason is kept for the status page). Otherwise the file
            // or the store could not be used just then (`EMFILE` with every
            // descriptor taken, a full disk): the next tick tries again,
            // and the edit is not lost.
            if state.lifecycle().live_version().hash == h
                || crate::config::Config::parse(&text, "config file").is_err()
            {
                last = Some(h);
            }
        }
    });
}
