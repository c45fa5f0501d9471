//! Other callers on a stated window's count (a sliding log): what they sent within its window
//! leaves this client the rest of the quota, and it paces to its part of that.
//!
//! A sliding log's remainder is the quota less every send of its window, whoever made it, and
//! it does not jump back at a renewal (a fixed window's does, `renewal`): it gives each send
//! back a window after it was counted. So between two answers it falls by more than this
//! client's own sends only while another caller speeds up; once that one sends steadily, the
//! remainder stays where their sends leave it, and each process, paced at the whole stated
//! rate, overran the log until refused, halved its share and grew it back within a second
//! (tester round 17 F5: two processes on the mock's sliding log, 7.8-8.5% of their requests
//! refused). The remainder tells the other callers' sends all the same: the quota less the
//! remainder is every send of the window, and this client knows its own (its log,
//! `stated::sends`); the rest are other callers'. When they are more than the slack
//! (`renewal::slack`), this client's room in a window is its own sends of it and half of what
//! is left, less the slack: callers that each take half of the rest never send more than the
//! quota together (each taking all of it, they did, as the others' sends of the window were
//! fewer than they sent by then). Its pace is at most that room a window, and the remainder
//! is no longer spent as a burst (not this client's alone).
//!
//! This client's sends counted in that window are taken at the most (those planned within the
//! window before the answer's request, lengthened by one request's time at the quota's rate for
//! the jitter on the way, and those planned within that time after it), so the other callers'
//! are taken at the least. Only for a quota whose remainder was once seen at half of it or
//! more: a bucket whose burst is smaller than its quota (the mock's, 20 of 200) states a
//! remainder that never is, and its limit less its remainder is no count of sends (a client
//! sending 100 a second read as another sending 80); a bucket whose burst is half of its quota
//! or more leaves a room over this client's own sends by its burst (full, at a pace under its
//! refill) or says no other caller sends (spent, at its refill). Nor while the log does not
//! hold every send of the window (cleared since: a drop of the stated rate; the job's first
//! window is held whole, its sends logged from the first), nor for a bucket known to forget
//! sends, nor a refuted statement (no log then); the bursts stop only once the log holds a
//! whole window (a job's first answers may state a remainder another caller's earlier sends
//! left, the count of several backends, say).

use std::time::Instant;

use super::{ROUNDING, Sent, State};
use crate::ratelimit::{Signal, secs};

/// What is known of other callers' sends within the stated window.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Others {
    /// The most the remainder of the quota followed was seen at, and that quota (its limit and
    /// window): a refuted statement's or a forgetful log's do not reset it.
    peak: (u64, (f64, f64)),
    /// The sends of a window this client may make, as of the latest answer (none: no other
    /// caller's sends are known).
    room: Option<f64>,
    /// The first send the log held: while it still holds it, it holds every send of the job
    /// (none was dropped), whether or not the job began within the window.
    first: Option<Instant>,
}

/// Notes what an answer (to a request `sent` so, come at `now`) says of other callers' sends
/// within the window of the stated quota the pace follows (`trusted`: the statement is
/// followed, not refuted, `stated::claim`).
pub(super) fn note(s: &mut State, signal: &Signal, (sent, trusted): (Sent, bool), now: Instant) {
    let Some(at) = sent.at else {
        return;
    };
    let Some(left) = signal.remaining else {
        return;
    };
    let Some((limit, window)) = s.quota else {
        s.others.room = None;
        return;
    };
    let same = signal
        .remaining_of
        .is_some_and(|q| q.limit == limit && q.window == Some(window));
    let logged = !s.forgets && trusted;
    if !same || !logged || window > ROUNDING.as_secs_f64() || limit < 1.0 {
        s.others.room = None;
        return;
    }
    if signal.throttled {
        return;
    }
    if s.others.peak.1 != (limit, window) {
        s.others.peak = (0, (limit, window));
    }
    s.others.peak.0 = s.others.peak.0.max(left);
    let jitter = secs(window / limit);
    let from = at.checked_sub(secs(window) + jitter);
    let front = s.log.front().copied();
    let first = *s.others.first.get_or_insert(front.unwrap_or(at));
    let whole = front.is_some_and(|t| from.is_some_and(|from| t <= from));
    let covered = whole || front == Some(first);
    if (s.others.peak.0 as f64) * 2.0 < limit || !covered {
        s.others.room = None;
        return;
    }
    let from = from.unwrap_or(at);
    let upto = now.min(at + jitter);
    let mine = s.log.partition_point(|t| *t <= upto) - s.log.partition_point(|t| *t <= from);
    let all = (limit - left as f64).max(0.0);
    let others = (all - mine as f64).max(0.0);
    // Its own sends of the window and half of what is left (less the slack): callers that each
    // take half of the rest never send more than it together (they did, each taking all of it
    // while the others' sends of the window were fewer than they sent by then).
    let slack = super::renewal::slack(limit) as f64;
    let room = limit - others - (left as f64 + slack) / 2.0;
    s.others.room = (others > slack).then_some(room);
    if whole && others > slack {
        // Not this client's to spend as a burst either (`renewal::shared`).
        (s.bursts, s.credit) = (false, 0);
    }
}

/// The most this client sends a second of the stated `rate`: its room in the quota's window
/// (none when no other caller's sends are known), at least [`super::MIN_SHARE`] of it.
pub(super) fn room(s: &State, rate: f64) -> Option<f64> {
    let (limit, _) = s.quota?;
    let room = s.others.room?.max(limit * super::MIN_SHARE);
    Some(rate * room / limit)
}
