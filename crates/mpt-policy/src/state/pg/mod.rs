//! The PostgreSQL store: records shared by every machine that applies the same accounts, and a
//! lock per account that lives exactly as long as the apply's session.
//!
//! The lock is a session-level advisory lock per account ([`lock`]: an exact key, no hash),
//! taken in account order. PostgreSQL releases it when the session ends, so an apply killed
//! with SIGKILL never leaves it held, and no lease or clock is needed. An apply acts only while
//! its session holds it: before each change it asks the store ([`Store::fence`]), and every
//! write checks, in the same statement, that this backend (`pg_backend_pid()`) still holds the
//! account's lock. A session found lost (terminated, a restarted server, a stalled backend or
//! network past the timeouts) is never used again: everything after fails with
//! [`StoreError::SessionLost`].
//!
//! Every statement is unnamed (`query_typed`, simple queries), so a pooler in session mode
//! passes it through; the schema is in [`schema`]; reaching the server in [`connect`].

mod connect;
mod lock;
mod owner;
mod schema;
mod session;
mod tls;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, Row};

pub use super::redact_url;
use super::{Key, Kind, Pending, Store, StoreError};
use connect::{ANSWER_TIMEOUT, Purpose};
pub use schema::SCHEMA_VERSION;

/// `url` without the TLS parameters tokio-postgres does not read (for finding its password).
pub(super) fn without_tls(url: &str) -> String {
    tls::split(url).map_or_else(|_| url.to_string(), |(plain, _)| plain)
}

/// The longest an apply's end waits for its locks to be given up (see [`Store::release`]).
const RELEASE_WAIT: Duration = Duration::from_secs(1);

/// How often a held lock is tried again while waiting.
const LOCK_POLL: Duration = Duration::from_millis(200);

/// A PostgreSQL database holding an apply's records, and (for an apply) the locks of its
/// accounts for as long as its session lives.
pub struct PgStore {
    client: Client,
    location: String,
    purpose: Purpose,
    /// Every secret of the connection (its password), scrubbed from every message.
    secrets: Vec<String>,
    /// `mpt`'s own URL parameters (a schema, no schema creation).
    ours: connect::Ours,
    /// The schema the store is in, pinned as the session's `search_path` ([`owner`]).
    schema: Option<String>,
    /// Whether the tables exist (false only for a plan on a fresh database: no records).
    tables: bool,
    connection: tokio::task::JoinHandle<()>,
    /// How the connection ended, as its task saw it.
    ended: Arc<Mutex<Option<String>>>,
    /// Why the session is not trusted any more, once it is not: nothing is sent on it again.
    lost: Mutex<Option<String>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The session ends, and its advisory locks with it.
        self.connection.abort();
    }
}

impl PgStore {
    /// Connects to the database of `url` (filled in from `PGHOST`, `PGPORT`, `PGUSER`,
    /// `PGDATABASE`; the password from the URL, `PGPASSWORD` or the password file), and, with
    /// `lock` (the longest wait), locks `accounts` for as long as the store is open and makes
    /// or migrates the schema. Without `lock` (a plan), nothing is written, made or locked,
    /// and a database without the tables holds no records.
    pub async fn connect(
        url: &str,
        accounts: &[String],
        lock: Option<Duration>,
    ) -> Result<PgStore, StoreError> {
        let location = redact_url(url);
        let purpose = match lock {
            Some(_) => Purpose::Apply,
            None => Purpose::Plan,
        };
        let connect::Setup {
            config,
            tls,
            ours,
            secrets,
        } = connect::config_of(url, &location, purpose)?;
        let ended = Arc::new(Mutex::new(None));
        let client =
            session::start(config.clone(), &tls, &location, &secrets, ended.clone()).await?;
        let mut store = PgStore {
            client: client.0,
            location,
            purpose,
            secrets,
            ours,
            schema: None,
            tables: true,
            connection: client.1,
            ended,
            lost: Mutex::new(None),
        };
        store.settings().await?;
        store.pin_schema().await?;
        match lock {
            None => store.tables = matches!(store.schema_found().await?, schema::Found::Version(_)),
            Some(wait) => {
                // A session lock needs a session of its own: no transaction pooling.
                store.check_session(&config, &tls).await?;
                let mut sorted: Vec<&String> = accounts.iter().collect();
                sorted.sort();
                sorted.dedup();
                for account in sorted {
                    store.lock(account, wait).await?;
                }
                store.migrate().await?;
                store.may_write().await?;
            }
        }
        Ok(store)
    }

