//! AIMD after a drop, when nothing is stated: what the platform served lately, and how much of
//! the pace it serves since a cut.
//!
//! * **A cut in proportion to what was served.** The answers to requests sent since the last
//!   cut are counted; once [`SHARE_ANSWERS`] came, a new cut (and the pace restored when a
//!   request is served again after the halvings of a refusal that went on) is at most the
//!   pace times the share of them the platform served: a limit that drops to a quarter serves
//!   about a quarter of the pace, and the pace goes there at once, not by 30% a round trip
//!   (each round trip's refusals sleep their `Retry-After` in the job's slots).
//! * **A climb back to a rate served lately.** The most the platform served over a half
//!   second within [`LATELY`] is a rate it allows again soon (a limit that alternates, or a
//!   neighbour's burst over); after a cut below [`DROP`] of it (a drop, not a trim), from
//!   [`QUIET`] after the cut, each success closes the gap to it with a time constant of
//!   [`CLIMB`] (AIMD's own growth, a quarter of its peak a second, took seconds to climb back,
//!   and the limit was down again by then). A window's quota, once
//!   learned, is not climbed past this way (a probe past it is refused until it renews). A
//!   climb refused (the limit is still down) goes back to the pace it started from, and the
//!   next one waits twice as long ([`refused_climb`]).
//! * **A pace served in full.** With no ceiling, the pace grows only while the last half
//!   second served most of it ([`served_in_full`]).
//! * **Refusals that outlasted a bucket.** A limiter that refused everything for a while after
//!   a cut and serves again (a window spent before its end) is not cut in proportion to the
//!   probes it refused ([`outlasted`]): a window renewed, its quota learned ([`renewed`]).

use std::time::{Duration, Instant};

use super::State;
use super::aimd::{MIN_RATE, SETTLE, WINDOW_RENEWS};
use super::served::{SLICES, served_newest};

/// How long a rate the platform served is remembered as served lately ([`climb`] climbs back
/// to it quickly): a limit that drops for a while and comes back is met again within a
/// fraction of a second; one that stays down is no longer climbed back to after this.
const LATELY: Duration = Duration::from_secs(2);

/// How long after a cut the pace waits before it climbs back to a rate served lately: the
/// refusals of the pace cut were answered, and the lower pace was served a few times.
const QUIET: Duration = Duration::from_millis(150);

/// How fast the pace climbs back to a rate served lately: the gap closes with this time
/// constant, in seconds (about two thirds of it in this long).
const CLIMB: f64 = 0.1;

/// A cut to under this fraction of the rate served lately is a drop of the limit, climbed back
/// from quickly; one above it is a trim (a bucket's pace probed just past it, another client's
/// share), regrown as AIMD does: a bucket's half second can serve its burst over its rate, and
/// climbing back to that, each time, was refused each time.
const DROP: f64 = 0.5;

/// The least answers since a cut for the share served to cut the pace in proportion.
const SHARE_ANSWERS: u32 = 4;

/// Counts an answer to a request sent since the last cut.
pub(super) fn count_answer(s: &mut State, throttled: bool) {
    let (served, refused) = &mut s.cut.answers;
    let n = if throttled { refused } else { served };
    *n = n.saturating_add(1);
}

/// The share of the answers to requests sent since the last cut that the platform served,
/// once [`SHARE_ANSWERS`] came.
pub(super) fn served_share(s: &State) -> Option<f64> {
    let (served, refused) = s.cut.answers;
    let answers = served.saturating_add(refused);
    (answers >= SHARE_ANSWERS).then(|| f64::from(served) / f64::from(answers))
}

/// Counts an answer served (for [`between_cuts`]), and notes the rate served over the last half
/// second (the served slices, just advanced to `now`), as the most served lately when it is
/// more, or when that one is older than [`LATELY`].
pub(super) fn note(s: &mut State, now: Instant) {
    s.cut.served_since = s.cut.served_since.saturating_add(1);
    let rate = served_half_second(s);
    let l = &mut s.lately;
    let expired = l.at.is_none_or(|at| now.duration_since(at) > LATELY);
    if rate >= l.most || expired {
        (l.most, l.at) = (rate, Some(now));
    }
    if expired {
        // Another rate to climb back to: the climbs refused were refused below the old one.
        l.refuted = 0;
    }
}

