//! What a test seeds the mock with, and what the mock records and hands back.

use chrono::{DateTime, Utc};
use mpt_api::TokenSecret;

use crate::{DEFAULT_ACCOUNT, DEFAULT_MODULE};

/// A token to put in the store directly, bypassing the API.
#[derive(Debug, Clone)]
pub struct SeedToken {
    /// Display name.
    pub name: String,
    /// Owning account (created as a Client account if unknown).
    pub account_id: String,
    /// Optional description.
    pub description: Option<String>,
    /// Module ids.
    pub modules: Vec<String>,
    /// Its status: `Active`, `Disabled`, `Deleted`, or any other string (an unknown state).
    pub status: String,
    /// When its secret was last used.
    pub last_access_at: Option<DateTime<Utc>>,
    /// When it was made (default: now, on the mock's clock).
    pub created_at: Option<DateTime<Utc>>,
    /// Its secret (default: a random `idt:<id>:<hex>`).
    pub secret: Option<String>,
}

impl SeedToken {
    /// An Active token with this name in [`DEFAULT_ACCOUNT`], with [`DEFAULT_MODULE`].
    pub fn named(name: impl Into<String>) -> SeedToken {
        SeedToken {
            name: name.into(),
            account_id: DEFAULT_ACCOUNT.into(),
            description: None,
            modules: vec![DEFAULT_MODULE.into()],
            status: "Active".into(),
            last_access_at: None,
            created_at: None,
            secret: None,
        }
    }

    /// In this account.
    pub fn in_account(mut self, account_id: impl Into<String>) -> SeedToken {
        self.account_id = account_id.into();
        self
    }

    /// With this status.
    pub fn with_status(mut self, status: impl Into<String>) -> SeedToken {
        self.status = status.into();
        self
    }

    /// With this description.
    pub fn with_description(mut self, description: impl Into<String>) -> SeedToken {
        self.description = Some(description.into());
        self
    }

    /// Last used at this time.
    pub fn last_used(mut self, at: DateTime<Utc>) -> SeedToken {
        self.last_access_at = Some(at);
        self
    }

    /// With this secret instead of a random one (for a configuration that must know it in
    /// advance). It must not be another token's or the admin secret.
    pub fn with_secret(mut self, secret: impl Into<String>) -> SeedToken {
        self.secret = Some(secret.into());
        self
    }

    /// Made at this time (in the past, say).
    pub fn created(mut self, at: DateTime<Utc>) -> SeedToken {
        self.created_at = Some(at);
        self
    }

    /// With these modules instead of [`DEFAULT_MODULE`].
    pub fn with_modules<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> SeedToken {
        self.modules = ids.into_iter().map(Into::into).collect();
        self
    }
}

/// A request the mock received, as [`MockServer::recorded`](crate::MockServer::recorded) gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/public/v1/accounts/api-tokens/TKN-1/disable`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Every header, names in lower case; `authorization`'s value is `[REDACTED]`.
    pub headers: Vec<(String, String)>,
    /// The body, as text (empty for none).
    pub body: String,
}

impl RecordedRequest {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A seeded token's id and secret.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// `TKN-dddd-dddd`.
    pub id: String,
    /// Its secret (redacted in `Debug`).
    pub secret: TokenSecret,
}
