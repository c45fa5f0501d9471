//! A create held in a gateway past the apply that sent it: the next apply finds no token
//! carrying its marker, gives it up (keeping the marker's hash as a create that may still land)
//! and makes the entry's token again; then the held create lands, a second live token of the
//! name carrying the old marker. The next plan knows it for this tool's own late landing: not
//! the entry's token, no ambiguity, deleted without `allow_destroy` (its secret was never handed
//! out). A twin made by hand, without such a marker (or two tokens carrying it: one may be a
//! copy of the other's tag), is judged as before (ambiguous), in both stores, for a create and
//! for a rotation's replacement.

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::state::{Key, Kind, StateLocation};
use mpt_policy::{ActionKind, Applied, ApplyOptions, Plan, Policy};

use super::records::{Stores, plant, records};
use super::*;
use crate::common::*;

/// The marker of the create held in the gateway (never saved: only its hash).
pub(super) const MARKER: &str = "0123456789abcdef0123456789abcdef";

/// A policy declaring `wanted` in the default account (`extra`: its rotation), its secret to
/// `file`.
pub(super) fn wanted(file: &Path, extra: &str) -> Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"wanted\"\nmodules = [\"{DEFAULT_MODULE}\"]\n{extra}\nsecret = {{ file = \"{}\" }}\n",
        file.display()
    ))
}

/// Plants the record the killed apply left (its create held, never answered): a create's, or
/// (`rotation`) a rotation's at `planned` of an old token made 100 days ago. Returns the
/// description the held create sent.
pub(super) async fn plant_held(
    server: &MockServer,
    client: &Client,
    at: &StateLocation,
    rotation: bool,
) -> String {
    let hash = mpt::marker_hash(MARKER);
    if !rotation {
        let json = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted", "knownIds": [],
            "newId": null, "recordedAt": Utc::now() - Days::minutes(1),
            "markerHashes": [hash],
        });
        plant(at, &Key::create(DEFAULT_ACCOUNT, "wanted"), &json).await;
        return mpt::marked_description(None, MARKER);
    }
    let old = server.seed_token(
        seed("wanted")
            .with_description("ci")
            .created(Utc::now() - Days::days(100)),
    );
    let plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    let mut json = serde_json::to_value(&plan).unwrap();
    json["createSent"] = true.into();
    json["markerHashes"] = vec![hash].into();
    plant(at, &Key::rotation(DEFAULT_ACCOUNT, &old.id), &json).await;
    mpt::marked_description(Some("ci"), MARKER)
}

/// Makes a token of the declared name with `description`, as a create landing now would.
pub(super) async fn land(client: &Client, description: &str) -> String {
    let made = client
        .create(
            &mpt::NewToken::new(DEFAULT_ACCOUNT, "wanted")
                .modules([DEFAULT_MODULE])
                .description(description),
        )
        .await
        .unwrap();
    made.token.id().to_string()
}

/// The plan with the store's pending work and late landings, as `mpt tokens plan` shows it.
pub(super) async fn planned(client: &Client, policy: &Policy, at: &StateLocation) -> Plan {
    let store = mpt_policy::state::open(at, &[DEFAULT_ACCOUNT.to_string()], None)
        .await
        .unwrap();
    let mut plan = client.plan(policy).await.unwrap();
    plan.include_pending(client, policy, store.as_ref()).await;
    plan
}