    /// Runs `work` (a statement, `what` in words) within [`ANSWER_TIMEOUT`]. A session lost or
    /// not answering is marked lost, and nothing is sent on it again.
    async fn ask<T>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        if let Some(why) = self.lost_why() {
            return Err(self.lost_error(why));
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, work).await {
            Err(_) => Err(self.lose(format!(
                "{what}: no answer within {} s",
                ANSWER_TIMEOUT.as_secs()
            ))),
            Ok(Err(e)) if lost_session(&e) => {
                let mut why = connect::chain(&e);
                if let Some(ended) = self.ended.lock().ok().and_then(|e| e.clone())
                    && !why.contains(&ended)
                {
                    why.push_str(&format!(" ({ended})"));
                }
                Err(self.lose(format!("{what}: {why}")))
            }
            Ok(Err(e)) => Err(StoreError::Database {
                location: self.location.clone(),
                why: connect::scrub(&format!("{what}: {}", connect::chain(&e)), &self.secrets),
            }),
            Ok(Ok(v)) => Ok(v),
        }
    }

    fn lost_why(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }

    fn lost_error(&self, why: String) -> StoreError {
        StoreError::SessionLost {
            location: self.location.clone(),
            why,
        }
    }

    /// Marks the session lost for good, and says so.
    fn lose(&self, why: String) -> StoreError {
        let why = connect::scrub(&why, &self.secrets);
        if let Ok(mut lost) = self.lost.lock() {
            lost.get_or_insert(why.clone());
        }
        self.lost_error(why)
    }

    /// Column `i` of `row` as a `T`, or an error naming it (a row read back is never trusted
    /// to be of the shape asked for).
    fn column<'r, T: FromSql<'r>>(
        &self,
        row: &'r Row,
        i: usize,
        name: &str,
    ) -> Result<T, StoreError> {
        row.try_get(i).map_err(|e| StoreError::Database {
            location: self.location.clone(),
            why: format!("{name}: {}", connect::chain(&e)),
        })
    }

    /// Takes `account`'s lock, waiting up to `wait` for another apply to release it.
    async fn lock(&self, account: &str, wait: Duration) -> Result<(), StoreError> {
        let key = lock::key_of(account).map_err(|why| StoreError::BadLocation {
            location: self.location.clone(),
            why: why.to_string(),
        })?;
        let started = Instant::now();
        loop {
            let row = self
                .ask("taking the account's lock", async {
                    self.client
                        .query_typed_one(
                            "select pg_try_advisory_lock($1, $2)",
                            &[
                                (&lock::LOCK_CLASS, Type::INT4),
                                (&key.as_int4(), Type::INT4),
                            ],
                        )
                        .await
                })
                .await?;
            if self.column::<bool>(&row, 0, "pg_try_advisory_lock")? {
                return Ok(());
            }
            if started.elapsed() >= wait {
                return Err(StoreError::Locked {
                    account: account.to_string(),
                    holder: self.holder(key).await,
                });
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    /// Who holds the lock of `key`, as the server knows it.
    async fn holder(&self, key: lock::LockKey) -> String {
        let rows = self
            .ask("reading who holds the lock", async {
                self.client
                    .query_typed(lock::HOLDER, &[(&key.as_objid(), Type::INT8)])
                    .await
            })
            .await;
        match rows {
            Ok(rows) if !rows.is_empty() => rows
                .iter()
                .map(lock::holder_words)
                .collect::<Vec<_>>()
                .join("; "),
            Ok(_) => "a session that has just ended (try again)".into(),
            Err(e) => format!("a session this one cannot name ({e})"),
        }
    }

    /// That this session may write `account`'s records: an apply's, not lost.
    fn writer_key(&self, account: &str) -> Result<lock::LockKey, StoreError> {
        if self.purpose == Purpose::Plan {
            return Err(StoreError::Refused(format!(
                "state store {}: opened for a plan, which never writes",
                self.location
            )));
        }
        lock::key_of(account).map_err(|why| StoreError::BadLocation {
            location: self.location.clone(),
            why: why.to_string(),
        })
    }

    /// A write's answer: whether this session held the lock (`ok`). Not held: the session is
    /// lost for good.
    fn held(&self, row: &Row, account: &str) -> Result<(), StoreError> {
        match self.column::<bool>(row, 0, "held")? {
            true => Ok(()),
            false => Err(self.lose(format!(
                "this session no longer holds the lock of account {account}"
            ))),
        }
    }
}

/// Whether `e` means the session is gone: the connection closed or broken, or the server
/// ending it (SQLSTATE classes 08 and 57: a terminated backend, a shutdown).
fn lost_session(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => code.code().starts_with("08") || code.code().starts_with("57"),
        // Not an error of the server: the connection itself failed (I/O, a broken answer).
        None => e.as_db_error().is_none() && std::error::Error::source(e).is_some(),
    }
}

impl Store for PgStore {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let lock = self.writer_key(&key.account)?;
            let sql = format!(
                "with held as (select {} as ok),
                 written as (
                   insert into mpt_records (kind, name, account, body)
                   select $2, $3, $4, $5 from held where ok
                   on conflict (kind, name) do update
                   set account = excluded.account, body = excluded.body, updated_at = now()
                   returning 1)
                 select ok, (select count(*) from written) from held",
                lock::HELD
            );
            let row = self
                .ask("saving a record", async {
                    self.client
                        .query_typed_one(
                            &sql,
                            &[
                                (&lock.as_objid(), Type::INT8),
                                (&key.kind.as_str(), Type::TEXT),
                                (&key.name, Type::TEXT),
                                (&key.account, Type::TEXT),
                                (&json, Type::TEXT),
                            ],
                        )
                        .await
                })
                .await?;
            self.held(&row, &key.account)
        })
    }

    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            if !self.tables {
                return Ok(None);
            }
            let row = self
                .ask("reading a record", async {
                    self.client
                        .query_typed_opt(
                            "select body from mpt_records where kind = $1 and name = $2",
                            &[(&key.kind.as_str(), Type::TEXT), (&key.name, Type::TEXT)],
                        )
                        .await
                })
                .await?;
            row.map(|r| self.column::<String>(&r, 0, "mpt_records.body"))
                .transpose()
        })
    }

    fn remove<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let lock = self.writer_key(&key.account)?;
            let sql = format!(
                "with held as (select {} as ok),
                 gone as (
                   delete from mpt_records where kind = $2 and name = $3
                   and (select ok from held) returning 1)
                 select ok, (select count(*) from gone) from held",
                lock::HELD
            );
            let row = self
                .ask("removing a record", async {
                    self.client
                        .query_typed_one(
                            &sql,
                            &[
                                (&lock.as_objid(), Type::INT8),
                                (&key.kind.as_str(), Type::TEXT),
                                (&key.name, Type::TEXT),
                            ],
                        )
                        .await
                })
                .await?;
            self.held(&row, &key.account)
        })
    }

    fn pending<'a>(
        &'a self,
        kind: Kind,
        accounts: &'a [String],
    ) -> BoxFuture<'a, Result<Pending, StoreError>> {
        Box::pin(async move {
            if !self.tables {
                return Ok(Vec::new());
            }
            let rows = self
                .ask("reading the records", async {
                    self.client
                        .query_typed(
                            "select name, account, body from mpt_records
                             where kind = $1 and account = any($2) order by name",
                            &[(&kind.as_str(), Type::TEXT), (&accounts, Type::TEXT_ARRAY)],
                        )
                        .await
                })
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let key = Key {
                    kind,
                    name: self.column(&row, 0, "mpt_records.name")?,
                    account: self.column(&row, 1, "mpt_records.account")?,
                };
                let body = self.column::<String>(&row, 2, "mpt_records.body");
                out.push((key, body));
            }
            Ok(out)
        })
    }

    fn fence<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let lock = self.writer_key(account)?;
            let sql = format!("select {}", lock::HELD);
            let row = self
                .ask("checking the account's lock", async {
                    self.client
                        .query_typed_one(&sql, &[(&lock.as_objid(), Type::INT8)])
                        .await
                })
                .await?;
            self.held(&row, account)
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

    fn release(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // A session lost already holds nothing; a stalled one is not waited for long (its
            // end, when the store is dropped, releases them too).
            if matches!(self.purpose, Purpose::Apply) && self.lost_why().is_none() {
                let unlock = self.client.batch_execute("select pg_advisory_unlock_all()");
                let _ = tokio::time::timeout(RELEASE_WAIT, unlock).await;
            }
        })
    }

    fn strays<'a>(&'a self, accounts: &'a [String]) -> BoxFuture<'a, Vec<super::Stray>> {
        Box::pin(async move {
            if !self.tables {
                return Vec::new();
            }
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            let rows = self
                .ask("reading the records of unknown kinds", async {
                    self.client
                        .query_typed(
                            "select kind, name from mpt_records
                             where kind <> all($1) and account = any($2) order by kind, name",
                            &[(&known, Type::TEXT_ARRAY), (&accounts, Type::TEXT_ARRAY)],
                        )
                        .await
                })
                .await;
            // A failed read shows no stray: the store's own reads say what failed.
            let Ok(rows) = rows else { return Vec::new() };
            rows.iter()
                .filter_map(|row| {
                    let kind: String = row.try_get(0).ok()?;
                    let name: String = row.try_get(1).ok()?;
                    let at = format!("the record {kind}/{name} of {}", self.location);
                    Some(super::Stray { kind, name, at })
                })
                .collect()
        })
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
