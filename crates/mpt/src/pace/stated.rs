//! The stated-rate path: what a stated quota, window, remainder and reset do to the pace.

use std::time::{Duration, Instant};

use super::{
    DROP_GRACE, HEADROOM, MIN_SHARE, Pacer, ROUNDING, Refused, Reservation, SHARE_DECAY,
    SHARE_GROWTH, Sent, State, noise,
};
use crate::ratelimit::{MAX_COUNT, Quota, Signal, WaitCause, secs};

pub(super) mod claim;
mod sends;
pub(super) use sends::{log, logged, unlog};
mod window;
pub(super) use window::inferred;
use window::{epoch_window, guessed_window};

impl Pacer {
    /// Learns from what the platform states; `false` when it states no rate. `cap`: the
    /// longest wait taken (a longer window is a count, not a pace).
    ///
    /// `sent`: how the answer's request was sent.
    pub(super) fn learn_stated(
        &self,
        s: &mut State,
        signal: &Signal,
        now: Instant,
        cap: Duration,
        sent: Sent,
    ) -> bool {
        let limit = signal.quotas().map(|q| q.limit).reduce(f64::min);
        // Sends are no longer logged for a quota not stated yet (`sends::unknown`).
        s.heard = true;
        if signal.remaining.is_none() && !signal.throttled {
            // Served, stating no remainder (a limiter that states its count on its refusals
            // only): the count was not spent, and sends no longer go one at a time (they did
            // to the end of the job, one in flight, after a hold of 15 s: tester round 9). Its
            // next refusal says when it is spent again.
            s.allowance = None;
        }
        if let Some(remaining) = signal.remaining {
            learn_remainder(s, signal, now, (cap, sent), (remaining, limit));
        }
        let cap_secs = cap.as_secs_f64();
        // The slowest quota whose window is a pace: its rate, limit and window.
        let mut slowest: Option<(f64, f64, f64)> = None;
        for q in signal.quotas() {
            let window = match (q.window, signal.reset_epoch) {
                (Some(w), _) => Some(w),
                (None, Some(at)) => epoch_window(s, signal, at, cap_secs, now),
                (None, None) => guessed_window(s, signal.reset, cap_secs, now),
            };
            // A window longer than the longest wait taken is a count, not a pace.
            if let Some(w) = window.filter(|w| *w <= cap_secs) {
                let rate = q.limit / w;
                if slowest.is_none_or(|(r, ..)| rate < r) {
                    slowest = Some((rate, q.limit, w));
                }
            }
        }
        if let Some((rate, ..)) = slowest
            && s.steady.note(rate, now)
        {
            // A limit that changes on every answer says nothing of the limit: the pace is
            // learned from refusals as when nothing is stated (the remainder, which the
            // platform counts, still caps the burst, until a refusal).
            (s.stated, s.quota) = (None, None);
            if signal.throttled {
                (s.credit, s.bursts) = (0, false);
            }
            return false;
        }
        // The statement checked against what is served (`claim`): refuted, the pace is
        // learned from the answers as when nothing is stated (bounded by the claim).
        let paced = slowest.or_else(|| Some((s.stated?, s.quota?.0, s.quota?.1)));
        // Within a second of a drop (this answer's too), what was served was at the old pace.
        let dropped = s.dropped_until.is_some_and(|until| now < until)
            || slowest.is_some_and(|(rate, ..)| s.stated.is_some_and(|old| rate < old));
        if claim::refuted(s, signal, now, paced, dropped) {
            if let Some((rate, limit, window)) = slowest {
                (s.stated, s.quota, s.stated_at) = (Some(rate), Some((limit, window)), now);
            }
            return false;
        }
        if let Some((_, limit, window)) = slowest {
            s.quota = Some((limit, window));
        }
        let probed = super::bucket::note_room(s, signal, now, sent);
        let stated = slowest.map(|(rate, ..)| rate);
        let kept = (!stale(s, stated, now)).then_some(s.stated).flatten();
        let Some(rate) = stated.filter(|r| *r > 0.0).or(kept) else {
            if signal.throttled {
                // A refusal is never a burst's credit, whatever remains of a count (the pace
                // is learned from it); one saying something remains is another limit's
                // (GitHub's secondary beside its hourly count): the remainder is not spent as
                // a burst from then on (a burst of 4,000 retried each refused id at once).
                s.credit = 0;
                s.bursts &= signal.remaining == Some(0);
            }
            return false;
        };
        if s.stated.is_some_and(|old| rate < old) {
            drop_to(s, rate, now);
        }
        s.stated = Some(rate);
        if let Some(renews) = super::renewal::note(s, signal, sent, now) {
            hold(s, renews, WaitCause::Asked);
        }
        super::bucket::trust_remainder(s, signal, now, sent.at);
        let trusted = s.claim == claim::Claim::Trusted;
        super::others::note(s, signal, (sent, trusted), now);
        space_when_empty(s, signal, now, rate);
        note_depth(s, signal, limit);
        share_after(s, signal, now, (rate, limit, sent), probed);
        true
    }
}

