//! The work an interrupted apply left in the state store, resumed before the plan: each record
//! checked first, two records of one token acted on once, and records of names this policy does
//! not declare left alone as another policy's pending work.

use std::collections::{HashMap, HashSet};

use super::{ActionOutcome, ActionResult, Applied, Applying, resumed};
use crate::plan::{ActionKind, PlannedAction};
use crate::state::{CreateRecord, Key, Kind, RecordError};
use mpt::Filter;
use mpt::RotationPlan;
use mpt::TokenStatus;

/// What the work an interrupted apply left came to.
#[derive(Default)]
pub(super) struct Resumed {
    /// Its results.
    pub results: Vec<ActionResult>,
    /// The tokens it reported: the plan's actions on them are not reported twice.
    pub tokens: HashSet<String>,
    /// The (account, name) of each rotation it reported: between its start and its end, a
    /// rotation leaves two live tokens of one name, which the plan calls ambiguous.
    pub rotating: HashSet<(String, String)>,
    /// How many records are another policy's pending work (names this policy does not
    /// declare), left alone.
    pub others: usize,
    /// Where those of them that do not read are (named in the report).
    pub others_unread: Vec<String>,
    /// The keys of the create records refused (or unreadable): the plan's create that would
    /// write its record under one of them is not sent (it would overwrite the record, then
    /// remove it).
    pub held: HashSet<String>,
    /// The records of names the policy declares absent: nothing of them is resumed; each is
    /// settled after the plan's own actions (its deletes) ([`Applying::settle`]).
    pub moot: Vec<Moot>,
}

impl Resumed {
    /// Whether the unreadable create record kept as `key` is another policy's (of a name
    /// `policy` does not declare, by its key: tester round 20, L2): then counted and named.
    fn left_alone(
        &mut self,
        policy: &crate::Policy,
        state: &dyn crate::state::Store,
        key: &Key,
    ) -> bool {
        let theirs = crate::plan::undeclared(policy, key);
        if theirs {
            self.others += 1;
            self.others_unread.push(state.describe(key));
        }
        theirs
    }
}

/// A record of a name the policy declares absent, settled after the plan's actions.
pub(super) struct Moot {
    key: Key,
    kind: ActionKind,
    account: String,
    name: String,
    /// The token its row names (a rotation's old token, a create's token).
    token: Option<String>,
}

/// A record acted on in this apply: what its duplicates are compared with.
struct Acted {
    /// The token it made, or named.
    token: Option<String>,
    /// Whether its record is gone (the work done): its duplicates go too.
    finished: bool,
}

