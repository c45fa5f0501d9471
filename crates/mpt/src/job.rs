//! What the calls of one bulk job share besides the client: one total wait budget for the
//! platform's throttling, and the cancel flag. Read by the hook layer from the call's state.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use futures_util::future::{Either, select};

use crate::pace::{Pacer, Refused, Slot};
use crate::ratelimit::Signal;
use crate::retry::Ending;

/// A flag that stops bulk work: once [`Cancel::cancel`] is called, a bulk call of a client made
/// with [`Client::with_cancel`](crate::Client::with_cancel) sends nothing more, lets the requests already in flight finish,
/// and reports every id it did not attempt as [`Error::Cancelled`](crate::Error::Cancelled). Cheap to clone; every clone
/// is the same flag (set it from a signal handler, say).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    /// A flag not yet set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Sets it: no new request is started by the bulk calls watching it.
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether it is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// How often a wait checks the cancel flag (it is a flag, not a notification).
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// One total budget for the wall time a bulk job spends held by the platform's throttling.
/// Each wait a throttled answer asks for is the interval from now to its end; the budget is
/// charged the union of those intervals, so waits that overlap (the job's concurrent calls
/// refused at once) count once: a job that keeps making progress is charged only the time it
/// was held, and a lockout still ends once that time reaches the budget. Once spent, nothing
/// more is sent for the job: every call not yet sent is refused with the wait last asked for.
#[derive(Debug)]
pub(crate) struct WaitBudget {
    /// The budget.
    pub(crate) total: Duration,
    /// What has been charged.
    charged: std::sync::Mutex<Charged>,
    /// The wait asked for when the budget ran out, in milliseconds plus one (0: not spent).
    over_ms: AtomicU64,
    /// Whether that wait is the one the server stated (else: the time left before a send).
    over_stated: std::sync::atomic::AtomicBool,
    /// Whether it ran out on refusals that asked for no wait (`WaitCause::Refusing`).
    over_refusing: std::sync::atomic::AtomicBool,
}

/// The waits a budget has been charged.
#[derive(Debug)]
struct Charged {
    /// The length of the union of the wait intervals charged so far.
    spent: Duration,
    /// The end of the latest of them (a wait ending before it is charged only past it).
    until: Instant,
    /// Since when every answer has been a refusal (none served since): the job is held by
    /// throttling all that time, whatever wait the refusals ask for (none, or 0 s).
    refused_since: Option<Instant>,
    /// The wait the streak's last refusal asked for, if it asked for one (not 0): a budget run
    /// out on the streak then names it, not a refusal that "asked for no wait".
    asked: Option<Duration>,
}

impl Charged {
    /// How long a run of refusals since `since` had lasted when it used up what was left of
    /// `total` (the figure a budget run out on it names: never past the budget for the lag of
    /// the answer or check that found it).
    fn refused_for(&self, since: Instant, total: Duration) -> Duration {
        let crossed = since.max(self.until) + total.saturating_sub(self.spent);
        crossed.saturating_duration_since(since)
    }

    /// The part of the interval `start..end` past the intervals charged so far.
    fn past(&self, start: Instant, end: Instant) -> Duration {
        end.saturating_duration_since(start.max(self.until))
    }

    /// Charges `cost`, the part past the others of an interval ending at `end`.
    fn add(&mut self, cost: Duration, end: Instant) {
        self.spent = self.spent.saturating_add(cost);
        self.until = self.until.max(end);
    }
}

