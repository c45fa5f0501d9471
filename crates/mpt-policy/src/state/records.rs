//! The records an apply keeps in its store, and the checks each one passes before anything is
//! done with it: a create in flight ([`CreateRecord`]), a rotation in flight (the facade's
//! [`mpt::RotationPlan`], checked by the apply), modules the platform refused ([`Refused`]).
//! A record read back is a claim: its fields are checked against the policy and the platform.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::policy::Policy;

/// A create that was sent, or is about to be: enough to find what it made after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateRecord {
    pub account_id: String,
    pub name: String,
    /// The ids of the tokens of this account and name before the create was sent.
    pub known_ids: Vec<String>,
    /// The token it made, once known.
    pub new_id: Option<String>,
    /// The platform's time (the `Date` of the lookup's answer) when the record was made: the
    /// token it made cannot have been created before it.
    #[serde(default)]
    pub recorded_at: Option<DateTime<Utc>>,
}

impl CreateRecord {
    /// The record's own claims, checked before anything is done with it: ids of the platform's
    /// shape, and an account and name the policy declares.
    pub fn check(&self, policy: &Policy) -> Result<(), String> {
        check_ids(&self.account_id, self.known_ids.iter().chain(&self.new_id))?;
        if self.recorded_at.is_none() {
            return Err("it has no recordedAt (the platform's time when it was made)".into());
        }
        check_declared(policy, &self.account_id, &self.name, None)
    }

    /// Whether `token` (read from the platform, with its audit) can be the one this record's
    /// create made: of its account and name, none of the ids that had the name before, and
    /// created no earlier than the record (by the platform's clock).
    pub fn may_have_made(&self, token: &mpt::Token) -> Result<(), String> {
        let id = token.id();
        check_owner(token, &self.account_id, &self.name)?;
        if self.known_ids.iter().any(|k| k == id) {
            return Err(format!("{id} had the name before the create was sent"));
        }
        match (token.created_at(), self.recorded_at) {
            // The record's time is a whole second (an HTTP date), cut down.
            (Some(created), Some(recorded)) if created >= recorded => Ok(()),
            (Some(created), Some(recorded)) => Err(format!(
                "{id} was created at {created}, before the record ({recorded})"
            )),
            _ => Err(format!("{id}: its creation time is unknown")),
        }
    }
}

/// A record's ids: its account's and its tokens', each of the platform's shape.
pub(crate) fn check_ids<'a>(
    account: &str,
    tokens: impl IntoIterator<Item = &'a String>,
) -> Result<(), String> {
    use crate::ids::{IdKind, check_id};
    check_id(IdKind::Account, account).map_err(|e| format!("accountId: {e}"))?;
    tokens
        .into_iter()
        .try_for_each(|id| check_id(IdKind::Token, id))
}

/// That the policy declares a token `name` in `account` (the one pinned to `token_id`, or the
/// unpinned one of the name).
pub(crate) fn check_declared(
    policy: &Policy,
    account: &str,
    name: &str,
    token_id: Option<&str>,
) -> Result<(), String> {
    match policy.declared(account, name, token_id) {
        Some(_) => Ok(()),
        None => Err(format!(
            "the policy declares no token {name:?} in account {account}{}",
            token_id.map(|id| format!(" for {id}")).unwrap_or_default()
        )),
    }
}

/// That `token` (read from the platform) is of `account` and named `name`.
pub(crate) fn check_owner(token: &mpt::Token, account: &str, name: &str) -> Result<(), String> {
    if token.account_id() == Some(account) && token.name() == Some(name) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a token {name:?} of account {account}",
            token.id()
        ))
    }
}

/// Modules the platform refused to put on a token (not enabled for the account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Refused {
    pub token_id: String,
    pub modules: Vec<String>,
    pub at: DateTime<Utc>,
    pub reason: String,
}

impl Refused {
    /// Whether every module in `added` is one the platform refused (and there is one).
    pub fn covers(&self, added: &[String]) -> bool {
        !added.is_empty() && added.iter().all(|m| self.modules.contains(m))
    }

    /// Why they are not sent again, and how to retry (`at`: where the record is).
    pub fn explain(&self, at: &str) -> String {
        format!(
            "modules {} were refused on {} ({}); the platform strips a module from every token when it leaves the account's default group. Not sent again: remove {at} to retry",
            self.modules.join(","),
            self.at.format("%Y-%m-%d"),
            self.reason,
        )
    }
}
