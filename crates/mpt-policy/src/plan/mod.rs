//! The plan: every action that would bring the accounts to their policy, with its reason. The
//! types are here; how a plan is made (reading the accounts, the rules) is in `judge`.

mod judge;
mod late;
mod pending;
mod pending_rotations;
mod pending_rows;

pub(crate) use judge::{field_changes, plan_judged, rotation_due};
pub(crate) use late::{
    Late, account_tokens, as_landed, deleted_tokens, is_late, is_late_row, is_listing_row, live,
    unread_rows,
};
pub(crate) use pending_rows::{declared_absent, owns, theirs, undeclared};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::policy::{Policy, PolicyError};
use crate::sink::SecretSink;

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ActionKind {
    /// Create the declared token (then disable it when it is declared Disabled).
    Create,
    /// Change its description, icon or modules (see [`PlannedAction::changes`]).
    Update,
    /// Enable it.
    Enable,
    /// Disable it (declared Disabled, idle, or not declared under `unmanaged = "disable"`).
    Disable,
    /// Delete it (declared absent, or Disabled for longer than `delete_disabled_after`).
    Delete,
    /// Replace its secret without downtime (older than `rotate_after`).
    Rotate,
    /// A live token the policy does not declare (`unmanaged = "report"`): shown, not changed.
    Unmanaged,
    /// Several live tokens match one declared name: nothing is done to any of them.
    Ambiguous,
    /// A pinned id that is not a live token of the account: nothing can be done.
    Unresolved,
    /// Work an interrupted apply left in the state store, which the next apply resumes first:
    /// [`PlannedAction::steps`] says what resuming it would do.
    Resume,
}

/// A field of a token that a policy manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Field {
    /// The description.
    Description,
    /// The icon.
    Icon,
    /// The modules (comma-separated, sorted, in a [`FieldChange`]).
    Modules,
}

impl Field {
    /// The word plans use for it, as in their JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Description => "description",
            Field::Icon => "icon",
            Field::Modules => "modules",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field an update changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldChange {
    /// Which field.
    pub field: Field,
    /// Its value now (modules comma-separated, sorted).
    pub from: Option<String>,
    /// Its declared value.
    pub to: Option<String>,
}

/// One action of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlannedAction {
    /// The account.
    pub account: String,
    /// The token's name (declared, or as read).
    pub name: String,
    /// The token acted on (none for a create, nor for the update of a pending rotation's
    /// replacement still to be made).
    pub token_id: Option<String>,
    /// What to do.
    pub kind: ActionKind,
    /// Why, in words (`idle 134 d (disable after 90 d)`).
    pub reason: String,
    /// The fields an update changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// The token's revision when planned: an apply refuses a token that moved since.
    pub revision: Option<i32>,
    /// Whether it destroys something on a word apply needs `allow_destroy` for: a delete,
    /// disabling a token the policy does not declare, or a resumed rotation whose record is its
    /// only reason to retire and delete the old token (not one whose replacement the platform
    /// shows now, nor one whose old token the policy rotates now).
    pub destructive: bool,
    /// For pending work ([`ActionKind::Resume`]): what resuming it would do, in order (empty
    /// when it cannot be judged now: the reason says why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// One thing resuming a pending record would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Step {
    /// Take the one token an interrupted create made as its own.
    Adopt,
    /// Make the replacement (a rotation whose create was not sent).
    Create,
    /// Hand the new secret (read from the platform again) to the entry's sink.
    Deliver,
    /// Check that the replacement's secret works.
    Verify,
    /// Disable the token declared Disabled once it is made.
    Disable,
    /// Disable the old token.
    Retire,
    /// Delete the old token.
    Finish,
    /// Remove the record: its work is done, or it made nothing (then the plan's own actions
    /// run), or its name is declared absent (nothing of it is resumed: the plan's deletes of
    /// the name's tokens run, and the record goes once none is live).
    Remove,
    /// Nothing: the record fails a check against the policy or the platform, or cannot be read
    /// (the reason says which); it is left in place, and the plan's create or rotation that
    /// would write its own record over it waits (taken out of the plan) until it is removed.
    Refused,
}