impl WaitBudget {
    /// A fresh budget of `total`.
    pub(crate) fn new(total: Duration) -> Arc<WaitBudget> {
        Arc::new(WaitBudget {
            total,
            charged: std::sync::Mutex::new(Charged {
                spent: Duration::ZERO,
                until: Instant::now(),
                refused_since: None,
                asked: None,
            }),
            over_ms: AtomicU64::new(0),
            over_stated: std::sync::atomic::AtomicBool::new(false),
            over_refusing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn charged(&self) -> std::sync::MutexGuard<'_, Charged> {
        self.charged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The longest wait, from now, that fits: what is left of the budget, plus the part of the
    /// waits already charged that is still ahead (a wait within it costs nothing more).
    /// A run of refusals still going is charged up to now (as its next answer would be).
    pub(crate) fn room(&self) -> Duration {
        let c = self.charged();
        let now = Instant::now();
        let ahead = c.until.saturating_duration_since(now);
        let refusing = c
            .refused_since
            .map_or(Duration::ZERO, |since| c.past(since, now));
        self.total
            .saturating_sub(c.spent.saturating_add(refusing))
            .saturating_add(ahead)
    }

    /// Whether it has run out: once marked so, or once a run of refusals still going (none
    /// served since its first) has reached it by now, without waiting for the next answer
    /// (marked run out then, with the wait the last refusal asked for or the time refused):
    /// sends waiting for their slot stop then, not at the next answer (the AIMD pace may be a
    /// second apart, and the job ran 10 s over a 10 s `--max-wait`).
    pub(crate) fn out(&self) -> bool {
        if self.over_ms.load(Ordering::SeqCst) != 0 {
            return true;
        }
        let now = Instant::now();
        let (refusing, asked) = {
            let c = self.charged();
            let Some(since) = c.refused_since else {
                return false;
            };
            if c.spent.saturating_add(c.past(since, now)) <= self.total {
                return false;
            }
            (c.refused_for(since, self.total), c.asked)
        };
        match asked {
            Some(asked) => self.run_out(asked, true),
            None => self.run_out_refusing(refusing),
        }
        true
    }

    /// The wait that did not fit when it ran out, once it has, and whether it is the one the
    /// server stated (else: the time that was left before a send).
    pub(crate) fn ran_out(&self) -> Option<(Duration, bool)> {
        match self.over_ms.load(Ordering::SeqCst) {
            0 => None,
            n => Some((
                Duration::from_millis(n - 1),
                self.over_stated.load(Ordering::SeqCst),
            )),
        }
    }

    /// Marks it run out: a wait of `wait` did not fit (`stated`: the wait the server asked
    /// for; else the time left before a send).
    pub(crate) fn run_out(&self, wait: Duration, stated: bool) {
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX - 1);
        if self
            .over_ms
            .compare_exchange(0, ms.saturating_add(1), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.over_stated.store(stated, Ordering::SeqCst);
        }
    }

    /// Notes an answer of the job's: one served ends a streak of refusals; a refusal charges the
    /// wall time since the streak's first (the union again: what waits already covered is not
    /// charged twice), so a lockout whose refusals ask for no wait (a bare `429`, a
    /// `Retry-After: 0`, a reset already past) still ends once the budget is spent. `asked`:
    /// the wait the refusal asked for (once spent on refusals that asked for one, it is named).
    pub(crate) fn answered(&self, throttled: bool, asked: Option<Duration>) {
        let now = Instant::now();
        let asked = asked.filter(|a| !a.is_zero());
        let over = {
            let mut c = self.charged();
            if !throttled {
                c.refused_since = None;
                return;
            }
            c.asked = asked;
            let since = *c.refused_since.get_or_insert(now);
            let cost = c.past(since, now);
            let refused_for = c.refused_for(since, self.total);
            c.add(cost, now);
            (c.spent > self.total).then_some(refused_for)
        };
        match (over, asked) {
            (Some(_), Some(asked)) => self.run_out(asked, true),
            (Some(refusing), None) => self.run_out_refusing(refusing),
            (None, _) => {}
        }
    }

    /// Marks it run out on refusals that asked for no wait, for `refusing` (unless it ran out
    /// already, on a wait).
    fn run_out_refusing(&self, refusing: Duration) {
        if self.over_ms.load(Ordering::SeqCst) == 0 {
            self.over_refusing.store(true, Ordering::SeqCst);
            self.run_out(refusing, false);
        }
    }

    /// How long every answer of the job has been a refusal (none served since), if the last
    /// one was, asking for no wait.
    fn refusing_for(&self) -> Option<Duration> {
        let c = self.charged();
        let since = c.refused_since.filter(|_| c.asked.is_none())?;
        Some(Instant::now().saturating_duration_since(since))
    }

    /// Charges a wait of `wait` starting now (only the part of it past the waits already
    /// charged) if that much is left; else marks it run out (with the wait the server `asked`
    /// for, when it stated one), charges nothing, and says no.
    pub(crate) fn spend(&self, wait: Duration, asked: Option<Duration>) -> bool {
        let now = Instant::now();
        let fits = {
            let mut c = self.charged();
            match now.checked_add(wait) {
                Some(end) => {
                    let cost = c.past(now, end);
                    let fits = c.spent.saturating_add(cost) <= self.total;
                    if fits {
                        c.add(cost, end);
                    }
                    fits
                }
                None => false,
            }
        };
        if !fits {
            self.run_out(asked.unwrap_or(wait), asked.is_some());
        }
        fits
    }
}

/// A call's own wait budget (`max_wait`): what is left of it after the holds and throttled
/// waits it took, or after the wall time of a run of refusals going on (none served since the
/// first), whichever is less. A run of bare `429`s asks for no wait, and its resends queued at
/// the pace were not charged: a `get` with `max_wait(3s)` ran 5.7 s.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallBudget {
    /// The whole budget.
    total: Duration,
    /// What is left of it after the holds and throttled waits taken.
    left: Duration,
    /// Since when every answer of the call has been a refusal, and what was left then.
    refused: Option<(Instant, Duration)>,
    /// Whether a run of refusals is charged (not for a call of a bulk job: the job's budget
    /// charges the job's run, and a call queued behind the job's others at the pace makes
    /// progress).
    runs: bool,
}

impl CallBudget {
    /// A fresh budget of `total`; `runs`: whether a run of refusals is charged (a call not
    /// part of a bulk job with its own budget).
    pub(crate) fn new(total: Duration, runs: bool) -> CallBudget {
        CallBudget {
            total,
            left: total,
            refused: None,
            runs,
        }
    }

