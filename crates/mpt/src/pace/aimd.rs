//! AIMD, when the platform states no rate: what its refusals and answers say of the limit.

use std::time::{Duration, Instant};

use super::served::{SLICES, last_second, served_last_second};
use super::{MAX_FIXED_RATE, ROUNDING, State, lately, noise};
use crate::ratelimit::secs;

/// The fraction of the ceiling AIMD settles at: a window's quota (learned from its renewal), or
/// what a bucket served over the second before it refused (at least its rate).
pub(super) const SETTLE: f64 = 0.99;

/// What the last second served, as a fraction of the pace refused, for it to tell the limit.
const BUSY: f64 = 0.9;

/// What AIMD adds back a second below [`NEAR`] of the ceiling: this fraction of the most the
/// platform served the client in a second (its peak), whatever the client's own rate (TCP adds
/// one segment per round trip, not a share of its window).
const ADD: f64 = 0.25;

/// A second that served this many times the ceiling says the ceiling was too low.
const LIFT: f64 = 1.1;

/// How long after the last cut a second that served [`LIFT`] times the ceiling may say it was
/// too low: most of the second counted is at the pace the cut set. Sooner, it counts what was
/// served before the cut, and, on a fixed window, the end of one window and the start of the
/// next (up to twice its quota: the ceiling of Envoy's window of 200 a clock second was
/// forgotten 0.1 s after a cut, and the pace grew 2% a success to thousands a second). A
/// whole second: a limit alternating each second between 200 and 50 a second was followed
/// more slowly (the climb back waited for it). A window's quota: `lately::lift_after`.
const LIFT_AFTER: Duration = Duration::from_millis(750);

/// What AIMD adds back per success with no ceiling (one forgotten as too low): this fraction of
/// the rate, until the next refusal.
const GROWTH: f64 = 0.02;

/// What a refusal leaves of the AIMD rate.
const DECREASE: f64 = 0.7;

/// The fraction of the ceiling from which AIMD only probes.
const NEAR: f64 = 0.95;

/// How fast AIMD probes near the ceiling: this fraction of the peak a second.
const PROBE: f64 = 0.05;

/// How fast AIMD probes above [`SETTLE`] of the ceiling: this fraction of the peak a second (a
/// limit that rises is found; one that stays is not hit again soon).
const CREEP: f64 = 0.01;

/// How long AIMD creeps above [`SETTLE`] of the ceiling before it grows at [`ADD`] again (a
/// ceiling learned while another client spent most of the limit is not kept for long).
const PATIENCE: Duration = Duration::from_secs(3);

/// How fast AIMD probes above [`SETTLE`] of a window's quota: this fraction of the peak a
/// second, rising to [`PROBE`] over [`WINDOW_PATIENCE`] (a fixed window or a sliding log refuses
/// everything until it renews: a probe past its quota stalls every request until then).
const WINDOW_CREEP: f64 = 0.001;

/// How long AIMD creeps above [`SETTLE`] of a window's quota before it probes at [`PROBE`].
const WINDOW_PATIENCE: Duration = Duration::from_secs(600);

/// What AIMD adds back a second at least, in requests a second.
const INCREASE: f64 = 1.0;

/// The slowest AIMD goes, in requests a second.
pub(super) const MIN_RATE: f64 = 1.0;

/// An AIMD refusal that lasted this long before a request sent after it was served is a window
/// that renewed (a fixed window or a sliding log refuses everything until then; a token bucket
/// serves again within a few milliseconds): its quota is what the last second let through.
const RENEWAL: Duration = Duration::from_millis(500);

/// How long after a cut a window learned ([`RENEWAL`]) may go on refusing, none served: its
/// second, and the round trip of a request sent just before it renewed. Longer, it was none.
pub(super) const WINDOW_RENEWS: Duration = Duration::from_millis(1500);

/// How long after a cut a request served tells a window of a second renewed, whatever holds came
/// between (`served_again`): the second and a round trip.
const WINDOW_SECOND: Duration = Duration::from_millis(1100);

/// The least a second must have served before a cut for a refusal that lasted [`RENEWAL`] to
/// be taken as a window renewing: fewer is another caller's spending (two processes on one
/// limit: a client that was served 4 requests before the other drained the bucket, and
/// whose refused request came back after its 1 s `Retry-After`, took 4 a second as the
/// window's quota and crept up from it for a minute).
const MIN_QUOTA: u32 = 10;

