//! Creates given up on that may still land. A create whose answer never came (held in a
//! gateway, its apply killed or interrupted) can land after the next apply looked for it, found
//! no token carrying its marker, and made the entry's token again. Before that apply gives up on
//! it, the hashes of its markers are kept here (per account and name, the last
//! [`MAX_LATE`]): a token of the name that carries one of them (untouched since it landed, the
//! only one ever seen carrying it, named by no pending record) is this tool's own, made by a
//! create nobody waits for any more, its secret handed to no one. The plan deletes it (see
//! `plan::late`); a token of the name without such a marker is judged as before. A marker is
//! retired once its landing is deleted or adopted, or seen Deleted: a create lands once.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Key, Kind, Store, StoreError};

impl Key {
    /// The markers given up on of the creates of `name` in `account` (see [`Kind::Late`]).
    pub fn late(account: &str, name: &str) -> Key {
        let kind = Kind::Late;
        Key {
            kind,
            ..Key::create(account, name)
        }
    }
}

/// A record of a kind no `mpt` writes ([`Store::strays`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// Its kind, as kept.
    pub kind: String,
    /// Its key's name, as kept (a create's is its account and hex-encoded name).
    pub name: String,
    /// Where it is, in words.
    pub at: String,
}

/// How many markers given up on are kept per name, the newest last.
pub(crate) const MAX_LATE: usize = 8;

/// The markers given up on of one account and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LateRecord {
    pub account_id: String,
    pub name: String,
    /// The SHA-256 ([`mpt::marker_hash`]) of each marker given up on, the newest last; never
    /// the marker itself.
    pub marker_hashes: Vec<String>,
}

/// The record of `account` and `name`, when it reads and says it is theirs.
async fn record_of(store: &dyn Store, account: &str, name: &str) -> Option<LateRecord> {
    store
        .get::<LateRecord>(&Key::late(account, name))
        .await
        .filter(|r| r.account_id == account && r.name == name)
}

/// The markers of the creates of `account` and `name` given up on that no pending record waits
/// for ([`Claims::waited`]): a live token carrying one is a late landing.
pub(crate) async fn given_up(store: &dyn Store, account: &str, name: &str) -> Vec<String> {
    let Some(record) = record_of(store, account, name).await else {
        return Vec::new();
    };
    let waited = claims(store, &[account.to_string()]).await.waited;
    record
        .marker_hashes
        .into_iter()
        .filter(|h| !waited.contains(h))
        .collect()
}

/// Adds `hashes` (the markers of a create given up on) to the record of `account` and `name`,
/// keeping the last [`MAX_LATE`]. Nothing is written when all of them are kept already.
pub(crate) async fn remember_late(
    store: &dyn Store,
    account: &str,
    name: &str,
    hashes: &[String],
) -> Result<(), StoreError> {
    let key = Key::late(account, name);
    let mut record = record_of(store, account, name)
        .await
        .unwrap_or_else(|| LateRecord {
            account_id: account.to_string(),
            name: name.to_string(),
            marker_hashes: Vec::new(),
        });
    let new: Vec<&String> = hashes
        .iter()
        .filter(|h| !record.marker_hashes.contains(h))
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    record.marker_hashes.extend(new.into_iter().cloned());
    let over = record.marker_hashes.len().saturating_sub(MAX_LATE);
    record.marker_hashes.drain(..over);
    store.put(&key, &record).await
}

/// A `late` record that does not read, or a record of a kind no `mpt` writes
/// ([`super::Store::strays`]): refused when it is of a name the policy declares, else another
/// policy's (left alone, counted).
#[derive(Debug, Clone)]
pub(crate) struct Unread {
    /// Where it is, in words.
    pub at: String,
    /// Why it does not read.
    pub why: String,
    /// The accounts and names it is of, by its key (and by its body, when that reads): none
    /// when its key names none.
    pub names: Vec<(String, String)>,
    /// Not a record: the store's `late` records could not be listed at all (a lost session, a
    /// database that stopped answering), so no late landing is judged (tester round 20, L3).
    pub listing: bool,
}

impl Unread {
    /// A record that does not read.
    fn record(at: String, why: String, names: Vec<(String, String)>) -> Unread {
        Unread {
            at,
            why,
            names,
            listing: false,
        }
    }
}

