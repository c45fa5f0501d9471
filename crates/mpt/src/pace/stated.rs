//! The stated-rate path: what a stated quota, window, remainder and reset do to the pace.

use std::time::{Duration, Instant};

use super::{
    DROP_GRACE, HEADROOM, MIN_SHARE, Pacer, ROUNDING, Refused, SHARE_DECAY, SHARE_GROWTH, State,
    hold, recent, repace,
};
use crate::ratelimit::{MAX_COUNT, Quota, Signal, WaitCause, secs};

impl Pacer {
    /// Learns from what the platform states; `false` when it states no rate. `cap`: the
    /// longest wait taken (a longer window is a count, not a pace).
    pub(super) fn learn_stated(
        &self,
        s: &mut State,
        signal: &Signal,
        now: Instant,
        cap: Duration,
    ) -> bool {
        let limit = signal.quotas().map(|q| q.limit).reduce(f64::min);
        if let Some(remaining) = signal.remaining {
            let most = limit.unwrap_or(MAX_COUNT).min(f64::from(u32::MAX)) as u64;
            let left = remaining.min(most).min(u64::from(u32::MAX)) as u32;
            // This client's share of it: another caller reads the same remainder. No burst
            // once refused under the stated rate (a sliding log keeps a burst for its window).
            if s.bursts {
                s.credit = (f64::from(left.saturating_sub(s.in_flight)) * s.share) as u32;
            }
            spent_until_reset(s, signal, now, cap);
        }
        let cap_secs = cap.as_secs_f64();
        let mut stated: Option<f64> = None;
        for q in signal.quotas() {
            let window = match q.window {
                Some(w) => Some(w),
                None => guessed_window(s, signal.reset, cap_secs, now),
            };
            // A window longer than the longest wait taken is a count, not a pace.
            if let Some(w) = window.filter(|w| *w <= cap_secs) {
                let rate = q.limit / w;
                stated = Some(stated.map_or(rate, |r| r.min(rate)));
            }
        }
        let Some(rate) = stated.filter(|r| *r > 0.0).or(s.stated) else {
            return false;
        };
        if s.stated.is_some_and(|old| rate < old) {
            // The limit dropped: what was sent at the old pace may still be refused, and what
            // waits to be sent takes a slot at the new pace.
            s.dropped_until = Some(now + DROP_GRACE);
            repace(s, now + secs(1.0 / (rate * s.share * HEADROOM)));
        }
        s.stated = Some(rate);
        if signal.throttled {
            s.credit = 0;
            let dropped = s.dropped_until.is_some_and(|until| now < until);
            if !dropped {
                s.bursts = false;
            }
            if !dropped && !recent(s, now, rate) {
                s.share = (s.share / 2.0).max(MIN_SHARE);
                s.last_cut = Some(now);
                repace(s, now);
            }
            let interval = secs(1.0 / (rate * s.share * HEADROOM));
            let at = now + interval;
            s.next = Some(s.next.map_or(at, |n| n.max(at)));
        } else if signal
            .remaining
            .is_some_and(|left| left <= 1 && s.in_flight > 0)
        {
            // The bucket is about empty (one left at most) with requests still on the way: this
            // client's share is 5% less (another caller may spend it too; alone, the share settles just under the
            // stated rate).
            s.share = (s.share * SHARE_DECAY).max(MIN_SHARE);
        } else {
            s.share = (s.share + SHARE_GROWTH).min(1.0);
        }
        true
    }
}

/// A refusal of a send while a quota is spent, for `wait` more.
pub(super) fn spent(wait: Duration, cap: Duration, quota: Option<Quota>) -> Refused {
    Refused {
        wait,
        cap,
        asked: None,
        cause: WaitCause::Spent {
            limit: quota.map_or(0, |q| q.limit as u64),
            window: quota.and_then(|q| q.window).map(secs),
        },
    }
}

/// An answer that says nothing remains (not a refusal: those hold as asked) holds sends until
/// its reset: within `cap` as a hold (a reset of a rounding or less: the pace is enough), beyond
/// it by refusing every send until then. An answer that says something remains lifts that.
fn spent_until_reset(s: &mut State, signal: &Signal, now: Instant, cap: Duration) {
    match signal.remaining {
        Some(0) => {}
        Some(_) => {
            s.spent = None;
            return;
        }
        None => return,
    }
    let Some(reset) = signal.reset.filter(|_| !signal.throttled) else {
        return;
    };
    if reset > cap {
        s.spent = Some((now + reset, signal.remaining_of));
    } else if reset > ROUNDING {
        hold(s, now + reset, spent(reset, cap, signal.remaining_of).cause);
    }
}

/// The window of a limit with none stated, inferred from recent resets: the longest reset seen
/// within the window so inferred (a window's reset counts down; the next one's starts again),
/// at least a second (resets are stated in whole seconds). A reset longer than `cap` (in
/// seconds) is a count's, not a window to pace by: the answer gives none.
fn guessed_window(s: &mut State, reset: Option<Duration>, cap: f64, now: Instant) -> Option<f64> {
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
