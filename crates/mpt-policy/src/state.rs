//! An apply's state directory: what survives a crash, and a lock so two applies never share it.
//!
//! ```text
//! <dir>/lock                    held (flock) while an apply runs
//! <dir>/rotations/<old id>.json a rotation's plan (ids, phase, times), until it is finished
//! <dir>/creates/<key>.json      a create's record (the ids that had its name before), until
//!                               the secret is handed over
//! <dir>/secrets/<id>.secret     a secret a sink could not take (0600)
//! <dir>/refused/<id>.json       modules the platform refused to put back on a token
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::files;

/// How many times, and how far apart, the state directory's lock is tried.
const LOCK_TRIES: u32 = 20;
const LOCK_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// The largest state file read (a rotation's plan is well under 4 KiB, its known ids included).
const MAX_STATE_FILE: u64 = 1024 * 1024;

/// A create that was sent, or is about to be: enough to find what it made after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateRecord {
    pub account_id: String,
    pub name: String,
    /// The ids of the tokens of this account and name before the create was sent.
    pub known_ids: Vec<String>,
    /// The token it made, once known.
    pub new_id: Option<String>,
    /// The platform's time (the `Date` of the lookup's answer) when the record was made: the
    /// token it made cannot have been created before it.
    #[serde(default)]
    pub recorded_at: Option<DateTime<Utc>>,
}

impl CreateRecord {
    /// The record's own claims, checked before anything is done with it: ids of the platform's
    /// shape, and an account and name the policy declares.
    pub fn check(&self, policy: &super::Policy) -> Result<(), String> {
        use super::ids::{IdKind, check_id};
        check_id(IdKind::Account, &self.account_id).map_err(|e| format!("accountId: {e}"))?;
        for id in self.known_ids.iter().chain(&self.new_id) {
            check_id(IdKind::Token, id)?;
        }
        if self.recorded_at.is_none() {
            return Err("it has no recordedAt (the platform's time when it was made)".into());
        }
        if policy
            .declared(&self.account_id, &self.name, None)
            .is_none()
        {
            return Err(format!(
                "the policy declares no token {:?} in account {}",
                self.name, self.account_id
            ));
        }
        Ok(())
    }

    /// Whether `token` (read from the platform, with its audit) can be the one this record's
    /// create made: of its account and name, none of the ids that had the name before, and
    /// created no earlier than the record (by the platform's clock).
    pub fn may_have_made(&self, token: &mpt::Token) -> Result<(), String> {
        let id = token.id();
        if token.account_id() != Some(self.account_id.as_str()) {
            return Err(format!("{id} is not of account {}", self.account_id));
        }
        if token.name() != Some(self.name.as_str()) {
            return Err(format!("{id} is not named {:?}", self.name));
        }
        if self.known_ids.iter().any(|k| k == id) {
            return Err(format!("{id} had the name before the create was sent"));
        }
        match (token.created_at(), self.recorded_at) {
            // The record's time is a whole second (an HTTP date), cut down.
            (Some(created), Some(recorded)) if created >= recorded => Ok(()),
            (Some(created), Some(recorded)) => Err(format!(
                "{id} was created at {created}, before the record ({recorded})"
            )),
            _ => Err(format!("{id}: its creation time is unknown")),
        }
    }
}

/// Modules the platform refused to put on a token (not enabled for the account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Refused {
    pub token_id: String,
    pub modules: Vec<String>,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// The state directory, locked for this apply.
