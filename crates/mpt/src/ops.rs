//! The seven operations and the token-state helpers built on them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_core::Stream;
use futures_util::{StreamExt, stream};

use crate::client::Client;
use crate::error::{Error, redact};
use crate::hooks::Call;
use crate::list::{Filter, ListRequest, MAX_PAGE_SIZE};
use crate::token::{
    Action, CreatedToken, NewToken, NoopTransitions, Outcome, Token, TokenRef, TokenStatus,
    TokenUpdate,
};

/// Refuses, before anything is sent, an id that would not stay in its path segment: empty,
/// `.` or `..` (a URL resolves them to the parent path), or holding `/`, `\`, `?`, `#` or a
/// control character.
pub(crate) fn check_id(id: &str) -> Result<(), Error> {
    let bad = id.is_empty()
        || id == "."
        || id == ".."
        || id
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '?' | '#') || c.is_control());
    if bad {
        return Err(Error::InvalidRequest(format!(
            "invalid token id {:?}: an id is non-empty, not `.` or `..`, and holds no `/`, `\\`, `?`, `#` or control characters",
            redact(id)
        )));
    }
    Ok(())
}

/// Fails with `InvalidTransition` when `token`'s known state does not allow `action`.
fn guard(token: &impl TokenRef, action: Action) -> Result<(), Error> {
    match token.known_status() {
        Some(from) if !from.available_actions().contains(&action) => {
            Err(Error::InvalidTransition {
                id: token.token_id().to_string(),
                from,
                action,
            })
        }
        _ => Ok(()),
    }
}

impl Client {
    /// Lists tokens: add a filter, order, select, page size, then `.stream()`, `.count()` or
    /// `.collect()`.
    pub fn list(&self) -> ListRequest {
        ListRequest::new(self.clone())
    }

    /// One token, without its secret: the request deselects it (`select=-token`), and a secret
    /// a server sends anyway is dropped. Use [`Client::get_with_secret`] to read it.
    pub async fn get(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.get_with_select(token, [] as [&str; 0]).await
    }

    /// One token with its secret (the platform returns it on reads when asked).
    pub async fn get_with_secret(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.read(token.token_id(), None, true).await
    }

