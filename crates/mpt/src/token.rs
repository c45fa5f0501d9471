//! A token as the platform describes it, a freshly created one with its secret, and what every
//! operation takes to name one ([`TokenRef`]).

use chrono::{DateTime, Utc};
use mpt_api::TokenSecret;
use mpt_api::types::ApiToken;
use serde_json::Value;

use crate::status::{Action, TokenStatus};

/// An API token as the platform describes it. `Debug` and serialization never show its secret.
#[derive(Debug, Clone)]
pub struct Token {
    /// Boxed: a token moves through every layer of a call, and the API's type is large.
    raw: Box<ApiToken>,
    status: TokenStatus,
}

impl Token {
    pub(crate) fn from_api(raw: ApiToken) -> Token {
        Token::from_boxed(Box::new(raw))
    }

    /// A token from the API's type, already boxed.
    pub(crate) fn from_boxed(raw: Box<ApiToken>) -> Token {
        let status: TokenStatus = match raw.status.as_ref() {
            Some(s) => s
                .as_str()
                .parse()
                .unwrap_or(TokenStatus::Unknown(String::new())),
            None => TokenStatus::Unknown(String::new()),
        };
        if let TokenStatus::Unknown(s) = &status
            && !s.is_empty()
        {
            tracing::warn!(token_id = raw.id.as_deref().unwrap_or(""), status = %s, "unknown API token status");
        }
        Token { raw, status }
    }

    /// `TKN-dddd-dddd` (empty if the answer had no id, e.g. a `select` without it).
    pub fn id(&self) -> &str {
        self.raw.id.as_deref().unwrap_or("")
    }

    /// Display name.
    pub fn name(&self) -> Option<&str> {
        self.raw.name.as_deref()
    }

    /// Description.
    pub fn description(&self) -> Option<&str> {
        self.raw.description.as_deref()
    }

    /// Icon path.
    pub fn icon(&self) -> Option<&str> {
        self.raw.icon.as_deref()
    }

    /// Lifecycle state.
    pub fn status(&self) -> TokenStatus {
        self.status.clone()
    }

    /// Revision: 1 on create, bumped by every change.
    pub fn revision(&self) -> Option<i32> {
        self.raw.revision
    }

    /// When its secret last authenticated a call (`None`: never, or not selected).
    pub fn last_access_at(&self) -> Option<DateTime<Utc>> {
        self.raw.last_access_at
    }

    /// The owning account's id.
    pub fn account_id(&self) -> Option<&str> {
        self.raw.account.as_ref()?.id.as_deref()
    }

    /// The owning account's name, if the answer carried it.
    pub fn account_name(&self) -> Option<&str> {
        self.raw.account.as_ref()?.name.as_deref()
    }

    /// The owning account's type (`Client`, `Vendor`, `Operations`, or one the platform added).
    pub fn account_type(&self) -> Option<&str> {
        Some(self.raw.account.as_ref()?.type_.as_ref()?.as_str())
    }

    /// The modules it may use, as the platform describes them (id, name, ...).
    pub fn modules(&self) -> &[mpt_api::types::ModuleRef] {
        &self.raw.modules
    }

    /// The ids of the modules it may use.
    pub fn module_ids(&self) -> Vec<&str> {
        self.raw
            .modules
            .iter()
            .filter_map(|m| m.id.as_deref())
            .collect()
    }

