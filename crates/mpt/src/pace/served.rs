//! What the platform served and refused over the last second, counted in slices of it: the
//! evidence AIMD reads a limit from when nothing is stated.

use std::time::Instant;

use super::State;

/// The slices of the second over which what the platform served is counted (50 ms each).
pub(super) const SLICES: usize = 20;

/// The slice of the second `now` is in, counted from `first`.
fn slice(now: Instant, first: Instant) -> u64 {
    // In `u64` (a `u128` division is a call at every answer): `u64` milliseconds last
    // 584 million years.
    let since = now.saturating_duration_since(first);
    let millis = since
        .as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(since.subsec_millis()));
    millis / (1000 / SLICES as u64)
}

/// Moves the count of what was served on to `now`'s slice (slices older than a second are
/// emptied).
pub(super) fn advance(s: &mut State, now: Instant, first: Instant) {
    let at = slice(now, first);
    let (counts, newest) = &mut s.served;
    let stale = at.saturating_sub(*newest).min(SLICES as u64);
    for k in 1..=stale {
        let i = ((*newest + k) % SLICES as u64) as usize;
        counts[i] = 0;
        s.refused[i] = 0;
    }
    *newest = (*newest).max(at);
}

/// Counts an answer served, and the most served in a second.
pub(super) fn count_served(s: &mut State, now: Instant, first: Instant) {
    advance(s, now, first);
    let i = (s.served.1 % SLICES as u64) as usize;
    s.served.0[i] = s.served.0[i].saturating_add(1);
    // Advanced just now: summed as it is.
    s.peak = s.peak.max(f64::from(served_sum(s)));
}

/// The refusals over the last second, and all its answers (those included).
pub(super) fn last_second(s: &mut State, now: Instant, first: Instant) -> (u32, u32) {
    let served = served_last_second(s, now, first);
    let refused = s.refused.iter().fold(0u32, |sum, n| sum.saturating_add(*n));
    (refused, served.saturating_add(refused))
}

/// What the platform served over the last second.
pub(super) fn served_last_second(s: &mut State, now: Instant, first: Instant) -> u32 {
    advance(s, now, first);
    served_sum(s)
}

/// What the slices hold (the last second, once [`advance`]d).
pub(super) fn served_sum(s: &State) -> u32 {
    s.served
        .0
        .iter()
        .fold(0u32, |sum, n| sum.saturating_add(*n))
}

/// What the newest `n` slices served (the last `n` × 50 ms, once [`advance`]d).
pub(super) fn served_newest(s: &State, n: usize) -> u32 {
    let (counts, newest) = &s.served;
    (0..n.min(SLICES) as u64).fold(0u32, |sum, k| {
        let i = ((newest + SLICES as u64 - k) % SLICES as u64) as usize;
        sum.saturating_add(counts[i])
    })
}
