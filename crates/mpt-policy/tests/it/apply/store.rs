//! A store of the caller's (`ApplyOptions::store`), and the fence every change waits for: a
//! store that stops proving its lock stops the apply before its next change, whatever the
//! store (no database needed here). The apply's client proves the lock again right before
//! every request of a change (a retry after a `429`'s wait too), and the apply proves it once
//! more at its end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::BoxFuture;
use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::state::{DirStore, Key, Kind, Pending, Store};
use mpt_policy::{Applied, ApplyError, ApplyOptions, StoreError};

use super::*;
use crate::common::*;

/// A directory store whose lock is proven `allowed` times, then lost, and that saves
/// `saves` records, then fails to.
struct Losing {
    inner: DirStore,
    fences: AtomicUsize,
    allowed: usize,
    saved: AtomicUsize,
    saves: usize,
}

impl Store for Losing {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        if self.saved.fetch_add(1, Ordering::SeqCst) < self.saves {
            self.inner.save(key, json)
        } else {
            Box::pin(async { Err(StoreError::Refused("the save failed (a test's)".into())) })
        }
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
        Box::pin(async move {
            if self.fences.fetch_add(1, Ordering::SeqCst) < self.allowed {
                self.inner.fence(account).await
            } else {
                Err(StoreError::Refused("the lock is gone (a test's)".into()))
            }
        })
    }
    fn describe(&self, key: &Key) -> String {
        self.inner.describe(key)
    }
}

/// A [`Losing`] store in `dir`, its lock proven `allowed` times, every save made.
async fn losing(dir: &std::path::Path, allowed: usize) -> Arc<Losing> {
    losing_saves(dir, allowed, usize::MAX).await
}

/// A [`Losing`] store in `dir`, its lock proven `allowed` times, `saves` saves made.
async fn losing_saves(dir: &std::path::Path, allowed: usize, saves: usize) -> Arc<Losing> {
    Arc::new(Losing {
        inner: DirStore::open(&dir.join("state")).await.unwrap(),
        fences: AtomicUsize::new(0),
        allowed,
        saved: AtomicUsize::new(0),
        saves,
    })
}

#[tokio::test]
async fn a_store_that_stops_proving_its_lock_stops_the_apply_before_its_next_change() {
    let (server, client) = start().await;
    let dir = temp_dir("losing-store");
    let mut text = format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n");
    for i in 1..=6 {
        text.push_str(&format!(
            "[[accounts.tokens]]\nname = \"t{i}\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
            dir.join(format!("t{i}.secret")).display()
        ));
    }
    let wanted = policy(&text);
    // Each create proves the lock four times: before the action, right before each of its
    // two requests (the create, and the update that puts its description back), and right
    // before its sink.
    let store = losing(&dir, 12).await;
    let options = ApplyOptions::new(dir.join("unused"))
        .store(store)
        .concurrency(1);
    let err = client.apply(&wanted, None, &options).await.unwrap_err();
    let ApplyError::SessionLost {
        actions, report, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        err.to_string()
            .contains("lost the state store's session after 3 actions; nothing more was sent"),
        "{err}"
    );
    assert_eq!(*actions, 3);
    assert_eq!(report.count(Applied::Changed), 3, "{report:#?}");
    assert_eq!(report.count(Applied::NotAttempted), 3, "{report:#?}");
    // What it says is what the platform holds: three made, nothing after the loss.
    assert_eq!(server.tokens_created(), 3);
    // The caller's store was used, and the location never opened.
    assert!(!dir.join("unused").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A policy of one account, its tokens `entries` (TOML of each `[[accounts.tokens]]`).
fn one_account(entries: &str) -> mpt_policy::Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n{entries}"
    ))
}

/// The change of `op` answered `429` with `Retry-After: 1` (not carried out) once.
fn refused_once(op: Operation) -> Faults {
    let refused = Fault::RateLimited {
        retry_after: Duration::from_secs(1),
    };
    Faults::none().with(FaultRule::once(refused).only([op]))
}

