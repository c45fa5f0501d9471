//! Pending rotations in the plan: each rotation record judged as the next apply would judge it
//! (the same checks, read-only), with what resuming it would do.

use mpt::Client;
use mpt::{RotationPhase, RotationPlan};

use super::pending_rows::{
    Judged, declared_absent, moot, pending, refused, unjudged, unreadable, with_steps,
};
use super::{ActionKind, PlannedAction, Step, field_changes};
use crate::evidence;
use crate::policy::Policy;
use crate::state::{Key, Store, StoreError};

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
pub(super) async fn judge_rotation(
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
    let late = crate::state::given_up(store, &plan.account_id, &plan.name).await;
    let old = match evidence::check_rotation(client, policy, &plan, &late).await {
        Ok(old) => old,
        Err(why) => {
            return Judged {
                action: refused(action, &at, &why),
                touches,
            };
        }
    };
    // Its replacement deleted (by hand) before it was verified: started again.
    let (plan, restarted) = match evidence::restarted(client, &plan).await {
        Some(again) => (again, plan.new_id),
        None => (plan, None),
    };
    // What the old token is now: what a saved plan approved (see `check_fresh`).
    let mut action = action;
    action.revision = old.as_ref().and_then(mpt::Token::revision);
    let unwanted;
    let steps = match plan.phase {
        RotationPhase::Planned if old.is_none() => {
            return judge_gone(client, (policy, &plan), (&at, &late), action).await;
        }
        RotationPhase::Planned => {
            let found = match evidence::made_since(client, &plan, &late).await {
                Ok(found) => found,
                Err(e) => {
                    let action = unjudged(action, &at, &e.to_string());
                    return Judged { action, touches };
                }
            };
            unwanted = !evidence::rotation_wanted(policy, &plan, old.as_ref(), at_time);
            if unwanted && found.is_empty() {
                return removed(action, &at, &plan.old_id);
            }
            start_steps(&found, &mut touches)
        }
        RotationPhase::Created
            if old.is_none()
                && let Some(made) = evidence::recorded_disabled(client, policy, &plan).await =>
        {
            return judge_disabled(action, &plan, &made, at.as_str(), touches, Vec::new());
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
            steps_past_start(phase, old.is_none())
        }
    };
    let mut action = rotation_row(action, (policy, &plan), &at, steps, unwanted);
    if old.is_none() {
        action.reason.push_str(&gone_words(&plan.old_id));
    }
    if let Some(deleted) = restarted {
        action.reason.push_str(&format!(
            " (its replacement {deleted} was deleted before it was verified: the rotation starts again)"
        ));
    }
    Judged { action, touches }
}

/// What resuming a record at `planned` that starts its rotation would do, `found` what its
/// create may have made: the one it adopts is its own, and no other action of the plan touches
/// it (`touches`; a late delete of it, when it carries a marker given up on: tester round 18).
fn start_steps(found: &[String], touches: &mut Vec<String>) -> Vec<Step> {
    let first = match found {
        [made] => {
            touches.push(made.clone());
            Step::Adopt
        }
        _ => Step::Create,
    };
    vec![
        first,
        Step::Deliver,
        Step::Verify,
        Step::Retire,
        Step::Finish,
    ]
}

/// What resuming a record past `planned` (at `phase`) would do; `gone`: its old token is gone,
/// and nothing is left to retire or delete.
fn steps_past_start(phase: RotationPhase, gone: bool) -> Vec<Step> {
    match phase {
        RotationPhase::Created if gone => vec![Step::Deliver, Step::Verify, Step::Remove],
        _ if gone => vec![Step::Remove],
        RotationPhase::Created => vec![Step::Deliver, Step::Verify, Step::Retire, Step::Finish],
        RotationPhase::Verified => vec![Step::Retire, Step::Finish],
        RotationPhase::Retired => vec![Step::Finish],
        _ => vec![Step::Remove],
    }
}

fn gone_words(old: &str) -> String {
    format!(" (its old token {old} is gone: nothing is left to retire or delete)")
}

