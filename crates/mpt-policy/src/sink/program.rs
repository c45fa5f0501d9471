//! A sink command's program, found before anything is sent as the system would find it when the
//! command is started: a name with a `/` is a path (relative ones from the working directory),
//! any other name is looked for in each directory of `PATH` in turn (an empty entry is the
//! working directory; without `PATH`, `/bin` and `/usr/bin`). What is found must be a regular
//! file this process may execute, and one the system starts (`format`): a script's `#!`
//! interpreter and an ELF program's loader must be found and runnable too.

use std::path::{Path, PathBuf};

use super::format;
pub(crate) use super::runnable::NotRunnable;
use super::runnable::file_runnable;

/// Where the system looks for a program without `PATH` (as the C library's `execvp`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Finds `program` as starting it would: its path, or the first runnable file of the name in
/// `PATH`'s directories. When none is, the reason for the first candidate that exists (else
/// [`NotRunnable::Missing`]); `in_path` tells whether `PATH` was searched.
pub(crate) fn find(program: &str) -> Result<PathBuf, (NotRunnable, bool)> {
    if program.contains('/') {
        let at = PathBuf::from(program);
        return runnable(&at).map(|()| at).map_err(|e| (e, false));
    }
    let path = std::env::var_os("PATH");
    let dirs = path.as_deref().unwrap_or(DEFAULT_PATH.as_ref());
    let mut first = None;
    for dir in std::env::split_paths(dirs) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let at = dir.join(program);
        match runnable(&at) {
            Ok(()) => return Ok(at),
            Err(NotRunnable::Missing) => {}
            Err(why) => {
                first.get_or_insert(why);
            }
        }
    }
    Err((first.unwrap_or(NotRunnable::Missing), true))
}

/// Whether the file at `at` (symlinks followed, as `exec` follows them) can be started: a
/// regular file this process may execute, whose `#!` interpreter or ELF loader can be too.
fn runnable(at: &Path) -> Result<(), NotRunnable> {
    file_runnable(at)?;
    format::startable(at, 0)
}
