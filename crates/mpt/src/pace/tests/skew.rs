//! A refusal's own `Retry-After` bounds a hold set on a stated reset (tester round 8: a backend
//! whose reset ran ahead while its refusals asked for a second).

use super::*;

/// An answer says nothing remains of `20;w=10` until a reset 9 s off (sends held for it); a
/// refusal of a request in flight then asks for 1 s: the hold is cut to it, and a send within
/// a budget of 2 s is not refused (before: held 9 s, over the budget).
#[tokio::test]
async fn a_refusals_retry_after_bounds_a_hold_on_a_stated_reset() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let stated = |left| {
        vec![
            ("ratelimit-limit", "20"),
            ("ratelimit-policy", "20;w=10"),
            ("ratelimit-remaining", left),
            ("ratelimit-reset", "9"),
        ]
    };
    let (a, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    let (b, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    pacer.observe(a, Some(&signal(200, &stated("0"))), CAP);
    let mut refused = stated("0");
    refused.push(("retry-after", "1"));
    pacer.observe(b, Some(&signal(429, &refused)), CAP);
    let budget = Duration::from_secs(2);
    let got = pacer.acquire("", CAP, budget).await;
    let (_, held) = got.expect("held for the refusal's second, not the reset's 9 s");
    assert!(held <= budget, "{held:?}");
}

/// This machine's clock in epoch seconds plus `ahead`, as an `X-RateLimit-Reset` states it.
fn epoch_in(ahead: i64) -> String {
    (chrono::Utc::now().timestamp() + ahead).to_string()
}

/// `X-RateLimit-*` of a limit of 200 with `left` remaining, its epoch reset `reset`, and a
/// `Date` that is right.
fn x_ratelimit<'a>(left: &'a str, reset: &'a str, date: &'a str) -> [(&'a str, &'a str); 4] {
    x_ratelimit_of("200", left, reset, date)
}

/// `X-RateLimit-*` of a limit of 100 with nothing remaining until the epoch reset `reset`, and
/// a `Date` that is right: what a spent limiter says.
fn spent<'a>(reset: &'a str, date: &'a str) -> [(&'a str, &'a str); 4] {
    x_ratelimit_of("100", "0", reset, date)
}

/// `X-RateLimit-*` of a limit of `limit` with `left` remaining, its epoch reset `reset`, and a
/// `Date`.
fn x_ratelimit_of<'a>(
    limit: &'a str,
    left: &'a str,
    reset: &'a str,
    date: &'a str,
) -> [(&'a str, &'a str); 4] {
    [
        ("x-ratelimit-limit", limit),
        ("x-ratelimit-remaining", left),
        ("x-ratelimit-reset", reset),
        ("date", date),
    ]
}

/// A fixed window of a second behind a backend 20 s ahead, its `Date` right (tester round 9,
/// `skewdrift`): each window is stated as renewing in 21 s, then, the backend's clock off the
/// other way, in the past. The window is the step between two resets stated (a second), not
/// the time to one read on this machine's clock (before: 20 s, a limit of 200 a second paced at
/// under 10); a reset in the past says nothing of it.
#[tokio::test]
async fn an_epoch_resets_window_is_its_step_not_the_time_to_it() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let (first, second, behind) = (epoch_in(21), epoch_in(22), epoch_in(-19));
    observe(&pacer, 200, &x_ratelimit("150", &first, &date)).await;
    let read = pacer.rate().unwrap();
    assert!(
        read < 10.0,
        "one reset served: the time to it, read here ({read})"
    );
    observe(&pacer, 200, &x_ratelimit("199", &second, &date)).await;
    assert_eq!(pacer.rate(), Some(200.0 * HEADROOM));
    observe(&pacer, 200, &x_ratelimit("120", &behind, &date)).await;
    assert_eq!(pacer.rate(), Some(200.0 * HEADROOM), "a step back is none");
    observe(&pacer, 200, &x_ratelimit("199", &second, &date)).await;
    assert_eq!(
        pacer.rate(),
        Some(200.0 * HEADROOM),
        "a step of 41 s is not the window"
    );
}

/// A limiter whose clock is behind (tester round 9, `longhold --skew -10`): its refusals say
/// nothing remains until a time that has passed. The time is refuted: every send is held, and
/// the next goes alone (before: no wait asked, each call's 10 throttled attempts spent at once,
/// ids reported rate-limited on a hold of 15 s).
#[tokio::test]
async fn a_refusal_stating_a_reset_past_holds_and_sends_alone() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let past = epoch_in(-5);
    let refused = spent(&past, &date);
    assert!(crate::pace::skew::refuted(&signal(429, &refused)));
    observe(&pacer, 429, &refused).await;
    let mut paces = pacer.lock();
    let s = paces.of("");
    assert!(s.held_until.is_some_and(|h| h > Instant::now()), "held");
    assert_eq!(s.held_for, WaitCause::Refusing);
    assert_eq!(stated::gate(s, Instant::now()), stated::Gate::Alone);
}

