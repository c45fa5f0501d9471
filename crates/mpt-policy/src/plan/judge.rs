//! How a plan is made: each account read once (a streamed listing, no secrets), and each
//! declared token judged against what is there.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use futures_util::TryStreamExt;

use super::{ActionKind, Field, FieldChange, Plan, PlannedAction};
use crate::policy::{AccountPolicy, Hygiene, Policy, TokenPolicy, Unmanaged, Wanted};
use mpt::Client;
use mpt::Error;
use mpt::Filter;
use mpt::Token;
use mpt::TokenStatus;

/// Reads each account of `policy` once (a streamed listing, no secrets) and returns what would
/// bring it to its policy, its ages judged at `at` (else at the platform's time, the `Date` of
/// the listing's answer, against the platform's timestamps: a client whose clock is off plans
/// the same; the client's clock only when an answer has no `Date`). Changes nothing.
pub(crate) async fn plan_judged(
    client: &Client,
    policy: &Policy,
    at: Option<DateTime<Utc>>,
) -> Result<Plan, Error> {
    let mut actions = Vec::new();
    let mut made_at = at;
    for account in &policy.accounts {
        let judged = plan_account(client, account, at, &mut actions).await?;
        made_at.get_or_insert(judged);
    }
    Ok(Plan {
        made_at: made_at.unwrap_or_else(Utc::now),
        accounts: policy.accounts.iter().map(|a| a.id.clone()).collect(),
        actions,
        others_pending: 0,
        others_unread: Vec::new(),
    })
}

/// Plans one account; returns the time its ages were judged at (`at`, else the platform's).
async fn plan_account(
    client: &Client,
    account: &AccountPolicy,
    at: Option<DateTime<Utc>>,
    actions: &mut Vec<PlannedAction>,
) -> Result<DateTime<Utc>, Error> {
    let declared_names: HashSet<&str> = account.tokens.iter().map(|t| t.name.as_str()).collect();
    let pinned: HashSet<&str> = account
        .tokens
        .iter()
        .filter_map(|t| t.id.as_deref())
        .collect();
    // Only the tokens a declaration may match are kept; the rest are judged as they stream.
    let mut matching: Vec<Token> = Vec::new();
    let mut undeclared = Vec::new();
    let server_time: mpt::ServerTime = Default::default();
    let mut listing = client
        .list()
        .filter(Filter::account(&account.id))
        .select(["+audit"]);
    if at.is_none() {
        listing = listing.record_server_time(server_time.clone());
    }
    let mut stream = Box::pin(listing.stream());
    while let Some(token) = stream.try_next().await? {
        // A token of another account (a server that ignored the filter) is never judged here.
        if !live(&token) || token.account_id().is_some_and(|id| id != account.id) {
            continue;
        }
        let name = token.name().unwrap_or("");
        if declared_names.contains(name) || pinned.contains(token.id()) {
            matching.push(token);
        } else if let Some(action) = undeclared_action(account, &token) {
            undeclared.push(action);
        }
    }
    let now = at
        .or_else(|| server_time.lock().ok().and_then(|t| *t))
        .unwrap_or_else(Utc::now);
    for declared in &account.tokens {
        declared_actions(account, declared, &matching, now, actions);
    }
    // A same-named token outside every pin (when all entries of that name are pinned) is
    // not declared either.
    for token in &matching {
        let name = token.name().unwrap_or("");
        let claimed = account.tokens.iter().any(|d| match &d.id {
            Some(pin) => pin == token.id(),
            None => d.name == name,
        });
        if !claimed && let Some(action) = undeclared_action(account, token) {
            undeclared.push(action);
        }
    }
    actions.extend(undeclared);
    Ok(now)
}

/// Said of a rotation due for a pinned entry, which apply leaves to the administrator.
const PINNED_ROTATION: &str = "; pinned by `id`, so apply does not rotate it (the replacement would have a new id the pin does not follow): rotate it with `mpt tokens rotate`, then pin the replacement";

fn live(token: &Token) -> bool {
    matches!(token.status(), TokenStatus::Active | TokenStatus::Disabled)
}

fn action(
    account: &AccountPolicy,
    token: &Token,
    kind: ActionKind,
    reason: String,
) -> PlannedAction {
    PlannedAction {
        account: account.id.clone(),
        name: token.name().unwrap_or("").to_string(),
        token_id: Some(token.id().to_string()),
        kind,
        reason,
        changes: Vec::new(),
        revision: token.revision(),
        destructive: matches!(kind, ActionKind::Delete),
        steps: Vec::new(),
    }
}