#[tokio::test]
async fn a_create_landing_after_the_next_apply_made_its_own_is_deleted_and_the_name_stays_clear() {
    let stores = Stores::start("late");
    for rotation in [false, true] {
        for at in stores.fresh() {
            let shown = format!("rotation {rotation} {at:?}");
            let (server, client) = start().await;
            let dir = temp_dir("late");
            let file = dir.join("wanted.secret");
            let extra = if rotation {
                "rotate_after = \"90d\""
            } else {
                ""
            };
            let policy = wanted(&file, extra);
            let held = plant_held(&server, &client, &at, rotation).await;
            // The next apply, while the create is held: nothing carries its marker; it makes
            // the entry's token (a rotation: its replacement) again, and hands it over.
            let options = ApplyOptions::new(at.clone());
            let report = client.apply(&policy, None, &options).await.unwrap();
            assert_eq!(server.tokens_created(), 1, "{shown}: {report:#?}");
            assert!(file.exists(), "{shown}: {report:#?}");
            assert_eq!(records(&at, Kind::Late).await, 1, "{shown}: marker kept");
            let ours = std::fs::read_to_string(&file).unwrap();
            let managed = report
                .results
                .iter()
                .find_map(|r| r.new_token_id.clone())
                .unwrap_or_else(|| panic!("{shown}: {report:#?}"));
            // The held create lands now.
            let late = land(&client, &held).await;
            let plan = planned(&client, &policy, &at).await;
            assert_eq!(plan.count(ActionKind::Ambiguous), 0, "{shown}: {plan:#?}");
            let delete = plan
                .actions
                .iter()
                .find(|a| a.kind == ActionKind::Delete)
                .unwrap_or_else(|| panic!("{shown}: {plan:#?}"));
            assert_eq!(delete.token_id.as_deref(), Some(late.as_str()), "{shown}");
            assert!(!delete.destructive, "{shown}: {delete:#?}");
            assert!(delete.reason.contains("late landing"), "{}", delete.reason);
            assert!(!delete.reason.contains(MARKER), "{shown}: no marker shown");
            // The apply (no allow-destroy) deletes it, and only it; the secret is untouched.
            let report = client.apply(&policy, None, &options).await.unwrap();
            let row = report
                .results
                .iter()
                .find(|r| r.action.token_id.as_deref() == Some(late.as_str()))
                .unwrap_or_else(|| panic!("{shown}: {report:#?}"));
            assert_eq!(row.result, Applied::Changed, "{shown}: {row:#?}");
            assert!(row.detail.contains("late landing"), "{}", row.detail);
            assert_eq!(server.token_status(&late).as_deref(), Some("Deleted"));
            assert_eq!(server.token_status(&managed).as_deref(), Some("Active"));
            assert_eq!(std::fs::read_to_string(&file).unwrap(), ours, "{shown}");
            let plan = planned(&client, &policy, &at).await;
            assert!(!plan.has_changes(), "{shown}: {plan:#?}");
            // Its tag, read back from the deleted token, copied into the managed token's
            // description: the marker was retired with its landing, and the managed token (an
            // edited one, at a later revision) is never taken for a late landing (tester round
            // 18: it was deleted, its secret in the sink).
            let update = mpt::TokenUpdate::default().description(held.clone());
            client.update(managed.as_str(), &update).await.unwrap();
            let plan = planned(&client, &policy, &at).await;
            assert_eq!(plan.count(ActionKind::Delete), 0, "{shown}: {plan:#?}");
            let report = client.apply(&policy, None, &options).await.unwrap();
            assert_eq!(server.token_status(&managed).as_deref(), Some("Active"));
            assert_eq!(
                std::fs::read_to_string(&file).unwrap(),
                ours,
                "{shown}: {report:#?}"
            );
            let update = mpt::TokenUpdate::default().description(String::new());
            client.update(managed.as_str(), &update).await.unwrap();
            // A twin made by hand without the marker (plain, or showing the hash a reader of
            // the store could copy, or another marker's tag) is judged as before: ambiguous,
            // never deleted.
            let hash = mpt::marker_hash(MARKER);
            for description in [
                // A copy of the late landing's tag once it is gone: the marker was retired.
                held.clone(),
                "ci".to_string(),
                format!("[mpt: being made, marker {hash}]"),
                mpt::marked_description(None, "ffeeddccbbaa99887766554433221100"),
            ] {
                let twin = land(&client, &description).await;
                let plan = planned(&client, &policy, &at).await;
                assert_eq!(plan.count(ActionKind::Ambiguous), 1, "{shown}: {plan:#?}");
                assert_eq!(plan.count(ActionKind::Delete), 0, "{shown}: {plan:#?}");
                let options = options.clone().allow_destroy(true);
                let report = client.apply(&policy, None, &options).await.unwrap();
                assert_eq!(report.count(Applied::Changed), 0, "{shown}: {report:#?}");
                assert_eq!(server.token_status(&twin).as_deref(), Some("Active"));
                client.delete(twin.as_str()).await.unwrap();
            }
            // The late landing and a copy of its tag made by hand once it landed: two carry
            // the marker, neither is taken for ours (ambiguous, nothing deleted).
            let (first, copy) = (land(&client, &held).await, land(&client, &held).await);
            let plan = planned(&client, &policy, &at).await;
            assert_eq!(plan.count(ActionKind::Ambiguous), 1, "{shown}: {plan:#?}");
            assert_eq!(plan.count(ActionKind::Delete), 0, "{shown}: {plan:#?}");
            for id in [first, copy] {
                assert_eq!(server.token_status(&id).as_deref(), Some("Active"));
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[tokio::test]
async fn a_late_landing_beside_a_pending_create_is_not_its_twin() {
    let stores = Stores::start("late-pending");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (server, client) = start().await;
        let dir = temp_dir("late-pending");
        let file = dir.join("wanted.secret");
        let policy = wanted(&file, "");
        // The second apply gave the held create up (its marker kept) and was stopped in turn
        // while its own create was in flight: its record waits for its marker.
        let second = "fedcba9876543210fedcba9876543210";
        let late = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted",
            "markerHashes": [mpt::marker_hash(MARKER)],
        });
        plant(&at, &Key::late(DEFAULT_ACCOUNT, "wanted"), &late).await;
        let json = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted", "knownIds": [],
            "newId": null, "recordedAt": Utc::now() - Days::minutes(1),
            "markerHashes": [mpt::marker_hash(second)],
        });
        plant(&at, &Key::create(DEFAULT_ACCOUNT, "wanted"), &json).await;
        // Both creates land: the second's, then the held one.
        let made = land(&client, &mpt::marked_description(None, second)).await;
        let held = land(&client, &mpt::marked_description(None, MARKER)).await;
        let plan = planned(&client, &policy, &at).await;
        assert_eq!(plan.count(ActionKind::Ambiguous), 0, "{shown}: {plan:#?}");
        let resume = plan
            .actions
            .iter()
            .find(|a| a.kind == ActionKind::Resume)
            .unwrap_or_else(|| panic!("{shown}: {plan:#?}"));
        assert_eq!(
            resume.token_id.as_deref(),
            Some(made.as_str()),
            "{resume:#?}"
        );
        let delete = plan.actions.iter().find(|a| a.kind == ActionKind::Delete);
        assert_eq!(
            delete.and_then(|a| a.token_id.as_deref()),
            Some(held.as_str())
        );
        // The apply adopts the second's token, hands it over, and deletes the held one.
        let report = client
            .apply(&policy, None, &ApplyOptions::new(at.clone()))
            .await
            .unwrap();
        assert_eq!(report.count(Applied::Adopted), 1, "{shown}: {report:#?}");
        assert_eq!(server.token_status(&held).as_deref(), Some("Deleted"));
        assert_eq!(server.token_status(&made).as_deref(), Some("Active"));
        assert!(file.exists(), "{shown}: {report:#?}");
        let plan = planned(&client, &policy, &at).await;
        assert!(!plan.has_changes(), "{shown}: {plan:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
