//! Deprecation, sunset and stability, with oasdiff's rule ids (`checker/rules.go`) as the
//! reference: an operation, parameter or property deprecated (non-breaking) or reactivated
//! (non-breaking); a sunset (`x-sunset`, an RFC 3339 date) that does not parse, is deleted or
//! moves earlier (breaking); an operation removed before its sunset (breaking) or after its
//! deprecation (breaking for this SDK, where oasdiff says INFO: the generated method
//! disappears, and callers' code stops compiling); `x-stability-level` decreased (breaking) or
//! increased (non-breaking), and `draft`/`alpha` operations free to change.

use serde_json::Value;

use super::flat::Flat;
use super::model::{Direction, Level};
use super::ops::Operation;
use super::walk::Walk;

/// The stability levels, least stable first; an operation without one is `stable`.
const STABILITY: [&str; 4] = ["draft", "alpha", "beta", "stable"];

/// Whether `value` is deprecated.
pub(super) fn deprecated(value: &Value) -> bool {
    value.get("deprecated") == Some(&Value::Bool(true))
}

/// A lifecycle value (`x-sunset`, `x-stability-level`) that is none the rules read, as written:
/// what the report shows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unreadable(String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `x-sunset` of `value`: `None` when absent, `Some(Err(text))` when it is no RFC 3339 date
/// (`2025-12-31`, or a date-time whose date part is taken) or no day of the calendar.
fn sunset(value: &Value) -> Option<Result<String, Unreadable>> {
    let raw = value.get("x-sunset")?;
    let text = raw.as_str().map_or_else(|| raw.to_string(), str::to_string);
    let date = text.get(..10).unwrap_or("");
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shaped = b.len() == 10 && b[4] == b'-' && b[7] == b'-' && digits(0..4);
    let ok = shaped
        && digits(5..7)
        && digits(8..10)
        && real_date(
            date[..4].parse().unwrap_or(0),
            date[5..7].parse().unwrap_or(0),
            date[8..10].parse().unwrap_or(0),
        )
        && (text.len() == 10
            || text
                .as_bytes()
                .get(10)
                .is_some_and(|c| *c == b'T' || *c == b't'));
    Some(if ok {
        Ok(date.to_string())
    } else {
        Err(Unreadable(text))
    })
}

