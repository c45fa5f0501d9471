//! A saved plan, checked before it is trusted as an approval: made within bounds by the
//! platform's clock, and equal, action for action, to the plan made now.

use std::collections::HashMap;

use super::ApplyError;
use crate::plan::{Plan, PlannedAction};
use mpt::Client;

/// The platform's time now: the `Date` of one request (a count, `limit=0`, of `account`'s
/// tokens), else this machine's clock when the answer has none (as a plan judges ages).
pub(super) async fn platform_now(
    client: &Client,
    account: Option<&str>,
) -> Result<chrono::DateTime<chrono::Utc>, mpt::Error> {
    let at: mpt::ServerTime = Default::default();
    let mut count = client.list().record_server_time(at.clone());
    if let Some(account) = account {
        count = count.filter(mpt::Filter::account(account));
    }
    count.count().await?;
    let now = at.lock().ok().and_then(|t| *t);
    Ok(now.unwrap_or_else(chrono::Utc::now))
}

/// How old a saved plan may be when it is applied.
pub const MAX_SAVED_PLAN_AGE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// How far ahead of the platform's clock a saved plan's `made_at` may be (the platform's
/// `Date` is whole seconds, and two of its servers' clocks may differ a little).
const PLAN_CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// Refuses a saved plan made in the future, or longer ago than [`MAX_SAVED_PLAN_AGE`], by the
/// platform's clock (`now`).
pub(super) fn check_made_at(
    made_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApplyError> {
    let why = if made_at > now + PLAN_CLOCK_SLACK {
        "it was made in the future by the platform's clock"
    } else if made_at < now - MAX_SAVED_PLAN_AGE {
        "it is older than 24 hours"
    } else {
        return Ok(());
    };
    Err(ApplyError::PlanTime {
        made_at,
        now,
        why: why.into(),
    })
}

/// Refuses a saved plan whose actions differ from a fresh plan's, naming the tokens: each
/// action once, nothing added, removed or repeated.
pub(super) fn check_fresh(saved: &Plan, fresh: &Plan) -> Result<(), ApplyError> {
    let mut moved: Vec<String> = Vec::new();
    let name = |a: &PlannedAction| a.token_id.clone().unwrap_or_else(|| a.name.clone());
    let key = |a: &PlannedAction| serde_json::to_string(a).unwrap_or_default();
    let mut counts: HashMap<String, (i64, String)> = HashMap::new();
    for a in &saved.actions {
        counts.entry(key(a)).or_insert((0, name(a))).0 += 1;
    }
    for a in &fresh.actions {
        counts.entry(key(a)).or_insert((0, name(a))).0 -= 1;
    }
    for (n, who) in counts.values() {
        if *n != 0 {
            moved.push(who.clone());
        }
    }
    for a in &saved.actions {
        if !fresh.actions.contains(a) {
            moved.push(name(a));
        }
    }
    for a in &fresh.actions {
        if !saved.actions.contains(a) {
            moved.push(name(a));
        }
    }
    moved.sort();
    moved.dedup();
    if moved.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::Stale { tokens: moved })
    }
}
