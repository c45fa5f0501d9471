//! GitHub's dialect (`X-RateLimit-Limit/Remaining/Reset`, the reset in epoch seconds, no window
//! stated) over a fixed window of 5 s: near the window's end its reset is a second or less, and
//! its count is still a window's, not a bucket's (issue 34, F14).

use super::*;

/// The headers of an answer `reset_in` whole seconds before its window renews, `left` remaining
/// of 30, its `Date` this second.
fn github(status: u16, left: &str, reset_in: i64) -> Signal {
    let now = chrono::Utc::now();
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let reset = (now.timestamp() + reset_in).to_string();
    signal(
        status,
        &[
            ("date", &date),
            ("x-ratelimit-limit", "30"),
            ("x-ratelimit-remaining", left),
            ("x-ratelimit-reset", &reset),
        ],
    )
}

/// The window is inferred from the resets (5 s); an answer a second before it renews saying 2
/// remain allows two sends, and the third waits for an answer (the requests in flight used to
/// overspend it: its remainder was read as a bucket's, which refills, and 16 were refused at
/// every window's end). Its `403` saying nothing remains is the window spent, not another
/// caller's spending: the share is not halved (it was, at every window's end).
#[tokio::test]
async fn a_window_s_count_near_its_end_is_still_a_count() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let (slot, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    pacer.observe(slot, Some(&github(200, "25", 5)), CAP);
    let (slot, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    pacer.observe(slot, Some(&github(200, "2", 1)), CAP);
    let mut sent = Vec::new();
    for _ in 0..2 {
        sent.push(pacer.acquire("", CAP, CAP).await.unwrap().0);
    }
    {
        let mut paces = pacer.lock();
        let s = paces.of("");
        assert_eq!(s.allowance, Some(0), "two remained, two are in flight");
        assert!(stated::gated(s), "the third waits for an answer");
    }
    let mut sent = sent.into_iter();
    let first = sent.next().unwrap();
    pacer.observe(first, Some(&github(403, "0", 1)), CAP);
    let mut paces = pacer.lock();
    let s = paces.of("");
    assert!(s.share > 0.9, "the window spent: {}", s.share);
    assert!(
        s.bursts,
        "a window's remainder is still spent at once once renewed"
    );
}