/// Whether `year-month-day` is a day of the calendar (`2027-02-30` and `2027-13-01` are not;
/// `2028-02-29` is).
fn real_date(year: u32, month: u32, day: u32) -> bool {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub(super) fn today() -> String {
    days_from_today(0)
}

/// The date `days` days after today (UTC), as `YYYY-MM-DD`.
fn days_from_today(days: u32) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The stability of an operation (`stable` when it says none); `Err` with the value when it is
/// not one of the four levels.
fn stability(op: &Value) -> Result<usize, Unreadable> {
    match op.get("x-stability-level") {
        None => Ok(STABILITY.len() - 1),
        Some(v) => v
            .as_str()
            .and_then(|s| STABILITY.iter().position(|l| *l == s))
            .ok_or_else(|| Unreadable(v.to_string())),
    }
}

/// Whether changes to `op` are free: it is `draft` or `alpha`.
fn free_to_change(op: &Value) -> bool {
    stability(op).is_ok_and(|s| s < 2)
}

impl Walk<'_> {
    /// An operation removed: breaking, with the rule that says whether it was deprecated first
    /// and whether its sunset had passed (free when it was `draft` or `alpha`).
    pub(super) fn operation_removed(&mut self, old: &Operation<'_>) {
        self.operation = Some(old.name());
        let at = Some(old.pointer.as_str());
        let name = old.name();
        if free_to_change(old.op) {
            self.push(
                "operation-removed",
                Level::NonBreaking,
                format!("operation {name} removed"),
                at,
                None,
            );
            self.note(FREE);
            return;
        }
        match (deprecated(old.op), sunset(old.op)) {
            (false, _) => self.push(
                "operation-removed",
                Level::Breaking,
                format!("operation {name} removed"),
                at,
                None,
            ),
            (true, Some(Ok(date))) if date > today() => self.push(
                "operation-removed-before-sunset",
                Level::Breaking,
                format!("operation {name} removed before its sunset {date}"),
                at,
                None,
            ),
            (true, _) => {
                self.push(
                    "operation-removed-after-deprecation",
                    Level::Breaking,
                    format!("operation {name} removed (it was deprecated)"),
                    at,
                    None,
                );
                self.note("SDK semver: the generated method disappears, so callers' code breaks (oasdiff: INFO)");
            }
        }
    }

    /// Deprecation, sunset and stability of an operation present on both sides.
    pub(super) fn operation_lifecycle(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
        let (op_, np) = (
            format!("{}/deprecated", old.pointer),
            format!("{}/deprecated", new.pointer),
        );
        let rules = [
            "operation-deprecated",
            "operation-deprecated-with-sunset",
            "operation-reactivated",
        ];
        self.deprecation(old.op, new.op, ("operation", rules), (&op_, &np), true);
        let (os, ns) = (stability(old.op), stability(new.op));
        let (oat, nat) = (
            format!("{}/x-stability-level", old.pointer),
            format!("{}/x-stability-level", new.pointer),
        );
        match (os, ns) {
            (_, Err(bad)) => self.push(
                "stability-level-invalid",
                Level::Breaking,
                format!("x-stability-level {bad} is none of draft, alpha, beta, stable"),
                Some(&oat),
                Some(&nat),
            ),
            (Ok(a), Ok(b)) if a != b => self.push(
                if b < a {
                    "stability-decreased"
                } else {
                    "stability-increased"
                },
                if b < a {
                    Level::Breaking
                } else {
                    Level::NonBreaking
                },
                format!("stability {} → {}", STABILITY[a], STABILITY[b]),
                Some(&oat),
                Some(&nat),
            ),
            _ => {}
        }
    }

    /// `deprecated` turned on or off on `what` (an operation, parameter or property; `rules`:
    /// the rule ids for deprecated, deprecated with a sunset, and reactivated), and, for an operation (`sunsets`), its
    /// `x-sunset`.
    pub(super) fn deprecation(
        &mut self,
        old: &Value,
        new: &Value,
        (what, rules): (&str, [&'static str; 3]),
        (oat, nat): (&str, &str),
        sunsets: bool,
    ) {
        let (was, is) = (deprecated(old), deprecated(new));
        let (os, ns) = if sunsets {
            (sunset(old), sunset(new))
        } else {
            (None, None)
        };
        if is && let Some(Err(bad)) = &ns {
            self.push(
                "sunset-unparseable",
                Level::Breaking,
                format!("{what}: sunset {bad} is not an RFC 3339 date"),
                Some(oat),
                Some(nat),
            );
        }
        if sunsets && !was && is {
            self.grace_period(&ns, what, (oat, nat));
        }
        match (was, is) {
            (false, true) => {
                let (rule, with) = match &ns {
                    Some(Ok(date)) => (rules[1], format!(" (sunset {date})")),
                    _ => (rules[0], String::new()),
                };
                self.push(
                    rule,
                    Level::NonBreaking,
                    format!("{what} deprecated{with}"),
                    Some(oat),
                    Some(nat),
                );
            }
            (true, false) => self.push(
                rules[2],
                Level::NonBreaking,
                format!("{what} no longer deprecated"),
                Some(oat),
                Some(nat),
            ),
            (true, true) => match (os, ns) {
                (Some(Ok(a)), Some(Ok(b))) if b < a => self.push(
                    "sunset-moved-earlier",
                    Level::Breaking,
                    format!("{what}: sunset moved earlier, {a} → {b}"),
                    Some(oat),
                    Some(nat),
                ),
                (Some(Ok(a)), None) => self.push(
                    "sunset-deleted",
                    Level::Breaking,
                    format!("{what}: sunset {a} deleted"),
                    Some(oat),
                    Some(nat),
                ),
                _ => {}
            },
            (false, false) => {}
        }
    }

    /// A property's `x-stability-level` (none is stable): decreased breaks, increased does not.
    pub(super) fn property_stability(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        (oat, nat): (Option<&str>, Option<&str>),
    ) {
        let rank = |s: Option<&str>| {
            s.map_or(Some(STABILITY.len() - 1), |s| {
                STABILITY.iter().position(|l| *l == s)
            })
        };
        let (Some(a), Some(b)) = (rank(o.stability), rank(n.stability)) else {
            return;
        };
        if a == b {
            return;
        }
        let rule = match (direction, b < a) {
            (Direction::Request, true) => "request-property-stability-decreased",
            (Direction::Request, false) => "request-property-stability-increased",
            (Direction::Response, true) => "response-property-stability-decreased",
            (Direction::Response, false) => "response-property-stability-increased",
        };
        self.push(
            rule,
            if b < a {
                Level::Breaking
            } else {
                Level::NonBreaking
            },
            format!("{label}: stability {} → {}", STABILITY[a], STABILITY[b]),
            oat,
            nat,
        );
    }

    /// With a grace period (`Tolerance::deprecation_days`), a new deprecation must name a
    /// sunset at least that many days away.
    fn grace_period(
        &mut self,
        sunset: &Option<Result<String, Unreadable>>,
        what: &str,
        (oat, nat): (&str, &str),
    ) {
        let days = self.tolerance.deprecation_days;
        if days == 0 {
            return;
        }
        let earliest = days_from_today(days);
        match sunset {
            None => self.push(
                "sunset-missing",
                Level::Breaking,
                format!("{what} deprecated without an x-sunset (a grace period of {days} days is required)"),
                Some(oat),
                Some(nat),
            ),
            Some(Ok(date)) if *date < earliest => self.push(
                "sunset-too-soon",
                Level::Breaking,
                format!("{what}: sunset {date} is sooner than the {days}-day grace period ({earliest})"),
                Some(oat),
                Some(nat),
            ),
            _ => {}
        }
    }

    /// Changes found since `from` in operation `name`, when it was `draft` or `alpha` (`old`),
    /// are free: they become non-breaking, with a note (a change to a shared schema that another
    /// operation also reaches keeps its level).
    pub(super) fn free_changes_since(&mut self, old: &Value, from: usize, op: &str) {
        if !free_to_change(old) {
            return;
        }
        for c in self.changes.iter_mut().skip(from) {
            if c.level != Level::NonBreaking && c.operations == [op] {
                c.level = Level::NonBreaking;
                c.note = Some(FREE.to_string());
            }
        }
    }
}

/// The note on a change to a `draft` or `alpha` operation.
const FREE: &str = "the operation is x-stability-level draft or alpha: free to change (oasdiff's default threshold is beta)";
