//! Times in the rate-limit fields: `Retry-After` dates and seconds, epoch resets, and the
//! clock each is counted from.

use super::*;

/// `Retry-After` as an HTTP date in each of the three forms RFC 9110 (section 5.6.7) says a
/// recipient must accept, and folded with seconds (round 5's F2: the RFC 850 and asctime forms
/// and `3, <date>` were ignored, read as "no wait asked").
#[test]
fn retry_after_reads_every_http_date_form() {
    let date = ("date", "Wed, 21 Oct 2015 07:28:00 GMT");
    let at = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:05Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    for value in [
        "Wed, 21 Oct 2015 07:28:05 GMT",
        "Wednesday, 21-Oct-15 07:28:05 GMT",
        "Wed Oct 21 07:28:05 2015",
        " Wed Oct 21 07:28:05 2015 ",
        "3, Wed, 21 Oct 2015 07:28:05 GMT",
        "Wed, 21 Oct 2015 07:28:05 GMT, 3",
        "Wednesday, 21-Oct-15 07:28:05 GMT, 0",
        "Wed Oct 21 07:28:05 2015, 2",
        "Wed, 21 Oct 2015 07:28:01 GMT, Wed, 21 Oct 2015 07:28:05 GMT",
    ] {
        let s = read(429, &[date, ("retry-after", value)]);
        assert_eq!(s.retry_after, Some(Duration::from_secs(5)), "{value:?}");
        assert_eq!(s.asked, Some(AskedWait::Until(at)), "{value:?}");
    }
    // The longest item is a number: it is the wait asked.
    let s = read(429, &[date, ("retry-after", "9, Wed Oct 21 07:28:05 2015")]);
    assert_eq!(s.retry_after, Some(Duration::from_secs(9)));
    assert_eq!(s.asked, Some(AskedWait::Seconds(9.0)));
    // On two lines, as folded.
    let s = read(
        429,
        &[
            date,
            ("retry-after", "3"),
            ("retry-after", "Wednesday, 21-Oct-15 07:28:05 GMT"),
        ],
    );
    assert_eq!(s.retry_after, Some(Duration::from_secs(5)));
    // A date's weekday must be its own; an item that does not read makes the field unread.
    for value in [
        "Thu, 21 Oct 2015 07:28:05 GMT",
        "Wed Oct 21 07:28:05 15",
        "3, soon",
        "Sun,",
        ", 3",
    ] {
        let s = read(429, &[date, ("retry-after", value)]);
        assert_eq!(s.retry_after, None, "{value:?}");
    }
}

