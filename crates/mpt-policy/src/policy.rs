//! The policy's types: what a parsed, checked policy file declares (accounts, their tokens,
//! the hygiene rules). Parsing is in `parse`; the plan and apply read these.

use std::fmt;

use chrono::Duration;
use serde::Deserialize;

use crate::sink::SecretSink;

/// A parsed, checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Where its applies keep their state (the file's top-level `state = "..."`: a directory,
    /// or `postgres://USER@HOST:PORT/DB`), if it says.
    pub state: Option<String>,
    /// Each account's declared state.
    pub accounts: Vec<AccountPolicy>,
    /// The file it was read from, as named to [`Policy::from_toml`] (its errors name it).
    pub file: String,
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
