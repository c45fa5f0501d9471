//! `cargo xtask`: a thin command line over the `mpt-codegen` library.
//!
//! Exit codes: 0 success, 1 `regen --check` found stale files, 2 bad input or any other error
//! (nothing is written then).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

mod bench;
use mpt_codegen::amend::Amendments;
use mpt_codegen::regen::{self, Layout};

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
    let (_, outputs) = regen::build(layout)?;
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

fn run_import(
    root: &Path,
    layout: &Layout,
    pages: &[PathBuf],
    force: bool,
) -> mpt_codegen::Result<ExitCode> {
    let amendments = Amendments::read(&layout.amendments)?;
    for (path, status) in
        mpt_codegen::import::import_pages(pages, &layout.fragments, &amendments, force)?
    {
        println!("{status:>9} {}", shown(root, &path));
    }
    Ok(ExitCode::SUCCESS)
}
