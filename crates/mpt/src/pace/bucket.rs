//! A bucket told from a window by evidence: a bucket refills as it goes (its remainder is not a
//! count held until its reset, and it forgets the sends it served), a window renews at its end
//! (a fixed window), or counts every send of its length (a sliding log); and remainders that are
//! not one count's (a load balancer's backends, each stating its own).

use std::time::{Duration, Instant};

use super::{ROUNDING, Sent, State};
use crate::ratelimit::{Quota, Signal, secs};

/// The platform's count over the log's: an answer (not a refusal) saying more remains of the
/// quota the log follows than the log allows (the quota less this client's sends within the
/// window up to the answer's own request, those still in flight aside, which it may not count
/// yet), by [`FORGOTTEN`] or more, says the platform does not count them all: it forgets sends
/// as it refills (a bucket), and the log is not kept for it (it would cap the sends at the
/// quota less one a window, under what the bucket serves). A sliding log counts every send of
/// its window: its remainder never says so. `at`: when the answer's request was planned to go
/// (its slot): the platform counted it then or later, not the sends planned after it (compared
/// with those, an answer overtaken by the answers to later sends read as a count that forgot
/// them: the log was dropped, the burst after it refused, 16 of them, and the share halved to
/// an eighth, `policy+sliding-log` 11.7 s for an ideal of 10.1).
pub(super) fn trust_remainder(s: &mut State, signal: &Signal, now: Instant, at: Option<Instant>) {
    let (Some((limit, window)), Some(left)) = (s.quota, signal.remaining) else {
        return;
    };
    let same = signal
        .remaining_of
        .is_some_and(|q| q.limit == limit && q.window == Some(window));
    if signal.throttled || !same || s.log.is_empty() || s.room_refuted {
        return;
    }
    let counted = (limit - left as f64).max(0.0) as usize + s.in_flight as usize;
    let window = secs(window);
    let upto = at.map_or(now, |at| at.min(now));
    let sent = s.log.partition_point(|t| *t <= upto);
    let gone = s.log.partition_point(|t| *t + window <= now);
    if sent.saturating_sub(gone).saturating_sub(counted) < FORGOTTEN {
        s.forgetting = 0;
        return;
    }
    s.forgetting = s.forgetting.saturating_add(1);
    if usize::from(s.forgetting) >= FORGETTING {
        s.forgets = true;
        s.log.clear();
    }
}

/// The answers in a row that must say the platform forgot sends: a bucket's remainder says so
/// on every answer; a sliding log's only on an answer whose request reached it after sends
/// planned later (woken late, or overtaken on the way in: its count did not hold them yet, and
/// their answers came first), the next answers counting them all again.
const FORGETTING: usize = 3;

/// The sends of a window the platform no longer counts that say it forgets them (a bucket
/// refilling), not a sliding log (one is a send planned before the answer's and counted after
/// it, on the way; more, on one answer, see [`FORGETTING`]).
const FORGOTTEN: usize = 2;

/// How much later than the reference a reset must put a quota's renewal, its remainder not
/// grown, to say it refills rather than renews (resets are whole seconds: one is a rounding).
const REFILL_EVIDENCE: Duration = Duration::from_millis(1500);

/// The most quotas whose resets are followed.
const TRACKED: usize = 8;

/// Whether each stated quota whose reset is followed (its window stated, over [`ROUNDING`];
/// with none stated, a reset that jumps is one odd answer, not evidence) is a bucket that refills or a window that renews, by evidence: a window's reset
/// counts down to one instant, and only its renewal gives its count back; a bucket's reset
/// (the time until it is full again, the draft's `t`) moves later as its remainder is spent.
/// A reset that moved more than [`REFILL_EVIDENCE`] later while the remainder did not grow is
/// a bucket: its remainder refills as it goes (not a count held until the reset), and the
/// pace covers it.
#[derive(Debug, Default)]
pub(super) struct Refills(Vec<Track>);

/// One quota's reference: its remainder, and the instant its reset said it renews.
#[derive(Debug, Clone, Copy)]
struct Track {
    quota: (u64, Option<u64>),
    left: u64,
    renews: Instant,
    refills: bool,
}

fn bits(q: Quota) -> (u64, Option<u64>) {
    (q.limit.to_bits(), q.window.map(f64::to_bits))
}

