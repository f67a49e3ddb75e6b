//! The app's own background tasks (the tray watcher, tray actions, the
//! signal handler), tracked so that quitting cancels and awaits them: no
//! fire-and-forget spawns.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct Tasks {
    tracker: TaskTracker,
    token: CancellationToken,
}

impl Default for Tasks {
    fn default() -> Self {
        Self {
            tracker: TaskTracker::new(),
            token: CancellationToken::new(),
        }
    }
}

impl Tasks {
    /// Cancelled when the app exits; long-running tasks watch it.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Dropping the JoinHandle detaches it; the tracker still awaits it.
        drop(tauri::async_runtime::spawn(self.tracker.track_future(fut)));
    }

    /// Cancels the long-running tasks and waits (bounded) for all of them.
    pub async fn close(&self, limit: Duration) {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} background task(s) still running at exit",
                self.tracker.len()
            );
        }
    }
}
