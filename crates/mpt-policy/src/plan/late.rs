//! Late landings: a live token of a declared name whose description carries the marker of a
//! create this tool gave up on (kept in the state store's `late` records, see
//! `state::late`). It was made by this tool, after the apply that sent it stopped waiting and
//! another apply made the entry's token: its secret was handed to no one. It is not the entry's
//! token, does not make the name ambiguous, and the plan deletes it (no `allow_destroy`: nothing
//! anyone holds is destroyed). A token without such a marker is judged as before.

use std::collections::{HashMap, HashSet};

use mpt::{Client, Filter, Token, TokenStatus, carries_marker};

use super::{ActionKind, Plan, PlannedAction};
use crate::policy::Policy;
use crate::state::{Key, Store, claims, late_marks};

/// How the row of `late` records that could not be listed begins ([`is_listing_row`]).
const LISTING_WORDS: &str = "the state store's `late` records could not be read (";

/// Whether `action` says the `late` records could not be listed (no record refused).
pub(crate) fn is_listing_row(action: &PlannedAction) -> bool {
    action.kind == ActionKind::Resume && action.reason.starts_with(LISTING_WORDS)
}

/// How the reason of a late landing's delete begins ([`is_late_row`]).
const LATE_WORDS: &str = "a late landing of this tool's own earlier create: ";

/// Whether `action` is the delete of a late landing (see [`Plan::include_late`]): apply does
/// those first, before it resumes pending records, so a record judges its name without them.
pub(crate) fn is_late_row(action: &PlannedAction) -> bool {
    action.kind == ActionKind::Delete
        && !action.destructive
        && action.reason.starts_with(LATE_WORDS)
}

/// Why a late landing is deleted, in words (its row's reason).
fn late_reason(store: &dyn Store, account: &str, name: &str) -> String {
    format!(
        "{LATE_WORDS}it carries the marker of a create given up on ({}) and its secret was never handed out; deleted (not destructive: nobody holds it)",
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
        let (marks, unread) = late_marks(store, &accounts).await;
        let (rows, others) = unread_rows(policy, unread);
        self.actions.extend(rows);
        self.others_pending += others.len();
        self.others_unread.extend(others);
        if marks.is_empty() {
            return;
        }
        let crate::state::Claims { waited, named } = claims(store, &accounts).await;
        let mut names: Vec<_> = marks.into_iter().collect();
        names.sort();
        // Every token of an account, read once for all its names (a marker's carriers are
        // looked for whatever their name: tester round 20, M3); `None` when it does not read.
        let mut read: HashMap<String, Option<Vec<Token>>> = HashMap::new();
        for ((account, name), mut hashes) in names {
            hashes.retain(|h| !waited.contains(h));
            if hashes.is_empty() {
                continue;
            }
            if !read.contains_key(&account) {
                let tokens = account_tokens(client, &account).await.ok();
                read.insert(account.clone(), tokens);
            }
            // Unread: no evidence, the name judged as before.
            let Some(Some(all)) = read.get(&account) else {
                continue;
            };
            let late = Late {
                hashes: &hashes,
                named: &named,
            };
            self.judge_late(policy, store, (&account, &name), late, all);
        }
    }

    /// [`Plan::include_late`] for one account and name, among `all` the tokens of its account
    /// the platform shows (Deleted ones included: [`account_tokens`]).
    fn judge_late(
        &mut self,
        policy: &Policy,
        store: &dyn Store,
        (account, name): (&str, &str),
        evidence: Late<'_>,
        all: &[Token],
    ) {
        let Some(declaring) = policy.accounts.iter().find(|a| a.id == account) else {
            return;
        };
        let entries: Vec<_> = declaring.tokens.iter().filter(|t| t.name == name).collect();
        if entries.is_empty() {
            return;
        }
        let (late, kept): (Vec<Token>, Vec<Token>) = live(all)
            .into_iter()
            .filter(|t| t.name() == Some(name))
            .partition(|t| evidence.is_late(t, all));
        if late.is_empty() {
            return;
        }
        // A pinned entry is matched by its id, never by a name: its name is left as judged, and
        // a late landing beside it is shown, never deleted (tester round 18: it was silent).
        if entries.iter().any(|t| t.id.is_some()) {
            for token in &late {
                self.actions
                    .retain(|a| a.token_id.as_deref() != Some(token.id()));
                self.actions
                    .push(beside_pinned(store, token, (account, name)));
            }
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

/// What a late landing is judged by: the markers given up on of its name that no pending
/// record waits for, and the tokens the pending records name (never one).
#[derive(Clone, Copy)]
pub(crate) struct Late<'a> {
    /// The hashes of the markers given up on.
    pub hashes: &'a [String],
    /// The tokens the state's pending records name ([`crate::state::Claims::named`]).
    pub named: &'a HashSet<String>,
}

impl Late<'_> {
    /// Whether `token` is a late landing ([`is_late`]) that no pending record names.
    pub(crate) fn is_late(&self, token: &Token, all: &[Token]) -> bool {
        !self.named.contains(token.id()) && is_late(token, all, self.hashes)
    }
}

/// The rows of the `late` records (and records of unknown kinds) that do not read: refused,
/// naming them, when they are of a name `policy` declares (or name none), their names'
/// tokens judged as if they were not there; the others are another policy's (left alone,
/// counted: tester round 20, L2), returned by where they are.
pub(crate) fn unread_rows(
    policy: &Policy,
    unread: Vec<crate::state::Unread>,
) -> (Vec<PlannedAction>, Vec<String>) {
    let (mut rows, mut others) = (Vec::new(), Vec::new());
    for record in unread {
        let ours = record
            .names
            .iter()
            .find(|(account, name)| super::owns(policy, account, name));
        if ours.is_none() && !record.names.is_empty() {
            others.push(record.at);
            continue;
        }
        let (account, name) = ours.cloned().unwrap_or_default();
        let reason = match record.listing {
            // No record is at fault: nothing to remove (tester round 20, L3).
            true => format!(
                "{LISTING_WORDS}{}): no token is taken for a late landing; plan again once the store answers",
                record.why
            ),
            false => format!(
                "pending record {}: refused: it does not read ({}): no token is taken for a late landing on its word; it is left in place (remove it once checked)",
                record.at, record.why
            ),
        };
        rows.push(PlannedAction {
            account,
            name,
            token_id: None,
            kind: ActionKind::Resume,
            reason,
            changes: Vec::new(),
            revision: None,
            destructive: false,
            steps: Vec::new(),
        });
    }
    (rows, others)
}

/// The row of a late landing beside a pinned entry's token: shown, not deleted.
fn beside_pinned(store: &dyn Store, token: &Token, (account, name): (&str, &str)) -> PlannedAction {
    PlannedAction {
        account: account.to_string(),
        name: name.to_string(),
        token_id: Some(token.id().to_string()),
        kind: ActionKind::Unmanaged,
        reason: format!(
            "a late landing of this tool's own earlier create ({}), beside a pinned entry's token: not deleted (a pinned entry is matched by its id, never by its name's tokens); delete it by hand once checked",
            store.describe(&Key::late(account, name))
        ),
        changes: Vec::new(),
        revision: token.revision(),
        destructive: false,
        steps: Vec::new(),
    }
}

/// Every token of `account` the platform shows, whatever its name, Deleted ones included,
/// read now with their audit, their account checked on the client too: what a late landing is
/// judged among (plan and apply). A create lands once, and an administrator may rename its
/// landing: a copy of its tag under the declared name is then the second carrier of its
/// marker, never a late landing (tester round 20, M3). Two listings per account, whatever the
/// number of names. The Deleted ones are read apart ([`deleted_tokens`]).
pub(crate) async fn account_tokens(
    client: &Client,
    account: &str,
) -> Result<Vec<Token>, mpt::Error> {
    let listed = client
        .list()
        .filter(Filter::account(account))
        .select(["+audit"])
        .collect()
        .await?;
    let deleted = deleted_tokens(client, account).await;
    let mut seen = HashSet::new();
    Ok(listed
        .into_iter()
        .filter(|t| t.account_id() == Some(account))
        .chain(deleted)
        .filter(|t| seen.insert(t.id().to_string()))
        .collect())
}

/// Every token of `account` the platform shows Deleted, whatever its name, their account
/// checked on the client too. Only an Operations account sees them: a listing of them that
/// fails (a platform that refuses the filter to another account) gives none, as for an
/// account that sees none, never an error.
pub(crate) async fn deleted_tokens(client: &Client, account: &str) -> Vec<Token> {
    client
        .list()
        .filter(Filter::account(account).and(Filter::status(TokenStatus::Deleted)))
        .select(["+audit"])
        .collect()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.account_id() == Some(account) && t.status() == TokenStatus::Deleted)
        .collect()
}

