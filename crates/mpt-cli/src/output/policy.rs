//! Plans, apply results and rotation plans, as tables or JSON.

use mpt::RotationPlan;
use mpt_policy::{ActionResult, Plan};

use super::{Format, table};

/// A plan: a table of actions with a summary line, a JSON document, or an action per line.
pub fn plan(plan: &Plan, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(plan).unwrap_or_default() + "\n",
        Format::Jsonl => plan
            .actions
            .iter()
            .map(|a| serde_json::to_string(a).unwrap_or_default() + "\n")
            .collect(),
        Format::Table if plan.actions.is_empty() => {
            "no changes: the accounts match the policy\n".into()
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = plan
                .actions
                .iter()
                .map(|a| {
                    let mut reason = a.reason.clone();
                    for c in &a.changes {
                        reason.push_str(&format!(
                            "; {}: {} -> {}",
                            c.field,
                            c.from.as_deref().unwrap_or("-"),
                            c.to.as_deref().unwrap_or("-")
                        ));
                    }
                    vec![
                        a.kind.as_str().to_string(),
                        a.account.clone(),
                        a.name.clone(),
                        a.token_id.clone().unwrap_or_else(|| "-".into()),
                        reason,
                    ]
                })
                .collect();
            let mut text = table(&["ACTION", "ACCOUNT", "NAME", "TOKEN", "REASON"], &rows);
            let destructive = plan.actions.iter().filter(|a| a.destructive).count();
            text.push_str(&format!(
                "{} action(s), {destructive} destructive\n",
                plan.actions.len()
            ));
            text
        }
    }
}

/// One apply result as a line of `format` (none for `json`, printed whole at the end).
pub fn result_line(r: &ActionResult, format: Format) -> Option<String> {
    match format {
        Format::Json => None,
        Format::Jsonl => Some(serde_json::to_string(r).unwrap_or_default() + "\n"),
        Format::Table => Some(format!(
            "{:<12} {:<10} {:<14} {}: {}{}\n",
            r.result.as_str(),
            r.action.kind.as_str(),
            r.action.token_id.as_deref().unwrap_or("-"),
            r.action.name,
            if r.resumed { "(resumed) " } else { "" },
            r.detail
        )),
    }
}

/// A rotation's plan: key/value lines, or its JSON.
pub fn rotation(plan: &RotationPlan, format: Format) -> String {
    let value = serde_json::to_value(plan).unwrap_or_default();
    match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
        Format::Jsonl => format!("{value}\n"),
        Format::Table => value
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map_or_else(|| v.to_string(), String::from);
                        format!("{k:<12} {v}\n")
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}