/// How far the pace is halved while still refused after a cut: to this fraction of the cut's
/// pace at most (the sends waiting meanwhile are not put off for long).
pub(super) const HALVINGS: f64 = 16.0;

/// How many halvings since a cut, each pace refused, a refusal asking for a rounding at most
/// (or for nothing) must come after to hold every send ([`holds`]): the pace halved to its
/// floor ([`HALVINGS`]) and refused there once more (a lockout refuses every probe; a fixed
/// window or a sliding log the pace overspent serves again within tens of milliseconds). After one
/// halving, as a longer wait does, a fixed window's `Retry-After: 1` (its renewal, a few
/// milliseconds off, rounded up) held every send for a second at each of its refusals and hid
/// the renewal that tells a window: `retry-after+fixed-window` 13.6 s, reqwest c16 10.7 s.
pub(super) const SHORT_HALVINGS: u32 = 5;

/// The first hold of a lockout that asks for no wait (a bare `429` refused again at the halved
/// pace, none served); it grows as [`LOCKOUT_GROWTH`] says.
const BACKOFF: Duration = Duration::from_millis(250);

/// How much a lockout's hold grows at each refusal of a request sent after the hold before it
/// ended, none served since (the lockout was extended: another process on the token sent into
/// it, or the hold ended inside it): the hold is this many times the one before, at most the
/// cap (`max_retry_after`) and what is left of the wait budget. Two processes whose holds of
/// one length ended in lock-step kept extending one shared lockout until their budgets ran out.
const LOCKOUT_GROWTH: f64 = 2.0;

/// The longest hold of a lockout that asks for no wait, before its random part (a naive loop
/// sleeps a second; twelve bare `503`s in a row grown to the cap failed bulk jobs).
const BACKOFF_MOST: Duration = Duration::from_secs(2);

/// The random extra part of a grown lockout hold: up to this fraction of it, drawn anew by each
/// client (two processes' grown holds do not end together).
const LOCKOUT_JITTER: f64 = 0.5;

/// AIMD's last cut.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cut {
    /// When.
    pub(super) at: Instant,
    /// The pace's generation it started (a request sent at it or later was sent since).
    pub(super) generation: u32,
    /// What the second before it served, and the requests sent before it served after it.
    pub(super) served: u32,
    /// The pace it set.
    pub(super) rate: f64,
    /// The answers to requests sent since, served and refused.
    pub(super) answers: (u32, u32),
    /// The answers served since, whenever sent (`lately::between_cuts`).
    pub(super) served_since: u32,
    /// Made from no pace (the job's start, sent as fast as its concurrency allows): refused
    /// again, its pace goes to its floor at once, not by halvings (`learn_tallied`).
    pub(super) unpaced: bool,
    /// What the second before the last refusal of a request sent since it served, that refusal
    /// within a second of it, none served since it (`u32::MAX`: none yet): `lately::window_count`.
    pub(super) window: u32,
}

/// AIMD, when nothing is stated. A refusal of a request sent before the last cut answers
/// the old pace: it says nothing new. One sent since, before any of those was served (the
/// platform still refuses: a window not renewed yet), halves the pace until one is served;
/// once one was, it is a new limit: a cut to [`DECREASE`] of the rate or [`NEAR`] of the
/// ceiling (what the platform let through over the last second), whichever is lower. When
/// the platform refused for [`RENEWAL`] or longer before it served again, it renewed a
/// window: its quota is what the last second let through before the cut ([`MIN_QUOTA`] at
/// least). Each success adds back its part of an amount a second the same whatever the
/// client's own rate ([`grow`]).
#[cfg(test)]
pub(super) fn learn(s: &mut State, throttled: bool, now: Instant, sent: u32) {
    s.loss = noise::tally(s, throttled, now);
    learn_tallied(s, throttled, now, sent);
}

