//! The command-line schema (clap), with value parsers that refuse what the platform would not
//! take: statuses, sort fields, ages and counts are checked before anything is sent.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mpt::{SortField, TokenStatus};

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
  mpt tokens apply --policy tokens.toml --plan plan.json --state-dir /var/lib/mpt

Exit codes:
  0    done
  1    the operation failed, or some ids of a bulk command (or actions of an apply) failed
  2    usage or configuration error (nothing was sent)
  3    not found
  4    authentication refused (401) or not allowed (403)
  5    the platform is unreachable or timing out
  6    `tokens plan --exit-code`: the accounts differ from the policy (changes pending)
  130  interrupted by SIGINT, 143 by SIGTERM (bulk commands and apply finish the requests in
       flight and print every finished row first; a second signal stops at once)

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
}

/// `refused` or `accepted` (any case).
pub fn parse_noop(text: &str) -> Result<mpt::NoopTransitions, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "refused" => Ok(mpt::NoopTransitions::Refused),
        "accepted" => Ok(mpt::NoopTransitions::Accepted),
        _ => Err(format!("{text:?}: expected `refused` or `accepted`")),
    }
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

/// Which tokens a list or count is about.
#[derive(Args, Clone)]
pub struct FilterArgs {
    /// Only tokens in this state: active, disabled or deleted (any case).
    #[arg(long, value_parser = parse_status)]
    pub status: Option<TokenStatus>,
    /// Only tokens of this account.
    #[arg(long, value_name = "ACC-ID")]
    pub account: Option<String>,
    /// Only tokens with exactly this name (any name the platform accepts, quotes included).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Only tokens whose name matches (case-insensitive, `*` for any run of characters).
    #[arg(long, value_name = "PATTERN")]
    pub name_like: Option<String>,
    /// Only Active tokens unused for this long (e.g. 90d, 12h; at most 36500d), or never used.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub stale_since: Option<Duration>,
}

