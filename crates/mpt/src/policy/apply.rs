//! Carrying a plan out: each action once, its result by evidence, rotations and creates
//! resumable from a state directory, secrets handed to their sinks and never lost.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use futures_util::StreamExt;
use mpt_api::TokenSecret;
use serde::{Deserialize, Serialize};

use super::plan::{ActionKind, Plan, PlannedAction};
use super::sink;
use super::state::{CreateRecord, Refused, StateDir};
use super::{Policy, TokenPolicy, Wanted};
use crate::client::Client;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::plan::{Quiet, RotationPhase, RotationPlan};
use crate::request::{NewToken, TokenUpdate};
use crate::status::TokenStatus;
use crate::token::Token;

/// A callback that sees each result as it is known.
type OnResult = Arc<dyn Fn(&ActionResult) + Send + Sync>;

/// How an apply runs.
#[derive(Clone)]
pub struct ApplyOptions {
    state_dir: PathBuf,
    allow_destroy: bool,
    concurrency: usize,
    quiet: Option<Quiet>,
    on_result: Option<OnResult>,
}

impl fmt::Debug for ApplyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("state_dir", &self.state_dir)
            .field("allow_destroy", &self.allow_destroy)
            .field("concurrency", &self.concurrency)
            .field("quiet", &self.quiet)
            .finish_non_exhaustive()
    }
}

impl ApplyOptions {
    /// Options with the state directory `state_dir` (made when missing, locked while the apply
    /// runs): no destructive action, 4 tokens at a time, old tokens retired as soon as the
    /// new secret is verified.
    pub fn new(state_dir: impl Into<PathBuf>) -> ApplyOptions {
        ApplyOptions {
            state_dir: state_dir.into(),
            allow_destroy: false,
            concurrency: 4,
            quiet: None,
            on_result: None,
        }
    }

    /// Carries out deletes and the disabling of undeclared tokens (skipped and reported
    /// otherwise).
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

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }
}

/// What carrying out an action did, by evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Applied {
    /// This call made the change (its answer says so).
    Changed,
    /// Nothing was needed: the token was already as declared.
    Unchanged,
    /// The token is as declared, but the answers cannot tell whether this call put it there
    /// (an answer was lost and a read back shows the declared state, or the server answers
    /// no-ops with 200).
    Unconfirmed,
    /// The action failed; `detail` says why and what state is known.
    Failed,
    /// A destructive action without `allow_destroy`: shown, not carried out.
    Skipped,
    /// Nothing to carry out by design (an undeclared token reported, an ambiguous name, an
    /// unresolved pin).
    Reported,
    /// The platform refused it (modules not enabled for the account: it strips them from every
    /// token when they leave the account's default group); not sent again by later applies.
    NotApplied,
}

impl Applied {
    /// The word results use for it (`changed`, `notApplied`, ...), as in their JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Changed => "changed",
            Applied::Unchanged => "unchanged",
            Applied::Unconfirmed => "unconfirmed",
            Applied::Failed => "failed",
            Applied::Skipped => "skipped",
            Applied::Reported => "reported",
            Applied::NotApplied => "notApplied",
        }
    }
}

/// One action's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActionResult {
    /// The action (a resumed create or rotation has `resumed` set).
    pub action: PlannedAction,
    /// What happened.
    pub result: Applied,
    /// In words: what was done, or why not, and where things are.
    pub detail: String,
    /// The token a create or rotation made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_token_id: Option<String>,
    /// Where its new secret went (a file, a command, or the state directory's fallback file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_at: Option<String>,
    /// Work an earlier, interrupted apply began, finished by this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
}

/// Every action's result, each once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApplyReport {
    /// The results, in the order they were known.
    pub results: Vec<ActionResult>,
}

