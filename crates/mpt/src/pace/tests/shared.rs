//! The shared-spending check (`renewal::shared`) on a stated sliding log (the mock's, in the
//! `policy` dialect: 200 a second): this client's own requests counted out of their order are
//! not another caller's spending, wherever they lie (the bursts stay), with the instants
//! injected (no clock, no timer).

use super::*;

const LATENCY: Duration = Duration::from_millis(20);
/// Sends of one burst, planned this far apart (the bench's: a few microseconds).
const APART: Duration = Duration::from_micros(20);

/// The `policy` dialect's answer: 200 a second, `left` remaining.
fn policy(left: u32) -> Signal {
    let left = left.to_string();
    signal(
        200,
        &[
            ("ratelimit-limit", "200"),
            ("ratelimit-policy", "200;w=1"),
            ("ratelimit-remaining", &left),
            ("ratelimit-reset", "1"),
        ],
    )
}

/// The answer to a request planned at `at`, stating `left`, come at `now` (no longer in flight).
fn learn(pacer: &Pacer, s: &mut State, (at, left): (Instant, u32), now: Instant) {
    s.in_flight -= 1;
    let sent = Sent {
        at: Some(at),
        ..Sent::default()
    };
    pacer.learn_at(s, &policy(left), CAP, sent, now);
}

/// Plans a send at `at` (sent: in flight).
fn send(s: &mut State, at: Instant) {
    s.in_flight += 1;
    stated::log(s, at);
}

/// A first request answered alone (199 left), then a burst of `n` planned from `t1`, in flight.
fn burst(pacer: &Pacer, s: &mut State, t0: Instant, n: u32) -> Instant {
    send(s, t0);
    learn(pacer, s, (t0, 199), t0 + LATENCY);
    let t1 = t0 + LATENCY + APART;
    for i in 0..n {
        send(s, t1 + APART * i);
    }
    t1
}

/// The first request of a burst counted last, after the 15 planned microseconds after it (the
/// bench's 16 connections reach the platform in any order): its answer says 16 fewer remain,
/// and the 15 are still in flight. They are this client's own: the bursts stay. Only the sends
/// between the two answers' requests were counted as its own, the 15 after it were read as
/// another caller's spending, and the bursts stopped for the rest of the job, every single
/// client's (`policy+sliding-log` 10.3-10.75 s, 10.21-10.24 s before).
#[test]
fn its_own_later_sends_counted_first_are_no_other_caller_s() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    let t1 = burst(&pacer, s, t0, 16);
    assert!(s.bursts);
    learn(&pacer, s, (t1, 199 - 16), t1 + LATENCY);
    assert!(
        s.bursts,
        "its own sends after the request, counted before it, read as another caller's"
    );
}

/// The requests in flight planned before an answer's request may be counted after it: counted
/// as this client's own when the next answer says how much fell. Not less the slots reserved
/// after it and not sent yet (waiting at the pace: not in flight): those hid the requests in
/// flight, and its own burst counted out of order read as another caller's.
#[test]
fn slots_not_sent_yet_do_not_hide_its_requests_in_flight() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    // A burst of 9; the last one counted first (198 left), its 8 before it after it.
    let t1 = burst(&pacer, s, t0, 9);
    let ms = Duration::from_millis;
    // Eight slots reserved at the pace, 6 ms apart from 10 ms on, not sent yet.
    let slots: Vec<Instant> = (0..8u32).map(|k| t1 + ms(10) + ms(6) * k).collect();
    for at in &slots {
        stated::log(s, *at);
    }
    let first = t1 + LATENCY + ms(1);
    learn(&pacer, s, (t1 + APART * 8, 198), first);
    for i in 0..8u32 {
        learn(
            &pacer,
            s,
            (t1 + APART * i, 197 - i),
            first + APART * (i + 1),
        );
    }
    // The first slot's request, sent at its time, counted after the 8: 189 left.
    s.in_flight += 1;
    learn(&pacer, s, (slots[0], 189), slots[0] + LATENCY);
    assert!(
        s.bursts,
        "its requests in flight, counted after the answer's, read as another caller's"
    );
}
