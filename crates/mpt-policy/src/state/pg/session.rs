//! The session itself: connecting (bounded, TLS as asked), its settings (sent as statements,
//! not start-up options, which PgBouncer refuses), and the check that it is a session of its
//! own: a pooler in transaction or statement mode hands the backend, and a session lock with
//! it, to whoever comes next, so it is refused.

use std::sync::{Arc, Mutex};

use tokio_postgres::{Client, Config};

use super::connect::{self, ANSWER_TIMEOUT, Purpose, STATEMENT_TIMEOUT};
use super::{PgStore, StoreError, tls};

/// Connects with `config` and `tls` (`allow`: plain first, then TLS when the server refuses
/// plain), the whole of it within the connect timeout, and runs the connection, keeping how it
/// ended in `ended`.
pub(super) async fn start(
    mut config: Config,
    tls: &tls::Tls,
    location: &str,
    secrets: &[String],
    ended: Arc<Mutex<Option<String>>>,
) -> Result<(Client, tokio::task::JoinHandle<()>), StoreError> {
    let connector = tls::connector(tls).map_err(|why| StoreError::BadLocation {
        location: location.to_string(),
        why: why.to_string(),
    })?;
    let limit = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(connect::CONNECT_TIMEOUT);
    let deadline = tokio::time::Instant::now() + limit;
    let silent = || StoreError::Unreachable {
        location: location.to_string(),
        why: format!(
            "no answer within {} s (connect_timeout in the URL, or PGCONNECT_TIMEOUT, sets it)",
            limit.as_secs()
        ),
    };
    let mut made = tokio::time::timeout_at(deadline, config.connect(connector.clone()))
        .await
        .map_err(|_| silent())?;
    if tls.mode == tls::Mode::Allow
        && let Err(e) = &made
        && e.as_db_error().is_some()
    {
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        made = tokio::time::timeout_at(deadline, config.connect(connector))
            .await
            .map_err(|_| silent())?;
    }
    let (client, connection) = made.map_err(|e| match tls::refused_certificate(tls, &e) {
        // The client certificate is the login's credential: refused as a password is.
        Some(why) => StoreError::Auth {
            location: location.to_string(),
            why,
        },
        None => connect::connect_failed(&e, location, secrets),
    })?;
    let task = tokio::spawn(async move {
        let why = match connection.await {
            Ok(()) => "the server closed the connection".to_string(),
            Err(e) => connect::chain(&e),
        };
        if let Ok(mut slot) = ended.lock() {
            *slot = Some(why);
        }
    });
    Ok((client, task))
}

impl PgStore {
    /// The session's limits and, for a plan, read-only transactions: sent as `SET`, which
    /// every pooler passes on. Whatever the server's or the database's defaults say: a
    /// statement's limit and an idle transaction's are ours; a lock wait is bounded by the
    /// statement's; nothing ends the session for idling between two statements
    /// (`idle_session_timeout`, PostgreSQL 14+) or for its age (`transaction_timeout`, 17+):
    /// the session idles on purpose, holding its locks, while a sink runs. The server's end of
    /// the socket gets keepalives and a user timeout of its own, so that a vanished client's
    /// session (and its locks) ends within a minute, not the kernel's two hours.
    pub(super) async fn settings(&self) -> Result<(), StoreError> {
        let mut sql = format!(
            "set statement_timeout = '{}s'; set idle_in_transaction_session_timeout = '60s';
             set lock_timeout = 0;
             set tcp_keepalives_idle = 10; set tcp_keepalives_interval = 5;
             set tcp_keepalives_count = 4;
             select set_config(s.name, s.value, false)
                 from (values ('idle_session_timeout', '0'), ('transaction_timeout', '0'),
                     ('tcp_user_timeout', '{}')) as s(name, value)
                 where exists (select 1 from pg_settings p where p.name = s.name);",
            STATEMENT_TIMEOUT.as_secs(),
            connect::TCP_USER_TIMEOUT.as_millis()
        );
        if self.purpose == Purpose::Plan {
            sql.push_str(" set default_transaction_read_only = on;");
        }
        self.ask("setting the session's limits", async {
            self.client.batch_execute(&sql).await
        })
        .await
    }

