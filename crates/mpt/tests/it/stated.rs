//! Stated counts and quotas against a scripted server (one answer per request, in turn, as a
//! count that goes down): a remainder is never overspent by the requests in flight, a claim that
//! nothing remains is probed before a job stops on it, a window's quota is spent per window, and
//! a refusal's message names the status the platform answered.

use crate::common::*;

/// What `n` gets, `concurrency` at a time, ended with: served, refused (`RateLimited`), not
/// attempted, and the last not-attempted message (else the last refusal's).
async fn gets(client: &Client, n: usize, concurrency: usize) -> (usize, usize, usize, String) {
    let results: Vec<_> = futures_util::stream::iter(0..n)
        .map(|_| client.get("TKN-1111-2222"))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let (mut served, mut refused, mut not_attempted) = (0, 0, 0);
    let (mut last, mut last_refused) = (String::new(), String::new());
    for result in results {
        match result {
            Ok(_) => served += 1,
            Err(e @ Error::RateLimited { .. }) => {
                refused += 1;
                last_refused = e.to_string();
            }
            Err(e @ Error::NotAttempted { .. }) => {
                not_attempted += 1;
                last = e.to_string();
            }
            Err(e) => panic!("{e}"),
        }
    }
    if last.is_empty() {
        last = last_refused;
    }
    (served, refused, not_attempted, last)
}

/// GitHub's 5,000 an hour with 30 left, 16 requests at a time: the requests in flight count
/// against the remainder, so exactly 30 are served; the answer saying nothing remains is
/// probed once (refused: 403, nothing remains, an hour), and every other id is not attempted
/// with that reason (issue 34: 45 sent for 30 remaining, 15 refused).
#[tokio::test]
async fn a_nearly_spent_long_quota_is_spent_exactly() {
    let x = |left: u32| {
        token_answer(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", &left.to_string()),
            ("x-ratelimit-reset", "3600"),
        ])
    };
    let mut replies: Vec<Scripted> = (0..30).rev().map(x).collect();
    replies.push(
        Scripted::answer(
            403,
            "application/problem+json",
            r#"{"status":403,"title":"API rate limit exceeded."}"#,
        )
        .header("x-ratelimit-limit", "5000")
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", "3600"),
    );
    let server = canned(replies).await;
    let client = scripted(&server, RetryPolicy::default(), Duration::from_secs(120));
    let (served, refused, not_attempted, last) = gets(&client, 100, 16).await;
    let sent = server.request_lines().len();
    assert_eq!((served, sent), (30, 31), "{refused} refused: {last}");
    assert_eq!((refused, not_attempted), (1, 69));
    assert_eq!(
        last,
        "not attempted: the platform says nothing remains of its quota of 5000 requests; it renews in 1h; over the 30 s cap"
    );
}

/// One answer saying nothing remains until a reset beyond the cap (31 s) among answers with
/// plenty left is a claim, not an ask: one request sent alone finds plenty left, and every id
/// is served (issue 34: one such answer ended a healthy job, 657 of 1,000 ids not attempted).
/// When the probe is told the same again, the job stops, naming the quota and its reset.
#[tokio::test]
async fn a_claim_that_nothing_remains_is_probed_before_a_job_stops() {
    let older = |left: &str, reset: &str| {
        token_answer(&[
            ("ratelimit-limit", "200"),
            ("ratelimit-remaining", left),
            ("ratelimit-reset", reset),
        ])
    };
    let mut replies = vec![older("150", "1"); 5];
    replies.push(older("0", "31"));
    replies.push(older("150", "1"));
    let server = canned(replies).await;
    let client = scripted(&server, RetryPolicy::default(), Duration::from_secs(120));
    let (served, refused, not_attempted, last) = gets(&client, 40, 4).await;
    assert_eq!((served, refused, not_attempted), (40, 0, 0), "{last}");
    assert_eq!(server.request_lines().len(), 40);
    // Confirmed by the probe: nothing more is sent.
    let mut replies = vec![older("150", "1"); 3];
    replies.push(older("0", "31"));
    let server = canned(replies).await;
    let client = scripted(&server, RetryPolicy::default(), Duration::from_secs(120));
    let (served, refused, not_attempted, last) = gets(&client, 10, 1).await;
    assert_eq!((served, refused, not_attempted), (5, 0, 5), "{last}");
    assert_eq!(server.request_lines().len(), 5);
    assert!(
        last.contains("nothing remains of its quota of 200 requests; it renews in ")
            && last.ends_with("; over the 30 s cap"),
        "{last}"
    );
}

