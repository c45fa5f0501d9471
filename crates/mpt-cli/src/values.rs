//! The strict value parsers of the command line: statuses, sort fields, ages and no-op
//! answers are checked before anything is sent, and refused with the accepted values.

use mpt::mpt_api::rules::SELECTABLE;
use mpt::{SortField, TokenStatus};

/// A value the command line refuses, with the values it takes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// Not a pace.
    #[error("{0:?}: expected requests a second (e.g. 50), `adaptive` or `off`")]
    Pacing(String),
    /// Not a no-op answer.
    #[error("{0:?}: expected `refused` or `accepted`")]
    Noop(String),
    /// Not a status.
    #[error("unknown status {0:?}: one of active, disabled, deleted (any case)")]
    Status(String),
    /// Not a sort field.
    #[error("unknown sort field {0:?}: one of name, status, lastAccessAt, created, updated, id")]
    SortField(String),
    /// No sort field at all.
    #[error("no sort field: e.g. -name,created")]
    NoSortField,
    /// Not a field of a token (`--select`).
    #[error("unknown field {0:?}: one of {fields} (`-field` leaves it out, `+field` adds it; e.g. -audit,+modules)", fields = SELECTABLE.join(", "))]
    SelectField(String),
    /// No field at all (`--select`).
    #[error("no field to select: e.g. -audit,+modules")]
    NoSelectField,
    /// A rate no pace can use (0, negative, not finite, over the fastest).
    #[error("{text:?}: {} is not a usable rate: {}", source.0, rate_range())]
    Rate {
        /// What was given.
        text: String,
        /// Why it is refused.
        source: mpt::InvalidRate,
    },
    /// A rate so slow that its own interval is over the longest single wait: every request
    /// would be refused as not attempted, for a wait the user's rate asks for, not the
    /// platform.
    #[error(
        "{text:?}: one request every {interval} s is slower than the longest single wait ({} s): nothing would be sent; {}",
        cap_secs(),
        rate_range()
    )]
    SlowRate {
        /// What was given.
        text: String,
        /// The interval the rate asks for, in seconds, rounded up to the hundredth.
        interval: String,
    },
    /// Not an age.
    #[error(transparent)]
    Age(#[from] mpt::AgeError),
    /// A wait over a day.
    #[error("{0:?}: at most 1d")]
    TooLong(String),
    /// Not a longest single wait (`--max-retry-after`): an age from a second to a day.
    #[error("{0:?}: give an age from 1s to 1d (e.g. 30s, 5m, 1h)")]
    RetryCap(String),
    /// Not a per-attempt timeout (`--timeout`): an age from a second to an hour.
    #[error("{0:?}: give an age from 1s to 1h (e.g. 10s, 2m)")]
    Timeout(String),
}

/// The longest single wait of the command line (the retry policy's default
/// `max_retry_after`), in seconds: the slowest pace is one request in that long.
fn cap_secs() -> u64 {
    mpt::RetryPolicy::default().max_retry_after.as_secs()
}

/// The rates `--max-rate` takes, in words: one range for every refusal.
fn rate_range() -> String {
    let cap = cap_secs();
    format!(
        "give a rate from one request every {cap} s ({:.4}… a second) to {} a second",
        1.0 / cap as f64,
        mpt::MAX_FIXED_RATE
    )
}

/// `adaptive`, `off`, or a rate: requests a second, from one request every 30 s (the longest
/// single wait: a slower pace would refuse every request) to 1000000.
pub fn parse_pacing(text: &str) -> Result<mpt::Pacing, ValueError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "adaptive" => Ok(mpt::Pacing::Adaptive),
        "off" => Ok(mpt::Pacing::Off),
        number => match number.trim_end_matches("/s").parse::<f64>() {
            Ok(rate) => {
                let pacing = mpt::Pacing::fixed(rate).map_err(|source| ValueError::Rate {
                    text: text.to_string(),
                    source,
                })?;
                if 1.0 / rate > cap_secs() as f64 {
                    // To the hundredth, up where the nearest would read as the floor (never
                    // "every 30 s" for 30.001 s).
                    let near = (100.0 / rate).round() / 100.0;
                    let shown = if near > cap_secs() as f64 {
                        near
                    } else {
                        (100.0 / rate).ceil() / 100.0
                    };
                    let interval = format!("{shown:.2}");
                    let interval = interval.trim_end_matches('0').trim_end_matches('.');
                    return Err(ValueError::SlowRate {
                        text: text.to_string(),
                        interval: interval.to_string(),
                    });
                }
                Ok(pacing)
            }
            Err(_) => Err(ValueError::Pacing(text.to_string())),
        },
    }
}

