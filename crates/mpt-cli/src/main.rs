//! `mpt`: the command line for Marketplace API token administrators, on the `mpt` facade.
//!
//! This file parses the command line and hands the command over. [`cli`] is the top of the
//! schema, [`commands`] each command's arguments beside the code that runs it (a file per
//! group), [`values`] the strict value parsers, [`session`] the settings, client and runtime a
//! command runs in, [`config`] where settings come from, [`files`] the files read and written
//! (secret files above all), [`output`] everything printed, [`signals`] interrupts, and
//! [`exit`] exit codes and the redaction of everything written to stderr. Exit codes are
//! listed in `--help` and the README.

mod cli;
mod commands;
mod config;
mod exit;
mod files;
mod output;
mod session;
mod signals;
mod values;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Top};
use crate::exit::{Failure, code};

fn main() -> ExitCode {
    remember_secrets_given();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
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
        Top::Tokens(cmd) => session::run(&cli.global, cmd),
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
