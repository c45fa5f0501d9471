//! A send slot: counted in flight until its answer is observed or it is dropped, and what a
//! reservation of one holds.

use std::time::{Duration, Instant};

use crate::ratelimit::{AskedWait, WaitCause, secs};

use super::{Pacer, State, aimd, stated};

/// A send slot: counted in flight until observed or dropped (a cancelled request gives its slot
/// back).
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    pub(super) pacer: &'a Pacer,
    pub(super) open: bool,
    /// How it was sent.
    pub(super) sent: Sent,
}

/// How a request was sent.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Sent {
    /// The pace's generation it was sent at.
    pub(super) generation: u32,
    /// The state it is paced by (`kinds::Paces`), and its kind (its operation).
    pub(super) index: usize,
    pub(super) kind: &'static str,
    /// The first request of its kind, sent alone of it (`kinds::Paces::first`).
    pub(super) first: bool,
    /// Sent alone while a claim that nothing remains is in doubt: its answer confirms it or
    /// not.
    pub(super) probe: bool,
    /// Sent alone (nothing else in flight): its answer's remainder is exact, no other answer
    /// can overtake it.
    pub(super) alone: bool,
    /// When it was planned to go (its slot), once reserved.
    pub(super) at: Option<std::time::Instant>,
    /// The requests in flight once it was sent, itself included (0: not sent yet).
    pub(super) level: u32,
    /// The times the waiting sends were spaced again when it was reserved (`lately::respace`):
    /// spaced again since, it takes another slot.
    pub(super) respaced: u32,
    /// When the platform refused the request it repeats (the call's attempt before it was
    /// throttled): [`Slot::repeats`].
    pub(super) repeats: Option<std::time::Instant>,
}

impl Sent {
    /// A request of `kind` paced by `s`, the state at `index`, at its generation and the
    /// times its waiting sends were spaced again (`respaced`, `lately::respaced`).
    pub(super) fn new(
        s: &State,
        respaced: u32,
        index: usize,
        kind: &'static str,
        first: bool,
    ) -> Sent {
        Sent {
            generation: s.generation,
            respaced,
            index,
            kind,
            first,
            ..Sent::default()
        }
    }
}

impl Slot<'_> {
    /// Marks the request as repeating one the platform refused at `refused` (the call's attempt
    /// before it was throttled): where the platform lately refused most such repeats and few
    /// first attempts, and served others meanwhile, its refusal is the request's own (a lock on
    /// one resource), not the limit's (`lately::own_refusal`).
    pub(crate) fn repeats(&mut self, refused: Option<std::time::Instant>) {
        self.sent.repeats = refused;
    }

    /// Whether the request is the pacer's poll of a limiter that refuted its stated reset
    /// (sent alone, a second after the last refusal, none served since): its refusal is the
    /// pacer's, not the call's, and the hook layer does not count it among the call's
    /// throttled attempts (the call's wait budget bounds the polls: each follows a hold
    /// charged to it). Before, whichever call won each poll spent its 10 throttled attempts
    /// on a hold of 10 s and was reported rate-limited.
    pub(crate) fn polls(&self) -> bool {
        self.open && self.sent.alone && self.pacer.lock().state(self.sent.index).refuted
    }

    /// Whether the request is the pacer's probe of a run of refusals with nothing stated (sent
    /// since its last cut, none of those served yet: [`probes`]): in a bulk job its refusal is
    /// the pacer's, not the call's, and is not counted among the call's throttled attempts
    /// (the job's budget bounds them: a run of refusals is charged its wall time). A call
    /// whose request went first at each probe of a sliding log spent for 2 s (seven at the
    /// floor pace in 33 ms, then one at the end of each hold) spent its 10 and failed
    /// rate-limited, where a naive loop failed none (tester round 27).
    pub(crate) fn probes(&self) -> bool {
        self.open
            && probes(
                self.pacer.lock().state(self.sent.index),
                self.sent.generation,
            )
    }
}

