//! A reset stated as a time (an epoch `*-Reset`) is read against a clock: the backend's that
//! stamped it may be ahead of the one its `Date` and this machine keep (a backend 5 s ahead
//! states each window of a second as renewing in 6 s). Such a reset is a claim this client
//! checks, and corrects once evidence proves it wrong:
//!
//! * a hold on a stated time lasts at most [`State::probe_after`] (a second at first) before
//!   one request checks it (sent alone when the remainder is counted); each check refused (the
//!   count was not renewed: the reset held) doubles that bound, up to [`PROBE_AFTER_MOST`], so
//!   a reset that is right costs a few refusals, and one stated late is found out within a few
//!   seconds of the renewal;
//! * a refusal stating nothing remains until a time that has passed refutes it ([`refuted`]):
//!   sends go one at a time, alone, a second apart, until one is served;
//! * a check served with something remaining before the stated renewal proves the reset early
//!   by at least the time left to it: that lead is learned, and every later time stated is read
//!   that much sooner (a window of a second stated 6 s off is then held under a second);
//! * a refusal's own `Retry-After` is the server's word for that refusal: it bounds a hold set
//!   on a stated reset, whatever the reset says.

use std::time::{Duration, Instant};

use super::State;
use crate::ratelimit::{AskedWait, Signal, WaitCause};

/// The longest hold on a stated time before one request checks it, at first; and the hold
/// between two requests sent alone once a stated time is [`refuted`].
pub(super) const PROBE_AFTER: Duration = Duration::from_secs(1);

/// The longest hold on a stated time before one request checks it, however many checks were
/// refused: a reset stated 10 s late is found out within this of the renewal (doubling
/// without a bound, checks at 1, 3, 7 and 15 s found a renewal at 10 s 5 s late, where a
/// naive loop sleeping a second per refusal was 1 s late), and a right reset of 30 s costs
/// 8 refusals, within a call's 10 (`retry::MAX_THROTTLED`).
pub(super) const PROBE_AFTER_MOST: Duration = Duration::from_secs(4);

/// Whether a refusal says nothing remains until a stated time that has passed (no
/// `Retry-After`): the stated time is refuted (the clock that stated it is behind, or the
/// limiter holds past it), and it says nothing of when the count renews. Sends then go one at
/// a time, alone, [`PROBE_AFTER`] apart, as a naive loop sleeping a second per refusal would
/// (before: each refusal asked for no wait, and every call spent its 10 throttled attempts
/// within half a second).
pub(super) fn refuted(signal: &Signal) -> bool {
    signal.throttled
        && signal.remaining == Some(0)
        && signal.retry_after.is_none()
        && signal.reset_at
        && signal.reset.is_some_and(|r| r.is_zero())
}

/// Notes what a refusal says of a stated reset: whether it says a count is spent until one
/// (`State::count_spent`), and whether it refutes one ([`refuted`]: the caller holds every
/// send [`PROBE_AFTER`], and the next goes alone, the pacer's poll); an answer served ends the
/// polls. Returns whether this answer refutes one.
pub(super) fn note(s: &mut State, signal: &Signal) -> bool {
    if !signal.throttled {
        s.refuted = false;
        return false;
    }
    s.count_spent =
        signal.retry_after.is_none() && signal.remaining == Some(0) && signal.reset.is_some();
    let refutes = refuted(signal);
    s.refuted |= refutes;
    refutes
}

