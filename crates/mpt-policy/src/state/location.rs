//! Where an apply's state is.

use std::path::PathBuf;

use super::{lookalike, redact_url};

/// Where an apply's state is: a directory, or a PostgreSQL database
/// (`postgres://USER@HOST:PORT/DB`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// A directory (made when missing, 0700).
    Dir(PathBuf),
    /// A PostgreSQL connection URL (`postgres://` or `postgresql://`); its password, if any,
    /// is never shown.
    Postgres(String),
}

impl StateLocation {
    /// `postgres://...` or `postgresql://...` (the scheme in any case) is a database; anything
    /// else a directory, which [`open`](super::open) refuses when it looks like a connection string (another
    /// scheme's URL, or libpq's `host=... password=...` form).
    pub fn parse(text: &str) -> StateLocation {
        match text.split_once("://") {
            // The scheme as tokio-postgres reads it (lower case), the rest as written.
            Some((scheme, rest))
                if scheme.eq_ignore_ascii_case("postgres")
                    || scheme.eq_ignore_ascii_case("postgresql") =>
            {
                StateLocation::Postgres(format!("{}://{rest}", scheme.to_ascii_lowercase()))
            }
            _ => StateLocation::Dir(PathBuf::from(text)),
        }
    }

    /// How it is shown: a directory's path, a URL without its password (a directory that looks
    /// like a connection string: without any value).
    pub fn shown(&self) -> String {
        match self {
            StateLocation::Dir(path) => match lookalike::not_a_dir(path) {
                Some(refused) => refused.shown,
                None => path.display().to_string(),
            },
            StateLocation::Postgres(url) => redact_url(url),
        }
    }
}

impl From<&str> for StateLocation {
    fn from(text: &str) -> Self {
        StateLocation::parse(text)
    }
}

impl From<String> for StateLocation {
    fn from(text: String) -> Self {
        StateLocation::parse(&text)
    }
}

impl From<PathBuf> for StateLocation {
    fn from(path: PathBuf) -> Self {
        StateLocation::Dir(path)
    }
}

impl From<&PathBuf> for StateLocation {
    fn from(path: &PathBuf) -> Self {
        StateLocation::Dir(path.clone())
    }
}

impl From<&std::path::Path> for StateLocation {
    fn from(path: &std::path::Path) -> Self {
        StateLocation::Dir(path.to_path_buf())
    }
}
