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
    let ids = seeded_ids(&server, seed, "paced", DEFAULT_ACCOUNT);
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

/// Two separate clients (two processes, say) on one API token and one stated limit: each
/// trusts the platform's `Remaining` over its own count and gives up share on refusals, so
/// together they are rarely refused (10.7% before: each spent the whole stated rate), and no
/// id fails.
#[tokio::test]
async fn two_clients_on_one_token_share_the_stated_limit() {
    let (server, ids) = limited("100/s", 10, 300).await;
    let one = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
    let two = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
    let (a, b) = ids.split_at(150);
    let (ra, rb) = tokio::join!(
        one.ensure_disabled_many(a, 16),
        two.ensure_disabled_many(b, 16)
    );
    assert_eq!(ra.failed().count() + rb.failed().count(), 0);
    let sent: u64 = Operation::ALL.iter().map(|op| server.requests(*op)).sum();
    let refused = server.throttled();
    assert!(
        refused * 100 <= (sent + refused) * 7,
        "{refused} of {} refused",
        sent + refused
    );
}

/// A client of a scripted server with `retry`, paced adaptively.
fn scripted_client(server: &ScriptedServer, retry: RetryPolicy) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .retry(retry)
        .build()
        .unwrap()
}

/// Values no sane limiter sends (found in front of the mock: `1e-300` and `w=inf` made the
/// pacer panic): the calls go on, and a pace slower than one request per cap is refused, never
/// waited or panicked on.
#[tokio::test]
async fn hostile_rate_limit_values_never_panic() {
    let hostile: [&[(&str, &str)]; 7] = [
        &[("ratelimit-limit", "1e-300")],
        &[("ratelimit-limit", "1e-300"), ("ratelimit-policy", "1;w=1")],
        &[
            ("ratelimit-limit", "200"),
            ("ratelimit-policy", "200;w=inf"),
        ],
        &[
            ("ratelimit-policy", "\"p\";q=200;w=inf"),
            ("ratelimit", "\"p\";r=NaN;t=-1"),
        ],
        &[
            ("ratelimit-limit", "200"),
            ("ratelimit-remaining", "100000"),
        ],
        &[("ratelimit-limit", "-5"), ("ratelimit-reset", "1e308")],
        &[
            ("x-ratelimit-limit", "inf"),
            ("x-ratelimit-reset", "99999999999999999999"),
        ],
    ];
    for headers in hostile {
        let server = canned(vec![token_answer(headers)]).await;
        let client = scripted_client(&server, RetryPolicy::none());
        for _ in 0..3 {
            match client.get("TKN-1111-2222").await {
                Ok(_) | Err(Error::NotAttempted { .. }) => {}
                Err(e) => panic!("{headers:?}: {e}"),
            }
        }
        assert!(!server.request_lines().is_empty(), "{headers:?}");
    }
}

/// `Retry-After: 3600` is beyond the cap (30 s): the call fails at once with the server's wait
/// (one request, no hold), and the client sends nothing more until it has passed.
#[tokio::test]
async fn a_retry_after_beyond_the_cap_fails_fast_with_the_servers_wait() {
    let server = canned(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "3600"),
    ])
    .await;
    let client = scripted_client(&server, RetryPolicy::default());
    match client.get("TKN-1111-2222").await {
        Err(Error::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3600)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.request_lines().len(), 1, "not retried");
    let e = client.get("TKN-1111-2222").await.unwrap_err();
    assert!(matches!(e, Error::NotAttempted { .. }), "{e:?}");
    assert!(e.to_string().contains("over the 30 s cap"), "{e}");
    assert_eq!(server.request_lines().len(), 1, "nothing more sent");
}

