//! Ergonomic, safe Rust client for the SoftwareOne Marketplace **API tokens** resource.
//!
//! ```no_run
//! use mpt::prelude::*;
//! use mpt::{Client, Filter, NewToken, TokenStatus};
//!
//! # async fn demo() -> Result<(), mpt::Error> {
//! // MPT_API_TOKEN (and optionally MPT_API_BASE_URL) from the environment.
//! let client = Client::from_env()?;
//!
//! // Create a token; its secret is shown only now (and never in Debug output).
//! let created = client
//!     .create(&NewToken::new("ACC-1234-5678", "nightly sync").module("MOD-1756"))
//!     .await?;
//! let secret = created.secret.expose_secret(); // store it in your vault
//! # let _ = secret;
//!
//! // Switch it off and on again, idempotently.
//! client.ensure_disabled(created.token.id()).await?;
//! client.ensure_active(created.token.id()).await?;
//!
//! // Rotate it without downtime: the replacement is made, the old one stays Active until the
//! // new secret is deployed; save `rotation.plan` (no secret in it) to resume after a crash.
//! let mut rotation = client.rotate(&created).await?;
//! let new_secret = rotation.new.secret.expose_secret(); // deploy it
//! # let _ = new_secret;
//! rotation.verify(&client).await?; // a call made with the new secret
//! rotation.retire(&client, None).await?; // disable the old token
//! rotation.finish(&client).await?; // delete it
//!
//! // Find Active tokens of the account, a page at a time.
//! let mut tokens = client
//!     .list()
//!     .filter(Filter::account("ACC-1234-5678").and(Filter::status(TokenStatus::Active)))
//!     .stream();
//! while let Some(token) = tokens.try_next().await? {
//!     println!("{} {:?} last used {:?}", token.id(), token.name(), token.last_access_at());
//! }
//! # Ok(()) }
//! ```
//!
//! * [`Client`]: configuration ([`ClientBuilder`]), and every operation: [`Client::list`],
//!   [`Client::get`], [`Client::create`], [`Client::update`], [`Client::delete`],
//!   [`Client::enable`], [`Client::disable`];
//! * state helpers: [`Client::ensure_active`], [`Client::ensure_disabled`],
//!   [`Client::delete_if_exists`], [`Client::rotate`] ([`RotationPlan`]),
//!   [`Client::ensure_active_many`], [`Client::ensure_disabled_many`], [`Client::delete_many`],
//!   [`Client::stale`];
//! * [`Token`] with [`TokenStatus`] and the lifecycle ([`Token::available_actions`],
//!   [`Token::can`]); one [`Error`] type with [`Problem`] details;
//! * every request is built by the generated client ([`mpt_api`], from the spec: see
//!   [`Client::api`]) and goes through one hook layer: authorization, user agent, per-attempt
//!   timeout, the RQL filter, retries, tracing, the response-size bound
//!   ([`ClientBuilder::max_response_bytes`]) and the mapping to [`Error`];
//! * retries ([`RetryPolicy`]) for idempotent operations only: a create is never re-sent once
//!   it may have reached the server;
//! * a `tracing` span per operation (`mpt.request`: op, token id, attempts, status, duration);
//!   secrets never appear in spans, logs, errors or `Debug` output;
//! * tokens as code is a crate of its own on this one, `mpt-policy` (a TOML policy per
//!   account, its plan, and a resumable apply with a directory or PostgreSQL state store).
//!
//! The code has one module per job: `client` (configuration), `hooks` (the hook layer) with
//! `dispatch` (running a generated request under it) and `retry` (the one retry decision),
//! `ops` (read, create, update, delete), `lifecycle` (enable, disable, `ensure_*`), `bulk`,
//! `filter` (RQL filters), `list` (paging and the stream), `rotation` with `rotation_plan` (its saved state) and `marker` (the tag a create carries until its token is known), `name_match` (names RQL cannot quote, matched on the client), and the types:
//! `token`, `status`, `request`, `outcome`, `error`, `problem`, and `redact` (the redaction
//! engine every text goes through).
#![deny(missing_docs)]

mod age;
mod base_url;
mod bulk;
mod client;
mod dispatch;
mod error;
mod filter;
mod guard;
mod hooks;
mod job;
mod lifecycle;
mod list;
mod marker;
mod name_match;
mod ops;
mod outcome;
mod pace;
mod problem;
mod ratelimit;
mod redact;
mod request;
mod retry;
mod rotation;
mod rotation_plan;
mod status;
mod throttled;
mod token;
mod transport;

pub use age::{AgeError, MAX_AGE, parse_age};
pub use bulk::{BulkReport, Failures};
pub use client::{
    Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_WAIT,
    IntoSecret,
};
pub use error::Error;
pub use filter::Filter;
pub use guard::{Guard, GuardFuture};
pub use job::Cancel;
pub use list::{ListRequest, MAX_PAGE_SIZE, ServerTime, SortField};
pub use marker::{
    carries_marker, marked_description, marker_hash, mentions_marker, new_marker,
    unmarked_description,
};
pub use mpt_api::TokenSecret;
pub use mpt_api::types::{ProblemError, ProblemErrors};
pub use outcome::{NoopTransitions, Outcome};
pub use pace::{CurrentPace, InvalidRate, MAX_FIXED_RATE, MIN_FIXED_RATE, Pacing};
pub use problem::Problem;
pub use ratelimit::{AskedWait, WaitCause};
pub use redact::{redact, redact_secret};
pub use request::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, NewToken, TokenUpdate};
pub use retry::{MAX_THROTTLED, RetryPolicy};
pub use rotation_plan::{Quiet, Rotation, RotationPhase, RotationPlan};
pub use status::{Action, TokenStatus};

/// What the public API exposes from other crates, so that no second dependency (with a matching
/// version) is needed: the generated client and its types (behind [`Token::raw`] and
/// [`Client::api`]; the types also as `mpt::types`), `chrono` (and its date types at the root), the `reqwest` types of
/// [`ClientBuilder::http_client`] and [`Error::Transport`], and `secrecy`'s `SecretString`.
pub use chrono::{self, DateTime, Utc};
pub use mpt_api::{self, types};
pub use reqwest;
pub use secrecy::{ExposeSecret, SecretString};

/// The stream traits a list needs: `use mpt::prelude::*;` then `stream.try_next().await`.
pub mod prelude {
    pub use futures_core::Stream;
    pub use futures_util::{StreamExt, TryStreamExt};
}
pub use token::{CreatedToken, Token, TokenRef};
