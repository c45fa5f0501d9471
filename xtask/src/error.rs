//! The xtask's own error: every failure that ends a command with exit code 2 and one `error:`
//! line naming the file, command or directory involved.

use std::path::PathBuf;

/// What made a command fail (as opposed to a check that found problems: exit 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The code generator refused its input or could not write its output.
    #[error(transparent)]
    Codegen(#[from] mpt_codegen::Error),
    /// A program the task runs (cargo, git) could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why it could not start.
        source: std::io::Error,
    },
    /// A program the task runs failed.
    #[error("`{command}` failed")]
    Failed {
        /// The command line.
        command: String,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The repository to work in was not found.
    #[error("{} is not inside the SDK's repository (no openapi/amendments.json above it); run `cargo xtask` in the repository or pass --root", dir.display())]
    NotARepository {
        /// Where the search started.
        dir: PathBuf,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// `program` could not be started.
    pub fn spawn(program: &str) -> impl FnOnce(std::io::Error) -> Error {
        let program = program.to_string();
        move |source| Error::Spawn { program, source }
    }
}

/// The xtask's result.
pub type Result<T> = std::result::Result<T, Error>;
