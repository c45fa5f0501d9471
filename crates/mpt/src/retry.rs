//! When and how requests are sent again.

use std::time::Duration;

/// Retry policy for idempotent operations (get, list pages, update, delete, enable, disable):
/// exponential backoff with full jitter, honouring `Retry-After` up to a cap. `create` is only
/// re-sent when the server cannot have carried it out (the connection was never made, or a
/// `429`, `408 Request Timeout` or `425 Too Early` refused it before any work), so a retry can
/// never make a duplicate token. A `408` or `425` counts among `max_attempts` (a failure, not
/// throttling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry). Default 3. Throttled attempts
    /// are not counted: a `429`, a `503` (with `Retry-After` or without), a `403` with nothing
    /// remaining or a readable `Retry-After`, and a connection closed or reset before an answer came (a gateway shedding
    /// load); they are retried up to [`MAX_THROTTLED`] times in all while the call's wait budget
    /// lasts (never with 1), each after the wait it asks for, else at the pace it cut, with no
    /// backoff. Which of them are sent again is the one retry decision's: a create only
    /// after a `429` (or a `503` with `Retry-After`, a throttling `403`) or a
    /// connection never made.
    pub max_attempts: u32,
    /// Backoff before the first retry, doubled each time (before jitter). Default 200 ms.
    pub base_delay: Duration,
    /// Largest backoff. Default 5 s.
    pub max_delay: Duration,
    /// Longest wait honoured: a `Retry-After` longer than this is not waited (the call fails
    /// at once with [`Error::RateLimited`](crate::Error::RateLimited), carrying the server's
    /// wait, and the client sends nothing more until it has passed), and no pacing wait is
    /// longer. Default 30 s.
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

    /// The delay before the next attempt: `Retry-After` when the server gave one (`None`: it
    /// is beyond [`RetryPolicy::max_retry_after`], not waited), else full jitter over the
    /// exponential backoff (uniform in `[0, backoff]`).
    pub(crate) fn delay(
        &self,
        retry_after: Option<Duration>,
        backoff: Duration,
    ) -> Option<Duration> {
        if let Some(after) = retry_after {
            return (after <= self.max_retry_after).then_some(after);
        }
        let nanos = u64::try_from(backoff.as_nanos()).unwrap_or(u64::MAX);
        Some(Duration::from_nanos(fastrand::u64(0..=nanos)))
    }
}

/// The most throttled answers one call retries (with more than one attempt allowed).
pub const MAX_THROTTLED: u32 = 10;

/// A call's attempts so far: throttled answers and the others, counted apart.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tries {
    failures: u32,
    throttles: u32,
}

impl Tries {
    /// Whether the next attempt, however it ends, may be followed by another.
    pub(crate) fn may_retry(&self, policy: &RetryPolicy) -> bool {
        policy.max_attempts > 1
            && (self.failures + 1 < policy.max_attempts || self.throttles + 1 < MAX_THROTTLED)
    }

    /// Whether the next attempt, if it fails otherwise than throttled, may be followed by
    /// another.
    pub(crate) fn may_retry_failure(&self, policy: &RetryPolicy) -> bool {
        self.failures + 1 < policy.max_attempts
    }

    /// Counts an attempt; whether another may follow it.
    pub(crate) fn count(&mut self, policy: &RetryPolicy, throttled: bool) -> bool {
        if throttled {
            self.throttles += 1;
            policy.max_attempts > 1 && self.throttles < MAX_THROTTLED
        } else {
            self.failures += 1;
            self.failures < policy.max_attempts
        }
    }
}

/// How one attempt ended, as the retry decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// An answer with this status was read.
    Answered(u16),
    /// The connection was never made: the server cannot have seen the request.
    NotConnected,
    /// The request may have been sent, but no usable answer came (a timeout, a connection
    /// broken after sending, a body that could not be read).
    Lost,
    /// A `2xx` that is not the platform's answer: the operation answers JSON, and this one is
    /// of another media type (`text/html`: a gateway's page) or not JSON at all. A gateway
    /// answered in the platform's place; whether it forwarded the request is unknown.
    Foreign,
}

impl Ending {
    /// How a `reqwest` attempt ended.
    pub(crate) fn of(result: &reqwest::Result<reqwest::Response>) -> Ending {
        match result {
            Ok(r) => Ending::Answered(r.status().as_u16()),
            Err(e) if e.is_connect() => Ending::NotConnected,
            Err(_) => Ending::Lost,
        }
    }
}

/// What to do after an attempt: the one retry decision of the SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Send the request again.
    pub(crate) resend: bool,
    /// The attempt may have been carried out by the server (so a later refusal may be this
    /// call's own work, and a failure may hide a change that happened).
    pub(crate) landed: bool,
    /// Nothing proves the attempt was not carried out: its answer was lost or a failure, or a
    /// refusal whose status does not prove the request unprocessed (a `429` or a `503`: a
    /// gateway may answer so after the platform did the work). So a later answer that the work
    /// is already done is no evidence that it was done before this call: it may be this
    /// attempt's. False only where the request provably did nothing: a connection never made,
    /// a `408` or `425` (the server says it did not act on it), or a final answer.
    pub(crate) unproven: bool,
    /// Why, in words.
    pub(crate) reason: &'static str,
}

