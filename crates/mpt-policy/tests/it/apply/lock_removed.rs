//! The directory store's lock file removed by hand while an apply holds it (a "stale lock"
//! cleanup, tester round 20, L1): a second apply locks a new file at that path and acts; the
//! first one's flock is on the removed file, which excludes no one, so its proof of the lock
//! (before each change and before a secret goes to a sink) checks that the path still names
//! the file it locked (same device and inode): it no longer does, and the first apply stops as
//! if its lock were lost, handing nothing over and writing no record. So does it when its lock
//! file is put back (a hard link kept aside) after the second apply took the directory (tester
//! round 21, N2): the directory's `holder` file names the second apply then; and when `holder`
//! is put back too (round 22, R2), the record the first apply wrote is no longer as it wrote it.

use std::sync::Arc;

use mpt_policy::{ApplyError, ApplyOptions};

use super::late::wanted;
use crate::common::*;

#[tokio::test]
async fn an_apply_whose_lock_file_was_removed_stops_before_its_sink() {
    for put_back in [PutBack::None, PutBack::Lock, PutBack::Both] {
        removed_then(put_back).await;
    }
}

/// What is put back as it was once the second apply is done.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PutBack {
    None,
    /// `lock` (a hard link kept aside).
    Lock,
    /// `lock` and `holder` (a copy kept aside).
    Both,
}

/// The first apply's lock file removed while its create is held, a second apply run, and the
/// files put back as they were (`put_back`) before the create is answered.
async fn removed_then(put_back: PutBack) {
    let (server, client) = start().await;
    let server = Arc::new(server);
    let dir = temp_dir("lock-removed");
    let state = dir.join("state");
    let file = dir.join("wanted.secret");
    let policy = wanted(&file, "");
    // The first apply's create is held until released.
    server
        .set_faults(Faults::none().with(FaultRule::once(Fault::Hold).only([Operation::Create])))
        .unwrap();
    let options = ApplyOptions::new(state.clone());
    let first = client.apply(&policy, None, &options);
    let second = async {
        while server.held() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if put_back != PutBack::None {
            std::fs::hard_link(state.join("lock"), state.join("lock.kept")).unwrap();
        }
        if put_back == PutBack::Both {
            std::fs::copy(state.join("holder"), state.join("holder.kept")).unwrap();
        }
        std::fs::remove_file(state.join("lock")).unwrap();
        // Another apply locks a new file at that path, gives the first one's record up, makes
        // the entry's token and hands it over.
        let report = client
            .apply(&policy, None, &ApplyOptions::new(state.clone()))
            .await
            .unwrap();
        let made = std::fs::read_to_string(&file).unwrap();
        if put_back != PutBack::None {
            std::fs::rename(state.join("lock.kept"), state.join("lock")).unwrap();
        }
        if put_back == PutBack::Both {
            std::fs::rename(state.join("holder.kept"), state.join("holder")).unwrap();
        }
        server.release_held();
        (report, made)
    };
    let (first, (second, made)) = tokio::join!(first, second);
    assert_eq!(second.failed(), 0, "{second:#?}");
    match first {
        Err(ApplyError::SessionLost { why, .. }) => {
            let words = match put_back {
                PutBack::None => "no longer the file this apply locked",
                PutBack::Lock => "names another apply",
                PutBack::Both => "no longer the record this apply wrote",
            };
            assert!(why.contains(words), "{why}")
        }
        other => panic!("the first apply must stop as if its lock were lost: {other:#?}"),
    }
    // The sink still holds the second apply's token: the first one handed nothing over.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), made);
    assert_eq!(server.tokens_created(), 2);
    // Nor did it write its record again (the second gave it up): the next apply takes its
    // token for the late landing it is, never adopting it over the second's.
    let report = client
        .apply(&policy, None, &ApplyOptions::new(state.clone()))
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(server.live_tokens(), 1, "{report:#?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), made);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first apply's create held past its timeout (its answer lost) while its lock file is
/// removed and a second apply makes the entry's token: the first one's look finds that token,
/// which does not carry its marker. Its lock lost, its row says so and that another apply may
/// hold its record now; it said `refused ... the record is kept`, of a record the second apply
/// had given up (tester round 21, N5: a frozen apply woken after its session was ended).
#[tokio::test]
async fn a_create_that_lost_its_answer_and_its_lock_says_so_not_that_its_record_is_kept() {
    let (server, admin) = start().await;
    let dir = temp_dir("lock-removed-lost");
    let state = dir.join("state");
    let file = dir.join("wanted.secret");
    let policy = wanted(&file, "");
    server
        .set_faults(Faults::none().with(FaultRule::once(Fault::Hold).only([Operation::Create])))
        .unwrap();
    let first_client = mpt::Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .retry(fast_retries(1))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let options = ApplyOptions::new(state.clone());
    let first = first_client.apply(&policy, None, &options);
    let second = async {
        while server.held() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        std::fs::remove_file(state.join("lock")).unwrap();
        admin
            .apply(&policy, None, &ApplyOptions::new(state.clone()))
            .await
            .unwrap()
    };
    let (first, second) = tokio::join!(first, second);
    server.release_held();
    assert_eq!(second.failed(), 0, "{second:#?}");
    let report = match first {
        Err(ApplyError::SessionLost { report, .. }) => report,
        other => panic!("the first apply must stop as if its lock were lost: {other:#?}"),
    };
    let row = &report.results[0];
    assert_eq!(row.result, mpt_policy::Applied::Failed, "{row:#?}");
    assert!(
        row.detail
            .contains("the account's lock could not be proven")
            && row.detail.contains("another apply may hold its record"),
        "{}",
        row.detail
    );
    let _ = std::fs::remove_dir_all(&dir);
}
