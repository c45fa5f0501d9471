//! Carrying a plan out: each action once, its result by evidence, rotations and creates
//! resumable from a state directory, secrets handed to their sinks and never lost. The actions
//! on existing tokens are in `act`, what makes tokens (creates, rotations, secrets) in `new_tokens`,
//! the results in `report`.

mod act;
mod create_words;
mod fence;
mod gone;
mod handover;
mod new_tokens;
mod outcome;
mod pending;
mod progress;
use new_tokens::resumed;
use pending::Resumed;
mod report;
mod reread;
use reread::moved;
mod rotation_steps;
mod rotations;
mod saved;
mod then;
mod unsent;
use outcome::ActionOutcome;
pub use saved::MAX_SAVED_PLAN_AGE;
use saved::{check_fresh, check_made_at, platform_now};

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;

use crate::plan::{ActionKind, Plan, PlannedAction};
use crate::policy::Policy;
use crate::state::{StateLocation, Store};
use mpt::Client;
use mpt::Quiet;

pub use report::{ActionResult, Applied, ApplyError, ApplyReport};

/// A callback that sees each result as it is known.
type OnResult = Arc<dyn Fn(&ActionResult) + Send + Sync>;

/// A callback that sees the plan about to be carried out.
type OnPlan = Arc<dyn Fn(&Plan) + Send + Sync>;

/// How an apply runs.
#[derive(Clone)]
pub struct ApplyOptions {
    state: StateLocation,
    store: Option<Arc<dyn Store>>,
    lock_timeout: Duration,
    allow_destroy: bool,
    concurrency: usize,
    quiet: Option<Quiet>,
    on_result: Option<OnResult>,
    on_plan: Option<OnPlan>,
    give_up: Option<mpt::Cancel>,
}

impl fmt::Debug for ApplyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("state", &self.state.shown())
            .field(
                "store",
                &self.store.as_ref().map(|_| "a store of the caller's"),
            )
            .field("lock_timeout", &self.lock_timeout)
            .field("allow_destroy", &self.allow_destroy)
            .field("concurrency", &self.concurrency)
            .field("quiet", &self.quiet)
            .finish_non_exhaustive()
    }
}

impl ApplyOptions {
    /// Options with the state at `state`: a directory (made when missing, locked while the
    /// apply runs) or a PostgreSQL URL (`postgres://USER@HOST:PORT/DB`, its accounts locked
    /// while the apply runs); no destructive action, 4 tokens at a time, old tokens retired as
    /// soon as the new secret is verified, and no wait for another apply's lock.
    pub fn new(state: impl Into<StateLocation>) -> ApplyOptions {
        ApplyOptions {
            state: state.into(),
            store: None,
            lock_timeout: Duration::ZERO,
            allow_destroy: false,
            concurrency: 4,
            quiet: None,
            on_result: None,
            on_plan: None,
            give_up: None,
        }
    }

    /// Once `flag` is set (after the client's cancel, when the actions in flight were given
    /// long enough: the CLI's grace after an interrupt), the apply stops waiting for them and
    /// returns at once: every result so far, each action still in flight reported
    /// [`Applied::OutcomeUnknown`] (it may have happened: what it began is in the state store,
    /// which the next apply checks, or its record was removed, its work done, which its row
    /// says), and each not begun [`Applied::NotAttempted`].
    pub fn give_up(mut self, flag: mpt::Cancel) -> ApplyOptions {
        self.give_up = Some(flag);
        self
    }

    /// Carries out the actions a plan marks destructive: deletes, the disabling of undeclared
    /// tokens, and a resumed rotation whose record is its only reason to retire and delete the
    /// old token (skipped and reported otherwise).
    pub fn allow_destroy(mut self, allow: bool) -> ApplyOptions {
        self.allow_destroy = allow;
        self
    }

