//! A limit that rises after the pace settled, nothing stated (tester round 17, F1): a token
//! bucket of 50 a second that goes to 400 a second.

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
