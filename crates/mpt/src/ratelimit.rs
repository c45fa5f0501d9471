//! What an answer says about the rate limit, in any of the common dialects, every value
//! validated and clamped before anything computes with it.
//!
//! | dialect | fields read |
//! | --- | --- |
//! | IETF httpapi draft 08 and later | `RateLimit-Policy: "p";q=200;w=1, ...` and `RateLimit: "p";r=150;t=1, ...` (structured fields, RFC 8941; up to [`MAX_POLICIES`] policies kept, the pacer chooses among them; the smallest remainder wins) |
//! | the draft's older fields | `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (delta seconds, or epoch seconds / milliseconds as below), with or without `RateLimit-Policy: 200;w=1` |
//! | GitHub and many gateways | `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch milliseconds from 10¹², epoch seconds above 10⁹, both counted from this machine's clock when the answer's `Date` agrees with it, else both ways, from the `Date` and from this machine's clock, the shorter wait not past winning; else delta seconds; a time is a claim the pacer checks, `pace::skew`) |
//! | HTTP | `Retry-After` (seconds or an HTTP date in any of its three forms, relative to the answer's `Date`) on a `429`, a `503` or a `403` |
//! | GitHub's secondary limits | a `403` (or `429`) with a `Retry-After`, whatever its `X-RateLimit-Remaining` says (the primary limit's) |
//!
//! Throttling is a `429`, a `503` (with `Retry-After` or without: a limiter shedding load says
//! no more), or a `403` whose remainder is 0 (GitHub answers an exhausted limit so) or that
//! carries a readable `Retry-After` (GitHub's secondary limits: a refusal of the secret says no
//! wait would help, so a wait asked for is throttling). A limit
//! with no window stated is not assumed to be per second: its window is unknown, and the pacer
//! infers it from recent resets.
//!
//! Counts (a limit, a remainder, `q`, `r`) are non-negative integers in every dialect (`200`,
//! `+200` and `200.0` read as 200): a fraction, an exponent (`1e-300`), a negative number or
//! text makes the field invalid, and it is ignored, never clamped into a crawl. A window (`w`)
//! must be more than a millisecond: a policy with `w=0`, `w=inf` or no `w` is ignored, and so
//! is a `RateLimit-Policy` mixing the named and the numbered forms. A field
//! a proxy folded from duplicate lines into one comma list (`RateLimit-Remaining: 1000, 17`) is
//! read when its items agree and ignored when they differ (which line holds cannot be told; the
//! pacer then learns from refusals); a folded `Retry-After` is read as its longest item (a wait
//! honoured longer is never a refusal; an HTTP date's own comma, after its weekday, does not
//! split it). Several lines of one field are the one comma list they stand for (RFC 9110
//! section 5.3), read as such: the policies and states of every `RateLimit-Policy` and
//! `RateLimit` line, and, of the single-value fields, the rule above (items that agree, the
//! longest `Retry-After`).

use std::borrow::Cow;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName};

mod asked;
mod dates;

pub use asked::{AskedWait, WaitCause};
pub(crate) use dates::retry_after;
use dates::{reset, retry_after_field};

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
/// A `*-Reset` from this on is epoch milliseconds (epoch seconds this large are the year 33658).
pub(crate) const EPOCH_MS_FROM: f64 = 1e12;
/// The most policies of one `RateLimit-Policy` kept (more are ignored).
pub(crate) const MAX_POLICIES: usize = 4;

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
    #[cfg(test)]
    pub(crate) fn rate(&self) -> Option<f64> {
        self.window.map(|w| self.limit / w)
    }
}

