//! What an answer says about the rate limit, in any of the common dialects, every value
//! validated and clamped before anything computes with it.
//!
//! | dialect | fields read |
//! | --- | --- |
//! | IETF httpapi draft 08 and later | `RateLimit-Policy: "p";q=200;w=1, ...` and `RateLimit: "p";r=150;t=1, ...` (structured fields, RFC 8941; several policies: the slowest rate and the smallest remainder win) |
//! | the draft's older fields | `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (delta seconds), with or without `RateLimit-Policy: 200;w=1` |
//! | GitHub and many gateways | `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds when above 10⁹, relative to the answer's `Date`; else delta seconds) |
//! | HTTP | `Retry-After` (seconds or an HTTP date, relative to the answer's `Date`) on a `429` or `503` |
//!
//! Throttling is a `429`, a `503` with `Retry-After`, or a `403` whose remainder is 0 (GitHub
//! answers an exhausted limit so). A limit with no window stated is not assumed to be per second:
//! its window is unknown, and the pace comes from the remainder and the reset instead.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{DATE, HeaderMap, HeaderName, RETRY_AFTER};

mod asked;

pub use asked::AskedWait;

static POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
static X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The largest count believed (a limit or a remainder): more is clamped to it.
pub(crate) const MAX_COUNT: f64 = 1e9;
/// The longest window, reset or `Retry-After` believed (a year): more is clamped to it.
pub(crate) const MAX_SECS: f64 = 365.0 * 86_400.0;
/// The shortest window believed (a millisecond): less is not a window.
const MIN_WINDOW: f64 = 1e-3;
/// A `*-Reset` above this is epoch seconds (2001-09-09), below it delta seconds.
pub(crate) const EPOCH_FROM: f64 = 1e9;

/// A quota: `limit` requests per `window` seconds (unknown when no field states it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Quota {
    /// Requests per window: finite, more than 0, at most [`MAX_COUNT`].
    pub(crate) limit: f64,
    /// The window in seconds: finite, in `[MIN_WINDOW, MAX_SECS]`.
    pub(crate) window: Option<f64>,
}

impl Quota {
    /// Requests a second, when the window is known.
    pub(crate) fn rate(&self) -> Option<f64> {
        self.window.map(|w| self.limit / w)
    }
}

/// What one answer says about the rate limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Signal {
    /// The request was refused for the rate: 429, 503 with `Retry-After`, or 403 with nothing
    /// remaining.
    pub(crate) throttled: bool,
    /// `Retry-After`, clamped to [`MAX_SECS`].
    pub(crate) retry_after: Option<Duration>,
    /// The quota stated (the slowest of several).
    pub(crate) quota: Option<Quota>,
    /// Requests left now (the smallest of several), at most [`MAX_COUNT`].
    pub(crate) remaining: Option<u64>,
    /// Until the remainder is renewed, clamped to [`MAX_SECS`].
    pub(crate) reset: Option<Duration>,
    /// A throttled answer's wait as the server stated it, not clamped (for messages only).
    pub(crate) asked: Option<AskedWait>,
}

/// A duration of `secs` seconds, clamped to `[0, MAX_SECS]` (NaN: 0): never panics.
pub(crate) fn secs(secs: f64) -> Duration {
    let clamped = if secs.is_nan() {
        0.0
    } else {
        secs.clamp(0.0, MAX_SECS)
    };
    Duration::try_from_secs_f64(clamped).unwrap_or(Duration::ZERO)
}

/// A non-negative finite number, clamped to `max`; `None` for anything else.
pub(crate) fn number(text: &str, max: f64) -> Option<f64> {
    let n: f64 = text.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| n.min(max))
}

fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// An RFC 8941 list member: its bare item (unquoted) and its parameters.
#[derive(Debug, Default, PartialEq)]
struct Member<'a> {
    item: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

impl Member<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// A structured-field list (`a;k=1;j=2, "b";k=3`), leniently: members split at commas outside
/// quotes, parameters at semicolons, quotes taken off. Nothing here can fail or panic; an
/// unreadable value simply does not parse as a number later.
fn members(text: &str) -> Vec<Member<'_>> {
    split_outside_quotes(text, ',')
        .into_iter()
        .map(|member| {
            let mut parts = split_outside_quotes(member, ';').into_iter();
            let item = unquote(parts.next().unwrap_or(""));
            let params = parts
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.trim(), unquote(v)),
                    None => (p.trim(), "?1"),
                })
                .collect();
            Member { item, params }
        })
        .collect()
}

