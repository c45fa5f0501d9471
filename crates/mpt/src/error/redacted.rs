//! An error with every text it holds redacted.

use super::Error;
use crate::problem::Problem;
use crate::redact::Redactor;

impl Error {
    /// The same error with every text it holds redacted: the API secret and every secret the
    /// client has handled (by value, also JSON-escaped or percent-encoded), and anything shaped
    /// like a token secret.
    pub(crate) fn redacted(self, r: &Redactor) -> Error {
        let p = |p: Box<Problem>| Box::new(p.redacted(r));
        match self {
            Error::NotFound(x) => Error::NotFound(p(x)),
            Error::BadRequest(x) => Error::BadRequest(p(x)),
            Error::Unauthorized(x) => Error::Unauthorized(p(x)),
            Error::Forbidden(x) => Error::Forbidden(p(x)),
            Error::Conflict(x) => Error::Conflict(p(x)),
            Error::Server(x) => Error::Server(p(x)),
            Error::NotProcessed(x) => Error::NotProcessed(p(x)),
            Error::RateLimited {
                status,
                retry_after,
                asked,
                problem,
            } => Error::RateLimited {
                status,
                retry_after,
                asked,
                problem: problem.map(p),
            },
            Error::Decode {
                status,
                message,
                snippet,
            } => Error::Decode {
                status,
                message: r.redact(&message),
                snippet: r.redact(&snippet),
            },
            Error::ForeignAnswer {
                status,
                media_type,
                snippet,
            } => Error::ForeignAnswer {
                status,
                media_type: r.redact(&media_type),
                snippet: r.redact(&snippet),
            },
            Error::GuardFailed {
                reason,
                sent,
                last_status,
                maybe_done,
            } => Error::GuardFailed {
                reason: r.redact(&reason),
                sent,
                last_status,
                maybe_done,
            },
            Error::InvalidRequest(m) => Error::InvalidRequest(r.redact(&m)),
            Error::Config(m) => Error::Config(r.redact(&m)),
            Error::RotationIncomplete {
                new,
                plan,
                old_id,
                old_status,
                source,
            } => Error::RotationIncomplete {
                new,
                plan,
                old_id,
                old_status,
                source: Box::new(source.redacted(r)),
            },
            Error::CreateUnconfirmed {
                account_id,
                name,
                candidates,
                lookup,
                source,
                other_sends,
            } => Error::CreateUnconfirmed {
                account_id,
                name,
                candidates,
                lookup: lookup.map(|e| Box::new(e.redacted(r))),
                source: Box::new(source.redacted(r)),
                other_sends,
            },
            Error::OutcomeUnknown {
                id,
                action,
                source,
                read,
            } => Error::OutcomeUnknown {
                id,
                action,
                source: Box::new(source.redacted(r)),
                read: Box::new(read.redacted(r)),
            },
            Error::PlanNotSaved { old_id, reason } => Error::PlanNotSaved {
                old_id,
                reason: r.redact(&reason),
            },
            other => other,
        }
    }
}