/// The pace a success at `rate` climbs back to: [`SETTLE`] of the most served lately, the gap
/// closed by its part of [`CLIMB`] (`None`: none served lately above the pace, the last cut
/// not below [`DROP`] of it, a window's quota learned, or within [`QUIET`] of the last cut,
/// doubled after a climb refused: [`refused_climb`]). Notes the pace a climb since the last cut
/// started from, and, once one reached [`REACHED`] of its target, that none was refused since.
pub(super) fn climb(s: &mut State, rate: f64, now: Instant) -> Option<f64> {
    let l = s.lately;
    let recent = l.at.is_some_and(|at| now.duration_since(at) <= LATELY);
    let target = l.most * SETTLE;
    let quiet = now.duration_since(s.cut.at) >= QUIET * (1 << l.refuted.min(BACKOFFS));
    // A drop, not a trim: the last cut went below [`DROP`] of that rate.
    let dropped = s.cut.rate < l.most * DROP;
    if !(recent && dropped && rate < target && !s.windowed && quiet) {
        return None;
    }
    let climbed = (rate + (target - rate) / (CLIMB * rate.max(MIN_RATE))).min(target);
    let l = &mut s.lately;
    l.from.get_or_insert(rate);
    if climbed >= target * REACHED {
        (l.from, l.refuted) = (None, 0);
    }
    Some(climbed)
}

/// The pace a cut to `learned` sets, when it ends a climb back to a rate served lately that did
/// not reach it (the limit is still down: the rate served lately was the one before a drop): at
/// most the pace the climb started from, which the platform served, and the next climb waits
/// twice as long after the cut ([`QUIET`] doubled, [`BACKOFFS`]). Cut to 70% of the pace it
/// climbed to, the pace was still twice the limit, was cut again a round trip later, and climbed
/// again 150 ms after that: a limit that dropped from 200 to 50 a second for good was refused two
/// or three times every 400 ms for the 2 s the rate before was remembered (the tester's `drop`:
/// 4.5% refused; `flapbare`, 200 and 50 a second by turns: 5.6-6.3%; the bench's
/// `retry-after+drop-to-50` 2.3%, `retry-after+alternating-50` 5.3%).
pub(super) fn refused_climb(s: &mut State, learned: f64) -> f64 {
    match s.lately.from.take() {
        Some(from) => {
            s.lately.refuted = s.lately.refuted.saturating_add(1);
            learned.min(from)
        }
        None => learned,
    }
}

/// See [`climb`]: a climb that closed this much of the way to its target reached it.
const REACHED: f64 = 0.95;

/// See [`refused_climb`]: the most times [`QUIET`] is doubled after climbs refused in a row
/// (once: 300 ms). More (up to 2.4 s, past [`LATELY`]) cut the refusals after a drop for good
/// a little more, and climbed back late each time a limit alternating each second rose again
/// (`retry-after+alternating-50`: 18.2-19.0 s, where one doubling took 16.6-16.9 s).
const BACKOFFS: u32 = 1;

/// The most the platform served over a half second lately, and the climbs back to it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Lately {
    /// That rate, in requests a second, and when it was served.
    most: f64,
    at: Option<Instant>,
    /// The pace the climb since the last cut started from (`None`: none climbed since).
    from: Option<f64>,
    /// The climbs refused in a row, none of them reaching its target ([`refused_climb`]).
    refuted: u32,
    /// When the latest request the platform served was planned to go ([`note_served`]).
    served_sent: Option<Instant>,
    /// The slowest AIMD pace since the sends waiting were last spaced, and how many times they
    /// were ([`respace`]).
    spaced: Option<f64>,
    respaced: u32,
    /// Answers to first attempts and to repeats of refused requests, each served and refused
    /// ([`count_try`]).
    tries: [(u32, u32); 2],
    /// When a refusal was last seen to be a request's own, a request planned after the one it
    /// repeats served ([`own_refusal`]).
    own: Option<Instant>,
}

