//! `mpt tokens rotate start|verify|retire|finish|status`: a zero-downtime rotation in steps,
//! its plan kept in a state file (ids, phase and times; never a secret).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use mpt::{Client, Quiet, RotationPhase, RotationPlan};

use super::write::{SecretOut, hand_over};
use super::{Ctx, RunCommand};
use crate::exit::{self, Failure};
use crate::files;
use crate::output;
use crate::values::parse_age;

/// `mpt tokens rotate ...`.
#[derive(Subcommand)]
pub enum RotateCmd {
    /// Make the replacement (the old token stays Active) and hand its secret over.
    Start(StartArgs),
    /// Check that the new secret authenticates (read from --secret-file, or MPT_NEW_API_TOKEN).
    Verify(VerifyArgs),
    /// Disable the old token, once the new secret is in use.
    Retire(RetireArgs),
    /// Delete the old token.
    Finish(StateArg),
    /// Show where the rotation is.
    Status(StateArg),
}

impl RunCommand for RotateCmd {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        match self {
            RotateCmd::Start(args) => args.run(ctx).await,
            RotateCmd::Verify(args) => args.run(ctx).await,
            RotateCmd::Retire(args) => args.run(ctx).await,
            RotateCmd::Finish(args) => finish(args, ctx).await,
            RotateCmd::Status(args) => status(args, ctx),
        }
    }
}

/// A step's state file.
#[derive(Args)]
pub struct StateArg {
    /// The rotation's state file.
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
}

/// `rotate start`.
#[derive(Args)]
pub struct StartArgs {
    /// The token to replace (not needed to resume a saved plan).
    id: Option<String>,
    /// The rotation's state file (ids, phase, times; never a secret).
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    #[command(flatten)]
    out: SecretOut,
}

/// `rotate verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The rotation's state file.
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// The file holding the new secret.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

/// `rotate retire`.
#[derive(Args)]
pub struct RetireArgs {
    /// The rotation's state file.
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// First wait until the old token's lastAccessAt has not moved for this long (e.g. 30m;
    /// it moves when a session is refreshed, so choose more than that interval).
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    quiet: Option<Duration>,
    /// Give up waiting after this long.
    #[arg(long, value_name = "AGE", default_value = "2h", value_parser = parse_age)]
    max_wait: Duration,
}

/// The lock of a rotation's state file, held for a whole step: `FILE.lock` beside it (the state
/// file itself is replaced on each save, so it cannot carry the lock). Made when missing, never
/// removed (removing it would let two runs hold two locks); a link or anything but a regular
/// file there is refused. A second step on the same file while one runs is refused at once
/// (exit 2), before anything is read or sent.
fn lock_state(state: &Path) -> Result<std::fs::File, Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut name = state.as_os_str().to_os_string();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| {
            Failure::Usage(format!(
                "the lock of the rotation state file {}: {} cannot be opened: {e}",
                state.display(),
                path.display()
            ))
        })?;
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        _ => {
            return Err(Failure::Usage(format!(
                "{} (the lock of the rotation state file {}) is not a regular file",
                path.display(),
                state.display()
            )));
        }
    }
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Failure::Usage(format!(
            "the rotation state file {} is in use: another `mpt tokens rotate` holds its lock {}; nothing was done (run it again once that one ended)",
            state.display(),
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Failure::Usage(format!(
            "the lock {} of the rotation state file {} cannot be taken: {e}",
            path.display(),
            state.display()
        ))),
    }
}

fn read_plan(path: &Path) -> Result<RotationPlan, Failure> {
    files::read_json(path, "a rotation state file")
}

/// Why a rotation's state file could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SavePlanError {
    /// The plan could not be made into JSON.
    #[error("the rotation's plan cannot be written as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The file could not be written.
    #[error(transparent)]
    File(#[from] files::FileError),
}

fn save_plan(path: &Path, plan: &RotationPlan) -> Result<(), SavePlanError> {
    let text = serde_json::to_string_pretty(plan)?;
    Ok(files::replace(path, &format!("{text}\n"))?)
}

