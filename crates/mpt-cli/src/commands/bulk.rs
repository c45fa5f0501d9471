//! Bulk commands: `delete`, `enable`, `disable`, `ensure-active`, `ensure-disabled`, with
//! `--dry-run`, a progress bar on a terminal, one structured row per id, and interrupts that
//! stop scheduling, let the requests in flight finish and still print every finished row.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use std::path::PathBuf;

use clap::Args;
use futures_util::StreamExt;
use mpt::{Client, Error, Outcome, TokenStatus};

use super::Ctx;
use super::ids::{self, Ids, Source};
use super::progress::Progress;
use crate::exit::{self, ErrorRow, Failure};
use crate::output::{self, Format, Row, RowOutcome};
use crate::signals::Signals;

/// The ids of a bulk command and how to work through them.
#[derive(Args)]
pub struct BulkArgs {
    /// Token ids; `-` reads them from stdin (one per line, each id sent on as it is read).
    /// Results come in this order, then those of `--from-file`.
    pub ids: Vec<String>,
    /// Read ids from this file too (a regular file, one id per line, `#` comments, read line
    /// by line).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Requests in flight at once (1 to 256).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Read the current states and say what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Every AGE, a line on stderr saying how many ids are done and the pace the sends go at
    /// (on a terminal, the progress bar shows both instead); `0`: no lines. At most 1d
    #[arg(long, value_name = "AGE", default_value = "30s", value_parser = crate::values::parse_wait)]
    pub progress: std::time::Duration,
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

/// Runs a bulk command and prints a row per id it finished. The ids flow into the work as they
/// are read (see `ids.rs`); an unreadable line ends the input: the ids before it are worked
/// through and printed, then the command fails naming the line.
pub async fn run(args: BulkArgs, kind: Kind, ctx: &Ctx<'_>) -> Result<(), Failure> {
    let (client, signals) = (ctx.client()?, ctx.signals);
    let ids = ids::read(sources(&args))?;
    let (read, unread) = (ids.read.clone(), ids.unread.clone());
    let _deferred = signals.defer();
    signals.print_in_flight();
    let mut finished = if args.dry_run {
        // Its reads are given up at the first signal: it changes nothing.
        let client = client.with_cancel(signals.cancel());
        dry_run(&client, ids.stream, kind, signals, ctx.format).await?
    } else {
        let client = client.with_cancel(signals.cancel());
        let work = Work {
            kind,
            concurrency: args.concurrency.into(),
            format: ctx.format,
            signals,
            progress: args.progress,
        };
        apply(&client, ids, work).await?
    };
    if signals.received().is_some() {
        // Each id read and not taken into the work gets its row too (those still unread, on
        // stdin or in a file, are not read any more: the summary says where the reading stopped).
        for id in unread.take() {
            let n = finished.next;
            finished.push_not_attempted(n, id, ctx.format)?;
        }
    }
    // No id at all (none given, or the first line unreadable): nothing was done, nothing is
    // printed.
    if read.count() == 0
        && let Some(failure) = read.failure()
    {
        return Err(failure);
    }
    if ctx.format == Format::Json {
        finished.held.sort_by_key(|(n, _)| *n);
        let rows: Vec<Row> = std::mem::take(&mut finished.held)
            .into_iter()
            .map(|(_, row)| row)
            .collect();
        output::print(&output::rows(&rows, ctx.format))?;
    }
    let not_attempted = finished.not_attempted;
    if let Some(signal) = signals.received() {
        let in_flight = match finished.in_flight {
            0 => String::new(),
            n => format!(", {n} in flight when interrupted (they may have happened)"),
        };
        let why = match signal {
            exit::code::CLOSED_STDOUT => "stdout closed (rows not written)",
            _ => "interrupted",
        };
        // Rows are numbered in the order the ids were read: the first `next` have one.
        let unread = match read.complete() {
            true => String::new(),
            false => format!(
                "; the input was not read past its id {} (any after it has no row)",
                finished.next
            ),
        };
        exit::eprint(&format!(
            "{why}: {} finished{in_flight}, {not_attempted} not attempted (nothing was sent for them){unread}\n",
            finished.count
        ));
        return Err(Failure::Interrupted(signal));
    }
    if output::stdout_closed() {
        // `-o json`: every id was worked through, and the one document was not written.
        exit::eprint(&format!(
            "stdout closed (rows not written): {} finished\n",
            finished.count
        ));
        return Err(Failure::Interrupted(exit::code::CLOSED_STDOUT));
    }
    if let Some(failure) = read.failure() {
        return Err(failure);
    }
    let failed: Vec<&ErrorRow> = finished.failed.iter().collect();
    match exit::rows_code(&failed, finished.count) {
        None => Ok(()),
        Some(code) => Err(Failure::Rows(
            code,
            Some(
                stopped_on_silence(&failed)
                    .unwrap_or_else(|| exit::rows_why(&failed, finished.count, code)),
            ),
        )),
    }
}

/// The line saying that the job stopped on silence (its last requests all timed out, none
/// answered: each id not sent is `not-attempted`, exit 5), and for how many ids: with `-o
/// json` the rows come only at the end, and the run must not look like it stopped for nothing.
fn stopped_on_silence(failed: &[&ErrorRow]) -> Option<String> {
    let mut silent = failed
        .iter()
        .filter(|e| e.kind == "not-attempted" && e.code == exit::code::UNREACHABLE);
    let first = silent.next()?;
    let n = 1 + silent.count();
    let why = first.message.trim_start_matches("not attempted: ");
    let why = why.trim_end_matches("; nothing more is sent for it");
    Some(format!(
        "stopped: {why}; {n} id{} not attempted (nothing was sent for them)",
        if n == 1 { "" } else { "s" }
    ))
}

/// Where the ids come from: the arguments in order (`-` for stdin where it stands), then
/// `--from-file`.
fn sources(args: &BulkArgs) -> Vec<Source> {
    let mut sources: Vec<Source> = args
        .ids
        .iter()
        .map(|arg| match arg.as_str() {
            "-" => Source::Stdin,
            text => Source::Text(text.to_string()),
        })
        .collect();
    sources.extend(args.from_file.clone().map(Source::File));
    sources
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

/// What each id would go through, from its current state (one read at a time, each row
/// printed as it comes); nothing is changed.
async fn dry_run(
    client: &Client,
    mut ids: std::pin::Pin<Box<dyn futures_util::Stream<Item = String> + Send>>,
    kind: Kind,
    signals: &Signals,
    format: Format,
) -> Result<Finished, Failure> {
    let mut finished = Finished::default();
    let mut n = 0;
    let mut grace_over = std::pin::pin!(signals.grace_over());
    while let Some(id) = ids.next().await {
        if signals.received().is_some() {
            finished.push_not_attempted(n, id, format)?;
            break;
        }
        let row = tokio::select! {
            row = dry_row(client, id.clone(), kind) => row,
            // A read changes nothing: not attempted, never "in flight".
            () = &mut grace_over => {
                finished.push_not_attempted(n, id, format)?;
                break;
            }
        };
        if signals.received().is_some()
            && row
                .result
                .as_ref()
                .is_err_and(|e| e.kind == "not-attempted")
        {
            finished.push_not_attempted(n, row.id, format)?;
            break;
        }
        finished.push(n, row, format)?;
        stop_if_stdout_closed(signals);
        n += 1;
    }
    Ok(finished)
}

/// The row of one id of a dry run.
async fn dry_row(client: &Client, id: String, kind: Kind) -> Row {
    let status = |t: &mpt::Token| Some(t.status().to_string());
    match client.get(id.as_str()).await {
        Ok(t) if t.status() == kind.target() && kind.strict() => Row {
            result: Err(already(&id, &t.status())),
            id,
        },
        Ok(t) if t.status() == kind.target() => row(id, Ok((RowOutcome::Unchanged, status(&t)))),
        Ok(t) if t.status().available_actions().is_empty() => {
            let e = Error::UnexpectedState {
                id: id.clone(),
                status: t.status(),
            };
            row(id, Err(&e))
        }
        Ok(t) => row(id, Ok((RowOutcome::WouldChange, status(&t)))),
        Err(Error::NotFound(_)) if kind == Kind::Delete => row(id, Ok((RowOutcome::Absent, None))),
        Err(e) => row(id, Err(&e)),
    }
}

/// What a bulk run finished: rows printed as each id finished (kept only for `--output json`,
/// one document printed at the end), and the failures (for the exit code).
#[derive(Default)]
struct Finished {
    /// How many ids finished.
    count: usize,
    /// How many ids were still in flight when the grace after an interrupt was over (each
    /// with its row: it may have happened).
    in_flight: usize,
    /// How many ids read were not attempted because of an interrupt (each with its row).
    not_attempted: usize,
    /// The number of the next id (one more than the highest with a row).
    next: usize,
    /// The failed ids' errors.
    failed: Vec<ErrorRow>,
    /// `--output json`'s rows, numbered in the order the ids were given.
    held: Vec<(usize, Row)>,
}

impl Finished {
    /// Prints a finished id's row at once (held for `--output json`).
    fn push(&mut self, n: usize, row: Row, format: Format) -> Result<(), Failure> {
        self.count += 1;
        if let Err(e) = &row.result {
            self.failed.push(e.clone());
        }
        self.print(n, row, format)
    }

    /// Prints the row of an id whose request was still in flight when the grace after an
    /// interrupt was over: its outcome is unknown.
    fn push_in_flight(&mut self, n: usize, id: String, format: Format) -> Result<(), Failure> {
        self.in_flight += 1;
        let row = Row {
            id,
            result: Err(ErrorRow::in_flight()),
        };
        self.print(n, row, format)
    }

    /// Prints the row of an id read and not attempted because of an interrupt (nothing was
    /// sent for it).
    fn push_not_attempted(&mut self, n: usize, id: String, format: Format) -> Result<(), Failure> {
        self.not_attempted += 1;
        let row = Row {
            id,
            result: Err(ErrorRow::interrupted()),
        };
        self.print(n, row, format)
    }

    /// Prints a row at once, or holds it for `--output json`.
    fn print(&mut self, n: usize, row: Row, format: Format) -> Result<(), Failure> {
        self.next = self.next.max(n + 1);
        if format == Format::Json {
            self.held.push((n, row));
            Ok(())
        } else {
            output::print(&output::rows(std::slice::from_ref(&row), format))
        }
    }
}

/// How a bulk command works through its ids.
struct Work<'a> {
    kind: Kind,
    concurrency: usize,
    format: Format,
    signals: &'a Signals,
    /// How often a progress line is due (`--progress`).
    progress: std::time::Duration,
}

/// Feeds every id through one of the facade's rolling pipelines (one sliding window of reads
/// and changes over the whole job, no barrier per 100 ids) and prints each id's row as it
/// finishes (a progress bar moves while stderr is a terminal). Once the client's cancel flag
/// is set, nothing more is sent, and the pipeline settles at once each id whose change was not
/// sent (`unchanged` when a served read showed it in the wanted state, else `not-attempted`:
/// interrupted); the ids left when the grace after the interrupt is over, those whose change
/// is still in flight, get one each (`outcome-unknown`).
async fn apply(client: &Client, ids: Ids, work: Work<'_>) -> Result<Finished, Failure> {
    let Work {
        kind,
        concurrency,
        format,
        signals,
        progress,
    } = work;
    let mut progress = Progress::new(progress);
    // The bar's length is what has been read so far: the input may still be coming.
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| output::progress_bar("{bar:40} {pos}/{len} {msg}", 0));
    let mut finished = Finished::default();
    let (input, read) = (ids.stream, ids.read);
    // The ids taken into the work and not finished yet, by number.
    let taken = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    let input = {
        let (taken, mut n) = (std::sync::Arc::clone(&taken), 0usize);
        input.map(move |id: String| {
            lock(&taken).insert(n, id.clone());
            n += 1;
            id
        })
    };
    let mut results: futures_util::stream::BoxStream<'_, (usize, String, Result<Row, Error>)> =
        match kind {
            Kind::Delete => Box::pin(client.delete_stream(input, concurrency).map(|(n, id, r)| {
                let row = r.map(|deleted| match deleted {
                    true => row(
                        id.clone(),
                        Ok((RowOutcome::Deleted, Some("Deleted".into()))),
                    ),
                    false => row(id.clone(), Ok((RowOutcome::Absent, None))),
                });
                (n, id, row)
            })),
            _ => {
                let stream = if kind.target() == TokenStatus::Active {
                    client.ensure_active_stream(input, concurrency).boxed()
                } else {
                    client.ensure_disabled_stream(input, concurrency).boxed()
                };
                Box::pin(stream.map(move |(n, id, r)| {
                    let row = r.map(|outcome| outcome_row(id.clone(), outcome, kind));
                    (n, id, row)
                }))
            }
        };
    // One watch for the whole run (not a timer per row).
    let mut grace_over = std::pin::pin!(signals.grace_over());
    loop {
        let (n, id, result) = tokio::select! {
            next = results.next() => match next {
                Some(next) => next,
                None => break,
            },
            () = progress.due() => {
                progress.report(client, finished.count, &read, bar.as_ref());
                continue;
            }
            () = &mut grace_over => {
                drop(results);
                let in_flight = std::mem::take(&mut *lock(&taken));
                for (n, id) in in_flight {
                    finished.push_in_flight(n, id, format)?;
                }
                break;
            }
        };
        lock(&taken).remove(&n);
        let row = match result {
            Ok(row) => row,
            Err(Error::Cancelled) => {
                finished.push_not_attempted(n, id, format)?;
                continue;
            }
            Err(e) => row(id, Err(&e)),
        };
        finished.push(n, row, format)?;
        stop_if_stdout_closed(signals);
        if let Some(bar) = &bar {
            bar.set_length(read.count().max(finished.count) as u64);
            bar.inc(1);
        }
    }
    // The work ended (not given up): an id taken that has no result was never scheduled
    // (taken from the input as the cancel flag was set), and nothing was sent for it.
    let left = std::mem::take(&mut *lock(&taken));
    for (n, id) in left {
        finished.push_not_attempted(n, id, format)?;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(finished)
}

/// Once a row could not be written (stdout closed: `| head -1`), nothing more is begun, as on a
/// first SIGINT: the ids taken and not begun end `not-attempted`, and the run exits 141.
fn stop_if_stdout_closed(signals: &Signals) {
    if output::stdout_closed() {
        signals.stdout_closed();
    }
}

/// The map of ids taken, even if a thread panicked holding it.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The row of an id an `ensure-*`, `enable` or `disable` finished.
fn outcome_row(id: String, outcome: Outcome, kind: Kind) -> Row {
    let status = |t: &mpt::Token| Some(t.status().to_string());
    match outcome {
        Outcome::Unchanged(t) if kind.strict() => Row {
            result: Err(already(&id, &t.status())),
            id,
        },
        Outcome::Changed(t) => row(id, Ok((RowOutcome::Changed, status(&t)))),
        Outcome::Unchanged(t) => row(id, Ok((RowOutcome::Unchanged, status(&t)))),
        Outcome::Unconfirmed(t) => row(id, Ok((RowOutcome::Unconfirmed, status(&t)))),
    }
}