/// How many times the slowest pace since the sends waiting were last spaced AIMD's pace must
/// be for them to take their slots again at it ([`respace`]).
pub(super) const RESPACE: f64 = 1.25;

/// After a success grew AIMD's pace (its climb back to `climb` included, when that is more):
/// when the pace is [`RESPACE`] times the slowest since the sends waiting for a slot were last
/// spaced, they are spaced again at it: their slots were reserved one after the other at that
/// slower pace, and kept it after the pace grew (16 sends waiting at 50 a second held the pace
/// there for a third of a second after it doubled; a limit alternating between 200 and 50 a
/// second each second spent half of each fast second climbing back).
pub(super) fn climbed(s: &mut State, climb: Option<f64>, now: Instant) {
    if let Some(climb) = climb {
        s.learned = s.learned.map(|r| r.max(climb));
    }
    respace(s, now);
}

/// See [`climbed`]: the sends waiting take their slots again from now, an interval at the pace
/// after the last send at the earliest.
fn respace(s: &mut State, now: Instant) {
    let Some(rate) = s.learned else {
        return;
    };
    let slowest = s.lately.spaced.map_or(rate, |r| r.min(rate));
    if rate < slowest * RESPACE {
        s.lately.spaced = Some(slowest);
        return;
    }
    s.lately.spaced = Some(rate);
    s.lately.respaced = s.lately.respaced.wrapping_add(1);
    s.next = Some(super::slot::after_last(s).map_or(now, |at| at.max(now)));
}

/// How many times the sends waiting were spaced again ([`climbed`]): one reserved before the
/// last time takes another slot.
pub(super) fn respaced(s: &State) -> u32 {
    s.lately.respaced
}

/// Notes an answer served to a request planned to go at `sent` (`None`: not paced).
pub(super) fn note_served(s: &mut State, sent: Option<Instant>) {
    if sent > s.lately.served_sent {
        s.lately.served_sent = sent;
    }
}

/// The fewest repeats of refused requests refused, counted lately, for [`own_refusal`].
const OWN_LEAST: u32 = 4;

/// The least share of refusals among the repeats of refused requests for [`own_refusal`].
const OWN_SHARE: f64 = 0.5;

/// How many times the share of refusals among first attempts the share among repeats must be
/// for [`own_refusal`] (a limit on the pace refuses both alike: a bucket of 3 a second, 8 at a
/// time, refused 41% of repeats and 35% of first attempts).
const OWN_RATIO: f64 = 2.0;

/// How long after a refusal seen to be a request's own ([`own_refusal`]) another repeat refused
/// is taken as its own too, though nothing planned after its refusal was served yet.
const OWN_MEMORY: Duration = Duration::from_secs(10);

/// Answers counted ([`count_try`]) before the counts are halved: the recent ones weigh most.
const OWN_FORGET: u32 = 256;

/// Counts an answer to a first attempt, or to a repeat of a request refused (`repeats`).
pub(super) fn count_try(s: &mut State, repeats: bool, throttled: bool) {
    let tries = &mut s.lately.tries;
    if !(repeats || throttled) {
        // The most of them: a first attempt served.
        tries[0].0 += 1;
        if tries[0].0 < OWN_FORGET {
            return;
        }
    } else {
        let (served, refused) = &mut tries[usize::from(repeats)];
        *if throttled { refused } else { served } += 1;
    }
    let [(a, b), (c, d)] = *tries;
    if a + b + c + d >= OWN_FORGET {
        *tries = [(a / 2, b / 2), (c / 2, d / 2)];
    }
}

