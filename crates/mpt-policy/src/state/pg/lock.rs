//! The lock of an account: a session-level advisory lock whose key is the account id itself
//! (exact: no hash, so two accounts never share one), and who holds it, read from the server
//! (`pg_locks` joined with `pg_stat_activity`), never from a row a holder wrote.
//!
//! The key is PostgreSQL's two-`int4` form: the first is [`LOCK_CLASS`] (`mpt` in ASCII, apart
//! from other programs' locks), the second the account id after `ACC-` read as a bijective
//! base-11 number (the digits `0`-`9` are 1-10, `-` is 11): one key per id and one id per key,
//! for every id of up to 9 characters after `ACC-` (the platform's `ACC-1234-5678` has 9). In
//! `pg_locks` it shows as `classid = 7172212`, `objid = <key>`, `objsubid = 2`. An id too long
//! for an exact key is refused, never hashed.

/// The first key of every advisory lock of `mpt` (`mpt` in ASCII): apart from other programs'.
pub(super) const LOCK_CLASS: i32 = 0x006d_7074;

/// The second key of the schema's own lock (taken while the schema is made or migrated): no
/// account's key is 0.
pub(super) const SCHEMA_KEY: i32 = 0;

/// An account's exact lock key: the second `int4` (its bits; `pg_locks` shows it unsigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LockKey(pub u32);

impl LockKey {
    /// The key as the `int4` the lock functions take.
    pub fn as_int4(self) -> i32 {
        i32::from_ne_bytes(self.0.to_ne_bytes())
    }

    /// The key as `pg_locks.objid` shows it, as an `int8`.
    pub fn as_objid(self) -> i64 {
        i64::from(self.0)
    }
}

/// Why an account has no lock key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum KeyError {
    /// Not `ACC-...`.
    #[error("{0:?} is not an account id (ACC-1234-5678): it has no lock key")]
    NotAnAccount(String),
    /// Nothing, or more than 9 characters, after `ACC-`.
    #[error(
        "account id {0:?} is too long for an exact 32-bit lock key (at most 9 characters after ACC-)"
    )]
    Length(String),
    /// A character other than a digit or a dash.
    #[error("account id {account:?} holds {found:?}: it has no lock key")]
    Character {
        /// The account id.
        account: String,
        /// The character.
        found: char,
    },
    /// A key past 32 bits.
    #[error("account id {0:?} has no 32-bit lock key")]
    TooLarge(String),
}

/// The exact key of `account` (`ACC-` and up to 9 digits and dashes), or why it has none.
pub(super) fn key_of(account: &str) -> Result<LockKey, KeyError> {
    let Some(rest) = account.strip_prefix("ACC-") else {
        return Err(KeyError::NotAnAccount(account.to_string()));
    };
    if rest.is_empty() || rest.len() > 9 {
        return Err(KeyError::Length(account.to_string()));
    }
    let mut key: u64 = 0;
    for c in rest.chars() {
        let digit = match c {
            '0'..='9' => u64::from(c as u8 - b'0') + 1,
            '-' => 11,
            _ => {
                return Err(KeyError::Character {
                    account: account.to_string(),
                    found: c,
                });
            }
        };
        key = key * 11 + digit;
    }
    // 9 symbols of bijective base 11 stay below 11^10 / 10 * 11 < 2^32.
    u32::try_from(key)
        .map(LockKey)
        .map_err(|_| KeyError::TooLarge(account.to_string()))
}

/// Whether this session (`pg_backend_pid()`) holds the lock of `$1` (the key as `objid`): an
/// SQL expression, for a write to check in the same statement.
pub(super) const HELD: &str = "exists (select 1 from pg_catalog.pg_locks l
     where l.locktype = 'advisory' and l.granted and l.pid = pg_catalog.pg_backend_pid()
       and l.classid::int8 = 7172212 and l.objid::int8 = $1 and l.objsubid = 2)";

