//! A sink command's program, found before anything is sent as the system would find it when the
//! command is started: a name with a `/` is a path (relative ones from the working directory),
//! any other name is looked for in each directory of `PATH` in turn (an empty entry is the
//! working directory; without `PATH`, `/bin` and `/usr/bin`). What is found must be a regular
//! file this process may execute, and one the system starts (`format`): a script's `#!`
//! interpreter and an ELF program's loader must be found and runnable too.

use std::path::{Path, PathBuf};

use super::format;

/// Where the system looks for a program without `PATH` (as the C library's `execvp`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Why a sink command's program cannot be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotRunnable {
    /// Nothing at the path, or nothing of the name in any directory of `PATH`.
    Missing,
    /// Something that is not a regular file (a directory, a device) at the path.
    Irregular(PathBuf),
    /// A regular file this process may not execute.
    Unexecutable(PathBuf),
    /// The interpreter a script names on its `#!` line, or an ELF program's loader (its
    /// `PT_INTERP`), cannot be started.
    Interpreter {
        /// The script or program.
        at: PathBuf,
        /// `"#! interpreter"` or `"ELF loader (PT_INTERP)"`.
        what: &'static str,
        /// The interpreter or loader, as the file names it.
        interpreter: PathBuf,
        /// Why it cannot be started.
        why: Box<NotRunnable>,
    },
    /// A file the system does not start as it is (a malformed ELF file, a `#!` line naming
    /// nothing, too many levels of interpreters).
    NotAProgram {
        /// The file.
        at: PathBuf,
        /// What it is.
        why: String,
    },
}

impl std::fmt::Display for NotRunnable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRunnable::Missing => f.write_str("not found"),
            NotRunnable::Irregular(at) => write!(f, "{} is not a regular file", at.display()),
            NotRunnable::Unexecutable(at) => write!(f, "{} is not executable", at.display()),
            NotRunnable::Interpreter {
                at,
                what,
                interpreter,
                why,
            } => {
                let why = match why.as_ref() {
                    NotRunnable::Missing => "not found".to_string(),
                    NotRunnable::Irregular(_) => "not a regular file".to_string(),
                    NotRunnable::Unexecutable(_) => "not executable".to_string(),
                    other => other.to_string(),
                };
                write!(
                    f,
                    "{}'s {what} {}: {why}",
                    at.display(),
                    interpreter.display()
                )
            }
            NotRunnable::NotAProgram { at, why } => {
                write!(f, "{} is {why}", at.display())
            }
        }
    }
}

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

/// Whether `at` is a regular file this process may execute (what `exec` asks of a program,
/// an interpreter and a loader alike).
pub(super) fn file_runnable(at: &Path) -> Result<(), NotRunnable> {
    let Ok(meta) = std::fs::metadata(at) else {
        return Err(NotRunnable::Missing);
    };
    if !meta.is_file() {
        return Err(NotRunnable::Irregular(at.to_path_buf()));
    }
    if !executable(at, &meta) {
        return Err(NotRunnable::Unexecutable(at.to_path_buf()));
    }
    Ok(())
}

/// Whether this process may execute the regular file at `at`.
#[cfg(unix)]
fn executable(at: &Path, _meta: &std::fs::Metadata) -> bool {
    use nix::unistd::{AccessFlags, access};
    access(at, AccessFlags::X_OK).is_ok()
}

/// Whether this process may execute the regular file at `at`.
#[cfg(not(unix))]
fn executable(_at: &Path, _meta: &std::fs::Metadata) -> bool {
    true
}