/// Whether a refusal of a request that repeats one refused at `repeats` (`Slot::repeats`) is
/// that request's own, not the pace's: lately, the platform refused most repeats of refused
/// requests ([`OWN_SHARE`], [`OWN_LEAST`]) and few first attempts ([`OWN_RATIO`] times fewer
/// of them), and it served a request planned after that refusal, or did so for another repeat
/// within [`OWN_MEMORY`] (at a job's end only the locked ones are left, all refused). It refuses
/// some requests, not a pace: a lock on one token (a limit on the pace refuses first attempts
/// and repeats alike; a window spent, one request at a time, serves nothing after a refusal).
/// Every fifteenth id refused for 6 s with `Retry-After: 2`, the others served, cut the pace
/// at each repeat refused, to its floor and into a lockout's holds: 600 deletes, 16 at a time,
/// took 37 s where a naive loop took 19 s.
pub(super) fn own_refusal(s: &mut State, repeats: Option<Instant>, now: Instant) -> bool {
    let [(served, refused), (repeats_served, repeats_refused)] = s.lately.tries;
    let share =
        |refused: u32, served: u32| f64::from(refused) / f64::from((refused + served).max(1));
    let of_repeats = share(repeats_refused, repeats_served);
    let some = repeats_refused >= OWN_LEAST
        && of_repeats >= OWN_SHARE
        && share(refused, served) * OWN_RATIO <= of_repeats;
    let Some(at) = repeats.filter(|_| some) else {
        return false;
    };
    if s.lately.served_sent.is_some_and(|sent| sent > at) {
        s.lately.own = Some(now);
        return true;
    }
    s.lately
        .own
        .is_some_and(|own| now.saturating_duration_since(own) < OWN_MEMORY)
}

impl super::Pacer {
    /// Whether the platform served a request of `kind`'s pace planned to go after `at`: a
    /// refusal that came at `at` no longer holds the job (its own request still waits what it
    /// asked: a limit may be on that request alone).
    pub(crate) fn served_after(&self, kind: &'static str, at: Instant) -> bool {
        let mut paces = self.lock();
        let index = paces.index(kind);
        let s = paces.state(index);
        s.lately.served_sent.is_some_and(|sent| sent > at)
    }
}

/// Whether the refusals since the last cut, none served until `now`, lasted longer than a
/// bucket refilling at the pace they would restore (`share` of the cut's) leaves empty: more
/// than [`OUTLASTED`] of its intervals, and [`MIN_OUTLASTED`]. Then the limiter refused
/// everything for a while and serves again (a fixed window renewed, a sliding log's oldest
/// sends left it): the share of refused probes counts the probes sent while it was spent, not
/// how much of the pace it serves. A bucket whose rate dropped serves its first request within
/// about one interval of its new rate and a round trip (an alternating limit's slow second):
/// the cut in proportion stands. (Restored in proportion, a fixed window's renewal put the pace
/// at a fifth of the quota, and AIMD's climb took four seconds back to it: `bare+fixed-window`
/// 14.8 s where reqwest c16 took 10.7 s.)
pub(super) fn outlasted(s: &State, now: Instant, share: f64) -> bool {
    outlasted_by(s, now, share, OUTLASTED)
}

/// [`outlasted`], by more than `intervals` of the pace restored.
fn outlasted_by(s: &State, now: Instant, share: f64, intervals: f64) -> bool {
    let restored = (s.cut.rate * share).max(MIN_RATE);
    let lasted = now.saturating_duration_since(s.cut.at);
    lasted > MIN_OUTLASTED && lasted.as_secs_f64() > intervals / restored
}

/// Whether the refusals since the last cut, none served until `now`, outlasted a bucket
/// ([`outlasted`] by [`WINDOW_OUTLASTED`] intervals, the share of the answers since the cut
/// served as the pace restored), with no lockout seen, and counted from the cut (`refused_from`,
/// not the end of a hold since: nothing was sent during it, and its refusals say nothing of
/// when the window renewed): a window renewed, though sooner than the half second of refusals
/// that tells one (`aimd::RENEWAL`). A pace over a window's quota spends it late in its second,
/// and it renews a tenth or two of a second after the first refusal. Taken for a bucket, the
/// pace went back to the share of the halved pace's probes served (a tenth of the quota,
/// climbed back from for seconds), or to the pace cut, its quota not learned, and over the
/// quota again (Envoy's window of 200 a clock second, a bare `429`: 2.6% refused and 0.68 of
/// the ideal, tester round 23, F2).
pub(super) fn renewed(s: &State, now: Instant, refused_from: Instant) -> bool {
    let counted = refused_from <= s.cut.at && s.locks.is_none();
    counted && served_share(s).is_some_and(|share| outlasted_by(s, now, share, WINDOW_OUTLASTED))
}

