//! Pacing: requests sent at the platform's pace, so that a rate limit is met, not hit.
//!
//! One pacer per client, shared by all its clones (so two bulk jobs of one process do not
//! fight). Before each attempt the hook layer takes the next send slot (a [`Slot`], given back
//! when the attempt ends or is dropped); after each answer it tells the pacer what the platform
//! said ([`Signal`], in whichever dialect it speaks):
//!
//! * a quota with its window (`q`/`w` of `RateLimit-Policy`, or `RateLimit-Limit` with a
//!   policy's `w`) gives the rate: sends are spaced at 98% of it (the slowest of several); a
//!   quota with no window stated is not assumed to be per second: its window is inferred from
//!   recent resets (the longest reset seen within the window so inferred: a window's reset
//!   counts down, the next one's starts again), at least a second; with no reset either, its
//!   remainder is used as below and the pace is learned as when nothing is stated;
//! * a quota whose window (stated, or its reset when none is) is longer than the longest wait
//!   the client takes (the retry policy's `max_retry_after`) is a count, not a pace: one reset
//!   of an hour among resets of a second, or a daily quota beside a per-second one, does not
//!   slow the sends; its remainder caps the burst as below, and when an answer says nothing
//!   remains of it (a remainder of 0, not a refusal) sends wait for its reset when it is
//!   within that cap, else are refused until then ([`WaitCause::Spent`]), unless a later
//!   answer says something remains;
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
//!   is the wait asked for, as a `Retry-After` would be;
//! * a throttled answer (`429`, `503`, `403` with nothing remaining; and a connection closed
//!   or reset before an answer, which the hook layer observes as a refusal with no wait) under a
//!   stated rate costs one interval and halves this client's share of the stated rate (another
//!   caller spends it too); a success that leaves one request or none while requests are still
//!   on the way cuts the share by 5%, and one that leaves more gives 1% of the rate back: several
//!   processes on one token settle on the shared budget before it refuses them;
//! * with nothing stated, AIMD: a refusal notes a ceiling (what the platform let through over
//!   the last second, unless that second was not spent at the pace refused: then 95% of that
//!   pace) and cuts the rate to 70% of itself or 95% of the ceiling, whichever is lower. Only a
//!   refusal of a request sent since the last cut, once one so sent was served, cuts again (the
//!   others answer the old pace); until one is served, each halves the pace, and the first one
//!   served restores it. A refusal that lasted until a window renewed (half a second or more: a
//!   fixed window or a sliding log refuses everything until then) tells the window's quota,
//!   what the last second let through (ten requests at least: fewer is another caller's
//!   spending): the pace is 99% of it, and a later refusal cuts it to 99% of what the last
//!   second let through, to 70% of itself at most. Each success adds 2% back below
//!   95% of the ceiling, 5% of it a second up to 99% of it, 0.1% of it a second above, rising to
//!   5% over ten minutes with no cut (the limit, once found, is probed slowly); a `Retry-After` longer than two seconds holds every
//!   send until then (two seconds or less is how HTTP rounds a few milliseconds up: the cut
//!   rate is enough); sends waiting for their slot take one at the new pace whenever it changes;
//! * a wait longer than the retry policy's `max_retry_after`, or than what is left of the call's
//!   wait budget, is never waited: the slot is refused ([`Refused`]), and a `Retry-After`
//!   beyond the cap refuses every send until it has passed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ratelimit::{AskedWait, Quota, Signal, WaitCause, secs};

use aimd::{Cut, SLICES};

mod aimd;
mod mode;
mod stated;

pub use mode::{InvalidRate, MAX_FIXED_RATE, MIN_FIXED_RATE, Pacing};

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