impl Step {
    /// The word plans use for it (`adopt`, `retire`, ...), as in their JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Adopt => "adopt",
            Step::Create => "create",
            Step::Deliver => "deliver",
            Step::Verify => "verify",
            Step::Disable => "disable",
            Step::Retire => "retire",
            Step::Finish => "finish",
            Step::Remove => "remove",
            Step::Refused => "refused",
        }
    }
}

/// Every action that would bring the accounts to their policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// When the state was read.
    pub made_at: DateTime<Utc>,
    /// The accounts read.
    pub accounts: Vec<String>,
    /// The actions, account by account, declared tokens first; pending work from the state
    /// store ([`ActionKind::Resume`]) first of all, once [`Plan::include_pending`] added it.
    pub actions: Vec<PlannedAction>,
    /// How many records in the state store are another policy's pending work (names or
    /// accounts this policy does not declare): left alone by apply, not drift.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub others_pending: usize,
    /// Where those of them that do not read are (of names this policy does not declare: left
    /// alone, counted in [`Plan::others_pending`] and named here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others_unread: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ActionKind {
    /// The word plans use for it (`create`, `disable`, ...), as in their JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Update => "update",
            ActionKind::Enable => "enable",
            ActionKind::Disable => "disable",
            ActionKind::Delete => "delete",
            ActionKind::Rotate => "rotate",
            ActionKind::Unmanaged => "unmanaged",
            ActionKind::Ambiguous => "ambiguous",
            ActionKind::Unresolved => "unresolved",
            ActionKind::Resume => "resume",
        }
    }
}

impl Plan {
    /// Whether an apply has anything to do: an action that changes a token, or pending work.
    /// Reports alone (an undeclared token under `unmanaged = "report"`, an ambiguous name, an
    /// unresolved pin) are shown, and are not changes: an apply right after an apply plans none.
    pub fn has_changes(&self) -> bool {
        self.actions.iter().any(|a| {
            !matches!(
                a.kind,
                ActionKind::Unmanaged | ActionKind::Ambiguous | ActionKind::Unresolved
            )
        })
    }

    /// How many actions of `kind`.
    pub fn count(&self, kind: ActionKind) -> usize {
        self.actions.iter().filter(|a| a.kind == kind).count()
    }
}

impl PlannedAction {
    /// An action an earlier apply began (no plan holds it).
    pub(crate) fn resumed(
        kind: ActionKind,
        account: &str,
        name: &str,
        token_id: Option<String>,
    ) -> Self {
        PlannedAction {
            account: account.to_string(),
            name: name.to_string(),
            token_id,
            kind,
            reason: "resumed: an earlier apply was interrupted".into(),
            changes: Vec::new(),
            revision: None,
            destructive: false,
            steps: Vec::new(),
        }
    }
}

impl Plan {
    /// Adds to each update's reason the modules an earlier apply (with the state `store`) found
    /// the platform refusing for that token, which applies do not send again. Reads only; a
    /// store without records adds nothing.
    pub async fn explain_refused(&mut self, store: &dyn crate::state::Store) {
        for action in &mut self.actions {
            if action.kind != ActionKind::Update {
                continue;
            }
            let (Some(id), Some(added)) = (&action.token_id, added_modules(&action.changes)) else {
                continue;
            };
            let key = crate::state::Key::refused(&action.account, id);
            let refused: Option<crate::state::Refused> = store.get(&key).await;
            if let Some(r) = refused.filter(|r| r.covers(&added)) {
                action.reason = format!("{}; {}", action.reason, r.explain(&store.describe(&key)));
            }
        }
    }
}

impl Plan {
    /// The records of another policy's pending work in the state store, in words, naming
    /// those that do not read: `3 record(s) of another policy's pending work left alone (1 of
    /// them not read: …)`; `None` when there are none.
    pub fn others_left_alone(&self) -> Option<String> {
        (self.others_pending > 0).then(|| {
            format!(
                "{} record(s) of another policy's pending work left alone{}",
                self.others_pending,
                unread_named(&self.others_unread)
            )
        })
    }
}

