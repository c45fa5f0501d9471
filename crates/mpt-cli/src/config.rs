//! Where the client's settings come from: flags win over the environment (`MPT_API_TOKEN`,
//! `MPT_API_BASE_URL`), which wins over a profile of the config file. The file never holds a
//! secret: a profile names a `secret_command` whose output is the API token.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mpt::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A configuration problem: exit code 2.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ConfigError> for crate::exit::Failure {
    fn from(e: ConfigError) -> Self {
        crate::exit::Failure::Usage(e.0)
    }
}

/// One profile of the config file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    base_url: Option<String>,
    secret_command: Option<String>,
    secret_command_timeout: Option<String>,
    noop_transitions: Option<String>,
}

/// One profile of the config file, its values parsed (once, when it is read).
#[derive(Debug, Default)]
pub struct Profile {
    /// The platform's base URL.
    pub base_url: Option<String>,
    /// A command whose standard output is the API token (e.g. `pass show mpt`).
    pub secret_command: Option<String>,
    /// How long `secret_command` may run (e.g. `10s`; default 30s); then it is stopped and its
    /// output is not used.
    pub secret_command_timeout: Option<Duration>,
    /// How the platform answers a no-op enable or disable.
    pub noop_transitions: Option<mpt::NoopTransitions>,
}

/// How long a `secret_command` may run unless the profile says otherwise.
pub const DEFAULT_SECRET_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// What the client is built with.
pub struct Settings {
    /// The base URL, if one was set.
    pub base_url: Option<String>,
    /// The API token, if one was set (`whoami` can do without).
    pub token: Option<SecretString>,
    /// How the platform answers a no-op enable or disable.
    pub noop_transitions: mpt::NoopTransitions,
}

/// The config file: `--config`, else `$MPT_CONFIG`, else `$XDG_CONFIG_HOME/mpt/config.toml`,
/// else `~/.config/mpt/config.toml`; with whether it was named (`--config`, `$MPT_CONFIG`), so
/// that a file named and missing is an error, not an empty profile.
pub fn config_path(flag: Option<&Path>) -> Option<(PathBuf, bool)> {
    if let Some(path) = flag {
        return Some((path.to_path_buf(), true));
    }
    if let Some(path) = std::env::var_os("MPT_CONFIG").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(path), true));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some((base.join("mpt/config.toml"), false))
}

/// Keys that would hold a secret in plain text.
const SECRET_KEYS: [&str; 5] = ["token", "api_token", "secret", "password", "api_secret"];

/// Reads `profile` from the file at `path` (the default profile is `default`). A missing file is
/// an empty profile unless the file was `named` (`--config`, `$MPT_CONFIG`) or the profile
/// was asked for by name.
pub fn read_profile(path: &Path, named: bool, name: Option<&str>) -> Result<Profile, ConfigError> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if absent(&e) && name.is_none() && !named => {
            return Ok(Profile::default());
        }
        Err(e) => return Err(ConfigError(format!("the config file {shown}: {e}"))),
    };
    if !meta.is_file() {
        return Err(ConfigError(format!("{shown}: not a regular file")));
    }
    check_permissions(path, &meta)?;
    let text = crate::files::read_regular(path).map_err(|e| ConfigError(e.to_string()))?;
    let mut profiles: BTreeMap<String, toml::Table> =
        toml::from_str(&text).map_err(|e| ConfigError(toml_error(path, &text, &e)))?;
    let wanted = name.unwrap_or("default");
    let Some(table) = profiles.remove(wanted) else {
        return match name {
            None => Ok(Profile::default()),
            Some(_) => Err(ConfigError(format!(
                "{shown}: no profile [{wanted}] (profiles: {})",
                profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            ))),
        };
    };
    if let Some(key) = table.keys().find(|k| SECRET_KEYS.contains(&k.as_str())) {
        return Err(ConfigError(format!(
            "{shown}: [{wanted}] {key}: a secret is never stored in the config file; use `secret_command = \"pass show mpt\"` or MPT_API_TOKEN"
        )));
    }
    let file = ProfileFile::deserialize(table).map_err(|e| {
        ConfigError(format!(
            "{shown}: [{wanted}]: {} (keys: base_url, secret_command, secret_command_timeout, noop_transitions)",
            crate::exit::without_quoted_values(e.message())
        ))
    })?;
    let noop_transitions = file
        .noop_transitions
        .map(|text| crate::values::parse_noop(&text))
        .transpose()
        .map_err(|e| ConfigError(format!("{shown}: [{wanted}] noop_transitions: {e}")))?;
    let secret_command_timeout = file
        .secret_command_timeout
        .map(|text| crate::values::parse_age(&text))
        .transpose()
        .map_err(|e| ConfigError(format!("{shown}: [{wanted}] secret_command_timeout: {e}")))?;
    Ok(Profile {
        base_url: file.base_url,
        secret_command: file.secret_command,
        secret_command_timeout,
        noop_transitions,
    })
}

