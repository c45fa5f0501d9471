//! Where the client's settings come from: flags win over the environment (`MPT_API_TOKEN`,
//! `MPT_API_BASE_URL`), which wins over a profile of the config file. The file never holds a
//! secret: a profile names a `secret_command` whose output is the API token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use mpt::SecretString;
use serde::Deserialize;

/// A configuration problem: exit code 2.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One profile of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The platform's base URL.
    pub base_url: Option<String>,
    /// A command whose standard output is the API token (e.g. `pass show mpt`).
    pub secret_command: Option<String>,
}

/// What the client is built with.
pub struct Settings {
    pub base_url: Option<String>,
    pub token: SecretString,
}

/// The config file: `--config`, else `$MPT_CONFIG`, else `$XDG_CONFIG_HOME/mpt/config.toml`,
/// else `~/.config/mpt/config.toml`.
pub fn config_path(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("MPT_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("mpt/config.toml"))
}

/// Keys that would hold a secret in plain text.
const SECRET_KEYS: [&str; 5] = ["token", "api_token", "secret", "password", "api_secret"];

/// Reads `profile` from the file at `path` (the default profile is `default`). A missing file is
/// an empty profile unless the profile was asked for by name.
pub fn read_profile(path: &Path, name: Option<&str>) -> Result<Profile, ConfigError> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(_) if name.is_none() => return Ok(Profile::default()),
        Err(e) => return Err(ConfigError(format!("{shown}: {e}"))),
    };
    if !meta.is_file() {
        return Err(ConfigError(format!("{shown}: not a regular file")));
    }
    check_permissions(path, &meta)?;
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError(format!("{shown}: {e}")))?;
    let mut profiles: BTreeMap<String, toml::Table> =
        toml::from_str(&text).map_err(|e| ConfigError(format!("{shown}: {e}")))?;
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
    Profile::deserialize(table).map_err(|e| ConfigError(format!("{shown}: [{wanted}]: {e}")))
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
/// output is never shown, not even when it fails.
fn run_secret_command(command: &str) -> Result<SecretString, ConfigError> {
    let out = Command::new("sh")
        .args(["-c", command])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ConfigError(format!("secret_command could not run: {e}")))?;
    if !out.status.success() {
        return Err(ConfigError(format!(
            "secret_command failed ({}); its output is not shown",
            out.status
        )));
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| ConfigError("secret_command printed something that is not UTF-8".into()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(ConfigError("secret_command printed no token".into()));
    }
    Ok(SecretString::from(token))
}

/// The settings, from flags, then the environment, then the profile.
pub fn resolve(
    flag_base_url: Option<&str>,
    flag_token: Option<&str>,
    profile: &Profile,
) -> Result<Settings, ConfigError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let base_url = flag_base_url
        .map(String::from)
        .or_else(|| env("MPT_API_BASE_URL"))
        .or_else(|| profile.base_url.clone());
    let token = match (flag_token, env("MPT_API_TOKEN"), &profile.secret_command) {
        (Some(flag), _, _) => SecretString::from(flag.to_string()),
        (None, Some(env), _) => SecretString::from(env),
        (None, None, Some(command)) => run_secret_command(command)?,
        (None, None, None) => {
            return Err(ConfigError(
                "no API token: set MPT_API_TOKEN, or `secret_command` in a profile of the config file".into(),
            ));
        }
    };
    Ok(Settings { base_url, token })
}