impl Refills {
    /// Notes what an answer at `now` says of each quota's remainder and reset.
    pub(super) fn note(&mut self, signal: &Signal, now: Instant) {
        for (quota, state) in signal.quotas.iter().zip(&signal.states) {
            let (Some(quota), Some((left, Some(reset)))) = (quota, state) else {
                continue;
            };
            if quota.window.is_none_or(|w| w <= ROUNDING.as_secs_f64()) {
                continue;
            }
            let (key, renews, left) = (bits(*quota), now + *reset, *left);
            let full = self.0.len() >= TRACKED;
            match self.0.iter_mut().find(|t| t.quota == key) {
                // Renewed, or refilled: the reference starts again.
                Some(t) if left > t.left => (t.left, t.renews) = (left, renews),
                Some(t) => {
                    if renews > t.renews + REFILL_EVIDENCE {
                        (t.refills, t.renews) = (true, renews);
                    }
                    t.left = left;
                }
                None if !full => self.0.push(Track {
                    quota: key,
                    left,
                    renews,
                    refills: false,
                }),
                None => {}
            }
        }
    }

    /// Whether `quota` is known to refill (a bucket).
    pub(super) fn of(&self, quota: Option<Quota>) -> bool {
        quota.is_some_and(|q| self.0.iter().any(|t| t.quota == bits(q) && t.refills))
    }
}

/// How many answers, to requests sent within one request's time at the quota's rate, stating one
/// same remainder (not 0) show that the remainders are not one count's: one count falls by one
/// with each request it counts and refills less than one in that time, so two answers may
/// state one value (a refill between them), never three.
const SAME_LEFT: usize = 3;

/// The answers kept for that ([`SAME_LEFT`]): when each one's request was planned to go, and
/// the remainder it stated.
pub(super) const LEFTS_KEPT: usize = 16;

/// Notes evidence that the stated quota is not all this client may send in its window: the
/// remainders are not one count's (three answers to requests sent within one request's time at
/// the quota's rate state the same remainder: each backend of a load balancer states its own
/// count, and each stays up while the client sends the quota). Then, for a window of the
/// quota, the log holds no send (the platform's remainder is trusted over the client's own
/// count; it still caps the burst). One count never says so: a bucket, a sliding log, a
/// limit another caller spends too. A refusal while it lasts ends it for good, and is not
/// another caller's spending: it does not cut the share (whether it was one is returned).
pub(super) fn note_room(s: &mut State, signal: &Signal, now: Instant, sent: Sent) -> bool {
    if signal.throttled {
        let probed = s.roomy_until.is_some_and(|until| now < until);
        s.roomy_until = None;
        s.room_refuted |= probed;
        return probed;
    }
    let (Some(left), Some(at), Some((limit, window))) = (signal.remaining, sent.at, s.quota) else {
        return false;
    };
    if left == 0 || window > ROUNDING.as_secs_f64() || s.room_refuted || limit < 1.0 {
        return false;
    }
    let apart = secs(window / limit);
    // The answers stating it (this one too), and the first and last of their sends.
    let (mut same, mut first, mut last) = (1, at, at);
    for (t, _) in s
        .lefts
        .iter()
        .filter(|(t, l)| *l == left && t.max(&at).saturating_duration_since(*t.min(&at)) < apart)
    {
        (same, first, last) = (same + 1, first.min(*t), last.max(*t));
    }
    if same >= SAME_LEFT && !renewed(s, same, (first, last), secs(window), apart) {
        s.roomy_until = Some(now + secs(window));
    }
    if s.lefts.len() >= LEFTS_KEPT {
        s.lefts.pop_front();
    }
    s.lefts.push_back((at, left));
    false
}

/// Whether this client's own sends leaving the quota's window explain one remainder stated to
/// `same` sends planned from `first` to `last`: a sliding log renews as its oldest sends leave
/// it, so a burst a window after a burst finds its remainder where the last one left it, answer
/// after answer (read as remainders that are not one count's, the log was lifted and the burst
/// overran the window: refused, the share halved). Of `n` sends stating one remainder, the
/// `n - 1` after the first were counted by it too: all but one of them (the jitter on the way,
/// `slack`) were matched by a send of the log leaving the window meanwhile.
fn renewed(
    s: &State,
    same: usize,
    (first, last): (Instant, Instant),
    window: Duration,
    slack: Duration,
) -> bool {
    let from = first.checked_sub(window + slack);
    let to = last.checked_add(slack).and_then(|l| l.checked_sub(window));
    let left = s
        .log
        .iter()
        .filter(|t| from.is_none_or(|f| f <= **t) && to.is_some_and(|to| **t <= to))
        .count();
    left + 2 >= same
}