/// Checks of a stated time refused again and again: the hold before the next check grows to
/// [`crate::pace::skew::PROBE_AFTER_MOST`], no more (tester round 9, `longhold --skew 10`: a reset stated
/// 10 s late, found out 5 s after the renewal when the hold doubled without a bound).
#[tokio::test]
async fn the_hold_before_a_check_is_bounded() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let late = epoch_in(25);
    let refused = spent(&late, &date);
    let seen = signal(429, &refused);
    for _ in 0..6 {
        let mut paces = pacer.lock();
        let s = paces.of("");
        // A check planned at the end of the hold is refused.
        let at = s.checking.map(|(end, _)| end);
        pacer.learn(
            s,
            &seen,
            CAP,
            Sent {
                at,
                ..Sent::default()
            },
        );
    }
    let mut paces = pacer.lock();
    assert_eq!(
        paces.of("").probe_after,
        crate::pace::skew::PROBE_AFTER_MOST
    );
}

/// A limiter stating its count on its refusals only (tester round 9, `longhold`): a refusal
/// says nothing of 100 remains until a reset 15 s off (sends go alone); an answer served
/// stating nothing lifts that (before: every send went alone to the end of the job, one in
/// flight at a time).
#[tokio::test]
async fn an_answer_served_stating_no_remainder_lifts_the_gate() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let reset = epoch_in(15);
    let refused = spent(&reset, &date);
    let mut paces = pacer.lock();
    let s = paces.of("");
    pacer.learn(s, &signal(429, &refused), CAP, Sent::default());
    assert_eq!(s.allowance, Some(0), "nothing remains: sends go alone");
    pacer.learn(s, &signal(200, &[]), CAP, Sent::default());
    assert_eq!(s.allowance, None);
    assert_eq!(stated::gate(s, Instant::now()), stated::Gate::Open);
}

/// The same limiter after its hold: the count its refusals said was spent is served again
/// 16 s later. What was served before the hold is the count, not a quota a second: sends are
/// not paced until the next refusal (before: paced at the 50 a second served before the hold,
/// its ceiling, to the end of the job).
#[tokio::test]
async fn a_count_renewed_after_a_long_stated_hold_is_not_a_quota_a_second() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let reset = epoch_in(15);
    let refused = spent(&reset, &date);
    for _ in 0..50 {
        observe(&pacer, 200, &[]).await;
    }
    let (slot, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    pacer.observe(slot, Some(&signal(429, &refused)), CAP);
    assert!(pacer.rate().is_some(), "the refusal cut the pace");
    let mut paces = pacer.lock();
    let s = paces.of("");
    let sent = Sent {
        generation: s.generation,
        ..Sent::default()
    };
    let later = Instant::now() + Duration::from_secs(16);
    pacer.learn_at(s, &signal(200, &[]), CAP, sent, later);
    assert_eq!(
        pacer.pace(s),
        None,
        "served again after the hold: not paced"
    );
}

/// A reset stated as a time over a rounding is the pacer's to hold and check: the retry does
/// not sleep it (before: slept whole, 19 s, where the check found the renewal at 11 s). A
/// `Retry-After`, a reset of a rounding or less, and one over the cap are slept (or not
/// retried) as before.
#[test]
fn a_retry_does_not_sleep_a_stated_time_the_pacer_checks() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let refused = |reset: &str, retry_after: Option<&str>| {
        let mut h = spent(reset, &date).to_vec();
        h.extend(retry_after.map(|r| ("retry-after", r)));
        signal(429, &h)
    };
    let (long, short, far) = (epoch_in(20), epoch_in(1), epoch_in(3600));
    assert_eq!(
        crate::pace::skew::retry_wait(&refused(&long, None), CAP, None),
        Some(Duration::ZERO)
    );
    let asked = crate::pace::skew::retry_wait(&refused(&long, Some("7")), CAP, None);
    assert_eq!(asked, Some(Duration::from_secs(7)));
    let short = crate::pace::skew::retry_wait(&refused(&short, None), CAP, None).unwrap();
    assert!(short <= Duration::from_secs(1), "{short:?}");
    assert!(crate::pace::skew::retry_wait(&refused(&far, None), CAP, None).unwrap() > CAP);
}

/// After a refusal that refutes its stated reset, the next send goes alone once the hold has
/// passed, and it is the pacer's poll: the hook layer does not count its refusal among the
/// call's throttled attempts (before: whichever call won the polls spent its 10 on a hold of
/// 10 s and was reported rate-limited). Once one is served, a send alone is no poll.
#[tokio::test]
async fn the_send_after_a_refuted_reset_is_the_pacers_poll() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let past = epoch_in(-5);
    let refused = spent(&past, &date);
    observe(&pacer, 429, &refused).await;
    let (slot, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    assert!(slot.polls());
    pacer.observe(slot, Some(&signal(200, &[])), CAP);
    let (slot, _) = pacer.acquire("", CAP, CAP).await.unwrap();
    assert!(!slot.polls(), "served: no poll");
}
