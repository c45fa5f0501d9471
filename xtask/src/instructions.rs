//! `cargo xtask bench --instructions`: instructions per request of each client variant, counted
//! by callgrind (deterministic where timings on shared cores move by 10–20%).
//!
//! The `sdk` bench binary does the work (`MPT_BENCH_INSTRUCTIONS=VARIANT:N`) against the mock
//! server in its own process, which callgrind does not follow. Each variant runs twice, with
//! [`FEW`] and [`MANY`] requests; the difference over `MANY - FEW` is the cost of one request,
//! start-up, the listing and the warm-up cancelling out.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::error::{Error, Result};

/// Requests in the shorter run.
const FEW: u64 = 100;
/// Requests in the longer run.
const MANY: u64 = 500;

/// Each variant, what it is, the baseline it is compared with, and the target.
const VARIANTS: [(&str, &str, &str, &str); 6] = [
    (
        "reqwest-get",
        "get: plain reqwest + serde_json",
        "reqwest-get",
        "floor",
    ),
    (
        "generated-get",
        "get: generated client, no hooks",
        "reqwest-get",
        "",
    ),
    (
        "hooked-get",
        "get: generated client with the facade's layer",
        "reqwest-get",
        "",
    ),
    (
        "facade-get",
        "get: facade `Client::get`",
        "reqwest-get",
        "guard ≤ 1.25× (target ≤ 1.10×)",
    ),
    (
        "reqwest-disable",
        "disable: plain reqwest + serde_json",
        "reqwest-disable",
        "floor",
    ),
    (
        "facade-disable",
        "disable: facade `ensure_disabled_many` (per token)",
        "reqwest-disable",
        "guard ≤ 1.45× (target ≤ 1.15×)",
    ),
];

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Runs every variant under callgrind and prints the table.
pub fn run(root: &Path) -> Result<ExitCode> {
    ensure_valgrind()?;
    let mock = built(
        root,
        &["build", "--release", "--locked", "-p", "mpt-mock"],
        "mpt-mock",
    )?;
    let bench = built(
        root,
        &[
            "bench", "--locked", "-p", "mpt", "--bench", "sdk", "--no-run",
        ],
        "sdk",
    )?;
    let mut per = Vec::new();
    for (variant, ..) in VARIANTS {
        let few = count(&bench, &mock, variant, FEW)?;
        let many = count(&bench, &mock, variant, MANY)?;
        let one = many.saturating_sub(few) / (MANY - FEW);
        eprintln!("{variant}: {one} instructions per request");
        per.push((variant, one));
    }
    let of = |name: &str| per.iter().find(|(v, _)| *v == name).map_or(0, |(_, n)| *n);
    println!("\n| variant | instructions per request | ratio to plain reqwest | target |");
    println!("| --- | --- | --- | --- |");
    for (variant, what, baseline, target) in VARIANTS {
        let (mine, floor) = (of(variant), of(baseline));
        let ratio = if floor == 0 {
            "–".to_string()
        } else {
            format!("{:.2}×", mine as f64 / floor as f64)
        };
        println!("| {what} | {mine} | {ratio} | {target} |");
    }
    println!(
        "\n(callgrind, {FEW} and {MANY} requests per variant; rerun with `cargo xtask bench --instructions`)"
    );
    Ok(ExitCode::SUCCESS)
}

/// Valgrind, installed from Debian's packages when it is missing.
fn ensure_valgrind() -> Result<()> {
    let found = Command::new("valgrind").arg("--version").output();
    if found.is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    eprintln!("valgrind is missing: installing the Debian package (apt-get install -y valgrind)");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    for args in [
        &["apt-get", "update", "-qq"][..],
        &["apt-get", "install", "-y", "-qq", "valgrind"][..],
    ] {
        let mut command = if root {
            Command::new(args[0])
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg(args[0]);
            sudo
        };
        let status = command
            .args(&args[1..])
            .status()
            .map_err(Error::spawn(args[0]))?;
        if !status.success() {
            return Err(Error::Failed {
                command: args.join(" "),
            });
        }
    }
    Ok(())
}

/// Builds with `cargo ARGS --message-format json` and returns the executable of `target`.
fn built(root: &Path, args: &[&str], target: &str) -> Result<PathBuf> {
    let output = cargo()
        .current_dir(root)
        .args(args)
        .args(["--message-format", "json-render-diagnostics"])
        .output()
        .map_err(Error::spawn("cargo"))?;
    let command = format!("cargo {}", args.join(" "));
    if !output.status.success() {
        return Err(Error::Failed { command });
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["target"]["name"] == target)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or(Error::Failed {
            command: format!("{command} (no executable for {target})"),
        })
}

/// Instructions callgrind counts for `n` requests of `variant`.
fn count(bench: &Path, mock: &Path, variant: &str, n: u64) -> Result<u64> {
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(bench)
        .env("MPT_MOCK_BIN", mock)
        .env("MPT_BENCH_INSTRUCTIONS", format!("{variant}:{n}"))
        .output()
        .map_err(Error::spawn("valgrind"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let collected = stderr
        .lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .map(|(_, n)| n.trim().to_string())
        })
        .and_then(|n| n.parse().ok());
    match collected {
        Some(n) if output.status.success() => Ok(n),
        _ => Err(Error::Failed {
            command: format!(
                "valgrind --tool=callgrind {} ({variant}:{n}): {}",
                bench.display(),
                stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
            ),
        }),
    }
}
