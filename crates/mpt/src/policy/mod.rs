//! Tokens as code: the declared state of an account's tokens (a TOML policy), and the plan that
//! shows the drift from it (feature `policy`).
//!
//! ```toml
//! [[accounts]]
//! id = "ACC-0000-0001"
//! unmanaged = "report"            # tokens the file does not declare: report (default), disable, ignore
//! rotate_after = "90d"            # hygiene, account-wide: s, m, h, d or w, or "never"
//! disable_idle_after = "30d"      # last used that long ago, or never used and that old
//! delete_disabled_after = "180d"  # Disabled and unchanged that long
//!
//! [[accounts.tokens]]
//! name = "billing-sync"           # names are not unique: two live matches are refused as ambiguous
//! modules = ["MOD-1756"]
//! description = "Nightly billing export"
//! status = "Active"               # Active (default), Disabled, or absent (must not exist)
//! # id = "TKN-1234-5678"          # pins the entry to one token
//! # rotate_after = "30d"          # overrides the account's rule for this token
//! secret = { file = "secrets/billing-sync.token" }   # where a new secret goes (a sink)
//! # secret = { command = ["vault", "kv", "put", "secret/billing", "token=-"], timeout = "30s" }
//! ```
//!
//! [`Policy::from_toml`] refuses unknown keys, bad durations and statuses, names and
//! descriptions the platform would refuse, tokens without modules, and duplicate declarations,
//! naming the line and key. [`Client::plan`](crate::Client::plan) reads each account once (no
//! secrets) and returns a [`Plan`]; [`Client::apply`](crate::Client::apply) carries it out.

mod apply;
pub mod files;
mod ids;
mod plan;
mod sink;
mod state;

use std::fmt;

use chrono::Duration;
use serde::{Deserialize, Deserializer};

use crate::request::NewToken;

pub use apply::{ActionResult, Applied, ApplyError, ApplyOptions, ApplyReport, MAX_SAVED_PLAN_AGE};
pub use plan::{ActionKind, FieldChange, Plan, PlannedAction};
pub use sink::SecretSink;

/// A parsed, checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Each account's declared state.
    pub accounts: Vec<AccountPolicy>,
}

/// What to do with live tokens a policy does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Unmanaged {
    /// Show them in the plan (the default).
    #[default]
    Report,
    /// Disable the Active ones (destructive).
    Disable,
    /// Leave them out of the plan.
    Ignore,
}

/// The hygiene rules; `None` means "never".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Hygiene {
    /// Rotate a token whose secret (the token) is older than this.
    pub rotate_after: Option<Duration>,
    /// Disable a token last used longer ago than this, or never used and older than this.
    pub disable_idle_after: Option<Duration>,
    /// Delete a token Disabled and unchanged for longer than this.
    pub delete_disabled_after: Option<Duration>,
}

/// One account's declared state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountPolicy {
    /// The account id.
    pub id: String,
    /// Tokens the policy does not declare.
    pub unmanaged: Unmanaged,
    /// The account-wide hygiene rules.
    pub hygiene: Hygiene,
    /// The declared tokens.
    pub tokens: Vec<TokenPolicy>,
}

/// The state a declared token must be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[non_exhaustive]
pub enum Wanted {
    /// It exists and is Active.
    #[default]
    Active,
    /// It exists and is Disabled.
    Disabled,
    /// It must not exist.
    #[serde(rename = "absent")]
    Absent,
}

/// One declared token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenPolicy {
    /// Its name (names are not unique on the platform).
    pub name: String,
    /// Pinned to this token id, when set.
    pub id: Option<String>,
    /// Its modules (compared as a set).
    pub modules: Vec<String>,
    /// Its description, when the policy manages it.
    pub description: Option<String>,
    /// Its icon, when the policy manages it.
    pub icon: Option<String>,
    /// The wanted state.
    pub status: Wanted,
    /// The account's hygiene with this token's overrides.
    pub hygiene: Hygiene,
    /// Where its new secrets go (a create's, a rotation's); `None`: to a 0600 file in the
    /// apply's state directory.
    pub secret: Option<SecretSink>,
    /// The 1-based line of its `[[accounts.tokens]]` entry's name.
    pub line: usize,
}

/// A policy that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct PolicyError {
    /// The policy file (`<policy>` when parsed from text).
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// The key involved (`accounts[0].tokens[1].name`, or the key as written on that line).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// A duration as policies write it: a whole number and `d`, `h`, `m` or `s`, or `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Age(Option<Duration>);

impl<'de> Deserialize<'de> for Age {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Age, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_age(&text).map(Age).map_err(serde::de::Error::custom)
    }
}

