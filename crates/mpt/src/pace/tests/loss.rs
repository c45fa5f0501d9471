//! Loss on the way against a limit: a refusal cuts, and a cut whose refusals keep their share
//! at the lower pace is undone (loss); refusals within the loss level learned cut nothing.

use super::*;

/// A token bucket the pace crept just past refuses one request among hundreds served: that
/// lone refusal is a limit, and cuts (taken as loss, it only trimmed the pace to what the
/// last second delivered: the pace sat at the limit, refused 1-2% of the time, slower than a
/// naive loop). Its refusals stop at the lower pace: the cut stands, no loss is learned, and
/// the next lone refusal cuts again.
#[tokio::test]
async fn a_lone_refusal_at_a_limit_cuts_and_the_cut_stands() {
    let pacer = Pacer::new(Pacing::Adaptive);
    for _ in 0..100 {
        observe(&pacer, 200, &[]).await;
    }
    observe(&pacer, 429, &[("retry-after", "1")]).await;
    let first = pacer.rate().expect("a lone refusal cuts");
    for _ in 0..300 {
        observe(&pacer, 200, &[]).await;
    }
    let before = pacer.rate().unwrap();
    assert!(
        before >= first,
        "{before} < {first}: the cut stands, the pace grows from it"
    );
    assert!(pacer.lock().of("").trial.is_none());
    assert_eq!(pacer.lock().of("").noise, 0.0, "no loss learned");
    observe(&pacer, 429, &[("retry-after", "1")]).await;
    let after = pacer.rate().unwrap();
    assert!(after <= before * 0.75, "{after} of {before}: cut again");
}

/// 5% and 10% of requests refused at random, no limit at all: each refusal (or most) cut the
/// pace (round 8: 1,500 ids in 56 s at 5% where a naive loop took 14 s; at 10% not done in
/// 90 s). The refusals keep their share at the lower pace: loss. The pace before the cut is
/// restored (unpaced here), and refusals within the loss level learned cut nothing; a share
/// clearly above it (a limit appearing) cuts again.
#[tokio::test]
async fn refusals_that_keep_their_share_at_a_lower_pace_are_loss() {
    for every in [20, 10] {
        let pacer = Pacer::new(Pacing::Adaptive);
        for i in 1..=800 {
            let status = if i % every == 0 { 429 } else { 200 };
            observe(&pacer, status, &[("retry-after", "1")]).await;
        }
        let noise = pacer.lock().of("").noise;
        assert_eq!(
            pacer.rate(),
            None,
            "1 in {every} refused: loss, unpaced as before"
        );
        assert!(noise > 0.0, "1 in {every}: a loss level learned");
        // A second later, half refused: far above the loss level.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for i in 0..10 {
            let status = if i % 2 == 0 { 429 } else { 200 };
            observe(&pacer, status, &[("retry-after", "1")]).await;
        }
        assert!(pacer.rate().is_some(), "1 in {every}, then 1 in 2: a limit");
    }
}

/// A third of the answers refused whatever the pace (a gateway answering every third change
/// `503` after the work, no `Retry-After`; tester round 9): loss too. A share over 25% opened no
/// trial, and each refusal cut the pace as a limit's, to a request or two a second (400 ids not
/// done in 50 s where a naive loop took 14.6 s).
#[tokio::test]
async fn a_third_refused_whatever_the_pace_is_loss() {
    let pacer = Pacer::new(Pacing::Adaptive);
    for i in 1..=600 {
        let status = if i % 3 == 0 { 503 } else { 200 };
        observe(&pacer, status, &[]).await;
    }
    let noise = pacer.lock().of("").noise;
    assert!(
        noise > 0.25,
        "a loss level of about a third learned: {noise}"
    );
    assert_eq!(pacer.rate(), None, "unpaced as before the first cut");
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