impl Applying<'_> {
    /// What became of the record `key` just acted on.
    async fn acted(&self, key: &Key, token: Option<String>) -> Acted {
        Acted {
            token,
            finished: matches!(self.state.load(key).await, Ok(None)),
        }
    }

    /// A second record of work already acted on in this apply: removed when that work is done
    /// and it names the same token (or none), else left for the next apply; never acted on, so
    /// the token is handed over once.
    async fn duplicate(&self, key: &Key, first: &Acted, token: Option<&String>) {
        if first.finished && (token.is_none() || token == first.token.as_ref()) {
            self.state.drop_record(key).await;
        }
    }

    /// Finishes the work an interrupted apply left in the state store: creates whose secret was
    /// not handed over, then rotations, each followed by the plan's update of the token it ends
    /// with (taken out of `planned`, the plan's actions: see [`Applying::then_update`]).
    pub(super) async fn resume_pending(&self, planned: &mut Vec<PlannedAction>) -> Resumed {
        let mut done = Resumed::default();
        let accounts: Vec<String> = self.policy.accounts.iter().map(|a| a.id.clone()).collect();
        let mut creates: HashMap<(String, String), Acted> = HashMap::new();
        let records = self
            .state
            .pending_of::<CreateRecord>(Kind::Create, &accounts)
            .await;
        let ambiguous = crate::state::ambiguous_creates(records.iter().map(|(_, r)| r));
        for (key, record) in records {
            let mut identity = None;
            let keys = vec![key.name.clone()];
            if record.is_err() && done.left_alone(self.policy, self.state, &key) {
                continue;
            }
            if let Ok(r) = &record {
                if crate::plan::theirs(self.policy, &r.account_id, &r.name) {
                    done.others += 1;
                    continue;
                }
                let id = (r.account_id.clone(), r.name.clone());
                if let Some(ids) = ambiguous.get(&id) {
                    // Records of one name naming different tokens: none is trusted.
                    let action = PlannedAction::resumed(ActionKind::Create, &id.0, &id.1, None);
                    let why = RecordError::Ambiguous { ids: ids.clone() };
                    done.tokens.extend(ids.iter().cloned());
                    done.held.extend(keys);
                    done.results
                        .push(self.emit(resumed(action, self.refused(&key, &why))));
                    continue;
                }
                if let Some(first) = creates.get(&id) {
                    self.duplicate(&key, first, r.new_id.as_ref()).await;
                    continue;
                }
                // A name declared absent: settled after the plan's deletes (its copies wait for
                // the next apply, as a duplicate of unfinished work does).
                if r.check(self.policy).is_ok()
                    && crate::plan::declared_absent(self.policy, &r.account_id, &r.name)
                {
                    creates.insert(
                        id,
                        Acted {
                            token: r.new_id.clone(),
                            finished: false,
                        },
                    );
                    done.moot.push(Moot {
                        key,
                        kind: ActionKind::Create,
                        account: r.account_id.clone(),
                        name: r.name.clone(),
                        token: r.new_id.clone(),
                    });
                    continue;
                }
                identity = Some(id);
            }
            // Only while the account's lock is proven held: else nothing more is sent.
            if self.fenced_record(&key.account, &accounts).await {
                return done;
            }
            let (account, name) = identity.clone().unwrap_or_default();
            let ticket = self.begin(
                &PlannedAction::resumed(ActionKind::Create, &account, &name, None),
                true,
            );
            let result = self.resume_create(&key, record).await;
            if let Some(id) = identity
                && result.as_ref().is_none_or(|r| r.result != Applied::Refused)
            {
                let token = result.as_ref().and_then(|r| r.new_token_id.clone());
                creates.insert(id, self.acted(&key, token).await);
            }
            if let Some(result) = result {
                if result.result == Applied::Refused {
                    done.held.extend(keys);
                }
                // A token adopted and handed over is the plan's again: its update follows it
                // here, and its other actions run after it.
                if result.result != Applied::Adopted {
                    done.tokens.extend(result.new_token_id.clone());
                }
                let result = self.emit(result);
                done.results.push(result.clone());
                self.end(ticket);
                let then = self.then_update(planned, &result).await;
                done.results.extend(then.map(|then| self.emit(then)));
                continue;
            }
            self.end(ticket);
        }
        self.resume_rotations(&accounts, &mut done, planned).await;
        done
    }

    /// Finishes the rotations an interrupted apply left in the state store (after its
    /// creates), adding to `done`; stops when the store cannot prove a lock (or an interrupt).
    async fn resume_rotations(
        &self,
        accounts: &[String],
        done: &mut Resumed,
        planned: &mut Vec<PlannedAction>,
    ) {
        let mut rotations: HashMap<(String, String), Acted> = HashMap::new();
        for (key, rotation) in self
            .state
            .pending_of::<RotationPlan>(Kind::Rotation, accounts)
            .await
        {
            let mut identity = None;
            let mut name = String::new();
            if let Ok(r) = &rotation {
                name = r.name.clone();
                if crate::plan::theirs(self.policy, &r.account_id, &r.name) {
                    done.others += 1;
                    continue;
                }
                let id = (r.account_id.clone(), r.old_id.clone());
                if let Some(first) = rotations.get(&id) {
                    self.duplicate(&key, first, r.new_id.as_ref()).await;
                    continue;
                }
                let ids = std::iter::once(&r.old_id).chain(&r.new_id);
                if crate::state::check_ids(&r.account_id, ids).is_ok()
                    && crate::plan::declared_absent(self.policy, &r.account_id, &r.name)
                {
                    done.moot.push(Moot {
                        key,
                        kind: ActionKind::Rotate,
                        account: r.account_id.clone(),
                        name: r.name.clone(),
                        token: Some(r.old_id.clone()),
                    });
                    rotations.insert(
                        id,
                        Acted {
                            token: r.new_id.clone(),
                            finished: false,
                        },
                    );
                    continue;
                }
                identity = Some(id);
            }
            if self.fenced_record(&key.account, accounts).await {
                return;
            }
            let (account, old) = identity.clone().unwrap_or_default();
            let mut begun = PlannedAction::resumed(ActionKind::Rotate, &account, &name, Some(old));
            // Destructive as the plan's row of it says (the row of an apply given up on).
            begun.destructive = planned.iter().any(|a| {
                a.kind == ActionKind::Resume
                    && a.account == begun.account
                    && a.token_id == begun.token_id
                    && a.destructive
            });
            let ticket = self.begin(&begun, true);
            let landing = match &rotation {
                Ok(plan) => self.late_made(plan).await,
                Err(_) => None,
            };
            let (mut result, holds) = self.resume_rotation(&key, rotation).await;
            self.retire_adopted(landing, &mut result).await;
            if let Some(id) = identity
                && result.result != Applied::Refused
            {
                let acted = self.acted(&key, result.new_token_id.clone()).await;
                rotations.insert(id, acted);
            }
            // A record removed because it made nothing leaves its token to the plan.
            if holds {
                done.rotating
                    .insert((result.action.account.clone(), result.action.name.clone()));
                done.tokens.extend(result.action.token_id.clone());
                done.tokens.extend(result.new_token_id.clone());
            }
            let result = self.emit(result);
            done.results.push(result.clone());
            self.end(ticket);
            let then = self.then_update(planned, &result).await;
            done.results.extend(then.map(|then| self.emit(then)));
        }
    }
}