/// What one answer says about the rate limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Signal {
    /// The request was refused for the rate or the load: 429, 503, or 403 with nothing
    /// remaining or a readable `Retry-After` (and, made by the hook layer, a connection closed
    /// before an answer).
    pub(crate) throttled: bool,
    /// A gateway gave up on the request (`502`, `504`): the work may be done (the retry
    /// decision's), and, for the pacer, a refusal when it makes three in a row.
    pub(crate) gateway: bool,
    /// `Retry-After`, clamped to [`MAX_SECS`].
    pub(crate) retry_after: Option<Duration>,
    /// The quotas stated (the first [`MAX_POLICIES`] valid ones): the pacer paces by the
    /// slowest whose window is short, and counts the others.
    pub(crate) quotas: [Option<Quota>; MAX_POLICIES],
    /// The name of each quota, when the draft 08+ `RateLimit-Policy` names it (`"list";q=2`):
    /// the pacer tells policies apart by name, else by quota and window.
    pub(crate) names: [Option<Box<str>>; MAX_POLICIES],
    /// Requests left now (the smallest of several), at most [`MAX_COUNT`].
    pub(crate) remaining: Option<u64>,
    /// The quota the remainder is of, when it is known (the policy of the same name, or the one
    /// limit stated).
    pub(crate) remaining_of: Option<Quota>,
    /// Until the remainder is renewed, clamped to [`MAX_SECS`].
    pub(crate) reset: Option<Duration>,
    /// The reset was stated as a time (an epoch `*-Reset`), read against a clock that may be
    /// off: the pacer holds on it only so long before one request checks it.
    pub(crate) reset_at: bool,
    /// The time an epoch reset states, in epoch seconds of the clock that stated it: the step
    /// between two of them is the window, whatever that clock's offset (`pace::stated`).
    pub(crate) reset_epoch: Option<f64>,
    /// Each quota's own remainder and reset, beside `quotas` (the draft 08+ `RateLimit` states
    /// one per policy; the older dialects, the one limit's): the pacer tells a bucket that
    /// refills from a window that renews by how each one's reset moves.
    pub(crate) states: [Option<(u64, Option<Duration>)>; MAX_POLICIES],
    /// A throttled answer's wait as the server stated it, or the reset of an answer saying
    /// nothing remains, not clamped (for messages only).
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

/// A non-negative decimal number (`7`, `+7`, `0.5`, `.5`), clamped to `max`; `None` for
/// anything else: an exponent (`1e3`: RFC 9110's delay-seconds are digits, and one random
/// `Retry-After: 1e3` read as 1,000 s ended a job), a sign other than `+`, `inf`, `NaN`, text.
pub(crate) fn number(text: &str, max: f64) -> Option<f64> {
    let t = text.trim();
    let digits = t.strip_prefix('+').unwrap_or(t);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let decimal = !(whole.is_empty() && fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !decimal {
        return None;
    }
    // Only digits and a point: parses (a very long one as infinity, clamped).
    let n: f64 = digits.parse().ok()?;
    (n >= 0.0).then(|| n.min(max))
}

/// A count: a non-negative integer (`200`, `+200`, `200.0`), clamped to [`MAX_COUNT`]; `None`
/// for a fraction, an exponent, a sign other than `+`, or text.
pub(crate) fn count(text: &str) -> Option<f64> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    let digits = !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit());
    if !digits || !fraction.bytes().all(|b| b == b'0') {
        return None;
    }
    // Only digits: parses (a very long one as infinity, clamped).
    let n: f64 = whole.parse().ok()?;
    Some(n.min(MAX_COUNT))
}

/// A field's value read by `read`, or a folded list's (`17, 17`) when every item reads the same;
/// `None` when an item does not read or two differ.
fn agreed(text: &str, read: impl Fn(&str) -> Option<f64>) -> Option<f64> {
    let mut out: Option<f64> = None;
    for item in text.split(',') {
        let n = read(item)?;
        if out.is_some_and(|o| o != n) {
            return None;
        }
        out = Some(n);
    }
    out
}

/// A window in seconds: a number from [`MIN_WINDOW`] (less, infinity or text: not a window).
fn window(text: &str) -> Option<f64> {
    number(text, f64::MAX).filter(|w| *w >= MIN_WINDOW && *w <= MAX_SECS)
}

/// A field's value: its lines joined into the one comma list they stand for (RFC 9110 section
/// 5.3; most answers have one line, borrowed as is). A line that is not text makes the field
/// unreadable, as an item that does not read does.
fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<Cow<'a, str>> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?.to_str().ok()?;
    let mut out = Cow::Borrowed(first);
    for line in lines {
        let joined = out.to_mut();
        joined.push_str(", ");
        joined.push_str(line.to_str().ok()?);
    }
    Some(out)
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

