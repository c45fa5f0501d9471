//! How a call that sends nothing more ends: the answer before, a refusal, a halt, or a
//! guard's failure, noted in the call's state for the facade's error.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode};

use super::body::rebuilt;
use super::{CALL, CallState};
use crate::job::Job;
use crate::pace::Refused;

/// The answer standing for a send refused before anything went: a `429` with the wait asked
/// for as its `Retry-After` (what the generated client used directly sees), and the refusal
/// noted in the call's state (what the facade reports: [`crate::Error::NotAttempted`]).
pub(super) fn refusal(url: &reqwest::Url, refused: Refused) -> Response {
    let _ = CALL.try_with(|c| c.refused.set(Some(refused)));
    let mut headers = HeaderMap::new();
    let secs = refused.wait.as_secs() + u64::from(refused.wait.subsec_nanos() > 0);
    headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from(secs));
    rebuilt(
        url.clone(),
        StatusCode::TOO_MANY_REQUESTS,
        reqwest::Version::HTTP_11,
        headers,
        reqwest::Body::from(Bytes::new()),
    )
}

/// The job of a call, if any.
pub(super) fn job_of(call: &CallState) -> Job {
    call.job.as_ref().map_or_else(Job::default, |j| Job {
        cancel: j.cancel.clone(),
        budget: j.budget.clone(),
        guard: j.guard.clone(),
    })
}

/// The end of a call that sends nothing more: the answer before, when something was sent (the
/// call was attempted, and that is how it ended); when nothing was, the refusal
/// ([`crate::Error::NotAttempted`]: a wait over its cap or the budget), or, with none, a halt
/// noted in the call's state ([`crate::Error::Cancelled`]: the job was cancelled).
pub(super) fn stands(
    url: &reqwest::Url,
    previous: Option<reqwest::Result<Response>>,
    refused: Option<Refused>,
    attempt: u32,
) -> (reqwest::Result<Response>, u32) {
    if let Some(answer) = previous {
        return (answer, attempt);
    }
    let refused = refused.unwrap_or_else(|| {
        let _ = CALL.try_with(|c| c.halted.set(true));
        Refused {
            wait: Duration::ZERO,
            cap: Duration::ZERO,
            asked: None,
            cause: crate::ratelimit::WaitCause::Asked,
        }
    });
    (Ok(refusal(url, refused)), attempt)
}

/// The end of a call whose guard did not prove itself right before a change was to be sent
/// (`sent` attempts of it went before): nothing more is sent, the guard's failure is noted in
/// the call's state ([`crate::Error::GuardFailed`]), and the answer standing for it is a refusal
/// with no wait (what the generated client used directly sees).
pub(super) fn guarded(
    url: &reqwest::Url,
    reason: String,
    sent: u32,
) -> (reqwest::Result<Response>, u32) {
    let _ = CALL.try_with(|c| {
        c.guarded
            .replace(Some(crate::guard::Stopped { reason, sent }))
    });
    let mut headers = HeaderMap::new();
    headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from(0u64));
    let answer = rebuilt(
        url.clone(),
        StatusCode::TOO_MANY_REQUESTS,
        reqwest::Version::HTTP_11,
        headers,
        reqwest::Body::from(Bytes::new()),
    );
    (Ok(answer), sent)
}

/// Notes, before a resend, that an earlier attempt may have done the work (`landed`), or that
/// nothing proves it did not (`unproven`).
pub(super) fn unproven(decision: &crate::retry::Decision) {
    if decision.landed || decision.unproven {
        let _ = CALL.try_with(|c| {
            c.maybe_landed.set(c.maybe_landed.get() || decision.landed);
            c.unproven.set(true);
        });
    }
}

/// The proof of the client's guard ([`crate::Client::with_guard`]) to await before a change is
/// sent (`Err`: why it failed); none for a read, or without a guard.
fn proof(job: &Job, read: bool) -> Option<crate::guard::GuardFuture<'_>> {
    match &job.guard {
        Some(guard) if !read => Some(guard.prove()),
        _ => None,
    }
}

/// Proves the job's guard before a change is sent: `Ok` when proven or there is none (a read);
/// `Err(Some(reason))` when it failed; `Err(None)` when the job was cancelled while the proof
/// stalled (abandoned: a stalled proof does not hold an interrupted job; nothing is sent).
pub(super) async fn prove(job: &Job, read: bool) -> Result<(), Option<String>> {
    let Some(proof) = proof(job, read) else {
        return Ok(());
    };
    let Some(cancel) = &job.cancel else {
        return proof.await.map_err(Some);
    };
    let cancelled = std::pin::pin!(cancel.set());
    match futures_util::future::select(proof, cancelled).await {
        futures_util::future::Either::Left((proved, _)) => proved.map_err(Some),
        futures_util::future::Either::Right(_) => Err(None),
    }
}