/// Decides after an attempt of a request that may be re-sent as `resend` says, with or without
/// attempts left. Pure: the hook layer, [`Error::is_retryable`](crate::Error::is_retryable) and
/// [`Error::may_have_reached_server`](crate::Error::may_have_reached_server) all ask it.
///
/// | ending | landed | unproven | re-sent (idempotent / create) | why |
/// | --- | --- | --- | --- | --- |
/// | 2xx | yes | no | no | done |
/// | 429 | no | yes | yes / no | rate limited before any work by convention, but a gateway may answer so after the platform did it: no evidence that it did nothing (a create is sent again only by the facade's create, after it looked for what the create may have made) |
/// | 408, 425 | no | no | yes / yes | the server did not act on it and says it may be sent again (RFC 9110 15.5.9, RFC 8470 5.2) |
/// | 500 | yes | yes | no | the platform failed part-way: re-sending could do the work twice |
/// | 502, 504 | yes | yes | yes / no | a gateway lost the platform's answer; the work may be done |
/// | 503 | no | yes | yes / no | unavailable: taken as refused before any work (a `503` with `Retry-After` is taken as a 429), though RFC 9110 (15.6.4) does not say it was not processed |
/// | other 4xx, 1xx, 3xx | no | no | no | refused: the same request fails the same way |
/// | connection never made | no | no | yes / yes | nothing reached the server |
/// | answer lost | yes | yes | yes / no | the work may be done |
/// | 2xx not the platform's (a gateway's page, not JSON) | yes | yes | yes / no | a gateway answered in the platform's place: the work may be done |
pub(crate) fn decide(resend: Resend, ending: Ending, attempts_left: bool) -> Decision {
    let idempotent = resend == Resend::Idempotent;
    let (landed, may_resend, reason) = match ending {
        Ending::Answered(200..=299) => (true, false, "answered"),
        // Rate limited, by convention before any work; but a gateway may answer so after the
        // platform did the work, so a create is not sent again here: the facade's create
        // looks for what it may have made first (`throttled.rs`).
        Ending::Answered(429) => (false, idempotent, "rate limited before any work"),
        // RFC 9110 15.5.9: the server did not receive the whole request in time, and the
        // client may repeat it; RFC 8470 5.2: the server would not risk processing it (a
        // replay), and the client retries it. Neither was acted on: even a create may be sent
        // again, as after a 429.
        Ending::Answered(408 | 425) => (
            false,
            true,
            "the server did not act on it (408 Request Timeout, 425 Too Early)",
        ),
        Ending::Answered(500) => (
            true,
            false,
            "the platform failed part-way: re-sending could do the work twice",
        ),
        Ending::Answered(502 | 504) => (
            true,
            idempotent,
            "a gateway lost the platform's answer: the work may be done",
        ),
        Ending::Answered(503) => (false, idempotent, "unavailable: refused before any work"),
        Ending::Answered(_) => (false, false, "refused: the same request fails the same way"),
        Ending::NotConnected => (false, true, "the connection was never made"),
        Ending::Foreign => (
            true,
            idempotent,
            "a gateway answered in the platform's place (not its JSON): the work may be done",
        ),
        Ending::Lost => (
            true,
            idempotent,
            "the answer was lost: the work may be done",
        ),
    };
    // Only a connection never made, a 408 or a 425 proves the request did nothing; a final
    // answer (2xx, a refusal) is not followed by another attempt.
    let unproven = match ending {
        Ending::Answered(429 | 500..=599) | Ending::Lost | Ending::Foreign => true,
        Ending::Answered(_) | Ending::NotConnected => false,
    };
    Decision {
        resend: may_resend && attempts_left,
        landed,
        unproven,
        reason: if may_resend && !attempts_left {
            "no attempts left"
        } else {
            reason
        },
    }
}

/// Which failures an operation may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Idempotent (get, list, update, delete, enable, disable): after 408, 425, 429, 502, 503,
    /// 504, a timeout or a broken connection.
    Idempotent,
    /// Not idempotent (create): only when the server cannot have carried it out: the
    /// connection was never made, or a `408` or `425` refused it before any work (not after a
    /// `429` or `503`: a gateway may answer so after the platform did the work).
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_decision_for_every_ending() {
        use Ending::*;
        use Resend::*;
        // (ending, landed, unproven, re-sent when idempotent, re-sent for a create)
        let table = [
            (Answered(200), true, false, false, false),
            (Answered(201), true, false, false, false),
            (Answered(400), false, false, false, false),
            (Answered(404), false, false, false, false),
            (Answered(408), false, false, true, true),
            (Answered(425), false, false, true, true),
            (Answered(429), false, true, true, false),
            (Answered(500), true, true, false, false),
            (Answered(502), true, true, true, false),
            (Answered(503), false, true, true, false),
            (Answered(504), true, true, true, false),
            (NotConnected, false, false, true, true),
            (Lost, true, true, true, false),
            (Foreign, true, true, true, false),
        ];
        for (ending, landed, unproven, idempotent, create) in table {
            let d = decide(Idempotent, ending, true);
            assert_eq!(
                (d.landed, d.unproven, d.resend),
                (landed, unproven, idempotent),
                "{ending:?}: {}",
                d.reason
            );
            let d = decide(OnlyUnsent, ending, true);
            assert_eq!(
                (d.landed, d.resend),
                (landed, create),
                "{ending:?}: {}",
                d.reason
            );
            let d = decide(Idempotent, ending, false);
            assert!(!d.resend, "{ending:?}: no attempts left");
        }
    }
}
