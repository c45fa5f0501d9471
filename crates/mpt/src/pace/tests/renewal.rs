//! Two processes on one token behind a fixed window (`"default";q=200;w=1`, the draft's
//! structured fields, `Retry-After: 1` on a refusal), in simulated time: the instants are
//! injected into `Pacer::learn_at`, no clock, no timer (the same run every time).

use std::collections::VecDeque;

use super::*;

const LIMIT: u32 = 200;
const LATENCY: Duration = Duration::from_millis(20);
const CONCURRENCY: usize = 16;
const TICK: Duration = Duration::from_micros(500);
const STAGGER: Duration = Duration::from_millis(7);

/// An answer of the fixed window: `left` remaining, refused or served.
fn answer(left: u32, refused: bool) -> Signal {
    let state = format!("\"default\";r={left};t=1");
    let mut h = vec![
        ("ratelimit-policy", "\"default\";q=200;w=1"),
        ("ratelimit", state.as_str()),
    ];
    if refused {
        h.push(("retry-after", "1"));
    }
    signal(if refused { 429 } else { 200 }, &h)
}

/// One client: its pacer's state, the requests it has in flight (answered at, sent at, the
/// answer), and when its next request may go.
struct Client {
    pacer: Pacer,
    flight: VecDeque<(Instant, Instant, Signal)>,
    next: Instant,
    todo: VecDeque<Instant>,
    done: usize,
}

/// Runs `clients` processes of `each` requests, 16 at a time, against one fixed window of 200
/// a second counted from `start`; each request is counted as it is sent and answered 20 ms
/// later; a refused request is sent again after its `Retry-After`, or the renewal its pacer
/// holds for ([`Pacer::observe`]'s return). Returns (requests, refused).
fn run(clients: usize, each: usize) -> (usize, usize) {
    let start = Instant::now();
    let mut all: Vec<Client> = (0..clients)
        .map(|j| Client {
            pacer: Pacer::new(Pacing::Adaptive),
            flight: VecDeque::new(),
            next: start,
            // Not in lockstep: each process starts a few milliseconds after the one before.
            todo: (0..each).map(|_| start + STAGGER * j as u32).collect(),
            done: 0,
        })
        .collect();
    let (mut window, mut used, mut sent, mut refused) = (0u64, 0u32, 0usize, 0usize);
    let mut now = start;
    while all.iter().any(|c| c.done < each) && now < start + Duration::from_secs(60) {
        for c in &mut all {
            while c.flight.front().is_some_and(|(at, ..)| *at <= now) {
                let Some((_, at, answer)) = c.flight.pop_front() else {
                    break;
                };
                let mut paces = c.pacer.lock();
                let s = paces.of("");
                s.in_flight -= 1;
                let sent = Sent {
                    at: Some(at),
                    ..Sent::default()
                };
                c.pacer.learn_at(s, &answer, CAP, sent, now);
                if answer.throttled {
                    let held = crate::pace::renewal::take_hold(s).map(|h| h - now);
                    let after = held
                        .unwrap_or(Duration::from_secs(1))
                        .min(Duration::from_secs(1));
                    c.todo.push_back(now + after);
                } else {
                    c.done += 1;
                }
            }
            let mut paces = c.pacer.lock();
            let s = paces.of("");
            let held = s.held_until.is_some_and(|h| now < h);
            let ready = c.todo.front().is_some_and(|t| *t <= now);
            // A call sleeping before its retry holds its place among the 16 too.
            let sleeping = c.todo.iter().filter(|t| **t > now).count();
            if held || !ready || now < c.next || c.flight.len() + sleeping >= CONCURRENCY {
                continue;
            }
            c.todo.pop_front();
            // The fixed window: 200 in each whole second from the start.
            let second = now.duration_since(start).as_secs();
            if second != window {
                (window, used) = (second, 0);
            }
            let served = used < LIMIT;
            used += u32::from(served);
            (sent, refused) = (sent + 1, refused + usize::from(!served));
            c.flight
                .push_back((now + LATENCY, now, answer(LIMIT - used, !served)));
            s.in_flight += 1;
            stated::log(s, now);
            let pace = c.pacer.pace(s);
            if s.credit > 0 {
                s.credit -= 1;
            } else if let Some(rate) = pace {
                c.next = now + Duration::from_secs_f64(1.0 / rate);
            }
        }
        now += TICK;
    }
    (sent, refused)
}

/// Two processes on one fixed window converge on the shared budget: at most 5% of their
/// requests refused (round 13: 5.8%, two processes each sending into the window after it was
/// spent until it renewed, 16 refused each time, and each growing its share back to all of the
/// rate within the next window). The renewal is learned from the remainder's jump; a refusal
/// holds every send until it; each process's share is cut to what of the window it lasted, and
/// grows by what a window left unspent.
#[test]
fn two_processes_on_one_fixed_window_are_rarely_refused() {
    let (sent, refused) = run(2, 600);
    assert!(refused * 20 <= sent, "{refused} of {sent} requests refused");
}

/// One process alone on a fixed window is held for its renewal after a refusal, never sent
/// into it while spent, and its share is not halved for its own burst.
#[test]
fn a_refusal_at_a_fixed_window_s_end_holds_until_its_renewal() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let t0 = Instant::now();
    let mut paces = pacer.lock();
    let s = paces.of("");
    let ms = Duration::from_millis;
    // Two windows, 5 ms apart: 199 down to 60 in each, then renewed at 1 s and 2 s.
    for i in 0..560u64 {
        let at = t0 + ms(5 * i);
        let left = 199 - (i % 200).min(139) as u32;
        let sent = Sent {
            at: Some(at),
            ..Sent::default()
        };
        pacer.learn_at(s, &answer(left, false), CAP, sent, at + LATENCY);
    }
    // Spent 800 ms into the third window: refused (the window's, not another caller's).
    let at = t0 + ms(2_800);
    let share = s.share;
    let sent = Sent {
        at: Some(at),
        ..Sent::default()
    };
    pacer.learn_at(s, &answer(0, true), CAP, sent, at + LATENCY);
    let held = s.held_until.expect("held until the renewal");
    assert!(
        held >= t0 + ms(3_000) && held <= t0 + ms(3_030),
        "{:?}",
        held - t0
    );
    assert_eq!(crate::pace::renewal::take_hold(s), Some(held));
    assert!(
        s.share > share * 0.7,
        "cut to what the window lasted: {}",
        s.share
    );
}
