//! A fixed window of 200 a clock second that answers a bare `429` once spent (Envoy's global
//! limit), its seconds not the client's: it renews some way into the client's first second.
//! The instants are injected (no clock); requests are sent at the pace AIMD learns, each
//! answered 20 ms later.

use std::collections::VecDeque;

use super::super::*;

/// The window's quota.
const QUOTA: u32 = 200;
const LATENCY: Duration = Duration::from_millis(20);
const TICK: Duration = Duration::from_micros(250);

/// Sends at the pace for `run` from each start of [`STARTS`] and phase of [`PHASES`] (the
/// window renewing that far into each of the client's seconds): each run's sends and refusals
/// from `from` on, and the quota AIMD learned (its ceiling, once it took the limit for a window).
fn runs(run: Duration, from: Duration) -> Vec<(u32, u32, Option<f64>)> {
    let second = Window {
        length: Duration::from_secs(1),
        quota: QUOTA,
        drop: None,
    };
    runs_of(second, &STARTS, run, from)
}

/// [`run_window`] against `limit` from each start of `starts` and each phase of [`PHASES`].
pub(super) fn runs_of(
    limit: Window,
    starts: &[f64],
    run: Duration,
    from: Duration,
) -> Vec<(u32, u32, Option<f64>)> {
    let each = |start: f64| PHASES.map(|phase| run_window(limit, run, from, start, phase));
    starts.iter().flat_map(|start| each(*start)).collect()
}

/// A fixed window: `quota` requests in each `length`.
#[derive(Clone, Copy)]
pub(super) struct Window {
    pub(super) length: Duration,
    pub(super) quota: u32,
    /// The quota drops to this many after so long.
    pub(super) drop: Option<(Duration, u32)>,
}

/// Sends at the pace for `run` against `limit`, starting at `start` a second, the window
/// renewing `phase` of its length into each of the client's windows.
pub(super) fn run_window(
    limit: Window,
    run: Duration,
    from: Duration,
    start: f64,
    phase: f64,
) -> (u32, u32, Option<f64>) {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    (s.learned, s.ceiling) = (Some(start), Some(800.0));
    let t0 = Instant::now();
    // The answers on the way: when, refused or not, the pace's generation sent at.
    let mut wire: VecDeque<(Instant, bool, u32)> = VecDeque::new();
    let (mut window, mut used) = (-1i64, 0u32);
    let (mut next, mut sent, mut refused) = (t0, 0u32, 0u32);
    let mut elapsed = Duration::ZERO;
    let length = limit.length.as_secs_f64();
    while elapsed < run {
        let now = t0 + elapsed;
        while let Some(&(at, no, generation)) = wire.front() {
            if at > now {
                break;
            }
            wire.pop_front();
            aimd::learn(s, no, at, generation);
        }
        if now >= next {
            // The window this request reaches it in.
            let current = (elapsed.as_secs_f64() / length + 1.0 - phase).floor() as i64;
            if current != window {
                (window, used) = (current, 0);
            }
            let quota = match limit.drop {
                Some((after, to)) if elapsed >= after => to,
                _ => limit.quota,
            };
            let no = used >= quota;
            used += u32::from(!no);
            if elapsed >= from {
                sent += 1;
                refused += u32::from(no);
            }
            wire.push_back((now + LATENCY, no, s.generation));
            next = now + secs(1.0 / s.learned.unwrap_or(250.0));
        }
        elapsed += TICK;
    }
    (sent, refused, s.windowed.then_some(s.ceiling).flatten())
}

/// The pace each run starts at (over the quota, nothing learned of it), and when the window
/// renews into the client's first second: twenty runs.
const STARTS: [f64; 4] = [250.0, 400.0, 500.0, 700.0];
pub(super) const PHASES: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

/// The quota learned when the window renewed is what it served since it renewed, not what the
/// second before the cut served: that second straddles the renewal before and counts the end
/// of the window before too (quotas of 204 to 254 learned, the pace settled at 99% of them, and
/// each second's last part refused; the tester's F8 `envoy`, 330 to 347 learned and 8% of the
/// requests refused).
#[test]
fn a_fixed_window_s_quota_is_not_counted_across_its_renewal() {
    let each = runs(Duration::from_secs(8), Duration::ZERO);
    let learned: Vec<f64> = each.iter().filter_map(|(.., quota)| *quota).collect();
    assert!(learned.len() >= 5, "windows learned: {learned:.0?}");
    assert!(
        learned.iter().all(|q| *q <= f64::from(QUOTA) * 1.06),
        "the quotas learned: {learned:.0?}"
    );
}

