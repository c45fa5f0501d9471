//! Tokens, their states and lifecycle, and the requests that make or change them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use mpt_api::types::{ApiToken, CreateApiTokenDto, ModuleDto};
use mpt_api::{TokenDelta, TokenSecret};
use serde_json::{Value, json};

use crate::error::Error;

/// A token's lifecycle state. The platform may add states: they arrive as `Unknown`, so the
/// enum needs no `#[non_exhaustive]` (a `match` with an `Unknown(_)` arm covers every future
/// state).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenStatus {
    /// Usable: its secret authenticates.
    Active,
    /// Kept, but its secret is refused until it is enabled again.
    Disabled,
    /// Gone for good.
    Deleted,
    /// A state this SDK does not know (kept as sent; empty if the answer had none).
    Unknown(String),
}

impl TokenStatus {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            TokenStatus::Active => "Active",
            TokenStatus::Disabled => "Disabled",
            TokenStatus::Deleted => "Deleted",
            TokenStatus::Unknown(s) => s,
        }
    }

    /// The actions the lifecycle allows from this state (New → Active; Active ⇄ Disabled;
    /// Active or Disabled → Deleted). Empty for `Deleted` and for unknown states.
    pub fn available_actions(&self) -> &'static [Action] {
        match self {
            TokenStatus::Active => &[Action::Update, Action::Disable, Action::Delete],
            TokenStatus::Disabled => &[Action::Update, Action::Enable, Action::Delete],
            TokenStatus::Deleted | TokenStatus::Unknown(_) => &[],
        }
    }

    /// Whether the state is one this SDK knows (so transitions can be checked locally).
    pub fn is_known(&self) -> bool {
        !matches!(self, TokenStatus::Unknown(_))
    }
}

impl FromStr for TokenStatus {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "Active" => TokenStatus::Active,
            "Disabled" => TokenStatus::Disabled,
            "Deleted" => TokenStatus::Deleted,
            other => TokenStatus::Unknown(other.to_string()),
        })
    }
}

impl fmt::Display for TokenStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenStatus::Unknown(s) if s.is_empty() => f.write_str("(no status)"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// What can be done to a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Change name, description, icon or modules.
    Update,
    /// Disabled → Active.
    Enable,
    /// Active → Disabled.
    Disable,
    /// Active or Disabled → Deleted.
    Delete,
}

impl Action {
    /// The state the action leads to (`Update` keeps the state: `None`).
    pub fn target(self) -> Option<TokenStatus> {
        match self {
            Action::Enable => Some(TokenStatus::Active),
            Action::Disable => Some(TokenStatus::Disabled),
            Action::Delete => Some(TokenStatus::Deleted),
            Action::Update => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Update => "update",
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Delete => "delete",
        })
    }
}

/// An API token as the platform describes it. `Debug` and serialization never show its secret.
#[derive(Debug, Clone)]
pub struct Token {
    raw: ApiToken,
    status: TokenStatus,
}

impl Token {
    pub(crate) fn from_api(raw: ApiToken) -> Token {
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

    /// When it was created.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.raw.audit.as_ref()?.created.as_ref()?.at
    }

    /// When it was last changed.
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

    /// The same token without its secret.
    pub(crate) fn without_secret(mut self) -> Token {
        self.raw.token = None;
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
            .is_some_and(|t| t.expose_secret() == crate::error::REDACTED)
        {
            raw.token = None;
        }
        Ok(Token::from_api(raw))
    }
}

impl From<Outcome> for Token {
    fn from(outcome: Outcome) -> Token {
        outcome.into_token()
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
}

/// A token to create: an account, a name, at least one module.
#[derive(Debug, Clone)]
pub struct NewToken {
    account_id: String,
    name: String,
    description: Option<String>,
    icon: Option<String>,
    modules: Vec<String>,
}

impl NewToken {
    /// A token named `name` in account `account_id` (add at least one module).
    pub fn new(account_id: impl Into<String>, name: impl Into<String>) -> NewToken {
        NewToken {
            account_id: account_id.into(),
            name: name.into(),
            description: None,
            icon: None,
            modules: Vec::new(),
        }
    }

    /// A copy of `token`'s account, name, description, icon and modules (for rotation).
    pub fn like(token: &Token) -> NewToken {
        NewToken {
            account_id: token.account_id().unwrap_or_default().to_string(),
            name: token.name().unwrap_or_default().to_string(),
            description: token.description().map(String::from),
            icon: token.icon().filter(|i| !i.is_empty()).map(String::from),
            modules: token.module_ids().into_iter().map(String::from).collect(),
        }
    }

    /// The account it is made in.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// With a description.
    pub fn description(mut self, description: impl Into<String>) -> NewToken {
        self.description = Some(description.into());
        self
    }

