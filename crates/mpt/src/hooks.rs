//! The one hook layer: everything that happens around every request the facade sends.
//!
//! Requests are built by the generated client (`mpt_api`), from the spec; this layer is
//! installed in it as its [`mpt_api::Hooks`] and does, in one place:
//!
//! * `pre`: authorization (a header marked sensitive), the user agent, the per-attempt timeout,
//!   and the RQL filter of a list request (RQL is not `key=value`, so no spec parameter can carry
//!   it: the list builder sends `limit`, `offset`, `order` and `select`, and the filter is
//!   appended here from the call's state);
//! * `exec`: the `mpt.request` tracing span, retries under the [`RetryPolicy`] (each attempt a
//!   [`reqwest::Request::try_clone`] of the one before), and the bound on response bodies. A
//!   success answer to a read (`GET`) that may still be retried is read whole here: a
//!   body cut off (the connection broke while it was read, its `Content-Length` not reached) or
//!   one that is not what the operation declares ([`mpt_api::answer_shape`]: a JSON document
//!   cut short, a body where none is declared; a byte stream is taken as it came) ends the
//!   attempt as a lost answer, retried like a dropped connection. Otherwise the body is read,
//!   once, by the generated code (a body broken on the last attempt, or the body of a change's
//!   2xx, is [`Error::Decode`] with the 2xx status: the platform answered that it did it).
//!   Every success answer is first checked for being the platform's: a `2xx` of another media
//!   type than JSON (`text/html`: a gateway's page), or whose body is not JSON at all, where the
//!   operation answers JSON (or nothing), is a gateway's answer in the platform's place
//!   ([`crate::retry::Ending::Foreign`]): sent again when the request may be repeated, and
//!   [`Error::ForeignAnswer`] when it is the last answer, never taken for the platform's;
//! * after the generated code has decoded the answer (once), mapping its error to
//!   [`Error`], with every secret redacted.
//!
//! Per-call state (token id, filter, whether the call may be re-sent, the last status) travels in
//! a task-local [`CallState`], set by [`Client::call`] around the generated future.

use std::cell::Cell;
use std::time::{Duration, Instant};

use mpt_api::types::ProblemDetails;
use mpt_api::{BoxFuture, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Request, Response, StatusCode};
use tracing::Instrument;

use crate::job::{Acquired, CallBudget, Job};
use crate::pace::Refused;

mod body;
mod resend;
mod spare;
mod stop;
use crate::redact::Redactor;
use crate::retry::{Resend, RetryPolicy, Tries};
pub(crate) use body::too_large_limit;
use body::{checked, kept, limited, read_whole, scrub, server_date, too_large};
use resend::Round;
use spare::copy;
use stop::{guarded, job_of, prove, stands};

/// The generated client's error type.
pub(crate) type ApiError = mpt_api::Error<ProblemDetails>;

tokio::task_local! {
    /// The state of the facade call under way in this task.
    pub(crate) static CALL: Box<CallState>;
}

/// What the facade tells the hook layer about one call.
pub(crate) struct CallState {
    /// The token the call is about, for the span.
    token_id: Option<String>,
    /// A query to append to the query string: an RQL filter, or a constant `select`.
    query: Option<Query>,
    /// When the request may be sent again.
    resend: Resend,
    /// The status of the last answer read, for errors that lost it.
    pub(crate) status: Cell<Option<StatusCode>>,
    /// The headers of the last answer read when it was not a success, for errors that lost
    /// them (a documented error status whose body the generated client could not decode: a
    /// throttling `403` is told from a refusal by its headers).
    pub(crate) headers: std::cell::RefCell<Option<HeaderMap>>,
    /// An earlier attempt may have reached the server and done the work (its answer was lost,
    /// timed out, or was a gateway's 500, 502 or 504).
    pub(crate) maybe_landed: Cell<bool>,
    /// Nothing proves that an earlier attempt did nothing: `maybe_landed`, or it was refused
    /// with a status that does not prove it (a `429` or `503`: a gateway may answer so after
    /// the platform did the work), so a later "already so" is no evidence of the state before.
    pub(crate) unproven: Cell<bool>,
    /// Whether to read the answer's `Date` (the server's clock) into `date`.
    want_date: bool,
    /// The answer's `Date`, when asked for and readable.
    pub(crate) date: Cell<Option<chrono::DateTime<chrono::Utc>>>,
    /// The last answer was a `2xx` that is not the platform's (a gateway's page): its media
    /// type as it came.
    pub(crate) foreign: std::cell::RefCell<Option<String>>,
    /// The send was refused before anything went (a wait over its cap or the budget).
    pub(crate) refused: Cell<Option<Refused>>,
    /// The send was given up before anything went: the job was cancelled.
    pub(crate) halted: Cell<bool>,
    /// The client's guard stopped a change before it was sent.
    pub(crate) guarded: std::cell::RefCell<Option<crate::guard::Stopped>>,
    /// The bulk job the call belongs to (its cancel flag and total wait budget), if any.
    job: Option<crate::job::Job>,
}

