//! The first interrupt does not wait for a store that stalls while it saves a record before
//! anything is sent for the record's action (a create's, a rotation's plan): that save is
//! abandoned, the action is not attempted (nothing sent: the mock counts no create), and the
//! apply returns while the save is still held. The save landed all the same (as a stopped
//! database backend's may): the next apply finds a record whose create made nothing, and
//! creates. The stall is armed by the test's store at the save it is about: no timing.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::state::{DirStore, Key, Kind, Pending, Store};
use mpt_policy::{Applied, ApplyOptions, StoreError};

use super::held::entry;
use super::interrupted::{before_create, before_plain_create};
use super::*;
use crate::common::*;

/// Which saves stall.
type Stalls = fn(&Key, Option<&str>) -> bool;

/// A directory store whose saves that `stalls` picks are written, then never answered (a
/// database whose backend stopped after it committed); `held` is set once one is.
struct Stalling {
    inner: DirStore,
    stalls: Stalls,
    held: Arc<AtomicBool>,
    /// Set if a held save ever returned (never: it is only ever dropped).
    finished: Arc<AtomicBool>,
}

impl Store for Stalling {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner.save(key, json).await?;
            if (self.stalls)(key, Some(json)) {
                self.held.store(true, Ordering::SeqCst);
                std::future::pending::<()>().await;
                self.finished.store(true, Ordering::SeqCst);
            }
            Ok(())
        })
    }
    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        self.inner.load(key)
    }
    fn remove<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.remove(key)
    }
    fn pending<'a>(
        &'a self,
        kind: Kind,
        accounts: &'a [String],
    ) -> BoxFuture<'a, Result<Pending, StoreError>> {
        self.inner.pending(kind, accounts)
    }
    fn fence<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.fence(account)
    }
    fn describe(&self, key: &Key) -> String {
        self.inner.describe(key)
    }
}

/// A rotation's plan saved first, before its start (no create sent yet).
fn plan_saved_first(key: &Key, json: Option<&str>) -> bool {
    key.kind == Kind::Rotation && json.is_some_and(|j| j.contains("\"createSent\": false"))
}

