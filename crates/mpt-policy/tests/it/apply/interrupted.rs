//! What the rows say of work this apply began and did not see end: a rotation's create whose
//! answer was lost (interrupted before it looked for what it made, or with a twin made by hand
//! at the same time), and a resumed rotation given up on after its record was removed. Faults
//! are armed by a store of the test's, at the step they are about: no timing.

use futures_util::future::BoxFuture;
use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::state::{DirStore, Key, Kind, Pending, Store};
use mpt_policy::{Applied, ApplyOptions, StoreError};

use super::held::{FAILING, entry, writing};
use super::*;
use crate::common::*;

/// What a hook sees: a record saved (its JSON), or removed.
pub(super) type Hook = Box<dyn Fn(&Key, Option<&str>) + Send + Sync>;

/// A directory store that calls `hook` after each record it saves or removes.
pub(super) struct Hooked {
    inner: DirStore,
    hook: Hook,
}

impl Store for Hooked {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner.save(key, json).await?;
            (self.hook)(key, Some(json));
            Ok(())
        })
    }
    fn load<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        self.inner.load(key)
    }
    fn remove<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner.remove(key).await?;
            (self.hook)(key, None);
            Ok(())
        })
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

/// A rotation record saved right before its create is sent (`planned`, `createSent`).
pub(super) fn before_create(key: &Key, json: Option<&str>) -> bool {
    key.kind == Kind::Rotation
        && json.is_some_and(|j| j.contains("\"planned\"") && j.contains("\"createSent\": true"))
}

pub(super) async fn hooked(dir: &Path, hook: Hook) -> Arc<Hooked> {
    let inner = DirStore::open(&dir.join("state")).await.unwrap();
    Arc::new(Hooked { inner, hook })
}

