//! The one error type of the pipeline. Every variant names the file, JSON pointer or operation
//! involved, so a user can go straight to what is wrong.

use std::path::PathBuf;

/// Why merging, amending, generating or importing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A file is not valid JSON.
    #[error("{}:{line}:{column}: invalid JSON: {message}", path.display())]
    Json {
        /// The file that failed to parse.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A document is JSON but not the shape we need (not OpenAPI 3.0.x, no `paths`, a malformed
    /// amendment, ...).
    #[error("{}: {}{message}", path.display(), at(pointer))]
    Invalid {
        /// The file involved.
        path: PathBuf,
        /// JSON pointer of the offending value inside that file (`""` for the document root).
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// Two fragments define the same operation.
    #[error("{method} {route} is defined in both {} and {}", first.display(), second.display())]
    DuplicateOperation {
        /// HTTP method, upper case.
        method: String,
        /// Path template.
        route: String,
        /// The fragment that defined it first.
        first: PathBuf,
        /// The fragment that defined it again.
        second: PathBuf,
    },
    /// Two fragments define a component under one name differently and no amendment says which
    /// one wins.
    #[error(
        "component {name} differs between {} and {} at {pointer}; declare the winner in the amendments' `schemaWinners`",
        first.display(),
        second.display()
    )]
    ComponentConflict {
        /// The component, e.g. `schemas/ApiToken`.
        name: String,
        /// The first fragment defining it.
        first: PathBuf,
        /// The fragment whose definition differs.
        second: PathBuf,
        /// The first JSON pointer (from the document root) at which the two definitions differ.
        pointer: String,
    },
    /// A `$ref` does not resolve inside its document.
    #[error("{}: {pointer}: $ref {reference:?} does not resolve", path.display())]
    DanglingRef {
        /// The fragment (or the amendments file, for the merged document) holding the reference.
        path: PathBuf,
        /// JSON pointer of the `$ref` member.
        pointer: String,
        /// The reference itself.
        reference: String,
    },
    /// An amendment could not be applied.
    #[error("{}: amendment #{index} ({reason}): {message}", path.display())]
    Amendment {
        /// The amendments file.
        path: PathBuf,
        /// 0-based index of the patch entry.
        index: usize,
        /// The entry's declared reason, to find it quickly.
        reason: String,
        /// What went wrong.
        message: String,
    },
    /// The code generator refused the spec or panicked on it.
    #[error("generating the client failed at {operation} (from {}): {message}", fragment.display())]
    Generate {
        /// `operationId` and `METHOD path` of the operation that fails on its own, or `"the whole spec"`.
        operation: String,
        /// The fragment that operation came from.
        fragment: PathBuf,
        /// The generator's message (or panic payload).
        message: String,
    },
    /// A docs page handed to `import` did not hold exactly one OpenAPI document.
    #[error("{}: {message}", path.display())]
    Import {
        /// The page.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// `"/a/b: "`, or nothing for the document root.
fn at(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!("{pointer}: ")
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    pub(crate) fn invalid(
        path: impl Into<PathBuf>,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            path: path.into(),
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// Largest input file (fragment, amendments, docs page) the pipeline reads: 16 MiB.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a UTF-8 input file: only a regular file (a link to one is fine) of at most
/// [`MAX_INPUT_BYTES`], so a FIFO or a link to `/dev/zero` is an error, not a hang.
pub fn read_input(path: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(Error::io(path))?;
    if !meta.is_file() {
        return Err(Error::invalid(
            path,
            "",
            "not a regular file (a directory, FIFO, socket or device is never read)",
        ));
    }
    let too_large = || {
        Error::invalid(
            path,
            "",
            format!("larger than the {MAX_INPUT_BYTES}-byte limit for input files"),
        )
    };
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes))
        .map_err(Error::io(path))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::invalid(
            path,
            "",
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

/// Parses `text` as JSON, reporting `path:line:column` on failure.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    path: impl Into<PathBuf>,
    text: &str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Json {
        path: path.into(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

/// serde_json appends "at line L column C" to its messages; we report the position ourselves.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// Escapes one JSON pointer reference token (RFC 6901).
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
