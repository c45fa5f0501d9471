//! The store's session lost during the late-landing checks (tester round 20, L3): every read
//! and every proof of the lock fails from the plan on. The planned delete of a late landing is
//! not attempted (never `moved`: nothing moved), the `late` records that could not be listed
//! are no record `refused` with an empty name, and the apply stops with the loss.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use mpt_policy::state::{DirStore, Key, Kind, Pending, StateLocation, Store};
use mpt_policy::{ActionKind, Applied, ApplyError, ApplyOptions, StoreError};

use super::late::{land, planned, plant_held, wanted};
use crate::common::*;

/// A directory store whose session is lost once `lost` is set: every read and proof fails.
struct Lost {
    inner: DirStore,
    lost: Arc<AtomicBool>,
}

fn gone() -> StoreError {
    StoreError::SessionLost {
        location: "a test's store".into(),
        why: "terminated (a test's)".into(),
    }
}

impl Store for Lost {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        match self.lost.load(Ordering::SeqCst) {
            true => Box::pin(async { Err(gone()) }),
            false => self.inner.save(key, json),
        }
    }
    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        match self.lost.load(Ordering::SeqCst) {
            true => Box::pin(async { Err(gone()) }),
            false => self.inner.load(key),
        }
    }
    fn remove<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), StoreError>> {
        match self.lost.load(Ordering::SeqCst) {
            true => Box::pin(async { Err(gone()) }),
            false => self.inner.remove(key),
        }
    }
    fn pending<'a>(
        &'a self,
        kind: Kind,
        accounts: &'a [String],
    ) -> BoxFuture<'a, Result<Pending, StoreError>> {
        match self.lost.load(Ordering::SeqCst) {
            true => Box::pin(async { Err(gone()) }),
            false => self.inner.pending(kind, accounts),
        }
    }
    fn fence<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        match self.lost.load(Ordering::SeqCst) {
            true => Box::pin(async { Err(gone()) }),
            false => self.inner.fence(account),
        }
    }
    fn describe(&self, key: &Key) -> String {
        self.inner.describe(key)
    }
}

#[tokio::test]
async fn a_session_lost_during_the_late_checks_is_no_move_and_no_bad_record() {
    let (server, client) = start().await;
    let dir = temp_dir("late-lost");
    let at = StateLocation::Dir(dir.join("state"));
    let policy = wanted(&dir.join("wanted.secret"), "");
    let held = plant_held(&server, &client, &at, false).await;
    client
        .apply(&policy, None, &ApplyOptions::new(at.clone()))
        .await
        .unwrap();
    let late = land(&client, &held).await;
    let plan = planned(&client, &policy, &at).await;
    assert_eq!(plan.count(ActionKind::Delete), 1, "{plan:#?}");
    // The session is lost once the apply's plan is made.
    let lost = Arc::new(AtomicBool::new(false));
    let store = Arc::new(Lost {
        inner: DirStore::open(&dir.join("state")).await.unwrap(),
        lost: lost.clone(),
    });
    let options = ApplyOptions::new(at.clone())
        .store(store)
        .on_plan(move |_| lost.store(true, Ordering::SeqCst));
    let report = match client.apply(&policy, None, &options).await {
        Err(ApplyError::SessionLost { report, .. }) => report,
        other => panic!("the apply stops with the loss: {other:#?}"),
    };
    for row in &report.results {
        assert_ne!(row.result, Applied::Moved, "nothing moved: {report:#?}");
        assert_ne!(
            row.result,
            Applied::Refused,
            "no record refused: {report:#?}"
        );
        assert!(
            !row.detail.contains("remove it once checked"),
            "{report:#?}"
        );
    }
    assert_eq!(server.token_status(&late).as_deref(), Some("Active"));
    let _ = std::fs::remove_dir_all(&dir);
}
