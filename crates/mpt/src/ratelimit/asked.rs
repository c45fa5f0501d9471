//! A wait the platform asked for, as it stated it: what messages show. Every computation uses
//! the clamped [`Duration`] read beside it (`ratelimit`: at most a year); a message about a wait
//! beyond that clamp says what the server asked instead ("until 2100-01-01T00:00:00Z (about 73
//! years)"), not the clamp ("8760h").

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{EPOCH_FROM, EPOCH_MS_FROM, MAX_SECS, Signal, human, number};

/// A wait the platform asked for, as it stated it (a `Retry-After`, or the reset of an
/// exhausted limit). Kept for messages: a wait longer than a year is computed with as a year.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum AskedWait {
    /// A number of seconds (`Retry-After: 120`, a `RateLimit-Reset` or a delta
    /// `X-RateLimit-Reset`), as stated (finite, not negative).
    Seconds(f64),
    /// A time (`Retry-After` as an HTTP date, an epoch `X-RateLimit-Reset`).
    Until(DateTime<Utc>),
    /// An epoch `*-Reset` in milliseconds past the last date shown (the year 262143), as
    /// stated: `X-RateLimit-Reset: 9999999999999999999` is "until 1e19 ms after
    /// 1970-01-01T00:00:00Z", not a date it does not mean.
    EpochMillis(f64),
}

/// What a wait that was not waited stands for: what a not-attempted message says it is.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum WaitCause {
    /// The platform asked for it: a `Retry-After`, or the reset of a throttled answer with
    /// nothing remaining.
    #[default]
    Asked,
    /// The client's own pace, computed from the limits the platform states (the platform asked
    /// for no wait): its interval between two sends is this long (over the cap: a request
    /// queued behind others at a pace within the cap is never refused for its place).
    Pace,
    /// The fixed pace this client was given ([`Pacing::Fixed`](crate::Pacing::Fixed), `mpt
    /// --max-rate`): its interval between two sends is this long, over the cap.
    FixedPace,
    /// The pace this client learned from the platform's refusals (it states no limit; AIMD):
    /// its interval between two sends is this long, over the cap.
    LearnedPace,
    /// The pace this client learned from the platform's answers (AIMD) where the limit it
    /// states did not hold: it refused under it, or served more than it allows (each replica of
    /// a load balancer stating its own share); its interval between two sends is this long,
    /// over the cap.
    RevisedPace,
    /// The platform says nothing remains of a quota until it renews (an answer with a remainder
    /// of 0 and a reset, not a refusal): `limit` requests, per `window` when stated.
    Spent {
        /// The quota's requests, when known (0: not known).
        limit: u64,
        /// The quota's window, when stated.
        window: Option<Duration>,
    },
    /// The platform refused every request of a bulk job for this long, none served since,
    /// asking for no wait or none left (a bare `429`, `Retry-After: 0`): the job's wait
    /// budget is spent on the refusals themselves.
    Refusing,
    /// Not a wait: the platform answered none of a bulk job's last `requests` requests, each
    /// timing out (a gateway that accepts connections and never answers): nothing more is sent
    /// for the job. The bound named is the per-attempt timeout.
    Unanswered {
        /// How many requests in a row timed out, none answered between them.
        requests: u32,
    },
}

