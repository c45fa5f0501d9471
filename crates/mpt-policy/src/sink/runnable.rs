//! Whether a file is one `exec` may start: a regular file this process may execute (what
//! `exec` asks of a program, a `#!` interpreter and an ELF loader alike), and why not.

use std::path::{Path, PathBuf};

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
