//! What follows an answer: whether and when the request is sent again.

use std::time::Duration;

use backon::BackoffBuilder;
use reqwest::Response;

use super::Layer;
use super::spare::Spare;
use super::stop::unproven;
use crate::job::{CallBudget, Job, ending_of, retrying, signal_of};
use crate::pace::{Slot, retry_wait};
use crate::retry::{Resend, Tries, decide};

/// The counts one request's attempts carry from one to the next.
pub(super) struct Round {
    /// The attempts counted against the retry policy.
    pub(super) tries: Tries,
    /// The backoff, built at the first failure that asks for one.
    pub(super) backoff: Option<backon::ExponentialBackoff>,
    /// What is left of the call's wait budget.
    pub(super) budget: CallBudget,
    /// Whether the request may be sent again.
    pub(super) resend: Resend,
}

impl Layer {
    /// What follows an answer (`cut`: its body was cut off; `alien`: it is not the platform's):
    /// the wait before the request is sent again, and the copy to send (`None`: the answer
    /// stands). The slot is given back to the pacer with what the answer says of the limit.
    pub(super) fn resend_after(
        &self,
        round: &mut Round,
        job: &Job,
        result: &reqwest::Result<Response>,
        (cut, alien): (bool, bool),
        slot: Slot<'_>,
        spare: Option<Spare>,
    ) -> Option<(Duration, Spare)> {
        let cap = self.retry.max_retry_after;
        let signal = signal_of(result, cut);
        let ending = ending_of(signal.as_ref(), result, cut, alien);
        let throttled = round.budget.answered(job.answered(signal.as_ref()));
        // The pacer's polls, and in a bulk job its probes, are not the call's attempts.
        let pacers = slot.polls() || (job.budget.is_some() && slot.probes());
        let more = (throttled && pacers) || round.tries.count(&self.retry, throttled);
        let left = more && spare.is_some();
        let decision = decide(round.resend, ending, left);
        let renews = self.pacer.observe(slot, signal.as_ref(), cap);
        let after = signal.as_ref().and_then(|s| retry_wait(s, cap, renews));
        if !decision.resend || job.cancelled() {
            return None;
        }
        let next = spare?;
        // A throttled answer waits what it asks, else only its pace (no backoff).
        let step = if throttled {
            Duration::ZERO
        } else {
            let backoff = round
                .backoff
                .get_or_insert_with(|| self.retry.backoff().build());
            backoff.next()?
        };
        // A Retry-After beyond the cap, or a delay beyond the budget: the answer stands.
        let delay = self
            .retry
            .delay(after, step)
            .filter(|d| *d <= round.budget.left())?;
        // A throttled wait is spent from the job's budget too.
        if !job.may_wait(throttled, delay, after) {
            return None;
        }
        unproven(&decision);
        retrying(result, delay, &self.redactor);
        round.budget.spend(delay);
        Some((delay, next))
    }
}
