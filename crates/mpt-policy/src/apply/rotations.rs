//! Rotations: started, or resumed from their record in the state store, each step saved, the
//! old token retired and deleted only on evidence (see `evidence`).

use super::{ActionOutcome, ActionResult, Applied, Applying, resumed};
use crate::evidence::{self, Replacement};
use crate::plan::{ActionKind, PlannedAction};
use crate::state::{Key, StoreError};
use futures_util::future::BoxFuture;
use mpt::Error;
use mpt::TokenStatus;
use mpt::{RotationPhase, RotationPlan};

/// How many times a rotation's retire or finish is tried in one apply (each reads the state
/// first, so a try after a lost answer sees the step done).
const STEP_TRIES: usize = 3;

/// Why a rotation's retire or finish did not happen.
#[derive(Debug, thiserror::Error)]
enum StepError {
    /// A token of the rotation changed since it was read (by an administrator, during a quiet
    /// wait, say): the step is not taken, and nothing is sent for the old token.
    #[error("moved: {0}; nothing was sent for the old token")]
    Moved(String),
    /// The platform refused or failed.
    #[error(transparent)]
    Api(Box<Error>),
    /// The account's lock could not be proven right before the step's change (after the quiet
    /// wait and the reads): nothing is sent.
    #[error("{0}")]
    Fenced(String),
}

