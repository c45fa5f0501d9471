//! The records an apply keeps in its store, and the checks each one passes before anything is
//! done with it: a create in flight ([`CreateRecord`]), a rotation in flight (the facade's
//! [`mpt::RotationPlan`], checked by the apply), modules the platform refused ([`Refused`]).
//! A record read back is a claim: its fields are checked against the policy and the platform.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{IdError, IdKind, check_id};
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
    /// The SHA-256 ([`mpt::marker_hash`]) of each random marker a create of this record sent in
    /// the token's description (see [`mpt::marked_description`]), saved before it, the latest
    /// last: a token outside `knownIds` is this record's only if it carries one of those
    /// markers. The marker itself is never saved, so whoever reads the store cannot make a
    /// token carry it. Empty in records written before marker hashes existed (a `marker` an
    /// unreleased version saved in its place is ignored: such a record adopts nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marker_hashes: Vec<String>,
}

/// Why a record read back is refused: what it claims that the policy or the platform, read
/// now, does not bear out. Nothing is sent for a refused record; it is left in place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RecordError {
    /// An id not of the platform's shape.
    #[error("{field}: {source}")]
    BadId {
        /// The field (`accountId`, or the token ids).
        field: &'static str,
        /// Why.
        #[source]
        source: IdError,
    },
    /// A create record without its time.
    #[error("it has no recordedAt (the platform's time when it was made)")]
    NoTime,
    /// The policy declares no such entry.
    #[error("the policy declares no token {name:?} in account {account}{}", token.as_ref().map(|id| format!(" for {id}")).unwrap_or_default())]
    Undeclared {
        /// The account.
        account: String,
        /// The name.
        name: String,
        /// The old token of a rotation.
        token: Option<String>,
    },
    /// The entry is pinned: apply never rotates it.
    #[error("the policy pins {id} by `id`: a pinned entry is never rotated by apply")]
    Pinned {
        /// The pinned token.
        id: String,
    },
    /// A token (`role`: the token, its old token, its replacement) of another account or name.
    #[error("{role}{id} is not a token {name:?} of account {account}")]
    NotOwner {
        /// Which token of the record, in words (with a trailing space), or empty.
        role: &'static str,
        /// The token.
        id: String,
        /// The record's account.
        account: String,
        /// The record's name.
        name: String,
    },
    /// A token that had the name before the create or rotation began.
    #[error("{role}{id} had the name before the {what} was sent")]
    KnownBefore {
        /// Which token, in words (with a trailing space), or empty.
        role: &'static str,
        /// The token.
        id: String,
        /// `create` or `rotation`.
        what: &'static str,
    },
    /// A token made before the record.
    #[error("{role}{id} was made at {made}, before the record ({by}: {recorded})")]
    MadeBefore {
        /// Which token, in words (with a trailing space), or empty.
        role: &'static str,
        /// The token.
        id: String,
        /// When the platform says it was made.
        made: DateTime<Utc>,
        /// Which of the record's times it is judged by, in words.
        by: &'static str,
        /// That time (less any slack allowed for it).
        recorded: DateTime<Utc>,
    },
    /// A token whose creation time the platform does not say.
    #[error("{role}{id}: its creation time is unknown")]
    NoCreationTime {
        /// Which token, in words (with a trailing space), or empty.
        role: &'static str,
        /// The token.
        id: String,
    },
    /// A rotation record whose `knownIds` lack its old token.
    #[error("its knownIds lack the old token {id} (every record an apply writes has it)")]
    OldNotKnown {
        /// The old token.
        id: String,
    },
    /// A rotation record that says `finished` while its old token lives.
    #[error("it says the old token was deleted, but {id} is {status}")]
    OldStillLive {
        /// The old token.
        id: String,
        /// Its status now.
        status: mpt::TokenStatus,
    },
    /// A rotation record past its start without a replacement.
    #[error("it is past its start ({phase:?}) but names no replacement")]
    NoReplacement {
        /// Its phase.
        phase: mpt::RotationPhase,
    },
    /// A token the record names that does not exist.
    #[error("{role}{id} does not exist")]
    Missing {
        /// Which token, in words (with a trailing space).
        role: &'static str,
        /// The token.
        id: String,
    },
    /// A replacement that is not Active.
    #[error("its replacement {id} is {status}, not Active")]
    NotActive {
        /// The replacement.
        id: String,
        /// Its status now.
        status: mpt::TokenStatus,
    },
    /// A replacement older than the old token.
    #[error(
        "its replacement {id} is older than the old token {old} (made {made}, before {old_made})"
    )]
    OlderThanOld {
        /// The replacement.
        id: String,
        /// The old token.
        old: String,
        /// When the replacement was made.
        made: DateTime<Utc>,
        /// When the old token was made.
        old_made: DateTime<Utc>,
    },
    /// A replacement whose secret the platform does not return.
    #[error(
        "the platform does not return the secret of its replacement {id}, so it cannot be verified"
    )]
    NoSecret {
        /// The replacement.
        id: String,
    },
    /// A replacement whose secret does not authenticate.
    #[error("the secret of its replacement {id} does not work: {source}")]
    SecretFails {
        /// The replacement.
        id: String,
        /// What the platform answered.
        #[source]
        source: Box<mpt::Error>,
    },
    /// The record itself cannot be read (not JSON of a record, empty, a link, a FIFO, ...):
    /// nothing it may claim is known, and its file stays for a look.
    #[error("it cannot be read ({0})")]
    Garbled(String),
    /// A token the record names could not be read.
    #[error("{role}{id} could not be read: {source}")]
    Unreadable {
        /// Which token, in words (with a trailing space).
        role: &'static str,
        /// The token.
        id: String,
        /// What failed.
        #[source]
        source: Box<mpt::Error>,
    },
    /// A rotation record of an entry the policy declares absent, whose ids are not of the
    /// platform's shape (one whose ids are is not resumed: its name's tokens are the plan's to
    /// delete). A record of an entry declared Disabled is resumed: it never starts a rotation,
    /// and one past its start is finished, its replacement then disabled.
    #[error("the policy declares {name:?} {status}: a rotation of it is not resumed")]
    NotRotatable {
        /// The name.
        name: String,
        /// What the policy declares.
        status: crate::policy::Wanted,
    },
    /// A rotation record whose old token is not the one token of its name the plan would
    /// rotate: other live tokens have the name.
    #[error("{id} is not the only live token named {name:?} ({} too): the plan would rotate none of them; check them and remove the ones not wanted, not the record (it may name a replacement whose secret only it leads to): the next apply resumes it", others.join(", "))]
    NotTheOne {
        /// The record's old token.
        id: String,
        /// The name.
        name: String,
        /// The other live tokens of the name (neither the old token nor its replacement).
        others: Vec<String>,
    },
    /// A rotation record whose old token is not in the status its phase leaves it in: Active
    /// before it is retired, Disabled once retired.
    #[error(
        "it is at {phase:?}, but its old token {id} is {status} (it must be {wanted}): it was changed since, and nothing is sent for it"
    )]
    OldStatus {
        /// The old token.
        id: String,
        /// The record's phase.
        phase: mpt::RotationPhase,
        /// Its status now.
        status: mpt::TokenStatus,
        /// The status the phase leaves it in.
        wanted: &'static str,
    },
    /// Create records of one account and name that name different tokens: none is trusted.
    #[error("the create records of this name name different tokens ({}): none is delivered until the extra records are removed", ids.join(", "))]
    Ambiguous {
        /// The tokens they name.
        ids: Vec<String>,
    },
    /// A create record naming a token that is not Active: a token its create made is Active
    /// until its secret is handed over (a Disabled entry's token is disabled only after).
    #[error(
        "its token {id} is {status}, not Active: its create made an Active token, and its secret is not handed over"
    )]
    MadeNotActive {
        /// The token.
        id: String,
        /// Its status now.
        status: mpt::TokenStatus,
    },
    /// A create record whose token (`newId`) is not the only token of its name it did not know:
    /// which one its create made cannot be told from the record (a forged record named one of
    /// two hand-made tokens and had it taken: tester round 25, F2).
    #[error(
        "{id} is not the only live token named {name:?} that the record did not know before its create ({}): which one its create made cannot be told, so none is taken on the record's word; once the ones not wanted are removed, the next apply resumes it",
        others.join(", ")
    )]
    NotTheOnlyNew {
        /// The token the record names.
        id: String,
        /// The name.
        name: String,
        /// The other live tokens of the name outside its `knownIds`.
        others: Vec<String>,
    },
    /// A rotation record past its hand-over (`verified`, `retired`) whose entry's secret file
    /// holds another token's secret than its replacement's, where the record says it was handed
    /// over: the record is not taken on its word, and the old token is kept (a forged record at
    /// `verified` naming a hand-made token had the managed token deleted, its secret file left
    /// holding the deleted token's: tester round 24, S2).
    #[error(
        "its replacement's secret ({id}) is not in the entry's secret file {path}, which holds {holds}, where the record says it was handed over: not taken on the record's word; nothing is sent for the old token"
    )]
    NotHandedOver {
        /// The replacement.
        id: String,
        /// The secret file.
        path: String,
        /// What it holds, in words.
        holds: String,
    },
    /// A record's token (a create's `newId`, a rotation's replacement) that carries none of the
    /// record's markers and was never edited since it was made, or, a create's, whose secret was
    /// used: not as this tool's create leaves the token it makes, so the record's word alone does
    /// not make it the record's (tester round 24, S1; round 25, F1).
    #[error(
        "the token it names, {id}, {why}: not as this tool's create leaves the token it makes (made carrying the record's marker, the marker then taken out; a create's secret unused until handed over), so it is not taken on the record's word"
    )]
    NotAsMade {
        /// The token.
        id: String,
        /// What it shows.
        why: String,
    },
    /// Tokens of the record's account and name outside its `knownIds` whose description does
    /// not carry its marker: made by someone else, never adopted.
    #[error("{tokens} named {name:?} in account {account}: not made by this record's {what} (its description does not carry the record's marker), never adopted; {}", match marked.as_slice() {
        [] => "nothing carries the marker: its create never landed, and none is made while another token has the name".to_string(),
        ids => format!("{} carries the marker, but is not taken while another token has the name", ids.join(", ")),
    })]
    NotMadeByRecord {
        /// The tokens, each with who made it and when.
        tokens: String,
        /// The record's account.
        account: String,
        /// The record's name.
        name: String,
        /// `create` or `rotation`.
        what: &'static str,
        /// The tokens that carry the marker.
        marked: Vec<String>,
    },
    /// A record written before markers existed (its create may have been sent, no marker kept)
    /// and tokens of its account and name outside its `knownIds`: whose they are cannot be told.
    #[error(
        "it was written by an older version (its create may have been sent; it keeps no hash of a create marker, or only the marker itself, which anyone who read the store could have copied), and {tokens} appeared with its name since it was recorded: made by its create or by someone else, that cannot be told, so none is adopted; check each (created_by, and its creation time against when the interrupted apply ran)"
    )]
    NoMarker {
        /// The tokens, each with who made it and when.
        tokens: String,
    },
    /// Several tokens that carry the record's marker (only one create is ever sent for it).
    #[error("{} all carry a marker of its create, but only one create is ever sent with a marker: none is adopted (a token copied from ours, or a late create beside a later one); check each (created_by, creation time) and remove the ones not wanted, not the record: the next apply adopts the one left carrying the marker", ids.join(", "))]
    SeveralMarked {
        /// The tokens.
        ids: Vec<String>,
    },
}

