//! A bulk job's breaker: once a run of its requests went unanswered (each timed out, none of
//! the job's requests answered between them), nothing more is sent for the job. A gateway that
//! accepts connections and never answers held each id for three timeouts and backoffs (about
//! 90 s), silently, for hours over a few hundred ids.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The fewest timeouts in a row that stop a job.
pub(crate) const MIN_RUN: u32 = 3;

/// Counts the job's attempts that timed out since its last answer.
#[derive(Debug)]
pub(crate) struct Breaker {
    /// How many timeouts in a row stop the job: its concurrency, at least [`MIN_RUN`] (a
    /// platform that lets a request time out now and then still answers the others in flight
    /// meanwhile; one that answers none lets every request in flight time out together).
    size: u32,
    /// The per-attempt timeout, for the message.
    pub(crate) timeout: Duration,
    /// Timeouts since the job's last answer.
    run: AtomicU32,
    /// The run's length when it stopped the job (0: it has not).
    tripped: AtomicU32,
}

impl Breaker {
    /// The breaker of a job of `concurrency` requests at once, each timing out after `timeout`.
    pub(crate) fn new(concurrency: usize, timeout: Duration) -> Breaker {
        let size = u32::try_from(concurrency).unwrap_or(u32::MAX).max(MIN_RUN);
        Breaker {
            size,
            timeout,
            run: AtomicU32::new(0),
            tripped: AtomicU32::new(0),
        }
    }

    /// Notes how an attempt ended: any answer (whatever its status: slow, refused, failed)
    /// ends a run; a timeout (of the connection or of the answer) lengthens it; any other
    /// failure (a connection refused or closed, answered at once) neither.
    pub(crate) fn attempt(&self, result: &reqwest::Result<reqwest::Response>) {
        match result {
            Ok(_) => self.run.store(0, Ordering::SeqCst),
            Err(e) if e.is_timeout() => {
                let run = self.run.fetch_add(1, Ordering::SeqCst).saturating_add(1);
                if run >= self.size {
                    let _ =
                        self.tripped
                            .compare_exchange(0, run, Ordering::SeqCst, Ordering::SeqCst);
                }
            }
            Err(_) => {}
        }
    }

    /// How many requests in a row went unanswered when it stopped the job, once it has.
    pub(crate) fn tripped(&self) -> Option<u32> {
        match self.tripped.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }
}
