//! `mpt tokens plan --policy FILE`: the drift from a policy file, changing nothing; and
//! `mpt tokens apply`: the policy carried out, a result line per action.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mpt::policy::{ActionResult, ApplyError, ApplyOptions, Plan, Policy};
use mpt::{Client, Quiet};

use crate::cli::TokensCmd;
use crate::exit::{self, Failure, code};
use crate::files;
use crate::output::{self, Format};
use crate::signals::Signals;

/// Reads and checks a policy file; a bad one is a usage error naming the file, line and key.
pub fn read(path: &Path) -> Result<Policy, Failure> {
    let text = files::read_regular(path).map_err(Failure::Usage)?;
    Policy::from_toml(&text, &path.display().to_string())
        .map_err(|e| Failure::Usage(format!("policy: {e}")))
}

/// Plans, prints the actions (explained by the state directory's records), saves the plan to
/// `--out`; with `--exit-code`, exit 6 on drift.
pub async fn plan(
    client: &Client,
    policy: &Policy,
    cmd: &TokensCmd,
    format: Format,
) -> Result<(), Failure> {
    let TokensCmd::Plan {
        policy: policy_path,
        out,
        exit_code,
        state_dir,
    } = cmd
    else {
        return Ok(());
    };
    let plan = client.plan(policy).await?;
    if let Some(out) = out {
        // Saved as planned: an apply compares it with a plan it makes itself.
        let json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
        files::replace(out, &json).map_err(Failure::Usage)?;
    }
    let mut shown = plan.clone();
    shown.explain_refused(&state_dir_of(state_dir.as_deref(), policy_path));
    output::print(&render(&shown, format))?;
    if *exit_code && plan.has_changes() {
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

/// The state directory: `given`, else `.mpt-state` beside the policy file.
fn state_dir_of(given: Option<&Path>, policy: &Path) -> PathBuf {
    if let Some(given) = given {
        return given.to_path_buf();
    }
    policy
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".mpt-state")
}

/// One result as a line of `format` (none for `json`, printed whole at the end).
fn result_line(r: &ActionResult, format: Format) -> Option<String> {
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

/// Applies the policy (a saved plan when `--plan`), printing each result as it is known.
pub async fn apply(
    client: &Client,
    policy: &Policy,
    cmd: &TokensCmd,
    format: Format,
    signals: &Signals,
) -> Result<(), Failure> {
    let TokensCmd::Apply {
        policy: policy_path,
        plan,
        state_dir,
        allow_destroy,
        concurrency,
        quiet,
        max_wait,
    } = cmd
    else {
        return Ok(());
    };
    let saved: Option<Plan> = match plan {
        Some(path) => Some(files::read_json(
            path,
            "a plan saved by `mpt tokens plan --out`",
        )?),
        None => None,
    };
    let state_dir = state_dir_of(state_dir.as_deref(), policy_path);
    // Its length is known once the plan is: resumed work adds to it as it is reported.
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} action(s)")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let printed: Arc<Mutex<Option<Failure>>> = Arc::new(Mutex::new(None));
    let (shown, progress) = (printed.clone(), bar.clone());
    let options = ApplyOptions::new(&state_dir)
        .allow_destroy(*allow_destroy)
        .concurrency(usize::from(*concurrency))
        .quiet(quiet.map(|period| Quiet {
            period,
            poll: (period / 10).clamp(Duration::from_millis(10), Duration::from_secs(60)),
            max_wait: *max_wait,
        }))
        .on_result(move |r| {
            if let Some(line) = result_line(r, format) {
                let print = || output::print(&line);
                let done = match &progress {
                    Some(bar) => bar.suspend(print),
                    None => print(),
                };
                if let (Err(e), Ok(mut first)) = (done, shown.lock()) {
                    first.get_or_insert(e);
                }
            }
            if let Some(bar) = &progress {
                if r.resumed {
                    bar.inc_length(1);
                }
                bar.inc(1);
            }
        });
    let options = match bar.clone() {
        Some(bar) => options.on_plan(move |plan| bar.inc_length(plan.actions.len() as u64)),
        None => options,
    };
    // A first interrupt stops sending (the work in flight fails and resumes next time); the
    // results known so far are printed.
    let _deferred = signals.defer();
    let client = client.with_cancel(signals.cancel());
    let report = client.apply(policy, saved.as_ref(), &options).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = match report {
        Ok(report) => report,
        Err(ApplyError::Api(e)) => return Err(Failure::Api(e)),
        Err(ApplyError::StateDir(e)) => {
            return Err(Failure::Usage(format!("--state-dir: {e}")));
        }
        // A saved plan that is not an approval of what would be done now: bad input.
        Err(
            e @ (ApplyError::Stale { .. }
            | ApplyError::OtherAccounts { .. }
            | ApplyError::PlanTime { .. }),
        ) => {
            return Err(Failure::Usage(format!("--plan: {e}")));
        }
        Err(e) => return Err(Failure::Other(e.to_string())),
    };
    if let Some(e) = printed.lock().ok().and_then(|mut e| e.take()) {
        return Err(e);
    }
    match format {
        Format::Json => {
            output::print(&(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"))?
        }
        Format::Table => output::print(&format!("{}\n", report.summary()))?,
        Format::Jsonl => exit::eprint(&format!("{}\n", report.summary())),
    }
    if let Some(signal) = signals.received() {
        return Err(Failure::Rows(signal));
    }
    if report.failed() > 0 {
        return Err(Failure::Rows(code::FAILED));
    }
    Ok(())
}
