//! A refusal's own `Retry-After` bounds a hold set on a stated reset (tester round 8: a backend
//! whose reset ran ahead while its refusals asked for a second).

use super::*;

/// An answer says nothing remains of `20;w=10` until a reset 9 s off (sends held for it); a
/// refusal of a request in flight then asks for 1 s: the hold is cut to it, and a send within
/// a budget of 2 s is not refused (before: held 9 s, over the budget).
#[tokio::test]
async fn a_refusals_retry_after_bounds_a_hold_on_a_stated_reset() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let stated = |left| {
        vec![
            ("ratelimit-limit", "20"),
            ("ratelimit-policy", "20;w=10"),
            ("ratelimit-remaining", left),
            ("ratelimit-reset", "9"),
        ]
    };
    let (a, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    let (b, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    pacer.observe(a, Some(&signal(200, &stated("0"))), CAP);
    let mut refused = stated("0");
    refused.push(("retry-after", "1"));
    pacer.observe(b, Some(&signal(429, &refused)), CAP);
    let budget = Duration::from_secs(2);
    let got = pacer.acquire("", CAP, budget).await;
    let (_, held) = got.expect("held for the refusal's second, not the reset's 9 s");
    assert!(held <= budget, "{held:?}");
}