impl ApplyReport {
    /// How many actions failed.
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.result == Applied::Failed)
            .count()
    }

    /// How many actions of `kind` ended in the declared state by this apply's request
    /// (`Changed` or `Unconfirmed`).
    pub fn done(&self, kind: ActionKind) -> usize {
        self.results
            .iter()
            .filter(|r| {
                r.action.kind == kind && matches!(r.result, Applied::Changed | Applied::Unconfirmed)
            })
            .count()
    }

    /// How many results are `result`.
    pub fn count(&self, result: Applied) -> usize {
        self.results.iter().filter(|r| r.result == result).count()
    }

    /// One line: `3 created, 1 rotated, 2 disabled, 0 failed`, with skipped, not applied and
    /// reported actions when there are any.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = [
            (ActionKind::Create, "created"),
            (ActionKind::Update, "updated"),
            (ActionKind::Enable, "enabled"),
            (ActionKind::Disable, "disabled"),
            (ActionKind::Delete, "deleted"),
            (ActionKind::Rotate, "rotated"),
        ]
        .iter()
        .map(|(kind, word)| format!("{} {word}", self.done(*kind)))
        .collect();
        for (result, word) in [
            (Applied::Unchanged, "unchanged"),
            (Applied::Skipped, "skipped (need --allow-destroy)"),
            (Applied::NotApplied, "could not be applied"),
            (Applied::Reported, "reported"),
        ] {
            let n = self.count(result);
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        parts.push(format!("{} failed", self.failed()));
        parts.join(", ")
    }
}

/// Why an apply did not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The saved plan no longer matches the accounts: these tokens (ids, or names for creates)
    /// moved since it was made. Nothing was changed for it; plan again.
    #[error(
        "the saved plan is stale: the state moved since it was made, for {}; plan again",
        tokens.join(", ")
    )]
    Stale {
        /// The tokens whose actions differ.
        tokens: Vec<String>,
    },
    /// The saved plan was made for other accounts than the policy declares.
    #[error("the saved plan is for accounts {planned:?}, the policy declares {declared:?}")]
    OtherAccounts {
        /// The plan's accounts.
        planned: Vec<String>,
        /// The policy's accounts.
        declared: Vec<String>,
    },
    /// The state directory cannot be used (or another apply holds it).
    #[error("state directory: {0}")]
    StateDir(String),
    /// Reading the accounts failed; nothing was changed by the plan (work resumed from the
    /// state directory is in no report).
    #[error(transparent)]
    Api(#[from] Error),
}

/// What an action leads to, before it is a result.
struct Done {
    result: Applied,
    detail: String,
    new_token_id: Option<String>,
    secret_at: Option<String>,
}

impl Done {
    fn new(result: Applied, detail: impl Into<String>) -> Done {
        Done {
            result,
            detail: detail.into(),
            new_token_id: None,
            secret_at: None,
        }
    }

    fn failed(detail: impl Into<String>) -> Done {
        Done::new(Applied::Failed, detail)
    }

    fn made(mut self, id: &str, at: Option<String>) -> Done {
        self.new_token_id = Some(id.to_string());
        self.secret_at = at;
        self
    }
}

/// One apply's shared parts.
struct Run<'a> {
    client: &'a Client,
    policy: &'a Policy,
    state: &'a StateDir,
    options: &'a ApplyOptions,
}

