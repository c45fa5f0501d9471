//! Zero-downtime rotation, as a plan whose state survives a crash.
//!
//! ```text
//! Planned --start--> Created --verify--> Verified --retire--> Retired --finish--> Finished
//!          (replacement made;  (the new secret   (old token     (old token
//!           old still Active)   authenticates)    Disabled)      deleted)
//! ```
//!
//! Both secrets work from `start` until `retire`: services move to the new secret in that
//! window. The [`RotationPlan`] holds ids, the phase and timestamps (never a secret) and is
//! `serde`-serializable: save it after every phase, and a job that crashed resumes where it
//! stopped. Every phase is idempotent: running one again after it completed does nothing.

use std::time::Instant;

use chrono::Utc;
use mpt_api::TokenSecret;

use crate::client::Client;
use crate::error::Error;
use crate::request::NewToken;
use crate::rotation_plan::{Quiet, Rotation, RotationPhase, RotationPlan};
use crate::status::TokenStatus;
use crate::token::{CreatedToken, Token, TokenRef};

impl Rotation {
    /// Checks that the new secret authenticates (see [`RotationPlan::verify`]).
    pub async fn verify(&mut self, client: &Client) -> Result<(), Error> {
        self.plan.verify(client, &self.new.secret).await
    }

    /// Disables the old token (see [`RotationPlan::retire`]).
    pub async fn retire(&mut self, client: &Client, quiet: Option<Quiet>) -> Result<(), Error> {
        self.plan.retire(client, quiet).await
    }

    /// Deletes the old token (see [`RotationPlan::finish`]).
    pub async fn finish(&mut self, client: &Client) -> Result<(), Error> {
        self.plan.finish(client).await
    }
}

fn out_of_order(plan: &RotationPlan, needs: RotationPhase, step: &'static str) -> Error {
    Error::RotationOutOfOrder {
        old_id: plan.old_id.clone(),
        step,
        phase: plan.phase,
        needs,
    }
}

/// How a starting rotation saves its plan: an async closure ([`RotationPlan::start_saving`]) or
/// a closure returning a future that borrows nothing of the plan
/// ([`RotationPlan::start_saving_send`]).
trait SavePlan {
    type Error: std::fmt::Display;
    fn save(&mut self, plan: &RotationPlan) -> impl Future<Output = Result<(), Self::Error>>;
}

struct AsyncSave<F>(F);

impl<F, E> SavePlan for AsyncSave<F>
where
    F: AsyncFnMut(&RotationPlan) -> Result<(), E>,
    E: std::fmt::Display,
{
    type Error = E;
    fn save(&mut self, plan: &RotationPlan) -> impl Future<Output = Result<(), E>> {
        (self.0)(plan)
    }
}

struct PlainSave<F>(F);

impl<F, Fut, E> SavePlan for PlainSave<F>
where
    F: FnMut(&RotationPlan) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    type Error = E;
    fn save(&mut self, plan: &RotationPlan) -> impl Future<Output = Result<(), E>> {
        (self.0)(plan)
    }
}

impl RotationPlan {
    fn mismatch(&self, reason: impl Into<String>) -> Error {
        Error::RotationPlanMismatch {
            old_id: self.old_id.clone(),
            reason: reason.into(),
        }
    }

    /// Refuses `token` as this plan's old token when its account or name is not the plan's.
    pub(crate) fn check_old(&self, old: &Token) -> Result<(), Error> {
        if old.account_id() != Some(self.account_id.as_str())
            || old.name() != Some(self.name.as_str())
        {
            return Err(self.mismatch(format!(
                "{} is {:?} in {}, but the plan is for {:?} in {}",
                self.old_id,
                old.name().unwrap_or_default(),
                old.account_id().unwrap_or_default(),
                self.name,
                self.account_id
            )));
        }
        Ok(())
    }

    /// Refuses `new_id` as the replacement unless it is a token made after the plan's record.
    fn check_new_id(&self, new_id: &str) -> Result<(), Error> {
        if new_id == self.old_id || self.known_ids.iter().any(|k| k == new_id) {
            return Err(self.mismatch(format!(
                "the replacement {new_id} existed before the rotation began"
            )));
        }
        Ok(())
    }

    /// Starts the rotation: makes the replacement (same account, name, description, icon and
    /// modules), leaving the old token Active. Returns it with its secret; `None` when the
    /// plan was past this phase already. Does not save the plan before the create: use
    /// [`RotationPlan::start_saving`] when plans are saved, so that a crash after the create
    /// cannot leave a replacement nobody knows.
    pub async fn start(&mut self, client: &Client) -> Result<Option<CreatedToken>, Error> {
        self.start_saving(client, async |_| Ok::<(), std::convert::Infallible>(()))
            .await
    }

