//! The seven operations and the token-state helpers built on them.

use chrono::{DateTime, Utc};
use futures_core::Stream;
use futures_util::{StreamExt, stream};

use crate::client::Client;
use crate::error::{Error, redact};
use crate::hooks::Call;
use crate::list::{Filter, ListRequest};
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

    /// One token. The platform's answer leaves the secret out (`select=-token`): use
    /// [`Client::get_with_secret`] to read it.
    pub async fn get(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.get_with_select(token, [] as [&str; 0]).await
    }

    /// One token with its secret (the platform returns it on reads when asked).
    pub async fn get_with_secret(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.read(token.token_id(), None).await
    }

    /// One token with a `select` (e.g. `["-audit"]`); the secret stays out unless the select
    /// names `token` or `+token`.
    pub async fn get_with_select<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        token: impl TokenRef,
        select: I,
    ) -> Result<Token, Error> {
        let fields: Vec<String> = select.into_iter().map(Into::into).collect();
        self.read(token.token_id(), Some(without_secret(fields).join(",")))
            .await
    }

    async fn read(&self, id: &str, select: Option<String>) -> Result<Token, Error> {
        check_id(id)?;
        let mut request = self.api().get_api_token().id(id);
        if let Some(select) = select {
            request = request.select(select);
        }
        Ok(Token::from_api(
            self.call(Call::token(id), Box::pin(request.send())).await?,
        ))
    }

    /// Creates a token and returns it with its secret. Never re-sent once the request may have
    /// reached the server, so it cannot make a duplicate. When the request may have reached the
    /// platform but its answer was lost or unreadable (a timeout, a connection broken after
    /// sending, an answer that does not decode, a 500, 502 or 504), the tokens it may have
    /// made are looked up (same account and name, created since the request started) and the
    /// error is [`Error::CreateUnconfirmed`] with them, their secrets included when the platform
    /// returns them: keep one, delete the others. Nothing is left behind silently.
    pub async fn create(&self, new: &NewToken) -> Result<CreatedToken, Error> {
        let started = chrono::Utc::now();
        let send = self.api().create_api_token().body(new.to_body()?).send();
        let mut raw = match self.call(Call::not_idempotent(), Box::pin(send)).await {
            Ok(raw) => raw,
            Err(e) if e.may_have_reached_server() => {
                return Err(self.unconfirmed_create(new, started, e).await);
            }
            Err(e) => return Err(e),
        };
        let Some(secret) = raw.token.take() else {
            let e = Error::Decode {
                status: 201,
                message: "the create answer carries no `token` secret".into(),
                snippet: String::new(),
            };
            return Err(self.unconfirmed_create(new, started, e).await);
        };
        self.layer().redactor.remember(secret.expose_secret());
        Ok(CreatedToken {
            token: Token::from_api(raw),
            secret,
        })
    }

    /// The error for a create that may have reached the platform: the tokens it may have made.
    async fn unconfirmed_create(
        &self,
        new: &NewToken,
        started: DateTime<Utc>,
        source: Error,
    ) -> Error {
        let (candidates, lookup) =
            match self.made_since(new.account_id(), new.name(), started).await {
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

    /// The tokens named `name` in `account_id` made since `started` (or whose creation time the
    /// answer lacks), with their secrets, which are remembered for redaction. Clocks differ: a
    /// token created up to a minute before `started` counts. Names are not unique, so another
    /// caller's token may be among them: the caller decides.
    pub(crate) async fn made_since(
        &self,
        account_id: &str,
        name: &str,
        started: DateTime<Utc>,
    ) -> Result<Vec<Token>, Error> {
        let since = started - chrono::Duration::seconds(60);
        let tokens = self
            .list()
            .filter(Filter::account(account_id).and(Filter::name(name)))
            .select(["+audit"])
            .with_secrets()
            .collect()
            .await?;
        Ok(tokens
            .into_iter()
            .filter(|t| t.created_at().is_none_or(|at| at >= since))
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

    /// Deletes a token (Active or Disabled → Deleted). When an earlier attempt may have done it
    /// (its answer was lost) and the retry finds the token gone, this call did it: `Ok`.
    pub async fn delete(&self, token: impl TokenRef) -> Result<(), Error> {
        guard(&token, Action::Delete)?;
        let id = token.token_id();
        check_id(id)?;
        let send = self.api().delete_api_token().id(id).send();
        match self.call_tracked(Call::token(id), Box::pin(send)).await {
            (Err(Error::NotFound(_)), true) => Ok(()),
            (result, _) => result,
        }
    }

    /// Enables a token (Disabled → Active). Given a [`Token`], an Active or Deleted one fails
    /// with [`Error::InvalidTransition`] before any request.
    pub async fn enable(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.switch(token, Action::Enable).await
    }

    /// Disables a token (Active → Disabled); see [`Client::enable`].
    pub async fn disable(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.switch(token, Action::Disable).await
    }

    async fn switch(&self, token: impl TokenRef, action: Action) -> Result<Token, Error> {
        self.switch_tracked(token, action).await.0
    }

    /// [`Client::switch`], also telling whether this call's change was carried out by an
    /// earlier attempt whose answer was lost.
    async fn switch_tracked(
        &self,
        token: impl TokenRef,
        action: Action,
    ) -> (Result<Token, Error>, bool) {
        if let Err(e) = guard(&token, action) {
            return (Err(e), false);
        }
        let id = token.token_id();
        if let Err(e) = check_id(id) {
            return (Err(e), false);
        }
        let api = self.api();
        let (result, landed) = match action {
            Action::Enable => {
                let send = api.enable_api_token().id(id).send();
                self.call_tracked(Call::token(id), Box::pin(send)).await
            }
            _ => {
                let send = api.disable_api_token().id(id).send();
                self.call_tracked(Call::token(id), Box::pin(send)).await
            }
        };
        let result = match result.map(Token::from_api) {
            // The platform refused: an earlier attempt whose answer was lost may have done it
            // (then this call did), or the state explains it in lifecycle terms.
            Err(Error::BadRequest(problem)) => match self.get(id).await {
                Ok(current) if landed && Some(current.status()) == action.target() => Ok(current),
                Ok(current) if !current.can(action) => Err(Error::InvalidTransition {
                    id: id.to_string(),
                    from: current.status(),
                    action,
                }),
                _ => Err(Error::BadRequest(problem)),
            },
            other => other,
        };
        (result, landed)
    }

    /// Makes sure a token is Active: enables it if needed. Idempotent and safe to run
    /// concurrently, whether the platform answers a no-op enable with 200 or 400.
    pub async fn ensure_active(&self, token: impl TokenRef) -> Result<Outcome, Error> {
        self.ensure(token, Action::Enable, TokenStatus::Active)
            .await
    }

    /// Makes sure a token is Disabled: disables it if needed; see [`Client::ensure_active`].
    pub async fn ensure_disabled(&self, token: impl TokenRef) -> Result<Outcome, Error> {
        self.ensure(token, Action::Disable, TokenStatus::Disabled)
            .await
    }

    async fn ensure(
        &self,
        token: impl TokenRef,
        action: Action,
        target: TokenStatus,
    ) -> Result<Outcome, Error> {
        let mut before = token.known_status();
        let id = token.token_id();
        let accepted = self.noop_transitions() == NoopTransitions::Accepted;
        if accepted && before.is_none() {
            // A 200 will not tell a no-op from a change: look first.
            let current = self.get(id).await?;
            if current.status() == target {
                return Ok(Outcome::Unchanged(current));
            }
            before = Some(current.status());
        }
        let outcome = match self.switch_tracked(&token, action).await {
            (Ok(t), _) if before.as_ref() == Some(&target) => Outcome::Unchanged(t),
            // An earlier attempt whose answer was lost did it: this call changed it.
            (Ok(t), true) => Outcome::Changed(t),
            (Ok(t), false) if accepted => Outcome::Unconfirmed(t),
            (Ok(t), false) => Outcome::Changed(t),
            // Already there (locally known, or the platform refused the no-op): confirm, and act
            // on the current state if the token passed in was stale.
            (Err(Error::InvalidTransition { from, .. }), _) if from == target => {
                let current = self.get(id).await?;
                if current.status() == target {
                    Outcome::Unchanged(current)
                } else if current.can(action) {
                    Outcome::Changed(self.switch(&current, action).await?)
                } else {
                    Outcome::Unchanged(current)
                }
            }
            // A state this SDK cannot move from (Deleted, or one the platform added).
            (Err(Error::InvalidTransition { from, .. }), _)
                if !from.is_known() || from == TokenStatus::Deleted =>
            {
                return Err(Error::UnexpectedState {
                    id: id.to_string(),
                    status: from,
                });
            }
            (Err(e), _) => return Err(e),
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

    /// Deletes a token unless it is already gone. Returns whether this call deleted it.
    pub async fn delete_if_exists(&self, token: impl TokenRef) -> Result<bool, Error> {
        if token.known_status() == Some(TokenStatus::Deleted) {
            return Ok(false);
        }
        match self.delete(token.token_id()).await {
            Ok(()) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Makes sure each token is Active ([`Client::ensure_active`]), `concurrency` at a time; one
    /// result per token, in the given order. Takes ids or tokens (`&str`, `String`, `Token`,
    /// `&Token`, ...): with a token, its known state spares a request when it is already there.
    pub async fn enable_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.bulk(tokens, concurrency, |c, token| async move {
            c.ensure_active(&token).await
        })
        .await
    }

    /// Makes sure each token is Disabled ([`Client::ensure_disabled`]), `concurrency` at a time;
    /// one result per token, in the given order; see [`Client::enable_many`].
    pub async fn disable_many<I: IntoIterator<Item = S>, S: TokenRef>(
        &self,
        tokens: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.bulk(tokens, concurrency, |c, token| async move {
            c.ensure_disabled(&token).await
        })
        .await
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
        let mut results: Vec<(usize, String, Result<T, Error>)> =
            stream::iter(known.into_iter().enumerate())
                .map(|(i, token)| {
                    let id = token.id.clone();
                    let fut = f(self.clone(), token);
                    async move { (i, id, fut.await) }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        results.sort_by_key(|r| r.0);
        BulkReport {
            results: results
                .into_iter()
                .map(|(_, id, result)| (id, result))
                .collect(),
        }
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

/// `select` items with `-token` added, unless they ask for the secret.
pub(crate) fn without_secret(mut fields: Vec<String>) -> Vec<String> {
    let wants_secret = fields
        .iter()
        .any(|f| f == "token" || f == "+token" || f == "-token");
    if !wants_secret {
        fields.push("-token".into());
    }
    fields
}

/// The ids a bulk operation failed for, with their errors.
pub type Failures = Vec<(String, Error)>;

/// What a bulk operation did to each id. Partial failure is normal: every id has its result.
#[derive(Debug)]
pub struct BulkReport<T> {
    /// `(id, result)` in the order the ids were given.
    pub results: Vec<(String, Result<T, Error>)>,
}

impl<T> BulkReport<T> {
    /// Whether every id succeeded.
    pub fn is_complete(&self) -> bool {
        self.results.iter().all(|(_, r)| r.is_ok())
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

    /// Every result when all succeeded, else every failure: `?` on a bulk call.
    pub fn into_result(self) -> Result<Vec<(String, T)>, Failures> {
        let (ok, failed): (Vec<_>, Vec<_>) = self.results.into_iter().partition(|(_, r)| r.is_ok());
        if failed.is_empty() {
            Ok(ok
                .into_iter()
                .filter_map(|(id, r)| r.ok().map(|t| (id, t)))
                .collect())
        } else {
            Err(failed
                .into_iter()
                .filter_map(|(id, r)| r.err().map(|e| (id, e)))
                .collect())
        }
    }
}