    /// When it was created, from the token's `audit`. The platform sends `audit` only when it
    /// is asked for, so this is `None` on a plain read: read with [`Client::get_with_audit`]
    /// or [`ListRequest::with_audit`] to have it.
    ///
    /// [`Client::get_with_audit`]: crate::Client::get_with_audit
    /// [`ListRequest::with_audit`]: crate::ListRequest::with_audit
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.raw.audit.as_ref()?.created.as_ref()?.at
    }

    /// When it was last changed, from the token's `audit`: `None` on a plain read, as
    /// [`Token::created_at`] says.
    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.raw.audit.as_ref()?.updated.as_ref()?.at
    }

    /// Who created it (a user's or token's name), if the answer carried the audit.
    pub fn created_by(&self) -> Option<&str> {
        self.raw
            .audit
            .as_ref()?
            .created
            .as_ref()?
            .by
            .as_ref()?
            .name
            .as_deref()
    }

    /// Who changed it last, if the answer carried the audit.
    pub fn updated_by(&self) -> Option<&str> {
        self.raw
            .audit
            .as_ref()?
            .updated
            .as_ref()?
            .by
            .as_ref()?
            .name
            .as_deref()
    }

    /// Fields the platform sent that the spec does not declare (e.g. `href`), as they came.
    pub fn extra(&self) -> &serde_json::Map<String, Value> {
        &self.raw.extra
    }

    /// The secret, when the answer carried it: on create (see [`CreatedToken`]), and on reads
    /// that asked for it ([`Client::get_with_secret`](crate::Client::get_with_secret),
    /// [`ListRequest::with_secrets`](crate::ListRequest::with_secrets)).
    pub fn secret(&self) -> Option<&TokenSecret> {
        self.raw.token.as_ref()
    }

    /// The actions its state allows.
    pub fn available_actions(&self) -> &'static [Action] {
        self.status.available_actions()
    }

    /// Whether its state allows `action`.
    pub fn can(&self, action: Action) -> bool {
        self.available_actions().contains(&action)
    }

    /// Whether its secret should authenticate (it is Active).
    pub fn is_usable(&self) -> bool {
        self.status == TokenStatus::Active
    }

    /// The generated type underneath, for fields this type has no accessor for.
    pub fn raw(&self) -> &ApiToken {
        &self.raw
    }

    /// The token as read earlier, in the state the platform's refusal stated since (its read
    /// back failed): the status is the platform's word, every other field as read.
    pub(crate) fn in_stated_state(mut self, status: TokenStatus) -> Token {
        self.raw.status = Some(status.as_str().to_string().into());
        self.status = status;
        self
    }

    /// The same token without its secret.
    pub(crate) fn without_secret(mut self) -> Token {
        self.raw.token = None;
        self
    }

    /// The same token with `description` (as an update the platform answered set it).
    pub(crate) fn with_description(mut self, description: Option<&str>) -> Token {
        self.raw.description = description.map(str::to_string);
        self
    }
}

impl<'de> serde::Deserialize<'de> for Token {
    /// Reads the API's JSON (as the platform answers, or as [`Token`] serializes): a `token`
    /// member that is `"[REDACTED]"` (how a token serializes its secret) is left out.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut raw = ApiToken::deserialize(deserializer)?;
        if raw
            .token
            .as_ref()
            .is_some_and(|t| t.expose_secret() == crate::redact::REDACTED)
        {
            raw.token = None;
        }
        Ok(Token::from_api(raw))
    }
}

impl serde::Serialize for Token {
    /// Serializes as the API's JSON, with the secret (if any) replaced by `"[REDACTED]"`, so a
    /// token can be logged as JSON safely.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.raw).map_err(serde::ser::Error::custom)?;
        if let Some(secret) = value.get_mut("token") {
            *secret = Value::String("[REDACTED]".into());
        }
        value.serialize(serializer)
    }
}

/// A freshly created token and its secret (the only time the platform shows it).
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// The token.
    pub token: Token,
    /// Its secret; `Debug` prints `[REDACTED]`.
    pub secret: TokenSecret,
    /// How many sends of this create other than the one that made `token` there were: each
    /// was answered `429` or `503` and a look after it found nothing it made, so the create was
    /// sent again ([`Client::create_excluding`](crate::Client::create_excluding)). `0` for a
    /// create sent once, or a token found otherwise. A gateway can answer so and forward the
    /// request all the same: each of these sends may still land later, as a token of the same
    /// account, name and description (its marker included), whose secret nobody was shown.
    pub other_sends: u32,
}

/// What every operation takes to name a token: an id (`&str`, `String`) or a token whose state
/// is known (`Token`, `CreatedToken`), owned or borrowed. With a known state, transitions are
/// checked before anything is sent.
pub trait TokenRef {
    /// The id.
    fn token_id(&self) -> &str;
    /// The state, if known.
    fn known_status(&self) -> Option<TokenStatus> {
        None
    }
}

impl TokenRef for str {
    fn token_id(&self) -> &str {
        self
    }
}

impl TokenRef for String {
    fn token_id(&self) -> &str {
        self
    }
}

impl TokenRef for Token {
    fn token_id(&self) -> &str {
        self.id()
    }

    fn known_status(&self) -> Option<TokenStatus> {
        Some(self.status()).filter(TokenStatus::is_known)
    }
}

impl TokenRef for CreatedToken {
    fn token_id(&self) -> &str {
        self.token.id()
    }

    fn known_status(&self) -> Option<TokenStatus> {
        self.token.known_status()
    }
}

impl<T: TokenRef + ?Sized> TokenRef for &T {
    fn token_id(&self) -> &str {
        (**self).token_id()
    }

    fn known_status(&self) -> Option<TokenStatus> {
        (**self).known_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializing_a_token_redacts_its_secret() {
        let raw: ApiToken = serde_json::from_value(
            json!({"id": "TKN-1", "status": "Active", "token": "idt:TKN-1:s3cr3t"}),
        )
        .unwrap();
        let token = Token::from_api(raw);
        let json = serde_json::to_string(&token).unwrap();
        assert!(!json.contains("s3cr3t"), "{json}");
        assert!(json.contains("[REDACTED]"));
        assert!(!format!("{token:?}").contains("s3cr3t"));
    }
}