    /// How many tokens are worked on at once (at least 1). A token's own actions always run
    /// one after the other.
    pub fn concurrency(mut self, concurrency: usize) -> ApplyOptions {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Retires a rotation's old token only once its `lastAccessAt` is quiet (see [`Quiet`]).
    pub fn quiet(mut self, quiet: Option<Quiet>) -> ApplyOptions {
        self.quiet = quiet;
        self
    }

    /// Called with each result as soon as it is known (from the apply's tasks).
    pub fn on_result(mut self, f: impl Fn(&ActionResult) + Send + Sync + 'static) -> ApplyOptions {
        self.on_result = Some(Arc::new(f));
        self
    }

    /// Called once with the plan about to be carried out (after the work resumed from the state
    /// directory, and the saved plan's check): for a progress bar's length, say.
    pub fn on_plan(mut self, f: impl Fn(&Plan) + Send + Sync + 'static) -> ApplyOptions {
        self.on_plan = Some(Arc::new(f));
        self
    }

    /// How long to wait for another apply holding an account of this one (PostgreSQL), or its
    /// state directory, before refusing ([`StoreError::Locked`](crate::StoreError::Locked)); 0
    /// (the default) refuses at once (a directory's lock just released is waited for a second).
    pub fn lock_timeout(mut self, wait: Duration) -> ApplyOptions {
        self.lock_timeout = wait;
        self
    }

    /// Keeps the state in `store`, a store of the caller's (any [`Store`]), instead of opening
    /// the location: it must hold the policy's accounts' locks already (it is never locked
    /// here), and prove them in [`Store::fence`] before each change.
    pub fn store(mut self, store: Arc<dyn Store>) -> ApplyOptions {
        self.store = Some(store);
        self
    }

    /// Where the state is.
    pub fn state(&self) -> &StateLocation {
        &self.state
    }
}

/// One apply's shared parts.
struct Applying<'a> {
    client: &'a Client,
    policy: &'a Policy,
    state: &'a dyn Store,
    options: &'a ApplyOptions,
    /// The plan's time: the policy's rules are judged at it.
    at: chrono::DateTime<chrono::Utc>,
    /// Why the store could not prove a lock, once it could not: nothing more is sent.
    lost: fence::Lost,
    /// What has begun and finished, for the report of an interrupted apply.
    progress: std::sync::Mutex<progress::Progress>,
}

/// Brings the accounts of `policy` to it, and says what was done.
///
/// A plan is made now (judged at the saved plan's time, when there is one), with the work an
/// interrupted apply left in the state store first ([`Plan::include_pending`]). A saved plan is
/// an approval, never a source of work: its accounts must be the policy's and its `made_at`
/// within [`MAX_SAVED_PLAN_AGE`] of the platform's time ([`ApplyError::PlanTime`]), and the
/// plan made now must equal it action for action, pending work included
/// ([`ApplyError::Stale`]), before anything is done. Then the pending work is resumed (creates
/// whose secret was not handed over, rotations; two records of one token once; records of names
/// the policy does not declare left alone and counted in [`ApplyReport::others_pending`]), and
/// the plan's actions are carried out, a batch of tokens at a time, each batch read again in one
/// listing right before it is acted on ([`Applied::Moved`] for a token that changed). The policy
/// is needed even with a saved plan: the sinks come from it (a plan file never names a command
/// to run). The state store is opened first, and its accounts locked (a directory's lock, or
/// PostgreSQL's advisory locks, waited for up to [`ApplyOptions::lock_timeout`]).
///
/// Each action is reported once ([`ActionResult`]), by evidence ([`Applied`]); a failed one
/// does not stop the others. The actions the plan marks destructive (deletes, the disabling of
/// undeclared tokens, a resumed rotation whose record is its only reason to retire and delete
/// the old token) need [`ApplyOptions::allow_destroy`]; a rotation record at `planned` of a
/// token the policy does not rotate now, which made nothing, is removed. The secret sinks are
/// checked first ([`Plan::check_sinks`], [`ApplyError::Sink`]). A create or rotation saves its record in the state store
/// before it sends the create, and hands the secret to the entry's sink; when the sink fails,
/// the action is `Failed` naming the token, the record stays, and the next apply reads the
/// secret from the platform and hands it over again (no store ever holds a secret). Every
/// record read back is checked against the policy and the platform first ([`Applied::Refused`]):
/// a resumed rotation retires or deletes its old token only once the platform shows its
/// replacement now (live, Active, of its account and name, made after the record and the old
/// token, its secret working), and only for the one live token of an entry declared Active.
/// Rotations are zero-downtime: make the replacement, hand its secret over, verify it,
/// retire the old token (after [`ApplyOptions::quiet`], if set), delete it. Right before the
/// retire (after the quiet wait) and the delete, both tokens are read again: a replacement no
/// longer live and Active, or an old token changed since it was read, stops the rotation
/// ([`Applied::Moved`], its record kept). A create is not sent when the listing right before
/// it shows a live token of the name, which the plan did not know ([`Applied::Moved`]).
pub(crate) async fn apply(
    client: &Client,
    policy: &Policy,
    plan: Option<&Plan>,
    options: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    // Waiting for another apply's lock sends nothing: cancelled then (the CLI's first
    // interrupt), the apply ends with nothing done.
    let Some(state) = fence::open(client, policy, options).await? else {
        return Ok(ApplyReport {
            results: Vec::new(),
            others_pending: 0,
            others_unread: Vec::new(),
        });
    };
    // A saved plan is an approval, never a source of work: before anything is done, it
    // must be of the policy's accounts and made within the bounds, by the platform's clock.
    if let Some(saved) = plan {
        let declared: Vec<String> = policy.accounts.iter().map(|a| a.id.clone()).collect();
        if saved.accounts != declared {
            return Err(ApplyError::OtherAccounts {
                planned: saved.accounts.clone(),
                declared,
            });
        }
        let now = platform_now(client, declared.first().map(String::as_str)).await?;
        check_made_at(saved.made_at, now)?;
    }
    // The plan, made now (judged at the saved plan's time, when there is one), with the
    // work pending in the store first: a saved plan must equal it, pending work included.
    let mut fresh = crate::plan::plan_judged(client, policy, plan.map(|p| p.made_at)).await?;
    fresh.include_pending(client, policy, state.as_ref()).await;
    // Every change of the apply's client proves its account's lock right before it is sent.
    let (guarded, lost) = fence::guarded(client, &state, policy);
    let client = &guarded;
    let progress = progress::Progress::default();
    let noting = progress::Noting::new(state.as_ref(), &progress);
    let run = Applying {
        client,
        policy,
        state: &noting,
        options,
        at: fresh.made_at,
        lost,
        progress: std::sync::Mutex::new(progress),
    };
    if let Some(saved) = plan {
        check_fresh(saved, &fresh)?;
    }
    // Every sink a delivery would use, checked before anything is sent.
    fresh.check_sinks_in(policy, state.as_ref())?;
    if let Some(f) = &options.on_plan {
        f(&fresh);
    }
    let planned = fresh.actions.clone();
    // Boxed: dropped when given up on (its sink commands stopped with it) before the report.
    let work = Box::pin(run.carry_out_plan(fresh));
    let give_up = Box::pin(given_up(options));
    let mut report = match futures_util::future::select(work, give_up).await {
        futures_util::future::Either::Left((report, _)) => report,
        // The grace after an interrupt is over: the work in flight is dropped (a sink command
        // stopped with it), and every action gets its row.
        futures_util::future::Either::Right((_, work)) => {
            drop(work);
            let others = run.others();
            return Ok(ApplyReport {
                results: run.abandoned(&planned),
                others_pending: others,
                others_unread: Vec::new(),
            });
        }
    };
    if client.cancelled() {
        // Interrupted: each action not begun (pending work not reached included) gets its row.
        let rest = run.not_begun(&planned, &report.results);
        report.results.extend(rest);
    }
    let ended = run.ended(report).await;
    // Its locks given up before it returns (a store of the caller's stays the caller's); never
    // waited for past an interrupt (a stalled database: its session's end releases them).
    if options.store.is_none() && !client.cancelled() {
        unsent::unless_interrupted(client, state.release()).await;
    }
    ended
}

