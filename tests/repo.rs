//! Checks of the repository itself: the CI scripts.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory this test was built in (`.../<target>/debug/deps/repo-...`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The CI scripts find binaries through cargo, so `.ci/run` works with `CARGO_TARGET_DIR` set
/// (before, they ran `./target/debug/mpt-mock`, absent or stale with a shared target directory).
#[test]
fn ci_scripts_find_binaries_through_cargo() {
    for entry in std::fs::read_dir(root().join(".ci")).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or("");
            assert!(
                !code.contains("target/debug") && !code.contains("target/release"),
                "{}:{}: a binary path guessed inside ./target: {line}",
                path.display(),
                i + 1
            );
        }
    }
    let target = target_dir();
    let out = Command::new("bash")
        .args(["-c", "source .ci/lib.sh && cargo_bin mpt-mock mpt-mock"])
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(
        bin.starts_with(&target),
        "{} is not under {}",
        bin.display(),
        target.display()
    );
    assert!(bin.is_file(), "{}", bin.display());
}