impl CallState {
    fn new(token_id: Option<String>, query: Option<Query>, resend: Resend) -> CallState {
        CallState {
            token_id,
            query,
            resend,
            status: Cell::new(None),
            headers: std::cell::RefCell::new(None),
            maybe_landed: Cell::new(false),
            unproven: Cell::new(false),
            want_date: false,
            date: Cell::new(None),
            foreign: std::cell::RefCell::new(None),
            refused: Cell::new(None),
            halted: Cell::new(false),
            guarded: std::cell::RefCell::new(None),
            job: None,
        }
    }

    /// Part of a bulk job (or of a cancellable or guarded client's work): its cancel flag,
    /// budget and guard.
    pub(crate) fn in_job(
        mut self,
        cancel: Option<&crate::Cancel>,
        budget: Option<&std::sync::Arc<crate::job::WaitBudget>>,
        guard: Option<&crate::guard::Shared>,
    ) -> CallState {
        if cancel.is_some() || budget.is_some() || guard.is_some() {
            self.job = Some(crate::job::Job {
                cancel: cancel.cloned(),
                budget: budget.cloned(),
                guard: guard.cloned(),
            });
        }
        self
    }

    /// Also reads the answer's `Date` header (the server's clock).
    pub(crate) fn dated(mut self, want: bool) -> CallState {
        self.want_date = want;
        self
    }

    /// An idempotent call about one token.
    pub(crate) fn token(id: &str) -> CallState {
        CallState::new(span_id(id), None, Resend::Idempotent)
    }

    /// An idempotent call about one token, with a constant query parameter (a read's
    /// `select=-token`, appended as it is instead of serialized per call).
    pub(crate) fn token_with_pair(id: &str, pair: (&'static str, &'static str)) -> CallState {
        CallState::new(
            span_id(id),
            Some(Query::Pair(pair.0, pair.1)),
            Resend::Idempotent,
        )
    }

    /// An idempotent list call, with its filter.
    pub(crate) fn list(rql: Option<String>) -> CallState {
        CallState::new(None, rql.map(Query::Raw), Resend::Idempotent)
    }

    /// A call that is not idempotent (create): re-sent only when nothing was sent.
    pub(crate) fn not_idempotent() -> CallState {
        CallState::new(None, None, Resend::OnlyUnsent)
    }
}

/// The token id for the `mpt.request` span (an `INFO` span): not copied when nothing records
/// `INFO` (the span is then disabled and never reads it).
fn span_id(id: &str) -> Option<String> {
    tracing::level_enabled!(tracing::Level::INFO).then(|| id.to_string())
}

/// A query a call appends to its request's.
pub(crate) enum Query {
    /// Appended as it is (an RQL filter is not `key=value`).
    Raw(String),
    /// A constant parameter, `name=value`, form-encoded (`select=-token` goes as it is).
    Pair(&'static str, &'static str),
}

/// The hook layer installed in the generated client.
pub(crate) struct Layer {
    pub(crate) auth: HeaderValue,
    pub(crate) user_agent: HeaderValue,
    /// The per-attempt timeout to set on each request: `None` when the `reqwest::Client` was
    /// built by the facade with it as its default (cheaper: no per-request extension map).
    pub(crate) timeout: Option<Duration>,
    /// The per-attempt timeout, however it is set (a bulk job stopped on timeouts names it).
    pub(crate) per_attempt: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_body: usize,
    pub(crate) redactor: Redactor,
    /// The pace of this client's requests (shared by its clones).
    pub(crate) pacer: crate::pace::Pacer,
    /// The most a call waits in all (pacing and retries).
    pub(crate) max_wait: Duration,
}

