//! A concurrency limiter's ceiling, when the platform states no rate: at most so many requests
//! in flight, learned from the refusals that come only while that many or more are.
//!
//! A limiter that counts the requests in flight (not a rate) refuses a request sent while `n`
//! or more are already in flight, and none sent while fewer are, whatever the pace: AIMD cuts
//! the rate to no end (the refusals follow the job's concurrency, not its rate). Each answer
//! is counted at its request's level (the requests in flight once it was sent, itself
//! included: this client's count is never below the limiter's, since an answer leaves the
//! limiter before it arrives). The refusals say the ceiling is below level `k` when most
//! answers at `k` are refusals (at least [`CROWDED`] of them, and of those at `k` and above
//! together: a level above served often was allowed), and few below it are (at most
//! [`RARE`], over the last few hundred answers), of which many ([`SERVED_BELOW`]) were served:
//! a rate limiter, which refuses a few at whatever level the pace leaves, or random loss, which
//! strikes every level alike, shows neither. Then at most `k - 1` go at once (the others wait
//! for an answer), and a refusal sent over it does not cut the rate; one at or under it is a
//! rate's (or random loss): the pace learns from it as before, and once the counts show no
//! ceiling (refusals under it are no longer rare) it is forgotten. Raised by one after
//! [`PROBE_PER_LEVEL`] successes at it per level it allows, [`PROBE_AFTER`] at most (the limit
//! may rise, or have been learned a step low): one probe refused in 50 at a ceiling of 1, in 200
//! from 4 on. A raise whose level was served, no refusal since, is followed by another as soon
//! as [`CONFIRMED`] successes came at it, each twice the one before (1, 2, 4, …): slow start, as
//! TCP's after a loss. A rate limiter paced at its limit refuses the send that goes while the one
//! before it is still on the way (a bucket of 50 a second and 20 ms round trips: level 2
//! refused, level 1 served), which reads as a ceiling of one; when that limit then rose to 400
//! a second, raised by one per 200 successes the ceiling let the pace regain about 25 requests
//! a second per second (tester round 17, F1: 12.4 s where a naive loop took 9.5 s).

use std::time::Duration;

/// Levels counted apart; a level above is counted at the top one (the job's concurrency is
/// 16 by default).
const LEVELS: usize = 64;

/// Answers counted before every count is halved: the recent ones weigh most.
const FORGET: u32 = 256;

/// The least share of refusals among the answers at a level for the refusals to be its
/// (a rate limiter paced near its limit refuses a few of each level's answers).
const CROWDED: f64 = 1.0 / 3.0;

/// The most share of refusals among the answers below the ceiling (another caller's, or
/// random loss).
const RARE: f64 = 0.05;

/// The least successes below a level for refusals at it to tell a ceiling.
const SERVED_BELOW: u32 = 16;

/// Successes at the ceiling before it is raised by one, at most.
const PROBE_AFTER: u32 = 200;

/// Successes at the ceiling per level it allows before it is raised by one ([`PROBE_AFTER`] at
/// most): a low ceiling, which holds the job to a slow pace, is probed sooner.
const PROBE_PER_LEVEL: u32 = 50;

/// Successes at a ceiling just raised, none refused since, that confirm the raise: the next one
/// follows at once, twice as large.
const CONFIRMED: u32 = 8;

/// How long a send waits for an answer under the ceiling before it looks again (an answer wakes
/// it sooner).
pub(super) const LOOK_AGAIN: Duration = Duration::from_millis(50);

/// What a client learned of the requests in flight a limiter allows.
#[derive(Debug, Clone)]
pub(super) struct Flight {
    /// Answers served and refused per level (index: level less one).
    served: [u32; LEVELS],
    refused: [u32; LEVELS],
    /// Answers counted since the counts were last halved.
    counted: u32,
    /// The most requests sent at once, when learned.
    ceiling: Option<u32>,
    /// Successes at the ceiling since it was set or raised.
    at_ceiling: u32,
    /// Raises in a row, none refused since the first (the next one is `2^streak` levels).
    streak: u32,
}

