//! What a create or an update asks for, checked as the platform checks it before anything is
//! sent.

use mpt_api::TokenDelta;
use mpt_api::types::{CreateApiTokenDto, ModuleDto};
use serde_json::json;

use crate::error::Error;
use crate::token::Token;

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

    /// The description it is sent with, if any.
    pub(crate) fn sent_description(&self) -> Option<&str> {
        self.description.as_deref()
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

    /// What the platform would refuse in this create (a name, description or module list it
    /// does not take), found before anything is sent: [`Error::InvalidRequest`] naming the
    /// field. [`Client::create`](crate::Client::create) checks the same.
    pub fn check(&self) -> Result<(), Error> {
        self.to_body().map(drop)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