/// An age as [`parse_age`](crate::parse_age) takes it, or `never`.
fn parse_age(text: &str) -> Result<Option<Duration>, String> {
    if text.trim() == "never" {
        return Ok(None);
    }
    let age = crate::parse_age(text).map_err(|e| format!("bad duration {e}, or `never`"))?;
    Duration::from_std(age)
        .map(Some)
        .map_err(|_| format!("bad duration {text:?}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    accounts: Vec<RawAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: toml::Spanned<String>,
    #[serde(default)]
    unmanaged: Unmanaged,
    rotate_after: Option<Age>,
    disable_idle_after: Option<Age>,
    delete_disabled_after: Option<Age>,
    #[serde(default)]
    tokens: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: toml::Spanned<String>,
    id: Option<String>,
    #[serde(default)]
    modules: Vec<String>,
    description: Option<String>,
    icon: Option<String>,
    #[serde(default)]
    status: Wanted,
    rotate_after: Option<Age>,
    disable_idle_after: Option<Age>,
    delete_disabled_after: Option<Age>,
    secret: Option<toml::Spanned<RawSink>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    file: Option<String>,
    command: Option<Vec<String>>,
    timeout: Option<Age>,
}

/// How long a sink command may take when the policy does not say.
const DEFAULT_SINK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl RawSink {
    fn check(self) -> Result<SecretSink, String> {
        match (self.file, self.command) {
            (Some(_), Some(_)) | (None, None) => Err("give one of `file` or `command`".into()),
            (Some(file), None) => {
                if self.timeout.is_some() {
                    return Err("`timeout` is for a `command`".into());
                }
                let path = std::path::PathBuf::from(&file);
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                if path.file_name().is_none() {
                    return Err(format!("{file:?} names no file"));
                }
                files::writable_dir(dir)
                    .map_err(|e| format!("{file:?} is not in a writable directory: {e}"))?;
                Ok(SecretSink::File { path })
            }
            (None, Some(argv)) => {
                if argv.first().is_none_or(|program| program.trim().is_empty()) {
                    return Err("`command` needs a program".into());
                }
                let timeout = match self.timeout {
                    None => DEFAULT_SINK_TIMEOUT,
                    Some(Age(Some(t))) => t.to_std().unwrap_or(DEFAULT_SINK_TIMEOUT),
                    Some(Age(None)) => return Err("a `timeout` cannot be `never`".into()),
                };
                Ok(SecretSink::Command { argv, timeout })
            }
        }
    }
}

impl Policy {
    /// Parses and checks a policy; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Policy, PolicyError> {
        // Where each line starts, once: a line number is then a search, not a scan of the text.
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let line_of = |offset: usize| starts.partition_point(|&start| start <= offset);
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let (line, key) = match e.span() {
                Some(span) => {
                    let line = line_of(span.start);
                    let written = text.lines().nth(line - 1).unwrap_or("");
                    let key = match written.split_once('=') {
                        Some((key, _)) => key.trim(),
                        None => text.get(span.clone()).unwrap_or("").trim(),
                    };
                    (line, key.trim_matches(['[', ']']).to_string())
                }
                None => (1, String::new()),
            };
            PolicyError {
                file: file.to_string(),
                line,
                key,
                // A value quoted back from the file is redacted (a secret pasted by mistake).
                message: crate::redact::redact(e.message().trim()),
            }
        })?;
        let error = |line: usize, key: String, message: String| PolicyError {
            file: file.to_string(),
            line,
            key,
            message,
        };
        let mut accounts: Vec<AccountPolicy> = Vec::new();
        for (a, account) in raw.accounts.into_iter().enumerate() {
            let line = line_of(account.id.span().start);
            let id = account.id.into_inner();
            // An id is an id: never a path, never anything a request would carry unchecked.
            if let Err(why) = ids::check_id(ids::IdKind::Account, &id) {
                return Err(error(line, format!("accounts[{a}].id"), why));
            }
            if accounts.iter().any(|seen| seen.id == id) {
                return Err(error(
                    line,
                    format!("accounts[{a}].id"),
                    format!("account {id} is declared twice"),
                ));
            }
            let hygiene = Hygiene {
                rotate_after: account.rotate_after.and_then(|a| a.0),
                disable_idle_after: account.disable_idle_after.and_then(|a| a.0),
                delete_disabled_after: account.delete_disabled_after.and_then(|a| a.0),
            };
            let mut tokens: Vec<TokenPolicy> = Vec::new();
            for (t, token) in account.tokens.into_iter().enumerate() {
                let line = line_of(token.name.span().start);
                let key = format!("accounts[{a}].tokens[{t}]");
                let name = token.name.into_inner();
                if token.status != Wanted::Absent {
                    let mut new = NewToken::new(&id, &name).modules(token.modules.iter());
                    if let Some(d) = &token.description {
                        new = new.description(d);
                    }
                    if let Err(e) = new.to_body() {
                        return Err(error(line, key, e.to_string()));
                    }
                } else if let Some(problem) = mpt_api::rules::name_problem(&name) {
                    return Err(error(line, format!("{key}.name"), problem));
                }
                // An unpinned entry matches every token of its name, so it shares the name with
                // no other entry, pinned or not.
                let twin = tokens.iter().find(|seen| {
                    seen.name == name
                        && (seen.id.is_none() || token.id.is_none() || seen.id == token.id)
                });
                if let Some(twin) = twin {
                    return Err(error(
                        line,
                        format!("{key}.name"),
                        format!(
                            "{name:?} is declared twice in account {id} (also on line {}): pin each to an `id`",
                            twin.line
                        ),
                    ));
                }
                if let Some(pin) = &token.id
                    && let Err(why) = ids::check_id(ids::IdKind::Token, pin)
                {
                    return Err(error(line, format!("{key}.id"), why));
                }
                if let Some(pin) = &token.id
                    && let Some(twin) = tokens.iter().find(|seen| seen.id.as_ref() == Some(pin))
                {
                    return Err(error(
                        line,
                        format!("{key}.id"),
                        format!("{pin} is pinned twice (also on line {})", twin.line),
                    ));
                }
                let secret = match token.secret {
                    Some(raw) => {
                        let line = line_of(raw.span().start);
                        let sink = raw
                            .into_inner()
                            .check()
                            .map_err(|e| error(line, format!("{key}.secret"), e))?;
                        if let SecretSink::File { path } = &sink
                            && let Some(twin) = sink_owner(&accounts, &tokens, path)
                        {
                            return Err(error(
                                line,
                                format!("{key}.secret"),
                                format!(
                                    "{} is the secret file of line {twin} too: each token needs its own",
                                    path.display()
                                ),
                            ));
                        }
                        Some(sink)
                    }
                    None => None,
                };
                let or = |own: Option<Age>, account: Option<Duration>| match own {
                    Some(age) => age.0,
                    None => account,
                };
                tokens.push(TokenPolicy {
                    name,
                    id: token.id,
                    modules: token.modules,
                    description: token.description,
                    icon: token.icon,
                    status: token.status,
                    hygiene: Hygiene {
                        rotate_after: or(token.rotate_after, hygiene.rotate_after),
                        disable_idle_after: or(
                            token.disable_idle_after,
                            hygiene.disable_idle_after,
                        ),
                        delete_disabled_after: or(
                            token.delete_disabled_after,
                            hygiene.delete_disabled_after,
                        ),
                    },
                    secret,
                    line,
                });
            }
            accounts.push(AccountPolicy {
                id,
                unmanaged: account.unmanaged,
                hygiene,
                tokens,
            });
        }
        Ok(Policy { accounts })
    }
}

