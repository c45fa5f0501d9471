//! Secret sinks: where an apply hands a new secret (a file, or a command that reads it on
//! stdin). No copy is kept when a sink fails: the next apply reads the secret from the platform.
//!
//! A command dies with its apply, and so does everything it starts (a pipeline's stages,
//! subshells, background jobs). It runs in a process group of its own, stopped whole (SIGKILL)
//! when it has exited, at its timeout, and when the apply is done with it or dropped. An apply
//! killed outright (SIGKILL) runs none of that, so on Unix the command runs under a supervisor
//! (`supervise`): a process of the group, forked before the command is exec'd, that holds none
//! of the apply's descriptors, exits with the command's code, and SIGKILLs the whole group as
//! soon as the apply is not its parent any more. On Linux the apply's death wakes the
//! supervisor at once (a parent-death signal), and the command also dies with its supervisor
//! (`PR_SET_PDEATHSIG`, SIGKILL); on other Unix systems the supervisor sees the apply gone
//! within 50 ms. A command whose apply is already gone does not start. A process that leaves the
//! group (`setsid`) is out of reach. A command killed by a signal is judged by the code
//! 128 + the signal.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use mpt_api::TokenSecret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::files::{self, SecretFile};
use mpt::Token;

mod env;
mod format;
mod program;
mod runnable;
#[cfg(unix)]
mod supervise;

pub use env::withhold_from_sinks;

/// Where a new secret goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretSink {
    /// A file, written with mode 0600 and put in place atomically. It is replaced only when it
    /// holds a secret of the same token, or of the token a rotation replaces: never another
    /// token's secret, and never a file that holds something else.
    File {
        /// The file (relative paths are taken from the working directory).
        path: PathBuf,
    },
    /// A program (no shell) that gets the secret and a newline on stdin, and `MPT_TOKEN_ID`,
    /// `MPT_TOKEN_NAME` and `MPT_ACCOUNT_ID` in its environment (the apply's, without its
    /// secrets: see [`withhold_from_sinks`]); it must exit 0 within
    /// `timeout` (it is killed then). It runs in a process group of its own, under a
    /// supervisor: it and everything it starts die with the apply, even one killed with
    /// SIGKILL (on Linux at once; on other Unix systems within 50 ms), and what it leaves
    /// running is stopped when it exits. Killed by a signal, it is judged by the code
    /// 128 + the signal.
    Command {
        /// The program and its arguments.
        argv: Vec<String>,
        /// How long it may take.
        timeout: Duration,
    },
}

/// The largest file taken for a secret file.
const MAX_SECRET_FILE: u64 = 4096;

/// The most of a command's stderr kept for an error message.
const STDERR_TAIL: usize = 300;

/// Why a sink did not take a secret.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SinkError {
    /// The secret file's path holds something that is not replaced.
    #[error("{}: {why}; not replaced", path.display())]
    NotReplaced {
        /// The file.
        path: PathBuf,
        /// What it holds.
        why: String,
    },
    /// Reading or writing the secret file failed.
    #[error(transparent)]
    File(#[from] files::FileError),
    /// The command's program cannot be started: not found (at its path, or in `PATH`), not a
    /// regular file, or not executable; or its `#!` interpreter or ELF loader cannot be, or it
    /// is a file the system does not start. Found before anything is sent.
    #[error("command {program:?} cannot be started: {why}{}", if *in_path && *why == program::NotRunnable::Missing { " in PATH" } else { "" })]
    NotRunnable {
        /// The program, as the policy names it.
        program: String,
        /// Why.
        why: program::NotRunnable,
        /// Whether `PATH` was searched (the name has no `/`).
        in_path: bool,
    },
    /// The command could not be started, or waited for.
    #[error("command {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The command did not finish in time.
    #[error(
        "command {program} did not finish within {} s; it and its process group were stopped",
        timeout.as_secs_f64()
    )]
    Timeout {
        /// The program.
        program: String,
        /// Its time.
        timeout: Duration,
    },
    /// The command exited with a failure.
    #[error("command {program} failed ({status}){}", if said.is_empty() { String::new() } else { format!(": {said}") })]
    Failed {
        /// The program.
        program: String,
        /// How it exited.
        status: ExitStatus,
        /// The end of what it said on stderr, secrets redacted.
        said: String,
    },
}

