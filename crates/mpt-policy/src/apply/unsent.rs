//! Records saved before anything is sent for their action (a create's, a rotation's plan): the
//! first interrupt abandons such a save in flight (a stalled database does not hold the apply,
//! as the lock's proof does not), and the action is not attempted, as nothing was sent for it.
//! A save that may have landed all the same leaves a record whose create made nothing: the
//! next apply finds no token carrying its marker, and creates.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use mpt::RotationPlan;
use serde::Serialize;

use super::{ActionOutcome, Applied, Applying};
use crate::state::{Key, Store, StoreError};

/// Why a record saved before its action's first change is not known to be saved.
pub(super) enum Unsaved {
    /// The interrupt came before the save began: nothing was saved or sent.
    NotBegun,
    /// The interrupt came while the save was in flight: abandoned (it may still land).
    Interrupted,
    /// The store refused it or failed.
    Failed(StoreError),
}

/// How often a write in flight looks at the client's cancel.
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Why a write to the store was given up: the interrupt came while it was in flight.
pub(super) const NOT_WAITED: &str =
    "interrupted: the state store was not waited for, and the write may still land";

/// `work` (a write to the store), unless `client` is cancelled while it runs: `None` then, and
/// `work` is dropped (a write in flight abandoned: it may still land). The cancel is first
/// looked at a poll's interval after `work` starts: a store that answers gets that long, even
/// past the interrupt; one that stalls does not hold the apply.
pub(super) async fn unless_interrupted<F: std::future::Future>(
    client: &mpt::Client,
    work: F,
) -> Option<F::Output> {
    let cancel = async {
        loop {
            tokio::time::sleep(CANCEL_POLL).await;
            if client.cancelled() {
                break;
            }
        }
    };
    match futures_util::future::select(std::pin::pin!(work), std::pin::pin!(cancel)).await {
        futures_util::future::Either::Left((done, _)) => Some(done),
        futures_util::future::Either::Right(_) => None,
    }
}

/// A rotation start's save of its plan as the record of `key` in `state`, right before its
/// create: sets `sent` when called, and `abandoned` when the interrupt abandoned it
/// ([`StoreError::Refused`] then). The plan is made into JSON at once: the future borrows
/// nothing of it (and is `Send`).
pub(super) fn plan_saver<'s>(
    state: &'s dyn Store,
    client: &'s mpt::Client,
    key: &'s Key,
    sent: &'s AtomicBool,
    abandoned: &'s AtomicBool,
) -> impl Fn(&RotationPlan) -> BoxFuture<'s, Result<(), StoreError>> + Copy + 's {
    move |plan: &RotationPlan| -> BoxFuture<'s, Result<(), StoreError>> {
        sent.store(true, Ordering::Relaxed);
        let json = serde_json::to_string_pretty(plan).map(|j| j + "\n");
        // A resumed start that found nothing carrying its earlier markers creates again: those
        // (all but the newest) are kept first as creates given up on that may still land.
        let (account, name) = (plan.account_id.clone(), plan.name.clone());
        let given_up = plan
            .marker_hashes
            .split_last()
            .map(|(_, earlier)| earlier.to_vec())
            .unwrap_or_default();
        Box::pin(async move {
            let json = json.map_err(|e| StoreError::Refused(e.to_string()))?;
            let save = async {
                if !given_up.is_empty() {
                    crate::state::remember_late(state, &account, &name, &given_up).await?;
                }
                state.save(key, &json).await
            };
            let saving = async {
                match client.cancelled() {
                    true => None,
                    false => unless_interrupted(client, save).await,
                }
            };
            match saving.await {
                Some(saved) => saved,
                None => {
                    abandoned.store(true, Ordering::Relaxed);
                    Err(StoreError::Refused("interrupted".into()))
                }
            }
        })
    }
}