/// Resolves once the options' [`ApplyOptions::give_up`] flag is set (never, without one).
async fn given_up(options: &ApplyOptions) {
    match &options.give_up {
        Some(flag) => {
            while !flag.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        None => std::future::pending().await,
    }
}

impl Applying<'_> {
    /// The pending work resumed, then the plan's actions carried out, a batch at a time.
    async fn carry_out_plan(&self, mut fresh: Plan) -> ApplyReport {
        let client = self.client;
        let options = self.options;
        let run = self;
        // Markers whose landing the platform shows Deleted are spent: retired first.
        let accounts: Vec<String> = run.policy.accounts.iter().map(|a| a.id.clone()).collect();
        run.retire_spent(&accounts).await;
        // Late landings deleted first: a pending record then judges its name without them.
        let (late, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut fresh.actions)
            .into_iter()
            .partition(crate::plan::is_late_row);
        fresh.actions = rest;
        let first = run.late_first(late).await;
        let Resumed {
            mut results,
            tokens: resumed,
            rotating,
            mut others,
            mut others_unread,
            held,
            moot,
        } = run.resume_pending(&mut fresh.actions).await;
        results.splice(0..0, first);
        // The `late` records that do not read: refused, as the plan shows them (another
        // policy's: counted, named).
        let (_, unread) = crate::state::late_marks(run.state, &accounts).await;
        let (rows, unread) = crate::plan::unread_rows(run.policy, unread);
        others += unread.len();
        others_unread.extend(unread);
        run.set_others(others);
        for row in rows {
            let done = match crate::plan::is_listing_row(&row) {
                // The store not answering: the lock's loss, once proven, says it (exit 5).
                true if run.fenced_record("", &accounts).await => continue,
                true => ActionOutcome::failed(row.reason.clone()),
                false => ActionOutcome::new(Applied::Refused, row.reason.clone()),
            };
            results.push(run.emit(new_tokens::resumed(row, done)));
        }
        let mut actions: Vec<PlannedAction> = Vec::new();
        for a in fresh.actions {
            if a.kind == ActionKind::Resume {
                continue;
            }
            // A create that would overwrite a refused record (the plan keeps none: a record
            // refused only now).
            let writes = crate::state::Key::create(&a.account, &a.name).name;
            if a.kind == ActionKind::Create && held.contains(&writes) {
                let done = ActionOutcome::new(
                    Applied::Refused,
                    "not sent: a create record of this name was refused (see its row); this create would write its own record over it: remove it once checked",
                );
                results.push(run.emit(ActionResult::of(a, done, false)));
                continue;
            }
            actions.push(a);
        }
        let mut groups = by_token(actions, &resumed, &rotating);
        // Rotations last: one may wait long for its old token to go quiet, and a batch waits for
        // its slowest token; every other action is done (each on a fresh read) before any waits.
        groups.sort_by_key(|group| group.iter().any(|a| a.kind == ActionKind::Rotate));
        let width = options.concurrency.max(1);
        let mut groups = groups.into_iter().peekable();
        while groups.peek().is_some() {
            // A batch of tokens, re-read in one listing right before it is acted on: a token
            // that moved since the plan is skipped.
            let batch: Vec<Vec<PlannedAction>> = groups.by_ref().take(width).collect();
            // Interrupted, or the lock lost: nothing more is read or sent (each action reports
            // itself not attempted).
            let read = match client.cancelled() || run.lost().is_some() {
                true => None,
                false => Some(run.reread(&batch).await),
            };
            let read = read.as_ref();
            let mut done = futures_util::stream::iter(batch)
                .map(|group| -> BoxFuture<'_, Vec<ActionResult>> {
                    Box::pin(run.carry_out_group(group, read))
                })
                .buffer_unordered(width);
            while let Some(group) = done.next().await {
                results.extend(group);
            }
        }
        // The records of names declared absent, once the plan's deletes are done (interrupted,
        // or the lock lost: each is reported not attempted, and kept).
        for record in moot {
            if client.cancelled() || run.lost().is_some() {
                break;
            }
            results.push(run.settle(record).await);
        }
        ApplyReport {
            results,
            others_pending: others,
            others_unread,
        }
    }
}

