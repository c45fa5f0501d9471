//! The directory store, the embedded default: a record per file, a lock file.
//!
//! ```text
//! <dir>/lock                       held (flock) while an apply runs
//! <dir>/creates/<key>.json         a create's record (the ids that had its name before), until
//!                                  the secret is handed over
//! <dir>/rotations/<old id>.json    a rotation's plan (ids, phase, times), until it is finished
//! <dir>/refused/<id>.json          modules the platform refused to put back on a token
//! ```
//!
//! A key whose name is longer than [`MAX_STEM`] (228) bytes (a create's key is the account and
//! the token's name hex-encoded: a name of 200 characters is up to 1,600 bytes of hex) is kept
//! in a file named by the name's first [`STEM_PREFIX`] bytes, `-h` and the SHA-256 of the whole
//! name (191 bytes with `.json`, 213 for the temporary file it is written to first: any file
//! system's 255 bytes fit). A name that fits is its own file name, as it always was, so every
//! record kept before is found (a longer one could never be written).
//!
//! The directory and everything in it is opened without following links and without blocking;
//! it is made private (0700) before anything is kept in it.

use std::fs::File;
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use super::{Key, Kind, Pending, Store, StoreError};
use crate::files;

/// How many times, and how far apart, the state directory's lock is tried: a process forked
/// elsewhere in this program (a sink command, say) holds a copy of the lock's descriptor until
/// it runs its program, so a lock just released can look held for a moment.
const LOCK_TRIES: u32 = 20;
const LOCK_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// The largest state file read (a rotation's plan is well under 4 KiB, its known ids included).
const MAX_STATE_FILE: u64 = 1024 * 1024;

/// The longest key name that is its own file name: 255 bytes, less `.json` and what the
/// temporary file a record is written to adds (`.`, `.`, 16 hex digits and `.tmp`).
const MAX_STEM: usize = 255 - ".json".len() - 22;
/// How much of a longer name its file name keeps, before its digest.
const STEM_PREFIX: usize = 120;

/// The file name (without `.json`) of a record whose key's name is `name`: the name, or when it
/// is too long for a file name, its first bytes and its digest. A name that is such a file name
/// (one `pending` read back) is its own.
fn file_stem(name: &str) -> String {
    use sha2::{Digest, Sha256};
    if name.len() <= MAX_STEM {
        return name.to_string();
    }
    let cut = (0..=STEM_PREFIX)
        .rev()
        .find(|&i| name.is_char_boundary(i))
        .unwrap_or(0);
    let digest: String = Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-h{digest}", &name[..cut])
}

/// A state directory: locked for an apply's whole run, or opened read-only for a plan.
pub struct DirStore {
    root: PathBuf,
    _lock: Option<File>,
    /// What this store wrote to the directory's `holder` file once it locked it (see
    /// [`DirStore::still_locked`]).
    holder: Option<String>,
    /// The records this store wrote, as it wrote them (`None`: removed): each is checked
    /// unchanged before this store writes or removes it again ([`DirStore::unchanged`]).
    written: std::sync::Mutex<std::collections::HashMap<PathBuf, Option<String>>>,
    /// Why this store stopped trusting its lock, once it did: for good (a lock file put back
    /// later proves nothing).
    lost: std::sync::Mutex<Option<String>>,
}

impl DirStore {
    /// Makes (when missing) and locks the directory; another apply holding it is refused.
    pub async fn open(root: &Path) -> Result<DirStore, StoreError> {
        DirStore::open_within(root, std::time::Duration::ZERO).await
    }

    /// [`DirStore::open`], waiting up to `wait` for another apply's lock (a second at least,
    /// for a lock just released) before refusing.
    pub async fn open_within(
        root: &Path,
        wait: std::time::Duration,
    ) -> Result<DirStore, StoreError> {
        files::state_dir(root).map_err(|e| StoreError::Refused(e.to_string()))?;
        // The root was probed for writing; its subdirectories are only made.
        for kind in Kind::ALL {
            files::private_dir(&root.join(kind.as_str()))
                .map_err(|e| StoreError::Refused(e.to_string()))?;
        }
        let path = root.join("lock");
        let started = std::time::Instant::now();
        // The classic race: the file locked may have been removed (or replaced) between its
        // open and its lock; a lock on a file no longer at `lock` excludes no one, so it is
        // taken again on the file there now.
        for _ in 0..LOCK_TRIES {
            let lock = lock_file(&path, started, wait).await?;
            if same_file(&lock, &path) {
                let holder = claim(root)?;
                return Ok(DirStore {
                    root: root.to_path_buf(),
                    _lock: Some(lock),
                    holder: Some(holder),
                    written: Default::default(),
                    lost: Default::default(),
                });
            }
        }
        Err(StoreError::Refused(format!(
            "{}: the lock file was locked {LOCK_TRIES} times, and each time it had been removed or replaced by then; refused",
            path.display()
        )))
    }

