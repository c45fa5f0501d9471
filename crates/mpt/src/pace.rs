//! Pacing: requests sent at the platform's pace, so that a rate limit is met, not hit.
//!
//! One pacer per client, shared by all its clones (so two bulk jobs of one process do not
//! fight), with one pace per stated policy (`kinds`: a request is paced by the policy its
//! operation's last answer stated; a stated limit that changes on every answer is not
//! followed, `kinds::Steady`). Before each attempt the hook layer takes the next send slot (a [`Slot`], given back
//! when the attempt ends or is dropped); after each answer it tells the pacer what the platform
//! said ([`Signal`], in whichever dialect it speaks):
//!
//! * a quota with its window (`q`/`w` of `RateLimit-Policy`, or `RateLimit-Limit` with a
//!   policy's `w`) gives the rate: sends are spaced at 98% of it (the slowest of several); a
//!   quota with no window stated is not assumed to be per second: its window is inferred from
//!   recent resets (the longest reset seen within the window so inferred: a window's reset
//!   counts down, the next one's starts again; of a reset stated as a time, the step between
//!   two stated in turn, whatever the clock that states them), at least a second; with no
//!   reset either, its remainder is used as below and the pace is learned as when nothing is
//!   stated;
//! * a quota whose window (stated, or its reset when none is) is longer than the longest wait
//!   the client takes (the retry policy's `max_retry_after`) is a count, not a pace: one reset
//!   of an hour among resets of a second, or a daily quota beside a per-second one, does not
//!   slow the sends; its remainder caps the burst as below, and when an answer says nothing
//!   remains of it (a remainder of 0, not a refusal) sends wait for its reset when it is
//!   within that cap, else, once a probe confirms it, are refused until then
//!   ([`WaitCause::Spent`]), unless a later answer says something remains (`stated`: the
//!   first such answer is a claim; one request sent alone confirms it or not);
//! * no window of the stated quota the pace follows holds more of this client's sends than
//!   its share of the quota less one (`stated::logged`): the remainder spent at once and the
//!   pace after it within one window is what a sliding log refuses (a remainder saying the
//!   platform forgot sends of the window, a bucket's, turns the log off: `bucket`; remainders
//!   that are not one count's, `bucket::note_room`, each backend of a load balancer stating its
//!   own, lift it for a window of the quota);
//! * a stated window over [`ROUNDING`] whose reset moves later while its remainder does not
//!   grow is a bucket's (its reset the time until full): its remainder refills, and is neither
//!   held until its reset nor counted as below (`bucket::Refills`);
//! * a remainder not renewed within [`ROUNDING`] (a long quota's, a window's of 5 s) is never
//!   overspent by the requests in flight: at most the smallest remainder stated (each less
//!   the requests in flight when it came) is sent before another answer; at 0 sends wait
//!   for one, and with none in flight one goes alone (`stated::Gate`); with none answered for
//!   `stated::STALLED` (2 s), one goes alone all the same (a request never answered does not
//!   hold every send until its timeout);
//! * in flight are the requests sent and not answered (not those waiting for their send time);
//!   when the pace is cut (a drop of the stated rate, a cut share, an AIMD cut), requests
//!   waiting for their send time take a slot at the new pace, and refusals within a second of
//!   a drop (answers to what was sent at the old pace) do not cut the share;
//! * what the platform says remains (`RateLimit-Remaining`, `r`, `X-RateLimit-Remaining`), at
//!   most the limit, less the requests in flight, times this client's share (below), may go
//!   at once (a burst): the platform's count is trusted over the pacer's own, so several
//!   processes on one token share it; after the first refusal under a stated rate (not one
//!   answering the old pace of a drop) no longer: a sliding log keeps a burst for its whole
//!   window, so the pace after it would be refused;
//! * a throttled answer with nothing remaining and a reset stated (GitHub's `403`): the reset
//!   is the wait asked for, as a `Retry-After` would be; a reset stated as a time is checked
//!   (`skew`), and one that has passed while the limiter still refuses is refuted: sends go
//!   alone, a second apart, until one is served;
//! * a throttled answer (`429`, `503`, `403` with nothing remaining or a `Retry-After`; and a
//!   connection closed or reset before an answer, which the hook layer observes as a refusal
//!   with no wait) under a stated rate costs one interval and halves this client's share of
//!   the stated rate (another caller spends it too); a success that leaves one request or none
//!   while requests are still on the way cuts the share by 5%, and one that leaves more gives
//!   one request of the quota back (1% of it at least): several processes on one token settle
//!   on the shared budget before it refuses them;
//! * a stated window of a rounding or less whose remainder jumps back (more than a bucket refills
//!   in that time) is a fixed window renewing at that phase (`renewal`): a refusal saying nothing
//!   remains holds every send until the renewal, the share is cut to what of the window it
//!   lasted (not halved) and grows by what a window left unspent (not a request per success);
//!   a remainder that falls by more than this client's sends is another caller's: no burst;
//! * other callers' sends of a sliding log's window (its quota less its remainder less this
//!   client's own) leave it its own and half of what is left, and no burst (`others`);
//! * a stated limit is a claim checked against what is served (`stated::claim`): refused while
//!   it says room remains, or served more in a second than it could serve, none refused, the
//!   pace is learned as below (under the claim; above it, bounded) until it proves true;
//! * with nothing stated, AIMD (`aimd`): a refusal notes a ceiling (what the platform let
//!   through over the last second, unless that second was not spent at the pace refused) and
//!   cuts the rate to 70% of itself or 95% of the ceiling, whichever is lower; until a request
//!   sent since is served, each refusal of one (a window's too) halves the pace. A refusal that
//!   lasted until a window renewed tells its quota (what the second before the last refusal
//!   served, if fewer than the one before the cut): the pace is 99% of it (counted over less
//!   than a second, 103% of it for 2 s: refused, it is a second's; else forgotten,
//!   `lately::verifying`). Each success adds back its part of an amount a second that does not
//!   depend on the client's rate (processes on one token converge on a fair share), smaller
//!   near the ceiling; a second served well past the ceiling (750 ms on after a cut) forgets it.
//!   A `Retry-After` over two seconds (less is HTTP rounding) holds every send only when
//!   refused again at the pace halved since the cut (a bucket that asks for a fixed wait
//!   serves again within milliseconds); sends waiting for their slot take one at the new pace
//!   whenever it changes, an interval of it after the last send at least. A cut (and the
//!   pace restored after the halvings) is at most the pace times the share served of the
//!   answers since the cut (restored: what the second before it served, when the refusals
//!   outlasted a bucket's, `lately::outlasted`); a rate served over a half second within 2 s
//!   is climbed back to from 150 ms after a cut below half of it (`lately`);
//! * with nothing stated, a concurrency limiter (at most so many in flight, refused over it)
//!   is told from a rate limiter by the requests in flight each refused request was sent at
//!   (`flight`): refusals at a level and rarely below it, the levels above it mostly refused
//!   too, set a ceiling; at most that many go at once, and refusals over it cut nothing (those
//!   under it are learned from as before);
//! * a wait longer than the retry policy's `max_retry_after`, or a hold longer than what is
//!   left of the call's wait budget, is never waited: the slot is refused ([`Refused`]), and a
//!   `Retry-After` beyond the cap refuses every send until it has passed. The pace's queue is
//!   not a wait against the budget: a slot behind others at the pace is as far off as the
//!   sends before it (each one interval, within the cap, apart), and that is progress; only an
//!   interval beyond the cap refuses it (naming the pace's source: [`WaitCause::Pace`],
//!   [`WaitCause::FixedPace`], [`WaitCause::LearnedPace`], [`WaitCause::RevisedPace`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ratelimit::{AskedWait, Signal, WaitCause, secs};

