//! The update that follows resumed work: once a resumed rotation is finished (or a resumed
//! create's token handed over), the entry's declared fields are brought to the token it ended
//! with, in the same apply, read right before the update (the work just changed it: the plan's
//! revision is not what it is checked against).

use super::{ActionOutcome, ActionResult, Applied, Applying};
use crate::plan::{ActionKind, PlannedAction, field_changes};

/// Whether `update` (an action of the plan) follows the resumed work of `work`: for a rotation,
/// an update of its name that does not name its old token (its replacement's, or one that names
/// no token: a replacement still to be made); for a create, the update of the token it made.
fn follows(update: &PlannedAction, work: &ActionResult) -> bool {
    let of = &work.action;
    update.kind == ActionKind::Update
        && update.account == of.account
        && update.name == of.name
        && match of.kind {
            ActionKind::Rotate => update.token_id != of.token_id,
            _ => update.token_id.is_some() && update.token_id == work.new_token_id,
        }
}

impl Applying<'_> {
    /// The row of the update that follows the resumed work of `work` (see [`follows`]): the
    /// plan's (taken out of `planned`: it is carried out here, or said why not), or, when the
    /// plan has none and the finished work's token differs from the entry, one made now. The
    /// update is sent only once the work is finished (a rotation `changed`, `unconfirmed` or
    /// `adopted`; a create `adopted`); its changes are those of the token as read right before
    /// it. `None`: no update was planned, and none is needed (or the work is not finished).
    pub(super) async fn then_update(
        &self,
        planned: &mut Vec<PlannedAction>,
        work: &ActionResult,
    ) -> Option<ActionResult> {
        let at = planned.iter().position(|a| follows(a, work));
        let follow = at.map(|at| planned.remove(at));
        let finished = matches!(
            work.result,
            Applied::Changed | Applied::Unconfirmed | Applied::Adopted
        );
        let made = work.new_token_id.clone().filter(|_| finished);
        let Some(id) = made else {
            let (result, why) = match work.result {
                Applied::Skipped => (Applied::Skipped, "it was skipped"),
                Applied::NotAttempted | Applied::OutcomeUnknown => {
                    (Applied::NotAttempted, "it was interrupted")
                }
                Applied::Moved => (Applied::Moved, "its token moved"),
                _ => (Applied::Failed, "it did not finish"),
            };
            let what = match work.action.kind {
                ActionKind::Rotate => "rotation",
                _ => "create",
            };
            let done = ActionOutcome::new(
                result,
                format!(
                    "not sent: the update follows the {what} resumed first, and {why} (see its row): the apply that finishes it updates the token it ends with"
                ),
            );
            return follow.map(|action| ActionResult::of(action, done, false));
        };
        let of = &work.action;
        let old = (of.kind == ActionKind::Rotate).then_some(of.token_id.as_deref());
        let declared = self.policy.declared(&of.account, &of.name, old.flatten())?;
        // In flight from here (the row of an apply given up on).
        let ticket = follow.as_ref().map(|action| self.begin(action, false));
        let result = self.update_made(follow, &id, declared).await;
        if let Some(ticket) = ticket {
            self.end(ticket);
        }
        result
    }

    /// The update of `id` (the token resumed work ended with) to `declared`'s fields: the row of
    /// `follow` (the plan's update), or of one made now when the token differs.
    async fn update_made(
        &self,
        follow: Option<PlannedAction>,
        id: &str,
        declared: &crate::policy::TokenPolicy,
    ) -> Option<ActionResult> {
        let token = match self.client.get(id).await {
            Ok(token) => token,
            Err(e) => {
                let done = ActionOutcome::not_sent(
                    &e,
                    format!("not sent: {id} could not be read ({e}): the next apply updates it"),
                );
                return follow.map(|action| ActionResult::of(action, done, false));
            }
        };
        let changes = field_changes(declared, &token);
        let action = match follow {
            Some(action) => action,
            None if changes.is_empty() => return None,
            None => {
                let (account, name) = (token.account_id(), token.name());
                let mut action = PlannedAction::resumed(
                    ActionKind::Update,
                    account.unwrap_or_default(),
                    name.unwrap_or_default(),
                    Some(id.to_string()),
                );
                action.reason = format!(
                    "differs from the policy: {id}, which the work resumed first ended with"
                );
                action.changes = changes.clone();
                action
            }
        };
        if changes.is_empty() {
            let done = ActionOutcome::new(
                Applied::Unchanged,
                format!("nothing to change: {id} is as declared"),
            );
            return Some(ActionResult::of(action, done, false));
        }
        let mut sending = action.clone();
        sending.token_id = Some(id.to_string());
        sending.changes = changes;
        let mut done = match self.fenced(&action.account).await {
            Some(stopped) => stopped,
            None => self.update(&sending, id).await,
        };
        if action.token_id.is_none() {
            done.detail.push_str(&format!(" (the token: {id})"));
        }
        Some(ActionResult::of(action, done, false))
    }
}
