//! `mpt tokens plan --policy FILE`: the drift from a policy file, changing nothing.

use std::path::Path;

use mpt::Client;
use mpt::policy::{Plan, Policy};

use crate::exit::{Failure, code};
use crate::files;
use crate::output::{self, Format};

/// Reads and checks a policy file; a bad one is a usage error naming the file, line and key.
pub fn read(path: &Path) -> Result<Policy, Failure> {
    let text = files::read_regular(path).map_err(Failure::Usage)?;
    Policy::from_toml(&text, &path.display().to_string())
        .map_err(|e| Failure::Usage(format!("policy: {e}")))
}

/// Plans, prints the actions, saves the plan to `out`; with `exit_code`, exit 6 on drift.
pub async fn plan(
    client: &Client,
    policy: &Policy,
    out: Option<&Path>,
    exit_code: bool,
    format: Format,
) -> Result<(), Failure> {
    let plan = client.plan(policy).await?;
    if let Some(out) = out {
        let json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
        files::replace(out, &json).map_err(Failure::Usage)?;
    }
    output::print(&render(&plan, format))?;
    if exit_code && plan.has_changes() {
        return Err(Failure::Rows(code::CHANGES_PENDING));
    }
    Ok(())
}

fn render(plan: &Plan, format: Format) -> String {
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
            let mut text = output::table(&["ACTION", "ACCOUNT", "NAME", "TOKEN", "REASON"], &rows);
            let destructive = plan.actions.iter().filter(|a| a.destructive).count();
            text.push_str(&format!(
                "{} action(s), {destructive} destructive\n",
                plan.actions.len()
            ));
            text
        }
    }
}