/// Who holds the lock of `$1` (the key as `objid`): one row per holder.
pub(super) const HOLDER: &str = "select l.pid, a.application_name, host(a.client_addr),
       a.backend_start, a.state,
       extract(epoch from (now() - a.state_change))::int8
  from pg_catalog.pg_locks l
  left join pg_catalog.pg_stat_activity a on a.pid = l.pid
 where l.locktype = 'advisory' and l.granted
   and l.classid::int8 = 7172212 and l.objid::int8 = $1 and l.objsubid = 2";

/// A holder as read from the server, in words: who, from where, since when, and whether it
/// is idle (a frozen or stuck apply), with what to do.
pub(super) fn holder_words(row: &tokio_postgres::Row) -> String {
    let pid: Option<i32> = row.try_get(0).ok().flatten();
    let app: Option<String> = row.try_get(1).ok().flatten();
    let from: Option<String> = row.try_get(2).ok().flatten();
    let since: Option<chrono::DateTime<chrono::Utc>> = row.try_get(3).ok().flatten();
    let state: Option<String> = row.try_get(4).ok().flatten();
    let idle: Option<i64> = row.try_get(5).ok().flatten();
    let pid_words = pid.map_or("an unknown backend".to_string(), |p| {
        format!("backend pid {p}")
    });
    let mut words = match app.filter(|a| !a.is_empty()) {
        Some(app) => format!("{app:?} ({pid_words}"),
        None => format!("a session whose name this role may not see ({pid_words}"),
    };
    words.push_str(&match from {
        Some(addr) => format!(", from {addr}"),
        None => ", over a local socket".into(),
    });
    if let Some(since) = since {
        words.push_str(&format!(
            ", connected since {}",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    words.push(')');
    match (state.as_deref(), idle) {
        (Some("idle"), Some(secs)) => words.push_str(&idle_words(secs, pid)),
        (Some(state), _) => words.push_str(&format!(", {state} now")),
        _ => {}
    }
    words
}

/// How long a holder's session may sit idle before it is said to be maybe frozen: an apply
/// between two changes waits on the platform, seldom this long.
pub(super) const FROZEN_AFTER_SECS: i64 = 30;

/// A holder idle for `secs`: past [`FROZEN_AFTER_SECS`], maybe frozen, with what to do.
fn idle_words(secs: i64, pid: Option<i32>) -> String {
    if secs < FROZEN_AFTER_SECS {
        return format!(", idle for {secs} s (between two requests)");
    }
    format!(
        ", idle for {secs} s: an apply asks its lock before each change, so one idle this long may be frozen or stuck; if it is, `select pg_terminate_backend({})` ends its session and frees the lock",
        pid.map_or("PID".into(), |p| p.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_is_called_maybe_frozen_only_past_the_threshold() {
        let briefly = idle_words(0, Some(7));
        assert!(briefly.contains("idle for 0 s"), "{briefly}");
        assert!(!briefly.contains("frozen"), "{briefly}");
        assert!(!idle_words(FROZEN_AFTER_SECS - 1, Some(7)).contains("frozen"));
        let long = idle_words(FROZEN_AFTER_SECS, Some(7));
        assert!(long.contains("may be frozen"), "{long}");
        assert!(long.contains("pg_terminate_backend(7)"), "{long}");
    }

    #[test]
    fn keys_are_exact_and_never_shared() {
        let a = key_of("ACC-0002-4867").unwrap();
        let b = key_of("ACC-0017-1018").unwrap();
        assert_ne!(a, b);
        assert_ne!(key_of("ACC-1-23").unwrap(), key_of("ACC-12-3").unwrap());
        assert_ne!(key_of("ACC-01").unwrap(), key_of("ACC-1").unwrap());
        assert!(key_of("ACC-9999-9999").is_ok());
        assert!(key_of("ACC-1234-5678-9").is_err());
        assert!(key_of("TKN-1").is_err());
        assert!(key_of("ACC-").is_err());
        // Every key is above the schema's.
        assert!(key_of("ACC-0").unwrap().as_int4() != SCHEMA_KEY);
    }
}
