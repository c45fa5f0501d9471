//! Pending work in the plan: each record an interrupted apply left in the state store, judged
//! as the next apply would judge it (the same checks, read-only), with what resuming it would
//! do. A reviewer who approves a plan approves this work too; apply refuses pending work a
//! saved plan did not show.

use std::collections::HashSet;

use mpt::Client;
use mpt::RotationPlan;
use mpt::TokenStatus;

use super::pending_rotations::{judge_rotation, then_update};
use super::pending_rows::{
    Judged, declared_absent, moot, pending, refused, theirs, unjudged, unreadable, with_steps,
};
use super::{ActionKind, Plan, PlannedAction, Step};
use crate::evidence;
use crate::policy::{Policy, Wanted};
use crate::state::{CreateRecord, Key, Kind, RecordError, Store, StoreError};

impl Plan {
    /// Whether the unreadable create record kept as `key` is another policy's (of a name
    /// `policy` does not declare: [`super::pending_rows::undeclared`]): then counted and named.
    fn left_alone(&mut self, policy: &Policy, store: &dyn Store, key: &Key) -> bool {
        let theirs = super::pending_rows::undeclared(policy, key);
        if theirs {
            self.others_pending += 1;
            self.others_unread.push(store.describe(key));
        }
        theirs
    }

    /// Adds the work pending in the state `store` for `policy` (as read by `client`), first:
    /// each record of a name the policy declares as an [`ActionKind::Resume`] action with the
    /// [`Step`]s resuming it would do (destructive when the record is its only reason to
    /// retire and delete an old token: see [`PlannedAction::destructive`]),
    /// or refused with the reason; two records of one token once; records of other names
    /// counted in [`Plan::others_pending`]. The plan's own actions on the tokens that pending
    /// work touches are left to it (removed), but for a create's token it hands over, whose
    /// other actions (an update) run after it; a rotation that ends with its replacement as the
    /// entry's token is followed by an [`ActionKind::Update`] of the replacement's fields that
    /// differ from the entry's (no token named when the replacement is still to be made: it is
    /// made like the old token), carried out once the rotation is finished, in the same apply; a
    /// create or rotation that would write its record over a refused (or unreadable) one is
    /// removed too. A record of a name declared absent
    /// leaves the name's tokens to the plan's deletes. A live token of a declared name carrying
    /// the marker of a create given up on (a late landing of this tool's own, see the README's
    /// "late landings") is taken out of its name's judgement and deleted (not destructive).
    /// Reads only.
    pub async fn include_pending(&mut self, client: &Client, policy: &Policy, store: &dyn Store) {
        self.include_late(client, policy, store).await;
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
            if record.is_err() && self.left_alone(policy, store, &key) {
                continue;
            }
            if let Ok(r) = &record {
                if theirs(policy, &r.account_id, &r.name) {
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
            let mut marked = Vec::new();
            let mut judgement =
                judge_create(client, (policy, store), &key, record, &mut marked).await;
            if judgement.action.steps == [Step::Refused] {
                blocking.push((judged.len(), keys));
            }
            if judgement.action.steps.contains(&Step::Deliver) {
                // The entry's own actions on the token it hands over (an update, say) run
                // after it, in the same apply; a disable it does itself is its own.
                if judgement.action.steps.contains(&Step::Disable) {
                    covered.extend(judgement.touches.iter().cloned());
                }
                // A token still carrying the create's marker gets its description back by the
                // resume itself (part of the create): no update of the plan's own for it.
                judgement.touches.retain(|id| marked.contains(id));
            }
            judged.push(judgement);
        }
        for (key, record) in store
            .pending_of::<RotationPlan>(Kind::Rotation, &accounts)
            .await
        {
            if let Ok(r) = &record {
                if theirs(policy, &r.account_id, &r.name) {
                    self.others_pending += 1;
                    continue;
                }
                if !seen.insert((Kind::Rotation, r.account_id.clone(), r.old_id.clone())) {
                    continue;
                }
                rotating.insert((r.account_id.clone(), r.name.clone()));
            }
            let at = self.made_at;
            let read = record.as_ref().ok().cloned();
            let row = judge_rotation(client, (policy, at), store, &key, record).await;
            // The entry's declared fields, brought to its replacement once it is finished.
            let then = match &read {
                Some(plan) => then_update(client, policy, plan, &row.action).await,
                None => None,
            };
            judged.push(row);
            judged.extend(then.map(|action| Judged {
                action,
                touches: Vec::new(),
            }));
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

/// What resuming a create record would do. The token it hands over, when its description
/// still carries the record's marker, is added to `marked`.
async fn judge_create(
    client: &Client,
    (policy, store): (&Policy, &dyn Store),
    key: &Key,
    record: Result<CreateRecord, StoreError>,
    marked: &mut Vec<String>,
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
        Some(id) => match evidence::created_now(client, store, &record, id).await {
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
        None => match crate::marked::made_by_create(
            client,
            store,
            (&record.account_id, &record.name, &record.known_ids),
            &record.marker_hashes,
        )
        .await
        {
            Ok(Ok(None)) => (vec![Step::Remove], None),
            Ok(Ok(Some(made))) => match record.may_have_made(&made) {
                Ok(()) => (vec![Step::Adopt, Step::Deliver], Some(made)),
                Err(why) => {
                    return Judged {
                        action: refused(action, &at, &why),
                        touches: Vec::new(),
                    };
                }
            },
            Ok(Err(why)) => {
                return Judged {
                    action: refused(action, &at, &why),
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
    if let Some(t) = &token
        && mpt::carries_marker(t.description(), &record.marker_hashes)
    {
        marked.push(t.id().to_string());
    }
    let mut action = with_steps(action, "create", &at, steps);
    action.token_id = touches.first().cloned();
    Judged { action, touches }
}
