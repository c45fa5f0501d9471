//! What an action leads to ([`ActionOutcome`]), and the result it becomes.

use super::{ActionResult, Applied};
use crate::plan::PlannedAction;

/// What an action leads to, before it is a result.
#[derive(Clone)]
pub(super) struct ActionOutcome {
    pub(super) result: Applied,
    pub(super) detail: String,
    pub(super) new_token_id: Option<String>,
    pub(super) secret_at: Option<String>,
}

impl ActionOutcome {
    pub(super) fn new(result: Applied, detail: impl Into<String>) -> ActionOutcome {
        ActionOutcome {
            result,
            detail: detail.into(),
            new_token_id: None,
            secret_at: None,
        }
    }

    pub(super) fn failed(detail: impl Into<String>) -> ActionOutcome {
        ActionOutcome::new(Applied::Failed, detail)
    }

    /// An action stopped by `e` before its change was sent: not attempted when `e` is the
    /// client's cancel (an interrupt: nothing was sent for it), else failed with `detail`.
    pub(super) fn not_sent(e: &mpt::Error, detail: impl Into<String>) -> ActionOutcome {
        match e {
            mpt::Error::Cancelled => ActionOutcome::interrupted(),
            _ => ActionOutcome::failed(detail),
        }
    }

    /// An action the interrupt stopped before anything was sent for it.
    pub(super) fn interrupted() -> ActionOutcome {
        ActionOutcome::new(
            Applied::NotAttempted,
            "not attempted: interrupted (nothing was sent for it)",
        )
    }

    pub(super) fn made(mut self, id: &str, at: Option<String>) -> ActionOutcome {
        self.new_token_id = Some(id.to_string());
        self.secret_at = at;
        self
    }
}

impl ActionResult {
    pub(super) fn of(action: PlannedAction, done: ActionOutcome, resumed: bool) -> ActionResult {
        ActionResult {
            action,
            result: done.result,
            detail: done.detail,
            new_token_id: done.new_token_id,
            secret_at: done.secret_at,
            resumed,
        }
    }
}
