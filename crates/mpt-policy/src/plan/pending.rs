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
    /// work touches are left to it (removed). Reads only.
    pub async fn include_pending(&mut self, client: &Client, policy: &Policy, store: &dyn Store) {
        let accounts: Vec<String> = policy.accounts.iter().map(|a| a.id.clone()).collect();
        let mut judged: Vec<Judged> = Vec::new();
        let mut seen: HashSet<(Kind, String, String)> = HashSet::new();
        let mut rotating: HashSet<(String, String)> = HashSet::new();
        let creates = store
            .pending_of::<CreateRecord>(Kind::Create, &accounts)
            .await;
        let ambiguous = crate::state::ambiguous_creates(creates.iter().map(|(_, r)| r));
        for (key, record) in creates {
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
            judged.push(judge_create(client, policy, store, &key, record).await);
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
        let touched: HashSet<String> = judged.iter().flat_map(|j| j.touches.clone()).collect();
        self.actions.retain(|a| {
            !(a.token_id.as_ref().is_some_and(|id| touched.contains(id))
                || (a.kind == ActionKind::Ambiguous
                    && rotating.contains(&(a.account.clone(), a.name.clone()))))
        });
        let mut actions: Vec<PlannedAction> = judged.into_iter().map(|j| j.action).collect();
        actions.append(&mut self.actions);
        self.actions = actions;
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
        Err(e) => {
            let action = pending(ActionKind::Resume, "", "", None);
            return Judged {
                action: unjudged(action, &at, &format!("unreadable: {e}")),
                touches: Vec::new(),
            };
        }
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
        Err(e) => {
            let action = pending(ActionKind::Resume, "", "", None);
            return Judged {
                action: unjudged(action, &at, &format!("unreadable: {e}")),
                touches: Vec::new(),
            };
        }
    };
    let action = pending(
        ActionKind::Resume,
        &plan.account_id,
        &plan.name,
        Some(&plan.old_id),
    );
    let mut touches = vec![plan.old_id.clone()];
    touches.extend(plan.new_id.clone());
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
    let mut action = with_steps(action, "rotation", &at, steps);
    if unwanted {
        // Its create may have made a replacement, but the policy does not rotate the token
        // now: retiring and deleting it on the record's word needs --allow-destroy.
        action.destructive = true;
        action.reason.push_str(&format!(
            " (the policy does not rotate {} now: destructive, needs --allow-destroy)",
            plan.old_id
        ));
    }
    Judged { action, touches }
}
