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

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Top};
use crate::exit::{Failure, code};

fn main() -> ExitCode {
    // As the OS gave them: a value that is not UTF-8 is clap's to refuse (never a panic).
    let args: Vec<OsString> = std::env::args_os().collect();
    remember_secrets_given(&args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, &args),
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
/// usage error included. One that is not UTF-8 is remembered as it would be shown (lossily), and
/// so is each of its valid runs.
fn remember_secrets_given(args: &[OsString]) {
    for (i, arg) in args.iter().enumerate() {
        let arg = arg.to_string_lossy();
        if let Some(value) = arg.strip_prefix("--api-token=") {
            remember_lossy(value);
        } else if arg == "--api-token"
            && let Some(value) = args.get(i + 1)
        {
            remember_lossy(&value.to_string_lossy());
        }
    }
    for name in ["MPT_API_TOKEN", "MPT_NEW_API_TOKEN"] {
        if let Some(value) = std::env::var_os(name) {
            remember_lossy(&value.to_string_lossy());
        }
    }
}

/// Remembers a secret as shown, and each part of it between characters that were not UTF-8.
fn remember_lossy(shown: &str) {
    exit::remember(shown);
    if shown.contains(char::REPLACEMENT_CHARACTER) {
        shown
            .split(char::REPLACEMENT_CHARACTER)
            .for_each(exit::remember);
    }
}

/// A parse error (or `--help`, `--version`): help and version on stdout, errors redacted on
/// stderr with exit code 2. A value that is not UTF-8 is named by its flag (or position), never
/// shown.
fn usage_error(e: clap::Error, args: &[OsString]) -> ExitCode {
    use clap::error::ErrorKind;
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = output::print(&text);
            ExitCode::SUCCESS
        }
        // Also any other error quoting an argument that is not UTF-8 (lossily): an unknown
        // subcommand may be a secret pasted in the wrong place.
        kind if kind == ErrorKind::InvalidUtf8
            || (text.contains(char::REPLACEMENT_CHARACTER)
                && args.iter().skip(1).any(|a| a.to_str().is_none())) =>
        {
            exit::error(&cli::not_utf8(&Cli::command(), args));
            ExitCode::from(code::USAGE)
        }
        _ => {
            exit::eprint(&text);
            ExitCode::from(code::USAGE)
        }
    }
}