/// One quota stated.
fn only(quota: Option<Quota>) -> [Option<Quota>; MAX_POLICIES] {
    let mut out = [None; MAX_POLICIES];
    out[0] = quota;
    out
}

fn quota(limit: Option<f64>, window: Option<f64>) -> Option<Quota> {
    let limit = limit.filter(|l| *l > 0.0)?;
    Some(Quota { limit, window })
}

/// `RateLimit-Policy` of any draft: draft 08+ (`"name";q=200;w=1`) or older (`200;w=1`); the
/// first [`MAX_POLICIES`] valid policies (a count, and a window from [`MIN_WINDOW`]), each with
/// its name (empty for the older form).
/// A field that mixes the two forms (`"p";q=1,2;w=1,2` reads as `"p";q=1`, `2;w=1`, `2`) is
/// not a policy list: it is ignored.
fn policies(text: &str) -> [Option<(&str, Quota)>; MAX_POLICIES] {
    let mut out = [None; MAX_POLICIES];
    let members = members(text);
    let numbered = members.iter().filter(|m| is_number(m.item)).count();
    if numbered != 0 && numbered != members.len() {
        return out;
    }
    let valid = members.into_iter().filter_map(|m| {
        let (name, limit) = if is_number(m.item) {
            ("", count(m.item))
        } else {
            (m.item, m.param("q").and_then(count))
        };
        let window = window(m.param("w")?)?;
        Some((name, quota(limit, Some(window))?))
    });
    for (slot, policy) in out.iter_mut().zip(valid) {
        *slot = Some(policy);
    }
    out
}

/// The first window a `RateLimit-Policy` states (`w`), whatever its limit says.
fn policy_window(text: &str) -> Option<f64> {
    members(text)
        .into_iter()
        .find_map(|m| m.param("w").and_then(window))
}

/// The draft 08+ `RateLimit` field (`"name";r=150;t=1, ...`): each remainder, with its reset
/// and its policy's name.
fn structured_states(text: &str) -> Vec<(u64, Option<Duration>, &str)> {
    members(text)
        .into_iter()
        .filter_map(|m| {
            let r = count(m.param("r")?)? as u64;
            let t = m.param("t").and_then(|t| number(t, MAX_SECS)).map(secs);
            Some((r, t, m.item))
        })
        .collect()
}

/// A `RateLimit-Limit` (`200`, or `200, 200;w=1` of an early draft): its count and its `w`,
/// when every item agrees and every stated window is one; else nothing.
fn limit_field(text: &str) -> Option<(f64, Option<f64>)> {
    let mut out: Option<(f64, Option<f64>)> = None;
    for m in members(text) {
        let limit = count(m.item)?;
        let w = match m.param("w") {
            Some(w) => Some(window(w)?),
            None => None,
        };
        let (limit, w) = match out {
            Some((l, _)) if l != limit => return None,
            Some((_, Some(a))) if w.is_some_and(|w| w != a) => return None,
            Some((_, a)) => (limit, w.or(a)),
            None => (limit, w),
        };
        out = Some((limit, w));
    }
    out
}

