//! A call's wait before it sends a request again: cut short by the job's cancel flag, and
//! watched for the evidence that the job was not held meanwhile.

use std::time::Duration;

use tokio::time::Instant;

use super::{CANCEL_POLL, Job};

/// How often a watched wait looks whether the platform serves again (a bucket's refusal is over
/// once a request sent after it is served: at 200 a second, within 5 ms).
const WATCH_POLL: Duration = Duration::from_millis(10);

impl Job {
    /// Sleeps `wait`; `false` (at once) if the job is cancelled meanwhile.
    pub(crate) async fn sleep(&self, wait: Duration) -> bool {
        self.sleep_watching(wait, None).await.is_some()
    }

    /// Sleeps `wait` whole, looking every [`WATCH_POLL`] whether `seen` says so, until it first
    /// does; returns when it ended (`None` at once if the job is cancelled meanwhile).
    pub(crate) async fn sleep_watching(
        &self,
        wait: Duration,
        seen: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Option<Instant> {
        // Nothing to watch over no wait (it is a yield, as it was).
        let seen = seen.filter(|_| !wait.is_zero());
        let step = match (seen, &self.cancel) {
            (Some(_), _) => WATCH_POLL,
            (None, Some(_)) => CANCEL_POLL,
            (None, None) => {
                tokio::time::sleep(wait).await;
                return Some(Instant::now());
            }
        };
        let start = Instant::now();
        let end = start.checked_add(wait).unwrap_or(start);
        let mut watching = seen;
        loop {
            if self.cancelled() {
                return None;
            }
            let now = Instant::now();
            if watching.is_some_and(|seen| seen()) {
                watching = None;
            }
            if now >= end {
                return Some(now);
            }
            let step = if watching.is_none() {
                CANCEL_POLL
            } else {
                step
            };
            tokio::time::sleep((end - now).min(step)).await;
        }
    }
}
