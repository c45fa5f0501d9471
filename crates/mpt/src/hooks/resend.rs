//! What follows an answer: whether and when the request is sent again.

use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use reqwest::Response;

use super::Layer;
use super::spare::Spare;
use super::stop::unproven;
use crate::job::{CallBudget, Charge, Job, ending_of, retrying, signal_of};
use crate::pace::{ROUNDING, Slot, retry_wait};
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
    /// A retry of the call went before its whole short wait had passed ([`Resent::early`]):
    /// its later waits are whole (once per call).
    pub(super) early: bool,
}

impl Layer {
    /// What follows an answer (`cut`: its body was cut off; `alien`: it is not the platform's):
    /// the wait before the request is sent again, and the copy to send (`None`: the answer
    /// stands; the wait is charged to the call's budget as it is taken, [`Layer::wait_resend`]).
    /// The slot is given back to the pacer with what the answer says of the limit.
    pub(super) fn resend_after(
        &self,
        round: &mut Round,
        job: &Job,
        result: &reqwest::Result<Response>,
        (cut, alien): (bool, bool),
        slot: Slot<'_>,
        spare: Option<Spare>,
    ) -> Option<Resent> {
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
        let charge = job.may_wait(throttled, delay, after)?;
        unproven(&decision);
        retrying(result, delay, &self.redactor);
        // A short wait asked (a rounding) is over once the platform serves a request sent after
        // the refusal: a bucket empty for a moment refills within milliseconds, and its
        // `Retry-After: 1` held the refused id a whole second (the last id of a job waited
        // alone, its job 0.9 s longer: `retry-after-date` 11.0 s where 10.2 s was the rule).
        // Once per call: a limiter that refuses this request alone (a limit per token, or per
        // connection) while it serves the others refuses an early retry again, and the call's
        // attempts would be spent within milliseconds where a whole wait lets it through.
        let early = throttled && !round.early && after.is_some_and(|a| a <= ROUNDING);
        Some(Resent {
            delay,
            next,
            early: early.then(Instant::now),
            charge,
        })
    }

    /// Waits before a resend (`kind`: the request's operation): the whole delay, or, for a
    /// short wait a refusal asked ([`Resent::early`]), until the pacer has seen a request of
    /// its pace sent after the refusal served; the part of the wait not taken is given back to
    /// the job's budget. `false` when the job was cancelled meanwhile.
    pub(super) async fn wait_resend(
        &self,
        job: &Job,
        round: &mut Round,
        resent: &Resent,
        kind: &'static str,
    ) -> bool {
        let start = tokio::time::Instant::now();
        let woke = match resent.early {
            Some(refused) => {
                let over = || self.pacer.served_after(kind, refused);
                job.sleep_unless(resent.delay, Some(&over)).await
            }
            None => job.sleep_unless(resent.delay, None).await,
        };
        let Some(woke) = woke else {
            return false;
        };
        round.early |= woke < start + resent.delay;
        job.waited(resent.charge, woke);
        round.budget.spend(woke.saturating_duration_since(start));
        true
    }
}

/// A resend decided on: its wait, and the copy to send.
pub(super) struct Resent {
    /// The wait before it.
    pub(super) delay: Duration,
    /// The request to send.
    pub(super) next: Spare,
    /// When the refusal came, when its wait may end as soon as the platform serves again.
    early: Option<Instant>,
    /// The wait charged to the job's budget.
    charge: Option<Charge>,
}