/// The live (Active or Disabled) ones of `tokens`.
pub(crate) fn live(tokens: &[Token]) -> Vec<Token> {
    tokens
        .iter()
        .filter(|t| matches!(t.status(), TokenStatus::Active | TokenStatus::Disabled))
        .cloned()
        .collect()
}

/// Whether `token`, read now, is as a create left it: Active, at its first revision, its secret
/// never used (`lastAccessAt` unset).
pub(crate) fn as_landed(token: &Token) -> bool {
    token.status() == TokenStatus::Active
        && token.revision().is_some_and(|r| r <= 1)
        && token.last_access_at().is_none()
}

/// Whether `token` carries the marker of one of `hashes` and is the only one of `all` (every
/// token of its account the platform shows, whatever its name, Deleted ones included) that does: a
/// create lands once, so two carriers of one marker are a landing and a copy of its tag (made
/// by hand once ours landed; the landing perhaps deleted since, by hand), and neither is taken
/// for ours. And it is as it landed: Active, at its first revision, its secret never used
/// (`lastAccessAt` unset). A carrier someone edited, disabled or used is not one whose secret
/// nobody holds: it is judged as any token of its name (a tag copied into the managed token's
/// description was taken for a late landing and the managed token deleted: tester round 18).
pub(crate) fn is_late(token: &Token, all: &[Token], hashes: &[String]) -> bool {
    if !as_landed(token) {
        return false;
    }
    let Some(hash) = hashes
        .iter()
        .find(|h| carries_marker(token.description(), std::slice::from_ref(*h)))
    else {
        return false;
    };
    // Any token that names the marker, its tag rewritten by hand or not, is another carrier
    // (tester round 21, N1: a landing renamed, its tag upper-cased, left a hand copy of the
    // exact tag the only one carrying it).
    let carriers = all
        .iter()
        .filter(|t| {
            let named = |text| mpt::mentions_marker(text, std::slice::from_ref(hash));
            named(t.description()) || named(t.name())
        })
        .count();
    carriers == 1
}