/// A wait asked far beyond the clamp every computation uses (a year) is named as the server
/// asked it, in the `429`'s message and in every refusal after it; the arithmetic stays clamped
/// (`retry_after` is a year), one request is sent, nothing after it.
#[tokio::test]
async fn a_wait_asked_far_in_the_future_is_named_as_asked() {
    let year = Duration::from_secs(365 * 86_400);
    // The answer's headers and status, and how its wait is named.
    type Case = (&'static [(&'static str, &'static str)], u16, &'static str);
    let cases: [Case; 4] = [
        (
            &[("retry-after", "Fri, 01 Jan 2100 00:00:00 GMT")],
            429,
            "until 2100-01-01T00:00:00Z (about ",
        ),
        (
            &[("retry-after", "99999999999999")],
            429,
            "99999999999999 s (about 3168809 years)",
        ),
        (
            &[("retry-after", "Fri, 01 Jan 2100 00:00:00 GMT")],
            503,
            "until 2100-01-01T00:00:00Z (about ",
        ),
        // GitHub's exhausted limit, its reset an epoch time in 2100.
        (
            &[
                ("x-ratelimit-limit", "60"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "4102444800"),
            ],
            403,
            "until 2100-01-01T00:00:00Z (about ",
        ),
    ];
    for (headers, status, named) in cases {
        let answer = headers.iter().fold(
            Scripted::answer(status, "application/problem+json", r#"{"status":429}"#),
            |a, (name, value)| a.header(*name, *value),
        );
        let server = canned(vec![answer]).await;
        let client = scripted_client(&server, RetryPolicy::default());
        let e = client.get("TKN-1111-2222").await.unwrap_err();
        match &e {
            Error::RateLimited {
                retry_after, asked, ..
            } => {
                assert!(asked.is_some(), "{headers:?}: {e:?}");
                if headers[0].0 == "retry-after" {
                    // Clamped where it is computed with: a year, less the time since the date
                    // was read for a date.
                    let r = retry_after.unwrap();
                    assert!(r <= year && r > year - Duration::from_secs(60), "{r:?}");
                }
            }
            other => panic!("{headers:?}: {other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.contains(&format!("the platform asks to wait {named}")),
            "{text}"
        );
        assert!(
            !text.contains("8760h") && !text.contains("31536000"),
            "{text}"
        );
        assert!(text.ends_with("years))"), "{text}");
        let e = client.get("TKN-1111-2222").await.unwrap_err();
        assert!(matches!(e, Error::NotAttempted { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("not attempted: the platform asks to wait {named}")),
            "{text}"
        );
        assert!(text.ends_with(" years); over the 30 s cap"), "{text}");
        assert_eq!(
            server.request_lines().len(),
            1,
            "{headers:?}: nothing more sent"
        );
    }
}

/// `Retry-After` as an HTTP date in each of the three forms RFC 9110 says a recipient must
/// accept (IMF-fixdate, RFC 850, asctime), folded after a number, or on two lines, an hour
/// away: beyond the cap, so the call fails at once with that wait, one request sent (round 5's
/// F2: the RFC 850 and asctime forms and `3, <date>` were read as no wait asked, and a lockout
/// that enforces its wait was hit ~9 times a second for 2 min).
#[tokio::test]
async fn retry_after_in_every_http_date_form_is_the_servers_wait() {
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    let imf = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let rfc850 = at.format("%A, %d-%b-%y %H:%M:%S GMT").to_string();
    let asctime = at.format("%a %b %e %H:%M:%S %Y").to_string();
    let folded = format!("3, {imf}");
    let cases: [&[&str]; 5] = [
        &[&imf],
        &[&rfc850],
        &[&asctime],
        &[&folded],
        &["3", &rfc850],
    ];
    for lines in cases {
        let answer = lines.iter().fold(
            Scripted::answer(429, "application/problem+json", r#"{"status":429}"#),
            |a, value| a.header("retry-after", *value),
        );
        let server = canned(vec![answer]).await;
        let client = scripted_client(&server, RetryPolicy::default());
        match client.get("TKN-1111-2222").await {
            Err(Error::RateLimited {
                retry_after, asked, ..
            }) => {
                let r = retry_after.unwrap_or_default();
                assert!(
                    r > Duration::from_secs(3500) && r <= Duration::from_secs(3600),
                    "{lines:?}: {r:?}"
                );
                assert!(asked.is_some(), "{lines:?}");
            }
            other => panic!("{lines:?}: {other:?}"),
        }
        assert_eq!(server.request_lines().len(), 1, "{lines:?}: not retried");
        let e = client.get("TKN-1111-2222").await.unwrap_err();
        assert!(
            e.to_string().contains("over the 30 s cap"),
            "{lines:?}: {e}"
        );
        assert_eq!(
            server.request_lines().len(),
            1,
            "{lines:?}: nothing more sent"
        );
    }
}

/// `RetryPolicy::max_retry_after` bounds every wait, the pacer's included: a 5 s Retry-After
/// over a 1 s cap is not waited.
#[tokio::test]
async fn max_retry_after_bounds_the_pacers_hold_too() {
    let server = canned(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "5"),
    ])
    .await;
    let retry = RetryPolicy {
        max_retry_after: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    let client = scripted_client(&server, retry);
    let e = client.get("TKN-1111-2222").await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    let e = client.get("TKN-1111-2222").await.unwrap_err();
    assert!(e.to_string().contains("over the 1 s cap"), "{e}");
    assert_eq!(server.request_lines().len(), 1);
}

/// Every answer `429` with `Retry-After: 3600`: a bulk job ends at once, every id reported,
/// none attempted after the lockout showed, each with the reason.
#[tokio::test]
async fn a_lockout_ends_a_bulk_job_with_each_id_not_attempted() {
    let server = canned(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "3600"),
    ])
    .await;
    let client = scripted_client(&server, RetryPolicy::default());
    let ids: Vec<String> = (0..300).map(|i| format!("TKN-0000-{i:04}")).collect();
    let report = client.ensure_disabled_many(&ids, 16).await;
    assert_eq!(report.results.len(), ids.len());
    let not_attempted = report
        .failed()
        .filter(|(_, e)| matches!(e, Error::NotAttempted { .. }))
        .count();
    let refused = report
        .failed()
        .filter(|(_, e)| matches!(e, Error::RateLimited { .. }))
        .count();
    assert_eq!(not_attempted + refused, ids.len());
    let sent = server.request_lines().len();
    // The first list read (one chunk, the next chunk's read beside it) shows the lockout.
    assert!(sent <= 2, "{sent} requests sent into a lockout");
    assert!(not_attempted >= ids.len() - 2);
    let (_, e) = report.failed().last().unwrap();
    assert!(e.to_string().contains("asks to wait 1h"), "{e}");
}

/// GitHub answers an exhausted limit `403` with `X-RateLimit-Remaining: 0`: throttling, retried
/// after the reset, not Forbidden.
#[tokio::test]
async fn a_403_with_nothing_remaining_is_throttling_and_retried() {
    let server = canned(vec![
        Scripted::answer(
            403,
            "application/json",
            r#"{"message":"API rate limit exceeded"}"#,
        )
        .header("x-ratelimit-limit", "60")
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", "0"),
        token_answer(&[("x-ratelimit-limit", "60"), ("x-ratelimit-remaining", "59")]),
    ])
    .await;
    let client = scripted_client(&server, fast_retries(3));
    let token = client.get("TKN-1111-2222").await.unwrap();
    assert_eq!(token.id(), "TKN-1111-2222");
    assert_eq!(server.request_lines().len(), 2);
    // A 403 with a remainder left is a real refusal.
    let server = canned(vec![
        Scripted::answer(403, "application/problem+json", r#"{"status":403}"#)
            .header("x-ratelimit-remaining", "12"),
    ])
    .await;
    let client = scripted_client(&server, fast_retries(3));
    let e = client.get("TKN-1111-2222").await.unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
}

/// GitHub's secondary limit answers `403` with `Retry-After` while its primary limit's
/// `X-RateLimit-Remaining` is above 0, and a JSON body whose `status` is text: throttling,
/// retried after the wait (the tester's r8: 1,309 of 1,503 ids failed `forbidden`), and, as the
/// last answer, `RateLimited` with its status and the body's message (it was "403 Forbidden:
/// non-JSON body: {…}", exit 4); a `403` whose `Retry-After` does not read stays a refusal.
#[tokio::test]
async fn a_403_asking_for_a_wait_is_throttling_and_retried() {
    let body = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api","status":"403"}"#;
    let secondary = |retry_after: &str| {
        Scripted::answer(403, "application/json", body)
            .header("x-ratelimit-limit", "5000")
            .header("x-ratelimit-remaining", "4990")
            .header("retry-after", retry_after)
    };
    let server = canned(vec![
        secondary("1"),
        token_answer(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "4989"),
        ]),
    ])
    .await;
    let client = scripted_client(&server, fast_retries(3));
    let token = client.get("TKN-1111-2222").await.unwrap();
    assert_eq!(token.id(), "TKN-1111-2222");
    assert_eq!(server.request_lines().len(), 2);
    // The last answer (no retries): rate limited, its status and the platform's words.
    let server = canned(vec![secondary("1")]).await;
    let e = canned_client(&server, "s3cr3t")
        .get("TKN-1111-2222")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(e.status(), Some(403));
    assert!(
        e.to_string()
            .starts_with("403 Forbidden: You have exceeded a secondary rate limit."),
        "{e}"
    );
    assert!(!e.to_string().contains("non-JSON"), "{e}");
    // No readable wait: a refusal of the secret.
    let server = canned(vec![secondary("soon")]).await;
    let e = canned_client(&server, "s3cr3t")
        .get("TKN-1111-2222")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
}

