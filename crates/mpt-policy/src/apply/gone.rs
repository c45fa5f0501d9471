//! A rotation record at `planned` whose old token is gone (deleted outside the rotation: by an
//! administrator, or by an apply on another copy of the state): nothing is left to retire or
//! delete, so nothing about it is destructive; what its create made is handed over.

use super::{ActionOutcome, ActionResult, Applied, Applying, resumed};
use crate::evidence;
use crate::plan::{ActionKind, PlannedAction};
use crate::state::Key;
use mpt::{RotationPhase, RotationPlan};

impl Applying<'_> {
    /// Resumes a record at `planned` or `created` whose old token is gone (Deleted, or not
    /// found). At `created`, its recorded replacement is the one (see below). At `planned`, when its
    /// create made nothing (none sent, or no live token of its account and name outside its
    /// `knownIds`), the record is removed (the bool: false, the plan's own actions go on). When
    /// it made one, that token is taken as its replacement and checked as a recorded one is
    /// ([`crate::evidence::replacement_now`]: Active, of its account and name, made after the
    /// record, its secret working), handed over, verified, and the rotation finished without a
    /// retire or a delete (then its replacement disabled, for an entry declared Disabled).
    /// One Disabled, of an entry declared Disabled: see [`Applying::hand_over_disabled`].
    /// Several: none is taken, the record is kept.
    pub(super) async fn resume_gone(
        &self,
        key: &Key,
        mut plan: RotationPlan,
    ) -> (ActionResult, bool) {
        if plan.phase == RotationPhase::Created {
            // Its recorded replacement: Disabled by hand, of an entry declared Disabled, its
            // secret is handed over unverified; else checked and resumed as any.
            if let Some(made) = evidence::recorded_disabled(self.client, self.policy, &plan).await {
                return self.hand_over_disabled(key, &plan, &made).await;
            }
            return (self.resume_checked(key, plan, None).await, true);
        }
        let action = PlannedAction::resumed(
            ActionKind::Rotate,
            &plan.account_id,
            &plan.name,
            Some(plan.old_id.clone()),
        );
        // What its create made: the one token that carries its marker (none other is taken).
        let found = match plan.create_sent {
            false => Ok(Ok(None)),
            true => {
                let late = crate::state::given_up(self.state, &plan.account_id, &plan.name).await;
                crate::marked::made_by_record(
                    self.client,
                    (&plan.account_id, &plan.name, &plan.known_ids),
                    (&plan.marker_hashes, &late),
                    "rotation",
                )
                .await
            }
        };
        let found = match found {
            Ok(Ok(found)) => found,
            Ok(Err(why)) => return (resumed(action, self.refused(key, &why)), true),
            Err(e) => {
                let done = ActionOutcome::not_sent(
                    &e,
                    format!("{e}; the record is kept: the next apply looks again"),
                );
                return (resumed(action, done), true);
            }
        };
        match found.as_ref() {
            None => {
                let owner = (plan.account_id.as_str(), plan.name.as_str());
                let hashes = super::unsent::sent_markers(&plan);
                if let Some(kept) = self.give_up(key, owner, &hashes).await {
                    return (resumed(action, kept), true);
                }
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
            Some(made) if evidence::is_disabled_replacement(self.policy, &plan, made) => {
                self.hand_over_disabled(key, &plan, made).await
            }
            Some(made) => {
                // The one token its create made: the replacement, judged as a recorded one,
                // saved as such before its description is put back (by the verify).
                plan.new_id = Some(made.id().to_string());
                plan.phase = RotationPhase::Created;
                plan.created_at = Some(chrono::Utc::now());
                if let Err(e) = self.state.put(key, &plan).await {
                    let done = ActionOutcome::failed(format!(
                        "{} was made by an earlier apply; the record could not be saved with its id ({e}): the next apply finds it again",
                        made.id()
                    ));
                    return (resumed(action, done), true);
                }
                (self.resume_checked(key, plan, None).await, true)
            }
        }
    }

    /// The one token a record's create made, Disabled (by hand) while its old token is gone,
    /// the entry declared Disabled ([`evidence::disabled_replacement`]): its secret is handed
    /// over unverified and the record removed; nothing is sent for either token.
    async fn hand_over_disabled(
        &self,
        key: &Key,
        plan: &RotationPlan,
        made: &mpt::Token,
    ) -> (ActionResult, bool) {
        let action = PlannedAction::resumed(
            ActionKind::Rotate,
            &plan.account_id,
            &plan.name,
            Some(plan.old_id.clone()),
        );
        let id = made.id();
        let secret = match evidence::disabled_replacement(plan, made) {
            Ok(secret) => secret,
            Err(why) => return (resumed(action, self.refused(key, &why)), true),
        };
        // Its description put back (it may still carry the create's marker), the record saved
        // with its id first: a run stopped after the restore finds it by that id.
        let mut plan = plan.clone();
        plan.new_id = Some(id.to_string());
        plan.phase = plan.phase.max(RotationPhase::Created);
        let restored = match self.state.put(key, &plan).await {
            Ok(()) => plan.restore_description(self.client, made).await,
            Err(e) => Err(mpt::Error::InvalidRequest(format!(
                "the record could not be saved with its id ({e})"
            ))),
        };
        if let Err(e) = restored {
            let done = ActionOutcome::failed(format!(
                "{id} was made by an earlier apply; its description (which may carry the create's marker) was not put back: {e}; the record is kept: the next apply tries again"
            ))
            .made(id, None);
            return (resumed(action, done), true);
        }
        let declared = self
            .policy
            .declared(&plan.account_id, &plan.name, Some(&plan.old_id));
        let at = match self
            .hand_over(
                &plan.account_id,
                declared,
                made,
                &secret,
                Some(&plan.old_id),
            )
            .await
        {
            Ok(at) => at,
            Err(why) => {
                let done =
                    ActionOutcome::failed(format!("{id} was made by an earlier apply; {why}"))
                        .made(id, None);
                return (resumed(action, done), true);
            }
        };
        self.state.drop_record(key).await;
        let done = ActionOutcome::new(
            Applied::Adopted,
            format!(
                "replaced by {id} (made by an earlier apply, found by its record: the ids it kept before the create and the marker the create carried: adopted); {} was already gone (deleted outside this rotation), and {id} is Disabled, as the policy declares {:?}: its secret was handed over unverified (a Disabled token's cannot make a call); nothing was sent for either token",
                plan.old_id, plan.name
            ),
        )
        .made(id, Some(at));
        (resumed(action, done), true)
    }
}
