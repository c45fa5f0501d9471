//! The seven operations and the token-state helpers built on them.

use chrono::{DateTime, Utc};
use futures_core::Stream;
use futures_util::{StreamExt, stream};
use mpt_api::TokenSecret;

use crate::client::Client;
use crate::error::{Error, redact};
use crate::hooks::Call;
use crate::list::{Filter, ListRequest};
use crate::token::{
    Action, CreatedToken, NewToken, Outcome, Token, TokenRef, TokenStatus, TokenUpdate,
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

    /// One token by id.
    pub async fn get(&self, id: &str) -> Result<Token, Error> {
        check_id(id)?;
        let send = self.api().get_api_token().id(id).send();
        Ok(Token::from_api(
            self.call(Call::token(id), Box::pin(send)).await?,
        ))
    }

    /// One token by id with a `select` (e.g. `["-audit"]`).
    pub async fn get_with_select<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        id: &str,
        select: I,
    ) -> Result<Token, Error> {
        check_id(id)?;
        let fields: Vec<String> = select.into_iter().map(Into::into).collect();
        let mut request = self.api().get_api_token().id(id);
        if !fields.is_empty() {
            request = request.select(fields.join(","));
        }
        Ok(Token::from_api(
            self.call(Call::token(id), Box::pin(request.send())).await?,
        ))
    }

    /// Creates a token and returns it with its secret. Never re-sent once the request may have
    /// reached the server, so it cannot make a duplicate: a connection broken after sending is
    /// [`Error::Transport`] or [`Error::Timeout`], and an answer that cannot be read is
    /// [`Error::Decode`]; in those cases the token may or may not exist.
    pub async fn create(&self, new: &NewToken) -> Result<CreatedToken, Error> {
        let send = self.api().create_api_token().body(new.to_body()?).send();
        let mut raw = self.call(Call::not_idempotent(), Box::pin(send)).await?;
        let secret: TokenSecret = raw.token.take().ok_or_else(|| Error::Decode {
            status: 201,
            message: "the create answer carries no `token` secret".into(),
            snippet: String::new(),
        })?;
        self.layer().redactor.remember(secret.expose_secret());
        Ok(CreatedToken {
            token: Token::from_api(raw),
            secret,
        })
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

    /// Deletes a token (Active or Disabled → Deleted).
    pub async fn delete(&self, token: impl TokenRef) -> Result<(), Error> {
        guard(&token, Action::Delete)?;
        let id = token.token_id();
        check_id(id)?;
        let send = self.api().delete_api_token().id(id).send();
        self.call(Call::token(id), Box::pin(send)).await
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
        guard(&token, action)?;
        let id = token.token_id();
        check_id(id)?;
        let api = self.api();
        let result = match action {
            Action::Enable => {
                let send = api.enable_api_token().id(id).send();
                self.call(Call::token(id), Box::pin(send)).await
            }
            _ => {
                let send = api.disable_api_token().id(id).send();
                self.call(Call::token(id), Box::pin(send)).await
            }
        };
        match result.map(Token::from_api) {
            // The platform refused: say why in lifecycle terms if the state explains it.
            Err(Error::BadRequest(problem)) => match self.get(id).await {
                Ok(current) if !current.can(action) => Err(Error::InvalidTransition {
                    id: id.to_string(),
                    from: current.status(),
                    action,
                }),
                _ => Err(Error::BadRequest(problem)),
            },
            other => other,
        }
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
        let before = token.known_status();
        match self.switch(&token, action).await {
            Ok(t) if before.as_ref() == Some(&target) => Ok(Outcome::Unchanged(t)),
            Ok(t) => Ok(Outcome::Changed(t)),
            // Already there (locally known, or the platform refused the no-op): confirm.
            Err(Error::InvalidTransition { from, .. }) if from == target => {
                Ok(Outcome::Unchanged(self.get(token.token_id()).await?))
            }
            Err(e) => Err(e),
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

    /// Rotates a token: creates a replacement with the same account, name, description, icon and
    /// modules, then disables the old one (reversible). Call [`Rotation::finish`] once the new
    /// secret is in use, to delete the old token. If disabling fails, the error
    /// ([`Error::RotationIncomplete`]) still carries the replacement and its secret.
    pub async fn rotate(&self, token: impl TokenRef) -> Result<Rotation, Error> {
        let old = self.get(token.token_id()).await?;
        // Active or already Disabled tokens can be rotated; a Deleted one cannot.
        if old.status() == TokenStatus::Deleted {
            return Err(Error::InvalidTransition {
                id: old.id().to_string(),
                from: TokenStatus::Deleted,
                action: Action::Disable,
            });
        }
        let new = self.create(&NewToken::like(&old)).await?;
        match self.ensure_disabled(&old).await {
            Ok(outcome) => Ok(Rotation {
                old: outcome.token().clone(),
                new,
            }),
            Err(source) => {
                let old_status = match self.get(old.id()).await {
                    Ok(t) => t.status(),
                    Err(_) => old.status(),
                };
                Err(Error::RotationIncomplete {
                    new: Box::new(new),
                    old_id: old.id().to_string(),
                    old_status,
                    source: Box::new(source),
                })
            }
        }
    }

    /// Enables each token, `concurrency` at a time; one result per id, in the given order.
    pub async fn enable_many<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        ids: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.bulk(ids, concurrency, |c, id| async move {
            c.ensure_active(id.as_str()).await
        })
        .await
    }

    /// Disables each token, `concurrency` at a time; one result per id, in the given order.
    pub async fn disable_many<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        ids: I,
        concurrency: usize,
    ) -> BulkReport<Outcome> {
        self.bulk(ids, concurrency, |c, id| async move {
            c.ensure_disabled(id.as_str()).await
        })
        .await
    }

    /// Deletes each token unless already gone, `concurrency` at a time; `Ok(true)` where this
    /// call deleted it.
    pub async fn delete_many<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        ids: I,
        concurrency: usize,
    ) -> BulkReport<bool> {
        self.bulk(ids, concurrency, |c, id| async move {
            c.delete_if_exists(id.as_str()).await
        })
        .await
    }

    async fn bulk<T, I, S, F, Fut>(&self, ids: I, concurrency: usize, f: F) -> BulkReport<T>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        F: Fn(Client, String) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        let mut results: Vec<(usize, String, Result<T, Error>)> =
            stream::iter(ids.into_iter().enumerate())
                .map(|(i, id)| {
                    let fut = f(self.clone(), id.clone());
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

/// A rotation in progress: the replacement is Active, the old token Disabled.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The old token, Disabled.
    pub old: Token,
    /// The replacement, with its secret.
    pub new: CreatedToken,
}

impl Rotation {
    /// Deletes the old token (once the new secret is in use everywhere).
    pub async fn finish(&self, client: &Client) -> Result<(), Error> {
        client.delete_if_exists(self.old.id()).await.map(|_| ())
    }
}

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
}
