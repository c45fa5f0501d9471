//! A rotation's steps: its replacement's hand-over and verification, then the steps past it
//! (retire, finish), each taken only while both its tokens are as last read, right before it,
//! and tried again after a lost answer.

use super::new_tokens::Came;
use super::{ActionOutcome, Applied, Applying};
use crate::evidence::Replacement;
use crate::state::Key;
use mpt::Error;
use mpt::TokenStatus;
use mpt::{RotationPhase, RotationPlan};

/// How many times a rotation's retire or finish is tried in one apply (each reads the state
/// first, so a try after a lost answer sees the step done).
const STEP_TRIES: usize = 3;

/// Why a rotation's retire or finish did not happen.
#[derive(Debug, thiserror::Error)]
pub(super) enum StepError {
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

impl StepError {
    /// The result of a rotation stopped by this (`cancelled`: the client's, by an interrupt).
    pub(super) fn result(&self, cancelled: bool) -> Applied {
        match self {
            StepError::Moved(_) => Applied::Moved,
            // Interrupted (during a quiet wait, say): nothing was sent for the old token.
            StepError::Api(e) if matches!(**e, Error::Cancelled) => Applied::NotAttempted,
            StepError::Fenced(_) if cancelled => Applied::NotAttempted,
            StepError::Api(_) | StepError::Fenced(_) => Applied::Failed,
        }
    }
}

impl Applying<'_> {
    /// One step past verification (retire, finish), tried up to [`STEP_TRIES`] times: each is
    /// idempotent and reads the state first, so a try after a lost answer sees the step done.
    /// Right before it (after the quiet wait, for a retire), both tokens are read again
    /// ([`Applying::still_as_read`]): a step is taken only while the replacement is live and
    /// Active, and the old token unchanged since it was last read (`revision`, updated to the
    /// old token's after the retire). A quiet wait is for an Active old token only: one
    /// Disabled (its retire landed, unsaved) or gone is used by nothing. `Ok(true)`: the old
    /// token was gone (Deleted, or not found) right before the step, which then sent nothing.
    pub(super) async fn step(
        &self,
        plan: &mut RotationPlan,
        step: RotationPhase,
        revision: &mut Option<i32>,
    ) -> Result<bool, StepError> {
        if step == RotationPhase::Retired
            && let Some(quiet) = self.options.quiet
            && self.old_active(plan).await?
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
        let gone = self.still_as_read(plan, step, *revision).await?;
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
        Ok(gone)
    }

    /// Whether the rotation's old token is Active now (what a quiet wait watches).
    async fn old_active(&self, plan: &RotationPlan) -> Result<bool, StepError> {
        match self.client.get(plan.old_id.as_str()).await {
            Ok(old) => Ok(old.status() == TokenStatus::Active),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(StepError::Api(Box::new(e))),
        }
    }

    /// Both tokens of a rotation, read again right before `step`: the replacement must still be
    /// a live, Active token of the plan's account and name; the old token (unless gone) still of
    /// them, at `revision` (unchanged since it was last read), and, before its delete, not
    /// Active. Otherwise the rotation has moved. `Ok(true)`: the old token is gone.
    async fn still_as_read(
        &self,
        plan: &RotationPlan,
        step: RotationPhase,
        revision: Option<i32>,
    ) -> Result<bool, StepError> {
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
            Ok(old) if old.status() == TokenStatus::Deleted => return Ok(true),
            Ok(old) => old,
            Err(Error::NotFound(_)) => return Ok(true),
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
        Ok(false)
    }
}

/// What a rotation's start comes to when its first attempt (`first`) lost the create's answer
/// and it looked again (`again`: a resumed start, which adopts the one token the create made):
/// `again`, but for an interrupt that stopped it (the first answer stands), and with the first
/// attempt's cause when this run sent the create (`ours`): the look again's own words would say
/// an earlier run sent it.
pub(super) fn looked_again(
    mut first: Result<Option<mpt::CreatedToken>, Error>,
    mut again: Result<Option<mpt::CreatedToken>, Error>,
    ours: bool,
) -> Result<Option<mpt::CreatedToken>, Error> {
    if matches!(again, Err(Error::Cancelled)) {
        return first;
    }
    if let (
        true,
        Err(Error::CreateUnconfirmed { source: lost, .. }),
        Err(Error::CreateUnconfirmed { source, .. }),
    ) = (ours, &mut first, &mut again)
        && matches!(**source, Error::EarlierRunInterrupted { .. })
    {
        std::mem::swap(source, lost);
    }
    again
}

