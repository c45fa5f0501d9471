//! A real, stateful HTTP fake of the SoftwareOne Marketplace **API tokens** resource.
//!
//! [`MockServer::start`] binds `127.0.0.1:0` and serves the seven operations of the merged spec
//! (`openapi/marketplace-api-tokens.json`) with the platform's behaviour:
//!
//! * **auth** by `Authorization: Bearer <secret>`, checked against the mock's own token store: an
//!   Active token's secret works (and updates its `lastAccessAt`); a Disabled or Deleted token's
//!   secret gets 401. The handle's [`admin_secret`](MockServer::admin_secret) always works and
//!   is an Operations account's ([`OPERATIONS_ACCOUNT`]);
//! * **accounts**: a Client or Vendor account's token sees and changes its own account's tokens
//!   only (another's is a 404); an Operations account's sees every account's;
//! * **lifecycle**: create → Active (201, `revision` 1, with the secret); like the platform, every
//!   read (get, list) returns the secret too unless it deselects it (`select=-token`);
//!   Active ⇄ Disabled; delete is soft (status `Deleted`: Operations accounts still read it,
//!   others get 404). Every change bumps `revision` and `audit.updated`. Enabling an Active
//!   token (or disabling a Disabled one) answers 400 by default; [`NoopTransitions::Accepted`]
//!   makes it a 200 no-op;
//! * **validation**: a create or update names an account the caller may use, modules known
//!   ([`KNOWN_MODULES`]) and enabled for the account, and a name and description the platform
//!   accepts; otherwise 400 with the field named;
//! * **shapes**: null fields are left out, `audit` only with `select=+audit`;
//! * **lists**: `limit` (default 10, capped at 100, `0` = count only), `offset`,
//!   `$meta.pagination.total`, RQL filters in the query string, `order`, `select`;
//! * **errors** as RFC 9457 problem details with `traceId` and `errors` in both shapes;
//! * **faults** on demand ([`Faults`]): latency, 429 with `Retry-After`, 5xx, HTML error pages,
//!   connections dropped after the request was processed, malformed JSON, unknown fields and
//!   enum values, each every Nth request, once or for the first N, for some operations or one
//!   token; counters ([`MockServer::requests`], [`MockServer::tokens_created`]); and a record of
//!   every request, secrets redacted ([`MockServer::recorded`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let server = mpt_mock::MockServer::start().await?;
//! let token = server.seed_token(mpt_mock::SeedToken::named("ci"));
//! let url = format!("{}/public/v1/accounts/api-tokens/{}", server.base_url(), token.id);
//! assert!(url.starts_with("http://127.0.0.1:"));
//! # Ok(()) }
//! ```
//!
//! Its modules: the handle here, `builder` (settings before it starts), `seed` (what tests seed and
//! what it records), `store` (tokens, accounts, the lifecycle and who sees what, free of HTTP),
//! `rql` (`filter`: the RQL parser and evaluator; paging, order, select), `faults`, `problem`
//! (problem details), and `http/` (routes and the accept loop, `auth`, `handlers`, `validate`,
//! `render`, `record`, `limits`). Beside it, [`ScriptedServer`] answers what a well-behaved server
//! never would (any status and headers, a body without length, a delay, a dropped connection),
//! scripted per request.
#![deny(missing_docs)]

mod builder;
mod faults;
mod http;
mod problem;
mod rql;
mod scripted;
mod seed;
mod store;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use mpt_api::TokenSecret;
use tokio::sync::watch;

pub use builder::MockServerBuilder;
pub use faults::{Fault, FaultRule, Faults, InvalidFault, Operation};
pub use http::{BASE_PATH, MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_URI_BYTES, RECORDED_REQUESTS};
pub use http::{RateChange, RateDialect, RateError, RateLimit, RateWindow, UnknownDialect};
pub use rql::{DEFAULT_LIMIT, MAX_LIMIT, MAX_RQL_DEPTH};
pub use scripted::{RequestHead, Scripted, ScriptedServer};
pub use seed::{RecordedRequest, SeedToken, Seeded};
pub use store::NoopTransitions;

use crate::faults::FaultState;
use crate::http::{Shared, lock};
use crate::store::{Account, Actor, NewToken, Status};

/// The account seeded tokens belong to unless told otherwise (a Client account).
pub const DEFAULT_ACCOUNT: &str = "ACC-0000-0001";
/// A seeded Vendor account.
pub const VENDOR_ACCOUNT: &str = "ACC-0000-0002";
/// A seeded Operations account.
pub const OPERATIONS_ACCOUNT: &str = "ACC-0000-0003";
/// The module seeded tokens get unless told otherwise.
pub const DEFAULT_MODULE: &str = "MOD-1756";
/// The modules the mock knows. A create or update naming another is refused (400, `modules`);
/// every account has all of them enabled unless told otherwise
/// ([`MockServer::set_account_modules`]).
pub const KNOWN_MODULES: [&str; 4] = [DEFAULT_MODULE, "MOD-2310", "MOD-4521", "MOD-9042"];

fn all_modules() -> Vec<String> {
    KNOWN_MODULES.iter().map(|m| m.to_string()).collect()
}

/// A running mock server. Dropping it stops the server.
pub struct MockServer {
    addr: SocketAddr,
    base_url: String,
    shared: Arc<Shared>,
    pub(crate) shutdown: watch::Sender<bool>,
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer")
            .field("base_url", &self.base_url)
            .field("admin_secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts a server with defaults on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<MockServer> {
        MockServer::builder().start().await
    }

    /// A builder for a server with options.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// `http://127.0.0.1:<port>`: the base URL clients use (paths start with [`BASE_PATH`]).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A secret that always authenticates (it belongs to no token).
    pub fn admin_secret(&self) -> &str {
        &self.shared.admin_secret
    }

