//! The rows of pending work in the plan, and what they share: a record judged ([`Judged`]),
//! refused, left unjudged, or moot (its name declared absent).

use super::{ActionKind, PlannedAction, Step};
use crate::policy::{Policy, Wanted};
use crate::state::{Key, Kind, RecordError, StoreError};

/// A pending record, judged: its action, and the tokens it touches (the plan's own actions on
/// them are left to it).
pub(super) struct Judged {
    pub(super) action: PlannedAction,
    pub(super) touches: Vec<String>,
}

/// Whether `policy` declares `name` in `account` (pinned or not): records of other names are
/// another policy's work.
pub(crate) fn owns(policy: &Policy, account: &str, name: &str) -> bool {
    policy
        .accounts
        .iter()
        .any(|a| a.id == account && a.tokens.iter().any(|t| t.name == name))
}

/// Whether a record that reads, of `name` in `account`, is another policy's work (left alone,
/// counted): of a name `policy` does not declare, and not empty (no policy declares an empty
/// name: such a record is refused, never counted as another's; tester round 25, F4).
pub(crate) fn theirs(policy: &Policy, account: &str, name: &str) -> bool {
    !name.is_empty() && !owns(policy, account, name)
}

/// Whether a create record kept as `key` is of a name `policy` does not declare, by its key
/// (one that does not read is then another policy's: left alone, counted and named, tester
/// round 20, L2); `false` when its key names none.
pub(crate) fn undeclared(policy: &Policy, key: &crate::state::Key) -> bool {
    // An empty name is no policy's: a key naming one names none (tester round 24, S4).
    key.create_of()
        .is_some_and(|(account, name)| theirs(policy, &account, &name))
}

pub(super) fn pending(
    kind: ActionKind,
    account: &str,
    name: &str,
    token: Option<&str>,
) -> PlannedAction {
    PlannedAction {
        account: account.to_string(),
        name: name.to_string(),
        token_id: token.map(str::to_string),
        kind,
        reason: String::new(),
        changes: Vec::new(),
        revision: None,
        destructive: false,
        steps: Vec::new(),
    }
}

/// `action` with what resuming would do (`steps`) and why, in words.
pub(super) fn with_steps(
    mut action: PlannedAction,
    what: &str,
    at: &str,
    steps: Vec<Step>,
) -> PlannedAction {
    let words: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
    action.reason = format!(
        "pending {what} of an interrupted apply ({at}): resuming would {}",
        words.join(", ")
    );
    action.steps = steps;
    action
}

pub(super) fn refused(mut action: PlannedAction, at: &str, why: &RecordError) -> PlannedAction {
    action.reason = format!("pending record {at}: refused: {why}; it is left in place");
    action.steps = vec![Step::Refused];
    action
}

/// Whether `policy` declares `name` in `account` absent (unpinned): every live token of the
/// name is then the plan's to delete, and a record of its pending work has nothing left to
/// resume (no secret is handed over for a token to be deleted). Its record is removed once no
/// live token has the name.
pub(crate) fn declared_absent(policy: &Policy, account: &str, name: &str) -> bool {
    policy
        .declared(account, name, None)
        .is_some_and(|d| d.status == Wanted::Absent)
}

/// The row of a record whose name is declared absent (see [`declared_absent`]): the plan's
/// own deletes stay.
pub(super) fn moot(action: PlannedAction, what: &str, at: &str) -> Judged {
    let mut action = with_steps(action, what, at, vec![Step::Remove]);
    action.reason = format!(
        "pending {what} of an interrupted apply ({at}): the policy declares {:?} absent: nothing of it is resumed (no secret is handed over); the live tokens of the name are the plan's to delete (destructive: needs --allow-destroy), and the record is removed once none is left",
        action.name
    );
    Judged {
        action,
        touches: Vec::new(),
    }
}

pub(super) fn unjudged(mut action: PlannedAction, at: &str, why: &str) -> PlannedAction {
    action.reason = format!("pending record {at}: cannot be judged now: {why}");
    action
}

/// A record that cannot be read: refused, with the account and name (a create's) or the old
/// token (a rotation's) its key gives; a rotation's old token waits, as for a record refused
/// after it was read (its name is filled in from the plan's actions on it).
pub(super) fn unreadable(key: &Key, at: &str, e: &StoreError) -> Judged {
    let why = RecordError::Garbled(e.to_string());
    if key.kind == Kind::Rotation {
        let old = key.rotation_of();
        let action = pending(ActionKind::Resume, &key.account, "", old.as_deref());
        return Judged {
            action: refused(action, at, &why),
            touches: old.into_iter().collect(),
        };
    }
    // A create's key is `<account>-<hex of the name>`, when it is one.
    let (account, name) = key.create_of().unwrap_or_default();
    let action = pending(ActionKind::Resume, &account, &name, None);
    Judged {
        action: refused(action, at, &why),
        touches: Vec::new(),
    }
}