/// The stated limit dropped to `rate`: what was sent at the old pace may still be refused, and
/// what waits to be sent takes a slot at the new pace.
fn drop_to(s: &mut State, rate: f64, now: Instant) {
    s.dropped_until = Some(now + DROP_GRACE);
    s.repace(now + secs(1.0 / (rate * s.share * HEADROOM)));
    // The sends at the old pace are the platform's to judge (its remainder, and its refusals,
    // which do not cut the share within the grace): a bucket has forgotten them as it
    // refilled, and the log would stall every send for most of a window.
    s.log.clear();
}

/// Learns from a stated remainder (`remaining`, of the slowest `limit` stated): the burst it
/// allows, the room it states, and what a count not renewed within a rounding still allows.
fn learn_remainder(
    s: &mut State,
    signal: &Signal,
    now: Instant,
    (cap, sent): (Duration, Sent),
    (remaining, limit): (u64, Option<f64>),
) {
    let most = limit.unwrap_or(MAX_COUNT).min(f64::from(u32::MAX)) as u64;
    let left = remaining.min(most).min(u64::from(u32::MAX)) as u32;
    // This client's share of it: another caller reads the same remainder. No burst
    // once refused under the stated rate (a sliding log keeps a burst for its window).
    if s.bursts {
        s.credit = (f64::from(left.saturating_sub(s.in_flight)) * s.share) as u32;
    }
    if !signal.throttled {
        // The room a served answer states, for `claim` (a refusal with room is another
        // limit's).
        s.room = left.saturating_sub(s.in_flight);
    }
    // Not renewed within a rounding: what is in flight (sent, maybe not counted yet)
    // and what is sent until the next answer are all it allows.
    let refills = s.refills.of(signal.remaining_of);
    // A refuted reset (passed, still refused): sends go alone, as for a count spent.
    let counted = counted(signal, refills, inferred(s, now)) || super::skew::refuted(signal);
    restate(s, counted.then_some(left), sent.alone);
    if !refills {
        spent_until_reset(s, signal, now, cap, sent.probe, counted);
    }
}

