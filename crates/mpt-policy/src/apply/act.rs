//! The actions on tokens that exist: enable, disable, delete, update (with the modules the
//! platform refuses), each judged by evidence.

use chrono::Utc;

use super::{ActionOutcome, ActionResult, Applied, Applying};
use crate::plan::{ActionKind, FieldChange, PlannedAction};
use crate::plan::{Field, added_modules, modules_of};
use crate::policy::Wanted;
use crate::state::{Key, Refused};
use mpt::Error;
use mpt::Outcome;
use mpt::Token;
use mpt::TokenStatus;
use mpt::TokenUpdate;

/// The update of an action's `description` and `icon` changes (its modules apart).
fn fields_update(changes: &[FieldChange]) -> TokenUpdate {
    changes.iter().fold(TokenUpdate::new(), |update, change| {
        match (change.field, &change.to) {
            (Field::Description, Some(to)) => update.description(to),
            (Field::Icon, Some(to)) => update.icon(to),
            _ => update,
        }
    })
}

/// Whether a problem is about the `modules` field.
fn about_modules(e: &Error) -> bool {
    match e {
        Error::BadRequest(problem) => problem
            .messages()
            .iter()
            .any(|m| m.trim_start().to_ascii_lowercase().starts_with("modules")),
        _ => false,
    }
}