/// `--max-rate`'s values: a clear error for rates no pace can use.
#[test]
fn fixed_rates_are_validated() {
    for bad in [0.0, -1.0, f64::NAN, 1e-20, f64::INFINITY] {
        assert!(mpt::Pacing::fixed(bad).is_err(), "{bad}");
        let built = Client::builder()
            .api_token("s3cr3t-api-key")
            .pacing(mpt::Pacing::Fixed(bad))
            .build();
        assert!(matches!(built, Err(Error::Config(_))), "{bad}");
    }
    assert!(mpt::Pacing::fixed(50.0).is_ok());
}

/// A fixed rate whose own interval is over the longest single wait is refused when the client
/// is built, naming the rate, its interval and the cap (it used to build, then refuse every
/// request as not attempted); with the cap raised to the interval, the same rate builds and
/// serves.
#[tokio::test]
async fn a_fixed_rate_slower_than_the_cap_is_refused_at_build() {
    let (server, ids) = limited("100/s", 10, 1).await;
    let slow = mpt::Pacing::fixed(0.001).unwrap();
    let built = Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .pacing(slow)
        .build();
    let Err(e) = built else {
        panic!("Pacing::fixed(0.001) built under the 30 s cap");
    };
    let text = e.to_string();
    assert!(
        matches!(e, Error::FixedPaceOverCap { rate, interval, cap }
            if rate == 0.001 && interval == Duration::from_secs(1000) && cap == Duration::from_secs(30)),
        "{e:?}"
    );
    for part in [
        "0.001 requests a second",
        "every 16m 40s",
        "over the 30 s cap",
    ] {
        assert!(text.contains(part), "{text}");
    }
    let tight = RetryPolicy {
        max_retry_after: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    let built = Client::builder()
        .api_token("s3cr3t-api-key")
        .retry(tight.clone())
        .pacing(mpt::Pacing::Fixed(0.5))
        .build();
    assert!(matches!(built, Err(Error::FixedPaceOverCap { .. })));
    let long = RetryPolicy {
        max_retry_after: Duration::from_secs(1000),
        ..RetryPolicy::default()
    };
    let client = client_with(&server, slow, long);
    client.get(&ids[0]).await.unwrap();
    client_with(&server, mpt::Pacing::Fixed(1.0), tight);
}

/// A bucket of 100 a second and 2 deep, stated (`RateLimit-Policy: 100;w=1;burst=2`), 20 ms
/// answers, 120 disables 16 at a time: paced alone just under its rate, each answer says one
/// request remains or none, with requests in flight. That is no other caller's spending: the
/// pace stays at the stated rate (the share fell 5% an answer to a twentieth of it, and the
/// sends went about one at a time: tester round 32, 600 changes in 16.6 s where a naive loop
/// took 12.6 s).
#[tokio::test]
async fn a_shallow_bucket_keeps_the_pace_at_its_rate() {
    let server = MockServer::builder()
        .rate_limit(mpt_mock::RateLimit::parse("100/s", 2).unwrap())
        .faults(mpt_mock::Faults::default().with_latency(Duration::from_millis(20)))
        .start()
        .await
        .unwrap();
    let ids = seeded_ids(&server, 120, "paced", DEFAULT_ACCOUNT);
    let client = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
    let report = client.ensure_disabled_many(&ids, 16).await;
    assert_eq!(report.failed().count(), 0);
    let pace = client.pace().and_then(|p| p.per_second);
    assert!(
        pace.is_some_and(|p| p >= 80.0),
        "{pace:?} a second, {} refused",
        server.throttled()
    );
}

/// Disables `n` seeded tokens through a mock whose rate limit speaks `dialect` (counted by
/// `window`); returns the ids that failed, the requests sent and those refused.
async fn through(
    dialect: mpt_mock::RateDialect,
    window: mpt_mock::RateWindow,
    n: usize,
) -> (Vec<String>, u64, u64) {
    let server = MockServer::builder()
        .rate_limit(mpt_mock::RateLimit::parse("100/s", 10).unwrap())
        .rate_dialect(dialect)
        .rate_window(window)
        .start()
        .await
        .unwrap();
    let ids: Vec<String> = seeded_ids(&server, n, "paced", DEFAULT_ACCOUNT);
    let client = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
    let report = client.ensure_disabled_many(&ids, 16).await;
    let failed: Vec<String> = report
        .failed()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    for id in &ids {
        let status = server.token_status(id);
        let done = status.as_deref() == Some("Disabled");
        assert!(
            done || !failed.is_empty(),
            "{dialect:?}: {id} is {status:?}"
        );
    }
    let sent: u64 = Operation::ALL.iter().map(|op| server.requests(*op)).sum();
    (failed, sent + server.throttled(), server.throttled())
}

/// The dialects that state the rate: read (the structured draft's fields were ignored, and
/// GitHub's 403 over the limit failed ids as Forbidden), few refusals, no id failed.
#[tokio::test]
async fn dialects_that_state_the_rate_are_read() {
    use mpt_mock::{RateDialect as D, RateWindow as W};
    for dialect in [D::Policy, D::Structured, D::Legacy, D::XRateLimit] {
        let (failed, sent, throttled) = through(dialect, W::TokenBucket, 150).await;
        assert!(failed.is_empty(), "{dialect:?}: {failed:?}");
        if matches!(dialect, D::Policy | D::Structured) {
            assert!(
                throttled * 20 <= sent,
                "{dialect:?}: {throttled} of {sent} refused"
            );
        }
    }
}

/// The dialects that only refuse (429 or 503, with Retry-After in seconds or as a date, or no
/// header at all), under each window kind: no id failed, and with no header few refused.
#[tokio::test]
async fn dialects_that_only_refuse_fail_no_id() {
    use mpt_mock::{RateDialect as D, RateWindow as W};
    for (dialect, window) in [
        (D::RetryAfter, W::TokenBucket),
        (D::RetryAfterDate, W::TokenBucket),
        (D::Unavailable, W::TokenBucket),
        (D::Bare, W::TokenBucket),
        (D::RetryAfter, W::FixedWindow),
        (D::RetryAfter, W::SlidingLog),
    ] {
        let (failed, sent, throttled) = through(dialect, window, 150).await;
        assert!(failed.is_empty(), "{dialect:?} {window:?}: {failed:?}");
        if dialect == D::Bare {
            // No header at all: a refusal of a request sent before the last cut answers the old
            // pace and cuts nothing, one sent since cuts only once the platform served that
            // pace (before, each cut waited a tenth of a second while the old pace was refused:
            // 39 of 191).
            assert!(
                throttled * 8 <= sent,
                "{dialect:?}: {throttled} of {sent} refused"
            );
        }
    }
}

/// The limit drops from 100/s to 25/s mid-run: the new rate is read from the next answer, no id
/// fails, and the refusals are those of the drop itself (the requests already sent or spaced
/// at the old rate).
#[tokio::test]
async fn a_limit_that_drops_mid_run_is_followed() {
    let server = MockServer::builder()
        .rate_limit(mpt_mock::RateLimit::parse("100/s", 10).unwrap())
        .rate_change(mpt_mock::RateChange::parse("0.3:25/s", 5).unwrap())
        .start()
        .await
        .unwrap();
    let ids: Vec<String> = seeded_ids(&server, 80, "paced", DEFAULT_ACCOUNT);
    let client = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
    let report = client.ensure_disabled_many(&ids, 16).await;
    assert_eq!(report.failed().count(), 0);
    let sent: u64 = Operation::ALL.iter().map(|op| server.requests(*op)).sum();
    assert!(
        server.throttled() * 7 <= sent,
        "{} of {sent} refused",
        server.throttled()
    );
}

/// The limit alternates between 100/s and 20/s every half second and says nothing but
/// `Retry-After` when over (`--rate-alternate`): both limits are enforced over HTTP, and a bulk
/// job learning them from refusals alone ends with every id done as the server has it.
#[tokio::test]
async fn a_limit_that_alternates_is_followed_from_refusals() {
    let server = MockServer::builder()
        .rate_limit(mpt_mock::RateLimit::parse("100/s", 10).unwrap())
        .rate_alternation(mpt_mock::RateChange::parse("0.5:20/s", 10).unwrap())
        .rate_dialect(mpt_mock::RateDialect::RetryAfter)
        .start()
        .await
        .unwrap();
    let ids: Vec<String> = seeded_ids(&server, 120, "paced", DEFAULT_ACCOUNT);
    let client = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
    let report = client.ensure_disabled_many(&ids, 16).await;
    assert_eq!(report.failed().count(), 0);
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
    assert!(server.throttled() > 0, "the low limit refused");
}

/// A `503` with `Retry-After` is throttling, as a `429` is: `RateLimited` with the server's
/// wait, not `Server`; and one whose `Retry-After` cannot be read (`-5`, empty) is throttling
/// with no stated wait, retried like a `429` with that value, not failed as a server error.
#[tokio::test]
async fn a_503_with_retry_after_is_throttling_whatever_its_value() {
    let server = canned(vec![
        Scripted::answer(503, "application/problem+json", r#"{"status":503}"#)
            .header("retry-after", "1"),
    ])
    .await;
    let client = scripted_client(&server, RetryPolicy::none());
    match client.get("TKN-1111-2222").await {
        Err(Error::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)));
        }
        other => panic!("{other:?}"),
    }
    for status in [429, 503] {
        for value in ["-5", ""] {
            let refused = Scripted::answer(status, "application/problem+json", "{}")
                .header("retry-after", value);
            let server = canned(vec![refused.clone(), refused, token_answer(&[])]).await;
            // Two attempts for failures: two throttled answers are still followed by a third.
            let client = scripted_client(&server, fast_retries(2));
            let token = client.get("TKN-1111-2222").await;
            assert!(token.is_ok(), "{status} {value:?}: {token:?}");
            assert_eq!(server.request_lines().len(), 3, "{status} {value:?}");
            let server = canned(vec![
                Scripted::answer(status, "application/problem+json", "{}")
                    .header("retry-after", value),
            ])
            .await;
            let e = scripted_client(&server, RetryPolicy::none())
                .get("TKN-1111-2222")
                .await
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::RateLimited {
                        retry_after: None,
                        ..
                    }
                ),
                "{status} {value:?}: {e:?}"
            );
        }
    }
}

