//! Throttled retries and paced sends: a retry after a refusal's `Retry-After` leaves at the
//! pace, in its place among the paced sends, never together with one of them.

use crate::common::*;

/// A bucket of burst 1 at 3 a second that states no limit (`429` with `Retry-After: 1` only):
/// each retry of a refused request waited its second and then left within a millisecond of
/// the next paced send, so one of the two was refused, every second (round 21: 2 of 40 ids
/// reached the 10 throttled attempts and failed `rate-limited`, exit 7; here 1 of 30 failed so
/// in each of 3 runs). Sent at the pace, a bucket of burst 1 sees no two sends within its
/// refill: few refusals (those that learn the pace), no id failed.
#[tokio::test]
async fn throttled_retries_leave_at_the_pace_not_with_a_paced_send() {
    let server = rate_limited("3/s", 1, mpt_mock::RateDialect::RetryAfter).await;
    let ids: Vec<String> = seeded_ids(&server, 30, "collide", DEFAULT_ACCOUNT);
    let client = client_for(&server, RetryPolicy::default());
    let report = client.ensure_disabled_many(&ids, 8).await;
    let failed: Vec<String> = report
        .failed()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    let refused = server.throttled();
    let sent = server.total_requests() + refused;
    assert!(failed.is_empty(), "{refused} of {sent} refused; {failed:?}");
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
    // Most are the start's (8 sent at once before the first refusal, and the pace learned from
    // there: 18 of 49 here), none of a retry's collision.
    assert!(refused <= ids.len() as u64, "{refused} of {sent} refused");
}
