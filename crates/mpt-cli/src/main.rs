//! `mpt`: the command line for Marketplace API token administrators, on the `mpt` facade.
//!
//! Exit codes: 0 ok; 1 some ids failed (or the operation failed); 2 usage or configuration
//! error; 3 not found; 4 authentication refused. Errors go to stderr, with the platform's trace
//! id when it gave one; a secret never does.

mod config;
mod output;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use mpt::prelude::*;
use mpt::{
    Client, Error, Filter, NewToken, Outcome, Quiet, RotationPhase, RotationPlan, SortField,
    TokenSecret, TokenStatus, TokenUpdate,
};
use output::Format;

const EXAMPLES: &str = "\
Examples:
  export MPT_API_TOKEN=...                     # or a profile with secret_command
  mpt tokens list --status Active --stale-since 90d
  mpt tokens create --account ACC-1234-5678 --name 'nightly sync' --module MOD-1756 --secret-file sync.secret
  mpt tokens disable TKN-1111-2222 TKN-3333-4444 --dry-run
  cut -f1 leaked.txt | mpt tokens ensure-disabled - --concurrency 16
  mpt tokens rotate start TKN-1111-2222 --state rotation.json --secret-file new.secret
  mpt tokens rotate verify --state rotation.json --secret-file new.secret
  mpt tokens rotate retire --state rotation.json --quiet 30m
  mpt tokens rotate finish --state rotation.json

Exit codes: 0 ok, 1 some ids failed, 2 usage or configuration error, 3 not found, 4 authentication refused.
Configuration: flags win over MPT_API_TOKEN / MPT_API_BASE_URL, which win over the profile in
~/.config/mpt/config.toml (--profile NAME; keys base_url and secret_command; never a secret).";

/// Administer Marketplace API tokens from a shell.
#[derive(Parser)]
#[command(name = "mpt", version, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Top,
}

