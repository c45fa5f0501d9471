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

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::Error;
use crate::token::{CreatedToken, NewToken, Token, TokenRef, TokenStatus};
use mpt_api::TokenSecret;

/// Where a rotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RotationPhase {
    /// Nothing made yet.
    Planned,
    /// The replacement exists; the old token is still Active.
    Created,
    /// A call made with the replacement's secret succeeded.
    Verified,
    /// The old token is Disabled.
    Retired,
    /// The old token is deleted.
    Finished,
}

/// A rotation's state: ids, phase and when each phase completed. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RotationPlan {
    /// The token being replaced.
    pub old_id: String,
    /// Its account (the replacement's too).
    pub account_id: String,
    /// Its name (the replacement's too).
    pub name: String,
    /// The replacement, once made.
    pub new_id: Option<String>,
    /// Where the rotation is.
    pub phase: RotationPhase,
    /// When the plan was made (a replacement made after this is the rotation's own).
    pub planned_at: DateTime<Utc>,
    /// When the replacement was made.
    pub created_at: Option<DateTime<Utc>>,
    /// When its secret was verified.
    pub verified_at: Option<DateTime<Utc>>,
    /// When the old token was disabled.
    pub retired_at: Option<DateTime<Utc>>,
    /// When the old token was deleted.
    pub finished_at: Option<DateTime<Utc>>,
}

/// When [`RotationPlan::retire`] may disable the old token: once its `lastAccessAt` has not
/// moved for `period` (checked every `poll`), giving up after `max_wait`
/// ([`Error::StillInUse`]).
///
/// `lastAccessAt` is approximate: the platform moves it when a session of the token is
/// refreshed, not on every call. The check compares exact values, so the tolerance is the
/// platform's refresh interval: choose a `period` longer than it, or a service still on the old
/// secret may look quiet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quiet {
    /// How long `lastAccessAt` must stay put.
    pub period: Duration,
    /// How often to look.
    pub poll: Duration,
    /// How long to wait at most.
    pub max_wait: Duration,
}

/// A rotation started by [`Client::rotate`]: the plan, and the replacement with its secret
/// (the only time the SDK hands it over: store it before anything else).
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The plan (save it to resume after a crash).
    pub plan: RotationPlan,
    /// The replacement, with its secret.
    pub new: CreatedToken,
}

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

fn out_of_order(plan: &RotationPlan, wanted: RotationPhase, step: &str) -> Error {
    Error::InvalidRequest(format!(
        "rotation of {}: cannot {step} in phase {:?}; it needs phase {wanted:?} first",
        plan.old_id, plan.phase
    ))
}

impl RotationPlan {
    /// Starts the rotation: makes the replacement (same account, name, description, icon and
    /// modules), leaving the old token Active. Returns it with its secret; `None` when the
    /// plan was past this phase already.
    ///
    /// Resuming a plan saved in `Planned` first looks for a replacement an earlier run made
    /// (same account and name, made since the plan): one with its secret is adopted, so a crash
    /// between the create and saving the plan makes no second token. Several, or one whose
    /// secret the platform does not return, is [`Error::CreateUnconfirmed`]: the caller
    /// decides.
    pub async fn start(&mut self, client: &Client) -> Result<Option<CreatedToken>, Error> {
        if self.phase != RotationPhase::Planned {
            return Ok(None);
        }
        let made = match self.made_since(client).await? {
            Some(adopted) => adopted,
            None => {
                let old = client.get(self.old_id.as_str()).await?;
                match client.create(&NewToken::like(&old)).await {
                    Ok(created) => created,
                    Err(Error::CreateUnconfirmed {
                        candidates,
                        lookup: None,
                        source,
                        ..
                    }) => self.adopt(candidates, *source)?,
                    Err(e) => return Err(e),
                }
            }
        };
        self.new_id = Some(made.token.id().to_string());
        self.phase = RotationPhase::Created;
        self.created_at = Some(Utc::now());
        Ok(Some(made))
    }

