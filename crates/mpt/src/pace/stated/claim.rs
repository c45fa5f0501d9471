//! A stated limit is a claim, checked against what the platform serves: a refusal while the
//! stated count says room remains (a gateway in front enforcing less than the application
//! states), or more served in a second than the stated quota could serve (replicas behind a
//! load balancer, each stating its own bucket), refutes it, and the pace is learned from the
//! platform's answers (AIMD) instead, bounded by the claim where it is an upper one.

use std::time::{Duration, Instant};

use super::super::served::{last_second, served_last_second};
use super::super::{HEADROOM, State};
use crate::ratelimit::Signal;

/// What the pacer holds of the stated limit it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(in crate::pace) enum Claim {
    /// Followed as stated.
    #[default]
    Trusted,
    /// Refused while the stated count said room remained: the limit enforced is lower. The
    /// pace is learned (AIMD), at most the stated one; once the learned pace reaches it, the
    /// statement is trusted again.
    Lower,
    /// Served more in a second than the stated quota allows in one, none refused: the stated
    /// quota is not all this client may send (each replica behind a load balancer states its
    /// own). The pace is learned (AIMD), probed above the stated one at most [`PROBE_BOUND`]
    /// times the most served in a second, cut at the first refusal; a refusal at the stated
    /// rate or under it proves the statement true.
    Higher,
}

/// How far above the most the platform served this client in a second the pace may be probed
/// while the stated quota is refuted as too low ([`Claim::Higher`]).
const PROBE_BOUND: f64 = 2.0;

/// How long after a cut the learned pace is not probed past the ceiling it found while the
/// stated limit is refuted, either way ([`settle`]).
const SETTLED: Duration = Duration::from_secs(10);

/// The room the last served answer stated (its remainder less the requests in flight then), as
/// a share of the quota, over which a refusal not saying the quota is spent is another limit's
/// ([`Claim::Lower`]): a bucket's own refusal comes as its remainder runs out.
const ROOM: f64 = 0.25;

/// A second that served this many times what the stated quota can serve in one refutes it as
/// too low ([`Claim::Higher`]; see [`most_served`]).
const OVER: f64 = 1.1;

/// The most a limit of `limit` requests per `window` seconds serves one client in a second: a
/// bucket its burst (at most the limit) and its refill; fixed windows the end of one and the
/// windows begun within the second; a sliding log, its limit.
fn most_served(limit: f64, window: f64) -> f64 {
    limit + limit * (1.0 / window).max(1.0)
}

/// The pace under the claim, from the stated one (its rate times the share and the headroom)
/// and the learned one.
pub(in crate::pace) fn pace(s: &State) -> Option<f64> {
    // At most what other callers left of the quota (a sliding log's remainder tells it).
    let stated = s.stated.map(|rate| {
        let room = super::super::others::room(s, rate).unwrap_or(rate);
        (rate * s.share).min(room) * HEADROOM
    });
    match s.claim {
        Claim::Trusted => stated.or(s.learned),
        Claim::Lower => match (stated, s.learned) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        Claim::Higher => s.learned.or(stated),
    }
}

/// Checks the stated limit the pace follows (`paced`: its rate, limit and window; the last one
/// stated when this answer states none) against an answer at `now`; whether it stands refuted
/// (the pace is then learned from the answers, `aimd`). `dropped`: within a second of a drop
/// of the stated rate (what was served, and refused, answers the old pace).
pub(in crate::pace) fn refuted(
    s: &mut State,
    signal: &Signal,
    now: Instant,
    paced: Option<(f64, f64, f64)>,
    dropped: bool,
) -> bool {
    let Some((rate, limit, window)) = paced else {
        return s.claim != Claim::Trusted;
    };
    let first = *s.first.get_or_insert(now);
    match s.claim {
        Claim::Trusted if signal.throttled => {
            // Not one the statement explains: nothing remains of it (or the refusal states a
            // quota and no remainder: its own, maybe), a drop's old pace, or a refusal taken as
            // loss on the way.
            let spent = signal
                .remaining
                .map_or(signal.quotas().next().is_some(), |l| l == 0);
            let roomy = f64::from(s.room) > (limit * ROOM).max(2.0);
            // Nor one stating no remainder whose cut is, or would be, on trial (`noise`): loss
            // on the way and locks on single requests refuse at any pace, and AIMD under the
            // claim cut at each of them (5% lost at random under a stated 200 a second, a
            // bucket 100 deep: 660 of 1,000 ids done in 60 s where a naive loop took 7.6 s).
            let (refused, answers) = last_second(s, now, first);
            let tried = signal.remaining.is_none()
                && (s.trial.is_some() || super::super::noise::may_try(s, refused, answers));
            if spent || dropped || s.loss || !roomy || tried {
                return false;
            }
            refute(s, Claim::Lower, None);
            true
        }
        Claim::Trusted => {
            if dropped {
                return false;
            }
            let (refused, _) = last_second(s, now, first);
            let served = f64::from(served_last_second(s, now, first));
            if refused > 0 || served <= most_served(limit, window) * OVER {
                return false;
            }
            refute(s, Claim::Higher, Some(served));
            true
        }
        Claim::Lower => {
            let proven =
                !signal.throttled && s.learned.is_some_and(|l| l >= rate * s.share * HEADROOM);
            if proven {
                trust(s);
            } else {
                settle(s, now, f64::INFINITY);
            }
            !proven
        }
        Claim::Higher => {
            // Refused at the stated rate or under it: the statement holds after all (this
            // refusal answers a probe: it does not cut the share, `stated::share_after`).
            let served = f64::from(served_last_second(s, now, first));
            if signal.throttled && served <= rate * OVER {
                trust(s);
            }
            settle(s, now, PROBE_BOUND * s.peak.max(rate));
            true
        }
    }
}

/// Bounds the learned pace at `bound`, and, for [`SETTLED`] after a cut, at the ceiling the
/// cut found (the limit enforced, refusing a probe past it at once: one replica's small burst, a
/// gateway's bucket), then probed again as AIMD probes (another caller left, the limit rose).
fn settle(s: &mut State, now: Instant, bound: f64) {
    let held = now.saturating_duration_since(s.cut.at) < SETTLED;
    let bound = match s.ceiling {
        Some(c) if held => bound.min(c),
        _ => bound,
    };
    s.learned = s.learned.map(|l| l.min(bound));
}

/// The stated limit is refuted (`claim`): the pace is learned from here, from `learned` (none:
/// from the rate this client sends at, at its first refusal); no burst of the stated remainder.
fn refute(s: &mut State, claim: Claim, learned: Option<f64>) {
    s.claim = claim;
    (s.learned, s.ceiling, s.resolved, s.windowed) = (learned, None, true, false);
    (s.credit, s.bursts) = (0, false);
    // A limit, not loss on the way (`noise`): its refusals are not put on trial.
    (s.stopped, s.trial) = (true, None);
    s.cut.generation = s.generation;
    s.log.clear();
}

/// The statement proved true: followed again.
fn trust(s: &mut State) {
    s.claim = Claim::Trusted;
    (s.learned, s.ceiling) = (None, None);
}
