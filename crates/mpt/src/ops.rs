//! The operations that read, make, change and delete one token (enabling and disabling are in
//! `lifecycle.rs`, bulk work in `bulk.rs`).

use chrono::{DateTime, Utc};
use futures_core::Stream;

use crate::client::Client;
use crate::error::Error;
use crate::filter::Filter;
use crate::hooks::CallState;
use crate::list::{ListRequest, wants_secret, without_secret};
use crate::redact::redact;
use crate::request::{NewToken, TokenUpdate};
use crate::status::{Action, TokenStatus};
use crate::throttled::Found;
use crate::token::{CreatedToken, Token, TokenRef};

/// Refuses, before anything is sent, an id shaped like a token secret (`idt:TKN-…:…`, shown
/// redacted), and an id that would not stay in its path segment: empty, `.` or `..` (a URL
/// resolves them to the parent path), or holding `/`, `\`, `?`, `#` or a control character.
pub(crate) fn check_id(id: &str) -> Result<(), Error> {
    let refused = |c: char| matches!(c, '/' | '\\' | '?' | '#') || c.is_control();
    // One pass over an ASCII id (every id the platform makes): a refused byte, and whether it
    // holds an `i` at all (a secret's `idt` starts with one).
    let (bad_char, maybe_secret) =
        ascii_scan(id).unwrap_or_else(|| (id.chars().any(refused), true));
    let bad = bad_char || id.is_empty() || id == "." || id == "..";
    if maybe_secret && crate::redact::holds_secret_shape(id) {
        // A secret pasted where an id belongs: never sent (it would travel in the URL), never
        // shown.
        return Err(Error::InvalidRequest(format!(
            "invalid token id {:?}: it is shaped like a token secret (idt:TKN-…:…), which is never sent as an id; give the token's id (TKN-…)",
            redact(id)
        )));
    }
    if bad {
        return Err(Error::InvalidRequest(format!(
            "invalid token id {:?}: an id is non-empty, not `.` or `..`, and holds no `/`, `\\`, `?`, `#` or control characters",
            redact(id)
        )));
    }
    Ok(())
}

/// The ASCII bytes an id may not hold: `/`, `\`, `?`, `#` and the control characters.
const REFUSED_BYTES: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[0x7f] = true;
    table[b'/' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'?' as usize] = true;
    table[b'#' as usize] = true;
    table
};

/// For an ASCII `id`: whether it holds a refused byte, and whether it holds an `i` or `I`;
/// `None` when it is not ASCII.
fn ascii_scan(id: &str) -> Option<(bool, bool)> {
    let (mut bad, mut has_i) = (false, false);
    for &b in id.as_bytes() {
        let ascii = REFUSED_BYTES.get(usize::from(b))?;
        bad |= *ascii;
        has_i |= b | 0x20 == b'i';
    }
    Some((bad, has_i))
}