impl Applying<'_> {
    /// Settles a record of a name the policy declares absent, after the plan's own actions (its
    /// deletes): removed once no live token has the name (nothing of it was resumed, and no
    /// secret handed over), else kept and reported with the tokens still live.
    pub(super) async fn settle(&self, moot: Moot) -> ActionResult {
        let Moot {
            key,
            kind,
            account,
            name,
            token,
        } = moot;
        let action = PlannedAction::resumed(kind, &account, &name, token);
        let ticket = self.begin(&action, true);
        let at = self.state.describe(&key);
        let listed = self
            .client
            .list()
            .filter(Filter::account(&account).and(Filter::name(&name)))
            .collect()
            .await;
        let done = match listed {
            Err(e) => ActionOutcome::failed(format!(
                "{at}: the policy declares {name:?} absent; the tokens of the name could not be read ({e}): the record is kept, and the next apply looks again"
            )),
            Ok(tokens) => {
                let live: Vec<&str> = tokens
                    .iter()
                    .filter(|t| {
                        matches!(t.status(), TokenStatus::Active | TokenStatus::Disabled)
                            && t.account_id() == Some(account.as_str())
                            && t.name() == Some(name.as_str())
                    })
                    .map(|t| t.id())
                    .collect();
                if live.is_empty() {
                    self.state.drop_record(&key).await;
                    ActionOutcome::new(
                        Applied::Unchanged,
                        format!(
                            "{at}: the policy declares {name:?} absent, and no live token has the name: the record is removed (nothing of it was resumed, no secret handed over)"
                        ),
                    )
                } else {
                    let (result, why) = match self.options.allow_destroy {
                        true => (
                            Applied::Failed,
                            "their deletes did not happen (see their rows)",
                        ),
                        false => (Applied::Skipped, "their deletes need allow-destroy"),
                    };
                    ActionOutcome::new(
                        result,
                        format!(
                            "{at}: the policy declares {name:?} absent, but {} still live: {why}; nothing of the record was resumed (no secret handed over), and it is kept until none is left",
                            live.join(", ")
                        ),
                    )
                }
            }
        };
        let result = self.emit(resumed(action, done));
        self.end(ticket);
        result
    }
}
