//! Where an apply keeps what must survive it: records of creates and rotations in flight (kept
//! until the new secret is handed over: a sink that failed leaves its record, and the next
//! apply reads the secret from the platform again; no store ever holds a secret), and modules
//! the platform refused. Two stores keep them: a directory ([`DirStore`], the embedded default) and
//! PostgreSQL ([`PgStore`], shared between machines); each locks the accounts of an apply so
//! that two applies never work on one account at once. Nothing read back is trusted: the apply
//! checks every record against the policy and the platform before acting on it.

mod dir;
mod late;
mod location;
mod lookalike;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
mod pgpass;
mod records;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Serialize, de::DeserializeOwned};

pub use dir::DirStore;
pub use late::Stray;
pub(crate) use late::{
    Claims, Unread, claims, given_up, late_marks, remember_late, retire_carried, retire_late,
};
pub use location::StateLocation;
#[cfg(feature = "postgres")]
pub use pg::{PgStore, SCHEMA_VERSION};
pub(crate) use records::{
    BY_RECORDED_AT, CreateRecord, PLATFORM_CLOCK_SLACK, RecordError, Refused, ambiguous_creates,
    check_declared, check_ids, check_owner,
};

/// The kinds of record a store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A create in flight.
    Create,
    /// A rotation in flight.
    Rotation,
    /// Modules the platform refused on a token.
    Refused,
    /// Markers of creates of a name given up on, which may still land (this tool's own).
    Late,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Create, Kind::Rotation, Kind::Refused, Kind::Late];

    /// Its name: the directory store's subdirectory, the database's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Create => "creates",
            Kind::Rotation => "rotations",
            Kind::Refused => "refused",
            Kind::Late => "late",
        }
    }
}

/// A record's key: its kind, its account, and a name of its own (an id of the platform's shape,
/// else hex: never a path).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// What it records.
    pub kind: Kind,
    /// The account it is about.
    pub account: String,
    /// Its name within the kind.
    pub name: String,
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The text `hex` encodes (as [`hex`] makes it), if it is that.
fn unhex(hex: &str) -> Option<String> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// An id as a record name: as it is when it has the platform's shape, else hex-encoded.
fn id_name(kind: crate::ids::IdKind, id: &str) -> String {
    if crate::ids::is_id(kind, id) {
        id.to_string()
    } else {
        format!("x{}", hex(id))
    }
}

impl Key {
    /// A create of `name` in `account`.
    pub fn create(account: &str, name: &str) -> Key {
        Key {
            kind: Kind::Create,
            account: account.to_string(),
            name: format!(
                "{}-{}",
                id_name(crate::ids::IdKind::Account, account),
                hex(name)
            ),
        }
    }

    /// The rotation of `old_id`.
    pub fn rotation(account: &str, old_id: &str) -> Key {
        Key::of_token(Kind::Rotation, account, old_id)
    }

    /// The modules refused on `token_id`.
    pub fn refused(account: &str, token_id: &str) -> Key {
        Key::of_token(Kind::Refused, account, token_id)
    }

    /// The account and name of a create's key, as [`Key::create`] makes it (`None` for any
    /// other key: a record kept under a name of its own).
    pub(crate) fn create_of(&self) -> Option<(String, String)> {
        if self.kind != Kind::Create {
            return None;
        }
        let (account, name) = self.name.rsplit_once('-')?;
        let name = unhex(name)?;
        let account = match account.strip_prefix('x') {
            Some(encoded) => unhex(encoded)?,
            None => account.to_string(),
        };
        (Key::create(&account, &name).name == self.name).then_some((account, name))
    }

    /// The old token of a rotation's key, as [`Key::rotation`] makes it (`None` for any other
    /// key).
    pub(crate) fn rotation_of(&self) -> Option<String> {
        if self.kind != Kind::Rotation {
            return None;
        }
        let id = match self.name.strip_prefix('x') {
            Some(encoded) => unhex(encoded)?,
            None => self.name.clone(),
        };
        (Key::rotation(&self.account, &id).name == self.name).then_some(id)
    }

    fn of_token(kind: Kind, account: &str, token_id: &str) -> Key {
        Key {
            kind,
            account: account.to_string(),
            name: id_name(crate::ids::IdKind::Token, token_id),
        }
    }
}