/// Whether `hash` is a SHA-256 in hex, as [`mpt::marker_hash`] writes it.
fn is_hash(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The markers given up on of `accounts`, by account and name, and the records that do not
/// read (not JSON, cut short, not a file, kept under a name that is not their account's and
/// name's, a hash that is not a SHA-256 in hex, or of a kind no `mpt` writes): each with where
/// it is and why (a record read back is a claim, and one that cannot be read gives no evidence:
/// its name's tokens are judged as if it were not there).
pub(crate) async fn late_marks(
    store: &dyn Store,
    accounts: &[String],
) -> (HashMap<(String, String), Vec<String>>, Vec<Unread>) {
    let mut marks: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut unread = Vec::new();
    // A late record's key is a create's (`<account>-<hex of the name>`), when it is one.
    let named = |name: &str| {
        let key = Key {
            kind: Kind::Create,
            account: String::new(),
            name: name.to_string(),
        };
        // An empty name is no policy's: a key naming one names none (tester round 24, S4).
        key.create_of()
            .into_iter()
            .filter(|(_, name)| !name.is_empty())
            .collect::<Vec<_>>()
    };
    let listed = match store.listed_of::<LateRecord>(Kind::Late, accounts).await {
        Ok(listed) => listed,
        Err(e) => {
            // No record is at fault: the store did not answer (tester round 20, L3).
            let at = store.describe(&Key {
                kind: Kind::Late,
                account: String::new(),
                name: String::new(),
            });
            unread.push(Unread {
                listing: true,
                ..Unread::record(at, e.to_string(), Vec::new())
            });
            Vec::new()
        }
    };
    for (key, record) in listed {
        let at = store.describe(&key);
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let why = e.to_string();
                let why = why
                    .strip_prefix(&format!("{at}: "))
                    .unwrap_or(&why)
                    .to_string();
                unread.push(Unread::record(at, why, named(&key.name)));
                continue;
            }
        };
        // The key decides whose record it is; its body only when the key names none (a record
        // of another policy's name whose body names one of this policy's was refused as that
        // one's: tester round 21, N4).
        let mut names = named(&key.name);
        if names.is_empty() {
            names.push((record.account_id.clone(), record.name.clone()));
        }
        // Where it says it belongs against where it is kept (a directory's keys name no account,
        // and a long name's file is a digest: compared as the store describes each). Checked
        // before the account it names (a record kept under this policy's name whose body names
        // another account was passed over in silence: tester round 21, N4).
        if store.describe(&Key::late(&record.account_id, &record.name)) != at {
            let why = format!(
                "it says it is the record of {:?} in {}, which is kept under another name: not read",
                record.name, record.account_id
            );
            unread.push(Unread::record(at, why, names));
            continue;
        }
        if !accounts.contains(&record.account_id) {
            continue;
        }
        if record.name.is_empty() {
            // No policy declares an empty name: not another policy's, and no evidence (it was
            // ignored in silence: tester round 25, F4).
            let why = "its name is empty, which no policy declares".to_string();
            unread.push(Unread::record(at, why, Vec::new()));
            continue;
        }
        if let Some(bad) = record.marker_hashes.iter().position(|h| !is_hash(h)) {
            let why = format!("markerHashes[{bad}] is not a SHA-256 in hex (64 digits 0-9, a-f)");
            unread.push(Unread::record(at, why, names));
            continue;
        }
        marks
            .entry((record.account_id, record.name))
            .or_default()
            .extend(record.marker_hashes);
    }
    for stray in store.strays(accounts).await {
        let why = format!("its kind `{}` is none `mpt` writes", stray.kind);
        let names = named(&stray.name);
        unread.push(Unread::record(stray.at, why, names));
    }
    (marks, unread)
}

/// What the pending records of `accounts` claim, read once: the markers they still wait for
/// (every marker of a create record, and the newest of a rotation's: its earlier ones were
/// given up on when it created again), never taken as given up on; and the tokens they name (a
/// create's token, a rotation's old token and replacement), the state's own, never taken for a
/// late landing, whatever they carry.
pub(crate) struct Claims {
    /// The markers still waited for.
    pub(crate) waited: HashSet<String>,
    /// The tokens named.
    pub(crate) named: HashSet<String>,
}

/// The [`Claims`] of the pending records of `accounts`.
pub(crate) async fn claims(store: &dyn Store, accounts: &[String]) -> Claims {
    let (mut waited, mut named) = (HashSet::new(), HashSet::new());
    for (_, r) in store
        .pending_of::<super::CreateRecord>(Kind::Create, accounts)
        .await
    {
        if let Ok(r) = r {
            named.extend(r.new_id);
            waited.extend(r.marker_hashes);
        }
    }
    for (_, r) in store
        .pending_of::<mpt::RotationPlan>(Kind::Rotation, accounts)
        .await
    {
        if let Ok(r) = r {
            waited.extend(r.marker_hashes.last().cloned());
            named.extend(std::iter::once(r.old_id).chain(r.new_id));
        }
    }
    Claims { waited, named }
}

/// Retires the markers `description` carries from the record of `account` and `name`: their
/// create landed and its token was deleted, so any later token carrying one is a copy of its
/// tag, never a late landing (a tag read back from the deleted token and copied into the managed
/// token's description had it deleted: tester round 18). A record that does not read is left.
pub(crate) async fn retire_late(
    store: &dyn Store,
    account: &str,
    name: &str,
    description: Option<&str>,
) -> Result<(), StoreError> {
    retire_where(store, account, name, |h| {
        mpt::carries_marker(description, std::slice::from_ref(h))
    })
    .await
}

/// Retires from the record of `account` and `name` the markers that one of `tokens` names, in
/// its tag or rewritten ([`mpt::mentions_marker`]; tokens the platform shows Deleted: a create
/// lands once, so a marker seen on a deleted token is spent, whoever deleted it). A record
/// that does not read is left.
pub(crate) async fn retire_carried(
    store: &dyn Store,
    account: &str,
    name: &str,
    tokens: &[mpt::Token],
) -> Result<(), StoreError> {
    retire_where(store, account, name, |h| {
        tokens.iter().any(|t| {
            let named = |text| mpt::mentions_marker(text, std::slice::from_ref(h));
            named(t.description()) || named(t.name())
        })
    })
    .await
}

/// Drops the hashes `spent` says are spent from the record of `account` and `name`, writing it
/// only when one was.
async fn retire_where(
    store: &dyn Store,
    account: &str,
    name: &str,
    spent: impl Fn(&String) -> bool,
) -> Result<(), StoreError> {
    let key = Key::late(account, name);
    let Some(mut record) = record_of(store, account, name).await else {
        return Ok(());
    };
    let before = record.marker_hashes.len();
    record.marker_hashes.retain(|h| !spent(h));
    if record.marker_hashes.len() == before {
        return Ok(());
    }
    store.put(&key, &record).await
}
