//! The log of this client's sends within a window of the stated quota: no window holds more
//! of them than the quota allows (a sliding log counts every send of its window).

use std::time::{Duration, Instant};

use super::super::{HEADROOM, ROUNDING, State};
use crate::ratelimit::secs;

/// The most sends the log keeps: a quota larger is not logged (its pace is enough).
const LOG_MOST: usize = 4096;

/// The most sends this client makes within one window of the stated quota: the quota less one
/// (jitter on the way; the pace keeps its headroom and this client's share: a cut share
/// does not also stall the sends until the window drains), at least one (`None`: not logged;
/// nor is a window longer than [`ROUNDING`]: the allowance counts its remainder). A quota under
/// [`SMALL_QUOTA`] is kept whole, its window lengthened by the headroom instead (one less of
/// `2;w=1` would halve its pace).
fn most(s: &State) -> Option<(usize, Duration)> {
    if s.forgets || s.claim != super::claim::Claim::Trusted {
        return None;
    }
    let (limit, window) = s.quota.filter(|(_, w)| *w <= ROUNDING.as_secs_f64())?;
    if limit < SMALL_QUOTA {
        return Some(((limit.floor() as usize).max(1), secs(window / HEADROOM)));
    }
    let most = (limit.floor() - 1.0).max(1.0);
    // Lengthened by one request's time at the quota's rate: the jitter on the way (a send
    // planned as the window's oldest leaves it reached the platform before that one's arrival
    // had left its window: refused, the share halved, at the first window's end).
    (most < LOG_MOST as f64).then(|| (most as usize, secs(window + window / limit)))
}

/// A quota this small is logged whole (see [`most`]).
const SMALL_QUOTA: f64 = 10.0;

/// The earliest a send planned at `slot` may go so that no window of the stated quota holds
/// more of this client's sends than [`most`]: the remainder spent at once and the pace after it
/// within one window is what a sliding log refuses (a bucket refills meanwhile; the cost there
/// is the burst's few milliseconds once).
pub(in crate::pace) fn logged(s: &mut State, slot: Instant, now: Instant) -> Instant {
    let Some((most, window)) = most(s) else {
        if unknown(s) {
            // Kept for a quota the first answer may state (of a window up to a rounding: the
            // longest logged).
            while s.log.front().is_some_and(|t| *t + ROUNDING <= now) {
                s.log.pop_front();
            }
        } else {
            s.log.clear();
        }
        return slot;
    };
    // The sends that left the window are kept for another: they tell a sliding log renewing
    // from remainders that are not one count's (`bucket::note_room`).
    while s.log.front().is_some_and(|t| *t + window * 2 <= now) {
        s.log.pop_front();
    }
    if s.roomy_until.is_some_and(|until| now < until) {
        return slot;
    }
    let within = s.log.partition_point(|t| *t + window <= now);
    match (s.log.len() - within).checked_sub(most) {
        Some(i) => slot.max(s.log[within + i] + window),
        None => slot,
    }
}

/// Whether no answer came yet to state a quota: the sends are logged all the same, so that once
/// one is stated the sends made before it count in its window (the first requests of a job,
/// sent before an answer stated the quota, were not logged: the log let the quota's remainder go
/// on top of them, and the send over the quota was refused, halving the share). Once answers
/// came stating none, nothing is logged (a send costs no more than before).
fn unknown(s: &State) -> bool {
    s.quota.is_none() && !s.forgets && !s.heard
}

/// Takes a slot noted in the log out of it (taken again at a new pace, it was never sent: a
/// sliding log's remainder would otherwise read as a bucket's, `bucket::trust_remainder`).
pub(in crate::pace) fn unlog(s: &mut State, slot: Instant) {
    let at = s.log.partition_point(|t| *t < slot);
    if s.log.get(at) == Some(&slot) {
        s.log.remove(at);
    }
}

/// Notes a send planned at `slot` in the log (kept in order, at most [`LOG_MOST`]); whether it
/// was.
pub(in crate::pace) fn log(s: &mut State, slot: Instant) -> bool {
    if most(s).is_none() && !unknown(s) {
        return false;
    }
    let at = s.log.partition_point(|t| *t <= slot);
    s.log.insert(at, slot);
    if s.log.len() > LOG_MOST {
        s.log.pop_front();
    }
    true
}
