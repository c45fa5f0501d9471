//! A process that was not running at its sends' times (a loaded machine, a paused container, a
//! stop-the-world pause) owes several sends when it runs again: they go spaced at the pace from
//! the first of them, not at once. The platform's limiter runs on its own thread here, so it
//! stamps each request as it comes, as a real one does.

use crate::common::*;

/// The mock behind a sliding log of `per_second` (refused with a bare `429`: no hold follows a
/// refusal, so each send over the log is counted), on a runtime of its own.
fn sliding_log_on_its_own_thread(per_second: &str) -> MockServer {
    MockServer::builder()
        .rate_limit(mpt_mock::RateLimit::parse(per_second, 1).unwrap())
        .rate_dialect(mpt_mock::RateDialect::Bare)
        .rate_window(mpt_mock::RateWindow::SlidingLog)
        .start_on_own_thread()
        .unwrap()
}

/// Sixty gets at a fixed pace of 19 a second under a sliding log of 20 a second; 0.7 s in,
/// the client's runtime thread is stopped for 0.4 s (no task of it runs). The eight sends it
/// owes then go an interval apart, from the first: none refused, or one or two where the
/// limiter's own thread stamps late (two seen once on a CI machine running the other test
/// binaries beside it). Before, they went at once, and every window holding them and the sends
/// of the second after was over the log's 20: about seven refused.
#[test]
fn sends_owed_after_a_stall_are_not_sent_at_once() {
    let server = sliding_log_on_its_own_thread("20/s");
    let ids = seeded_ids(&server, 60, "stall", DEFAULT_ACCOUNT);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let served = rt.block_on(async {
        let client = Client::builder()
            .base_url(format!("{}/public/v1", server.base_url()))
            .api_token(server.admin_secret())
            .retry(RetryPolicy::none())
            .pacing(mpt::Pacing::fixed(19.0).unwrap())
            .build()
            .unwrap();
        let stall = async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            // Blocks the runtime's only thread: every task of this client is held.
            std::thread::sleep(Duration::from_millis(400));
        };
        let gets = futures_util::future::join_all(ids.iter().map(|id| client.get(id)));
        let (_, answers) = tokio::join!(stall, gets);
        answers.iter().filter(|a| a.is_ok()).count()
    });
    let refused = server.throttled();
    assert!(refused <= 2, "{refused} of 60 refused ({served} served)");
    assert_eq!(served as u64 + refused, 60);
}