/// A lockout under the cap (every answer `429` with `Retry-After: 1`, the cap 30 s): the bulk
/// job's waits share one budget (`max_wait`), so the job ends once it is spent, every id
/// reported, the ones not attempted with the reason, and few requests sent.
#[tokio::test]
async fn a_lockout_under_the_cap_ends_within_the_jobs_wait_budget() {
    let server = canned(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "1"),
    ])
    .await;
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .max_wait(Duration::from_secs(3))
        .build()
        .unwrap();
    let ids: Vec<String> = (0..60).map(|i| format!("TKN-0000-{i:04}")).collect();
    let report = client.ensure_disabled_many(&ids, 4).await;
    assert_eq!(report.results.len(), ids.len());
    assert!(report.succeeded().next().is_none());
    let not_attempted = report
        .failed()
        .filter(|(_, e)| matches!(e, Error::NotAttempted { .. }))
        .count();
    let sent = server.request_lines().len();
    // 3 s of 1 s waits: at most three resends beside the first sends of the job's window.
    assert!(sent <= 12, "{sent} requests sent into a lockout");
    assert!(not_attempted >= ids.len() - 12, "{not_attempted}");
    let (_, e) = report.failed().last().unwrap();
    assert!(e.to_string().contains("not attempted"), "{e}");
}

