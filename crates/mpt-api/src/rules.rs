//! The platform's rules for a token's `name` and `description`, as its object canon states them
//! (BR-006), and the fields a `select` may name, in one place: the `mpt` facade and its CLI check
//! them before sending, and `mpt-mock` enforces them as the platform does.

/// The fields of a token a `select` may name (the platform refuses any other with a 400).
pub const SELECTABLE: [&str; 13] = [
    "id",
    "name",
    "description",
    "icon",
    "status",
    "revision",
    "lastAccessAt",
    "token",
    "account",
    "modules",
    "audit",
    "extensions",
    "$meta",
];

/// Longest name the platform accepts, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description the platform accepts, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// What is wrong with `name`, if anything: it is required, at most [`MAX_NAME_CHARS`]
/// characters, and holds only letters, digits, spaces, hyphens, periods, apostrophes and double
/// quotes. Names are not unique.
pub fn name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!("at most {MAX_NAME_CHARS} characters"));
    }
    name.chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '.' | '\'' | '"')))
        .map(|c| {
            format!(
                "{c:?} is not allowed (letters, digits, spaces, hyphens, periods, apostrophes and double quotes only)"
            )
        })
}

/// What is wrong with `description`, if anything: at most [`MAX_DESCRIPTION_CHARS`] characters.
pub fn description_problem(description: &str) -> Option<String> {
    (description.chars().count() > MAX_DESCRIPTION_CHARS)
        .then(|| format!("at most {MAX_DESCRIPTION_CHARS} characters"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions_follow_the_platform() {
        assert_eq!(name_problem("CI deploy-bot v2.0 \"main\" it's"), None);
        assert_eq!(name_problem("  ").as_deref(), Some("must not be empty"));
        assert!(
            name_problem("a/b")
                .unwrap()
                .starts_with("'/' is not allowed")
        );
        assert!(name_problem(&"n".repeat(MAX_NAME_CHARS + 1)).is_some());
        assert_eq!(
            description_problem(&"d".repeat(MAX_DESCRIPTION_CHARS)),
            None
        );
        assert!(description_problem(&"d".repeat(MAX_DESCRIPTION_CHARS + 1)).is_some());
    }
}
