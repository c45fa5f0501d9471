//! The counts of the mock's rate limit.

use super::*;

fn buckets(window: RateWindow, limit: RateLimit) -> Buckets {
    Buckets::new(RateSettings {
        limit: Some(limit),
        window,
        ..RateSettings::default()
    })
}

/// The headers state whole counts: `0.2/s` is refused (tester round 21, N6).
#[test]
fn a_rate_is_a_whole_number_a_second() {
    for bad in ["0.2/s", "2.5", "0", "-1/s", "1e7", "fast"] {
        assert!(RateLimit::parse(bad, 1).is_err(), "{bad}");
    }
    for good in ["1/s", "200", " 3/s "] {
        assert!(RateLimit::parse(good, 1).is_ok(), "{good}");
    }
}

#[test]
fn a_bucket_refills_at_its_rate_up_to_its_burst() {
    let limit = RateLimit::parse("10/s", 3).unwrap();
    let mut buckets = buckets(RateWindow::TokenBucket, limit);
    let t0 = Instant::now();
    for _ in 0..3 {
        assert!(buckets.take("a", limit, t0).allowed);
    }
    let refused = buckets.take("a", limit, t0);
    assert!(!refused.allowed);
    assert!((refused.wait.as_secs_f64() - 0.1).abs() < 1e-9);
    // Another caller has a bucket of its own.
    assert!(buckets.take("b", limit, t0).allowed);
    // A tenth of a second later, one token again; never more than the burst.
    assert!(
        buckets
            .take("a", limit, t0 + Duration::from_millis(100))
            .allowed
    );
    let full = buckets.take("a", limit, t0 + Duration::from_secs(60));
    assert!(full.allowed && full.remaining == 2);
    assert!(RateLimit::parse("0/s", 1).is_err() && RateLimit::parse("x", 1).is_err());
    assert!(RateLimit::parse("inf", 1).is_err() && RateLimit::parse("NaN", 1).is_err());
}

#[test]
fn fixed_windows_and_sliding_logs_count_per_second() {
    let limit = RateLimit::parse("3/s", 1).unwrap();
    for window in [RateWindow::FixedWindow, RateWindow::SlidingLog] {
        let mut b = buckets(window, limit);
        let t0 = b.started;
        for _ in 0..3 {
            assert!(b.take("a", limit, t0).allowed, "{window:?}");
        }
        let refused = b.take("a", limit, t0);
        assert!(!refused.allowed && refused.wait <= Duration::from_secs(1));
        assert!(b.take("a", limit, t0 + Duration::from_secs(1)).allowed);
    }
}

#[test]
fn a_lockout_refuses_and_extends_until_quiet_for_its_length() {
    let limit = RateLimit::parse("10/s", 1).unwrap();
    let mut b = Buckets::new(RateSettings {
        limit: Some(limit),
        lockout: Some(Duration::from_secs(2)),
        ..RateSettings::default()
    });
    let t0 = b.started;
    let at = |ms| t0 + Duration::from_millis(ms);
    assert!(b.admit("a", limit, at(0)).allowed);
    let refused = b.admit("a", limit, at(1));
    assert!(!refused.allowed && refused.locked);
    assert_eq!(refused.wait, Duration::from_secs(2));
    // The bucket has refilled, but the lockout holds, and each refusal extends it.
    assert!(!b.admit("a", limit, at(1500)).allowed);
    assert!(!b.admit("a", limit, at(3000)).allowed);
    // Another caller is not locked out.
    assert!(b.admit("b", limit, at(3000)).allowed);
    // Quiet for 2 s after the last refusal: served.
    assert!(!b.admit("a", limit, at(4999)).allowed);
    assert!(b.admit("a", limit, at(7000)).allowed);
}

#[test]
fn replicas_take_turns_each_with_its_share() {
    let limit = RateLimit::parse("200/s", 20).unwrap();
    let mut b = Buckets::new(RateSettings {
        limit: Some(limit),
        replicas: 4,
        ..RateSettings::default()
    });
    let t0 = b.started;
    // Four buckets of 50/s, 5 deep: 20 at once are served, each stating its own share.
    for k in 0..20 {
        let taken = b.admit_replicated("a", limit, t0);
        assert!(taken.allowed, "{k}");
        assert_eq!((taken.limit.per_second, taken.limit.burst), (50.0, 5));
        assert_eq!(taken.remaining, 4 - k / 4);
    }
    assert!(!b.admit_replicated("a", limit, t0).allowed);
}

#[test]
fn the_limit_changes_mid_run() {
    let change = RateChange::parse("5:50/s", 20).unwrap();
    assert_eq!(change.after, Duration::from_secs(5));
    let b = Buckets::new(RateSettings {
        limit: Some(RateLimit::parse("200/s", 20).unwrap()),
        change: Some(change),
        ..RateSettings::default()
    });
    assert_eq!(b.limit(b.started).unwrap().per_second, 200.0);
    let later = b.started + Duration::from_secs(6);
    assert_eq!(b.limit(later).unwrap().per_second, 50.0);
    assert!(RateChange::parse("soon", 1).is_err());
}

#[test]
fn the_limit_alternates_each_period() {
    let b = Buckets::new(RateSettings {
        limit: Some(RateLimit::parse("200/s", 20).unwrap()),
        change: Some(RateChange::parse("1:50/s", 20).unwrap()),
        alternate: true,
        ..RateSettings::default()
    });
    let at = |ms| {
        b.limit(b.started + Duration::from_millis(ms))
            .unwrap()
            .per_second
    };
    assert_eq!(
        [at(0), at(999), at(1000), at(1999), at(2000), at(3500)],
        [200.0, 200.0, 50.0, 50.0, 200.0, 50.0]
    );
}
