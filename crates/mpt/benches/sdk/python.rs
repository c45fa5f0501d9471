//! Finding Python ≥ 3.12 and installing the official client (`mpt-api-client`) into a venv.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::workspace;

/// A Python ≥ 3.12 interpreter, if this machine has one: on the PATH, or installed by pyenv.
fn find_python() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = ["python3.13", "python3.12", "python3"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let pyenv = std::env::var("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".pyenv")));
    if let Ok(versions) = pyenv
        .map(|p| p.join("versions"))
        .and_then(|v| std::fs::read_dir(v).map_err(|_| std::env::VarError::NotPresent))
    {
        let mut found: Vec<PathBuf> = versions
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin/python3"))
            .filter(|p| p.exists())
            .collect();
        found.sort();
        candidates.extend(found.into_iter().rev());
    }
    for candidate in candidates {
        let ok = Command::new(&candidate)
            .args([
                "-c",
                "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(candidate);
        }
    }
    None
}

/// Why the Python client cannot be run (its benchmark is then skipped, saying so).
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// No interpreter new enough.
    #[error("no Python >= 3.12 on this machine")]
    NoPython,
    /// `python -m venv` failed.
    #[error("cannot create a venv")]
    NoVenv,
    /// `pip install mpt-api-client` failed.
    #[error("pip could not install mpt-api-client")]
    NoClient,
    /// Running it, or a file it reads, failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// It did not print what the benchmark reads.
    #[error("python said: {0}")]
    Output(String),
}

/// A venv with the official client in it.
pub fn python_client() -> Result<PathBuf, PythonError> {
    let python = find_python().ok_or(PythonError::NoPython)?;
    let venv = workspace().join("target/bench-venv");
    let py = venv.join("bin/python");
    if !py.exists() {
        let ok = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(PythonError::NoVenv);
        }
    }
    let ok = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "mpt-api-client==7.0.0",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(py)
    } else {
        Err(PythonError::NoClient)
    }
}