fn undeclared_action(account: &AccountPolicy, token: &Token) -> Option<PlannedAction> {
    match account.unmanaged {
        Unmanaged::Ignore => None,
        Unmanaged::Report => Some(action(
            account,
            token,
            ActionKind::Unmanaged,
            format!("not in the policy ({})", token.status()),
        )),
        Unmanaged::Disable if token.status() == TokenStatus::Active => {
            let mut a = action(
                account,
                token,
                ActionKind::Disable,
                "not in the policy (unmanaged = \"disable\")".into(),
            );
            a.destructive = true;
            Some(a)
        }
        Unmanaged::Disable => None,
    }
}

/// An age as a reason shows it: whole days, or, under a day, whole hours, minutes or seconds
/// (`134 d`, `5 h`, `2 s`).
fn age(d: Duration) -> String {
    match d {
        d if d.num_days() > 0 => format!("{} d", d.num_days()),
        d if d.num_hours() > 0 => format!("{} h", d.num_hours()),
        d if d.num_minutes() > 0 => format!("{} min", d.num_minutes()),
        d => format!("{} s", d.num_seconds()),
    }
}

/// Whether the policy rotates `token` (a live token `declared` matches) at `now`: declared
/// Active and Active, not idle (an idle token is disabled instead), and its secret older than
/// the entry's `rotate_after`. What a plan's `rotate` says, and what a resumed rotation that has
/// made nothing yet needs (a record is no reason to rotate).
pub(crate) fn rotation_due(declared: &TokenPolicy, token: &Token, now: DateTime<Utc>) -> bool {
    let hygiene = &declared.hygiene;
    declared.status == Wanted::Active
        && token.status() == TokenStatus::Active
        && idle_reason(hygiene, token, now).is_none()
        && hygiene
            .rotate_after
            .zip(token.created_at())
            .is_some_and(|(limit, made)| now - made > limit)
}

/// The actions for one declared token, from the live tokens a declaration may match.
pub(super) fn declared_actions(
    account: &AccountPolicy,
    declared: &TokenPolicy,
    matching: &[Token],
    now: DateTime<Utc>,
    actions: &mut Vec<PlannedAction>,
) {
    let found: Vec<&Token> = matching
        .iter()
        .filter(|t| match &declared.id {
            Some(pin) => t.id() == pin,
            None => t.name() == Some(declared.name.as_str()),
        })
        .collect();
    if declared.status == Wanted::Absent {
        for token in found {
            actions.push(action(
                account,
                token,
                ActionKind::Delete,
                format!("declared absent (line {})", declared.line),
            ));
        }
        return;
    }
    let Some(token) = the_one(account, declared, &found, actions) else {
        return;
    };
    let changes = field_changes(declared, token);
    if !changes.is_empty() {
        let mut update = action(
            account,
            token,
            ActionKind::Update,
            "differs from the policy".into(),
        );
        update.changes = changes;
        actions.push(update);
    }
    status_actions(account, declared, token, now, actions);
}

/// An action about a declared token that has no live token to name (yet).
fn plain(
    account: &AccountPolicy,
    declared: &TokenPolicy,
    kind: ActionKind,
    reason: String,
) -> PlannedAction {
    PlannedAction {
        account: account.id.clone(),
        name: declared.name.clone(),
        token_id: declared.id.clone(),
        kind,
        reason,
        changes: Vec::new(),
        revision: None,
        destructive: false,
        steps: Vec::new(),
    }
}

/// The one live token a declaration matches; none found is a create (or an unresolved pin),
/// several are ambiguous, and those actions are pushed instead.
fn the_one<'t>(
    account: &AccountPolicy,
    declared: &TokenPolicy,
    found: &[&'t Token],
    actions: &mut Vec<PlannedAction>,
) -> Option<&'t Token> {
    match found {
        [] if declared.id.is_some() => {
            actions.push(plain(
                account,
                declared,
                ActionKind::Unresolved,
                format!(
                    "pinned id is not a live token of {} (line {})",
                    account.id, declared.line
                ),
            ));
            None
        }
        [] => {
            let mut create = plain(account, declared, ActionKind::Create, "not found".into());
            create.changes = wanted_fields(declared);
            if declared.status == Wanted::Disabled {
                create.reason = "not found (created, then disabled)".into();
            }
            actions.push(create);
            None
        }
        [one] => Some(*one),
        many => {
            let ids: Vec<&str> = many.iter().map(|t| t.id()).collect();
            actions.push(plain(
                account,
                declared,
                ActionKind::Ambiguous,
                format!(
                    "{} live tokens are named {:?}: {} (pin one with `id`; nothing is done to any)",
                    many.len(),
                    declared.name,
                    ids.join(", ")
                ),
            ));
            None
        }
    }
}