    /// The directory for reading only (a plan): nothing is made, locked or written.
    pub fn read_only(root: &Path) -> DirStore {
        DirStore {
            root: root.to_path_buf(),
            _lock: None,
            holder: None,
            written: Default::default(),
            lost: Default::default(),
        }
    }

    /// `Ok` unless this store locked its directory and `lock` is no longer the file it locked:
    /// a flock lives as long as its descriptor, which lives as long as the store, and excludes
    /// others only while `lock` is still the file it is on (tester round 20, L1), and while the
    /// directory's `holder` file still names this store (its file put back by hand after another
    /// apply took the directory: round 21, N2). A store opened for reading only locked nothing,
    /// and is never refused here.
    fn still_locked(&self) -> Result<(), StoreError> {
        let (Some(lock), Some(holder)) = (&self._lock, &self.holder) else {
            return Ok(());
        };
        let lost = |why: String| self.lose(why);
        if let Some(why) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(StoreError::SessionLost {
                location: self.root.display().to_string(),
                why,
            });
        }
        let path = self.root.join("lock");
        if !same_file(lock, &path) {
            return Err(lost(format!(
                "its lock file {} is no longer the file this apply locked (removed or replaced by hand): another apply may hold the directory now",
                path.display()
            )));
        }
        // The file locked may be back at `lock` (a hard link put back) after another apply
        // locked a new one there and acted: the `holder` file, written by each apply as it
        // takes the lock, says whose turn it is (tester round 21, N2).
        let path = self.root.join(HOLDER);
        match files::read_small(&path, 256) {
            Ok(text) if text.trim() == holder => Ok(()),
            Ok(_) => Err(lost(format!(
                "{} names another apply: another apply took the directory since (its lock file was removed or replaced by hand)",
                path.display()
            ))),
            Err(e) => Err(lost(format!(
                "{e}: the file naming the apply that holds the directory is gone or unreadable (removed by hand?)"
            ))),
        }
    }

    /// `Ok` unless this store wrote the record at `path` and it is not as it wrote it: another
    /// apply wrote or removed it since, which a lock proven by its files cannot rule out (its
    /// `lock` and `holder` both put back as they were, copies kept aside: tester round 22, R2),
    /// so this one stops as if its lock were lost, writing and removing nothing of the other's.
    fn unchanged(&self, path: &Path) -> Result<(), StoreError> {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let Some(ours) = written.get(path) else {
            return Ok(());
        };
        let now = match std::fs::symlink_metadata(path) {
            Err(_) => None,
            Ok(_) => Some(files::read_small(path, MAX_STATE_FILE).ok()),
        };
        match (ours, now) {
            (None, None) => Ok(()),
            (Some(ours), Some(Some(now))) if now == *ours => Ok(()),
            _ => Err(self.lose(format!(
                "{} is no longer the record this apply wrote: another apply wrote or removed it since (the directory's lock files put back by hand?)",
                path.display()
            ))),
        }
    }

    /// The store's lock lost for `why`, kept for good: every later proof fails the same way.
    fn lose(&self, why: String) -> StoreError {
        let mut lost = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        let why = lost.get_or_insert(why).clone();
        StoreError::SessionLost {
            location: self.root.display().to_string(),
            why,
        }
    }

    /// Notes what this store left at `path` (`None`: removed).
    fn written_now(&self, path: PathBuf, json: Option<&str>) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        written.insert(path, json.map(str::to_string));
    }

    fn path(&self, key: &Key) -> PathBuf {
        self.root
            .join(key.kind.as_str())
            .join(format!("{}.json", file_stem(&key.name)))
    }
}