impl RecordError {
    /// What to do about the refused record, in words: remove it once checked, but for a
    /// refusal that other tokens of its name cause, where the record is the way to its own
    /// token and the other tokens are what to remove (advice that removed the record lost the
    /// replacement it names: tester round 18).
    pub(crate) fn advice(&self) -> &'static str {
        match self {
            RecordError::SeveralMarked { .. }
            | RecordError::NotTheOne { .. }
            | RecordError::NotTheOnlyNew { .. } => "keep it: see above",
            _ => "remove it once checked",
        }
    }
}

impl CreateRecord {
    /// The record's own claims, checked before anything is done with it: ids of the platform's
    /// shape, and an account and name the policy declares.
    pub fn check(&self, policy: &Policy) -> Result<(), RecordError> {
        check_ids(&self.account_id, self.known_ids.iter().chain(&self.new_id))?;
        if self.recorded_at.is_none() {
            return Err(RecordError::NoTime);
        }
        check_declared(policy, &self.account_id, &self.name, None)
    }

    /// Whether `token` (read from the platform, with its audit) can be the one this record's
    /// create made: of its account and name, none of the ids that had the name before, and
    /// created no earlier than the record (by the platform's clock).
    pub fn may_have_made(&self, token: &mpt::Token) -> Result<(), RecordError> {
        let id = token.id().to_string();
        check_owner("", token, &self.account_id, &self.name)?;
        if self.known_ids.contains(&id) {
            return Err(RecordError::KnownBefore {
                role: "",
                id,
                what: "create",
            });
        }
        match (
            token.created_at(),
            self.recorded_at.map(|at| at - PLATFORM_CLOCK_SLACK),
        ) {
            (Some(created), Some(recorded)) if created >= recorded => Ok(()),
            (Some(made), Some(recorded)) => Err(RecordError::MadeBefore {
                role: "",
                id,
                made,
                by: BY_RECORDED_AT,
                recorded,
            }),
            _ => Err(RecordError::NoCreationTime { role: "", id }),
        }
    }
}

