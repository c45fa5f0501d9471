//! A fixed window's renewal, told by evidence: after a refusal saying its count is spent, sends
//! are held until the window renews, not sent at the pace into a window that serves nothing
//! until its end; and several callers of one window settle on its quota by what each window
//! lasted or left.
//!
//! A stated window of a rounding or less (`w=1`) states its reset in whole seconds (`t=1`,
//! `Retry-After: 1`): it does not say where in the window the client is. Its renewal does: the
//! remainder jumps back by more than a bucket refilling at the quota's rate could give back
//! between two requests sent less than a window apart (and [`SLACK`] more, and this client's
//! requests in flight, which may have been counted between them). A request is counted
//! somewhere between its send and its answer, so the refill is reckoned from the first one's
//! send to the second one's answer: two requests sent 0.5 ms apart, answered 40 ms later, may
//! be counted 40 ms apart (in the other order, a burst between them), and a token bucket of
//! 200 a second gave back 6 in that time (the bench: 4 then 17 left, sent 23 µs apart, the
//! client's own burst counted between them); taken for a renewal,
//! the share a refusal then cut grew back only at renewals, which a bucket never shows (the
//! paced bench: one of two clients finished in 6.3 s, the other in 46.5 s, 22 a second alone).
//! A fixed window renews at one phase of its window: each jump narrows where (the renewal lies
//! between the two sends), and a phase is **held for** while it is a quarter of the window
//! wide (or half of it, seen in two windows) and a renewal agreeing with it was seen within
//! the last [`TRUSTED_WINDOWS`] windows (a jump that disagrees with it, requests counted out of
//! their order with a burst between them, does not replace it then); until then, and once it
//! is stale, nothing here applies: the share grows by a request per success, as on a bucket
//! (a share cut never stays cut for want of a renewal).
//! Held for, a refusal with nothing remaining holds every send until the next renewal at that phase
//! ([`MARGIN`] after it, within the refusal's own `Retry-After`), and its call's retry waits
//! for that, not the whole `Retry-After` (a second's rounding up). Two processes on one token
//! overspent a fixed window at its end: each one's sends after the window was spent were refused
//! until it renewed, up to its concurrency of them (16 a process), every call then sleeping a
//! whole second (round 13: 5.8% of the requests refused).
//!
//! With the phase known, the share follows the window: a refusal cuts it to what of the window
//! it lasted (each caller by the same fraction, so together they come to the quota in one
//! step, where halving left them at half of it), and a renewal grows it by what the window left
//! unspent (at most [`GROW_MOST`] a window), not by a request per success (two processes each
//! grew back to all of the rate within a window, and overspent every window).

use std::time::{Duration, Instant};

use super::{ROUNDING, Sent, State};
use crate::ratelimit::{Signal, secs};

/// What is known of a fixed window's renewals: the latest answer, and the phase of the renewal.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Renewals {
    /// The latest answer's planned send and remainder (of the latest request sent answered).
    last: Option<(Instant, u64)>,
    /// This client's requests still in flight when that answer came that were planned before
    /// its request: they may be counted after it ([`shared`]).
    older: u32,
    /// The renewal's phase: it lies within `width` before `at` (give or take whole windows),
    /// and how many renewals seen agree with it.
    phase: Option<Phase>,
    /// The end of the hold the last refusal set, until its call takes it ([`take_hold`]).
    held: Option<Instant>,
}

/// Where a window renews (see [`Renewals`]).
#[derive(Debug, Clone, Copy)]
struct Phase {
    at: Instant,
    width: Duration,
    seen: u32,
}

/// How many windows a phase is trusted for without another renewal seen (a client spending a
/// fixed window sees it renew every window).
const TRUSTED_WINDOWS: u32 = 4;