pub(crate) struct StateDir {
    pub root: PathBuf,
    _lock: File,
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// An id as a file name: as it is when it has the platform's shape, else hex-encoded (an id a
/// server or a file gave never becomes a path of its own).
fn file_name(kind: super::ids::IdKind, id: &str) -> String {
    if super::ids::is_id(kind, id) {
        id.to_string()
    } else {
        format!("x{}", hex(id))
    }
}

impl StateDir {
    /// Makes (when missing) and locks the directory; another apply holding it is refused.
    ///
    /// The lock is tried for up to a second: a process forked elsewhere in this program (a sink
    /// command, say) holds a copy of the lock's descriptor until it runs its program, so a lock
    /// just released can look held for a moment. An apply holds it for its whole run.
    pub async fn open(root: &Path) -> Result<StateDir, String> {
        super::sink::state_dir(root)?;
        // The root was probed for writing; its subdirectories are only made.
        for sub in ["rotations", "creates", "secrets", "refused"] {
            super::sink::private_dir(&root.join(sub))?;
        }
        let path = root.join("lock");
        let mut options = File::options();
        options.create(true).truncate(false).write(true);
        // Never through a link, never waiting on a FIFO planted there.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut options,
            libc::O_NOFOLLOW | libc::O_NONBLOCK,
        );
        let lock = options.open(&path).map_err(|e| {
            format!(
                "{}: {e} (a regular file of ours is expected)",
                path.display()
            )
        })?;
        if !lock.metadata().map(|m| m.is_file()).unwrap_or(false) {
            return Err(format!("{}: not a regular file; refused", path.display()));
        }
        let mut tries = 0;
        while lock.try_lock().is_err() {
            tries += 1;
            if tries >= LOCK_TRIES {
                return Err(format!(
                    "{}: another apply is using this state directory",
                    path.display()
                ));
            }
            tokio::time::sleep(LOCK_PAUSE).await;
        }
        Ok(StateDir {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets")
    }

    pub fn rotation_path(&self, old_id: &str) -> PathBuf {
        let name = file_name(super::ids::IdKind::Token, old_id);
        self.root.join("rotations").join(format!("{name}.json"))
    }

    pub fn create_path(&self, account_id: &str, name: &str) -> PathBuf {
        self.root.join("creates").join(format!(
            "{}-{}.json",
            file_name(super::ids::IdKind::Account, account_id),
            hex(name)
        ))
    }

    pub fn refused_path(&self, token_id: &str) -> PathBuf {
        refused_path(&self.root, token_id)
    }

    pub fn save<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), String> {
        let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())? + "\n";
        files::replace(path, &text)
    }

    pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
        let text = files::read_small(path, MAX_STATE_FILE)?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn remove(path: &Path) {
        let _ = std::fs::remove_file(path);
    }

    /// The files of `sub` (sorted, so resumes run in a stable order).
    fn listed(&self, sub: &str) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.root.join(sub))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        paths.sort();
        paths
    }

    /// The records of `sub` an earlier apply left (rotation plans, create records), each
    /// loaded or with why it cannot be.
    pub fn pending<T: DeserializeOwned>(&self, sub: &str) -> Vec<(PathBuf, Result<T, String>)> {
        self.listed(sub)
            .into_iter()
            .map(|p| {
                let loaded = Self::load(&p);
                (p, loaded)
            })
            .collect()
    }

    /// The modules the platform refused for a token, if it did.
    pub fn refused(&self, token_id: &str) -> Option<Refused> {
        refused(&self.root, token_id)
    }
}

fn refused_path(root: &Path, token_id: &str) -> PathBuf {
    let name = file_name(super::ids::IdKind::Token, token_id);
    root.join("refused").join(format!("{name}.json"))
}

pub(crate) fn refused(root: &Path, token_id: &str) -> Option<Refused> {
    StateDir::load(&refused_path(root, token_id)).ok()
}

impl Refused {
    /// Whether every module in `added` is one the platform refused (and there is one).
    pub fn covers(&self, added: &[String]) -> bool {
        !added.is_empty() && added.iter().all(|m| self.modules.contains(m))
    }

    /// Why they are not sent again, and how to retry (`root`: the state directory).
    pub fn explain(&self, root: &Path) -> String {
        format!(
            "modules {} were refused on {} ({}); the platform strips a module from every token when it leaves the account's default group. Not sent again: remove {} to retry",
            self.modules.join(","),
            self.at.format("%Y-%m-%d"),
            self.reason,
            refused_path(root, &self.token_id).display()
        )
    }
}