    /// [`RotationPlan::start`], calling `save` (an async closure: a file, a database) with the
    /// plan after recording the tokens that already have this account and name and before
    /// sending the create; when `save` fails, nothing is made ([`Error::PlanNotSaved`]). Save
    /// the plan again after it returns.
    ///
    /// * The first `start` adopts nothing: it creates. If the create's answer is lost, the
    ///   error is [`Error::CreateUnconfirmed`] with the tokens made since the record, and the
    ///   plan stays `Planned` with `createSent` set.
    /// * Before the create, the SHA-256 of a new random marker is saved in the plan
    ///   (`markerHashes`: never the marker itself), and the create sends the description with
    ///   the marker's tag (see [`marked_description`](crate::marked_description)).
    /// * A resumed `start` (the plan has `createSent`) first looks for a token with this
    ///   account and name outside the record (never the old token): the one token there, if
    ///   its description carries the tag of a marker whose hash the plan keeps (Active, with its secret), is adopted as the
    ///   replacement; none means the earlier create made nothing, and it creates. A token
    ///   without the marker (made by someone else), several, one whose secret the platform does
    ///   not return, or any token at all for a plan saved without a marker (by an older
    ///   version) is [`Error::CreateUnconfirmed`] (its source [`Error::NotMadeByPlan`] names
    ///   them), and nothing is adopted.
    /// * The replacement made or adopted keeps the tag in its description until
    ///   [`RotationPlan::verify`] puts the intended one back (see
    ///   [`RotationPlan::restore_description`]): save the plan at `Created` first, so that a
    ///   run that stops in between resumes by the replacement's id.
    pub async fn start_saving<F, E>(
        &mut self,
        client: &Client,
        save: F,
    ) -> Result<Option<CreatedToken>, Error>
    where
        F: AsyncFnMut(&RotationPlan) -> Result<(), E>,
        E: std::fmt::Display,
    {
        self.start_with(client, AsyncSave(save)).await
    }