    /// With an icon path.
    pub fn icon(mut self, icon: impl Into<String>) -> NewToken {
        self.icon = Some(icon.into());
        self
    }

    /// Adds a module the token may use (e.g. `MOD-1756`).
    pub fn module(mut self, module_id: impl Into<String>) -> NewToken {
        self.modules.push(module_id.into());
        self
    }

    /// Adds modules.
    pub fn modules<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> NewToken {
        self.modules.extend(ids.into_iter().map(Into::into));
        self
    }

    /// The request body, checked as the platform checks it and against the spec's
    /// `CreateApiTokenDto`.
    pub(crate) fn to_body(&self) -> Result<CreateApiTokenDto, Error> {
        check_name(&self.name)?;
        if let Some(d) = &self.description {
            check_description(d)?;
        }
        if self.modules.is_empty() {
            return Err(Error::InvalidRequest(
                "modules: a token needs at least one module".into(),
            ));
        }
        let mut body = json!({
            "account": {"id": self.account_id},
            "name": self.name,
            "modules": self.modules.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        });
        if let Some(d) = &self.description {
            body["description"] = json!(d);
        }
        if let Some(i) = &self.icon {
            body["icon"] = json!(i);
        }
        // The generated type enforces the spec's constraints (non-empty ids, ...).
        serde_json::from_value(body).map_err(|e| Error::InvalidRequest(format!("create: {e}")))
    }
}

pub use mpt_api::rules::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};

/// A name as the platform accepts it ([`mpt_api::rules::name_problem`]).
fn check_name(name: &str) -> Result<(), Error> {
    match mpt_api::rules::name_problem(name) {
        Some(why) => Err(Error::InvalidRequest(format!("name: {why}"))),
        None => Ok(()),
    }
}

/// A description as the platform accepts it ([`mpt_api::rules::description_problem`]).
fn check_description(description: &str) -> Result<(), Error> {
    match mpt_api::rules::description_problem(description) {
        Some(why) => Err(Error::InvalidRequest(format!("description: {why}"))),
        None => Ok(()),
    }
}

/// A delta update: only what is set is sent; an empty one is refused before sending.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenUpdate {
    name: Option<String>,
    description: Option<Option<String>>,
    icon: Option<Option<String>>,
    modules: Option<Vec<String>>,
}

impl TokenUpdate {
    /// An empty delta.
    pub fn new() -> TokenUpdate {
        TokenUpdate::default()
    }

    /// Rename.
    pub fn name(mut self, name: impl Into<String>) -> TokenUpdate {
        self.name = Some(name.into());
        self
    }

    /// Set the description.
    pub fn description(mut self, description: impl Into<String>) -> TokenUpdate {
        self.description = Some(Some(description.into()));
        self
    }

    /// Remove the description (sends `"description": null`).
    pub fn clear_description(mut self) -> TokenUpdate {
        self.description = Some(None);
        self
    }

    /// Set the icon path.
    pub fn icon(mut self, icon: impl Into<String>) -> TokenUpdate {
        self.icon = Some(Some(icon.into()));
        self
    }

    /// Remove the icon (sends `"icon": null`).
    pub fn clear_icon(mut self) -> TokenUpdate {
        self.icon = Some(None);
        self
    }

    /// Replace the modules.
    pub fn modules<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> TokenUpdate {
        self.modules = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == TokenUpdate::default()
    }

    /// The delta body: only the members that were set, `null` for cleared ones.
    pub(crate) fn to_delta(&self) -> Result<TokenDelta, Error> {
        if self.is_empty() {
            return Err(Error::InvalidRequest(
                "update: the TokenUpdate sets nothing, so nothing is sent".into(),
            ));
        }
        if let Some(name) = &self.name {
            check_name(name)?;
        }
        if let Some(Some(d)) = &self.description {
            check_description(d)?;
        }
        let modules = match &self.modules {
            Some(modules) => {
                if modules.is_empty() || modules.iter().any(String::is_empty) {
                    return Err(Error::InvalidRequest(
                        "modules: non-empty ids, at least one".into(),
                    ));
                }
                let dtos: Result<Vec<ModuleDto>, _> = modules
                    .iter()
                    .map(|id| serde_json::from_value(json!({ "id": id })))
                    .collect();
                Some(dtos.map_err(|e| Error::InvalidRequest(format!("modules: {e}")))?)
            }
            None => None,
        };
        Ok(TokenDelta {
            name: self.name.clone(),
            description: self.description.clone(),
            icon: self.icon.clone(),
            modules,
        })
    }
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

/// What an `ensure_*` call did. The token is in the wanted state in every case (otherwise the
/// call fails with [`Error::UnexpectedState`](crate::Error::UnexpectedState)).
///
/// `ensure_*` reads the token first (bulk calls read up to 100 with one list request), and the
/// rule is evidence, never a guess:
///
/// * `Unchanged`: the token was read in the wanted state (nothing was sent), or the platform
///   refused this call's only attempt as a no-op (another caller got there first);
/// * `Changed`: the platform answered this call's change with 2xx on a platform that refuses
///   no-ops (the documented behaviour, [`NoopTransitions::Refused`]) and the token's revision
///   moved since it was read. A 2xx whose body was cut off counts (the token is read back);
/// * `Unconfirmed`: the token is in the wanted state but the answers cannot tell who put it
///   there: an earlier attempt's answer was lost and the retry was refused, every answer was
///   lost (the token was read back), the revision did not move, or the server answers no-ops
///   with 200 ([`NoopTransitions::Accepted`]), where a 200 cannot tell this call's change from
///   a concurrent one's.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// This call changed the token's state.
    Changed(Token),
    /// The token already was in the wanted state.
    Unchanged(Token),
    /// The token is in the wanted state, and this call may or may not be the one that put it
    /// there (a server that answers no-ops with 200, and concurrent calls).
    Unconfirmed(Token),
}