/// `refused` or `accepted` (any case).
pub fn parse_noop(text: &str) -> Result<mpt::NoopTransitions, ValueError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "refused" => Ok(mpt::NoopTransitions::Refused),
        "accepted" => Ok(mpt::NoopTransitions::Accepted),
        _ => Err(ValueError::Noop(text.to_string())),
    }
}

/// `--order`: sort fields, each ascending (`false`) or descending (`true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order(pub Vec<(SortField, bool)>);

/// The statuses `--status` takes.
const STATUSES: [TokenStatus; 3] = [
    TokenStatus::Active,
    TokenStatus::Disabled,
    TokenStatus::Deleted,
];

/// `active`, `Disabled`, ... (any case); anything else is refused with the list.
pub fn parse_status(text: &str) -> Result<TokenStatus, ValueError> {
    STATUSES
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| ValueError::Status(text.to_string()))
}

/// The names `--order` takes.
const SORT_FIELDS: [(&str, SortField); 8] = [
    ("name", SortField::Name),
    ("status", SortField::Status),
    ("lastAccessAt", SortField::LastAccessAt),
    ("last-access", SortField::LastAccessAt),
    ("created", SortField::Created),
    ("updated", SortField::Updated),
    ("id", SortField::Id),
    ("audit.created.at", SortField::Created),
];

/// `-name,created`: fields, `-` for descending (`+` for ascending is accepted too).
pub fn parse_order(text: &str) -> Result<Order, ValueError> {
    let mut keys = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (descending, name) = match item.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, item.trim_start_matches('+')),
        };
        let field = SORT_FIELDS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| *f)
            .ok_or_else(|| ValueError::SortField(name.to_string()))?;
        keys.push((field, descending));
    }
    if keys.is_empty() {
        return Err(ValueError::NoSortField);
    }
    Ok(Order(keys))
}

/// `--select`: the fields to leave out (`-field`) or add (`+field`, `field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select(pub Vec<String>);

/// `-audit,+modules`: each a token's field (a part of one, `audit.created`, by its field),
/// `-` to leave it out, `+` (or nothing) to add it; any other name is refused with the list.
pub fn parse_select(text: &str) -> Result<Select, ValueError> {
    let mut fields = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = item
            .strip_prefix('-')
            .or_else(|| item.strip_prefix('+'))
            .unwrap_or(item);
        let (root, sub) = match name.split_once('.') {
            Some((root, sub)) => (root, Some(sub)),
            None => (name, None),
        };
        let part_ok = sub.is_none_or(|sub| {
            sub.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        });
        if !SELECTABLE.contains(&root) || !part_ok {
            return Err(ValueError::SelectField(name.to_string()));
        }
        fields.push(item.to_string());
    }
    if fields.is_empty() {
        return Err(ValueError::NoSelectField);
    }
    Ok(Select(fields))
}

pub use mpt::parse_age;

/// A wait such as `--lock-timeout` or `--max-wait`: an age ([`parse_age`]) of at most a day
/// (one bound, whatever the age: `36500d` and `100000d` are both refused as over a day), or a
/// bare `0` (no wait at all).
pub fn parse_wait(text: &str) -> Result<std::time::Duration, ValueError> {
    if text.trim() == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let wait = parse_age(text).map_err(|e| match e {
        mpt::AgeError::TooLong(_) => ValueError::TooLong(text.to_string()),
        other => other.into(),
    })?;
    if wait > std::time::Duration::from_secs(86_400) {
        return Err(ValueError::TooLong(text.to_string()));
    }
    Ok(wait)
}

/// `--max-retry-after`: the longest single wait, an age ([`parse_age`]) from a second to a day;
/// anything else (`0`, `500ms`, `2d`, `fast`) is refused with that range.
pub fn parse_retry_cap(text: &str) -> Result<std::time::Duration, ValueError> {
    match parse_age(text) {
        Ok(cap)
            if (std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(86_400))
                .contains(&cap) =>
        {
            Ok(cap)
        }
        _ => Err(ValueError::RetryCap(text.to_string())),
    }
}

