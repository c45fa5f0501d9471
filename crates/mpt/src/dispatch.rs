//! Running one generated request under the hook layer, and mapping what the generated client
//! returns to [`Error`], every text in it redacted.

use std::future::Future;
use std::pin::Pin;

use mpt_api::ResponseValue;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::client::Client;
use crate::error::Error;
use crate::hooks::{ApiError, CALL, CallState, too_large_limit};
use crate::problem::Problem;
use crate::redact::snippet;

/// What a call's state saw besides the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trail {
    /// An earlier attempt may have reached the server and done the work (its answer was lost,
    /// or a gateway's 5xx): an error of the last attempt may hide work the call did.
    pub(crate) landed: bool,
    /// Nothing proves that the earlier attempts did nothing (`landed`, or one was refused with
    /// a `429` or `503`: see `Decision::unproven`): a later "already so" may be this call's work.
    pub(crate) unproven: bool,
    /// The answer's `Date` (the server's clock), when asked for.
    pub(crate) date: Option<chrono::DateTime<chrono::Utc>>,
}

impl Client {
    /// Runs one generated request future under `call`, and maps its error; the answer comes back
    /// boxed. The future comes boxed too: it is large, and every move of an unstarted future
    /// copies all of it.
    pub(crate) async fn send<T, F>(
        &self,
        call: CallState,
        send: Pin<Box<F>>,
    ) -> Result<Box<T>, Error>
    where
        F: Future<Output = Result<ResponseValue<T>, ApiError>>,
    {
        self.send_with_trail(call, send).await.0
    }

    /// [`Client::call`], also telling what the call state saw: whether an earlier attempt may
    /// have reached the server, and the answer's `Date` when the state asked for it.
    pub(crate) async fn send_with_trail<T, F>(
        &self,
        call: CallState,
        send: Pin<Box<F>>,
    ) -> (Result<Box<T>, Error>, Trail)
    where
        F: Future<Output = Result<ResponseValue<T>, ApiError>>,
    {
        let call = call.in_job(
            self.cancel.as_ref(),
            self.budget.as_ref(),
            self.guard.as_ref(),
        );
        let (result, status, trail, halted, guarded) = CALL
            .scope(Box::new(call), async move {
                // Boxed where it is made: every layer above moves a pointer, not the answer.
                let result = send.await.map(|value| Box::new(value.into_inner()));
                let (status, trail, refused, halted) = CALL.with(|c| {
                    let trail = Trail {
                        landed: c.maybe_landed.get(),
                        unproven: c.unproven.get(),
                        date: c.date.get(),
                    };
                    (c.status.get(), trail, c.refused.get(), c.halted.get())
                });
                // The error boxed too: the task-local future hands its output up by value.
                let result = result.map_err(|e| {
                    let (foreign, headers) = CALL.with(|c| (c.foreign.take(), c.headers.take()));
                    Box::new((e, refused, foreign, headers))
                });
                let guarded = CALL.with(|c| c.guarded.take());
                (result, status, trail, halted, guarded)
            })
            .await;
        let failed = match result {
            Ok(value) => return (Ok(value), trail),
            Err(failed) => failed,
        };
        if let Some(stopped) = guarded {
            let error = Error::GuardFailed {
                reason: stopped.reason,
                sent: stopped.sent,
                last_status: status.map(|s| s.as_u16()).filter(|_| stopped.sent > 0),
                maybe_done: trail.landed,
            };
            return (Err(error.redacted(&self.layer().redactor)), trail);
        }
        match *failed {
            // Nothing was sent: the job was cancelled while the call waited.
            (_, Some(_), ..) if halted => (Err(Error::Cancelled), trail),
            // Nothing was sent: the wait asked for is over the cap or the budget.
            (_, Some(refused), ..) => (
                Err(Error::NotAttempted {
                    wait: refused.wait,
                    cap: refused.cap,
                    asked: refused.asked,
                    cause: refused.cause,
                }),
                trail,
            ),
            (e, None, foreign, headers) => (
                Err(
                    Box::pin(self.map_error(e, status, foreign, headers.unwrap_or_default())).await,
                ),
                trail,
            ),
        }
    }