    /// Refuses a connection whose backend is not its own for the whole session. The session
    /// sets a mark of its own (`mpt.session_check`, a placeholder setting that no pooler
    /// tracks), then asks for its backend and the mark in three transactions in a row, a
    /// second connection asks twice, and the session once more: its backend must stay the same
    /// with the mark on it, and the second connection must get other backends, never marked. A
    /// transaction pooler hands an idle backend to whoever asks next: most recently used (the
    /// second connection gets ours) or in turn (`server_round_robin`: our next transaction
    /// gets another).
    pub(super) async fn check_session(
        &self,
        config: &Config,
        tls: &tls::Tls,
    ) -> Result<(), StoreError> {
        let mark = format!("{:016x}", fastrand::u64(..));
        self.ask("marking the session", async {
            self.client
                .batch_execute(&format!("set mpt.session_check = '{mark}'"))
                .await
        })
        .await?;
        let mut ours = Vec::new();
        for _ in 0..3 {
            ours.push(self.backend_of(&self.client).await?);
        }
        let others = session_pids(config, tls, &self.location, &self.secrets).await?;
        ours.push(self.backend_of(&self.client).await?);
        let first = ours[0].0;
        let own = ours.iter().all(|(pid, m)| *pid == first && *m == mark);
        let apart = others.iter().all(|(pid, m)| *pid != first && *m != mark);
        if own && apart {
            return Ok(());
        }
        let pids = |all: &[(i32, String)]| {
            all.iter()
                .map(|(pid, _)| pid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(StoreError::BadLocation {
            location: self.location.clone(),
            why: format!(
                "the connection goes through a pooler that shares backends between clients (this session's transactions ran on backends {}; another connection's on {}{}): a session lock would pass to whoever gets the backend next. Connect to the database directly, or through session pooling (PgBouncer: pool_mode = session)",
                pids(&ours),
                pids(&others),
                match own {
                    true => "",
                    false => ", and the session's own setting did not stay with it",
                }
            ),
        })
    }

    /// The session's backend, and its mark (empty when it has none).
    async fn backend_of(&self, client: &Client) -> Result<(i32, String), StoreError> {
        let row = self
            .ask("asking the session's backend", async {
                client.query_typed_one(CHECK_SQL, &[]).await
            })
            .await?;
        Ok((
            self.column(&row, 0, "pg_backend_pid")?,
            self.column(&row, 1, "mpt.session_check")?,
        ))
    }
}

/// A backend's pid and mark.
const CHECK_SQL: &str =
    "select pg_backend_pid(), coalesce(current_setting('mpt.session_check', true), '')";

/// The backends (and marks) a second connection of `config` gets in two transactions (the
/// connection closed after).
async fn session_pids(
    config: &Config,
    tls: &tls::Tls,
    location: &str,
    secrets: &[String],
) -> Result<Vec<(i32, String)>, StoreError> {
    let (client, task) = start(
        config.clone(),
        tls,
        location,
        secrets,
        Arc::new(Mutex::new(None)),
    )
    .await?;
    let failed = |why: String| StoreError::Unreachable {
        location: location.to_string(),
        why: format!("a second connection, checking for a pooler: {why}"),
    };
    let mut out = Vec::new();
    for _ in 0..2 {
        let asked =
            tokio::time::timeout(ANSWER_TIMEOUT, client.query_typed_one(CHECK_SQL, &[])).await;
        let row = match asked {
            Err(_) => Err(failed("no answer".into())),
            Ok(Err(e)) => Err(failed(connect::scrub(&connect::chain(&e), secrets))),
            Ok(Ok(row)) => Ok(row),
        };
        let pid = row.and_then(|row| {
            let pid = row.try_get::<_, i32>(0);
            let mark = row.try_get::<_, String>(1);
            pid.and_then(|p| mark.map(|m| (p, m)))
                .map_err(|e| failed(connect::chain(&e)))
        });
        match pid {
            Ok(p) => out.push(p),
            Err(e) => {
                task.abort();
                return Err(e);
            }
        }
    }
    task.abort();
    Ok(out)
}
