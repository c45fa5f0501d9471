//! What an apply has begun and finished, for its report when it is interrupted: a row for every
//! action of its plan, those still in flight when it stops waiting for them
//! ([`Applied::OutcomeUnknown`]) and those never begun ([`Applied::NotAttempted`]) included.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::{ActionOutcome, ActionResult, Applied, Applying};
use crate::plan::{ActionKind, PlannedAction};
use crate::state::{Key, Kind, Pending, Store, StoreError};

/// The results so far, and the actions begun and not finished.
#[derive(Default)]
pub(super) struct Progress {
    /// Every result reported, in order.
    results: Vec<ActionResult>,
    /// The actions begun and not finished: a ticket, the action, and whether it is resumed work.
    in_flight: Vec<(u64, PlannedAction, bool)>,
    /// The next ticket.
    next: u64,
    /// How many records are another policy's pending work, once counted.
    others: usize,
    /// The records this apply removed (their work done, or moot), by kind and name (a
    /// directory's keys name no account).
    removed: Arc<Mutex<HashSet<(Kind, String)>>>,
}

/// The apply's store, noting each record it removes: what the row of an action in flight when
/// the apply stopped waiting says of its record.
pub(super) struct Noting<'a> {
    inner: &'a dyn Store,
    removed: Arc<Mutex<HashSet<(Kind, String)>>>,
}

impl<'a> Noting<'a> {
    /// `inner`, noting its removals in `progress`.
    pub(super) fn new(inner: &'a dyn Store, progress: &Progress) -> Noting<'a> {
        Noting {
            inner,
            removed: Arc::clone(&progress.removed),
        }
    }
}

impl Store for Noting<'_> {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.save(key, json)
    }
    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        self.inner.load(key)
    }
    fn remove<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner.remove(key).await?;
            if let Ok(mut removed) = self.removed.lock() {
                removed.insert((key.kind, key.name.clone()));
            }
            Ok(())
        })
    }
    fn pending<'a>(
        &'a self,
        kind: Kind,
        accounts: &'a [String],
    ) -> BoxFuture<'a, Result<Pending, StoreError>> {
        self.inner.pending(kind, accounts)
    }
    fn fence<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.fence(account)
    }
    fn describe(&self, key: &Key) -> String {
        self.inner.describe(key)
    }
    fn holds_path(&self, path: &std::path::Path) -> bool {
        self.inner.holds_path(path)
    }
    fn strays<'a>(&'a self, accounts: &'a [String]) -> BoxFuture<'a, Vec<crate::state::Stray>> {
        self.inner.strays(accounts)
    }
}

/// The record `action` keeps its work in, when it is one that does: a rotation's (by its old
/// token), a create's (by its name).
fn record_of(action: &PlannedAction) -> Option<Key> {
    match (action.kind, &action.token_id) {
        (ActionKind::Rotate, Some(old)) => Some(Key::rotation(&action.account, old)),
        (ActionKind::Create, _) => Some(Key::create(&action.account, &action.name)),
        _ => None,
    }
}

/// Whether `a` has a row among `rows` (resumed work by its account and name: a record's row
/// names the work, the plan's `resume` action the record).
fn has_row<'r>(
    a: &PlannedAction,
    mut rows: impl Iterator<Item = (&'r PlannedAction, bool)>,
) -> bool {
    rows.any(|(r, resumed)| match a.kind {
        ActionKind::Resume => resumed && r.account == a.account && r.name == a.name,
        _ => !resumed && r == a,
    })
}

impl Applying<'_> {
    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `action` begins (`resumed`: work a record left); the ticket ends it ([`Applying::end`]).
    pub(super) fn begin(&self, action: &PlannedAction, resumed: bool) -> u64 {
        let mut progress = self.progress();
        let ticket = progress.next;
        progress.next += 1;
        progress.in_flight.push((ticket, action.clone(), resumed));
        ticket
    }

    /// The action of `ticket` is finished (its result reported).
    pub(super) fn end(&self, ticket: u64) {
        self.progress().in_flight.retain(|(t, _, _)| *t != ticket);
    }

    /// Keeps the count of another policy's pending records.
    pub(super) fn set_others(&self, others: usize) {
        self.progress().others = others;
    }

    /// How many records are another policy's pending work (0 until they are counted).
    pub(super) fn others(&self) -> usize {
        self.progress().others
    }

    /// Keeps a reported result.
    pub(super) fn record(&self, result: &ActionResult) {
        self.progress().results.push(result.clone());
    }

    /// The rows of the actions of `planned` that have none among `results` and are not in
    /// flight: not attempted (nothing was sent for them), each reported.
    pub(super) fn not_begun(
        &self,
        planned: &[PlannedAction],
        results: &[ActionResult],
    ) -> Vec<ActionResult> {
        let in_flight: Vec<(PlannedAction, bool)> = self
            .progress()
            .in_flight
            .iter()
            .map(|(_, a, resumed)| (a.clone(), *resumed))
            .collect();
        let missing: Vec<PlannedAction> = planned
            .iter()
            .filter(|a| {
                !has_row(a, results.iter().map(|r| (&r.action, r.resumed)))
                    && !has_row(a, in_flight.iter().map(|(r, resumed)| (r, *resumed)))
            })
            .cloned()
            .collect();
        missing
            .into_iter()
            .map(|a| {
                let resumed = a.kind == ActionKind::Resume;
                let mut done = ActionOutcome::interrupted();
                if resumed {
                    done.detail
                        .push_str("; its record is kept: the next apply resumes it");
                }
                self.emit(ActionResult::of(a, done, resumed))
            })
            .collect()
    }

    /// The report's rows when the apply stopped waiting for the work in flight (the grace after
    /// an interrupt over): every result so far, a row for each action in flight (it may have
    /// happened), and one for each action not begun; the new rows reported.
    pub(super) fn abandoned(&self, planned: &[PlannedAction]) -> Vec<ActionResult> {
        let (mut results, in_flight) = {
            let mut progress = self.progress();
            (
                progress.results.clone(),
                std::mem::take(&mut progress.in_flight),
            )
        };
        let removed = Arc::clone(&self.progress().removed);
        let removed = removed.lock().map(|r| r.clone()).unwrap_or_default();
        for (_, action, resumed) in in_flight.iter().cloned() {
            let detail = match record_of(&action) {
                Some(key) if removed.contains(&(key.kind, key.name.clone())) => format!(
                    "in flight when interrupted, after its record ({}) was removed (the work it kept was done): what was in flight then may have happened; the next apply's plan reads the tokens again and shows what is left",
                    self.state.describe(&key)
                ),
                Some(_) => "in flight when interrupted; it may have happened (what it began is in the state: the next apply checks it)".into(),
                None => "in flight when interrupted; it may have happened (no record keeps it: the next apply's plan reads the token again)".into(),
            };
            let done = ActionOutcome::new(Applied::OutcomeUnknown, detail);
            results.push(self.emit(ActionResult::of(action, done, resumed)));
        }
        let rest = self.not_begun(planned, &results);
        results.extend(rest);
        results
    }
}