fn unquote(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t)
}

fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// Whether a member's item is a number (an older draft's `200;w=1`) rather than a name.
fn is_number(item: &str) -> bool {
    item.trim().parse::<f64>().is_ok()
}

/// The slowest of two quotas (a known rate beats an unknown one).
fn slowest(a: Option<Quota>, b: Quota) -> Quota {
    match a {
        None => b,
        Some(a) => match (a.rate(), b.rate()) {
            (Some(x), Some(y)) if y < x => b,
            (None, Some(_)) => b,
            _ => a,
        },
    }
}

fn quota(limit: Option<f64>, window: Option<f64>) -> Option<Quota> {
    let limit = limit.filter(|l| *l > 0.0)?;
    let window = window.filter(|w| *w >= MIN_WINDOW);
    Some(Quota { limit, window })
}

/// `RateLimit-Policy` of any draft: draft 08+ (`"name";q=200;w=1`) or older (`200;w=1`).
fn policies(text: &str) -> Option<Quota> {
    let mut out = None;
    for m in members(text) {
        let limit = if is_number(m.item) {
            number(m.item, MAX_COUNT)
        } else {
            m.param("q").and_then(|q| number(q, MAX_COUNT))
        };
        let window = m.param("w").and_then(|w| number(w, MAX_SECS));
        if let Some(q) = quota(limit, window) {
            out = Some(slowest(out, q));
        }
    }
    out
}

/// The first window a `RateLimit-Policy` states (`w`), whatever its limit says.
fn policy_window(text: &str) -> Option<f64> {
    members(text)
        .into_iter()
        .find_map(|m| m.param("w").and_then(|w| number(w, MAX_SECS)))
        .filter(|w| *w >= MIN_WINDOW)
}

/// The draft 08+ `RateLimit` field (`"name";r=150;t=1, ...`): the smallest remainder, with its
/// reset.
fn structured_state(text: &str) -> Option<(u64, Option<Duration>)> {
    members(text)
        .into_iter()
        .filter_map(|m| {
            let r = number(m.param("r")?, MAX_COUNT)? as u64;
            let t = m.param("t").and_then(|t| number(t, MAX_SECS)).map(secs);
            Some((r, t))
        })
        .min_by_key(|(r, _)| *r)
}

/// A `*-Reset` value: epoch seconds (relative to `now_epoch`, the server's clock when it sent
/// `Date`) when above [`EPOCH_FROM`], else delta seconds.
fn reset(text: &str, now_epoch: f64) -> Option<Duration> {
    let n = number(text.split([',', ';']).next()?, f64::MAX)?;
    Some(if n > EPOCH_FROM {
        secs(n - now_epoch)
    } else {
        secs(n)
    })
}

/// The first number of a field (`200`, or `200, 200;w=1` of an early draft) and its `w`.
fn first_with_window(text: &str) -> (Option<f64>, Option<f64>) {
    let first = members(text).into_iter().next().unwrap_or_default();
    let window = first.param("w").and_then(|w| number(w, MAX_SECS));
    (number(first.item, MAX_COUNT), window)
}

/// The server's clock (its `Date`), else this machine's, in epoch seconds.
fn server_now(headers: &HeaderMap) -> f64 {
    let date = text(headers, &DATE)
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d.trim()).ok())
        .map(|d| d.timestamp() as f64);
    date.unwrap_or_else(|| chrono::Utc::now().timestamp_millis() as f64 / 1000.0)
}

/// `Retry-After` as seconds or an HTTP date (relative to the answer's `Date` when it has one),
/// clamped to [`MAX_SECS`]; a date in the past is 0.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = text(headers, &RETRY_AFTER)?.trim();
    if let Some(n) = number(value, MAX_SECS) {
        return Some(secs(n));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(secs(at.timestamp() as f64 - date_base(headers)))
}