impl Signal {
    /// The quotas stated.
    pub(crate) fn quotas(&self) -> impl Iterator<Item = Quota> + '_ {
        self.quotas.iter().flatten().copied()
    }

    /// Whether it states neither a quota nor a remainder (a bare `429`, or one with only a
    /// `Retry-After`): whatever refused it, no stated count says so.
    pub(crate) fn states_no_count(&self) -> bool {
        self.remaining.is_none() && self.quotas().next().is_none()
    }

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
                throttled: matches!(status.as_u16(), 429 | 503),
                gateway: matches!(status.as_u16(), 502 | 504),
                ..Signal::default()
            };
        }
        let asked = retry_after_field(headers);
        let mut signal = Signal {
            retry_after: asked.as_ref().map(|(s, _)| secs(*s)),
            ..Signal::default()
        };
        let policy_text = text(headers, &POLICY);
        let policy = policy_text.as_deref().map(policies).unwrap_or_default();
        for ((slot, name), p) in signal.quotas.iter_mut().zip(&mut signal.names).zip(&policy) {
            *slot = p.map(|(_, q)| q);
            *name = p.and_then(|(n, _)| (!n.is_empty()).then(|| n.into()));
        }
        let count_of = |name: &HeaderName| {
            text(headers, name)
                .and_then(|r| agreed(&r, count))
                .map(|r| r as u64)
        };
        let states_text = text(headers, &RATELIMIT);
        let states = states_text.as_deref().map(structured_states);
        if let Some(&(r, t, name)) = states.iter().flatten().min_by_key(|(r, ..)| *r) {
            // Draft 08 and later: the smallest remainder, and each policy's.
            (signal.remaining, signal.reset) = (Some(r), t);
            for (state, p) in signal.states.iter_mut().zip(&policy) {
                let of = |(n, _): (&str, Quota)| states.iter().flatten().find(|s| s.2 == n);
                *state = p.and_then(of).map(|&(r, t, _)| (r, t));
            }
            signal.remaining_of = policy
                .iter()
                .flatten()
                .find(|(n, _)| *n == name)
                .map(|(_, q)| *q);
        } else if let Some(limit) = text(headers, &LIMIT) {
            let one = limit_field(&limit).and_then(|(limit, window)| {
                let window = window.or_else(|| policy_text.as_deref().and_then(policy_window));
                quota(Some(limit), window)
            });
            if one.is_some() {
                (signal.quotas, signal.names) = (only(one), Default::default());
            }
            signal.remaining = count_of(&REMAINING);
            signal.remaining_of = one;
            let stated = text(headers, &RESET).and_then(|r| reset(&r, headers));
            (signal.reset, signal.reset_epoch) = (stated.map(|(r, _)| r), stated.and_then(|s| s.1));
            signal.reset_at = signal.reset_epoch.is_some();
            signal.states[0] = one.and(signal.remaining.map(|r| (r, signal.reset)));
        } else if let Some(limit) = text(headers, &X_LIMIT) {
            let one = quota(agreed(&limit, count), None);
            if one.is_some() {
                (signal.quotas, signal.names) = (only(one), Default::default());
            }
            signal.remaining = count_of(&X_REMAINING);
            signal.remaining_of = one;
            let stated = text(headers, &X_RESET).and_then(|r| reset(&r, headers));
            (signal.reset, signal.reset_epoch) = (stated.map(|(r, _)| r), stated.and_then(|s| s.1));
            signal.reset_at = signal.reset_epoch.is_some();
            signal.states[0] = one.and(signal.remaining.map(|r| (r, signal.reset)));
        }
        if signal.remaining.is_none() {
            // A remainder stated without its limit (a gateway that sends only
            // `X-RateLimit-Remaining`): still what is left, and a 403 with 0 is throttling.
            signal.remaining = count_of(&X_REMAINING).or_else(|| count_of(&REMAINING));
        }
        signal.gateway = matches!(status.as_u16(), 502 | 504);
        signal.throttled = match status.as_u16() {
            429 => true,
            // With a `Retry-After` or not (none, or one unreadable): load shed, a refusal.
            503 => true,
            // GitHub's exhausted primary limit (nothing remains), or its secondary limit (a
            // wait asked for, the primary limit's remainder above 0).
            403 => signal.remaining == Some(0) || signal.retry_after.is_some(),
            _ => false,
        };
        // A spent quota's reset too (an answer saying nothing remains): a hold beyond the cap
        // names it as stated.
        if signal.throttled || signal.remaining == Some(0) {
            let reset = text(headers, &RESET).or_else(|| text(headers, &X_RESET));
            let asked = asked.map(|(_, asked)| asked);
            signal.asked = AskedWait::stated(&signal, asked, reset.as_deref());
        }
        signal
    }
}

/// A wait as people read it: `1h`, `2m 5s`, `30 s`, `250 ms`; from a second on, rounded up to
/// the whole second (a wait of 30.5 s over a 30 s cap reads `31 s`, never as the cap).
pub(crate) fn human(d: Duration) -> String {
    let s = if d < Duration::from_secs(1) {
        0
    } else {
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    };
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
mod tests;
