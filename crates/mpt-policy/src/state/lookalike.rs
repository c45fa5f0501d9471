//! A state location that is neither a `postgres://` URL nor meant as a directory: another
//! scheme's URL, or libpq's keyword form (`host=... password=...`). Taken as a directory it
//! would be a local store named with the password, shared with no one: refused instead,
//! naming only the keys seen, never a value.

use std::path::Path;

/// Why a location is refused, and how it may be shown.
pub(super) struct Refused {
    /// The location without any value (`host=… password=…`), or a URL without its password.
    pub shown: String,
    /// What is wrong, and what to give instead.
    pub why: String,
}

/// libpq's connection keywords (`psql "host=... dbname=..."`).
const KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "options",
    "service",
    "target_session_attrs",
    "channel_binding",
    "gssencmode",
    "keepalives",
];

/// `Some` when `path` is a connection string rather than a directory. A directory whose name
/// looks like one can still be given as `./NAME` or by its absolute path.
pub(super) fn not_a_dir(path: &Path) -> Option<Refused> {
    let text = path.to_str()?;
    if text.starts_with('/') || text.starts_with("./") || text.starts_with("../") {
        return None;
    }
    if let Some(why) = misspelt_url(text) {
        return Some(Refused {
            shown: "(not shown: it may hold a password)".to_string(),
            why: why.to_string(),
        });
    }
    if let Some((scheme, _)) = text.split_once("://")
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Some(Refused {
            shown: super::redact_url(text),
            why: format!(
                "{scheme}:// is not a store mpt knows: a postgres:// (or postgresql://) URL, or a directory"
            ),
        });
    }
    let keys: Vec<&str> = text
        .split_whitespace()
        .filter_map(|word| word.split_once('=').map(|(k, _)| k.trim()))
        .filter(|k| KEYWORDS.iter().any(|w| w.eq_ignore_ascii_case(k)))
        .collect();
    if keys.is_empty() {
        return None;
    }
    let named: Vec<String> = keys.iter().map(|k| format!("{k}=…")).collect();
    Some(Refused {
        shown: named.join(" "),
        why: format!(
            "looks like a libpq connection string ({}): give a postgres:// URL (postgres://USER@HOST:PORT/DB; the password from PGPASSWORD or ~/.pgpass), or ./NAME for a directory of that name",
            keys.iter()
                .map(|k| format!("{k}="))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// Why `text` looks like a `postgres://` URL mistyped (a space before or after it, `postgres:`
/// without the slashes, `postgres//`, or credentials `USER:PASSWORD@HOST` before the first
/// slash): as a directory it would be a local store named with the password.
fn misspelt_url(text: &str) -> Option<&'static str> {
    if text.trim() != text {
        return Some(
            "begins or ends with white space: give the postgres:// URL without it, or ./NAME for a directory of that name",
        );
    }
    let lower = text.to_ascii_lowercase();
    let scheme = ["postgresql", "postgres"]
        .into_iter()
        .find(|s| lower.starts_with(s))
        .map(|s| &lower[s.len()..]);
    if scheme.is_some_and(|rest| rest.starts_with(':') || rest.starts_with("//")) {
        return Some(
            "looks like a mistyped postgres:// URL (its scheme not followed by ://): give postgres://USER@HOST:PORT/DB, or ./NAME for a directory of that name",
        );
    }
    let first = text.split('/').next().unwrap_or_default();
    if first.contains('@') && first.contains(':') {
        return Some(
            "looks like a URL's USER:PASSWORD@HOST without its postgres:// scheme: give postgres://USER@HOST:PORT/DB, or ./NAME for a directory of that name",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_are_refused_without_their_values() {
        let kw = "host=127.0.0.1 port=5432 user=mpt password=Hunter2SecretPW dbname=mpt";
        let refused = not_a_dir(Path::new(kw)).unwrap();
        assert!(!refused.shown.contains("Hunter2"), "{}", refused.shown);
        assert!(!refused.why.contains("Hunter2"), "{}", refused.why);
        assert!(refused.why.contains("password="), "{}", refused.why);
        let url = not_a_dir(Path::new("mysql://u:Hunter2@h/db")).unwrap();
        assert!(!url.shown.contains("Hunter2"), "{}", url.shown);
        assert!(url.why.contains("mysql://"), "{}", url.why);
        for bad in [
            " postgres://mpt:Hunter2Secret@127.0.0.1:29432/mpt",
            "postgres:/mpt:Hunter2Secret@127.0.0.1:29432/mpt",
            "postgres:mpt:Hunter2Secret@127.0.0.1:29432/mpt",
            "postgres//mpt:Hunter2Secret@127.0.0.1:29432/mpt",
            "PostgreSQL:/mpt@h/db",
            "mpt:Hunter2Secret@127.0.0.1:29432/mpt",
        ] {
            let refused = not_a_dir(Path::new(bad)).expect(bad);
            assert!(!refused.shown.contains("Hunter2"), "{}", refused.shown);
            assert!(!refused.why.contains("Hunter2"), "{}", refused.why);
        }
        for dir in [
            ".mpt-state",
            "state/dir",
            "./host=x",
            "/tmp/a=b",
            "a=b",
            "postgres/state",
            "postgres-state",
            "./ postgres:/x@y",
        ] {
            assert!(not_a_dir(Path::new(dir)).is_none(), "{dir}");
        }
    }
}