impl WaitCause {
    /// Where a pace the client computes or learns comes from, in words ("this client computes
    /// from the platform's stated limits"): the not-attempted messages and `CurrentPace` say it
    /// alike. `None` for a fixed pace (each words it its own way) and for what is not a pace.
    pub(crate) fn pace_source(&self) -> Option<&'static str> {
        match self {
            WaitCause::Pace => Some("this client computes from the platform's stated limits"),
            WaitCause::LearnedPace => {
                Some("this client learned from the platform's refusals (it states no limit)")
            }
            WaitCause::RevisedPace => Some(
                "this client learned from the platform's answers (its stated limit did not hold)",
            ),
            _ => None,
        }
    }

    /// What a wait not asked by the platform is, in words (`None` when it asked for it); `wait`:
    /// the wait as the message shows it.
    pub(crate) fn not_asked(&self, wait: &str) -> Option<String> {
        let pace = |source: &str| {
            format!("one send every {wait} at the pace {source} (the platform asked for no wait)")
        };
        match self {
            WaitCause::Asked => None,
            WaitCause::Pace | WaitCause::LearnedPace | WaitCause::RevisedPace => {
                self.pace_source().map(pace)
            }
            WaitCause::FixedPace => Some(pace(
                "this client was set to (Pacing::Fixed, mpt --max-rate)",
            )),
            WaitCause::Unanswered { requests } => Some(format!(
                "the platform answered none of the last {requests} requests of this job"
            )),
            WaitCause::Refusing => Some(format!(
                "the platform has refused every request of this job for {wait} (none served since; no wait asked)"
            )),
            WaitCause::Spent { limit, window } => {
                let quota = match (limit, window) {
                    (0, _) => "a quota".to_string(),
                    (l, Some(w)) => format!("its quota of {l} requests per {}", human(*w)),
                    (l, None) => format!("its quota of {l} requests"),
                };
                // A wait named as a time (beyond the clamp, as stated) is when, not how long.
                let when = wait
                    .strip_prefix("until ")
                    .map_or_else(|| format!("in {wait}"), |at| format!("at {at}"));
                Some(format!(
                    "the platform says nothing remains of {quota}; it renews {when}"
                ))
            }
        }
    }
}

/// Seconds in an average year, for "about N years".
const YEAR_SECS: f64 = 365.25 * 86_400.0;

impl AskedWait {
    /// How long it asks to wait from `now`, in seconds (not clamped; 0 for a time past).
    fn secs_from(&self, now: DateTime<Utc>) -> f64 {
        match self {
            AskedWait::Seconds(s) => *s,
            AskedWait::Until(at) => ((*at - now).num_milliseconds() as f64 / 1000.0).max(0.0),
            AskedWait::EpochMillis(ms) => ((ms - now.timestamp_millis() as f64) / 1000.0).max(0.0),
        }
    }

    /// A throttled answer's wait as the server stated it (what [`Signal::asked_wait`] computes
    /// with, before any clamp): its `Retry-After` as read (`retry_after`: the longest item, as
    /// stated), else, with nothing remaining, its `*-Reset` value (an epoch time, above
    /// [`EPOCH_FROM`], as a time: past the last date shown, its milliseconds) or the reset
    /// read. An answer that is not a refusal, saying nothing remains, gets its `*-Reset` so
    /// too (a spent quota's renewal, named as stated).
    pub(crate) fn stated(
        signal: &Signal,
        retry_after: Option<AskedWait>,
        reset: Option<&str>,
    ) -> Option<AskedWait> {
        if signal.throttled && signal.retry_after.is_some() {
            return retry_after;
        }
        if signal.remaining != Some(0) {
            return None;
        }
        // chrono's dates end in the year 262143 (8.2e12 s): later is named as its number.
        match reset.and_then(|r| number(r.split([',', ';']).next()?, f64::MAX)) {
            Some(n) if n >= EPOCH_MS_FROM => Some(
                DateTime::from_timestamp_millis(n as i64)
                    .map_or(AskedWait::EpochMillis(n), AskedWait::Until),
            ),
            Some(n) if n > EPOCH_FROM => {
                DateTime::from_timestamp(n as i64, 0).map(AskedWait::Until)
            }
            Some(n) => Some(AskedWait::Seconds(n)),
            None => signal.reset.map(|r| AskedWait::Seconds(r.as_secs_f64())),
        }
    }

    /// Whether it asks for longer than the clamp every computation uses.
    pub(crate) fn beyond_clamp(&self) -> bool {
        self.secs_from(Utc::now()) > MAX_SECS
    }

