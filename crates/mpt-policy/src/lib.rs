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
mod client;
mod evidence;
pub mod files;
mod ids;
mod marked;
mod parse;
mod plan;
mod policy;
mod sink;
pub mod state;

pub use apply::{ActionResult, Applied, ApplyError, ApplyOptions, ApplyReport, MAX_SAVED_PLAN_AGE};
pub use client::PolicyClient;
pub use plan::{ActionKind, Field, FieldChange, Plan, PlannedAction, Step};
pub use policy::{AccountPolicy, Hygiene, Policy, PolicyError, TokenPolicy, Unmanaged, Wanted};
pub use sink::{SecretSink, withhold_from_sinks};
pub use state::{StateLocation, StoreError};

/// The README's Rust examples (the facade's and these), compiled as doctests so they cannot
/// rot: this crate sees both.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
