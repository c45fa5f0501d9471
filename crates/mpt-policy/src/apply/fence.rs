//! An apply acts only while it holds its accounts' locks: before each change it asks the store
//! to prove the lock ([`Store::fence`](crate::state::Store::fence)). Once that fails (the
//! database session is gone, say), nothing more is sent: every later action is not attempted,
//! and the apply ends with [`ApplyError::SessionLost`](super::ApplyError::SessionLost).
//!
//! The proof before an action is not the last: the apply's client is guarded
//! ([`mpt::Client::with_guard`]) by the same proof, asked again right before every request of a
//! change it sends (each retry after a `429`'s wait, each step of a rotation), so a session lost
//! while the client waits to retry stops the retry. At the end of an apply that sent anything,
//! each account's lock is proven once more.

use std::sync::{Arc, Mutex};

use mpt::Error;

use super::{ActionOutcome, Applied, ApplyError, ApplyOptions, ApplyReport, Applying};
use crate::policy::Policy;
use crate::state::Store;

/// The apply's store: the caller's ([`ApplyOptions::store`]), or the one at the options'
/// location, opened and its accounts locked; `None` when `client` is cancelled while waiting
/// for a lock (nothing was sent).
pub(super) async fn open(
    client: &mpt::Client,
    policy: &Policy,
    options: &ApplyOptions,
) -> Result<Option<Arc<dyn Store>>, ApplyError> {
    if let Some(store) = &options.store {
        return Ok(Some(store.clone()));
    }
    // The database's password reaches no sink command.
    if let crate::state::StateLocation::Postgres(url) = &options.state {
        for secret in crate::state::url_secrets(url) {
            crate::withhold_from_sinks(&secret);
        }
    }
    let accounts: Vec<String> = policy.accounts.iter().map(|a| a.id.clone()).collect();
    let opening = crate::state::open(&options.state, &accounts, Some(options.lock_timeout));
    let cancel = super::cancelled(client);
    match futures_util::future::select(std::pin::pin!(opening), std::pin::pin!(cancel)).await {
        futures_util::future::Either::Left((opened, _)) => Ok(Some(Arc::from(opened?))),
        futures_util::future::Either::Right(_) => Ok(None),
    }
}

tokio::task_local! {
    /// The account whose action is carried out in this task (see [`for_account`]).
    static ACCOUNT: String;
}

/// Runs `work` (one action of `account`): the guard of the apply's client proves that
/// account's lock only (without one in scope, every account's).
pub(super) fn for_account<F: Future>(account: String, work: F) -> impl Future<Output = F::Output> {
    ACCOUNT.scope(account, work)
}

/// Why the apply stopped sending, once it did: shared by the apply and its client's guard.
pub(super) type Lost = Arc<Mutex<Option<String>>>;

/// Notes why the apply stops sending (the first reason stands), and gives it back.
fn note(lost: &Lost, why: String) -> String {
    match lost.lock() {
        Ok(mut lost) => lost.get_or_insert(why).clone(),
        Err(_) => why,
    }
}

/// The guard of an apply's client: before every change it sends, the store proves the lock of
/// the account the change is for ([`for_account`]; every account of the apply when none is in
/// scope). Once a proof failed, it fails at once, without asking again: a session lost is never
/// used again.
struct LockGuard {
    state: Arc<dyn Store>,
    accounts: Vec<String>,
    lost: Lost,
}

impl mpt::Guard for LockGuard {
    fn prove(&self) -> mpt::GuardFuture<'_> {
        Box::pin(async move {
            if let Some(why) = self.lost.lock().ok().and_then(|l| l.clone()) {
                return Err(why);
            }
            let scoped = ACCOUNT.try_with(|a| vec![a.clone()]).ok();
            for account in scoped.as_ref().unwrap_or(&self.accounts) {
                if let Err(e) = self.state.fence(account).await {
                    return Err(note(&self.lost, e.to_string()));
                }
            }
            Ok(())
        })
    }
}

/// `client`, guarded by the locks of `state` (see [`LockGuard`]), and where the guard notes
/// why it failed, once it does.
pub(super) fn guarded(
    client: &mpt::Client,
    state: &Arc<dyn Store>,
    policy: &Policy,
) -> (mpt::Client, Lost) {
    let lost = Lost::default();
    let guard = LockGuard {
        state: state.clone(),
        accounts: policy.accounts.iter().map(|a| a.id.clone()).collect(),
        lost: lost.clone(),
    };
    (client.with_guard(Arc::new(guard)), lost)
}

