//! A call's wait before it sends a request again: cut short by the job's cancel flag, and by
//! the evidence that a short wait the platform asked for is over.

use std::time::Duration;

use tokio::time::Instant;

use super::{CANCEL_POLL, Job};

/// How often a wait that may end early looks whether it has (a bucket's refusal is over once a
/// request sent after it is served: at 200 a second, within 5 ms).
const EARLY_POLL: Duration = Duration::from_millis(10);

impl Job {
    /// Sleeps `wait`; `false` (at once) if the job is cancelled meanwhile.
    pub(crate) async fn sleep(&self, wait: Duration) -> bool {
        self.sleep_unless(wait, None).await.is_some()
    }

    /// Sleeps `wait`, or until `over` says the wait is over (looked at every [`EARLY_POLL`]);
    /// returns when it ended, `None` (at once) if the job is cancelled meanwhile.
    pub(crate) async fn sleep_unless(
        &self,
        wait: Duration,
        over: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Option<Instant> {
        let step = match (over, &self.cancel) {
            (Some(_), _) => EARLY_POLL,
            (None, Some(_)) => CANCEL_POLL,
            (None, None) => {
                tokio::time::sleep(wait).await;
                return Some(Instant::now());
            }
        };
        let start = Instant::now();
        let end = start.checked_add(wait).unwrap_or(start);
        loop {
            if self.cancelled() {
                return None;
            }
            let now = Instant::now();
            if now >= end || over.is_some_and(|over| over()) {
                return Some(now);
            }
            tokio::time::sleep((end - now).min(step)).await;
        }
    }
}