#[derive(Debug)]
struct State {
    /// Requests a second the platform states (before headroom and share).
    stated: Option<f64>,
    /// The window inferred for a limit whose window is not stated, in seconds (0: none), and
    /// when it was last set.
    guessed: (f64, Instant),
    /// The platform said nothing remains of a quota (a remainder of 0, not a refusal) until a
    /// reset beyond the cap: every send is refused until then, or until an answer says
    /// something remains.
    spent: Option<(Instant, Option<Quota>)>,
    /// Refusals until then answer requests sent before the stated rate dropped: they do not
    /// cut the share.
    dropped_until: Option<Instant>,
    /// This client's share of the stated rate, in `[MIN_SHARE, 1]`.
    share: f64,
    /// Requests a second learned by AIMD (nothing stated).
    learned: Option<f64>,
    /// The AIMD rate at the last refusal.
    ceiling: Option<f64>,
    /// What the platform served (answers not throttled) over the last second, per tenth of a
    /// second, and the slice the newest count is in (counted from `first`).
    served: ([u32; SLICES], u64),
    /// The first answer AIMD learned from.
    first: Option<Instant>,
    /// AIMD's last cut: when, the generation it started, what the last second had served then,
    /// and the pace it set.
    cut: Cut,
    /// A request sent at the pace of the last cut was served since: the platform serves again.
    resolved: bool,
    /// A refusal lasted until a window renewed: the limit is a window, its quota known.
    windowed: bool,
    /// The earliest time of the next spaced send.
    next: Option<Instant>,
    /// Sends are held until then (a `Retry-After`, or a reset with nothing remaining).
    held_until: Option<Instant>,
    /// What the hold is: a wait asked for, or a quota said to be spent until its reset.
    held_for: WaitCause,
    /// A `Retry-After` beyond the cap, and until when: every send is refused until then (with
    /// the wait as the server stated it, for the refusal's message).
    locked: Option<(Instant, Duration, Option<AskedWait>)>,
    /// Sends in the current one-second window, for the rate observed before the first `429`.
    window: (Instant, u32),
    /// The last time a throttled answer cut the rate: those of one burst are one cut.
    last_cut: Option<Instant>,
    /// Bumped when the pace is cut: slots reserved at the old pace are taken again.
    generation: u32,
    /// Requests sent and not answered yet (not those still waiting for their send time: they
    /// are neither spending the platform's remainder nor about to be counted in it).
    in_flight: u32,
    /// Requests that may go without spacing: what the platform said is left (at most its
    /// limit), less those in flight.
    credit: u32,
    /// The remainder may be spent as a burst: until a refusal under a stated rate (not one
    /// answering the old pace of a drop). A sliding log keeps a burst for its whole window, so
    /// the pace after it is refused; a bucket alone is never refused at the pace.
    bursts: bool,
}

/// A client's pacer.
#[derive(Debug)]
pub(crate) struct Pacer {
    mode: Pacing,
    state: Mutex<State>,
    /// Wakes the sends waiting for a slot when the pace changes.
    wake: tokio::sync::Notify,
}

/// A send slot: counted in flight until observed or dropped (a cancelled request gives its slot
/// back).
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    pacer: &'a Pacer,
    open: bool,
    /// The pace's generation it was sent at.
    generation: u32,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if self.open {
            let mut s = self.pacer.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }
}

/// A send slot refused: the wait it needs is longer than allowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Refused {
    /// The wait the platform asks for (its `Retry-After` as it said it, or its pace's
    /// interval), or the slot's wait in the queue.
    pub(crate) wait: Duration,
    /// The bound it is over.
    pub(crate) cap: Duration,
    /// The wait as the server stated it, when it asked for one (not clamped: for messages).
    pub(crate) asked: Option<AskedWait>,
    /// What the wait stands for.
    pub(crate) cause: WaitCause,
}