/// The sends of a rotation's create refused and sent again before the one whose answer was
/// lost (`started`'s): each may still land after a resumed start adopts what the last made.
pub(super) fn refused_sends(started: &Result<Option<mpt::CreatedToken>, Error>) -> u32 {
    match started {
        Err(Error::CreateUnconfirmed { other_sends, .. }) => *other_sends,
        _ => 0,
    }
}

/// The outcome of a rotation's start that sent its create and did not see what it made (`e`),
/// its record kept at `kept`: unknown when this run sent the create, lost its answer, and was
/// interrupted before it adopted what it made (`stopped`); else failed.
pub(super) fn create_lost(e: &Error, kept: &str, stopped: bool) -> ActionOutcome {
    if stopped && let Error::CreateUnconfirmed { source, .. } = e {
        return ActionOutcome::new(
            Applied::OutcomeUnknown,
            format!(
                "outcome unknown: this run sent the create of the replacement and its answer was lost ({source}); interrupted, the apply adopted nothing: the rotation's plan is kept in {kept} (the create sent): the next apply resumes it, adopting the token the create made (or creating one, if it made none)"
            ),
        );
    }
    ActionOutcome::failed(format!(
        "{e}; the rotation's plan is kept in {kept}: the next apply resumes it"
    ))
}

/// What a resumed rotation of an entry declared Disabled does last, in words (see
/// [`crate::evidence::declared_disabled`]); nothing for other entries.
pub(super) fn then_disabled(policy: &crate::policy::Policy, plan: &RotationPlan) -> String {
    match crate::evidence::declared_disabled(policy, plan) {
        true => format!(
            ", then disables its replacement (the policy declares {:?} Disabled)",
            plan.name
        ),
        false => String::new(),
    }
}

/// What a rotation did when its record could not be saved after `step` (`gone`: the old token
/// was found gone): the step was taken, and the row says so, with what it did to the old token
/// (a row that said only that the plan could not be saved hid an old token disabled: tester
/// round 21, N5).
pub(super) fn unsaved_after(plan: &RotationPlan, step: RotationPhase, gone: bool) -> String {
    let new_id = plan.new_id.as_deref().unwrap_or_default();
    let done = match (step, gone) {
        (_, true) => format!("{} was already gone", plan.old_id),
        (RotationPhase::Retired, false) => format!("{} disabled", plan.old_id),
        (_, false) => format!("{} deleted", plan.old_id),
    };
    format!("the replacement {new_id} is in use and {done}; the rotation's plan could not be saved")
}

impl Applying<'_> {
    /// A replacement made, not yet verified (a record at `created`): its secret, read from the
    /// platform, handed over, then verified and the record saved. `came`: who made it (the
    /// words of a failure say). `Err`: the outcome to report.
    pub(super) async fn deliver_and_verify(
        &self,
        key: &Key,
        plan: &mut RotationPlan,
        new: &Replacement,
        came: Came,
    ) -> Result<String, ActionOutcome> {
        let id = new.token.id();
        let made = match came {
            Came::Earlier => "was made by an earlier apply",
            _ => "was made",
        };
        let declared = self
            .policy
            .declared(&plan.account_id, &plan.name, Some(&plan.old_id));
        // Its record names it (saved at `created`): its description, which may still carry the
        // create's marker, is put back before its secret goes anywhere (part of the rotation;
        // `verify` would do it too): a token handed over never carries a marker, which is what
        // makes a marker's carrier one whose secret nobody holds.
        if let Err(e) = plan.restore_description(self.client, &new.token).await {
            return Err(ActionOutcome::failed(format!(
                "{id} {made}; its description (it still carries the create's marker) could not be put back: {e}; its secret is not handed over yet: the next apply resumes"
            ))
            .made(id, None));
        }
        let at = self
            .hand_over(
                &plan.account_id,
                declared,
                &new.token,
                &new.secret,
                Some(&plan.old_id),
            )
            .await
            .map_err(|why| ActionOutcome::failed(format!("{id} {made}; {why}")).made(id, None))?;
        if let Err(e) = plan.verify(self.client, &new.secret).await {
            return Err(ActionOutcome::failed(format!(
                "the new secret of {id} did not verify: {e}; the next apply resumes"
            ))
            .made(id, Some(at)));
        }
        if let Err(e) = self.state.put(key, &*plan).await {
            // What was done is said first: a row that said only that the plan could not be
            // saved hid a replacement made and handed over (tester round 21, N5).
            return Err(ActionOutcome::failed(format!(
                "{id} {made}, its secret handed over ({at}) and verified; {} is untouched; the rotation's plan could not be saved: {e}; the next apply resumes from {}",
                plan.old_id,
                self.state.describe(key)
            ))
            .made(id, Some(at)));
        }
        Ok(at)
    }
}
