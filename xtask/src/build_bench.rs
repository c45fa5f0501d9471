//! `cargo xtask bench --build`: what building costs a user, measured side by side in one run:
//! the tokens facade alone against the same build of a baseline revision (default `main`), one
//! platform module, every module, and `regen` over the whole platform. Workspace crates are
//! cleaned before each build; dependencies stay warm (one target directory for all).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::error::{Error, Result};

/// One measured command: wall seconds and peak memory (MiB) of the whole process tree.
struct Measure {
    what: String,
    seconds: f64,
    peak_mib: f64,
}

fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs `program args` in `dir` under `/usr/bin/time`, whose `%e %M` gives wall time and the
/// peak resident set of the largest process.
fn measured(dir: &Path, what: &str, program: &str, args: &[&str]) -> Result<Measure> {
    let out_file =
        std::env::temp_dir().join(format!("mpt-build-bench-{}.time", std::process::id()));
    let status = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(&out_file)
        .arg(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .map_err(Error::spawn("/usr/bin/time"))?;
    if !status.success() {
        return Err(Error::Failed {
            command: format!("{program} {}", args.join(" ")),
        });
    }
    let text = std::fs::read_to_string(&out_file).map_err(Error::io(&out_file))?;
    let _ = std::fs::remove_file(&out_file);
    let mut fields = text.split_whitespace();
    let seconds = fields
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    let kib: f64 = fields
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    Ok(Measure {
        what: what.to_string(),
        seconds,
        peak_mib: kib / 1024.0,
    })
}

fn clean_workspace(dir: &Path) -> Result<()> {
    let cargo = cargo_program();
    let status = Command::new(&cargo)
        .args(["clean", "-q", "-p", "mpt", "-p", "mpt-api"])
        .current_dir(dir)
        .status()
        .map_err(Error::spawn(&cargo))?;
    status.success().then_some(()).ok_or(Error::Failed {
        command: "cargo clean -p mpt -p mpt-api".into(),
    })
}

/// The baseline revision's tree, exported with `git archive` into a temporary directory.
fn export(root: &Path, revision: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mpt-build-baseline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let mut git = Command::new("git")
        .args(["archive", "--format=tar", revision])
        .current_dir(root)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(Error::spawn("git"))?;
    let tar_in = git.stdout.take().ok_or(Error::Failed {
        command: "git archive".into(),
    })?;
    let tar = Command::new("tar")
        .args(["-x", "-C"])
        .arg(&dir)
        .stdin(tar_in)
        .status()
        .map_err(Error::spawn("tar"))?;
    let git = git.wait().map_err(Error::spawn("git"))?;
    if !(tar.success() && git.success()) {
        return Err(Error::Failed {
            command: format!("git archive {revision} | tar -x"),
        });
    }
    Ok(dir)
}

/// Measures and prints the table; `baseline` is the revision the facade build is compared to.
pub fn run(root: &Path, baseline: &str) -> Result<ExitCode> {
    let cargo = cargo_program();
    let base = export(root, baseline)?;
    let mut rows = Vec::new();
    // A build not measured first, so that dependencies are warm for each tree.
    let warm = |dir: &Path, args: &[&str]| -> Result<()> {
        measured(dir, "warm-up", &cargo, args).map(|_| ())
    };
    let build = |dir: &Path, what: &str, args: &[&str]| -> Result<Measure> {
        clean_workspace(dir)?;
        measured(dir, what, &cargo, args)
    };
    let facade = ["build", "-q", "-p", "mpt"];
    warm(&base, &facade)?;
    warm(
        root,
        &[
            "build",
            "-q",
            "-p",
            "mpt",
            "-p",
            "mpt-api",
            "--features",
            "mpt-api/full",
        ],
    )?;
    let before = build(
        &base,
        &format!("`cargo build -p mpt` at {baseline}"),
        &["build", "-q", "-p", "mpt"],
    );
    let _ = std::fs::remove_dir_all(&base);
    rows.push(before?);
    rows.push(build(
        root,
        "`cargo build -p mpt` (tokens facade, modules off)",
        &["build", "-q", "-p", "mpt"],
    )?);
    rows.push(build(
        root,
        "`cargo build -p mpt-api --features catalog` (one module)",
        &["build", "-q", "-p", "mpt-api", "--features", "catalog"],
    )?);
    rows.push(build(
        root,
        "`cargo build -p mpt-api --features full` (every module)",
        &["build", "-q", "-p", "mpt-api", "--features", "full"],
    )?);
    rows.push(measured(
        root,
        "`cargo xtask regen --check` (452 operations, 9 namespaces; debug xtask, built)",
        &cargo,
        &["run", "-q", "-p", "xtask", "--", "regen", "--check"],
    )?);
    let base_seconds = rows[0].seconds;
    println!("| build | wall | vs. baseline facade | peak memory |");
    println!("| --- | ---: | ---: | ---: |");
    for row in &rows {
        println!(
            "| {} | {:.1} s | {:.2}x | {:.0} MiB |",
            row.what,
            row.seconds,
            row.seconds / base_seconds,
            row.peak_mib
        );
    }
    println!(
        "(workspace crates cleaned before each build, dependencies warm; {} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    Ok(ExitCode::SUCCESS)
}
