//! `cargo xtask`: a thin command line over the `mpt-codegen` library.
//!
//! Exit codes: 0 success, 1 `regen --check` found stale files (or `diff --fail-on` found such a
//! change), 2 bad input or any other error (nothing is written then).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

mod bench;
mod tidy;
use mpt_codegen::amend::Amendments;
use mpt_codegen::regen::{self, Layout};
use mpt_codegen::{api_listing, diff};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Repository tasks for the Marketplace SDK"
)]
struct Cli {
    /// Repository root to work in (default: the clone `cargo xtask` runs in).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Merge the fragments, apply the amendments and regenerate the client; only files whose
    /// content changed are written.
    Regen {
        /// Write nothing; exit 1 listing every stale file with a short diff.
        #[arg(long)]
        check: bool,
    },
    /// Run every benchmark (SDK against the mock server, codegen scaling; optionally the consumer
    /// build) and print one Markdown table. See BENCHMARKS.md.
    Bench {
        /// Also time a clean release build of a tiny crate using the facade vs reqwest + serde
        /// (several minutes).
        #[arg(long)]
        consumer_build: bool,
        /// Run only the consumer build comparison.
        #[arg(long)]
        consumer_build_only: bool,
    },
    /// Compare two specs and say what changed in the API, whether it breaks users, and the
    /// version bump. Each side is a merged spec (JSON) or a directory of per-operation
    /// documents (merged with our rules). Exit 0; 1 with `--fail-on breaking` when something
    /// breaks; 2 for bad input.
    Diff {
        /// The old spec (file or directory of fragments).
        old: PathBuf,
        /// The new spec (file or directory of fragments).
        new: PathBuf,
        /// How to print the report.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 1 when a change of this level (or worse) is found.
        #[arg(long, value_enum)]
        fail_on: Option<FailOn>,
    },
    /// Check the repository's hygiene: no tracked caches, crate roots documented, no import
    /// circles between a crate's files, no over-long hand-written files. Exit 1 listing problems.
    Tidy,
    /// Extract the OpenAPI fragment embedded in each docs page (Markdown) into
    /// openapi/fragments/, named after its operation.
    Import {
        /// The pages to import.
        #[arg(required = true)]
        pages: Vec<PathBuf>,
        /// Replace an existing fragment even when it defines a different operation.
        #[arg(long)]
        force: bool,
    },
}

/// How `diff` prints its report.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// A line per change.
    Text,
    /// One JSON document.
    Json,
    /// Summary, version advice, a table and a CHANGELOG draft.
    Markdown,
}

/// The level that makes `diff` fail.
#[derive(Clone, Copy, clap::ValueEnum)]
enum FailOn {
    /// Breaking changes.
    Breaking,
    /// Breaking or potentially breaking changes.
    PotentiallyBreaking,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = match cli.root.map_or_else(repo_root, Ok) {
        Ok(root) => root,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let layout = Layout::of_repo(&root);
    let result = match cli.command {
        Command::Regen { check } => run_regen(&root, &layout, check),
        Command::Import { pages, force } => run_import(&root, &layout, &pages, force),
        Command::Diff {
            old,
            new,
            format,
            fail_on,
        } => run_diff(&root, &layout, &old, &new, format, fail_on),
        Command::Tidy => match tidy::run(&root) {
            Ok(code) => Ok(code),
            Err(message) => {
                eprintln!("error: {message}");
                Ok(ExitCode::from(2))
            }
        },
        Command::Bench {
            consumer_build,
            consumer_build_only,
        } => bench::run(
            &root,
            consumer_build || consumer_build_only,
            consumer_build_only,
        ),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

/// The repository to work in, found when the xtask runs, never fixed when it was compiled: a
/// target directory shared between clones reuses one xtask binary for all of them. `cargo xtask`
/// (`cargo run`) sets `CARGO_MANIFEST_DIR` to this clone's `xtask/`; run directly, the binary
/// looks upward from the current directory for the repository (`openapi/amendments.json`).
fn repo_root() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let xtask = PathBuf::from(dir);
        if let Some(root) = xtask.parent().filter(|r| is_repo(r)) {
            return Ok(root.to_path_buf());
        }
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    cwd.ancestors()
        .find(|dir| is_repo(dir))
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "{} is not inside the SDK's repository (no openapi/amendments.json above it); run `cargo xtask` in the repository or pass --root",
                cwd.display()
            )
        })
}

fn is_repo(dir: &Path) -> bool {
    dir.join("openapi/amendments.json").is_file() && dir.join("Cargo.toml").is_file()
}

fn shown<'a>(root: &Path, path: &'a Path) -> std::borrow::Cow<'a, str> {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy()
}

fn run_regen(root: &Path, layout: &Layout, check: bool) -> mpt_codegen::Result<ExitCode> {
    let started = Instant::now();
    let (merged, outputs) = regen::build(layout)?;
    print_changes(root, layout, &merged.doc, &outputs);
    if check {
        let stale = regen::check(&outputs);
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
    for (path, status) in regen::write(&outputs)? {
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

/// The `version` of `crates/<name>/Cargo.toml`.
fn crate_version(root: &Path, name: &str) -> String {
    std::fs::read_to_string(root.join("crates").join(name).join("Cargo.toml"))
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("version = \"")
                    .map(|v| v.trim_end_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "0.0.0".into())
}

fn run_diff(
    root: &Path,
    layout: &Layout,
    old: &Path,
    new: &Path,
    format: Format,
    fail_on: Option<FailOn>,
) -> mpt_codegen::Result<ExitCode> {
    let amendments = Amendments::read(&layout.amendments)?;
    let old_doc = diff::load_side(old, &amendments)?;
    let new_doc = diff::load_side(new, &amendments)?;
    let report = diff::compare(&old_doc, &new_doc, diff::Tolerance::of(&amendments));
    let report = with_exposure(root, report, &old_doc);
    match format {
        Format::Text => print!("{}", report.text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report.json()).unwrap_or_default()
        ),
        Format::Markdown => print!(
            "{}",
            report.markdown(&crate_version(root, "mpt-api"), &crate_version(root, "mpt"))
        ),
    }
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

/// The report with what the `mpt` facade exposes, read from its sources (every schema, when
/// they cannot be read).
fn with_exposure(root: &Path, report: diff::Report, doc: &serde_json::Value) -> diff::Report {
    match mpt_codegen::api_listing::listing_of_crate(&root.join("crates/mpt/src")) {
        Ok(listing) => report.with_facade_exposure(diff::facade_exposure(doc, &listing)),
        Err(_) => report,
    }
}

fn run_import(
    root: &Path,
    layout: &Layout,
    pages: &[PathBuf],
    force: bool,
) -> mpt_codegen::Result<ExitCode> {
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