    /// What is left of it now.
    pub(crate) fn left(&self) -> Duration {
        match self.refused {
            Some((since, then)) => self.left.min(then.saturating_sub(since.elapsed())),
            None => self.left,
        }
    }

    /// Charges a hold or a wait taken.
    pub(crate) fn spend(&mut self, wait: Duration) {
        self.left = self.left.saturating_sub(wait);
    }

    /// Notes an answer, throttled or not (one served ends a run of refusals); returns
    /// `throttled`.
    pub(crate) fn answered(&mut self, throttled: bool) -> bool {
        if throttled && self.runs {
            let left = self.left;
            self.refused.get_or_insert((Instant::now(), left));
        } else {
            self.left = self.left();
            self.refused = None;
        }
        throttled
    }

    /// The refusal of the next send once a run of refusals has taken all of it.
    pub(crate) fn spent(&self) -> Option<Refused> {
        let (since, _) = self.refused.filter(|_| self.left().is_zero())?;
        Some(Refused {
            wait: since.elapsed(),
            cap: self.total,
            asked: None,
            cause: crate::ratelimit::WaitCause::Refusing,
        })
    }
}

/// The job a call belongs to, if any.
#[derive(Default)]
pub(crate) struct Job {
    /// Nothing more is sent once it is set.
    pub(crate) cancel: Option<Cancel>,
    /// The job's total throttling wait budget.
    pub(crate) budget: Option<Arc<WaitBudget>>,
}

/// What waiting for a send slot ended with.
pub(crate) enum Acquired<'p> {
    /// A slot, and how long it took.
    Slot(Slot<'p>, Duration),
    /// The wait is over its cap or the budget.
    Refused(Refused),
    /// The job was cancelled meanwhile.
    Cancelled,
}

impl Job {
    /// Whether the job was cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(Cancel::is_cancelled)
    }

