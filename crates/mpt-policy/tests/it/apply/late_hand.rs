//! Late landings the tester found mishandled (round 18), in both stores: one deleted by hand
//! before any apply saw it (its marker then spent: a hand-made copy of its tag is not taken for
//! it), `late` records that do not read (refused, named), and a late landing beside a pinned
//! entry's token (shown, never deleted).

use std::time::Duration;

use mpt_policy::state::{Key, StateLocation};
use mpt_policy::{ActionKind, Applied, ApplyOptions};

use super::late::{MARKER, land, planned, plant_held, wanted};
use super::records::Stores;
use crate::common::*;

/// The markers the `late` record of `wanted` keeps, as stored (none when there is no record).
async fn late_hashes(at: &StateLocation) -> Vec<String> {
    let store = mpt_policy::state::open(at, &[DEFAULT_ACCOUNT.to_string()], None)
        .await
        .unwrap();
    let text = store
        .load(&Key::late(DEFAULT_ACCOUNT, "wanted"))
        .await
        .unwrap();
    text.map(|t| {
        let json: serde_json::Value = serde_json::from_str(&t).unwrap();
        serde_json::from_value(json["markerHashes"].clone()).unwrap()
    })
    .unwrap_or_default()
}

#[tokio::test]
async fn a_copy_of_a_late_landing_deleted_by_hand_is_never_taken_for_it() {
    let stores = Stores::start("late-hand");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (server, client) = start().await;
        let dir = temp_dir("late-hand");
        let policy = wanted(&dir.join("wanted.secret"), "");
        let held = plant_held(&server, &client, &at, false).await;
        let options = ApplyOptions::new(at.clone());
        client.apply(&policy, None, &options).await.unwrap();
        assert_eq!(late_hashes(&at).await.len(), 1, "{shown}: marker kept");
        // The held create lands, and someone deletes it by hand before any apply saw it; then
        // makes a token by hand carrying its tag (read while it was live): at its first
        // revision, never used, the only live carrier.
        let landed = land(&client, &held).await;
        client.delete(landed.as_str()).await.unwrap();
        let copy = land(&client, &held).await;
        let plan = planned(&client, &policy, &at).await;
        assert_eq!(plan.count(ActionKind::Delete), 0, "{shown}: {plan:#?}");
        assert_eq!(plan.count(ActionKind::Ambiguous), 1, "{shown}: {plan:#?}");
        let report = client.apply(&policy, None, &options).await.unwrap();
        assert_eq!(report.count(Applied::Changed), 0, "{shown}: {report:#?}");
        assert_eq!(server.token_status(&copy).as_deref(), Some("Active"));
        // The marker is spent (its landing is Deleted): retired, so the copy stays a copy
        // even once the deleted landing is no longer shown.
        assert!(late_hashes(&at).await.is_empty(), "{shown}: retired");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_late_record_that_does_not_read_is_refused_by_name() {
    let stores = Stores::start("late-unread");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (_server, client) = start().await;
        let dir = temp_dir("late-unread");
        let policy = wanted(&dir.join("wanted.secret"), "");
        let accounts = [DEFAULT_ACCOUNT.to_string()];
        let store = mpt_policy::state::open(&at, &accounts, Some(Duration::ZERO))
            .await
            .unwrap();
        let at_name = |name: &str| Key::late(DEFAULT_ACCOUNT, name);
        store.save(&at_name("wanted"), "not json").await.unwrap();
        store
            .save(&at_name("cut"), "{\"accountId\": \"ACC")
            .await
            .unwrap();
        // A record of `wanted` kept under another name's file.
        let json = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted",
            "markerHashes": [mpt::marker_hash(MARKER)],
        });
        store
            .save(&at_name("moved"), &json.to_string())
            .await
            .unwrap();
        drop(store);
        let plan = planned(&client, &policy, &at).await;
        let rows: Vec<_> = plan
            .actions
            .iter()
            .filter(|a| a.reason.contains("refused") && a.reason.contains("does not read"))
            .collect();
        assert_eq!(rows.len(), 3, "{shown}: {plan:#?}");
        assert!(plan.has_changes(), "{shown}");
        let report = client
            .apply(&policy, None, &ApplyOptions::new(at.clone()))
            .await
            .unwrap();
        assert_eq!(report.count(Applied::Refused), 3, "{shown}: {report:#?}");
        for name in ["wanted", "cut", "moved"] {
            let file = Key::late(DEFAULT_ACCOUNT, name).name;
            assert!(
                report.results.iter().any(|r| r.detail.contains(&file)),
                "{shown}: {file} named: {report:#?}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_late_landing_beside_a_pinned_entry_is_shown_never_deleted() {
    let stores = Stores::start("late-pinned");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (server, client) = start().await;
        let dir = temp_dir("late-pinned");
        let file = dir.join("wanted.secret");
        let held = plant_held(&server, &client, &at, false).await;
        let options = ApplyOptions::new(at.clone());
        let report = client
            .apply(&wanted(&file, ""), None, &options)
            .await
            .unwrap();
        let managed = report
            .results
            .iter()
            .find_map(|r| r.new_token_id.clone())
            .unwrap_or_else(|| panic!("{shown}: {report:#?}"));
        // The entry is pinned to the token made; then the held create lands.
        let policy = wanted(&file, &format!("id = \"{managed}\""));
        let late = land(&client, &held).await;
        let plan = planned(&client, &policy, &at).await;
        let row = plan
            .actions
            .iter()
            .find(|a| a.token_id.as_deref() == Some(late.as_str()))
            .unwrap_or_else(|| panic!("{shown}: not shown: {plan:#?}"));
        assert_eq!(row.kind, ActionKind::Unmanaged, "{shown}: {row:#?}");
        assert!(row.reason.contains("late landing"), "{}", row.reason);
        assert!(row.reason.contains("pinned"), "{}", row.reason);
        let report = client.apply(&policy, None, &options).await.unwrap();
        assert_eq!(report.count(Applied::Changed), 0, "{shown}: {report:#?}");
        assert_eq!(server.token_status(&late).as_deref(), Some("Active"));
        assert_eq!(server.token_status(&managed).as_deref(), Some("Active"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
