//! One sliding window of reads and changes over a stream of ids: the states are read up to 100
//! at a time with one list request (two reads ahead of the changes), and when the changes run
//! dry behind a read that is slow to come (a list endpoint paced apart, at 2 a second, beside
//! changes at 200), the ids of that read are read on their own instead (one get each, as an id
//! the list does not show is): every change still follows a read of the platform made for it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use futures_util::future::{AbortHandle, BoxFuture, abortable, select};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::Error;
use crate::lifecycle::Switch;
use crate::list::MAX_PAGE_SIZE;
use crate::outcome::Outcome;
use crate::token::Token;

/// How long the changes wait, run dry, for a read before its ids are read on their own, until
/// a read has been answered (then twice the quickest read, at most this): a list slower than
/// that is held by something (its own pace, a slow server), not by its round trip.
const PATIENCE: Duration = Duration::from_millis(250);

/// How many turns of the task a read's ids are gathered over (see [`Window::gather`]).
const GATHER_TURNS: usize = 3;

/// What one piece of the window ended with.
pub(super) enum Work {
    /// A read was answered (`None`: given up, every id of it read on its own): the states the
    /// list showed, by id.
    Read(u64, Option<HashMap<String, Token>>),
    /// An id's change work is done (its id is in its [`Changing`] entry).
    Done(usize, Result<Outcome, Error>),
    /// An id's change work was given up before its change was sent (already settled).
    Dropped,
}

/// A change under way: its id and whether its change was handed to the transport (one
/// ticket, shared with its work), and the handle that gives it up.
struct Changing {
    ticket: Arc<crate::job::Ticket>,
    abort: Option<AbortHandle>,
}

/// A read under way: a chunk of ids (numbered from `first`) whose states one list request reads.
struct Reading {
    seq: u64,
    first: usize,
    ids: Vec<String>,
    /// The ids before it were taken to be read on their own.
    next: usize,
    started: Instant,
    abort: AbortHandle,
}

/// What waiting in the window ended with.
enum Event {
    Input(Option<String>),
    Work(Option<Work>),
    /// The changes waited long enough for a read.
    Patience,
    /// The job was cancelled: the ids not being changed are settled at once.
    Cancelled,
}

/// The state of one sliding window of reads and changes over a stream of ids.
pub(super) struct Window<'a> {
    /// The ids still to come.
    input: std::pin::Pin<Box<dyn Stream<Item = String> + Send + 'a>>,
    /// Whether the input has ended.
    input_done: bool,
    /// The reads and changes under way.
    pending: FuturesUnordered<BoxFuture<'a, Work>>,
    /// Ids whose state is known (or unknown: read on their own), waiting for a change slot.
    ready: VecDeque<(usize, String, Option<Token>)>,
    /// The reads under way, oldest first.
    readings: VecDeque<Reading>,
    /// The reads started so far.
    seq: u64,
    /// The quickest a read was answered in.
    quickest: Option<Duration>,
    /// The changes under way (as many as are in flight), with the number of their id (at most
    /// `concurrency`: a list searched, no map hashed at every change).
    changing: Vec<(usize, Changing)>,
    /// How many ids were taken from the input.
    taken: usize,
    /// Changes in flight at once.
    concurrency: usize,
    /// The job's last answer was a refusal: a read slow to come is held by throttling, which
    /// reading its ids on their own would only meet again (more requests into a lockout).
    refused: bool,
}