impl Applying<'_> {
    /// Saves `value` as the record of `key` before anything is sent for its action: not begun
    /// once interrupted ([`Unsaved::NotBegun`]), abandoned at the interrupt while in flight
    /// ([`Unsaved::Interrupted`]).
    pub(super) async fn save_before_send<T: Serialize>(
        &self,
        key: &Key,
        value: &T,
    ) -> Result<(), Unsaved> {
        // Interrupted already (while its token was looked up, say): not begun.
        if self.client.cancelled() {
            return Err(Unsaved::NotBegun);
        }
        match unless_interrupted(self.client, self.state.put(key, value)).await {
            None => Err(Unsaved::Interrupted),
            Some(saved) => saved.map_err(Unsaved::Failed),
        }
    }

    /// The outcome of an action whose record's save, before its first change (`what`: "the
    /// create", say), was abandoned at the interrupt: not attempted, nothing was sent; the save
    /// may still land, and the next apply copes with it.
    pub(super) fn abandoned_save(&self, key: &Key, what: &str, next: &str) -> ActionOutcome {
        ActionOutcome::new(
            Applied::NotAttempted,
            format!(
                "not attempted: interrupted while its record was being saved, before {what} was sent (nothing was sent for it); should that save land all the same ({}), {next}",
                self.state.describe(key)
            ),
        )
    }

    /// Removes the record `key` of a create (or a rotation's) that made nothing, after keeping
    /// `hashes` (its markers) as a create given up on that may still land
    /// ([`crate::state::remember_late`]). `Some`: they could not be kept, the record stays (the
    /// outcome to report: nothing was made, the next apply looks again).
    pub(super) async fn give_up(
        &self,
        key: &Key,
        (account, name): (&str, &str),
        hashes: &[String],
    ) -> Option<ActionOutcome> {
        if !hashes.is_empty()
            && let Err(e) = crate::state::remember_late(self.state, account, name, hashes).await
        {
            return Some(ActionOutcome::failed(format!(
                "no token carries its marker, but the marker could not be kept as that of a create that may still land ({e}): the record is kept ({}), nothing was made, and the next apply looks again",
                self.state.describe(key)
            )));
        }
        self.state.drop_record(key).await;
        None
    }

    /// Whether token `id` of `account` and `name`, read now at revision `revision` with the
    /// other tokens of its account (whatever their name, Deleted ones included), is the only
    /// one that carries the
    /// marker of a create of that name given up on that no pending record waits for
    /// ([`crate::state::given_up`]), and no pending record names: a late landing of this tool's
    /// own, whose secret nobody holds.
    pub(super) async fn is_late_landing(
        &self,
        (account, name): (&str, &str),
        id: &str,
        revision: Option<i32>,
    ) -> bool {
        let hashes = crate::state::given_up(self.state, account, name).await;
        if hashes.is_empty() {
            return false;
        }
        let accounts = [account.to_string()];
        let named = crate::state::claims(self.state, &accounts).await.named;
        let Ok(all) = crate::plan::account_tokens(self.client, account).await else {
            return false;
        };
        let late = crate::plan::Late {
            hashes: &hashes,
            named: &named,
        };
        crate::plan::live(&all)
            .iter()
            .find(|t| t.id() == id && t.revision() == revision && t.name() == Some(name))
            .is_some_and(|token| late.is_late(token, &all))
    }

    /// Retires from the `late` records of `accounts` every marker a token the platform shows
    /// Deleted carries, whatever its name (an administrator may rename a landing before
    /// deleting it: tester round 20, M3): a create lands once, so its landing was deleted (by
    /// this tool, or by hand before any apply saw it), and a later token carrying the marker is
    /// a copy of its tag. Seen only by a caller that reads Deleted tokens (an Operations
    /// account). The Deleted tokens are listed once per account. A record that cannot be read
    /// or written is left (the plan shows it refused, or reads it again).
    pub(super) async fn retire_spent(&self, accounts: &[String]) {
        let (marks, _) = crate::state::late_marks(self.state, accounts).await;
        let mut read: std::collections::HashMap<String, Vec<mpt::Token>> = Default::default();
        let mut names: Vec<_> = marks.into_iter().filter(|(_, h)| !h.is_empty()).collect();
        names.sort();
        for ((account, name), _) in names {
            if !read.contains_key(&account) {
                let deleted = crate::plan::deleted_tokens(self.client, &account).await;
                read.insert(account.clone(), deleted);
            }
            let deleted = read.get(&account).map(Vec::as_slice).unwrap_or_default();
            if !deleted.is_empty() {
                let _ = crate::state::retire_carried(self.state, &account, &name, deleted).await;
            }
        }
    }
}