/// Notes an answer's remainder (for the quota the pace follows, its window a rounding or less);
/// after a refusal saying nothing remains, returns the next renewal at the known phase, when
/// that is within the refusal's asked wait: every send is held until then.
pub(super) fn note(s: &mut State, signal: &Signal, sent: Sent, now: Instant) -> Option<Instant> {
    let (limit, window) = s.quota.filter(|(_, w)| *w <= ROUNDING.as_secs_f64())?;
    let (left, at) = (signal.remaining?, sent.at?);
    let w = secs(window);
    let r = &mut s.renewals;
    match r.last {
        Some((before, _)) if at < before => {}
        Some((before, was)) => {
            shared(
                s,
                (before, at, now),
                was.saturating_sub(left),
                (limit, window),
            );
            // This client's requests in flight may have been counted between the two, the
            // later one first (its own burst: 4 then 17 left, 23 µs apart, on a bucket of 20).
            let own = f64::from(s.in_flight);
            let r = &mut s.renewals;
            // More back than a bucket refilling at the quota's rate gives in that time: from
            // the first one's send to this one's answer (each was counted in between).
            let gap = at.duration_since(before);
            let span = now.saturating_duration_since(before).max(gap);
            let back = (span.as_secs_f64() / window) * limit + slack(limit) as f64 + own;
            if gap < w && left as f64 > was as f64 + back {
                let trusted = usable(r.phase, w, now).is_some();
                r.phase = Some(narrowed(r.phase, (before, at), w, trusted));
                r.last = Some((at, left));
                regrow(s, limit, was, now);
            }
            s.renewals.last = Some((at, left));
        }
        None => r.last = Some((at, left)),
    }
    if s.renewals.last.is_some_and(|(last, _)| last == at) {
        s.renewals.older = older(s, at, now);
    }
    if !signal.throttled || left != 0 {
        return None;
    }
    let next = next_renewal(s.renewals.phase, w, at, now)?;
    let asked = signal.asked_wait();
    if next <= now || asked.is_some_and(|asked| next > now + asked) {
        return None;
    }
    s.renewals.held = Some(next);
    Some(next)
}

/// Another caller spends the count too: between the answers to requests sent at `before` and
/// `at`, its remainder fell by `fell`, more than this client's own sends that may have been
/// counted between the two, and [`SLACK`] (or a fiftieth of the `limit`). Then the remainder
/// is not this client's to spend as a burst: two processes starting together each spent a
/// fresh window's whole remainder, their requests in flight all refused.
///
/// This client's own sends counted between the two are those sent between them, and those
/// sent before `before` still in flight when its answer came (`Renewals::older`: its own burst,
/// counted out of order, 4 then 17 left of a bucket of 20 for two sent 23 µs apart). Not its
/// sends before `before` answered by then: counted in its order, they were already in the
/// remainder it stated. Counting all of its sends from a round trip before `before` (how this
/// was first reckoned) counts a job's first burst, once the log holds the sends made before a
/// quota is stated (34aj), for its own: 16 sent in 7.5 ms, answered 20 ms later, hid the 16
/// another process sent meanwhile, both spent the window's whole remainder at once, and 64 of
/// 1,264 requests were refused (the simulation's two processes), over 5%. And its sends planned
/// after `at`, within one request's time at the quota's rate, that went before that answer
/// came (in flight: no later request is answered yet): the platform may have counted them
/// first (its 16 connections reach it in any order; the first of a burst counted last read as
/// 15 sends of another caller, and every single client stopped its bursts for the rest of the
/// job: `policy+sliding-log` 10.3-10.75 s where it read 10.21-10.24 s).
fn shared(
    s: &mut State,
    (before, at, now): (Instant, Instant, Instant),
    fell: u64,
    (limit, window): (f64, f64),
) {
    if !s.bursts || s.log.is_empty() {
        return;
    }
    let upto = s.log.partition_point(|t| *t <= at);
    let between = upto - s.log.partition_point(|t| *t <= before);
    let jitter = at + secs(window / limit);
    let newer = s
        .log
        .partition_point(|t| *t <= now.min(jitter))
        .saturating_sub(upto);
    let mine = (between + newer) as u64 + u64::from(s.renewals.older);
    if fell > mine + slack(limit) {
        (s.bursts, s.credit) = (false, 0);
    }
}

/// This client's requests in flight planned before `at` (an answer's request just taken, come
/// at `now`): those in flight less those of the log planned after it and sent by `now` (not
/// those waiting for their slot, which are not in flight: counted, they hid its requests in
/// flight, and its own burst counted out of order read as another caller's).
fn older(s: &State, at: Instant, now: Instant) -> u32 {
    let later = s.log.partition_point(|t| *t <= now) - s.log.partition_point(|t| *t <= at);
    s.in_flight
        .saturating_sub(u32::try_from(later).unwrap_or(u32::MAX))
}

/// Requests counted out of the order they were sent in, at most: [`SLACK`], or a fiftieth of
/// the `limit`.
pub(super) fn slack(limit: f64) -> u64 {
    SLACK.max((limit / 50.0) as u64)
}

/// See [`slack`].
const SLACK: u64 = 4;

/// What of its window a fixed window lasted before it refused a request sent at `sent` (from
/// its renewal at the confirmed phase; at least half): the pace that spent it was its quota
/// over that time, so the share is cut to that fraction, not halved (each caller cuts its own by
/// the same fraction: together they come to the quota at once, not to half of it).
pub(super) fn lasted(s: &State, sent: Sent, now: Instant) -> Option<f64> {
    let (_, window) = s.quota?;
    let (w, at) = (secs(window), sent.at?);
    let renews = next_renewal(s.renewals.phase, w, at, now)?.checked_sub(w / MARGIN)?;
    let since = at.saturating_duration_since(renews.checked_sub(w)?);
    Some((since.as_secs_f64() / window).clamp(0.5, 1.0))
}

