//! A bulk job's wait budget and cancel flag, counted against the mock: the budget is the wall
//! time the job is held by throttling (concurrent refusals count once), an id sent at least once
//! is never reported as not attempted, and nothing is sent once the cancel is seen.

use crate::common::*;

/// A mock seeded with `n` Active tokens, and their ids.
async fn seeded(n: usize, faults: Faults) -> (MockServer, Vec<String>) {
    let server = MockServer::builder().faults(faults).start().await.unwrap();
    let ids = seeded_ids(&server, n, "budget", DEFAULT_ACCOUNT);
    (server, ids)
}

fn client(server: &MockServer, max_wait: Duration, pacing: mpt::Pacing) -> Client {
    builder(server, max_wait, pacing).build().unwrap()
}

fn builder(server: &MockServer, max_wait: Duration, pacing: mpt::Pacing) -> mpt::ClientBuilder {
    Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .max_wait(max_wait)
        .pacing(pacing)
}

/// The disables the mock received for `id`.
fn disables_of(server: &MockServer, id: &str) -> usize {
    let path = format!("/public/v1/accounts/api-tokens/{id}/disable");
    server
        .recorded()
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .count()
}

/// Sixteen disables refused at once with `Retry-After: 1`, under a 4 s budget: they wait in
/// parallel (about a second of the job's time), so the job goes on and every id is disabled.
/// Summed (16 s), they used to spend the budget and end the job with ids not attempted.
#[tokio::test]
async fn concurrent_refusals_are_charged_once_to_the_jobs_wait_budget() {
    let refused = Fault::RateLimited {
        retry_after: Duration::from_secs(1),
    };
    let faults = Faults::none().with(FaultRule::first(16, refused).only([Operation::Disable]));
    let (server, ids) = seeded(48, faults).await;
    let client = client(&server, Duration::from_secs(4), mpt::Pacing::Adaptive);
    let report = client.ensure_disabled_many(&ids, 16).await;
    let failed: Vec<_> = report.failed().collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(report.results.len(), ids.len());
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
    // Each id disabled once, and the sixteen refused sent again once each.
    assert_eq!(server.requests(Operation::Disable), ids.len() as u64 + 16);
}

/// Every disable refused with `Retry-After: 1` (the reads pass), a 3 s budget: the job ends
/// once the budget is spent, and each id is reported as the mock saw it: rate limited (with the
/// server's wait) when its disable was sent at least once, not attempted only when nothing was
/// sent for it. Every token is still Active. The attempt's timeout (700 ms) is shorter than
/// the waits: the answer that stands was kept through them whole, not read after them (when its
/// body would fail to read as timed out, the id reported as a disable that may have happened).
#[tokio::test]
async fn an_id_sent_before_the_budget_ran_out_is_rate_limited_not_unattempted() {
    let refused = Fault::RateLimited {
        retry_after: Duration::from_secs(1),
    };
    let faults = Faults::none().with(FaultRule::every(1, refused).only([Operation::Disable]));
    let (server, ids) = seeded(40, faults).await;
    let client = builder(&server, Duration::from_secs(3), mpt::Pacing::Adaptive)
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let report = client.ensure_disabled_many(&ids, 4).await;
    assert_eq!(report.results.len(), ids.len());
    assert!(report.succeeded().next().is_none());
    let (mut limited, mut unattempted) = (0, 0);
    for (id, e) in report.failed() {
        let sent = disables_of(&server, id);
        match e {
            Error::RateLimited { retry_after, .. } => {
                assert!(sent > 0, "{id} reported rate limited, never sent");
                assert_eq!(*retry_after, Some(Duration::from_secs(1)), "{id}");
                limited += 1;
            }
            Error::NotAttempted { .. } => {
                assert_eq!(sent, 0, "{id} sent {sent} times, reported {e}");
                unattempted += 1;
            }
            other => panic!("{id}: {other:?}"),
        }
        assert_eq!(server.token_status(id).as_deref(), Some("Active"), "{id}");
    }
    assert!(limited > 0 && unattempted > 0, "{limited} {unattempted}");
    assert_eq!(limited + unattempted, ids.len());
}