/// The row of a rotation record at `planned` whose old token is gone (see
/// `Applying::resume_gone`): removed when its create made nothing; the one token it made
/// adopted, handed over and verified, the record then removed (not destructive: nothing is
/// retired or deleted).
async fn judge_gone(
    client: &Client,
    (policy, plan): (&Policy, &RotationPlan),
    (at, late): (&str, &[String]),
    action: PlannedAction,
) -> Judged {
    let mut touches = vec![plan.old_id.clone()];
    // What its create made: the one token that carries its marker (see `crate::marked`).
    let found = match plan.create_sent {
        true => {
            crate::marked::made_by_record(
                client,
                (&plan.account_id, &plan.name, &plan.known_ids),
                (&plan.marker_hashes, late),
                "rotation",
            )
            .await
        }
        false => Ok(Ok(None)),
    };
    let found = match found {
        Ok(Ok(found)) => found,
        Ok(Err(why)) => {
            let action = refused(action, at, &why);
            return Judged { action, touches };
        }
        Err(e) => {
            let action = unjudged(action, at, &e.to_string());
            return Judged { action, touches };
        }
    };
    match found.as_ref() {
        None => {
            let mut action = with_steps(action, "rotation", at, vec![Step::Remove]);
            action.reason.push_str(&format!(
                " (it made nothing, and its old token {} is gone: nothing is sent for it)",
                plan.old_id
            ));
            Judged {
                action,
                touches: Vec::new(),
            }
        }
        Some(made) => {
            touches.push(made.id().to_string());
            if evidence::is_disabled_replacement(policy, plan, made) {
                return judge_disabled(action, plan, made, at, touches, vec![Step::Adopt]);
            }
            // Judged as the apply judges it: as a recorded replacement.
            let mut probe = plan.clone();
            probe.new_id = Some(made.id().to_string());
            probe.phase = RotationPhase::Created;
            if let Err(why) = evidence::replacement_now(client, &probe, None).await {
                let action = refused(action, at, &why);
                return Judged { action, touches };
            }
            let steps = vec![Step::Adopt, Step::Deliver, Step::Verify, Step::Remove];
            let mut action = rotation_row(action, (policy, plan), at, steps, false);
            action.reason.push_str(&gone_words(&plan.old_id));
            Judged { action, touches }
        }
    }
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
    // The rotation is finished: by its delete, or (its old token gone) by its record's removal.
    if disabled && (steps.contains(&Step::Finish) || steps.last() == Some(&Step::Remove)) {
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
            "; the policy declares {:?} Disabled: its replacement is disabled once {} is gone, and is the one token of the name",
            plan.name, plan.old_id
        ));
    }
    action
}

/// The row of a record whose old token is gone and whose replacement (`made`: the one its
/// create made, or its recorded one) is Disabled, of an entry declared Disabled (see
/// [`evidence::disabled_replacement`]): its secret handed over unverified, the record removed.
/// `first`: the steps before the delivery (`adopt`, for a replacement found).
fn judge_disabled(
    action: PlannedAction,
    plan: &RotationPlan,
    made: &mpt::Token,
    at: &str,
    mut touches: Vec<String>,
    first: Vec<Step>,
) -> Judged {
    touches.push(made.id().to_string());
    touches.dedup();
    if let Err(why) = evidence::disabled_replacement(plan, made) {
        let action = refused(action, at, &why);
        return Judged { action, touches };
    }
    let steps = [first, vec![Step::Deliver, Step::Remove]].concat();
    let mut action = with_steps(action, "rotation", at, steps);
    action.reason.push_str(&format!(
        " (its replacement {} is Disabled, as the policy declares: its secret is handed over unverified)",
        made.id()
    ));
    action.reason.push_str(&gone_words(&plan.old_id));
    Judged { action, touches }
}

/// The update that follows a rotation record's resume (`row`, as judged): the fields of the
/// token the rotation ends with (its replacement: the one recorded, the one a resumed start
/// adopts, or, made like the old token, the one it creates) that differ from the entry's
/// declared ones. `None` when resuming it ends with no replacement (refused, made nothing,
/// declared absent, cannot be judged), or nothing differs. The update is carried out once the
/// rotation is finished (see `Applying::then_update`): it has no revision to check, and names
/// no token when the replacement is still to be made.
pub(super) async fn then_update(
    client: &Client,
    policy: &Policy,
    plan: &RotationPlan,
    row: &PlannedAction,
) -> Option<PlannedAction> {
    let replaced = match row.steps.as_slice() {
        [] | [Step::Refused] => false,
        [Step::Remove] => plan.phase > RotationPhase::Planned,
        _ => true,
    };
    if !replaced || declared_absent(policy, &plan.account_id, &plan.name) {
        return None;
    }
    let declared = policy.declared(&plan.account_id, &plan.name, Some(&plan.old_id))?;
    let (id, token) = if row.steps.contains(&Step::Create) {
        (None, client.get(plan.old_id.as_str()).await.ok()?)
    } else if row.steps.contains(&Step::Adopt) {
        let found = client
            .made_excluding(&plan.account_id, &plan.name, &plan.known_ids)
            .await
            .ok()?;
        let [one] = <[mpt::Token; 1]>::try_from(found).ok()?;
        (Some(one.id().to_string()), one)
    } else {
        let id = plan.new_id.clone()?;
        let token = client.get(id.as_str()).await.ok()?;
        (Some(id), token)
    };
    let changes = field_changes(declared, &token);
    if changes.is_empty() {
        return None;
    }
    let which = match &id {
        Some(id) => format!("{id}, the replacement of {},", plan.old_id),
        None => format!("the replacement of {} (made like it)", plan.old_id),
    };
    let mut action = pending(
        ActionKind::Update,
        &plan.account_id,
        &plan.name,
        id.as_deref(),
    );
    action.reason = format!(
        "differs from the policy: {which} is updated once its pending rotation is finished"
    );
    action.changes = changes;
    Some(action)
}
