//! When and how requests are sent again.

use std::time::Duration;

use crate::error::Error;

/// Retry policy for idempotent operations (get, list pages, update, delete, enable, disable):
/// exponential backoff with full jitter, honouring `Retry-After` up to a cap. `create` is only
/// re-sent when the connection was never made, so a retry can never make a duplicate token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry). Default 3.
    pub max_attempts: u32,
    /// Backoff before the first retry, doubled each time (before jitter). Default 200 ms.
    pub base_delay: Duration,
    /// Largest backoff. Default 5 s.
    pub max_delay: Duration,
    /// Largest `Retry-After` honoured; a longer one is cut to this. Default 30 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The default policy with this many attempts in all.
    pub fn attempts(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            ..RetryPolicy::default()
        }
    }

    pub(crate) fn backoff(&self) -> backon::ExponentialBuilder {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
    }

    /// The delay before the next attempt: `Retry-After` (capped) when the server gave one, else
    /// full jitter over the exponential backoff (uniform in `[0, backoff]`).
    pub(crate) fn delay(&self, error: &Error, backoff: Option<Duration>) -> Option<Duration> {
        let backoff = backoff?;
        if let Error::RateLimited {
            retry_after: Some(after),
            ..
        } = error
        {
            return Some((*after).min(self.max_retry_after));
        }
        let nanos = u64::try_from(backoff.as_nanos()).unwrap_or(u64::MAX);
        Some(Duration::from_nanos(fastrand::u64(0..=nanos)))
    }

    /// Whether `error` may be retried by an operation that is (or is not) idempotent.
    pub(crate) fn should_retry(idempotent: bool, error: &Error) -> bool {
        if idempotent {
            error.is_retryable()
        } else {
            error.is_unsent()
        }
    }
}