/// A quota said spent (answers, not refusals) until an epoch reset beyond the year every
/// computation clamps to is named by that reset as stated: its date, or past the last date
/// shown, its number; never the clamp (tester round 11's #7: `X-RateLimit-Reset:
/// 9999999999999999999` read "it renews in 8760h").
#[tokio::test]
async fn a_quota_spent_until_a_far_reset_names_it_as_stated() {
    for (reset, named) in [
        ("4102444800", "it renews at 2100-01-01T00:00:00Z (about 7"),
        (
            "9999999999999999999",
            "it renews at 1e19 ms after 1970-01-01T00:00:00Z (about 31688",
        ),
    ] {
        let spent = token_answer(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", reset),
        ]);
        let server = canned(vec![spent]).await;
        let client = scripted(&server, RetryPolicy::default(), Duration::from_secs(120));
        // The first answer is a claim, the probe's confirms it: nothing more is sent.
        let (served, refused, not_attempted, last) = gets(&client, 10, 1).await;
        assert_eq!((served, refused, not_attempted), (2, 0, 8), "{last}");
        assert_eq!(server.request_lines().len(), 2);
        let head =
            "not attempted: the platform says nothing remains of its quota of 5000 requests; ";
        assert!(
            last.starts_with(&format!("{head}{named}"))
                && last.ends_with(" years); over the 30 s cap"),
            "{reset}: {last}"
        );
        assert!(!last.contains("8760h"), "{last}");
    }
}

/// A `Retry-After` of 30.5 s over a 30 s cap is named as more than the cap, never as it.
#[tokio::test]
async fn a_wait_just_over_the_cap_is_not_named_as_the_cap() {
    let server = canned(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "30.5"),
    ])
    .await;
    let client = scripted(&server, RetryPolicy::default(), Duration::from_secs(120));
    let e = client.get("TKN-1111-2222").await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    let e = client.get("TKN-1111-2222").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "not attempted: the platform asks to wait 31 s; over the 30 s cap"
    );
}

/// `RateLimit-Limit: 20` with `RateLimit-Policy: 20;w=5` (a window of 5 s): the remainder is
/// spent, then sends wait for the window's reset, with no request refused (issue 34: the
/// remainder spent as a burst and paced sends on top of it were refused, which halved the
/// pace for the rest of the run: 38 s for 100 ids where 20 s were enough). The reset (3 s) is
/// longer than the call's budget here: the ids left are not attempted.
#[tokio::test]
async fn a_windows_quota_is_spent_without_refusals() {
    let window = |left: u32| {
        token_answer(&[
            ("ratelimit-limit", "20"),
            ("ratelimit-policy", "20;w=5"),
            ("ratelimit-remaining", &left.to_string()),
            ("ratelimit-reset", "3"),
        ])
    };
    let mut replies: Vec<Scripted> = (0..20).rev().map(window).collect();
    replies.push(
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("ratelimit-limit", "20")
            .header("ratelimit-policy", "20;w=5")
            .header("ratelimit-remaining", "0")
            .header("ratelimit-reset", "3"),
    );
    let server = canned(replies).await;
    let client = scripted(&server, RetryPolicy::none(), Duration::from_secs(1));
    let (served, refused, not_attempted, last) = gets(&client, 30, 16).await;
    assert_eq!((served, refused, not_attempted), (20, 0, 10), "{last}");
    assert_eq!(server.request_lines().len(), 20);
}

/// A `403` saying nothing remains, its reset already past (epoch milliseconds in 2023): a
/// refusal whose message names the status the platform answered and its words, not
/// `429 Too Many Requests` (issue 34), and whose status is 403 whatever its body.
#[tokio::test]
async fn a_403_refusal_names_its_status_and_the_platforms_words() {
    let headers = [
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", "1700000000000"),
    ];
    let body = r#"{"status":403,"title":"API rate limit exceeded."}"#.to_string();
    let server = answering(403, &headers, body).await;
    let client = scripted(&server, RetryPolicy::none(), Duration::from_secs(120));
    let e = client.get("TKN-1111-2222").await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(e.status(), Some(403));
    assert_eq!(
        e.to_string(),
        "403 API rate limit exceeded. (nothing remains of the rate limit; its stated reset has passed)"
    );
    let server = answering(403, &headers, "rate limited".into()).await;
    let client = scripted(&server, RetryPolicy::none(), Duration::from_secs(120));
    let e = client.get("TKN-1111-2222").await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e:?}");
    assert!(e.to_string().starts_with("403 Forbidden: "), "{e}");
}