/// How much earlier than a record's `recordedAt` (the `Date` of one of the platform's answers)
/// the platform may say a token the record made was created: the `Date` is whole seconds, and
/// two of the platform's servers' clocks may differ a little. Nothing is lost by it: a token
/// made before the listing that recorded `knownIds` is among them.
pub(crate) const PLATFORM_CLOCK_SLACK: TimeDelta = TimeDelta::minutes(2);

/// How a [`RecordError::MadeBefore`] names a record's `recordedAt`.
pub(crate) const BY_RECORDED_AT: &str =
    "its recordedAt, the platform's time, less 2 minutes for the platform's servers' clocks";

/// The (account, name)s whose create records name different tokens, with those tokens: none
/// of those records is trusted (each is refused, [`RecordError::Ambiguous`]).
pub(crate) fn ambiguous_creates<'a, E: 'a>(
    records: impl IntoIterator<Item = &'a Result<CreateRecord, E>>,
) -> std::collections::HashMap<(String, String), Vec<String>> {
    let mut named: std::collections::HashMap<(String, String), Vec<String>> =
        std::collections::HashMap::new();
    for r in records.into_iter().flatten() {
        let ids = named
            .entry((r.account_id.clone(), r.name.clone()))
            .or_default();
        if let Some(id) = &r.new_id
            && !ids.contains(id)
        {
            ids.push(id.clone());
        }
    }
    named.retain(|_, ids| ids.len() > 1);
    for ids in named.values_mut() {
        ids.sort();
    }
    named
}

