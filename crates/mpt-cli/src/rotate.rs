//! `mpt tokens rotate start|verify|retire|finish|status`: a zero-downtime rotation in steps,
//! its plan kept in a state file (ids, phase and times; never a secret).

use std::path::Path;
use std::time::Duration;

use mpt::{Client, Quiet, RotationPhase, RotationPlan};

use crate::cli::RotateCmd;
use crate::exit::{self, Failure};
use crate::files;
use crate::output::{self, Format};
use crate::signals::Signals;
use crate::tokens;

fn read_plan(path: &Path) -> Result<RotationPlan, Failure> {
    files::read_json(path, "a rotation state file")
}

fn save_plan(path: &Path, plan: &RotationPlan) -> Result<(), String> {
    let text = serde_json::to_string_pretty(plan).map_err(|e| e.to_string())?;
    files::replace(path, &format!("{text}\n"))
}

fn plan_output(plan: &RotationPlan, format: Format) -> String {
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

/// Runs one step.
pub async fn run(
    client: &Client,
    step: RotateCmd,
    format: Format,
    signals: &Signals,
) -> Result<(), Failure> {
    match step {
        RotateCmd::Start { id, state, out } => {
            // The secret file is checked before anything is planned or made.
            let file = tokens::prepare(&out)?;
            let mut plan = match (state.exists(), id) {
                (true, _) => read_plan(&state)?,
                (false, Some(id)) => {
                    let plan = client.plan_rotation(id.as_str()).await?;
                    // Saved before anything is made: a crash from here on resumes.
                    save_plan(&state, &plan).map_err(Failure::Usage)?;
                    plan
                }
                (false, None) => {
                    return Err(Failure::Usage(
                        "rotate start needs the token id, or an existing --state file".into(),
                    ));
                }
            };
            // From the create to the hand-over, a first interrupt waits for the step to end.
            let _deferred = signals.defer();
            // `start_saving` saves the plan (with the ids that already had this name) before it
            // sends the create: a crash after the create resumes without a second replacement.
            let started = plan.start_saving(client, |p| save_plan(&state, p)).await;
            match started? {
                Some(made) => {
                    exit::remember(made.secret.expose_secret());
                    // The plan says `created` only once the secret was handed over: until then,
                    // starting again adopts the replacement and hands its secret over again.
                    let warning = tokens::hand_over(&made.token, &made.secret, file, format)
                        .map_err(|why| {
                            Failure::Other(format!(
                                "{why}; the state file still says `planned`: run `mpt tokens rotate start --state {}` again to hand it over",
                                state.display()
                            ))
                        })?;
                    save_plan(&state, &plan).map_err(|e| {
                        Failure::Other(format!(
                            "the replacement {} was made and its secret handed over, but the state file could not be updated ({e}); starting again finds the same replacement",
                            made.token.id()
                        ))
                    })?;
                    if let Some(warning) = warning {
                        return Err(Failure::Other(warning));
                    }
                    match signals.received() {
                        Some(code) => Err(Failure::Rows(code)),
                        None => Ok(()),
                    }
                }
                None => {
                    exit::eprint(&format!(
                        "the rotation of {} was started already (phase {:?}); its secret was handed over then\n",
                        plan.old_id, plan.phase
                    ));
                    output::print(&plan_output(&plan, format))
                }
            }
        }
        RotateCmd::Verify { state, secret_file } => {
            let mut plan = read_plan(&state)?;
            let secret = match secret_file {
                Some(file) => tokens::read_secret(Some(&file), "the new secret")?,
                None => {
                    let secret = std::env::var("MPT_NEW_API_TOKEN").map_err(|_| {
                        Failure::Usage(
                            "the new secret: give --secret-file, or set MPT_NEW_API_TOKEN".into(),
                        )
                    })?;
                    exit::remember(&secret);
                    mpt::TokenSecret::new(secret.trim())
                }
            };
            plan.verify(client, &secret).await?;
            save_plan(&state, &plan).map_err(Failure::Other)?;
            output::print(&plan_output(&plan, format))
        }
        RotateCmd::Retire {
            state,
            quiet,
            max_wait,
        } => {
            let mut plan = read_plan(&state)?;
            let quiet = quiet.map(|period| Quiet {
                period,
                poll: (period / 10).clamp(Duration::from_millis(10), Duration::from_secs(60)),
                max_wait,
            });
            plan.retire(client, quiet).await?;
            save_plan(&state, &plan).map_err(Failure::Other)?;
            output::print(&plan_output(&plan, format))
        }
        RotateCmd::Finish { state } => {
            let mut plan = read_plan(&state)?;
            plan.finish(client).await?;
            save_plan(&state, &plan).map_err(Failure::Other)?;
            output::print(&plan_output(&plan, format))
        }
        RotateCmd::Status { state } => {
            let plan = read_plan(&state)?;
            if plan.phase == RotationPhase::Finished {
                exit::eprint("the rotation is finished\n");
            }
            output::print(&plan_output(&plan, format))
        }
    }
}