impl Applying<'_> {
    /// The deletes of late landings (see [`crate::plan::is_late_row`]), each re-read right
    /// before it, as any action is.
    async fn late_first(&self, late: Vec<PlannedAction>) -> Vec<ActionResult> {
        let mut out = Vec::new();
        for action in late {
            let group = vec![action];
            let read = match self.client.cancelled() || self.lost().is_some() {
                true => None,
                false => Some(self.reread(std::slice::from_ref(&group)).await),
            };
            out.extend(self.carry_out_group(group, read.as_ref()).await);
        }
        out
    }

    /// A token's actions, one after the other, unless it moved since the plan (`read`: the
    /// batch read again; `None` when the apply is stopping and nothing more is read or sent).
    async fn carry_out_group(
        &self,
        group: Vec<PlannedAction>,
        read: Option<&reread::Reread>,
    ) -> Vec<ActionResult> {
        let run = self;
        let mut out = Vec::with_capacity(group.len());
        if let Some(moved) = read.and_then(|read| moved(&group, read)) {
            for action in group {
                out.push(run.emit(ActionResult::of(action, moved.clone(), false)));
            }
            return out;
        }
        for action in group {
            let ticket = run.begin(&action, false);
            let result = fence::for_account(action.account.clone(), run.carry_out(action)).await;
            out.push(run.emit(result));
            run.end(ticket);
        }
        out
    }
}

/// Resolves once `client` is cancelled (never, without a cancel).
async fn cancelled(client: &Client) {
    while !client.cancelled() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The plan's actions by token, in order (a token's actions run one after another, tokens
/// side by side), without those on tokens the resumed work reported.
fn by_token(
    actions: Vec<PlannedAction>,
    resumed: &HashSet<String>,
    rotating: &HashSet<(String, String)>,
) -> Vec<Vec<PlannedAction>> {
    let mut groups: Vec<Vec<PlannedAction>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for action in actions {
        if action
            .token_id
            .as_ref()
            .is_some_and(|id| resumed.contains(id))
            || (action.kind == ActionKind::Ambiguous
                && rotating.contains(&(action.account.clone(), action.name.clone())))
        {
            continue;
        }
        let key = match &action.token_id {
            Some(id) => id.clone(),
            None => format!("{}\n{}", action.account, action.name),
        };
        match index.get(&key) {
            Some(&i) => groups[i].push(action),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![action]);
            }
        }
    }
    groups
}
