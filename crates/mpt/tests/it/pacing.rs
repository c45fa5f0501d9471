//! Bulk work at the platform's pace: against the mock's rate limit, no id fails while the retry
//! policy allows a retry, and clones of one client share the pace. (Speed is the benchmark's:
//! `cargo xtask bench --paced`.)

use crate::common::*;

async fn limited(per_second: &str, burst: u32, seed: usize) -> (MockServer, Vec<String>) {
    let limit = mpt_mock::RateLimit::parse(per_second, burst).unwrap();
    let server = MockServer::builder()
        .rate_limit(limit)
        .start()
        .await
        .unwrap();
    let ids = server
        .seed_tokens(seed, "paced", DEFAULT_ACCOUNT)
        .into_iter()
        .map(|t| t.id)
        .collect();
    (server, ids)
}

fn client_with(server: &MockServer, pacing: mpt::Pacing, retry: RetryPolicy) -> Client {
    Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .retry(retry)
        .pacing(pacing)
        .build()
        .unwrap()
}

#[tokio::test]
async fn under_a_rate_limit_no_id_fails_and_few_requests_are_refused() {
    let (server, ids) = limited("100/s", 10, 200).await;
    let client = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
    let report = client.ensure_disabled_many(&ids, 32).await;
    let failed: Vec<_> = report.failed().collect();
    assert!(failed.is_empty(), "{failed:?}");
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"));
    }
    let sent: u64 = Operation::ALL.iter().map(|op| server.requests(*op)).sum();
    // The pace comes from the headers: a few 429s at most, on the way to it.
    assert!(
        server.throttled() * 10 <= sent,
        "{} of {sent} refused",
        server.throttled()
    );
}

#[tokio::test]
async fn without_pacing_or_retries_the_same_work_is_refused() {
    // The limit is real: unpaced and with no retry, ids fail with 429.
    let (server, ids) = limited("50/s", 5, 100).await;
    let client = client_with(&server, mpt::Pacing::Off, RetryPolicy::none());
    let report = client.ensure_disabled_many(&ids, 32).await;
    assert!(
        report
            .failed()
            .any(|(_, e)| matches!(e, Error::RateLimited { .. })),
        "no id was refused"
    );
}

#[tokio::test]
async fn clones_share_one_pace() {
    let (server, ids) = limited("100/s", 10, 200).await;
    let client = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
    let (a, b) = ids.split_at(100);
    let other = client.clone();
    let (ra, rb) = tokio::join!(
        client.ensure_disabled_many(a, 32),
        other.ensure_disabled_many(b, 32)
    );
    assert_eq!(ra.failed().count() + rb.failed().count(), 0);
    let sent: u64 = Operation::ALL.iter().map(|op| server.requests(*op)).sum();
    assert!(
        server.throttled() * 10 <= sent,
        "{} of {sent} refused: the clones fought",
        server.throttled()
    );
    // Two separate clients (two processes, say) would each spend the limit: the shared pace
    // is what keeps these two in step.
}
