//! A create refused with a `429` or a `503` (or a throttling `403`): never re-sent blindly.
//!
//! A gateway may answer so after the platform made the token, so before a create is sent
//! again the tokens of its account and name are read (reads are safe): one that carries the
//! create's marker (the `[mpt: being made, marker …]` tag, [`crate::marked_description`]) is
//! the create's own, and is returned as its answer (adopted). A create without a marker is sent
//! again only when no token of its name appeared since the call began; else the answer is
//! [`Error::CreateUnconfirmed`] with the tokens that appeared. A bare `503` (no `Retry-After`)
//! is never sent again, but what it may have made is looked for all the same. The waits are the ones the
//! answers ask, within [`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after),
//! and the sends within [`RetryPolicy::max_attempts`](crate::RetryPolicy::max_attempts).

use std::time::Duration;

use crate::{Client, CreatedToken, Error, NewToken, Token, marker};

/// What the tokens read after a refused create show.
pub(crate) enum Found {
    /// The create's own token (it carries the create's marker, with its secret).
    Ours(Box<CreatedToken>),
    /// Nothing the create made: it may be sent again (the refusal, if it is not).
    Nothing(Error),
    /// Tokens that may be the create's: it is not sent again.
    Unsure(Error),
}

impl Client {
    /// After a create refused as `refusal` (a [`Error::RateLimited`]): what it may have made.
    pub(crate) async fn look_after_refusal(
        &self,
        new: &NewToken,
        before: &[String],
        refusal: Error,
    ) -> Found {
        let made = match self
            .made_excluding(new.account_id(), new.name(), before)
            .await
        {
            Ok(made) => made,
            Err(lookup) => {
                return Found::Unsure(unconfirmed(new, Vec::new(), Some(lookup), refusal));
            }
        };
        match marker::marker_of(new.sent_description()) {
            Some(ours) => {
                let mine: Vec<Token> = made
                    .into_iter()
                    .filter(|t| marker::marker_of(t.description()) == Some(ours))
                    .collect();
                match <[Token; 1]>::try_from(mine) {
                    Ok([token]) => match token.secret().cloned() {
                        Some(secret) => Found::Ours(Box::new(CreatedToken {
                            token: token.without_secret(),
                            secret,
                            other_sends: 0,
                        })),
                        None => Found::Unsure(unconfirmed(new, vec![token], None, refusal)),
                    },
                    Err(mine) if mine.is_empty() => Found::Nothing(refusal),
                    Err(mine) => Found::Unsure(unconfirmed(new, mine, None, refusal)),
                }
            }
            None if made.is_empty() => Found::Nothing(refusal),
            None => Found::Unsure(unconfirmed(new, made, None, refusal)),
        }
    }

    /// The wait before sending a create again after `refusal`, or `None` when it is not sent
    /// again: not throttled (a bare `503` is not), a wait beyond the policy's cap, no attempts
    /// left, or the client cancelled.
    pub(crate) fn wait_before_resend(&self, refusal: &Error, sent: u32) -> Option<Duration> {
        let Error::RateLimited {
            status,
            retry_after,
            ..
        } = refusal
        else {
            return None;
        };
        // A bare 503 (no `Retry-After`) is not taken as throttling: not sent again, as before.
        if *status == 503 && retry_after.is_none() {
            return None;
        }
        let policy = &self.layer().retry;
        if sent >= policy.max_attempts || self.cancelled() {
            return None;
        }
        let wait = retry_after.unwrap_or(policy.base_delay);
        (wait <= policy.max_retry_after).then_some(wait)
    }

    /// Sleeps `wait`, or less when the client's cancel flag is set (then false).
    pub(crate) async fn pause(&self, wait: Duration) -> bool {
        let job = crate::job::Job {
            cancel: self.cancel.clone(),
            ..crate::job::Job::default()
        };
        job.sleep(wait).await
    }
}

/// The error for a create that may have made `candidates` (`lookup`: why they could not be
/// read), ended by `refusal` (a refusal, or an answer lost).
pub(crate) fn unconfirmed(
    new: &NewToken,
    candidates: Vec<Token>,
    lookup: Option<Error>,
    refusal: Error,
) -> Error {
    Error::CreateUnconfirmed {
        account_id: new.account_id().to_string(),
        name: new.name().to_string(),
        candidates,
        lookup: lookup.map(Box::new),
        source: Box::new(refusal),
        other_sends: 0,
    }
}

/// `e` saying that `n` sends of its create other than the last were refused and sent again
/// (see [`Error::CreateUnconfirmed::other_sends`]); any other error as it is.
pub(crate) fn with_other_sends(mut e: Error, n: u32) -> Error {
    if let Error::CreateUnconfirmed { other_sends, .. } = &mut e {
        *other_sends = n;
    }
    e
}
