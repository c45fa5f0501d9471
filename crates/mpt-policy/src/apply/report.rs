//! What an apply reports: a result per action, by evidence, and why an apply did not run.

use serde::{Deserialize, Serialize};

use crate::plan::{ActionKind, PlannedAction};
use mpt::Error;

/// What carrying out an action did, by evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Applied {
    /// This call made the change (its answer says so).
    Changed,
    /// Nothing was needed: the token was already as declared.
    Unchanged,
    /// The token is as declared, but the answers cannot tell whether this call put it there
    /// (an answer was lost and a read back shows the declared state, or the server answers
    /// no-ops with 200; a create's token, or a rotation's replacement, found after this call's
    /// create lost its answer).
    Unconfirmed,
    /// The action failed; `detail` says why and what state is known.
    Failed,
    /// A destructive action without `allow_destroy`: shown, not carried out.
    Skipped,
    /// Nothing to carry out by design (an undeclared token reported, an ambiguous name, an
    /// unresolved pin).
    Reported,
    /// The platform refused it (modules not enabled for the account: it strips them from every
    /// token when they leave the account's default group); not sent again by later applies.
    NotApplied,
    /// The apply was cancelled before this action began, or while it saved its record before
    /// sending anything (that save abandoned: it may still land, and the next apply finds that
    /// its create made nothing): nothing was sent for it (for a rotation stopped after its
    /// replacement was made and handed over: nothing more, the old token untouched).
    NotAttempted,
    /// The apply was interrupted while this action was in flight, and stopped waiting for it
    /// (the grace after the interrupt was over), or a create or rotation of this apply sent its
    /// create and the interrupt came after its answer was lost, before it adopted what it made:
    /// it may have happened. What it began is in the state store, and the next apply checks it
    /// (an action whose record was removed once its work was done says so: the next plan shows
    /// what is left).
    OutcomeUnknown,
    /// A record read back from the state (a create's or a rotation's) failed a check against
    /// the policy or the platform: reported with the reason and the file, left in place, and
    /// nothing was sent for it.
    Refused,
    /// A create or rotation an earlier apply began (interrupted, or its sink failed: its record
    /// was pending in the state store): the token it made (a create's token, a rotation's
    /// replacement), found on the platform now by the ids its record kept and checked against
    /// the record, was adopted, its secret handed over (unless that apply had done it) and the
    /// work finished (a rotation's old token retired and deleted; disabled too, when declared
    /// so). Not made by this call, so counted once, as adopted: not as created or rotated.
    Adopted,
    /// The token changed since the plan (its revision moved, or it is gone): read again right
    /// before acting, it was skipped, and nothing was sent for it; `detail` gives the planned
    /// and the current revision. Plan again.
    Moved,
}

impl Applied {
    /// The word results use for it (`changed`, `notApplied`, ...), as in their JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Changed => "changed",
            Applied::Unchanged => "unchanged",
            Applied::Unconfirmed => "unconfirmed",
            Applied::Failed => "failed",
            Applied::Skipped => "skipped",
            Applied::Reported => "reported",
            Applied::NotApplied => "notApplied",
            Applied::NotAttempted => "notAttempted",
            Applied::OutcomeUnknown => "outcomeUnknown",
            Applied::Refused => "refused",
            Applied::Moved => "moved",
            Applied::Adopted => "adopted",
        }
    }
}

/// One action's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActionResult {
    /// The action (a resumed create or rotation has `resumed` set).
    pub action: PlannedAction,
    /// What happened.
    pub result: Applied,
    /// In words: what was done, or why not, and where things are.
    pub detail: String,
    /// The token a create or rotation made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_token_id: Option<String>,
    /// Where its new secret went (a file, or a command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_at: Option<String>,
    /// Work an earlier, interrupted apply began, finished by this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
}

/// Every action's result, each once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApplyReport {
    /// The results, in the order they were known.
    pub results: Vec<ActionResult>,
    /// How many records in the state store are another policy's pending work (of names, or
    /// accounts, this policy does not declare): left alone, neither acted on nor refused.
    #[serde(default)]
    pub others_pending: usize,
    /// Where those of them that do not read are (of names this policy does not declare: left
    /// alone, counted in [`ApplyReport::others_pending`] and named here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others_unread: Vec<String>,
}

