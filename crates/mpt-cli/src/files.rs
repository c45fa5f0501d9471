//! Files the CLI reads: inputs must be regular files of bounded size (a FIFO or a device never
//! blocks a run). Secret and state files are written by `mpt::policy::files`.

use std::fs::OpenOptions;
use std::io::Read;
use std::path::Path;

/// The largest file read: 1 MiB (a state file is well under 1 KiB).
pub const MAX_READ_BYTES: u64 = 1024 * 1024;

/// Reads a regular file of at most [`MAX_READ_BYTES`]; a FIFO, directory or device is refused
/// before it is opened, so nothing blocks.
pub fn read_regular(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if meta.len() > MAX_READ_BYTES {
        return Err(format!("{shown}: larger than {MAX_READ_BYTES} bytes"));
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(|e| format!("{shown}: {e}"))?;
    if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(format!("{shown}: not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_READ_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{shown}: {e}"))?;
    Ok(text)
}

pub use mpt::policy::files::{SecretFile, replace};