/// How the server answers a transition the token is already past (enabling an Active token,
/// disabling a Disabled one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoopTransitions {
    /// It refuses it (400): the platform's documented behaviour. A 200 then means the call
    /// changed the state.
    #[default]
    Refused,
    /// It answers 200 and changes nothing (as `mpt-mock --noop-transitions accept` does).
    /// `ensure_*` by id then reads the state first, and reports a 200 as
    /// [`Outcome::Unconfirmed`].
    Accepted,
}

impl Outcome {
    /// The token, in its wanted state.
    pub fn token(&self) -> &Token {
        match self {
            Outcome::Changed(t) | Outcome::Unchanged(t) | Outcome::Unconfirmed(t) => t,
        }
    }

    /// Whether this call changed it.
    pub fn changed(&self) -> bool {
        matches!(self, Outcome::Changed(_))
    }

    /// The token, in its wanted state.
    pub fn into_token(self) -> Token {
        match self {
            Outcome::Changed(t) | Outcome::Unchanged(t) | Outcome::Unconfirmed(t) => t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_allows_what_the_docs_say() {
        assert_eq!(
            TokenStatus::Active.available_actions(),
            [Action::Update, Action::Disable, Action::Delete]
        );
        assert_eq!(
            TokenStatus::Disabled.available_actions(),
            [Action::Update, Action::Enable, Action::Delete]
        );
        assert!(TokenStatus::Deleted.available_actions().is_empty());
        assert_eq!(
            "Suspended".parse::<TokenStatus>().unwrap(),
            TokenStatus::Unknown("Suspended".into())
        );
    }

    #[test]
    fn a_delta_sends_only_what_was_set_and_null_to_clear() {
        let json = |u: TokenUpdate| serde_json::to_value(u.to_delta().unwrap()).unwrap();
        let err = TokenUpdate::new().to_delta().unwrap_err();
        assert!(err.to_string().contains("sets nothing"), "{err}");
        let body = json(
            TokenUpdate::new()
                .name("n")
                .clear_description()
                .modules(["MOD-1"]),
        );
        assert_eq!(
            body,
            json!({"name": "n", "description": null, "modules": [{"id": "MOD-1"}]})
        );
        let err = TokenUpdate::new().name("").to_delta().unwrap_err();
        assert_eq!(err.to_string(), "invalid request: name: must not be empty");
        let long = "d".repeat(MAX_DESCRIPTION_CHARS + 1);
        let err = TokenUpdate::new().description(long).to_delta().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid request: description: at most 2000 characters"
        );
    }

    #[test]
    fn names_are_checked_as_the_platform_checks_them() {
        let check = |name: &str| NewToken::new("ACC-1", name).module("MOD-1").to_body();
        assert!(check("CI deploy-bot v2.0 \"main\" it's").is_ok());
        let err = check(&"n".repeat(MAX_NAME_CHARS + 1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid request: name: at most 200 characters"
        );
        let err = check("a/b").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid request: name: '/' is not allowed"),
            "{err}"
        );
        assert!(check("   ").is_err());
    }

    #[test]
    fn a_new_token_is_checked_against_the_spec_before_sending() {
        let err = NewToken::new("ACC-1", "n").to_body().unwrap_err();
        assert!(err.to_string().contains("modules:"), "{err}");
        let err = NewToken::new("ACC-1", "")
            .module("MOD-1")
            .to_body()
            .unwrap_err();
        assert_eq!(err.to_string(), "invalid request: name: must not be empty");
        let body = NewToken::new("ACC-1", "n")
            .module("MOD-1")
            .description("d")
            .to_body()
            .unwrap();
        assert_eq!(
            serde_json::to_value(body).unwrap()["modules"],
            json!([{"id": "MOD-1"}])
        );
    }

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
