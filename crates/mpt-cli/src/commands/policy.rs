//! `mpt tokens plan --policy FILE`: the drift from a policy file, changing nothing; and
//! `mpt tokens apply`: the policy carried out, a result line per action.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use mpt_policy::{
    ApplyError, ApplyOptions, ApplyReport, Plan, Policy, PolicyClient, StateLocation, StoreError,
};

use super::{Ctx, RunCommand};
use crate::exit::{self, Failure, code};
use crate::files;
use crate::output;
use crate::output::Format;
use crate::values::{parse_age, parse_wait};

/// `mpt tokens plan`.
#[derive(Args)]
pub struct PlanArgs {
    /// The policy file (TOML).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Also save the plan as JSON to this file (written atomically).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit 6 when anything differs from the policy (for a nightly drift check).
    #[arg(long)]
    exit_code: bool,
    /// The apply's state (a directory, or postgres://USER@HOST:PORT/DB), read (never written,
    /// never locked) to explain modules the platform refused before; wins over MPT_STATE and
    /// the policy's `state` [default: .mpt-state beside the policy file].
    #[arg(
        long,
        alias = "state-dir",
        value_name = "DIR|URL",
        env = "MPT_STATE",
        hide_env_values = true
    )]
    state: Option<String>,
}

/// `mpt tokens apply`.
#[derive(Args)]
pub struct ApplyArgs {
    /// The policy file (TOML): the declared state, and where new secrets go.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Carry out this saved plan (`tokens plan --out`), refused when the accounts moved
    /// since it was made; without it, a plan made now.
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Where creates and rotations keep their state between steps: a directory, or
    /// postgres://USER@HOST:PORT/DB shared between machines (the password from the URL,
    /// PGPASSWORD or ~/.pgpass; never shown; ?sslmode=verify-full&sslrootcert=FILE for TLS,
    /// ?schema=NAME, ?skip_schema_creation=true); wins over MPT_STATE and the policy's `state`
    /// [default: .mpt-state beside the policy file]. A lost database session is exit 5.
    #[arg(
        long,
        alias = "state-dir",
        value_name = "DIR|URL",
        env = "MPT_STATE",
        hide_env_values = true
    )]
    state: Option<String>,
    /// How long to wait for another apply holding an account of this policy (PostgreSQL
    /// state) or its state directory before refusing with exit 2 (e.g. 60s; 0 refuses at once).
    #[arg(long, value_name = "AGE", default_value = "0", value_parser = parse_wait)]
    lock_timeout: Duration,
    /// Carry out the actions the plan marks destructive: deletes, the disabling of undeclared
    /// tokens, and a resumed rotation whose record is its only reason to retire and delete the
    /// old token (shown and skipped otherwise).
    #[arg(long)]
    allow_destroy: bool,
    /// How many tokens are worked on at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Retire a rotation's old token only once its lastAccessAt has not moved for this long.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    quiet: Option<Duration>,
    /// Give up waiting for quiet after this long (the rotation resumes next time).
    #[arg(long, value_name = "AGE", default_value = "2h", value_parser = parse_age)]
    max_wait: Duration,
}

/// Reads and checks a policy file; a bad one is a usage error naming the file, line and key.
fn read(path: &Path) -> Result<Policy, Failure> {
    let text = files::read_regular(path).map_err(|e| Failure::Usage(e.to_string()))?;
    Policy::from_toml(&text, &path.display().to_string())
        .map_err(|e| Failure::Usage(format!("policy: {e}")))
}

/// Where the state is: `--state` (or MPT_STATE), else the policy's `state`, else `.mpt-state`
/// beside the policy file. A password in a URL is remembered, so that no text on stderr shows
/// it.
fn state_of(given: Option<&str>, policy: &Policy, policy_path: &Path) -> StateLocation {
    let location = match given.or(policy.state.as_deref()) {
        Some(text) => StateLocation::parse(text),
        None => StateLocation::Dir(
            policy_path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join(".mpt-state"),
        ),
    };
    if let StateLocation::Postgres(url) = &location {
        for secret in mpt_policy::state::url_secrets(url) {
            exit::remember(&secret);
        }
    }
    location
}