    /// The refusal of every send once the job's budget has run out.
    pub(crate) fn refusal(&self) -> Option<Refused> {
        let budget = self.budget.as_ref().filter(|b| b.out())?;
        budget.ran_out().map(|(wait, stated)| Refused {
            wait,
            cap: budget.total,
            asked: stated.then_some(crate::ratelimit::AskedWait::Seconds(wait.as_secs_f64())),
            cause: if budget.over_refusing.load(Ordering::SeqCst) {
                crate::ratelimit::WaitCause::Refusing
            } else {
                crate::ratelimit::WaitCause::Asked
            },
        })
    }

    /// The pacer's refusal as the caller should read it: a wait over the cap stands; a wait
    /// longer than what is left of a budget names the whole budget (the job's, which is then
    /// spent: nothing more is sent for it, or the call's `max_wait`), not the few milliseconds
    /// left.
    pub(crate) fn budget_refusal(
        &self,
        refused: Refused,
        cap: Duration,
        call_left: Duration,
        call_total: Duration,
    ) -> Refused {
        if refused.cap >= cap {
            return refused;
        }
        match &self.budget {
            Some(b) if b.room() < call_left => {
                // Spent on refusals that asked for no wait: said so, not as the pace's wait (a
                // hold the platform asked for is a wait asked).
                let asked = refused.cause == crate::ratelimit::WaitCause::Asked;
                if let Some(refusing) = b.refusing_for().filter(|_| !asked) {
                    b.run_out_refusing(refusing);
                    return Refused {
                        wait: refusing,
                        cap: b.total,
                        asked: None,
                        cause: crate::ratelimit::WaitCause::Refusing,
                    };
                }
                b.run_out(refused.wait, refused.asked.is_some());
                Refused {
                    cap: b.total,
                    ..refused
                }
            }
            _ => Refused {
                cap: call_total,
                ..refused
            },
        }
    }

    /// Whether a resend may wait `delay`: a throttled wait is spent from the job's budget;
    /// once that is out, the answer stands and nothing more is sent for the job.
    pub(crate) fn may_wait(
        &self,
        throttled: bool,
        delay: Duration,
        asked: Option<Duration>,
    ) -> bool {
        !throttled || self.budget.as_ref().is_none_or(|b| b.spend(delay, asked))
    }

    /// Notes an answer (what it says of the rate limit) against the job's budget; whether it
    /// was throttled.
    pub(crate) fn answered(&self, signal: Option<&Signal>) -> bool {
        let throttled = signal.is_some_and(|s| s.throttled);
        if signal.is_some()
            && let Some(b) = &self.budget
        {
            b.answered(throttled, signal.and_then(Signal::asked_wait));
        }
        throttled
    }

    /// `budget`, or less if the job has less left.
    pub(crate) fn bound(&self, budget: Duration) -> Duration {
        self.budget
            .as_ref()
            .map_or(budget, |b| budget.min(b.room()))
    }