/// This client's share of the stated `rate` after an answer at `now` (to a request `sent` so):
/// cut by a refusal to half of itself (what of a fixed window it lasted, `renewal::lasted`; one
/// stating no remainder on trial, `noise`, and not within the loss level learned),
/// not by one answering the old pace of a drop, nor one saying a window's count is spent; 5%
/// less when the bucket is about empty with requests in flight, else one request of the quota
/// (`limit`) back (a fixed window's renewal known: by what the window left, `renewal`).
fn share_after(
    s: &mut State,
    signal: &Signal,
    now: Instant,
    (rate, limit, sent): (f64, Option<f64>, Sent),
    probed: bool,
) {
    // A refusal stating no remainder cuts the share on trial (`noise`): counted in it.
    let counted = s.trial.is_some() && super::aimd::since_cut(s, sent.generation);
    super::noise::note(s, signal.throttled, counted, now);
    if signal.throttled {
        let cut = super::renewal::lasted(s, sent, now).unwrap_or(0.5);
        s.credit = 0;
        // A refusal saying a window's count is spent (the allowance follows that, and the
        // hold its reset) is no other caller's spending: the pace and the bursts stay; so is
        // one by a faster policy than the pace's (both count every request: another caller's
        // spending would show in the paced one too), which the burst overspent.
        let refills = s.refills.of(signal.remaining_of);
        let dropped = s.dropped_until.is_some_and(|until| now < until)
            || spent_window(signal, refills, inferred(s, now))
            || faster(signal, s.quota);
        if !dropped {
            s.bursts = false;
            // The platform's remainder was trusted over the log (it seemed to forget sends):
            // refused beyond the quota, the log holds again, for good.
            s.room_refuted |= std::mem::take(&mut s.forgets);
        }
        // Nor a send's beyond the quota while the log was lifted (`bucket::note_room`): no cut.
        // Nor a refusal stating no remainder among many served (loss on the way, `noise::tally`),
        // or within the loss level learned, or while the cut of one is on trial (loss on the
        // way, or a request's own lock, refuses at any pace: `noise`; a far larger share ends
        // the trial as a limit, and cuts).
        let bare = signal.remaining.is_none();
        let first = *s.first.get_or_insert(now);
        let (refused, answers) = super::served::last_second(s, now, first);
        let lost = bare && (s.loss || noise::explained(s, refused, answers) || s.trial.is_some());
        if !dropped && !probed && !lost && !recent(s, now, rate) {
            let before = s.share;
            s.share = (s.share * cut).max(MIN_SHARE);
            s.last_cut = Some(now);
            s.repace(now);
            if bare {
                s.cut.generation = s.generation;
                noise::begin(s, noise::Before::Share(before), refused, answers);
            }
        }
        let interval = secs(1.0 / (rate * s.share * HEADROOM));
        let at = now + interval;
        s.next = Some(s.next.map_or(at, |n| n.max(at)));
    } else if signal
        .remaining
        .is_some_and(|left| about_empty(left, limit, s.depth.1) && s.in_flight > 0)
    {
        // The bucket is about empty (one left at most) with requests still on the way: this
        // client's share is 5% less (another caller may spend it too; alone, the share settles just under the
        // stated rate). Not within a second of a drop: those answer what was sent at the old
        // pace (the bucket the new limit left is empty, whoever spends it).
        if s.dropped_until.is_none_or(|until| now >= until) {
            s.share = (s.share * SHARE_DECAY).max(MIN_SHARE);
        }
    } else if !super::renewal::known(s, now) && s.trial.is_none() {
        // One request of the quota back (1% of it at least): a small quota's share grows
        // back in as many windows as a large one's (a fixed window's renewal: by what it left).
        let growth = limit.map_or(SHARE_GROWTH, |l| SHARE_GROWTH.max(1.0 / l));
        s.share = (s.share + growth).min(1.0);
    }
}

/// Whether a refusal's remainder (0) is of a faster policy than `paced` (the quota and window
/// the pace follows): another policy stated beside it, that the burst overspent.
fn faster(signal: &Signal, paced: Option<(f64, f64)>) -> bool {
    let Some((limit, window)) = paced else {
        return false;
    };
    signal
        .remaining_of
        .and_then(|q| Some(q.limit / q.window?))
        .is_some_and(|rate| rate > limit / window)
}

/// Whether a stated bucket with `left` remaining is about empty: one left, or none of a quota
/// under 4 (one left of 2 is half of it), and the most remaining any answer stated (`depth`) is
/// at least [`SHALLOW`] times that and one more. A shallower bucket is about empty whoever
/// spends it: paced alone just under its rate, each answer states it holds a request or none
/// (a bucket of 100 a second and 2 deep, 600 changes 16 at a time: the share fell 5% a success
/// to its floor, one request at a time, 16.6 s where a bucket 20 deep took 6.5 s and a naive
/// loop 12.6 s; a gateway stating `RateLimit-Remaining: 0` on every answer it served, 17.7 s
/// where the naive loop took 6.6 s), and only its refusals say another caller spends it.
fn about_empty(left: u64, limit: Option<f64>, depth: u64) -> bool {
    let most = u64::from(limit.is_none_or(|l| l >= 4.0));
    left <= most && depth >= SHALLOW * (left + 1)
}

/// How many times what remains a bucket must have held at most for that to be about empty.
const SHALLOW: u64 = 4;

