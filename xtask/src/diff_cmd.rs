//! `cargo xtask diff OLD NEW`: what changed in the API, whether it breaks users, the bump.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use mpt_codegen::amend::Amendments;
use mpt_codegen::diff;
use mpt_codegen::regen::Layout;

use crate::error::Result;
use crate::flags::{FailOn, Format};
use crate::{crate_version, with_exposure};

/// Prints the report of `old` → `new` in `format`, without the changes `ignore` accepts, with
/// a sunset grace period of `deprecation_days`; exit 1 when `fail_on` is reached.
pub fn run(
    root: &Path,
    layout: &Layout,
    (old, new): (&Path, &Path),
    format: Format,
    (fail_on, deprecation_days): (Option<FailOn>, u32),
    ignore: Option<&Path>,
) -> Result<ExitCode> {
    let amendments = Amendments::read(&layout.amendments)?;
    let old_doc = diff::load_side(old, &amendments)?;
    let new_doc = diff::load_side(new, &amendments)?;
    let tolerance = diff::Tolerance {
        deprecation_days,
        ..diff::Tolerance::of(&amendments)
    };
    let mut report = diff::compare(&old_doc, &new_doc, tolerance);
    if let Some(file) = ignore {
        let text = mpt_codegen::error::read_input(file)?;
        let (kept, accepted) = report.without_ignored(&text);
        eprintln!(
            "{accepted} change(s) accepted by {} (not reported, not judged for --fail-on)",
            file.display()
        );
        report = kept;
    }
    let report = with_exposure(root, report, &old_doc);
    let out = match format {
        Format::Text => report.text(),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report.json()).unwrap_or_default()
        ),
        Format::Markdown => {
            report.markdown(&crate_version(root, "mpt-api"), &crate_version(root, "mpt"))
        }
    };
    write_stdout(&out)?;
    let failed = match fail_on {
        Some(FailOn::Breaking) => report.is_breaking(),
        Some(FailOn::PotentiallyBreaking) => {
            report.is_breaking() || report.count(diff::Level::PotentiallyBreaking) > 0
        }
        None => false,
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes `text` to standard output: a reader that closed the pipe early (`| head -1`) ends
/// the output quietly; any other failure (a full disk) is an error naming standard output.
fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(crate::error::Error::io("standard output")),
    }
}
