//! The command line's top: `mpt`, its global options and its commands. Each command's own
//! arguments are a clap `Args` struct beside the code that runs it (`commands/`); the value
//! parsers are in `values`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{
    ApplyArgs, BulkArgs, CountArgs, CreateArgs, Ctx, GetArgs, Kind, ListArgs, PlanArgs, RotateCmd,
    RunCommand, UpdateArgs, WhoamiArgs,
};
use crate::exit::Failure;
use crate::output::Format;
use crate::values::{parse_noop, parse_pacing, parse_retry_cap, parse_timeout, parse_wait};

/// `--help`'s closing text: examples, exit codes and where settings come from.
pub const AFTER_HELP: &str = "\
Examples:
  export MPT_API_TOKEN=...                     # or a profile with secret_command
  mpt tokens list --status active --stale-since 90d
  mpt tokens create --account ACC-1234-5678 --name 'nightly sync' --module MOD-1756 --secret-file sync.secret
  mpt tokens disable TKN-1111-2222 TKN-3333-4444 --dry-run
  cut -f1 leaked.txt | mpt tokens ensure-disabled - --concurrency 16
  mpt tokens whoami --secret-file found-in-config.txt
  mpt tokens rotate start TKN-1111-2222 --state rotation.json --secret-file new.secret
  mpt tokens rotate verify --state rotation.json --secret-file new.secret
  mpt tokens rotate retire --state rotation.json --quiet 30m
  mpt tokens rotate finish --state rotation.json
  mpt tokens plan --policy tokens.toml --exit-code --out plan.json
  mpt tokens apply --policy tokens.toml --plan plan.json --state postgres://ci@db:5432/mpt

Exit codes:
  0    done
  1    the operation failed, or some ids of a bulk command (or actions of an apply) failed
  2    usage or configuration error (nothing was sent)
  3    not found
  4    authentication refused (401) or not allowed (403)
  5    the platform is unreachable or timing out (a bulk command stops once its last requests
       all timed out: the ids not sent yet are `not-attempted`)
  6    `tokens plan --exit-code`: the accounts differ from the policy (changes pending)
  7    rate limited: the platform asks to wait longer than allowed (--max-retry-after a wait,
       30 s by default; --max-wait in all), or the pace's interval is over that cap: ids sent
       for ended `rate-limited`, the others were not attempted (`not-attempted`)
  130  interrupted by SIGINT, 143 by SIGTERM (bulk commands and apply finish the requests in
       flight and print every finished row first; a second signal stops at once)
  141  stdout closed under a bulk command or apply (`| head -1`): it stopped beginning changes
       as on a first SIGINT (those not begun are `not-attempted`), finished those in flight

Every exit other than 0 says why on stderr (a bulk command: how many ids failed, of which
kinds, and the first reason), whatever the output format.

Configuration: flags win over MPT_API_TOKEN / MPT_API_BASE_URL / MPT_NOOP_TRANSITIONS, which
win over the profile in ~/.config/mpt/config.toml (--profile NAME; keys base_url,
secret_command, secret_command_timeout and noop_transitions; never a secret).";

/// Administer Marketplace API tokens from a shell.
#[derive(Parser)]
#[command(name = "mpt", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Top,
}

