//! `cargo xtask import PAGE...`: the OpenAPI fragment embedded in each docs page, into
//! `openapi/fragments/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mpt_codegen::amend::Amendments;
use mpt_codegen::regen::Layout;

use crate::error::Result;
use crate::shown;

/// Imports `pages`; `force` replaces a fragment that defines another operation.
pub fn run(root: &Path, layout: &Layout, pages: &[PathBuf], force: bool) -> Result<ExitCode> {
    let amendments = Amendments::read(&layout.amendments)?;
    for imported in mpt_codegen::import::import_pages(pages, &layout.fragments, &amendments, force)?
    {
        println!("{:>9} {}", imported.status, shown(root, &imported.path));
        if let Some(report) = imported.changes.filter(|r| !r.changes.is_empty()) {
            print!("  against the fragment it replaces: {}", report.text());
        }
    }
    Ok(ExitCode::SUCCESS)
}
