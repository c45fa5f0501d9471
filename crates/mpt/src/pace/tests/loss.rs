//! Loss on the way against a limit: a lone refusal among many served cuts nothing; refusals
//! that cluster still cut at once.

use super::*;

/// 1% of requests refused at random, no limit: each refusal cut the pace (2,000 ids in 36 s
/// where a naive loop took 8 s). One refusal among a hundred served is loss, not a limit; a
/// few more within the second are a limit, and cut.
#[tokio::test]
async fn a_lone_refusal_among_many_served_cuts_nothing() {
    let pacer = Pacer::new(Pacing::Adaptive);
    for _ in 0..100 {
        observe(&pacer, 200, &[]).await;
    }
    observe(&pacer, 429, &[("retry-after", "1")]).await;
    assert_eq!(pacer.rate(), None, "1 refused of 101: loss");
    assert_eq!(pacer.lock().of("").held_until, None);
    for _ in 0..3 {
        observe(&pacer, 429, &[("retry-after", "1")]).await;
    }
    assert!(pacer.rate().is_some(), "4 refused of 104: a limit");
}

/// A refusal that states no remainder among many served under a stated limit does not halve
/// this client's share (1% random 429s in front of a 300/s policy: 0.73 of ideal).
#[tokio::test]
async fn a_lone_bare_refusal_under_a_stated_limit_keeps_the_share() {
    let pacer = Pacer::new(Pacing::Adaptive);
    for i in 0..100 {
        // One count, spent one a request (the same remainder again says a load balancer's).
        let left = (250 - i).to_string();
        let stated = [
            ("ratelimit-limit", "300"),
            ("ratelimit-remaining", left.as_str()),
            ("ratelimit-reset", "1"),
            ("ratelimit-policy", "300;w=1"),
        ];
        observe(&pacer, 200, &stated).await;
    }
    let rate = pacer.rate();
    observe(&pacer, 429, &[("retry-after", "1")]).await;
    assert_eq!(pacer.lock().of("").share, 1.0);
    assert_eq!(pacer.rate(), rate);
}