/// `RateLimit-Reset` in epoch milliseconds (and seconds) is counted from this machine's clock when the
/// answer's `Date` (whole seconds) agrees with it (round 5's F9: counted from `Date`, a bucket's
/// reset of 1 s read as 1 to 2 s, its inferred window twice a second, and the pace 3x slower).
#[test]
fn an_epoch_millisecond_reset_is_counted_to_the_millisecond() {
    // Away from a second's edges: `Date` then agrees with this machine's clock throughout, and
    // the old reading (from `Date`) is 1.2 s or more.
    let now = loop {
        let now = chrono::Utc::now();
        if (200..800).contains(&now.timestamp_subsec_millis()) {
            break now;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ms = (now.timestamp_millis() + 1000).to_string();
    // `Date` the second this machine is in, or the one before (an answer sent at x.999 s and
    // read at x+1.001 s).
    for before in [0, 1] {
        let date = (now - chrono::Duration::seconds(before))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        for name in ["ratelimit-reset", "x-ratelimit-reset"] {
            let limit = name.trim_end_matches("reset").to_string() + "limit";
            let s = read(200, &[("date", &date), (&limit, "200"), (name, &ms)]);
            let reset = s.reset.unwrap();
            assert!(
                reset <= Duration::from_secs(1) && reset > Duration::from_millis(800),
                "{name}, Date {before} s before: {reset:?}"
            );
        }
    }
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    // Epoch seconds too (GitHub's window renewing at a whole second): from this machine's
    // clock, not from `Date` cut to the second, which read it 0.2 s or more late here (2 s).
    let epoch = (now.timestamp() + 2).to_string();
    let s = read(
        200,
        &[
            ("date", &date),
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-reset", &epoch),
        ],
    );
    let reset = s.reset.unwrap();
    assert!(
        reset < Duration::from_millis(1800) && reset > Duration::from_millis(1000),
        "{reset:?}"
    );
}

/// `X-RateLimit-Reset` as epoch milliseconds (some gateways) is read as such, not as a wait
/// of 44 hours.
#[test]
fn a_reset_in_epoch_milliseconds_is_read_as_such() {
    let date = "Sat, 05 Dec 2026 12:00:00 GMT";
    let at = chrono::DateTime::parse_from_rfc2822(date)
        .unwrap()
        .timestamp()
        + 3;
    let ms = (at * 1000).to_string();
    for name in ["x-ratelimit-reset", "ratelimit-reset"] {
        let limit = name.trim_end_matches("reset").to_string() + "limit";
        let s = read(200, &[("date", date), (&limit, "60"), (name, &ms)]);
        assert_eq!(s.reset, Some(Duration::from_secs(3)), "{name}");
    }
}

/// A `Retry-After` date with a `Date` far off this machine's clock is read both ways, and the
/// shorter wait that is not past is taken (round 7: a gateway whose `Date` was two hours behind
/// while its date was a second ahead of this machine asked, read from its `Date`, for two
/// hours: over the cap, the job ended at once). A server whose clock is off, consistently, is
/// still read from its `Date`.
#[test]
fn a_retry_after_date_beside_a_date_far_off_is_read_both_ways() {
    let http = |t: chrono::DateTime<chrono::Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let now = chrono::Utc::now();
    let hours = chrono::Duration::hours(2);
    let secs_ = chrono::Duration::seconds;
    let cases = [
        // `Date` off, the date this machine's: the wait from this machine's clock.
        (now - hours, now + secs_(5)),
        (now + hours, now + secs_(5)),
        // A server's clock off, its date in it: the wait from its `Date`.
        (now - hours, now - hours + secs_(5)),
        (now + hours, now + hours + secs_(5)),
    ];
    for (date, at) in cases {
        let s = read(429, &[("date", &http(date)), ("retry-after", &http(at))]);
        let wait = s.retry_after.unwrap();
        assert!(
            wait > Duration::from_secs(3) && wait <= Duration::from_secs(6),
            "Date {date}, Retry-After {at}: {wait:?}"
        );
    }
    // Both readings past: the date has passed.
    let s = read(
        429,
        &[
            ("date", &http(now + hours)),
            ("retry-after", &http(now - secs_(5))),
        ],
    );
    assert_eq!(s.retry_after, Some(Duration::ZERO));
}

/// An epoch `X-RateLimit-Reset` beside a `Date` off this machine's clock is read both ways, as a
/// `Retry-After` date is, the shorter wait not past winning (tester round 8: an edge's `Date`
/// 20 s behind a backend whose reset was right read each window of a second as 21 s, 86 s
/// where a naive loop took 16 s). A server whose clock is off, its reset in it, is still read
/// from its `Date`.
#[test]
fn an_epoch_reset_beside_a_date_far_off_is_read_both_ways() {
    let http = |t: chrono::DateTime<chrono::Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let now = chrono::Utc::now();
    let secs_ = chrono::Duration::seconds;
    let cases = [
        // `Date` off, the reset this machine's: the wait from this machine's clock.
        (now - secs_(20), now + secs_(5)),
        (now - secs_(3600), now + secs_(5)),
        (now + secs_(20), now + secs_(5)),
        // A server's clock off, its reset in it: the wait from its `Date`.
        (now - secs_(20), now - secs_(20) + secs_(5)),
        (now + secs_(3600), now + secs_(3600) + secs_(5)),
    ];
    for (date, at) in cases {
        for name in ["x-ratelimit-reset", "ratelimit-reset"] {
            let limit = name.trim_end_matches("reset").to_string() + "limit";
            let epoch = at.timestamp().to_string();
            let s = read(
                200,
                &[("date", &http(date)), (&limit, "60"), (name, &epoch)],
            );
            let wait = s.reset.unwrap();
            assert!(
                wait > Duration::from_secs(3) && wait <= Duration::from_secs(6),
                "{name}: Date {date}, reset {at}: {wait:?}"
            );
            assert!(s.reset_at, "a time");
        }
    }
    let s = read(
        200,
        &[("x-ratelimit-limit", "60"), ("x-ratelimit-reset", "30")],
    );
    assert!(!s.reset_at, "delta seconds are not a time");
}

/// `Retry-After` seconds are digits (RFC 9110's delay-seconds; a fraction is read too): an
/// exponent, `inf` or a sign other than `+` does not read, and the refusal asks for no wait
/// (round 7: one random `Retry-After: 1e3` was read as 1,000 s, over the cap, and ended a job).
#[test]
fn retry_after_seconds_with_an_exponent_do_not_read() {
    for v in ["1e3", "1E3", "inf", "-1", "0x10", "1.5.2", "."] {
        let s = read(429, &[("retry-after", v)]);
        assert_eq!(s.retry_after, None, "{v:?}");
        assert!(s.throttled && s.asked_wait().is_none(), "{v:?}");
    }
    for (v, ms) in [("+7", 7000), ("0.5", 500), (".5", 500), ("3.", 3000)] {
        let s = read(429, &[("retry-after", v)]);
        assert_eq!(s.retry_after, Some(Duration::from_millis(ms)), "{v:?}");
    }
}

/// A `Retry-After` date naming the second that has begun (this machine's second, with the
/// answer's own `Date` or without) asks the pacer for no wait, and the call's retry waits the
/// rest of that second, not "retry now": a lock whose end was stated cut to its second refused
/// each retry sent at once, and a token's ten throttled attempts went in a fraction of a second
/// (tester round 30: 7 and 31 of 600 ids failed, a naive loop none).
#[test]
fn a_retry_after_date_of_the_second_begun_is_waited_to_its_end() {
    let stamp = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    for headers in [vec![("date", stamp.as_str())], vec![]] {
        let mut headers = headers;
        headers.push(("retry-after", stamp.as_str()));
        let s = read(429, &headers);
        assert_eq!(s.asked_wait(), Some(Duration::ZERO), "{headers:?}");
        let wait = crate::pace::retry_wait(&s, Duration::from_secs(30), None).expect("reads");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?} {headers:?}"
        );
    }
}