/// A paced job cancelled mid-run: once the cancel is set, the mock receives nothing more (a
/// call waiting for its send time gives its slot back instead of sending). Counted three times
/// over, each cancel set right after a request arrived (the next is a pace interval away).
#[tokio::test]
async fn nothing_is_sent_after_a_paced_job_is_cancelled() {
    for round in 0..3 {
        let (server, ids) = seeded(60, Faults::none()).await;
        let cancel = mpt::Cancel::new();
        let pacing = mpt::Pacing::fixed(100.0).unwrap();
        let client = client(&server, Duration::from_secs(30), pacing).with_cancel(cancel.clone());
        let job = tokio::spawn(async move { client.ensure_disabled_many(&ids, 16).await });
        let target = 8 + round * 3;
        while server.total_requests() < target {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        cancel.cancel();
        let at_cancel = server.total_requests();
        let report = job.await.unwrap();
        assert_eq!(report.results.len(), 60);
        let cancelled = report
            .failed()
            .filter(|(_, e)| matches!(e, Error::Cancelled))
            .count();
        assert!(cancelled > 0, "round {round}");
        assert_eq!(
            server.total_requests(),
            at_cancel,
            "round {round}: requests sent after the cancel"
        );
        // Every id reported disabled is, and every id cancelled is still Active.
        for (id, result) in &report.results {
            let want = if result.is_ok() { "Disabled" } else { "Active" };
            assert_eq!(server.token_status(id).as_deref(), Some(want), "{id}");
        }
    }
}

/// Every answer `429` with `Retry-After: 9`, a 3 s budget: every id not attempted names the
/// server's wait as it asked it ("asks to wait 9 s"), or says plainly it is the time left
/// before a send; never the time left of the hold as if the server had asked for it ("asks to
/// wait 8 s").
#[tokio::test]
async fn a_not_attempted_id_names_the_servers_wait_or_the_time_left() {
    let server = canned(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "9"),
    ])
    .await;
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .max_wait(Duration::from_secs(3))
        .build()
        .unwrap();
    let ids: Vec<String> = (0..20).map(|i| format!("TKN-0000-{i:04}")).collect();
    let report = client.ensure_disabled_many(&ids, 4).await;
    assert_eq!(report.results.len(), ids.len());
    let mut not_attempted = 0;
    for (id, e) in report.failed() {
        let message = e.to_string();
        match e {
            Error::NotAttempted { .. } => {
                not_attempted += 1;
                let names_it = message.contains("asks to wait 9 s")
                    || (message.contains("the next send is") && !message.contains("asks to"));
                assert!(names_it, "{id}: {message}");
            }
            Error::RateLimited { retry_after, .. } => {
                assert_eq!(
                    *retry_after,
                    Some(Duration::from_secs(9)),
                    "{id}: {message}"
                );
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    assert!(not_attempted > 0);
}

/// Every id of a job disabled, none failed, and the mock agrees.
fn all_disabled(server: &MockServer, ids: &[String], report: &mpt::BulkReport<Outcome>) {
    let failed: Vec<String> = report
        .failed()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    let some = &failed[..failed.len().min(5)];
    assert!(
        failed.is_empty(),
        "{} failed, among them {some:?}",
        failed.len()
    );
    assert_eq!(report.results.len(), ids.len());
    for id in ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
}

/// A fixed pace of 40 a second, 64 disables at once, a 1 s wait budget: the last of them is
/// 1.6 s back in the pacer's queue, but the queue is progress (one send every 25 ms), not a
/// wait the platform asked for. Every id is disabled; the queue used to be compared with the
/// budget, and the ids past its first second were reported not attempted ("the next send is
/// 1 s away at the pace this client computes from the platform's stated limits").
#[tokio::test]
async fn a_queue_at_a_fixed_pace_is_progress_not_a_wait_over_the_budget() {
    let (server, ids) = seeded(100, Faults::none()).await;
    let pacing = mpt::Pacing::fixed(40.0).unwrap();
    let client = client(&server, Duration::from_secs(1), pacing);
    let report = client.ensure_disabled_many(&ids, 64).await;
    all_disabled(&server, &ids, &report);
}

/// The mock states 30 requests a second (`RateLimit-Policy`), a job of 300 ids at a concurrency
/// of 256 and a 4 s wait budget (room for a few refusals' waits): some 200 changes wait for
/// their slots at the stated pace, the last over 6 s away. None is refused for its place in the
/// queue: every id is disabled.
#[tokio::test]
async fn a_queue_at_the_stated_pace_is_progress_not_a_wait_over_the_budget() {
    let server = rate_limited("30/s", 3, mpt_mock::RateDialect::Policy).await;
    let ids: Vec<String> = seeded_ids(&server, 300, "queued", DEFAULT_ACCOUNT);
    let client = client(&server, Duration::from_secs(4), mpt::Pacing::Adaptive);
    let report = client.ensure_disabled_many(&ids, 256).await;
    all_disabled(&server, &ids, &report);
}

/// One call after another at a fixed pace of one request every 2 s, with a 1 s wait budget:
/// the second call waits its interval and is sent (the pace is not a wait the platform asked
/// for, and is not charged). It used to be refused, said to be "1 s away at the pace this
/// client computes from the platform's stated limits; over the 1 s cap" (for 1.97 s, and a pace
/// the caller set).
#[tokio::test]
async fn a_fixed_pace_slower_than_the_budget_is_waited_not_refused() {
    let (server, ids) = seeded(2, Faults::none()).await;
    let client = client(
        &server,
        Duration::from_secs(1),
        mpt::Pacing::fixed(0.5).unwrap(),
    );
    for id in &ids {
        let token = client.get(id.as_str()).await;
        assert!(token.is_ok(), "{id}: {token:?}");
    }
}

/// A fixed pace whose own interval (2 s) is over the longest single wait (1 s here) is refused
/// when the client is built, named as the caller's pace with its interval and the cap, never
/// "1 s over the 1 s cap" nor "the platform's stated limits" (it used to build, then refuse
/// every call as not attempted, `WaitCause::FixedPace`); nothing is sent.
#[tokio::test]
async fn a_pace_beyond_the_cap_fails_fast_naming_its_source() {
    let (server, _ids) = seeded(2, Faults::none()).await;
    let retry = RetryPolicy {
        max_retry_after: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    let built = builder(
        &server,
        Duration::from_secs(60),
        mpt::Pacing::fixed(0.5).unwrap(),
    )
    .retry(retry)
    .build();
    let Err(e) = built else {
        panic!("a fixed pace of one send every 2 s built under a 1 s cap");
    };
    let message = e.to_string();
    assert!(matches!(e, Error::FixedPaceOverCap { .. }), "{e:?}");
    assert_eq!(
        message,
        "configuration error: pacing: a fixed rate of 0.5 requests a second sends one request every 2 s, over the 1 s cap (RetryPolicy::max_retry_after): every request would be refused; give at least 1 a second, or raise the cap"
    );
    assert_eq!(server.total_requests(), 0);
}

/// Every answer `429` with `Retry-After: 1`, a wait budget of 0 (no throttling waited): the job
/// ends at once, and no id is said to be refused "asking for no wait" (they used to be, "for
/// 0 ms … past what is left of the 0 ms wait budget": the budget run out on the run of
/// refusals was named as if they asked for none); each names the platform's wait.
#[tokio::test]
async fn a_budget_spent_on_refusals_that_ask_a_wait_names_it() {
    let server = canned(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "1"),
    ])
    .await;
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .max_wait(Duration::ZERO)
        .build()
        .unwrap();
    let ids: Vec<String> = (0..20).map(|i| format!("TKN-0000-{i:04}")).collect();
    let report = client.ensure_disabled_many(&ids, 4).await;
    assert_eq!(report.results.len(), ids.len());
    let mut not_attempted = 0;
    for (id, e) in report.failed() {
        let message = e.to_string();
        assert!(!message.contains("no wait asked"), "{id}: {message}");
        match e {
            Error::NotAttempted { .. } => {
                not_attempted += 1;
                assert!(message.contains("asks to wait 1 s"), "{id}: {message}");
            }
            Error::RateLimited { retry_after, .. } => {
                assert_eq!(*retry_after, Some(Duration::from_secs(1)), "{id}");
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    assert!(not_attempted > 0);
}

/// A platform that refuses one disable in twenty with `Retry-After: 1` and serves the rest (a
/// bucket empty for a moment, its refill rounded up to a whole second), 240 ids 4 at a time
/// with 20 ms answers, under a 2 s budget. Each refused disable waits its second, but the job is
/// charged only until the platform served a request sent after the refusal: it is never held,
/// and ends with every id disabled. Each refusal used to charge its whole second: the twelve,
/// spread over the job's seconds, spent the budget, and the job ended with ids not attempted
/// while the platform served nineteen requests in twenty.
#[tokio::test]
async fn refusals_while_the_platform_serves_the_others_are_not_charged_whole() {
    let refused = Fault::RateLimited {
        retry_after: Duration::from_secs(1),
    };
    let faults = Faults::none()
        .with(FaultRule::every(20, refused).only([Operation::Disable]))
        .with_latency(Duration::from_millis(20));
    let (server, ids) = seeded(240, faults).await;
    let client = client(&server, Duration::from_secs(2), mpt::Pacing::Adaptive);
    let report = client.ensure_disabled_many(&ids, 4).await;
    all_disabled(&server, &ids, &report);
    // Each id disabled once; the refused ones sent again.
    let refused = server.requests(Operation::Disable) - ids.len() as u64;
    assert!(refused >= 10, "{refused} refused");
}
