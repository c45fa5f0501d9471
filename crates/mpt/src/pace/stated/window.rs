//! The window of a limit whose window is not stated, inferred from the resets it states.

use std::time::{Duration, Instant};

use super::{ROUNDING, State};
use crate::ratelimit::{Signal, secs};

/// The window inferred from recent resets for a limit with none stated ([`guessed_window`]),
/// while it is current (inferred within two of it).
pub(in crate::pace) fn inferred(s: &State, now: Instant) -> Option<f64> {
    let (window, at) = s.guessed;
    let guessed =
        (window > 0.0 && now.saturating_duration_since(at) < secs(2.0 * window)).then_some(window);
    shorter(guessed, stepped(s, now))
}

/// The shorter of two windows, either when the other is unknown.
fn shorter(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The window of a limit with none stated whose reset is a time (`at`): the shorter of the
/// step between two resets stated ([`stepped_window`]) and the window inferred from the resets
/// read on this machine's clock ([`guessed_window`], from answers served only: a refusal's
/// reset is the end of its hold, a claim the pacer checks, `skew`, and a limiter that refuses
/// for 15 s with `X-RateLimit-Limit: 100` and then serves, stating nothing, was paced at 100 per
/// 15 s for 30 s after it served again).
pub(super) fn epoch_window(
    s: &mut State,
    signal: &Signal,
    at: f64,
    cap: f64,
    now: Instant,
) -> Option<f64> {
    let stepped = stepped_window(s, at, cap, now);
    let read = if signal.throttled {
        None
    } else {
        guessed_window(s, signal.reset, cap, now)
    };
    shorter(stepped, read)
}

/// The window [`stepped_window`] saw last, while it is current (seen again within two of it and
/// a rounding).
fn stepped(s: &State, now: Instant) -> Option<f64> {
    let (window, since) = s.stepped;
    let current =
        window > 0.0 && now.saturating_duration_since(since) < secs(2.0 * window) + ROUNDING;
    current.then_some(window)
}

/// The window of a limit with none stated, inferred from recent resets: the longest reset seen
/// within the window so inferred (a window's reset counts down; the next one's starts again),
/// at least a second (resets are stated in whole seconds). A reset longer than `cap` (in
/// seconds) is a count's, not a window to pace by: the answer gives none.
pub(super) fn guessed_window(
    s: &mut State,
    reset: Option<Duration>,
    cap: f64,
    now: Instant,
) -> Option<f64> {
    // A reset already past (0) says nothing of the window: the count was renewed, and if the
    // platform refuses anyway, the pace is learned from its refusals.
    let reset = reset.filter(|r| !r.is_zero())?.as_secs_f64().max(1.0);
    if reset > cap {
        return None;
    }
    let (window, at) = s.guessed;
    if reset >= window || now.saturating_duration_since(at) >= secs(window) {
        s.guessed = (reset, now);
    }
    Some(s.guessed.0)
}

/// The window of a limit with none stated whose reset is a time (`at`, in epoch seconds of the
/// clock that stated it): the step between two resets it states in turn (a count renews once a
/// window, and the time of its renewal moves on by one window), whatever that clock's offset
/// from this machine's. The time to the reset read on this machine's clock is a claim the pacer
/// checks (`skew`), not the window: a backend 20 s ahead states each window of a second as
/// renewing in 21 s, read as the window it paced a limit of 200 a second at 10. The shortest
/// step seen while it is current ([`stepped`]), at least a second; a step back (the clock
/// moved) or longer than `cap` (in seconds: a count's) is none. `None` until a step is seen:
/// one reset restated on every refusal is a hold, not a window.
fn stepped_window(s: &mut State, at: f64, cap: f64, now: Instant) -> Option<f64> {
    let last = std::mem::replace(&mut s.last_epoch, at);
    let step = (at - last).max(1.0);
    let shorter = stepped(s, now).is_none_or(|window| step <= window);
    if last > 0.0 && at > last && step <= cap && shorter {
        s.stepped = (step, now);
    }
    stepped(s, now)
}
