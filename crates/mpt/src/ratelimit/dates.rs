//! Times in the rate-limit fields: HTTP dates (`Retry-After`, `Date`) in every form RFC 9110
//! names, `Retry-After` as seconds or a date (folded lists too), and `*-Reset` as delta
//! seconds, epoch seconds or epoch milliseconds, each counted from the right clock.

use std::time::{Duration, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use reqwest::header::{DATE, HeaderMap, HeaderName, RETRY_AFTER};

use super::{AskedWait, EPOCH_FROM, EPOCH_MS_FROM, agreed, number, secs, text};

/// A single-value field's first line (`Date`, whose value holds a comma).
fn first<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// An HTTP date in any of the three forms RFC 9110 (section 5.6.7) says a recipient must accept
/// (IMF-fixdate `Sun, 06 Dec 2026 01:05:00 GMT`, the obsolete RFC 850 `Sunday, 06-Dec-26
/// 01:05:00 GMT` and asctime `Sun Dec  6 01:05:00 2026`), else an RFC 2822 date (`+0000` for
/// `GMT`, as some servers send).
fn http_date(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(at) = httpdate::parse_http_date(t) {
        // From 1970 to 9999: fits.
        let secs = at.duration_since(UNIX_EPOCH).ok()?.as_secs();
        return DateTime::from_timestamp(i64::try_from(secs).ok()?, 0);
    }
    DateTime::parse_from_rfc2822(t)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A `*-Reset` number as seconds from the answer: epoch milliseconds from [`EPOCH_MS_FROM`],
/// epoch seconds above [`EPOCH_FROM`] (both relative to `now_epoch`, the time the answer is
/// counted from), else delta seconds; not clamped.
pub(crate) fn reset_secs(n: f64, now_epoch: f64) -> f64 {
    if n >= EPOCH_MS_FROM {
        n / 1000.0 - now_epoch
    } else if n > EPOCH_FROM {
        n - now_epoch
    } else {
        n
    }
}

/// A `*-Reset` field (folded items must agree), as [`reset_secs`] reads it, clamped, and the
/// time it states in epoch seconds when it states one (epoch seconds or milliseconds: read
/// against a clock, which may be off).
/// A time is counted from [`epoch_bases`], both ways when the answer's `Date` disagrees with
/// this machine's clock, the shorter wait not past winning ([`sooner`], as a `Retry-After`
/// date): a server whose clock is off states its reset in that clock, and its `Date` agrees
/// with it (the wait from the `Date` is the one meant); a gateway whose `Date` is off in front
/// of a backend whose clock is right (a `Date` 20 s behind) states the reset of this machine's
/// clock (read from its `Date`, each window of a second was held for 21 s: 86 s where a naive
/// loop took 16 s). A reset read too short is refused and learned from; one read too long
/// holds every send for nothing. A reset stated to the millisecond counted from a `Date` cut to
/// the second is up to a second late, and so is one stated to the second (GitHub's
/// `X-RateLimit-Reset`): with a `Date` that agrees, this machine's clock alone counts.
pub(super) fn reset(text: &str, headers: &HeaderMap) -> Option<(Duration, Option<f64>)> {
    let n = agreed(text, |item| number(item, f64::MAX))?;
    if n <= EPOCH_FROM {
        return Some((secs(n), None));
    }
    let (local, date) = epoch_bases(headers);
    let wait = match date {
        Some(date) => sooner(reset_secs(n, date), reset_secs(n, local)),
        None => reset_secs(n, local),
    };
    // The time stated, in epoch seconds (what `reset_secs` counts from 0).
    Some((secs(wait), Some(reset_secs(n, 0.0))))
}

/// The times an epoch reset is counted from, in epoch seconds: this machine's clock, and the
/// answer's `Date` when it does not agree with it to within a second either way of the second
/// `Date` states (its transit and a clock a little off included: a reset is not a wait asked,
/// and one read a little short is learned from); `None` when it agrees or there is none.
fn epoch_bases(headers: &HeaderMap) -> (f64, Option<f64>) {
    let local = local_now();
    match date(headers) {
        Some(date) if !(date - 1.0..date + 2.0).contains(&local) => (local, Some(date)),
        _ => (local, None),
    }
}

/// The answer's `Date` in epoch seconds (whole seconds), if it has one that reads.
fn date(headers: &HeaderMap) -> Option<f64> {
    first(headers, &DATE)
        .and_then(http_date)
        .map(|d| d.timestamp() as f64)
}

/// This machine's clock in epoch seconds, to the millisecond.
fn local_now() -> f64 {
    Utc::now().timestamp_millis() as f64 / 1000.0
}

/// `Retry-After` as seconds or an HTTP date (see [`retry_after_field`]), clamped to
/// [`MAX_SECS`](super::MAX_SECS); a date in the past is 0.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_field(headers).map(|(s, _)| secs(s))
}

/// `Retry-After` (every line of it) as seconds from now, unclamped, with the wait as stated:
/// seconds or an HTTP date (counted from [`date_bases`], [`sooner`]), or a folded list of them (`0, 5`, `3,
/// Sun, 06 Dec 2026 01:05:00 GMT`), the longest; `None` when an item does not read.
pub(super) fn retry_after_field(headers: &HeaderMap) -> Option<(f64, AskedWait)> {
    let value = text(headers, &RETRY_AFTER)?;
    let mut base = None;
    let mut longest: Option<(f64, AskedWait)> = None;
    for item in retry_after_items(&value) {
        let (n, asked) = match number(item, f64::MAX) {
            Some(n) => (n, AskedWait::Seconds(n)),
            None => {
                let at = http_date(item)?;
                let (local, date) = *base.get_or_insert_with(|| date_bases(headers));
                let ms = at.timestamp_millis() as f64 / 1000.0;
                let wait = match date {
                    Some(date) => sooner(ms - date, ms - local),
                    None => ms - local,
                };
                (wait, AskedWait::Until(at))
            }
        };
        if longest.as_ref().is_none_or(|(l, _)| n > *l) {
            longest = Some((n, asked));
        }
    }
    longest
}

/// The weekdays an HTTP date may start with, followed by its own comma.
const WEEKDAYS: [&str; 14] = [
    "Mon",
    "Tue",
    "Wed",
    "Thu",
    "Fri",
    "Sat",
    "Sun",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A `Retry-After`'s items, split at its commas but for the comma after an HTTP date's
/// weekday (`Sun, 06 Dec 2026 01:05:00 GMT` is one item).
fn retry_after_items(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in value.match_indices(',') {
        let piece = &value[start..i];
        if !WEEKDAYS.contains(&piece.trim()) {
            out.push(piece);
            start = i + 1;
        }
    }
    out.push(&value[start..]);
    out
}

/// The times a `Retry-After` date is counted from, in epoch seconds: this machine's clock, and
/// the answer's `Date` when it does not agree with it to within the second it states (`None`
/// when it does, or there is none: the date is then met to the millisecond, not a second late).
fn date_bases(headers: &HeaderMap) -> (f64, Option<f64>) {
    let local = local_now();
    match date(headers) {
        Some(date) if !(date..date + 1.0).contains(&local) => (local, Some(date)),
        _ => (local, None),
    }
}

/// A date's wait read from a `Date` far off this machine's clock (`from_date`) and from this
/// machine's clock (`from_local`): the shorter that is not past. A server whose clock is off
/// states its date in that clock (the wait from its `Date` is the one asked: the other is past,
/// or longer by the skew); a gateway whose `Date` is off while its date is not (a `Date` two
/// hours behind, a date a second ahead of this machine) asks for the wait from this machine's
/// clock: read from its `Date`, it was two hours, over the cap, and ended a job a naive loop
/// finished. A wait read too short is refused again and learned from; one read too long ends
/// the work. Both past: the date has passed.
fn sooner(from_date: f64, from_local: f64) -> f64 {
    match (from_date >= 0.0, from_local >= 0.0) {
        (true, true) => from_date.min(from_local),
        (true, false) => from_date,
        (false, true) => from_local,
        (false, false) => from_date.max(from_local),
    }
}
