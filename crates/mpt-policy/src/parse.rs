//! Reading a policy file: TOML parsed with serde (its spans give the line of each error), then
//! each account and token checked as the platform would check it, errors naming the file,
//! line and key.

use chrono::Duration;
use serde::{Deserialize, Deserializer};

use crate::files;
use crate::ids::{self, IdKind};
use crate::policy::{AccountPolicy, Hygiene, Policy, PolicyError, TokenPolicy, Unmanaged, Wanted};
use crate::sink::SecretSink;
use mpt::NewToken;

impl Policy {
    /// Parses and checks a policy; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Policy, PolicyError> {
        Parser::new(text, file).policy()
    }
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

/// A value of a policy's key that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
enum BadValue {
    /// A duration that is not one.
    #[error("bad duration {0}, or `never`")]
    Age(String),
    /// A sink with both or neither of `file` and `command`.
    #[error("give one of `file` or `command`")]
    SinkKind,
    /// A `timeout` on a file sink.
    #[error("`timeout` is for a `command`")]
    TimeoutOnFile,
    /// A secret file path without a file name.
    #[error("{0:?} names no file")]
    NoFileName(String),
    /// A secret file whose directory cannot take it.
    #[error("{file:?} is not in a writable directory: {source}")]
    Unwritable {
        /// The file as written.
        file: String,
        /// Why.
        #[source]
        source: files::FileError,
    },
    /// A command without a program.
    #[error("`command` needs a program")]
    NoProgram,
    /// A command timeout of `never`.
    #[error("a `timeout` cannot be `never`")]
    NeverTimeout,
    /// A command timeout of zero: the command could not even read the secret in time.
    #[error("a `timeout` must be more than 0 s")]
    ZeroTimeout,
}