impl Flight {
    /// Nothing learned.
    pub(super) fn new() -> Flight {
        Flight {
            served: [0; LEVELS],
            refused: [0; LEVELS],
            counted: 0,
            ceiling: None,
            at_ceiling: 0,
            streak: 0,
        }
    }

    /// The most requests in flight at once, when learned.
    pub(super) fn ceiling(&self) -> Option<u32> {
        self.ceiling
    }

    /// Whether a send must wait for an answer, `in_flight` being in flight.
    pub(super) fn full(&self, in_flight: u32) -> bool {
        self.ceiling.is_some_and(|c| in_flight >= c)
    }

    /// Learns from an answer to a request sent at `level` (0: not counted); whether a refusal
    /// is the ceiling's (sent over it, or showing it): the rate is not cut for it.
    pub(super) fn learn(&mut self, throttled: bool, level: u32) -> bool {
        let Some(i) = (level as usize).checked_sub(1).map(|i| i.min(LEVELS - 1)) else {
            return false;
        };
        self.counted += 1;
        if self.counted >= FORGET {
            self.served.iter_mut().for_each(|n| *n /= 2);
            self.refused.iter_mut().for_each(|n| *n /= 2);
            self.counted /= 2;
        }
        if !throttled {
            self.served[i] = self.served[i].saturating_add(1);
            if let Some(c) = self.ceiling.filter(|c| level >= *c) {
                self.at_ceiling += 1;
                let due = if self.streak > 0 {
                    CONFIRMED
                } else {
                    (PROBE_PER_LEVEL * c).min(PROBE_AFTER)
                };
                if self.at_ceiling >= due {
                    let step = 1u32 << self.streak.min(5);
                    self.ceiling = Some(c.saturating_add(step).min(LEVELS as u32));
                    self.at_ceiling = 0;
                    self.streak += 1;
                }
            }
            return false;
        }
        // A raise refused: probed from the ceiling again, one level at a time.
        self.streak = 0;
        self.refused[i] = self.refused[i].saturating_add(1);
        let shown = self.shown();
        if shown != self.ceiling {
            self.at_ceiling = 0;
        }
        self.ceiling = shown;
        // Sent over the ceiling (before it was learned or lowered): it answers that. One
        // under it is a rate's, or random loss: the pace learns from it as before.
        shown.is_some_and(|c| level > c)
    }

