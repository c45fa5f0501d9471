//! A lockout that extends on every refused request.

use super::*;

/// A limiter that locks out on a refusal and extends the lockout on every request refused
/// during it (the tester's round-5 F1): refused again at every pace halved since the cut down to
/// its floor, none served, AIMD holds every send for the `Retry-After` asked even when it is 2 s
/// or less (the pace halved to its floor kept refreshing a 2 s lockout for two minutes), and
/// with no `Retry-After` for a backoff that doubles at each refusal after a hold, cleared once
/// one is served.
#[tokio::test]
async fn a_lockout_refused_at_the_halved_pace_holds_every_send() {
    for short in [Some("1"), Some("2"), None] {
        let pacer = Pacer::new(Pacing::Adaptive);
        let headers: Vec<(&str, &str)> = short.map(|s| ("retry-after", s)).into_iter().collect();
        served_unpaced(&pacer).await;
        observe(&pacer, 429, &headers).await;
        for _ in 0..aimd::SHORT_HALVINGS {
            observe(&pacer, 429, &headers).await;
            assert_eq!(
                pacer.lock().of("").held_until,
                None,
                "{short:?}: cut, halved towards the floor"
            );
        }
        observe(&pacer, 429, &headers).await;
        let (held_until, held_for, backoff) = {
            let mut paces = pacer.lock();
            let s = paces.of("");
            (s.held_until, s.held_for, s.backoff)
        };
        assert!(
            held_until.is_some(),
            "{short:?}: refused at the halved pace"
        );
        let cause = if short.is_some() {
            WaitCause::Asked
        } else {
            WaitCause::Refusing
        };
        assert_eq!(held_for, cause, "{short:?}");
        if short.is_none() {
            let first = backoff;
            assert!(!first.is_zero());
            // Sent after the hold, refused: the backoff doubles, with a random extra part of
            // up to half of it.
            observe(&pacer, 429, &headers).await;
            let (grown, until, cut) = {
                let mut paces = pacer.lock();
                let s = paces.of("");
                (s.backoff, s.held_until, s.cut.at)
            };
            // Unless it ends where a window of a second that refused the cut has renewed.
            let renewed = until == Some(cut + Duration::from_secs(1));
            assert!(
                (grown >= first * 2 || renewed) && grown <= first * 3,
                "{grown:?}"
            );
        }
        observe(&pacer, 200, &[]).await;
        assert_eq!(
            pacer.lock().of("").backoff,
            Duration::ZERO,
            "cleared once served"
        );
    }
}

/// A lockout asked as an HTTP date is held to the end of the second the date names: a gateway
/// that cuts its lockout's end to the second names a moment up to a second early, and a probe
/// sent then extends the lockout again (one process took twice as long as with the same
/// lockout asked in seconds). A refusal of a probe sent after the hold grows the hold.
#[tokio::test]
async fn a_lockout_asked_as_a_date_is_held_to_the_end_of_its_second() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let at = std::time::SystemTime::now() + Duration::from_secs(2);
    let date = httpdate::fmt_http_date(at);
    let secs_to = |t: std::time::SystemTime| {
        t.duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
    };
    // The date names the whole second it is cut to.
    let named = at
        - Duration::from_nanos(u64::from(
            at.duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        ));
    let headers = [("retry-after", date.as_str())];
    served_unpaced(&pacer).await;
    // Cut, then refused at every pace halved down to its floor.
    for _ in 0..=aimd::SHORT_HALVINGS {
        observe(&pacer, 429, &headers).await;
    }
    let before = secs_to(named);
    observe(&pacer, 429, &headers).await;
    let held = pacer
        .lock()
        .of("")
        .held_until
        .expect("refused at the halved pace: held")
        .saturating_duration_since(Instant::now());
    assert!(
        held > before + Duration::from_millis(900),
        "held {held:?}, the date {before:?} away"
    );
    assert_eq!(pacer.lock().of("").lockouts, 1);
}

/// A fixed window or a sliding log the pace overspent refuses the pace halved once or twice
/// for a few milliseconds more, and asks for a whole second (`Retry-After: 1`, its renewal
/// rounded up): that holds no send (held for the second at each of its refusals, and the
/// renewal hidden, `retry-after+fixed-window` took 13.6 s where reqwest c16 took 10.7 s), and a
/// request sent since served ends the refusal.
#[tokio::test]
async fn a_window_refusing_the_halved_pace_briefly_holds_no_send() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let headers = [("retry-after", "1")];
    served_unpaced(&pacer).await;
    observe(&pacer, 429, &headers).await;
    for _ in 0..3 {
        observe(&pacer, 429, &headers).await;
        assert_eq!(pacer.lock().of("").held_until, None, "halved, not held");
    }
    observe(&pacer, 200, &[]).await;
    assert!(pacer.lock().of("").resolved, "served again");
    assert_eq!(pacer.lock().of("").held_until, None);
}