/// See [`outlasted`]: how many intervals of the pace restored in proportion a bucket's first
/// request served may take after a cut (the probes' round trips and their halved pace).
const OUTLASTED: f64 = 4.0;

/// [`OUTLASTED`] for [`renewed`]: four let a window spent late in its second pass for a bucket
/// (refused 0.17 s after a cut to 133 a second, one answer in nine served: a bucket of 15 a
/// second, which serves within 0.07 s). The pace restored after refusals that did not outlast
/// a bucket stays as [`OUTLASTED`] says.
const WINDOW_OUTLASTED: f64 = 2.0;

/// See [`outlasted`]: refusals this short say nothing of a window (a bucket's first request
/// served after a cut comes back within a few round trips).
const MIN_OUTLASTED: Duration = Duration::from_millis(100);

/// The ceiling a new cut notes, `ceiling` being what the last second served: at most what the
/// platform served since the last cut, a second or two ago, over the time since
/// ([`BETWEEN`]), not under [`TRIM`] of `ceiling`. A token bucket is empty at each refusal, so
/// what it served between two is its rate times the time between; what a second served counts
/// the burst it refilled while the pace was cut, too (a bucket of 50 a second was noted at 60
/// a second, the pace settled at 59, and every second or so was refused again: the tester's
/// drop to 50 a second, 6.7% refused). Not for a window (its quota is counted apart), nor
/// before a first cut.
pub(super) fn between_cuts(s: &State, now: Instant, ceiling: f64) -> f64 {
    let between = now.saturating_duration_since(s.cut.at);
    if s.windowed || s.cut.rate <= 0.0 || !BETWEEN.contains(&between) {
        return ceiling;
    }
    let rate = f64::from(s.cut.served_since) / between.as_secs_f64();
    ceiling.min(rate.max(ceiling * TRIM))
}

/// See [`between_cuts`]: the time between two cuts over which what was served tells a bucket's
/// rate (shorter, a round trip's answers weigh too much; longer, a bucket left to fill while
/// the pace was below it served less than its rate).
const BETWEEN: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(500)..=Duration::from_millis(2500);

/// See [`between_cuts`]: the most it trims the ceiling the last second gives.
const TRIM: f64 = 0.75;

/// What a window that refused from the last cut until `now` let through: what the second
/// before the cut served (and the requests sent before it served after it), or what the second
/// before the last refusal of a request sent since the cut served (`Cut::window`), whichever is
/// fewer, when served again within [`WINDOW_RENEWS`]. A window of a second that still refused then renewed less
/// than a second before that refusal, so that second holds what it served since it renewed
/// and little of the window before; the second before the cut often straddles that renewal
/// and counts the end of the window before too (Envoy's fixed window of 200 a clock second, a
/// bare `429`: quotas of 330 to 347 learned, the pace settled at 99% of them, and 8% of the
/// requests refused: tester round 17, F8 `envoy`). The second before the answer served again
/// is no measure: sent late (a hold, the halved pace's probes), it misses some of the window.
/// Refusals of requests sent before the cut are not counted: the answers to a burst sent into
/// another caller's spending of a shared bucket took this client's share for the quota (two
/// clients on one bucket: one of them 0.3 s slower).
pub(super) fn window_count(s: &State, now: Instant) -> u32 {
    if now.saturating_duration_since(s.cut.at) > WINDOW_RENEWS {
        return s.cut.served;
    }
    s.cut.served.min(s.cut.window)
}

