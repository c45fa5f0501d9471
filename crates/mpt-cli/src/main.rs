//! `mpt`: the command line for Marketplace API token administrators, on the `mpt` facade.
//!
//! One room per job: [`cli`] is the schema (with strict value parsers), [`tokens`] the
//! single-token commands, [`bulk`] the bulk commands, [`rotate`] the rotation steps, [`config`]
//! where settings come from, [`files`] the files read and written (secret files above all),
//! [`output`] what is printed, [`signals`] interrupts, and [`exit`] exit codes and the
//! redaction of everything written to stderr. Exit codes are listed in `--help` and the README.

mod bulk;
mod cli;
mod config;
mod exit;
mod files;
mod output;
mod policy_file;
mod rotate;
mod signals;
mod tokens;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use mpt::{Client, NewToken, TokenUpdate};

use crate::bulk::Kind;
use crate::cli::{Cli, Global, TokensCmd, Top};
use crate::exit::{Failure, code};
use crate::signals::Signals;

fn main() -> ExitCode {
    remember_secrets_given();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let format = cli.global.output;
    let result = match cli.command {
        Top::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "mpt", &mut script);
            output::print(&String::from_utf8_lossy(&script))
        }
        Top::Man => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => output::print(&String::from_utf8_lossy(&page)),
                Err(e) => Err(Failure::Other(format!("man page: {e}"))),
            }
        }
        Top::Tokens(cmd) => run(&cli.global, cmd, format),
    };
    exit::finish(result)
}

/// Secrets given on the command line or in the environment: no text on stderr shows them, a
/// usage error included.
fn remember_secrets_given() {
    let args: Vec<String> = std::env::args().collect();
    for (i, arg) in args.iter().enumerate() {
        if let Some(value) = arg.strip_prefix("--api-token=") {
            exit::remember(value);
        } else if arg == "--api-token"
            && let Some(value) = args.get(i + 1)
        {
            exit::remember(value);
        }
    }
    for name in ["MPT_API_TOKEN", "MPT_NEW_API_TOKEN"] {
        if let Ok(value) = std::env::var(name) {
            exit::remember(&value);
        }
    }
}

/// A parse error (or `--help`, `--version`): help and version on stdout, errors redacted on
/// stderr with exit code 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = output::print(&text);
            ExitCode::SUCCESS
        }
        _ => {
            exit::eprint(&text);
            ExitCode::from(code::USAGE)
        }
    }
}

fn run(global: &Global, cmd: TokensCmd, format: output::Format) -> Result<(), Failure> {
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
        global.noop_transitions,
        &profile,
    )?;
    let client = match &settings.token {
        Some(token) => {
            let mut builder = Client::builder()
                .api_token(token.clone())
                .noop_transitions(settings.noop_transitions);
            if let Some(url) = &settings.base_url {
                builder = builder.base_url(url);
            }
            Some(builder.build()?)
        }
        None => None,
    };
    // Read before the runtime: a policy is checked before anything is sent.
    let policy = match &cmd {
        TokensCmd::Plan { policy, .. } | TokensCmd::Apply { policy, .. } => {
            Some(policy_file::read(policy)?)
        }
        _ => None,
    };
    // Read before the runtime: a secret to check comes from stdin or a regular file.
    let whoami = match &cmd {
        TokensCmd::Whoami { secret_file } => Some(tokens::read_secret(
            secret_file.as_deref(),
            "the secret to check",
        )?),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let signals = Signals::install();
        if let Some(secret) = whoami {
            return tokens::whoami(client.as_ref(), settings.base_url.as_deref(), secret, format)
                .await;
        }
        let client = client.ok_or_else(|| {
            Failure::Usage(
                "no API token: set MPT_API_TOKEN, or `secret_command` in a profile of the config file"
                    .into(),
            )
        })?;
        if let (Some(policy), TokensCmd::Plan { .. }) = (&policy, &cmd) {
            return policy_file::plan(&client, policy, &cmd, format).await;
        }
        if let (Some(policy), TokensCmd::Apply { .. }) = (&policy, &cmd) {
            return policy_file::apply(&client, policy, &cmd, format, &signals).await;
        }
        dispatch(&client, cmd, format, &signals).await
    })
}

async fn dispatch(
    client: &Client,
    cmd: TokensCmd,
    format: output::Format,
    signals: &Signals,
) -> Result<(), Failure> {
    match cmd {
        TokensCmd::List {
            filter,
            order,
            select,
            limit,
        } => tokens::list(client, &filter, order, select, limit, format).await,
        TokensCmd::Count { filter } => tokens::count(client, &filter, format).await,
        TokensCmd::Get { id } => tokens::get(client, &id, format).await,
        TokensCmd::Create {
            account,
            name,
            modules,
            description,
            out,
        } => {
            let mut new = NewToken::new(account, name).modules(modules);
            if let Some(d) = description {
                new = new.description(d);
            }
            tokens::create(client, new, &out, format).await
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
            tokens::update(client, &id, update, format).await
        }
        TokensCmd::Delete(args) => bulk::run(client, args, Kind::Delete, format, signals).await,
        TokensCmd::Enable(args) => bulk::run(client, args, Kind::Enable, format, signals).await,
        TokensCmd::Disable(args) => bulk::run(client, args, Kind::Disable, format, signals).await,
        TokensCmd::EnsureActive(args) => {
            bulk::run(client, args, Kind::EnsureActive, format, signals).await
        }
        TokensCmd::EnsureDisabled(args) => {
            bulk::run(client, args, Kind::EnsureDisabled, format, signals).await
        }
        TokensCmd::Whoami { .. } | TokensCmd::Plan { .. } | TokensCmd::Apply { .. } => Ok(()),
        TokensCmd::Rotate(step) => rotate::run(client, step, format, signals).await,
    }
}