/// The line of the entry, among those parsed so far, whose secret file is `path`.
fn sink_owner(
    accounts: &[AccountPolicy],
    tokens: &[TokenPolicy],
    path: &std::path::Path,
) -> Option<usize> {
    accounts
        .iter()
        .flat_map(|a| a.tokens.iter())
        .chain(tokens)
        .find(|t| matches!(&t.secret, Some(SecretSink::File { path: p }) if files::same_file(p, path)))
        .map(|t| t.line)
}

impl Policy {
    /// The declared entry an action of `plan` is about: the one pinned to its token, or the
    /// unpinned one of its name, in its account.
    pub fn declared(
        &self,
        account: &str,
        name: &str,
        token_id: Option<&str>,
    ) -> Option<&TokenPolicy> {
        let account = self.accounts.iter().find(|a| a.id == account)?;
        account
            .tokens
            .iter()
            .find(|t| t.id.is_some() && t.id.as_deref() == token_id)
            .or_else(|| {
                account
                    .tokens
                    .iter()
                    .find(|t| t.id.is_none() && t.name == name)
            })
    }
}

impl fmt::Display for Wanted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Wanted::Active => "Active",
            Wanted::Disabled => "Disabled",
            Wanted::Absent => "absent",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_or_say_why() {
        assert_eq!(parse_age("90d"), Ok(Some(Duration::days(90))));
        assert_eq!(parse_age("12h"), Ok(Some(Duration::hours(12))));
        assert_eq!(parse_age("never"), Ok(None));
        assert_eq!(parse_age("2w"), Ok(Some(Duration::days(14))));
        for bad in ["", "d", "9x", "-1d", "1.5d", "99999999999999d", "36501d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
