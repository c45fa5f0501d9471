//! The schema: made by the first apply, migrated in order by an apply (one at a time, under
//! the schema's own lock, in one transaction), only read by a plan. A version this `mpt` does
//! not know (newer, or nonsense such as 0 or -7) is refused, never misread.
//!
//! ```text
//! version 1  mpt_schema (version), mpt_records (kind, name, account, body, updated_at),
//!            mpt_holders (account, host, pid, since)
//! version 2  mpt_holders dropped: who holds a lock is read from pg_locks and pg_stat_activity
//! ```

use super::lock::{LOCK_CLASS, SCHEMA_KEY};
use super::{PgStore, StoreError};

/// The schema version this `mpt` writes and reads.
pub const SCHEMA_VERSION: i32 = 2;

/// The first version's tables (made when there are none, then migrated).
const VERSION_1: &str = "create table if not exists mpt_schema (version integer not null);
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
     insert into mpt_schema (version) select 1 where not exists (select 1 from mpt_schema);";

/// Each migration: the version it makes, and its SQL (from the version before it).
const MIGRATIONS: &[(i32, &str)] = &[(2, "drop table if exists mpt_holders;")];

/// What the database holds.
pub(super) enum Found {
    /// No tables of `mpt` (a fresh database).
    Nothing,
    /// The tables, at this version (one this `mpt` reads).
    Version(i32),
}

impl PgStore {
    /// The schema's version, checked: `Nothing` when there are no tables, an error for a
    /// version this `mpt` does not know.
    pub(super) async fn schema_found(&self) -> Result<Found, StoreError> {
        self.owned_by_us().await?;
        let made = self
            .ask("looking for the schema", async {
                self.client
                    .query_typed_one("select to_regclass('mpt_schema') is not null", &[])
                    .await
            })
            .await?;
        if !self.column::<bool>(&made, 0, "to_regclass")? {
            return self.nothing_foreign().await.map(|()| Found::Nothing);
        }
        let row = self
            .ask("reading the schema's version", async {
                self.client
                    .query_typed_one("select max(version) from mpt_schema", &[])
                    .await
            })
            .await?;
        match self.column::<Option<i32>>(&row, 0, "mpt_schema.version")? {
            Some(v) if v > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                location: self.location.clone(),
                found: v,
                known: SCHEMA_VERSION,
            }),
            Some(v) if v >= 1 => self.tables_whole().await.map(|()| Found::Version(v)),
            other => Err(StoreError::BadSchema {
                location: self.location.clone(),
                why: format!(
                    "mpt_schema holds version {}, which no mpt writes (1 to {SCHEMA_VERSION}); refused, never misread",
                    other.map_or("null".to_string(), |v| v.to_string())
                ),
            }),
        }
    }

    /// Without `mpt_schema` (our marker), no table of ours may be there: a same-named table
    /// is someone else's (or a damaged store), refused, never adopted.
    async fn nothing_foreign(&self) -> Result<(), StoreError> {
        for table in ["mpt_records", "mpt_holders"] {
            let row = self
                .ask("looking for the schema's tables", async {
                    self.client
                        .query_typed_one(
                            "select to_regclass($1) is not null",
                            &[(&table, tokio_postgres::types::Type::TEXT)],
                        )
                        .await
                })
                .await?;
            if self.column::<bool>(&row, 0, "to_regclass")? {
                // The server's own words on its shape, when it is not mpt's.
                let shape = match (table, self.tables_whole().await) {
                    ("mpt_records", Err(e)) => format!(" ({e})"),
                    _ => String::new(),
                };
                return Err(StoreError::BadSchema {
                    location: self.location.clone(),
                    why: format!(
                        "a table {table} is there without mpt's schema marker (mpt_schema): it is not mpt's, or the store is damaged; refused, never adopted (use another schema=NAME, or move that table){shape}"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The tables the schema's version says are there, with their columns: a dropped table
    /// or column is the server's error (its message and SQLSTATE), before anything is read as
    /// records (a missing table would read as no records, a damaged one as pending work).
    async fn tables_whole(&self) -> Result<(), StoreError> {
        self.ask("checking the table mpt_records (kind, name, account, body, updated_at)", async {
            self.client
                .query_typed(
                    "select kind::text, name::text, account::text, body::text, updated_at::timestamptz from mpt_records where false",
                    &[],
                )
                .await
        })
        .await?;
        Ok(())
    }

    /// Makes the schema, or migrates it to [`SCHEMA_VERSION`]: one apply at a time (the
    /// schema's lock), in one transaction.
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        let found = self.schema_found().await?;
        if let Found::Version(SCHEMA_VERSION) = found {
            return Ok(());
        }
        if self.ours.skip_creation {
            return Err(StoreError::BadSchema {
                location: self.location.clone(),
                why: match found {
                    Found::Nothing => format!(
                        "no tables of mpt, and skip_schema_creation is set: have a role that may create them run one apply without it (schema version {SCHEMA_VERSION})"
                    ),
                    Found::Version(v) => format!(
                        "schema version {v}, older than this mpt's ({SCHEMA_VERSION}), and skip_schema_creation is set: have a role that may migrate it run one apply without it"
                    ),
                },
            });
        }
        // One simple query: one implicit transaction, all or nothing.
        let mut sql = format!("select pg_advisory_xact_lock({LOCK_CLASS}, {SCHEMA_KEY});\n");
        if let Some(schema) = &self.ours.schema {
            sql.push_str(&format!("create schema if not exists \"{schema}\";\n"));
        }
        sql.push_str(VERSION_1);
        sql.push('\n');
        for (version, step) in MIGRATIONS {
            sql.push_str(&format!(
                "do $$ begin if (select max(version) from mpt_schema) < {version} then execute $step${step}$step$; update mpt_schema set version = {version}; end if; end $$;\n"
            ));
        }
        let sql = self.creating_in(&sql);
        self.ask("making or migrating the schema", async {
            self.client.batch_execute(&sql).await
        })
        .await?;
        match self.schema_found().await? {
            Found::Version(SCHEMA_VERSION) => Ok(()),
            _ => Err(StoreError::BadSchema {
                location: self.location.clone(),
                why: format!("the schema is not at version {SCHEMA_VERSION} after its migration"),
            }),
        }
    }
}
