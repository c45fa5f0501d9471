//! The command line: every flag of every command, in one place.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Repository tasks for the Marketplace SDK"
)]
pub struct Cli {
    /// Repository root to work in (default: the clone `cargo xtask` runs in).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Merge the fragments, apply the amendments and regenerate the client; only files whose
    /// content changed are written.
    Regen {
        /// Write nothing; exit 1 listing every stale file with a short diff.
        #[arg(long)]
        check: bool,
        /// Then build the generated client with every module on (`cargo check -p mpt-api
        /// --features full`); exit 1 naming the operation or type of each error.
        #[arg(long)]
        verify: bool,
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
        /// Instead, count instructions per request of each client variant under callgrind
        /// (installs Debian's valgrind when missing); not part of CI.
        #[arg(long, conflicts_with_all = ["consumer_build", "consumer_build_only"])]
        instructions: bool,
        /// Instead, bulk work against a rate-limited mock (200/s, burst 20, 20 ms latency):
        /// the facade, plain reqwest at concurrency 16 and 64, and the Python client; prints a
        /// JSON line per client.
        #[arg(long, conflicts_with_all = ["consumer_build", "consumer_build_only", "instructions"])]
        paced: bool,
        /// Instead, what building costs users, side by side: `cargo build -p mpt` at the
        /// baseline revision and here, one platform module, every module, and `regen --check`
        /// (wall time and peak memory; workspace crates cleaned, dependencies warm).
        #[arg(long, conflicts_with_all = ["consumer_build", "consumer_build_only", "instructions", "paced"])]
        build: bool,
        /// The revision `--build` compares the facade's build with.
        #[arg(long, default_value = "main", requires = "build", value_name = "REV")]
        baseline: String,
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
        /// Accept the changes this file lists (oasdiff's ignore format: a line naming the
        /// change's `METHOD /path` and its rule id, ours or oasdiff's, in any order and case;
        /// other text allowed; `#` starts a comment line). Accepted changes leave the report
        /// and the verdict; stderr says how many.
        #[arg(long, value_name = "FILE")]
        ignore: Option<PathBuf>,
        /// The sunset grace period a deprecation must give, in days (oasdiff's
        /// `--deprecation-days-stable`): an operation or parameter newly deprecated without an
        /// `x-sunset`, or with one sooner than this, breaks. 0 (the default): a sunset is optional.
        #[arg(long, value_name = "DAYS", default_value_t = 0)]
        deprecation_days: u32,
    },
    /// Check the repository's hygiene: no tracked caches, crate roots documented, no import
    /// circles between a crate's files, no over-long hand-written files. Exit 1 listing problems.
    Tidy,
    /// Write one fragment per operation of each docs page (Markdown with an embedded OpenAPI
    /// document), module file or whole spec into openapi/fragments/ (a page's operation where
    /// its fragment is, else at the top; a module file's or spec's operations under
    /// `openapi/fragments/<module>/`), named after each operation; print each operation new,
    /// changed, unchanged or refused (with why).
    Import {
        /// The docs pages, module files or specs to import.
        #[arg(required = true)]
        pages: Vec<PathBuf>,
        /// Replace an existing fragment even when it defines a different operation.
        #[arg(long)]
        force: bool,
        /// Delete the fragments of operations a whole spec or module file no longer has (in the
        /// modules it covers); without it they are kept and reported `missing from this spec`.
        #[arg(long)]
        prune: bool,
    },
}

/// How `diff` prints its report.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// A line per change.
    Text,
    /// One JSON document.
    Json,
    /// Summary, version advice, a table and a CHANGELOG draft.
    Markdown,
}

/// The level that makes `diff` fail.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FailOn {
    /// Breaking changes.
    Breaking,
    /// Breaking or potentially breaking changes.
    PotentiallyBreaking,
}