impl Pacer {
    pub(crate) fn new(mode: Pacing) -> Pacer {
        Pacer {
            mode,
            state: Mutex::new(State {
                stated: None,
                guessed: (0.0, Instant::now()),
                spent: None,
                dropped_until: None,
                share: 1.0,
                learned: None,
                ceiling: None,
                served: ([0; SLICES], 0),
                first: None,
                cut: Cut {
                    at: Instant::now(),
                    generation: 0,
                    served: 0,
                    rate: 0.0,
                },
                resolved: true,
                windowed: false,
                next: None,
                held_until: None,
                held_for: WaitCause::Asked,
                locked: None,
                window: (Instant::now(), 0),
                last_cut: None,
                generation: 0,
                in_flight: 0,
                credit: 0,
                bursts: true,
            }),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// How it paces.
    pub(crate) fn mode(&self) -> Pacing {
        self.mode
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The pace now, in requests a second (`None`: unpaced).
    fn pace(&self, s: &State) -> Option<f64> {
        match self.mode {
            Pacing::Off => None,
            Pacing::Fixed(rate) => Some(rate),
            Pacing::Adaptive => s.stated.map(|rate| rate * s.share * HEADROOM).or(s.learned),
        }
    }

    /// Waits for this request's send slot: refused when the platform asks for a wait longer
    /// than `cap` (a `Retry-After` beyond it, or a pace slower than one request per `cap`), or
    /// when the slot is further off than `budget`. Returns the slot and the time waited.
    pub(crate) async fn acquire(
        &self,
        cap: Duration,
        budget: Duration,
    ) -> Result<(Slot<'_>, Duration), Refused> {
        if self.mode == Pacing::Off {
            let slot = Slot {
                pacer: self,
                open: false,
                generation: 0,
            };
            return Ok((slot, Duration::ZERO));
        }
        let (wait, generation) = self.reserve(cap, budget)?;
        if wait.is_zero() {
            let slot = Slot {
                pacer: self,
                open: true,
                generation,
            };
            return Ok((slot, Duration::ZERO));
        }
        // Boxed: a request that does not wait carries no timer in its future.
        Box::pin(self.wait_for_slot(wait, generation, cap, budget)).await
    }

    /// Waits `wait` for a slot reserved at the pace of `generation`; takes another when the
    /// pace was cut meanwhile.
    async fn wait_for_slot(
        &self,
        mut wait: Duration,
        mut generation: u32,
        cap: Duration,
        budget: Duration,
    ) -> Result<(Slot<'_>, Duration), Refused> {
        // Not in flight until sent (a slot dropped while it waits was never sent).
        let mut slot = Slot {
            pacer: self,
            open: false,
            generation,
        };
        let mut waited = Duration::ZERO;
        loop {
            if !wait.is_zero() {
                // Until the slot's time, or until the pace changes (then it takes another).
                let started = Instant::now();
                let changed = std::pin::pin!(self.wake.notified());
                let sleep = std::pin::pin!(tokio::time::sleep(wait));
                futures_util::future::select(sleep, changed).await;
                waited += started.elapsed().min(wait);
                let mut s = self.lock();
                // Sent at the pace it was given, unless the pace was cut meanwhile: then it
                // takes a slot at the new pace.
                if s.generation == generation {
                    s.in_flight = s.in_flight.saturating_add(1);
                    slot.open = true;
                    slot.generation = generation;
                    return Ok((slot, waited));
                }
            } else {
                slot.open = true;
                slot.generation = generation;
                return Ok((slot, waited));
            }
            (wait, generation) = self.reserve(cap, budget.saturating_sub(waited))?;
        }
    }

    /// Reserves the next send slot: the wait until it, and the pace's generation.
    fn reserve(&self, cap: Duration, budget: Duration) -> Result<(Duration, u32), Refused> {
        {
            let mut s = self.lock();
            let now = Instant::now();
            if let Some((_, wait, asked)) = s.locked.filter(|(until, ..)| *until > now) {
                let cause = WaitCause::Asked;
                return Err(Refused {
                    wait,
                    cap,
                    asked,
                    cause,
                });
            }
            if let Some((until, quota)) = s.spent.filter(|(until, _)| *until > now) {
                return Err(stated::spent(until - now, cap, quota));
            }
            let mut slot = now;
            if let Some(held) = s.held_until {
                slot = slot.max(held);
            }
            let spaced = s.credit == 0;
            let interval = self.pace(&s).map(|rate| secs(1.0 / rate));
            if spaced && let Some(interval) = interval {
                if interval > cap {
                    return Err(Refused {
                        wait: interval,
                        cap,
                        asked: None,
                        cause: WaitCause::Pace,
                    });
                }
                if let Some(next) = s.next {
                    slot = slot.max(next);
                }
            }
            let wait = slot.saturating_duration_since(now);
            if wait > budget {
                // A hold on now makes the wait (the slots queued after it too).
                let held = s.held_until.is_some_and(|h| h > now);
                return Err(Refused {
                    wait,
                    cap: budget,
                    asked: None,
                    cause: if held { s.held_for } else { WaitCause::Pace },
                });
            }
            if now.duration_since(s.window.0) >= Duration::from_secs(1) {
                s.window = (now, 0);
            }
            s.window.1 = s.window.1.saturating_add(1);
            if wait.is_zero() {
                s.in_flight = s.in_flight.saturating_add(1);
            }
            if !spaced {
                // Left in the platform's bucket: no spacing.
                s.credit -= 1;
            } else if let Some(interval) = interval {
                s.next = Some(slot + interval);
            }
            Ok((wait, s.generation))
        }
    }

    /// Learns from an attempt's answer (none: it got no answer, which says nothing of the
    /// pace), and gives its slot back. `cap`: the longest `Retry-After` honoured; a longer one
    /// refuses every send until it has passed.
    pub(crate) fn observe(&self, mut slot: Slot<'_>, signal: Option<&Signal>, cap: Duration) {
        let open = std::mem::replace(&mut slot.open, false);
        let sent = slot.generation;
        if self.mode == Pacing::Off {
            return;
        }
        let mut s = self.lock();
        if open {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        let Some(signal) = signal else { return };
        let generation = s.generation;
        self.learn(&mut s, signal, cap, sent);
        let repaced = s.generation != generation;
        drop(s);
        if repaced {
            // Sends waiting for a slot at the old pace take one at the new pace now.
            self.wake.notify_waiters();
        }
    }

    /// Learns from an answer's signal; `sent`: the pace's generation its request was sent at.
    fn learn(&self, s: &mut State, signal: &Signal, cap: Duration, sent: u32) {
        let now = Instant::now();
        if signal.throttled {
            s.credit = 0;
            if let Some(after) = signal.asked_wait() {
                if after > cap {
                    let until = now + after;
                    if s.locked.is_none_or(|(l, ..)| l < until) {
                        s.locked = Some((until, after, signal.asked));
                    }
                    return;
                }
                let stated = s.stated.is_some() || signal.quotas().next().is_some();
                if after > ROUNDING || (!stated && self.mode != Pacing::Adaptive) {
                    hold(s, now + after, WaitCause::Asked);
                }
            }
        }
        if self.mode != Pacing::Adaptive {
            return;
        }
        if self.learn_stated(s, signal, now, cap) {
            return;
        }
        aimd::learn(s, signal.throttled, now, sent);
    }

    /// The pace now, in requests a second (`None`: unpaced), for tests and diagnostics.
    #[cfg(test)]
    fn rate(&self) -> Option<f64> {
        let s = self.lock();
        self.pace(&s)
    }
}

/// The pace was cut: slots reserved at the old pace are taken again, from `next` on.
fn repace(s: &mut State, next: Instant) {
    s.generation = s.generation.wrapping_add(1);
    s.next = Some(next);
}

/// Holds every send until `until` (the later of two holds wins).
fn hold(s: &mut State, until: Instant, cause: WaitCause) {
    if s.held_until.is_none_or(|h| h < until) {
        (s.held_until, s.held_for) = (Some(until), cause);
    }
}

/// The throttled answers to one burst are one signal: a cut at most once per interval (and per
/// tenth of a second).
fn recent(s: &State, now: Instant, rate: f64) -> bool {
    let gap = secs(1.0 / rate).max(Duration::from_millis(100));
    s.last_cut.is_some_and(|at| now.duration_since(at) < gap)
}

#[cfg(test)]
mod tests;