/// Notes the remainder a served answer states of the quota `limit` in the bucket's depth
/// (reset when the quota changes).
fn note_depth(s: &mut State, signal: &Signal, limit: Option<f64>) {
    let Some(left) = signal.remaining.filter(|_| !signal.throttled) else {
        return;
    };
    if s.depth.0 != limit {
        s.depth = (limit, 0);
    }
    s.depth.1 = s.depth.1.max(left);
}

/// An answer (not a refusal) saying nothing is left beyond the requests in flight puts the next
/// send an interval away at least, at `rate` (a send reserved before the pace was known, or as
/// credit, went at once: a list endpoint of 2 a second refused the third read at the start).
fn space_when_empty(s: &mut State, signal: &Signal, now: Instant, rate: f64) {
    let empty = signal
        .remaining
        .is_some_and(|left| left <= u64::from(s.in_flight));
    if empty && !signal.throttled {
        let at = now + secs(1.0 / (rate * s.share * HEADROOM));
        s.next = Some(s.next.map_or(at, |n| n.max(at)));
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

/// Whether a stated remainder is a count that is not renewed within a rounding: its quota's
/// window is longer than [`ROUNDING`], or, with no window stated, its reset is, or the window
/// `inferred` from recent resets is (a window of 5 s near its end states a reset of 1 s: its
/// count is not a bucket's, which refills; read as one, the requests in flight overspent it
/// and its refusals halved the share at every window's end). (A bucket's of a second refills
/// continuously: the pace covers it.)
pub(super) fn counted(signal: &Signal, refills: bool, inferred: Option<f64>) -> bool {
    if refills {
        return false;
    }
    let long = |w: f64| w > ROUNDING.as_secs_f64();
    match signal.remaining_of.and_then(|q| q.window) {
        Some(window) => long(window),
        None => signal
            .reset
            .is_some_and(|reset| reset > ROUNDING || inferred.is_some_and(long)),
    }
}

/// Whether a refusal says a count is spent until it renews (its window stated longer than
/// [`ROUNDING`], or, with none stated, a [`counted`] remainder and no `Retry-After`: one odd
/// reset beside a bucket's `Retry-After: 1` is not a window).
pub(super) fn spent_window(signal: &Signal, refills: bool, inferred: Option<f64>) -> bool {
    signal.remaining == Some(0)
        && !refills
        && match signal.remaining_of.and_then(|q| q.window) {
            Some(window) => window > ROUNDING.as_secs_f64(),
            None => signal.retry_after.is_none() && counted(signal, refills, inferred),
        }
}

/// Restates the allowance from a remainder `left` (none: not a count): what it says remains,
/// less the requests still in flight (not counted in it yet, maybe). Only the answer to a
/// request sent `alone` may raise it (answers overtake each other; none can overtake that one).
fn restate(s: &mut State, left: Option<u32>, alone: bool) {
    let allowed = left.map(|left| left.saturating_sub(s.in_flight));
    s.allowance = match (s.allowance, allowed) {
        (Some(now), Some(allowed)) if !alone => Some(now.min(allowed)),
        _ => allowed,
    };
}

/// What a send may do against the stated remainder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    /// Go (at the pace).
    Open,
    /// Wait for an answer: what remains is spent on the requests in flight (or a claim that
    /// nothing remains is in doubt, and requests are in flight).
    Shut,
    /// Go alone: nothing is allowed, nothing is in flight (an answer with no remainder would
    /// otherwise never come).
    Alone,
    /// Go alone, to confirm a claim that nothing remains until a reset beyond the cap.
    Probe,
}

/// How long sends wait for an answer to restate a spent remainder (or a claim in doubt) before
/// one goes alone as if none were in flight: a request in flight that is never answered (lost
/// on the way, or held by a proxy) does not hold every send until its timeout. Well below any
/// request timeout, and long beside a healthy answer's few milliseconds: one send in this long
/// at most goes past what the remainder allows.
pub(super) const STALLED: Duration = Duration::from_secs(2);

/// The gate for a send now (a claim in doubt whose reset has passed is dropped). Shut for
/// [`STALLED`] with no answer: one goes alone (a probe, when a claim is in doubt), and the
/// others wait for its answer, or for [`STALLED`] again.
pub(super) fn gate(s: &mut State, now: Instant) -> Gate {
    if s.doubt.is_some_and(|(until, _)| until <= now) {
        s.doubt = None;
    }
    let stalled = *s.awaited.get_or_insert(now) + STALLED <= now;
    match (s.doubt.is_some(), s.allowance == Some(0), s.in_flight) {
        (false, false, _) => {
            s.awaited = None;
            Gate::Open
        }
        (_, _, 1..) if !stalled => Gate::Shut,
        (true, ..) => Gate::Probe,
        (false, ..) => Gate::Alone,
    }
}

/// Whether sends may be waiting for an answer (the remainder spent, or a claim in doubt).
pub(super) fn gated(s: &State) -> bool {
    s.allowance == Some(0) || s.doubt.is_some()
}

/// How long a shut gate waits before it looks again (an answer wakes it sooner).
const LOOK_AGAIN: Duration = Duration::from_millis(50);

/// A send that waits for an answer: not reserved, looked at again after [`LOOK_AGAIN`] or at
/// the next answer; refused once the `budget` left is spent.
pub(super) fn shut(budget: Duration, sent: Sent) -> Result<Reservation, Refused> {
    if budget.is_zero() {
        return Err(Refused {
            wait: LOOK_AGAIN,
            cap: budget,
            asked: None,
            cause: WaitCause::Pace,
        });
    }
    Ok(Reservation {
        wait: LOOK_AGAIN.min(budget),
        sent,
        gated: true,
        logged: None,
    })
}

/// What a refusal's wait beyond the cap is: a quota the platform says is spent (nothing
/// remains, no `Retry-After`, its reset within the clamp: GitHub's `403`), else a wait it asked
/// for.
pub(super) fn lock_cause(signal: &Signal) -> WaitCause {
    let far = signal.asked.is_some_and(|a| a.beyond_clamp());
    if signal.retry_after.is_none() && signal.remaining == Some(0) && !far {
        spent(Duration::ZERO, Duration::ZERO, signal.remaining_of).cause
    } else {
        WaitCause::Asked
    }
}

/// An answer that says nothing remains (not a refusal: those hold as asked) holds sends until
/// its reset: within `cap` as a hold (a reset of a rounding or less is held only for a
/// `counted` remainder: a bucket's refills, the pace is enough), beyond it by refusing every
/// send until then once a probe confirms it (the first answer to say so is a claim: sends wait
/// for those in flight, then one goes alone). An answer that says something remains lifts
/// that.
fn spent_until_reset(
    s: &mut State,
    signal: &Signal,
    now: Instant,
    cap: Duration,
    probe: bool,
    counted: bool,
) {
    match signal.remaining {
        Some(0) => {}
        Some(_) => {
            (s.spent, s.doubt) = (None, None);
            return;
        }
        None => return,
    }
    let Some(reset) = signal.reset.filter(|_| !signal.throttled) else {
        return;
    };
    if reset > cap {
        let claim = (now + reset, signal.remaining_of);
        if probe {
            (s.spent, s.doubt) = (Some((claim.0, claim.1, signal.asked)), None);
        } else if s.doubt.is_none() {
            s.doubt = Some(claim);
        }
    } else if reset > ROUNDING || (counted && !reset.is_zero()) {
        let until = super::skew::until(s, signal, now, reset);
        hold(s, until, spent(reset, cap, signal.remaining_of).cause);
    }
}

/// Holds every send until `until` (the later of two holds wins).
pub(super) fn hold(s: &mut State, until: Instant, cause: WaitCause) {
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

/// Whether the platform stopped stating its rate: no answer restated it for two of its windows
/// (two seconds at least). Then it is forgotten, and the pace is learned from refusals (AIMD),
/// from the pace it was (a limiter that stops stating its limit as it lets more through was
/// followed at the old stated pace to the end of the job).
/// `stated`: what this answer states (then it is fresh).
fn stale(s: &mut State, stated: Option<f64>, now: Instant) -> bool {
    if stated.is_some() {
        s.stated_at = now;
        return false;
    }
    let Some(old) = s.stated else {
        return false;
    };
    let window = s.quota.map_or(1.0, |(_, w)| w);
    if now.duration_since(s.stated_at) <= secs((2.0 * window).max(2.0)) {
        return false;
    }
    s.learned = s.learned.or(Some(old * s.share * HEADROOM));
    (s.stated, s.quota) = (None, None);
    true
}
