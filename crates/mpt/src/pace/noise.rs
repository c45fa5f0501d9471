//! Loss on the way told from a limit, when nothing is stated: not by how few the refusals are
//! (a token bucket the pace crept just past refuses about 1% of its answers, as random loss
//! may), but by what a cut does to them. A limit's refusals stop once the pace is below it;
//! loss refuses the same fraction whatever the pace.
//!
//! Each AIMD cut whose refusal was at most [`MOST`] of the last second's answers, until a
//! trial saw the refusals stop or once a loss level is learned, opens a trial ([`begin`]): the answers to
//! requests sent at the lower pace are counted until as many came as the last second before the
//! cut gave, or enough to see a few refusals at the share before the cut ([`ENOUGH`],
//! [`LEAST`]); refusals during it cut as AIMD's do ([`note`]). If they kept coming at about the
//! share before the cut ([`SAME`]) in two trials in a row, none between them saying otherwise,
//! they are loss: the pace before the first one's cut is restored and the fraction is the loss
//! level learned (one trial is not enough: another client on the limit grows back into the
//! room a cut leaves, and its refusals at the lower pace looked like loss). Later refusals
//! whose share of the last second stays within [`MARGIN`] times that level cut nothing
//! ([`explained`]); a clearly larger share (a limit appearing above the loss) cuts, and opens
//! a trial again.
//!
//! A gateway's `502` or `504` is loss too until [`GAVE_UP_RUN`] come in a row ([`gave_up_again`]).

use std::time::Instant;

use super::served::{SLICES, advance, count_served, last_second};
use super::{State, lately};
use crate::ratelimit::Signal;

/// The most of the last second's answers a refusal may be for its cut to open a trial, and
/// the highest loss level learned (a drop to a limit far below refuses far more). A gateway
/// that answers every third change `503` after the platform did it refuses a third whatever
/// the pace: at 25% that was a limit, and the pace fell to a request a second (400 ids in over
/// 50 s where a naive loop took 14 s). A limit's share is not the test (the trial is: its
/// refusals stop at the lower pace).
const MOST: f64 = 0.5;

/// The fraction of the refusals' share before the cut that, kept at the lower pace, makes
/// them loss (a limit's stop altogether); the share at the lower pace is at most the share
/// before divided by it (more is a limit another client spends too).
const SAME: f64 = 0.65;

/// The fewest answers a trial counts.
const LEAST: u32 = 20;

/// How many refusals at the share before the cut a trial lasts long enough to see (of
/// [`LONGEST`] answers at most, else of a second's answers): loss refuses them again.
const ENOUGH: f64 = 5.0;

/// The most answers a trial waits for [`ENOUGH`] refusals (a bucket's pace grows back to it).
const LONGEST: f64 = 100.0;

/// How many times the loss level learned the refusals over the last second may be and still be
/// loss (random loss of 5% refuses 8 of 100 now and then).
const MARGIN: f64 = 1.5;

/// Refusals beyond the share allowed that are still taken as chance (a count of a few is
/// noisy).
const SLACK: f64 = 1.0;

/// A trial of an AIMD cut: whether the refusals it answered stop at the lower pace.
#[derive(Debug, Clone, Copy)]
pub(super) struct Trial {
    /// The pace before the cut (`None`: unpaced) and its ceiling: restored if the refusals
    /// are loss.
    before: (Option<f64>, Option<f64>),
    /// The refusals' share of the last second's answers at the cut.
    share: f64,
    /// The answers to requests sent since the cut that end the trial.
    needed: u32,
    /// The answers to requests sent since the cut, and how many of them were refusals.
    answers: u32,
    refused: u32,
}

/// Opens the trial of a cut made at a refusal that was `refused` of the last second's
/// `answers`, the pace before it `before`: only when that share was at most [`MOST`] (more is
/// a limit, not loss), until a trial saw the refusals stop or once a loss level is learned, and none is
/// open (the cuts within a trial are its own).
pub(super) fn begin(s: &mut State, before: (Option<f64>, Option<f64>), refused: u32, answers: u32) {
    let share = f64::from(refused) / f64::from(answers.max(1));
    // Only until a trial saw the refusals stop (a limit), or once a loss level is learned: two
    // clients on one limit
    // keep refusing each other at a cut pace while the other grows (taken for loss, both
    // overran the limit).
    let fresh = !s.stopped || s.noise > 0.0;
    s.trial = (fresh && share <= MOST).then_some(Trial {
        before,
        share,
        // Enough to see the refusals again at that share (a few), or a second's answers.
        needed: answers.max(LEAST).max((ENOUGH / share).min(LONGEST) as u32),
        answers: 0,
        refused: 0,
    });
}