/// The answer's signal with its stated times read [`State::lead`] sooner (`None`: no change),
/// once what it says of a check in progress is learned: a check served with something left
/// before the stated renewal sets the lead; one refused doubles the bound on the next hold. A
/// refusal with a `Retry-After` cuts a hold set on a stated reset to it.
pub(super) fn correct(
    s: &mut State,
    signal: &Signal,
    planned: Option<Instant>,
    now: Instant,
) -> Option<Box<Signal>> {
    if let Some((from, expected)) = s.checking
        && planned.is_some_and(|at| at >= from)
    {
        s.checking = None;
        if signal.throttled || signal.remaining == Some(0) {
            s.probe_after = s.probe_after.saturating_mul(2).min(PROBE_AFTER_MOST);
        } else if signal.remaining.is_some() && expected > now {
            // Renewed before the stated time: the times stated are that much early.
            s.lead += expected - now;
        }
    }
    if let Some(ra) = signal.retry_after.filter(|_| signal.throttled)
        && matches!(s.held_for, WaitCause::Spent { .. })
        && s.held_until.is_some_and(|h| h > now + ra)
    {
        s.held_until = Some(now + ra);
    }
    if !signal.reset_at || s.lead.is_zero() {
        return None;
    }
    // Boxed: the common answer (no change) moves a pointer, not the whole signal.
    let mut fixed = Box::new(signal.clone());
    let sooner = |r: Duration| r.saturating_sub(s.lead);
    fixed.reset = fixed.reset.map(sooner);
    for (_, reset) in fixed.states.iter_mut().flatten() {
        *reset = reset.map(sooner);
    }
    Some(fixed)
}

/// The end of a hold of `wait` from `now` on what `signal` states: a stated time (no
/// `Retry-After`) is held at most [`State::probe_after`], then it is checked.
pub(super) fn until(s: &mut State, signal: &Signal, now: Instant, wait: Duration) -> Instant {
    let stated = signal.reset_at && signal.retry_after.is_none();
    if !stated || wait <= s.probe_after {
        return now + wait;
    }
    let end = now + s.probe_after;
    s.checking = Some((end, now + wait));
    end
}

/// The wait a hold cut short for a check stands for: until the renewal it stated (what a
/// refusal over the budget names; zero when none is being checked).
pub(super) fn stated(s: &State, now: Instant) -> Duration {
    s.checking
        .map_or(Duration::ZERO, |(_, at)| at.saturating_duration_since(now))
}

/// The wait a throttled answer asks its call to sleep before the retry: its
/// [`Signal::asked_wait`], but for a reset stated as a time (no `Retry-After`) over a rounding
/// (2 s) and within `cap`: that is a claim the pacer holds every send for and checks
/// (this module), and the retry takes its slot when the pacer lets it (slept whole, a reset
/// stated 10 s late kept the ids refused before the check for 19 s, where the pacer found the
/// renewal at 11 s: tester round 9). A shorter one is slept (the pacer holds for none), or the
/// hold until a fixed window renews that the refusal set when that is shorter (`renews`, from
/// [`super::Pacer::observe`]: a `Retry-After: 1` rounds up a wait that ends at the renewal).
pub(crate) fn retry_wait(
    signal: &Signal,
    cap: Duration,
    renews: Option<Duration>,
) -> Option<Duration> {
    let asked = signal.asked_wait()?;
    let long = asked > super::ROUNDING && asked <= cap;
    let claim = signal.reset_at && signal.retry_after.is_none() && long;
    let asked = renews.map_or(asked, |r| asked.min(r));
    let wait = if claim { Duration::ZERO } else { asked };
    Some(if wait.is_zero() {
        begun_second(signal).unwrap_or(wait)
    } else {
        wait
    })
}

/// What is left, by this machine's clock, of the second a `Retry-After` HTTP date names, once
/// that second has begun: the date names a whole second, and a limiter whose lock ends within
/// it refuses until then (a lock on one token whose end was stated cut to its second read as
/// "retry now" at each refusal, and the token's ten throttled attempts went in a fraction of a
/// second; a naive loop, retrying without end, failed none: tester round 30). The call's retry
/// waits it; the pacer's holds do not (read to its end there too, a sliding log's date held
/// every send 5 s past its renewal: tester round 31).
fn begun_second(signal: &Signal) -> Option<Duration> {
    let Some(AskedWait::Until(at)) = signal.asked.filter(|_| signal.retry_after.is_some()) else {
        return None;
    };
    let left = at.checked_add_signed(chrono::TimeDelta::seconds(1))? - chrono::Utc::now();
    let left = left.to_std().ok()?;
    (left <= Duration::from_secs(1)).then_some(left)
}