/// A store error as the CLI says it: unreachable (or a session lost) is exit 5, anything else
/// (a refused login included) a usage or configuration error (2).
fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::Unreachable { .. } | StoreError::SessionLost { .. } => {
            Failure::Unreachable(e.to_string())
        }
        e => Failure::Usage(format!("--state: {e}")),
    }
}

impl RunCommand for PlanArgs {
    /// Plans, prints the actions (explained by the state directory's records), saves the plan
    /// to `--out`; with `--exit-code`, exit 6 on drift.
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let client = ctx.client()?;
        // Checked before anything is sent.
        let policy = read(&self.policy)?;
        let state = state_of(self.state.as_deref(), &policy, &self.policy);
        let accounts: Vec<String> = policy.accounts.iter().map(|a| a.id.clone()).collect();
        // Read only, and no lock: a plan changes nothing.
        let store = mpt_policy::state::open(&state, &accounts, None)
            .await
            .map_err(store_failure)?;
        let mut plan = client.plan(&policy).await?;
        // The work an interrupted apply left is part of the plan: the next apply resumes it.
        plan.include_pending(client, &policy, store.as_ref()).await;
        // A sink the apply could not use is refused now, as apply refuses it before sending.
        plan.check_sinks_in(&policy, store.as_ref())
            .map_err(|e| Failure::Usage(format!("policy: {e}")))?;
        if let Some(out) = &self.out {
            // Saved as planned: an apply compares it with a plan it makes itself.
            let json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
            files::replace(out, &json).map_err(|e| Failure::Usage(e.to_string()))?;
        }
        let mut shown = plan.clone();
        shown.explain_refused(store.as_ref()).await;
        output::print(&output::plan(&shown, ctx.format))?;
        if self.exit_code && plan.has_changes() {
            return Err(Failure::Drift);
        }
        Ok(())
    }
}

impl ApplyArgs {
    /// The options: the state directory, the destroy and quiet settings, and a result line
    /// printed (and the progress bar moved) as each action finishes; a failure to print is
    /// kept in `printed`, and a closed stdout stops the apply beginning changes as a first
    /// SIGINT does (`signals`).
    fn options(
        &self,
        state: StateLocation,
        format: Format,
        bar: Option<indicatif::ProgressBar>,
        printed: Arc<Mutex<Option<Failure>>>,
        signals: crate::signals::Signals,
    ) -> ApplyOptions {
        let progress = bar.clone();
        let options = ApplyOptions::new(state)
            .lock_timeout(self.lock_timeout)
            .allow_destroy(self.allow_destroy)
            .concurrency(usize::from(self.concurrency))
            .quiet(
                self.quiet
                    .map(|period| super::rotate::quiet(period, self.max_wait)),
            )
            .on_result(move |r| {
                if let Some(line) = output::result_line(r, format) {
                    let print = || output::print(&line);
                    let done = match &progress {
                        Some(bar) => bar.suspend(print),
                        None => print(),
                    };
                    if let (Err(e), Ok(mut first)) = (done, printed.lock()) {
                        first.get_or_insert(e);
                    }
                    if output::stdout_closed() {
                        signals.stdout_closed();
                    }
                }
                if let Some(bar) = &progress {
                    bar.inc(1);
                }
            });
        match bar {
            Some(bar) => options.on_plan(move |plan| bar.inc_length(plan.actions.len() as u64)),
            None => options,
        }
    }
}