/// How long a `--quiet` waits between reads of `lastAccessAt`, for a quiet `period`.
pub fn quiet(period: Duration, max_wait: Duration) -> Quiet {
    Quiet {
        period,
        poll: (period / 10).clamp(Duration::from_millis(10), Duration::from_secs(60)),
        max_wait,
    }
}

impl StartArgs {
    /// The plan to start: the state file's, or a new one for the id, saved before anything is
    /// made (a crash from here on resumes).
    async fn plan(&self, client: &Client) -> Result<RotationPlan, Failure> {
        match (self.state.exists(), &self.id) {
            (true, _) => read_plan(&self.state),
            (false, Some(id)) => {
                let plan = client.plan_rotation(id.as_str()).await?;
                save_plan(&self.state, &plan).map_err(|e| Failure::Usage(e.to_string()))?;
                Ok(plan)
            }
            (false, None) => Err(Failure::Usage(
                "rotate start needs the token id, or an existing --state file".into(),
            )),
        }
    }
}

impl RunCommand for StartArgs {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let client = ctx.client()?;
        // Held to the end: a second start on this file would make a second replacement.
        let _lock = lock_state(&self.state)?;
        // The secret file is checked before anything is planned or made. A start resumed after
        // its create was sent may find there the secret of the replacement it made (a token
        // outside the ids known before, or the recorded one at `created`): it hands that one
        // over again, so the file is replaced.
        let resumed = match self.state.exists() {
            true => Some(read_plan(&self.state)?),
            false => None,
        };
        let file = match &resumed {
            Some(p) if p.phase == RotationPhase::Planned && p.create_sent => self
                .out
                .prepare_ours(|id| id != p.old_id && !p.known_ids.iter().any(|k| k == id))?,
            Some(p) if p.phase == RotationPhase::Created => self
                .out
                .prepare_ours(|id| p.new_id.as_deref() == Some(id))?,
            _ => self.out.prepare()?,
        };
        let mut plan = match resumed {
            Some(plan) => plan,
            None => self.plan(client).await?,
        };
        let state = &self.state;
        // From the create to the hand-over, a first interrupt waits for the step to end.
        let _deferred = ctx.signals.defer();
        // `start_saving` saves the plan (with the ids that already had this name) before it
        // sends the create: a crash after the create resumes without a second replacement.
        let made = plan
            .start_saving(client, async |p: &RotationPlan| save_plan(state, p))
            .await?;
        let (token, secret) = match made {
            Some(made) => {
                exit::remember(made.secret.expose_secret());
                // `created` (with the replacement's id) is saved before its description is put
                // back: from here on a start resumed finds it by that id, not by its tag.
                save_plan(state, &plan).map_err(|e| {
                    Failure::Other(format!(
                        "the replacement {} was made, but the state file could not be updated ({e}); its secret is not written: `mpt tokens rotate start --state {}` again finds the same replacement by its marker and hands it over",
                        made.token.id(),
                        state.display()
                    ))
                })?;
                (made.token, made.secret)
            }
            None if plan.phase == RotationPhase::Created => recorded(client, &plan).await?,
            None => {
                exit::eprint(&format!(
                    "the rotation of {} was started already (phase {:?}); its secret was handed over then\n",
                    plan.old_id, plan.phase
                ));
                return output::print(&output::rotation(&plan, ctx.format));
            }
        };
        let token = put_back(client, &plan, &token, state).await?;
        let warning = hand_over(&token, &secret, file, ctx.format).map_err(|why| {
            Failure::Other(format!(
                "{why}; run `mpt tokens rotate start --state {}` again to hand it over",
                state.display()
            ))
        })?;
        if let Some(warning) = warning {
            return Err(Failure::Other(warning));
        }
        match ctx.signals.received() {
            Some(code) => Err(Failure::Interrupted(code)),
            None => Ok(()),
        }
    }
}

