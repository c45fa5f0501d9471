//! Late landings the tester found mishandled (round 18), in both stores: one deleted by hand
//! before any apply saw it (its marker then spent: a hand-made copy of its tag is not taken for
//! it), `late` records that do not read (refused, named), and a late landing beside a pinned
//! entry's token (shown, never deleted).

use std::time::Duration;

use mpt_policy::state::{Key, StateLocation};
use mpt_policy::{ActionKind, Applied, ApplyOptions};

use super::late::{MARKER, land, planned, plant_held, wanted};
use super::late_unread::plant_text;
use super::records::Stores;
use super::seed;
use crate::common::*;

/// The markers the `late` record of `wanted` keeps, as stored (none when there is no record).
pub(super) async fn late_hashes(at: &StateLocation) -> Vec<String> {
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
        // A record of `wanted` kept under the key of a name this policy does not declare: the
        // key decides, so it is another policy's (tester round 21, N4).
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
        // `cut` and `moved` are names this policy does not declare: another policy's, counted
        // and named.
        assert_eq!(rows.len(), 1, "{shown}: {plan:#?}");
        assert!(plan.has_changes(), "{shown}");
        let others = ["cut", "moved"].map(|name| Key::late(DEFAULT_ACCOUNT, name).name);
        assert_eq!(plan.others_pending, 2, "{shown}: {plan:#?}");
        let report = client
            .apply(&policy, None, &ApplyOptions::new(at.clone()))
            .await
            .unwrap();
        assert_eq!(report.count(Applied::Refused), 1, "{shown}: {report:#?}");
        for other in &others {
            assert!(report.summary().contains(other), "{}", report.summary());
        }
        let file = Key::late(DEFAULT_ACCOUNT, "wanted").name;
        assert!(
            report.results.iter().any(|r| r.detail.contains(&file)),
            "{shown}: {file} named: {report:#?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A `late` record kept under this policy's name whose body names another account does not
/// read: refused by name, as one kept under another name's key (tester round 21, N4: passed
/// over in silence, its name's tokens judged as if it were not there, and nothing said).
#[tokio::test]
async fn a_late_record_naming_another_account_is_refused_by_name() {
    let stores = Stores::start("late-other");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (_server, client) = start().await;
        let dir = temp_dir("late-other");
        let policy = wanted(&dir.join("wanted.secret"), "");
        let json = serde_json::json!({
            "accountId": "ACC-0000-1057", "name": "wanted",
            "markerHashes": [mpt::marker_hash(MARKER)],
        });
        let key = Key::late(DEFAULT_ACCOUNT, "wanted");
        plant_text(&at, &key, &json.to_string()).await;
        let report = client
            .apply(&policy, None, &ApplyOptions::new(at.clone()))
            .await
            .unwrap();
        assert_eq!(report.count(Applied::Refused), 1, "{shown}: {report:#?}");
        assert!(
            report.results.iter().any(|r| r.detail.contains(&key.name)),
            "{shown}: {} named: {report:#?}",
            key.name
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A `late` record's key decides whose it is: one kept under a name this policy does not declare
/// is another policy's (counted, named, left alone), whatever its body says (tester round 21,
/// N4: a body naming this policy's `wanted` had it refused as `wanted`, exit 1). And a database
/// row kept under an empty key is one record that does not read, refused by where it is, not a
/// store that could not be listed ("plan again once the store answers": the store answered).
#[tokio::test]
async fn a_late_record_is_judged_by_its_key_and_an_empty_key_is_one_record() {
    let stores = Stores::start("late-key");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (_server, client) = start().await;
        let dir = temp_dir("late-key");
        let policy = wanted(&dir.join("wanted.secret"), "");
        let json = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted",
            "markerHashes": [mpt::marker_hash(MARKER)],
        });
        let theirs = Key::late(DEFAULT_ACCOUNT, "theirs");
        plant_text(&at, &theirs, &json.to_string()).await;
        let plan = planned(&client, &policy, &at).await;
        assert!(
            !plan.actions.iter().any(|a| a.reason.contains("refused")),
            "{shown}: {plan:#?}"
        );
        assert_eq!(plan.others_pending, 1, "{shown}: {plan:#?}");
        assert!(
            plan.others_unread[0].contains(&theirs.name),
            "{shown}: {plan:#?}"
        );
        let report = client
            .apply(&policy, None, &ApplyOptions::new(at.clone()))
            .await
            .unwrap();
        assert_eq!(report.count(Applied::Refused), 0, "{shown}: {report:#?}");
        assert!(
            report.summary().contains(&theirs.name),
            "{}",
            report.summary()
        );
        if let StateLocation::Postgres(_) = at {
            let empty = Key {
                name: String::new(),
                ..theirs.clone()
            };
            plant_text(&at, &empty, "{}").await;
            let plan = planned(&client, &policy, &at).await;
            let rows: Vec<_> = plan
                .actions
                .iter()
                .filter(|a| a.reason.contains("refused") && a.reason.contains("does not read"))
                .collect();
            assert_eq!(rows.len(), 1, "{shown}: {plan:#?}");
            assert!(
                !plan
                    .actions
                    .iter()
                    .any(|a| a.reason.contains("could not be read")),
                "{shown}: taken for a failed listing: {plan:#?}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A long name's records, which a directory keeps under a digest, are their own: a long
/// declared name's `late` record was read as kept under another name, and refused.
#[tokio::test]
async fn a_long_names_late_record_is_its_own() {
    let stores = Stores::start("late-long");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (_server, client) = start().await;
        let long = "l".repeat(150);
        let policy = super::policy(&format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"{long}\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
        ));
        let json = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": long,
            "markerHashes": [mpt::marker_hash(MARKER)],
        });
        plant_text(&at, &Key::late(DEFAULT_ACCOUNT, &long), &json.to_string()).await;
        let plan = planned(&client, &policy, &at).await;
        assert!(
            !plan.actions.iter().any(|a| a.reason.contains("refused")),
            "{shown}: {plan:#?}"
        );
    }
}

/// A create record whose token is not yet handed over, beside a late landing of an earlier
/// create of its name given up on: the landing is the plan's to delete, not another token of
/// the name the record did not know (which would leave its create's token untold).
#[tokio::test]
async fn a_late_landing_beside_a_pending_create_leaves_it_to_finish() {
    use mpt::chrono::{Duration as Days, Utc};
    let stores = Stores::start("late-create-pending");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (_server, client) = start().await;
        let dir = temp_dir("late-create-pending");
        let policy = wanted(&dir.join("wanted.secret"), "");
        const CREATE_MARKER: &str = "00112233445566778899aabbccddeeff";
        let made = land(&client, &mpt::marked_description(None, CREATE_MARKER)).await;
        let record = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted", "knownIds": [],
            "newId": made, "recordedAt": Utc::now() - Days::minutes(1),
            "markerHashes": [mpt::marker_hash(CREATE_MARKER)],
        });
        plant_text(
            &at,
            &Key::create(DEFAULT_ACCOUNT, "wanted"),
            &record.to_string(),
        )
        .await;
        let late = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted",
            "markerHashes": [mpt::marker_hash(MARKER)],
        });
        plant_text(
            &at,
            &Key::late(DEFAULT_ACCOUNT, "wanted"),
            &late.to_string(),
        )
        .await;
        land(&client, &mpt::marked_description(None, MARKER)).await;
        let plan = planned(&client, &policy, &at).await;
        let resume = plan
            .actions
            .iter()
            .find(|a| a.kind == ActionKind::Resume)
            .unwrap_or_else(|| panic!("{shown}: {plan:#?}"));
        assert!(!resume.reason.contains("refused"), "{shown}: {resume:#?}");
        assert_eq!(plan.count(ActionKind::Delete), 1, "{shown}: {plan:#?}");
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