/// Whether a request sent at the pace's generation `sent` probes a run of refusals: nothing
/// stated, sent since AIMD's last cut, and none of those served yet ([`Slot::probes`]).
fn probes(s: &State, sent: u32) -> bool {
    s.stated.is_none() && !s.resolved && aimd::since_cut(s, sent)
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if self.open || self.sent.first {
            let mut paces = self.pacer.lock();
            let mut gated = self.sent.first && paces.unmark(self.sent.kind);
            if self.open {
                let s = paces.state(self.sent.index);
                s.in_flight = s.in_flight.saturating_sub(1);
                gated |= stated::gated(s) || s.flight.ceiling().is_some();
            }
            drop(paces);
            if gated {
                // Sends waiting for the requests in flight to be answered: one fewer.
                self.pacer.wake.notify_waiters();
            }
        }
    }
}

/// A send slot reserved (or not yet: `gated`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Reservation {
    /// The wait until it.
    pub(super) wait: Duration,
    /// How it is sent (its generation: the pace's).
    pub(super) sent: Sent,
    /// Not reserved: the stated remainder is spent (or its claim in doubt) and requests are in
    /// flight, or it would go alone but not before `wait`. Taken again after `wait`, or once
    /// an answer comes.
    pub(super) gated: bool,
    /// The slot noted in the send log, when it was (`stated::log`): a slot taken again at a
    /// new pace is taken out of it (it was never sent).
    pub(super) logged: Option<std::time::Instant>,
}

/// A send slot refused: the wait it needs is longer than allowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Refused {
    /// The wait the platform asks for (its `Retry-After` as it said it), the pace's interval,
    /// or what is left of a hold (never a place in the pace's queue).
    pub(crate) wait: Duration,
    /// The bound it is over.
    pub(crate) cap: Duration,
    /// The wait as the server stated it, when it asked for one (not clamped: for messages).
    pub(crate) asked: Option<AskedWait>,
    /// What the wait stands for.
    pub(crate) cause: WaitCause,
}

/// Takes the send slot at `slot` (`wait` from `now`; `interval`: the pace's, spaced when no
/// credit is left): counts it against the window, the allowance, the log and the credit, and
/// in flight when it goes now. Returns its level (the requests in flight once it is sent,
/// itself included; 0: not sent yet), and its slot when the log noted it.
pub(super) fn take(
    s: &mut State,
    slot: Instant,
    now: Instant,
    wait: Duration,
    interval: Option<Duration>,
) -> (u32, Option<Instant>) {
    if now.duration_since(s.window.0) >= Duration::from_secs(1) {
        s.window = (now, 0);
    }
    s.window.1 = s.window.1.saturating_add(1);
    let mut level = 0;
    if wait.is_zero() {
        s.in_flight = s.in_flight.saturating_add(1);
        s.departed = Some(now);
        level = s.in_flight;
    }
    if let Some(left) = &mut s.allowance {
        *left = left.saturating_sub(1);
    }
    let logged = stated::log(s, slot).then_some(slot);
    if s.credit > 0 {
        // Left in the platform's bucket: no spacing.
        s.credit -= 1;
    } else if let Some(interval) = interval {
        s.next = Some(slot + interval);
    }
    (level, logged)
}

/// A refusal every send gets now: a wait asked beyond the cap, or a quota confirmed spent
/// until a reset beyond it.
pub(super) fn barred(s: &State, now: Instant, cap: Duration) -> Option<Refused> {
    if let Some((_, wait, asked, cause)) = s.locked.filter(|(until, ..)| *until > now) {
        return Some(Refused {
            wait,
            cap,
            asked,
            cause,
        });
    }
    let (until, quota, asked) = s.spent.filter(|(until, ..)| *until > now)?;
    let refused = stated::spent(until - now, cap, quota);
    Some(Refused { asked, ..refused })
}

/// The end of the hold from `now`: a backoff of this client's own (none asked, a lockout's, or
/// a lockout's hold grown past the wait asked) is cut to what is left of the `budget` (a
/// lockout gets all of it, and the budget ends the run, not the hold).
pub(super) fn held_within(s: &State, now: Instant, budget: Duration) -> Option<Instant> {
    let held = s.held_until?;
    if s.held_for == WaitCause::Refusing || s.lockouts > 1 {
        return Some(held.min(now.checked_add(budget).unwrap_or(held)));
    }
    Some(held)
}