use stated::hold;
mod aimd;
mod bucket;
mod flight;
mod kinds;
use kinds::State;
mod lately;
mod learn;
mod mode;
mod noise;
mod now;
mod others;
mod renewal;
mod served;
mod skew;
mod slot;
mod stated;
mod steady;

pub use mode::{InvalidRate, MAX_FIXED_RATE, MIN_FIXED_RATE, Pacing};
pub use now::CurrentPace;
pub(crate) use skew::retry_wait;
pub(crate) use slot::{Refused, Slot};
use slot::{Reservation, Sent, barred, depart, departs, held_within, pace_cause, take};

/// The fraction of the platform's stated rate sent at: a margin for jitter on the way (the
/// bucket's own remainder is spent as a burst, so the margin costs little).
const HEADROOM: f64 = 0.98;

/// The smallest share of a stated rate this client keeps when others spend it too.
const MIN_SHARE: f64 = 0.05;
/// What a success with room left gives back of the share.
const SHARE_GROWTH: f64 = 0.01;

/// What a success that finds the bucket about empty leaves of the share.
const SHARE_DECAY: f64 = 0.95;
/// After the stated rate drops, refusals this long are taken as answers to requests sent at the
/// old pace (the new pace is already followed): they do not cut this client's share.
const DROP_GRACE: Duration = Duration::from_secs(1);

