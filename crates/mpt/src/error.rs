//! The facade's one error type: a variant per kind of mistake, never holding a secret.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::problem::Problem;
use crate::ratelimit::{AskedWait, Signal, WaitCause, retry_after};
use crate::redact::Redactor;
use crate::retry::{Ending, Resend, decide};
use crate::rotation_plan::{RotationPhase, RotationPlan};

mod not_made;
mod redacted;
use crate::status::{Action, TokenStatus};
use crate::token::{CreatedToken, Token};
use not_made::{describe_candidates, describe_not_made, describe_other_sends};

/// Everything that can go wrong. Never holds or prints a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 404: the token does not exist (or is Deleted).
    #[error("{0}")]
    NotFound(Box<Problem>),
    /// The token's state does not allow the action (checked before any request when the state
    /// is known, or after the platform refused it).
    #[error("cannot {action} API token {id}: it is {from}")]
    InvalidTransition {
        /// The token.
        id: String,
        /// Its state.
        from: TokenStatus,
        /// What was asked.
        action: Action,
    },
    /// 400 (and other 4xx the platform may add): the request was refused as invalid.
    #[error("{0}")]
    BadRequest(Box<Problem>),
    /// 401: the API secret is missing, unknown, disabled or deleted.
    #[error("{0}")]
    Unauthorized(Box<Problem>),
    /// 403: the API secret may not do this.
    #[error("{0}")]
    Forbidden(Box<Problem>),
    /// 409: a conflicting change happened.
    #[error("{0}")]
    Conflict(Box<Problem>),
    /// Throttled: a 429, a 503 (load shed, with a `Retry-After` or without one), or a 403 with
    /// nothing remaining or a readable `Retry-After` (GitHub's primary and secondary limits).
    /// Retried for idempotent operations. Named by its status
    /// and the platform's words (`503 Service Unavailable` when it had none).
    #[error("{}", AskedWait::refusal(problem.as_deref(), *retry_after, asked.as_ref()))]
    RateLimited {
        /// The HTTP status of the answer: 429, 503 or 403.
        status: u16,
        /// What `Retry-After` said, if anything, clamped to a year.
        retry_after: Option<Duration>,
        /// The wait as the server stated it (`Retry-After`, or an exhausted limit's reset).
        asked: Option<AskedWait>,
        /// The problem details, if the answer had any (a 403's or 503's whatever its body).
        problem: Option<Box<Problem>>,
    },
    /// 5xx: the platform or a proxy in front of it failed.
    #[error("{0}")]
    Server(Box<Problem>),
    /// The request or connection timed out.
    #[error("the request timed out")]
    Timeout,
    /// `408 Request Timeout` or `425 Too Early`: the server (or a gateway in front of it) did
    /// not act on the request and says it may be sent again (RFC 9110 15.5.9, RFC 8470 5.2).
    /// It was, within [`RetryPolicy::max_attempts`](crate::RetryPolicy::max_attempts) (a
    /// create too: it was not carried out); this is the last answer.
    #[error("{0}")]
    NotProcessed(Box<Problem>),
    /// The connection failed or broke (no whole answer was read). Its `Display` says what
    /// happened: connection refused or reset, DNS, TLS, or another failure.
    #[error("transport error ({kind}): {0}", kind = crate::transport::kind(.0))]
    Transport(#[source] reqwest::Error),
    /// The answer's body was larger than the client's bound
    /// ([`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)); it was
    /// not read past the bound.
    #[error("the {status} answer is larger than the {limit}-byte limit for response bodies")]
    ResponseTooLarge {
        /// HTTP status of the answer.
        status: u16,
        /// The bound, in bytes.
        limit: usize,
    },
    /// A success answer whose body is not what the spec says.
    #[error("cannot decode the {status} answer: {message}; body starts {snippet:?}")]
    Decode {
        /// HTTP status of the answer.
        status: u16,
        /// What the decoder said.
        message: String,
        /// The start of the body, with secrets redacted.
        snippet: String,
    },
    /// A `2xx` that is not the platform's answer: the operation answers JSON (or nothing), and
    /// this one is of another media type (`text/html`: a gateway's or a proxy's page) or not
    /// JSON at all. A gateway answered in the platform's place; whether it passed the request on
    /// is unknown. An idempotent request was sent again within the retry policy (this is the
    /// last answer); a create was not ([`Error::CreateUnconfirmed`] holds this as its source).
    #[error(
        "{} with {media_type}, not the platform's JSON: a gateway's page? (body starts {snippet:?})",
        status_text(*status)
    )]
    ForeignAnswer {
        /// HTTP status of the answer (a `2xx`).
        status: u16,
        /// Its media type as it came (`text/html`), or `no media type`.
        media_type: String,
        /// The start of the body, with secrets redacted.
        snippet: String,
    },
    /// An `ensure_*` call ended with the token in a state that is neither the wanted one nor one
    /// this SDK can move from (`Deleted`, or a state the platform added, e.g. `Expired`).
    #[error("API token {id} is {status}, not in the wanted state")]
    UnexpectedState {
        /// The token.
        id: String,
        /// The state it is in.
        status: TokenStatus,
    },
    /// A create may have reached the platform, but its answer was lost or could not be read.
    ///
    /// Before sending, the client recorded the ids of every token that already had this account
    /// and name; `candidates` are the tokens with this account and name that are **not** among
    /// them, so none of them existed before the call (their secrets are here when the platform
    /// returned them on read). What to do:
    ///
    /// * no candidate: the platform shows no token this call could have made. Nothing to clean
    ///   up; sending the create again makes one;
    /// * candidates: one of them is very likely the token this call made, but a token another
    ///   client made with the same account and name at the same moment would be listed too.
    ///   If nothing else creates tokens with this name in this account, the one candidate is
    ///   yours: keep it (store its secret). Otherwise check each candidate
    ///   ([`Token::created_by`]) before you delete any: never delete a token that is not yours.
    ///
    /// `candidates` is empty with `lookup` set when looking for them failed: list the account's
    /// tokens by name before creating again.
    #[error(
        "the create of {name:?} in {account_id} may have reached the platform, but its answer was lost ({source}); {}{}",
        describe_candidates(candidates, lookup.as_deref()),
        describe_other_sends(*other_sends)
    )]
    CreateUnconfirmed {
        /// The account the token was to be made in.
        account_id: String,
        /// Its name.
        name: String,
        /// Tokens with this account and name that did not exist before the call.
        candidates: Vec<Token>,
        /// Why looking for candidates failed, if it did.
        lookup: Option<Box<Error>>,
        /// What went wrong with the create.
        source: Box<Error>,
        /// Sends of this create other than the last, each answered `429` or `503` with nothing
        /// found made after it, so it was sent again: a gateway that answered so may still
        /// forward each, and it may land later as another token of this account and name,
        /// carrying the same description (its marker, when it has one).
        other_sends: u32,
    },
    /// A resumed [`RotationPlan::start`] found that an earlier run sent the create and stopped
    /// before its answer was saved (the `source` of a [`Error::CreateUnconfirmed`] then).
    #[error(
        "an earlier run of the rotation of {old_id} sent the create and stopped before saving what it made"
    )]
    EarlierRunInterrupted {
        /// The token being rotated.
        old_id: String,
    },
    /// A resumed [`RotationPlan::start`] found tokens with the plan's account and name outside
    /// its record that it cannot show it made (the `source` of a [`Error::CreateUnconfirmed`]
    /// then, nothing adopted): tokens whose description does not carry the plan's marker (made
    /// by someone else), several that carry it, or, in a plan saved by a version without
    /// markers (`has_marker` false), any token at all. Check each (its `created_by` and
    /// creation time): remove or fix the plan once checked; never delete a token that is not
    /// yours.
    #[error("{}", describe_not_made(old_id, unmarked, marked, *has_marker))]
    NotMadeByPlan {
        /// The token being rotated.
        old_id: String,
        /// The tokens outside the record that do not carry the plan's marker.
        unmarked: Vec<String>,
        /// Those that carry it.
        marked: Vec<String>,
        /// Whether the plan has a marker (plans saved before markers existed have none).
        has_marker: bool,
    },
    /// A change of a token (enable, disable, delete) whose every answer was lost, or whose
    /// answer was lost and whose retry was refused (the refusal may answer the lost attempt's
    /// own work, and its words do not say the token is in the wanted state): it may or may not
    /// have happened, and reading the token back to find out failed too.
    #[error(
        "cannot tell whether the {action} of API token {id} happened: {source}; reading it back failed too: {read}"
    )]
    OutcomeUnknown {
        /// The token.
        id: String,
        /// What was asked.
        action: Action,
        /// Why the change's answer was lost (or the refusal that came after a lost answer).
        source: Box<Error>,
        /// Why reading the token back failed.
        read: Box<Error>,
    },
    /// A rotation step was asked for before the step it needs (verify before start, ...).
    #[error(
        "rotation of {old_id}: cannot {step} in phase {phase:?}; it needs phase {needs:?} first"
    )]
    RotationOutOfOrder {
        /// The token being rotated.
        old_id: String,
        /// The step asked for (`verify`, `retire`, `finish`).
        step: &'static str,
        /// The phase the plan is in.
        phase: RotationPhase,
        /// The phase the step needs.
        needs: RotationPhase,
    },
    /// A rotation plan whose ids do not fit together (a replacement that existed before the
    /// rotation, a secret of another token, an old token of another account or name): edited or
    /// mixed up. Nothing was changed.
    #[error("rotation of {old_id}: the plan does not fit: {reason}")]
    RotationPlanMismatch {
        /// The token the plan says it rotates.
        old_id: String,
        /// What does not fit.
        reason: String,
    },
    /// [`RotationPlan::start_saving`] could not save the plan before the create: nothing was
    /// made.
    #[error("rotation of {old_id}: the plan could not be saved, so nothing was made: {reason}")]
    PlanNotSaved {
        /// The token being rotated.
        old_id: String,
        /// What the save said.
        reason: String,
    },
    /// A rotation waited for the old token to fall quiet (`lastAccessAt` not moving) and gave
    /// up: something still uses its secret.
    #[error("API token {id} is still in use (last access {}): not retired", last_access_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into()))]
    StillInUse {
        /// The old token.
        id: String,
        /// Its last access when the wait ended.
        last_access_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A bulk call was cancelled ([`Client::with_cancel`](crate::Client::with_cancel)) before
    /// this id was attempted: nothing was sent for it.
    #[error("not attempted: the bulk call was cancelled first")]
    Cancelled,
    /// The client's guard ([`Client::with_guard`](crate::Client::with_guard)) did not prove
    /// itself right before a change was to be sent: that request was not sent, nor anything
    /// after it for the call. `sent` attempts of the change went before (`0`: nothing was sent
    /// for the call); `last_status` is the status of the last answer read for them (a `429` or
    /// `503`: the platform did not act on that attempt); `maybe_done` says an answer to one of
    /// them was lost (or was a gateway's `5xx`), so the change may have happened.
    #[error("{}", guard_failed(reason, *sent, *last_status, *maybe_done))]
    GuardFailed {
        /// Why the guard failed, in its words.
        reason: String,
        /// How many attempts of the change were sent before the guard stopped the next.
        sent: u32,
        /// The status of the last answer read for them, if any.
        last_status: Option<u16>,
        /// An answer to an earlier attempt was lost: the change may have happened.
        maybe_done: bool,
    },
    /// Not sent: a wait longer than this call may wait (a `Retry-After` beyond
    /// [`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after), a quota said to be
    /// spent until then, a pace slower than one request per that cap, or a hold the platform
    /// asked for lasting longer than what is left of the wait budget,
    /// [`ClientBuilder::max_wait`](crate::ClientBuilder::max_wait); a place in the pace's queue
    /// is never one). Nothing was sent for it; a bulk call reports every id it did not attempt so.
    #[error("{}", crate::job::not_attempted(*wait, *cap, asked.as_ref(), *cause))]
    NotAttempted {
        /// The wait asked for (clamped to a year).
        wait: Duration,
        /// The bound it is over.
        cap: Duration,
        /// The wait as the server stated it, when it asked for one (not clamped).
        asked: Option<AskedWait>,
        /// What the wait is: asked for, this client's pace (stated, fixed, learned), a quota spent.
        cause: WaitCause,
    },
    /// The request was refused before sending: a value breaks the spec (an empty name, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client could not be configured (missing `MPT_API_TOKEN`, a bad base URL, ...).
    #[error("configuration error: {0}")]
    Config(String),
    /// [`ClientBuilder::build`](crate::ClientBuilder::build): a [`Pacing::Fixed`](crate::Pacing::Fixed)
    /// rate whose own interval between sends is over the longest single wait
    /// ([`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after)), so that every
    /// request would be refused as not attempted; raise the rate or the cap.
    #[error(
        "configuration error: pacing: a fixed rate of {rate} requests a second sends one request every {}, over the {} cap (RetryPolicy::max_retry_after): every request would be refused; give at least {} a second, or raise the cap",
        crate::job::distinct(*interval, *cap).0,
        crate::job::distinct(*interval, *cap).1,
        1.0 / cap.as_secs_f64()
    )]
    FixedPaceOverCap {
        /// The rate set, in requests a second.
        rate: f64,
        /// Its interval between two sends.
        interval: Duration,
        /// The longest single wait it is over.
        cap: Duration,
    },
    /// [`Client::rotate_now_with_outage`](crate::Client::rotate_now_with_outage) made the
    /// replacement but could not verify it or disable the old token. The replacement (with its
    /// secret) is here: store it before anything else.
    #[error(
        "rotation of {old_id} is incomplete: the replacement {} was created and is {}, but {old_id} is still {old_status}: {source}",
        new.token.id(),
        new.token.status()
    )]
    RotationIncomplete {
        /// The replacement, Active, with its secret.
        new: Box<CreatedToken>,
        /// The plan, to resume from ([`RotationPlan::verify`], [`RotationPlan::retire`], ...).
        plan: Box<RotationPlan>,
        /// The old token's id.
        old_id: String,
        /// The old token's last known state.
        old_status: TokenStatus,
        /// Why disabling it failed.
        source: Box<Error>,
    },
}

