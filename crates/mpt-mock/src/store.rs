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
    /// Deleted (a soft delete): kept, readable by Operations accounts only.
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
    /// The modules enabled for the account (its default group): the ones its tokens may hold.
    pub modules: Vec<String>,
}

impl Account {
    /// Whether it is an Operations account (which sees every account's tokens).
    pub fn is_operations(&self) -> bool {
        self.kind == "Operations"
    }
}

/// Who is calling: the identity for audit records, and the account whose view applies.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Written to `audit.*.by`.
    pub actor: Actor,
    /// The caller's account.
    pub account_id: String,
    /// An Operations account: sees and changes every account's tokens, Deleted ones included.
    pub operations: bool,
}

impl Caller {
    /// Whether the caller may see `token`: an Operations account sees every token; a Client or
    /// Vendor account sees its own account's tokens that are not Deleted.
    pub fn sees(&self, token: &Token) -> bool {
        self.operations || (token.account_id == self.account_id && token.status != Status::Deleted)
    }

    /// Whether the caller may make tokens in `account_id`.
    pub fn may_use(&self, account_id: &str) -> bool {
        self.operations || account_id == self.account_id
    }
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

/// What enabling an Active token (or disabling a Disabled one) answers: the same name and
/// values as the facade's `mpt::NoopTransitions`. The platform refuses such a transition (its
/// object canon says so); that is the mock's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoopTransitions {
    /// 400 Bad Request with problem details ("already Active"), as the platform answers; the
    /// default.
    #[default]
    Refused,
    /// 200 with the unchanged token; no revision bump.
    Accepted,
}

/// The enable/disable actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Disabled → Active.
    Enable,
    /// Active → Disabled.
    Disable,
}

impl Switch {
    /// `enabled` or `disabled`, for messages.
    pub fn verb(self) -> &'static str {
        match self {
            Switch::Enable => "enabled",
            Switch::Disable => "disabled",
        }
    }
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

    /// A token `caller` may see, or a 404 problem (the same as for a token that never existed,
    /// so another account's tokens are not even shown to exist).
    pub fn visible(&self, id: &str, caller: &Caller) -> Result<&Token, Problem> {
        match self.get(id) {
            Some(t) if caller.sees(t) => Ok(t),
            _ => Err(Problem::not_found(id)),
        }
    }

    /// A token `caller` may see and change: 404 as [`Store::visible`]; a Deleted one (which
    /// only Operations accounts see) is a 400, since nothing leads out of Deleted.
    fn changeable(&mut self, id: &str, caller: &Caller) -> Result<&mut Token, Problem> {
        let token = match self.get_mut(id) {
            Some(t) if caller.sees(t) => t,
            _ => return Err(Problem::not_found(id)),
        };
        if token.status == Status::Deleted {
            return Err(Problem::deleted(id));
        }
        Ok(token)
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

    /// Creates an Active token at revision 1 (an unknown account is made, as a Client account
    /// with every known module: seeding only; the API validates the account first).
    pub fn create(&mut self, new: NewToken, by: Actor, at: DateTime<Utc>) -> &Token {
        if !self.accounts.contains_key(&new.account_id) {
            let name = format!("Account {}", new.account_id);
            self.put_account(Account {
                id: new.account_id.clone(),
                name,
                kind: "Client".into(),
                modules: crate::KNOWN_MODULES.iter().map(|m| m.to_string()).collect(),
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

    /// Gives a token this secret instead of its own (seeding only); `false` when the secret is
    /// another token's already.
    pub fn force_secret(&mut self, id: &str, secret: &str) -> bool {
        if self.by_secret.get(secret).is_some_and(|owner| owner != id) {
            return false;
        }
        let Some(token) = self.get_mut(id) else {
            return false;
        };
        let old = std::mem::replace(&mut token.secret, secret.to_string());
        self.by_secret.remove(&old);
        self.by_secret.insert(secret.to_string(), id.to_string());
        true
    }

    /// Sets a token's creation time directly (seeding only).
    pub fn force_created(&mut self, id: &str, at: DateTime<Utc>) {
        if let Some(t) = self.get_mut(id) {
            t.created.0 = at;
        }
    }

    /// Sets an account's enabled modules; the ones taken away are stripped from its tokens
    /// (revision bumped, updated by the system). `false` for an unknown account.
    pub fn set_account_modules(
        &mut self,
        account_id: &str,
        modules: Vec<String>,
        at: DateTime<Utc>,
    ) -> bool {
        let Some(account) = self.accounts.get_mut(account_id) else {
            return false;
        };
        account.modules = modules.clone();
        let system = Actor {
            id: "SYS-0000-0000".into(),
            name: "Platform".into(),
        };
        for token in self.tokens.values_mut() {
            if token.account_id != account_id || token.modules.iter().all(|m| modules.contains(m)) {
                continue;
            }
            token.modules.retain(|m| modules.contains(m));
            token.revision += 1;
            token.updated = Some((at, system.clone()));
        }
        true
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
        caller: &Caller,
        at: DateTime<Utc>,
    ) -> Result<&Token, Problem> {
        let by = caller.actor.clone();
        let token = self.changeable(id, caller)?;
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
        noop: NoopTransitions,
        caller: &Caller,
        at: DateTime<Utc>,
    ) -> Result<&Token, Problem> {
        let by = caller.actor.clone();
        let token = self.changeable(id, caller)?;
        let (from, to) = match action {
            Switch::Enable => (Status::Disabled, Status::Active),
            Switch::Disable => (Status::Active, Status::Disabled),
        };
        if token.status == to {
            return match noop {
                NoopTransitions::Accepted => Ok(token),
                NoopTransitions::Refused => Err(Problem::transition(
                    id,
                    token.status.as_str(),
                    action.verb(),
                )),
            };
        }
        if token.status != from {
            return Err(Problem::transition(
                id,
                token.status.as_str(),
                action.verb(),
            ));
        }
        token.status = to;
        token.revision += 1;
        token.updated = Some((at, by));
        Ok(token)
    }

    /// Deletes a token (a soft delete): it stays stored as Deleted, readable by Operations
    /// accounts only, and its secret stops working.
    pub fn delete(&mut self, id: &str, caller: &Caller, at: DateTime<Utc>) -> Result<(), Problem> {
        let by = caller.actor.clone();
        let token = self.changeable(id, caller)?;
        token.status = Status::Deleted;
        token.revision += 1;
        token.updated = Some((at, by));
        Ok(())
    }
}