impl mpt_api::Hooks for Layer {
    fn pre(&self, request: &mut Request, _info: &OperationInfo) -> Result<(), mpt_api::Refused> {
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, self.auth.clone());
        headers.insert(USER_AGENT, self.user_agent.clone());
        if self.timeout.is_some() {
            *request.timeout_mut() = self.timeout;
        }
        let _ = CALL.try_with(|call| {
            let url = request.url_mut();
            match &call.query {
                Some(Query::Raw(extra)) => match url.query() {
                    Some(q) if !q.is_empty() => {
                        let query = format!("{q}&{extra}");
                        url.set_query(Some(&query));
                    }
                    _ => url.set_query(Some(extra)),
                },
                // Written straight after the query there is (`set_query` would parse it
                // again, character by character); a pair of unreserved characters is
                // written as it is.
                Some(Query::Pair(name, value)) => {
                    url.query_pairs_mut().append_pair(name, value);
                }
                None => {}
            }
        });
        Ok(())
    }

    fn exec<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: Request,
        info: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<Response>> {
        Box::pin(self.exec(client, request, info))
    }
}

impl Layer {
    /// Sends `request` under the retry policy, in the `mpt.request` span, and bounds the
    /// answer's body before handing it to the generated code.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn keeps its arguments twice"
    )]
    fn exec<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: Request,
        info: &'a OperationInfo,
    ) -> impl Future<Output = reqwest::Result<Response>> + 'a {
        // An `async move` block: the request kept once in the future (see `attempts`).
        async move {
            let span = |token_id: Option<&str>| {
                let span = tracing::info_span!(
                    "mpt.request",
                    op = info.operation_id,
                    token_id = tracing::field::Empty,
                    attempts = tracing::field::Empty,
                    status = tracing::field::Empty,
                    duration_ms = tracing::field::Empty,
                );
                // Redacted by value too: the span's field is a text shown like any other (only
                // when some subscriber wants the span: nothing is done for one skipped).
                if !span.is_disabled() {
                    let id = token_id.map(|id| self.redactor.redact(id));
                    span.record("token_id", id.as_deref().unwrap_or(""));
                }
                span
            };
            // Without a facade call in scope, the generated client is used directly
            // ([`Client::api`]): its errors quote answers as they came, so they are scrubbed here.
            let (span, resend, raw, want_date, job) = CALL
                .try_with(|c| {
                    (
                        span(c.token_id.as_deref()),
                        c.resend,
                        false,
                        c.want_date,
                        job_of(c),
                    )
                })
                .unwrap_or_else(|_| {
                    let resend = Resend::for_method(request.method());
                    (span(None), resend, true, false, Job::default())
                });
            // A disabled span (no subscriber wants it) costs nothing to skip, nor does its clock.
            let started = (!span.is_disabled()).then(Instant::now);
            let (result, attempts) = if span.is_disabled() {
                self.attempts(client, request, resend, job, info).await
            } else {
                self.attempts(client, request, resend, job, info)
                    .instrument(span.clone())
                    .await
            };
            let result = match result {
                Ok(response) if raw => Ok(scrub(&self.redactor, response, info.operation_id).await),
                other => other,
            };
            if want_date && let Ok(response) = &result {
                let date = server_date(response.headers());
                let _ = CALL.try_with(|c| c.date.set(date));
            }
            span.record("attempts", attempts);
            if let Some(started) = started {
                span.record("duration_ms", started.elapsed().as_millis() as u64);
            }
            match &result {
                Ok(response) => {
                    span.record("status", response.status().as_u16());
                    span.in_scope(|| tracing::debug!("answered"));
                }
                Err(e) => {
                    span.record("status", 0);
                    span.in_scope(|| {
                        tracing::debug!(error = self.redactor.redact(&e.to_string()), "failed")
                    });
                }
            }
            result
        }
    }

    /// The attempts of one request (an `async move` block, not an `async fn`: the request and
    /// the job are kept once in the future, where an `async fn` keeps each twice, its argument
    /// and the local it becomes; every layer above copies this future whole).
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn keeps its arguments twice"
    )]
    fn attempts<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut request: Request,
        resend: Resend,
        job: Job,
        info: &'a OperationInfo,
    ) -> impl Future<Output = (reqwest::Result<Response>, u32)> + 'a {
        async move {
            let mut attempt = 0;
            // What is left of the call's wait budget; the backoff is built at the first one (most
            // calls never need one).
            let mut round = Round {
                tries: Tries::default(),
                backoff: None,
                budget: CallBudget::new(self.max_wait, job.budget.is_none()),
                resend,
                refused: None,
            };
            let cap = self.retry.max_retry_after;
            // Reads only: a change answered 2xx was carried out, whatever became of its body (the
            // caller reads the token back), so it is never sent again for a cut body (one that is
            // not the platform's, a gateway's page, is another matter: `Ending::Foreign`).
            let read = request.method() == reqwest::Method::GET;
            // The answer before a resend: it stands if the job is cancelled before the resend goes.
            let mut previous = None;
            loop {
                // The job's budget ran out: nothing more is sent for it.
                if let Some(refused) = job.refusal().or_else(|| round.budget.spent()) {
                    return stands(request.url(), previous, Some(refused), attempt);
                }
                let paced = job.acquire(&self.pacer, info.operation_id, cap, &round.budget);
                let (slot, waited) = match paced.await {
                    // Checked right before the send: cancelled while it waited, nothing goes.
                    Acquired::Slot(slot, waited) if !job.cancelled() => (slot, waited),
                    Acquired::Refused(refused) => {
                        let refused =
                            job.budget_refusal(refused, cap, round.budget.left(), self.max_wait);
                        return stands(request.url(), previous, Some(refused), attempt);
                    }
                    // Cancelled (a slot taken meanwhile is given back as it drops).
                    Acquired::Slot(..) | Acquired::Cancelled => {
                        return stands(request.url(), previous, None, attempt);
                    }
                };
                round.budget.spend(waited);
                // A guarded client's every change (a retry too, after its wait): none when it fails.
                if let Err(failed) = prove(&job, read).await {
                    return match failed {
                        Some(reason) => guarded(request.url(), reason, attempt),
                        None => stands(request.url(), previous, None, attempt),
                    };
                }
                attempt += 1;
                // A cut body (no throttling) may be sent again.
                let retry_cut = round.tries.may_retry_failure(&self.retry);
                let spare = round
                    .tries
                    .may_retry(&self.retry)
                    .then(|| copy(&request))
                    .flatten();
                let result = match job.send(client, request, read).await {
                    Ok(result) => job.attempted(result).map(|response| self.bound(response)),
                    Err(url) => return stands(&url, previous, None, attempt),
                };
                // A success answer to a read that may still be retried is read whole, so that a
                // body cut off is retried like a dropped connection; every success answer is
                // checked for being the platform's (not a gateway's page in its place).
                let whole = read && round.resend == Resend::Idempotent && retry_cut;
                let (result, cut, foreign) = examined(result, whole, info.operation_id).await;
                let alien = foreign.is_some();
                let _ = CALL.try_with(|c| c.foreign.replace(foreign));
                let Some(resent) =
                    self.resend_after(&mut round, &job, &result, (cut, alien), slot, spare)
                else {
                    return (result, attempt);
                };
                // In memory: it stands if nothing more is sent, however long the wait (rare: boxed,
                // its reading is no part of every request's future).
                let result = Box::pin(kept(result)).await;
                let waited = self.wait_resend(&job, &mut round, &resent, info.operation_id);
                if !Box::pin(waited).await {
                    return (result, attempt);
                }
                previous = Some(result);
                request = resent.next.request();
            }
        }
    }

    /// Bounds the answer's body to `max_body` bytes without reading it: an answer whose
    /// `Content-Length` is within the bound is handed on untouched (hyper never reads past that
    /// length); a larger one fails with [`BodyTooLarge`] when its body is read, without reading
    /// any of it; one with no length (chunked, or ending when the connection closes) is read
    /// through a counter that fails as soon as it passes the bound.
    fn bound(&self, response: Response) -> Response {
        let _ = CALL.try_with(|c| {
            c.status.set(Some(response.status()));
            let headers = (!response.status().is_success()).then(|| response.headers().clone());
            c.headers.replace(headers);
        });
        let limit = self.max_body;
        match response.content_length() {
            Some(length) if length <= limit as u64 => response,
            Some(_) => too_large(response, limit),
            None => limited(response, limit),
        }
    }
}

/// A success answer read whole when `whole` (a read that may be retried: the `bool` says its
/// body was cut off), else checked; either way, what it came as when it is not the platform's
/// answer (a gateway's page).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn examined(
    result: reqwest::Result<Response>,
    whole: bool,
    operation: &'static str,
) -> impl Future<Output = (reqwest::Result<Response>, bool, Option<String>)> {
    // An `async move` block: the answer kept once in the future (see `Layer::attempts`).
    async move {
        match result {
            Ok(response) if response.status().is_success() && whole => {
                read_whole(response, operation).await
            }
            Ok(response) if response.status().is_success() => {
                let (response, foreign) = checked(response, operation).await;
                (Ok(response), false, foreign)
            }
            other => (other, false, None),
        }
    }
}
