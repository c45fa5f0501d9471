//! Plans, apply results and rotation plans, as tables or JSON.

use mpt::RotationPlan;
use mpt_policy::{ActionKind, ActionResult, Plan, PlannedAction};

use super::{Format, shown, table};

/// How an action reads at a glance, as Terraform marks its plans: `+` makes, `~` changes, `-`
/// destroys, and nothing for what is only shown.
fn mark(a: &PlannedAction) -> &'static str {
    match a.kind {
        _ if a.destructive => "-",
        ActionKind::Create => "+",
        ActionKind::Update
        | ActionKind::Enable
        | ActionKind::Disable
        | ActionKind::Delete
        | ActionKind::Rotate
        | ActionKind::Resume => "~",
        _ => " ",
    }
}

/// An action's reason, with each changed field.
fn reason(a: &PlannedAction) -> String {
    let mut reason = a.reason.clone();
    for c in &a.changes {
        reason.push_str(&format!(
            "; {}: {} -> {}",
            c.field,
            c.from.as_deref().unwrap_or("-"),
            c.to.as_deref().unwrap_or("-")
        ));
    }
    shown(&reason)
}

/// `3 action(s), 1 destructive`, with the pending work among them and the records of another
/// policy's work left alone.
fn summary(plan: &Plan) -> String {
    let destructive = plan.actions.iter().filter(|a| a.destructive).count();
    let mut text = format!(
        "{} action(s), {destructive} destructive",
        plan.actions.len()
    );
    if !plan.has_changes() {
        text.push_str(", reports only: nothing to change");
    }
    let pending = plan.count(ActionKind::Resume);
    if pending > 0 {
        text.push_str(&format!(
            ", {pending} of them pending work of an interrupted apply (resumed first)"
        ));
    }
    if let Some(others) = plan.others_left_alone() {
        text.push_str(&format!("; {others}"));
    }
    text
}

/// A plan: a table of actions (each marked `+`, `~` or `-`, the last for what it destroys) with
/// a summary line, a Markdown table for a pull request, a JSON document, or an action per line.
pub fn plan(plan: &Plan, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(plan).unwrap_or_default() + "\n",
        Format::Jsonl => plan
            .actions
            .iter()
            .map(|a| serde_json::to_string(a).unwrap_or_default() + "\n")
            .collect(),
        Format::Table | Format::Markdown if plan.actions.is_empty() => {
            match plan.others_left_alone() {
                None => "no changes: the accounts match the policy\n".into(),
                Some(others) => format!("no changes: the accounts match the policy; {others}\n"),
            }
        }
        Format::Markdown => markdown(plan),
        Format::Table => {
            let rows: Vec<Vec<String>> = plan
                .actions
                .iter()
                .map(|a| {
                    vec![
                        mark(a).to_string(),
                        a.kind.as_str().to_string(),
                        shown(&a.account),
                        name(&a.name),
                        shown(a.token_id.as_deref().unwrap_or("-")),
                        reason(a),
                    ]
                })
                .collect();
            let mut text = table(
                &[" ", "ACTION", "ACCOUNT", "NAME", "TOKEN", "REASON"],
                &rows,
            );
            text.push_str(&summary(plan));
            text.push('\n');
            text
        }
    }
}

/// A Markdown cell: `|` escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// The plan as a Markdown table, destructive actions marked, then the summary.
fn markdown(plan: &Plan) -> String {
    let mut out = String::from(
        "| | Action | Account | Name | Token | Reason |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for a in &plan.actions {
        let action = match a.destructive {
            true => format!("**{}** (destroys)", a.kind.as_str()),
            false => a.kind.as_str().to_string(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            mark(a),
            action,
            cell(&shown(&a.account)),
            cell(&name(&a.name)),
            cell(&shown(a.token_id.as_deref().unwrap_or("-"))),
            cell(&reason(a))
        ));
    }
    out.push_str(&format!("\n**{}**\n", summary(plan)));
    out
}

/// A row's name as shown: `-` when it has none (a record whose key names none; it read
/// `: (resumed) ...`: tester round 21, N4).
fn name(name: &str) -> String {
    match name {
        "" => "-".to_string(),
        name => shown(name),
    }
}

/// One apply result as a line of `format` (none for `json`, printed whole at the end).
pub fn result_line(r: &ActionResult, format: Format) -> Option<String> {
    match format {
        Format::Json => None,
        Format::Jsonl => Some(serde_json::to_string(r).unwrap_or_default() + "\n"),
        Format::Table | Format::Markdown => Some(format!(
            "{:<12} {:<10} {:<14} {}: {}{}\n",
            r.result.as_str(),
            r.action.kind.as_str(),
            shown(r.action.token_id.as_deref().unwrap_or("-")),
            name(&r.action.name),
            if r.resumed { "(resumed) " } else { "" },
            shown(&r.detail)
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
        Format::Table | Format::Markdown => value
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
