//! What makes tokens: creates and rotations, resumable from the state store, and the hand-over
//! of their secrets to the sinks. No secret is kept anywhere: a record stays until its secret
//! is handed over, and a resumed one reads the secret from the platform again.

use mpt_api::TokenSecret;

use super::Applied;
use super::create_words::given_up_words;
use super::handover::NotHandedOver;
use super::unsent::{NOT_WAITED, Unsaved, unless_interrupted};
use super::{ActionOutcome, ActionResult, Applying};
use crate::evidence::CreatedNow;
use crate::plan::{ActionKind, PlannedAction};
use crate::policy::Wanted;
use crate::state::{CreateRecord, Key, RecordError, StoreError};
use mpt::Error;
use mpt::NewToken;
use mpt::Outcome;
use mpt::Token;

/// How a token this apply hands over (a create's, or a rotation's replacement) came to it:
/// what its result says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Came {
    /// This call's create, its answer received: [`Applied::Changed`].
    Made,
    /// Found after this call's create lost its answer (a token of the name made since the
    /// record, none other): [`Applied::Unconfirmed`], as the create may not have been the one
    /// that made it.
    Found,
    /// Made by an earlier apply (interrupted, or its sink failed) whose record this one
    /// resumed, found by the ids the record kept and the marker its create carried:
    /// [`Applied::Adopted`].
    Earlier,
}