/// A lockout whose refusals ask for no wait (every answer a bare `429`, or `Retry-After: 0`):
/// the refusals themselves hold the job, so the wall time since the first refusal with none
/// served since is charged to the job's budget, and the job ends once it is spent, every id
/// reported (issue 34, the tester's second round: 877 requests in 500 s for 300 ids, 83 rows,
/// the 2 min budget never spent because no refusal asked for a wait).
#[tokio::test]
async fn a_lockout_that_asks_for_no_wait_ends_within_the_jobs_budget() {
    for retry_after in [None, Some("0")] {
        let mut answer = Scripted::answer(429, "application/problem+json", r#"{"status":429}"#);
        if let Some(v) = retry_after {
            answer = answer.header("retry-after", v);
        }
        let server = canned(vec![answer]).await;
        let client = Client::builder()
            .base_url(server.base_url())
            .api_token("s3cr3t-api-key")
            .max_wait(Duration::from_secs(2))
            .build()
            .unwrap();
        let ids: Vec<String> = (0..200).map(|i| format!("TKN-0000-{i:04}")).collect();
        let report = client.ensure_disabled_many(&ids, 4).await;
        assert_eq!(report.results.len(), ids.len(), "{retry_after:?}");
        assert!(report.succeeded().next().is_none());
        let not_attempted: Vec<_> = report
            .failed()
            .filter(|(_, e)| matches!(e, Error::NotAttempted { .. }))
            .collect();
        let sent = server.request_lines().len();
        // Each id may be refused ten times before it fails on its own: without the budget, 200
        // ids would take 2,000 requests. AIMD paces the refused at one a second at least, and
        // the first requests go at once: far fewer in the 2 s budget.
        assert!(
            sent < 200,
            "{retry_after:?}: {sent} requests sent into a lockout"
        );
        assert!(
            not_attempted.len() > 100,
            "{retry_after:?}: {}",
            not_attempted.len()
        );
        let message = not_attempted[0].1.to_string();
        assert!(
            message.contains("refused every request of this job")
                && message.contains("2 s wait budget"),
            "{retry_after:?}: {message}"
        );
    }
}

/// A fixed window or a sliding log that states nothing: once a refusal has lasted until the
/// window renewed, the pace is the quota it let through (issue 34: AIMD took the rate observed
/// over a second spent waiting as its ceiling, and refused again and again while it probed
/// back). Only the first window's overflow and the retries that come back together at its
/// renewal are refused, and at most twice more the workers' sends at a renewal (a stall of
/// the machine at one).
#[tokio::test]
async fn a_window_that_renews_is_paced_at_its_quota() {
    use mpt_mock::RateWindow as W;
    let run = |window| async move {
        let server = MockServer::builder()
            .rate_limit(mpt_mock::RateLimit::parse("40/s", 1).unwrap())
            .rate_dialect(mpt_mock::RateDialect::RetryAfter)
            .rate_window(window)
            .start()
            .await
            .unwrap();
        let ids: Vec<String> = seeded_ids(&server, 300, "paced", DEFAULT_ACCOUNT);
        let client = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
        let report = client.ensure_disabled_many(&ids, 8).await;
        let sent: u64 = Operation::ALL.iter().map(|op| server.requests(*op)).sum();
        (report.failed().count(), sent, server.throttled())
    };
    // One after the other: two at once on 2 cores stall each other's sends.
    let fixed = run(W::FixedWindow).await;
    let sliding = run(W::SlidingLog).await;
    for (window, (failed, sent, throttled)) in [("fixed", fixed), ("sliding", sliding)] {
        assert_eq!(failed, 0, "{window}");
        // At most one refusal per worker for the first window's overflow (8), one more when
        // the retries that come back together at its renewal overflow the next one (9), and
        // the sliding log now and then once more per worker (17: 1 run in 10, at a load of
        // 2.5 on 2 cores); 25 allows that twice. Before, every window's overflow again while
        // AIMD probed back from a ceiling too low: 16 in the first 150 requests, and on for
        // each of the 8 windows of these 300.
        assert!(throttled <= 25, "{window}: {throttled} of {sent} refused");
    }
}

/// `n` gets in turn from a scripted server answering `replies` (the last again once they run
/// out), with a call wait budget of `max_wait` and no retries: how many were answered, how many
/// were not attempted (the last such error), and how many requests the server saw.
async fn gets(
    replies: Vec<Scripted>,
    n: usize,
    max_wait: Duration,
) -> (usize, usize, Option<Error>, usize) {
    let server = canned(replies).await;
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .retry(RetryPolicy::none())
        .max_wait(max_wait)
        .build()
        .unwrap();
    let (mut answered, mut not_attempted, mut last) = (0, 0, None);
    for _ in 0..n {
        match client.get("TKN-1111-2222").await {
            Ok(_) => answered += 1,
            Err(e @ Error::NotAttempted { .. }) => {
                not_attempted += 1;
                last = Some(e);
            }
            Err(e) => panic!("{e}"),
        }
    }
    (answered, not_attempted, last, server.request_lines().len())
}

/// One odd reset among answers that still have something left (`RateLimit-Reset: 3600`, an
/// `X-RateLimit-Reset` of 999999999, just under the epoch cut-off) does not pace the rest of
/// the run: the inferred window follows recent resets, and a reset longer than the cap is a
/// count's, not a pace (issue 34: the longest reset ever was the window, and 935 of 1,000 ids
/// were not attempted though the server refused nothing). An `X-RateLimit-Reset` in epoch
/// milliseconds is read as such (it was a wait of 44 hours).
#[tokio::test]
async fn one_odd_reset_does_not_pace_the_rest_of_the_run() {
    let older = |remaining: &str, reset: &str| {
        token_answer(&[
            ("ratelimit-limit", "100"),
            ("ratelimit-remaining", remaining),
            ("ratelimit-reset", reset),
        ])
    };
    let x = |remaining: &str, reset: &str| {
        token_answer(&[
            ("x-ratelimit-limit", "100"),
            ("x-ratelimit-remaining", remaining),
            ("x-ratelimit-reset", reset),
        ])
    };
    let ms = (chrono::Utc::now().timestamp_millis() + 1_000).to_string();
    let runs = [
        (
            "RateLimit-Reset: 3600",
            vec![older("0", "1"), older("5", "3600"), older("0", "1")],
        ),
        (
            "X-RateLimit-Reset: 3600",
            vec![x("0", "1"), x("5", "3600"), x("0", "1")],
        ),
        (
            "999999999",
            vec![x("0", "1"), x("5", "999999999"), x("0", "1")],
        ),
        ("epoch ms", vec![x("0", &ms)]),
    ];
    for (what, replies) in runs {
        let (answered, not_attempted, last, sent) = gets(replies, 20, Duration::from_secs(3)).await;
        assert_eq!((answered, not_attempted), (20, 0), "{what}: {last:?}");
        assert_eq!(sent, 20, "{what}");
    }
}

/// A daily quota beside a per-second one (`"burst";q=200;w=1, "day";q=100000;w=86400`) is a
/// count, not a pace: the burst policy paces (issue 34: the slowest rate won, about one
/// request a second); when the platform says nothing remains of the daily quota and one request
/// sent alone (a probe) is told so again, nothing more is sent, and the refusal names the quota
/// and when it renews, not a wait the platform asked.
#[tokio::test]
async fn a_long_window_quota_is_a_count_not_a_pace() {
    let policy = r#""burst";q=200;w=1, "day";q=100000;w=86400"#;
    let answer = |state: &str| token_answer(&[("ratelimit-policy", policy), ("ratelimit", state)]);
    let left = answer(r#""burst";r=0;t=1, "day";r=90000;t=50000"#);
    let (answered, not_attempted, last, _) = gets(vec![left], 20, Duration::from_millis(500)).await;
    assert_eq!((answered, not_attempted), (20, 0), "{last:?}");
    let spent = answer(r#""burst";r=150;t=1, "day";r=0;t=50000"#);
    let (answered, not_attempted, last, sent) = gets(vec![spent], 5, Duration::from_secs(30)).await;
    assert_eq!((answered, not_attempted, sent), (2, 3, 2));
    let message = last.unwrap().to_string();
    assert!(
        message.contains(
            "nothing remains of its quota of 100000 requests per 24h; it renews in 13h 53m"
        ),
        "{message}"
    );
    assert!(!message.contains("asks to wait"), "{message}");
    // Spent until a reset within the cap: held until then, beyond the call's budget here.
    let soon = answer(r#""burst";r=150;t=1, "day";r=0;t=20"#);
    let (answered, not_attempted, last, sent) = gets(vec![soon], 3, Duration::from_secs(1)).await;
    assert_eq!((answered, not_attempted, sent), (1, 2, 1));
    let message = last.unwrap().to_string();
    assert!(
        message.contains("nothing remains of its quota of 100000 requests per 24h"),
        "{message}"
    );
}

/// Values that are not counts (`1,2`, `5;w=0`, `1e-300`) on every answer are ignored, not read
/// as a limit of one request a second or less (issue 34: 147 of 200 ids in 150 s; `1e-300` made
/// every id not attempted at once, the server refusing nothing).
#[tokio::test]
async fn garbage_counts_do_not_pin_the_pace() {
    let every = |v: &str| {
        token_answer(&[
            ("ratelimit-limit", v),
            ("ratelimit-remaining", v),
            ("ratelimit-reset", v),
            ("ratelimit-policy", v),
        ])
    };
    let tiny = token_answer(&[
        ("ratelimit-limit", "1e-300"),
        ("ratelimit-remaining", "0"),
        ("ratelimit-reset", "1"),
        ("ratelimit-policy", "1e-300;w=1"),
    ]);
    let structured = token_answer(&[("ratelimit-policy", r#""p";q=1,2;w=1,2"#)]);
    for (what, reply) in [
        ("1,2", every("1,2")),
        ("5;w=0", every("5;w=0")),
        ("1e-300", tiny),
        ("structured 1,2", structured),
    ] {
        let (answered, not_attempted, last, _) =
            gets(vec![reply], 10, Duration::from_millis(500)).await;
        assert_eq!((answered, not_attempted), (10, 0), "{what}: {last:?}");
    }
}

/// Two clients (two processes) on one secret behind a limit that only refuses (429 with
/// `Retry-After`): each learns the limit from its own refusals while the other spends it too.
/// When the first is done, the other has done part of its own work (before, a client
/// served 4 requests before the other drained the bucket took 4 a second for a window's quota
/// and had done 11 of 150 ids; it then took a minute for the rest), and few are refused.
#[tokio::test]
async fn two_clients_behind_a_limit_that_only_refuses_both_progress() {
    let server = rate_limited("100/s", 10, mpt_mock::RateDialect::RetryAfter).await;
    let ids: Vec<String> = seeded_ids(&server, 300, "paced", DEFAULT_ACCOUNT);
    let halves = ids.split_at(150);
    let done = |half: &[String]| {
        half.iter()
            .filter(|id| server.token_status(id).as_deref() == Some("Disabled"))
            .count()
    };
    // The other half's ids done when the first half was (None until then).
    let at_first = std::sync::Mutex::new(None);
    let run = |mine: &'static str| {
        let client = client_with(&server, mpt::Pacing::Adaptive, RetryPolicy::default());
        let (own, other) = if mine == "one" {
            (halves.0, halves.1)
        } else {
            (halves.1, halves.0)
        };
        let at_first = &at_first;
        async move {
            let report = client.ensure_disabled_many(own, 16).await;
            let mut first = at_first.lock().unwrap();
            if first.is_none() {
                *first = Some(done(other));
            }
            report.failed().count()
        }
    };
    let (fa, fb) = tokio::join!(run("one"), run("two"));
    assert_eq!(fa + fb, 0);
    let other = at_first.into_inner().unwrap().unwrap();
    // 21 to 50 in runs on a quiet and on a loaded machine before 34z3, 13 seen since at a load
    // of 6 (a refusal cuts again, as AIMD does): the clients do not converge on equal shares
    // yet (the faster grows faster), but the starved one no longer crawls (11, and a minute
    // for the rest, before).
    assert!(
        other >= 12,
        "{other} of 150 ids done when the other client had done its 150"
    );
    let sent: u64 = Operation::ALL.iter().map(|op| server.requests(*op)).sum();
    let refused = server.throttled();
    // Most are the start's: both clients unpaced until their first refusals (39 of 343 here;
    // 45 of 1,545 over 2,000 ids through a limiting proxy). Since 34z3 a cut whose refusals
    // keep their share is put on trial, and the other client's spending keeps them: 58 to 101
    // of 362 to 405 seen here (16% to 25%), about 2.5% over the paced bench's 2,000 ids.
    assert!(
        refused * 100 <= (sent + refused) * 30,
        "{refused} of {} refused",
        sent + refused
    );
}

/// A stated rate counted by a sliding log (the structured draft's fields and the policy
/// dialect): the remainder spent as a burst stays in the log for its whole window, so the pace
/// after it was refused, and each refusal only halved the share while the next burst refilled
/// the log (issue 34: 7.6% refused of 2,000 ids). After a refusal the remainder is no longer spent at once,
/// and no window of the stated quota holds more of this client's sends than the quota less
/// one: the first window no longer overflows (12 or 13 of about 416 were refused there).
#[tokio::test]
async fn a_stated_rate_under_a_sliding_log_is_rarely_refused() {
    use mpt_mock::{RateDialect as D, RateWindow as W};
    for dialect in [D::Structured, D::Policy] {
        let (failed, sent, throttled) = through(dialect, W::SlidingLog, 400).await;
        assert!(failed.is_empty(), "{dialect:?}: {failed:?}");
        // A few at most, for jitter on the way (12 or 13 of about 416 in the first window's
        // overflow before; 43 of 447 before that).
        assert!(throttled <= 4, "{dialect:?}: {throttled} of {sent} refused");
    }
}

/// A limit that answers a refusal with a fixed `Retry-After: 3` and states nothing else (the
/// tester's F1: a bucket that serves again within milliseconds): the first refusal cuts the
/// pace and holds only the refused request, so the next call goes at once (each refusal held
/// every send for 3 s: under a 1 s wait budget the next call was not attempted). Refused again
/// at the pace halved since the cut (a lockout), every send is held.
#[tokio::test]
async fn a_first_long_retry_after_holds_only_the_refused_request() {
    let refused = || {
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "3")
    };
    let client = |server: &ScriptedServer| {
        Client::builder()
            .base_url(server.base_url())
            .api_token("s3cr3t-api-key")
            .max_wait(Duration::from_secs(1))
            .build()
            .unwrap()
    };
    let rate_limited = |r: Result<mpt::Token, Error>| match r {
        Err(Error::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)));
        }
        other => panic!("{other:?}"),
    };
    let server = canned(vec![refused(), token_answer(&[])]).await;
    let bucket = client(&server);
    rate_limited(bucket.get("TKN-1111-2222").await);
    bucket.get("TKN-1111-2222").await.unwrap();
    // Refused at the cut pace, then at the halved pace: held, the next call not attempted.
    let server = canned(vec![refused(), refused(), refused(), token_answer(&[])]).await;
    let lockout = client(&server);
    for _ in 0..3 {
        rate_limited(lockout.get("TKN-1111-2222").await);
    }
    match lockout.get("TKN-1111-2222").await {
        Err(Error::NotAttempted { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(server.request_lines().len(), 3);
}
