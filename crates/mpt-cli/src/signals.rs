//! SIGINT and SIGTERM, and a closed stdout. Outside a bulk command (or a rotation's start), the
//! first signal stops the run at once. During one, the first stops scheduling (the
//! [`mpt::Cancel`] flag): the requests in flight finish (for at most 10 s) and every finished
//! row is printed; a second one stops at once. A bulk command still waiting on changes when
//! the 10 s are over prints a row for each id whose change is in flight (it may have happened)
//! before the run stops. A closed stdout under a bulk command or an apply stops it as a first signal does
//! (exit 141).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::exit::{self, code};

/// How long the requests in flight are given after the first signal.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a bulk command is given, once the grace is over, to print the rows of the ids still
/// in flight before the run stops anyway.
const AFTER_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// How often [`Signals::grace_over`] looks at the flag.
const POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// The run's view of the signals it got.
#[derive(Clone, Default)]
pub struct Signals {
    cancel: mpt::Cancel,
    /// The exit code of the first signal received while deferring (0: none).
    received: Arc<AtomicU8>,
    deferring: Arc<AtomicBool>,
    /// The grace after the first signal is over, requests still in flight.
    grace_over: Arc<AtomicBool>,
    /// A bulk command prints the rows of its ids in flight once the grace is over.
    rows_in_flight: Arc<AtomicBool>,
    /// Set with `grace_over`: an apply's flag to stop waiting for its actions in flight.
    given_up: mpt::Cancel,
}

/// While alive, the first signal only cancels; dropped, signals stop the run again.
pub struct Deferred(Signals);

impl Drop for Deferred {
    fn drop(&mut self) {
        self.0.deferring.store(false, Ordering::SeqCst);
    }
}

impl Signals {
    /// Listens for SIGINT and SIGTERM on the current runtime.
    pub fn install() -> Signals {
        let signals = Signals::default();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return signals;
            };
            let s = signals.clone();
            tokio::spawn(async move {
                loop {
                    let code = tokio::select! {
                        _ = int.recv() => code::SIGINT,
                        _ = term.recv() => code::SIGTERM,
                    };
                    if s.stop(code) {
                        exit::eprint(
                            "interrupt: finishing the requests in flight; interrupt again to stop at once\n",
                        );
                    } else {
                        exit::eprint("interrupted\n");
                        std::process::exit(i32::from(code));
                    }
                }
            });
        }
        signals
    }

    /// Stops scheduling as a first signal does, with this exit code, while deferring and
    /// before any other stop: `true` if it did. The requests in flight are given [`GRACE`]
    /// (a request or a database that stopped answering does not hold the run: what was in
    /// flight resumes next time, as after a kill), then the run stops.
    fn stop(&self, code: u8) -> bool {
        let first = self.received.load(Ordering::SeqCst) == 0;
        if !(first && self.deferring.load(Ordering::SeqCst)) {
            return false;
        }
        self.received.store(code, Ordering::SeqCst);
        self.cancel.cancel();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return true;
        };
        let s = self.clone();
        runtime.spawn(async move {
            tokio::time::sleep(GRACE).await;
            exit::eprint("interrupted: the requests in flight did not finish in time\n");
            s.grace_over.store(true, Ordering::SeqCst);
            s.given_up.cancel();
            if s.rows_in_flight.load(Ordering::SeqCst) {
                // The bulk command prints a row for each id in flight.
                tokio::time::sleep(AFTER_GRACE).await;
            }
            std::process::exit(i32::from(code));
        });
        true
    }

    /// stdout was closed (a row could not be written: `| head -1`): a bulk command or an apply
    /// stops beginning changes as on a first SIGINT (those not begun are not attempted), lets
    /// the ones in flight finish, and exits [`code::CLOSED_STDOUT`].
    pub fn stdout_closed(&self) {
        self.stop(code::CLOSED_STDOUT);
    }

    /// Defers the first signal until the returned guard is dropped.
    pub fn defer(&self) -> Deferred {
        self.deferring.store(true, Ordering::SeqCst);
        Deferred(self.clone())
    }

    /// Says that the caller, a bulk command, ends by itself once the grace after the first
    /// signal is over ([`Signals::grace_over`]), printing a row for each id in flight: the run
    /// is then given a few more seconds before it stops anyway.
    pub fn print_in_flight(&self) {
        self.rows_in_flight.store(true, Ordering::SeqCst);
    }

    /// Ends once the grace after the first signal is over with requests still in flight (never,
    /// without a signal).
    pub async fn grace_over(&self) {
        while !self.grace_over.load(Ordering::SeqCst) {
            tokio::time::sleep(POLL).await;
        }
    }

    /// A flag set once the grace after the first signal is over with requests still in flight
    /// (an apply's [`mpt_policy::ApplyOptions::give_up`]).
    pub fn given_up(&self) -> mpt::Cancel {
        self.given_up.clone()
    }

    /// The flag bulk calls watch.
    pub fn cancel(&self) -> mpt::Cancel {
        self.cancel.clone()
    }

    /// The exit code of the signal received while deferring, if one was.
    pub fn received(&self) -> Option<u8> {
        match self.received.load(Ordering::SeqCst) {
            0 => None,
            code => Some(code),
        }
    }
}
