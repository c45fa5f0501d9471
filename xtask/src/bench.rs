//! `cargo xtask bench`: runs the benchmarks and prints one table.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use crate::error::{Error, Result};

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run_cargo(root: &Path, args: &[&str]) -> Result<bool> {
    let status = cargo()
        .current_dir(root)
        .env("MPT_BENCH_FROM_XTASK", "1")
        .args(args)
        .status()
        .map_err(Error::spawn("cargo"))?;
    Ok(status.success())
}

pub fn run(root: &Path, consumer_build: bool, only_consumer_build: bool) -> Result<ExitCode> {
    if only_consumer_build {
        println!("\n{}", consumer_builds(root)?);
        return Ok(ExitCode::SUCCESS);
    }
    for bench in [
        &["-p", "mpt-codegen", "--bench", "codegen"][..],
        &["-p", "mpt", "--bench", "sdk"][..],
    ] {
        let mut args = vec!["bench", "--quiet", "--locked"];
        args.extend(bench);
        if !run_cargo(root, &args)? {
            return Err(Error::Failed {
                command: format!("cargo {}", args.join(" ")),
            });
        }
    }
    let mut table = String::new();
    for part in ["sdk.md", "codegen.md"] {
        let path = root.join("target/bench").join(part);
        table.push_str(&std::fs::read_to_string(&path).map_err(Error::io(&path))?);
        table.push('\n');
    }
    if consumer_build {
        table.push_str(&consumer_builds(root)?);
    }
    println!("\n{table}");
    println!(
        "(machine: {} cores; rerun with `cargo xtask bench`)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask bench --paced`: the SDK bench's paced section alone (its JSON lines last).
pub fn paced(root: &Path) -> Result<ExitCode> {
    let args = [
        "bench", "--quiet", "--locked", "-p", "mpt", "--bench", "sdk",
    ];
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args(args)
            .env("MPT_BENCH_ONLY", "paced")
            .status()
            .map_err(Error::io(root))?;
    if !status.success() {
        return Err(Error::Failed {
            command: format!("MPT_BENCH_ONLY=paced cargo {}", args.join(" ")),
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// Clean release builds of a tiny crate on the facade and on reqwest + serde alone.
fn consumer_builds(root: &Path) -> Result<String> {
    let facade = root.join("crates/mpt").display().to_string();
    let cases = [
        ("facade (mpt)", format!("mpt = {{ path = {facade:?} }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}"),
         "#[tokio::main(flavor = \"current_thread\")] async fn main() { let c = mpt::Client::builder().api_token(\"x\").build().unwrap(); println!(\"{c:?}\"); }"),
        ("reqwest + serde (same TLS)", "reqwest = { version = \"0.13\", default-features = false, features = [\"json\", \"rustls\"] }\nserde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\ntokio = { version = \"1\", features = [\"macros\", \"rt\"] }".to_string(),
         "#[derive(serde::Deserialize, Debug)] struct T { id: String } #[tokio::main(flavor = \"current_thread\")] async fn main() { let c = reqwest::Client::new(); let _ = serde_json::from_str::<T>(\"{}\"); println!(\"{c:?}\"); }"),
    ];
    let mut out = String::from(
        "| consumer crate | clean release build | crates in its tree |\n| --- | --- | --- |\n",
    );
    for (i, (name, deps, main)) in cases.iter().enumerate() {
        let dir = root.join(format!("target/bench/consumer-{i}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).map_err(Error::io(&dir))?;
        let manifest = format!(
            "[package]\nname = \"consumer{i}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n\n[dependencies]\n{deps}\n"
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).map_err(Error::io(&dir))?;
        std::fs::write(dir.join("src/main.rs"), main).map_err(Error::io(&dir))?;
        // Resolve first (not timed), then time a clean build in its own target directory.
        cargo()
            .current_dir(&dir)
            .args(["fetch", "--quiet"])
            .status()
            .map_err(Error::spawn("cargo"))?;
        let started = Instant::now();
        let ok = cargo()
            .current_dir(&dir)
            .args(["build", "--release", "--quiet", "--offline"])
            .status()
            .map_err(Error::spawn("cargo"))?
            .success();
        let elapsed = started.elapsed();
        let tree = cargo()
            .current_dir(&dir)
            .args(["tree", "--prefix", "none", "-e", "normal", "--offline"])
            .output()
            .map_err(Error::spawn("cargo"))?;
        let mut crates: Vec<&str> = std::str::from_utf8(&tree.stdout)
            .unwrap_or("")
            .lines()
            .map(|l| l.trim_end_matches(" (*)"))
            .collect();
        crates.sort();
        crates.dedup();
        out.push_str(&format!(
            "| {name} | {} | {} |\n",
            if ok {
                format!("{:.0} s", elapsed.as_secs_f64())
            } else {
                "build failed".into()
            },
            crates.len()
        ));
    }
    Ok(out)
}
