//! The wait budgets: a bulk job's (shared by its calls) and a call's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::pace::Refused;

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
    pub(super) over_refusing: std::sync::atomic::AtomicBool,
    /// The job's run of requests unanswered.
    pub(crate) breaker: super::Breaker,
}

/// A wait charged to a [`WaitBudget`], to give back the part of it the job was not held
/// ([`WaitBudget::refund`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Charge {
    id: u64,
}

/// A wait charged whose end may still be brought forward (a refund), and its [`Charge`]'s id.
#[derive(Debug, Clone, Copy)]
struct Open {
    id: u64,
    start: Instant,
    end: Instant,
}

/// The waits a budget has been charged.
#[derive(Debug)]
struct Charged {
    /// The length of the union of the wait intervals settled so far (ended, or charged whole).
    spent: Duration,
    /// The end of the latest of them (a wait ending before it is charged only past it).
    until: Instant,
    /// The waits still ahead, in the order they began, each charged its part past `until` and
    /// the others (their union): a refund brings one's end forward, and only the union of what
    /// is left counts (a wait given back while a later one was ahead used to stand whole).
    open: Vec<Open>,
    /// The id of the next charge.
    next: u64,
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
        let crossed = since.max(self.until) + total.saturating_sub(self.committed());
        crossed.saturating_duration_since(since)
    }

    /// The part of the interval `start..end` past the intervals settled so far.
    fn past(&self, start: Instant, end: Instant) -> Duration {
        end.saturating_duration_since(start.max(self.until))
    }

    /// Settles `cost`, the part past the others of an interval ending at `end`.
    fn add(&mut self, cost: Duration, end: Instant) {
        self.spent = self.spent.saturating_add(cost);
        self.until = self.until.max(end);
    }

    /// Settles the waits that ended by `now` (no refund can bring them forward any more).
    fn settle(&mut self, now: Instant) {
        if self.open.iter().all(|o| o.end > now) {
            return;
        }
        let (ended, open): (Vec<Open>, Vec<Open>) = self.open.iter().partition(|o| o.end <= now);
        for o in ended {
            let cost = self.past(o.start, o.end);
            self.add(cost, o.end);
        }
        self.open = open;
    }

    /// What is charged: the settled waits and the union of those still ahead, past them.
    fn committed(&self) -> Duration {
        let (mut spent, mut until) = (self.spent, self.until);
        for o in &self.open {
            spent = spent.saturating_add(o.end.saturating_duration_since(o.start.max(until)));
            until = until.max(o.end);
        }
        spent
    }

    /// The end of the latest wait charged.
    fn latest(&self) -> Instant {
        self.open
            .iter()
            .map(|o| o.end)
            .fold(self.until, Instant::max)
    }
}

impl WaitBudget {
    /// A fresh budget of `total` (the breaker of a job of one request at a time, 30 s each).
    #[cfg(test)]
    pub(crate) fn new(total: Duration) -> Arc<WaitBudget> {
        WaitBudget::for_job(total, super::Breaker::new(1, Duration::from_secs(30)))
    }

    /// A fresh budget of `total`, with the job's breaker.
    pub(crate) fn for_job(total: Duration, breaker: super::Breaker) -> Arc<WaitBudget> {
        Arc::new(WaitBudget {
            total,
            charged: std::sync::Mutex::new(Charged {
                spent: Duration::ZERO,
                until: Instant::now(),
                open: Vec::new(),
                next: 0,
                refused_since: None,
                asked: None,
            }),
            over_ms: AtomicU64::new(0),
            over_stated: std::sync::atomic::AtomicBool::new(false),
            over_refusing: std::sync::atomic::AtomicBool::new(false),
            breaker,
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
        let mut c = self.charged();
        let now = Instant::now();
        c.settle(now);
        let ahead = c.latest().saturating_duration_since(now);
        let refusing = c
            .refused_since
            .map_or(Duration::ZERO, |since| c.past(since, now));
        self.total
            .saturating_sub(c.committed().saturating_add(refusing))
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
            let mut c = self.charged();
            let Some(since) = c.refused_since else {
                return false;
            };
            c.settle(now);
            if c.committed().saturating_add(c.past(since, now)) <= self.total {
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
            c.settle(now);
            let since = *c.refused_since.get_or_insert(now);
            let cost = c.past(since, now);
            let refused_for = c.refused_for(since, self.total);
            c.add(cost, now);
            (c.committed() > self.total).then_some(refused_for)
        };
        match (over, asked) {
            (Some(_), Some(asked)) => self.run_out(asked, true),
            (Some(refusing), None) => self.run_out_refusing(refusing),
            (None, _) => {}
        }
    }

    /// Marks it run out on refusals that asked for no wait, for `refusing` (unless it ran out
    /// already, on a wait).
    pub(super) fn run_out_refusing(&self, refusing: Duration) {
        if self.over_ms.load(Ordering::SeqCst) == 0 {
            self.over_refusing.store(true, Ordering::SeqCst);
            self.run_out(refusing, false);
        }
    }

    /// Whether the job's last answer was a refusal (none served since).
    pub(crate) fn refusing(&self) -> bool {
        self.charged().refused_since.is_some()
    }

    /// How long every answer of the job has been a refusal (none served since), if the last
    /// one was, asking for no wait.
    pub(super) fn refusing_for(&self) -> Option<Duration> {
        let c = self.charged();
        let since = c.refused_since.filter(|_| c.asked.is_none())?;
        // Past the budget: how long it had refused when the budget ran out.
        let refusing = Instant::now().saturating_duration_since(since);
        Some(refusing.min(c.refused_for(since, self.total)))
    }

    /// Charges a wait of `wait` starting now (only the part of it past the waits already
    /// charged) if that much is left, and returns that charge; else marks it run out (with the
    /// wait the server `asked` for, when it stated one), charges nothing, and says `None`.
    pub(crate) fn spend(&self, wait: Duration, asked: Option<Duration>) -> Option<Charge> {
        let charged = {
            let mut c = self.charged();
            // Taken under the lock: the waits still ahead are kept in the order they began.
            let now = Instant::now();
            c.settle(now);
            now.checked_add(wait).and_then(|end| {
                let id = c.next;
                c.open.push(Open {
                    id,
                    start: now,
                    end,
                });
                if c.committed() <= self.total {
                    c.next = id.wrapping_add(1);
                    Some(Charge { id })
                } else {
                    c.open.pop();
                    None
                }
            })
        };
        if charged.is_none() {
            self.run_out(asked.unwrap_or(wait), asked.is_some());
        }
        charged
    }

    /// Gives back the part of `charge` after `woke`, the job having been held only until then
    /// (the platform served a request planned after the refusal: a refusal of one request is
    /// not a hold of the job); what other waits still ahead cover stays charged through them.
    /// A job whose refusals each asked a second, the platform serving the others meanwhile,
    /// was charged a second for each: it kept making progress and ran out of its budget all
    /// the same (and a refund while a later wait was ahead was lost: locks on many tokens, one
    /// refused each few milliseconds, ran a job of 600 out of an 8 s budget).
    pub(crate) fn refund(&self, charge: Charge, woke: Instant) {
        let mut c = self.charged();
        if let Some(o) = c.open.iter_mut().find(|o| o.id == charge.id) {
            o.end = o.end.min(woke.max(o.start));
        }
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
    pub(super) refused: Option<(Instant, Duration)>,
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