/// A `Retry-After` this short is a rounding, not a pause: AIMD does not hold every send for it
/// (HTTP states whole seconds, and an HTTP date is a second off either way, so a wait of a few
/// milliseconds reads as 1 or 2 s).
const ROUNDING: Duration = Duration::from_secs(2);

/// A client's pacer.
#[derive(Debug)]
pub(crate) struct Pacer {
    mode: Pacing,
    state: Mutex<kinds::Paces>,
    /// Wakes the sends waiting for a slot when the pace changes.
    wake: tokio::sync::Notify,
}

impl Pacer {
    pub(crate) fn new(mode: Pacing) -> Pacer {
        Pacer {
            mode,
            state: Mutex::new(kinds::Paces::new()),
            wake: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, kinds::Paces> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for this request's send slot: refused when the platform asks for a wait longer
    /// than `cap` (a `Retry-After` beyond it, or a pace slower than one request per `cap`), or
    /// when a hold the platform asked for lasts longer than `budget` (the pace's queue is not
    /// compared with it). Returns the slot and the time waited held (not the pace's queue).
    /// `kind`: the request's operation (its pace is the one its last answer stated).
    pub(crate) async fn acquire(
        &self,
        kind: &'static str,
        cap: Duration,
        budget: Duration,
    ) -> Result<(Slot<'_>, Duration), Refused> {
        if self.mode == Pacing::Off {
            let slot = Slot {
                pacer: self,
                open: false,
                sent: Sent::default(),
            };
            return Ok((slot, Duration::ZERO));
        }
        let r = self.reserve(kind, cap, budget)?;
        if r.wait.is_zero() && !r.gated {
            let slot = Slot {
                pacer: self,
                open: true,
                sent: r.sent,
            };
            return Ok((slot, Duration::ZERO));
        }
        // Boxed: a request that does not wait carries no timer in its future.
        Box::pin(self.wait_for_slot(kind, r, cap, budget)).await
    }

    /// Waits for a slot reserved at the pace of its generation; takes another when the pace
    /// was cut meanwhile, or when it was not reserved (gated) once woken.
    async fn wait_for_slot(
        &self,
        kind: &'static str,
        mut r: Reservation,
        cap: Duration,
        budget: Duration,
    ) -> Result<(Slot<'_>, Duration), Refused> {
        // Not in flight until sent (a slot dropped while it waits was never sent).
        let mut slot = Slot {
            pacer: self,
            open: false,
            sent: r.sent,
        };
        let mut waited = Duration::ZERO;
        loop {
            if r.wait.is_zero() && !r.gated {
                (slot.open, slot.sent) = (true, r.sent);
                return Ok((slot, waited));
            }
            // Until the slot's time, or until the pace changes or an answer comes (then it
            // takes another). Only the part the platform asked for is charged (not the pace).
            let hold = self.held_part(r.sent.index, r.wait);
            let started = Instant::now();
            let changed = std::pin::pin!(self.wake.notified());
            let sleep = std::pin::pin!(tokio::time::sleep(r.wait));
            futures_util::future::select(sleep, changed).await;
            waited += started.elapsed().min(hold);
            if !r.gated {
                let mut paces = self.lock();
                let s = paces.state(r.sent.index);
                // Sent at the pace it was given, unless the pace was cut meanwhile: then it
                // takes a slot at the new pace. Woken before its time by another change (of
                // another policy's pace): it waits the rest.
                if s.generation == r.sent.generation && lately::respaced(s) == r.sent.respaced {
                    let mut rest = r.wait.saturating_sub(started.elapsed());
                    // A hold that began after it was reserved (a lockout's) holds it too, to
                    // its end, in the same place at the pace.
                    let (now, left) = (Instant::now(), budget.saturating_sub(waited));
                    if let Some(h) = held_within(s, now, left).filter(|h| *h > started + r.wait) {
                        rest = rest.max(h.saturating_duration_since(now));
                    }
                    // Woken late with others (this process was not running at their
                    // times): spaced from the last send as it went, not all at once.
                    let rate = self.pace(s);
                    if let Some(late) = departs(s, rate, r.sent.at, now) {
                        rest = rest.max(late);
                    }
                    if !rest.is_zero() {
                        r.wait = rest;
                        continue;
                    }
                    // Not over a concurrency limiter's ceiling (else it waits for an answer).
                    if !s.flight.full(s.in_flight) {
                        s.in_flight = s.in_flight.saturating_add(1);
                        depart(s, rate, r.sent.at, now);
                        r.sent.level = s.in_flight;
                        (slot.open, slot.sent) = (true, r.sent);
                        return Ok((slot, waited));
                    }
                }
                // Taken again at the new pace: this slot was never sent.
                if let Some(at) = r.logged {
                    stated::unlog(s, at);
                }
            }
            if std::mem::take(&mut slot.sent.first) {
                self.lock().unmark(kind);
            }
            r = self.reserve(kind, cap, budget.saturating_sub(waited))?;
            slot.sent = r.sent;
        }
    }

    /// Reserves the next send slot: the wait until it, and the pace's generation.
    fn reserve(
        &self,
        kind: &'static str,
        cap: Duration,
        budget: Duration,
    ) -> Result<Reservation, Refused> {
        let mut paces = self.lock();
        let r = self.reserve_in(&mut paces, kind, cap, budget)?;
        if r.sent.first {
            paces.mark(kind);
        }
        Ok(r)
    }

    fn reserve_in(
        &self,
        paces: &mut kinds::Paces,
        kind: &'static str,
        cap: Duration,
        budget: Duration,
    ) -> Result<Reservation, Refused> {
        let (index, first) = (paces.index(kind), paces.first(kind));
        let s = paces.state(index);
        let now = Instant::now();
        let mine = Sent::new(s, lately::respaced(s), index, kind, first == Some(true));
        if let Some(refused) = barred(s, now, cap) {
            return Err(refused);
        }
        // The first of its kind out: its answer tells the policy this one is under.
        let gate = match first {
            Some(false) => stated::Gate::Shut,
            _ => stated::gate(s, now),
        };
        if gate == stated::Gate::Shut {
            // Until an answer restates the remainder (a bounded poll besides the wake-up).
            return stated::shut(budget, mine);
        }
        if s.flight.full(s.in_flight) {
            // As many in flight as a concurrency limiter allows: until an answer comes (the
            // wait is the pace's, not a hold: not charged to the budget).
            return Ok(Reservation {
                wait: flight::LOOK_AGAIN,
                sent: mine,
                gated: true,
                logged: None,
            });
        }
        let mut slot = now;
        let hold_end = held_within(s, now, budget);
        if let Some(held) = hold_end {
            slot = slot.max(held);
        }
        let spaced = s.credit == 0;
        let interval = self.pace(s).map(|rate| secs(1.0 / rate));
        if spaced && let Some(interval) = interval {
            if interval > cap {
                return Err(Refused {
                    wait: interval,
                    cap,
                    asked: None,
                    cause: pace_cause(self.mode, s),
                });
            }
            if let Some(next) = s.next {
                slot = slot.max(next);
            }
        }
        slot = stated::logged(s, slot, now);
        let wait = slot.saturating_duration_since(now);
        // Only a hold the platform asked for is a wait against the budget: the queue at the pace
        // (the sends reserved before this one, each an interval within the cap apart) is
        // progress, not a hold.
        let held = hold_end.map_or(Duration::ZERO, |h| {
            h.saturating_duration_since(now).min(wait)
        });
        if held > budget {
            return Err(Refused {
                wait: skew::stated(s, now).max(held),
                cap: budget,
                asked: None,
                cause: s.held_for,
            });
        }
        let alone = gate != stated::Gate::Open;
        if alone && !wait.is_zero() {
            // It goes alone, at its time: not reserved until then (another may go first).
            return Ok(Reservation {
                wait,
                sent: mine,
                gated: true,
                logged: None,
            });
        }
        if alone {
            // The bound on the wait for an answer starts again from it.
            s.awaited = Some(now);
        }
        let (level, logged) = take(s, slot, now, wait, interval);
        let sent = Sent {
            probe: gate == stated::Gate::Probe,
            alone,
            at: Some(slot),
            level,
            ..mine
        };
        Ok(Reservation {
            wait,
            sent,
            gated: false,
            logged,
        })
    }

    /// Learns from an attempt's answer (none: it got no answer, which says nothing of the
    /// pace), and gives its slot back. `cap`: the longest `Retry-After` honoured; a longer one
    /// refuses every send until it has passed. Returns the hold until a fixed window renews
    /// that a refusal set (`renewal`): its retry waits that, not its whole `Retry-After`.
    pub(crate) fn observe(
        &self,
        mut slot: Slot<'_>,
        signal: Option<&Signal>,
        cap: Duration,
    ) -> Option<Duration> {
        let (open, sent) = (std::mem::replace(&mut slot.open, false), slot.sent);
        slot.sent.first = false;
        if self.mode == Pacing::Off {
            return None;
        }
        let mut renews = None;
        let mut paces = self.lock();
        let s = paces.state(sent.index);
        if open {
            s.in_flight = s.in_flight.saturating_sub(1);
            // An answer came (or the attempt ended): sends waiting for one look again.
            s.awaited = None;
        }
        let mut wake = stated::gated(s)
            | s.flight.ceiling().is_some()
            | (sent.first && paces.unmark(sent.kind));
        if let Some(signal) = signal {
            let now = Instant::now();
            let learner = paces.learner(sent.kind, kinds::key_of(signal, cap), now);
            let s = paces.state(learner);
            let (generation, gated) = (s.generation, stated::gated(s));
            let respaced = lately::respaced(s);
            self.learn_at(s, signal, cap, sent, now);
            if !signal.throttled {
                lately::note_served(s, sent.at);
            }
            renews = renewal::take_hold(s).map(|until| until.saturating_duration_since(now));
            wake |= gated
                || stated::gated(s)
                || s.flight.ceiling().is_some()
                || s.generation != generation
                || lately::respaced(s) != respaced;
        }
        drop(paces);
        if wake {
            // Sends waiting for a slot at the old pace take one at the new pace now; those
            // waiting for an answer to restate the remainder look again.
            self.wake.notify_waiters();
        }
        renews
    }
}

#[cfg(test)]
mod tests;
