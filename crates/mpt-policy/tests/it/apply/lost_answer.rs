//! A create whose answer was lost (a gateway's `502`) and that no token carrying its marker
//! shows yet: the row says what is known (tester round 20, L4): nothing made so far, its
//! marker kept as that of a create that may still land; never "nothing was made" twice.

use mpt_policy::state::Kind;
use mpt_policy::{Applied, ApplyOptions};

use super::late::wanted;
use super::records::records;
use super::result_of;
use crate::common::*;

#[tokio::test]
async fn a_create_given_up_on_says_it_may_still_land() {
    let (server, client) = start().await;
    let dir = temp_dir("lost-answer");
    let policy = wanted(&dir.join("wanted.secret"), "");
    let at = mpt_policy::state::StateLocation::Dir(dir.join("state"));
    server
        .set_faults(
            Faults::none().with(FaultRule::once(Fault::Status(502)).only([Operation::Create])),
        )
        .unwrap();
    let report = client
        .apply(&policy, None, &ApplyOptions::new(at.clone()))
        .await
        .unwrap();
    let row = result_of(&report.results, "wanted");
    assert_eq!(row.result, Applied::Failed, "{row:#?}");
    assert!(row.detail.contains("may still land"), "{}", row.detail);
    assert_eq!(
        row.detail.matches("nothing was made").count(),
        0,
        "{}",
        row.detail
    );
    assert_eq!(records(&at, Kind::Late).await, 1, "its marker kept");
    let _ = std::fs::remove_dir_all(&dir);
}