/// What `learn` does (the rule above), the answer already counted (`noise::tally`).
pub(super) fn learn_tallied(s: &mut State, throttled: bool, now: Instant, sent: u32) {
    let first = *s.first.get_or_insert(now);
    let since_cut = since_cut(s, sent);
    // Whether the refusals stop at the lower pace (a cut's trial).
    noise::note(s, throttled, since_cut && s.resolved, now);
    if since_cut {
        lately::count_answer(s, throttled);
    }
    if throttled
        && since_cut
        && !s.resolved
        && now.saturating_duration_since(s.cut.at) < Duration::from_secs(1)
    {
        // Refused still: a window not renewed yet (`lately::window_count`).
        s.cut.window = s.cut.window.min(served_last_second(s, now, first));
    }
    if !throttled {
        if !since_cut && !s.resolved {
            // Sent before the cut and served: part of what the window let through.
            s.cut.served = s.cut.served.saturating_add(1);
        } else if since_cut && !s.resolved {
            served_again(s, now);
        } else if let (Some(rate), false) = (s.learned, lately::verifying(s, now)) {
            // Not while a provisional window's quota is checked.
            grow(s, rate, now, first);
        }
        return;
    }
    match s.learned {
        // An answer to the pace before the last cut.
        Some(_) if !since_cut => {}
        // Still refused since the cut, none served yet (a window not renewed yet): the pace
        // is halved until one is, at the first refusal of each pace (those sent before it
        // answer the pace halved); a window's too (kept, the rest of a window whose quota
        // dropped went at the old pace, all refused: `short_window`).
        Some(rate) if !s.resolved => {
            if s.windowed && now.duration_since(s.cut.at) > WINDOW_RENEWS {
                // Refused past a window's renewal, none served: no window (a lockout one hold
                // ended looked like one); its pace is halved, and held at the floor.
                (s.windowed, s.window_refuted) = (false, true);
            }
            if sent == s.generation {
                let floor = (s.cut.rate / HALVINGS).max(MIN_RATE);
                // From no pace, the cut's is a guess: refused, nothing is known of the limit
                // (a window of a second spent by a job's start refused 34 of its sends to
                // halvings, 26 now; tester round 26's drop inside a window).
                let halved = if s.cut.unpaced { floor } else { rate / 2.0 }.max(floor);
                s.learned = Some(halved);
                s.repace(now + secs(1.0 / halved));
            }
        }
        // A new limit, unless the refusals over the last second are within the loss level
        // learned; the cut's trial tells loss from a limit (`noise`).
        known => {
            let (refused, answers) = last_second(s, now, first);
            if !noise::explained(s, refused, answers) {
                let before = noise::Before::Pace(known, s.ceiling);
                let open = s.trial.is_some();
                cut(s, known, now, first);
                if !open {
                    noise::begin(s, before, refused, answers);
                }
            }
        }
    }
}

/// Whether a request sent at generation `sent` went at the last cut's pace or later (they wrap).
pub(super) fn since_cut(s: &State, sent: u32) -> bool {
    sent.wrapping_sub(s.cut.generation) < u32::MAX / 2
}

/// Whether a refusal asking for a wait longer than a rounding holds every send (`sent`: the
/// pace's generation its request was sent at): only when the platform refused again at a pace
/// already halved since the last cut, none served meanwhile (it refuses everything: a lockout,
/// a window to renew). The first refusal of a new limit, and those answering the pace before
/// it, only cut the pace (the refused request waits): a bucket that asks for a fixed
/// `Retry-After` of seconds serves again within milliseconds, and a hold at each refusal
/// stalled every send for seconds (a naive loop, whose other requests go on, was faster).
///
/// A refusal asking for a rounding at most (`asked`: a `Retry-After` of 2 s or less) or for
/// nothing holds only once the pace was halved to its floor and refused there once more
/// ([`SHORT_HALVINGS`]): a fixed window or a sliding log the pace overspent refuses for a few
/// milliseconds more and asks for a whole second. A limiter seen to lock out (`State::locks`):
/// every refusal holds, at once.
pub(super) fn holds(s: &State, sent: u32, asked: Option<Duration>) -> bool {
    if s.locks.is_some() {
        // A limiter seen to lock out: each request sent into its lockout extends it.
        return true;
    }
    let halvings = sent.wrapping_sub(s.cut.generation);
    let least = match asked {
        Some(wait) if wait > ROUNDING => 1,
        _ => SHORT_HALVINGS,
    };
    s.learned.is_some() && !s.resolved && (least..u32::MAX / 2).contains(&halvings)
}