impl Client {
    /// Brings the accounts of `policy` to it, and says what was done.
    ///
    /// First, work an interrupted apply left in the state directory is finished (creates whose
    /// secret was not handed over, rotations). Then the actions of `plan` are carried out, or,
    /// without one, of a plan made now. A saved plan is refused ([`ApplyError::Stale`]) when
    /// the accounts moved since it was made: a plan made now, judged at the saved plan's time,
    /// must be the same. The policy is needed even with a saved plan: the sinks come from it
    /// (a plan file never names a command to run).
    ///
    /// Each action is reported once ([`ActionResult`]), by evidence ([`Applied`]); a failed one
    /// does not stop the others. Deletes and the disabling of undeclared tokens need
    /// [`ApplyOptions::allow_destroy`]. A create or rotation saves its record in the state
    /// directory before it sends the create, and hands the secret to the entry's sink (or to
    /// `<state dir>/secrets/<id>.secret` when it has none, or when the sink fails: the action
    /// is then `Failed`, names the file, and the next apply hands the secret over again).
    /// Rotations are zero-downtime: make the replacement, hand its secret over, verify it,
    /// retire the old token (after [`ApplyOptions::quiet`], if set), delete it.
    pub async fn apply(
        &self,
        policy: &Policy,
        plan: Option<&Plan>,
        options: &ApplyOptions,
    ) -> Result<ApplyReport, ApplyError> {
        let state = StateDir::open(&options.state_dir).map_err(ApplyError::StateDir)?;
        let run = Run {
            client: self,
            policy,
            state: &state,
            options,
        };
        let mut results = Vec::new();
        // Tokens (and, for rotations, names) the resumed work reported: the plan's actions on
        // them are not reported twice (a rotation between its start and its end leaves two
        // live tokens of one name, which the plan calls ambiguous).
        let mut resumed: HashSet<String> = HashSet::new();
        let mut rotating: HashSet<(String, String)> = HashSet::new();
        for (path, record) in state.pending_creates() {
            if let Some(result) = run.resume_create(&path, record).await {
                resumed.extend(result.new_token_id.clone());
                results.push(run.emit(result));
            }
        }
        for (path, rotation) in state.pending_rotations() {
            let result = run.resume_rotation(&path, rotation).await;
            rotating.insert((result.action.account.clone(), result.action.name.clone()));
            resumed.extend(result.action.token_id.clone());
            resumed.extend(result.new_token_id.clone());
            results.push(run.emit(result));
        }
        let plan = match plan {
            Some(saved) => {
                let declared: Vec<String> = policy.accounts.iter().map(|a| a.id.clone()).collect();
                if saved.accounts != declared {
                    return Err(ApplyError::OtherAccounts {
                        planned: saved.accounts.clone(),
                        declared,
                    });
                }
                let fresh = self.plan_at(policy, saved.made_at).await?;
                check_fresh(saved, &fresh)?;
                saved.clone()
            }
            None => self.plan(policy).await?,
        };
        // A token's actions run in order; tokens run side by side.
        let mut groups: Vec<Vec<PlannedAction>> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for action in plan.actions {
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
        let run = &run;
        let mut done = futures_util::stream::iter(groups)
            .map(|group| async move {
                let mut out = Vec::with_capacity(group.len());
                for action in group {
                    let result = run.one(action).await;
                    out.push(run.emit(result));
                }
                out
            })
            .buffer_unordered(options.concurrency.max(1));
        while let Some(group) = done.next().await {
            results.extend(group);
        }
        Ok(ApplyReport { results })
    }
}

/// Refuses a saved plan whose actions differ from a fresh plan's, naming the tokens.
fn check_fresh(saved: &Plan, fresh: &Plan) -> Result<(), ApplyError> {
    let mut moved: Vec<String> = Vec::new();
    let name = |a: &PlannedAction| a.token_id.clone().unwrap_or_else(|| a.name.clone());
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

fn modules_of(list: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = list
        .unwrap_or("")
        .split(',')
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect();
    ids.sort();
    ids
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

impl Run<'_> {
    fn emit(&self, result: ActionResult) -> ActionResult {
        if let Some(f) = &self.options.on_result {
            f(&result);
        }
        result
    }

    async fn one(&self, action: PlannedAction) -> ActionResult {
        let done = match action.kind {
            ActionKind::Unmanaged | ActionKind::Ambiguous | ActionKind::Unresolved => {
                Done::new(Applied::Reported, action.reason.clone())
            }
            _ if action.destructive && !self.options.allow_destroy => Done::new(
                Applied::Skipped,
                format!("{} (destructive: needs allow-destroy)", action.reason),
            ),
            ActionKind::Create => self.create(&action).await,
            kind => match action.token_id.clone() {
                None => Done::failed("the action names no token"),
                Some(id) => match kind {
                    ActionKind::Update => self.update(&action, &id).await,
                    ActionKind::Enable | ActionKind::Disable => {
                        self.switch(&action, &id, kind).await
                    }
                    ActionKind::Delete => self.delete(&action, &id).await,
                    _ => self.rotate(&id).await,
                },
            },
        };
        ActionResult {
            action,
            result: done.result,
            detail: done.detail,
            new_token_id: done.new_token_id,
            secret_at: done.secret_at,
            resumed: false,
        }
    }

    /// After an error: `Unconfirmed` when a read shows the token as the action wanted it,
    /// `Failed` otherwise (saying what was read).
    async fn failed_unless(&self, action: &PlannedAction, id: &str, e: Error) -> Done {
        let now = match self.client.get(id).await {
            Ok(token) => Some(token),
            Err(Error::NotFound(_)) => None,
            Err(read) => {
                return Done::failed(format!("{e}; its state is unknown (a read failed: {read})"));
            }
        };
        if reached(action, now.as_ref()) {
            return Done::new(
                Applied::Unconfirmed,
                format!("the answer was lost ({e}); read back as declared"),
            );
        }
        let status = now.map_or("gone".to_string(), |t| t.status().to_string());
        Done::failed(format!("{e} (read back: {status})"))
    }

    async fn switch(&self, action: &PlannedAction, id: &str, kind: ActionKind) -> Done {
        let outcome = match kind {
            ActionKind::Enable => self.client.ensure_active(id).await,
            _ => self.client.ensure_disabled(id).await,
        };
        match outcome {
            Ok(Outcome::Changed(_)) => Done::new(Applied::Changed, action.reason.clone()),
            Ok(Outcome::Unchanged(_)) => Done::new(Applied::Unchanged, "already so"),
            Ok(Outcome::Unconfirmed(_)) => Done::new(
                Applied::Unconfirmed,
                "in the declared state; the answers cannot tell who put it there",
            ),
            Err(e) => self.failed_unless(action, id, e).await,
        }
    }

    async fn delete(&self, action: &PlannedAction, id: &str) -> Done {
        match self.client.delete_if_exists(id).await {
            Ok(true) => Done::new(Applied::Changed, action.reason.clone()),
            Ok(false) => Done::new(Applied::Unchanged, "gone already"),
            Err(e) => self.failed_unless(action, id, e).await,
        }
    }

    async fn update(&self, action: &PlannedAction, id: &str) -> Done {
        let mut update = TokenUpdate::new();
        let mut modules = None;
        for change in &action.changes {
            match (change.field.as_str(), &change.to) {
                ("description", Some(to)) => update = update.description(to),
                ("icon", Some(to)) => update = update.icon(to),
                ("modules", to) => {
                    let added: Vec<String> = modules_of(to.as_deref())
                        .into_iter()
                        .filter(|m| !modules_of(change.from.as_deref()).contains(m))
                        .collect();
                    modules = Some((modules_of(to.as_deref()), added));
                }
                _ => {}
            }
        }
        let path = self.state.refused_path(id);
        let mut refused_before = None;
        if let Some((wanted, added)) = modules.clone() {
            // Modules the platform refused before are not sent again (no loop).
            match self.state.refused(id) {
                Some(r) if !added.is_empty() && added.iter().all(|m| r.modules.contains(m)) => {
                    refused_before = Some(r);
                }
                _ => update = update.modules(wanted),
            }
        }
        let not_again = |r: &Refused, rest: &str| {
            Done::new(
                Applied::NotApplied,
                format!(
                    "could not be applied: modules {} were refused on {} ({}); the platform strips a module from every token when it leaves the account's default group. Not sent again: remove {} to retry{rest}",
                    r.modules.join(","),
                    r.at.format("%Y-%m-%d"),
                    r.reason,
                    path.display()
                ),
            )
        };
        if update.is_empty() {
            return match refused_before {
                Some(r) => not_again(&r, ""),
                None => Done::new(Applied::Unchanged, "nothing to change"),
            };
        }
        match self.client.update(id, &update).await {
            Ok(_) => match refused_before {
                Some(r) => not_again(&r, "; the other fields were updated"),
                None => Done::new(Applied::Changed, action.reason.clone()),
            },
            Err(e) if about_modules(&e) => {
                let (_, added) = modules.unwrap_or_default();
                let refused = Refused {
                    token_id: id.to_string(),
                    modules: added,
                    at: Utc::now(),
                    reason: e.to_string(),
                };
                let kept = self.state.save(&path, &refused);
                // The other fields, without the refused modules.
                let mut rest = TokenUpdate::new();
                for change in &action.changes {
                    match (change.field.as_str(), &change.to) {
                        ("description", Some(to)) => rest = rest.description(to),
                        ("icon", Some(to)) => rest = rest.icon(to),
                        _ => {}
                    }
                }
                let others = match rest.is_empty() {
                    true => String::new(),
                    false => match self.client.update(id, &rest).await {
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

    /// Hands a new secret to the entry's sink, or keeps it in the state directory. `Ok`: where
    /// it went; `Err`: the failure, naming where the secret is kept.
    async fn hand_over(
        &self,
        declared: Option<&TokenPolicy>,
        token: &Token,
        secret: &TokenSecret,
        replaces: Option<&str>,
    ) -> Result<String, String> {
        let keep = || {
            sink::fallback(&self.state.secrets(), token, secret).map(|p| p.display().to_string())
        };
        match declared.and_then(|d| d.secret.as_ref()) {
            None => keep().map_err(|e| format!("the secret could not be kept: {e}")),
            Some(sink) => match sink.deliver(token, secret, replaces).await {
                Ok(at) => {
                    sink::forget_fallback(&self.state.secrets(), token.id());
                    Ok(at)
                }
                Err(why) => Err(match keep() {
                    Ok(path) => format!(
                        "the secret sink failed ({why}); the secret of {} is kept in {path}, and the next apply hands it over again",
                        token.id()
                    ),
                    Err(e) => format!(
                        "the secret sink failed ({why}), and the secret of {} could not be kept ({e}); read it from the platform",
                        token.id()
                    ),
                }),
            },
        }
    }

    async fn create(&self, action: &PlannedAction) -> Done {
        let Some(declared) = self.policy.declared(&action.account, &action.name, None) else {
            return Done::failed("no declared entry in the policy for this create");
        };
        let mut new =
            NewToken::new(&action.account, &declared.name).modules(declared.modules.iter());
        if let Some(d) = &declared.description {
            new = new.description(d);
        }
        if let Some(i) = &declared.icon {
            new = new.icon(i);
        }
        let known = match self.client.ids_named(&action.account, &declared.name).await {
            Ok(ids) => ids,
            Err(e) => return Done::failed(format!("nothing was made: {e}")),
        };
        let path = self.state.create_path(&action.account, &declared.name);
        let record = CreateRecord {
            account_id: action.account.clone(),
            name: declared.name.clone(),
            known_ids: known,
            new_id: None,
        };
        // Saved before the create is sent: a crash after it finds what was made.
        if let Err(e) = self.state.save(&path, &record) {
            return Done::failed(format!(
                "nothing was made: the record could not be saved: {e}"
            ));
        }
        match self.client.create_excluding(&new, &record.known_ids).await {
            Ok(made) => self.created(&path, record, made.token, made.secret).await,
            Err(e)
                if e.may_have_reached_server() || matches!(e, Error::CreateUnconfirmed { .. }) =>
            {
                match self.adopt(&path, record).await {
                    Some(done) => done,
                    None => Done::failed(format!("{e}; nothing was made")),
                }
            }
            Err(e) => {
                StateDir::remove(&path);
                Done::failed(format!("nothing was made: {e}"))
            }
        }
    }

    /// What an earlier create of `record` made: handed over when it is one token with its
    /// secret; `None` when it made nothing (the record is removed).
    async fn adopt(&self, path: &Path, record: CreateRecord) -> Option<Done> {
        let found = self
            .client
            .made_excluding(&record.account_id, &record.name, &record.known_ids)
            .await;
        match found {
            Ok(found) if found.is_empty() => {
                StateDir::remove(path);
                None
            }
            Ok(mut found) if found.len() == 1 => {
                let token = found.remove(0);
                let secret = token
                    .secret()
                    .cloned()
                    .or_else(|| sink::fallen_back(&self.state.secrets(), token.id()));
                match secret {
                    Some(secret) => Some(self.created(path, record, token, secret).await),
                    None => Some(Done::failed(format!(
                        "{} was made, but its secret is neither returned by the platform nor kept; record kept in {}",
                        token.id(),
                        path.display()
                    ))),
                }
            }
            Ok(found) => {
                let ids: Vec<&str> = found.iter().map(|t| t.id()).collect();
                Some(Done::failed(format!(
                    "the create's answer was lost and {} tokens named {:?} appeared since ({}): none is adopted; record kept in {}",
                    ids.len(),
                    record.name,
                    ids.join(", "),
                    path.display()
                )))
            }
            Err(e) => Some(Done::failed(format!(
                "the create's answer was lost and looking for what it made failed ({e}); the next apply looks again (record in {})",
                path.display()
            ))),
        }
    }

    /// A made token: its id recorded, its secret handed over, then Disabled when declared so.
    async fn created(
        &self,
        path: &Path,
        mut record: CreateRecord,
        token: Token,
        secret: TokenSecret,
    ) -> Done {
        record.new_id = Some(token.id().to_string());
        let _ = self.state.save(path, &record);
        let declared = self.policy.declared(&record.account_id, &record.name, None);
        let at = match self.hand_over(declared, &token, &secret, None).await {
            Ok(at) => at,
            Err(why) => {
                return Done::failed(format!("{} was made; {why}", token.id()))
                    .made(token.id(), None);
            }
        };
        StateDir::remove(path);
        let mut done = Done::new(
            Applied::Changed,
            format!("made {}; secret to {at}", token.id()),
        )
        .made(token.id(), Some(at));
        if declared.is_some_and(|d| d.status == Wanted::Disabled) {
            if let Err(e) = self.client.ensure_disabled(token.id()).await {
                done.result = Applied::Failed;
                done.detail.push_str(&format!(
                    "; disabling it failed ({e}): the next apply disables it"
                ));
            } else {
                done.detail.push_str("; then disabled");
            }
        }
        done
    }

    /// Finishes a create an interrupted apply left (its secret not handed over yet).
    async fn resume_create(
        &self,
        path: &Path,
        record: Result<CreateRecord, String>,
    ) -> Option<ActionResult> {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                return Some(resumed(
                    PlannedAction::resumed(ActionKind::Create, "", "", None),
                    Done::failed(format!("unreadable create record: {e}")),
                ));
            }
        };
        let action =
            PlannedAction::resumed(ActionKind::Create, &record.account_id, &record.name, None);
        let done = match record.new_id.clone() {
            Some(id) => match self.client.get_with_secret(id.as_str()).await {
                Ok(token) if token.status() == TokenStatus::Deleted => {
                    StateDir::remove(path);
                    Done::failed(format!("{id} was made, then deleted by someone else"))
                }
                Ok(token) => {
                    let secret = token
                        .secret()
                        .cloned()
                        .or_else(|| sink::fallen_back(&self.state.secrets(), &id));
                    match secret {
                        Some(secret) => self.created(path, record, token, secret).await,
                        None => Done::failed(format!(
                            "{id}: its secret is neither returned nor kept; record kept in {}",
                            path.display()
                        )),
                    }
                }
                Err(Error::NotFound(_)) => {
                    StateDir::remove(path);
                    Done::failed(format!("{id} was made, and is gone"))
                }
                Err(e) => Done::failed(format!("{e}; the next apply tries again")),
            },
            None => self.adopt(path, record).await?,
        };
        Some(resumed(action, done))
    }

    async fn rotate(&self, id: &str) -> Done {
        let path = self.state.rotation_path(id);
        let plan = match self.client.plan_rotation(id).await {
            Ok(plan) => plan,
            Err(e) => return Done::failed(format!("nothing was made: {e}")),
        };
        if let Err(e) = self.state.save(&path, &plan) {
            return Done::failed(format!(
                "nothing was made: the rotation's plan could not be saved: {e}"
            ));
        }
        self.drive(&path, plan).await
    }

    async fn resume_rotation(
        &self,
        path: &Path,
        plan: Result<RotationPlan, String>,
    ) -> ActionResult {
        match plan {
            Ok(plan) => {
                let action = PlannedAction::resumed(
                    ActionKind::Rotate,
                    &plan.account_id,
                    &plan.name,
                    Some(plan.old_id.clone()),
                );
                let done = self.drive(path, plan).await;
                resumed(action, done)
            }
            Err(e) => resumed(
                PlannedAction::resumed(ActionKind::Rotate, "", "", None),
                Done::failed(format!("unreadable rotation plan: {e}")),
            ),
        }
    }

    /// Runs a rotation from wherever its plan is, saving it after each step; the plan file is
    /// removed once the old token is deleted.
    async fn drive(&self, path: &Path, mut plan: RotationPlan) -> Done {
        let save = |p: &RotationPlan| self.state.save(path, p);
        let mut secret_at = None;
        if plan.phase == RotationPhase::Planned {
            let mut started = plan.start_saving(self.client, save).await;
            if matches!(started, Err(Error::CreateUnconfirmed { .. })) && plan.create_sent {
                // Once more: a resumed start adopts what the lost create made.
                started = plan.start_saving(self.client, save).await;
            }
            let made = match started {
                Ok(Some(made)) => made,
                Ok(None) => return Done::failed("the rotation's plan is past its start"),
                Err(e) if !plan.create_sent => {
                    StateDir::remove(path);
                    return Done::failed(format!("nothing was made: {e}"));
                }
                Err(e) => {
                    return Done::failed(format!(
                        "{e}; the rotation's plan is kept in {}: the next apply resumes it",
                        path.display()
                    ));
                }
            };
            let declared = self
                .policy
                .declared(&plan.account_id, &plan.name, Some(&plan.old_id));
            // The plan stays `planned` on disk until the secret is handed over and verified:
            // a crash before that adopts the same replacement again.
            match self
                .hand_over(declared, &made.token, &made.secret, Some(&plan.old_id))
                .await
            {
                Ok(at) => secret_at = Some(at),
                Err(why) => {
                    return Done::failed(format!("{} was made; {why}", made.token.id()))
                        .made(made.token.id(), None);
                }
            }
            if let Err(e) = plan.verify(self.client, &made.secret).await {
                return Done::failed(format!(
                    "the new secret of {} did not verify: {e}; the next apply resumes",
                    made.token.id()
                ))
                .made(made.token.id(), secret_at);
            }
            if let Err(e) = save(&plan) {
                return Done::failed(format!("the rotation's plan could not be saved: {e}"))
                    .made(made.token.id(), secret_at);
            }
        }
        let new_id = plan.new_id.clone().unwrap_or_default();
        let steps = [RotationPhase::Retired, RotationPhase::Finished];
        for step in steps {
            if plan.phase >= step {
                continue;
            }
            // Each step is idempotent and reads the state first: once more after an error
            // (an answer lost after the step was done is then seen as done).
            let mut r = Ok(());
            for _ in 0..2 {
                r = match step {
                    RotationPhase::Retired => plan.retire(self.client, self.options.quiet).await,
                    _ => plan.finish(self.client).await,
                };
                if r.is_ok() {
                    break;
                }
            }
            if let Err(e) = r {
                let _ = save(&plan);
                return Done::failed(format!(
                    "{e}; the replacement {new_id} is in use, the plan is kept in {}: the next apply resumes",
                    path.display()
                ))
                .made(&new_id, secret_at);
            }
            if let Err(e) = save(&plan) {
                return Done::failed(format!("the rotation's plan could not be saved: {e}"))
                    .made(&new_id, secret_at);
            }
        }
        StateDir::remove(path);
        Done::new(
            Applied::Changed,
            format!("replaced by {new_id}; {} deleted", plan.old_id),
        )
        .made(&new_id, secret_at)
    }
}

fn resumed(action: PlannedAction, done: Done) -> ActionResult {
    ActionResult {
        action,
        result: done.result,
        detail: done.detail,
        new_token_id: done.new_token_id,
        secret_at: done.secret_at,
        resumed: true,
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
        ActionKind::Update => action.changes.iter().all(|c| match c.field.as_str() {
            "description" => c.to.as_deref() == token.description(),
            "icon" => c.to.as_deref() == token.icon(),
            "modules" => {
                let mut have: Vec<String> =
                    token.module_ids().iter().map(|m| m.to_string()).collect();
                have.sort();
                have == modules_of(c.to.as_deref())
            }
            _ => false,
        }),
        _ => false,
    }
}

impl PlannedAction {
    /// An action an earlier apply began (no plan holds it).
    fn resumed(kind: ActionKind, account: &str, name: &str, token_id: Option<String>) -> Self {
        PlannedAction {
            account: account.to_string(),
            name: name.to_string(),
            token_id,
            kind,
            reason: "resumed: an earlier apply was interrupted".into(),
            changes: Vec::new(),
            revision: None,
            destructive: false,
        }
    }
}