#[derive(Args)]
struct Global {
    /// Profile of the config file to use (default: `default`).
    #[arg(long, global = true)]
    profile: Option<String>,
    /// The config file (default: $MPT_CONFIG, else ~/.config/mpt/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The platform's base URL (wins over MPT_API_BASE_URL and the profile).
    #[arg(long, global = true, value_name = "URL")]
    base_url: Option<String>,
    /// The API token (prefer MPT_API_TOKEN or a secret_command: a flag shows in `ps`).
    #[arg(long, global = true, value_name = "SECRET", hide_env_values = true)]
    api_token: Option<String>,
    /// How to print results.
    #[arg(long, short, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Trace each request on stderr (never a secret).
    #[arg(long, short, global = true)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Top {
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

#[derive(Args, Clone)]
struct FilterArgs {
    /// Only tokens in this state (Active, Disabled, Deleted).
    #[arg(long)]
    status: Option<String>,
    /// Only tokens of this account.
    #[arg(long, value_name = "ACC-ID")]
    account: Option<String>,
    /// Only tokens whose name matches (case-insensitive, `*` for any run of characters).
    #[arg(long, value_name = "PATTERN")]
    name_like: Option<String>,
    /// Only Active tokens unused for this long (e.g. 90d, 12h), or never used.
    #[arg(long, value_name = "AGE")]
    stale_since: Option<String>,
}

#[derive(Args)]
struct BulkArgs {
    /// Token ids; `-` reads them from stdin (one per line). Results come in this order, then
    /// those of `--from-file`.
    ids: Vec<String>,
    /// Read ids from this file too (one per line, `#` comments).
    #[arg(long, value_name = "FILE")]
    from_file: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Read the current states and say what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
enum TokensCmd {
    /// List tokens.
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Order by fields, comma-separated, `-` for descending (name, status, lastAccessAt,
        /// created, updated, id).
        #[arg(long, allow_hyphen_values = true)]
        order: Option<String>,
        /// Fields to leave out or add (`-audit`, `+modules`).
        #[arg(long, allow_hyphen_values = true)]
        select: Option<String>,
        /// At most this many tokens.
        #[arg(long)]
        limit: Option<usize>,
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
        /// Write the secret to this file (created with mode 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
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
    /// Rotate a token without downtime, in resumable steps kept in a state file.
    #[command(subcommand)]
    Rotate(RotateCmd),
}

#[derive(Subcommand)]
enum RotateCmd {
    /// Make the replacement (the old token stays Active) and print its secret.
    Start {
        /// The token to replace (not needed to resume a saved plan).
        id: Option<String>,
        /// The rotation's state file (ids, phase, times; never a secret).
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// Write the new secret to this file (mode 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
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
        #[arg(long, value_name = "AGE")]
        quiet: Option<String>,
        /// Give up waiting after this long.
        #[arg(long, value_name = "AGE", default_value = "2h")]
        max_wait: String,
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

/// Why the command failed, with its exit code.
enum Failure {
    /// Usage or configuration: 2.
    Usage(String),
    /// An error of the API or the client.
    Api(Error),
    /// Some ids of a bulk command failed (already printed): 1.
    SomeFailed,
    /// Anything else: 1.
    Other(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Api(e)
    }
}

impl From<config::ConfigError> for Failure {
    fn from(e: config::ConfigError) -> Self {
        Failure::Usage(e.0)
    }
}

fn exit_code(e: &Error) -> u8 {
    match e {
        Error::NotFound(_) => 3,
        Error::Unauthorized(_) | Error::Forbidden(_) => 4,
        Error::Config(_) | Error::InvalidRequest(_) => 2,
        // Operation errors: a rotation step out of order, a plan that does not fit, ...
        _ => 1,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.global.output;
    let result = match cli.command {
        Top::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "mpt", &mut std::io::stdout());
            Ok(())
        }
        Top::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map_err(|e| Failure::Other(e.to_string())),
        Top::Tokens(cmd) => run(&cli.global, cmd, format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::SomeFailed) => ExitCode::from(1),
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Other(message)) => {
            eprintln!("error: {}", mpt::redact(&message));
            ExitCode::from(1)
        }
        Err(Failure::Api(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn run(global: &Global, cmd: TokensCmd, format: Format) -> Result<(), Failure> {
    if global.verbose {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .try_init();
    }
    let path = config::config_path(global.config.as_deref());
    let profile = match &path {
        Some(path) => config::read_profile(path, global.profile.as_deref())?,
        None if global.profile.is_some() => {
            return Err(Failure::Usage(
                "no config file to read the profile from".into(),
            ));
        }
        None => config::Profile::default(),
    };
    let settings = config::resolve(
        global.base_url.as_deref(),
        global.api_token.as_deref(),
        &profile,
    )?;
    let mut builder = Client::builder().api_token(settings.token);
    if let Some(url) = settings.base_url {
        builder = builder.base_url(url);
    }
    let client = builder.build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(e.to_string()))?;
    runtime.block_on(tokens(&client, cmd, format))
}

fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::Other(format!("stdout: {e}")))
}

fn filter_of(args: &FilterArgs) -> Result<Filter, Failure> {
    let mut parts = Vec::new();
    if let Some(status) = &args.status {
        let Ok(status) = status.parse::<TokenStatus>();
        parts.push(Filter::status(status));
    }
    if let Some(account) = &args.account {
        parts.push(Filter::account(account));
    }
    if let Some(pattern) = &args.name_like {
        parts.push(Filter::name_like(pattern));
    }
    if let Some(age) = &args.stale_since {
        let age = output::parse_duration(age)
            .map_err(|e| Failure::Usage(format!("--stale-since {e}")))?;
        let since = chrono::Utc::now()
            - chrono::Duration::from_std(age).map_err(|e| Failure::Usage(e.to_string()))?;
        parts.push(
            Filter::status(TokenStatus::Active)
                .and(Filter::last_access_before(since).or(Filter::never_used())),
        );
    }
    Ok(Filter::all(parts))
}

fn sort_field(name: &str) -> Result<SortField, Failure> {
    Ok(match name {
        "name" => SortField::Name,
        "status" => SortField::Status,
        "lastAccessAt" | "last-access" => SortField::LastAccessAt,
        "created" | "audit.created.at" => SortField::Created,
        "updated" | "audit.updated.at" => SortField::Updated,
        "id" => SortField::Id,
        other => {
            return Err(Failure::Usage(format!(
                "--order: unknown field {other:?} (name, status, lastAccessAt, created, updated, id)"
            )));
        }
    })
}

/// Writes a file only its owner can read, all or nothing.
fn write_private(path: &Path, contents: &str) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::Other(format!("{}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("mpt")
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Prints a new secret on stdout, or writes it to `file` (mode 0600).
fn hand_over_secret(
    token: &mpt::Token,
    secret: &TokenSecret,
    file: Option<&Path>,
    format: Format,
) -> Result<(), Failure> {
    match file {
        Some(file) => {
            write_private(file, &format!("{}\n", secret.expose_secret()))?;
            let shown = serde_json::Value::String(file.display().to_string());
            print(&output::token(token, format, &[("secretFile", shown)]))
        }
        None => {
            let secret = serde_json::Value::String(secret.expose_secret().to_string());
            print(&output::token(token, format, &[("secret", secret)]))
        }
    }
}

async fn tokens(client: &Client, cmd: TokensCmd, format: Format) -> Result<(), Failure> {
    match cmd {
        TokensCmd::List {
            filter,
            order,
            select,
            limit,
        } => {
            // The platform leaves `audit` (creation and change times) out unless asked for.
            let mut request = client.list().filter(filter_of(&filter)?).select(["+audit"]);
            for field in order.iter().flat_map(|o| o.split(',')).map(str::trim) {
                request = match field.strip_prefix('-') {
                    Some(name) => request.order_by_desc(sort_field(name)?),
                    None => request.order_by(sort_field(field.trim_start_matches('+'))?),
                };
            }
            if let Some(select) = select {
                request = request.select(select.split(',').map(str::trim));
            }
            if let Some(limit) = limit {
                request = request.page_size(limit.clamp(1, 100) as u32);
            }
            let stream = request.stream().take(limit.unwrap_or(usize::MAX));
            let list: Vec<mpt::Token> = stream.try_collect().await?;
            print(&output::tokens(&list, format))
        }
        TokensCmd::Count { filter } => {
            let n = client.list().filter(filter_of(&filter)?).count().await?;
            match format {
                Format::Table => print(&format!("{n}\n")),
                _ => print(&format!("{}\n", serde_json::json!({ "count": n }))),
            }
        }
        TokensCmd::Get { id } => {
            let token = client.get_with_select(id.as_str(), ["+audit"]).await?;
            print(&output::token(&token, format, &[]))
        }
        TokensCmd::Create {
            account,
            name,
            modules,
            description,
            secret_file,
        } => {
            let mut new = NewToken::new(account, name).modules(modules);
            if let Some(d) = description {
                new = new.description(d);
            }
            let created = client.create(&new).await?;
            hand_over_secret(
                &created.token,
                &created.secret,
                secret_file.as_deref(),
                format,
            )
        }
        TokensCmd::Update {
            id,
            name,
            description,
            clear_description,
            modules,
        } => {
            let mut update = TokenUpdate::new();
            if let Some(name) = name {
                update = update.name(name);
            }
            if let Some(d) = description {
                update = update.description(d);
            }
            if clear_description {
                update = update.clear_description();
            }
            if !modules.is_empty() {
                update = update.modules(modules);
            }
            print(&output::token(
                &client.update(id.as_str(), &update).await?,
                format,
                &[],
            ))
        }
        TokensCmd::Delete(args) => bulk(client, args, Kind::Delete, format).await,
        TokensCmd::Enable(args) => bulk(client, args, Kind::Enable, format).await,
        TokensCmd::Disable(args) => bulk(client, args, Kind::Disable, format).await,
        TokensCmd::EnsureActive(args) => bulk(client, args, Kind::EnsureActive, format).await,
        TokensCmd::EnsureDisabled(args) => bulk(client, args, Kind::EnsureDisabled, format).await,
        TokensCmd::Rotate(step) => rotate(client, step, format).await,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Delete,
    Enable,
    Disable,
    EnsureActive,
    EnsureDisabled,
}

impl Kind {
    fn target(self) -> TokenStatus {
        match self {
            Kind::Delete => TokenStatus::Deleted,
            Kind::Enable | Kind::EnsureActive => TokenStatus::Active,
            Kind::Disable | Kind::EnsureDisabled => TokenStatus::Disabled,
        }
    }

    /// An id already in the target state fails (`enable`, `disable`) or is fine.
    fn strict(self) -> bool {
        matches!(self, Kind::Enable | Kind::Disable)
    }
}

/// The ids of a bulk command: arguments, `-` for stdin, and `--from-file`.
fn bulk_ids(args: &BulkArgs) -> Result<Vec<String>, Failure> {
    let mut ids = Vec::new();
    let mut lines = |text: &str| {
        for line in text.lines() {
            let id = line.split('#').next().unwrap_or("").trim();
            if !id.is_empty() {
                ids.push(id.to_string());
            }
        }
    };
    for arg in &args.ids {
        if arg == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure::Usage(format!("stdin: {e}")))?;
            lines(&text);
        } else {
            lines(arg);
        }
    }
    if let Some(file) = &args.from_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
        lines(&text);
    }
    if ids.is_empty() {
        return Err(Failure::Usage(
            "no token ids: give them as arguments, `-` for stdin, or --from-file".into(),
        ));
    }
    Ok(ids)
}

async fn bulk(client: &Client, args: BulkArgs, kind: Kind, format: Format) -> Result<(), Failure> {
    let ids = bulk_ids(&args)?;
    let rows = if args.dry_run {
        dry_run(client, &ids, kind).await
    } else {
        apply(client, &ids, kind, args.concurrency).await
    };
    print(&output::results(&rows, format))?;
    if rows.iter().any(|(_, r)| r.is_err()) {
        Err(Failure::SomeFailed)
    } else {
        Ok(())
    }
}

/// What each id would go through, from its current state; nothing is changed.
async fn dry_run(
    client: &Client,
    ids: &[String],
    kind: Kind,
) -> Vec<(String, Result<String, String>)> {
    let mut rows = Vec::new();
    for id in ids {
        let row = match client.get(id.as_str()).await {
            Ok(t) if t.status() == kind.target() && kind.strict() => {
                Err(format!("already {}", t.status()))
            }
            Ok(t) if t.status() == kind.target() => {
                Ok(format!("unchanged: already {}", t.status()))
            }
            Ok(t) if t.status().available_actions().is_empty() => {
                Err(format!("cannot: it is {}", t.status()))
            }
            Ok(t) => Ok(format!("would go from {} to {}", t.status(), kind.target())),
            Err(Error::NotFound(_)) if kind == Kind::Delete => Ok("unchanged: already gone".into()),
            Err(e) => Err(e.to_string()),
        };
        rows.push((id.clone(), row));
    }
    rows
}

/// Runs the bulk call in chunks, so a progress bar can move while stderr is a terminal.
async fn apply(
    client: &Client,
    ids: &[String],
    kind: Kind,
    concurrency: usize,
) -> Vec<(String, Result<String, String>)> {
    let bar = (std::io::stderr().is_terminal() && ids.len() > 1).then(|| {
        let bar = indicatif::ProgressBar::new(ids.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(concurrency.max(1) * 4) {
        let ids = chunk.iter().map(String::as_str);
        let done: Vec<(String, Result<String, String>)> = match kind {
            Kind::Delete => client
                .delete_many(ids, concurrency)
                .await
                .results
                .into_iter()
                .map(|(id, r)| {
                    let r = r.map(|deleted| {
                        if deleted {
                            "deleted"
                        } else {
                            "unchanged: already gone"
                        }
                        .to_string()
                    });
                    (id, r.map_err(|e| e.to_string()))
                })
                .collect(),
            Kind::Enable | Kind::EnsureActive | Kind::Disable | Kind::EnsureDisabled => {
                let report = if kind.target() == TokenStatus::Active {
                    client.ensure_active_many(ids, concurrency).await
                } else {
                    client.ensure_disabled_many(ids, concurrency).await
                };
                report
                    .results
                    .into_iter()
                    .map(|(id, r)| {
                        let row = match r {
                            Ok(Outcome::Unchanged(t)) if kind.strict() => {
                                Err(format!("already {}", t.status()))
                            }
                            Ok(Outcome::Changed(t)) => Ok(format!("changed: now {}", t.status())),
                            Ok(Outcome::Unchanged(t)) => {
                                Ok(format!("unchanged: already {}", t.status()))
                            }
                            Ok(Outcome::Unconfirmed(t)) => Ok(format!(
                                "now {} (this call may not be the one that changed it)",
                                t.status()
                            )),
                            Err(e) => Err(e.to_string()),
                        };
                        (id, row)
                    })
                    .collect()
            }
        };
        if let Some(bar) = &bar {
            bar.inc(done.len() as u64);
        }
        rows.extend(done);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    rows
}

fn read_plan(path: &Path) -> Result<RotationPlan, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::Usage(format!(
            "{}: not a rotation state file: {e}",
            path.display()
        ))
    })
}

fn save_plan(path: &Path, plan: &RotationPlan) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(plan).map_err(|e| Failure::Other(e.to_string()))?;
    write_private(path, &format!("{text}\n"))
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

fn new_secret(file: Option<&Path>) -> Result<TokenSecret, Failure> {
    let text = match file {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?,
        None => std::env::var("MPT_NEW_API_TOKEN").map_err(|_| {
            Failure::Usage("the new secret: give --secret-file, or set MPT_NEW_API_TOKEN".into())
        })?,
    };
    let secret = text.trim();
    if secret.is_empty() {
        return Err(Failure::Usage("the new secret is empty".into()));
    }
    Ok(TokenSecret::new(secret))
}

async fn rotate(client: &Client, step: RotateCmd, format: Format) -> Result<(), Failure> {
    match step {
        RotateCmd::Start {
            id,
            state,
            secret_file,
        } => {
            let mut plan = match (state.exists(), id) {
                (true, _) => read_plan(&state)?,
                (false, Some(id)) => {
                    let plan = client.plan_rotation(id.as_str()).await?;
                    // Saved before anything is made: a crash from here on resumes.
                    save_plan(&state, &plan)?;
                    plan
                }
                (false, None) => {
                    return Err(Failure::Usage(
                        "rotate start needs the token id, or an existing --state file".into(),
                    ));
                }
            };
            // `start_saving` saves the plan (with the ids that already had this name) before it
            // sends the create: a crash after the create resumes without a second replacement.
            let started = plan
                .start_saving(client, |p| {
                    save_plan(&state, p).map_err(|f| match f {
                        Failure::Usage(m) | Failure::Other(m) => m,
                        Failure::Api(e) => e.to_string(),
                        Failure::SomeFailed => "cannot save".into(),
                    })
                })
                .await;
            match started? {
                Some(made) => {
                    save_plan(&state, &plan)?;
                    hand_over_secret(&made.token, &made.secret, secret_file.as_deref(), format)
                }
                None => {
                    eprintln!(
                        "the rotation of {} was started already (phase {:?}); its secret was handed over then",
                        plan.old_id, plan.phase
                    );
                    print(&plan_output(&plan, format))
                }
            }
        }
        RotateCmd::Verify { state, secret_file } => {
            let mut plan = read_plan(&state)?;
            plan.verify(client, &new_secret(secret_file.as_deref())?)
                .await?;
            save_plan(&state, &plan)?;
            print(&plan_output(&plan, format))
        }
        RotateCmd::Retire {
            state,
            quiet,
            max_wait,
        } => {
            let mut plan = read_plan(&state)?;
            let quiet = match quiet {
                Some(period) => {
                    let period = output::parse_duration(&period)
                        .map_err(|e| Failure::Usage(format!("--quiet {e}")))?;
                    let max_wait = output::parse_duration(&max_wait)
                        .map_err(|e| Failure::Usage(format!("--max-wait {e}")))?;
                    Some(Quiet {
                        period,
                        poll: (period / 10)
                            .clamp(Duration::from_millis(10), Duration::from_secs(60)),
                        max_wait,
                    })
                }
                None => None,
            };
            plan.retire(client, quiet).await?;
            save_plan(&state, &plan)?;
            print(&plan_output(&plan, format))
        }
        RotateCmd::Finish { state } => {
            let mut plan = read_plan(&state)?;
            plan.finish(client).await?;
            save_plan(&state, &plan)?;
            print(&plan_output(&plan, format))
        }
        RotateCmd::Status { state } => {
            let plan = read_plan(&state)?;
            if plan.phase == RotationPhase::Finished {
                eprintln!("the rotation is finished");
            }
            print(&plan_output(&plan, format))
        }
    }
}
