//! What follows an answer: whether and when the request is sent again.

use std::time::{Duration, Instant};

use backon::BackoffBuilder;
use reqwest::Response;

use super::Layer;
use super::spare::Spare;
use super::stop::unproven;
use crate::job::{CallBudget, Charge, Job, ending_of, retrying, signal_of};
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
    /// When the platform refused the call's last attempt (throttled), if it did.
    pub(super) refused: Option<Instant>,
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
        mut slot: Slot<'_>,
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
        slot.repeats(round.refused);
        let renews = self.pacer.observe(slot, signal.as_ref(), cap);
        round.refused = throttled.then(Instant::now);
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
        // The platform's `Retry-After` is waited whole (a limit on one token, or one that
        // extends its lock on a retry sent early, means it), but the job is not held while the
        // platform serves the requests planned after the refusal: its budget is charged only
        // until one is (a platform refusing one disable in twenty with `Retry-After: 1`, serving
        // the rest, had each refusal charged a whole second, and the job ran out of its budget).
        Some(Resent {
            delay,
            next,
            charged: charge.zip(round.refused).map(|(c, refused)| (refused, c)),
        })
    }

    /// Waits before a resend (`kind`: the request's operation), whole; for a wait charged to the
    /// job's budget ([`Resent::charged`]), the part after the pacer first saw a request of its
    /// pace planned after the refusal served is given back to it. `false` when the job was
    /// cancelled meanwhile.
    pub(super) async fn wait_resend(
        &self,
        job: &Job,
        round: &mut Round,
        resent: &Resent,
        kind: &'static str,
    ) -> bool {
        let start = tokio::time::Instant::now();
        let ended = match resent.charged {
            Some((refused, charge)) => {
                // Given back as soon as it is seen, before another refusal's wait is charged past
                // this one's end (then this one's charge would stand).
                let served = || {
                    let served = self.pacer.served_after(kind, refused);
                    if served {
                        job.waited(charge, tokio::time::Instant::now());
                    }
                    served
                };
                job.sleep_watching(resent.delay, Some(&served)).await
            }
            None => job.sleep_watching(resent.delay, None).await,
        };
        let Some(woke) = ended else {
            return false;
        };
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
    /// For a wait charged to the job's budget: when the refusal came, and the charge.
    charged: Option<(Instant, Charge)>,
}
