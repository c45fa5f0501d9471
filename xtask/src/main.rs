//! `cargo xtask`: a thin command line over the `mpt-codegen` library, laid out as
//! rust-analyzer's xtask is: the flags in `flags.rs`, one file per command, one error type.
//!
//! Exit codes: 0 success, 1 a check found problems (`regen --check` stale files, `diff
//! --fail-on` such a change, `tidy` a problem), 2 bad input or any other error (nothing is
//! written then).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use mpt_codegen::diff;
use mpt_codegen::regen::Layout;

mod bench;
mod build_bench;
mod diff_cmd;
mod error;
mod flags;
mod import;
mod instructions;
mod regen;
mod tidy;
mod verify;

use error::{Error, Result};
use flags::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    let root = match cli.root {
        Some(root) => root,
        None => repo_root()?,
    };
    let layout = Layout::of_repo(&root);
    match cli.command {
        Command::Regen { check, verify } => regen::run(&root, &layout, check, verify),
        Command::Import {
            pages,
            force,
            prune,
        } => import::run(&root, &layout, &pages, force, prune),
        Command::Diff {
            old,
            new,
            format,
            fail_on,
            ignore,
            deprecation_days,
        } => diff_cmd::run(
            &root,
            &layout,
            (&old, &new),
            format,
            (fail_on, deprecation_days),
            ignore.as_deref(),
        ),
        Command::Tidy => tidy::run(&root),
        Command::Bench {
            instructions: true, ..
        } => instructions::run(&root),
        Command::Bench { paced: true, .. } => bench::paced(&root),
        Command::Bench {
            build: true,
            baseline,
            ..
        } => build_bench::run(&root, &baseline),
        Command::Bench {
            consumer_build,
            consumer_build_only,
            ..
        } => bench::run(
            &root,
            consumer_build || consumer_build_only,
            consumer_build_only,
        ),
    }
}

/// The repository to work in, found when the xtask runs, never fixed when it was compiled: a
/// target directory shared between clones reuses one xtask binary for all of them. `cargo xtask`
/// (`cargo run`) sets `CARGO_MANIFEST_DIR` to this clone's `xtask/`; run directly, the binary
/// looks upward from the current directory for the repository (`openapi/amendments.json`).
fn repo_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let xtask = PathBuf::from(dir);
        if let Some(root) = xtask.parent().filter(|r| is_repo(r)) {
            return Ok(root.to_path_buf());
        }
    }
    let cwd = std::env::current_dir().map_err(Error::io("the current directory"))?;
    cwd.ancestors()
        .find(|dir| is_repo(dir))
        .map(Path::to_path_buf)
        .ok_or(Error::NotARepository { dir: cwd.clone() })
}

fn is_repo(dir: &Path) -> bool {
    dir.join("openapi/amendments.json").is_file() && dir.join("Cargo.toml").is_file()
}

fn shown<'a>(root: &Path, path: &'a Path) -> std::borrow::Cow<'a, str> {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy()
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

/// The report with what the `mpt` facade exposes, read from its sources (every schema, when
/// they cannot be read).
fn with_exposure(root: &Path, report: diff::Report, doc: &serde_json::Value) -> diff::Report {
    match mpt_codegen::api_listing::listing_of_crate(&root.join("crates/mpt/src")) {
        Ok(listing) => report.with_facade_exposure(diff::facade_exposure(doc, &listing)),
        Err(_) => report,
    }
}