/// Until when every send is held for a lockout ([`holds`] says it is one): `asked` (the
/// `Retry-After`, its date read to the end of its second), or [`BACKOFF`] when none is asked.
/// Each refusal that came after the hold before it ended (a request sent after it: the lockout
/// was extended, or the hold ended inside it) grows the hold [`LOCKOUT_GROWTH`] times (a wait
/// asked: once), with a random extra part of up to [`LOCKOUT_JITTER`] of it, at most `cap`; none
/// asked of a limiter seen to lock out, the hold that ended its last lockout; those answering sends
/// made before the hold ended only hold until their own wait has passed. Reset once one is
/// served. A limiter that locks out and extends the lockout on every refused request
/// (fail2ban-like) gets its quiet time, from one process or several on one token.
pub(super) fn lockout_hold(
    s: &mut State,
    now: Instant,
    asked: Option<Duration>,
    cap: Duration,
) -> Instant {
    let hold = if s.held_until.is_none_or(|h| h <= now) {
        // A wait asked grows once (grown at each probe refused, one process's hold reached
        // 18 s while the other finished its half alone).
        let repeats = s.lockouts.min(if asked.is_some() { 1 } else { 32 });
        s.lockouts = s.lockouts.saturating_add(1);
        // None asked of a limiter seen to lock out: the hold that ended its last lockout.
        let base = asked.or(s.locks).unwrap_or(BACKOFF).as_secs_f64();
        let mut grown = base * LOCKOUT_GROWTH.powi(repeats as i32);
        if asked.is_none() {
            // A refusal that is a count, not a time (a gateway shedding a dozen requests in a
            // row), is not made to cost minutes.
            let most = s.locks.map_or(BACKOFF_MOST, |l| l.max(BACKOFF_MOST));
            grown = grown.min(most.as_secs_f64());
        }
        let jitter = if repeats == 0 {
            0.0
        } else {
            fastrand::f64() * LOCKOUT_JITTER
        };
        s.backoff = secs(grown * (1.0 + jitter)).min(cap);
        if asked.is_none() && s.locks.is_none() {
            // A window of a second spent by the cut's refused request renews within a second
            // of it: a hold ends then (held on, the first requests of the next window waited
            // up to a quarter of it: a window's quota dropping to 50 a second, a bare `429`).
            let renews = (s.cut.at + Duration::from_secs(1)).saturating_duration_since(now);
            if !renews.is_zero() {
                s.backoff = s.backoff.min(renews);
            }
        }
        s.backoff
    } else {
        asked.unwrap_or(s.backoff).min(cap)
    };
    now.checked_add(hold).unwrap_or(now + BACKOFF)
}