/// Counts an answer to a request sent since the last cut (`since_cut`) in the open trial, and
/// ends the trial once it counted enough: loss (the refusals kept about their share), when the
/// trial before it said so too, restores the pace from before that one's cut and learns the
/// loss level (the first only notes it, and its cut stands); a limit halves the level learned.
/// Two processes on one token of 50 a second, nothing stated, 7.3% of their requests refused
/// on average and 13.3% at worst (one took the other's refusals for loss, grew to 70 a second
/// and pushed it down to 1); now 6.2% and 9.8%.
/// Refusals during it cut as AIMD's do (a limit far below is followed at once); far more than
/// twice the share before the cut (and twice [`SLACK`] more) end it as a limit.
pub(super) fn note(s: &mut State, throttled: bool, since_cut: bool, now: Instant) {
    // Counted once a request sent since the cut was served (a window refuses everything until
    // it renews: those refusals say nothing of the share).
    let counted = since_cut && s.resolved;
    let Some(t) = s.trial.as_mut().filter(|_| counted) else {
        return;
    };
    t.answers = t.answers.saturating_add(1);
    t.refused = t.refused.saturating_add(u32::from(throttled));
    let (answers, refused) = (f64::from(t.answers), f64::from(t.refused));
    let far_more = refused > SLACK * 2.0 + answers * 2.0 * t.share;
    if !far_more && t.answers < t.needed {
        return;
    }
    let t = *t;
    s.trial = None;
    let share = refused / answers;
    // About the same share (more at a lower pace is a limit others spend too).
    let same = share >= SAME * t.share && share <= t.share / SAME;
    if !far_more && t.refused >= 2 && same && share <= MOST {
        // Loss twice in a row: the pace before the first trial's cut.
        if let Some(before) = s.loss_once.take() {
            (s.learned, s.ceiling) = before;
            s.noise = share;
            s.resolved = true;
            s.repace(now);
        } else {
            s.loss_once = Some(t.before);
        }
    } else {
        s.loss_once = None;
        s.noise /= 2.0;
        // The refusals stopped at the lower pace: a limit, seen.
        s.stopped |= t.refused == 0;
    }
}

/// Whether a refusal, `refused` of the last second's `answers`, is within the loss level
/// learned (none learned: never): it cuts nothing.
pub(super) fn explained(s: &State, refused: u32, answers: u32) -> bool {
    s.noise > 0.0 && f64::from(refused) <= s.noise * MARGIN * f64::from(answers) + SLACK
}

/// How many `502`s or `504`s in a row, none served between them, make one a refusal.
const GAVE_UP_RUN: u8 = 3;

/// A gateway's `502` or `504` that makes [`GAVE_UP_RUN`] in a row, none served between them (a
/// gateway that queues the requests over what it serves in time gives up on those that waited
/// too long, and on most of them while the client keeps its queue full), when nothing is
/// stated: a bare refusal, learned from as a bare `429`. Fewer (a lost answer, a proxy's
/// hiccup, one in five at random) are not: random ones would cut the pace to no end (one in
/// five, each right after another a refusal, took a job of 1,000 ids from 7 s to 43 s).
pub(super) fn gave_up_again(s: &mut State, signal: &Signal) -> Option<Box<Signal>> {
    s.gave_up = if signal.gateway {
        s.gave_up.saturating_add(1)
    } else {
        0
    };
    let again = s.gave_up >= GAVE_UP_RUN;
    (again && s.stated.is_none() && signal.quotas().next().is_none()).then(|| {
        Box::new(Signal {
            throttled: true,
            ..Signal::default()
        })
    })
}

/// The most of the answers over the last second that may be refusals for a refusal that states
/// no remainder, under a stated limit, to be taken as loss on the way (a gateway shedding a
/// request now and then), not as others spending the limit: it does not halve this client's
/// share (`stated`). With nothing stated, loss is told from a limit otherwise (`noise`).
const LOSS: f64 = 0.03;

/// Counts an answer served or refused; whether a refusal is loss on the way, not a limit: the refusals over the last
/// second (this one included) are at most [`LOSS`] of its answers, and those number at least
/// as many as make two refusals that fraction (a second that served a few dozen says nothing:
/// a window of 40 a second refusing its 41st is a limit).
/// Random loss refuses at any rate, and a cut for each one kept the pace far below what the
/// platform served (2% of requests refused at random: 109 served a second where 383 were).
pub(super) fn tally(s: &mut State, throttled: bool, now: Instant) -> bool {
    let first = *s.first.get_or_insert(now);
    if !throttled {
        count_served(s, now, first);
        lately::note(s, now);
        return false;
    }
    advance(s, now, first);
    let i = (s.served.1 % SLICES as u64) as usize;
    s.refused[i] = s.refused[i].saturating_add(1);
    let (refused, answers) = last_second(s, now, first);
    let (refused, answers) = (f64::from(refused), f64::from(answers));
    answers * LOSS >= 2.0 && refused <= answers * LOSS
}
