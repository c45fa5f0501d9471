//! Secret sinks: where an apply hands a new secret (a file, or a command that reads it on
//! stdin). No copy is kept when a sink fails: the next apply reads the secret from the platform.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mpt_api::TokenSecret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::files::{self, SecretFile};
use mpt::Token;

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
    /// `MPT_TOKEN_NAME` and `MPT_ACCOUNT_ID` in its environment; it must exit 0 within
    /// `timeout` (it is killed then).
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

impl SecretSink {
    /// Hands `secret` (of `token`) over. `replaces` is the token whose secret a file may hold
    /// and be replaced (a rotation's old token). Returns where it went, in words.
    pub(crate) async fn deliver(
        &self,
        token: &Token,
        secret: &TokenSecret,
        replaces: Option<&str>,
    ) -> Result<String, String> {
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

/// Writes a secret file, replacing one only when it holds a secret of a token in `owners`.
fn write_file(path: &Path, secret: &TokenSecret, owners: &[Option<&str>]) -> Result<(), String> {
    let shown = path.display();
    let force = match std::fs::symlink_metadata(path) {
        Err(_) => false,
        Ok(meta) if !meta.is_file() => {
            return Err(format!(
                "{shown}: not a regular file (a symlink or a directory); not replaced"
            ));
        }
        Ok(meta) if meta.len() > MAX_SECRET_FILE => {
            return Err(format!(
                "{shown}: holds something else than a secret; not replaced"
            ));
        }
        Ok(_) => {
            let held = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
            let held = TokenSecret::new(held.trim());
            match held.token_id() {
                Some(owner) if owners.contains(&Some(owner)) => true,
                Some(owner) => {
                    return Err(format!(
                        "{shown}: holds the secret of {owner}, another token; not replaced"
                    ));
                }
                None => {
                    return Err(format!(
                        "{shown}: holds something else than a token's secret; not replaced"
                    ));
                }
            }
        }
    };
    SecretFile::prepare(path, force)
        .and_then(|file| file.commit(secret.expose_secret()))
        .map_err(|e| e.to_string())
}

async fn run(
    argv: &[String],
    timeout: Duration,
    token: &Token,
    secret: &TokenSecret,
) -> Result<(), String> {
    let program = &argv[0];
    let mut command = tokio::process::Command::new(program);
    command
        .args(&argv[1..])
        .env("MPT_TOKEN_ID", token.id())
        .env("MPT_TOKEN_NAME", token.name().unwrap_or_default())
        .env("MPT_ACCOUNT_ID", token.account_id().unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, stopped whole when it is done, times out, or the apply ends.
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("command {program}: {e}"))?;
    let _group = Group(child.id());
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
            return Err(format!(
                "command {program} did not finish within {} s; it and its process group were stopped",
                timeout.as_secs_f64()
            ));
        }
    };
    // Its exit status decides; what it said is taken if its stderr closes soon after.
    let said = match tokio::time::timeout(Duration::from_millis(200), reader).await {
        Ok(Ok(said)) => said,
        _ => Vec::new(),
    };
    let status = status.map_err(|e| format!("command {program}: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let mut said = String::from_utf8_lossy(&said).replace(secret.expose_secret(), "[REDACTED]");
    if let Some((_, opaque)) = secret.expose_secret().rsplit_once(':')
        && opaque.len() >= 4
    {
        said = said.replace(opaque, "[REDACTED]");
    }
    let said = mpt::redact(said.trim());
    let tail: String = said
        .chars()
        .rev()
        .take(STDERR_TAIL)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(match tail.is_empty() {
        true => format!("command {program} failed ({status})"),
        false => format!("command {program} failed ({status}): {tail}"),
    })
}

/// Whether `path` is a directory an apply may keep its state in (made when missing, private:
/// 0700, for the secrets it may keep): made, then a file made and removed in it.
pub(crate) fn state_dir(path: &Path) -> Result<(), String> {
    private_dir(path)?;
    files::writable_dir(path).map_err(|e| e.to_string())
}

/// Makes `path` a directory of mode 0700 when missing. One that is there must be a directory
/// of this user's, not a symlink (never followed): one with group or other permissions is
/// made private (0700) before anything is kept in it; anything else is refused.
pub(crate) fn private_dir(path: &Path) -> Result<(), String> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(format!(
                "{shown}: a symlink; refused (it is never followed)"
            ));
        }
        Ok(meta) if !meta.is_dir() => return Err(format!("{shown}: not a directory")),
        Ok(meta) => return make_private(path, &meta),
        Err(_) => {}
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(|e| format!("{shown}: {e}"))
}

/// A directory of ours with group or other permissions made 0700; another user's refused.
#[cfg(unix)]
fn make_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let shown = path.display();
    // SAFETY: geteuid(2) has no preconditions and touches no memory.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "{shown}: owned by another user (uid {}); refused",
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{shown}: cannot be made private: {e}"))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_: &Path, _: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
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
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is
            // touched.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}