/// The pace a window's renewal sets, `quota` (what it let through, `window_count`) learned
/// `now`: [`SETTLE`] of it. Counted over less than a second of answers (the last cut came within
/// a second of the first), it is provisional: the count was per window, and the window may be
/// shorter than a second (100 each 500 ms, the first refusal 0.25 s into the run, was learned
/// as 100 a second and paced at half the limit to the end of the run: tester round 26). Then
/// the pace is [`PROVISIONAL`] of it for [`VERIFY`] ([`verifying`]).
pub(super) fn window_quota(s: &mut State, quota: f64, now: Instant) -> f64 {
    s.windowed = true;
    s.ceiling = Some(quota);
    let short = s
        .first
        .is_none_or(|first| s.cut.at.saturating_duration_since(first) < Duration::from_secs(1));
    s.provisional = short.then_some(now);
    (quota * if short { PROVISIONAL } else { SETTLE }).max(MIN_RATE)
}

/// Whether a provisional window's quota ([`window_quota`]) is still being checked, `now`: its
/// pace, a little over it, is not grown meanwhile. A window of a second refuses that pace at its
/// end within [`VERIFY`] (a cut since: confirmed, and learned again as any window's is); served
/// for that long with none refused, it was a shorter window's count, not a quota a second: it
/// is forgotten, and the pace grows as with no ceiling until the next refusal (the limit's rate
/// found as a bucket's).
pub(super) fn verifying(s: &mut State, now: Instant) -> bool {
    let Some(at) = s.provisional else {
        return false;
    };
    if s.cut.at > at {
        s.provisional = None;
        return false;
    }
    if now.saturating_duration_since(at) < VERIFY {
        return true;
    }
    (s.provisional, s.windowed, s.ceiling) = (None, false, None);
    false
}

/// See [`window_quota`]: the pace of a provisional quota, as a share of it: a window of a second
/// whose quota it is refuses the last few of its sends.
const PROVISIONAL: f64 = 1.03;

/// See [`verifying`]: how long a provisional quota's pace is checked: a window of a second and
/// the round trips of its last sends.
const VERIFY: Duration = Duration::from_millis(2100);

/// How long after the last cut a second served past the ceiling may forget it (`lift`: a
/// bucket's `aimd::LIFT_AFTER`): a whole second for a window's quota learned, so that the
/// second counted lies after the cut. A quarter second at 360 a second before a cut and the
/// rest at 198 after the window renewed served 238, over 1.1 times its quota: the quota was
/// forgotten, the pace grew past it, and each window's end was refused.
pub(super) fn lift_after(s: &State, lift: Duration) -> Duration {
    if s.windowed {
        Duration::from_secs(1)
    } else {
        lift
    }
}

/// Whether the last half second served at least [`FULL`] of the pace (the slices advanced).
pub(super) fn served_in_full(s: &State, rate: f64) -> bool {
    served_half_second(s) >= rate * FULL
}

/// What a second served past the ceiling is read from (`aimd::grow`'s lift): the last second's
/// count (`second`), or the last half second's, in requests a second, when that is more and
/// counts [`HALF_COUNTS`] answers at least (not a window's: its renewal is counted over a whole
/// second). A limit that rose is found half a second sooner: a bucket of 50 a second that went
/// to 400 was lifted from 2.7 s after the rise, the pace 20% over the old ceiling for a second.
pub(super) fn served_for_lift(s: &State, second: f64) -> f64 {
    let half = served_half_second(s);
    if s.windowed || half / 2.0 < HALF_COUNTS {
        second
    } else {
        second.max(half)
    }
}

/// The least answers a half second must count for [`served_for_lift`] to read it.
const HALF_COUNTS: f64 = 20.0;

/// What the last half second served, in requests a second.
fn served_half_second(s: &State) -> f64 {
    f64::from(served_newest(s, SLICES / 2)) * 2.0
}

/// The least share of the pace the last half second served for [`served_in_full`]: a pace that
/// grows past it waits for what is served to catch up; one the requests in flight hold back (a
/// ceiling of 3 at 20 ms: 150 a second) stays within a third above what they let through.
const FULL: f64 = 0.75;
