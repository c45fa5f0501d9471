//! A limit that drops for a while and comes back (the bench's `retry-after+alternating-50`:
//! 200 a second and 50 a second in turn), learned from refusals alone, with the instants
//! injected: the pace follows the drop within a few refusals and climbs back to the rate the
//! platform served lately within a fraction of a second once it serves again.

use std::collections::VecDeque;

use super::super::*;

/// Answers `n` requests `every` apart from `at` on, each sent `LATENCY` before its answer (at
/// the pace's generation then): `refused(i)` says which are refused. Returns the instant after
/// the last.
fn answer(
    s: &mut State,
    sent: &mut VecDeque<u32>,
    at: Instant,
    every: Duration,
    n: u32,
    refused: impl Fn(u32) -> bool,
) -> Instant {
    let mut now = at;
    for i in 0..n {
        // The answer to the request sent four answers ago (20 ms at 200 a second).
        sent.push_back(s.generation);
        let generation = if sent.len() > 4 {
            sent.pop_front().unwrap_or(s.generation)
        } else {
            sent[0]
        };
        aimd::learn(s, refused(i), now, generation);
        now += every;
    }
    now
}

/// Served at 200 a second for two seconds, then the limit drops to 50 a second: one answer in
/// four served while the pace is over it. Before, the first cut went to 70% of the pace, the
/// halvings while refused were undone at the first success, and the pace stayed above 100 a
/// second into the drop (every request of the job's sixteen refused and asleep for its
/// `Retry-After`). Now the pace goes to what the platform served of it: under 80 a second
/// after a fifth of a second. Then the limit rises again: successes only, each at the pace, and
/// half a second later the pace is back near 200 (it crept at a quarter of the peak a second:
/// 100 a second at most).
#[test]
fn a_drop_is_followed_and_the_rate_served_lately_is_climbed_back_to() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    let mut sent = VecDeque::new();
    (s.learned, s.ceiling) = (Some(196.0), Some(200.0));
    let at = answer(s, &mut sent, t0, Duration::from_millis(5), 400, |_| false);
    assert!(s.learned.is_some_and(|r| r >= 190.0), "{:?}", s.learned);
    // The drop: three in four refused, for 200 ms.
    let at = answer(s, &mut sent, at, Duration::from_millis(5), 40, |i| {
        i % 4 != 0
    });
    let dropped = s.learned.unwrap_or(0.0);
    assert!(dropped < 80.0, "the pace after the drop: {dropped:.0}/s");
    // Served at the pace for 100 ms (below the limit: no refusal), then the limit rises.
    let mut at = at;
    let end = at + Duration::from_millis(600);
    while at < end {
        let every = secs(1.0 / s.learned.unwrap_or(1.0)).min(Duration::from_millis(20));
        at = answer(s, &mut sent, at, every, 1, |_| false);
    }
    let climbed = s.learned.unwrap_or(0.0);
    assert!(
        climbed >= 170.0,
        "the pace 0.6 s after the limit rose again: {climbed:.0}/s (from {dropped:.0}/s)"
    );
}

/// A window spent before its end (Envoy's global limit, HAProxy's stick table: a bare `429`
/// until it renews): served at 220 a second for two seconds, then everything refused for
/// 280 ms (the probes of the halved pace too), then served again. The refusals outlasted what
/// a bucket at the pace restored in proportion would leave empty, so the pace goes back to
/// what the second before the cut served, not to the share of refused probes: before, a fifth
/// of the quota, and AIMD's climb took four seconds back to it (the bench's
/// `bare+fixed-window` 14.8 s where reqwest c16 took 10.7 s).
#[test]
fn a_window_refusing_until_it_renews_gets_back_the_pace_it_served() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    let mut sent = VecDeque::new();
    (s.learned, s.ceiling) = (Some(220.0), Some(800.0));
    let every = Duration::from_micros(4_545);
    let at = answer(s, &mut sent, t0, every, 440, |_| false);
    // Spent: every answer refused for 280 ms, those to the halved pace's probes too (fewer
    // and further apart as the pace halves).
    let at = answer(s, &mut sent, at, Duration::from_millis(10), 4, |_| true);
    let at = answer(s, &mut sent, at, Duration::from_millis(40), 2, |_| true);
    let at = answer(s, &mut sent, at, Duration::from_millis(80), 2, |_| true);
    let cut = s.cut.rate;
    // Renewed: served again.
    answer(s, &mut sent, at, Duration::from_millis(5), 6, |_| false);
    let restored = s.learned.unwrap_or(0.0);
    assert!(
        restored >= 150.0,
        "the pace after the window renewed: {restored:.0}/s (cut to {cut:.0}/s)"
    );
}

/// Served at 200 a second for two seconds, then the limit drops to 50 a second for good (the
/// bench's `retry-after+drop-to-50`, the tester's `drop`): the pace follows the drop, climbs
/// back toward the 200 served lately, and is refused on the way. The cut that ends the climb
/// goes back to the pace the climb started from (before: 70% of the pace climbed to, still
/// twice the limit, refused again a round trip later), and the next climb waits twice as long
/// (before: 150 ms after each cut, for the 2 s the rate before was remembered: two or three
/// refusals every 400 ms).
#[test]
fn a_climb_back_that_is_refused_goes_back_and_waits_longer() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    let mut sent = VecDeque::new();
    (s.learned, s.ceiling) = (Some(196.0), Some(200.0));
    let at = answer(s, &mut sent, t0, Duration::from_millis(5), 400, |_| false);
    let at = answer(s, &mut sent, at, Duration::from_millis(5), 40, |i| {
        i % 4 != 0
    });
    // Served at the pace until the climb back lifts it: a step of over 10% in one success
    // (AIMD's own adds about 2% at 50 a second).
    let paced = |s: &State| secs(1.0 / s.learned.unwrap_or(1.0)).min(Duration::from_millis(20));
    let mut at = at;
    // The halved pace restored (the first success since the cut).
    let end = at + Duration::from_millis(100);
    while at < end {
        at = answer(s, &mut sent, at, paced(s), 1, |_| false);
    }
    let before = loop {
        let pace = s.learned.unwrap_or(0.0);
        at = answer(s, &mut sent, at, paced(s), 1, |_| false);
        if s.learned.unwrap_or(0.0) > pace * 1.1 {
            break pace;
        }
        assert!(
            at < t0 + Duration::from_secs(4),
            "no climb: {:?}",
            s.learned
        );
    };
    // Climbed on a little, then refused: the limit is still down.
    at = answer(s, &mut sent, at, paced(s), 3, |_| false);
    let climbed = s.learned.unwrap_or(0.0);
    at = answer(s, &mut sent, at, paced(s), 1, |_| true);
    let cut = s.learned.unwrap_or(0.0);
    assert!(
        cut <= before * 1.01,
        "cut to {cut:.0}/s from {climbed:.0}/s; the climb started from {before:.0}/s"
    );
    // Served at the pace for 250 ms after the cut: no climb yet (it waits 300 ms now), AIMD's
    // own growth only (a quarter of the 200 a second peak a second: 12.5 a second in 250 ms).
    let end = at + Duration::from_millis(250);
    while at < end {
        at = answer(s, &mut sent, at, paced(s), 1, |_| false);
    }
    let later = s.learned.unwrap_or(0.0);
    assert!(
        later <= cut + 25.0,
        "the pace 250 ms after the cut: {later:.0}/s (cut to {cut:.0}/s)"
    );
}