    /// One token with a `select` (e.g. `["-audit"]`); the secret stays out (and is dropped if a
    /// server sends it anyway) unless the select names `token` or `+token`.
    pub async fn get_with_select<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        token: impl TokenRef,
        select: I,
    ) -> Result<Token, Error> {
        let fields: Vec<String> = select.into_iter().map(Into::into).collect();
        let wants = wants_secret(&fields);
        let fields = without_secret(fields);
        self.read(token.token_id(), Some(fields.join(",")), wants)
            .await
    }

    async fn read(
        &self,
        id: &str,
        select: Option<String>,
        wants_secret: bool,
    ) -> Result<Token, Error> {
        check_id(id)?;
        let mut request = self.api().get_api_token().id(id);
        if let Some(select) = select {
            request = request.select(select);
        }
        let token = Token::from_api(self.call(Call::token(id), Box::pin(request.send())).await?);
        Ok(if wants_secret {
            if let Some(secret) = token.secret() {
                self.layer().redactor.remember(secret.expose_secret());
            }
            token
        } else {
            token.without_secret()
        })
    }

    /// Creates a token and returns it with its secret. Never re-sent once the request may have
    /// reached the server, so it cannot make a duplicate.
    ///
    /// Before sending, the ids of the tokens that already have this account and name are
    /// recorded (one list request). When the request may have reached the platform but its
    /// answer was lost or unreadable (a timeout, a connection broken after sending, an answer
    /// that does not decode, a 500, 502 or 504), the error is [`Error::CreateUnconfirmed`]
    /// with the tokens of this account and name that are not in that record (so none of them
    /// existed before the call), their secrets included when the platform returns them: see
    /// that variant for what to do. Nothing is left behind silently.
    pub async fn create(&self, new: &NewToken) -> Result<CreatedToken, Error> {
        new.to_body()?;
        let before = self.ids_named(new.account_id(), new.name()).await?;
        self.create_excluding(new, &before).await
    }

    /// [`Client::create`] with the ids recorded before the call given: a candidate of an
    /// unconfirmed create is a token outside them.
    pub(crate) async fn create_excluding(
        &self,
        new: &NewToken,
        before: &[String],
    ) -> Result<CreatedToken, Error> {
        let send = self.api().create_api_token().body(new.to_body()?).send();
        let mut raw = match self.call(Call::not_idempotent(), Box::pin(send)).await {
            Ok(raw) => raw,
            Err(e) if e.may_have_reached_server() => {
                return Err(self.unconfirmed_create(new, before, e).await);
            }
            Err(e) => return Err(e),
        };
        let Some(secret) = raw.token.take() else {
            let e = Error::Decode {
                status: 201,
                message: "the create answer carries no `token` secret".into(),
                snippet: String::new(),
            };
            return Err(self.unconfirmed_create(new, before, e).await);
        };
        self.layer().redactor.remember(secret.expose_secret());
        Ok(CreatedToken {
            token: Token::from_api(raw),
            secret,
        })
    }

    /// The error for a create that may have reached the platform: the tokens it may have made.
    async fn unconfirmed_create(&self, new: &NewToken, before: &[String], source: Error) -> Error {
        let (candidates, lookup) = match self
            .made_excluding(new.account_id(), new.name(), before)
            .await
        {
            Ok(tokens) => (tokens, None),
            Err(e) => (Vec::new(), Some(Box::new(e))),
        };
        Error::CreateUnconfirmed {
            account_id: new.account_id().to_string(),
            name: new.name().to_string(),
            candidates,
            lookup,
            source: Box::new(source),
        }
    }

    /// The ids of the tokens named `name` in `account_id` (no secrets fetched).
    pub(crate) async fn ids_named(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<Vec<String>, Error> {
        let tokens = self
            .list()
            .filter(Filter::account(account_id).and(Filter::name(name)))
            .collect()
            .await?;
        Ok(tokens.iter().map(|t| t.id().to_string()).collect())
    }

    /// The tokens named `name` in `account_id` whose ids are not in `known` (and are not
    /// Deleted), with their secrets, which are remembered for redaction.
    pub(crate) async fn made_excluding(
        &self,
        account_id: &str,
        name: &str,
        known: &[String],
    ) -> Result<Vec<Token>, Error> {
        let tokens = self
            .list()
            .filter(Filter::account(account_id).and(Filter::name(name)))
            .select(["+audit"])
            .with_secrets()
            .collect()
            .await?;
        Ok(tokens
            .into_iter()
            .filter(|t| {
                !t.id().is_empty()
                    && !known.iter().any(|k| k == t.id())
                    && t.status() != TokenStatus::Deleted
            })
            .inspect(|t| {
                if let Some(secret) = t.secret() {
                    self.layer().redactor.remember(secret.expose_secret());
                }
            })
            .collect())
    }

    /// Applies a delta update (only what `update` sets is sent).
    pub async fn update(&self, token: impl TokenRef, update: &TokenUpdate) -> Result<Token, Error> {
        guard(&token, Action::Update)?;
        let id = token.token_id();
        check_id(id)?;
        let send = self
            .api()
            .update_api_token()
            .id(id)
            .body(update.to_delta()?)
            .send();
        Ok(Token::from_api(
            self.call(Call::token(id), Box::pin(send)).await?,
        ))
    }

    /// Deletes a token (Active or Disabled → Deleted; a soft delete: Operations accounts can
    /// still read it). When an earlier attempt may have done it (its answer was lost) and the
    /// retry finds the token gone or Deleted, this call did it: `Ok`. A token already Deleted
    /// (as an Operations account sees it) is [`Error::InvalidTransition`] from `Deleted`.
    pub async fn delete(&self, token: impl TokenRef) -> Result<(), Error> {
        guard(&token, Action::Delete)?;
        let id = token.token_id();
        check_id(id)?;
        let send = self.api().delete_api_token().id(id).send();
        match self.call_tracked(Call::token(id), Box::pin(send)).await {
            (Err(Error::NotFound(_)), true) => Ok(()),
            (Err(Error::BadRequest(problem)), earlier) => match self.get(id).await {
                Ok(current) if current.status() == TokenStatus::Deleted && earlier => Ok(()),
                Ok(current) if current.status() == TokenStatus::Deleted => {
                    Err(Error::InvalidTransition {
                        id: id.to_string(),
                        from: TokenStatus::Deleted,
                        action: Action::Delete,
                    })
                }
                _ => Err(Error::BadRequest(problem)),
            },
            (result, _) => result,
        }
    }

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
        check_id(id)?;
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
        }
    }

    /// Sends one enable or disable (retried under the policy), and reads the token back where
    /// the answers cannot tell what happened: a 2xx whose body was unreadable, a refusal (to
    /// say why in lifecycle terms), every answer lost.
    async fn send_switch(&self, id: &str, switch: Switch) -> Result<Sent, Error> {
        let api = self.api();
        let (result, earlier) = match switch {
            Switch::Enable => {
                let send = api.enable_api_token().id(id).send();
                self.call_tracked(Call::token(id), Box::pin(send)).await
            }
            Switch::Disable => {
                let send = api.disable_api_token().id(id).send();
                self.call_tracked(Call::token(id), Box::pin(send)).await
            }
        };
        let source = match result {
            Ok(raw) => return Ok(Sent::Answered(Token::from_api(raw))),
            Err(Error::BadRequest(problem)) => {
                return match self.get(id).await {
                    Ok(current) => Ok(Sent::Refused {
                        current,
                        problem,
                        earlier,
                    }),
                    Err(_) => Err(Error::BadRequest(problem)),
                };
            }
            Err(e) if e.answered_success() || e.may_have_reached_server() || earlier => e,
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

    async fn ensure(&self, id: &str, switch: Switch) -> Result<Outcome, Error> {
        check_id(id)?;
        let before = self.get(id).await?;
        self.ensure_from(id, before, switch).await
    }

    /// [`Client::ensure`] from the state `before`, read by this call. The evidence rules are on
    /// [`Outcome`].
    async fn ensure_from(&self, id: &str, before: Token, switch: Switch) -> Result<Outcome, Error> {
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
                    // This call's earlier attempt, or another caller, did it.
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

    /// Deletes a token unless it is already gone (not found, or Deleted). Returns whether this
    /// call deleted it.
    pub async fn delete_if_exists(&self, token: impl TokenRef) -> Result<bool, Error> {
        if token.known_status() == Some(TokenStatus::Deleted) {
            return Ok(false);
        }
        match self.delete(token.token_id()).await {
            Ok(()) => Ok(true),
            Err(Error::NotFound(_))
            | Err(Error::InvalidTransition {
                from: TokenStatus::Deleted,
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Makes sure each token is Active ([`Client::ensure_active`]), `concurrency` at a time; one
    /// result per token, in the given order. Takes ids or tokens (`&str`, `String`, `Token`,
    /// `&Token`, ...). The states are read first, up to 100 tokens with one list request (a
    /// token the list does not show is read on its own); a change is sent only for tokens not
    /// in the wanted state yet.
    pub async fn ensure_active_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.ensure_many(tokens, concurrency, Switch::Enable).await
    }

    /// Makes sure each token is Disabled ([`Client::ensure_disabled`]); see
    /// [`Client::ensure_active_many`].
    pub async fn ensure_disabled_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.ensure_many(tokens, concurrency, Switch::Disable).await
    }

    /// [`Client::ensure_active_many`] under its former name.
    #[deprecated(
        since = "0.2.0",
        note = "renamed `ensure_active_many`: it runs `ensure_active`"
    )]
    pub async fn enable_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.ensure_active_many(tokens, concurrency).await
    }

    /// [`Client::ensure_disabled_many`] under its former name.
    #[deprecated(
        since = "0.2.0",
        note = "renamed `ensure_disabled_many`: it runs `ensure_disabled`"
    )]
    pub async fn disable_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.ensure_disabled_many(tokens, concurrency).await
    }

    async fn ensure_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
        switch: Switch,
    ) -> BulkReport<Outcome> {
        let ids: Vec<String> = tokens
            .into_iter()
            .map(|t| t.token_id().to_string())
            .collect();
        let chunks: Vec<Vec<String>> = ids
            .chunks(MAX_PAGE_SIZE as usize)
            .map(<[String]>::to_vec)
            .collect();
        let results: Vec<(usize, String, Result<Outcome, Error>)> = stream::iter(chunks)
            .then(|chunk| async move {
                let mut states = if self.cancelled() {
                    HashMap::new()
                } else {
                    self.states_of(&chunk).await
                };
                let known: Vec<(String, Option<Token>)> = chunk
                    .into_iter()
                    .map(|id| {
                        let before = states.remove(&id);
                        (id, before)
                    })
                    .collect();
                stream::iter(known)
            })
            .flatten()
            .enumerate()
            .map(|(i, (id, before))| async move {
                // Checked as the request is scheduled: once cancelled, nothing more is sent.
                let result = match before {
                    _ if self.cancelled() => Err(Error::Cancelled),
                    Some(before) => self.ensure_from(&id, before, switch).await,
                    None => self.ensure(&id, switch).await,
                };
                (i, id, result)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        BulkReport::in_order(results)
    }

    /// The current states of these tokens, read with one list request; empty when that fails
    /// (each token is then read on its own).
    async fn states_of(&self, ids: &[String]) -> HashMap<String, Token> {
        let valid: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| check_id(id).is_ok())
            .collect();
        if valid.is_empty() {
            return HashMap::new();
        }
        match self.list().filter(Filter::id_in(valid)).collect().await {
            Ok(tokens) => tokens
                .into_iter()
                .map(|t| (t.id().to_string(), t))
                .collect(),
            Err(_) => HashMap::new(),
        }
    }

    /// Deletes each token unless already gone, `concurrency` at a time; `Ok(true)` where this
    /// call deleted it.
    pub async fn delete_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<bool> {
        self.bulk(tokens, concurrency, |c, token| async move {
            c.delete_if_exists(&token).await
        })
        .await
    }

    async fn bulk<T, I, S, F, Fut>(&self, tokens: I, concurrency: usize, f: F) -> BulkReport<T>
    where
        I: IntoIterator<Item = S>,
        S: TokenRef,
        F: Fn(Client, Known) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let known: Vec<Known> = tokens
            .into_iter()
            .map(|t| Known {
                id: t.token_id().to_string(),
                status: t.known_status(),
            })
            .collect();
        let results: Vec<(usize, String, Result<T, Error>)> =
            stream::iter(known.into_iter().enumerate())
                .map(|(i, token)| {
                    let id = token.id.clone();
                    let fut = f(self.clone(), token);
                    async move {
                        // Checked as the request is scheduled: once cancelled, nothing more is
                        // sent.
                        let result = if self.cancelled() {
                            Err(Error::Cancelled)
                        } else {
                            fut.await
                        };
                        (i, id, result)
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        BulkReport::in_order(results)
    }

    /// Active tokens not used since `since`, and Active tokens never used, as a lazy stream.
    pub fn stale(
        &self,
        since: DateTime<Utc>,
    ) -> impl Stream<Item = Result<Token, Error>> + Send + 'static {
        self.list()
            .filter(
                Filter::status(TokenStatus::Active)
                    .and(Filter::last_access_before(since).or(Filter::never_used())),
            )
            .stream()
    }
}

/// The two transitions [`Client::switch`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    Enable,
    Disable,
}

