//! A PostgreSQL password from where libpq would find it when the URL has none: `PGPASSWORD`,
//! then the password file (`PGPASSFILE`, else `~/.pgpass`), whose lines are
//! `host:port:database:user:password` with `*` for any value and `\:` / `\\` escapes. A file
//! that group or others may read is ignored, as libpq ignores it. (Written here: tokio-postgres
//! reads neither, and the format is a few lines.)

use std::path::PathBuf;

/// The password for `user` on `host:port/database`, if one is configured.
pub(super) fn password(host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    if let Ok(password) = std::env::var("PGPASSWORD")
        && !password.is_empty()
    {
        return Some(password);
    }
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            // As libpq says it (on stderr), and ignores the file.
            eprintln!(
                "WARNING: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            );
            return None;
        }
    }
    let text = crate::files::read_regular(&path, 64 * 1024).ok()?;
    find(&text, host, &port.to_string(), database, user)
}

/// The password of the first line of `text` that matches (as libpq: the first one, even when
/// a later line is more specific).
fn find(text: &str, host: &str, port: &str, database: &str, user: &str) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split(line);
            let [h, p, d, u, password] = fields.as_slice() else {
                return None;
            };
            let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
            (matches(h, host) && matches(p, port) && matches(d, database) && matches(u, user))
                .then(|| password.clone())
        })
}

/// A line's fields: split at `:`, with `\:` and `\\` escapes.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next()
                    && let Some(field) = fields.last_mut()
                {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:db:u:no\n127.0.0.1:*:mpt:ci:p\\:a\\\\ss:word\n";
        assert_eq!(
            find(text, "127.0.0.1", "5433", "mpt", "ci").as_deref(),
            Some("p:a\\ss:word")
        );
        assert_eq!(find(text, "127.0.0.1", "5433", "mpt", "x"), None);
    }
}
