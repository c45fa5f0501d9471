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

/// Sends at the pace for `run`, starting at `start` a second, the window renewing `phase` s
/// into each of the client's seconds: the sends and refusals from `from` on, and the quota AIMD
/// learned (its ceiling, once it took the limit for a window).
fn run(run: Duration, from: Duration, start: f64, phase: f64) -> (u32, u32, Option<f64>) {
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
            // The window's second this request reaches it in.
            let second = (elapsed.as_secs_f64() + 1.0 - phase).floor() as i64;
            if second != window {
                (window, used) = (second, 0);
            }
            let no = used >= QUOTA;
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
const PHASES: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

/// The quota learned when the window renewed is what it served since it renewed, not what the
/// second before the cut served: that second straddles the renewal before and counts the end
/// of the window before too (quotas of 204 to 254 learned, the pace settled at 99% of them, and
/// each second's last part refused; the tester's F8 `envoy`, 330 to 347 learned and 8% of the
/// requests refused).
#[test]
fn a_fixed_window_s_quota_is_not_counted_across_its_renewal() {
    let mut learned = Vec::new();
    for start in STARTS {
        for phase in PHASES {
            let (.., quota) = run(Duration::from_secs(8), Duration::ZERO, start, phase);
            learned.extend(quota);
        }
    }
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
    let (mut sent, mut refused) = (0, 0);
    for start in STARTS {
        for phase in PHASES {
            let (n, no, _) = run(Duration::from_secs(8), Duration::from_secs(2), start, phase);
            (sent, refused) = (sent + n, refused + no);
        }
    }
    let share = f64::from(refused) / f64::from(sent);
    assert!(
        share <= 0.03,
        "{refused} of {sent} refused ({:.1}%)",
        share * 100.0
    );
}