impl Applying<'_> {
    pub(super) async fn create(&self, action: &PlannedAction) -> ActionOutcome {
        let Some(declared) = self.policy.declared(&action.account, &action.name, None) else {
            return ActionOutcome::failed("no declared entry in the policy for this create");
        };
        // The marker, sent in the token's description; its hash saved in the record before the
        // create is sent (never the marker: a reader of the store could copy it): a resumed
        // record adopts only the token that carries it.
        let marker = match mpt::new_marker() {
            Ok(marker) => marker,
            Err(e) => return ActionOutcome::failed(format!("nothing was made: {e}")),
        };
        let mut new = NewToken::new(&action.account, &declared.name)
            .modules(declared.modules.iter())
            .description(mpt::marked_description(
                declared.description.as_deref(),
                &marker,
            ));
        if let Some(i) = &declared.icon {
            new = new.icon(i);
        }
        let (known, recorded_at) = match self
            .client
            .ids_named_at(&action.account, &declared.name)
            .await
        {
            Ok(found) => found,
            Err(e) => return ActionOutcome::not_sent(&e, format!("nothing was made: {e}")),
        };
        // The plan found no live token of the name (else it would not create): one there now
        // appeared since (an administrator's, another runner's), and a create would make two.
        if !known.is_empty() {
            return ActionOutcome::new(
                Applied::Moved,
                format!(
                    "moved: {} named {:?} appeared since the plan ({}); nothing was made: plan again",
                    if known.len() == 1 {
                        "a live token"
                    } else {
                        "live tokens"
                    },
                    declared.name,
                    known.join(", ")
                ),
            );
        }
        let key = Key::create(&action.account, &declared.name);
        let record = CreateRecord {
            account_id: action.account.clone(),
            name: declared.name.clone(),
            known_ids: known,
            new_id: None,
            // Without the platform's time, the moment before the lookup by this clock (a
            // platform ahead of it only widens nothing: what is older was made before).
            recorded_at: Some(
                recorded_at.unwrap_or_else(|| chrono::Utc::now() - chrono::TimeDelta::minutes(5)),
            ),
            marker_hashes: vec![mpt::marker_hash(&marker)],
        };
        // Saved before the create is sent: a crash after it finds what was made. Interrupted
        // while it is in flight (a stalled database), it is abandoned: nothing was sent.
        match self.save_before_send(&key, &record).await {
            Ok(()) => {}
            Err(Unsaved::NotBegun) => return ActionOutcome::interrupted(),
            Err(Unsaved::Interrupted) => {
                return self.abandoned_save(
                    &key,
                    "the create",
                    "the next apply finds no token carrying its marker: the create never landed, and it creates",
                );
            }
            Err(Unsaved::Failed(e)) => {
                return ActionOutcome::failed(format!(
                    "nothing was made: the record could not be saved: {e}"
                ));
            }
        }
        self.send_create(&key, record, &new).await
    }

    /// Sends the create of `new`, its record saved as `key`: what it made, or, its answer lost,
    /// what the record finds; nothing made, the record dropped.
    async fn send_create(&self, key: &Key, record: CreateRecord, new: &NewToken) -> ActionOutcome {
        match self.client.create_excluding(new, &record.known_ids).await {
            Ok(made) => {
                // A refused send of it may still land: its marker is kept first (see
                // `Applying::keep_unclaimed`).
                let unclaimed = match made.other_sends {
                    0 => Vec::new(),
                    _ => record.marker_hashes.clone(),
                };
                let owner = (record.account_id.as_str(), record.name.as_str());
                if let Err(why) = self.keep_unclaimed(owner, &unclaimed).await {
                    let id = made.token.id();
                    return ActionOutcome::failed(format!("{id} was made; {why}")).made(id, None);
                }
                self.created(key, record, made.token, made.secret, Came::Made)
                    .await
            }
            Err(e)
                if e.may_have_reached_server()
                    || matches!(
                        e,
                        Error::CreateUnconfirmed { .. }
                            | Error::GuardFailed {
                                maybe_done: true,
                                ..
                            }
                    ) =>
            {
                self.answer_lost(key, record, e).await
            }
            Err(e) => {
                // Not waited for past an interrupt (a stalled database): a record left behind
                // made nothing, which the next apply finds.
                unless_interrupted(self.client, self.state.drop_record(key)).await;
                // Stopped by the client's guard (the lock lost), before anything was sent or
                // before the retry of a create the platform refused: nothing was made.
                super::fence::stopped_by_guard(&e, "nothing was made").unwrap_or_else(|| {
                    ActionOutcome::not_sent(&e, format!("nothing was made: {e}"))
                })
            }
        }
    }

    /// This call's create of `record` (saved as `key`) lost its answer (`e`): what it made,
    /// adopted, or, interrupted before it was found, an outcome unknown.
    async fn answer_lost(&self, key: &Key, record: CreateRecord, e: Error) -> ActionOutcome {
        // Interrupted before it looked for what it made: the create may have landed.
        if self.client.cancelled() {
            // The create's own cause (its look again, cut short, says nothing more).
            let cause = match &e {
                Error::CreateUnconfirmed { source, .. } => source.to_string(),
                e => e.to_string(),
            };
            return self.create_unknown(key, &cause);
        }
        let what = format!("the create of {:?} in {}", record.name, record.account_id);
        // A refused send of it, sent again, may still land after what the resend made is
        // adopted, carrying the same marker: the marker is kept first (see `keep_unclaimed`).
        if let Error::CreateUnconfirmed {
            other_sends: 1.., ..
        } = &e
        {
            let owner = (record.account_id.as_str(), record.name.as_str());
            if let Err(why) = self.keep_unclaimed(owner, &record.marker_hashes).await {
                return ActionOutcome::failed(format!("{what} lost its answer; {why}"));
            }
        }
        match self.adopt(key, record, Came::Found).await {
            Some(done) => done,
            // Given up, its marker kept: the create may still land (held on the way), so
            // "nothing was made" would not be known (tester round 20, L4).
            None => ActionOutcome::failed(given_up_words(&what, &e)),
        }
    }

    /// What an earlier create of `record` made: handed over when it is the one token that
    /// carries the record's marker ([`crate::marked::landed`]), with its secret; `None` when it
    /// made nothing (the record is removed). A token without the marker (made by someone else)
    /// is refused, never adopted. `came`: whose create it was ([`Came::Found`]: this call's,
    /// its answer lost; [`Came::Earlier`]: a resumed one).
    pub(super) async fn adopt(
        &self,
        key: &Key,
        record: CreateRecord,
        came: Came,
    ) -> Option<ActionOutcome> {
        let found = crate::marked::made_by_create(
            self.client,
            self.state,
            (&record.account_id, &record.name, &record.known_ids),
            &record.marker_hashes,
        )
        .await;
        let token = match found {
            Ok(Ok(None)) => {
                // Given up on: its create may still land (held in a gateway). Its markers are
                // kept first, so that a token carrying one later is known as this tool's own.
                let owner = (record.account_id.as_str(), record.name.as_str());
                return self.give_up(key, owner, &record.marker_hashes).await;
            }
            Ok(Ok(Some(token))) => token,
            Ok(Err(why)) if came == Came::Found => {
                return Some(
                    self.refused_own_if_held(key, &record.account_id, &why)
                        .await,
                );
            }
            Ok(Err(why)) => return Some(self.refused(key, &why)),
            // This run's create, its answer lost, and the look for what it made cut short by
            // the interrupt: it may have landed.
            Err(e) if came == Came::Found && self.client.cancelled() => {
                return Some(self.create_unknown(key, &format!("looking for what it made: {e}")));
            }
            Err(e) => {
                return Some(ActionOutcome::failed(format!(
                    "the create's answer was lost and looking for what it made failed ({e}); the next apply looks again (record in {})",
                    self.state.describe(key)
                )));
            }
        };
        if let Err(why) = record.may_have_made(&token) {
            return Some(self.refused(key, &why));
        }
        match token.secret().cloned() {
            Some(secret) => Some(self.created(key, record, token, secret, came).await),
            None => Some(ActionOutcome::failed(format!(
                "{} was made, but its secret is neither returned by the platform nor kept; record kept in {}",
                token.id(),
                self.state.describe(key)
            ))),
        }
    }

    /// A made token: its id recorded, its secret handed over, then Disabled when declared so.
    /// `came`: how it came to this call ([`Came`]), which the result says.
    pub(super) async fn created(
        &self,
        key: &Key,
        mut record: CreateRecord,
        token: Token,
        secret: TokenSecret,
        came: Came,
    ) -> ActionOutcome {
        record.new_id = Some(token.id().to_string());
        // Not saved (a lost session, say, or a stalled database past the interrupt, not waited
        // for): the record without it still finds the token, by the marker its description
        // keeps (not put back then: the next apply does it).
        let (unsaved, abandoned) =
            match unless_interrupted(self.client, self.state.put(key, &record)).await {
                Some(saved) => (saved.err().map(|e| e.to_string()), false),
                None => (Some(NOT_WAITED.to_string()), true),
            };
        let declared = self.policy.declared(&record.account_id, &record.name, None);
        // Unsaved, its description keeps the marker (the record finds it by it): not handed
        // over, as a token carrying a marker never is.
        if let Some(e) = &unsaved
            && !record.marker_hashes.is_empty()
        {
            let why = NotHandedOver::Unsaved(e.clone());
            return ActionOutcome::failed(format!("{} was made; {why}", token.id()))
                .made(token.id(), None);
        }
        if !record.marker_hashes.is_empty() {
            let intended = declared.map(|d| d.description.as_deref());
            if let Err(e) = self
                .client
                .restore_description(&token, &record.marker_hashes, intended)
                .await
            {
                return ActionOutcome::failed(format!(
                    "{} was made; putting back its description (it still carries the create's marker) failed: {e}; its secret is not handed over yet: the record (with its id) is kept in {}, and the next apply puts it back and hands the secret over",
                    token.id(),
                    self.state.describe(key)
                ))
                .made(token.id(), None);
            }
        }
        let account = record.account_id.as_str();
        let at = match self
            .hand_over(account, declared, &token, &secret, None)
            .await
        {
            Ok(at) => at,
            Err(why) => {
                let mut why = why.to_string();
                if let Some(e) = &unsaved {
                    why.push_str(&format!(" (its id was not recorded: {e})"));
                }
                return ActionOutcome::failed(format!("{} was made; {why}", token.id()))
                    .made(token.id(), None);
            }
        };
        // Its id not saved past the interrupt, the record is kept whatever it says: the next
        // apply finds the token by it, and puts its description back. Its removal not waited
        // for past the interrupt, it may be kept (or removed once the store answers).
        let kept = match abandoned {
            true => Some("is kept, its id unsaved"),
            false => unless_interrupted(self.client, self.state.drop_record(key))
                .await
                .map_or(Some("may be kept (its removal may still land)"), |()| None),
        };
        let id = token.id();
        let (result, what) = match came {
            Came::Made => (Applied::Changed, format!("made {id}")),
            Came::Found => (
                Applied::Unconfirmed,
                format!(
                    "{id} found after the create's answer was lost (made by it, or by another at the same time)"
                ),
            ),
            Came::Earlier => (
                Applied::Adopted,
                format!(
                    "{id} was made by an earlier apply (its create record was pending); adopted"
                ),
            ),
        };
        let mut done =
            ActionOutcome::new(result, format!("{what}; secret to {at}")).made(id, Some(at));
        if let Some(kept) = kept {
            done.detail.push_str(&format!(
                "; interrupted, the state store was not waited for: its record ({}) {kept}, and the next apply that finds it finds {id} by it, puts its description back and hands its secret over again",
                self.state.describe(key)
            ));
        }
        if declared.is_some_and(|d| d.status == Wanted::Disabled) {
            self.disable_made(&record.account_id, token.id(), &mut done)
                .await;
        }
        done
    }

    /// Disables a token just made and handed over (a create's, or a finished rotation's
    /// replacement, of an entry declared Disabled) in `account`: read now, the lock proven,
    /// then the disable (no round trip between the proof and the change). What happened is
    /// added to `done` (failed, when it did not: the next apply's plan disables it).
    pub(super) async fn disable_made(&self, account: &str, id: &str, done: &mut ActionOutcome) {
        let read = match self.client.get(id).await {
            Ok(read) => read,
            Err(e) => {
                done.result = Applied::Failed;
                done.detail.push_str(&format!(
                    "; {id} could not be read before its disable ({e}): the next apply disables it"
                ));
                return;
            }
        };
        if let Some(stopped) = self.fenced(account).await {
            done.result = Applied::Failed;
            done.detail.push_str(&format!(
                "; disabling {id} was {}: the next apply disables it",
                stopped.detail
            ));
        } else {
            // Each clause says what this run's requests did: an ensure that found the token
            // already Disabled sent no disable.
            match self.client.ensure_disabled_from(read).await {
                Err(e) => {
                    done.result = Applied::Failed;
                    done.detail.push_str(&format!(
                        "; disabling {id} failed ({e}): the next apply disables it"
                    ));
                }
                Ok(Outcome::Changed(_)) => done.detail.push_str(&format!("; then {id} disabled")),
                Ok(Outcome::Unconfirmed(_)) => done.detail.push_str(&format!(
                    "; then {id} Disabled (this run's disable unconfirmed)"
                )),
                Ok(_) => done
                    .detail
                    .push_str(&format!("; {id} already Disabled (no disable sent)")),
            }
        }
    }

    /// Finishes a create an interrupted apply left (its secret not handed over yet).
    pub(super) async fn resume_create(
        &self,
        key: &Key,
        record: Result<CreateRecord, StoreError>,
    ) -> Option<ActionResult> {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                // Its key may still say whose it is (`<account>-<hex of the name>`).
                let (account, name) = key.create_of().unwrap_or_default();
                let why = RecordError::Garbled(e.to_string());
                return Some(resumed(
                    PlannedAction::resumed(ActionKind::Create, &account, &name, None),
                    self.refused(key, &why),
                ));
            }
        };
        let action =
            PlannedAction::resumed(ActionKind::Create, &record.account_id, &record.name, None);
        // A record read back is a claim: checked before anything is sent for it.
        if let Err(why) = record.check(self.policy) {
            return Some(resumed(action, self.refused(key, &why)));
        }
        let done = match record.new_id.clone() {
            Some(id) => match crate::evidence::created_now(self.client, self.state, &record, &id)
                .await
            {
                Err(why) => self.refused(key, &why),
                Ok(CreatedNow::Gone) => {
                    self.state.drop_record(key).await;
                    ActionOutcome::failed(format!("{id} was made, then deleted by someone else"))
                }
                Ok(CreatedNow::Made(token)) => match token.secret().cloned() {
                    Some(secret) => {
                        self.created(key, record, token, secret, Came::Earlier)
                            .await
                    }
                    None => ActionOutcome::failed(format!(
                        "{id}: the platform does not return its secret; record kept in {}",
                        self.state.describe(key)
                    )),
                },
                Ok(CreatedNow::Unreadable(e)) => {
                    ActionOutcome::failed(format!("{e}; the next apply tries again"))
                }
            },
            None => self.adopt(key, record, Came::Earlier).await?,
        };
        Some(resumed(action, done))
    }
}

pub(super) fn resumed(action: PlannedAction, done: ActionOutcome) -> ActionResult {
    ActionResult::of(action, done, true)
}
