//! The evidence a resumed rotation needs before it acts: its record's claims checked against the
//! policy, and its replacement as the platform shows it now. A record read back is a claim; only
//! what is read from the platform now lets it disable or delete the old token.

use chrono::TimeDelta;
use mpt::Error;
use mpt::Token;
use mpt::TokenStatus;
use mpt::{RotationPhase, RotationPlan};
use mpt_api::TokenSecret;

use super::Applying;
use crate::state::{check_declared, check_ids, check_owner};

/// How much earlier than the record's own time (`plannedAt`, the clock of the machine that
/// planned the rotation) the platform may say its replacement was made: two clocks differ a
/// little. A replacement made longer before the record cannot be the record's.
pub(crate) const RECORD_CLOCK_SLACK: TimeDelta = TimeDelta::minutes(5);

/// The replacement a resumed rotation's record names, as the platform shows it now: the token
/// (with its audit) and its secret, which was seen to work.
pub(crate) struct Replacement {
    /// The token, read now.
    pub token: Token,
    /// Its secret, read from the platform (never from a store).
    pub secret: TokenSecret,
}

impl Applying<'_> {
    /// A rotation's record, checked against the policy and the platform before it is resumed:
    /// ids of the platform's shape, an unpinned entry of the policy for its account and name,
    /// the old token among its `knownIds` (as every record an apply writes has it), an old token
    /// of that account and name, and no replacement among the ids known before.
    /// Returns the old token as read now (`None`: gone).
    pub(super) async fn check_rotation(
        &self,
        plan: &RotationPlan,
    ) -> Result<Option<Token>, String> {
        check_ids(
            &plan.account_id,
            std::iter::once(&plan.old_id)
                .chain(&plan.new_id)
                .chain(&plan.known_ids),
        )?;
        check_declared(
            self.policy,
            &plan.account_id,
            &plan.name,
            Some(&plan.old_id),
        )?;
        if self
            .policy
            .declared(&plan.account_id, &plan.name, Some(&plan.old_id))
            .is_some_and(|d| d.id.is_some())
        {
            return Err(format!(
                "the policy pins {} by `id`: a pinned entry is never rotated by apply",
                plan.old_id
            ));
        }
        if !plan.known_ids.contains(&plan.old_id) {
            return Err(format!(
                "its knownIds lack the old token {} (every record an apply writes has it)",
                plan.old_id
            ));
        }
        let old = match self
            .client
            .get_with_select(plan.old_id.as_str(), ["+audit"])
            .await
        {
            Ok(old) => {
                check_owner(&old, &plan.account_id, &plan.name)
                    .map_err(|e| format!("its old token {e}"))?;
                Some(old).filter(|t| t.status() != TokenStatus::Deleted)
            }
            Err(Error::NotFound(_)) => None,
            Err(e) => {
                return Err(format!(
                    "its old token {} could not be read: {e}",
                    plan.old_id
                ));
            }
        };
        if let Some(old) = &old
            && plan.phase == RotationPhase::Finished
        {
            return Err(format!(
                "it says the old token was deleted, but {} is {}",
                plan.old_id,
                old.status()
            ));
        }
        if let Some(new_id) = &plan.new_id
            && (plan.known_ids.contains(new_id) || *new_id == plan.old_id)
        {
            return Err(format!(
                "its replacement {new_id} had the name before the rotation"
            ));
        }
        Ok(old)
    }

    /// The replacement `plan` names, as the platform shows it now: a live, Active token of the
    /// record's account and name, not the old token, not among `knownIds`, made no earlier than
    /// the record (by [`RECORD_CLOCK_SLACK`]), whose secret works (the call
    /// [`RotationPlan::verify`] makes). Anything less is why the record is refused.
    /// It must also be newer than the old token (`old`, as read now), when that is still there.
    pub(super) async fn replacement_now(
        &self,
        plan: &RotationPlan,
        old: Option<&Token>,
    ) -> Result<Replacement, String> {
        let Some(new_id) = plan.new_id.clone() else {
            return Err(format!(
                "it is past its start ({:?}) but names no replacement",
                plan.phase
            ));
        };
        if new_id == plan.old_id || plan.known_ids.contains(&new_id) {
            return Err(format!(
                "its replacement {new_id} had the name before the rotation"
            ));
        }
        let token = match self
            .client
            .get_with_select(new_id.as_str(), ["+audit", "+token"])
            .await
        {
            Ok(token) => token,
            Err(Error::NotFound(_)) => {
                return Err(format!("its replacement {new_id} does not exist"));
            }
            Err(e) => return Err(format!("its replacement {new_id} could not be read: {e}")),
        };
        check_owner(&token, &plan.account_id, &plan.name)
            .map_err(|e| format!("its replacement {e}"))?;
        if token.status() != TokenStatus::Active {
            return Err(format!(
                "its replacement {new_id} is {}, not Active",
                token.status()
            ));
        }
        match token.created_at() {
            Some(made) if made >= plan.planned_at - RECORD_CLOCK_SLACK => {}
            Some(made) => {
                return Err(format!(
                    "its replacement {new_id} was made at {made}, before the record ({})",
                    plan.planned_at
                ));
            }
            None => {
                return Err(format!(
                    "its replacement {new_id}: its creation time is unknown"
                ));
            }
        }
        if let (Some(made), Some(old_made)) = (token.created_at(), old.and_then(Token::created_at))
            && made < old_made
        {
            return Err(format!(
                "its replacement {new_id} is older than the old token {} (made {made}, before {old_made})",
                plan.old_id
            ));
        }
        let Some(secret) = token.secret().cloned() else {
            return Err(format!(
                "the platform does not return the secret of its replacement {new_id}, so it cannot be verified"
            ));
        };
        // The call `verify` makes, on a copy: the record's phase is not the evidence.
        let mut probe = plan.clone();
        probe.phase = RotationPhase::Created;
        probe
            .verify(self.client, &secret)
            .await
            .map_err(|e| format!("the secret of its replacement {new_id} does not work: {e}"))?;
        Ok(Replacement { token, secret })
    }
}
