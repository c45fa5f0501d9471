//! The PostgreSQL store: records shared by every machine that applies the same accounts, and a
//! lock per account that dies with the apply holding it.
//!
//! The lock is a session-level advisory lock (`pg_try_advisory_lock`) per account, taken in
//! account order: PostgreSQL releases it when the session ends, so an apply killed with SIGKILL
//! (its connection closed by the kernel) never leaves it held, and no lease or clock is needed.
//! Who holds it (host, process id, since when) is written beside it, for the message a second
//! apply shows. The schema is made on first use and says its version; a newer one is refused.
//!
//! ```text
//! mpt_schema  (version)                               the schema's version
//! mpt_records (kind, name, account, body, updated_at) one row per record (JSON, never a secret)
//! mpt_holders (account, host, pid, since)             who holds each account's lock
//! ```

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio_postgres::{Client, Config, NoTls};

use super::{Key, Kind, Pending, Store, StoreError};

/// The schema version this `mpt` writes and reads.
pub const SCHEMA_VERSION: i32 = 1;

/// The first key of every advisory lock of `mpt` (`mpt` in ASCII): apart from other programs'.
const LOCK_CLASS: i32 = 0x006d_7074;

/// How long a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a held lock is tried again while waiting.
const LOCK_POLL: Duration = Duration::from_millis(200);

/// A PostgreSQL database holding an apply's records, and (for an apply) the locks of its
/// accounts for as long as it is open.
pub struct PgStore {
    client: Client,
    location: String,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The session ends, and its advisory locks with it.
        self.connection.abort();
    }
}

