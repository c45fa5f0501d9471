//! How results are printed: a table by default, or JSON (`--output json`: one document) or JSON
//! lines (`--output jsonl`). JSON field names are stable; timestamps are RFC 3339 in JSON and
//! humanised in tables. A token's secret is never in these (only `create` and `rotate start`
//! print one, on purpose). Every command prints through here: tokens and bulk rows in
//! `tokens`, plans, apply results and rotations in `policy`.

mod policy;
mod tokens;

use chrono::{DateTime, Utc};

pub use policy::{plan, result_line, rotation};
pub use tokens::{Row, RowOutcome, Whoami, count, rows, token, tokens, whoami};
/// Writes to stdout. A closed pipe (`mpt tokens list | head -1`) ends the output quietly, as Unix
/// tools do (and is remembered: [`stdout_closed`]); any other failure is an error.
pub fn print(text: &str) -> Result<(), crate::exit::Failure> {
    match write_stdout(text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
        Err(e) => Err(crate::exit::Failure::Other(format!("stdout: {e}"))),
    }
}

/// Whether a [`print`] found stdout closed.
static CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether stdout was found closed: a text [`print`] wrote was lost, and so will the next be.
pub fn stdout_closed() -> bool {
    CLOSED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Writes a text holding a secret to stdout: unlike [`print`], a closed pipe is an error, since
/// the secret would be lost.
pub fn print_secret(text: &str) -> Result<(), StdoutError> {
    write_stdout(text.as_bytes()).map_err(|e| match e.kind() {
        std::io::ErrorKind::BrokenPipe => StdoutError::Closed,
        _ => StdoutError::Io(e),
    })
}

/// Why stdout did not take a text holding a secret.
#[derive(Debug, thiserror::Error)]
pub enum StdoutError {
    /// The pipe was closed.
    #[error("stdout is closed")]
    Closed,
    /// Writing failed.
    #[error("stdout: {0}")]
    Io(#[source] std::io::Error),
}

/// Whether stdout throws away what is written: it is `/dev/null` (a closed fd 1 is reopened
/// there at start, so `>&-` is too). A secret printed there would be lost.
#[cfg(unix)]
pub fn stdout_discards() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(out) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return false;
    };
    let (Ok(out), Ok(null)) = (
        std::fs::File::from(out).metadata(),
        std::fs::metadata("/dev/null"),
    ) else {
        return false;
    };
    out.file_type().is_char_device() && out.rdev() == null.rdev()
}

/// Whether stdout throws away what is written (never known off Unix).
#[cfg(not(unix))]
pub fn stdout_discards() -> bool {
    false
}

fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Text read from a record, the platform or an error, as a table or a line shows it: control
/// characters escaped ([`escaped`]), then anything shaped like a secret redacted. JSON output
/// escapes by itself.
pub fn shown(text: &str) -> String {
    crate::exit::redact(&escaped(text))
}

/// `text` with its control characters escaped (`\u{1b}`, `\n`): nothing moves the cursor,
/// clears the screen or forges a line. A secret printed on purpose goes through this alone.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `3d ago`, `in 5m`, `never`.
pub fn ago(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "never".into();
    };
    let secs = (now - at).num_seconds();
    let (n, future) = (secs.unsigned_abs(), secs < 0);
    let text = match n {
        0..60 => format!("{n}s"),
        60..3600 => format!("{}m", n / 60),
        3600..86_400 => format!("{}h", n / 3600),
        _ => format!("{}d", n / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// Rows under a header, columns padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// A progress bar on stderr with this template and length.
pub fn progress_bar(template: &str, len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON document.
    Json,
    /// One JSON document per line.
    Jsonl,
    /// A Markdown table with a summary line, for a pull request's comment (`tokens plan`;
    /// other commands print their table).
    Markdown,
}
