//! A store of the caller's (`ApplyOptions::store`), and the fence every change waits for: a
//! store that stops proving its lock stops the apply before its next change, whatever the
//! store (no database needed here).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::BoxFuture;
use mpt_policy::state::{DirStore, Key, Kind, Pending, Store};
use mpt_policy::{Applied, ApplyError, ApplyOptions, StoreError};

use super::*;
use crate::common::*;

/// A directory store whose lock is proven `allowed` times, then lost.
struct Losing {
    inner: DirStore,
    fences: AtomicUsize,
    allowed: usize,
}

impl Store for Losing {
    fn save<'a>(&'a self, key: &'a Key, json: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.save(key, json)
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
    let store = Arc::new(Losing {
        inner: DirStore::open(&dir.join("state")).await.unwrap(),
        fences: AtomicUsize::new(0),
        allowed: 3,
    });
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