impl Error {
    /// Maps an error answer whose body is `body` (problem JSON or anything else).
    pub(crate) fn from_response(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        r: &Redactor,
    ) -> Error {
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
        Error::from_problem(
            status,
            headers,
            Problem::from_response(status, body, r),
            is_json,
        )
    }

    /// Maps an error answer to its variant. `has_details`: the answer carried problem JSON.
    pub(crate) fn from_problem(
        status: StatusCode,
        headers: &HeaderMap,
        problem: Problem,
        has_details: bool,
    ) -> Error {
        let problem = Box::new(problem);
        match status.as_u16() {
            400 => Error::BadRequest(problem),
            401 => Error::Unauthorized(problem),
            // A 403 with nothing remaining, or asking for a wait, is a rate limit (GitHub's
            // primary and secondary ones), not a refusal of the secret.
            403 if Signal::read(status, headers).throttled => Error::RateLimited {
                status: 403,
                retry_after: retry_after(headers),
                asked: Signal::read(status, headers).asked,
                problem: Some(problem),
            },
            403 => Error::Forbidden(problem),
            404 => Error::NotFound(problem),
            409 => Error::Conflict(problem),
            408 | 425 => Error::NotProcessed(problem),
            // A 503 is throttling, as a 429 is: a limiter shedding load, with a `Retry-After`
            // or without one (no stated wait).
            429 | 503 => Error::RateLimited {
                status: status.as_u16(),
                retry_after: retry_after(headers),
                asked: Signal::read(status, headers).asked,
                problem: (has_details || status != 429).then_some(problem),
            },
            500..=599 => Error::Server(problem),
            _ => Error::BadRequest(problem),
        }
    }

