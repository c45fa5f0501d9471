//! A bulk command's ids, read as the work takes them: the arguments, stdin (`-`) and
//! `--from-file` are read line by line on a thread of their own into a bounded channel, so a
//! million ids on a pipe start flowing at once, never wait for the end of the input, and are
//! never all held in memory.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::Stream;
use tokio::sync::mpsc;

use crate::exit::Failure;

/// Ids read ahead of the work, at most (the facade holds about `concurrency + 200` more).
pub const READ_AHEAD: usize = 1024;

/// The longest line read as an id, in bytes (an id is about 14; a pasted secret about 100).
pub const MAX_LINE: usize = 4096;

/// Where ids come from, in the order they are read.
pub enum Source {
    /// An argument (several lines are several ids).
    Text(String),
    /// stdin (`-`).
    Stdin,
    /// `--from-file`: a regular file.
    File(PathBuf),
}

/// The ids being read: a stream for the work, and what the reading came to.
pub struct Ids {
    /// The ids, in order; ends at the end of the input or at its first unreadable line.
    pub stream: std::pin::Pin<Box<dyn Stream<Item = String> + Send>>,
    /// What the reading came to so far.
    pub read: Arc<Reading>,
    /// The ids read and not yet taken by the stream.
    pub unread: Unread,
}

/// The ids read ahead of the work and not taken by it (an interrupted command's: each gets its
/// row).
#[derive(Clone)]
pub struct Unread(Arc<tokio::sync::Mutex<mpsc::Receiver<Result<String, String>>>>);

impl Unread {
    /// Stops the reading (the lines not read yet stay unread, and uncounted) and takes the
    /// ids already read and not taken, in order (up to an unreadable line). Empty while the
    /// stream is still taking ids.
    pub fn take(&self) -> Vec<String> {
        let Ok(mut rx) = self.0.try_lock() else {
            return Vec::new();
        };
        rx.close();
        let mut ids = Vec::new();
        while let Ok(Ok(id)) = rx.try_recv() {
            ids.push(id);
        }
        ids
    }
}

/// What reading the ids came to.
#[derive(Default)]
pub struct Reading {
    /// Ids read so far.
    count: AtomicUsize,
    /// Why the reading stopped early (an unreadable line), if it did.
    error: Mutex<Option<String>>,
    /// Whether every source was read to its end.
    complete: AtomicBool,
}

impl Reading {
    /// Ids read so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Whether every source was read to its end (`false` while the reading goes on, and once
    /// it stopped early: the work stopped taking ids, or a line could not be read).
    pub fn complete(&self) -> bool {
        self.complete.load(Ordering::SeqCst)
    }

    /// The input's error, once all of it was read or the reading stopped: an unreadable line
    /// (named by its source and number), or no id at all.
    pub fn failure(&self) -> Option<Failure> {
        let error = self.error.lock().map(|e| e.clone()).unwrap_or(None);
        match error {
            Some(message) => Some(Failure::Usage(message)),
            None if self.count() == 0 => Some(Failure::Usage(
                "no token ids: give them as arguments, `-` for stdin, or --from-file".into(),
            )),
            None => None,
        }
    }
}

/// Starts reading `sources` in order. A `--from-file` that is not a regular file is refused
/// here, before anything is read or sent.
pub fn read(sources: Vec<Source>) -> Result<Ids, Failure> {
    let mut opened = Vec::new();
    for source in sources {
        opened.push(match source {
            Source::Text(text) => Opened::Text(text),
            Source::Stdin => Opened::Stdin,
            Source::File(path) => {
                let file =
                    crate::files::open_regular(&path).map_err(|e| Failure::Usage(e.to_string()))?;
                Opened::File(path, file)
            }
        });
    }
    let (tx, rx) = mpsc::channel::<Result<String, String>>(READ_AHEAD);
    let read = Arc::new(Reading::default());
    let counted = read.clone();
    // A thread of its own, not the runtime's: a read blocked on a pipe left open must not keep
    // the runtime from shutting down.
    std::thread::spawn(move || {
        for source in opened {
            if !source.send_ids(&tx, &counted) {
                return;
            }
        }
        counted.complete.store(true, Ordering::SeqCst);
    });
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let unread = Unread(rx.clone());
    let stream = futures_util::stream::unfold((rx, read.clone()), |(rx, read)| async move {
        // Outside tokio's cooperative budget: each id would spend two units of it (the lock,
        // the receive), so the job's reads, which take what is ready up to 100, got 64 ids
        // each: a list request more per 64 ids than needed (102 requests for 100 ids).
        let next = tokio::task::unconstrained(async { rx.lock().await.recv().await }).await;
        match next? {
            Ok(id) => Some((id, (rx, read))),
            Err(message) => {
                if let Ok(mut error) = read.error.lock() {
                    *error = Some(message);
                }
                None
            }
        }
    });
    Ok(Ids {
        stream: Box::pin(stream),
        read,
        unread,
    })
}

/// A source, opened.
enum Opened {
    Text(String),
    Stdin,
    File(PathBuf, std::fs::File),
}

impl Opened {
    /// Sends its ids; `false` once nothing more is to be read (the work stopped taking ids, or
    /// a line could not be read).
    fn send_ids(self, tx: &mpsc::Sender<Result<String, String>>, read: &Reading) -> bool {
        match self {
            Opened::Text(text) => text
                .lines()
                .all(|line| send_line(tx, read, line.as_bytes())),
            Opened::Stdin => send_lines(tx, read, std::io::stdin().lock(), "stdin"),
            Opened::File(path, file) => {
                let name = path.display().to_string();
                send_lines(tx, read, BufReader::new(file), &name)
            }
        }
    }
}

/// Sends the id of one line (none for a blank or comment line); `false` once the work stopped
/// taking ids.
fn send_line(tx: &mpsc::Sender<Result<String, String>>, read: &Reading, line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let id = text.split('#').next().unwrap_or("").trim();
    if id.is_empty() {
        return true;
    }
    read.count.fetch_add(1, Ordering::SeqCst);
    if tx.blocking_send(Ok(id.to_string())).is_err() {
        // Not taken (the work stopped): not read either.
        read.count.fetch_sub(1, Ordering::SeqCst);
        return false;
    }
    true
}

/// Sends the ids of `input`'s lines as they are read; a line that cannot be read (not UTF-8,
/// longer than [`MAX_LINE`], a read error) ends the input with an error naming it.
fn send_lines(
    tx: &mpsc::Sender<Result<String, String>>,
    read: &Reading,
    mut input: impl BufRead,
    name: &str,
) -> bool {
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let got = (&mut input)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line);
        let error = match got {
            Ok(0) => return true,
            Ok(_) if line.len() > MAX_LINE && line.last() != Some(&b'\n') => {
                format!("{name} line {number}: longer than {MAX_LINE} bytes: not a token id")
            }
            Ok(_) if std::str::from_utf8(&line).is_err() => {
                format!("{name} line {number}: not UTF-8 text: not a token id")
            }
            Ok(_) => {
                if !send_line(tx, read, &line) {
                    return false;
                }
                continue;
            }
            Err(e) => format!("{name} line {number}: {e}"),
        };
        let _ = tx.blocking_send(Err(error));
        return false;
    }
    true
}
