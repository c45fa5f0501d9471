//! Tokens as code, on the `mpt` facade: the declared state of an account's tokens (a TOML
//! policy), the plan that shows the drift from it, and the apply that carries it out, its
//! progress kept in a state store so that an apply killed anywhere is resumed by the next.
//!
//! ```toml
//! [[accounts]]
//! id = "ACC-0000-0001"
//! unmanaged = "report"            # tokens the file does not declare: report (default), disable, ignore
//! rotate_after = "90d"            # hygiene, account-wide: s, m, h, d or w, or "never"
//! disable_idle_after = "30d"      # last used that long ago, or never used and that old
//! delete_disabled_after = "180d"  # Disabled and unchanged that long
//!
//! [[accounts.tokens]]
//! name = "billing-sync"           # names are not unique: two live matches are refused as ambiguous
//! modules = ["MOD-1756"]
//! description = "Nightly billing export"
//! status = "Active"               # Active (default), Disabled, or absent (must not exist)
//! # id = "TKN-1234-5678"          # pins the entry to one token
//! # rotate_after = "30d"          # overrides the account's rule for this token
//! secret = { file = "secrets/billing-sync.token" }   # where a new secret goes (a sink)
//! # secret = { command = ["vault", "kv", "put", "secret/billing", "token=-"], timeout = "30s" }
//! ```
//!
//! [`Policy::from_toml`] refuses unknown keys, bad durations and statuses, names and
//! descriptions the platform would refuse, tokens without modules, and duplicate declarations,
//! naming the line and key. With [`PolicyClient`] in scope, `client.plan(&policy)` reads each
//! account once (no secrets) and returns a [`Plan`]; `client.apply(...)` carries it out.
//!
//! ```no_run
//! use mpt_policy::{ApplyOptions, Policy, PolicyClient};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::from_toml(&std::fs::read_to_string("tokens.toml")?, "tokens.toml")?;
//! let client = mpt::Client::from_env()?;
//! let plan = client.plan(&policy).await?;
//! let report = client
//!     .apply(&policy, Some(&plan), &ApplyOptions::new(".mpt-state"))
//!     .await?;
//! println!("{}", report.summary());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod apply;
pub mod files;
mod ids;
mod parse;
mod plan;
mod sink;
pub mod state;

use std::fmt;

use chrono::Duration;
use serde::Deserialize;

pub use apply::{ActionResult, Applied, ApplyError, ApplyOptions, ApplyReport, MAX_SAVED_PLAN_AGE};
pub use plan::{ActionKind, Field, FieldChange, Plan, PlannedAction};
pub use sink::SecretSink;
pub use state::{StateLocation, StoreError};

use std::future::Future;

use chrono::{DateTime, Utc};
use mpt::Client;

/// Tokens as code on a [`mpt::Client`]: bring this trait into scope to plan and apply. A plan's
/// future is `Send`; an apply's is run where it is awaited (a current-thread runtime, or
/// `block_on`), as the CLI runs it.
pub trait PolicyClient {
    /// Reads each account of `policy` once (a streamed listing, no secrets) and returns what
    /// would bring it to its policy. Changes nothing. Ages (`rotate_after`, idle, Disabled
    /// since) are judged at the platform's time, the `Date` of the listing's answer, against
    /// the platform's timestamps: a client whose clock is off plans the same (the client's
    /// clock only when an answer has no `Date`). `Plan::made_at` is that time.
    fn plan(&self, policy: &Policy) -> impl Future<Output = Result<Plan, mpt::Error>> + Send;

    /// [`PolicyClient::plan`] with the hygiene rules judged at `now` (ages come from the
    /// server's timestamps).
    fn plan_at(
        &self,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Plan, mpt::Error>> + Send;

    /// Brings the accounts of `policy` to it, and says what was done: see [`apply`] (the
    /// module) for the promises.
    fn apply(
        &self,
        policy: &Policy,
        plan: Option<&Plan>,
        options: &ApplyOptions,
    ) -> impl Future<Output = Result<ApplyReport, ApplyError>>;
}

impl PolicyClient for Client {
    fn plan(&self, policy: &Policy) -> impl Future<Output = Result<Plan, mpt::Error>> + Send {
        plan::plan_judged(self, policy, None)
    }

