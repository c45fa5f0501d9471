//! A limit that changes after the pace settled, nothing stated (tester round 17): a token
//! bucket of 50 a second that goes to 400 a second (F1), and one that dropped to 50 (F8).

use super::super::*;
use super::sharing::{BUCKET, mean, run_from};

/// What a client paced at a bucket of 50 a second with 20 ms round trips learned (the tester's
/// trace): the send that went while the one before was on the way (level 2) refused, level 1
/// served, so a ceiling of one in flight, and those refusals not cut for (AIMD's pace 400 a
/// second: the ceiling is what paces).
fn settled_at_one(s: &mut State) {
    for _ in 0..20 {
        s.flight.learn(false, 1);
    }
    for _ in 0..30 {
        s.flight.learn(false, 1);
        s.flight.learn(true, 2);
    }
    (s.learned, s.ceiling) = (Some(400.0), Some(579.0));
}

/// The tester's F1 in simulated time: a client settled at a bucket of 50 a second as above, the
/// limit at 400 a second from one second on, 1,300 ids (the floor about 4.1 s). The ceiling
/// of one is probed after 50 successes and, its raises served, doubled at each: the job ends
/// in under 7 s on average over 24 runs (raised one level per 200 successes at it, the old
/// ceiling regained 25 requests a second per second: 12.4 s, a naive loop 9.5 s).
#[test]
fn a_limit_that_rises_after_the_pace_settled_is_regained_within_a_second_or_two() {
    let rise = |e: Duration| {
        if e < Duration::from_secs(1) {
            50.0
        } else {
            400.0
        }
    };
    let each: Vec<(f64, f64)> = (0..24)
        .map(|seed| {
            let run = run_from(&[1300], seed, BUCKET, rise, settled_at_one);
            let (wall, sent, refused) = run[0];
            (wall.as_secs_f64(), refused as f64 / sent as f64)
        })
        .collect();
    let wall = mean(each.iter().map(|r| r.0));
    let refused = mean(each.iter().map(|r| r.1));
    eprintln!("mean {wall:.2} s, {:.2}% refused", refused * 100.0);
    assert!(
        wall <= 7.0 && refused <= 0.02,
        "mean {wall:.2} s, {:.2}% refused: {each:.2?}",
        refused * 100.0
    );
}

/// A bucket of 50 a second, refused 1.5 s apart, nothing stated: after the first refusal the
/// pace was low for half a second (the bucket refilled its 20), then 70 a second for a second
/// (the burst spent, and the rate). Served over the last second: 70; between the two refusals,
/// 75 in 1.5 s, the bucket's 50 a second (empty at both). The ceiling the second cut notes is
/// the latter (75% of the former at least): the pace settles under the bucket, not at 99% of
/// 70 to be refused again within a second or two (the tester's drop to 50 a second, F8: the
/// ceiling noted at 60, a refusal every 0.9 s).
#[test]
fn a_cut_notes_at_most_what_was_served_since_the_cut_before() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut at = t0;
    for _ in 0..50 {
        aimd::learn(s, false, at, s.generation);
        at += ms(20);
    }
    aimd::learn(s, true, at, s.generation);
    let first = s.cut.at;
    for (n, every) in [(5, ms(100)), (70, Duration::from_micros(14_286))] {
        for _ in 0..n {
            at += every;
            aimd::learn(s, false, at, s.generation);
        }
    }
    s.learned = Some(70.0);
    at += ms(1);
    aimd::learn(s, true, at, s.generation);
    assert!(s.cut.at > first, "a second cut");
    let ceiling = s.ceiling.unwrap_or(0.0);
    assert!(ceiling <= 55.0, "the ceiling noted: {ceiling:.1}/s");
    assert!(s.learned.is_some_and(|r| r < 50.0), "{:?}", s.learned);
}

/// A pace with no ceiling (one forgotten as too low) that the requests in flight hold back: a
/// ceiling of 3 in flight at 20 ms serves 150 a second. The pace does not grow past what it is
/// served (the real run: 7,187 a second, sent all at once when the ceiling was raised, 16
/// refused and the pace cut to 128 under a limit of 400).
#[test]
fn a_pace_held_back_by_the_requests_in_flight_does_not_grow_past_what_is_served() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let mut at = Instant::now();
    (s.learned, s.ceiling) = (Some(100.0), None);
    for _ in 0..300 {
        at += Duration::from_micros(6_667);
        aimd::learn(s, false, at, s.generation);
    }
    let pace = s.learned.unwrap_or(0.0);
    assert!((100.0..=250.0).contains(&pace), "the pace: {pace:.0}/s");
}

/// Sends waiting for their slots at a slow AIMD pace take them again once the pace grows past
/// `lately::RESPACE` times it: five reserved one after the other at 10 a second, the pace then
/// at 1,000 a second, all go within a few milliseconds. Kept, their slots went on to 0.4 s
/// (16 sends waiting at 50 a second held a pace that had doubled for a third of a second).
#[tokio::test]
async fn sends_waiting_at_a_slow_pace_take_their_slots_again_when_it_grows() {
    let pacer = Pacer::new(Pacing::Adaptive);
    {
        // Grown to 10 a second (each success grows the pace, and notes it).
        let mut paces = pacer.lock();
        let s = paces.of("");
        s.learned = Some(10.0);
        lately::climbed(s, None, Instant::now());
    }
    let start = Instant::now();
    let (mut slots, mut waiting) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let mut w = Box::pin(pacer.acquire("", super::CAP, super::CAP));
        // Polled once: its slot is reserved (the first one's is now).
        match futures_util::FutureExt::now_or_never(w.as_mut()) {
            Some(slot) => slots.push(slot),
            None => waiting.push(w),
        }
    }
    assert!(slots.len() <= 1, "{} went at once", slots.len());
    {
        let mut paces = pacer.lock();
        let s = paces.of("");
        s.learned = Some(1000.0);
        lately::climbed(s, None, Instant::now());
    }
    pacer.wake.notify_waiters();
    for w in waiting {
        slots.push(w.await);
    }
    for slot in slots {
        let (slot, _) = slot.unwrap();
        let at = slot.sent.at.unwrap_or(start);
        let after = at.saturating_duration_since(start);
        assert!(after < Duration::from_millis(150), "a slot {after:?} on");
    }
}