/// A second served past the ceiling forgets it only when most of it lies after the last cut:
/// one that straddles a fixed window's renewal serves the end of one window and the start of
/// the next, and the ceiling forgotten, the pace grew 2% a success to thousands a second and
/// was refused hundreds of times at the next window's end (7.8% of the requests refused over
/// these runs with the quota's fix above alone, 6.9% with this one alone, 12.9% with neither;
/// 2.4% with both). At most 3%.
#[test]
fn a_fixed_window_s_renewal_does_not_lift_the_ceiling() {
    let each = runs(Duration::from_secs(8), Duration::from_secs(2));
    let (sent, refused) = each.iter().fold((0, 0), |(n, no), r| (n + r.0, no + r.1));
    let share = f64::from(refused) / f64::from(sent);
    assert!(
        share <= 0.03,
        "{refused} of {sent} refused ({:.1}%)",
        share * 100.0
    );
}

/// A pace over the quota spends the window late in its second, and it renews a tenth or two of
/// a second after the first refusal: sooner than a refusal of half a second that tells a window,
/// but longer than a bucket at the pace restored in proportion would leave empty. Taken for a
/// bucket, the pace went back to a tenth of the quota (the share of the halved pace's probes
/// served) and climbed for seconds, or to the pace cut and over the quota again, refused at the
/// next window's end: over these runs, 171 served a simulated second of 200 and 1.9% of the
/// requests refused, the quota learned in 9 runs of 20 (tester round 23, F2: 0.68 of the
/// ideal, 2.6% refused). Now it is a window renewing, its quota learned (196 served a second,
/// 0.5% refused, the quota learned in every run): at least 93% of the
/// quota served, at most 1% refused.
#[test]
fn a_window_spent_late_in_its_second_is_learned_as_one() {
    let (run_for, from) = (Duration::from_secs(16), Duration::from_secs(1));
    let each = runs(run_for, from);
    let (sent, refused) = each.iter().fold((0, 0), |(n, no), r| (n + r.0, no + r.1));
    let learned = each.iter().filter(|r| r.2.is_some()).count();
    let served = f64::from(sent - refused) / each.len() as f64 / (run_for - from).as_secs_f64();
    let share = f64::from(refused) / f64::from(sent);
    assert!(
        served >= f64::from(QUOTA) * 0.93 && share <= 0.01,
        "{served:.1} served a second of {QUOTA}, {refused} of {sent} refused ({:.2}%), the \
         quota learned in {learned} runs",
        share * 100.0
    );
}

/// Answers `n` requests from `at` on, `every` apart, each sent at the pace's generation then:
/// served or refused. Returns the instant after the last.
fn answers(s: &mut State, at: Instant, every: Duration, n: u32, refused: bool) -> Instant {
    let mut now = at;
    for _ in 0..n {
        aimd::learn(s, refused, now, s.generation);
        now += every;
    }
    now
}

/// The tester's window of 200 a clock second spent late in it: a cut to 150 a second, eight
/// probes refused over 0.19 s (the pace halved at each), then served again. A bucket at the pace
/// the one answer in nine served restores (17 a second) serves within 0.06 s: this was a
/// window, and its quota is learned. Four of that pace's intervals (0.24 s) let it pass for a
/// bucket: the pace went back to 17 a second and climbed for four seconds.
#[test]
fn a_window_renewed_a_fifth_of_a_second_after_a_cut_is_learned() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    (s.learned, s.ceiling) = (Some(190.0), Some(800.0));
    let t0 = Instant::now();
    let at = answers(s, t0, Duration::from_millis(5), 200, false);
    let at = answers(s, at, Duration::from_micros(21_250), 9, true);
    assert!(s.cut.rate < 160.0, "the cut: {:.0}/s", s.cut.rate);
    answers(s, at, Duration::ZERO, 1, false);
    assert!(s.windowed, "taken for a bucket: {:?}/s", s.learned);
    // What the second before the last refusal served (its start before the window's).
    assert!(s.learned.is_some_and(|r| r >= 150.0), "{:?}", s.learned);
}

/// A window's quota learned (200) a quarter second after a second served at 400 a second: the
/// second counted 0.75 s after the cut holds that quarter second and serves 239 at the pace of
/// 198 since, over 1.1 times the quota. It is not taken for a limit that rose: the quota stays
/// (it was forgotten, the pace grew past it and was refused at each window's end).
#[test]
fn the_second_before_a_window_s_quota_was_learned_does_not_lift_it() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    (s.learned, s.ceiling) = (Some(400.0), Some(800.0));
    let t0 = Instant::now();
    let at = answers(s, t0, Duration::from_micros(2_500), 400, false);
    (s.windowed, s.ceiling, s.learned) = (true, Some(200.0), Some(198.0));
    (s.cut.at, s.cut.generation, s.resolved) = (at, s.generation, true);
    answers(s, at, Duration::from_micros(5_050), 190, false);
    assert!(s.windowed, "the window's quota forgotten");
    assert_eq!(s.ceiling, Some(200.0));
}
