//! A late landing renamed by an administrator (tester round 20, M3): a create lands once, so
//! its marker's carriers are looked for among every token of the account, whatever its name
//! (Deleted ones included). A token made by hand under the declared name with the landing's tag
//! copied is then a second carrier (a copy), never taken for the late landing and deleted, when
//! the landing was renamed and left live, or renamed and then deleted (its marker spent); and
//! when the administrator also rewrote its tag (the marker upper-cased, or its brackets
//! dropped: tester round 21, N1), the landing still names the marker.

use mpt::TokenUpdate;
use mpt_policy::{ActionKind, Applied, ApplyOptions};

use super::late::{land, planned, plant_held, wanted};
use super::late_hand::late_hashes;
use super::records::Stores;
use crate::common::*;

#[tokio::test]
async fn a_copy_of_a_renamed_late_landing_is_never_deleted() {
    let stores = Stores::start("late-renamed");
    for (deleted, rewrite) in [false, true]
        .into_iter()
        .flat_map(|d| Rewrite::ALL.map(|r| (d, r)))
    {
        for at in stores.fresh() {
            let shown = format!("deleted {deleted} {rewrite:?} {at:?}");
            let (server, client) = start().await;
            let dir = temp_dir("late-renamed");
            let policy = wanted(&dir.join("wanted.secret"), "");
            let held = plant_held(&server, &client, &at, false).await;
            let options = ApplyOptions::new(at.clone());
            client.apply(&policy, None, &options).await.unwrap();
            assert_eq!(late_hashes(&at).await.len(), 1, "{shown}: marker kept");
            // The held create lands; an administrator renames it (and maybe deletes it); then
            // someone makes a token by hand under the declared name carrying its tag.
            let landed = land(&client, &held).await;
            let (name, description) = rewrite.of(&held);
            let renamed = TokenUpdate::new().name(name);
            let renamed = match description {
                Some(description) => renamed.description(description),
                None => renamed,
            };
            client.update(landed.as_str(), renamed).await.unwrap();
            if deleted {
                client.delete(landed.as_str()).await.unwrap();
            }
            let copy = land(&client, &held).await;
            let plan = planned(&client, &policy, &at).await;
            assert_eq!(plan.count(ActionKind::Delete), 0, "{shown}: {plan:#?}");
            assert_eq!(plan.count(ActionKind::Ambiguous), 1, "{shown}: {plan:#?}");
            let report = client.apply(&policy, None, &options).await.unwrap();
            assert_eq!(report.count(Applied::Changed), 0, "{shown}: {report:#?}");
            assert_eq!(server.token_status(&copy).as_deref(), Some("Active"));
            // Seen Deleted under its new name, the landing's marker is spent: retired.
            assert_eq!(late_hashes(&at).await.is_empty(), deleted, "{shown}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// How the administrator left the renamed landing's tag.
#[derive(Debug, Clone, Copy)]
enum Rewrite {
    /// As it landed.
    No,
    /// `[mpt: being made, marker 0123ABCD…]`.
    Upper,
    /// `marker 0123abcd…`, the brackets and words dropped.
    Bare,
    /// `was 0123abcd-…-…`, the marker split by dashes (round 22, R1).
    Dashes,
    /// The marker moved to the landing's new name, its description another (round 22, R1).
    InName,
}

impl Rewrite {
    const ALL: [Rewrite; 5] = [
        Rewrite::No,
        Rewrite::Upper,
        Rewrite::Bare,
        Rewrite::Dashes,
        Rewrite::InName,
    ];

    /// The name and description the landing is given (`None`: kept), from `held`, the
    /// description it landed with.
    fn of(self, held: &str) -> (String, Option<String>) {
        let at = held.find("marker ").unwrap() + "marker ".len();
        let marker = &held[at..at + 32];
        let renamed = "renamed".to_string();
        match self {
            Rewrite::No => (renamed, None),
            Rewrite::Upper => (
                renamed,
                Some(held.replace(marker, &marker.to_ascii_uppercase())),
            ),
            Rewrite::Bare => (renamed, Some(format!("marker {marker}"))),
            Rewrite::Dashes => {
                let (a, b) = marker.split_at(8);
                (renamed, Some(format!("was {a}-{}-{}", &b[..12], &b[12..])))
            }
            Rewrite::InName => (format!("parked-{marker}"), Some("parked".into())),
        }
    }
}