/// `--timeout`: the time allowed for each attempt of a request, an age ([`parse_age`]) from a
/// second to an hour; anything else (`0`, `500ms`, `2h`, `never`) is refused with that range.
pub fn parse_timeout(text: &str) -> Result<std::time::Duration, ValueError> {
    match parse_age(text) {
        Ok(t)
            if (std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(3_600))
                .contains(&t) =>
        {
            Ok(t)
        }
        _ => Err(ValueError::Timeout(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn values_are_checked_before_anything_is_sent() {
        assert_eq!(parse_status("active"), Ok(TokenStatus::Active));
        assert_eq!(parse_status("DISABLED"), Ok(TokenStatus::Disabled));
        assert!(
            parse_status("Bogus")
                .unwrap_err()
                .to_string()
                .contains("one of active")
        );
        assert_eq!(
            parse_order("-name,created").unwrap(),
            Order(vec![(SortField::Name, true), (SortField::Created, false)])
        );
        assert!(parse_order("nosuchfield").is_err());
        assert_eq!(
            parse_select("-audit, +modules,name").unwrap(),
            Select(vec!["-audit".into(), "+modules".into(), "name".into()])
        );
        assert!(parse_select("-audit.created").is_ok());
        for text in ["-audti", "", ",", "+audit.", "-nope.x", "-audit..x"] {
            assert!(parse_select(text).is_err(), "{text}");
        }
        assert!(
            parse_select("-audti")
                .unwrap_err()
                .to_string()
                .contains("one of id, name")
        );
        assert_eq!(parse_age("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(
            parse_age("1000000000d")
                .unwrap_err()
                .to_string()
                .contains("at most")
        );
        assert!(parse_age("99999999999999999999d").is_err());
        assert!(parse_age("5").is_err() && parse_age("5y").is_err());
        assert_eq!(parse_wait("0"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_wait("5").is_err());
        assert_eq!(parse_retry_cap("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_retry_cap("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_retry_cap("1d"), Ok(Duration::from_secs(86_400)));
        for text in ["0", "0s", "2d", "25h", "fast", "5", ""] {
            let e = parse_retry_cap(text).unwrap_err().to_string();
            assert!(
                e.ends_with("give an age from 1s to 1d (e.g. 30s, 5m, 1h)"),
                "{e}"
            );
        }
    }

    /// One bound and one range per flag: `--max-wait` is at most a day whatever the age given
    /// (`100000d` used to be refused as "at most 36500d", then `36500d` as "at most 1d"), and
    /// `--max-rate` names the range it takes for every rate it refuses (`1000001` used to be
    /// told "from 0.001 to 1000000", then `0.001` refused), with a slow rate's interval never
    /// rounded to another ("every 31 s" for 30.03 s).
    #[test]
    fn each_flag_states_the_bound_it_applies() {
        for text in ["100000d", "36500d", "2d", "25h", "1000000000000d"] {
            let e = parse_wait(text).unwrap_err().to_string();
            assert_eq!(e, format!("{text:?}: at most 1d"));
        }
        assert_eq!(parse_wait("1d"), Ok(Duration::from_secs(86_400)));
        let range =
            "give a rate from one request every 30 s (0.0333… a second) to 1000000 a second";
        for text in [
            "1000001", "0", "1e-20", "0.001", "0.0333", "0.033332", "NaN",
        ] {
            let e = parse_pacing(text).unwrap_err().to_string();
            assert!(e.ends_with(range), "{text}: {e}");
        }
        let e = parse_pacing("0.0333").unwrap_err().to_string();
        assert!(e.contains("one request every 30.03 s"), "{e}");
        let e = parse_pacing("0.033332").unwrap_err().to_string();
        assert!(e.contains("one request every 30.01 s"), "{e}");
        let e = parse_pacing("0.001").unwrap_err().to_string();
        assert!(e.contains("one request every 1000 s"), "{e}");
        for text in ["0.03334", "0.034", "1000000", "5/s"] {
            assert!(parse_pacing(text).is_ok(), "{text}");
        }
    }
}