/// An age as [`parse_age`](mpt::parse_age) takes it, or `never`.
fn parse_age(text: &str) -> Result<Option<Duration>, BadValue> {
    if text.trim() == "never" {
        return Ok(None);
    }
    let age = mpt::parse_age(text).map_err(|e| BadValue::Age(e.to_string()))?;
    Duration::from_std(age)
        .map(Some)
        .map_err(|_| BadValue::Age(format!("{text:?}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    /// Where the apply's state is (`postgres://...`, or a directory).
    #[serde(default)]
    state: Option<String>,
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
    fn check(self) -> Result<SecretSink, BadValue> {
        match (self.file, self.command) {
            (Some(_), Some(_)) | (None, None) => Err(BadValue::SinkKind),
            (Some(file), None) => {
                if self.timeout.is_some() {
                    return Err(BadValue::TimeoutOnFile);
                }
                let path = std::path::PathBuf::from(&file);
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                if path.file_name().is_none() {
                    return Err(BadValue::NoFileName(file));
                }
                if let Err(source) = files::writable_dir(dir) {
                    return Err(BadValue::Unwritable { file, source });
                }
                Ok(SecretSink::File { path })
            }
            (None, Some(argv)) => {
                if argv.first().is_none_or(|program| program.trim().is_empty()) {
                    return Err(BadValue::NoProgram);
                }
                let timeout = match self.timeout {
                    None => DEFAULT_SINK_TIMEOUT,
                    Some(Age(Some(t))) if t <= Duration::zero() => {
                        return Err(BadValue::ZeroTimeout);
                    }
                    Some(Age(Some(t))) => t.to_std().unwrap_or(DEFAULT_SINK_TIMEOUT),
                    Some(Age(None)) => return Err(BadValue::NeverTimeout),
                };
                Ok(SecretSink::Command { argv, timeout })
            }
        }
    }
}

/// A policy file being read: its text, its name, and where each of its lines starts.
pub(super) struct Parser<'t> {
    text: &'t str,
    file: &'t str,
    /// Where each line starts, once: a line number is then a search, not a scan of the text.
    starts: Vec<usize>,
}

impl<'t> Parser<'t> {
    pub(super) fn new(text: &'t str, file: &'t str) -> Parser<'t> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Parser { text, file, starts }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }

    fn error(&self, line: usize, key: String, message: String) -> PolicyError {
        PolicyError {
            file: self.file.to_string(),
            line,
            key,
            message,
        }
    }

    /// The whole policy, checked.
    pub(super) fn policy(&self) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(self.text).map_err(|e| self.toml_error(&e))?;
        let mut accounts: Vec<AccountPolicy> = Vec::new();
        for (a, account) in raw.accounts.into_iter().enumerate() {
            let account = self.account(a, account, &accounts)?;
            accounts.push(account);
        }
        let state = raw.state.filter(|s| !s.trim().is_empty());
        Ok(Policy {
            state,
            accounts,
            file: self.file.to_string(),
        })
    }

    /// A TOML error at the line and key it is about; a value it quotes back is redacted (a
    /// secret pasted by mistake).
    fn toml_error(&self, e: &toml::de::Error) -> PolicyError {
        let (line, key) = match e.span() {
            Some(span) => {
                let line = self.line_of(span.start);
                let written = self.text.lines().nth(line - 1).unwrap_or("");
                let key = match written.split_once('=') {
                    Some((key, _)) => key.trim(),
                    None => self.text.get(span.clone()).unwrap_or("").trim(),
                };
                (line, key.trim_matches(['[', ']']).to_string())
            }
            None => (1, String::new()),
        };
        self.error(line, key, mpt::redact(e.message().trim()))
    }

    /// Account `a`, checked against those read before it.
    fn account(
        &self,
        a: usize,
        account: RawAccount,
        accounts: &[AccountPolicy],
    ) -> Result<AccountPolicy, PolicyError> {
        let line = self.line_of(account.id.span().start);
        let id = account.id.into_inner();
        // An id is an id: never a path, never anything a request would carry unchecked.
        if let Err(why) = ids::check_id(IdKind::Account, &id) {
            return Err(self.error(line, format!("accounts[{a}].id"), why.to_string()));
        }
        if accounts.iter().any(|seen| seen.id == id) {
            return Err(self.error(
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
            let key = format!("accounts[{a}].tokens[{t}]");
            let token = self.token(&key, &id, &hygiene, token, (accounts, &tokens))?;
            tokens.push(token);
        }
        Ok(AccountPolicy {
            id,
            unmanaged: account.unmanaged,
            hygiene,
            tokens,
        })
    }

    /// A token entry (`key`) of account `account_id`, checked as the platform checks a create
    /// and against the entries read before it (`seen`: other accounts', and this one's).
    fn token(
        &self,
        key: &str,
        account_id: &str,
        hygiene: &Hygiene,
        token: RawToken,
        seen: (&[AccountPolicy], &[TokenPolicy]),
    ) -> Result<TokenPolicy, PolicyError> {
        let line = self.line_of(token.name.span().start);
        let name = token.name.into_inner();
        if token.status != Wanted::Absent {
            let mut new = NewToken::new(account_id, &name).modules(token.modules.iter());
            if let Some(d) = &token.description {
                new = new.description(d);
            }
            if let Err(e) = new.check() {
                return Err(self.error(line, key.to_string(), e.to_string()));
            }
        } else if let Some(problem) = mpt_api::rules::name_problem(&name) {
            return Err(self.error(line, format!("{key}.name"), problem));
        }
        self.check_unique(key, line, account_id, &name, token.id.as_deref(), seen.1)?;
        let secret = match token.secret {
            Some(raw) => Some(self.sink(key, raw, seen)?),
            None => None,
        };
        let or = |own: Option<Age>, account: Option<Duration>| match own {
            Some(age) => age.0,
            None => account,
        };
        Ok(TokenPolicy {
            name,
            id: token.id,
            modules: token.modules,
            description: token.description,
            icon: token.icon,
            status: token.status,
            hygiene: Hygiene {
                rotate_after: or(token.rotate_after, hygiene.rotate_after),
                disable_idle_after: or(token.disable_idle_after, hygiene.disable_idle_after),
                delete_disabled_after: or(
                    token.delete_disabled_after,
                    hygiene.delete_disabled_after,
                ),
            },
            secret,
            line,
        })
    }

    /// A name declared once per account (an unpinned entry matches every token of its name, so
    /// it shares the name with no other entry, pinned or not), and a pin of the platform's
    /// shape, pinned once.
    fn check_unique(
        &self,
        key: &str,
        line: usize,
        account_id: &str,
        name: &str,
        pin: Option<&str>,
        tokens: &[TokenPolicy],
    ) -> Result<(), PolicyError> {
        let twin = tokens.iter().find(|seen| {
            seen.name == name && (seen.id.is_none() || pin.is_none() || seen.id.as_deref() == pin)
        });
        if let Some(twin) = twin {
            return Err(self.error(
                line,
                format!("{key}.name"),
                format!(
                    "{name:?} is declared twice in account {account_id} (also on line {}): pin each to an `id`",
                    twin.line
                ),
            ));
        }
        let Some(pin) = pin else { return Ok(()) };
        if let Err(why) = ids::check_id(IdKind::Token, pin) {
            return Err(self.error(line, format!("{key}.id"), why.to_string()));
        }
        if let Some(twin) = tokens.iter().find(|seen| seen.id.as_deref() == Some(pin)) {
            return Err(self.error(
                line,
                format!("{key}.id"),
                format!("{pin} is pinned twice (also on line {})", twin.line),
            ));
        }
        Ok(())
    }

    /// A token's sink, checked; a secret file must be no other entry's (by what it is, not how
    /// it is spelled).
    fn sink(
        &self,
        key: &str,
        raw: toml::Spanned<RawSink>,
        (accounts, tokens): (&[AccountPolicy], &[TokenPolicy]),
    ) -> Result<SecretSink, PolicyError> {
        let line = self.line_of(raw.span().start);
        let sink = raw
            .into_inner()
            .check()
            .map_err(|e| self.error(line, format!("{key}.secret"), e.to_string()))?;
        if let SecretSink::File { path } = &sink
            && let Some(twin) = accounts
                .iter()
                .flat_map(|a| a.tokens.iter())
                .chain(tokens)
                .find(|t| matches!(&t.secret, Some(SecretSink::File { path: p }) if files::same_file(p, path)))
        {
            return Err(self.error(
                line,
                format!("{key}.secret"),
                format!(
                    "{} is the secret file of line {} too: each token needs its own",
                    path.display(),
                    twin.line
                ),
            ));
        }
        Ok(sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_or_say_why() {
        assert_eq!(parse_age("90d").ok(), Some(Some(Duration::days(90))));
        assert_eq!(parse_age("12h").ok(), Some(Some(Duration::hours(12))));
        assert_eq!(parse_age("never").ok(), Some(None));
        assert_eq!(parse_age("2w").ok(), Some(Some(Duration::days(14))));
        for bad in ["", "d", "9x", "-1d", "1.5d", "99999999999999d", "36501d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
