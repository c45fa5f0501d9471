//! Reaching the database as libpq would: the URL first (its TLS parameters: [`super::tls`]),
//! then `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGCONNECT_TIMEOUT`, then the password from `PGPASSWORD` or the password
//! file; bounded in time everywhere (the whole connect and start-up, every statement, a dead
//! peer found by TCP keepalives and `TCP_USER_TIMEOUT`), and every failure in the server's own
//! words with its SQLSTATE, never with the password.

use std::time::Duration;

use tokio_postgres::Config;
use tokio_postgres::config::Host;

use super::super::StoreError;

/// How long the connect and the start-up (TLS, authentication) may take, unless the URL's
/// `connect_timeout` (or `PGCONNECT_TIMEOUT`) says otherwise.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's limit on a statement (`statement_timeout`).
pub(super) const STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);

/// The client's limit on an answer: past it the session is not trusted again (a stalled
/// backend, a network that drops everything).
pub(super) const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// A peer that stops answering is given up by the kernel after this long, and keepalives find
/// a silent one within about as long (idle 10 s, then 4 probes 5 s apart).
pub(super) const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// What the connection is for: a plan (reads only, in read-only transactions) or an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// `mpt tokens plan`: reads, never writes, takes no lock.
    Plan,
    /// `mpt tokens apply`: locks its accounts, writes records.
    Apply,
}

impl Purpose {
    fn word(self) -> &'static str {
        match self {
            Purpose::Plan => "plan",
            Purpose::Apply => "apply",
        }
    }
}

/// The URL parameters of `mpt`'s own (taken out before tokio-postgres reads the URL).
#[derive(Debug, Clone, Default)]
pub(super) struct Ours {
    /// `schema=NAME`: the tables in this schema (made by the first apply unless
    /// `skip_schema_creation`), found through the session's `search_path`.
    pub schema: Option<String>,
    /// `skip_schema_creation=true`: an apply makes and migrates nothing; the schema must be
    /// there, at this `mpt`'s version (made by someone who may).
    pub skip_creation: bool,
}

/// One of `mpt`'s own URL parameters that cannot be taken.
#[derive(Debug, thiserror::Error)]
pub(super) enum ParamError {
    /// Not UTF-8 once percent-decoded.
    #[error("{key}: {raw:?} is not valid UTF-8 once percent-decoded")]
    NotUtf8 {
        /// The parameter.
        key: String,
        /// Its value as written.
        raw: String,
    },
    /// A schema name PostgreSQL would need quoted.
    #[error("schema {0:?}: a lower-case name of letters, digits and _ is expected")]
    Schema(String),
    /// Neither true nor false.
    #[error("skip_schema_creation {0:?}: true or false is expected")]
    SkipSchemaCreation(String),
    /// Given twice (which one was meant is not guessed).
    #[error("{0} is given more than once: give it once")]
    Twice(String),
}

/// `url` without `mpt`'s own parameters, and them.
fn ours(url: &str) -> Result<(String, Ours), ParamError> {
    let Some((head, query)) = url.split_once('?') else {
        return Ok((url.to_string(), Ours::default()));
    };
    let mut found = Ours::default();
    let mut kept = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        // Decoded as libpq decodes every parameter (`my%5fs` is `my_s`).
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| ParamError::NotUtf8 {
                key: key.to_string(),
                raw: raw.to_string(),
            })?;
        if matches!(key, "schema" | "skip_schema_creation") && !seen.insert(key) {
            return Err(ParamError::Twice(key.to_string()));
        }
        match (key, decoded.as_ref()) {
            ("schema", name) => {
                let ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                    && name.len() <= 63
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !ok {
                    return Err(ParamError::Schema(name.to_string()));
                }
                found.schema = Some(name.to_string());
            }
            ("skip_schema_creation", v) => {
                found.skip_creation = match v {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(ParamError::SkipSchemaCreation(other.to_string()));
                    }
                }
            }
            _ => kept.push(pair),
        }
    }
    let url = match kept.is_empty() {
        true => head.to_string(),
        false => format!("{head}?{}", kept.join("&")),
    };
    Ok((url, found))
}

/// What a connection is made of.
pub(super) struct Setup {
    /// tokio-postgres's settings.
    pub config: Config,
    /// TLS.
    pub tls: super::tls::Tls,
    /// `mpt`'s own parameters.
    pub ours: Ours,
    /// Every secret of it (the password), for scrubbing.
    pub secrets: Vec<String>,
}