/// This machine's clock in epoch seconds, plus `ahead`, as a `*-Reset` states it.
fn epoch_in(ahead: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (now.as_secs() as i64 + ahead).to_string()
}

/// A backend whose clock is 20 s ahead (tester round 8): its epoch `X-RateLimit-Reset` says a
/// spent count renews in 20 s (within the 30 s cap, beyond the call's 10 s budget), while it
/// renews at once. The hold on a stated time is checked by one request within a second; served,
/// the rest are served too (before: held for the whole reset, over the budget: the other 20 ids
/// not attempted, "it renews in 21 s"). The answers after the check count down to nothing
/// again with the same reset, read about 19 s sooner since: not held for it again.
#[tokio::test]
async fn a_stated_reset_a_check_finds_renewed_is_not_held() {
    let reset = epoch_in(20);
    let x = |left: u32| {
        token_answer(&[
            ("x-ratelimit-limit", "20"),
            ("x-ratelimit-remaining", &left.to_string()),
            ("x-ratelimit-reset", &reset),
        ])
    };
    let mut replies: Vec<Scripted> = (0..20).rev().map(x).collect();
    replies.extend((0..20).rev().map(x));
    replies.push(x(19));
    let server = canned(replies).await;
    let client = scripted(&server, RetryPolicy::none(), Duration::from_secs(10));
    let (served, refused, not_attempted, last) = gets(&client, 41, 4).await;
    assert_eq!((served, refused, not_attempted), (41, 0, 0), "{last}");
    assert_eq!(server.request_lines().len(), 41);
}

/// A reset that is right is held once a check is refused: a `403` saying nothing remains
/// doubles the next hold's bound, and the job stops on the budget (3 s here) when a hold is
/// over it, naming the stated wait, not the bound, after a few checks (never one a second for
/// the whole reset).
#[tokio::test]
async fn a_stated_reset_a_check_confirms_is_held() {
    let reset = epoch_in(25);
    let x = |status: u16, left: u32| {
        with_headers(
            Scripted::answer(status, "application/json", TOKEN_JSON),
            &[
                ("x-ratelimit-limit", "5"),
                ("x-ratelimit-remaining", &left.to_string()),
                ("x-ratelimit-reset", &reset),
            ],
        )
    };
    let mut replies: Vec<Scripted> = (0..5).rev().map(|l| x(200, l)).collect();
    replies.push(x(403, 0));
    let server = canned(replies).await;
    let client = scripted(&server, RetryPolicy::none(), Duration::from_secs(3));
    let (served, refused, not_attempted, last) = gets(&client, 20, 1).await;
    let sent = server.request_lines().len();
    assert_eq!(served, 5, "{last}");
    assert!((6..=8).contains(&sent), "{sent} sent: {last}");
    assert_eq!(refused + not_attempted, 15, "{last}");
    // The wait named is the stated one (about 20 s), not the bound on the hold (4 s).
    let named = last.split(" s away").next().unwrap();
    let named: u64 = named.rsplit(' ').next().unwrap().parse().expect(&last);
    assert!((8..=25).contains(&named), "{last}");
}

/// An edge whose `Date` is 20 s behind, the backend's epoch reset right (tester round 8): the
/// reset is read from this machine's clock too, the shorter wait winning (before: from the
/// `Date`, 21 s, over the call's 10 s budget: the other ids not attempted).
#[tokio::test]
async fn an_epoch_reset_beside_a_date_behind_is_not_held_long() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() - Duration::from_secs(20));
    let reset = epoch_in(1);
    let x = |left: u32| {
        token_answer(&[
            ("date", &date),
            ("x-ratelimit-limit", "10"),
            ("x-ratelimit-remaining", &left.to_string()),
            ("x-ratelimit-reset", &reset),
        ])
    };
    let mut replies: Vec<Scripted> = (0..10).rev().map(x).collect();
    replies.push(x(9));
    let server = canned(replies).await;
    let client = scripted(&server, RetryPolicy::none(), Duration::from_secs(10));
    let (served, refused, not_attempted, last) = gets(&client, 20, 4).await;
    assert_eq!((served, refused, not_attempted), (20, 0, 0), "{last}");
}
