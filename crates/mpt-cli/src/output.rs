//! How results are printed: a table by default, or JSON (`--output json`: one document) or JSON
//! lines (`--output jsonl`). JSON field names are stable; timestamps are RFC 3339 in JSON and
//! humanised in tables. A token's secret is never in these (only `create` and `rotate start`
//! print one, on purpose).

use chrono::{DateTime, Utc};
use mpt::Token;
use serde_json::{Value, json};

pub use crate::cli::Format;

/// Writes to stdout. A closed pipe (`mpt tokens list | head -1`) ends the output quietly, as Unix
/// tools do; any other failure is an error.
pub fn print(text: &str) -> Result<(), crate::exit::Failure> {
    match write_stdout(text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(crate::exit::Failure::Other(format!("stdout: {e}"))),
    }
}

/// Writes a text holding a secret to stdout: unlike [`print`], a closed pipe is an error, since
/// the secret would be lost.
pub fn print_secret(text: &str) -> Result<(), String> {
    write_stdout(text.as_bytes()).map_err(|e| match e.kind() {
        std::io::ErrorKind::BrokenPipe => "stdout is closed".to_string(),
        _ => format!("stdout: {e}"),
    })
}

fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

fn time(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |t| json!(t.to_rfc3339()))
}

/// A token as JSON: stable field names, never the secret.
pub fn token_json(t: &Token) -> Value {
    json!({
        "id": t.id(),
        "name": t.name(),
        "status": t.status().as_str(),
        "accountId": t.account_id(),
        "accountName": t.account_name(),
        "description": t.description(),
        "icon": t.icon(),
        "modules": t.module_ids(),
        "revision": t.revision(),
        "lastAccessAt": time(t.last_access_at()),
        "createdAt": time(t.created_at()),
        "updatedAt": time(t.updated_at()),
    })
}

/// `3d ago`, `in 5m`, `never`.
pub fn ago(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return "never".into();
    };
    let secs = (now - at).num_seconds();
    let (n, future) = (secs.unsigned_abs(), secs < 0);
    let text = match n {
        0..60 => format!("{n}s"),
        60..3600 => format!("{}m", n / 60),
        3600..86_400 => format!("{}h", n / 3600),
        _ => format!("{}d", n / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// Rows under a header, columns padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// Tokens as a table, a JSON array, or JSON lines.
pub fn tokens(list: &[Token], format: Format) -> String {
    match format {
        Format::Json => {
            let all: Vec<Value> = list.iter().map(token_json).collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&all).unwrap_or_default()
            )
        }
        Format::Jsonl => list
            .iter()
            .map(|t| format!("{}\n", token_json(t)))
            .collect(),
        Format::Table => {
            let now = Utc::now();
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|t| {
                    vec![
                        t.id().to_string(),
                        t.name().unwrap_or("").to_string(),
                        t.status().to_string(),
                        t.account_id().unwrap_or("").to_string(),
                        ago(t.last_access_at(), now),
                        ago(t.created_at(), now),
                    ]
                })
                .collect();
            table(
                &["ID", "NAME", "STATUS", "ACCOUNT", "LAST ACCESS", "CREATED"],
                &rows,
            )
        }
    }
}

/// One token: key/value lines, or a JSON object (on one line for `jsonl`).
pub fn token(t: &Token, format: Format, extra: &[(&str, Value)]) -> String {
    let mut value = token_json(t);
    for (k, v) in extra {
        value[*k] = v.clone();
    }
    match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
        Format::Jsonl => format!("{value}\n"),
        Format::Table => {
            let now = Utc::now();
            let mut rows = vec![
                ("id", t.id().to_string()),
                ("name", t.name().unwrap_or("").to_string()),
                ("status", t.status().to_string()),
                ("account", t.account_id().unwrap_or("").to_string()),
                ("modules", t.module_ids().join(", ")),
                ("description", t.description().unwrap_or("").to_string()),
                (
                    "revision",
                    t.revision().map(|r| r.to_string()).unwrap_or_default(),
                ),
                ("last access", ago(t.last_access_at(), now)),
                ("created", ago(t.created_at(), now)),
            ];
            for (k, v) in extra {
                rows.push((k, v.as_str().map_or_else(|| v.to_string(), String::from)));
            }
            rows.iter().map(|(k, v)| format!("{k:<12} {v}\n")).collect()
        }
    }
}

/// What a bulk command did to one id (`outcome` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This run changed it.
    Changed,
    /// It already was in the wanted state.
    Unchanged,
    /// It is in the wanted state, but the answers cannot tell whether this run put it there.
    Unconfirmed,
    /// This run deleted it.
    Deleted,
    /// It was gone already (not found, or Deleted).
    Absent,
    /// `--dry-run`: a run would change it.
    WouldChange,
}

impl Outcome {
    /// The JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Unconfirmed => "unconfirmed",
            Outcome::Deleted => "deleted",
            Outcome::Absent => "absent",
            Outcome::WouldChange => "would-change",
        }
    }
}

/// One result of a bulk command.
#[derive(Debug, Clone)]
pub struct Row {
    /// The token id.
    pub id: String,
    /// What happened and the token's status after it, or the error (see `exit::error_json`).
    pub result: Result<(Outcome, Option<String>), Value>,
}

/// One row as JSON: `{"id", "ok", "outcome", "status", "error"}` (the README's schema).
///
/// The id is shown as given, but a secret pasted where an id belongs is shown redacted (the
/// facade refused to send it).
pub fn row_json(row: &Row) -> Value {
    let id = mpt::redact(&row.id);
    match &row.result {
        Ok((outcome, status)) => json!({
            "id": id, "ok": true, "outcome": outcome.as_str(), "status": status, "error": null,
        }),
        Err(error) => json!({
            "id": id, "ok": false, "outcome": null, "status": null, "error": error,
        }),
    }
}

/// Bulk results: one JSON array, JSON lines, or a table line per id.
pub fn rows(rows: &[Row], format: Format) -> String {
    match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&rows.iter().map(row_json).collect::<Vec<_>>())
                .unwrap_or_default()
        ),
        Format::Jsonl => rows.iter().map(|r| format!("{}\n", row_json(r))).collect(),
        Format::Table => rows
            .iter()
            .map(|row| match &row.result {
                Ok((outcome, status)) => format!(
                    "{}  {}  {}\n",
                    mpt::redact(&row.id),
                    outcome.as_str(),
                    status.as_deref().unwrap_or("")
                )
                .replace("  \n", "\n"),
                Err(e) => format!(
                    "{}  failed  {}: {}\n",
                    mpt::redact(&row.id),
                    e["kind"].as_str().unwrap_or("error"),
                    e["message"].as_str().unwrap_or("")
                ),
            })
            .collect(),
    }
}
