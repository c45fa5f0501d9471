//! Stated limits that change or stack: a drop, a bucket told from a window, two policies.

use super::*;

/// A stated quota of 50 a second with `left` remaining (the `policy` dialect).
fn fifty(left: &str) -> Signal {
    signal(
        200,
        &[
            ("ratelimit-limit", "50"),
            ("ratelimit-policy", "50;w=1"),
            ("ratelimit-remaining", left),
        ],
    )
}

/// A remainder saying the platform no longer counts sends the client's log counts within the
/// window (a bucket refilled) turns the log off: it capped a bucket's 50 a second at 49, under
/// what the bucket serves (`policy+drop-to-50`: 27.4 s where reqwest took 25.3 s). A sliding
/// log's remainder counts every send of its window: its log stays.
#[test]
fn a_remainder_that_forgets_sends_turns_the_log_off() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    pacer.learn(s, &fifty("49"), CAP, Sent::default());
    let now = Instant::now();
    for _ in 0..49 {
        stated::log(s, now);
    }
    assert!(stated::logged(s, now, now) > now, "the window holds 49");
    // 49 sent, 1 left: a sliding log's count.
    pacer.learn(s, &fifty("1"), CAP, Sent::default());
    assert!(stated::logged(s, now, now) > now, "a sliding log is logged");
    // 49 sent, 20 left: the platform counts 30 of them (answer after answer: one answer
    // overtaken on the way says so of a sliding log too).
    pacer.learn(s, &fifty("20"), CAP, Sent::default());
    pacer.learn(s, &fifty("20"), CAP, Sent::default());
    assert!(stated::logged(s, now, now) > now, "two answers in a row");
    pacer.learn(s, &fifty("20"), CAP, Sent::default());
    assert_eq!(stated::logged(s, now, now), now, "a bucket is not logged");
}

/// When the stated rate drops, the sends of the window at the old pace do not stall every send
/// for most of a window (the platform judges them: a bucket forgot them as it refilled), and
/// answers within a second of the drop that find the bucket about empty (answers to the old
/// pace) do not cut this client's share.
#[test]
fn a_drop_neither_stalls_on_the_old_pace_nor_cuts_the_share() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let fast = [
        ("ratelimit-limit", "200"),
        ("ratelimit-policy", "200;w=1"),
        ("ratelimit-remaining", "1"),
    ];
    pacer.learn(s, &signal(200, &fast), CAP, Sent::default());
    let now = Instant::now();
    for _ in 0..199 {
        stated::log(s, now);
    }
    assert!(stated::logged(s, now, now) > now, "the window holds 199");
    s.in_flight = 4;
    pacer.learn(s, &fifty("0"), CAP, Sent::default());
    assert_eq!(pacer.pace(s), Some(50.0 * HEADROOM), "the drop is followed");
    assert_eq!(stated::logged(s, now, now), now, "no stall on the old pace");
    pacer.learn(s, &fifty("1"), CAP, Sent::default());
    assert_eq!(s.share, 1.0, "answers to the old pace keep the share");
}

/// Two stated policies at once, a bucket each (`"burst";q=50;w=1, "sustained";q=300;w=10`,
/// `t` the time until the bucket is full again): `sustained`'s reset moving later as its
/// remainder falls says it refills; its remainder at 0 then holds no send until `t` (a 10 s
/// pause: 28.9 s where a naive loop took 23.8 s), nor is it a count the requests in flight
/// may not overspend (the pace, 30 a second, follows the refill). A window whose reset counts
/// down is still held until it.
#[test]
fn a_bucket_is_told_from_a_window_by_its_reset() {
    let answer = |left: u32, reset: u32| {
        let state = format!("\"burst\";r=40;t=1, \"sustained\";r={left};t={reset}");
        signal(
            200,
            &[
                (
                    "ratelimit-policy",
                    "\"burst\";q=50;w=1, \"sustained\";q=300;w=10",
                ),
                ("ratelimit", &state),
            ],
        )
    };
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    // Spent faster than it refills: the remainder falls, the time until full grows.
    for (left, reset) in [(280, 1), (240, 2), (200, 4)] {
        pacer.learn(s, &answer(left, reset), CAP, Sent::default());
    }
    pacer.learn(s, &answer(0, 10), CAP, Sent::default());
    assert_eq!(s.held_until, None, "a bucket is not held until full");
    assert_eq!(s.allowance, None, "a bucket's remainder refills");
    assert!(
        s.stated.is_some_and(|r| (r - 30.0).abs() < 1e-9),
        "{:?}",
        s.stated
    );
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    for (left, reset) in [(280, 9), (240, 9), (200, 8)] {
        pacer.learn(s, &answer(left, reset), CAP, Sent::default());
    }
    pacer.learn(s, &answer(0, 8), CAP, Sent::default());
    assert!(s.held_until.is_some(), "a window is held until its reset");
}

/// A refusal by the faster of two stated policies (`"burst";q=50;w=1` beside
/// `"sustained";q=300;w=10`, which paces) is the burst's overspending, not another caller's:
/// the remainder is still spent as a burst and the share stays (three such refusals at the
/// start held a run at the sustained pace to its end: 33.6 s where 24 s were enough).
#[test]
fn a_refusal_by_a_faster_policy_keeps_the_bursts() {
    let policies = (
        "ratelimit-policy",
        "\"burst\";q=50;w=1, \"sustained\";q=300;w=10",
    );
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let fresh = [
        policies,
        ("ratelimit", "\"burst\";r=49;t=1, \"sustained\";r=299;t=1"),
    ];
    pacer.learn(s, &signal(200, &fresh), CAP, Sent::default());
    let refused = [
        policies,
        ("ratelimit", "\"burst\";r=0;t=1, \"sustained\";r=250;t=2"),
        ("retry-after", "1"),
    ];
    pacer.learn(s, &signal(429, &refused), CAP, Sent::default());
    assert!(s.bursts, "the remainder is still spent as a burst");
    assert_eq!(s.share, 1.0);
}

/// A slot taken again at a new pace (a refusal cut it) is taken out of the send log: it was
/// never sent (each cut left up to one slot per waiting request in it, and a sliding log's
/// remainder read as a bucket's that forgot them).
#[tokio::test]
async fn a_slot_taken_again_at_a_new_pace_leaves_the_log() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let stated = [
        ("ratelimit-limit", "20"),
        ("ratelimit-policy", "20;w=1"),
        ("ratelimit-remaining", "10"),
    ];
    observe(&pacer, 200, &stated).await;
    {
        let mut paces = pacer.lock();
        let s = paces.of("");
        (s.credit, s.bursts) = (0, false);
    }
    let (first, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    let mut waiting = Box::pin(pacer.acquire("", CAP, CAP));
    assert!(futures_util::FutureExt::now_or_never(waiting.as_mut()).is_none());
    let before = pacer.lock().of("").log.len();
    let generation = pacer.lock().of("").generation;
    let refused = [
        ("ratelimit-limit", "20"),
        ("ratelimit-policy", "20;w=1"),
        ("ratelimit-remaining", "0"),
    ];
    pacer.observe(first, Some(&signal(429, &refused)), CAP);
    assert_ne!(
        pacer.lock().of("").generation,
        generation,
        "the pace was cut"
    );
    let (second, _) = waiting.await.unwrap();
    assert_eq!(pacer.lock().of("").log.len(), before, "one slot each");
    drop(second);
}