fn shown(revision: Option<i32>) -> String {
    revision.map_or_else(|| "unknown".to_string(), |r| r.to_string())
}

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
        if let Err(e) = self.state.put(&key, &plan).await {
            return ActionOutcome::failed(format!(
                "nothing was made: the rotation's plan could not be saved: {e}"
            ));
        }
        self.drive(&key, plan, revision).await
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
        let old = match evidence::check_rotation(self.client, self.policy, &plan).await {
            Ok(old) => old,
            Err(why) => return (resumed(action, self.refused(key, &why)), true),
        };
        if plan.phase == RotationPhase::Planned
            && !evidence::rotation_wanted(self.policy, &plan, old.as_ref(), self.at)
            && let Some(done) = self.unwanted_start(key, &plan).await
        {
            return done;
        }
        if !self.options.allow_destroy
            && evidence::retires_on_word(self.policy, &plan, old.as_ref(), self.at)
        {
            let done = ActionOutcome::new(
                Applied::Skipped,
                format!(
                    "{}: the policy does not rotate {} (not declared Active with a rotate_after its age has passed): resuming it retires and deletes {} on the record's word (destructive: needs allow-destroy); the record is kept",
                    self.state.describe(key),
                    plan.old_id,
                    plan.old_id
                ),
            );
            return (resumed(action, done), true);
        }
        (self.resume_checked(key, plan, old).await, true)
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
        let found = match evidence::made_since(self.client, plan).await {
            Ok(found) => found,
            Err(e) => {
                let done = ActionOutcome::not_sent(
                    &e,
                    format!("{e}; the record is kept: the next apply looks again"),
                );
                return Some((resumed(action, done), true));
            }
        };
        if found == 0 {
            self.state.drop_record(key).await;
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
        let done = ActionOutcome::new(
            Applied::Skipped,
            format!(
                "{}: its create may have made a replacement, but the policy does not rotate {} now: resuming it retires and deletes {} (destructive: needs allow-destroy); the record is kept",
                self.state.describe(key),
                plan.old_id,
                plan.old_id
            ),
        );
        Some((resumed(action, done), true))
    }

    /// Resumes a rotation whose record passed its checks (`old`: its old token, read now).
    async fn resume_checked(
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
                match self.deliver_and_verify(key, &mut plan, &replacement).await {
                    Ok(at) => secret_at = Some(at),
                    Err(done) => return resumed(action, done),
                }
            }
        }
        let revision = old.as_ref().and_then(|t| t.revision());
        let mut done = self.drive(key, plan, revision).await;
        if done.secret_at.is_none() {
            done.secret_at = secret_at;
        }
        resumed(action, done)
    }

    /// A replacement made, not yet verified (a record at `created`): its secret, read from the
    /// platform, handed over, then verified and the record saved. `Err`: the outcome to report.
    async fn deliver_and_verify(
        &self,
        key: &Key,
        plan: &mut RotationPlan,
        new: &Replacement,
    ) -> Result<String, ActionOutcome> {
        let id = new.token.id();
        let declared = self
            .policy
            .declared(&plan.account_id, &plan.name, Some(&plan.old_id));
        let at = self
            .hand_over(declared, &new.token, &new.secret, Some(&plan.old_id))
            .await
            .map_err(|why| ActionOutcome::failed(format!("{id} was made; {why}")).made(id, None))?;
        if let Err(e) = plan.verify(self.client, &new.secret).await {
            return Err(ActionOutcome::failed(format!(
                "the new secret of {id} did not verify: {e}; the next apply resumes"
            ))
            .made(id, Some(at)));
        }
        if let Err(e) = self.state.put(key, &*plan).await {
            return Err(ActionOutcome::failed(format!(
                "the rotation's plan could not be saved: {e}"
            ))
            .made(id, Some(at)));
        }
        Ok(at)
    }

    /// Runs a rotation from wherever its plan is, saving it after each step; the plan file is
    /// removed once the old token is deleted. `revision`: the old token's, as last read (the
    /// plan's, or the resumed record's check); a step finds it changed and stops (`moved`).
    pub(super) async fn drive(
        &self,
        key: &Key,
        mut plan: RotationPlan,
        mut revision: Option<i32>,
    ) -> ActionOutcome {
        let mut secret_at = None;
        if plan.phase == RotationPhase::Planned {
            match self.start(key, &mut plan).await {
                Ok(at) => secret_at = Some(at),
                Err(done) => return done,
            }
        }
        let new_id = plan.new_id.clone().unwrap_or_default();
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
                        "{}; the replacement {new_id} is in use, the plan is kept in {}: the next apply resumes",
                        stopped.detail,
                        self.state.describe(key)
                    ),
                )
                .made(&new_id, secret_at);
            }
            if let Err(why) = self.step(&mut plan, step, &mut revision).await {
                let unsaved = match self.state.put(key, &plan).await {
                    Ok(()) => String::new(),
                    Err(e) => format!(" (its latest step was not saved: {e})"),
                };
                let result = match &why {
                    StepError::Moved(_) => Applied::Moved,
                    // Interrupted (during a quiet wait, say): nothing was sent for the old token.
                    StepError::Api(e) if matches!(**e, Error::Cancelled) => Applied::NotAttempted,
                    StepError::Fenced(_) if self.client.cancelled() => Applied::NotAttempted,
                    StepError::Api(_) | StepError::Fenced(_) => Applied::Failed,
                };
                return ActionOutcome::new(
                    result,
                    format!(
                        "{why}; the replacement {new_id} is in use, the plan is kept in {}{unsaved}: the next apply checks it again",
                        self.state.describe(key)
                    ),
                )
                .made(&new_id, secret_at);
            }
            if let Err(e) = self.state.put(key, &plan).await {
                return ActionOutcome::failed(format!(
                    "the rotation's plan could not be saved: {e}"
                ))
                .made(&new_id, secret_at);
            }
        }
        self.state.drop_record(key).await;
        ActionOutcome::new(
            Applied::Changed,
            format!("replaced by {new_id}; {} deleted", plan.old_id),
        )
        .made(&new_id, secret_at)
    }

    /// One step past verification (retire, finish), tried up to [`STEP_TRIES`] times: each is
    /// idempotent and reads the state first, so a try after a lost answer sees the step done.
    /// Right before it (after the quiet wait, for a retire), both tokens are read again
    /// ([`Applying::still_as_read`]): a step is taken only while the replacement is live and
    /// Active, and the old token unchanged since it was last read (`revision`, updated to the
    /// old token's after the retire).
    async fn step(
        &self,
        plan: &mut RotationPlan,
        step: RotationPhase,
        revision: &mut Option<i32>,
    ) -> Result<(), StepError> {
        if step == RotationPhase::Retired
            && let Some(quiet) = self.options.quiet
        {
            // An interrupt ends the wait at once: nothing is sent for the old token.
            let wait = plan.wait_until_quiet(self.client, quiet);
            let cancel = super::cancelled(self.client);
            let waited =
                match futures_util::future::select(std::pin::pin!(wait), std::pin::pin!(cancel))
                    .await
                {
                    futures_util::future::Either::Left((waited, _)) => waited,
                    futures_util::future::Either::Right(_) => Err(Error::Cancelled),
                };
            match waited {
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(StepError::Api(Box::new(e))),
            }
        }
        self.still_as_read(plan, step, *revision).await?;
        // Proven again after the quiet wait and the reads, right before the change.
        if let Some(stopped) = self.fenced(&plan.account_id).await {
            return Err(StepError::Fenced(stopped.detail));
        }
        let mut r = Ok(());
        for _ in 0..STEP_TRIES {
            r = match step {
                RotationPhase::Retired => plan.retire(self.client, None).await,
                _ => plan.finish(self.client).await,
            };
            if r.is_ok() {
                break;
            }
        }
        r.map_err(|e| StepError::Api(Box::new(e)))?;
        if step == RotationPhase::Retired {
            // The old token as this retire left it: what the finish expects to find.
            *revision = match self.client.get(plan.old_id.as_str()).await {
                Ok(old) => old.revision(),
                Err(Error::NotFound(_)) => None,
                Err(e) => return Err(StepError::Api(Box::new(e))),
            };
        }
        Ok(())
    }

    /// Both tokens of a rotation, read again right before `step`: the replacement must still be
    /// a live, Active token of the plan's account and name; the old token (unless gone) still of
    /// them, at `revision` (unchanged since it was last read), and, before its delete, not
    /// Active. Otherwise the rotation has moved.
    async fn still_as_read(
        &self,
        plan: &RotationPlan,
        step: RotationPhase,
        revision: Option<i32>,
    ) -> Result<(), StepError> {
        let new_id = plan.new_id.clone().unwrap_or_default();
        let owner = |t: &mpt::Token| {
            t.account_id() == Some(plan.account_id.as_str()) && t.name() == Some(plan.name.as_str())
        };
        match self.client.get(new_id.as_str()).await {
            Ok(new) if new.status() == TokenStatus::Active && owner(&new) => {}
            Ok(new) => {
                return Err(StepError::Moved(format!(
                    "the replacement {new_id} is now {} {:?} in {} at revision {}, not an Active {:?} of {}",
                    new.status(),
                    new.name().unwrap_or_default(),
                    new.account_id().unwrap_or_default(),
                    shown(new.revision()),
                    plan.name,
                    plan.account_id
                )));
            }
            Err(Error::NotFound(_)) => {
                return Err(StepError::Moved(format!(
                    "the replacement {new_id} is gone"
                )));
            }
            Err(e) => return Err(StepError::Api(Box::new(e))),
        }
        let old = match self.client.get(plan.old_id.as_str()).await {
            Ok(old) if old.status() == TokenStatus::Deleted => return Ok(()),
            Ok(old) => old,
            Err(Error::NotFound(_)) => return Ok(()),
            Err(e) => return Err(StepError::Api(Box::new(e))),
        };
        let active_before_delete =
            step == RotationPhase::Finished && old.status() == TokenStatus::Active;
        if old.revision() != revision || !owner(&old) || active_before_delete {
            return Err(StepError::Moved(format!(
                "the old token {} changed since it was read (revision {} then, {} now: {} {:?} in {}); it is not {}",
                plan.old_id,
                shown(revision),
                shown(old.revision()),
                old.status(),
                old.name().unwrap_or_default(),
                old.account_id().unwrap_or_default(),
                if step == RotationPhase::Retired {
                    "disabled"
                } else {
                    "deleted"
                }
            )));
        }
        Ok(())
    }

    /// A rotation's start: the replacement made (or, resumed, adopted), its secret handed over
    /// and verified, the plan saved. `Ok`: where the secret went; `Err`: the outcome to report.
    async fn start(&self, key: &Key, plan: &mut RotationPlan) -> Result<String, ActionOutcome> {
        let state = self.state;
        // The record made into JSON at once: the future borrows nothing of it (and is `Send`).
        let save = move |plan: &RotationPlan| -> BoxFuture<'_, Result<(), StoreError>> {
            let json = serde_json::to_string_pretty(plan).map(|j| j + "\n");
            Box::pin(async move {
                let json = json.map_err(|e| StoreError::Refused(e.to_string()))?;
                state.save(key, &json).await
            })
        };
        let mut started = plan.start_saving_send(self.client, save).await;
        if matches!(started, Err(Error::CreateUnconfirmed { .. })) && plan.create_sent {
            // Once more: a resumed start adopts what the lost create made.
            started = plan.start_saving_send(self.client, save).await;
        }
        let made = match started {
            Ok(Some(made)) => made,
            Ok(None) => {
                return Err(ActionOutcome::failed(
                    "the rotation's plan is past its start",
                ));
            }
            Err(e) if !plan.create_sent => {
                self.state.drop_record(key).await;
                return Err(ActionOutcome::not_sent(
                    &e,
                    format!("nothing was made: {e}"),
                ));
            }
            Err(e) => {
                return Err(ActionOutcome::failed(format!(
                    "{e}; the rotation's plan is kept in {}: the next apply resumes it",
                    self.state.describe(key)
                )));
            }
        };
        // What a resumed start adopts must have been made after the record.
        if let Some(made_at) = made.token.created_at()
            && let Err(why) =
                evidence::made_after_record(plan, "its replacement ", made.token.id(), made_at)
        {
            return Err(self.refused(key, &why));
        }
        // The plan stays `planned` in the store until the secret is handed over and verified:
        // a crash before that adopts the same replacement again.
        let new = evidence::Replacement {
            token: made.token,
            secret: made.secret,
        };
        self.deliver_and_verify(key, plan, &new).await
    }
}
