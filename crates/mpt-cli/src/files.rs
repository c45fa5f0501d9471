//! Files the CLI reads: inputs must be regular files of bounded size (a FIFO or a device never
//! blocks a run). The reading and writing itself is `mpt_policy::files`'s.

use std::path::Path;

pub use mpt_policy::files::{FileError, SecretFile, open_regular, replace};

/// The largest file read: 1 MiB (a state file is well under 1 KiB).
pub const MAX_READ_BYTES: u64 = 1024 * 1024;

/// Reads a regular file of at most [`MAX_READ_BYTES`]; a FIFO, directory or device is refused
/// before it is opened, so nothing blocks.
pub fn read_regular(path: &Path) -> Result<String, FileError> {
    mpt_policy::files::read_regular(path, MAX_READ_BYTES)
}

/// Reads a JSON file ([`read_regular`]) as a `T`; `what` names what it should be in the error,
/// which quotes no value from the file (it may hold a secret pasted by mistake).
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<T, crate::exit::Failure> {
    let text = read_regular(path).map_err(|e| crate::exit::Failure::Usage(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| {
        crate::exit::Failure::Usage(format!(
            "{}: not {what}: {}",
            path.display(),
            crate::exit::without_quoted_values(&e.to_string())
        ))
    })
}

/// Reads a secret from a regular file, or from stdin (at most 64 KiB): its first line, which
/// no text on stderr will show from then on.
pub fn read_secret(
    file: Option<&Path>,
    what: &str,
) -> Result<mpt::TokenSecret, crate::exit::Failure> {
    use crate::exit::Failure;
    let text = match file {
        Some(file) => read_regular(file).map_err(|e| Failure::Usage(e.to_string()))?,
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(std::io::stdin(), 64 * 1024),
                &mut text,
            )
            .map_err(|e| Failure::Usage(format!("stdin: {e}")))?;
            text
        }
    };
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.is_empty() {
        return Err(Failure::Usage(format!("{what} is empty")));
    }
    crate::exit::remember(secret);
    Ok(mpt::TokenSecret::new(secret))
}