/// Why a store cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The state's location is not one a store can be made of (a bad URL, say); nothing was
    /// sent anywhere.
    #[error("state store {location}: {why}")]
    BadLocation {
        /// The location, its password redacted.
        location: String,
        /// What is wrong.
        why: String,
    },
    /// The store cannot be reached (a database that does not answer).
    #[error("the state store {location} cannot be reached: {why}")]
    Unreachable {
        /// The location, its password redacted.
        location: String,
        /// What failed.
        why: String,
    },
    /// The store was written by a newer `mpt`: it is refused, never misread.
    #[error(
        "the state store {location} holds schema version {found}, written by a newer mpt (this one knows version {known}); upgrade mpt"
    )]
    NewerSchema {
        /// The location, its password redacted.
        location: String,
        /// The version it holds.
        found: i32,
        /// The newest version this `mpt` knows.
        known: i32,
    },
    /// The database refused the connection's credentials (SQLSTATE 28P01 or 28000; a client
    /// certificate refused in the TLS handshake), or asked for a password that none of the URL,
    /// `PGPASSWORD` and the password file gives.
    #[error("the state store {location} refused the login: {why}")]
    Auth {
        /// The location, its password redacted.
        location: String,
        /// The server's message and SQLSTATE.
        why: String,
    },
    /// A statement failed: the server's message, its SQLSTATE, detail and hint (a read-only
    /// database, a role without a right, a table of someone else's, a timeout, ...).
    #[error("the state store {location}: {why}")]
    Database {
        /// The location, its password redacted.
        location: String,
        /// What was being done, and the server's own words.
        why: String,
    },
    /// The store's session, and with it the accounts' locks, is gone (terminated, a restarted
    /// server, a backend or network that stopped answering): nothing is sent on it again, and
    /// the apply stops before its next change.
    #[error("the state store {location} lost its session: {why}")]
    SessionLost {
        /// The location, its password redacted.
        location: String,
        /// What showed it.
        why: String,
    },
    /// The schema there says a version no `mpt` writes (0, -7, null): refused, never misread.
    #[error("the state store {location}: {why}")]
    BadSchema {
        /// The location, its password redacted.
        location: String,
        /// What is wrong.
        why: String,
    },
    /// Another apply holds the lock of an account of this one.
    #[error(
        "another apply holds account {account}: {holder}; try again later, or wait with --lock-timeout"
    )]
    Locked {
        /// The account.
        account: String,
        /// Who holds it (host, process id, since when), as far as the store knows.
        holder: String,
    },
    /// A path of the store, or a record, that is refused (a link, a FIFO, another user's
    /// directory, ...), or that failed to be read or written.
    #[error("{0}")]
    Refused(String),
}

/// The records of a kind: each key, with its text or why it cannot be read.
pub type Pending = Vec<(Key, Result<String, StoreError>)>;

/// A store of an apply's records. Implementations: [`DirStore`], [`PgStore`].
pub trait Store: Send + Sync {
    /// Saves a record (JSON), replacing one of the same key, whole or not at all.
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The record of `key`, if there is one.
    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<String>, StoreError>>;
    /// Removes the record of `key` (none there is fine).
    fn remove<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The records of `kind` of these accounts (a directory holds one policy's: all of them),
    /// in a stable order, each read or with why it cannot be.
    fn pending<'a>(
        &'a self,
        kind: Kind,
        accounts: &'a [String],
    ) -> BoxFuture<'a, Result<Pending, StoreError>>;
    /// Proves that this store still holds `account`'s lock, right before a change is sent for
    /// it: an apply sends nothing for an account whose lock it cannot prove (a directory's
    /// lock is held while the store is open; a database's lasts as long as its session).
    /// A store opened without a lock (for a plan) never proves one.
    fn fence<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Where the record of `key` is, in words (a file's path, the database's row).
    fn describe(&self, key: &Key) -> String;
    /// Whether a file at `path` would be in this store (a directory store's directory, by
    /// what it is, not how it is spelled), where no secret may go. None by default.
    fn holds_path(&self, _path: &std::path::Path) -> bool {
        false
    }
    /// The records of these accounts of a kind no `mpt` writes (unreadable); none by default.
    fn strays<'a>(&'a self, _accounts: &'a [String]) -> BoxFuture<'a, Vec<Stray>> {
        Box::pin(async { Vec::new() })
    }
    /// Gives up the store's locks now, once its apply is done with them (nothing is saved or
    /// proven after). A database session's locks end with the session, but its close is not
    /// waited for when the store is dropped: the next apply of the same accounts, right after,
    /// could find them still held. Nothing for a store whose locks end as it is dropped.
    fn release(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A record as the stores keep it: pretty JSON and a newline.
fn record_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string_pretty(value)
        .map(|json| json + "\n")
        .map_err(|e| StoreError::Refused(format!("a record cannot be written as JSON: {e}")))
}

/// Typed reading and writing of records, for any store.
impl dyn Store + '_ {
    /// Saves `value` as the record of `key`.
    pub(crate) async fn put<T: Serialize>(&self, key: &Key, value: &T) -> Result<(), StoreError> {
        let json = record_json(value)?;
        self.save(key, &json).await
    }

