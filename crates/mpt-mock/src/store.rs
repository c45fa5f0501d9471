//! The in-memory token store and the lifecycle rules, free of HTTP.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::problem::Problem;

/// A token's lifecycle state in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Usable.
    Active,
    /// Kept, but its secret is refused until it is enabled again.
    Disabled,
    /// Gone: not listed, 404 on get.
    Deleted,
    /// A state the platform may add; seeded by tests to exercise tolerant clients. Such a token
    /// is listed and readable, but cannot authenticate or change state.
    Other(String),
}

impl Status {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Active => "Active",
            Status::Disabled => "Disabled",
            Status::Deleted => "Deleted",
            Status::Other(s) => s,
        }
    }

    /// Parses the wire spelling; anything unknown is `Other`.
    pub fn parse(s: &str) -> Status {
        match s {
            "Active" => Status::Active,
            "Disabled" => Status::Disabled,
            "Deleted" => Status::Deleted,
            other => Status::Other(other.to_string()),
        }
    }
}

/// Who made a change, as shown in `audit.*.by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A token id (`TKN-...`) or the mock's admin identity.
    pub id: String,
    /// Its display name.
    pub name: String,
}

/// An account tokens belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `ACC-dddd-dddd`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `Client`, `Vendor`, `Operations` (or anything else).
    pub kind: String,
}

/// One stored token.
#[derive(Debug, Clone)]
pub struct Token {
    /// `TKN-dddd-dddd`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Optional icon path.
    pub icon: Option<String>,
    /// Lifecycle state.
    pub status: Status,
    /// Bumped by every change, 1 on create.
    pub revision: i32,
    /// `idt:TKN-dddd-dddd:<random>`.
    pub secret: String,
    /// Owning account id.
    pub account_id: String,
    /// Module ids.
    pub modules: Vec<String>,
    /// Creation time and actor.
    pub created: (DateTime<Utc>, Actor),
    /// Last change time and actor.
    pub updated: Option<(DateTime<Utc>, Actor)>,
    /// Last time its secret authenticated a call.
    pub last_access_at: Option<DateTime<Utc>>,
    /// Creation sequence number: the default list order.
    pub seq: u64,
}

/// What a create request asks for, validated.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// Owning account id.
    pub account_id: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Optional icon path.
    pub icon: Option<String>,
    /// Module ids (at least one).
    pub modules: Vec<String>,
}

/// A delta update; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct Delta {
    /// New name.
    pub name: Option<String>,
    /// New description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// New icon, or `Some(None)` to clear it.
    pub icon: Option<Option<String>>,
    /// New module ids.
    pub modules: Option<Vec<String>>,
}

/// What enabling an Active token (or disabling a Disabled one) answers. The platform's answer is
/// not documented; the mock's default is [`NoopTransition::Reject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoopTransition {
    /// 400 Bad Request with problem details ("already Active"), as a platform that validates
    /// transitions would; the default.
    #[default]
    Reject,
    /// 200 with the unchanged token; no revision bump.
    Accept,
}

/// The enable/disable actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Disabled → Active.
    Enable,
    /// Active → Disabled.
    Disable,
}

/// All tokens and accounts.
#[derive(Debug, Default)]
pub struct Store {
    /// Creation sequence → token: the default list order, walked without lookups.
    tokens: BTreeMap<u64, Token>,
    /// Token id → creation sequence.
    index: HashMap<String, u64>,
    by_secret: HashMap<String, String>,
    accounts: BTreeMap<String, Account>,
    next_seq: u64,
}

fn digits(n: usize) -> String {
    (0..n).map(|_| fastrand::digit(10)).collect()
}

fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A random `ACC-dddd-dddd` style id with the given prefix.
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}-{}-{}", digits(4), digits(4))
}

impl Store {
    /// Adds or replaces an account.
    pub fn put_account(&mut self, account: Account) {
        self.accounts.insert(account.id.clone(), account);
    }

    /// An account by id.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// Tokens in creation order, Deleted ones included.
    pub fn all(&self) -> impl Iterator<Item = &Token> {
        self.tokens.values()
    }

    /// Number of tokens ever created and not Deleted.
    pub fn live_count(&self) -> usize {
        self.tokens
            .values()
            .filter(|t| t.status != Status::Deleted)
            .count()
    }