/// A window's start refused for most of its second, held once for its `Retry-After: 1` (its
/// renewal rounded up) and served right after: the hold hid when it renewed, not that it did,
/// so its quota is learned (the pace stayed at twice it, a hold at each refusal); a limit so
/// taken for a window that then refuses past its renewal, none served, is none (a lockout one
/// hold ended): its pace is halved again, and a hold no longer tells a window.
#[tokio::test]
async fn a_window_held_once_for_a_rounding_is_learned_and_a_lockout_refutes_it() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let headers = [("retry-after", "1")];
    held_at_the_floor(&pacer, &headers).await;
    assert!(pacer.lock().of("").held_until.is_some(), "held");
    observe(&pacer, 200, &[]).await;
    {
        let mut paces = pacer.lock();
        let s = paces.of("");
        assert!(s.windowed, "renewed across one short hold");
        assert_eq!(s.ceiling, Some(f64::from(s.cut.served)));
        // Refused again, none served since, past a window's renewal.
        let now = Instant::now();
        s.cut.at = now - Duration::from_secs(2);
        (s.resolved, s.cut.generation) = (false, s.generation);
        let before = s.learned.unwrap();
        aimd::learn(s, true, now, s.generation);
        assert!(!s.windowed && s.window_refuted, "no window");
        assert!(s.learned.unwrap() < before, "halved");
    }
}

/// Served unpaced (hundreds a second): a cut's floor is tens a second.
async fn served_unpaced(pacer: &Pacer) {
    for _ in 0..20 {
        observe(pacer, 200, &[]).await;
    }
}

/// Served unpaced, then cut and refused at every pace halved to the floor and once more there
/// with `headers`: held.
async fn held_at_the_floor(pacer: &Pacer, headers: &[(&str, &str)]) {
    served_unpaced(pacer).await;
    for _ in 0..=aimd::SHORT_HALVINGS + 1 {
        observe(pacer, 429, headers).await;
    }
}

/// Cut, refused at every pace halved to the floor and once more there (held for the 2 s asked),
/// then the hold made to have passed with the refusals lasting `refused_for` since the cut:
/// the pace of the cut.
fn locked_out_for(pacer: &Pacer, refused_for: Duration) -> f64 {
    let mut paces = pacer.lock();
    let s = paces.of("");
    assert!(s.held_until.is_some(), "held at the floor");
    let now = Instant::now();
    s.cut.at = now - refused_for;
    s.held_until = Some(now);
    s.cut.rate
}

/// A limiter that locks out and extends the lockout on every request refused during it, seen
/// once (held for the wait asked, and refused past a window's renewal before one was served:
/// neither a bucket nor a window of a second refuses that long) is a lockout from then on: its
/// next refusal holds every send at once (no halvings first: each one a request sent into the
/// lockout, extending it for every process on the token), the pace re-enters at half the cut's
/// (two processes back at their cuts' paces at once locked each other out again; a 2 s lockout
/// taken for a window's renewal set the pace to what the second before it served, 25 a second),
/// and a hold grows once at most (twice the wait asked, with its random part): one process's
/// hold grown at each probe refused reached 18 s while the other finished its half alone.
#[tokio::test]
async fn a_limiter_seen_to_lock_out_is_held_at_its_next_refusal() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let headers = [("retry-after", "2")];
    held_at_the_floor(&pacer, &headers).await;
    let cut = locked_out_for(&pacer, Duration::from_secs(3));
    observe(&pacer, 200, &[]).await;
    {
        let mut paces = pacer.lock();
        let s = paces.of("");
        assert!(!s.windowed, "a lockout is no window's renewal");
        let pace = s.learned.unwrap();
        assert!(pace <= cut && pace >= cut / 2.0, "{pace}: the cut's {cut}");
    }
    // Served since: its next refusal is a new limit's first, and holds every send.
    observe(&pacer, 429, &headers).await;
    let held = |pacer: &Pacer| {
        pacer
            .lock()
            .of("")
            .held_until
            .map(|h| h.saturating_duration_since(Instant::now()))
    };
    let first = held(&pacer).unwrap_or_default();
    assert!(first > Duration::from_secs(1), "held at once: {first:?}");
    // Probes refused after each hold: the hold grows once, to 2 to 3 times the wait asked.
    for _ in 0..3 {
        pacer.lock().of("").held_until = Some(Instant::now());
        observe(&pacer, 429, &headers).await;
        let grown = held(&pacer).unwrap_or_default();
        assert!(
            grown > Duration::from_millis(3900) && grown <= Duration::from_secs(6),
            "{grown:?}"
        );
    }
}

/// A window that refuses for most of its second, held once for its rounding (`Retry-After:
/// 1`) and served within its renewal, is no lockout: its next refusal only cuts the pace.
#[tokio::test]
async fn a_window_held_once_within_its_renewal_is_no_lockout() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let headers = [("retry-after", "1")];
    held_at_the_floor(&pacer, &headers).await;
    locked_out_for(&pacer, Duration::from_millis(1200));
    observe(&pacer, 200, &[]).await;
    assert!(pacer.lock().of("").windowed, "a window's renewal");
    pacer.lock().of("").held_until = None;
    observe(&pacer, 429, &headers).await;
    assert_eq!(pacer.lock().of("").held_until, None, "cut, not held");
}

/// A bucket's `Retry-After: 1` (its rounding) held once and outlasted, another process on the
/// token spending the bucket meanwhile, is no lockout either: its next refusal only cuts.
#[tokio::test]
async fn a_hold_of_a_second_outlasted_is_no_lockout() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let headers = [("retry-after", "1")];
    held_at_the_floor(&pacer, &headers).await;
    locked_out_for(&pacer, Duration::from_secs(3));
    observe(&pacer, 200, &[]).await;
    pacer.lock().of("").held_until = None;
    observe(&pacer, 429, &headers).await;
    assert_eq!(pacer.lock().of("").held_until, None, "cut, not held");
}