/// The row of a change the client's guard stopped ([`Error::GuardFailed`]): not attempted when
/// nothing was sent; when the platform answered what was sent `429` or `503` (which does not
/// prove it was not carried out: a gateway may answer so after the platform did it) and the
/// guard stopped the retry, a failure saying so, and `what` (what a read shows). `None` when an
/// earlier attempt's answer was lost (it may have happened: the caller reads back).
pub(super) fn stopped_by_guard(e: &Error, what: &str) -> Option<ActionOutcome> {
    let Error::GuardFailed {
        reason,
        sent,
        last_status,
        maybe_done,
    } = e
    else {
        return None;
    };
    match (*sent, *last_status) {
        (0, _) => Some(not_attempted(reason)),
        (sent, Some(status @ (429 | 503))) if !maybe_done => {
            let refused = match sent {
                1 => "the first attempt".to_string(),
                n => format!("each of {n} attempts"),
            };
            let status = mpt::reqwest::StatusCode::from_u16(status)
                .map_or_else(|_| status.to_string(), |s| s.to_string());
            Some(ActionOutcome::failed(format!(
                "the platform answered {refused} {status}, which does not prove it was not carried out, and the retry was not sent: the account's lock could not be proven ({reason}); {what}"
            )))
        }
        _ => None,
    }
}

impl Applying<'_> {
    /// Before a change for `account`: `None` when the store proves the lock still held, else
    /// the outcome of an action not attempted (and the loss kept, for the apply's end).
    pub(super) async fn fenced(&self, account: &str) -> Option<ActionOutcome> {
        if let Some(why) = self.lost() {
            return Some(not_attempted(&why));
        }
        // Interrupted (the CLI's first SIGINT/SIGTERM), before or while the store answers:
        // nothing more is sent, and a stalled store does not hold the apply's end.
        let interrupted =
            || ActionOutcome::new(Applied::NotAttempted, "not attempted: interrupted");
        if self.client.cancelled() {
            return Some(interrupted());
        }
        let fence = self.state.fence(account);
        let cancel = super::cancelled(self.client);
        let proven =
            match futures_util::future::select(std::pin::pin!(fence), std::pin::pin!(cancel)).await
            {
                futures_util::future::Either::Left((proven, _)) => proven,
                futures_util::future::Either::Right(_) => return Some(interrupted()),
            };
        match proven {
            Ok(()) => None,
            Err(e) => Some(not_attempted(&note(&self.lost, e.to_string()))),
        }
    }

    /// Right before a secret is handed to a sink: `Err` (why) unless the store proves the lock
    /// of `account` still held. An interrupt does not stop a hand-over by itself, but a proof
    /// the store has not given by then is not waited for (a stalled database): unproven.
    pub(super) async fn proven(&self, account: &str) -> Result<(), String> {
        if let Some(why) = self.lost() {
            return Err(why);
        }
        match super::unsent::unless_interrupted(self.client, self.state.fence(account)).await {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(note(&self.lost, e.to_string())),
            None => Err("interrupted before the state store proved it".into()),
        }
    }

    /// Before resuming a record of `account` (a directory's records name none: then every
    /// account of the policy): whether the apply must stop.
    pub(super) async fn fenced_record(&self, account: &str, accounts: &[String]) -> bool {
        if !account.is_empty() {
            return self.fenced(account).await.is_some();
        }
        for account in accounts {
            if self.fenced(account).await.is_some() {
                return true;
            }
        }
        false
    }

    /// The apply's end: its report, or, when a lock could not be proven (before an action, or
    /// after a failed one, asked once more), the loss with the report so far.
    pub(super) async fn ended(&self, report: ApplyReport) -> Result<ApplyReport, ApplyError> {
        if self.lost().is_none() && report.failed() > 0 {
            // A write that failed mid-action may have been the first sign of it.
            for account in &self.policy.accounts {
                if self.fenced(&account.id).await.is_some() {
                    break;
                }
            }
        }
        // An apply that sent anything proves each lock once more at its end: a lock lost after
        // its last proof is told (the rows stay: what they say happened), never exit 0.
        let sent = report.results.iter().any(|r| {
            !matches!(
                r.result,
                Applied::NotAttempted | Applied::Skipped | Applied::Reported | Applied::Unchanged
            )
        });
        if self.lost().is_none() && sent && !self.client.cancelled() {
            for account in &self.policy.accounts {
                if let Err(e) = self.state.fence(&account.id).await {
                    let why = format!("the account's lock could not be proven at the end: {e}");
                    note(&self.lost, why);
                    break;
                }
            }
        }
        match self.lost() {
            None => Ok(report),
            Some(why) => Err(ApplyError::SessionLost {
                actions: report
                    .results
                    .iter()
                    .filter(|r| {
                        !matches!(
                            r.result,
                            Applied::NotAttempted | Applied::Skipped | Applied::Reported
                        )
                    })
                    .count(),
                why,
                report,
            }),
        }
    }

    /// Why the apply stopped sending, once it did.
    pub(super) fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }
}

fn not_attempted(why: &str) -> ActionOutcome {
    ActionOutcome::new(
        Applied::NotAttempted,
        format!("not attempted: the account's lock could not be proven ({why}); nothing was sent"),
    )
}
