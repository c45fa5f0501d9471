//! The strict value parsers of the command line: statuses, sort fields, ages and no-op
//! answers are checked before anything is sent, and refused with the accepted values.

use mpt::{SortField, TokenStatus};

/// `adaptive`, `off`, or a rate (requests a second, from 0.001 to 1000000:
/// [`mpt::Pacing::fixed`]'s range).
pub fn parse_pacing(text: &str) -> Result<mpt::Pacing, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "adaptive" => Ok(mpt::Pacing::Adaptive),
        "off" => Ok(mpt::Pacing::Off),
        number => match number.trim_end_matches("/s").parse::<f64>() {
            Ok(rate) => mpt::Pacing::fixed(rate).map_err(|e| format!("{text:?}: {e}")),
            Err(_) => Err(format!(
                "{text:?}: expected requests a second (e.g. 50), `adaptive` or `off`"
            )),
        },
    }
}

/// `--max-wait`: an age (`90s`, `5m`), at most a day.
pub fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    let wait = mpt::parse_age(text).map_err(|e| e.to_string())?;
    if wait > std::time::Duration::from_secs(86_400) {
        return Err(format!("{text:?}: at most 1d"));
    }
    Ok(wait)
}

/// `refused` or `accepted` (any case).
pub fn parse_noop(text: &str) -> Result<mpt::NoopTransitions, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "refused" => Ok(mpt::NoopTransitions::Refused),
        "accepted" => Ok(mpt::NoopTransitions::Accepted),
        _ => Err(format!("{text:?}: expected `refused` or `accepted`")),
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
pub fn parse_status(text: &str) -> Result<TokenStatus, String> {
    STATUSES
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| {
            format!("unknown status {text:?}: one of active, disabled, deleted (any case)")
        })
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
pub fn parse_order(text: &str) -> Result<Order, String> {
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
            .ok_or_else(|| {
                format!(
                    "unknown sort field {name:?}: one of name, status, lastAccessAt, created, updated, id"
                )
            })?;
        keys.push((field, descending));
    }
    if keys.is_empty() {
        return Err("no sort field: e.g. -name,created".into());
    }
    Ok(Order(keys))
}

pub use mpt::parse_age;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn values_are_checked_before_anything_is_sent() {
        assert_eq!(parse_status("active"), Ok(TokenStatus::Active));
        assert_eq!(parse_status("DISABLED"), Ok(TokenStatus::Disabled));
        assert!(parse_status("Bogus").unwrap_err().contains("one of active"));
        assert_eq!(
            parse_order("-name,created").unwrap(),
            Order(vec![(SortField::Name, true), (SortField::Created, false)])
        );
        assert!(parse_order("nosuchfield").is_err());
        assert_eq!(parse_age("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(
            parse_age("1000000000d")
                .unwrap_err()
                .to_string()
                .contains("at most")
        );
        assert!(parse_age("99999999999999999999d").is_err());
        assert!(parse_age("5").is_err() && parse_age("5y").is_err());
    }
}