/// `url` without its password (in the user info or a `password=` parameter).
pub fn redact_url(url: &str) -> String {
    let mut shown = url.to_string();
    if let Some(scheme_end) = shown.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = shown[rest_start..]
            .find(['/', '?'])
            .map_or(shown.len(), |i| rest_start + i);
        if let Some(at) = shown[rest_start..authority_end].rfind('@') {
            let userinfo = &shown[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                shown.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = shown.find('?') {
        let (head, query) = shown.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        shown = format!("{head}{}", query.join("&"));
    }
    shown
}

/// This machine's name, for the holder of a lock.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

impl PgStore {
    /// Connects to the database of `url` (the password from the URL, `PGPASSWORD` or the
    /// password file), makes or checks the schema, and, with `lock` (the longest wait), locks
    /// `accounts` for as long as the store is open.
    pub async fn connect(
        url: &str,
        accounts: &[String],
        lock: Option<Duration>,
    ) -> Result<PgStore, StoreError> {
        let location = redact_url(url);
        let bad = |why: String| StoreError::BadLocation {
            location: location.clone(),
            why,
        };
        let mut config: Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| bad(scrub(&e.to_string(), url)))?;
        let user = config
            .get_user()
            .map(str::to_string)
            .or_else(|| std::env::var("USER").ok())
            .ok_or_else(|| bad("no user: postgres://USER@HOST:PORT/DB".into()))?;
        config.user(&user);
        if config.get_password().is_none() {
            let host = match config.get_hosts().first() {
                Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
                _ => "localhost".into(),
            };
            let port = config.get_ports().first().copied().unwrap_or(5432);
            let db = config.get_dbname().unwrap_or(&user).to_string();
            if let Some(password) = super::pgpass::password(&host, port, &db, &user) {
                config.password(password);
            }
        }
        config
            .application_name(format!(
                "mpt apply on {} (pid {})",
                hostname(),
                std::process::id()
            ))
            .connect_timeout(CONNECT_TIMEOUT);
        let (client, connection) =
            config
                .connect(NoTls)
                .await
                .map_err(|e| StoreError::Unreachable {
                    location: location.clone(),
                    why: scrub(&e.to_string(), url),
                })?;
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let store = PgStore {
            client,
            location,
            connection,
        };
        store.schema().await?;
        if let Some(wait) = lock {
            let mut sorted: Vec<&String> = accounts.iter().collect();
            sorted.sort();
            sorted.dedup();
            for account in sorted {
                store.lock(account, wait).await?;
            }
        }
        Ok(store)
    }

    fn failed(&self, e: tokio_postgres::Error) -> StoreError {
        StoreError::Refused(format!("state store {}: {e}", self.location))
    }

    /// Makes the schema on first use (one maker at a time), or checks that this `mpt` can read
    /// the one there.
    async fn schema(&self) -> Result<(), StoreError> {
        let c = &self.client;
        let found: Option<i32> = {
            let made = c
                .query_opt(
                    "select 1 from information_schema.tables where table_name = 'mpt_schema'",
                    &[],
                )
                .await
                .map_err(|e| self.failed(e))?;
            match made {
                Some(_) => c
                    .query_one("select max(version) from mpt_schema", &[])
                    .await
                    .map_err(|e| self.failed(e))?
                    .get(0),
                None => None,
            }
        };
        match found {
            Some(v) if v > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                location: self.location.clone(),
                found: v,
                known: SCHEMA_VERSION,
            }),
            Some(_) => Ok(()),
            None => self.make_schema().await,
        }
    }

    async fn make_schema(&self) -> Result<(), StoreError> {
        let sql = format!(
            "begin;
             select pg_advisory_xact_lock({LOCK_CLASS}, 0);
             create table if not exists mpt_schema (version integer not null);
             create table if not exists mpt_records (
                 kind text not null,
                 name text not null,
                 account text not null,
                 body text not null,
                 updated_at timestamptz not null default now(),
                 primary key (kind, name));
             create table if not exists mpt_holders (
                 account text primary key,
                 host text not null,
                 pid integer not null,
                 since timestamptz not null);
             insert into mpt_schema (version)
                 select {SCHEMA_VERSION} where not exists (select 1 from mpt_schema);
             commit;"
        );
        self.client
            .batch_execute(&sql)
            .await
            .map_err(|e| self.failed(e))
    }

    /// Takes `account`'s lock, waiting up to `wait` for another apply to release it.
    async fn lock(&self, account: &str, wait: Duration) -> Result<(), StoreError> {
        let started = Instant::now();
        loop {
            let row = self
                .client
                .query_one(
                    "select pg_try_advisory_lock($1, hashtext($2))",
                    &[&LOCK_CLASS, &account],
                )
                .await
                .map_err(|e| self.failed(e))?;
            if row.get::<_, bool>(0) {
                let pid = i32::try_from(std::process::id()).unwrap_or(0);
                self.client
                    .execute(
                        "insert into mpt_holders (account, host, pid, since) values ($1, $2, $3, now())
                         on conflict (account) do update
                         set host = excluded.host, pid = excluded.pid, since = excluded.since",
                        &[&account, &hostname(), &pid],
                    )
                    .await
                    .map_err(|e| self.failed(e))?;
                return Ok(());
            }
            if started.elapsed() >= wait {
                return Err(StoreError::Locked {
                    account: account.to_string(),
                    holder: self.holder(account).await,
                });
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    /// Who holds `account`'s lock, as its holder wrote it.
    async fn holder(&self, account: &str) -> String {
        let row = self
            .client
            .query_opt(
                "select host, pid, since from mpt_holders where account = $1",
                &[&account],
            )
            .await;
        match row {
            Ok(Some(row)) => {
                let (host, pid, since): (String, i32, chrono::DateTime<chrono::Utc>) =
                    (row.get(0), row.get(1), row.get(2));
                format!(
                    "an apply on host {host}, process {pid}, since {}",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            }
            _ => "an apply that has not said who it is yet".into(),
        }
    }
}

/// `text` without `url`'s password, should a driver's message quote it.
fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact_url(url));
    for secret in super::url_secrets(url) {
        out = out.replace(&secret, "***");
    }
    out
}

impl Store for PgStore {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.client
                .execute(
                    "insert into mpt_records (kind, name, account, body) values ($1, $2, $3, $4)
                     on conflict (kind, name) do update
                     set account = excluded.account, body = excluded.body, updated_at = now()",
                    &[&key.kind.as_str(), &key.name, &key.account, &json],
                )
                .await
                .map(drop)
                .map_err(|e| self.failed(e))
        })
    }

    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            self.client
                .query_opt(
                    "select body from mpt_records where kind = $1 and name = $2",
                    &[&key.kind.as_str(), &key.name],
                )
                .await
                .map(|row| row.map(|r| r.get(0)))
                .map_err(|e| self.failed(e))
        })
    }

    fn remove<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.client
                .execute(
                    "delete from mpt_records where kind = $1 and name = $2",
                    &[&key.kind.as_str(), &key.name],
                )
                .await
                .map(drop)
                .map_err(|e| self.failed(e))
        })
    }

    fn pending<'a>(
        &'a self,
        kind: Kind,
        accounts: &'a [String],
    ) -> BoxFuture<'a, Result<Pending, StoreError>> {
        Box::pin(async move {
            let rows = self
                .client
                .query(
                    "select name, account, body from mpt_records
                     where kind = $1 and account = any($2) order by name",
                    &[&kind.as_str(), &accounts],
                )
                .await
                .map_err(|e| self.failed(e))?;
            Ok(rows
                .into_iter()
                .map(|row| {
                    let key = Key {
                        kind,
                        name: row.get(0),
                        account: row.get(1),
                    };
                    (key, Ok(row.get(2)))
                })
                .collect())
        })
    }

    fn describe(&self, key: &Key) -> String {
        format!(
            "the record {}/{} of {}",
            key.kind.as_str(),
            key.name,
            self.location
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("postgres://ci:s3cret@127.0.0.1:5433/mpt"),
            "postgres://ci:***@127.0.0.1:5433/mpt"
        );
        assert_eq!(
            redact_url("postgres://ci@h/db?password=s3cret&sslmode=disable"),
            "postgres://ci@h/db?password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }
}