    /// A token by id, Deleted ones included.
    pub fn get(&self, id: &str) -> Option<&Token> {
        self.index.get(id).and_then(|seq| self.tokens.get(seq))
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Token> {
        let seq = self.index.get(id)?;
        self.tokens.get_mut(seq)
    }

    /// A token that is not Deleted, or a 404 problem.
    pub fn live(&self, id: &str) -> Result<&Token, Problem> {
        match self.get(id) {
            Some(t) if t.status != Status::Deleted => Ok(t),
            _ => Err(Problem::not_found(id)),
        }
    }

    fn live_mut(&mut self, id: &str) -> Result<&mut Token, Problem> {
        match self.get_mut(id) {
            Some(t) if t.status != Status::Deleted => Ok(t),
            _ => Err(Problem::not_found(id)),
        }
    }

    /// The token a secret belongs to, if any.
    pub fn by_secret(&self, secret: &str) -> Option<&Token> {
        self.by_secret.get(secret).and_then(|id| self.get(id))
    }

    /// Marks a successful authentication with `secret`.
    pub fn touch(&mut self, id: &str, at: DateTime<Utc>) {
        if let Some(t) = self.get_mut(id) {
            t.last_access_at = Some(at);
        }
    }

    /// Creates an Active token at revision 1.
    pub fn create(&mut self, new: NewToken, by: Actor, at: DateTime<Utc>) -> &Token {
        if !self.accounts.contains_key(&new.account_id) {
            let name = format!("Account {}", new.account_id);
            self.put_account(Account {
                id: new.account_id.clone(),
                name,
                kind: "Client".into(),
            });
        }
        let id = loop {
            let id = random_id("TKN");
            if !self.index.contains_key(&id) {
                break id;
            }
        };
        let secret = format!("idt:{id}:{}", random_hex(32));
        self.next_seq += 1;
        let token = Token {
            id: id.clone(),
            name: new.name,
            description: new.description,
            icon: new.icon,
            status: Status::Active,
            revision: 1,
            secret: secret.clone(),
            account_id: new.account_id,
            modules: new.modules,
            created: (at, by),
            updated: None,
            last_access_at: None,
            seq: self.next_seq,
        };
        self.by_secret.insert(secret, id.clone());
        self.index.insert(id, self.next_seq);
        self.tokens.entry(self.next_seq).or_insert(token)
    }

    /// Sets a token's status directly (seeding only: no revision bump).
    pub fn force_status(&mut self, id: &str, status: Status) -> bool {
        match self.get_mut(id) {
            Some(t) => {
                t.status = status;
                true
            }
            None => false,
        }
    }

    /// Applies a delta update.
    pub fn update(
        &mut self,
        id: &str,
        delta: Delta,
        by: Actor,
        at: DateTime<Utc>,
    ) -> Result<&Token, Problem> {
        let token = self.live_mut(id)?;
        if let Some(name) = delta.name {
            token.name = name;
        }
        if let Some(description) = delta.description {
            token.description = description;
        }
        if let Some(icon) = delta.icon {
            token.icon = icon;
        }
        if let Some(modules) = delta.modules {
            token.modules = modules;
        }
        token.revision += 1;
        token.updated = Some((at, by));
        Ok(token)
    }

    /// Enables or disables a token.
    pub fn switch(
        &mut self,
        id: &str,
        action: Switch,
        noop: NoopTransition,
        by: Actor,
        at: DateTime<Utc>,
    ) -> Result<&Token, Problem> {
        let token = self.live_mut(id)?;
        let (from, to) = match action {
            Switch::Enable => (Status::Disabled, Status::Active),
            Switch::Disable => (Status::Active, Status::Disabled),
        };
        if token.status == to {
            return match noop {
                NoopTransition::Accept => Ok(token),
                NoopTransition::Reject => Err(Problem::transition(id, &token.status, action)),
            };
        }
        if token.status != from {
            return Err(Problem::transition(id, &token.status, action));
        }
        token.status = to;
        token.revision += 1;
        token.updated = Some((at, by));
        Ok(token)
    }

    /// Deletes a token: it stays stored as Deleted, its secret stops working.
    pub fn delete(&mut self, id: &str, by: Actor, at: DateTime<Utc>) -> Result<(), Problem> {
        let token = self.live_mut(id)?;
        token.status = Status::Deleted;
        token.revision += 1;
        token.updated = Some((at, by));
        Ok(())
    }
}
