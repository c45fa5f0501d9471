//! Late landings: a live token of a declared name whose description carries the marker of a
//! create this tool gave up on (kept in the state store's `late` records, see
//! `state::late`). It was made by this tool, after the apply that sent it stopped waiting and
//! another apply made the entry's token: its secret was handed to no one. It is not the entry's
//! token, does not make the name ambiguous, and the plan deletes it (no `allow_destroy`: nothing
//! anyone holds is destroyed). A token without such a marker is judged as before.

use mpt::{Client, Filter, Token, TokenStatus, carries_marker};

use super::{ActionKind, Plan, PlannedAction};
use crate::policy::Policy;
use crate::state::{Key, Store, late_marks, waited_hashes};

/// Why a late landing is deleted, in words (its row's reason).
fn late_reason(store: &dyn Store, account: &str, name: &str) -> String {
    format!(
        "a late landing of this tool's own earlier create: it carries the marker of a create given up on ({}) and its secret was never handed out; deleted (not destructive: nobody holds it)",
        store.describe(&Key::late(account, name))
    )
}

impl Plan {
    /// Takes the late landings of each declared name out of its judgement (judged again without
    /// them) and plans their deletes. A marker a pending record still waits for is not one.
    pub(super) async fn include_late(
        &mut self,
        client: &Client,
        policy: &Policy,
        store: &dyn Store,
    ) {
        let accounts: Vec<String> = policy.accounts.iter().map(|a| a.id.clone()).collect();
        let marks = late_marks(store, &accounts).await;
        if marks.is_empty() {
            return;
        }
        let waited = waited_hashes(store, &accounts).await;
        let mut names: Vec<_> = marks.into_iter().collect();
        names.sort();
        for ((account, name), mut hashes) in names {
            hashes.retain(|h| !waited.contains(h));
            if !hashes.is_empty() {
                self.judge_late(client, policy, store, (&account, &name), &hashes)
                    .await;
            }
        }
    }

    /// [`Plan::include_late`] for one account and name.
    async fn judge_late(
        &mut self,
        client: &Client,
        policy: &Policy,
        store: &dyn Store,
        (account, name): (&str, &str),
        hashes: &[String],
    ) {
        let Some(declaring) = policy.accounts.iter().find(|a| a.id == account) else {
            return;
        };
        let entries: Vec<_> = declaring.tokens.iter().filter(|t| t.name == name).collect();
        // A pinned entry is matched by its id, never by a name: left as judged.
        if entries.is_empty() || entries.iter().any(|t| t.id.is_some()) {
            return;
        }
        // Unread: no evidence, the name judged as before.
        let Ok(live) = live_named(client, account, name).await else {
            return;
        };
        let (late, kept): (Vec<Token>, Vec<Token>) = live
            .iter()
            .cloned()
            .partition(|t| is_late(t, &live, hashes));
        if late.is_empty() {
            return;
        }
        let ours = |a: &PlannedAction| {
            a.account == account && a.name == name && a.kind != ActionKind::Resume
        };
        let at = self
            .actions
            .iter()
            .position(ours)
            .unwrap_or(self.actions.len());
        self.actions.retain(|a| !ours(a));
        let mut judged = Vec::new();
        for declared in entries {
            super::judge::declared_actions(declaring, declared, &kept, self.made_at, &mut judged);
        }
        for token in &late {
            judged.push(PlannedAction {
                account: account.to_string(),
                name: name.to_string(),
                token_id: Some(token.id().to_string()),
                kind: ActionKind::Delete,
                reason: late_reason(store, account, name),
                changes: Vec::new(),
                revision: token.revision(),
                destructive: false,
                steps: Vec::new(),
            });
        }
        self.actions.splice(at..at, judged);
    }
}

/// The live (Active or Disabled) tokens of `account` and `name`, read now, their account and
/// name checked on the client too: what a late landing is judged among (plan and apply).
pub(crate) async fn live_named(
    client: &Client,
    account: &str,
    name: &str,
) -> Result<Vec<Token>, mpt::Error> {
    let listed = client
        .list()
        .filter(Filter::account(account).and(Filter::name(name)))
        .select(["+audit"])
        .collect()
        .await?;
    Ok(listed
        .into_iter()
        .filter(|t| {
            matches!(t.status(), TokenStatus::Active | TokenStatus::Disabled)
                && t.account_id() == Some(account)
                && t.name() == Some(name)
        })
        .collect())
}

/// Whether `token` carries the marker of one of `hashes` and is the only one of `live` (the
/// live tokens of its account and name) that does: two carriers of one marker may be a copy of
/// the other's tag, made by hand once ours landed, and neither is taken for ours. And it is as
/// it landed: Active, at its first revision, its secret never used (`lastAccessAt` unset). A
/// carrier someone edited, disabled or used is not one whose secret nobody holds: it is judged
/// as any token of its name (a tag copied into the managed token's description was taken for a
/// late landing and the managed token deleted: tester round 18).
pub(crate) fn is_late(token: &Token, live: &[Token], hashes: &[String]) -> bool {
    let untouched = token.status() == TokenStatus::Active
        && token.revision().is_some_and(|r| r <= 1)
        && token.last_access_at().is_none();
    if !untouched {
        return false;
    }
    let Some(hash) = hashes
        .iter()
        .find(|h| carries_marker(token.description(), std::slice::from_ref(*h)))
    else {
        return false;
    };
    let carriers = live
        .iter()
        .filter(|t| carries_marker(t.description(), std::slice::from_ref(hash)))
        .count();
    carriers == 1
}