    /// [`RotationPlan::start_saving`] with `save` a plain closure whose future borrows nothing
    /// of the plan (make the plan into JSON first, then return the future that stores it). The
    /// future of an async closure cannot be shown to be `Send` for every borrow of the plan, so
    /// a `start_saving` with one cannot run in `tokio::spawn`; this one is `Send` when `save`
    /// and its futures are.
    pub async fn start_saving_send<F, Fut, E>(
        &mut self,
        client: &Client,
        save: F,
    ) -> Result<Option<CreatedToken>, Error>
    where
        F: FnMut(&RotationPlan) -> Fut,
        Fut: std::future::Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        self.start_with(client, PlainSave(save)).await
    }

    async fn start_with<S: SavePlan>(
        &mut self,
        client: &Client,
        mut save: S,
    ) -> Result<Option<CreatedToken>, Error> {
        if self.phase != RotationPhase::Planned {
            return Ok(None);
        }
        let old = client.get(self.old_id.as_str()).await?;
        self.check_old(&old)?;
        if !matches!(old.status(), TokenStatus::Active | TokenStatus::Disabled) {
            return Err(Error::UnexpectedState {
                id: old.id().to_string(),
                status: old.status(),
            });
        }
        let earlier = if self.create_sent {
            self.made_by_earlier_run(client).await?
        } else {
            None
        };
        let made = match earlier {
            Some(made) => made,
            None => {
                // The marker itself is never saved: only its hash (see `crate::marker`).
                let marker = crate::marker::new_marker()?;
                // Record, before anything is made, every token that already has this account
                // and name, and the platform's time; then save, then create.
                let (now, at) = client.ids_named_at(&self.account_id, &self.name).await?;
                self.remember_known(now);
                if at.is_some() {
                    self.recorded_at = at;
                }
                self.create_sent = true;
                self.marker_hashes.push(crate::marker::marker_hash(&marker));
                if let Err(e) = save.save(self).await {
                    return Err(Error::PlanNotSaved {
                        old_id: self.old_id.clone(),
                        reason: crate::redact::redact(&e.to_string()),
                    });
                }
                let new = NewToken::like(&old).description(crate::marker::marked_description(
                    old.description(),
                    &marker,
                ));
                client.create_excluding(&new, &self.known_ids).await?
            }
        };
        // Its description keeps the marker's tag until `verify` puts it back: a plan still
        // saved at `Planned` (the caller saves `Created` after this returns) finds it again.
        self.new_id = Some(made.token.id().to_string());
        self.phase = RotationPhase::Created;
        self.created_at = Some(Utc::now());
        Ok(Some(made))
    }

    /// Adds ids to the record (the old token's always), kept sorted and unique.
    fn remember_known(&mut self, ids: impl IntoIterator<Item = String>) {
        self.known_ids.extend(ids);
        self.known_ids.push(self.old_id.clone());
        self.known_ids.sort();
        self.known_ids.dedup();
    }

    /// Checks that the new secret authenticates: a call made with it reads the replacement;
    /// then puts back the replacement's intended description while it still carries the plan's
    /// marker ([`RotationPlan::restore_description`]; its failure is this call's). Refuses ([`Error::RotationPlanMismatch`]) a secret of another token than `newId`, a
    /// `newId` that existed before the rotation, and a replacement of another account or name.
    pub async fn verify(&mut self, client: &Client, secret: &TokenSecret) -> Result<(), Error> {
        if self.phase >= RotationPhase::Verified {
            return Ok(());
        }
        let Some(new_id) = self
            .new_id
            .clone()
            .filter(|_| self.phase == RotationPhase::Created)
        else {
            return Err(out_of_order(self, RotationPhase::Created, "verify"));
        };
        self.check_new_id(&new_id)?;
        if let Some(owner) = secret.token_id()
            && owner != new_id
        {
            return Err(self.mismatch(format!(
                "that secret belongs to {owner}, not to the replacement {new_id}"
            )));
        }
        let new = client.with_secret(secret)?.get(new_id.as_str()).await?;
        if new.account_id() != Some(self.account_id.as_str())
            || new.name() != Some(self.name.as_str())
        {
            return Err(self.mismatch(format!(
                "the replacement {new_id} is {:?} in {}, not {:?} in {}",
                new.name().unwrap_or_default(),
                new.account_id().unwrap_or_default(),
                self.name,
                self.account_id
            )));
        }
        // Past `Created` the marker no longer matters: the replacement's description is put
        // back first (nothing is sent when it was already).
        self.restore_description(client, &new).await?;
        self.phase = RotationPhase::Verified;
        self.verified_at = Some(Utc::now());
        Ok(())
    }

    /// The old token as it is now, checked against the plan; `None` when it is gone.
    async fn current_old(&self, client: &Client) -> Result<Option<Token>, Error> {
        if let Some(new_id) = &self.new_id {
            self.check_new_id(new_id)?;
        }
        match client.get(self.old_id.as_str()).await {
            Ok(old) if old.status() == TokenStatus::Deleted => Ok(None),
            Ok(old) => {
                self.check_old(&old)?;
                Ok(Some(old))
            }
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Disables the old token, once the caller says the new secret is in use; with `quiet`,
    /// only after the old token's `lastAccessAt` stopped moving (see [`Quiet`]). Needs a
    /// verified replacement; refuses an old token of another account or name than the plan's.
    pub async fn retire(&mut self, client: &Client, quiet: Option<Quiet>) -> Result<(), Error> {
        if self.phase >= RotationPhase::Retired {
            return Ok(());
        }
        if self.phase != RotationPhase::Verified {
            return Err(out_of_order(self, RotationPhase::Verified, "retire"));
        }
        if self.current_old(client).await?.is_some() {
            if let Some(quiet) = quiet {
                self.wait_until_quiet(client, quiet).await?;
            }
            match client.ensure_disabled(self.old_id.as_str()).await {
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(Error::UnexpectedState {
                    status: TokenStatus::Deleted,
                    ..
                }) => {}
                Err(e) => return Err(e),
            }
        }
        self.phase = RotationPhase::Retired;
        self.retired_at = Some(Utc::now());
        Ok(())
    }

    /// Waits until the old token's `lastAccessAt` stopped moving for `quiet.period` (read every
    /// `quiet.poll`), at most `quiet.max_wait` ([`Error::StillInUse`] then). [`RotationPlan::retire`]
    /// with a `quiet` does this itself; call it first (then `retire` with `None`) to look at the
    /// tokens again after the wait, before the old one is disabled: the wait may be long.
    pub async fn wait_until_quiet(&self, client: &Client, quiet: Quiet) -> Result<(), Error> {
        let started = Instant::now();
        let mut last = client.get(self.old_id.as_str()).await?.last_access_at();
        let mut still_since = Instant::now();
        while still_since.elapsed() < quiet.period {
            if started.elapsed() >= quiet.max_wait {
                return Err(Error::StillInUse {
                    id: self.old_id.clone(),
                    last_access_at: last,
                });
            }
            tokio::time::sleep(quiet.poll).await;
            let now = client.get(self.old_id.as_str()).await?.last_access_at();
            if now != last {
                last = now;
                still_since = Instant::now();
            }
        }
        Ok(())
    }

    /// Deletes the old token. Needs a retired one.
    pub async fn finish(&mut self, client: &Client) -> Result<(), Error> {
        if self.phase >= RotationPhase::Finished {
            return Ok(());
        }
        if self.phase != RotationPhase::Retired {
            return Err(out_of_order(self, RotationPhase::Retired, "finish"));
        }
        if let Some(old) = self.current_old(client).await? {
            client.delete_if_exists(&old).await?;
        }
        self.phase = RotationPhase::Finished;
        self.finished_at = Some(Utc::now());
        Ok(())
    }
}

impl Client {
    /// A plan to rotate `token` (read now; a Deleted token, or one in a state this SDK does not
    /// know, cannot be rotated), with the ids of the tokens that already have its account and
    /// name recorded. Nothing is made until [`RotationPlan::start_saving`] (or `start`).
    pub async fn plan_rotation(&self, token: impl TokenRef) -> Result<RotationPlan, Error> {
        let old = self.get(token.token_id()).await?;
        if !matches!(old.status(), TokenStatus::Active | TokenStatus::Disabled) {
            return Err(Error::UnexpectedState {
                id: old.id().to_string(),
                status: old.status(),
            });
        }
        let account_id = old.account_id().unwrap_or_default().to_string();
        let name = old.name().unwrap_or_default().to_string();
        let (known, recorded_at) = self.ids_named_at(&account_id, &name).await?;
        let mut plan = RotationPlan {
            old_id: old.id().to_string(),
            account_id,
            name,
            new_id: None,
            phase: RotationPhase::Planned,
            planned_at: Utc::now(),
            recorded_at,
            known_ids: Vec::new(),
            create_sent: false,
            marker_hashes: Vec::new(),
            created_at: None,
            verified_at: None,
            retired_at: None,
            finished_at: None,
        };
        plan.remember_known(known);
        Ok(plan)
    }

    /// Starts a zero-downtime rotation: makes the replacement (its description as the old
    /// token's: the create's marker is put back at once, no plan having been saved before it)
    /// and leaves the old token Active, so both secrets work. Then, once the new secret is deployed: [`Rotation::verify`],
    /// [`Rotation::retire`], [`Rotation::finish`]. Save `rotation.plan` to resume after a crash.
    /// A crash during this call leaves no saved plan: when that matters, use
    /// [`Client::plan_rotation`], save the plan, and [`RotationPlan::start_saving`].
    pub async fn rotate(&self, token: impl TokenRef) -> Result<Rotation, Error> {
        let mut plan = self.plan_rotation(token).await?;
        match plan.start(self).await? {
            Some(mut new) => {
                // No plan was saved before the create (none finds it by the marker): the
                // description is put back at once (should that fail, `verify` does it).
                if let Ok(now) = plan.restored(self, &new.token).await {
                    new.token = new.token.with_description(now.description());
                }
                Ok(Rotation { plan, new })
            }
            // A fresh plan is always `Planned`: `start` makes or fails.
            None => Err(out_of_order(&plan, RotationPhase::Planned, "start")),
        }
    }

    /// Replaces a token and disables the old one **at once**: every service still using the
    /// old secret fails until it has the new one. For when that outage is accepted (a leaked
    /// secret); [`Client::rotate`] has none. If disabling fails, [`Error::RotationIncomplete`]
    /// still carries the replacement and its secret.
    pub async fn rotate_now_with_outage(&self, token: impl TokenRef) -> Result<Rotation, Error> {
        let mut rotation = self.rotate(token).await?;
        let retired = match rotation.verify(self).await {
            Ok(()) => rotation.retire(self, None).await,
            Err(e) => Err(e),
        };
        match retired {
            Ok(()) => Ok(rotation),
            Err(source) => {
                let old_status = match self.get(rotation.plan.old_id.as_str()).await {
                    Ok(t) => t.status(),
                    Err(_) => TokenStatus::Unknown(String::new()),
                };
                Err(Error::RotationIncomplete {
                    new: Box::new(rotation.new),
                    old_id: rotation.plan.old_id.clone(),
                    plan: Box::new(rotation.plan),
                    old_status,
                    source: Box::new(source),
                })
            }
        }
    }
}