/// Why `token` counts as idle under `hygiene` at `now`, if it does.
fn idle_reason(hygiene: &Hygiene, token: &Token, now: DateTime<Utc>) -> Option<String> {
    let limit = hygiene.disable_idle_after?;
    let since = token.last_access_at().or(token.created_at())?;
    let age = now - since;
    (age > limit).then(|| {
        let how = if token.last_access_at().is_some() {
            "idle"
        } else {
            "never used, made"
        };
        format!(
            "{how} {} ago (disable after {})",
            self::age(age),
            self::age(limit)
        )
    })
}

/// The actions that bring a found token's status to the declared one, and its hygiene rules
/// (disable when idle, rotate when old, delete when Disabled too long).
fn status_actions(
    account: &AccountPolicy,
    declared: &TokenPolicy,
    token: &Token,
    now: DateTime<Utc>,
    actions: &mut Vec<PlannedAction>,
) {
    let hygiene: &Hygiene = &declared.hygiene;
    let idle = idle_reason(hygiene, token, now);
    match (declared.status, token.status()) {
        (Wanted::Active, TokenStatus::Active) => {
            if let Some(reason) = idle {
                actions.push(action(account, token, ActionKind::Disable, reason));
            } else if let Some(limit) = hygiene.rotate_after
                && let Some(made) = token.created_at()
                && rotation_due(declared, token, now)
            {
                let mut reason = format!(
                    "secret {} old (rotate after {})",
                    age(now - made),
                    age(limit)
                );
                if declared.id.is_some() {
                    // A rotation makes a new id, which the pin would not follow.
                    reason.push_str(PINNED_ROTATION);
                }
                actions.push(action(account, token, ActionKind::Rotate, reason));
            }
        }
        // An idle token stays disabled: enabling it would only have the next plan disable it.
        (Wanted::Active, TokenStatus::Disabled) if idle.is_some() => {
            delete_if_stale(account, token, hygiene, now, actions)
        }
        (Wanted::Active, _) => actions.push(action(
            account,
            token,
            ActionKind::Enable,
            format!("declared Active (line {})", declared.line),
        )),
        (Wanted::Disabled, TokenStatus::Active) => actions.push(action(
            account,
            token,
            ActionKind::Disable,
            format!("declared Disabled (line {})", declared.line),
        )),
        (Wanted::Disabled, _) => delete_if_stale(account, token, hygiene, now, actions),
        (Wanted::Absent, _) => {}
    }
}

fn delete_if_stale(
    account: &AccountPolicy,
    token: &Token,
    hygiene: &Hygiene,
    now: DateTime<Utc>,
    actions: &mut Vec<PlannedAction>,
) {
    if let Some(limit) = hygiene.delete_disabled_after
        && let Some(since) = token.updated_at().or(token.created_at())
        && now - since > limit
    {
        actions.push(action(
            account,
            token,
            ActionKind::Delete,
            format!(
                "Disabled {} (delete after {})",
                age(now - since),
                age(limit)
            ),
        ));
    }
}

fn sorted_modules(ids: impl Iterator<Item = String>) -> String {
    let mut ids: Vec<String> = ids.collect();
    ids.sort();
    ids.dedup();
    ids.join(",")
}

fn wanted_fields(declared: &TokenPolicy) -> Vec<FieldChange> {
    let mut changes = vec![FieldChange {
        field: Field::Modules,
        from: None,
        to: Some(sorted_modules(declared.modules.iter().cloned())),
    }];
    for (field, value) in [
        (Field::Description, &declared.description),
        (Field::Icon, &declared.icon),
    ] {
        if let Some(value) = value {
            changes.push(FieldChange {
                field,
                from: None,
                to: Some(value.clone()),
            });
        }
    }
    changes
}

/// The fields of `token` that differ from `declared` (what an update changes).
pub(crate) fn field_changes(declared: &TokenPolicy, token: &Token) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    for (field, wanted, now) in [
        (
            Field::Description,
            &declared.description,
            token.description(),
        ),
        (Field::Icon, &declared.icon, token.icon()),
    ] {
        if let Some(wanted) = wanted
            && Some(wanted.as_str()) != now
        {
            changes.push(FieldChange {
                field,
                from: now.map(str::to_string),
                to: Some(wanted.clone()),
            });
        }
    }
    let have = sorted_modules(token.modules().iter().filter_map(|m| m.id.clone()));
    let want = sorted_modules(declared.modules.iter().cloned());
    if have != want {
        changes.push(FieldChange {
            field: Field::Modules,
            from: Some(have),
            to: Some(want),
        });
    }
    changes
}