/// The ids of a bulk command and how to work through them.
#[derive(Args)]
pub struct BulkArgs {
    /// Token ids; `-` reads them from stdin (one per line). Results come in this order, then
    /// those of `--from-file`.
    pub ids: Vec<String>,
    /// Read ids from this file too (one per line, `#` comments).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Requests in flight at once (1 to 256).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Read the current states and say what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Where a new secret goes.
#[derive(Args)]
pub struct SecretOut {
    /// Write the secret to this new file (mode 0600) instead of stdout. An existing file is
    /// refused unless --force; the path is checked before anything is made.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Replace an existing --secret-file.
    #[arg(long, requires = "secret_file")]
    pub force: bool,
}

/// `mpt tokens ...`.
#[derive(Subcommand)]
pub enum TokensCmd {
    /// List tokens.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Order by fields, comma-separated, `-` for descending: name, status, lastAccessAt,
        /// created, updated, id.
        #[arg(long, allow_hyphen_values = true, value_parser = parse_order)]
        order: Option<Order>,
        /// Fields to leave out or add (`-audit`, `+modules`).
        #[arg(long, allow_hyphen_values = true)]
        select: Option<String>,
        /// At most this many tokens (1 to 1000000).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        limit: Option<u32>,
    },
    /// Count tokens.
    Count {
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Show one token.
    Get {
        /// The token id.
        id: String,
    },
    /// Create a token and print its secret (the only time it is shown).
    Create {
        /// The account it belongs to.
        #[arg(long, value_name = "ACC-ID")]
        account: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// A module it may use (repeat for more).
        #[arg(long = "module", value_name = "MOD-ID", required = true)]
        modules: Vec<String>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        out: SecretOut,
    },
    /// Change a token's name, description or modules.
    Update {
        /// The token id.
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new description.
        #[arg(long, conflicts_with = "clear_description")]
        description: Option<String>,
        /// Remove the description.
        #[arg(long)]
        clear_description: bool,
        /// Replace the modules (repeat for more).
        #[arg(long = "module", value_name = "MOD-ID")]
        modules: Vec<String>,
    },
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
    Whoami {
        /// The file holding the secret (else it is read from stdin).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
    },
    /// Rotate a token without downtime, in resumable steps kept in a state file.
    #[command(subcommand)]
    Rotate(RotateCmd),
    /// Show what would bring the accounts of a policy file to it, changing nothing.
    ///
    /// Reads each account once (no secrets) and prints every action with its reason: create,
    /// update (with the fields), enable, disable (declared, idle, or undeclared), delete, rotate,
    /// unmanaged, ambiguous (several live tokens of one declared name), unresolved (a pinned id
    /// that is not there). The policy format is in the README.
    Plan {
        /// The policy file (TOML).
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Also save the plan as JSON to this file (written atomically).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 6 when anything differs from the policy (for a nightly drift check).
        #[arg(long)]
        exit_code: bool,
        /// The apply's state directory, read (never written) to explain modules the platform
        /// refused before [default: .mpt-state beside the policy file].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Bring the accounts to a policy: one result line per action, then a summary; exit 1 when
    /// any action failed. Work an interrupted apply left in the state directory is finished
    /// first.
    Apply {
        /// The policy file (TOML): the declared state, and where new secrets go.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Carry out this saved plan (`tokens plan --out`), refused when the accounts moved
        /// since it was made; without it, a plan made now.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Where rotations and creates keep their state between steps, and secrets a sink
        /// could not take (0600) [default: .mpt-state beside the policy file].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Carry out deletes and the disabling of undeclared tokens (shown and skipped
        /// otherwise).
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
    },
}

/// `mpt tokens rotate ...`.
#[derive(Subcommand)]
pub enum RotateCmd {
    /// Make the replacement (the old token stays Active) and hand its secret over.
    Start {
        /// The token to replace (not needed to resume a saved plan).
        id: Option<String>,
        /// The rotation's state file (ids, phase, times; never a secret).
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        #[command(flatten)]
        out: SecretOut,
    },
    /// Check that the new secret authenticates (read from --secret-file, or MPT_NEW_API_TOKEN).
    Verify {
        /// The rotation's state file.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// The file holding the new secret.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
    },
    /// Disable the old token, once the new secret is in use.
    Retire {
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
    },
    /// Delete the old token.
    Finish {
        /// The rotation's state file.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
    },
    /// Show where the rotation is.
    Status {
        /// The rotation's state file.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
    },
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON document.
    Json,
    /// One JSON document per line.
    Jsonl,
}

/// `--order`: sort fields, each ascending (`false`) or descending (`true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order(pub Vec<(SortField, bool)>);

/// The statuses `--status` takes.
const STATUSES: [TokenStatus; 3] = [
    TokenStatus::Active,
    TokenStatus::Disabled,
    TokenStatus::Deleted,
];

/// `active`, `Disabled`, ... (any case); anything else is refused with the list.
pub fn parse_status(text: &str) -> Result<TokenStatus, String> {
    STATUSES
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| {
            format!("unknown status {text:?}: one of active, disabled, deleted (any case)")
        })
}

/// The names `--order` takes.
const SORT_FIELDS: [(&str, SortField); 8] = [
    ("name", SortField::Name),
    ("status", SortField::Status),
    ("lastAccessAt", SortField::LastAccessAt),
    ("last-access", SortField::LastAccessAt),
    ("created", SortField::Created),
    ("updated", SortField::Updated),
    ("id", SortField::Id),
    ("audit.created.at", SortField::Created),
];

/// `-name,created`: fields, `-` for descending (`+` for ascending is accepted too).
pub fn parse_order(text: &str) -> Result<Order, String> {
    let mut keys = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (descending, name) = match item.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, item.trim_start_matches('+')),
        };
        let field = SORT_FIELDS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                format!(
                    "unknown sort field {name:?}: one of name, status, lastAccessAt, created, updated, id"
                )
            })?;
        keys.push((field, descending));
    }
    if keys.is_empty() {
        return Err("no sort field: e.g. -name,created".into());
    }
    Ok(Order(keys))
}

pub use mpt::parse_age;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_before_anything_is_sent() {
        assert_eq!(parse_status("active"), Ok(TokenStatus::Active));
        assert_eq!(parse_status("DISABLED"), Ok(TokenStatus::Disabled));
        assert!(parse_status("Bogus").unwrap_err().contains("one of active"));
        assert_eq!(
            parse_order("-name,created").unwrap(),
            Order(vec![(SortField::Name, true), (SortField::Created, false)])
        );
        assert!(parse_order("nosuchfield").is_err());
        assert_eq!(parse_age("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(parse_age("1000000000d").unwrap_err().contains("at most"));
        assert!(parse_age("99999999999999999999d").is_err());
        assert!(parse_age("5").is_err() && parse_age("5y").is_err());
    }
}