impl Applying<'_> {
    /// The late landing a rotation record at `planned` would adopt: the one token its create
    /// made carries a marker of it given up on (an earlier create of the rotation, landed when
    /// the later one never did). `None` when there is none, or nothing can be read.
    pub(super) async fn late_made(&self, plan: &RotationPlan) -> Option<mpt::Token> {
        if plan.phase != mpt::RotationPhase::Planned || !plan.create_sent {
            return None;
        }
        let late = crate::state::given_up(self.state, &plan.account_id, &plan.name).await;
        if late.is_empty() {
            return None;
        }
        let found = self
            .client
            .made_excluding(&plan.account_id, &plan.name, &plan.known_ids)
            .await
            .ok()?;
        match crate::marked::without_late(found, &late, &plan.marker_hashes).as_slice() {
            [made] if mpt::carries_marker(made.description(), &late) => Some(made.clone()),
            _ => None,
        }
    }

    /// Once `landing` ([`Applying::late_made`]) is adopted (`result` names it), its marker is
    /// retired from the `late` record: its create landed once, and is the entry's token now (a
    /// copy of its tag is never a late landing). A retire that fails is said in `result`.
    pub(super) async fn retire_adopted(
        &self,
        landing: Option<mpt::Token>,
        result: &mut crate::ActionResult,
    ) {
        let Some(landing) = landing else { return };
        if result.new_token_id.as_deref() != Some(landing.id()) {
            return;
        }
        let (account, name) = (&result.action.account, &result.action.name);
        if let Err(e) =
            crate::state::retire_late(self.state, account, name, landing.description()).await
        {
            let key = self.state.describe(&Key::late(account, name));
            result.detail.push_str(&format!(
                "; its marker could not be retired from {key} ({e}): a token carrying a copy of it would be taken for a late landing"
            ));
        }
    }
}

impl Applying<'_> {
    /// Keeps `hashes` of a record whose token was just made or adopted as markers of creates
    /// given up on ([`crate::state::remember_late`]): sends of it that may still land, which
    /// nobody waits for once the record is done. The record waits for them until then (never
    /// taken for late while it is pending: [`crate::state::given_up`]).
    pub(super) async fn keep_unclaimed(
        &self,
        (account, name): (&str, &str),
        hashes: &[String],
    ) -> Result<(), super::handover::NotHandedOver> {
        if hashes.is_empty() {
            return Ok(());
        }
        crate::state::remember_late(self.state, account, name, hashes)
            .await
            .map_err(|e| super::handover::NotHandedOver::LateUnkept(e.to_string()))
    }
}

/// The marker of rotation `plan` that may still land once `made` is its replacement: its
/// newest (the one the record waits for; its earlier ones were kept when it created again)
/// when `made` does not carry it (an earlier create's landing, adopted: the newest create was
/// sent too, and may land after: tester round 20, M2), or when a send of it was refused and
/// sent again ([`mpt::CreatedToken::other_sends`]: the refused one may land after, carrying
/// the same marker: tester round 20, M1).
pub(super) fn unclaimed(plan: &RotationPlan, made: &mpt::CreatedToken) -> Vec<String> {
    let Some(newest) = plan.marker_hashes.last().filter(|_| plan.create_sent) else {
        return Vec::new();
    };
    let carried = mpt::carries_marker(made.token.description(), std::slice::from_ref(newest));
    match made.other_sends > 0 || !carried {
        true => vec![newest.clone()],
        false => Vec::new(),
    }
}

/// The markers a rotation's record says its creates sent (none when no create was sent).
pub(super) fn sent_markers(plan: &RotationPlan) -> Vec<String> {
    match plan.create_sent {
        true => plan.marker_hashes.clone(),
        false => Vec::new(),
    }
}