impl Pacer {
    /// The pace now, in requests a second (`None`: unpaced).
    pub(super) fn pace(&self, s: &State) -> Option<f64> {
        match self.mode {
            super::Pacing::Off => None,
            super::Pacing::Fixed(rate) => Some(rate),
            super::Pacing::Adaptive => super::stated::claim::pace(s),
        }
    }

    /// What of a wait of `wait` from now is a hold the platform asked for (the rest is the
    /// pace's queue): what a call's wait budget is charged.
    pub(super) fn held_part(&self, index: usize, wait: Duration) -> Duration {
        held_part(self.lock().state(index), Instant::now(), wait)
    }
}

/// What of a wait of `wait` from `now` is a hold the platform asked for.
pub(super) fn held_part(s: &State, now: Instant, wait: Duration) -> Duration {
    s.held_until
        .map_or(Duration::ZERO, |h| h.saturating_duration_since(now))
        .min(wait)
}

/// A send woken this much after its slot, and more than an interval (it owes the next one
/// too), was not run at its time: this process was not running (a loaded machine, a paused
/// container), not a timer's rounding.
const LATE: Duration = Duration::from_millis(3);

/// Whether a send planned at `planned`, at `rate` a second, is woken at `now` late enough to
/// owe the next send too (see [`LATE`]).
fn late(rate: f64, planned: Option<Instant>, now: Instant) -> bool {
    let owed = LATE.max(secs(1.0 / rate));
    planned.is_some_and(|p| now.saturating_duration_since(p) > owed)
}

/// How much longer a spaced send woken at `now` for its slot `planned` must wait: a send woken
/// late goes no sooner than an interval (at `rate` a second) after the last send as it went, so
/// the sends a process that was not running owes are not sent at once when it runs again (a
/// burst a sliding log or a fixed window refuses: sends planned over more than its window would
/// land in one). `None`: it may go (on time, not spaced, or the interval has passed).
pub(super) fn departs(
    s: &State,
    rate: Option<f64>,
    planned: Option<Instant>,
    now: Instant,
) -> Option<Duration> {
    let rate = rate.filter(|_| s.credit == 0)?;
    let last = s.departed.filter(|_| late(rate, planned, now))?;
    let earliest = last + secs(1.0 / rate);
    (earliest > now).then(|| earliest - now)
}

/// A send goes at `now`: noted, and when it goes late (see [`LATE`]), the next slots are
/// planned from it at `rate`, not from the slots of a process that was not running.
pub(super) fn depart(s: &mut State, rate: Option<f64>, planned: Option<Instant>, now: Instant) {
    s.departed = Some(now);
    let rate = rate.filter(|r| s.credit == 0 && late(*r, planned, now));
    if let Some(rate) = rate {
        let next = now + secs(1.0 / rate);
        s.next = Some(s.next.map_or(next, |n| n.max(next)));
    }
}

/// The earliest the next send may go once the pace changes: an interval at the new pace after
/// the last send as it went (`None`: unpaced, or none sent). A pace restored when a request
/// sent since a cut is served (`aimd`'s `served_again`) planned its next slot from that answer:
/// the first send waiting left within a millisecond of the one just served (tester round 21:
/// `Retry-After: 1` at 3 a second, burst 1; each retry served took the next paced send with it,
/// one of the two refused every second, and ids failed after 10 refusals).
pub(super) fn after_last(s: &State) -> Option<Instant> {
    let rate = super::stated::claim::pace(s)?;
    s.departed?.checked_add(secs(1.0 / rate))
}

/// What a refusal for the pace's own interval names as its source, under `mode`.
pub(super) fn pace_cause(mode: super::Pacing, s: &State) -> WaitCause {
    match mode {
        super::Pacing::Fixed(_) => WaitCause::FixedPace,
        _ if s.stated.is_none() => WaitCause::LearnedPace,
        _ if s.claim != stated::claim::Claim::Trusted => WaitCause::RevisedPace,
        _ => WaitCause::Pace,
    }
}
