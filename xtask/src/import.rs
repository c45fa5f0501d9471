//! `cargo xtask import SOURCE...`: one fragment per operation of each docs page, module file or
//! whole spec, into `openapi/fragments/` (see `mpt_codegen::import`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mpt_codegen::amend::Amendments;
use mpt_codegen::import::ImportStatus;
use mpt_codegen::regen::Layout;

use crate::error::Result;
use crate::shown;

/// Imports `pages`; `force` replaces a fragment that defines another operation; `prune`
/// deletes the fragments of operations a whole spec or module file no longer has.
pub fn run(
    root: &Path,
    layout: &Layout,
    pages: &[PathBuf],
    force: bool,
    prune: bool,
) -> Result<ExitCode> {
    let amendments = Amendments::read(&layout.amendments)?;
    let imported =
        mpt_codegen::import::import_sources(pages, &layout.fragments, &amendments, force, prune)?;
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for one in imported {
        *counts.entry(one.status.to_string()).or_default() += 1;
        let (method, route) = &one.operation;
        let op = format!("{} {route}", method.to_ascii_uppercase());
        match &one.status {
            ImportStatus::Refused(why) => {
                let why = why.replace(&root.display().to_string(), ".");
                println!("{:>9} {op}: {why}", one.status);
            }
            status => println!("{status:>9} {} ({op})", shown(root, &one.path)),
        }
        if let Some(report) = one.changes.filter(|r| !r.changes.is_empty()) {
            print!("  against the fragment it replaces: {}", report.text());
        }
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("{}", summary.join(", "));
    Ok(ExitCode::SUCCESS)
}
