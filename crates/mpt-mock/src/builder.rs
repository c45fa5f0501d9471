//! [`MockServerBuilder`]: the mock's settings before it starts.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::faults::{FaultState, Faults};
use crate::http::{self, RateChange, RateDialect, RateLimit, RateSettings, RateWindow, Shared};
use crate::store::{Account, NoopTransitions, Store};
use crate::{
    DEFAULT_ACCOUNT, MockServer, OPERATIONS_ACCOUNT, SeedToken, VENDOR_ACCOUNT, all_modules,
};

/// How to start a [`MockServer`].
#[derive(Debug, Clone, Default)]
pub struct MockServerBuilder {
    port: u16,
    admin_secret: Option<String>,
    faults: Faults,
    noop: NoopTransitions,
    seed: usize,
    /// Recording off (it is on unless told).
    no_recording: bool,
    clock_skew: chrono::TimeDelta,
    accounts: Vec<(String, String, String)>,
    rate: RateSettings,
}

impl MockServerBuilder {
    /// Limits each API secret to `limit` (a token bucket: `per_second` requests a second on
    /// average, `burst` at once), as a platform does: a request over it is answered `429` with
    /// `Retry-After` and not processed; every answer carries `RateLimit-*` headers. Off unless
    /// set.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate.limit = Some(limit);
        self
    }

    /// How the rate limit tells callers where they stand, and how it refuses (default
    /// [`RateDialect::Policy`]); see [`RateDialect`] for each one's headers.
    pub fn rate_dialect(mut self, dialect: RateDialect) -> Self {
        self.rate.dialect = dialect;
        self
    }

    /// How requests are counted against the rate limit (default [`RateWindow::TokenBucket`]).
    pub fn rate_window(mut self, window: RateWindow) -> Self {
        self.rate.window = window;
        self
    }

    /// A refusal of the rate limit locks its caller (its API secret) out for `lockout`: every
    /// request during the lockout is refused (`Retry-After` of the lockout's length; as an HTTP
    /// date, its end cut to the whole second) and extends it to that request's arrival plus
    /// `lockout`, as fail2ban-like gateways and some WAFs do. Off unless set.
    pub fn rate_lockout(mut self, lockout: Duration) -> Self {
        self.rate.lockout = Some(lockout);
        self
    }

    /// The rate limit is enforced by `replicas` replicas behind round robin (each request goes
    /// to the next): each counts a caller's requests against its own share of the limit (the
    /// rate and the burst divided among them, a burst of 1 at least) and states that share and
    /// its own remainder, as a quota counted per replica behind a load balancer is. 0 or 1: one
    /// count (the default).
    pub fn rate_replicas(mut self, replicas: u32) -> Self {
        self.rate.replicas = replicas;
        self
    }

    /// The rate limit is counted per TCP connection: each connection of a caller has a count
    /// of its own against the whole limit (a caller's requests over 16 connections may go at 16
    /// times the rate), as a limiter counting per connection is (Envoy's local rate limit with
    /// `local_rate_limit_per_downstream_connection`; a proxy keyed by connection).
    pub fn rate_per_connection(mut self, per_connection: bool) -> Self {
        self.rate.per_connection = per_connection;
        self
    }

    /// The rate limit changes mid-run (from the server's start); it applies to every caller.
    pub fn rate_change(mut self, change: RateChange) -> Self {
        self.rate.change = Some(change);
        self.rate.alternate = false;
        self
    }

    /// The rate limit alternates: `change.to` for `change.after`, then the limit of
    /// [`rate_limit`](Self::rate_limit) as long, and so on (from the server's start: the
    /// first `after` is at the first limit); it applies to every caller.
    pub fn rate_alternation(mut self, change: RateChange) -> Self {
        self.rate.change = Some(change);
        self.rate.alternate = true;
        self
    }

    /// Whether to keep a copy of each request for [`MockServer::recorded`](crate::MockServer::recorded) (default on; the
    /// `mpt-mock` binary turns it off).
    pub fn record_requests(mut self, on: bool) -> Self {
        self.no_recording = !on;
        self
    }

    /// Listen on this loopback port (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Use this admin secret instead of a random one.
    pub fn admin_secret(mut self, secret: impl Into<String>) -> Self {
        self.admin_secret = Some(secret.into());
        self
    }

    /// Start with these faults.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// What enabling an Active token (disabling a Disabled one) answers.
    pub fn noop_transitions(mut self, noop: NoopTransitions) -> Self {
        self.noop = noop;
        self
    }

    /// Adds an account (id, display name, and type: `Client`, `Vendor` or `Operations`) with
    /// every known module enabled, beside the three seeded ones.
    pub fn account(
        mut self,
        id: impl Into<String>,
        name: impl Into<String>,
        kind: impl Into<String>,
    ) -> Self {
        self.accounts.push((id.into(), name.into(), kind.into()));
        self
    }

    /// Run the mock's clock this far off the machine's (ahead when positive): every time it
    /// writes (`audit`, `lastAccessAt`) is off by it, as a platform whose clock differs from
    /// the client's would be.
    pub fn clock_skew(mut self, skew: chrono::TimeDelta) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Seed this many Active tokens (`token-1`, `token-2`, ...) in [`DEFAULT_ACCOUNT`].
    pub fn seed(mut self, tokens: usize) -> Self {
        self.seed = tokens;
        self
    }

    /// Binds and starts serving on a thread of its own, with a tokio runtime of its own (one
    /// worker), as [`start`](Self::start) does on the current one: for a caller with no tokio
    /// runtime (a test that runs a command against it), and for a server that stamps requests
    /// as they come whatever the caller's runtime is doing (stalled, or busy). The thread ends
    /// when the server is dropped.
    pub fn start_on_own_thread(self) -> std::io::Result<MockServer> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("mpt-mock".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let server = self.start().await;
                    let mut stopped = server.as_ref().ok().map(|s| s.shutdown.subscribe());
                    let _ = tx.send(server);
                    if let Some(stopped) = stopped.as_mut() {
                        // Until the server is dropped (its sender with it: an error).
                        while stopped.changed().await.is_ok() && !*stopped.borrow() {}
                    }
                });
            })?;
        rx.recv()
            .map_err(|_| std::io::Error::other("the mock's thread ended before it started"))?
    }

    /// Binds and starts serving on the current tokio runtime. Faults that fail
    /// [`Faults::validate`] are refused (`InvalidInput`, naming the rule).
    pub async fn start(self) -> std::io::Result<MockServer> {
        self.faults
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], self.port))).await?;
        let addr = listener.local_addr()?;
        let mut store = Store::default();
        let seeded = [
            (DEFAULT_ACCOUNT, "Mock Client", "Client"),
            (VENDOR_ACCOUNT, "Mock Vendor", "Vendor"),
            (OPERATIONS_ACCOUNT, "Mock Operations", "Operations"),
        ]
        .map(|(id, name, kind)| (id.to_string(), name.to_string(), kind.to_string()));
        for (id, name, kind) in seeded.into_iter().chain(self.accounts) {
            store.put_account(Account {
                id,
                name,
                kind,
                modules: all_modules(),
            });
        }
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            faults: Mutex::new(FaultState::new(self.faults)),
            noop: Mutex::new(self.noop),
            admin_secret: self
                .admin_secret
                .unwrap_or_else(|| format!("mock-admin:{:032x}", fastrand::u128(..))),
            requests: Default::default(),
            tokens_created: AtomicU64::new(0),
            recording: std::sync::atomic::AtomicBool::new(!self.no_recording),
            recorded: Mutex::new(std::collections::VecDeque::new()),
            clock_skew_ms: std::sync::atomic::AtomicI64::new(self.clock_skew.num_milliseconds()),
            rate: Mutex::new(http::Buckets::new(self.rate)),
            throttled: AtomicU64::new(0),
            held: AtomicU64::new(0),
            released: tokio::sync::watch::Sender::new(false),
            arrived: tokio::sync::Notify::new(),
        });
        let (shutdown, watcher) = watch::channel(false);
        tokio::spawn(http::serve(
            listener,
            http::router(Arc::clone(&shared)),
            watcher,
        ));
        let server = MockServer {
            addr,
            base_url: format!("http://{addr}"),
            shared,
            shutdown,
        };
        for i in 1..=self.seed {
            server.seed_token(SeedToken::named(format!("token-{i}")));
        }
        Ok(server)
    }
}