    /// The generated client's error as an [`Error`], every text in it redacted; `foreign`: the
    /// answer was a `2xx` that is not the platform's, of this media type (a gateway's page);
    /// `headers`: the last answer's, when it was not a success (empty otherwise).
    async fn map_error(
        &self,
        e: ApiError,
        status: Option<StatusCode>,
        foreign: Option<String>,
        headers: HeaderMap,
    ) -> Error {
        let redactor = &self.layer().redactor;
        let status_or_ok = status.unwrap_or(StatusCode::OK);
        // A gateway's page in the platform's place: named as such, never as the platform's.
        let e = match (foreign.filter(|_| status_or_ok.is_success()), e) {
            (
                Some(media_type),
                e @ (ApiError::InvalidResponsePayload(..)
                | ApiError::UnexpectedResponse(_)
                | ApiError::ResponseBodyError(_)),
            ) => {
                let snippet = match e {
                    ApiError::InvalidResponsePayload(body, _) => snippet(&body, redactor),
                    ApiError::UnexpectedResponse(response) => match response.bytes().await {
                        Ok(body) => snippet(&body, redactor),
                        Err(_) => String::new(),
                    },
                    _ => String::new(),
                };
                return Error::ForeignAnswer {
                    status: status_or_ok.as_u16(),
                    media_type,
                    snippet,
                }
                .redacted(redactor);
            }
            (_, e) => e,
        };
        let too_large = |e: reqwest::Error| match too_large_limit(&e) {
            Some(limit) => Error::ResponseTooLarge {
                status: e.status().unwrap_or(status_or_ok).as_u16(),
                limit,
            },
            None => Error::from_reqwest(e),
        };
        let error = match e {
            ApiError::InvalidRequest(message) | ApiError::Custom(message) => {
                Error::InvalidRequest(message)
            }
            ApiError::CommunicationError(e) | ApiError::InvalidUpgrade(e) => Error::from_reqwest(e),
            // A success answer whose body broke off: the platform answered that it did it.
            ApiError::ResponseBodyError(e)
                if status_or_ok.is_success() && too_large_limit(&e).is_none() =>
            {
                Error::Decode {
                    status: status_or_ok.as_u16(),
                    message: format!("the answer's body was cut off: {}", Error::from_reqwest(e)),
                    snippet: String::new(),
                }
            }
            ApiError::ResponseBodyError(e) => too_large(e),
            ApiError::ErrorResponse(value) => {
                let status = value.status();
                let headers = value.headers().clone();
                let problem = Problem::from_details(status, value.into_inner());
                Error::from_problem(status, &headers, problem, true)
            }
            ApiError::InvalidResponsePayload(body, e) if status_or_ok.is_success() => {
                Error::Decode {
                    status: status_or_ok.as_u16(),
                    message: e.to_string(),
                    snippet: snippet(&body, redactor),
                }
            }
            // A documented error status whose body is not problem JSON (a proxy's page, say, or
            // a gateway's own JSON): read with the answer's headers (a 403 asking for a wait
            // is throttling, not a refusal).
            ApiError::InvalidResponsePayload(body, _) => {
                Error::from_response(status_or_ok, &headers, &body, redactor)
            }
            ApiError::UnexpectedResponse(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                match response.bytes().await {
                    Ok(body) if status.is_success() => Error::Decode {
                        status: status.as_u16(),
                        message: format!("the spec lists no {status} answer for this operation"),
                        snippet: snippet(&body, redactor),
                    },
                    Ok(body) => Error::from_response(status, &headers, &body, redactor),
                    Err(e) => too_large(e),
                }
            }
        };
        error.redacted(redactor)
    }
}
