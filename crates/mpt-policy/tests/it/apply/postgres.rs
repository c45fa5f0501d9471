//! The PostgreSQL state store against a real server (a cluster of the test's own, or the one
//! `.ci/run` started): its schema, its locks, records shared between applies, and no secret in
//! the database.

use std::path::Path;
use std::time::Duration;

use futures_util::future::BoxFuture;
use mpt_policy::state::{self, Key, Kind, StateLocation};
use mpt_policy::{Applied, ApplyError, ApplyOptions, StoreError};
use mpt_testpg::TestPostgres;

use super::*;
use crate::common::*;

fn location(pg: &TestPostgres) -> StateLocation {
    StateLocation::parse(pg.url())
}

#[tokio::test]
async fn the_schema_is_made_once_and_a_newer_one_is_refused() {
    let Some(pg) =
        TestPostgres::start_or_skip("the_schema_is_made_once_and_a_newer_one_is_refused")
    else {
        return;
    };
    let accounts = vec![DEFAULT_ACCOUNT.to_string()];
    // Made on first use, and used again as it is.
    for _ in 0..2 {
        let store = state::open(&location(&pg), &accounts, Some(Duration::ZERO))
            .await
            .unwrap();
        let key = Key::create(DEFAULT_ACCOUNT, "n");
        store.save(&key, "{}").await.unwrap();
        assert_eq!(store.load(&key).await.unwrap().as_deref(), Some("{}"));
        let pending = store.pending(Kind::Create, &accounts).await.unwrap();
        assert_eq!(pending.len(), 1);
        // Another policy's accounts see none of them.
        let others = store
            .pending(Kind::Create, &["ACC-9999-9999".to_string()])
            .await
            .unwrap();
        assert!(others.is_empty());
    }
    assert_eq!(
        pg.sql("select version from mpt_schema").unwrap().trim(),
        state::SCHEMA_VERSION.to_string()
    );
    pg.sql("update mpt_schema set version = 99").unwrap();
    let err = state::open(&location(&pg), &accounts, None)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer mpt"), "{err}");
}