/// The end of the hold a refusal just set (taken: told its call once).
pub(super) fn take_hold(s: &mut State) -> Option<Instant> {
    s.renewals.held.take()
}

/// The phase after a renewal seen between `lo` and `hi` (windows `w`): the part of it the phase
/// known agrees with; when none does, the known one when it is `trusted` (confirmed, not stale:
/// requests counted out of their order, a burst between them, jump back within a window),
/// else this one alone; seen once more
/// when the known one was last seen half a window before or more (another window's renewal:
/// a window renews once in each).
fn narrowed(
    known: Option<Phase>,
    (lo, hi): (Instant, Instant),
    w: Duration,
    trusted: bool,
) -> Phase {
    let fresh = Phase {
        at: hi,
        width: hi.duration_since(lo),
        seen: 1,
    };
    let Some(p) = known else {
        return fresh;
    };
    // The known phase moved by whole windows to the one nearest `hi`.
    let (ws, apart) = (w.as_secs_f64(), signed(hi, p.at));
    let shifted = (apart / ws).round() * ws - apart;
    // Both as offsets from `hi`: (lo, hi] and (shifted - width, shifted].
    let top = shifted.min(0.0);
    let bottom = (shifted - p.width.as_secs_f64()).max(-fresh.width.as_secs_f64());
    if top <= bottom {
        return if trusted { p } else { fresh };
    }
    let another = apart.abs() >= ws / 2.0;
    Phase {
        at: instant_at(hi, top),
        width: secs(top - bottom),
        seen: p.seen.saturating_add(u32::from(another)),
    }
}

/// `a - b` in seconds, either way.
fn signed(a: Instant, b: Instant) -> f64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_secs_f64(),
        None => -b.duration_since(a).as_secs_f64(),
    }
}

/// `at` moved by `offset` seconds (at most 0).
fn instant_at(at: Instant, offset: f64) -> Instant {
    at.checked_sub(secs(-offset)).unwrap_or(at)
}

/// The end of a hold for a request sent at `sent` and refused: the first renewal at the
/// confirmed phase after it was sent (or within [`MARGIN`] before: the phase is as late as a request
/// seen counted in the new window, and one sent a little sooner than that was not), and
/// [`MARGIN`] more for the jitter on the way (none unconfirmed, nor when stale at `now`).
fn next_renewal(phase: Option<Phase>, w: Duration, sent: Instant, now: Instant) -> Option<Instant> {
    let p = usable(phase, w, now)?;
    let (ws, margin) = (w.as_secs_f64(), (w / MARGIN).as_secs_f64());
    // Whole windows from the phase to that renewal.
    let windows = ((signed(sent, p.at) - margin) / ws).floor() + 1.0;
    let offset = windows * ws + margin;
    Some(if offset >= 0.0 {
        p.at + secs(offset)
    } else {
        instant_at(p.at, offset)
    })
}

/// The phase, when it is narrow enough to hold for (a quarter of the window, or half of it seen
/// in two windows) and not stale at `now` (no renewal agreeing with it seen for
/// [`TRUSTED_WINDOWS`] windows).
fn usable(phase: Option<Phase>, w: Duration, now: Instant) -> Option<Phase> {
    let narrow = |p: &Phase| p.width <= w / 4 || (p.seen >= 2 && p.width <= w / 2);
    let p = phase.filter(narrow)?;
    let stale = w.is_zero() || now.saturating_duration_since(p.at) > w * TRUSTED_WINDOWS;
    (!stale).then_some(p)
}

/// Whether the pace follows a fixed window whose renewal is confirmed and not stale: its share
/// grows by what a window left unspent ([`regrow`]), not by a request per success (else it
/// does: a share cut never stays cut for want of a renewal).
pub(super) fn known(s: &State, now: Instant) -> bool {
    s.quota
        .is_some_and(|(_, w)| usable(s.renewals.phase, secs(w), now).is_some())
}

/// A window renewed, `was` left of it as last stated: the share grows by what the callers
/// spending it left unspent (each by the same factor, so together they come to the quota at
/// once), at most [`GROW_MOST`] a window, to all of the stated rate.
fn regrow(s: &mut State, limit: f64, was: u64, now: Instant) {
    if !known(s, now) {
        return;
    }
    let used = (limit - was as f64).max(1.0);
    let factor = (limit * super::HEADROOM / used).clamp(1.0, GROW_MOST);
    s.share = (s.share * factor).min(1.0);
}

/// The most a share grows in a window ([`regrow`]): from half the rate (another caller done)
/// to all of it in three windows.
const GROW_MOST: f64 = 1.3;

/// The margin of a renewal's phase: a hundredth of the window (10 ms of a second's).
const MARGIN: u32 = 100;