/// The time a `Retry-After` date is counted from, in epoch seconds: this machine's clock when
/// the answer's `Date` agrees with it to within the second `Date` states (the date is then met
/// to the millisecond, not a second late), else the `Date` itself (the server's clock, whole
/// seconds: the wait is never shorter than asked), else this machine's clock.
fn date_base(headers: &HeaderMap) -> f64 {
    let local = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let date = text(headers, &DATE)
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d.trim()).ok())
        .map(|d| d.timestamp() as f64);
    match date {
        Some(date) if !(date..date + 1.0).contains(&local) => date,
        _ => local,
    }
}

impl Signal {
    /// The wait the platform asks for before the next request: its `Retry-After`, else, when
    /// throttled with nothing remaining, the reset.
    pub(crate) fn asked_wait(&self) -> Option<Duration> {
        self.retry_after.or_else(|| {
            (self.throttled && self.remaining == Some(0))
                .then_some(self.reset)
                .flatten()
        })
    }

    /// What an answer with this status and these headers says.
    pub(crate) fn read(status: StatusCode, headers: &HeaderMap) -> Signal {
        // Most answers carry no rate-limit field: one pass over the names says so, cheaper than
        // a lookup of each field.
        let relevant = headers.keys().any(|name| {
            let name = name.as_str().as_bytes();
            name.starts_with(b"ratelimit")
                || name.starts_with(b"x-ratelimit")
                || name == b"retry-after"
        });
        if !relevant {
            return Signal {
                throttled: status == StatusCode::TOO_MANY_REQUESTS,
                ..Signal::default()
            };
        }
        let mut signal = Signal {
            retry_after: retry_after(headers),
            ..Signal::default()
        };
        let policy = text(headers, &POLICY).and_then(policies);
        if let Some(state) = text(headers, &RATELIMIT).and_then(structured_state) {
            // Draft 08 and later.
            (signal.remaining, signal.reset) = (Some(state.0), state.1);
            signal.quota = policy;
        } else if let Some(limit) = text(headers, &LIMIT) {
            let (limit, window) = first_with_window(limit);
            let window = window.or_else(|| text(headers, &POLICY).and_then(policy_window));
            signal.quota = quota(limit, window).or(policy);
            signal.remaining = text(headers, &REMAINING)
                .and_then(|r| number(r, MAX_COUNT))
                .map(|r| r as u64);
            signal.reset = text(headers, &RESET).and_then(|r| reset(r, server_now(headers)));
        } else if let Some(limit) = text(headers, &X_LIMIT) {
            signal.quota = quota(number(limit, MAX_COUNT), None);
            signal.remaining = text(headers, &X_REMAINING)
                .and_then(|r| number(r, MAX_COUNT))
                .map(|r| r as u64);
            signal.reset = text(headers, &X_RESET).and_then(|r| reset(r, server_now(headers)));
        } else {
            signal.quota = policy;
        }
        signal.throttled = match status.as_u16() {
            429 => true,
            503 => signal.retry_after.is_some(),
            403 => signal.remaining == Some(0),
            _ => false,
        };
        if signal.throttled {
            let reset = text(headers, &RESET).or_else(|| text(headers, &X_RESET));
            signal.asked = AskedWait::stated(&signal, text(headers, &RETRY_AFTER), reset);
        }
        signal
    }
}

