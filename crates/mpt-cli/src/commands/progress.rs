//! `--progress`: while a bulk command works, a line on stderr every so often (30 s by default)
//! saying how far it is and the pace its sends go at, so a job the platform's limits slow to a
//! crawl (one request a second over 1,500 ids: 25 minutes) is never silent in a CI log. On a
//! terminal the progress bar shows the count, and the pace goes in its message instead.

use std::io::Write;
use std::time::{Duration, Instant};

use mpt::Client;

use super::ids::Reading;

/// The progress lines of one bulk command.
pub struct Progress {
    /// Every this long (`None`: never).
    every: Option<tokio::time::Interval>,
    started: Instant,
}

impl Progress {
    /// Lines every `every` (zero: none).
    pub fn new(every: Duration) -> Progress {
        let started = Instant::now();
        let every = (!every.is_zero()).then(|| {
            let first = tokio::time::Instant::now() + every;
            let mut interval = tokio::time::interval_at(first, every);
            // A tick missed (the runtime busy) is not made up for with a burst of lines.
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        Progress { every, started }
    }

    /// Ready when the next line is due (never without `--progress`).
    pub async fn due(&mut self) {
        match &mut self.every {
            Some(interval) => {
                interval.tick().await;
            }
            None => std::future::pending().await,
        }
    }

    /// Reports `done` ids finished of those `read` so far (all of them once the input was read
    /// to its end): a line on stderr, or the pace as the terminal's bar message when there is a
    /// `bar`.
    pub fn report(
        &self,
        client: &Client,
        done: usize,
        read: &Reading,
        bar: Option<&indicatif::ProgressBar>,
    ) {
        let pace = match client.pace() {
            Some(p) => format!("sending at {p}"),
            None => "no pace: sending as fast as the concurrency allows".into(),
        };
        if let Some(bar) = bar {
            bar.set_message(pace);
            return;
        }
        let read = (read.count(), read.complete());
        let line = line(done, read, self.started.elapsed(), &pace);
        // A stderr closed is no reason to stop the work (nor to panic).
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// A progress line: `done` ids of `read` (all the input when `all`), `elapsed`, the `pace`.
fn line(done: usize, (read, all): (usize, bool), elapsed: Duration, pace: &str) -> String {
    let elapsed = shown(elapsed);
    match all {
        true => format!("mpt: {done} of {read} ids done in {elapsed}; {pace}"),
        false => format!(
            "mpt: {done} ids done of {read} read so far (the input is still being read), in {elapsed}; {pace}"
        ),
    }
}

/// `45s`, `2m 05s`, `1h 02m 05s`.
fn shown(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, s) => format!("{h}h {m:02}m {s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// Ids still coming in are not counted as all of them (tester round 21, N6).
    #[test]
    fn a_line_says_whether_the_input_was_read_whole() {
        let d = Duration::from_secs(65);
        assert_eq!(
            super::line(3, (8, true), d, "p"),
            "mpt: 3 of 8 ids done in 1m 05s; p"
        );
        assert_eq!(
            super::line(1, (1, false), d, "p"),
            "mpt: 1 ids done of 1 read so far (the input is still being read), in 1m 05s; p"
        );
    }

    #[test]
    fn elapsed_times_read_as_a_clock() {
        let shown = |s| super::shown(Duration::from_secs(s));
        assert_eq!(shown(45), "45s");
        assert_eq!(shown(125), "2m 05s");
        assert_eq!(shown(3725), "1h 02m 05s");
    }
}
