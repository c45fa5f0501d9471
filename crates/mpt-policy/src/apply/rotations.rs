//! Rotations: started, or resumed from their record in the state store, each step saved, the
//! old token retired and deleted only on evidence (see `evidence`).

use super::new_tokens::Came;
use super::unsent::{Unsaved, plan_saver, unclaimed, unless_interrupted};
use super::{ActionOutcome, ActionResult, Applied, Applying, resumed};
use crate::evidence;
use crate::plan::{ActionKind, PlannedAction};
use crate::state::{Key, StoreError};
use mpt::Error;
use mpt::{RotationPhase, RotationPlan};
use std::sync::atomic::{AtomicBool, Ordering};

impl Applying<'_> {
    /// Rotates `id`. Its revision is read first (after the group's earlier actions, an update
    /// say, which move it): what its retire expects to find after the quiet wait.
    pub(super) async fn rotate(&self, account: &str, id: &str) -> ActionOutcome {
        let key = Key::rotation(account, id);
        let revision = match self.client.get(id).await {
            Ok(old) => old.revision(),
            Err(e) => return ActionOutcome::not_sent(&e, format!("nothing was made: {e}")),
        };
        let plan = match self.client.plan_rotation(id).await {
            Ok(plan) => plan,
            Err(e) => return ActionOutcome::not_sent(&e, format!("nothing was made: {e}")),
        };
        match self.save_before_send(&key, &plan).await {
            Ok(()) => {}
            Err(Unsaved::NotBegun) => return ActionOutcome::interrupted(),
            Err(Unsaved::Interrupted) => {
                return self.abandoned_save(
                    &key,
                    "the replacement's create",
                    "the old token is untouched and the next apply finds a plan that made nothing",
                );
            }
            Err(Unsaved::Failed(e)) => {
                return ActionOutcome::failed(format!(
                    "nothing was made: the rotation's plan could not be saved: {e}"
                ));
            }
        }
        self.drive(&key, plan, revision, Came::Made).await
    }

    /// Resumes a rotation's record, checked first. The bool: whether its tokens are the
    /// rotation's (the plan's own actions on them are not carried out), false once a record
    /// that made nothing is removed.
    pub(super) async fn resume_rotation(
        &self,
        key: &Key,
        plan: Result<RotationPlan, StoreError>,
    ) -> (ActionResult, bool) {
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => {
                // Its key may still name its old token, whose actions then wait (as for a
                // record refused after it was read).
                let old = key.rotation_of();
                let (account, name) = self.whose(old.as_deref()).await;
                let action = PlannedAction::resumed(ActionKind::Rotate, &account, &name, old);
                let why = crate::state::RecordError::Garbled(e.to_string());
                return (resumed(action, self.refused(key, &why)), true);
            }
        };
        let action = PlannedAction::resumed(
            ActionKind::Rotate,
            &plan.account_id,
            &plan.name,
            Some(plan.old_id.clone()),
        );
        // A record read back is a claim: checked before anything is sent for it.
        let late = crate::state::given_up(self.state, &plan.account_id, &plan.name).await;
        let old = match evidence::check_rotation(self.client, self.policy, &plan, &late).await {
            Ok(old) => old,
            Err(why) => return (resumed(action, self.refused(key, &why)), true),
        };
        // Its replacement deleted (by hand) before it was verified: started again.
        let plan = evidence::restarted(self.client, &plan)
            .await
            .unwrap_or(plan);
        if plan.phase <= RotationPhase::Created && old.is_none() {
            // Its old token is gone: nothing is left to retire (see `resume_gone`).
            return self.resume_gone(key, plan).await;
        }
        // What the plan's row says (see `rotation_row`): resuming it retires and deletes the
        // old token on the record's word.
        let destroys = match plan.phase {
            RotationPhase::Planned => {
                !evidence::rotation_wanted(self.policy, &plan, old.as_ref(), self.at)
            }
            _ => evidence::retires_on_word(self.policy, &plan, old.as_ref(), self.at),
        };
        if plan.phase == RotationPhase::Planned
            && destroys
            && let Some(done) = self.unwanted_start(key, &plan).await
        {
            return done;
        }
        let mut action = action;
        action.destructive = destroys;
        if !self.options.allow_destroy && destroys {
            let done = ActionOutcome::new(
                Applied::Skipped,
                format!(
                    "{}: the policy does not rotate {} (not declared Active with a rotate_after its age has passed): resuming it retires and deletes {} on the record's word{} (destructive: needs allow-destroy); the record is kept",
                    self.state.describe(key),
                    plan.old_id,
                    plan.old_id,
                    super::rotation_steps::then_disabled(self.policy, &plan)
                ),
            );
            return (resumed(action, done), true);
        }
        let mut done = self.resume_checked(key, plan, old).await;
        done.action.destructive = destroys;
        (done, true)
    }

    /// The account and name of the token `id`, as the platform shows it now (empty when there
    /// is none, or it cannot be read): what the row of a record that cannot be read says.
    async fn whose(&self, id: Option<&str>) -> (String, String) {
        let Some(id) = id else {
            return Default::default();
        };
        match self.client.get(id).await {
            Ok(t) => (
                t.account_id().unwrap_or_default().to_string(),
                t.name().unwrap_or_default().to_string(),
            ),
            Err(_) => Default::default(),
        }
    }

    /// A record at `planned` whose old token the policy does not rotate now: removed when it
    /// made nothing (a record is no reason to rotate), skipped without `allow_destroy` when
    /// its create may have made a replacement. `None`: resumed (with `allow_destroy`).
    async fn unwanted_start(&self, key: &Key, plan: &RotationPlan) -> Option<(ActionResult, bool)> {
        let action = PlannedAction::resumed(
            ActionKind::Rotate,
            &plan.account_id,
            &plan.name,
            Some(plan.old_id.clone()),
        );
        let late = crate::state::given_up(self.state, &plan.account_id, &plan.name).await;
        let found = match evidence::made_since(self.client, plan, &late).await {
            Ok(found) => found,
            Err(e) => {
                let done = ActionOutcome::not_sent(
                    &e,
                    format!("{e}; the record is kept: the next apply looks again"),
                );
                return Some((resumed(action, done), true));
            }
        };
        if found.is_empty() {
            let owner = (plan.account_id.as_str(), plan.name.as_str());
            if let Some(kept) = self
                .give_up(key, owner, &super::unsent::sent_markers(plan))
                .await
            {
                return Some((resumed(action, kept), true));
            }
            let done = ActionOutcome::new(
                Applied::Unchanged,
                format!(
                    "{}: it made nothing, and the policy does not rotate {} now: the record is removed, nothing was sent for it",
                    self.state.describe(key),
                    plan.old_id
                ),
            );
            return Some((resumed(action, done), false));
        }
        if self.options.allow_destroy {
            return None;
        }
        let mut action = action;
        action.destructive = true;
        let done = ActionOutcome::new(
            Applied::Skipped,
            format!(
                "{}: its create may have made a replacement, but the policy does not rotate {} now: resuming it retires and deletes {}{} (destructive: needs allow-destroy); the record is kept",
                self.state.describe(key),
                plan.old_id,
                plan.old_id,
                super::rotation_steps::then_disabled(self.policy, plan)
            ),
        );
        Some((resumed(action, done), true))
    }

    /// Resumes a rotation whose record passed its checks (`old`: its old token, read now). A
    /// replacement made by an earlier apply (any record past `planned`, or one a resumed start
    /// adopts) is reported [`Applied::Adopted`]. For an entry declared Disabled, its
    /// replacement is disabled once the rotation is finished (see [`Applying::disable_made`]).
    pub(super) async fn resume_checked(
        &self,
        key: &Key,
        mut plan: RotationPlan,
        old: Option<mpt::Token>,
    ) -> ActionResult {
        let action = PlannedAction::resumed(
            ActionKind::Rotate,
            &plan.account_id,
            &plan.name,
            Some(plan.old_id.clone()),
        );
        let mut secret_at = None;
        if plan.phase >= RotationPhase::Created {
            // Past its start, only the platform's evidence lets it go on: its replacement,
            // read now, Active, of its name, made after it, and with a secret that works.
            let replacement =
                match evidence::replacement_now(self.client, &plan, old.as_ref()).await {
                    Ok(replacement) => replacement,
                    Err(why) => return resumed(action, self.refused(key, &why)),
                };
            if plan.phase == RotationPhase::Created {
                match self
                    .deliver_and_verify(key, &mut plan, &replacement, Came::Earlier)
                    .await
                {
                    Ok(at) => secret_at = Some(at),
                    Err(done) => return resumed(action, done),
                }
            }
        }
        let revision = old.as_ref().and_then(|t| t.revision());
        let (account, name) = (plan.account_id.clone(), plan.name.clone());
        let disabled = evidence::declared_disabled(self.policy, &plan);
        let mut done = self.drive(key, plan, revision, Came::Earlier).await;
        if done.secret_at.is_none() {
            done.secret_at = secret_at;
        }
        let finished = matches!(
            done.result,
            Applied::Changed | Applied::Unconfirmed | Applied::Adopted
        );
        if disabled
            && finished
            && let Some(new_id) = done.new_token_id.clone()
        {
            // The rotation the record began is finished; the policy declares the entry
            // Disabled: its replacement, whose secret the sink now has, is disabled.
            done.detail
                .push_str(&format!("; the policy declares {name:?} Disabled"));
            self.disable_made(&account, &new_id, &mut done).await;
        }
        resumed(action, done)
    }

    /// Runs a rotation from wherever its plan is, saving it after each step; the plan file is
    /// removed once the old token is deleted. `revision`: the old token's, as last read (the
    /// plan's, or the resumed record's check); a step finds it changed and stops (`moved`).
    /// `came`: who made a replacement the plan already names; one its start makes or adopts
    /// says for itself. Finished, it is `changed` (this run's create made the replacement),
    /// `unconfirmed` (found after this run's create lost its answer) or `adopted` (made by an
    /// earlier apply: that apply was interrupted, or its sink failed).
    pub(super) async fn drive(
        &self,
        key: &Key,
        mut plan: RotationPlan,
        mut revision: Option<i32>,
        mut came: Came,
    ) -> ActionOutcome {
        let mut secret_at = None;
        if plan.phase == RotationPhase::Planned {
            match self.start(key, &mut plan).await {
                Ok((at, how)) => (secret_at, came) = (Some(at), how),
                Err(done) => return done,
            }
        }
        let new_id = plan.new_id.clone().unwrap_or_default();
        // The first step that found the old token gone (deleted outside this rotation).
        let mut gone: Option<RotationPhase> = None;
        // What this run's steps did, said by a row that stops after them (a row said "nothing
        // was sent" of a rotation whose retire this run had sent: tester round 25, F5).
        let mut did = String::new();
        let steps = [RotationPhase::Retired, RotationPhase::Finished];
        for step in steps {
            if plan.phase >= step {
                continue;
            }
            // Only while the account's lock is proven held: else nothing more is sent.
            if let Some(stopped) = self.fenced(&plan.account_id).await {
                // Not attempted (an interrupt, a lock lost): nothing was sent for the old token.
                return ActionOutcome::new(
                    stopped.result,
                    format!(
                        "{}; {did}the replacement {new_id} is in use, the plan is kept in {}: the next apply resumes",
                        stopped.detail,
                        self.state.describe(key)
                    ),
                )
                .made(&new_id, secret_at);
            }
            let stepped = self.step(&mut plan, step, &mut revision).await;
            if matches!(stepped, Ok(true)) && gone.is_none() {
                gone = Some(step);
            }
            if let Err(why) = stepped {
                let unsaved = match self.state.put(key, &plan).await {
                    Ok(()) => String::new(),
                    Err(e) => format!(" (the record could not be saved again: {e})"),
                };
                return ActionOutcome::new(
                    why.result(self.client.cancelled()),
                    format!(
                        "{why}; {did}the replacement {new_id} is in use, the plan is kept in {}{unsaved}: the next apply checks it again",
                        self.state.describe(key)
                    ),
                )
                .made(&new_id, secret_at);
            }
            if let Err(e) = self.state.put(key, &plan).await {
                let unsaved = super::rotation_steps::unsaved_after(&plan, step, gone.is_some());
                return ActionOutcome::failed(format!(
                    "{unsaved}: {e}; the next apply resumes from {}",
                    self.state.describe(key)
                ))
                .made(&new_id, secret_at);
            }
            if step == RotationPhase::Retired && gone.is_none() {
                did = format!("{} was disabled by this run; ", plan.old_id);
            }
        }
        self.state.drop_record(key).await;
        let (result, how) = match came {
            Came::Made => (Applied::Changed, String::new()),
            Came::Found => (
                Applied::Unconfirmed,
                " (found after this run's create lost its answer: made by it, or by another at the same time)".to_string(),
            ),
            Came::Earlier => (
                Applied::Adopted,
                " (made by an earlier apply, found by its record: the ids it kept before the create and the marker the create carried: adopted)".to_string(),
            ),
        };
        let old = match gone {
            None => format!("{} deleted", plan.old_id),
            Some(RotationPhase::Retired) => format!(
                "{} was already gone (deleted outside this rotation): nothing was sent to retire or delete it",
                plan.old_id
            ),
            Some(_) => format!(
                "{} was already gone (deleted outside this rotation): no delete was sent for it",
                plan.old_id
            ),
        };
        ActionOutcome::new(result, format!("replaced by {new_id}{how}; {old}"))
            .made(&new_id, secret_at)
    }

    /// A rotation's start: the replacement made (or, resumed, adopted), its secret handed over
    /// and verified, the plan saved. `Ok`: where the secret went, and who made the replacement
    /// (a start that saved its record made it: its create was sent); `Err`: the outcome to
    /// report.
    async fn start(
        &self,
        key: &Key,
        plan: &mut RotationPlan,
    ) -> Result<(String, Came), ActionOutcome> {
        // Set when a start saves its record (right before it sends a create), and when the
        // interrupt abandoned that save (nothing was sent).
        let (sent, abandoned) = (AtomicBool::new(false), AtomicBool::new(false));
        let save = plan_saver(self.state, self.client, key, &sent, &abandoned);
        let mut started = plan.start_saving_send(self.client, save).await;
        // Whether this run sent a create (its record saved right before it).
        let ours = sent.load(Ordering::Relaxed);
        let mut came = if ours { Came::Made } else { Came::Earlier };
        let refused = super::rotation_steps::refused_sends(&started);
        if matches!(started, Err(Error::CreateUnconfirmed { .. }))
            && plan.create_sent
            && !self.client.cancelled()
        {
            // Once more: a resumed start adopts what the lost create made (this run's create,
            // when the first start sent one: found, not proven made by it).
            sent.store(false, Ordering::Relaxed);
            let again = plan.start_saving_send(self.client, save).await;
            came = match (came, sent.load(Ordering::Relaxed)) {
                (_, true) => Came::Made,
                (Came::Made, false) => Came::Found,
                (how, false) => how,
            };
            started = super::rotation_steps::looked_again(started, again, ours);
        }
        let made = match started {
            Ok(Some(made)) => mpt::CreatedToken {
                other_sends: made.other_sends.max(refused),
                ..made
            },
            Ok(None) => {
                return Err(ActionOutcome::failed(
                    "the rotation's plan is past its start",
                ));
            }
            // Interrupted while the record was being saved, before the create: nothing sent.
            Err(Error::PlanNotSaved { .. }) if abandoned.load(Ordering::Relaxed) => {
                return Err(self.abandoned_save(
                    key,
                    "the replacement's create",
                    "the next apply finds no token carrying its marker: the create never landed, and it makes the replacement",
                ));
            }
            Err(e) if !plan.create_sent => {
                unless_interrupted(self.client, self.state.drop_record(key)).await;
                return Err(ActionOutcome::not_sent(
                    &e,
                    format!("nothing was made: {e}"),
                ));
            }
            Err(e) => {
                let kept = self.state.describe(key);
                let stopped = ours && self.client.cancelled();
                return Err(super::rotation_steps::create_lost(&e, &kept, stopped));
            }
        };
        // What a resumed start adopts must have been made after the record.
        if let Some(made_at) = made.token.created_at()
            && let Err(why) =
                evidence::made_after_record(plan, "its replacement ", made.token.id(), made_at)
        {
            return Err(self.refused(key, &why));
        }
        // Saved at `created`, with the replacement's id, as soon as the create answered and
        // before the sink runs: a failed sink, a crash, a twin made by hand since, or the
        // replacement disabled by hand are then judged by that id, not by a search of the
        // name. Unsaved, the record at `planned` finds it by its marker, which it keeps: not
        // put back, nor its secret handed over (a token carrying a marker never is).
        let owner = (plan.account_id.as_str(), plan.name.as_str());
        if let Err(why) = self.keep_unclaimed(owner, &unclaimed(plan, &made)).await {
            let id = made.token.id();
            return Err(ActionOutcome::failed(format!("{id} was made; {why}")).made(id, None));
        }
        if let Err(e) = self.state.put(key, &*plan).await {
            let id = made.token.id();
            let why = super::handover::NotHandedOver::Unsaved(e.to_string());
            return Err(ActionOutcome::failed(format!("{id} was made; {why}")).made(id, None));
        }
        let new = evidence::Replacement {
            token: made.token,
            secret: made.secret,
        };
        let at = self.deliver_and_verify(key, plan, &new, came).await?;
        Ok((at, came))
    }
}
