//! Pending work in the plan: each record an interrupted apply left in the state store, judged
//! as the next apply would judge it (the same checks, read-only), with what resuming it would
//! do. A reviewer who approves a plan approves this work too; apply refuses pending work a
//! saved plan did not show.

use std::collections::HashSet;

use mpt::Client;
use mpt::TokenStatus;
use mpt::{RotationPhase, RotationPlan};

use super::{ActionKind, Plan, PlannedAction, Step};
use crate::evidence;
use crate::policy::{Policy, Wanted};
use crate::state::{CreateRecord, Key, Kind, RecordError, Store, StoreError};

/// A pending record, judged: its action, and the tokens it touches (the plan's own actions on
/// them are left to it).
struct Judged {
    action: PlannedAction,
    touches: Vec<String>,
}

/// Whether `policy` declares `name` in `account` (pinned or not): records of other names are
/// another policy's work.
pub(crate) fn owns(policy: &Policy, account: &str, name: &str) -> bool {
    policy
        .accounts
        .iter()
        .any(|a| a.id == account && a.tokens.iter().any(|t| t.name == name))
}

fn pending(kind: ActionKind, account: &str, name: &str, token: Option<&str>) -> PlannedAction {
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
fn with_steps(mut action: PlannedAction, what: &str, at: &str, steps: Vec<Step>) -> PlannedAction {
    let words: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
    action.reason = format!(
        "pending {what} of an interrupted apply ({at}): resuming would {}",
        words.join(", ")
    );
    action.steps = steps;
    action
}

fn refused(mut action: PlannedAction, at: &str, why: &RecordError) -> PlannedAction {
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
fn moot(action: PlannedAction, what: &str, at: &str) -> Judged {
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

fn unjudged(mut action: PlannedAction, at: &str, why: &str) -> PlannedAction {
    action.reason = format!("pending record {at}: cannot be judged now: {why}");
    action
}

impl Plan {
    /// Adds the work pending in the state `store` for `policy` (as read by `client`), first:
    /// each record of a name the policy declares as an [`ActionKind::Resume`] action with the
    /// [`Step`]s resuming it would do (destructive when the record is its only reason to
    /// retire and delete an old token: see [`PlannedAction::destructive`]),
    /// or refused with the reason; two records of one token once; records of other names
    /// counted in [`Plan::others_pending`]. The plan's own actions on the tokens that pending
    /// work touches are left to it (removed), but for a create's token it hands over, whose
    /// other actions (an update) run after it; a create or rotation that would write its record
    /// over a refused (or unreadable) one is removed too. A record of a name declared absent
    /// leaves the name's tokens to the plan's deletes. Reads only.
    pub async fn include_pending(&mut self, client: &Client, policy: &Policy, store: &dyn Store) {
        let accounts: Vec<String> = policy.accounts.iter().map(|a| a.id.clone()).collect();
        let mut judged: Vec<Judged> = Vec::new();
        let mut seen: HashSet<(Kind, String, String)> = HashSet::new();
        let mut rotating: HashSet<(String, String)> = HashSet::new();
        let creates = store
            .pending_of::<CreateRecord>(Kind::Create, &accounts)
            .await;
        let ambiguous = crate::state::ambiguous_creates(creates.iter().map(|(_, r)| r));
        // The create records refused (or unreadable), by their keys.
        let mut blocking: Vec<(usize, Vec<String>)> = Vec::new();
        let mut covered: HashSet<String> = HashSet::new();
        for (key, record) in creates {
            // A create of the name writes its record to that file only when the record is
            // kept under its own name (one under any other file name is left alone by it).
            let keys = vec![key.name.clone()];
            if let Ok(r) = &record {
                if !owns(policy, &r.account_id, &r.name) {
                    self.others_pending += 1;
                    continue;
                }
                let name = (r.account_id.clone(), r.name.clone());
                if let Some(ids) = ambiguous.get(&name) {
                    // Records of one name naming different tokens: each shown, each refused.
                    let action = pending(ActionKind::Resume, &name.0, &name.1, r.new_id.as_deref());
                    let why = RecordError::Ambiguous { ids: ids.clone() };
                    blocking.push((judged.len(), keys));
                    judged.push(Judged {
                        action: refused(action, &store.describe(&key), &why),
                        touches: ids.clone(),
                    });
                    continue;
                }
                if !seen.insert((Kind::Create, name.0, name.1)) {
                    continue;
                }
            }
            let mut judgement = judge_create(client, policy, store, &key, record).await;
            if judgement.action.steps == [Step::Refused] {
                blocking.push((judged.len(), keys));
            }
            if judgement.action.steps.contains(&Step::Deliver) {
                // The entry's own actions on the token it hands over (an update, say) run
                // after it, in the same apply; a disable it does itself is its own.
                if judgement.action.steps.contains(&Step::Disable) {
                    covered.extend(judgement.touches.iter().cloned());
                }
                judgement.touches.clear();
            }
            judged.push(judgement);
        }
        for (key, record) in store
            .pending_of::<RotationPlan>(Kind::Rotation, &accounts)
            .await
        {
            if let Ok(r) = &record {
                if !owns(policy, &r.account_id, &r.name) {
                    self.others_pending += 1;
                    continue;
                }
                if !seen.insert((Kind::Rotation, r.account_id.clone(), r.old_id.clone())) {
                    continue;
                }
                rotating.insert((r.account_id.clone(), r.name.clone()));
            }
            let at = self.made_at;
            judged.push(judge_rotation(client, (policy, at), store, &key, record).await);
        }
        self.hold_for_records(&mut judged, &blocking);
        let touched: HashSet<String> = judged.iter().flat_map(|j| j.touches.clone()).collect();
        self.actions.retain(|a| {
            let id = a.token_id.as_ref();
            !(id.is_some_and(|id| touched.contains(id))
                || (a.kind == ActionKind::Disable && id.is_some_and(|id| covered.contains(id)))
                || (a.kind == ActionKind::Ambiguous
                    && rotating.contains(&(a.account.clone(), a.name.clone()))))
        });
        let mut actions: Vec<PlannedAction> = judged.into_iter().map(|j| j.action).collect();
        actions.append(&mut self.actions);
        self.actions = actions;
    }
}

impl Plan {
    /// The plan's creates whose record would be the file of a refused (or unreadable) create
    /// record (`blocking`: the row of each such record, and the keys a create would write to
    /// it): taken out of the plan, and said in that record's row. A create writes its own record
    /// there, and removes it once done: the refused one would be gone, unchecked. A refused
    /// rotation record's row names its old token, whose rotation (and other actions) wait the
    /// same way; one that cannot be read is given the account and name of the plan's actions
    /// on that token.
    fn hold_for_records(&mut self, judged: &mut [Judged], blocking: &[(usize, Vec<String>)]) {
        for j in judged.iter_mut() {
            if j.action.name.is_empty()
                && let Some(id) = &j.action.token_id
                && let Some(a) = self
                    .actions
                    .iter()
                    .find(|a| a.token_id.as_ref() == Some(id))
            {
                j.action.account = a.account.clone();
                j.action.name = a.name.clone();
            }
        }
        self.actions.retain(|a| {
            if a.kind != ActionKind::Create {
                return true;
            }
            let writes = Key::create(&a.account, &a.name).name;
            let Some((row, _)) = blocking.iter().find(|(_, keys)| keys.contains(&writes)) else {
                return true;
            };
            judged[*row].action.reason.push_str(&format!(
                "; the create of {:?} waits until it is removed (it would write its own record there)",
                a.name
            ));
            false
        });
    }
}

/// A record that cannot be read: refused, with the account and name (a create's) or the old
/// token (a rotation's) its key gives; a rotation's old token waits, as for a record refused
/// after it was read (its name is filled in from the plan's actions on it).
fn unreadable(key: &Key, at: &str, e: &StoreError) -> Judged {
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

/// The row of a rotation record whose name is declared absent: ids of the platform's shape are
/// left to the plan's deletes ([`moot`]); others are refused.
fn moot_rotation(action: PlannedAction, plan: &RotationPlan, at: &str) -> Judged {
    let ids = std::iter::once(&plan.old_id).chain(&plan.new_id);
    match crate::state::check_ids(&plan.account_id, ids) {
        Ok(()) => moot(action, "rotation", at),
        Err(why) => Judged {
            action: refused(action, at, &why),
            touches: std::iter::once(plan.old_id.clone())
                .chain(plan.new_id.clone())
                .collect(),
        },
    }
}

/// What resuming a create record would do.
async fn judge_create(
    client: &Client,
    policy: &Policy,
    store: &dyn Store,
    key: &Key,
    record: Result<CreateRecord, StoreError>,
) -> Judged {
    let at = store.describe(key);
    let record = match record {
        Ok(record) => record,
        Err(e) => return unreadable(key, &at, &e),
    };
    let action = pending(
        ActionKind::Resume,
        &record.account_id,
        &record.name,
        record.new_id.as_deref(),
    );
    if let Err(why) = record.check(policy) {
        return Judged {
            action: refused(action, &at, &why),
            touches: Vec::new(),
        };
    }
    if declared_absent(policy, &record.account_id, &record.name) {
        return moot(action, "create", &at);
    }
    let disabled = policy
        .declared(&record.account_id, &record.name, None)
        .is_some_and(|d| d.status == Wanted::Disabled);
    let (mut steps, token) = match &record.new_id {
        Some(id) => match evidence::created_now(client, &record, id).await {
            Err(why) => {
                return Judged {
                    action: refused(action, &at, &why),
                    touches: Vec::new(),
                };
            }
            Ok(evidence::CreatedNow::Gone) => (vec![Step::Remove], None),
            Ok(evidence::CreatedNow::Made(t)) => (vec![Step::Deliver], Some(t)),
            Ok(evidence::CreatedNow::Unreadable(e)) => {
                return Judged {
                    action: unjudged(action, &at, &e.to_string()),
                    touches: Vec::new(),
                };
            }
        },
        None => match client
            .made_excluding(&record.account_id, &record.name, &record.known_ids)
            .await
        {
            Ok(found) if found.is_empty() => (vec![Step::Remove], None),
            Ok(found) if found.iter().any(|t| record.may_have_made(t).is_err()) => {
                let why = RecordError::Each(
                    found
                        .iter()
                        .filter_map(|t| record.may_have_made(t).err())
                        .collect(),
                );
                return Judged {
                    action: refused(action, &at, &why),
                    touches: Vec::new(),
                };
            }
            Ok(mut found) if found.len() == 1 => (vec![Step::Adopt, Step::Deliver], found.pop()),
            Ok(found) => {
                let ids: Vec<&str> = found.iter().map(|t| t.id()).collect();
                let why = format!("several tokens appeared since it ({})", ids.join(", "));
                return Judged {
                    action: unjudged(action, &at, &why),
                    touches: Vec::new(),
                };
            }
            Err(e) => {
                return Judged {
                    action: unjudged(action, &at, &e.to_string()),
                    touches: Vec::new(),
                };
            }
        },
    };
    if disabled
        && token
            .as_ref()
            .is_some_and(|t| t.status() == TokenStatus::Active)
    {
        steps.push(Step::Disable);
    }
    let touches: Vec<String> = token.iter().map(|t| t.id().to_string()).collect();
    let mut action = with_steps(action, "create", &at, steps);
    action.token_id = touches.first().cloned();
    Judged { action, touches }
}

/// A rotation record at `planned` that made nothing, of a token the policy does not rotate now:
/// nothing to resume; it is removed, and the plan's own actions on the token stay.
fn removed(action: PlannedAction, at: &str, old: &str) -> Judged {
    let mut action = with_steps(action, "rotation", at, vec![Step::Remove]);
    action.reason.push_str(&format!(
        " (it made nothing, and the policy does not rotate {old} now: nothing is sent for it)"
    ));
    Judged {
        action,
        touches: Vec::new(),
    }
}

/// What resuming a rotation record would do, the policy's rules judged at `at` (the plan's
/// time). A record at `planned` that made nothing is no reason to rotate: unless the policy
/// rotates its old token now, it is removed (the plan's own actions on the token stay), and
/// one whose create may have made a replacement is destructive (it needs `--allow-destroy`).
async fn judge_rotation(
    client: &Client,
    (policy, at_time): (&Policy, chrono::DateTime<chrono::Utc>),
    store: &dyn Store,
    key: &Key,
    record: Result<RotationPlan, StoreError>,
) -> Judged {
    let at = store.describe(key);
    let plan = match record {
        Ok(plan) => plan,
        Err(e) => return unreadable(key, &at, &e),
    };
    let action = pending(
        ActionKind::Resume,
        &plan.account_id,
        &plan.name,
        Some(&plan.old_id),
    );
    let mut touches = vec![plan.old_id.clone()];
    touches.extend(plan.new_id.clone());
    if declared_absent(policy, &plan.account_id, &plan.name) {
        return moot_rotation(action, &plan, &at);
    }
    let old = match evidence::check_rotation(client, policy, &plan).await {
        Ok(old) => old,
        Err(why) => {
            return Judged {
                action: refused(action, &at, &why),
                touches,
            };
        }
    };
    let unwanted;
    let steps = match plan.phase {
        RotationPhase::Planned => {
            let found = match evidence::made_since(client, &plan).await {
                Ok(found) => found,
                Err(e) => {
                    let action = unjudged(action, &at, &e.to_string());
                    return Judged { action, touches };
                }
            };
            unwanted = !evidence::rotation_wanted(policy, &plan, old.as_ref(), at_time);
            if unwanted && found == 0 {
                return removed(action, &at, &plan.old_id);
            }
            let first = if found == 1 {
                Step::Adopt
            } else {
                Step::Create
            };
            vec![
                first,
                Step::Deliver,
                Step::Verify,
                Step::Retire,
                Step::Finish,
            ]
        }
        phase => {
            if let Err(why) = evidence::replacement_now(client, &plan, old.as_ref()).await {
                return Judged {
                    action: refused(action, &at, &why),
                    touches,
                };
            }
            // Retiring and deleting the old token on the record's word alone needs
            // --allow-destroy when the policy's rotation rule does not cover it.
            unwanted = evidence::retires_on_word(policy, &plan, old.as_ref(), at_time);
            match phase {
                RotationPhase::Created => {
                    vec![Step::Deliver, Step::Verify, Step::Retire, Step::Finish]
                }
                RotationPhase::Verified => vec![Step::Retire, Step::Finish],
                RotationPhase::Retired => vec![Step::Finish],
                _ => vec![Step::Remove],
            }
        }
    };
    let action = rotation_row(action, (policy, &plan), &at, steps, unwanted);
    Judged { action, touches }
}

/// A rotation record's row, resuming it would do `steps`: destructive when `unwanted` (the
/// policy does not rotate its old token now). For an entry declared Disabled, a rotation that
/// is finished has its replacement disabled then, as a Disabled entry's created token is once
/// its secret is handed over: the name ends with that one token, Disabled.
fn rotation_row(
    action: PlannedAction,
    (policy, plan): (&Policy, &RotationPlan),
    at: &str,
    mut steps: Vec<Step>,
    unwanted: bool,
) -> PlannedAction {
    let disabled = evidence::declared_disabled(policy, plan);
    if disabled && steps.contains(&Step::Finish) {
        steps.push(Step::Disable);
    }
    let mut action = with_steps(action, "rotation", at, steps);
    if unwanted {
        // Its create may have made a replacement, but the policy does not rotate the token
        // now: retiring and deleting it on the record's word needs --allow-destroy.
        action.destructive = true;
        action.reason.push_str(&format!(
            " (the policy does not rotate {} now: destructive, needs --allow-destroy)",
            plan.old_id
        ));
    }
    if disabled && action.steps.contains(&Step::Disable) {
        action.reason.push_str(&format!(
            "; the policy declares {:?} Disabled: its replacement is disabled once {} is deleted, and is the one token of the name",
            plan.name, plan.old_id
        ));
    }
    action
}
