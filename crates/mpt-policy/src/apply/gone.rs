//! A rotation record at `planned` whose old token is gone (deleted outside the rotation: by an
//! administrator, or by an apply on another copy of the state): nothing is left to retire or
//! delete, so nothing about it is destructive; what its create made is handed over.

use super::{ActionOutcome, ActionResult, Applied, Applying, resumed};
use crate::plan::{ActionKind, PlannedAction};
use crate::state::Key;
use mpt::{RotationPhase, RotationPlan};

impl Applying<'_> {
    /// Resumes a record at `planned` whose old token is gone (Deleted, or not found). When its
    /// create made nothing (none sent, or no live token of its account and name outside its
    /// `knownIds`), the record is removed (the bool: false, the plan's own actions go on). When
    /// it made one, that token is taken as its replacement and checked as a recorded one is
    /// ([`crate::evidence::replacement_now`]: Active, of its account and name, made after the
    /// record, its secret working), handed over, verified, and the rotation finished without a
    /// retire or a delete (then its replacement disabled, for an entry declared Disabled).
    /// Several: none is taken, the record is kept.
    pub(super) async fn resume_gone(
        &self,
        key: &Key,
        mut plan: RotationPlan,
    ) -> (ActionResult, bool) {
        let action = PlannedAction::resumed(
            ActionKind::Rotate,
            &plan.account_id,
            &plan.name,
            Some(plan.old_id.clone()),
        );
        let found = if plan.create_sent {
            match self
                .client
                .made_excluding(&plan.account_id, &plan.name, &plan.known_ids)
                .await
            {
                Ok(found) => found,
                Err(e) => {
                    let done = ActionOutcome::not_sent(
                        &e,
                        format!("{e}; the record is kept: the next apply looks again"),
                    );
                    return (resumed(action, done), true);
                }
            }
        } else {
            Vec::new()
        };
        match found.as_slice() {
            [] => {
                self.state.drop_record(key).await;
                let done = ActionOutcome::new(
                    Applied::Unchanged,
                    format!(
                        "{}: its old token {} is gone, and it made nothing: the record is removed, nothing was sent for it",
                        self.state.describe(key),
                        plan.old_id
                    ),
                );
                (resumed(action, done), false)
            }
            [made] => {
                // The one token its create made: the replacement, judged as a recorded one.
                plan.new_id = Some(made.id().to_string());
                plan.phase = RotationPhase::Created;
                plan.created_at = Some(chrono::Utc::now());
                (self.resume_checked(key, plan, None).await, true)
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|t| t.id()).collect();
                let done = ActionOutcome::failed(format!(
                    "{}: its old token {} is gone, and several tokens of {:?} appeared since the record ({}): none is taken as its replacement; the record is kept",
                    self.state.describe(key),
                    plan.old_id,
                    plan.name,
                    ids.join(", ")
                ));
                (resumed(action, done), true)
            }
        }
    }
}