impl SecretSink {
    /// Hands `secret` (of `token`) over. `replaces` is the token whose secret a file may hold
    /// and be replaced (a rotation's old token). Returns where it went, in words.
    pub(crate) async fn deliver(
        &self,
        token: &Token,
        secret: &TokenSecret,
        replaces: Option<&str>,
    ) -> Result<String, SinkError> {
        match self {
            SecretSink::File { path } => {
                write_file(path, secret, &[Some(token.id()), replaces])?;
                Ok(path.display().to_string())
            }
            SecretSink::Command { argv, timeout } => {
                run(argv, *timeout, token, secret).await?;
                Ok(format!("command {}", argv[0]))
            }
        }
    }
}

impl SecretSink {
    /// Checks, before anything is made, that a delivery could use this sink: a file the
    /// delivery would write (the checks of [`SecretFile::prepare`], which the CLI's
    /// `--secret-file` makes, and what [`SecretSink::deliver`] checks of a file there), holding
    /// nothing but a secret of a token in `owners` (`None`: of any token); a command whose
    /// program can be started (found as the system finds it, at its path or in `PATH`, a
    /// regular file this process may execute).
    pub(crate) fn check(&self, owners: Option<&[Option<&str>]>) -> Result<(), SinkError> {
        match self {
            SecretSink::File { path } => {
                let force = check_file(path, owners)?;
                SecretFile::prepare(path, force).map(drop)?;
                Ok(())
            }
            SecretSink::Command { argv, .. } => {
                let name = argv.first().map(String::as_str).unwrap_or_default();
                program::find(name)
                    .map(drop)
                    .map_err(|(why, in_path)| SinkError::NotRunnable {
                        program: name.to_string(),
                        why,
                        in_path,
                    })
            }
        }
    }
}

impl SecretSink {
    /// A file sink's path and the token whose secret it holds now, read back (`None` when no
    /// secret of a token reads there: no file, not a regular one, something else). `None` for a
    /// command, which cannot be read back.
    pub(crate) fn held(&self) -> Option<(&Path, Option<String>)> {
        let SecretSink::File { path } = self else {
            return None;
        };
        let held = match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_file() => files::read_small(path, MAX_SECRET_FILE)
                .ok()
                .and_then(|text| TokenSecret::new(text.trim()).token_id().map(str::to_string)),
            _ => None,
        };
        Some((path, held))
    }
}

/// Writes a secret file, replacing one only when it holds a secret of a token in `owners`.
fn write_file(path: &Path, secret: &TokenSecret, owners: &[Option<&str>]) -> Result<(), SinkError> {
    let force = check_file(path, Some(owners))?;
    SecretFile::prepare(path, force)
        .and_then(|file| file.commit(secret.expose_secret()))
        .map_err(SinkError::from)
}