/// A request sent since the last cut was served. After a refusal of [`RENEWAL`] or longer, or
/// one that outlasted a bucket (`lately::renewed`), a window renewed: its quota is what the last
/// second let through before the cut, the pace [`SETTLE`] of it; else the pace halved is restored.
fn served_again(s: &mut State, now: Instant) {
    s.resolved = true;
    // Held over a second, and refused past a window's renewal none served: a lockout (a hold of
    // `Retry-After: 1`, a bucket's rounding, outlasted by another process spending the bucket,
    // is none).
    let long_hold = s.lockouts > 0 && s.backoff > Duration::from_secs(1);
    if long_hold && now.duration_since(s.cut.at) > WINDOW_RENEWS {
        s.locks = Some(s.backoff);
    }
    // One hold of a rounding at most (a window's `Retry-After: 1`, its renewal rounded up) hides
    // when the window renewed, not that it did: counted from the cut (a window's start refused
    // for most of its second was held, and its quota, unlearned, let the pace climb back to
    // twice it, a hold at each refusal: `retry-after+fixed-window` 13.0 s in one run of five).
    // So do holds of its own (a bare `429`) ended by a window's latest renewal (`lockout_hold`).
    let within = now.saturating_duration_since(s.cut.at) <= WINDOW_SECOND;
    let short_hold = (s.lockouts == 1 && s.backoff <= ROUNDING || within)
        && !s.window_refuted
        && s.locks.is_none();
    s.backoff = Duration::ZERO;
    s.lockouts = 0;
    // Else counted from the end of a hold (nothing was sent during it: served right after, the
    // platform refused for as long as it was asked to wait, no longer).
    let refused_from = match s.held_until {
        Some(h) if !short_hold => h.max(s.cut.at),
        _ => s.cut.at,
    };
    if std::mem::take(&mut s.count_spent) && now.duration_since(s.cut.at) > ROUNDING {
        // A count the refusals said was spent until a stated reset, renewed after a hold
        // longer than a rounding: what was served before it is the count, not a quota a
        // second; sends are not paced until the next refusal says it is spent again (tester
        // round 9: a limiter that refused for 15 s, stating `X-RateLimit-Limit: 100`, then
        // served all, stating nothing, was paced at the 50 a second served before the hold).
        (s.learned, s.ceiling, s.windowed) = (None, None, false);
        s.repace(now);
        s.cut.generation = s.generation;
        return;
    }
    let long = now.duration_since(refused_from) >= RENEWAL;
    let renewed = (long || lately::renewed(s, now, refused_from)) && s.cut.served >= MIN_QUOTA;
    // What the window let through: the fewer of two seconds served (`lately::window_count`).
    let counted = lately::window_count(s, now);
    let learned = if renewed {
        let quota = f64::from(counted.max(MIN_QUOTA));
        lately::window_quota(s, quota, now)
    } else if s.locks.is_some() {
        // After a lockout, at half the cut's pace, grown back as after a cut (each process on
        // the token back at its own cut's pace at once locked them out again; from the floor,
        // the pace took 10 s to grow back).
        let half = (s.cut.rate / 2.0).max(MIN_RATE);
        s.learned.map_or(half, |l| l.max(half)).min(s.cut.rate)
    } else {
        let restored = match lately::served_share(s) {
            Some(share) if !lately::outlasted(s, now, share) => s.cut.rate * share,
            // What the second before the cut served is what the limiter lets through in one
            // (a sliding log's count; a fixed window's, give or take its renewal).
            Some(_) => s
                .cut
                .rate
                .min(f64::from(s.cut.served.max(MIN_QUOTA)) * SETTLE),
            None => s.cut.rate,
        };
        s.learned.unwrap_or(restored).max(restored)
    };
    s.learned = Some(learned);
    // Those waiting at a halved pace take a slot at this one; a refusal of one sent before is
    // no new limit.
    s.repace(now);
    s.cut.generation = s.generation;
}

/// A success adds back its part of an amount a second: [`ADD`] of the peak below [`NEAR`] of the
/// ceiling, [`PROBE`] of it up to [`SETTLE`] of the ceiling, [`CREEP`] of it above (the ceiling
/// found, the pace stays near it), rising to [`ADD`] as [`PATIENCE`] passes with no cut (above
/// a window's quota: [`WINDOW_CREEP`], rising to [`PROBE`] over [`WINDOW_PATIENCE`]). The
/// amount is the same whatever the client's own rate, so that two clients served alike
/// converge on a fair share (a growth in proportion to the rate let the faster of two grow
/// faster and starve the other). A second (`lately::served_for_lift`) serving over [`LIFT`]
/// times the ceiling, [`LIFT_AFTER`] or more after the last cut, says the ceiling was too low
/// (another client stopped, or the limit rose): it is forgotten, and the pace grows by
/// [`GROWTH`] a success until the next refusal, while served in full. A rate the platform
/// served lately is climbed back to faster when that is more (`lately::climb`).
fn grow(s: &mut State, rate: f64, now: Instant, first: Instant) {
    let second = f64::from(served_last_second(s, now, first));
    let served = lately::served_for_lift(s, second);
    let climb = lately::climb(s, rate, now);
    grow_additive(s, rate, now, served);
    lately::climbed(s, climb, now);
}