    /// A send slot, given up at once if the job is cancelled or its budget runs out while it
    /// waits, or once the call's run of refusals has taken what is left of its own budget.
    pub(crate) async fn acquire<'p>(
        &self,
        pacer: &'p Pacer,
        kind: &'static str,
        cap: Duration,
        call: &CallBudget,
    ) -> Acquired<'p> {
        let budget = self.bound(call.left());
        let acquire = self.acquire_within(pacer, kind, cap, budget);
        if call.refused.is_none() {
            return acquire.await;
        }
        // A run of refusals: the wait for a slot (the pace's queue too) is its wall time.
        match tokio::time::timeout(call.left(), Box::pin(acquire)).await {
            Ok(taken) => taken,
            Err(_) => call.spent().map_or(Acquired::Cancelled, Acquired::Refused),
        }
    }

    /// A send slot within `budget`, given up at once if the job is cancelled or its budget runs
    /// out while it waits (or has when it is taken: nothing is sent then).
    async fn acquire_within<'p>(
        &self,
        pacer: &'p Pacer,
        kind: &'static str,
        cap: Duration,
        budget: Duration,
    ) -> Acquired<'p> {
        let taken = if self.cancel.is_none() && self.budget.is_none() {
            pacer.acquire(kind, cap, budget).await
        } else {
            let acquire = std::pin::pin!(pacer.acquire(kind, cap, budget));
            let stopped = std::pin::pin!(self.until_stopped());
            match select(acquire, stopped).await {
                Either::Left((taken, _)) => taken,
                Either::Right(((), _)) => {
                    return match self.refusal() {
                        Some(refused) if !self.cancelled() => Acquired::Refused(refused),
                        _ => Acquired::Cancelled,
                    };
                }
            }
        };
        match taken {
            Ok((slot, waited)) => match self.refusal() {
                // The slot is given back unsent as it drops.
                Some(refused) => Acquired::Refused(refused),
                None => Acquired::Slot(slot, waited),
            },
            Err(refused) => Acquired::Refused(refused),
        }
    }

    /// Sleeps `wait`; `false` (at once) if the job is cancelled meanwhile.
    pub(crate) async fn sleep(&self, wait: Duration) -> bool {
        let Some(cancel) = &self.cancel else {
            tokio::time::sleep(wait).await;
            return true;
        };
        let end = tokio::time::Instant::now() + wait;
        loop {
            if cancel.is_cancelled() {
                return false;
            }
            let now = tokio::time::Instant::now();
            if now >= end {
                return true;
            }
            tokio::time::sleep((end - now).min(CANCEL_POLL)).await;
        }
    }
}

impl Job {
    /// Ends once the job is cancelled or its budget has run out (a run of refusals going on
    /// reached it: [`WaitBudget::out`]).
    async fn until_stopped(&self) {
        while !self.cancelled() && !self.budget.as_ref().is_some_and(|b| b.out()) {
            tokio::time::sleep(CANCEL_POLL).await;
        }
    }
}

/// Why nothing was sent: a wait over the cap, or one longer than what is left of the budget
/// (`cap` is then the whole budget). A wait the server stated (`asked`) is named as it asked it
/// (beyond the clamp every computation uses, as it said it); without one, `wait` is the time left
/// before a send (of a wait the platform asked for earlier, or of the pace), and said so.
pub(crate) fn not_attempted(
    wait: Duration,
    cap: Duration,
    asked: Option<&crate::ratelimit::AskedWait>,
    cause: crate::ratelimit::WaitCause,
) -> String {
    let (in_words, cap_shown) = distinct(wait, cap);
    let shown = crate::ratelimit::AskedWait::shown(in_words, asked);
    if cause == crate::ratelimit::WaitCause::Refusing
        && let Some(what) = cause.not_asked(&shown)
    {
        return format!(
            "not attempted: {what}; the next send would go past what is left of the {cap_shown} wait budget"
        );
    }
    if let Some(what) = cause.not_asked(&shown) {
        let over = if wait > cap {
            "over the"
        } else {
            "longer than what is left of the"
        };
        let of = if wait > cap { "cap" } else { "wait budget" };
        return format!("not attempted: {what}; {over} {cap_shown} {of}");
    }
    match asked {
        Some(_) if wait > cap => {
            format!("not attempted: the platform asks to wait {shown}; over the {cap_shown} cap")
        }
        Some(_) => format!(
            "not attempted: the platform asks to wait {shown}, longer than what is left of the {cap_shown} wait budget"
        ),
        None if wait > cap => format!(
            "not attempted: the next send is {shown} away (what is left of the platform's last wait), longer than the {cap_shown} it may wait"
        ),
        None => format!(
            "not attempted: the next send is {shown} away (what is left of the platform's last wait), longer than what is left of the {cap_shown} wait budget"
        ),
    }
}

/// `wait` and `cap` in words (rounded up to the second from a second on), or, where those would
/// read the same though they differ, exactly: never "1 s away; over the 1 s cap" for a wait of
/// 1.97 s, nor "0 ms" over "0 ms".
pub(crate) fn distinct(wait: Duration, cap: Duration) -> (String, String) {
    let human = crate::ratelimit::human;
    let (w, c) = (human(wait), human(cap));
    if w != c || wait == cap {
        return (w, c);
    }
    let exact = |d: Duration| format!("{} s", d.as_secs_f64());
    (exact(wait), exact(cap))
}