/// The file naming the apply that holds a state directory's lock.
const HOLDER: &str = "holder";

/// Writes a new `holder` file in `root` (its lock just taken): what the store's proof of the
/// lock compares, so an apply whose lock file was put back after another took the directory
/// knows it.
fn claim(root: &Path) -> Result<String, StoreError> {
    let holder = mpt::new_marker().map_err(|e| StoreError::Refused(e.to_string()))?;
    files::replace(&root.join(HOLDER), &format!("{holder}\n"))
        .map_err(|e| StoreError::Refused(e.to_string()))?;
    Ok(holder)
}

/// Opens `path` (made when missing, never through a link, never waiting on a FIFO) and locks
/// it, trying [`LOCK_TRIES`] times and for `wait` since `started` at least.
async fn lock_file(
    path: &Path,
    started: std::time::Instant,
    wait: std::time::Duration,
) -> Result<File, StoreError> {
    let mut options = File::options();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK,
    );
    let lock = options.open(path).map_err(|e| {
        StoreError::Refused(format!(
            "{}: {e} (a regular file of ours is expected)",
            path.display()
        ))
    })?;
    if !lock.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(StoreError::Refused(format!(
            "{}: not a regular file; refused",
            path.display()
        )));
    }
    let mut tries = 0;
    while lock.try_lock().is_err() {
        tries += 1;
        if tries >= LOCK_TRIES && started.elapsed() >= wait {
            return Err(StoreError::Locked {
                account: "(every account of this state directory)".into(),
                holder: format!("{} is locked by another apply", path.display()),
            });
        }
        tokio::time::sleep(LOCK_PAUSE).await;
    }
    Ok(lock)
}

/// Whether `path` still names the file `locked` is open on (same device and inode, the path
/// not followed): a lock file removed by hand (a "stale lock" cleanup) or replaced while an
/// apply holds it no longer excludes anyone (tester round 20, L1).
fn same_file(locked: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (locked.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(held), Ok(there)) => held.dev() == there.dev() && held.ino() == there.ino(),
        _ => false,
    }
}

impl Store for DirStore {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // As a database's write checks its lock in the same statement: an apply whose lock
            // file was removed writes no record another apply may have given up since.
            self.still_locked()?;
            let path = self.path(key);
            self.unchanged(&path)?;
            files::replace(&path, json).map_err(|e| StoreError::Refused(e.to_string()))?;
            self.written_now(path, Some(json));
            Ok(())
        })
    }

    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            let path = self.path(key);
            match std::fs::symlink_metadata(&path) {
                Err(_) => Ok(None),
                Ok(_) => files::read_small(&path, MAX_STATE_FILE)
                    .map(Some)
                    .map_err(|e| StoreError::Refused(e.to_string())),
            }
        })
    }

    fn remove<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.still_locked()?;
            let path = self.path(key);
            self.unchanged(&path)?;
            let _ = std::fs::remove_file(&path);
            self.written_now(path, None);
            Ok(())
        })
    }

    fn pending<'a>(
        &'a self,
        kind: Kind,
        _accounts: &'a [String],
    ) -> BoxFuture<'a, Result<Pending, StoreError>> {
        Box::pin(async move {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(self.root.join(kind.as_str()))
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "json"))
                        .collect()
                })
                .unwrap_or_default();
            // Sorted, so resumes run in a stable order.
            paths.sort();
            Ok(paths
                .into_iter()
                .map(|path| {
                    let name = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let key = Key {
                        kind,
                        account: String::new(),
                        name,
                    };
                    let read = files::read_small(&path, MAX_STATE_FILE)
                        .map_err(|e| StoreError::Refused(e.to_string()));
                    (key, read)
                })
                .collect())
        })
    }

    fn fence<'a>(&'a self, _account: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            match &self._lock {
                Some(_) => self.still_locked(),
                None => Err(StoreError::Refused(format!(
                    "{}: opened for reading only (a plan): it holds no lock",
                    self.root.display()
                ))),
            }
        })
    }

    fn describe(&self, key: &Key) -> String {
        self.path(key).display().to_string()
    }

    fn holds_path(&self, path: &Path) -> bool {
        files::within(path, &self.root)
    }
}