/// How a summary names the records of another policy's pending work that do not read:
/// nothing when there are none.
pub(crate) fn unread_named(unread: &[String]) -> String {
    match unread {
        [] => String::new(),
        _ => format!(
            " ({} of them not read: {})",
            unread.len(),
            unread.join(", ")
        ),
    }
}

/// The modules a change list's `modules` change adds, sorted; `None` without one.
pub(crate) fn added_modules(changes: &[FieldChange]) -> Option<Vec<String>> {
    let change = changes.iter().find(|c| c.field == Field::Modules)?;
    let from = modules_of(change.from.as_deref());
    Some(
        modules_of(change.to.as_deref())
            .into_iter()
            .filter(|m| !from.contains(m))
            .collect(),
    )
}

/// A plan's comma-separated module list, sorted.
pub(crate) fn modules_of(list: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = list
        .unwrap_or("")
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect();
    ids.sort();
    ids
}

impl Plan {
    /// Checks, before anything is sent, each secret sink of `policy`'s entries as a delivery
    /// of this plan would use it: a file where a directory, a symlink, or anything but a
    /// secret is (the checks `mpt tokens create --secret-file` makes of its file, then those
    /// of a delivery), or, for an entry this plan creates or rotates, a file holding the secret
    /// of another token than the one rotated; for an entry this plan creates, rotates or
    /// resumes, a command whose program cannot be started (not found at its path or in
    /// `PATH`, not a regular file, not executable). The error names the policy's file, the
    /// entry's line and its `secret` key (`secret.command` for a command), the entry's name,
    /// and the file or program. A secret file inside the store `state` (a state directory) is
    /// refused: no store holds a secret.
    pub fn check_sinks_in(
        &self,
        policy: &Policy,
        state: &dyn crate::state::Store,
    ) -> Result<(), PolicyError> {
        for (a, account) in policy.accounts.iter().enumerate() {
            for (t, declared) in account.tokens.iter().enumerate() {
                if let Some(SecretSink::File { path }) = &declared.secret
                    && state.holds_path(path)
                {
                    return Err(PolicyError {
                        file: policy.file.clone(),
                        line: declared.line,
                        key: format!("accounts[{a}].tokens[{t}].secret"),
                        message: format!(
                            "{:?}: {} is inside the state directory, where no secret may go; nothing was sent",
                            declared.name,
                            path.display()
                        ),
                    });
                }
            }
        }
        self.check_sinks(policy)
    }

    /// [`Plan::check_sinks_in`] without the store: every check but where the store is.
    pub fn check_sinks(&self, policy: &Policy) -> Result<(), PolicyError> {
        for (a, account) in policy.accounts.iter().enumerate() {
            for (t, declared) in account.tokens.iter().enumerate() {
                let Some(sink) = &declared.secret else {
                    continue;
                };
                let delivering: Vec<&PlannedAction> = self
                    .actions
                    .iter()
                    .filter(|x| {
                        x.account == account.id
                            && policy
                                .declared(&x.account, &x.name, x.token_id.as_deref())
                                .is_some_and(|d| std::ptr::eq(d, declared))
                            && matches!(x.kind, ActionKind::Create | ActionKind::Rotate)
                    })
                    .collect();
                // A rotation's file may hold its old token's secret; a create's, none. Pending
                // work may have written its new secret already: any token's then.
                let resumed = self.actions.iter().any(|x| {
                    x.kind == ActionKind::Resume
                        && x.account == account.id
                        && x.name == declared.name
                });
                let owners: Vec<Option<&str>> =
                    delivering.iter().map(|x| x.token_id.as_deref()).collect();
                let owners = (!delivering.is_empty() && !resumed).then_some(owners.as_slice());
                // A command only where this plan delivers: its program may be installed only
                // where the applies that need it run.
                let command = matches!(sink, SecretSink::Command { .. });
                if command && delivering.is_empty() && !resumed {
                    continue;
                }
                if let Err(e) = sink.check(owners) {
                    return Err(PolicyError {
                        file: policy.file.clone(),
                        line: declared.line,
                        key: format!(
                            "accounts[{a}].tokens[{t}].secret{}",
                            if command { ".command" } else { "" }
                        ),
                        message: format!("{:?}: {e}; nothing was sent", declared.name),
                    });
                }
            }
        }
        Ok(())
    }
}