/// A record's ids: its account's and its tokens', each of the platform's shape.
pub(crate) fn check_ids<'a>(
    account: &str,
    tokens: impl IntoIterator<Item = &'a String>,
) -> Result<(), RecordError> {
    check_id(IdKind::Account, account).map_err(|source| RecordError::BadId {
        field: "accountId",
        source,
    })?;
    tokens.into_iter().try_for_each(|id| {
        check_id(IdKind::Token, id).map_err(|source| RecordError::BadId {
            field: "token id",
            source,
        })
    })
}

/// That the policy declares a token `name` in `account` (the one pinned to `token_id`, or the
/// unpinned one of the name).
pub(crate) fn check_declared(
    policy: &Policy,
    account: &str,
    name: &str,
    token_id: Option<&str>,
) -> Result<(), RecordError> {
    match policy.declared(account, name, token_id) {
        Some(_) => Ok(()),
        None => Err(RecordError::Undeclared {
            account: account.to_string(),
            name: name.to_string(),
            token: token_id.map(str::to_string),
        }),
    }
}

/// That `token` (read from the platform; `role`: which token of the record, in words with a
/// trailing space) is of `account` and named `name`.
pub(crate) fn check_owner(
    role: &'static str,
    token: &mpt::Token,
    account: &str,
    name: &str,
) -> Result<(), RecordError> {
    if token.account_id() == Some(account) && token.name() == Some(name) {
        Ok(())
    } else {
        Err(RecordError::NotOwner {
            role,
            id: token.id().to_string(),
            account: account.to_string(),
            name: name.to_string(),
        })
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