impl<'a> Window<'a> {
    /// A window over the ids of `input`, `concurrency` changes at once.
    pub(super) fn new(
        input: std::pin::Pin<Box<dyn Stream<Item = String> + Send + 'a>>,
        concurrency: usize,
    ) -> Window<'a> {
        Window {
            input,
            input_done: false,
            pending: FuturesUnordered::new(),
            ready: VecDeque::new(),
            readings: VecDeque::new(),
            seq: 0,
            quickest: None,
            changing: Vec::with_capacity(concurrency.max(1)),
            taken: 0,
            concurrency: concurrency.max(1),
            refused: false,
        }
    }

    /// The next finished id; `None` once every id taken is done and the input is over (or the
    /// client was cancelled).
    pub(super) async fn next(
        &mut self,
        client: &Client,
        switch: Switch,
    ) -> Option<(usize, String, Result<Outcome, Error>)> {
        loop {
            if client.cancelled()
                && let Some(done) = self.settle(switch)
            {
                return Some(done);
            }
            self.start_changes(client, switch);
            self.refused = client.budget.as_ref().is_some_and(|b| b.refusing());
            if self.read_alone(Instant::now()) {
                continue;
            }
            // The next states are read while changes run (two reads ahead); the input is
            // raced against the work under way, so a slow input never holds a finished id.
            let wants = !self.input_done
                && !client.cancelled()
                && self.readings.len() < 2
                && self.ready.len() < self.concurrency + MAX_PAGE_SIZE as usize;
            let event = if wants && self.pending.is_empty() {
                Event::Input(self.input.next().await)
            } else {
                self.wait(wants, client.cancel.as_ref()).await
            };
            match event {
                Event::Input(Some(id)) => {
                    let chunk = self.gather(id).await;
                    self.read(client, chunk);
                }
                Event::Input(None) => self.input_done = true,
                Event::Patience | Event::Cancelled => {}
                Event::Work(work) => match work? {
                    Work::Read(seq, states) => self.answered(seq, states),
                    Work::Done(i, result) => {
                        // No entry: settled at the cancel already (its work ended meanwhile).
                        if let Some(k) = self.changing.iter().position(|(j, _)| *j == i) {
                            let ticket = self.changing.swap_remove(k).1.ticket;
                            return Some((i, crate::job::Ticket::into_id(ticket), result));
                        }
                    }
                    Work::Dropped => {}
                },
            }
        }
    }

    /// A list request's worth of ids from the input, from `first` on: those it has ready, and
    /// those it has once the task has yielded (a channel gives a task a bounded number of items
    /// per turn: 64 ids a read instead of 100 made a list paced at 2 a second read 125 ids a
    /// second, not 200); an input slow to give more does not hold them.
    async fn gather(&mut self, first: String) -> Vec<String> {
        let full = MAX_PAGE_SIZE as usize;
        let mut chunk = vec![first];
        for _ in 0..GATHER_TURNS {
            while chunk.len() < full {
                match self.input.next().now_or_never() {
                    Some(Some(id)) => chunk.push(id),
                    Some(None) => {
                        self.input_done = true;
                        return chunk;
                    }
                    None => break,
                }
            }
            if chunk.len() >= full {
                break;
            }
            tokio::task::yield_now().await;
        }
        chunk
    }

    /// Once the job is cancelled, the next id whose change was not sent, settled by the
    /// evidence at hand (no slot waited for, nothing more sent): read in the wanted state (by a
    /// served list read), it is `Unchanged`; else nothing changing was sent for it, and it is
    /// not attempted ([`Error::Cancelled`]). The reads under way are given up first (a read
    /// changes nothing), their ids not attempted, and so is the work of an id whose change was
    /// not handed to the transport (its own read, or its wait for a send slot). `None` when
    /// only the ids whose change was sent are left.
    fn settle(&mut self, switch: Switch) -> Option<(usize, String, Result<Outcome, Error>)> {
        for reading in std::mem::take(&mut self.readings) {
            reading.abort.abort();
            for (j, id) in reading.ids.into_iter().enumerate().skip(reading.next) {
                self.ready.push_back((reading.first + j, id, None));
            }
        }
        let unsent = self.changing.iter().position(|(_, c)| !c.ticket.sent());
        if let Some(k) = unsent {
            let (i, change) = self.changing.swap_remove(k);
            if let Some(abort) = change.abort {
                abort.abort();
            }
            let id = crate::job::Ticket::into_id(change.ticket);
            return Some((i, id, Err(Error::Cancelled)));
        }
        let (i, id, before) = self.ready.pop_front()?;
        let result = match before {
            Some(token) if token.status() == switch.target() => Ok(Outcome::Unchanged(token)),
            _ => Err(Error::Cancelled),
        };
        Some((i, id, result))
    }

    /// Starts a change for each id ready, up to the concurrency.
    fn start_changes(&mut self, client: &Client, switch: Switch) {
        while self.changing.len() < self.concurrency
            && let Some((i, id, before)) = self.ready.pop_front()
        {
            let cancellable = client.cancel.is_some();
            let client = client.clone();
            let ticket = crate::job::Ticket::new(id);
            let kept = Arc::clone(&ticket);
            let work = async move {
                let id = kept.id.as_str();
                // Checked as the request is scheduled: once cancelled, nothing more is sent.
                let result = match before {
                    _ if client.cancelled() => Err(Error::Cancelled),
                    Some(before) => client.ensure_from(id, before, switch).await,
                    None => client.ensure(id, switch).await,
                };
                Work::Done(i, result)
            };
            // What was sent, and the handle that gives the work up, serve a cancel only: a
            // client without a `Cancel` flag pays for neither (a task-local swapped at every
            // poll, and an abort check: 600 instructions a change).
            let abort = if cancellable {
                let (work, abort) =
                    abortable(crate::job::noting_changes(Arc::clone(&ticket), work));
                self.pending
                    .push(Box::pin(work.map(|done| done.unwrap_or(Work::Dropped))));
                Some(abort)
            } else {
                self.pending.push(Box::pin(work));
                None
            };
            self.changing.push((i, Changing { ticket, abort }));
        }
    }

    /// Waits for the input (when it `wants` more), the work under way, the end of the
    /// changes' patience with the oldest read, or the job's `cancel` flag (the ids waiting for
    /// a change slot behind changes that hang are settled at once, not when those end).
    async fn wait(&mut self, wants: bool, cancel: Option<&crate::Cancel>) -> Event {
        let deadline = self.starved_until();
        let cancel = cancel.filter(|c| !c.is_cancelled()).cloned();
        let input = &mut self.input;
        let input = async move {
            match wants {
                true => Event::Input(input.next().await),
                false => std::future::pending().await,
            }
        };
        let work = self.pending.next().map(Event::Work);
        let patience = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
            Event::Patience
        };
        let cancelled = async move {
            match cancel {
                Some(cancel) => cancel.set().await,
                None => std::future::pending().await,
            }
            Event::Cancelled
        };
        let (input, patience) = (std::pin::pin!(input), std::pin::pin!(patience));
        let cancelled = std::pin::pin!(cancelled);
        let first = select(input, work).map(|e| e.factor_first().0);
        let second = select(patience, cancelled).map(|e| e.factor_first().0);
        select(first, second).await.factor_first().0
    }

    /// When the changes, run dry (a change slot free, no id ready), stop waiting for the
    /// oldest read with ids left: `None` when they are not run dry, or the job is being refused.
    fn starved_until(&self) -> Option<Instant> {
        if self.refused || self.changing.len() >= self.concurrency || !self.ready.is_empty() {
            return None;
        }
        let oldest = self.readings.iter().find(|r| r.next < r.ids.len())?;
        let patience = self.quickest.map_or(PATIENCE, |q| (q * 2).min(PATIENCE));
        Some(oldest.started + patience)
    }

    /// The changes run dry behind a read slow to come: the ids of the oldest read, as many as
    /// change slots are free, are read on their own (a read left with none is given up).
    /// Whether any were.
    fn read_alone(&mut self, now: Instant) -> bool {
        if self.starved_until().is_none_or(|at| at > now) {
            return false;
        }
        let free = self.concurrency - self.changing.len();
        let Some(k) = self.readings.iter().position(|r| r.next < r.ids.len()) else {
            return false;
        };
        let reading = &mut self.readings[k];
        let end = (reading.next + free).min(reading.ids.len());
        for j in reading.next..end {
            self.ready
                .push_back((reading.first + j, reading.ids[j].clone(), None));
        }
        reading.next = end;
        if end == reading.ids.len() {
            reading.abort.abort();
            self.readings.remove(k);
        }
        true
    }

    /// A read was answered: its ids not read on their own are ready, with the states it shows.
    fn answered(&mut self, seq: u64, states: Option<HashMap<String, Token>>) {
        let Some(k) = self.readings.iter().position(|r| r.seq == seq) else {
            return;
        };
        let Some(reading) = self.readings.remove(k) else {
            return;
        };
        let mut states = states.unwrap_or_default();
        if !states.is_empty() {
            let took = reading.started.elapsed();
            self.quickest = Some(self.quickest.map_or(took, |q| q.min(took)));
        }
        let first = reading.first;
        for (j, id) in reading.ids.into_iter().enumerate().skip(reading.next) {
            let before = states.remove(&id);
            self.ready.push_back((first + j, id, before));
        }
    }

    /// Starts reading the states of a chunk of ids just taken from the input.
    fn read(&mut self, client: &Client, chunk: Vec<String>) {
        let first = self.taken;
        self.taken += chunk.len();
        self.seq += 1;
        let seq = self.seq;
        let client = client.clone();
        let ids = chunk.clone();
        let (read, abort) = abortable(async move { client.read_states(&ids).await });
        self.pending.push(Box::pin(
            read.map(move |states| Work::Read(seq, states.ok())),
        ));
        self.readings.push_back(Reading {
            seq,
            first,
            ids: chunk,
            next: 0,
            started: Instant::now(),
            abort,
        });
    }
}
