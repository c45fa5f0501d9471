//! Acting on what was read just now: right before a batch of tokens is acted on, they are read
//! again in one listing (`in(id, ...)`), and a token whose revision moved since the plan (an
//! administrator changed it during a long apply, say) is skipped and reported `moved`.

use std::collections::HashMap;

use super::{ActionOutcome, Applied, Applying};
use crate::plan::{ActionKind, PlannedAction};
use mpt::Filter;
use mpt::Token;
use mpt::TokenStatus;

/// The tokens of a batch as read right before it is acted on.
pub(super) enum Reread {
    /// Read: each live or Deleted token the listing returned, by id.
    Read(HashMap<String, Token>),
    /// The listing failed: nothing of the batch is acted on.
    Failed(String),
    /// Interrupted before the listing was answered: nothing of the batch is acted on.
    Cancelled,
}

/// The action of a group that changes an existing token (reports and creates change none).
fn acting(group: &[PlannedAction]) -> Option<&PlannedAction> {
    group.iter().find(|a| {
        a.token_id.is_some()
            && !matches!(
                a.kind,
                ActionKind::Create
                    | ActionKind::Unmanaged
                    | ActionKind::Ambiguous
                    | ActionKind::Unresolved
            )
    })
}

impl Applying<'_> {
    /// Reads the tokens `batch` will change, in one listing.
    pub(super) async fn reread(&self, batch: &[Vec<PlannedAction>]) -> Reread {
        let ids: Vec<&str> = batch
            .iter()
            .filter_map(|group| acting(group).and_then(|a| a.token_id.as_deref()))
            .collect();
        if ids.is_empty() {
            return Reread::Read(HashMap::new());
        }
        match self
            .client
            .list()
            .filter(Filter::id_in(&ids))
            .select(["+audit"])
            .collect()
            .await
        {
            Ok(tokens) => Reread::Read(
                tokens
                    .into_iter()
                    .map(|t| (t.id().to_string(), t))
                    .collect(),
            ),
            Err(mpt::Error::Cancelled) => Reread::Cancelled,
            Err(e) => Reread::Failed(e.to_string()),
        }
    }
}

/// Why `group` is not acted on, when its token moved since the plan (its revision changed, or
/// it is gone) or could not be read again; `None` when it is as planned.
pub(super) fn moved(group: &[PlannedAction], read: &Reread) -> Option<ActionOutcome> {
    let action = acting(group)?;
    let id = action.token_id.as_deref()?;
    let planned = shown(action.revision);
    let tokens = match read {
        Reread::Cancelled => return Some(ActionOutcome::interrupted()),
        Reread::Failed(e) => {
            return Some(ActionOutcome::failed(format!(
                "{id} could not be read again right before acting ({e}); nothing was sent for it"
            )));
        }
        Reread::Read(tokens) => tokens,
    };
    match tokens
        .get(id)
        .filter(|t| t.status() != TokenStatus::Deleted)
    {
        None => Some(ActionOutcome::new(
            Applied::Moved,
            format!(
                "moved: {id} (revision {planned} when planned) is gone since the plan; nothing was sent for it: plan again"
            ),
        )),
        Some(now) if now.revision() != action.revision => Some(ActionOutcome::new(
            Applied::Moved,
            format!(
                "moved: {id} changed since the plan (revision {planned} when planned, {} now, {}); nothing was sent for it: plan again",
                shown(now.revision()),
                now.status()
            ),
        )),
        Some(_) => None,
    }
}

fn shown(revision: Option<i32>) -> String {
    revision.map_or_else(|| "unknown".into(), |r| r.to_string())
}