    /// A replacement an earlier run of this plan made, if any.
    async fn made_since(&self, client: &Client) -> Result<Option<CreatedToken>, Error> {
        let found: Vec<Token> = client
            .made_since(&self.account_id, &self.name, self.planned_at)
            .await?
            .into_iter()
            .filter(|t| {
                t.id() != self.old_id
                    && t.status() == TokenStatus::Active
                    && t.created_at().is_some()
            })
            .collect();
        if found.is_empty() {
            return Ok(None);
        }
        let source = Error::InvalidRequest(format!(
            "resuming the rotation of {}: a replacement may have been made before the plan was saved",
            self.old_id
        ));
        self.adopt(found, source).map(Some)
    }

    /// The one candidate, with its secret; else the caller decides.
    fn adopt(&self, mut candidates: Vec<Token>, source: Error) -> Result<CreatedToken, Error> {
        if candidates.len() == 1
            && let Some(secret) = candidates[0].secret().cloned()
        {
            let token = candidates.remove(0);
            // A candidate from `Client::create` or `made_since`: its secret is remembered already.
            return Ok(CreatedToken { token, secret });
        }
        Err(Error::CreateUnconfirmed {
            account_id: self.account_id.clone(),
            name: self.name.clone(),
            candidates,
            lookup: None,
            source: Box::new(source),
        })
    }

    /// Checks that the new secret authenticates: a call made with it reads the replacement.
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
        if secret.token_id().is_some_and(|id| id != new_id) {
            return Err(Error::InvalidRequest(format!(
                "rotation of {}: that secret belongs to {}, not to the replacement {new_id}",
                self.old_id,
                secret.token_id().unwrap_or("")
            )));
        }
        client.with_secret(secret)?.get(new_id.as_str()).await?;
        self.phase = RotationPhase::Verified;
        self.verified_at = Some(Utc::now());
        Ok(())
    }

    /// Disables the old token, once the caller says the new secret is in use; with `quiet`,
    /// only after the old token's `lastAccessAt` stopped moving (see [`Quiet`]). Needs a
    /// verified replacement.
    pub async fn retire(&mut self, client: &Client, quiet: Option<Quiet>) -> Result<(), Error> {
        if self.phase >= RotationPhase::Retired {
            return Ok(());
        }
        if self.phase != RotationPhase::Verified {
            return Err(out_of_order(self, RotationPhase::Verified, "retire"));
        }
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
        self.phase = RotationPhase::Retired;
        self.retired_at = Some(Utc::now());
        Ok(())
    }

    async fn wait_until_quiet(&self, client: &Client, quiet: Quiet) -> Result<(), Error> {
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
        client.delete_if_exists(self.old_id.as_str()).await?;
        self.phase = RotationPhase::Finished;
        self.finished_at = Some(Utc::now());
        Ok(())
    }
}

impl Client {
    /// A plan to rotate `token` (read now; a Deleted token, or one in a state this SDK does not
    /// know, cannot be rotated). Nothing is made until [`RotationPlan::start`].
    pub async fn plan_rotation(&self, token: impl TokenRef) -> Result<RotationPlan, Error> {
        let old = self.get(token.token_id()).await?;
        if !matches!(old.status(), TokenStatus::Active | TokenStatus::Disabled) {
            return Err(Error::UnexpectedState {
                id: old.id().to_string(),
                status: old.status(),
            });
        }
        Ok(RotationPlan {
            old_id: old.id().to_string(),
            account_id: old.account_id().unwrap_or_default().to_string(),
            name: old.name().unwrap_or_default().to_string(),
            new_id: None,
            phase: RotationPhase::Planned,
            planned_at: Utc::now(),
            created_at: None,
            verified_at: None,
            retired_at: None,
            finished_at: None,
        })
    }

    /// Starts a zero-downtime rotation: makes the replacement and leaves the old token Active,
    /// so both secrets work. Then, once the new secret is deployed: [`Rotation::verify`],
    /// [`Rotation::retire`], [`Rotation::finish`]. Save `rotation.plan` to resume after a crash.
    pub async fn rotate(&self, token: impl TokenRef) -> Result<Rotation, Error> {
        let mut plan = self.plan_rotation(token).await?;
        let new = plan
            .start(self)
            .await?
            .ok_or_else(|| Error::InvalidRequest("the rotation was started already".into()))?;
        Ok(Rotation { plan, new })
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
                    old_id: rotation.plan.old_id,
                    old_status,
                    source: Box::new(source),
                })
            }
        }
    }
}
