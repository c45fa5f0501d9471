//! A caller's guard, proved right before every change a client sends ([`Client::with_guard`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::Client;
#[cfg(doc)]
use crate::Error;

/// What [`Guard::prove`] returns: `Ok` when the change may be sent now, else why not.
pub type GuardFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// A condition a client proves right before it sends a change ([`Client::with_guard`]): every
/// request other than a read (`GET`), its first attempt and every retry, after any pacing or
/// `Retry-After` wait, so that nothing is sent once the condition stops holding (a lock lost
/// while a retry waited, say). A failure stops the send: the request is not sent, and the call
/// fails with [`Error::GuardFailed`]. Reads are never guarded.
///
/// Implemented for every `Fn() -> GuardFuture` that is `Send + Sync`.
pub trait Guard: Send + Sync {
    /// Proves the condition now: `Err` with why it does not hold.
    fn prove(&self) -> GuardFuture<'_>;
}

impl<F> Guard for F
where
    F: Fn() -> GuardFuture<'static> + Send + Sync,
{
    fn prove(&self) -> GuardFuture<'_> {
        self()
    }
}

/// A client's guard, shared by its clones (cheap to clone).
pub(crate) type Shared = Arc<dyn Guard>;

/// Why a guard stopped a change, as the hook layer notes it for the call's error.
#[derive(Debug, Clone)]
pub(crate) struct Stopped {
    /// The guard's words.
    pub(crate) reason: String,
    /// How many attempts of the change were sent before it.
    pub(crate) sent: u32,
}

impl Client {
    /// The same client (same pool, secret, settings and cancel flag) proving `guard` right
    /// before every change it sends: every request other than a read (`GET`), its first
    /// attempt and every retry, after any pacing or `Retry-After` wait. When the guard fails,
    /// that request is not sent, nothing more is sent for the call, and the call fails with
    /// [`Error::GuardFailed`] (saying how many attempts went before). Reads are not guarded.
    /// A client without a guard pays nothing for this. Replaces a guard set before. The
    /// facade's calls are guarded; the generated client used directly ([`Client::api`]) is not.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// # fn demo(client: &mpt::Client) {
    /// let held = Arc::new(AtomicBool::new(true));
    /// let lock = held.clone();
    /// let guarded = client.with_guard(Arc::new(move || -> mpt::GuardFuture<'static> {
    ///     let held = lock.load(Ordering::SeqCst);
    ///     Box::pin(async move { if held { Ok(()) } else { Err("the lock was lost".into()) } })
    /// }));
    /// # let _ = guarded;
    /// # }
    /// ```
    pub fn with_guard(&self, guard: Arc<dyn Guard>) -> Client {
        let mut guarded = self.clone();
        guarded.guard = Some(guard);
        guarded
    }
}