#[tokio::test]
async fn an_account_is_held_by_one_apply_at_a_time_and_released_with_its_session() {
    let Some(pg) = TestPostgres::start_or_skip(
        "an_account_is_held_by_one_apply_at_a_time_and_released_with_its_session",
    ) else {
        return;
    };
    let accounts = vec![DEFAULT_ACCOUNT.to_string()];
    let first = state::open(&location(&pg), &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    let err = state::open(&location(&pg), &accounts, Some(Duration::ZERO))
        .await
        .err()
        .unwrap();
    let StoreError::Locked { account, holder } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(account, DEFAULT_ACCOUNT);
    assert!(
        holder.contains(&format!("pid {}", std::process::id())) && holder.contains("since"),
        "{holder}"
    );
    // A plan takes no lock.
    state::open(&location(&pg), &accounts, None).await.unwrap();
    // Waiting: the lock is taken once the first session ends.
    let waiting = tokio::spawn({
        let at = location(&pg);
        let accounts = accounts.clone();
        async move {
            state::open(&at, &accounts, Some(Duration::from_secs(20)))
                .await
                .map(drop)
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(first);
    waiting.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_apply_with_the_database_state_converges_and_keeps_no_secret_there() {
    let Some(pg) = TestPostgres::start_or_skip(
        "an_apply_with_the_database_state_converges_and_keeps_no_secret_there",
    ) else {
        return;
    };
    let (server, client) = start().await;
    let dir = temp_dir("pg-apply");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let text = |sink: &str| {
        format!(
            "state = \"{}\"\n[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"shared\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n",
            pg.url()
        )
    };
    let failing = policy(&text(r#"{ command = ["sh", "-c", "exit 3"] }"#));
    let options = ApplyOptions::new(failing.state.clone().unwrap());
    let report = client.apply(&failing, None, &options).await.unwrap();
    // Its locks were given up before it returned, not left to its session's close (which this
    // runtime has not run yet: `psql` blocks its only thread): the next apply of the account,
    // right after, finds them free even without waiting.
    assert_eq!(
        // This test's database only: a shared server holds other tests' locks.
        pg.sql("select count(*) from pg_locks l join pg_database d on d.oid = l.database where l.locktype = 'advisory' and d.datname = current_database()")
            .unwrap()
            .trim(),
        "0"
    );
    let made = result_of(&report.results, "shared");
    assert_eq!(made.result, Applied::Failed, "{made:#?}");
    let id = made.new_token_id.clone().unwrap();
    // The record is in the database, and no secret is.
    let dump = pg.dump().unwrap();
    assert!(dump.contains(&id), "the record names the token");
    assert!(!dump.contains("idt:"), "a secret in the database");
    // The next apply reads the secret from the platform and hands it over: no second token.
    let working = policy(&text(&format!(
        r#"{{ file = "{}" }}"#,
        out.join("shared.secret").display()
    )));
    let report = client.apply(&working, None, &options).await.unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(secret_owner(&out.join("shared.secret")), id);
    assert_eq!(server.tokens_created(), 1);
    assert_eq!(
        pg.sql("select count(*) from mpt_records").unwrap().trim(),
        "0"
    );
    assert!(!pg.dump().unwrap().contains("idt:"));
    // A second apply while this test holds the account is refused at once.
    let holder = state::open(
        &location(&pg),
        &[DEFAULT_ACCOUNT.to_string()],
        Some(Duration::ZERO),
    )
    .await
    .unwrap();
    let err = client.apply(&working, None, &options).await.unwrap_err();
    assert!(
        matches!(err, ApplyError::Store(StoreError::Locked { .. })),
        "{err:?}"
    );
    drop(holder);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn accounts_whose_hashes_collide_have_locks_of_their_own() {
    let Some(pg) =
        TestPostgres::start_or_skip("accounts_whose_hashes_collide_have_locks_of_their_own")
    else {
        return;
    };
    // hashtext() gives these two one 32-bit key.
    let hashes = pg
        .sql("select hashtext('ACC-0002-4867') = hashtext('ACC-0017-1018')")
        .unwrap();
    assert_eq!(hashes.trim(), "t");
    let one = state::open(
        &location(&pg),
        &["ACC-0002-4867".to_string()],
        Some(Duration::ZERO),
    )
    .await
    .unwrap();
    let other = state::open(
        &location(&pg),
        &["ACC-0017-1018".to_string()],
        Some(Duration::ZERO),
    )
    .await;
    assert!(other.is_ok(), "{:?}", other.err());
    // Each holds its own: the lock shows in pg_locks under the class `mpt`, its key the id's
    // digits and dashes read as a bijective base-11 number (other tests may hold other keys of
    // the class on a shared server).
    let key = |id: &str| {
        id.trim_start_matches("ACC-").chars().fold(0u64, |key, c| {
            key * 11 + c.to_digit(10).map_or(11, |d| u64::from(d) + 1)
        })
    };
    let held = pg
        .sql(&format!(
            "select count(*) from pg_locks where locktype = 'advisory' and classid = 7172212 \
             and objsubid = 2 and objid in ({}, {})",
            key("ACC-0002-4867"),
            key("ACC-0017-1018")
        ))
        .unwrap();
    assert_eq!(held.trim(), "2");
    // A held one names its holder from the server: who, since when, idle for how long.
    let err = state::open(
        &location(&pg),
        &["ACC-0002-4867".to_string()],
        Some(Duration::ZERO),
    )
    .await
    .err()
    .unwrap();
    let said = err.to_string();
    // Idle for a moment only: not called frozen (that, with `pg_terminate_backend`, is past
    // 30 s).
    assert!(
        said.contains("mpt apply on")
            && said.contains("idle for")
            && said.contains("between two requests")
            && !said.contains("frozen"),
        "{said}"
    );
    drop(one);
}

#[tokio::test]
async fn a_plan_reads_a_fresh_or_read_only_database_and_writes_nothing() {
    let Some(pg) = TestPostgres::start_or_skip(
        "a_plan_reads_a_fresh_or_read_only_database_and_writes_nothing",
    ) else {
        return;
    };
    let accounts = vec![DEFAULT_ACCOUNT.to_string()];
    let db = pg.url().rsplit('/').next().unwrap().to_string();
    pg.sql(&format!(
        "alter database {db} set default_transaction_read_only = on"
    ))
    .unwrap();
    let plan = state::open(&location(&pg), &accounts, None).await.unwrap();
    assert!(
        plan.pending(Kind::Create, &accounts)
            .await
            .unwrap()
            .is_empty()
    );
    let key = Key::create(DEFAULT_ACCOUNT, "n");
    assert_eq!(plan.load(&key).await.unwrap(), None);
    assert!(plan.save(&key, "{}").await.is_err(), "a plan wrote");
    assert_eq!(
        pg.sql("select count(*) from pg_tables where tablename like 'mpt%'")
            .unwrap()
            .trim(),
        "0"
    );
    // An apply is refused in the server's words, with the SQLSTATE.
    let err = state::open(&location(&pg), &accounts, Some(Duration::ZERO))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, StoreError::Database { .. }) && err.to_string().contains("SQLSTATE 25006"),
        "{err}"
    );
    // The plan's connection says it is a plan.
    let named = pg
        .sql("select count(*) from pg_stat_activity where application_name like 'mpt plan on %'")
        .unwrap();
    assert_eq!(named.trim(), "1");
    drop(plan);
}

/// Opens `url` for a plan (no lock, no write): the connection and nothing else.
async fn reach(url: &str) -> Result<(), StoreError> {
    state::open(
        &StateLocation::parse(url),
        &[DEFAULT_ACCOUNT.to_string()],
        None,
    )
    .await
    .map(drop)
}

#[tokio::test]
async fn tls_and_logins_as_libpq_means_them_with_the_tests_own_ca() {
    let Some((pg, tls)) =
        TestPostgres::start_tls_or_skip("tls_and_logins_as_libpq_means_them_with_the_tests_own_ca")
    else {
        return;
    };
    let (port, db) = port_and_db(&pg);
    let (ca, other) = (tls.ca.display(), tls.other_ca.display());
    let url = |user: &str, host: &str, query: &str| {
        format!("postgres://{user}@{host}:{port}/{db}?{query}")
    };
    // verify-full, to the name on the certificate (localhost, reached at 127.0.0.1).
    let named = "localhost";
    reach(&url(
        "tlsonly",
        named,
        &format!("hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    // A name the certificate is not for: refused; verify-ca does not check the name.
    let err = reach(&url(
        "tlsonly",
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    reach(&url(
        "tlsonly",
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    // Another CA: refused, verify-ca too.
    for mode in ["verify-ca", "verify-full"] {
        let err = reach(&url(
            "tlsonly",
            named,
            &format!("hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={other}"),
        ))
        .await
        .unwrap_err();
        assert!(err.to_string().contains("certificate"), "{mode}: {err}");
    }
    // A role allowed only over TLS: refused without it, let in with require, prefer or allow.
    let err = reach(&url("tlsonly", "127.0.0.1", "sslmode=disable"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Auth { .. }) && err.to_string().contains("SQLSTATE 28000"),
        "{err}"
    );
    for mode in ["require", "prefer", "allow"] {
        reach(&url("tlsonly", "127.0.0.1", &format!("sslmode={mode}")))
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
    }
    // Logins: a wrong password is named as one (never shown), a right one works.
    let wrong = "Wrong-Pass-9";
    let err = reach(&url(
        &format!("secret:{wrong}"),
        "127.0.0.1",
        "sslmode=disable",
    ))
    .await
    .unwrap_err();
    let said = err.to_string();
    assert!(
        matches!(err, StoreError::Auth { .. }) && said.contains("28P01") && !said.contains(wrong),
        "{said}"
    );
    let right = mpt_testpg::SECRET_PASSWORD;
    reach(&url(
        &format!("secret:{right}"),
        "127.0.0.1",
        "sslmode=require",
    ))
    .await
    .unwrap();
}

/// The port and database of `pg`'s URL.
fn port_and_db(pg: &TestPostgres) -> (String, String) {
    let rest = pg.url().rsplit_once(':').unwrap().1;
    let (port, db) = rest.split_once('/').unwrap();
    (port.to_string(), db.to_string())
}

#[tokio::test]
async fn a_client_certificate_of_the_servers_ca_lets_its_role_in_and_nothing_else_does() {
    let Some((pg, tls)) = TestPostgres::start_tls_or_skip(
        "a_client_certificate_of_the_servers_ca_lets_its_role_in_and_nothing_else_does",
    ) else {
        return;
    };
    let (port, db) = port_and_db(&pg);
    let (role, ca) = (mpt_testpg::CERT_ROLE, tls.ca.display());
    let url = |query: &str| {
        format!(
            "postgres://{role}@localhost:{port}/{db}?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}{query}"
        )
    };
    let pair =
        |cert: &Path, key: &Path| format!("&sslcert={}&sslkey={}", cert.display(), key.display());
    // No error may show a line of either key (its PEM body), in its Display or its Debug.
    let key_lines: Vec<String> = [&tls.client_key, &tls.stranger_key]
        .iter()
        .flat_map(|k| {
            std::fs::read_to_string(k)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let refused = |err: &StoreError| {
        let said = format!("{err} {err:?}");
        for line in &key_lines {
            // As text, or as a list of bytes (how a PEM parser's errors print what they read).
            let bytes = format!("{:?}", &line.as_bytes()[..line.len().min(8)]);
            let bytes = bytes.trim_matches(['[', ']']);
            assert!(
                !said.contains(line.as_str()) && !said.contains(bytes),
                "a key shown: {said}"
            );
        }
        err.to_string()
    };
    // The CA's certificate for the role (its key PKCS#8 PEM, as rcgen writes it): a plan's
    // connection, and an apply that makes the schema, holds the account and creates a token.
    let good = url(&pair(&tls.client_cert, &tls.client_key));
    reach(&good).await.unwrap();
    let (server, client) = start().await;
    let declared = policy(&format!(
        "state = \"{good}\"\n[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"by-certificate\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
    ));
    let options = ApplyOptions::new(declared.state.clone().unwrap());
    let report = client.apply(&declared, None, &options).await.unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(server.tokens_created(), 1);
    assert_eq!(
        pg.sql("select count(*) from mpt_schema").unwrap().trim(),
        "1"
    );
    // No certificate: the server's refusal, its SQLSTATE and words.
    let err = reach(&url("")).await.unwrap_err();
    let said = refused(&err);
    assert!(
        matches!(err, StoreError::Auth { .. })
            && said.contains("connection requires a valid client certificate (SQLSTATE 28000)"),
        "{said}"
    );
    // Another CA's certificate: refused in the handshake, named as such.
    let err = reach(&url(&pair(&tls.stranger_cert, &tls.stranger_key)))
        .await
        .unwrap_err();
    let said = refused(&err);
    assert!(
        matches!(err, StoreError::Auth { .. })
            && said.contains("refused the client certificate")
            && said.contains("UnknownCA")
            && said.contains(&format!("sslcert {}", tls.stranger_cert.display())),
        "{said}"
    );
    // A certificate without its key, or a key without its certificate: refused before any
    // connection, the file named.
    for half in [
        format!("&sslcert={}", tls.client_cert.display()),
        format!("&sslkey={}", tls.client_key.display()),
    ] {
        let err = reach(&url(&half)).await.unwrap_err();
        let said = refused(&err);
        assert!(
            matches!(err, StoreError::BadLocation { .. })
                && said.contains("sslcert and sslkey go together"),
            "{said}"
        );
    }
    // Another certificate's key, a key cut short, mangled or on one line, the certificate
    // where the key belongs (and the key where the certificate does): refused before any
    // connection, naming the file and what is wrong, never showing the key.
    let dir = temp_dir("pg-client-key");
    let text = std::fs::read_to_string(&tls.client_key).unwrap();
    let bad_keys = [
        ("cut", text[..text.len() / 2].to_string()),
        ("mangled", text.replacen("\n", "\n*", 2)),
        ("one-line", text.replace('\n', "")),
    ];
    let mut cases = vec![(
        tls.client_cert.clone(),
        tls.stranger_key.clone(),
        "not the key of sslcert",
    )];
    for (name, body) in bad_keys {
        let path = dir.join(format!("{name}.key"));
        std::fs::write(&path, body).unwrap();
        cases.push((tls.client_cert.clone(), path, "sslkey"));
    }
    cases.push((
        tls.client_cert.clone(),
        tls.client_cert.clone(),
        "no private key in it",
    ));
    cases.push((
        tls.client_key.clone(),
        tls.client_key.clone(),
        "no certificate in it",
    ));
    for (cert, key, why) in cases {
        let err = reach(&url(&pair(&cert, &key))).await.unwrap_err();
        let said = refused(&err);
        let named = if why == "no certificate in it" {
            &cert
        } else {
            &key
        };
        assert!(
            matches!(err, StoreError::BadLocation { .. })
                && said.contains(why)
                && said.contains(&named.display().to_string()),
            "{said}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn pgbouncer_in_session_mode_works_and_transaction_pooling_is_refused() {
    let test = "pgbouncer_in_session_mode_works_and_transaction_pooling_is_refused";
    let Some(pg) = TestPostgres::start_or_skip(test) else {
        return;
    };
    let Some(bouncer) = pg.pgbouncer_or_skip(test) else {
        return;
    };
    let accounts = vec![DEFAULT_ACCOUNT.to_string()];
    // Session pooling: a session of its own; unnamed statements pass.
    let at = StateLocation::parse(&bouncer.url("session"));
    let store = state::open(&at, &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    let key = Key::create(DEFAULT_ACCOUNT, "n");
    store.save(&key, "{}").await.unwrap();
    store.fence(DEFAULT_ACCOUNT).await.unwrap();
    assert_eq!(store.load(&key).await.unwrap().as_deref(), Some("{}"));
    drop(store);
    // Transaction pooling hands the backend (and a session lock) to the next client: refused.
    let at = StateLocation::parse(&bouncer.url("transaction"));
    let err = state::open(&at, &accounts, Some(Duration::ZERO))
        .await
        .err()
        .unwrap();
    let said = err.to_string();
    assert!(
        said.contains("pooler") && said.contains("pool_mode = session"),
        "{said}"
    );
}

#[tokio::test]
async fn a_schema_of_its_own_beside_someone_elses_tables_and_no_creation_when_told() {
    let Some(pg) = TestPostgres::start_or_skip(
        "a_schema_of_its_own_beside_someone_elses_tables_and_no_creation_when_told",
    ) else {
        return;
    };
    let accounts = vec![DEFAULT_ACCOUNT.to_string()];
    // Someone else's tables of the same names, in public.
    pg.sql("create table mpt_schema (owner text); create table mpt_records (owner text)")
        .unwrap();
    // Told not to create the schema: refused, saying so, and nothing made.
    let skip = format!("{}?schema=mpt_other&skip_schema_creation=true", pg.url());
    let err = state::open(
        &StateLocation::parse(&skip),
        &accounts,
        Some(Duration::ZERO),
    )
    .await
    .err()
    .unwrap();
    assert!(
        matches!(err, StoreError::BadSchema { .. })
            && err.to_string().contains("skip_schema_creation"),
        "{err}"
    );
    assert_eq!(
        pg.sql("select count(*) from pg_namespace where nspname = 'mpt_other'")
            .unwrap()
            .trim(),
        "0"
    );
    // Its own schema: made there, used there, the others' tables untouched.
    let own = StateLocation::parse(&format!("{}?schema=mpt_state", pg.url()));
    let store = state::open(&own, &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    let key = Key::create(DEFAULT_ACCOUNT, "n");
    store.save(&key, "{}").await.unwrap();
    drop(store);
    assert_eq!(
        pg.sql("select count(*) from mpt_state.mpt_records")
            .unwrap()
            .trim(),
        "1"
    );
    assert_eq!(
        pg.sql("select version from mpt_state.mpt_schema")
            .unwrap()
            .trim(),
        state::SCHEMA_VERSION.to_string()
    );
    assert_eq!(
        pg.sql("select count(*) from public.mpt_records")
            .unwrap()
            .trim(),
        "0"
    );
    // Made once, skip_schema_creation finds it and goes on.
    let skip = format!("{}?schema=mpt_state&skip_schema_creation=true", pg.url());
    let store = state::open(
        &StateLocation::parse(&skip),
        &accounts,
        Some(Duration::ZERO),
    )
    .await
    .unwrap();
    assert_eq!(store.load(&key).await.unwrap().as_deref(), Some("{}"));
}

/// A real PostgreSQL store that notes, at each lock it proves, how many requests the platform
/// had received: a change must be the very next request (no round trip after the proof).
struct Watching {
    inner: Box<dyn state::Store>,
    server: std::sync::Arc<mpt_mock::MockServer>,
    proven_at: std::sync::Mutex<Vec<u64>>,
}

impl state::Store for Watching {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.save(key, json)
    }
    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        self.inner.load(key)
    }
    fn remove<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.remove(key)
    }
    fn pending<'a>(
        &'a self,
        kind: Kind,
        accounts: &'a [String],
    ) -> BoxFuture<'a, Result<state::Pending, StoreError>> {
        self.inner.pending(kind, accounts)
    }
    fn fence<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner.fence(account).await?;
            self.proven_at
                .lock()
                .unwrap()
                .push(self.server.recorded().len() as u64);
            Ok(())
        })
    }
    fn describe(&self, key: &Key) -> String {
        self.inner.describe(key)
    }
}

#[tokio::test]
async fn an_enable_disable_or_delete_is_the_very_next_request_after_its_lock_is_proven() {
    let Some(pg) = TestPostgres::start_or_skip(
        "an_enable_disable_or_delete_is_the_very_next_request_after_its_lock_is_proven",
    ) else {
        return;
    };
    let (server, client) = start().await;
    let server = std::sync::Arc::new(server);
    let dir = temp_dir("pg-fence-order");
    let text = |statuses: [&str; 3]| {
        let mut text =
            format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n");
        for (i, status) in statuses.iter().enumerate() {
            text.push_str(&format!(
                "[[accounts.tokens]]\nname = \"t{i}\"\nstatus = \"{status}\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
                dir.join(format!("t{i}.secret")).display()
            ));
        }
        policy(&text)
    };
    let accounts = vec![DEFAULT_ACCOUNT.to_string()];
    let made = ApplyOptions::new(location(&pg));
    let report = client
        .apply(&text(["Active"; 3]), None, &made)
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    for (round, wanted) in [
        ["Disabled", "Disabled", "Disabled"],
        ["Active", "absent", "Disabled"],
    ]
    .into_iter()
    .enumerate()
    {
        let store = std::sync::Arc::new(Watching {
            inner: state::open(&location(&pg), &accounts, Some(Duration::ZERO))
                .await
                .unwrap(),
            server: server.clone(),
            proven_at: std::sync::Mutex::new(Vec::new()),
        });
        server.clear_recorded();
        let options = ApplyOptions::new(location(&pg))
            .store(store.clone())
            .allow_destroy(true)
            .concurrency(1);
        let report = client.apply(&text(wanted), None, &options).await.unwrap();
        assert_eq!(report.failed(), 0, "{report:#?}");
        assert_eq!(report.count(Applied::Changed), [3, 2][round], "{report:#?}");
        let proven = store.proven_at.lock().unwrap().clone();
        let changes: Vec<(u64, String)> = server
            .recorded()
            .into_iter()
            .enumerate()
            .filter(|(_, r)| {
                r.method == "DELETE" || r.path.ends_with("/enable") || r.path.ends_with("/disable")
            })
            .map(|(i, r)| (i as u64, format!("{} {}", r.method, r.path)))
            .collect();
        assert_eq!(changes.len(), [3, 2][round], "{changes:?}");
        for (at, change) in &changes {
            assert!(
                proven.contains(at),
                "round {round}: {change} (request {at}) does not follow a proven lock at once: locks proven at {proven:?}"
            );
        }
    }
    // The platform holds what the last policy says.
    let statuses: Vec<(String, Option<String>)> = server
        .live_token_names()
        .into_iter()
        .map(|(id, name)| (name, server.token_status(&id)))
        .collect();
    assert!(
        statuses.contains(&("t0".into(), Some("Active".into()))),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("t2".into(), Some("Disabled".into()))),
        "{statuses:?}"
    );
    assert!(!statuses.iter().any(|(n, _)| n == "t1"), "{statuses:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A name of 200 characters (the platform's longest; its record's name is 414 bytes of hex)
/// with the database state: the record is kept (a `text` key has no file name's limit), found
/// by the next apply, and its token adopted, not made again.
#[tokio::test]
async fn a_name_of_200_characters_is_kept_and_resumed_in_the_database() {
    let Some(pg) =
        TestPostgres::start_or_skip("a_name_of_200_characters_is_kept_and_resumed_in_the_database")
    else {
        return;
    };
    let (server, client) = start().await;
    let dir = temp_dir("pg-long-name");
    let name = format!("long {}", "n".repeat(195));
    let text = |sink: &str| {
        format!(
            "state = \"{}\"\n[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"{name}\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n",
            pg.url()
        )
    };
    let failing = policy(&text(r#"{ command = ["sh", "-c", "exit 3"] }"#));
    let options = ApplyOptions::new(failing.state.clone().unwrap());
    let report = client.apply(&failing, None, &options).await.unwrap();
    let made = result_of(&report.results, &name);
    assert_eq!(made.result, Applied::Failed, "{made:#?}");
    let id = made.new_token_id.clone().unwrap();
    assert_eq!(
        pg.sql("select count(*) from mpt_records").unwrap().trim(),
        "1"
    );
    let file = dir.join("long.secret");
    let working = policy(&text(&format!(r#"{{ file = "{}" }}"#, file.display())));
    let report = client.apply(&working, None, &options).await.unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(result_of(&report.results, &name).result, Applied::Adopted);
    assert_eq!(secret_owner(&file), id);
    assert_eq!(server.tokens_created(), 1);
}
