//! A sink command's environment: the apply's own, without its secrets. Removed by name:
//! `MPT_API_TOKEN`, `MPT_NEW_API_TOKEN`, `MPT_STATE` and `PGPASSWORD`; and by value: every
//! variable whose value holds the API secret, the database password, the secret being
//! delivered, or a secret given to [`withhold_from_sinks`]. The rest (`PATH`, `HOME`,
//! `VAULT_TOKEN`, ...) is kept: a command needs it to reach where the secret goes.

use std::ffi::OsString;
use std::sync::Mutex;

/// The variables no sink command gets, whatever they hold.
const BY_NAME: &[&str] = &[
    "MPT_API_TOKEN",
    "MPT_NEW_API_TOKEN",
    "MPT_STATE",
    "PGPASSWORD",
];

/// Secrets of this process's that no sink command's environment may hold.
static WITHHELD: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Withholds `secret` (an API secret, a database password) from every sink command's
/// environment: a variable whose value holds it is not passed on. Secrets shorter than 4
/// characters are ignored (they would match by chance).
pub fn withhold_from_sinks(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < 4 {
        return;
    }
    let mut held = WITHHELD.lock().unwrap_or_else(|p| p.into_inner());
    if !held.iter().any(|s| s == secret) {
        held.push(secret.to_string());
    }
}

/// The variables of this process's environment a sink command must not get (`delivered`:
/// the secret it is handed on stdin).
pub(super) fn removed(delivered: &str) -> Vec<OsString> {
    let mut secrets: Vec<String> = WITHHELD.lock().unwrap_or_else(|p| p.into_inner()).clone();
    secrets.push(delivered.to_string());
    for name in BY_NAME {
        if let Ok(value) = std::env::var(name) {
            match *name {
                "MPT_STATE" => secrets.extend(crate::state::url_secrets(&value)),
                _ => secrets.push(value),
            }
        }
    }
    secrets.retain(|s| s.trim().chars().count() >= 4);
    std::env::vars_os()
        .filter(|(name, value)| {
            BY_NAME.iter().any(|n| name == n) || {
                let value = value.to_string_lossy();
                secrets.iter().any(|s| value.contains(s.trim()))
            }
        })
        .map(|(name, _)| name)
        .collect()
}
