//! A sliding log of 200 a second stated in the `policy` dialect, with the instants injected
//! (no clock, no timer): its remainders come back out of order (16 in flight, the answers
//! overtaking each other), and that is not a bucket forgetting sends.

use super::*;

/// The `policy` dialect's answer: 200 a second, `left` remaining.
fn policy(status: u16, left: u64) -> Signal {
    let left = left.to_string();
    signal(
        status,
        &[
            ("ratelimit-limit", "200"),
            ("ratelimit-policy", "200;w=1;burst=20"),
            ("ratelimit-remaining", &left),
            ("ratelimit-reset", "1"),
        ],
    )
}

/// A request planned to go at `at`.
fn sent_at(at: Instant) -> Sent {
    Sent {
        at: Some(at),
        ..Sent::default()
    }
}

/// The burst of a sliding log's remainder: 199 sends planned 1.25 ms apart from `t0` (16 at a
/// time, 20 ms each), the log holding them all.
fn burst(pacer: &Pacer, s: &mut State, t0: Instant) -> Vec<Instant> {
    pacer.learn_at(s, &policy(200, 199), CAP, sent_at(t0), t0);
    assert_eq!(s.quota, Some((200.0, 1.0)));
    let slots: Vec<Instant> = (0..199u32)
        .map(|k| t0 + Duration::from_micros(1250) * k)
        .collect();
    for at in &slots {
        assert!(stated::log(s, *at));
    }
    slots
}

/// The answers to the sends planned 187th to 189th (the platform counted 187, 188 and 189 then:
/// 13, 12 and 11 remain) come last, in reverse order, after the answers to the sends planned
/// later (they overtook them on the way). Compared with every send planned until their arrival,
/// they read as a count that forgot 8 to 12 of them: the log was dropped as a bucket's, the
/// credit and the pace after it overran the sliding log's window (16 refused), and the share
/// was halved to an eighth (`policy+sliding-log`: 11.73 s for an ideal of 10.1; reqwest c16
/// 11.72). Each one's count is one of the sends planned up to its own: the log stays, and holds
/// the next send to the window's end.
#[test]
fn answers_overtaken_on_the_way_are_not_a_bucket_forgetting_sends() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    let slots = burst(&pacer, s, t0);
    let now = t0 + Duration::from_millis(290);
    for (k, left) in [(188, 11), (187, 12), (186, 13)] {
        s.in_flight = (k - 186) as u32;
        pacer.learn_at(s, &policy(200, left), CAP, sent_at(slots[k]), now);
    }
    assert!(!s.forgets, "overtaken answers read as a bucket's");
    assert_eq!(s.log.len(), 199, "the log was dropped");
    let next = stated::logged(s, now, now);
    assert!(
        next >= t0 + Duration::from_secs(1),
        "the window holds 199: {:?} after the burst",
        next.duration_since(t0)
    );
}

/// A bucket still reads as one when the answers' slots are known: the answers to the last sends
/// of the window say 20 remain of 200 where the log holds 199 (it refilled as it served them).
#[test]
fn a_bucket_s_remainder_still_turns_the_log_off() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    let slots = burst(&pacer, s, t0);
    let now = t0 + Duration::from_millis(290);
    for at in &slots[193..196] {
        s.in_flight = 3;
        pacer.learn_at(s, &policy(200, 20), CAP, sent_at(*at), now);
    }
    assert!(s.forgets, "a bucket's remainder");
    assert_eq!(stated::logged(s, now, now), now, "a bucket is not logged");
}

/// A window after the burst, the sliding log renews as the burst's sends leave it: a burst then
/// finds the remainder where it stood, and three answers to sends planned within one request's
/// time state one remainder (the sends counted as fast as the old ones left). That is one
/// count renewing, not the remainders of several (a load balancer's backends): the log is not
/// lifted (it was, and the burst overran the window: refused, the share halved).
#[test]
fn a_sliding_log_renewing_is_not_several_counts() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    burst(&pacer, s, t0);
    let t1 = t0 + Duration::from_millis(1100);
    for k in 0..3u32 {
        let at = t1 + Duration::from_micros(1250) * k;
        // Reserved as the pacer does: the log is pruned to the sends that may still tell.
        assert_eq!(stated::logged(s, at, at), at);
        stated::log(s, at);
        let now = at + Duration::from_millis(20);
        stated::logged(s, now, now);
        pacer.learn_at(s, &policy(200, 40), CAP, sent_at(at), now);
    }
    assert_eq!(s.roomy_until, None, "the log was lifted");
}

/// The first sends of a job go before any answer states the quota: they are logged all the
/// same, and count in its window once it is stated (they were not: the log let 199 more go
/// within the window, and the send over the quota was refused, halving the share).
#[test]
fn sends_before_the_quota_is_stated_count_in_its_window() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    for k in 0..2u32 {
        let at = t0 + Duration::from_micros(100) * k;
        assert_eq!(stated::logged(s, at, at), at);
        assert!(stated::log(s, at), "a send before the quota is known");
    }
    let now = t0 + Duration::from_millis(20);
    pacer.learn_at(s, &policy(200, 198), CAP, sent_at(t0), now);
    for k in 0..197u32 {
        let at = now + Duration::from_micros(1250) * k;
        assert_eq!(stated::logged(s, at, at), at, "send {k}");
        stated::log(s, at);
    }
    let at = now + Duration::from_millis(250);
    assert!(
        stated::logged(s, at, at) >= t0 + Duration::from_secs(1),
        "199 sent within the window"
    );
    // Once an answer came stating no quota, nothing is logged (a send costs what it did).
    let unstated = Pacer::new(Pacing::Adaptive);
    let mut paces = unstated.lock();
    let s = paces.of("");
    unstated.learn_at(s, &signal(200, &[]), CAP, sent_at(t0), now);
    assert_eq!(stated::logged(s, now, now), now);
    assert!(!stated::log(s, now), "logged with no quota stated");
    assert!(s.log.is_empty());
}