    /// A throttled answer's message: its status and the platform's words (its problem
    /// details), else `429 Too Many Requests`, and the wait it named: ` (retry after 3 s)`, or,
    /// beyond the clamp, what the server asked (` (the platform asks to wait until
    /// 2100-01-01T00:00:00Z (about 73 years))`), or, with nothing remaining and no
    /// `Retry-After`, when it renews (` (nothing remains of the rate limit; it renews in 1h)`,
    /// or `; its stated reset has passed`).
    pub(crate) fn refusal(
        problem: Option<&crate::Problem>,
        retry_after: Option<Duration>,
        asked: Option<&AskedWait>,
    ) -> String {
        let head = problem.map_or_else(|| "429 Too Many Requests".to_string(), |p| p.to_string());
        let tail = match (retry_after, asked) {
            (_, Some(asked)) if asked.beyond_clamp() => {
                format!(" (the platform asks to wait {asked})")
            }
            (Some(d), _) => format!(" (retry after {} s)", d.as_secs_f32()),
            (None, Some(asked)) => match asked.secs_from(Utc::now()) {
                s if s > 0.0 => format!(
                    " (nothing remains of the rate limit; it renews in {})",
                    human(Duration::from_secs_f64(s.min(MAX_SECS)))
                ),
                _ => " (nothing remains of the rate limit; its stated reset has passed)".into(),
            },
            (None, None) => String::new(),
        };
        head + &tail
    }

    /// The wait as a message shows it: `in_words` (the clamped value computed with, in words),
    /// or, when the platform asked for longer than the clamp, what it asked.
    pub(crate) fn shown(in_words: String, asked: Option<&AskedWait>) -> String {
        match asked {
            Some(asked) if asked.beyond_clamp() => asked.to_string(),
            _ => in_words,
        }
    }
}

/// "about 73 years", "about 3168808 years", "about 3.2e292 years".
fn about_years(secs: f64) -> String {
    let years = secs / YEAR_SECS;
    if years < 1e15 {
        format!("about {years:.0} years")
    } else {
        format!("about {years:.1e} years")
    }
}

impl fmt::Display for AskedWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.secs_from(Utc::now());
        match self {
            AskedWait::Seconds(s) if *s < 1e15 => write!(f, "{s:.0} s"),
            AskedWait::Seconds(s) => write!(f, "{s:e} s"),
            AskedWait::Until(at) => write!(
                f,
                "until {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
            AskedWait::EpochMillis(ms) => write!(f, "until {ms:e} ms after 1970-01-01T00:00:00Z"),
        }?;
        if secs > MAX_SECS {
            write!(f, " ({})", about_years(secs))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_far_wait_is_shown_as_asked() {
        let date = DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let until = AskedWait::Until(date);
        assert!(until.beyond_clamp());
        let shown = AskedWait::shown(human(Duration::from_secs(MAX_SECS as u64)), Some(&until));
        assert!(
            shown.starts_with("until 2100-01-01T00:00:00Z (about "),
            "{shown}"
        );
        assert!(shown.ends_with(" years)"), "{shown}");
        let huge = AskedWait::Seconds(99_999_999_999_999.0);
        assert_eq!(huge.to_string(), "99999999999999 s (about 3168809 years)");
        assert_eq!(
            AskedWait::Seconds(1e300).to_string(),
            "1e300 s (about 3.2e292 years)"
        );
    }

    #[test]
    fn a_wait_within_the_clamp_is_shown_in_words() {
        let hour = AskedWait::Seconds(3600.0);
        assert!(!hour.beyond_clamp());
        assert_eq!(
            AskedWait::shown(human(Duration::from_secs(3600)), Some(&hour)),
            "1h"
        );
        assert_eq!(
            AskedWait::shown(human(Duration::from_secs(90)), None),
            "1m 30s"
        );
    }
}