/// Options of every command.
#[derive(Args)]
pub struct Global {
    /// Profile of the config file to use (default: `default`).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The config file (default: $MPT_CONFIG, else ~/.config/mpt/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The platform's base URL (wins over MPT_API_BASE_URL and the profile).
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,
    /// The API token (prefer MPT_API_TOKEN or a secret_command: a flag shows in `ps`).
    #[arg(long, global = true, value_name = "SECRET", hide_env_values = true)]
    pub api_token: Option<String>,
    /// How to print results.
    #[arg(long, short, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Trace each request on stderr (never a secret).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// How the platform answers an enable of an Active token or a disable of a Disabled one:
    /// `refused` (400, the platform's documented behaviour; a 200 then proves a change) or
    /// `accepted` (200, as some gateways do: a 200 then proves nothing, and the change is
    /// reported `unconfirmed`). Wins over MPT_NOOP_TRANSITIONS and the profile's
    /// `noop_transitions` [default: refused]
    #[arg(long, global = true, value_name = "HOW", value_parser = parse_noop)]
    pub noop_transitions: Option<mpt::NoopTransitions>,
    /// The pace of requests: at most N a second (from one request every 30 s, 0.0333…, to
    /// 1000000, whatever --max-retry-after is), `adaptive` (learned from the platform's RateLimit-* headers and 429s, shared
    /// by every request of the run) or `off` [default: adaptive]
    #[arg(long, global = true, value_name = "N|adaptive|off", value_parser = parse_pacing)]
    pub max_rate: Option<mpt::Pacing>,
    /// The most one request waits in all for what the platform's throttling asks (a
    /// Retry-After, a spent quota's reset; each single wait is also at most --max-retry-after), and the most
    /// wall time a bulk command spends held by throttled answers (each one's wait counted from
    /// the answer to its end, overlapping waits once: requests refused together cost one wait;
    /// a run of refusals with none served between them counts whole, the pace within it too,
    /// as it passes). Else the pace is not a wait and is never counted: a request queued behind others at the pace (--max-rate, or the one
    /// read from the platform's limits or learned from its refusals) waits its turn, each send
    /// at most --max-retry-after after the one before. A request that would wait longer is not sent
    /// (`not-attempted`: a bulk command reports every id it sent nothing for so) or ends with
    /// the platform's last answer (`rate-limited`); either exits 7. `0` waits for no throttling
    /// at all: a bulk command ends at the first throttled answer that asks for a wait, or at a
    /// second refusal in a row (the pace still applies). At most 1d [default: 2m]
    #[arg(long, global = true, value_name = "AGE", value_parser = parse_wait)]
    pub max_wait: Option<std::time::Duration>,
    /// The longest single wait: a Retry-After, a spent quota's reset or a pace's interval
    /// longer than this is not waited (the request is not sent, or ends `rate-limited`: exit
    /// 7). Raise it for a quota per minute (a limiter of 300 requests per 60 s window asks for
    /// waits up to 60 s: `--max-retry-after 1m`); the waits are still bounded by --max-wait.
    /// From 1s to 1d. --max-rate's slowest rate stays one request every 30 s [default: 30s]
    #[arg(long, global = true, value_name = "AGE", value_parser = parse_retry_cap)]
    pub max_retry_after: Option<std::time::Duration>,
    /// The time allowed for each attempt of a request, its answer included (connecting: 10 s
    /// at most). A bulk command whose last requests all timed out, none answered between
    /// them (as many as --concurrency, 3 at least), sends nothing more: each id not sent yet is
    /// `not-attempted`, exit 5. From 1s to 1h [default: 30s]
    #[arg(long, global = true, value_name = "AGE", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
}