/// This machine's name, for the connection's `application_name`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The connection's settings: `url`, filled in from the environment as libpq would, its
/// timeouts, and its name (`mpt apply on HOST (pid N)`). Also every secret it holds, for
/// scrubbing.
pub(super) fn config_of(url: &str, location: &str, purpose: Purpose) -> Result<Setup, StoreError> {
    let bad = |why: String| StoreError::BadLocation {
        location: location.to_string(),
        why,
    };
    let (url, ours) = ours(url).map_err(|e| bad(e.to_string()))?;
    let (plain, tls) = super::tls::split(&url).map_err(|e| bad(e.to_string()))?;
    let mut config: Config = plain
        .parse()
        .map_err(|e: tokio_postgres::Error| bad(chain(&e)))?;
    config.ssl_mode(super::tls::ssl_mode(tls.mode));
    if config.get_hosts().is_empty() {
        config.host(env("PGHOST").unwrap_or_else(|| "localhost".into()));
    }
    if config.get_ports().is_empty()
        && let Some(port) = env("PGPORT")
    {
        let port = port
            .parse::<u16>()
            .map_err(|_| bad(format!("PGPORT {port:?} is not a port")))?;
        config.port(port);
    }
    let user = config
        .get_user()
        .map(str::to_string)
        .or_else(|| env("PGUSER"))
        .or_else(|| env("USER"))
        .ok_or_else(|| bad("no user: postgres://USER@HOST:PORT/DB, or PGUSER".into()))?;
    config.user(&user);
    if config.get_dbname().is_none() {
        config.dbname(env("PGDATABASE").unwrap_or_else(|| user.clone()));
    }
    let mut secrets = super::super::url_secrets(&url);
    if config.get_password().is_none() {
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            _ => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or(&user).to_string();
        if let Some(password) = super::super::pgpass::password(&host, port, &db, &user) {
            secrets.push(password.clone());
            config.password(password);
        }
    }
    if config.get_connect_timeout().is_none() {
        let wait = env("PGCONNECT_TIMEOUT")
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map_or(CONNECT_TIMEOUT, Duration::from_secs);
        config.connect_timeout(wait);
    }
    config
        .application_name(format!(
            "mpt {} on {} (pid {})",
            purpose.word(),
            hostname(),
            std::process::id()
        ))
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(4)
        .tcp_user_timeout(TCP_USER_TIMEOUT);
    Ok(Setup {
        config,
        tls,
        ours,
        secrets,
    })
}

/// An error and its causes, as one line: the server's message with its SQLSTATE, detail and
/// hint for an error of the server.
pub(super) fn chain(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut out = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(detail) = db.detail() {
            out.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            out.push_str(&format!("; hint: {hint}"));
        }
        return out;
    }
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let said = cause.to_string();
        if !out.ends_with(&said) {
            out.push_str(&format!(": {said}"));
        }
        source = cause.source();
    }
    out
}

/// `text` without any of `secrets`.
pub(super) fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(text.to_string(), |out, s| out.replace(s.as_str(), "***"))
}

/// Why a connect failed, as the store's error: an authentication failure named as one (its
/// SQLSTATE, or no password to give), anything else unreachable.
pub(super) fn connect_failed(
    e: &tokio_postgres::Error,
    location: &str,
    secrets: &[String],
) -> StoreError {
    let why = scrub(&chain(e), secrets);
    let code = e.code().map(|c| c.code());
    let auth = matches!(code, Some("28P01" | "28000")) || why.contains("password missing");
    match (auth, code) {
        (true, _) => StoreError::Auth {
            location: location.to_string(),
            why,
        },
        // A server shutting down, out of connections, or a connection failing: not reached.
        (false, Some(c)) if c.starts_with("08") || c.starts_with("53") || c.starts_with("57") => {
            StoreError::Unreachable {
                location: location.to_string(),
                why,
            }
        }
        // A server that answers and refuses (no such database, say).
        (false, Some(_)) => StoreError::Database {
            location: location.to_string(),
            why,
        },
        (false, None) => StoreError::Unreachable {
            location: location.to_string(),
            why,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_parameters_are_percent_decoded_before_they_are_checked() {
        let (url, found) =
            ours("postgres://u@h/db?schema=my%5fs&sslmode=disable&skip_schema_creation=tru%65")
                .unwrap();
        assert_eq!(found.schema.as_deref(), Some("my_s"));
        assert!(found.skip_creation);
        assert_eq!(url, "postgres://u@h/db?sslmode=disable");
        // Decoded, then checked: an encoded character that is not allowed is still refused.
        let refused = ours("postgres://u@h/db?schema=a%2Db").unwrap_err();
        assert!(refused.to_string().contains("\"a-b\""), "{refused}");
        // Given twice, or a boolean spelled otherwise: refused, never guessed.
        for url in [
            "postgres://u@h/db?schema=x&schema=y",
            "postgres://u@h/db?skip_schema_creation=true&skip_schema_creation=false",
        ] {
            let refused = ours(url).unwrap_err();
            assert!(refused.to_string().contains("more than once"), "{refused}");
        }
        let refused = ours("postgres://u@h/db?skip_schema_creation=yes").unwrap_err();
        assert!(refused.to_string().contains("\"yes\""), "{refused}");
    }
}
