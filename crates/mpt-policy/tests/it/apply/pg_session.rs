//! The PostgreSQL store's session against what a server or another role can do to it: a
//! database's `idle_session_timeout` (the session idles on purpose, holding its locks), and
//! look-alike tables of another role's found first by the default `search_path`.

use std::time::Duration;

use mpt_policy::StoreError;
use mpt_policy::state::{self, Key, StateLocation};
use mpt_testpg::TestPostgres;

use crate::common::*;

/// The test database's name (roles are the cluster's: named after it, so tests sharing a
/// server do not meet).
fn db_name(pg: &TestPostgres) -> String {
    pg.url().rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn a_database_that_ends_idle_sessions_does_not_end_an_applys() {
    let Some(pg) =
        TestPostgres::start_or_skip("a_database_that_ends_idle_sessions_does_not_end_an_applys")
    else {
        return;
    };
    let version: u32 = pg
        .sql("show server_version_num")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if version < 140000 {
        eprintln!("skipped: idle_session_timeout is PostgreSQL 14+ (server {version})");
        return;
    }
    let db = db_name(&pg);
    pg.sql(&format!(
        "alter database {db} set idle_session_timeout = '1s'"
    ))
    .unwrap();
    let accounts = vec![DEFAULT_ACCOUNT.to_string()];
    let store = state::open(
        &StateLocation::parse(pg.url()),
        &accounts,
        Some(Duration::ZERO),
    )
    .await
    .unwrap();
    // A sink that takes longer than the database lets a session idle.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let key = Key::create(DEFAULT_ACCOUNT, "n");
    store.save(&key, "{}").await.unwrap();
    store.fence(DEFAULT_ACCOUNT).await.unwrap();
    assert_eq!(store.load(&key).await.unwrap().as_deref(), Some("{}"));
}

#[tokio::test]
async fn another_roles_look_alike_store_first_in_the_search_path_is_refused() {
    let Some(pg) = TestPostgres::start_or_skip(
        "another_roles_look_alike_store_first_in_the_search_path_is_refused",
    ) else {
        return;
    };
    let (db, accounts) = (db_name(&pg), vec![DEFAULT_ACCOUNT.to_string()]);
    let real = StateLocation::parse(pg.url());
    let key = Key::create(DEFAULT_ACCOUNT, "n");
    let store = state::open(&real, &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    store.save(&key, "{}").await.unwrap();
    drop(store);
    // A role with only CREATE on the database: a schema named as the user ("$user", first in
    // the default search_path), look-alike tables, and a trigger that would run as us.
    let evil = format!("evil_{db}");
    pg.sql(&format!(
        "create role {evil}; grant create on database {db} to {evil}; set role {evil};
         create schema mpt; grant usage on schema mpt to public;
         create table mpt.mpt_schema (version integer not null);
         insert into mpt.mpt_schema values (2);
         create table mpt.mpt_records (kind text not null, name text not null,
             account text not null, body text not null,
             updated_at timestamptz not null default now(), primary key (kind, name));
         create function mpt.spy() returns trigger language plpgsql
             as $$ begin raise exception 'the trigger ran as %', current_user; end $$;
         create trigger spy before insert or update on mpt.mpt_records
             for each row execute function mpt.spy();
         grant all on mpt.mpt_records, mpt.mpt_schema to public"
    ))
    .unwrap();
    for lock in [None, Some(Duration::ZERO)] {
        let err = state::open(&real, &accounts, lock).await.err().unwrap();
        let said = err.to_string();
        assert!(matches!(err, StoreError::BadSchema { .. }), "{err:?}");
        for part in [
            format!("schema mpt is owned by the role {evil}"),
            format!("table mpt.mpt_records is owned by the role {evil}"),
            "has a trigger spy".to_string(),
        ] {
            assert!(said.contains(&part), "{part}: {said}");
        }
    }
    // Named, the real store is there as it was.
    let public = StateLocation::parse(&format!("{}?schema=public", pg.url()));
    let store = state::open(&public, &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(store.load(&key).await.unwrap().as_deref(), Some("{}"));
}

#[tokio::test]
async fn tables_of_a_role_we_are_a_member_of_are_ours_and_a_trigger_is_not() {
    let Some(pg) = TestPostgres::start_or_skip(
        "tables_of_a_role_we_are_a_member_of_are_ours_and_a_trigger_is_not",
    ) else {
        return;
    };
    let (db, accounts) = (db_name(&pg), vec![DEFAULT_ACCOUNT.to_string()]);
    let made = StateLocation::parse(&format!("{}?schema=kept", pg.url()));
    drop(
        state::open(&made, &accounts, Some(Duration::ZERO))
            .await
            .unwrap(),
    );
    // Handed to a role the apply's role is a member of (an administrator's, say).
    let keeper = format!("keeper_{db}");
    pg.sql(&format!(
        "create role {keeper}; grant {keeper} to mpt;
         alter schema kept owner to {keeper};
         alter table kept.mpt_schema owner to {keeper};
         alter table kept.mpt_records owner to {keeper}"
    ))
    .unwrap();
    let skip = StateLocation::parse(&format!(
        "{}?schema=kept&skip_schema_creation=true",
        pg.url()
    ));
    let store = state::open(&skip, &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    let key = Key::create(DEFAULT_ACCOUNT, "n");
    store.save(&key, "{}").await.unwrap();
    drop(store);
    pg.sql(
        "create function kept.noop() returns trigger language plpgsql as $$ begin return new; end $$;
         create trigger audit after insert on kept.mpt_records
             for each row execute function kept.noop()",
    )
    .unwrap();
    let err = state::open(&skip, &accounts, None).await.err().unwrap();
    assert!(
        err.to_string()
            .contains("table kept.mpt_records has a trigger audit"),
        "{err}"
    );
}

#[tokio::test]
async fn transaction_pooling_with_warm_backends_in_turn_is_refused_and_holds_no_lock() {
    let test = "transaction_pooling_with_warm_backends_in_turn_is_refused_and_holds_no_lock";
    let Some(pg) = TestPostgres::start_or_skip(test) else {
        return;
    };
    let Some(bouncer) = pg.pgbouncer_or_skip(test) else {
        return;
    };
    let url = bouncer.url("transaction");
    // Two backends in the pool, idle: two clients at once make them.
    let warm: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(pg.bin().join("psql"))
                .args(["-X", "-q", "-A", "-t", "-d", &url])
                .args(["-c", "select pg_sleep(1)"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut client in warm {
        assert!(client.wait().unwrap().success());
    }
    let accounts = vec![DEFAULT_ACCOUNT.to_string()];
    for _ in 0..3 {
        let err = state::open(&StateLocation::parse(&url), &accounts, Some(Duration::ZERO))
            .await
            .err()
            .unwrap();
        let said = err.to_string();
        assert!(
            said.contains("pooler") && said.contains("pool_mode = session"),
            "{said}"
        );
    }
    // No lock left on a pooled backend: a direct apply takes the account. Only this test's
    // database is counted: with `MPT_TEST_POSTGRES` (CI) other tests' databases share the
    // server, and their applies hold locks of their own.
    assert_eq!(
        pg.sql(
            "select count(*) from pg_locks where locktype = 'advisory' \
             and database = (select oid from pg_database where datname = current_database())"
        )
        .unwrap()
        .trim(),
        "0"
    );
    state::open(
        &StateLocation::parse(pg.url()),
        &accounts,
        Some(Duration::ZERO),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_role_that_may_only_read_the_records_is_refused_at_an_applys_start() {
    let Some(pg) = TestPostgres::start_or_skip(
        "a_role_that_may_only_read_the_records_is_refused_at_an_applys_start",
    ) else {
        return;
    };
    let (db, accounts) = (db_name(&pg), vec![DEFAULT_ACCOUNT.to_string()]);
    drop(
        state::open(
            &StateLocation::parse(pg.url()),
            &accounts,
            Some(Duration::ZERO),
        )
        .await
        .unwrap(),
    );
    let reader = format!("reader_{db}");
    pg.sql(&format!(
        "create role {reader} login; grant select on mpt_records, mpt_schema to {reader}"
    ))
    .unwrap();
    let url = pg.url().replacen("://mpt@", &format!("://{reader}@"), 1);
    // A plan reads.
    state::open(&StateLocation::parse(&url), &accounts, None)
        .await
        .unwrap();
    let err = state::open(&StateLocation::parse(&url), &accounts, Some(Duration::ZERO))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::BadSchema { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("lacks insert on mpt_records, update on mpt_records, delete on mpt_records"),
        "{err}"
    );
}