/// For a create, a rotation's first save and a rotation's save before its create: the save
/// held, then the interrupt. The action is `notAttempted` ("nothing was sent"), no create was
/// sent, and the apply returns with the save still held (without the fix it waited for it until
/// the give-up after the grace, and reported the action `outcomeUnknown`). The record landed:
/// the next apply makes the token (or the replacement) once.
#[tokio::test]
async fn an_interrupt_abandons_a_stalled_save_before_the_create_and_nothing_is_sent() {
    let cases: [(&str, Stalls, bool); 3] = [
        ("create", before_plain_create, false),
        ("rotation's first save", plan_saved_first, true),
        ("rotation's save before its create", before_create, true),
    ];
    for (case, stalls, rotates) in cases {
        let (server, client) = start().await;
        let old =
            rotates.then(|| server.seed_token(seed("rot").created(Utc::now() - Days::days(100))));
        let name = if rotates { "rot" } else { "new" };
        let dir = temp_dir("stalled-save");
        let out = dir.join("delivered");
        let declared = entry(name, "", &format!("{{ file = \"{}\" }}", out.display()));
        let (held, finished) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let store = Arc::new(Stalling {
            inner: DirStore::open(&dir.join("state")).await.unwrap(),
            stalls,
            held: held.clone(),
            finished: finished.clone(),
        });
        let give_up = mpt::Cancel::new();
        let cancel = mpt::Cancel::new();
        let options = ApplyOptions::new(dir.join("unused"))
            .store(store)
            .give_up(give_up.clone());
        // The interrupt once the save is held; the give-up (the CLI's end of its grace) only
        // if the apply is still waiting for that save long after.
        let interrupt = async {
            while !held.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            cancel.cancel();
            tokio::time::sleep(Duration::from_secs(10)).await;
            give_up.cancel();
            std::future::pending::<()>().await
        };
        let cancellable = client.with_cancel(cancel.clone());
        let applying = cancellable.apply(&declared, None, &options);
        let report = tokio::select! {
            report = applying => report.unwrap(),
            () = interrupt => unreachable!(),
        };
        let row = result_of(&report.results, name);
        assert_eq!(row.result, Applied::NotAttempted, "{case}: {row:#?}");
        assert!(row.detail.contains("nothing was sent"), "{case}: {row:#?}");
        assert!(
            !finished.load(Ordering::SeqCst),
            "{case}: the held save never ended"
        );
        assert_eq!(
            server.requests(Operation::Create),
            0,
            "{case}: no create sent"
        );
        assert_eq!(report.failed(), 0, "{case}: {report:#?}");
        drop(options);
        // The save landed: the next apply finds a record whose create made nothing, and makes
        // the token (or the replacement) once.
        let report = client
            .apply(&declared, None, &ApplyOptions::new(dir.join("state")))
            .await
            .unwrap();
        assert_eq!(report.failed(), 0, "{case}: {report:#?}");
        assert_eq!(server.tokens_created(), 1, "{case}: {report:#?}");
        let live = live_named(&client, name).await;
        assert_eq!(live.len(), 1, "{case}: {live:#?}");
        if let Some(old) = old {
            assert_eq!(
                server.token_status(&old.id).as_deref(),
                Some("Deleted"),
                "{case}"
            );
        }
        assert!(out.exists(), "{case}: the secret handed over");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A create record saved with the id of the token its create made.
fn with_new_id(key: &Key, json: Option<&str>) -> bool {
    key.kind == Kind::Create && json.is_some_and(|j| j.contains("\"newId\": \"TKN-"))
}

/// The save after the create answered (its new id) stalls, then the interrupt: the apply does
/// not wait for it (the record at `planned` finds the token by its marker), and its row says
/// what happened on the platform (made, never "not attempted"); it returns with the save still
/// held (without the fix it waited until the give-up and reported the create `outcomeUnknown`).
/// The token still carries its marker, so its secret is not handed over (a carrier is one
/// nobody holds: tester round 19): the next apply hands it over, and makes nothing more.
#[tokio::test]
async fn an_interrupt_does_not_wait_for_a_stalled_save_after_the_create() {
    let (server, client) = start().await;
    let dir = temp_dir("stalled-save-after");
    let out = dir.join("delivered");
    let declared = entry("new", "", &format!("{{ file = \"{}\" }}", out.display()));
    let (held, finished) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let store = Arc::new(Stalling {
        inner: DirStore::open(&dir.join("state")).await.unwrap(),
        stalls: with_new_id,
        held: held.clone(),
        finished: finished.clone(),
    });
    let (give_up, cancel) = (mpt::Cancel::new(), mpt::Cancel::new());
    let options = ApplyOptions::new(dir.join("unused"))
        .store(store)
        .give_up(give_up.clone());
    let interrupt = async {
        while !held.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        tokio::time::sleep(Duration::from_secs(10)).await;
        give_up.cancel();
        std::future::pending::<()>().await
    };
    let cancellable = client.with_cancel(cancel.clone());
    let report = tokio::select! {
        report = cancellable.apply(&declared, None, &options) => report.unwrap(),
        () = interrupt => unreachable!(),
    };
    let row = result_of(&report.results, "new");
    assert_eq!(row.result, Applied::Failed, "{row:#?}");
    let id = row.new_token_id.clone().unwrap();
    assert!(row.detail.contains(&format!("{id} was made")), "{row:#?}");
    assert!(row.detail.contains("not waited for"), "{row:#?}");
    assert!(
        row.detail.contains("its secret is not handed over"),
        "{row:#?}"
    );
    assert!(
        !finished.load(Ordering::SeqCst),
        "the held save never ended"
    );
    assert!(!out.exists(), "the secret not handed over");
    assert_eq!(server.tokens_created(), 1);
    drop(options);
    let report = client
        .apply(&declared, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.count(Applied::Adopted), 1, "{report:#?}");
    assert_eq!(server.tokens_created(), 1, "{report:#?}");
    let live = live_named(&client, "new").await;
    assert_eq!(live.len(), 1);
    let description = live[0].description().unwrap_or_default();
    assert!(!description.contains("being made"), "put back: {live:#?}");
    assert!(out.exists(), "the secret handed over by the next apply");
    let _ = std::fs::remove_dir_all(&dir);
}
