//! What a client's sends go at now, for a caller that reports on a long job (`mpt`'s progress
//! lines): a pace of one request a second over 1,500 ids is 25 minutes, and should not be
//! silent.

use std::fmt;
use std::time::{Duration, Instant};

use super::slot::pace_cause;
use super::{Pacer, Pacing};
use crate::ratelimit::WaitCause;

/// The pace a client sends at now ([`Client::pace`](crate::Client::pace)): the slowest of the
/// paces of the operations it has sent, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct CurrentPace {
    /// Requests a second (`None`: no pace, only a hold).
    pub per_second: Option<f64>,
    /// Where the pace comes from: [`WaitCause::Pace`] (computed from the limits the platform
    /// states), [`WaitCause::FixedPace`] (`Pacing::Fixed`, `mpt --max-rate`) or
    /// [`WaitCause::LearnedPace`] (learned from the platform's refusals; it states no limit),
    /// [`WaitCause::RevisedPace`] (learned from its answers; the limit it states did not hold);
    /// [`WaitCause::Asked`] with no pace.
    pub cause: WaitCause,
    /// Every send held this much longer for the platform's limit (a `Retry-After`, a spent
    /// window's reset, or the pacer's own hold of a lockout, which may outlast the wait a
    /// refusal asked: it grows while the refusals go on), when they are.
    pub held: Option<Duration>,
}

impl fmt::Display for CurrentPace {
    /// `1.96 requests a second, the pace this client computes from the platform's stated
    /// limits; every send held 12 s more for the platform's limit`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(per_second) = self.per_second {
            let rate = if per_second >= 10.0 {
                format!("{per_second:.0}")
            } else {
                format!("{per_second:.2}")
            };
            let source = match self.cause {
                WaitCause::FixedPace => "this client was set to (--max-rate)",
                cause => cause
                    .pace_source()
                    .or(WaitCause::Pace.pace_source())
                    .unwrap_or_default(),
            };
            let unit = if rate == "1.00" {
                "request"
            } else {
                "requests"
            };
            write!(f, "{rate} {unit} a second, the pace {source}")?;
        }
        if let Some(held) = self.held {
            let held = held.as_secs_f64().ceil();
            let sep = if self.per_second.is_some() { "; " } else { "" };
            write!(
                f,
                "{sep}every send held {held:.0} s more for the platform's limit"
            )?;
        }
        Ok(())
    }
}

impl Pacer {
    /// How it paces.
    pub(crate) fn mode(&self) -> Pacing {
        self.mode
    }

    /// The slowest pace of the operations this client has sent (`None`: unpaced, or none
    /// paced yet).
    pub(crate) fn current(&self) -> Option<CurrentPace> {
        if self.mode == Pacing::Off {
            return None;
        }
        let now = Instant::now();
        let paces = self.lock();
        let held = paces
            .entries
            .iter()
            .filter_map(|e| e.state.held_until)
            .max()
            .map(|until| until.saturating_duration_since(now))
            .filter(|left| !left.is_zero());
        let slowest = paces
            .entries
            .iter()
            .filter_map(|e| Some((self.pace(&e.state)?, &e.state)))
            .filter(|(rate, _)| rate.is_finite() && *rate > 0.0)
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if slowest.is_none() && held.is_none() {
            return None;
        }
        Some(CurrentPace {
            per_second: slowest.map(|(rate, _)| rate),
            cause: slowest.map_or(WaitCause::Asked, |(_, s)| pace_cause(self.mode, s)),
            held,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{CurrentPace, WaitCause};

    /// Each source in its words, the same the not-attempted messages use for a computed or
    /// learned pace.
    #[test]
    fn a_pace_names_its_source() {
        let line = |cause| {
            CurrentPace {
                per_second: Some(2.0),
                cause,
                held: None,
            }
            .to_string()
        };
        for (cause, words) in [
            (
                WaitCause::Pace,
                "computes from the platform's stated limits",
            ),
            (WaitCause::FixedPace, "was set to (--max-rate)"),
            (
                WaitCause::LearnedPace,
                "learned from the platform's refusals (it states no limit)",
            ),
            (
                WaitCause::RevisedPace,
                "learned from the platform's answers (its stated limit did not hold)",
            ),
        ] {
            assert_eq!(
                line(cause),
                format!("2.00 requests a second, the pace this client {words}")
            );
        }
        let refused = WaitCause::RevisedPace.not_asked("37 s").unwrap_or_default();
        assert!(refused.contains("at the pace this client learned from the platform's answers"));
    }

    /// A hold is named as the limit's, not as a wait the platform asked for: it may be the
    /// pacer's own hold of a lockout, grown past the wait asked (tester round 29: "held 3 s
    /// more, as the platform asked" where it asked for 1 s).
    #[test]
    fn a_hold_is_named_as_the_limits() {
        let held = CurrentPace {
            per_second: Some(2.0),
            cause: WaitCause::LearnedPace,
            held: Some(std::time::Duration::from_millis(2_400)),
        }
        .to_string();
        assert!(
            held.ends_with("; every send held 3 s more for the platform's limit"),
            "{held}"
        );
    }
}