/// Fails with `InvalidTransition` when `token`'s known state does not allow `action`.
pub(crate) fn guard(token: &impl TokenRef, action: Action) -> Result<(), Error> {
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

/// What a read selects.
enum Select {
    /// Everything but the secret ([`NO_SECRET`]).
    NoSecret,
    /// These fields (the secret deselected unless named).
    Fields(String),
    /// The default fields, the secret included.
    All,
}

/// The query of a read that keeps the secret off the wire, as the platform takes it.
const NO_SECRET: (&str, &str) = ("select", "-token");

impl Client {
    /// Remembers another secret this process knows (one this client is not given: a
    /// replacement's secret read from a file, another credential): from now on it is
    /// redacted by value from every text the client shows (errors, traces), as the API secret
    /// is, and refused as a token id (never sent in a URL). Shorter than 4 characters, it is
    /// ignored.
    pub fn withhold(&self, secret: &str) {
        self.layer().redactor.remember(secret);
    }

    /// [`check_id`], then an id holding a secret this client knows (its API secret, a token
    /// secret it handled, one it was told to [`withhold`](Client::withhold)), whatever its
    /// shape: refused before anything is sent, and shown redacted.
    pub(crate) fn check_id(&self, id: &str) -> Result<(), Error> {
        // The known secrets first: an id refused for its characters (a JSON-escaped secret's
        // backslashes) is shown redacted by value too, not by shape alone.
        let redactor = &self.layer().redactor;
        if redactor.holds_known(id) {
            return Err(Error::InvalidRequest(format!(
                "invalid token id {:?}: it holds a secret (the API secret, or a token's), which is never sent as an id; give the token's id (TKN-…)",
                redactor.redact(id)
            )));
        }
        check_id(id)
    }

    /// Lists tokens: add a filter, order, select, page size, then `.stream()`, `.count()` or
    /// `.collect()`.
    pub fn list(&self) -> ListRequest {
        ListRequest::new(self.clone())
    }

    /// One token, without its secret: the request deselects it (`select=-token`), and a secret
    /// a server sends anyway is dropped. Use [`Client::get_with_secret`] to read it.
    pub async fn get(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.read(token.token_id(), Select::NoSecret, false).await
    }

    /// One token with its secret (the platform returns it on reads when asked).
    pub async fn get_with_secret(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.read(token.token_id(), Select::All, true).await
    }

    /// One token with its `audit` (creation and last change: [`Token::created_at`],
    /// [`Token::updated_at`]), which a plain read leaves out; no secret.
    pub async fn get_with_audit(&self, token: impl TokenRef) -> Result<Token, Error> {
        self.get_with_select(token, ["+audit"]).await
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
        self.read(token.token_id(), Select::Fields(fields.join(",")), wants)
            .await
    }

    async fn read(&self, id: &str, select: Select, wants_secret: bool) -> Result<Token, Error> {
        self.check_id(id)?;
        let mut request = self.api().get_api_token().id(id);
        let call = match select {
            // The common read: the constant query goes on as it is (no serializing per call).
            Select::NoSecret => CallState::token_with_pair(id, NO_SECRET),
            Select::Fields(select) => {
                request = request.select(select);
                CallState::token(id)
            }
            Select::All => CallState::token(id),
        };
        let token = Token::from_boxed(self.send(call, Box::pin(request.send())).await?);
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
    ///
    /// A create answered `429` or `503` (which a gateway can send after the platform made the
    /// token) is looked for first, and sent again (after its `Retry-After`, within the retry
    /// policy) only when the look found nothing it made. A gateway that answered so may still
    /// forward the refused send later: [`CreatedToken::other_sends`] says how many such sends
    /// there were, each of which may yet land as a second token of this account, name and
    /// description.
    pub async fn create(&self, new: &NewToken) -> Result<CreatedToken, Error> {
        new.to_body()?;
        let before = self.ids_named(new.account_id(), new.name()).await?;
        self.create_excluding(new, &before).await
    }

    /// [`Client::create`] with the ids recorded before the call given (by
    /// [`Client::ids_named_at`]): a candidate of an unconfirmed create
    /// ([`Error::CreateUnconfirmed`]) is a token outside them.
    pub async fn create_excluding(
        &self,
        new: &NewToken,
        before: &[String],
    ) -> Result<CreatedToken, Error> {
        let (mut sent, mut refused) = (0, None);
        let mut raw = loop {
            let send = self.api().create_api_token().body(new.to_body()?).send();
            sent += 1;
            let refusal = match self.send(CallState::not_idempotent(), Box::pin(send)).await {
                Ok(raw) => break raw,
                // A resend stopped by the guard: the earlier attempts went, and were refused
                // (the look found nothing they made).
                Err(Error::GuardFailed {
                    reason, sent: 0, ..
                }) if refused.is_some() => {
                    return Err(Error::GuardFailed {
                        reason,
                        sent: sent - 1,
                        last_status: refused,
                        maybe_done: false,
                    });
                }
                Err(e) if e.may_have_reached_server() => {
                    let e = self.unconfirmed_create(new, before, e).await;
                    return Err(crate::throttled::with_other_sends(e, sent - 1));
                }
                // A 429 or 503 (or a throttling 403): a gateway may answer so after the
                // platform made the token, so it is looked for before any resend.
                Err(e @ Error::RateLimited { .. }) => e,
                Err(e) => return Err(e),
            };
            refused = refusal.status();
            let wait = self.wait_before_resend(&refusal, sent);
            if let Some(wait) = wait
                && !self.pause(wait).await
            {
                return Err(refusal);
            }
            match self.look_after_refusal(new, before, refusal).await {
                // Made by one of the sends: the others may still land.
                Found::Ours(made) => {
                    return Ok(CreatedToken {
                        other_sends: sent - 1,
                        ..*made
                    });
                }
                Found::Unsure(e) => return Err(crate::throttled::with_other_sends(e, sent - 1)),
                Found::Nothing(_) if wait.is_some() => continue,
                Found::Nothing(refusal) => return Err(refusal),
            }
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
            token: Token::from_boxed(raw),
            secret,
            // The earlier sends were refused (429 or 503), and may still land.
            other_sends: sent - 1,
        })
    }

    /// The error for a create that may have reached the platform: the tokens it may have made.
    async fn unconfirmed_create(&self, new: &NewToken, before: &[String], source: Error) -> Error {
        match self
            .made_excluding(new.account_id(), new.name(), before)
            .await
        {
            Ok(tokens) => crate::throttled::unconfirmed(new, tokens, None, source),
            Err(e) => crate::throttled::unconfirmed(new, Vec::new(), Some(e), source),
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

    /// The ids of the tokens named `name` in `account_id` (one listing, no secrets), with the
    /// platform's time of the answer (its `Date`): what a create records before it is sent, so
    /// that what it made can be told apart ([`Client::create_excluding`],
    /// [`Client::made_excluding`]).
    pub async fn ids_named_at(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<(Vec<String>, Option<DateTime<Utc>>), Error> {
        let at: crate::list::ServerTime = Default::default();
        let tokens = self
            .list()
            .filter(Filter::account(account_id).and(Filter::name(name)))
            .record_server_time(at.clone())
            .collect()
            .await?;
        let at = at.lock().ok().and_then(|t| *t);
        Ok((tokens.iter().map(|t| t.id().to_string()).collect(), at))
    }

    /// The tokens named `name` in `account_id` whose ids are not in `known` (and are not
    /// Deleted), with their audit and secrets (remembered for redaction): what a create sent
    /// after `known` was recorded may have made. The account and name are checked on the
    /// client too.
    pub async fn made_excluding(
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
                // The account and name are checked here too: a server that ignored the filter
                // must not make another account's or name's token look like ours.
                !t.id().is_empty()
                    && t.account_id() == Some(account_id)
                    && t.name() == Some(name)
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
    ///
    /// The update is taken by value or by reference (`update(id, change)` or
    /// `update(id, &change)`).
    pub async fn update(
        &self,
        token: impl TokenRef,
        update: impl std::borrow::Borrow<TokenUpdate>,
    ) -> Result<Token, Error> {
        let update = update.borrow();
        guard(&token, Action::Update)?;
        let id = token.token_id();
        self.check_id(id)?;
        let send = self
            .api()
            .update_api_token()
            .id(id)
            .body(update.to_delta()?)
            .send();
        Ok(Token::from_boxed(
            self.send(CallState::token(id), Box::pin(send)).await?,
        ))
    }

    /// Deletes a token (Active or Disabled → Deleted; a soft delete: Operations accounts can
    /// still read it). When an earlier attempt may have done it (its answer was lost, or it was
    /// refused with a `429` or `503`, which a gateway may answer after the work) and the
    /// retry finds the token gone or Deleted, this call did it: `Ok`; a 2xx whose body cannot
    /// be read is `Ok` too (the platform said it did it). A token already Deleted
    /// (as an Operations account sees it) is [`Error::InvalidTransition`] from `Deleted`.
    pub async fn delete(&self, token: impl TokenRef) -> Result<(), Error> {
        guard(&token, Action::Delete)?;
        let id = token.token_id();
        self.check_id(id)?;
        let send = self.api().delete_api_token().id(id).send();
        let (result, trail) = self
            .send_with_trail(CallState::token(id), Box::pin(send))
            .await;
        // An earlier attempt not proven undone (its answer lost, a 429 or 503) may have deleted
        // it: the refusals below are then no evidence that it was gone before.
        match (result, trail.unproven) {
            (Err(Error::NotFound(_)), true) => Ok(()),
            // A 2xx whose body is cut off or not the documented one: the platform did it.
            (Err(e), _) if e.answered_success() => Ok(()),
            (Err(Error::BadRequest(problem)), earlier) => match self.get(id).await {
                Ok(current) if current.status() == TokenStatus::Deleted && earlier => Ok(()),
                Ok(current) if current.status() == TokenStatus::Deleted => {
                    Err(Error::InvalidTransition {
                        id: id.to_string(),
                        from: TokenStatus::Deleted,
                        action: Action::Delete,
                    })
                }
                Ok(_) => Err(Error::BadRequest(problem)),
                // Not read back after a lost answer: the refusal's words saying it is Deleted
                // are the evidence that the lost attempt (or another caller) deleted it; else
                // it may have happened.
                Err(_) if earlier && problem.stated_status(id) == Some(TokenStatus::Deleted) => {
                    Ok(())
                }
                Err(read) if earlier => Err(Error::OutcomeUnknown {
                    id: id.to_string(),
                    action: Action::Delete,
                    source: Box::new(Error::BadRequest(problem)),
                    read: Box::new(read),
                }),
                Err(_) => Err(Error::BadRequest(problem)),
            },
            (result, _) => result.map(|_| ()),
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

    /// Active tokens not used since `since`, and Active tokens never used, as a lazy stream.
    pub fn stale(
        &self,
        since: DateTime<Utc>,
    ) -> impl Stream<Item = Result<Token, Error>> + Send + Unpin + 'static {
        self.list()
            .filter(
                Filter::status(TokenStatus::Active)
                    .and(Filter::last_access_before(since).or(Filter::never_used())),
            )
            .stream()
    }
}