    /// Adds (or renames) an account.
    pub fn add_account(&self, id: &str, name: &str, kind: &str) {
        lock(&self.shared.store).put_account(Account {
            id: id.into(),
            name: name.into(),
            kind: kind.into(),
            modules: all_modules(),
        });
    }

    /// Sets the modules enabled for an account (its default group); a module taken away is
    /// stripped from every token of the account that held it, as the platform does (each such
    /// token's revision moves). Returns `false` for an unknown account.
    pub fn set_account_modules<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        account_id: &str,
        modules: I,
    ) -> bool {
        let modules: Vec<String> = modules.into_iter().map(Into::into).collect();
        lock(&self.shared.store).set_account_modules(account_id, modules, self.shared.now())
    }

    /// Puts a token in the store directly and returns its id and secret.
    pub fn seed_token(&self, seed: SeedToken) -> Seeded {
        let mut store = lock(&self.shared.store);
        let actor = Actor {
            id: "USR-0000-0000".into(),
            name: "Mock seeder".into(),
        };
        let new = NewToken {
            account_id: seed.account_id,
            name: seed.name,
            description: seed.description,
            icon: None,
            modules: seed.modules,
        };
        let (id, secret) = {
            let t = store.create(new, actor, self.shared.now());
            (t.id.clone(), t.secret.clone())
        };
        store.force_status(&id, Status::parse(&seed.status));
        if let Some(at) = seed.created_at {
            store.force_created(&id, at);
        }
        let secret = match seed.secret {
            Some(chosen) if store.force_secret(&id, &chosen) => chosen,
            _ => secret,
        };
        if let Some(at) = seed.last_access_at {
            store.touch(&id, at);
        }
        Seeded {
            id,
            secret: TokenSecret::new(secret),
        }
    }

    /// Seeds `count` Active tokens named `{prefix}-1`, `{prefix}-2`, ... in `account_id`.
    pub fn seed_tokens(&self, count: usize, prefix: &str, account_id: &str) -> Vec<Seeded> {
        (1..=count)
            .map(|i| {
                self.seed_token(SeedToken::named(format!("{prefix}-{i}")).in_account(account_id))
            })
            .collect()
    }

    /// A token's status as stored (`Deleted` tokens included), or `None` if it never existed.
    pub fn token_status(&self, id: &str) -> Option<String> {
        lock(&self.shared.store)
            .get(id)
            .map(|t| t.status.as_str().to_string())
    }

    /// A token's revision, or `None` if it never existed.
    pub fn token_revision(&self, id: &str) -> Option<i32> {
        lock(&self.shared.store).get(id).map(|t| t.revision)
    }

    /// When a token's secret last authenticated.
    pub fn token_last_access(&self, id: &str) -> Option<DateTime<Utc>> {
        lock(&self.shared.store)
            .get(id)
            .and_then(|t| t.last_access_at)
    }

    /// Tokens that are not Deleted, in all accounts.
    pub fn live_tokens(&self) -> usize {
        lock(&self.shared.store).live_count()
    }

    /// Ids and names of the tokens that are not Deleted, in creation order.
    pub fn live_token_names(&self) -> Vec<(String, String)> {
        lock(&self.shared.store)
            .all()
            .filter(|t| t.status != Status::Deleted)
            .map(|t| (t.id.clone(), t.name.clone()))
            .collect()
    }

    /// Replaces the faults (and restarts their counters); faults that fail [`Faults::validate`] are
    /// refused and the old ones kept.
    pub fn set_faults(&self, faults: Faults) -> Result<(), InvalidFault> {
        faults.validate()?;
        *lock(&self.shared.faults) = FaultState::new(faults);
        Ok(())
    }

    /// Runs the mock's clock this far off the machine's from now on (see
    /// [`MockServerBuilder::clock_skew`]).
    pub fn set_clock_skew(&self, skew: chrono::TimeDelta) {
        self.shared
            .clock_skew_ms
            .store(skew.num_milliseconds(), Ordering::Relaxed);
    }

    /// Sets what enabling an Active token (disabling a Disabled one) answers.
    pub fn set_noop_transitions(&self, noop: NoopTransitions) {
        *lock(&self.shared.noop) = noop;
    }

    /// Requests refused by the rate limit ([`MockServerBuilder::rate_limit`]), in all.
    pub fn throttled(&self) -> u64 {
        self.shared.throttled.load(Ordering::Relaxed)
    }

    /// Requests held now, unanswered ([`Fault::Hold`]).
    pub fn held(&self) -> u64 {
        self.shared.held.load(Ordering::Relaxed)
    }

    /// Lets every held request ([`Fault::Hold`]) go on, and every later one too.
    pub fn release_held(&self) {
        self.shared.released.send_replace(true);
    }

    /// Requests seen for one operation (faulted ones included).
    pub fn requests(&self, op: Operation) -> u64 {
        self.shared.requests[op.index()].load(Ordering::Relaxed)
    }

    /// Requests seen for all operations.
    pub fn total_requests(&self) -> u64 {
        Operation::ALL.iter().map(|op| self.requests(*op)).sum()
    }

    /// The requests received, oldest first (at most [`RECORDED_REQUESTS`]), with their
    /// `Authorization` value redacted: assert on what a client sent.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.recorded).iter().cloned().collect()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_recorded(&self) {
        lock(&self.shared.recorded).clear();
    }

    /// Tokens successfully created through the API (seeded ones not counted).
    pub fn tokens_created(&self) -> u64 {
        self.shared.tokens_created.load(Ordering::Relaxed)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