/// The tester's round-14 finding 1: a delete answered `429` with `Retry-After` while the lock
/// is lost during the wait is never sent again (another apply may have declared the token
/// Active meanwhile): its row is not `changed` and says the platform refused the first attempt
/// and the retry was not sent, the apply ends with the session lost, and the token is Active.
#[tokio::test]
async fn a_delete_retry_is_not_sent_once_the_lock_is_lost_during_its_wait() {
    let (server, client) = start().await;
    let dir = temp_dir("losing-retry-delete");
    let doomed = server.seed_token(seed("doomed"));
    server.set_faults(refused_once(Operation::Delete)).unwrap();
    // Proven before the delete and right before its first send; lost before the retry.
    let store = losing(&dir, 2).await;
    let options = ApplyOptions::new(dir.join("unused"))
        .store(store.clone())
        .allow_destroy(true);
    let wanted = one_account("[[accounts.tokens]]\nname = \"doomed\"\nstatus = \"absent\"\n");
    let err = client.apply(&wanted, None, &options).await.unwrap_err();
    let ApplyError::SessionLost { report, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        server.requests(Operation::Delete),
        1,
        "the retry never went"
    );
    assert_eq!(server.token_status(&doomed.id).as_deref(), Some("Active"));
    assert_eq!(
        store.fences.load(Ordering::SeqCst),
        3,
        "asked before the retry"
    );
    let row = &report.results[0];
    assert_eq!(row.result, Applied::Failed, "{row:#?}");
    assert!(
        row.detail.contains(
            "the platform answered the first attempt 429 Too Many Requests, which does not prove"
        ) && row.detail.contains("the retry was not sent")
            && row.detail.contains("nothing happened"),
        "{}",
        row.detail
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A create answered `429` with `Retry-After` while the lock is lost during the wait is never
/// sent again: nothing was made (no second token of the name beside another apply's), and the
/// row says so.
#[tokio::test]
async fn a_create_retry_is_not_sent_once_the_lock_is_lost_during_its_wait() {
    let (server, client) = start().await;
    let dir = temp_dir("losing-retry-create");
    server.set_faults(refused_once(Operation::Create)).unwrap();
    let store = losing(&dir, 2).await;
    let options = ApplyOptions::new(dir.join("unused")).store(store);
    let wanted = one_account(&format!(
        "[[accounts.tokens]]\nname = \"made\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        dir.join("made.secret").display()
    ));
    let err = client.apply(&wanted, None, &options).await.unwrap_err();
    let ApplyError::SessionLost { report, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        server.requests(Operation::Create),
        1,
        "the retry never went"
    );
    assert_eq!(server.tokens_created(), 0);
    let row = &report.results[0];
    assert_eq!(row.result, Applied::Failed, "{row:#?}");
    assert!(
        row.detail.contains("the retry was not sent") && row.detail.contains("nothing was made"),
        "{}",
        row.detail
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An apply whose changes went while its lock was proven, and whose lock cannot be proven at
/// its end, ends with the session lost (never as a success): its rows stay as they happened.
#[tokio::test]
async fn an_apply_that_cannot_prove_its_lock_at_its_end_is_not_a_success() {
    let (server, client) = start().await;
    let dir = temp_dir("losing-at-end");
    let stray = server.seed_token(seed("stray"));
    // Proven before the disable and right before it; not at the end.
    let store = losing(&dir, 2).await;
    let options = ApplyOptions::new(dir.join("unused")).store(store);
    let wanted = one_account(&format!(
        "[[accounts.tokens]]\nname = \"stray\"\nstatus = \"Disabled\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
    ));
    let err = client.apply(&wanted, None, &options).await.unwrap_err();
    let ApplyError::SessionLost { report, why, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(why.contains("could not be proven at the end"), "{why}");
    assert_eq!(report.count(Applied::Changed), 1, "{report:#?}");
    assert_eq!(server.token_status(&stray.id).as_deref(), Some("Disabled"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The tester's round-16 finding 2: a delete the platform carried out, answered `429` by a
/// gateway, its lock lost during the wait: the retry is not sent, and the row does not say
/// nothing happened: a read shows the token gone, and the row says so (`unconfirmed`).
#[tokio::test]
async fn a_delete_answered_429_after_the_work_says_what_a_read_shows_when_the_lock_is_lost() {
    let (server, client) = start().await;
    let dir = temp_dir("losing-retry-delete-done");
    let doomed = server.seed_token(seed("doomed"));
    let late = FaultRule::once(Fault::StatusAfterProcessing(429)).only([Operation::Delete]);
    server.set_faults(Faults::none().with(late)).unwrap();
    let store = losing(&dir, 2).await;
    let options = ApplyOptions::new(dir.join("unused"))
        .store(store)
        .allow_destroy(true);
    let wanted = one_account("[[accounts.tokens]]\nname = \"doomed\"\nstatus = \"absent\"\n");
    let err = client.apply(&wanted, None, &options).await.unwrap_err();
    let ApplyError::SessionLost { report, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        server.requests(Operation::Delete),
        1,
        "the retry never went"
    );
    assert_ne!(server.token_status(&doomed.id).as_deref(), Some("Active"));
    let row = &report.results[0];
    assert_eq!(row.result, Applied::Unconfirmed, "{row:#?}");
    assert!(
        row.detail.contains("the retry was not sent")
            && row.detail.contains("the first attempt did it")
            && !row.detail.contains("nothing happened")
            && !row.detail.contains("not carried out)"),
        "{}",
        row.detail
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A policy of one account declaring `made`, its secret to a file in `dir`.
fn made_in(dir: &std::path::Path) -> mpt_policy::Policy {
    one_account(&format!(
        "[[accounts.tokens]]\nname = \"made\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        dir.join("made.secret").display()
    ))
}

/// Tester round 19, F1: an apply whose lock is lost once its create landed (its PostgreSQL
/// session ended while the create was held in a gateway: another apply may have given its
/// record up and made the name's token itself) does not run the sink: the token's secret goes
/// nowhere, and the row says so. With the lock its record still holds, the next apply hands
/// it over.
#[tokio::test]
async fn a_made_tokens_secret_is_not_handed_over_once_the_lock_is_lost_before_its_sink() {
    let (server, client) = start().await;
    let dir = temp_dir("losing-before-sink");
    // Proven before the action and right before its two requests; lost before the sink.
    let store = losing(&dir, 3).await;
    let options = ApplyOptions::new(dir.join("unused")).store(store);
    let wanted = made_in(&dir);
    let err = client.apply(&wanted, None, &options).await.unwrap_err();
    let ApplyError::SessionLost { report, .. } = &err else {
        panic!("{err:?}")
    };
    let row = &report.results[0];
    assert_eq!(row.result, Applied::Failed, "{row:#?}");
    assert!(
        row.detail
            .contains("its secret is not handed over: the account's lock could not be proven"),
        "{}",
        row.detail
    );
    assert!(!dir.join("made.secret").exists(), "the sink never ran");
    assert_eq!(server.live_tokens(), 1);
    // The record (with its id) is the lock's: the next apply hands the secret over.
    drop(options);
    let report = client
        .apply(&wanted, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    assert_eq!(report.count(Applied::Adopted), 1, "{report:#?}");
    let (id, _) = server.live_token_names().remove(0);
    let secret = std::fs::read_to_string(dir.join("made.secret")).unwrap();
    // The mock's secrets name their token.
    assert!(secret.starts_with(&format!("idt:{id}:")), "{id}");
    assert_eq!(server.live_tokens(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Tester round 19, F2: a made token whose id could not be saved in its record keeps its
/// create's marker (the record finds it by it), and a token carrying a marker is never handed
/// over (a late landing's evidence is that nobody holds its secret): the sink does not run,
/// and the next apply finds it, puts its description back and hands it over.
#[tokio::test]
async fn a_made_token_still_carrying_its_marker_is_not_handed_over() {
    let (server, client) = start().await;
    let dir = temp_dir("unsaved-before-sink");
    // The record saved before the create; its id, after, not.
    let store = losing_saves(&dir, usize::MAX, 1).await;
    let options = ApplyOptions::new(dir.join("unused")).store(store);
    let wanted = made_in(&dir);
    let report = client.apply(&wanted, None, &options).await.unwrap();
    let row = &report.results[0];
    assert_eq!(row.result, Applied::Failed, "{row:#?}");
    assert!(
        row.detail
            .contains("its secret is not handed over: its id could not be saved in its record"),
        "{}",
        row.detail
    );
    assert!(!dir.join("made.secret").exists(), "the sink never ran");
    let (id, _) = server.live_token_names().remove(0);
    let tagged = client.get(&id).await.unwrap();
    assert!(
        tagged
            .description()
            .is_some_and(|d| d.contains("[mpt: being made")),
        "{tagged:?}"
    );
    drop(options);
    let report = client
        .apply(&wanted, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    assert_eq!(report.count(Applied::Adopted), 1, "{report:#?}");
    let token = client.get(&id).await.unwrap();
    assert!(
        !token
            .description()
            .is_some_and(|d| d.contains("[mpt: being made")),
        "{token:?}"
    );
    assert!(dir.join("made.secret").exists());
    assert_eq!(server.live_tokens(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Tester round 19, F2: a rotation's replacement was handed to its sink before its description
/// (still carrying its create's marker) was put back, so a delivered token could carry one,
/// and a forged `late` record could have it deleted as nobody's. Now the description is put
/// back first: when that fails, the secret goes nowhere, and the next apply finishes the
/// rotation.
#[tokio::test]
async fn a_rotations_replacement_is_handed_over_only_once_its_description_is_put_back() {
    let (server, client) = start().await;
    let dir = temp_dir("rotation-restore-first");
    let file = dir.join("wanted.secret");
    let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(100)));
    let refused = FaultRule::first(10, Fault::Status(422)).only([Operation::Update]);
    server.set_faults(Faults::none().with(refused)).unwrap();
    let wanted = rotated(&file);
    let options = ApplyOptions::new(dir.join("state"));
    let report = client.apply(&wanted, None, &options).await.unwrap();
    let row = result_of(&report.results, "wanted");
    assert_eq!(row.result, Applied::Failed, "{row:#?}");
    assert!(
        row.detail.contains("could not be put back")
            && row.detail.contains("its secret is not handed over yet"),
        "{}",
        row.detail
    );
    assert!(!file.exists(), "the sink never ran");
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
    server.set_faults(Faults::none()).unwrap();
    let report = client.apply(&wanted, None, &options).await.unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    let live = live_named(&client, "wanted").await;
    assert_eq!(live.len(), 1, "{live:#?}");
    assert_ne!(live[0].id(), old.id);
    assert!(file.exists(), "handed over by the next apply");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rotation whose record stops saving after each of its steps says what was done before it
/// stopped, as the platform shows it: the replacement made and handed over, the old token
/// disabled (tester round 21, N5: a row said only "the rotation's plan could not be saved",
/// `failed`, while its replacement was live and handed over and its old token disabled).
#[tokio::test]
async fn a_rotation_whose_record_stops_saving_says_what_it_did() {
    let mut seen = std::collections::BTreeSet::new();
    for saves in 1..=5 {
        let (server, client) = start().await;
        let dir = temp_dir("rotation-unsaved");
        let file = dir.join("wanted.secret");
        let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(100)));
        let wanted = rotated(&file);
        let store = losing_saves(&dir, usize::MAX, saves).await;
        let options = ApplyOptions::new(dir.join("unused")).store(store);
        let report = client.apply(&wanted, None, &options).await.unwrap();
        let row = result_of(&report.results, "wanted");
        if !row.detail.contains("could not be saved") {
            continue;
        }
        let new: Vec<String> = live_named(&client, "wanted")
            .await
            .iter()
            .map(|t| t.id().to_string())
            .filter(|id| *id != old.id)
            .collect();
        let old_now = server.token_status(&old.id);
        let made = new.len() == 1 && file.exists();
        seen.insert((made, old_now.clone()));
        if made {
            assert!(row.detail.contains(&new[0]), "{saves}: {}", row.detail);
            assert!(
                row.detail.contains("handed over") || row.detail.contains("in use"),
                "{saves}: {}",
                row.detail
            );
        }
        match old_now.as_deref() {
            Some("Disabled") => assert!(
                row.detail.contains(&format!("{} disabled", old.id)),
                "{saves}: {}",
                row.detail
            ),
            Some("Active") if made => {
                assert!(row.detail.contains("untouched"), "{saves}: {}", row.detail)
            }
            _ => {}
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    // The save after the replacement's verification, and the one after the retire, both met.
    assert!(seen.contains(&(true, Some("Active".into()))), "{seen:?}");
    assert!(seen.contains(&(true, Some("Disabled".into()))), "{seen:?}");
}

/// A rotation whose lock is lost after its retire says the old token was disabled by this run,
/// whatever stopped it after (tester round 25, F5: "nothing was sent", while this run had
/// disabled the old token).
#[tokio::test]
async fn a_rotation_stopped_after_its_retire_says_it_disabled_the_old_token() {
    let mut met = false;
    for allowed in 1..=24 {
        let (server, client) = start().await;
        let dir = temp_dir("rotation-lost-after-retire");
        let file = dir.join("wanted.secret");
        let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(100)));
        let wanted = rotated(&file);
        let store = losing(&dir, allowed).await;
        let options = ApplyOptions::new(dir.join("unused")).store(store);
        let report = match client.apply(&wanted, None, &options).await {
            Ok(report) => report,
            Err(ApplyError::SessionLost { report, .. }) => report,
            Err(e) => panic!("{allowed}: {e}"),
        };
        let _ = std::fs::remove_dir_all(&dir);
        let row = result_of(&report.results, "wanted");
        let stopped = !matches!(row.result, Applied::Changed);
        if stopped && server.token_status(&old.id).as_deref() == Some("Disabled") {
            met = true;
            assert!(
                row.detail
                    .contains(&format!("{} was disabled by this run", old.id)),
                "{allowed}: {}",
                row.detail
            );
        }
    }
    assert!(met, "no lock lost between the retire and the delete");
}

/// A policy declaring `wanted`, rotated after 90 days, its secret to `file`.
fn rotated(file: &std::path::Path) -> mpt_policy::Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"wanted\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        file.display()
    ))
}
