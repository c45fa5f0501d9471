//! An apply acts only while it holds its accounts' locks: before each change it asks the store
//! to prove the lock ([`Store::fence`](crate::state::Store::fence)). Once that fails (the
//! database session is gone, say), nothing more is sent: every later action is not attempted,
//! and the apply ends with [`ApplyError::SessionLost`](super::ApplyError::SessionLost).

use std::sync::Arc;

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
            Err(e) => {
                let why = e.to_string();
                if let Ok(mut lost) = self.lost.lock() {
                    lost.get_or_insert(why.clone());
                }
                Some(not_attempted(&why))
            }
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