impl Switch {
    fn action(self) -> Action {
        match self {
            Switch::Enable => Action::Enable,
            Switch::Disable => Action::Disable,
        }
    }

    fn target(self) -> TokenStatus {
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
    /// The platform refused it; `current` is the token read back; `earlier`: an earlier
    /// attempt of the call may have reached the platform.
    Refused {
        current: Token,
        problem: Box<crate::error::Problem>,
        earlier: bool,
    },
    /// No answer could be read on any attempt; `current` is the token read back.
    Lost { current: Token, source: Error },
}

/// A token as a bulk call got it: its id, and its state if known.
pub(crate) struct Known {
    id: String,
    status: Option<TokenStatus>,
}

impl TokenRef for Known {
    fn token_id(&self) -> &str {
        &self.id
    }

    fn known_status(&self) -> Option<TokenStatus> {
        self.status.clone()
    }
}

/// Whether `select` items ask for the secret.
pub(crate) fn wants_secret(fields: &[String]) -> bool {
    fields.iter().any(|f| f == "token" || f == "+token") && !fields.iter().any(|f| f == "-token")
}

/// `select` items with `-token` added, unless they ask for the secret.
pub(crate) fn without_secret(mut fields: Vec<String>) -> Vec<String> {
    if !wants_secret(&fields) && !fields.iter().any(|f| f == "-token") {
        fields.push("-token".into());
    }
    fields
}

/// The ids a bulk operation failed for, with their errors: an error type, so that
/// [`BulkReport::into_result`] works with `?` in a function returning
/// `Result<_, Box<dyn std::error::Error>>` (or `anyhow::Result`).
#[derive(Debug)]
pub struct Failures(pub Vec<(String, Error)>);

impl Failures {
    /// The failed ids with their errors, in the order the ids were given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.0.iter().map(|(id, e)| (id.as_str(), e))
    }