    /// The record of `key` as a `T`, if there is one and it reads as one.
    pub(crate) async fn get<T: DeserializeOwned>(&self, key: &Key) -> Option<T> {
        let text = self.load(key).await.ok()??;
        serde_json::from_str(&text).ok()
    }

    /// Removes the record of `key`; a failure is ignored (the record is checked again when
    /// read back).
    pub(crate) async fn drop_record(&self, key: &Key) {
        let _ = self.remove(key).await;
    }

    /// The records of `kind` of `accounts`, each read as a `T` or with why it cannot be; a
    /// listing that failed comes back as one entry of an empty key, with why.
    pub(crate) async fn pending_of<T: DeserializeOwned>(
        &self,
        kind: Kind,
        accounts: &[String],
    ) -> Vec<(Key, Result<T, StoreError>)> {
        match self.listed_of(kind, accounts).await {
            Ok(records) => records,
            Err(e) => vec![(
                Key {
                    kind,
                    account: String::new(),
                    name: String::new(),
                },
                Err(e),
            )],
        }
    }

    /// The records of `kind` of `accounts`, each as a `T` or why it does not read; `Err` when
    /// they could not be listed at all (told apart from a record kept under an empty key, a
    /// junk row of a database's, which is one record that does not read: tester round 21, N4).
    pub(crate) async fn listed_of<T: DeserializeOwned>(
        &self,
        kind: Kind,
        accounts: &[String],
    ) -> Result<Vec<(Key, Result<T, StoreError>)>, StoreError> {
        let records = self.pending(kind, accounts).await?;
        Ok(records
            .into_iter()
            .map(|(key, text)| {
                let read = text.and_then(|t| {
                    serde_json::from_str(&t)
                        .map_err(|e| StoreError::Refused(format!("{}: {e}", self.describe(&key))))
                });
                (key, read)
            })
            .collect())
    }
}

/// The secrets a state URL holds (its password), for a caller that redacts them from what it
/// prints.
pub fn url_secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    #[cfg(feature = "postgres")]
    if let Ok(config) = pg::without_tls(url).parse::<tokio_postgres::Config>()
        && let Some(password) = config.get_password()
        && let Ok(password) = std::str::from_utf8(password)
        && !password.is_empty()
    {
        out.push(password.to_string());
    }
    // As written in the URL too (percent-encoded, say).
    let shown = redact_url(url);
    if shown != url
        && let Some(at) = url.find("://").map(|i| i + 3)
        && let authority = url[at..].find(['/', '?']).map_or(url.len(), |i| at + i)
        && let Some(end) = url[at..authority].rfind('@').map(|i| at + i)
        && let Some(colon) = url[at..end].find(':').map(|i| at + i)
        && colon + 1 < end
    {
        out.push(url[colon + 1..end].to_string());
    }
    out.dedup();
    out
}

/// `url` without its password (in the user info or a `password=` parameter).
pub fn redact_url(url: &str) -> String {
    let mut shown = url.to_string();
    if let Some(scheme_end) = shown.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = shown[rest_start..]
            .find(['/', '?'])
            .map_or(shown.len(), |i| rest_start + i);
        if let Some(at) = shown[rest_start..authority_end].rfind('@') {
            let userinfo = &shown[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                shown.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = shown.find('?') {
        let (head, query) = shown.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        shown = format!("{head}{}", query.join("&"));
    }
    shown
}

/// Opens (and locks, for an apply) the store at `location`: a directory, or a database whose
/// locks on `accounts` are waited for up to `lock_timeout`. `lock`: false for a read-only use
/// (a plan), which takes no lock.
pub async fn open(
    location: &StateLocation,
    accounts: &[String],
    lock: Option<Duration>,
) -> Result<Box<dyn Store>, StoreError> {
    if let StateLocation::Dir(path) = location
        && let Some(refused) = lookalike::not_a_dir(path)
    {
        return Err(StoreError::BadLocation {
            location: refused.shown,
            why: refused.why,
        });
    }
    Ok(match location {
        StateLocation::Dir(path) => match lock {
            Some(wait) => Box::new(DirStore::open_within(path, wait).await?),
            None => Box::new(DirStore::read_only(path)),
        },
        #[cfg(feature = "postgres")]
        StateLocation::Postgres(url) => Box::new(PgStore::connect(url, accounts, lock).await?),
        #[cfg(not(feature = "postgres"))]
        StateLocation::Postgres(url) => {
            let _ = (accounts, lock);
            return Err(StoreError::BadLocation {
                location: redact_url(url),
                why: "this mpt-policy was built without its `postgres` feature".into(),
            });
        }
    })
}
