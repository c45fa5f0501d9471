//! Enabling and disabling, plain and `ensure_*`: outcomes by evidence (see [`Outcome`]), answers
//! lost or cut off resolved by reading the token back.

use crate::client::Client;
use crate::error::Error;
use crate::hooks::CallState;
use crate::ops::guard;
use crate::outcome::{NoopTransitions, Outcome};
use crate::problem::Problem;
use crate::status::{Action, TokenStatus};
use crate::token::{Token, TokenRef};

impl Client {
    /// Enables a token (Disabled → Active). Given a [`Token`], an Active or Deleted one fails
    /// with [`Error::InvalidTransition`] before any request. When the answer is lost or cut off
    /// (every attempt), the token is read back: in the wanted state, it is returned.
    pub async fn enable(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.switch(token, Switch::Enable).await
    }

    /// Disables a token (Active → Disabled); see [`Client::enable`].
    pub async fn disable(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.switch(token, Switch::Disable).await
    }

    async fn switch(&self, token: impl TokenRef, switch: Switch) -> Result<Token, Error> {
        let action = switch.action();
        guard(&token, action)?;
        let id = token.token_id();
        self.check_id(id)?;
        match self.send_switch(id, switch).await? {
            Sent::Answered(t) => Ok(t),
            Sent::Refused {
                current,
                problem,
                earlier,
            } => {
                if earlier && current.status() == switch.target() {
                    // An earlier attempt of this call, whose answer was lost, did it.
                    Ok(current)
                } else if !current.can(action) {
                    Err(Error::InvalidTransition {
                        id: id.to_string(),
                        from: current.status(),
                        action,
                    })
                } else {
                    Err(Error::BadRequest(problem))
                }
            }
            Sent::Lost { current, .. } if current.status() == switch.target() => Ok(current),
            Sent::Lost { source, .. } => Err(source),
            // Refused after an attempt whose answer was lost, and not read back: the refusal
            // may answer this call's own change; with no token read, it may have happened.
            Sent::RefusedUnread {
                problem,
                earlier: true,
                read,
            } => Err(Error::OutcomeUnknown {
                id: id.to_string(),
                action,
                source: Box::new(Error::BadRequest(problem)),
                read: Box::new(read),
            }),
            Sent::RefusedUnread { problem, .. } => Err(Error::BadRequest(problem)),
        }
    }

    /// Sends one enable or disable (retried under the policy), and reads the token back where
    /// the answers cannot tell what happened: a 2xx whose body was unreadable, a refusal (to
    /// say why in lifecycle terms), every answer lost.
    async fn send_switch(&self, id: &str, switch: Switch) -> Result<Sent, Error> {
        let api = self.api();
        let (result, trail) = match switch {
            Switch::Enable => {
                let send = api.enable_api_token().id(id).send();
                self.send_with_trail(CallState::token(id), Box::pin(send))
                    .await
            }
            Switch::Disable => {
                let send = api.disable_api_token().id(id).send();
                self.send_with_trail(CallState::token(id), Box::pin(send))
                    .await
            }
        };
        // A refusal as a no-op after an attempt not proven undone (its answer lost, a 429 or
        // 503) is no evidence of the state before; a failure after one that may have landed
        // (its answer lost, a gateway's 5xx) may hide the change: read back.
        let earlier = trail.unproven;
        let source = match result {
            Ok(raw) => return Ok(Sent::Answered(Token::from_boxed(raw))),
            Err(Error::BadRequest(problem)) => {
                return Ok(match self.get(id).await {
                    Ok(current) => Sent::Refused {
                        current,
                        problem,
                        earlier,
                    },
                    Err(read) => Sent::RefusedUnread {
                        problem,
                        earlier,
                        read,
                    },
                });
            }
            Err(e) if e.answered_success() || e.may_have_reached_server() || trail.landed => e,
            Err(e) => return Err(e),
        };
        match self.get(id).await {
            // The platform answered 2xx: it carried the change out; the body was unreadable.
            Ok(current) if source.answered_success() => Ok(Sent::Answered(current)),
            Ok(current) => Ok(Sent::Lost { current, source }),
            Err(read) => Err(Error::OutcomeUnknown {
                id: id.to_string(),
                action: switch.action(),
                source: Box::new(source),
                read: Box::new(read),
            }),
        }
    }

    /// Makes sure a token is Active: reads it, and enables it if needed. Idempotent and safe
    /// to run concurrently, whether the platform answers a no-op enable with 200 or 400; the
    /// [`Outcome`] says `Changed` only with evidence that this call changed it.
    pub async fn ensure_active(&self, token: impl TokenRef) -> Result<Outcome, Error> {
        self.ensure(token.token_id(), Switch::Enable).await
    }

    /// Makes sure a token is Disabled: reads it, and disables it if needed; see
    /// [`Client::ensure_active`].
    pub async fn ensure_disabled(&self, token: impl TokenRef) -> Result<Outcome, Error> {
        self.ensure(token.token_id(), Switch::Disable).await
    }

    /// [`Client::ensure_active`] from `before`, the token as the caller read it just now: no
    /// read of its own, so the enable (when one is needed) is the next request this call sends.
    /// A caller that must prove something right before a change (a lock it holds) reads the
    /// token, proves it, then calls this. The evidence rules are [`Client::ensure_active`]'s.
    pub async fn ensure_active_from(&self, before: Token) -> Result<Outcome, Error> {
        let id = before.id().to_string();
        self.check_id(&id)?;
        self.ensure_from(&id, before, Switch::Enable).await
    }