    /// Maps a transport error.
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout
        } else {
            Error::Transport(e.without_url())
        }
    }

    /// The HTTP status behind the error, if an answer was read.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::RateLimited { status, .. } => Some(*status),
            Error::Decode { status, .. }
            | Error::ResponseTooLarge { status, .. }
            | Error::ForeignAnswer { status, .. } => Some(*status),
            other => other.problem().map(|p| p.status),
        }
    }

    /// The problem details behind the error, if the answer had them.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::NotFound(p)
            | Error::BadRequest(p)
            | Error::Unauthorized(p)
            | Error::Forbidden(p)
            | Error::Conflict(p)
            | Error::NotProcessed(p)
            | Error::Server(p) => Some(p),
            Error::RateLimited { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    /// How the request ended, as the retry decision sees it.
    fn ending(&self) -> Option<Ending> {
        Some(match self {
            Error::Timeout | Error::Decode { .. } | Error::ResponseTooLarge { .. } => Ending::Lost,
            Error::ForeignAnswer { .. } => Ending::Foreign,
            Error::Transport(e) if e.is_connect() => Ending::NotConnected,
            Error::Transport(_) => Ending::Lost,
            Error::RateLimited { .. } => Ending::Answered(429),
            Error::Server(p) | Error::NotProcessed(p) => Ending::Answered(p.status),
            _ => return None,
        })
    }

    /// Whether sending the same idempotent request again may succeed: 408, 425, 429, 502, 503,
    /// 504, a gateway's page in a `2xx`, timeouts and broken connections (the SDK's one retry
    /// decision).
    pub fn is_retryable(&self) -> bool {
        self.ending()
            .is_some_and(|ending| decide(Resend::Idempotent, ending, true).resend)
    }

    /// Whether a request that failed this way may still have been carried out by the platform:
    /// its answer was lost (timeout, broken connection after sending), unreadable, a gateway's
    /// page in a `2xx`, or a 500, 502 or 504 (the SDK's one retry decision).
    pub fn may_have_reached_server(&self) -> bool {
        self.ending()
            .is_some_and(|ending| decide(Resend::Idempotent, ending, true).landed)
    }

    /// Whether a 2xx answer's body could not be used (cut off, not what the spec says, too
    /// large): the request was carried out.
    pub fn answered_success(&self) -> bool {
        matches!(self, Error::Decode { status, .. } | Error::ResponseTooLarge { status, .. }
            if (200..300).contains(status))
    }

    /// Whether the request certainly never reached the server (the connection was not made), so
    /// even a create may be sent again.
    pub fn is_unsent(&self) -> bool {
        matches!(self, Error::Transport(e) if e.is_connect())
    }
}

impl From<std::convert::Infallible> for Error {
    /// Never called: lets `"Active".parse::<TokenStatus>()?` compile in a function returning
    /// `Result<_, mpt::Error>`.
    fn from(never: std::convert::Infallible) -> Error {
        match never {}
    }
}

/// `200 OK`.
fn status_text(status: u16) -> String {
    StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}

/// The words of [`Error::GuardFailed`].
fn guard_failed(reason: &str, sent: u32, last_status: Option<u16>, maybe_done: bool) -> String {
    let stopped = format!("the client's guard failed ({reason})");
    let before = match (last_status, maybe_done) {
        _ if sent == 0 => return format!("not sent: {stopped}; nothing was sent"),
        (_, true) => "an earlier attempt's answer was lost: it may have happened".to_string(),
        (Some(status), false) => format!("the last answer was {}", status_text(status)),
        (None, false) => "no answer was read".to_string(),
    };
    let attempts = if sent == 1 { "attempt" } else { "attempts" };
    format!("the retry was not sent: {stopped}; {sent} {attempts} went before ({before})")
}