/// The top-level commands.
#[derive(Subcommand)]
pub enum Top {
    /// List, create, change, rotate and switch off API tokens.
    #[command(subcommand)]
    Tokens(TokensCmd),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// `mpt tokens ...`: each command's arguments, run by `commands`.
#[derive(Subcommand)]
pub enum TokensCmd {
    /// List tokens.
    List(ListArgs),
    /// Count tokens.
    Count(CountArgs),
    /// Show one token.
    Get(GetArgs),
    /// Create a token and print its secret (the only time it is shown).
    Create(CreateArgs),
    /// Change a token's name, description or modules.
    Update(UpdateArgs),
    /// Delete tokens (already gone is fine).
    Delete(BulkArgs),
    /// Enable Disabled tokens (one already Active fails).
    Enable(BulkArgs),
    /// Disable Active tokens (one already Disabled fails).
    Disable(BulkArgs),
    /// Make sure tokens are Active.
    EnsureActive(BulkArgs),
    /// Make sure tokens are Disabled.
    EnsureDisabled(BulkArgs),
    /// Which token a secret belongs to, and whether it authenticates now.
    ///
    /// Also its status and last access, read first with the configured API token when there is
    /// one (the check itself is an access). The secret comes from --secret-file, else stdin.
    Whoami(WhoamiArgs),
    /// Rotate a token without downtime, in resumable steps kept in a state file.
    #[command(subcommand)]
    Rotate(RotateCmd),
    /// Show what would bring the accounts of a policy file to it, changing nothing.
    ///
    /// Reads each account once (no secrets) and prints every action with its reason: create,
    /// update (with the fields), enable, disable (declared, idle, or undeclared), delete, rotate,
    /// unmanaged, ambiguous (several live tokens of one declared name), unresolved (a pinned id
    /// that is not there). The policy format is in the README.
    Plan(PlanArgs),
    /// Bring the accounts to a policy: one result line per action, then a summary; exit 1 when
    /// any action failed. Work an interrupted apply left in the state directory is finished
    /// first.
    Apply(ApplyArgs),
}

impl RunCommand for TokensCmd {
    async fn run(self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        match self {
            TokensCmd::List(args) => args.run(ctx).await,
            TokensCmd::Count(args) => args.run(ctx).await,
            TokensCmd::Get(args) => args.run(ctx).await,
            TokensCmd::Create(args) => args.run(ctx).await,
            TokensCmd::Update(args) => args.run(ctx).await,
            TokensCmd::Delete(args) => crate::commands::bulk::run(args, Kind::Delete, ctx).await,
            TokensCmd::Enable(args) => crate::commands::bulk::run(args, Kind::Enable, ctx).await,
            TokensCmd::Disable(args) => crate::commands::bulk::run(args, Kind::Disable, ctx).await,
            TokensCmd::EnsureActive(args) => {
                crate::commands::bulk::run(args, Kind::EnsureActive, ctx).await
            }
            TokensCmd::EnsureDisabled(args) => {
                crate::commands::bulk::run(args, Kind::EnsureDisabled, ctx).await
            }
            TokensCmd::Whoami(args) => args.run(ctx).await,
            TokensCmd::Rotate(step) => step.run(ctx).await,
            TokensCmd::Plan(args) => args.run(ctx).await,
            TokensCmd::Apply(args) => args.run(ctx).await,
        }
    }
}

/// What a parse error of a value that is not UTF-8 says: the flag it is the value of (or its
/// position), never the value, which may be a secret (`--api-token`). A path flag's value
/// (`--policy`) may be any bytes: the first other value that is not UTF-8 is the one at fault.
pub fn not_utf8(cmd: &clap::Command, args: &[std::ffi::OsString]) -> String {
    let at_fault = (1..args.len())
        .filter(|&at| args[at].to_str().is_none())
        .map(|at| (at, flag_of(cmd, args, at)))
        .find(|(_, flag)| {
            !flag
                .as_deref()
                .is_some_and(|flag| takes_path(cmd, args, flag))
        });
    let Some((at, flag)) = at_fault else {
        // Not an argument: an environment variable clap reads (`MPT_STATE`).
        return "MPT_STATE is not valid UTF-8 (its text is not shown): give it as UTF-8 text"
            .into();
    };
    let what = match flag {
        Some(flag) => format!("the value of {flag}"),
        None => format!("argument {at}"),
    };
    format!("{what} is not valid UTF-8 (its text is not shown): give it as UTF-8 text")
}

/// The flag `args[at]` is the value of (`--flag=value`, or after `--flag`), if any.
fn flag_of(cmd: &clap::Command, args: &[std::ffi::OsString], at: usize) -> Option<String> {
    let shown = args[at].to_string_lossy();
    match shown.split_once('=') {
        Some((flag, _)) if flag.starts_with("--") && !flag.contains('\u{fffd}') => {
            Some(flag.to_string())
        }
        _ => args[at - 1]
            .to_str()
            .filter(|prev| takes_value(cmd, prev))
            .map(String::from),
    }
}

/// Whether `flag` takes a path (any bytes) in the command `args` run: `cmd` or one of the
/// subcommands `args` name (`--state` takes a path in `rotate`, not in `plan`).
fn takes_path(cmd: &clap::Command, args: &[std::ffi::OsString], flag: &str) -> bool {
    let path = std::any::TypeId::of::<std::path::PathBuf>();
    let named = |arg: &clap::Arg| {
        arg.get_value_parser().type_id() == path
            && (arg
                .get_long()
                .is_some_and(|long| flag.strip_prefix("--") == Some(long))
                || arg
                    .get_short()
                    .is_some_and(|short| flag == format!("-{short}")))
    };
    let mut cur = cmd;
    let mut found = cur.get_arguments().any(named);
    for arg in args.iter().skip(1).filter_map(|a| a.to_str()) {
        if let Some(sub) = cur.find_subcommand(arg) {
            cur = sub;
            found |= cur.get_arguments().any(named);
        }
    }
    found
}

/// Whether `flag` (`--name` or `-n`) is an option that takes a value, in `cmd` or any of its
/// subcommands.
fn takes_value(cmd: &clap::Command, flag: &str) -> bool {
    let long = flag.strip_prefix("--");
    let short = flag
        .strip_prefix('-')
        .filter(|s| s.chars().count() == 1)
        .and_then(|s| s.chars().next());
    let named = |arg: &clap::Arg| match (long, short) {
        (Some(long), _) => {
            arg.get_long() == Some(long)
                || arg
                    .get_all_aliases()
                    .is_some_and(|aliases| aliases.contains(&long))
        }
        (None, Some(short)) => arg.get_short() == Some(short),
        (None, None) => false,
    };
    cmd.get_arguments()
        .any(|arg| named(arg) && arg.get_action().takes_values())
        || cmd.get_subcommands().any(|sub| takes_value(sub, flag))
}