    /// How many ids failed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none failed (never, for a value from [`BulkReport::into_result`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Failures {
    /// `2 ids failed: TKN-1: 404 Not Found ...; TKN-2: ...` (the first five).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        write!(f, "{n} id{} failed: ", if n == 1 { "" } else { "s" })?;
        for (i, (id, e)) in self.0.iter().take(5).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{id}: {e}")?;
        }
        if n > 5 {
            write!(f, "; and {} more", n - 5)?;
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}

impl IntoIterator for Failures {
    type Item = (String, Error);
    type IntoIter = std::vec::IntoIter<(String, Error)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// What a bulk operation did to each id. Partial failure is normal: every id has its result.
/// Iterating it (owned or borrowed) yields `(id, result)` in the order the ids were given.
#[derive(Debug)]
pub struct BulkReport<T> {
    /// `(id, result)` in the order the ids were given.
    pub results: Vec<(String, Result<T, Error>)>,
}

impl<T> BulkReport<T> {
    /// The report of results numbered in the order their ids were given.
    fn in_order(mut numbered: Vec<(usize, String, Result<T, Error>)>) -> BulkReport<T> {
        numbered.sort_by_key(|r| r.0);
        BulkReport {
            results: numbered
                .into_iter()
                .map(|(_, id, result)| (id, result))
                .collect(),
        }
    }