/// A wait as people read it: `1h`, `2m 5s`, `30 s`, `250 ms`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        1..=59 => format!("{} s", s),
        60..=3599 if s.is_multiple_of(60) => format!("{}m", s / 60),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, headers: &[(&str, &str)]) -> Signal {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Signal::read(StatusCode::from_u16(status).unwrap(), &map)
    }

    #[test]
    fn the_structured_draft_fields_are_read_with_several_policies() {
        let s = read(
            200,
            &[
                (
                    "ratelimit-policy",
                    r#""burst";q=100;w=1, "daily";q=1000;w=86400"#,
                ),
                ("ratelimit", r#""burst";r=40;t=1, "daily";r=900;t=5000"#),
            ],
        );
        let quota = s.quota.unwrap();
        assert_eq!((quota.limit, quota.window), (1000.0, Some(86400.0)));
        assert_eq!(s.remaining, Some(40));
        assert_eq!(s.reset, Some(Duration::from_secs(1)));
        assert!(!s.throttled);
        let token = read(
            429,
            &[
                ("ratelimit-policy", "default;q=200;w=1"),
                ("ratelimit", "default;r=0;t=0.25"),
            ],
        );
        assert_eq!(token.quota.unwrap().rate(), Some(200.0));
        assert_eq!(token.reset, Some(Duration::from_millis(250)));
        assert!(token.throttled);
    }

    #[test]
    fn the_older_fields_with_or_without_a_policy() {
        let s = read(
            200,
            &[
                ("ratelimit-limit", "200"),
                ("ratelimit-policy", "200;w=2;burst=20"),
                ("ratelimit-remaining", "7"),
                ("ratelimit-reset", "3"),
            ],
        );
        assert_eq!(s.quota.unwrap().rate(), Some(100.0));
        assert_eq!(
            (s.remaining, s.reset),
            (Some(7), Some(Duration::from_secs(3)))
        );
        // No window stated: not assumed to be a second.
        let s = read(
            200,
            &[("ratelimit-limit", "200"), ("ratelimit-remaining", "7")],
        );
        assert_eq!(s.quota.unwrap().window, None);
    }

    #[test]
    fn x_ratelimit_reset_is_told_apart_as_epoch_or_delta() {
        let date = "Sat, 05 Dec 2026 12:00:00 GMT";
        let epoch = chrono::DateTime::parse_from_rfc2822(date)
            .unwrap()
            .timestamp()
            + 42;
        let epoch = epoch.to_string();
        let s = read(
            403,
            &[
                ("date", date),
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &epoch),
            ],
        );
        assert_eq!(s.reset, Some(Duration::from_secs(42)));
        assert!(s.throttled, "a 403 with nothing remaining is throttling");
        let s = read(
            200,
            &[("x-ratelimit-limit", "60"), ("x-ratelimit-reset", "30")],
        );
        assert_eq!(s.reset, Some(Duration::from_secs(30)));
        assert_eq!(s.quota.unwrap().window, None);
        let forbidden = read(403, &[("x-ratelimit-remaining", "12")]);
        assert!(!forbidden.throttled);
    }

    #[test]
    fn retry_after_on_429_and_503_as_seconds_or_a_date() {
        let s = read(503, &[("retry-after", "7")]);
        assert!(s.throttled);
        assert_eq!(s.retry_after, Some(Duration::from_secs(7)));
        assert!(!read(503, &[]).throttled);
        let s = read(
            429,
            &[
                ("date", "Wed, 21 Oct 2015 07:28:00 GMT"),
                ("retry-after", "Wed, 21 Oct 2015 07:28:05 GMT"),
            ],
        );
        assert_eq!(s.retry_after, Some(Duration::from_secs(5)));
        assert_eq!(
            read(429, &[("retry-after", "soon")]).retry_after,
            None,
            "unreadable"
        );
    }

    #[test]
    fn hostile_values_are_clamped_or_ignored() {
        let tiny = read(200, &[("ratelimit-limit", "1e-300")]);
        assert_eq!(tiny.quota.map(|q| q.limit), Some(1e-300));
        let inf = read(200, &[("ratelimit-policy", "200;w=inf")]);
        assert_eq!(
            inf.quota.and_then(|q| q.window),
            None,
            "an infinite window is none"
        );
        let nan = read(
            200,
            &[("ratelimit-limit", "NaN"), ("ratelimit-remaining", "-5")],
        );
        assert_eq!((nan.quota, nan.remaining), (None, None));
        let huge = read(
            429,
            &[
                ("retry-after", "99999999999999999999"),
                ("ratelimit-limit", "1e308"),
                ("ratelimit-reset", "1e308"),
            ],
        );
        assert_eq!(huge.retry_after, Some(secs(MAX_SECS)));
        assert_eq!(huge.quota.map(|q| q.limit), Some(MAX_COUNT));
        assert!(huge.reset.is_some_and(|r| r <= secs(MAX_SECS)));
        assert_eq!(secs(f64::NAN), Duration::ZERO);
        assert_eq!(secs(f64::INFINITY), secs(MAX_SECS));
    }
}
