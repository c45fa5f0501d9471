//! Tokens, counts, `whoami` and bulk rows, as tables or JSON.

use chrono::{DateTime, Utc};
use mpt::Token;
use serde_json::{Value, json};

use super::{Format, ago, escaped, shown, table};
use crate::exit::ErrorRow;

fn time(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |t| json!(t.to_rfc3339()))
}

/// A token as JSON: stable field names, never the secret.
fn token_json(t: &Token) -> Value {
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
        Format::Table | Format::Markdown => {
            let now = Utc::now();
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|t| {
                    vec![
                        shown(t.id()),
                        shown(t.name().unwrap_or("")),
                        shown(&t.status().to_string()),
                        shown(t.account_id().unwrap_or("")),
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
        Format::Table | Format::Markdown => {
            let now = Utc::now();
            let rows = [
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
            // Every value as the platform gave it, control characters escaped: a description
            // never clears the screen nor forges a line.
            let mut out: String = rows
                .iter()
                .map(|(k, v)| format!("{k:<12} {}\n", shown(v)))
                .collect();
            // The caller's own (the new secret, printed on purpose): escaped, not redacted.
            for (k, v) in extra {
                let v = v.as_str().map_or_else(|| v.to_string(), String::from);
                out.push_str(&format!("{k:<12} {}\n", escaped(&v)));
            }
            out
        }
    }
}

/// What a bulk command did to one id (`outcome` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
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

impl RowOutcome {
    /// The JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Changed => "changed",
            RowOutcome::Unchanged => "unchanged",
            RowOutcome::Unconfirmed => "unconfirmed",
            RowOutcome::Deleted => "deleted",
            RowOutcome::Absent => "absent",
            RowOutcome::WouldChange => "would-change",
        }
    }
}

/// One result of a bulk command.
#[derive(Debug, Clone)]
pub struct Row {
    /// The token id.
    pub id: String,
    /// What happened and the token's status after it, or the error.
    pub result: Result<(RowOutcome, Option<String>), ErrorRow>,
}

/// One row as JSON: `{"id", "ok", "outcome", "status", "error"}` (the README's schema).
///
/// The id is shown as given, but a secret pasted where an id belongs is shown redacted (the
/// facade refused to send it), by shape and by value (the API secret, any secret this run
/// read).
pub fn row_json(row: &Row) -> Value {
    let id = crate::exit::redact(&row.id);
    match &row.result {
        Ok((outcome, status)) => json!({
            "id": id, "ok": true, "outcome": outcome.as_str(), "status": status, "error": null,
        }),
        Err(error) => json!({
            "id": id, "ok": false, "outcome": null, "status": null,
            "error": serde_json::to_value(error).unwrap_or_default(),
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
        Format::Table | Format::Markdown => rows
            .iter()
            .map(|row| match &row.result {
                Ok((outcome, status)) => format!(
                    "{}  {}  {}\n",
                    shown(&row.id),
                    outcome.as_str(),
                    shown(status.as_deref().unwrap_or(""))
                )
                .replace("  \n", "\n"),
                Err(e) => format!(
                    "{}  failed  {}: {}\n",
                    shown(&row.id),
                    e.kind,
                    shown(&e.message)
                ),
            })
            .collect(),
    }
}

/// A count: the number alone, or `{"count": n}`.
pub fn count(n: u64, format: Format) -> String {
    match format {
        Format::Table | Format::Markdown => format!("{n}\n"),
        _ => format!("{}\n", json!({ "count": n })),
    }
}

/// What `whoami` found.
pub struct Whoami {
    /// The token id the secret names.
    pub id: String,
    /// Whether a call made with the secret was let in.
    pub authenticates: bool,
    /// Why it was not (the platform's refusal).
    pub refused: Option<String>,
    /// The token, if it could be read.
    pub token: Option<Token>,
}

/// `whoami`'s answer: key/value lines, or a JSON object.
pub fn whoami(found: &Whoami, format: Format) -> String {
    let token = found.token.as_ref();
    let value = json!({
        "id": found.id,
        "authenticates": found.authenticates,
        "refused": found.refused.as_deref().map(crate::exit::redact),
        "found": token.is_some(),
        "status": token.map(|t| t.status().as_str().to_string()),
        "name": token.and_then(|t| t.name().map(String::from)),
        "accountId": token.and_then(|t| t.account_id().map(String::from)),
        "lastAccessAt": token.and_then(|t| t.last_access_at()).map(|t| t.to_rfc3339()),
    });
    match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
        Format::Jsonl => format!("{value}\n"),
        Format::Table | Format::Markdown => {
            let field = |k: &str| match &value[k] {
                Value::Null => "-".to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            [
                "id",
                "authenticates",
                "status",
                "name",
                "accountId",
                "lastAccessAt",
                "refused",
            ]
            .iter()
            .map(|k| format!("{k:<14} {}\n", shown(&field(k))))
            .collect()
        }
    }
}