impl RunCommand for ApplyArgs {
    /// Applies the policy (a saved plan when `--plan`), printing each result as it is known.
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let client = ctx.client()?;
        // Checked before anything is sent.
        let policy = read(&self.policy)?;
        let saved: Option<Plan> = match &self.plan {
            Some(path) => Some(files::read_json(
                path,
                "a plan saved by `mpt tokens plan --out`",
            )?),
            None => None,
        };
        // Its length is known once the plan is: resumed work adds to it as it is reported.
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| output::progress_bar("{bar:40} {pos}/{len} action(s)", 0));
        let printed: Arc<Mutex<Option<Failure>>> = Arc::new(Mutex::new(None));
        let state = state_of(self.state.as_deref(), &policy, &self.policy);
        let signals = ctx.signals.clone();
        let options = self.options(state, ctx.format, bar.clone(), printed.clone(), signals);
        // A first interrupt (or a closed stdout) stops sending: the actions in flight finish,
        // each not begun is not attempted. Past the grace, the apply stops waiting for those in
        // flight (their outcome unknown; the next apply checks them). Every action's row is
        // printed.
        let _deferred = ctx.signals.defer();
        ctx.signals.print_in_flight();
        let options = options.give_up(ctx.signals.given_up());
        let client = client.with_cancel(ctx.signals.cancel());
        let report = client.apply(&policy, saved.as_ref(), &options).await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let report = report.map_err(|e| match (e, ctx.signals.received()) {
            // Interrupted while the plan was read (the accounts, the secret files' tokens):
            // nothing was changed, and the exit says the signal (tester round 22, R3).
            (ApplyError::Api(mpt::Error::Cancelled), Some(signal)) => {
                exit::eprint("interrupted before any change: nothing was changed\n");
                Failure::Interrupted(signal)
            }
            (e, _) => failure_of(e, ctx.format),
        })?;
        if let Some(e) = printed.lock().ok().and_then(|mut e| e.take()) {
            return Err(e);
        }
        print_summary(&report, ctx.format)?;
        if let Some(signal) = ctx.signals.received() {
            if signal == code::CLOSED_STDOUT {
                exit::eprint(&format!(
                    "stdout closed (results not written): {}\n",
                    report.summary()
                ));
            }
            return Err(Failure::Interrupted(signal));
        }
        if report.failed() > 0 {
            // With `-o jsonl` the summary, on stderr, said it.
            let n = report.failed();
            let why = format!(
                "{n} action{} failed (see the results)",
                if n == 1 { "" } else { "s" }
            );
            return Err(Failure::Rows(
                code::FAILED,
                (ctx.format != Format::Jsonl).then_some(why),
            ));
        }
        Ok(())
    }
}

/// Why an apply did not run, as the CLI says it.
fn failure_of(e: ApplyError, format: Format) -> Failure {
    match e {
        ApplyError::Api(e) => Failure::Api(e),
        ApplyError::Store(e) => store_failure(e),
        // The results so far are printed: the summary, then why it stopped (exit 5).
        ApplyError::SessionLost { ref report, .. } => {
            if let Err(failed) = print_summary(report, format) {
                return failed;
            }
            Failure::Unreachable(e.to_string())
        }
        // A saved plan that is not an approval of what would be done now: bad input.
        e @ (ApplyError::Stale { .. }
        | ApplyError::OtherAccounts { .. }
        | ApplyError::PlanTime { .. }) => Failure::Usage(format!("--plan: {e}")),
        // A sink that cannot be used: refused before anything was sent.
        e @ ApplyError::Sink(_) => Failure::Usage(e.to_string()),
        e => Failure::Other(e.to_string()),
    }
}

/// The report whole (`json`), then its summary (on stderr for `json` and `jsonl`: stdout stays
/// one JSON document, or one per line).
fn print_summary(report: &ApplyReport, format: Format) -> Result<(), Failure> {
    match format {
        Format::Json => {
            output::print(&(serde_json::to_string_pretty(report).unwrap_or_default() + "\n"))?;
            exit::eprint(&format!("{}\n", report.summary()));
            Ok(())
        }
        Format::Table | Format::Markdown => output::print(&format!("{}\n", report.summary())),
        Format::Jsonl => {
            exit::eprint(&format!("{}\n", report.summary()));
            Ok(())
        }
    }
}