/// [`grow`]'s additive part (the rule above but the climb back).
fn grow_additive(s: &mut State, rate: f64, now: Instant, served: f64) {
    // Not sooner than [`LIFT_AFTER`] after the last cut: the second counted then straddles it.
    let after_cut = now.saturating_duration_since(s.cut.at) >= lately::lift_after(s, LIFT_AFTER);
    if after_cut && s.ceiling.is_some_and(|c| served > c * LIFT) {
        s.ceiling = None;
        s.windowed = false;
    }
    let Some(ceiling) = s.ceiling else {
        // Served in full only: one held back by the requests in flight grew to 7,000 a second.
        if lately::served_in_full(s, rate) {
            s.learned = Some((rate * (1.0 + GROWTH)).min(MAX_FIXED_RATE));
        }
        return;
    };
    // A limiter that locks out: a probe past its limit costs a whole lockout, so the pace past
    // the last cut's is probed as a window's quota is.
    let locked = s.locks.is_some() && rate >= s.cut.rate;
    let per_second = if locked {
        let held = now.duration_since(s.cut.at).as_secs_f64() / WINDOW_PATIENCE.as_secs_f64();
        WINDOW_CREEP + (PROBE - WINDOW_CREEP) * held.min(1.0)
    } else if rate < ceiling * NEAR {
        ADD
    } else if rate < ceiling * SETTLE {
        PROBE
    } else if s.windowed {
        // A window refuses everything until it renews: its quota, once known, is probed slowly.
        let held = now.duration_since(s.cut.at).as_secs_f64() / WINDOW_PATIENCE.as_secs_f64();
        WINDOW_CREEP + (PROBE - WINDOW_CREEP) * held.min(1.0)
    } else {
        let held = now.duration_since(s.cut.at).as_secs_f64() / PATIENCE.as_secs_f64();
        CREEP + (ADD - CREEP) * held.min(1.0)
    };
    let step = (per_second * s.peak).max(INCREASE) / rate.max(MIN_RATE);
    s.learned = Some((rate + step).min(MAX_FIXED_RATE));
}

/// A refusal at a pace the platform had served: a new limit. The ceiling is what the platform
/// let through over the last second (younger than a second: the rate so far), at least
/// [`NEAR`] of the pace refused (the last second may have been paced below the limit), at
/// most that pace. A bucket's pace is cut to [`DECREASE`] of itself or [`NEAR`] of the
/// ceiling, whichever is lower; a window's to [`SETTLE`] of its quota (what it let through),
/// to [`DECREASE`] of itself at most. Either is at most the pace times the share of the answers
/// since the last cut the platform served, when enough came (`lately::served_share`), and at
/// least a [`HALVINGS`]th of the pace.
fn cut(s: &mut State, known: Option<f64>, now: Instant, first: Instant) {
    let age = now.duration_since(first).as_secs_f64();
    let last_second = served_last_second(s, now, first);
    let rate = known.unwrap_or_else(|| {
        let seen = now.duration_since(s.window.0).as_secs_f64().max(0.05);
        f64::from(s.window.1) / seen
    });
    let served = if age >= 1.0 {
        // Counted over the last 19 slices and what has passed of this one.
        let slice = 1.0 / SLICES as f64;
        let covered = (SLICES - 1) as f64 * slice + age % slice;
        let served = f64::from(last_second) / covered;
        // Not about the pace refused at: the last second was not spent at it (a lull, then a
        // burst), so what it served says little of the limit.
        Some(if served >= rate * BUSY {
            served
        } else {
            rate * NEAR
        })
    } else {
        (age >= 0.1).then(|| f64::from(last_second) / age)
    };
    let ceiling = served.filter(|r| *r > 0.0).map_or(rate, |r| r.min(rate));
    let ceiling = lately::between_cuts(s, now, ceiling);
    s.ceiling = Some(ceiling);
    let learned = if s.windowed {
        // At least the bucket's cut: a second served below the pace (another caller spent the
        // window too) does not ratchet the pace down refusal after refusal.
        (f64::from(last_second) * SETTLE)
            .max(rate * DECREASE)
            .min(rate)
    } else {
        (rate * DECREASE).min(ceiling * NEAR)
    }
    .max(MIN_RATE);
    let learned = match lately::served_share(s) {
        Some(share) => learned
            .min(rate * share)
            .max((rate / HALVINGS).max(MIN_RATE)),
        _ => learned,
    };
    let learned = lately::refused_climb(s, learned).max(MIN_RATE);
    s.learned = Some(learned);
    s.repace(now + secs(1.0 / learned));
    s.cut = Cut {
        at: now,
        generation: s.generation,
        served: last_second,
        rate: learned,
        answers: (0, 0),
        served_since: 0,
        unpaced: known.is_none(),
        window: u32::MAX,
    };
    s.resolved = false;
}