    fn plan_at(
        &self,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Plan, mpt::Error>> + Send {
        plan::plan_judged(self, policy, Some(now))
    }

    fn apply(
        &self,
        policy: &Policy,
        plan: Option<&Plan>,
        options: &ApplyOptions,
    ) -> impl Future<Output = Result<ApplyReport, ApplyError>> {
        apply::apply(self, policy, plan, options)
    }
}

/// A parsed, checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Where its applies keep their state (the file's top-level `state = "..."`: a directory,
    /// or `postgres://USER@HOST:PORT/DB`), if it says.
    pub state: Option<String>,
    /// Each account's declared state.
    pub accounts: Vec<AccountPolicy>,
}

/// What to do with live tokens a policy does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Unmanaged {
    /// Show them in the plan (the default).
    #[default]
    Report,
    /// Disable the Active ones (destructive).
    Disable,
    /// Leave them out of the plan.
    Ignore,
}

/// The hygiene rules; `None` means "never".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Hygiene {
    /// Rotate a token whose secret (the token) is older than this.
    pub rotate_after: Option<Duration>,
    /// Disable a token last used longer ago than this, or never used and older than this.
    pub disable_idle_after: Option<Duration>,
    /// Delete a token Disabled and unchanged for longer than this.
    pub delete_disabled_after: Option<Duration>,
}

/// One account's declared state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountPolicy {
    /// The account id.
    pub id: String,
    /// Tokens the policy does not declare.
    pub unmanaged: Unmanaged,
    /// The account-wide hygiene rules.
    pub hygiene: Hygiene,
    /// The declared tokens.
    pub tokens: Vec<TokenPolicy>,
}

/// The state a declared token must be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[non_exhaustive]
pub enum Wanted {
    /// It exists and is Active.
    #[default]
    Active,
    /// It exists and is Disabled.
    Disabled,
    /// It must not exist.
    #[serde(rename = "absent")]
    Absent,
}

/// One declared token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenPolicy {
    /// Its name (names are not unique on the platform).
    pub name: String,
    /// Pinned to this token id, when set.
    pub id: Option<String>,
    /// Its modules (compared as a set).
    pub modules: Vec<String>,
    /// Its description, when the policy manages it.
    pub description: Option<String>,
    /// Its icon, when the policy manages it.
    pub icon: Option<String>,
    /// The wanted state.
    pub status: Wanted,
    /// The account's hygiene with this token's overrides.
    pub hygiene: Hygiene,
    /// Where its new secrets go (a create's, a rotation's); `None`: to a 0600 file in the
    /// apply's state directory.
    pub secret: Option<SecretSink>,
    /// The 1-based line of its `[[accounts.tokens]]` entry's name.
    pub line: usize,
}

/// A policy that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct PolicyError {
    /// The policy file (`<policy>` when parsed from text).
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// The key involved (`accounts[0].tokens[1].name`, or the key as written on that line).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl Policy {
    /// Parses and checks a policy; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Policy, PolicyError> {
        parse::Parser::new(text, file).policy()
    }
}

impl Policy {
    /// The declared entry an action of `plan` is about: the one pinned to its token, or the
    /// unpinned one of its name, in its account.
    pub fn declared(
        &self,
        account: &str,
        name: &str,
        token_id: Option<&str>,
    ) -> Option<&TokenPolicy> {
        let account = self.accounts.iter().find(|a| a.id == account)?;
        account
            .tokens
            .iter()
            .find(|t| t.id.is_some() && t.id.as_deref() == token_id)
            .or_else(|| {
                account
                    .tokens
                    .iter()
                    .find(|t| t.id.is_none() && t.name == name)
            })
    }
}

impl fmt::Display for Wanted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Wanted::Active => "Active",
            Wanted::Disabled => "Disabled",
            Wanted::Absent => "absent",
        })
    }
}

/// The README's Rust examples (the facade's and these), compiled as doctests so they cannot
/// rot: this crate sees both.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
