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
//! Under a stated limit, a refusal stating no remainder (not the stated count's: a gateway's
//! loss, a lock on one token, or a limit in front) halves this client's share on trial the same
//! way ([`Before::Share`]): the trial lasts [`LONGEST`] answers, is judged within what chance
//! allows of that share, the
//! second one goes on at the share the first left, and one whose refusals stopped or came far
//! more often ends the trials of that statement (a refusal with room stated then refutes it,
//! `stated::claim`).
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

/// What a trial's cut lowered: restored if the refusals are loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Before {
    /// AIMD's pace (`None`: unpaced) and its ceiling.
    Pace(Option<f64>, Option<f64>),
    /// This client's share of a stated rate (`stated`), cut at a refusal stating no remainder.
    Share(f64),
}

impl Before {
    /// Puts it back in `s` (a share only ever grows back: it may have since).
    fn restore(self, s: &mut State, now: Instant) {
        match self {
            Before::Pace(learned, ceiling) => {
                (s.learned, s.ceiling) = (learned, ceiling);
                s.resolved = true;
            }
            Before::Share(share) => s.share = s.share.max(share),
        }
        s.repace(now);
    }
}

/// A trial of a cut: whether the refusals it answered stop at the lower pace.
#[derive(Debug, Clone, Copy)]
pub(super) struct Trial {
    /// What the cut lowered.
    before: Before,
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
///
/// A stated share's trial lasts [`LONGEST`] answers (a second's answers at a stated 200 a
/// second were two seconds at the halved pace, twice), whatever its share.
pub(super) fn begin(s: &mut State, before: Before, refused: u32, answers: u32) {
    let stated = matches!(before, Before::Share(_));
    let share = share_of(refused, answers);
    s.trial = may_try(s, refused, answers).then_some(Trial {
        before,
        share,
        // Enough to see the refusals again at that share (a few), or a second's answers; a
        // stated share's, as many as for the least share (its share is of the few answers
        // of the last second: over them, a share said too high ends the trial as a limit,
        // not one ended for good, and the next is tried at the share counted since).
        needed: if stated {
            LONGEST as u32
        } else {
            answers.max(enough(share))
        }
        .max(LEAST),
        answers: 0,
        refused: 0,
    });
}

/// Whether a cut at a refusal, `refused` of the last second's `answers`, would open a trial
/// ([`begin`]): only until a trial saw the refusals stop (a limit), or once a loss level is
/// learned (two clients on one limit keep refusing each other at a cut pace while the other
/// grows: taken for loss, both overran the limit), and when that share is at most [`MOST`].
pub(super) fn may_try(s: &State, refused: u32, answers: u32) -> bool {
    let fresh = !s.stopped || s.noise > 0.0;
    fresh && share_of(refused, answers) <= MOST
}

/// The share of `answers` that `refused` were (none: no share).
fn share_of(refused: u32, answers: u32) -> f64 {
    f64::from(refused) / f64::from(answers.max(1))
}

/// The answers a trial counts to see [`ENOUGH`] refusals at `share` ([`LONGEST`] at most), and
/// [`LEAST`] at least.
fn enough(share: f64) -> u32 {
    ((ENOUGH / share).min(LONGEST) as u32).max(LEAST)
}

/// Counts an answer in the open trial when it answers a request sent at the cut's pace or
/// lower (`counted`; AIMD: once one of those was served, a window refuses everything until it
/// renews: those refusals say nothing of the share), and
/// ends the trial once it counted enough: loss (the refusals kept about their share), when the
/// trial before it said so too, restores the pace from before that one's cut and learns the
/// loss level (the first only notes it, and its cut stands); a limit halves the level learned.
/// Two processes on one token of 50 a second, nothing stated, 7.3% of their requests refused
/// on average and 13.3% at worst (one took the other's refusals for loss, grew to 70 a second
/// and pushed it down to 1); now 6.2% and 9.8%.
/// Refusals during it cut as AIMD's do (a limit far below is followed at once); far more than
/// twice the share before the cut (and twice [`SLACK`] more) end it as a limit.
pub(super) fn note(s: &mut State, throttled: bool, counted: bool, now: Instant) {
    let Some(t) = s.trial.as_mut().filter(|_| counted) else {
        return;
    };
    t.answers = t.answers.saturating_add(1);
    t.refused = t.refused.saturating_add(u32::from(throttled));
    let (answers, refused) = (f64::from(t.answers), f64::from(t.refused));
    // A stated share's: beyond what chance allows of that share, over a few dozen answers at
    // least (its share before the cut is of few refusals, and locks on single tokens refuse in
    // bursts), or most refused.
    let stated = matches!(t.before, Before::Share(_));
    let far_more = if stated {
        let most = t.share / SAME * answers;
        t.answers >= LEAST && refused > (most + 3.0 * most.sqrt()).min(answers * MOST)
    } else {
        refused > SLACK * 2.0 + answers * 2.0 * t.share
    };
    if !far_more && t.answers < t.needed {
        return;
    }
    let t = *t;
    s.trial = None;
    let share = refused / answers;
    // About the same share (more at a lower pace is a limit others spend too, or one far
    // below). A stated share's: within what chance allows of that share's count (its first
    // refusals are few).
    let same = match t.before {
        Before::Pace(..) => share >= SAME * t.share && share <= t.share / SAME,
        Before::Share(_) => {
            let (expected, most) = (t.share * answers, t.share / SAME * answers);
            refused >= expected - 2.0 * expected.sqrt() && refused <= most + 2.0 * most.sqrt()
        }
    };
    if !far_more && t.refused >= 2 && same && share <= MOST {
        // Loss twice in a row (of one kind: AIMD's pace, or a stated share): what was before
        // the first trial's cut.
        let kind = std::mem::discriminant(&t.before);
        if let Some(before) = s
            .loss_once
            .take()
            .filter(|b| std::mem::discriminant(b) == kind)
        {
            before.restore(s, now);
            s.noise = share;
        } else {
            s.loss_once = Some(t.before);
            if let Before::Share(_) = t.before {
                // A stated share's second trial goes on at the pace the first cut left (one
                // more cut cost its trial's answers at a quarter of the pace).
                // The share it saw is the better count (the first trial's was of a second).
                let share = share.max(t.share);
                s.trial = Some(Trial {
                    share,
                    needed: enough(share),
                    answers: 0,
                    refused: 0,
                    ..t
                });
            }
        }
    } else {
        s.loss_once = None;
        s.noise /= 2.0;
        // The refusals stopped at the lower pace: a limit, seen; so did a stated share's that
        // came far more often (a gateway's limit in front of the stated one, whose refusals with
        // room stated refute the statement from then on, `claim`). Fewer than chance allows,
        // some still: tried again (a lock on a few tokens refuses in bursts).
        s.stopped |= t.refused == 0 || (stated && far_more);
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