impl ApplyReport {
    /// How many actions failed, records refused, tokens moved since the plan and actions whose
    /// outcome is unknown included (each needs a look).
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| {
                matches!(
                    r.result,
                    Applied::Failed | Applied::Refused | Applied::Moved | Applied::OutcomeUnknown
                )
            })
            .count()
    }

    /// How many actions of `kind` ended in the declared state by this apply's request
    /// (`Changed` or `Unconfirmed`).
    pub fn done(&self, kind: ActionKind) -> usize {
        self.results
            .iter()
            .filter(|r| {
                r.action.kind == kind && matches!(r.result, Applied::Changed | Applied::Unconfirmed)
            })
            .count()
    }

    /// How many results are `result`.
    pub fn count(&self, result: Applied) -> usize {
        self.results.iter().filter(|r| r.result == result).count()
    }

    /// One line: `3 created, 1 rotated, 2 disabled, 0 failed`, with adopted, skipped, not
    /// applied and reported actions when there are any.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = [
            (ActionKind::Create, "created"),
            (ActionKind::Update, "updated"),
            (ActionKind::Enable, "enabled"),
            (ActionKind::Disable, "disabled"),
            (ActionKind::Delete, "deleted"),
            (ActionKind::Rotate, "rotated"),
        ]
        .iter()
        .map(|(kind, word)| format!("{} {word}", self.done(*kind)))
        .collect();
        for (result, word) in [
            (
                Applied::Adopted,
                "adopted (made by an earlier apply, finished now)",
            ),
            (Applied::Unchanged, "unchanged"),
            (Applied::Skipped, "skipped (need --allow-destroy)"),
            (Applied::NotApplied, "could not be applied"),
            (Applied::Reported, "reported"),
            (Applied::NotAttempted, "not attempted"),
            (
                Applied::OutcomeUnknown,
                "in flight when interrupted (they may have happened)",
            ),
            (
                Applied::Refused,
                "refused (a state record failed its check)",
            ),
            (Applied::Moved, "moved since the plan (plan again)"),
        ] {
            let n = self.count(result);
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        parts.push(format!("{} failed", self.count(Applied::Failed)));
        if self.others_pending > 0 {
            parts.push(format!(
                "{} records of another policy's pending work left alone{}",
                self.others_pending,
                crate::plan::unread_named(&self.others_unread)
            ));
        }
        parts.join(", ")
    }
}

/// Why an apply did not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The saved plan no longer matches the accounts: these tokens (ids, or names for creates)
    /// moved since it was made. Nothing was changed for it; plan again.
    #[error(
        "the saved plan is stale: the state moved since it was made, for {}; plan again",
        tokens.join(", ")
    )]
    Stale {
        /// The tokens whose actions differ.
        tokens: Vec<String>,
    },
    /// The saved plan was made for other accounts than the policy declares.
    #[error("the saved plan is for accounts {planned:?}, the policy declares {declared:?}")]
    OtherAccounts {
        /// The plan's accounts.
        planned: Vec<String>,
        /// The policy's accounts.
        declared: Vec<String>,
    },
    /// The saved plan's `made_at` is in the future, or older than
    /// [`MAX_SAVED_PLAN_AGE`](crate::MAX_SAVED_PLAN_AGE), by the platform's clock.
    #[error(
        "the saved plan was made at {made_at}, and the platform's time is {now}: {why}; plan again"
    )]
    PlanTime {
        /// The saved plan's `made_at`.
        made_at: chrono::DateTime<chrono::Utc>,
        /// The platform's time now.
        now: chrono::DateTime<chrono::Utc>,
        /// What is wrong with it.
        why: String,
    },
    /// The state store could not prove an account's lock before a change (its database
    /// session was lost: terminated, a restarted server, a backend or network that stopped
    /// answering): nothing more was sent. The results so far are in `report`; run apply again
    /// to finish.
    #[error(
        "lost the state store's session after {actions} actions; nothing more was sent; run apply again to finish ({why})"
    )]
    SessionLost {
        /// How many actions were carried out (whatever their result) before it was lost.
        actions: usize,
        /// What showed it.
        why: String,
        /// The results so far.
        report: ApplyReport,
    },
    /// The state store cannot be used (a bad location, a database that cannot be reached, a
    /// newer schema, a path refused), or another apply holds an account of this one.
    #[error(transparent)]
    Store(#[from] crate::state::StoreError),
    /// A secret sink of the policy cannot be used (a secret file where a directory, a
    /// symlink or another token's secret is): refused before anything was sent.
    #[error("policy: {0}")]
    Sink(#[from] crate::policy::PolicyError),
    /// Reading the accounts failed; nothing was changed by the plan (work resumed from the
    /// state directory is in no report).
    #[error(transparent)]
    Api(#[from] Error),
}
