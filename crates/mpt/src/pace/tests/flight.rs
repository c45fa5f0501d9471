//! A concurrency limiter (at most so many requests in flight, refused over it): the pacer
//! learns its ceiling and keeps under it instead of cutting the rate.

use super::*;

/// Acquires `n` slots at once (their levels: 1 to `n` in flight).
async fn slots(pacer: &Pacer, n: usize) -> Vec<Slot<'_>> {
    let mut taken = Vec::new();
    for _ in 0..n {
        taken.push(pacer.acquire("", CAP, CAP).await.unwrap().0);
    }
    taken
}

/// 8 at a time served for a few rounds, then 16 at once: the 8 sent over 8 in flight are
/// refused (bare `429`s, as a limiter of 8 in flight answers). The ceiling is 8: the rate is not
/// cut (AIMD cut it at each such refusal, to no end: the refusals follow the job's concurrency,
/// not its rate), and a ninth send waits while 8 are in flight, until one is answered.
#[tokio::test]
async fn refusals_only_over_8_in_flight_keep_8_in_flight_and_the_rate() {
    let pacer = Pacer::new(Pacing::Adaptive);
    for _ in 0..4 {
        for slot in slots(&pacer, 8).await {
            pacer.observe(slot, Some(&signal(200, &[])), CAP);
        }
    }
    let mut burst = slots(&pacer, 16).await;
    let over = burst.split_off(8);
    for slot in over {
        pacer.observe(slot, Some(&signal(429, &[])), CAP);
    }
    assert_eq!(pacer.rate(), None, "the rate was cut");
    assert_eq!(pacer.lock().of("").flight.ceiling(), Some(8));
    let mut ninth = std::pin::pin!(pacer.acquire("", CAP, CAP));
    assert!(
        futures_util::FutureExt::now_or_never(ninth.as_mut()).is_none(),
        "a ninth sent with 8 in flight"
    );
    let first = burst.remove(0);
    pacer.observe(first, Some(&signal(200, &[])), CAP);
    let (slot, waited) = ninth.await.unwrap();
    assert_eq!(waited, Duration::ZERO, "the wait for an answer is no hold");
    assert_eq!(slot.sent.level, 8);
}

/// A rate limiter refuses at whatever level the pace leaves (here one request in twenty, at 1
/// to 4 in flight): no ceiling is learned, and the rate is cut as before.
#[tokio::test]
async fn refusals_at_every_level_are_the_rate_s() {
    let pacer = Pacer::new(Pacing::Adaptive);
    for round in 0..20 {
        let taken = slots(&pacer, 4).await;
        for (i, slot) in taken.into_iter().enumerate() {
            let status = if (round * 4 + i) % 20 == 19 { 429 } else { 200 };
            pacer.observe(slot, Some(&signal(status, &[])), CAP);
        }
    }
    assert_eq!(pacer.lock().of("").flight.ceiling(), None);
    assert!(pacer.rate().is_some(), "the rate was not cut");
}
