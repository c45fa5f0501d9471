//! The dialects a rate limit speaks: the headers on every answer, and how a refusal looks.
//! Waits are whole seconds, rounded up (never earlier than a request would be allowed).

use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::Taken;
use crate::http::problem_response;
use crate::problem::Problem;

/// How a rate limit tells callers where they stand (`mpt-mock --rate-dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateDialect {
    /// `policy` (the default): the IETF draft's older fields `RateLimit-Limit`,
    /// `RateLimit-Remaining`, `RateLimit-Reset` (delta seconds) with
    /// `RateLimit-Policy: <limit>;w=1;burst=<burst>`; `429` with `Retry-After` when over.
    #[default]
    Policy,
    /// `ratelimit`: the same fields without `RateLimit-Policy` (no window stated).
    Legacy,
    /// `structured`: the draft's structured fields (draft 08 and later),
    /// `RateLimit-Policy: "default";q=<limit>;w=1` and `RateLimit: "default";r=<left>;t=<reset>`;
    /// `429` with `Retry-After` when over.
    Structured,
    /// `x-ratelimit`: GitHub's `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
    /// `X-RateLimit-Reset` (epoch seconds) and `Date`; `403` when over, no `Retry-After`.
    XRateLimit,
    /// `retry-after`: no field on success; `429` with `Retry-After` in seconds when over.
    RetryAfter,
    /// `retry-after-date`: no field on success; `429` with `Retry-After` as an HTTP date (and
    /// `Date`) when over.
    RetryAfterDate,
    /// `unavailable`: no field on success; `503` with `Retry-After` in seconds when over.
    Unavailable,
    /// `bare`: no field at all; a `429` with no header when over.
    Bare,
}

impl RateDialect {
    /// Every dialect, in the order the benchmark runs them.
    pub const ALL: [RateDialect; 8] = [
        RateDialect::Policy,
        RateDialect::Legacy,
        RateDialect::Structured,
        RateDialect::XRateLimit,
        RateDialect::RetryAfter,
        RateDialect::RetryAfterDate,
        RateDialect::Unavailable,
        RateDialect::Bare,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            RateDialect::Policy => "policy",
            RateDialect::Legacy => "ratelimit",
            RateDialect::Structured => "structured",
            RateDialect::XRateLimit => "x-ratelimit",
            RateDialect::RetryAfter => "retry-after",
            RateDialect::RetryAfterDate => "retry-after-date",
            RateDialect::Unavailable => "unavailable",
            RateDialect::Bare => "bare",
        }
    }

    /// The dialect named `name` ([`RateDialect::name`]).
    pub fn from_name(name: &str) -> Option<RateDialect> {
        RateDialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The headers of an answer served, for a caller that found `taken`.
    pub(crate) fn headers(self, response: &mut Response, taken: &Taken, now: DateTime<Utc>) {
        let limit = shown(taken.limit.per_second);
        let reset = whole_secs(taken.reset);
        let left = taken.remaining.to_string();
        match self {
            RateDialect::Policy | RateDialect::Legacy => {
                set(response, "ratelimit-limit", limit.clone());
                set(response, "ratelimit-remaining", left);
                set(response, "ratelimit-reset", reset.to_string());
                if self == RateDialect::Policy {
                    let policy = format!("{limit};w=1;burst={}", taken.limit.burst);
                    set(response, "ratelimit-policy", policy);
                }
            }
            RateDialect::Structured => {
                set(
                    response,
                    "ratelimit-policy",
                    format!("\"default\";q={limit};w=1"),
                );
                let state = format!("\"default\";r={left};t={reset}");
                set(response, "ratelimit", state);
            }
            RateDialect::XRateLimit => {
                set(response, "x-ratelimit-limit", limit);
                set(response, "x-ratelimit-remaining", left);
                let at = (now.timestamp() as u64).saturating_add(reset.max(1));
                set(response, "x-ratelimit-reset", at.to_string());
                set(response, "date", http_date(now));
            }
            RateDialect::RetryAfter
            | RateDialect::RetryAfterDate
            | RateDialect::Unavailable
            | RateDialect::Bare => {}
        }
    }

    /// The answer to a request refused.
    pub(crate) fn refusal(self, taken: &Taken, now: DateTime<Utc>) -> Response {
        let status = match self {
            RateDialect::XRateLimit => 403,
            RateDialect::Unavailable => 503,
            _ => 429,
        };
        let title = match status {
            403 => "API rate limit exceeded.",
            503 => "Service unavailable; retry later.",
            _ => "Rate limit exceeded; retry later.",
        };
        let mut response = problem_response(&Problem::new(status, title));
        let wait = whole_secs(taken.wait).max(1);
        match self {
            RateDialect::Bare => {}
            RateDialect::RetryAfterDate => {
                // Rounded up to a whole second: never earlier than allowed; a lockout's end
                // cut to the second, as a gateway formatting its end time states it.
                let second = if taken.locked {
                    let end = now
                        .timestamp_millis()
                        .saturating_add(taken.wait.as_millis() as i64);
                    end.div_euclid(1000)
                } else {
                    let ms = now.timestamp_millis().saturating_add(wait as i64 * 1000);
                    (ms + 999).div_euclid(1000)
                };
                let at = DateTime::from_timestamp(second, 0).unwrap_or(now);
                set(&mut response, "retry-after", http_date(at));
                set(&mut response, "date", http_date(now));
            }
            RateDialect::XRateLimit => self.headers(&mut response, taken, now),
            other => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(wait));
                other.headers(&mut response, taken, now);
            }
        }
        response
    }
}