/// The file is not there (nor a directory on its way): the default file may be absent.
fn absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// A TOML error as `FILE: line L, column C: what` without the text around it: the parser's own
/// message quotes the line, which may hold a secret (an unclosed `token = "...`).
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let at = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("line {line}, column {column}: ")
    });
    format!(
        "{}: {}{}",
        path.display(),
        at.unwrap_or_default(),
        crate::exit::without_quoted_values(e.message())
    )
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &std::fs::Metadata) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode();
    // The file names a command that is run: nobody else may change it.
    if mode & 0o022 != 0 {
        return Err(ConfigError(format!(
            "{}: writable by others (mode {:o}); its secret_command is run, so run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_: &Path, _: &std::fs::Metadata) -> Result<(), ConfigError> {
    Ok(())
}

/// Runs a profile's `secret_command` and takes its first line of output as the API token. Its
/// output is never shown, not even when it fails; when it runs longer than `timeout`, it is
/// stopped (its whole process group) and its output is not used.
fn run_secret_command(command: &str, timeout: Duration) -> Result<SecretString, ConfigError> {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| ConfigError(format!("secret_command could not run: {e}")))?;
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(stdout) = stdout.as_mut() {
            let _ = std::io::Read::take(stdout, 64 * 1024).read_to_end(&mut out);
        }
        out
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                stop_group(&mut child);
                return Err(ConfigError(format!(
                    "secret_command did not finish within {}s; it was stopped and its output is not used (set secret_command_timeout in the profile)",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                stop_group(&mut child);
                return Err(ConfigError(format!("secret_command: {e}")));
            }
        }
    };
    // Whatever it left running (a background job holding stdout) is stopped with its group,
    // so the output ends: its exit status decides, not its last descendant.
    stop_group(&mut child);
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(ConfigError(format!(
            "secret_command failed ({status}); its output is not shown"
        )));
    }
    let text = String::from_utf8(out)
        .map_err(|_| ConfigError("secret_command printed something that is not UTF-8".into()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(ConfigError("secret_command printed no token".into()));
    }
    Ok(SecretString::from(token))
}

/// Stops a child and everything it started (its process group), and reaps it.
fn stop_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The settings, from flags, then the environment, then the profile. A variable that is set
/// but not UTF-8 is an error naming it (never mistaken for unset), when it is the one used;
/// `MPT_NEW_API_TOKEN` (a secret the run knows) always.
pub fn resolve(
    flag_base_url: Option<&str>,
    flag_token: Option<&str>,
    flag_noop: Option<mpt::NoopTransitions>,
    profile: &Profile,
) -> Result<Settings, ConfigError> {
    let noop_transitions = match (flag_noop, env_text("MPT_NOOP_TRANSITIONS")?) {
        (Some(flag), _) => flag,
        (None, Some(env)) => crate::values::parse_noop(&env)
            .map_err(|e| ConfigError(format!("MPT_NOOP_TRANSITIONS: {e}")))?,
        (None, None) => profile.noop_transitions.unwrap_or_default(),
    };
    let base_url = match flag_base_url {
        Some(url) => Some(url.to_string()),
        None => env_text("MPT_API_BASE_URL")?.or_else(|| profile.base_url.clone()),
    };
    let timeout = profile
        .secret_command_timeout
        .unwrap_or(DEFAULT_SECRET_COMMAND_TIMEOUT);
    let token = match flag_token {
        Some(flag) => Some(SecretString::from(flag.to_string())),
        None => match (env_text("MPT_API_TOKEN")?, &profile.secret_command) {
            (Some(env), _) => Some(SecretString::from(env)),
            (None, Some(command)) => Some(run_secret_command(command, timeout)?),
            (None, None) => None,
        },
    };
    if let Some(token) = &token {
        crate::exit::remember(token.expose_secret());
    }
    // A secret every command knows (refused as an id, redacted): set but not UTF-8, it is an
    // error naming it, as the others are, not a secret silently dropped.
    env_text("MPT_NEW_API_TOKEN")?;
    Ok(Settings {
        base_url,
        token,
        noop_transitions,
    })
}

/// An environment variable's text: `None` when unset or blank; an error naming it (never its
/// value: it may be a secret) when it is not UTF-8.
pub fn env_text(name: &str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(Some(value)),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError(format!(
            "{name} is set but is not valid UTF-8 (its value is not shown)"
        ))),
    }
}