/// A rotation's create is sent and its answer lost, and the interrupt comes while the apply
/// looks for what it made: the row is `outcomeUnknown` (the create was sent, its answer not
/// seen), never "not attempted"; the record is kept, and the next apply adopts the replacement.
#[tokio::test]
async fn a_rotation_interrupted_after_its_create_lost_its_answer_is_outcome_unknown() {
    let (server, client) = start().await;
    let server = Arc::new(server);
    let old = server.seed_token(seed("rot").created(Utc::now() - Days::days(100)));
    let dir = temp_dir("lost-create-interrupted");
    let out = dir.join("delivered");
    let declared = entry("rot", "", &writing(&out));
    // Right before the create: its answer dropped, and the look for what it made held.
    let faults = server.clone();
    let store = hooked(
        &dir,
        Box::new(move |key, json| {
            if before_create(key, json) {
                let rules = Faults::none()
                    .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create]))
                    .with(FaultRule::once(Fault::Hold).only([Operation::List]));
                faults.set_faults(rules).unwrap();
            }
        }),
    )
    .await;
    let options = ApplyOptions::new(dir.join("unused")).store(store);
    let cancel = mpt::Cancel::new();
    let interrupt = async {
        while server.held() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
    };
    let cancellable = client.with_cancel(cancel.clone());
    let (report, ()) = tokio::join!(cancellable.apply(&declared, None, &options), interrupt);
    server.release_held();
    let report = report.unwrap();
    let row = result_of(&report.results, "rot");
    assert_eq!(row.result, Applied::OutcomeUnknown, "{row:#?}");
    assert!(row.detail.contains("this run sent the create"), "{row:#?}");
    assert!(!row.detail.contains("not attempted"), "{row:#?}");
    assert_eq!(server.tokens_created(), 1, "the create was made");
    drop(options);
    let key = Key::rotation(DEFAULT_ACCOUNT, &old.id);
    let store = DirStore::open(&dir.join("state")).await.unwrap();
    assert!(
        store.load(&key).await.unwrap().is_some(),
        "the record is kept"
    );
    drop(store);
    // The next apply adopts what the create made, and makes nothing.
    server.set_faults(Faults::none()).unwrap();
    let report = client
        .apply(&declared, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.count(Applied::Adopted), 1, "{report:#?}");
    assert_eq!(server.tokens_created(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A create record saved right before its create is sent (no `newId` yet).
pub(super) fn before_plain_create(key: &Key, json: Option<&str>) -> bool {
    key.kind == Kind::Create && json.is_some_and(|j| j.contains("\"newId\": null"))
}

/// A plain create is sent and its answer lost, and the interrupt comes while the apply looks
/// for what it made: the row is `outcomeUnknown` as a rotation's (the create was sent, its
/// answer not seen), counted among the failed; the record is kept, and the next apply adopts the
/// token the create made.
#[tokio::test]
async fn a_create_interrupted_after_it_lost_its_answer_is_outcome_unknown() {
    let (server, client) = start().await;
    let server = Arc::new(server);
    let dir = temp_dir("lost-plain-create-interrupted");
    let declared = entry("new", "", &writing(&dir.join("delivered")));
    let faults = server.clone();
    let store = hooked(
        &dir,
        Box::new(move |key, json| {
            if before_plain_create(key, json) {
                let rules = Faults::none()
                    .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create]))
                    .with(FaultRule::once(Fault::Hold).only([Operation::List]));
                faults.set_faults(rules).unwrap();
            }
        }),
    )
    .await;
    let options = ApplyOptions::new(dir.join("unused")).store(store);
    let cancel = mpt::Cancel::new();
    let interrupt = async {
        while server.held() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
    };
    let cancellable = client.with_cancel(cancel.clone());
    let (report, ()) = tokio::join!(cancellable.apply(&declared, None, &options), interrupt);
    server.release_held();
    let report = report.unwrap();
    let row = result_of(&report.results, "new");
    assert_eq!(row.result, Applied::OutcomeUnknown, "{row:#?}");
    assert!(row.detail.contains("this run sent the create"), "{row:#?}");
    assert!(row.detail.contains("the record is kept"), "{row:#?}");
    assert!(!row.detail.contains("not attempted"), "{row:#?}");
    assert_eq!(
        report.failed(),
        1,
        "counted as a rotation's is: {report:#?}"
    );
    assert_eq!(server.tokens_created(), 1, "the create was made");
    drop(options);
    let key = Key::create(DEFAULT_ACCOUNT, "new");
    let store = DirStore::open(&dir.join("state")).await.unwrap();
    assert!(
        store.load(&key).await.unwrap().is_some(),
        "the record is kept"
    );
    drop(store);
    // The next apply adopts what the create made, and makes nothing.
    server.set_faults(Faults::none()).unwrap();
    let report = client
        .apply(&declared, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.count(Applied::Adopted), 1, "{report:#?}");
    assert_eq!(server.tokens_created(), 1);
    assert_eq!(live_named(&client, "new").await.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rotation's create loses its answer while a twin of the name is made by hand: the row says
/// this run's create lost its answer (its cause, the candidates), never that an earlier run
/// stopped before saving.
#[tokio::test]
async fn a_lost_create_with_a_twin_made_meanwhile_is_said_to_be_this_runs() {
    let (server, client) = start().await;
    let server = Arc::new(server);
    server.seed_token(seed("rot").created(Utc::now() - Days::days(100)));
    let dir = temp_dir("lost-create-twin");
    let declared = entry("rot", "", &writing(&dir.join("delivered")));
    let faults = server.clone();
    let store = hooked(
        &dir,
        Box::new(move |key, json| {
            if before_create(key, json) {
                faults.seed_token(seed("rot"));
                let rule = FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create]);
                faults.set_faults(Faults::none().with(rule)).unwrap();
            }
        }),
    )
    .await;
    let options = ApplyOptions::new(dir.join("unused")).store(store);
    let report = client.apply(&declared, None, &options).await.unwrap();
    let row = result_of(&report.results, "rot");
    assert_eq!(row.result, Applied::Failed, "{row:#?}");
    assert!(row.detail.contains("its answer was lost"), "{row:#?}");
    assert!(!row.detail.contains("an earlier run"), "{row:#?}");
    assert_eq!(live_named(&client, "rot").await.len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A resumed rotation of an entry declared Disabled, given up on while the disable of its
/// replacement is in flight, after its record was removed: the row says so (not that what it
/// began is in the state), destructive as the plan's row of it.
#[tokio::test]
async fn a_resume_given_up_on_after_its_record_was_removed_says_so() {
    let (server, client) = start().await;
    let server = Arc::new(server);
    let old = server.seed_token(seed("rot").created(Utc::now() - Days::days(100)));
    let dir = temp_dir("given-up-after-record");
    let state = dir.join("state");
    let options = ApplyOptions::new(state.clone());
    let report = client
        .apply(&entry("rot", "", FAILING), None, &options)
        .await
        .unwrap();
    assert_eq!(result_of(&report.results, "rot").result, Applied::Failed);
    let disabled = entry(
        "rot",
        "status = \"Disabled\"",
        &writing(&dir.join("delivered")),
    );
    // Once the record is removed (the rotation finished), the replacement's disable is held.
    let faults = server.clone();
    let store = hooked(
        &dir,
        Box::new(move |key, json| {
            if key.kind == Kind::Rotation && json.is_none() {
                let rule = FaultRule::once(Fault::Hold).only([Operation::Disable]);
                faults.set_faults(Faults::none().with(rule)).unwrap();
            }
        }),
    )
    .await;
    let give_up = mpt::Cancel::new();
    let cancel = mpt::Cancel::new();
    let options = ApplyOptions::new(dir.join("unused"))
        .store(store)
        .allow_destroy(true)
        .give_up(give_up.clone());
    let interrupt = async {
        while server.held() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        give_up.cancel();
    };
    let cancellable = client.with_cancel(cancel.clone());
    let (report, ()) = tokio::join!(cancellable.apply(&disabled, None, &options), interrupt);
    server.release_held();
    let report = report.unwrap();
    let row = result_of(&report.results, "rot");
    assert_eq!(row.result, Applied::OutcomeUnknown, "{row:#?}");
    assert!(row.detail.contains("after its record"), "{row:#?}");
    assert!(!row.detail.contains("is in the state"), "{row:#?}");
    assert!(row.action.destructive, "{row:#?}");
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A create's answer is lost, and while the apply looks for what it made an administrator
/// clones the token it made (its description, the marker's tag included): refused (two carry
/// the marker), and the row says what is true: this run sent the create, its answer was lost,
/// the record is kept; never that nothing was sent for it.
#[tokio::test]
async fn a_lost_create_whose_token_is_cloned_meanwhile_says_this_run_sent_it() {
    let (server, client) = start().await;
    let server = Arc::new(server);
    let dir = temp_dir("lost-create-cloned");
    let out = dir.join("delivered");
    let declared = entry("made", "", &writing(&out));
    let faults = server.clone();
    let store = hooked(
        &dir,
        Box::new(move |key, json| {
            if key.kind == Kind::Create && json.is_some_and(|j| j.contains("\"newId\": null")) {
                let rules = Faults::none()
                    .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create]))
                    .with(FaultRule::once(Fault::Hold).only([Operation::List]));
                faults.set_faults(rules).unwrap();
            }
        }),
    )
    .await;
    let options = ApplyOptions::new(dir.join("unused")).store(store);
    let clone = async {
        for _ in 0..3000 {
            if server.held() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            server.held(),
            1,
            "the look for what the create made is held"
        );
        let made = live_named(&client, "made").await;
        assert_eq!(made.len(), 1, "the create landed: {made:?}");
        let copy = mpt::NewToken::new(DEFAULT_ACCOUNT, "made")
            .modules([DEFAULT_MODULE])
            .description(made[0].description().unwrap_or_default());
        client.create(&copy).await.unwrap();
        server.release_held();
    };
    let (report, ()) = tokio::join!(client.apply(&declared, None, &options), clone);
    let report = report.unwrap();
    let row = result_of(&report.results, "made");
    assert_eq!(row.result, Applied::Refused, "{row:#?}");
    assert!(row.detail.contains("this run sent the create"), "{row:#?}");
    assert!(row.detail.contains("answer was lost"), "{row:#?}");
    assert!(row.detail.contains("all carry a marker"), "{row:#?}");
    // Never advice that loses the record of the one that is ours (tester round 18).
    assert!(!row.detail.contains("then the record"), "{row:#?}");
    assert!(!row.detail.contains("nothing was sent"), "{row:#?}");
    assert!(!out.exists(), "no secret handed over");
    assert_eq!(server.tokens_created(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