/// Whether a secret file may be written at `path`: nothing there, or a regular file holding a
/// secret of a token in `owners` (`None`: of any token), which is then replaced (`true`).
fn check_file(path: &Path, owners: Option<&[Option<&str>]>) -> Result<bool, SinkError> {
    let not = |why: &str| SinkError::NotReplaced {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    Ok(match std::fs::symlink_metadata(path) {
        Err(_) => false,
        Ok(meta) if !meta.is_file() => {
            return Err(not("not a regular file (a symlink or a directory)"));
        }
        Ok(meta) if meta.len() > MAX_SECRET_FILE => {
            return Err(not("holds something else than a secret"));
        }
        Ok(_) => {
            let held = files::read_small(path, MAX_SECRET_FILE)?;
            let held = TokenSecret::new(held.trim());
            match held.token_id() {
                Some(owner) if owners.is_none_or(|o| o.contains(&Some(owner))) => true,
                Some(owner) => {
                    return Err(not(&format!("holds the secret of {owner}, another token")));
                }
                None => return Err(not("holds something else than a token's secret")),
            }
        }
    })
}

async fn run(
    argv: &[String],
    timeout: Duration,
    token: &Token,
    secret: &TokenSecret,
) -> Result<(), SinkError> {
    let program = argv[0].clone();
    let mut command = tokio::process::Command::new(&program);
    // Without the apply's secrets (the API's, the database's, this one).
    for name in env::removed(secret.expose_secret()) {
        command.env_remove(name);
    }
    command
        .args(&argv[1..])
        .env("MPT_TOKEN_ID", token.id())
        .env("MPT_TOKEN_NAME", token.name().unwrap_or_default())
        .env("MPT_ACCOUNT_ID", token.account_id().unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, stopped whole when it is done, times out, or the apply ends; and
    // a supervisor that stops it when the apply dies.
    #[cfg(unix)]
    {
        command.process_group(0);
        supervise::supervised(&mut command);
    }
    let mut child = command.spawn().map_err(|source| SinkError::Spawn {
        program: program.clone(),
        source,
    })?;
    let group = Group(child.id());
    let mut stdin = child.stdin.take();
    let stderr = child.stderr.take();
    // Read while it runs: a child that keeps stderr open must not hold the apply.
    let reader = tokio::spawn(async move {
        let mut said = Vec::new();
        if let Some(stderr) = stderr {
            let _ = stderr.take(64 * 1024).read_to_end(&mut said).await;
        }
        said
    });
    let talk = async {
        if let Some(stdin) = stdin.as_mut() {
            // A program that exits without reading is judged by its exit status.
            let _ = stdin
                .write_all(format!("{}\n", secret.expose_secret()).as_bytes())
                .await;
        }
        drop(stdin.take());
        child.wait().await
    };
    let status = match tokio::time::timeout(timeout, talk).await {
        Ok(status) => status,
        Err(_) => {
            reader.abort();
            return Err(SinkError::Timeout { program, timeout });
        }
    };
    // Whatever it left running is stopped now, before its stderr is read.
    drop(group);
    // Its exit status decides; what it said is taken if its stderr closes soon after.
    let said = match tokio::time::timeout(Duration::from_millis(200), reader).await {
        Ok(Ok(said)) => said,
        _ => Vec::new(),
    };
    let status = status.map_err(|source| SinkError::Spawn {
        program: program.clone(),
        source,
    })?;
    if status.success() {
        return Ok(());
    }
    Err(SinkError::Failed {
        program,
        status,
        said: tail(&said, secret),
    })
}

/// The shortest run of a secret's opaque part redacted wherever it shows, in any case.
const SECRET_RUN: usize = 8;

/// The end of what a command said, its secret redacted: whole (as it is, percent-encoded or
/// JSON-escaped), and any run of [`SECRET_RUN`] or more characters of its opaque part, in any
/// case (half of it, or its end after a split, no longer shows).
fn tail(said: &[u8], secret: &TokenSecret) -> String {
    let mut said = mpt::redact_secret(&String::from_utf8_lossy(said), secret.expose_secret());
    if let Some((_, opaque)) = secret.expose_secret().rsplit_once(':')
        && opaque.len() >= 4
    {
        said = said.replace(opaque, "[REDACTED]");
        said = redact_runs(&said, opaque);
    }
    let said = mpt::redact(said.trim());
    said.chars()
        .rev()
        .take(STDERR_TAIL)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// `text` with every run of [`SECRET_RUN`] or more ASCII characters that is a part of `secret`
/// (ignoring case) replaced by `[REDACTED]`, each run taken as long as it goes.
fn redact_runs(text: &str, secret: &str) -> String {
    let secret = secret.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let part = |from: usize, to: usize| {
        bytes[from..to].is_ascii() && secret.contains(&text[from..to].to_ascii_lowercase())
    };
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    while i + SECRET_RUN <= bytes.len() {
        if !part(i, i + SECRET_RUN) {
            i += 1;
            continue;
        }
        let mut end = i + SECRET_RUN;
        while end < bytes.len() && part(i, end + 1) {
            end += 1;
        }
        out.push_str(&text[copied..i]);
        out.push_str("[REDACTED]");
        i = end;
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// A command's process group, stopped (SIGKILL to the group) when this is dropped: when the
/// command is done, timed out, or the apply ends or is cancelled.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok())
            && pid > 0
        {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}