    /// [`Client::ensure_disabled`] from `before`, the token as the caller read it just now; see
    /// [`Client::ensure_active_from`].
    pub async fn ensure_disabled_from(&self, before: Token) -> Result<Outcome, Error> {
        let id = before.id().to_string();
        self.check_id(&id)?;
        self.ensure_from(&id, before, Switch::Disable).await
    }

    pub(crate) async fn ensure(&self, id: &str, switch: Switch) -> Result<Outcome, Error> {
        self.check_id(id)?;
        let before = self.get(id).await?;
        self.ensure_from(id, before, switch).await
    }

    /// [`Client::ensure`] from the state `before`, read by this call. The evidence rules are on
    /// [`Outcome`].
    pub(crate) async fn ensure_from(
        &self,
        id: &str,
        before: Token,
        switch: Switch,
    ) -> Result<Outcome, Error> {
        let (action, target) = (switch.action(), switch.target());
        if before.status() == target {
            return Ok(Outcome::Unchanged(before));
        }
        if !before.can(action) {
            return Err(Error::UnexpectedState {
                id: id.to_string(),
                status: before.status(),
            });
        }
        let outcome = match self.send_switch(id, switch).await? {
            Sent::Answered(t) => {
                // A 2xx: on a platform that refuses no-ops, this call changed it; the revision
                // must have moved since it was read.
                let moved = match (before.revision(), t.revision()) {
                    (Some(b), Some(a)) => a > b,
                    _ => true,
                };
                if moved && self.noop_transitions() == NoopTransitions::Refused {
                    Outcome::Changed(t)
                } else {
                    Outcome::Unconfirmed(t)
                }
            }
            Sent::Refused {
                current,
                problem,
                earlier,
            } => {
                if current.status() == target && earlier {
                    // This call's earlier attempt (its answer lost, or a 429 or 503 that does
                    // not prove it undone), or another caller, did it.
                    Outcome::Unconfirmed(current)
                } else if current.status() == target {
                    // Refused as a no-op: another caller got there first.
                    Outcome::Unchanged(current)
                } else if !current.can(action) {
                    return Err(Error::UnexpectedState {
                        id: id.to_string(),
                        status: current.status(),
                    });
                } else {
                    return Err(Error::BadRequest(problem));
                }
            }
            Sent::Lost { current, .. } if current.status() == target => {
                Outcome::Unconfirmed(current)
            }
            Sent::Lost { source, .. } => return Err(source),
            Sent::RefusedUnread {
                problem,
                earlier,
                read,
            } => refused_unread(id, before, switch, problem, earlier, read)?,
        };
        // Never `Ok` with a token outside the wanted state.
        match outcome.token().status() {
            status if status == target => Ok(outcome),
            status => Err(Error::UnexpectedState {
                id: id.to_string(),
                status,
            }),
        }
    }
}

/// [`Client::ensure_from`]'s outcome when the change was refused and the token could not be read
/// back: the refusal's own words, when they state the token is in the wanted state (`… is
/// Disabled; it cannot be disabled.`), are the evidence of its state: `Unconfirmed` after an
/// attempt whose answer was lost, or a `429` or `503` (that attempt, or another caller, did
/// it), else `Unchanged`
/// (refused as a no-op). Otherwise, after a lost answer, the change may have happened
/// ([`Error::OutcomeUnknown`]); with none lost, the refusal stands.
fn refused_unread(
    id: &str,
    before: Token,
    switch: Switch,
    problem: Box<Problem>,
    earlier: bool,
    read: Error,
) -> Result<Outcome, Error> {
    let target = switch.target();
    match problem.stated_status(id) {
        Some(stated) if stated == target => {
            let token = before.in_stated_state(stated);
            Ok(if earlier {
                Outcome::Unconfirmed(token)
            } else {
                Outcome::Unchanged(token)
            })
        }
        _ if earlier => Err(Error::OutcomeUnknown {
            id: id.to_string(),
            action: switch.action(),
            source: Box::new(Error::BadRequest(problem)),
            read: Box::new(read),
        }),
        _ => Err(Error::BadRequest(problem)),
    }
}

/// The two transitions [`Client::switch`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    Enable,
    Disable,
}

impl Switch {
    pub(crate) fn action(self) -> Action {
        match self {
            Switch::Enable => Action::Enable,
            Switch::Disable => Action::Disable,
        }
    }

    pub(crate) fn target(self) -> TokenStatus {
        match self {
            Switch::Enable => TokenStatus::Active,
            Switch::Disable => TokenStatus::Disabled,
        }
    }
}

/// What one transition request did, as far as its answers and a read back tell.
enum Sent {
    /// The platform answered 2xx (the token as answered, or as read back when the body was
    /// unreadable).
    Answered(Token),
    /// The platform refused it; `current` is the token read back; `earlier`: nothing proves
    /// that an earlier attempt of the call did nothing (it may have done it).
    Refused {
        current: Token,
        problem: Box<Problem>,
        earlier: bool,
    },
    /// No answer could be read on any attempt; `current` is the token read back.
    Lost { current: Token, source: Error },
    /// The platform refused it, and reading the token back failed (`read`).
    RefusedUnread {
        problem: Box<Problem>,
        earlier: bool,
        read: Error,
    },
}