/// Plants a rotation of an old token made 100 days ago, at `planned`, its create sent twice
/// (markers `first` then `second`), the first given up on (kept in `late`). Returns the
/// descriptions each create sent.
pub(super) async fn plant_twice(
    server: &MockServer,
    client: &Client,
    at: &StateLocation,
    (first, second): (&str, &str),
) -> (String, String) {
    use mpt::chrono::{Duration as Days, Utc};
    let old = server.seed_token(
        seed("wanted")
            .with_description("ci")
            .created(Utc::now() - Days::days(100)),
    );
    let plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    let mut json = serde_json::to_value(&plan).unwrap();
    json["createSent"] = true.into();
    let hashes = vec![mpt::marker_hash(first), mpt::marker_hash(second)];
    json["markerHashes"] = hashes.clone().into();
    let accounts = [DEFAULT_ACCOUNT.to_string()];
    let store = mpt_policy::state::open(at, &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    let key = Key::rotation(DEFAULT_ACCOUNT, &old.id);
    store.save(&key, &json.to_string()).await.unwrap();
    let late = serde_json::json!({
        "accountId": DEFAULT_ACCOUNT, "name": "wanted", "markerHashes": [hashes[0]],
    });
    let key = Key::late(DEFAULT_ACCOUNT, "wanted");
    store.save(&key, &late.to_string()).await.unwrap();
    (
        mpt::marked_description(Some("ci"), first),
        mpt::marked_description(Some("ci"), second),
    )
}

#[tokio::test]
async fn a_rotation_whose_given_up_create_lands_too_finishes_in_one_apply() {
    let stores = Stores::start("late-rot");
    // Both creates land (the given-up one is deleted, the later one adopted), or only the
    // given-up one (adopted: one action for it, no delete).
    for both in [true, false] {
        for at in stores.fresh() {
            let shown = format!("both {both} {at:?}");
            let (server, client) = start().await;
            let dir = temp_dir("late-rot");
            let file = dir.join("wanted.secret");
            let policy = wanted(&file, "rotate_after = \"90d\"");
            let second = "fedcba9876543210fedcba9876543210";
            let (d1, d2) = plant_twice(&server, &client, &at, (MARKER, second)).await;
            let early = land(&client, &d1).await;
            let later = match both {
                true => Some(land(&client, &d2).await),
                false => None,
            };
            let plan = planned(&client, &policy, &at).await;
            let resume = plan
                .actions
                .iter()
                .find(|a| a.kind == ActionKind::Resume)
                .unwrap_or_else(|| panic!("{shown}: {plan:#?}"));
            assert!(!resume.reason.contains("refused"), "{shown}: {resume:#?}");
            let deletes: Vec<_> = plan
                .actions
                .iter()
                .filter(|a| a.kind == ActionKind::Delete)
                .collect();
            match both {
                true => assert_eq!(deletes.len(), 1, "{shown}: {plan:#?}"),
                false => assert!(deletes.is_empty(), "{shown}: {plan:#?}"),
            }
            let report = client
                .apply(&policy, None, &ApplyOptions::new(at.clone()))
                .await
                .unwrap();
            assert_eq!(report.count(Applied::Refused), 0, "{shown}: {report:#?}");
            let kept = later.clone().unwrap_or_else(|| early.clone());
            assert_eq!(server.token_status(&kept).as_deref(), Some("Active"));
            if both {
                assert_eq!(server.token_status(&early).as_deref(), Some("Deleted"));
            }
            assert!(file.exists(), "{shown}: {report:#?}");
            // The given-up marker landed once (deleted, or adopted): retired. The later one,
            // when it did not land, is kept: it may still (tester round 20, M2).
            let kept = match both {
                true => Vec::new(),
                false => vec![mpt::marker_hash(second)],
            };
            assert_eq!(late_hashes(&at).await, kept, "{shown}: retired");
            let plan = planned(&client, &policy, &at).await;
            assert!(!plan.has_changes(), "{shown}: {plan:#?}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Plants a rotation of an old token made 100 days ago at `created` (its sink failed): its
/// replacement made, the old token live. Returns the old token's id and the replacement's.
async fn plant_created(
    server: &MockServer,
    client: &Client,
    at: &StateLocation,
) -> (String, String) {
    use mpt::chrono::{Duration as Days, Utc};
    let old = server.seed_token(
        seed("wanted")
            .with_description("ci")
            .created(Utc::now() - Days::days(100)),
    );
    let plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    // Made by the rotation's create: carrying its marker, not put back yet.
    const ROTATION_MARKER: &str = "fedcba9876543210fedcba9876543210";
    let replacement = land(
        client,
        &mpt::marked_description(Some("ci"), ROTATION_MARKER),
    )
    .await;
    let mut json = serde_json::to_value(&plan).unwrap();
    json["markerHashes"] = serde_json::json!([mpt::marker_hash(ROTATION_MARKER)]);
    json["createSent"] = true.into();
    json["phase"] = "created".into();
    json["newId"] = replacement.clone().into();
    json["createdAt"] = serde_json::to_value(Utc::now()).unwrap();
    let accounts = [DEFAULT_ACCOUNT.to_string()];
    let store = mpt_policy::state::open(at, &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    let key = Key::rotation(DEFAULT_ACCOUNT, &old.id);
    store.save(&key, &json.to_string()).await.unwrap();
    (old.id, replacement)
}

#[tokio::test]
async fn a_late_landing_beside_a_rotation_past_its_start_leaves_it_to_finish() {
    let stores = Stores::start("late-rotpend");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (server, client) = start().await;
        let dir = temp_dir("late-rotpend");
        let file = dir.join("wanted.secret");
        let policy = wanted(&file, "rotate_after = \"90d\"");
        let (old, replacement) = plant_created(&server, &client, &at).await;
        // An earlier create of the name, given up on, lands now.
        let late = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted",
            "markerHashes": [mpt::marker_hash(MARKER)],
        });
        let accounts = [DEFAULT_ACCOUNT.to_string()];
        let store = mpt_policy::state::open(&at, &accounts, Some(Duration::ZERO))
            .await
            .unwrap();
        let late_key = Key::late(DEFAULT_ACCOUNT, "wanted");
        store.save(&late_key, &late.to_string()).await.unwrap();
        drop(store);
        let landed = land(&client, &mpt::marked_description(None, MARKER)).await;
        let plan = planned(&client, &policy, &at).await;
        let resume = plan
            .actions
            .iter()
            .find(|a| a.kind == ActionKind::Resume)
            .unwrap_or_else(|| panic!("{shown}: {plan:#?}"));
        assert!(!resume.reason.contains("refused"), "{shown}: {resume:#?}");
        assert_eq!(plan.count(ActionKind::Delete), 1, "{shown}: {plan:#?}");
        // One apply deletes the late landing and finishes the rotation.
        let report = client
            .apply(&policy, None, &ApplyOptions::new(at.clone()))
            .await
            .unwrap();
        assert_eq!(report.count(Applied::Refused), 0, "{shown}: {report:#?}");
        assert_eq!(server.token_status(&landed).as_deref(), Some("Deleted"));
        assert_eq!(server.token_status(&old).as_deref(), Some("Deleted"));
        assert_eq!(server.token_status(&replacement).as_deref(), Some("Active"));
        assert!(file.exists(), "{shown}: {report:#?}");
        let plan = planned(&client, &policy, &at).await;
        assert!(!plan.has_changes(), "{shown}: {plan:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_rotation_refused_for_a_twin_advises_removing_the_twin_not_the_record() {
    let stores = Stores::start("late-twin-advice");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (server, client) = start().await;
        let dir = temp_dir("late-twin-advice");
        let file = dir.join("wanted.secret");
        let policy = wanted(&file, "rotate_after = \"90d\"");
        let (old, replacement) = plant_created(&server, &client, &at).await;
        // A twin made by hand (no marker): the record is refused, and kept.
        let twin = land(&client, "by hand").await;
        let options = ApplyOptions::new(at.clone());
        let report = client.apply(&policy, None, &options).await.unwrap();
        let row = report
            .results
            .iter()
            .find(|r| r.result == Applied::Refused)
            .unwrap_or_else(|| panic!("{shown}: {report:#?}"));
        assert!(row.detail.contains("not the record"), "{shown}: {row:#?}");
        assert!(!row.detail.contains("remove it once"), "{shown}: {row:#?}");
        // Followed, the advice loses nothing: the twin removed, the next apply finishes.
        client.delete(twin.as_str()).await.unwrap();
        let report = client.apply(&policy, None, &options).await.unwrap();
        assert_eq!(report.count(Applied::Refused), 0, "{shown}: {report:#?}");
        assert_eq!(server.token_status(&old).as_deref(), Some("Deleted"));
        assert_eq!(server.token_status(&replacement).as_deref(), Some("Active"));
        assert!(file.exists(), "{shown}: {report:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_token_a_pending_record_names_is_never_a_late_landing() {
    use mpt::chrono::{Duration as Days, Utc};
    let stores = Stores::start("late-named");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (server, client) = start().await;
        let dir = temp_dir("late-named");
        let policy = wanted(&dir.join("wanted.secret"), "");
        // A create record names its token, which still carries a tag (its description not
        // put back yet); a `late` record (forged) keeps the hash of that tag's marker.
        let made = land(&client, &mpt::marked_description(None, MARKER)).await;
        let record = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted", "knownIds": [],
            "newId": made, "recordedAt": Utc::now() - Days::minutes(1),
            "markerHashes": [mpt::marker_hash("fedcba9876543210fedcba9876543210")],
        });
        let late = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted",
            "markerHashes": [mpt::marker_hash(MARKER)],
        });
        let accounts = [DEFAULT_ACCOUNT.to_string()];
        let store = mpt_policy::state::open(&at, &accounts, Some(Duration::ZERO))
            .await
            .unwrap();
        let key = Key::create(DEFAULT_ACCOUNT, "wanted");
        store.save(&key, &record.to_string()).await.unwrap();
        let key = Key::late(DEFAULT_ACCOUNT, "wanted");
        store.save(&key, &late.to_string()).await.unwrap();
        drop(store);
        let plan = planned(&client, &policy, &at).await;
        assert_eq!(plan.count(ActionKind::Delete), 0, "{shown}: {plan:#?}");
        client
            .apply(&policy, None, &ApplyOptions::new(at.clone()))
            .await
            .unwrap();
        assert_eq!(
            server.token_status(&made).as_deref(),
            Some("Active"),
            "{shown}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_caller_that_sees_no_deleted_tokens_still_deletes_a_late_landing() {
    let stores = Stores::start("late-client");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (server, admin) = start().await;
        // A token of the default (Client) account: it sees its own account's live tokens only.
        let own = admin
            .create(&mpt::NewToken::new(DEFAULT_ACCOUNT, "runner").modules([DEFAULT_MODULE]))
            .await
            .unwrap();
        let client = Client::builder()
            .base_url(format!("{}/public/v1", server.base_url()))
            .api_token(own.secret.expose_secret().to_string())
            .retry(fast_retries(3))
            .build()
            .unwrap();
        let dir = temp_dir("late-client");
        let policy = wanted(&dir.join("wanted.secret"), "");
        let held = plant_held(&server, &client, &at, false).await;
        let options = ApplyOptions::new(at.clone());
        client.apply(&policy, None, &options).await.unwrap();
        let late = land(&client, &held).await;
        let plan = planned(&client, &policy, &at).await;
        assert_eq!(plan.count(ActionKind::Delete), 1, "{shown}: {plan:#?}");
        let report = client.apply(&policy, None, &options).await.unwrap();
        assert_eq!(report.count(Applied::Changed), 1, "{shown}: {report:#?}");
        assert_eq!(server.token_status(&late).as_deref(), Some("Deleted"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Tester round 19, F4: the read right before a late landing's delete is the last look at it:
/// a landing whose secret someone used between the apply's listing and that read (the read
/// held in a gateway meanwhile) is someone's now, and is not deleted.
#[tokio::test]
async fn a_late_landing_used_right_before_its_delete_is_not_deleted() {
    let stores = Stores::start("late-used");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (server, client) = start().await;
        let dir = temp_dir("late-used");
        let policy = wanted(&dir.join("wanted.secret"), "");
        let held = plant_held(&server, &client, &at, false).await;
        let options = ApplyOptions::new(at.clone());
        client.apply(&policy, None, &options).await.unwrap();
        // The held create lands: its answer, with the secret, reached someone after all.
        let new = mpt::NewToken::new(DEFAULT_ACCOUNT, "wanted")
            .modules([DEFAULT_MODULE])
            .description(&held);
        let made = client.create(&new).await.unwrap();
        let landed = made.token.id().to_string();
        let plan = planned(&client, &policy, &at).await;
        assert_eq!(plan.count(ActionKind::Delete), 1, "{shown}: {plan:#?}");
        // The apply's single read of it is held until its secret has been used.
        let hold = FaultRule::once(Fault::Hold).only([Operation::Get]);
        server.set_faults(Faults::none().with(hold)).unwrap();
        let user = async {
            while server.held() == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let theirs = Client::builder()
                .base_url(format!("{}/public/v1", server.base_url()))
                .api_token(made.secret.expose_secret())
                .build()
                .unwrap();
            theirs.get(landed.as_str()).await.unwrap();
            server.release_held();
        };
        let (report, ()) = tokio::join!(client.apply(&policy, None, &options), user);
        let report = report.unwrap();
        assert_eq!(
            server.token_status(&landed).as_deref(),
            Some("Active"),
            "{shown}: {report:#?}"
        );
        assert_eq!(report.count(Applied::Moved), 1, "{shown}: {report:#?}");
        server.set_faults(Faults::none()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