impl std::str::FromStr for RateDialect {
    type Err = UnknownDialect;

    fn from_str(name: &str) -> Result<RateDialect, UnknownDialect> {
        RateDialect::from_name(name.trim()).ok_or_else(|| UnknownDialect(name.to_string()))
    }
}

/// A dialect name that is not one ([`RateDialect::name`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a rate dialect (policy, ratelimit, structured, x-ratelimit, retry-after, retry-after-date, unavailable or bare)"
)]
pub struct UnknownDialect(pub String);

/// Whole seconds, rounded up.
fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A rate as a header shows it (`200`, or `12.5`).
fn shown(rate: f64) -> String {
    if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate}")
    }
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RateLimit;

    #[test]
    fn each_dialect_answers_and_refuses_its_way() {
        let taken = Taken {
            allowed: false,
            limit: RateLimit {
                per_second: 200.0,
                burst: 20,
            },
            remaining: 0,
            reset: Duration::from_millis(100),
            wait: Duration::from_millis(5),
            locked: false,
        };
        let now = Utc::now();
        let expect: [(RateDialect, u16, &[&str], &[&str]); 8] = [
            (
                RateDialect::Policy,
                429,
                &["retry-after", "ratelimit-limit", "ratelimit-policy"],
                &[],
            ),
            (
                RateDialect::Legacy,
                429,
                &["retry-after", "ratelimit-remaining"],
                &["ratelimit-policy"],
            ),
            (
                RateDialect::Structured,
                429,
                &["retry-after", "ratelimit", "ratelimit-policy"],
                &["ratelimit-limit"],
            ),
            (
                RateDialect::XRateLimit,
                403,
                &["x-ratelimit-remaining", "x-ratelimit-reset", "date"],
                &["retry-after"],
            ),
            (
                RateDialect::RetryAfter,
                429,
                &["retry-after"],
                &["ratelimit-limit"],
            ),
            (
                RateDialect::RetryAfterDate,
                429,
                &["retry-after", "date"],
                &[],
            ),
            (RateDialect::Unavailable, 503, &["retry-after"], &[]),
            (
                RateDialect::Bare,
                429,
                &[],
                &["retry-after", "ratelimit-limit"],
            ),
        ];
        for (dialect, status, present, absent) in expect {
            let refused = dialect.refusal(&taken, now);
            assert_eq!(refused.status().as_u16(), status, "{dialect:?}");
            for name in present {
                assert!(refused.headers().contains_key(*name), "{dialect:?}: {name}");
            }
            for name in absent {
                assert!(
                    !refused.headers().contains_key(*name),
                    "{dialect:?}: {name}"
                );
            }
            assert_eq!(dialect.name().parse::<RateDialect>(), Ok(dialect));
        }
        let structured = RateDialect::Structured.refusal(&taken, now);
        assert_eq!(structured.headers()["ratelimit"], "\"default\";r=0;t=1");
        assert_eq!(structured.headers()["retry-after"], "1");
        assert!("nope".parse::<RateDialect>().is_err());
    }
}