/// What an attempt says of the rate limit: its answer's signal, or, for a connection closed or
/// reset before an answer came ([`crate::transport::closed_early`]), a refusal with no wait asked:
/// a gateway or limiter shedding load closes connections instead of answering `429`. A body
/// cut off after a status was read (`cut`) says nothing: the platform served it.
pub(crate) fn signal_of(result: &reqwest::Result<reqwest::Response>, cut: bool) -> Option<Signal> {
    match result {
        Ok(response) => Some(Signal::read(response.status(), response.headers())),
        Err(e) if !cut && crate::transport::closed_early(e) => Some(Signal {
            throttled: true,
            ..Signal::default()
        }),
        Err(_) => None,
    }
}

/// Logs a resend.
pub(crate) fn retrying(result: &reqwest::Result<reqwest::Response>, delay: Duration) {
    match result {
        Ok(r) => tracing::warn!(
            status = r.status().as_u16(),
            retry_in_ms = delay.as_millis() as u64,
            "retrying"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            retry_in_ms = delay.as_millis() as u64,
            "retrying"
        ),
    }
}

/// How an attempt ended, as the retry decision sees it: an exhausted limit answered 403
/// (GitHub's way), or a 503 asking to wait (its `Retry-After` readable or not), is a 429; a
/// bare 503 stays a 503 (refused before any work, but only what may be repeated is re-sent).
pub(crate) fn ending_of(
    signal: Option<&Signal>,
    result: &reqwest::Result<reqwest::Response>,
    cut: bool,
) -> Ending {
    match signal {
        _ if cut => Ending::Lost,
        Some(s)
            if s.throttled
                && result.as_ref().is_ok_and(|r| match r.status().as_u16() {
                    403 => true,
                    503 => r.headers().contains_key(reqwest::header::RETRY_AFTER),
                    _ => false,
                }) =>
        {
            Ending::Answered(429)
        }
        _ => Ending::of(result),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of refusals still going reaches the job's budget without waiting for its next
    /// answer (the pace may be a second apart): the job is then out, every send refused, and
    /// its refusal says how long the platform refused (the tester's round-5 F5: a 10 s
    /// `--max-wait` ended at 20 s, saying 11 s).
    #[tokio::test]
    async fn a_run_of_refusals_runs_the_job_budget_out_between_answers() {
        let budget = WaitBudget::new(Duration::from_millis(40));
        let job = Job {
            cancel: None,
            budget: Some(budget.clone()),
        };
        budget.answered(true, None);
        assert!(job.refusal().is_none(), "within the budget");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(budget.room(), Duration::ZERO, "the run so far is charged");
        let refused = job.refusal().expect("out with no answer since");
        assert_eq!(refused.cause, crate::ratelimit::WaitCause::Refusing);
        // How long it had refused when the budget ran out, not when that was found.
        assert_eq!(refused.wait, Duration::from_millis(40));
        // One served ends a run before it reaches the budget.
        let budget = WaitBudget::new(Duration::from_millis(40));
        budget.answered(true, None);
        budget.answered(false, None);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(!budget.out());
    }

    /// A call's run of refusals is charged its wall time (a bare `429` asks for no wait, and
    /// its resends queued at the pace were not: `max_wait(3s)` let a `get` run 5.7 s); one
    /// served ends the run.
    #[tokio::test]
    async fn a_run_of_refusals_spends_the_call_budget() {
        let mut call = CallBudget::new(Duration::from_millis(40), true);
        call.answered(true);
        assert!(call.spent().is_none());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(call.left(), Duration::ZERO);
        let refused = call.spent().expect("spent on the refusals");
        assert_eq!(refused.cap, Duration::from_millis(40));
        let mut call = CallBudget::new(Duration::from_millis(40), true);
        call.answered(true);
        call.answered(false);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(call.spent().is_none() && !call.left().is_zero());
    }
}