    /// The ceiling the counts show: the level under the lowest one whose answers are mostly
    /// refusals, when the levels below it were served often and refused rarely.
    fn shown(&self) -> Option<u32> {
        let (mut served, mut refused) = (0u32, 0u32);
        for (i, (r, s)) in self.refused.iter().zip(&self.served).enumerate() {
            let (r, s) = (*r, *s);
            if r > 0 && f64::from(r) >= CROWDED * f64::from(r + s) {
                let rare = f64::from(refused) <= RARE * f64::from(served + refused);
                // The levels at it and above, together, mostly refused too: one served often
                // above it was allowed (a rate limiter refuses at the level its pace leaves, and
                // serves higher ones at a faster pace it allows).
                let above = |n: &[u32]| n[i..].iter().fold(0u32, |a, n| a.saturating_add(*n));
                let (ra, sa) = (above(&self.refused), above(&self.served));
                let crowded = f64::from(ra) >= CROWDED * f64::from(ra.saturating_add(sa));
                return (i > 0 && served >= SERVED_BELOW && rare && crowded).then_some(i as u32);
            }
            (served, refused) = (served + s, refused + r);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limiter of 8 in flight, 16 sent at once: those sent at 9 to 16 refused, then 8 at a
    /// time served; the ceiling is 8, and the refusals over it do not cut the rate.
    #[test]
    fn refusals_only_over_a_level_set_the_ceiling_below_it() {
        let mut f = Flight::new();
        for level in 9..=16 {
            assert!(!f.learn(true, level), "nothing served below yet");
        }
        assert_eq!(f.ceiling(), None);
        for _ in 0..4 {
            for level in 1..=8 {
                f.learn(false, level);
            }
        }
        assert!(f.learn(true, 9));
        assert_eq!(f.ceiling(), Some(8));
        assert!(f.full(8) && !f.full(7));
        assert!(f.learn(true, 12), "sent over the ceiling: its answer");
        // Raised by one after PROBE_AFTER served at it, and back at the next refusal over 8.
        for _ in 0..PROBE_AFTER {
            f.learn(false, 8);
        }
        assert_eq!(f.ceiling(), Some(9));
        assert!(f.learn(true, 9));
        assert_eq!(f.ceiling(), Some(8));
    }

    /// A rate limiter refuses a few answers at whatever level the pace leaves: no ceiling, and
    /// one learned is forgotten once the refusals under it are no longer rare.
    #[test]
    fn refusals_at_every_level_set_no_ceiling() {
        let mut f = Flight::new();
        for round in 0..200u32 {
            let level = 1 + round % 6;
            f.learn(round % 50 == 7, level);
        }
        assert_eq!(f.ceiling(), None);
        let mut f = Flight::new();
        for _ in 0..4 {
            for level in 1..=8 {
                f.learn(false, level);
            }
        }
        assert!(f.learn(true, 9));
        assert_eq!(f.ceiling(), Some(8));
        for _ in 0..10 {
            f.learn(false, 4);
        }
        assert!(!f.learn(true, 4), "a refusal under it: the rate's");
        assert_eq!(
            f.ceiling(),
            Some(8),
            "kept while refusals under it are rare"
        );
        assert!(!f.learn(true, 4));
        assert_eq!(f.ceiling(), Some(8), "2 in 44");
        assert!(!f.learn(true, 4));
        assert_eq!(f.ceiling(), None, "3 in 45: refusals at every level");
    }

    /// A bucket of 50 a second paced at its limit with 20 ms round trips: the send that goes
    /// while the one before is on the way (level 2) refused, level 1 served; a ceiling of one.
    /// Then the limit rises (400 a second): every level served. The ceiling is raised to the
    /// job's concurrency within a few dozen successes past the first probe, not 200 a level
    /// (tester round 17, F1: the pace regained 25 requests a second per second). Under a
    /// limiter of one in flight, the probe is refused and the ceiling stays one, probed
    /// again after as many successes.
    #[test]
    fn a_ceiling_whose_raises_are_served_is_raised_twice_as_far_each_time() {
        let mut f = Flight::new();
        for _ in 0..20 {
            f.learn(false, 1);
        }
        for _ in 0..30 {
            f.learn(false, 1);
            f.learn(true, 2);
        }
        assert_eq!(f.ceiling(), Some(1));
        let mut served = 0;
        while f.ceiling().is_some_and(|c| c < 16) && served < 2000 {
            let level = f.ceiling().unwrap_or(16);
            f.learn(false, level);
            served += 1;
        }
        assert!(served <= 100, "{served} successes to a ceiling of 16");
        let mut one = Flight::new();
        for _ in 0..20 {
            one.learn(false, 1);
        }
        for _ in 0..30 {
            one.learn(false, 1);
            one.learn(true, 2);
        }
        for round in 0..3 {
            let mut probed = 0;
            while one.ceiling() == Some(1) && probed < 1000 {
                one.learn(false, 1);
                probed += 1;
            }
            // The first round counts the successes at the ceiling since it was learned.
            assert!(
                probed == PROBE_PER_LEVEL || round == 0,
                "round {round}: {probed}"
            );
            assert!(one.learn(true, 2), "the probe refused");
            assert_eq!(one.ceiling(), Some(1), "round {round}");
        }
    }

    /// A rate limiter whose limit drops to about one request in flight at the pace (50 a
    /// second, answers in 20 ms): levels up to 5 served at the faster limit, then level 1
    /// served and level 2 mostly refused. Not a ceiling of 1 (levels above it were served):
    /// taken for one, it held the job to one request at a time for 5 s after the limit rose
    /// again (`retry-after+alternating-50`).
    #[test]
    fn refusals_at_a_level_with_higher_ones_served_set_no_ceiling() {
        let mut f = Flight::new();
        for _ in 0..30 {
            for level in 1..=5 {
                f.learn(false, level);
            }
        }
        for _ in 0..20 {
            f.learn(false, 1);
            assert!(!f.learn(true, 2));
            f.learn(true, 2);
        }
        assert_eq!(f.ceiling(), None);
    }
}