/// A `Retry-After` date in the past, however far (the epoch itself, before it, the year 1), in
/// each of its three forms, with a `Date` or without, asks for no wait: retry now, on a `403` as
/// on a `429` and a `503` (a `403` with it is throttling, not `Forbidden`). A value that is not
/// a date (`25:61:61`, tester round 11's #6 sent it, not the epoch) does not read: a `403` with
/// it stays a refusal of the secret, a `429` asks for no wait.
#[test]
fn a_retry_after_date_in_the_past_asks_for_no_wait() {
    let dates = [
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Thursday, 01-Jan-70 00:00:00 GMT",
        "Thu Jan  1 00:00:00 1970",
        "Wed, 31 Dec 1969 23:59:59 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "Sun, 06 Dec 2026 00:00:00 GMT, 0",
    ];
    let with_date = [("date", "Sun, 06 Dec 2026 12:00:00 GMT")];
    for value in dates {
        for status in [403, 429, 503] {
            for date in [&with_date[..], &[]] {
                let mut headers = date.to_vec();
                headers.push(("retry-after", value));
                headers.push(("x-ratelimit-remaining", "4000"));
                let s = read(status, &headers);
                assert!(s.throttled, "{status} {value:?} {date:?}");
                assert_eq!(s.retry_after, Some(Duration::ZERO), "{status} {value:?}");
                assert_eq!(s.asked_wait(), Some(Duration::ZERO), "{status} {value:?}");
            }
        }
    }
    let not_a_date = "Sun, 06 Dec 2026 25:61:61 GMT";
    let s = read(403, &[("retry-after", not_a_date)]);
    assert!(!s.throttled && s.retry_after.is_none(), "{s:?}");
    let s = read(429, &[("retry-after", not_a_date)]);
    assert!(s.throttled && s.retry_after.is_none(), "{s:?}");
}

/// An answer (not a refusal) saying nothing remains until an epoch reset beyond the year every
/// computation clamps to keeps the reset as stated, for messages: its date, or, past the last
/// date shown (the year 262143), its number (tester round 11's #7: `X-RateLimit-Reset:
/// 9999999999999999999` was named "it renews in 8760h", the clamp).
#[test]
fn a_spent_quota_keeps_its_far_reset_as_stated() {
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let spent = |reset: &str| {
        read(
            200,
            &[
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", reset),
            ],
        )
    };
    let s = spent("4102444800");
    assert_eq!(s.asked, Some(AskedWait::Until(at("2100-01-01T00:00:00Z"))));
    assert_eq!(s.reset, Some(secs(MAX_SECS)), "computed with as a year");
    let s = spent("4102444800000");
    assert_eq!(s.asked, Some(AskedWait::Until(at("2100-01-01T00:00:00Z"))));
    let s = spent("9999999999999999999");
    assert_eq!(
        s.asked,
        Some(AskedWait::EpochMillis(9_999_999_999_999_999_999.0))
    );
    let far = s.asked.unwrap();
    assert!(far.beyond_clamp());
    assert!(
        far.to_string()
            .starts_with("until 1e19 ms after 1970-01-01T00:00:00Z (about 31688"),
        "{far}"
    );
    let spent_cause = WaitCause::Spent {
        limit: 5000,
        window: None,
    };
    let year = secs(MAX_SECS);
    for (reset, named) in [
        ("4102444800", "it renews at 2100-01-01T00:00:00Z (about "),
        (
            "9999999999999999999",
            "it renews at 1e19 ms after 1970-01-01T00:00:00Z (about ",
        ),
    ] {
        let asked = spent(reset).asked;
        let message =
            crate::job::not_attempted(year, Duration::from_secs(30), asked.as_ref(), spent_cause);
        assert!(
            message.starts_with(&format!(
                "not attempted: the platform says nothing remains of its quota of 5000 requests; {named}"
            )) && message.ends_with(" years); over the 30 s cap"),
            "{message}"
        );
        assert!(!message.contains("8760h"), "{message}");
    }
    // Within the clamp, or something left: nothing kept (the wait in words is the one asked).
    assert_eq!(spent("3600").asked, Some(AskedWait::Seconds(3600.0)));
    let left = read(
        200,
        &[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "1"),
            ("x-ratelimit-reset", "4102444800"),
        ],
    );
    assert_eq!(left.asked, None);
}
