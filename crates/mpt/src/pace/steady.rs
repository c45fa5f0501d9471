//! How often the stated rate changed lately (`kinds::State::steady`).

use std::time::Instant;

use super::ROUNDING;

/// How often the stated rate changed lately: a limit that changes on every answer (a gateway
/// stating a random or per-node limit) is not followed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Steady {
    /// The rate stated last (0: none yet).
    last: f64,
    /// The changes counted since `since` (counted afresh every [`ROUNDING`]).
    since: Instant,
    changes: u32,
    /// The stated rate is unsteady until then.
    until: Option<Instant>,
}

/// The changes of the stated rate within [`ROUNDING`] that make it unsteady (a drop or a rise
/// is one; a window inferred from resets changes a few times a window).
const UNSTEADY: u32 = 8;

impl Steady {
    pub(super) fn new(now: Instant) -> Steady {
        Steady {
            last: 0.0,
            since: now,
            changes: 0,
            until: None,
        }
    }

    /// Whether the stated rate is unsteady at `now`.
    pub(super) fn unsteady(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| now < until)
    }

    /// Notes the rate an answer states; whether the stated rate is unsteady: it changed (by
    /// more than 1%) [`UNSTEADY`] times within [`ROUNDING`], and it stays so until [`ROUNDING`]
    /// after the last such change.
    pub(super) fn note(&mut self, rate: f64, now: Instant) -> bool {
        if now.saturating_duration_since(self.since) >= ROUNDING {
            (self.since, self.changes) = (now, 0);
        }
        if self.last > 0.0 && (rate - self.last).abs() > self.last * 0.01 {
            self.changes = self.changes.saturating_add(1);
            if self.changes >= UNSTEADY {
                self.until = Some(now + ROUNDING);
            }
        }
        self.last = rate;
        self.unsteady(now)
    }
}
