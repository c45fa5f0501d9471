//! Ages as people write them (`90d`), shared by the CLI's flags and policy files.

use std::time::Duration;

/// The longest age taken: 36,500 days.
pub const MAX_AGE: Duration = Duration::from_secs(36_500 * 86_400);

/// An age that cannot be read, naming the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AgeError {
    /// A number with no unit.
    #[error("{0:?}: add a unit (s, m, h, d or w), e.g. 90d")]
    NoUnit(String),
    /// Not a whole number before the unit.
    #[error("{0:?}: expected a number and a unit, e.g. 90d")]
    NotANumber(String),
    /// A unit that is not one of s, m, h, d, w.
    #[error("{text:?}: unknown unit {unit:?} (s, m, h, d or w)")]
    UnknownUnit {
        /// The whole text.
        text: String,
        /// The unit given.
        unit: String,
    },
    /// More than [`MAX_AGE`].
    #[error("{0:?}: at most 36500d")]
    TooLong(String),
}

/// Parses `90d`, `12h`, `30m`, `45s` or `2w` (a whole number and a unit), at most [`MAX_AGE`].
///
/// ```
/// use std::time::Duration;
/// assert_eq!(mpt::parse_age("90d"), Ok(Duration::from_secs(90 * 86_400)));
/// assert!(mpt::parse_age("5y").is_err());
/// ```
pub fn parse_age(text: &str) -> Result<Duration, AgeError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| AgeError::NoUnit(text.to_string()))?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| AgeError::NotANumber(text.to_string()))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(AgeError::UnknownUnit {
                text: text.to_string(),
                unit: unit.to_string(),
            });
        }
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .filter(|d| *d <= MAX_AGE)
        .ok_or_else(|| AgeError::TooLong(text.to_string()))
}
