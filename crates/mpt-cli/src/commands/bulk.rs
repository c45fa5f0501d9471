//! Bulk commands: `delete`, `enable`, `disable`, `ensure-active`, `ensure-disabled`, with
//! `--dry-run`, a progress bar on a terminal, one structured row per id, and interrupts that
//! stop scheduling, let the requests in flight finish and still print every finished row.

use std::io::IsTerminal;

use std::path::PathBuf;

use clap::Args;
use mpt::{Client, Error, Outcome, TokenStatus};

use super::Ctx;
use crate::exit::{self, ErrorRow, Failure};
use crate::files;
use crate::output::{self, Row, RowOutcome};
use crate::signals::Signals;

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

/// What a bulk command does to each id.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `delete`.
    Delete,
    /// `enable`: an id already Active fails.
    Enable,
    /// `disable`: an id already Disabled fails.
    Disable,
    /// `ensure-active`.
    EnsureActive,
    /// `ensure-disabled`.
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

/// How many ids one facade bulk call takes: one list request reads their states.
const CHUNK: usize = mpt::MAX_PAGE_SIZE as usize;

/// Runs a bulk command and prints a row per id it finished.
pub async fn run(args: BulkArgs, kind: Kind, ctx: &Ctx<'_>) -> Result<(), Failure> {
    let (client, signals) = (ctx.client()?, ctx.signals);
    let ids = ids(&args)?;
    let _deferred = signals.defer();
    let rows = if args.dry_run {
        dry_run(client, &ids, kind, signals).await
    } else {
        let cancel = signals.cancel();
        apply(
            &client.with_cancel(cancel.clone()),
            &ids,
            kind,
            args.concurrency.into(),
            &cancel,
        )
        .await
    };
    let not_attempted = ids.len() - rows.len();
    output::print(&output::rows(&rows, ctx.format))?;
    if let Some(signal) = signals.received() {
        exit::eprint(&format!(
            "interrupted: {} finished, {not_attempted} not attempted (nothing was sent for them)\n",
            rows.len()
        ));
        return Err(Failure::Interrupted(signal));
    }
    let failed: Vec<&ErrorRow> = rows
        .iter()
        .filter_map(|r| r.result.as_ref().err())
        .collect();
    match exit::rows_code(&failed, rows.len()) {
        None => Ok(()),
        Some(code) => Err(Failure::Rows(code)),
    }
}

/// The ids: arguments, `-` for stdin, and `--from-file` (a regular file).
fn ids(args: &BulkArgs) -> Result<Vec<String>, Failure> {
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
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| Failure::Usage(format!("stdin: {e}")))?;
            lines(&text);
        } else {
            lines(arg);
        }
    }
    if let Some(file) = &args.from_file {
        lines(&files::read_regular(file).map_err(|e| Failure::Usage(e.to_string()))?);
    }
    if ids.is_empty() {
        return Err(Failure::Usage(
            "no token ids: give them as arguments, `-` for stdin, or --from-file".into(),
        ));
    }
    Ok(ids)
}

fn row(id: String, result: Result<(RowOutcome, Option<String>), &Error>) -> Row {
    Row {
        id,
        result: result.map_err(ErrorRow::of),
    }
}

/// An id already in the wanted state, for `enable` and `disable`.
fn already(id: &str, status: &TokenStatus) -> ErrorRow {
    ErrorRow::already(id, status)
}

/// What each id would go through, from its current state; nothing is changed.
async fn dry_run(client: &Client, ids: &[String], kind: Kind, signals: &Signals) -> Vec<Row> {
    let mut rows = Vec::new();
    for id in ids {
        if signals.received().is_some() {
            break;
        }
        let status = |t: &mpt::Token| Some(t.status().to_string());
        let row = match client.get(id.as_str()).await {
            Ok(t) if t.status() == kind.target() && kind.strict() => Row {
                id: id.clone(),
                result: Err(already(id, &t.status())),
            },
            Ok(t) if t.status() == kind.target() => {
                row(id.clone(), Ok((RowOutcome::Unchanged, status(&t))))
            }
            Ok(t) if t.status().available_actions().is_empty() => {
                let e = Error::UnexpectedState {
                    id: id.clone(),
                    status: t.status(),
                };
                row(id.clone(), Err(&e))
            }
            Ok(t) => row(id.clone(), Ok((RowOutcome::WouldChange, status(&t)))),
            Err(Error::NotFound(_)) if kind == Kind::Delete => {
                row(id.clone(), Ok((RowOutcome::Absent, None)))
            }
            Err(e) => row(id.clone(), Err(&e)),
        };
        rows.push(row);
    }
    rows
}

/// Runs the facade's bulk calls a chunk at a time (a progress bar moves while stderr is a
/// terminal). Once the client's cancel flag is set, nothing more is sent: the ids not
/// attempted get no row.
async fn apply(
    client: &Client,
    ids: &[String],
    kind: Kind,
    concurrency: usize,
    cancel: &mpt::Cancel,
) -> Vec<Row> {
    let bar = (std::io::stderr().is_terminal() && ids.len() > 1)
        .then(|| output::progress_bar("{bar:40} {pos}/{len} {msg}", ids.len() as u64));
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let chunk = chunk.iter().map(String::as_str);
        let done: Vec<Row> = match kind {
            Kind::Delete => client
                .delete_many(chunk, concurrency)
                .await
                .into_iter()
                .filter(|(_, r)| !matches!(r, Err(Error::Cancelled)))
                .map(|(id, r)| match r {
                    Ok(true) => row(id, Ok((RowOutcome::Deleted, Some("Deleted".into())))),
                    Ok(false) => row(id, Ok((RowOutcome::Absent, None))),
                    Err(e) => row(id, Err(&e)),
                })
                .collect(),
            _ => {
                let report = if kind.target() == TokenStatus::Active {
                    client.ensure_active_many(chunk, concurrency).await
                } else {
                    client.ensure_disabled_many(chunk, concurrency).await
                };
                report
                    .into_iter()
                    .filter(|(_, r)| !matches!(r, Err(Error::Cancelled)))
                    .map(|(id, r)| {
                        let status = |t: &mpt::Token| Some(t.status().to_string());
                        match r {
                            Ok(Outcome::Unchanged(t)) if kind.strict() => Row {
                                result: Err(already(&id, &t.status())),
                                id,
                            },
                            Ok(Outcome::Changed(t)) => {
                                row(id, Ok((RowOutcome::Changed, status(&t))))
                            }
                            Ok(Outcome::Unchanged(t)) => {
                                row(id, Ok((RowOutcome::Unchanged, status(&t))))
                            }
                            Ok(Outcome::Unconfirmed(t)) => {
                                row(id, Ok((RowOutcome::Unconfirmed, status(&t))))
                            }
                            Err(e) => row(id, Err(&e)),
                        }
                    })
                    .collect()
            }
        };
        if let Some(bar) = &bar {
            bar.inc(done.len() as u64);
        }
        rows.extend(done);
        if cancel.is_cancelled() {
            break;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    rows
}