/// The replacement a plan at `created` recorded, read now with its secret (a start stopped
/// between saving `created` and writing the secret hands it over again): of the plan's account
/// and name, Active. A secret the platform does not return is an error, nothing written.
async fn recorded(
    client: &Client,
    plan: &RotationPlan,
) -> Result<(mpt::Token, mpt::TokenSecret), Failure> {
    let Some(new_id) = plan.new_id.as_deref() else {
        return Err(Failure::Usage(
            "the rotation state file says `created` but names no replacement (newId)".into(),
        ));
    };
    let found = client
        .list()
        .filter(mpt::Filter::id(new_id))
        .select(["+audit"])
        .with_secrets()
        .collect()
        .await?;
    let token = found
        .into_iter()
        .find(|t| {
            t.id() == new_id
                && t.account_id() == Some(plan.account_id.as_str())
                && t.name() == Some(plan.name.as_str())
                && t.status() == mpt::TokenStatus::Active
        })
        .ok_or_else(|| {
            Failure::Other(format!(
                "the replacement {new_id} the rotation state file names is not an Active token of {:?} in {}: nothing was handed over",
                plan.name, plan.account_id
            ))
        })?;
    let Some(secret) = token.secret().cloned() else {
        return Err(Failure::Other(format!(
            "the platform does not return the secret of the replacement {new_id}: nothing was handed over (start a new rotation)"
        )));
    };
    exit::remember(secret.expose_secret());
    Ok((token, secret))
}

/// Puts back the replacement's intended description (its create's marker tag removed) before
/// its secret is handed over: a token carrying a tag is one this tool never handed out (a
/// `late` record with its marker's hash would have it deleted, nobody holding it: tester round
/// 20, M4). When that fails, the secret is not written: the state file says `created`, and
/// `rotate start` again puts it back and hands the secret over (read from the platform).
async fn put_back(
    client: &Client,
    plan: &RotationPlan,
    token: &mpt::Token,
    state: &Path,
) -> Result<mpt::Token, Failure> {
    // The replacement as the put-back left it (its answer): no read after it, which could fail
    // and show the token as made, its tag on (tester round 21, N7).
    match plan.restored(client, token).await {
        Ok(now) => Ok(now),
        Err(e) => Err(Failure::Other(format!(
            "the replacement {} was made (the state file says `created`), but its description could not be put back ({e}): it still carries its create's marker, so its secret is not written (a token carrying a marker may be deleted as one nobody holds); run `mpt tokens rotate start --state {}` again to put it back and hand its secret over",
            token.id(),
            state.display()
        ))),
    }
}

impl RunCommand for VerifyArgs {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let client = ctx.client()?;
        let _lock = lock_state(&self.state)?;
        let mut plan = read_plan(&self.state)?;
        let secret = match self.secret_file {
            Some(file) => files::read_secret(Some(&file), "the new secret")?,
            None => {
                let secret = crate::config::env_text("MPT_NEW_API_TOKEN")?.ok_or_else(|| {
                    Failure::Usage(
                        "the new secret: give --secret-file, or set MPT_NEW_API_TOKEN".into(),
                    )
                })?;
                exit::remember(&secret);
                mpt::TokenSecret::new(secret.trim())
            }
        };
        plan.verify(client, &secret).await?;
        save_plan(&self.state, &plan).map_err(|e| Failure::Other(e.to_string()))?;
        output::print(&output::rotation(&plan, ctx.format))
    }
}

impl RunCommand for RetireArgs {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let client = ctx.client()?;
        let _lock = lock_state(&self.state)?;
        let mut plan = read_plan(&self.state)?;
        let wait = self.quiet.map(|period| quiet(period, self.max_wait));
        plan.retire(client, wait).await?;
        save_plan(&self.state, &plan).map_err(|e| Failure::Other(e.to_string()))?;
        output::print(&output::rotation(&plan, ctx.format))
    }
}

async fn finish(args: StateArg, ctx: &Ctx<'_>) -> Result<(), Failure> {
    let client = ctx.client()?;
    let _lock = lock_state(&args.state)?;
    let mut plan = read_plan(&args.state)?;
    plan.finish(client).await?;
    save_plan(&args.state, &plan).map_err(|e| Failure::Other(e.to_string()))?;
    output::print(&output::rotation(&plan, ctx.format))
}

fn status(args: StateArg, ctx: &Ctx<'_>) -> Result<(), Failure> {
    // Like every command but `whoami`, it is run with an API token.
    ctx.client()?;
    let plan = read_plan(&args.state)?;
    if plan.phase == RotationPhase::Finished {
        exit::eprint("the rotation is finished\n");
    }
    output::print(&output::rotation(&plan, ctx.format))
}