    /// Whether every id succeeded.
    pub fn is_complete(&self) -> bool {
        self.results.iter().all(|(_, r)| r.is_ok())
    }

    /// `(id, result)` in the order the ids were given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Result<T, Error>)> {
        self.results.iter().map(|(id, r)| (id.as_str(), r))
    }

    /// The ids that succeeded, with their results.
    pub fn succeeded(&self) -> impl Iterator<Item = (&str, &T)> {
        self.results
            .iter()
            .filter_map(|(id, r)| r.as_ref().ok().map(|t| (id.as_str(), t)))
    }

    /// The ids that failed, with their errors.
    pub fn failed(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.results
            .iter()
            .filter_map(|(id, r)| r.as_ref().err().map(|e| (id.as_str(), e)))
    }

    /// Every result when all succeeded, else every failure ([`Failures`], an error type: `?`
    /// works in a function returning `Result<_, Box<dyn std::error::Error>>`).
    pub fn into_result(self) -> Result<Vec<(String, T)>, Failures> {
        let (ok, failed): (Vec<_>, Vec<_>) = self.results.into_iter().partition(|(_, r)| r.is_ok());
        if failed.is_empty() {
            Ok(ok
                .into_iter()
                .filter_map(|(id, r)| r.ok().map(|t| (id, t)))
                .collect())
        } else {
            Err(Failures(
                failed
                    .into_iter()
                    .filter_map(|(id, r)| r.err().map(|e| (id, e)))
                    .collect(),
            ))
        }
    }
}

impl<T> IntoIterator for BulkReport<T> {
    type Item = (String, Result<T, Error>);
    type IntoIter = std::vec::IntoIter<(String, Result<T, Error>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.results.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a BulkReport<T> {
    type Item = &'a (String, Result<T, Error>);
    type IntoIter = std::slice::Iter<'a, (String, Result<T, Error>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.results.iter()
    }
}