impl Applying<'_> {
    pub(super) fn emit(&self, result: ActionResult) -> ActionResult {
        self.record(&result);
        if let Some(f) = &self.options.on_result {
            f(&result);
        }
        result
    }

    pub(super) async fn carry_out(&self, action: PlannedAction) -> ActionResult {
        let done = match action.kind {
            ActionKind::Unmanaged | ActionKind::Ambiguous | ActionKind::Unresolved => {
                ActionOutcome::new(Applied::Reported, action.reason.clone())
            }
            // A pinned entry's rotation is left to the administrator (the pin would not follow).
            ActionKind::Rotate
                if self
                    .policy
                    .declared(&action.account, &action.name, action.token_id.as_deref())
                    .is_some_and(|d| d.id.is_some()) =>
            {
                ActionOutcome::new(Applied::Reported, action.reason.clone())
            }
            _ if action.destructive && !self.options.allow_destroy => ActionOutcome::new(
                Applied::Skipped,
                format!("{} (destructive: needs allow-destroy)", action.reason),
            ),
            // Once cancelled ([`Client::with_cancel`]), no further change begins.
            _ if self.client.cancelled() => {
                ActionOutcome::new(Applied::NotAttempted, "not attempted: interrupted")
            }
            // An enable, disable or delete reads its token first, then proves the lock right
            // before its change (no round trip between the proof and the change).
            kind @ (ActionKind::Enable | ActionKind::Disable | ActionKind::Delete) => {
                self.send(&action, kind).await
            }
            // Only while the account's lock is proven held: else nothing more is sent.
            kind => match self.fenced(&action.account).await {
                Some(stopped) => stopped,
                None => self.send(&action, kind).await,
            },
        };
        ActionResult::of(action, done, false)
    }

    /// Sends an action's change (its lock proven held just before: by the caller, or, for an
    /// enable, disable or delete, by the action itself after its read).
    async fn send(&self, action: &PlannedAction, kind: ActionKind) -> ActionOutcome {
        match (kind, action.token_id.clone()) {
            (ActionKind::Create, _) => self.create(action).await,
            (_, None) => ActionOutcome::failed("the action names no token"),
            (ActionKind::Update, Some(id)) => self.update(action, &id).await,
            (ActionKind::Enable | ActionKind::Disable, Some(id)) => {
                self.switch(action, &id, kind).await
            }
            (ActionKind::Delete, Some(id)) => self.delete(action, &id).await,
            (_, Some(id)) => self.rotate(&action.account, &id).await,
        }
    }

    /// After an error: `Unconfirmed` when a read shows the token as the action wanted it,
    /// `Failed` otherwise (saying what was read).
    pub(super) async fn failed_unless(
        &self,
        action: &PlannedAction,
        id: &str,
        e: Error,
    ) -> ActionOutcome {
        // Interrupted before the change was sent: nothing was sent for it.
        if matches!(e, Error::Cancelled) {
            return ActionOutcome::interrupted();
        }
        // Stopped by the client's guard (the lock lost): before anything was sent, or before
        // the retry of an attempt the platform refused.
        if matches!(e, Error::GuardFailed { sent: 0, .. })
            && let Some(stopped) = super::fence::stopped_by_guard(&e, "nothing happened")
        {
            return stopped;
        }
        // Stopped before a retry of an attempt answered 429/503 (which does not prove it was
        // not carried out): what a read shows now (reads are not guarded) is what is said.
        if matches!(e, Error::GuardFailed { .. }) {
            let (done, what) = match self.client.get(id).await {
                Ok(now) if reached(action, Some(&now)) => (
                    true,
                    "a read now shows it as declared: the first attempt did it".to_string(),
                ),
                Ok(now) => (
                    false,
                    format!("a read now shows it {}: nothing happened", now.status()),
                ),
                Err(Error::NotFound(_)) if reached(action, None) => (
                    true,
                    "a read now finds it gone: the first attempt did it".to_string(),
                ),
                Err(read) => (
                    false,
                    format!("its state is unknown (a read failed: {read})"),
                ),
            };
            if let Some(mut stopped) = super::fence::stopped_by_guard(&e, &what) {
                if done {
                    stopped.result = Applied::Unconfirmed;
                }
                return stopped;
            }
        }
        // A read whose answer is cut off is not retried by the client: read up to three times.
        let mut read = self.client.get(id).await;
        for _ in 1..3 {
            match &read {
                Err(r) if !matches!(r, Error::NotFound(_)) => read = self.client.get(id).await,
                _ => break,
            }
        }
        let now = match read {
            Ok(token) => Some(token),
            Err(Error::NotFound(_)) => None,
            Err(read) => {
                return ActionOutcome::failed(format!(
                    "{e}; its state is unknown (a read failed: {read})"
                ));
            }
        };
        if reached(action, now.as_ref()) {
            return ActionOutcome::new(
                Applied::Unconfirmed,
                format!("the answer was lost ({e}); read back as declared"),
            );
        }
        let status = now.map_or("gone".to_string(), |t| t.status().to_string());
        ActionOutcome::failed(format!("{e} (read back: {status})"))
    }

    pub(super) async fn switch(
        &self,
        action: &PlannedAction,
        id: &str,
        kind: ActionKind,
    ) -> ActionOutcome {
        let before = match self.client.get(id).await {
            Ok(before) => before,
            Err(e) => return self.failed_unless(action, id, e).await,
        };
        // Proven after the read: the change (when one is needed) is the next request.
        if let Some(stopped) = self.fenced(&action.account).await {
            return stopped;
        }
        let outcome = match kind {
            ActionKind::Enable => self.client.ensure_active_from(before).await,
            _ => self.client.ensure_disabled_from(before).await,
        };
        match outcome {
            Ok(Outcome::Changed(_)) => ActionOutcome::new(Applied::Changed, action.reason.clone()),
            Ok(Outcome::Unchanged(_)) => ActionOutcome::new(Applied::Unchanged, "already so"),
            Ok(Outcome::Unconfirmed(_)) => ActionOutcome::new(
                Applied::Unconfirmed,
                "in the declared state; the answers cannot tell who put it there",
            ),
            Err(e) => self.failed_unless(action, id, e).await,
        }
    }

    /// A guarded delete: the token is read right before, and deleted only as planned (its
    /// revision unchanged) and, when it is Active, only if the policy declares it absent. The
    /// platform has no conditional delete: the read is the last look, one request before.
    pub(super) async fn delete(&self, action: &PlannedAction, id: &str) -> ActionOutcome {
        let absent = self
            .policy
            .declared(&action.account, &action.name, Some(id))
            .is_some_and(|d| d.status == Wanted::Absent);
        // A late landing of this tool's own create given up on, by the marker it carries (read
        // with the other tokens of its name, before the last read, which must show it as
        // planned: its revision unchanged).
        let late = !absent
            && self
                .is_late_landing((&action.account, &action.name), id, action.revision)
                .await;
        // A planned late landing no longer proven one: a store that stopped answering (a lost
        // session) reads no record, which is no move of the token (tester round 20, L3).
        if !late
            && crate::plan::is_late_row(action)
            && let Some(stopped) = self.fenced(&action.account).await
        {
            return stopped;
        }
        let now = match self.client.get(id).await {
            Ok(now) if now.status() == TokenStatus::Deleted => {
                return ActionOutcome::new(Applied::Unchanged, "gone already");
            }
            Ok(now) => now,
            Err(Error::NotFound(_)) => {
                return ActionOutcome::new(Applied::Unchanged, "gone already");
            }
            Err(e) => {
                return ActionOutcome::not_sent(
                    &e,
                    format!("{id} could not be read right before its delete ({e}); not deleted"),
                );
            }
        };
        let shown = |r: Option<i32>| r.map_or_else(|| "unknown".into(), |r| r.to_string());
        // The last read is the last look at a late landing too: used since (its secret read
        // and used between the listing and this read), someone holds it (tester round 19 F4).
        if late && !absent && !crate::plan::as_landed(&now) {
            return ActionOutcome::new(
                Applied::Moved,
                format!(
                    "moved: {id} is no longer as it landed (now {} at revision {}{}); not deleted: someone may hold its secret. Plan again",
                    now.status(),
                    shown(now.revision()),
                    match now.last_access_at() {
                        Some(at) => format!(", last used {at}"),
                        None => String::new(),
                    }
                ),
            );
        }
        let absent = absent || late;
        if now.revision() != action.revision || (now.status() == TokenStatus::Active && !absent) {
            return ActionOutcome::new(
                Applied::Moved,
                format!(
                    "moved: {id} is {} at revision {} (revision {} when planned); not deleted: an Active token is deleted only when the policy declares it absent, or it is a late landing of this tool's own create. Plan again",
                    now.status(),
                    shown(now.revision()),
                    shown(action.revision)
                ),
            );
        }
        // Proven after the read: the delete is the next request.
        if let Some(stopped) = self.fenced(&action.account).await {
            return stopped;
        }
        let outcome = match self.client.delete_if_exists(&now).await {
            Ok(true) => ActionOutcome::new(Applied::Changed, action.reason.clone()),
            Ok(false) => ActionOutcome::new(Applied::Unchanged, "gone already"),
            Err(e) => return self.failed_unless(action, id, e).await,
        };
        if late {
            // Its create landed and is gone: a later token carrying its marker is a copy.
            let (account, name) = (&action.account, &action.name);
            if let Err(e) =
                crate::state::retire_late(self.state, account, name, now.description()).await
            {
                let key = self.state.describe(&Key::late(account, name));
                return ActionOutcome::new(
                    outcome.result,
                    format!(
                        "{}; its marker could not be retired from {key} ({e}): a token carrying a copy of it would be taken for a late landing",
                        outcome.detail
                    ),
                );
            }
        }
        outcome
    }

    pub(super) async fn update(&self, action: &PlannedAction, id: &str) -> ActionOutcome {
        let mut update = fields_update(&action.changes);
        let modules = action
            .changes
            .iter()
            .find(|c| c.field == Field::Modules)
            .map(|c| {
                let added = added_modules(&action.changes).unwrap_or_default();
                (modules_of(c.to.as_deref()), added)
            });
        let key = Key::refused(&action.account, id);
        let mut refused_before = None;
        if let Some((wanted, added)) = modules.clone() {
            // Modules the platform refused before are not sent again (no loop).
            let before: Option<Refused> = self.state.get(&key).await;
            match before {
                Some(r) if r.covers(&added) => refused_before = Some(r),
                _ => update = update.modules(wanted),
            }
        }
        let at = self.state.describe(&key);
        let not_again = |r: &Refused, rest: &str| {
            ActionOutcome::new(
                Applied::NotApplied,
                format!("could not be applied: {}{rest}", r.explain(&at)),
            )
        };
        if update.is_empty() {
            return match refused_before {
                Some(r) => not_again(&r, ""),
                None => ActionOutcome::new(Applied::Unchanged, "nothing to change"),
            };
        }
        match self.client.update(id, &update).await {
            Ok(token) => {
                // A module the answer does not hold was dropped by the platform: recorded,
                // and not sent again.
                let held: Vec<&str> = token.module_ids();
                let dropped: Vec<String> = match (&refused_before, &modules) {
                    (None, Some((wanted, _))) => wanted
                        .iter()
                        .filter(|m| !held.contains(&m.as_str()))
                        .cloned()
                        .collect(),
                    _ => Vec::new(),
                };
                if !dropped.is_empty() {
                    let refused = Refused {
                        token_id: id.to_string(),
                        modules: dropped,
                        at: Utc::now(),
                        reason: "the platform answered the update without them".into(),
                    };
                    let mut done = not_again(&refused, "; the other fields were updated");
                    if let Err(why) = self.state.put(&key, &refused).await {
                        done.detail
                            .push_str(&format!(" (the refusal was not recorded: {why})"));
                    }
                    return done;
                }
                match refused_before {
                    Some(r) => not_again(&r, "; the other fields were updated"),
                    None => ActionOutcome::new(Applied::Changed, action.reason.clone()),
                }
            }
            Err(e) if about_modules(&e) => {
                let (_, added) = modules.unwrap_or_default();
                let refused = Refused {
                    token_id: id.to_string(),
                    modules: added,
                    at: Utc::now(),
                    reason: e.to_string(),
                };
                let kept = self.state.put(&key, &refused).await;
                // The other fields, without the refused modules.
                let rest = fields_update(&action.changes);
                let others = match (rest.is_empty(), self.fenced(&action.account).await) {
                    (true, _) => String::new(),
                    (false, Some(stopped)) => format!("; the other fields were {}", stopped.detail),
                    (false, None) => match self.client.update(id, &rest).await {
                        Ok(_) => "; the other fields were updated".into(),
                        Err(e) => format!("; the other fields failed too: {e}"),
                    },
                };
                let mut done = not_again(&refused, &others);
                if let Err(why) = kept {
                    done.detail
                        .push_str(&format!(" (the refusal was not recorded: {why})"));
                }
                done
            }
            Err(e) => self.failed_unless(action, id, e).await,
        }
    }
}

/// Whether `now` (the token as read; `None`: gone) is what `action` wanted.
fn reached(action: &PlannedAction, now: Option<&Token>) -> bool {
    let Some(token) = now else {
        return action.kind == ActionKind::Delete;
    };
    match action.kind {
        ActionKind::Enable => token.status() == TokenStatus::Active,
        ActionKind::Disable => token.status() == TokenStatus::Disabled,
        ActionKind::Delete => token.status() == TokenStatus::Deleted,
        ActionKind::Update => action.changes.iter().all(|c| match c.field {
            Field::Description => c.to.as_deref() == token.description(),
            Field::Icon => c.to.as_deref() == token.icon(),
            Field::Modules => {
                let mut have: Vec<String> =
                    token.module_ids().iter().map(|m| m.to_string()).collect();
                have.sort();
                have == modules_of(c.to.as_deref())
            }
        }),
        _ => false,
    }
}
