//! `cargo xtask regen [--check]`: merge, amend, generate; say what changed in the API and in
//! the generated client's Rust API.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use mpt_codegen::amend::Amendments;
use mpt_codegen::regen::{self, Layout};
use mpt_codegen::{api_listing, diff};

use crate::error::Result;
use crate::{crate_version, shown, with_exposure};

/// Regenerates (or, with `check`, lists the stale files and exits 1); with `verify`, then
/// builds the generated client with every module on and exits 1 naming each operation or type
/// that does not compile.
pub fn run(root: &Path, layout: &Layout, check: bool, verify: bool) -> Result<ExitCode> {
    let code = generate_or_check(root, layout, check)?;
    if code != ExitCode::SUCCESS || !verify {
        return Ok(code);
    }
    crate::verify::run(root)
}

fn generate_or_check(root: &Path, layout: &Layout, check: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let built = regen::build_all(layout)?;
    let modules: Vec<String> = layout
        .units()?
        .into_iter()
        .filter_map(|u| u.module)
        .collect();
    regen::check_wiring(&layout.api_crate, &modules)?;
    let (merged, outputs) = (&built.root, &built.outputs);
    print_changes(root, layout, &merged.doc, outputs);
    print_units(&built.units);
    if check {
        let stale = regen::check(outputs);
        if stale.is_empty() {
            println!("all {} generated files are up to date", outputs.len());
            return Ok(ExitCode::SUCCESS);
        }
        for s in &stale {
            println!("stale: {}", shown(root, &s.path));
            println!("{}", s.diff);
        }
        eprintln!(
            "{} file(s) are stale: run `cargo xtask regen` and commit the result",
            stale.len()
        );
        return Ok(ExitCode::from(1));
    }
    for (path, status) in regen::write(outputs)? {
        let word = match status {
            regen::FileStatus::Unchanged => "unchanged",
            regen::FileStatus::New | regen::FileStatus::Changed => "updated",
        };
        println!("{word:>9} {}", shown(root, &path));
    }
    println!("done in {} ms", started.elapsed().as_millis());
    Ok(ExitCode::SUCCESS)
}

/// What regenerating changes: the API (against the checked-in merged spec) and the generated
/// client's public Rust API (against the checked-in `generated.rs`).
fn print_changes(
    root: &Path,
    layout: &Layout,
    merged: &serde_json::Value,
    outputs: &[regen::Output],
) {
    let Ok(amendments) = Amendments::read(&layout.amendments) else {
        return;
    };
    match mpt_codegen::diff::load_side(&layout.merged, &amendments) {
        Ok(old) => {
            let report = diff::compare(&old, merged, diff::Tolerance::of(&amendments));
            let report = with_exposure(root, report, merged);
            if !report.changes.is_empty() {
                print!("API changes against the checked-in spec: {}", report.text());
                let (api, facade) = (crate_version(root, "mpt-api"), crate_version(root, "mpt"));
                println!(
                    "  version advice: mpt-api {api} -> {}, mpt {facade} -> {} (`cargo xtask diff --format markdown` drafts the CHANGELOG entry)",
                    report.api_bump().apply(&api),
                    report.facade_bump().apply(&facade)
                );
            }
        }
        Err(e) => println!("(no API change report: {e})"),
    }
    let Some(generated) = outputs.iter().find(|o| o.path == layout.generated) else {
        return;
    };
    let old = std::fs::read_to_string(&layout.generated).unwrap_or_default();
    if old == generated.contents {
        return;
    }
    let listings = (
        api_listing::listing_of_source(&layout.generated, &old),
        api_listing::listing_of_source(&layout.generated, &generated.contents),
    );
    if let (Ok(before), Ok(after)) = listings {
        let change = api_listing::diff(&before, &after);
        if change.bump() != diff::Bump::None {
            print!(
                "Rust API of mpt-api (generated.rs): {} removed or changed, {} added ({} bump)\n{}",
                change.removed.len(),
                change.added.len(),
                change.bump().as_str(),
                change.text()
            );
        }
    }
}

/// Per unit: its operations, what each generator pass touched, what was left out and why.
fn print_units(units: &[regen::UnitReport]) {
    let mut generated = 0;
    let mut total = 0;
    for unit in units {
        total += unit.operations;
        generated += unit.operations - unit.left_out.len();
        let passes: Vec<String> = unit
            .passes
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        println!(
            "{}: {} of {} operations generated; passes: {}",
            unit.name,
            unit.operations - unit.left_out.len(),
            unit.operations,
            if passes.is_empty() {
                "none".to_string()
            } else {
                passes.join(", ")
            }
        );
        for why in &unit.left_out {
            println!("  left out: {why}");
        }
    }
    println!("{generated} of {total} operations generated");
}
