//! When and how requests are sent again.

use std::time::Duration;

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
    pub(crate) fn delay(&self, retry_after: Option<Duration>, backoff: Duration) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_retry_after);
        }
        let nanos = u64::try_from(backoff.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}

/// Whether a request answered with this status may still have been carried out: 500 (the
/// platform failed part-way), 502 and 504 (a gateway lost the platform's answer). A 429 or 503
/// is a refusal before any work. One rule for the retry layer's "an earlier attempt may have
/// landed" and for [`Error::may_have_reached_server`](crate::Error::may_have_reached_server).
pub(crate) fn status_may_have_landed(status: u16) -> bool {
    matches!(status, 500 | 502 | 504)
}

/// Whether an attempt that ended this way may have been carried out by the platform.
pub(crate) fn attempt_may_have_landed(result: &reqwest::Result<reqwest::Response>) -> bool {
    match result {
        Ok(r) => status_may_have_landed(r.status().as_u16()),
        Err(e) => !e.is_connect(),
    }
}

/// Which failures an operation may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Idempotent (get, list, update, delete, enable, disable): after 429, 502, 503, 504, a
    /// timeout or a broken connection.
    Idempotent,
    /// Not idempotent (create): only when the connection was never made, so the server cannot
    /// have seen the request.
    OnlyUnsent,
}

impl Resend {
    /// The default for a request the facade did not describe: by its HTTP method.
    pub(crate) fn for_method(method: &reqwest::Method) -> Resend {
        if method.is_idempotent() {
            Resend::Idempotent
        } else {
            Resend::OnlyUnsent
        }
    }

    /// Whether an answer with this status may be retried.
    pub(crate) fn status(self, status: reqwest::StatusCode) -> bool {
        self == Resend::Idempotent && matches!(status.as_u16(), 429 | 502..=504)
    }

    /// Whether this transport failure may be retried.
    pub(crate) fn failure(self, error: &reqwest::Error) -> bool {
        match self {
            Resend::Idempotent => true,
            Resend::OnlyUnsent => error.is_connect(),
        }
    }
}
