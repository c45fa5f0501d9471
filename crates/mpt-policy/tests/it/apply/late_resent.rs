//! Sends of a create that may land after the record that sent them is done (tester round 20),
//! in both stores: a send answered `429` (which a gateway can send and forward the request all
//! the same), sent again after a look found nothing it made, the resend's token handed over,
//! then the refused send landing (M1, a create and a rotation's replacement); and a rotation
//! that adopted its earlier create's landing while its later create was still held, which
//! lands after (M2). Each such landing is this tool's own late landing: deleted without
//! `allow_destroy`, never leaving the name `ambiguous`; the managed token and its secret are
//! untouched.

use mpt::chrono::{Duration as Days, Utc};
use std::path::Path;

use mpt_policy::state::StateLocation;
use mpt_policy::{ActionKind, Applied, ApplyOptions, Policy};

use super::late::{MARKER, land, planned, wanted};
use super::late_hand::{late_hashes, plant_twice};
use super::records::Stores;
use super::seed;
use crate::common::*;

/// The description the first create request the mock received carried.
fn first_create_description(server: &MockServer) -> String {
    let sent = server
        .recorded()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/accounts/api-tokens"))
        .expect("a create was sent");
    let body: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
    body["description"].as_str().unwrap_or_default().to_string()
}

/// `late` (a token of `wanted`, landed after the apply that sent it was done) is shown as a
/// late landing and deleted without `allow_destroy`, and only it: `managed` stays Active, the
/// secret in `file` is the same, and the plan has nothing more to do.
async fn deleted_as_late(
    (server, client): (&MockServer, &Client),
    (policy, at, file): (&Policy, &StateLocation, &Path),
    (late, managed): (&str, &str),
    shown: &str,
) {
    let ours = std::fs::read_to_string(file).unwrap();
    let plan = planned(client, policy, at).await;
    assert_eq!(plan.count(ActionKind::Ambiguous), 0, "{shown}: {plan:#?}");
    let delete = plan
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Delete)
        .unwrap_or_else(|| panic!("{shown}: {plan:#?}"));
    assert_eq!(delete.token_id.as_deref(), Some(late), "{shown}");
    assert!(!delete.destructive, "{shown}: {delete:#?}");
    assert!(delete.reason.contains("late landing"), "{}", delete.reason);
    let options = ApplyOptions::new(at.clone());
    let report = client.apply(policy, None, &options).await.unwrap();
    assert_eq!(report.count(Applied::Changed), 1, "{shown}: {report:#?}");
    assert_eq!(server.token_status(late).as_deref(), Some("Deleted"));
    assert_eq!(server.token_status(managed).as_deref(), Some("Active"));
    assert_eq!(std::fs::read_to_string(file).unwrap(), ours, "{shown}");
    let plan = planned(client, policy, at).await;
    assert!(!plan.has_changes(), "{shown}: {plan:#?}");
}

/// A create (and a rotation's) whose first send is refused `429` (a gateway forwards it later)
/// and the look finds nothing it made, sent again under `faults`: the apply hands over what
/// the resend made (its row `made`); then the refused send lands, carrying the same marker, and is deleted as a
/// late landing.
async fn refused_then_landed(tag: &str, faults: Faults, made: Applied) {
    let stores = Stores::start(tag);
    for rotation in [false, true] {
        for at in stores.fresh() {
            let shown = format!("rotation {rotation} {at:?}");
            let (server, client) = start().await;
            let dir = temp_dir(tag);
            let file = dir.join("wanted.secret");
            let extra = match rotation {
                true => "rotate_after = \"90d\"",
                false => "",
            };
            let policy = wanted(&file, extra);
            if rotation {
                let old = seed("wanted")
                    .with_description("ci")
                    .created(Utc::now() - Days::days(100));
                server.seed_token(old);
            }
            server.set_faults(faults.clone()).unwrap();
            let report = client
                .apply(&policy, None, &ApplyOptions::new(at.clone()))
                .await
                .unwrap();
            assert_eq!(
                server.requests(Operation::Create),
                2,
                "{shown}: {report:#?}"
            );
            assert_eq!(report.count(made), 1, "{shown}: {report:#?}");
            let managed = report
                .results
                .iter()
                .find_map(|r| r.new_token_id.clone())
                .unwrap_or_else(|| panic!("{shown}: {report:#?}"));
            assert!(file.exists(), "{shown}: {report:#?}");
            assert_eq!(server.token_status(&managed).as_deref(), Some("Active"));
            // The refused send lands now, carrying the same marker.
            server.set_faults(Faults::none()).unwrap();
            let late = land(&client, &first_create_description(&server)).await;
            let pair = (&server, &client);
            deleted_as_late(pair, (&policy, &at, &file), (&late, &managed), &shown).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// The first create refused (not carried out yet: a gateway forwards it later).
fn refused_once() -> FaultRule {
    let refused = Fault::RateLimited {
        retry_after: Duration::ZERO,
    };
    FaultRule::once(refused).only([Operation::Create])
}

#[tokio::test]
async fn a_refused_send_landing_after_its_resend_made_the_token_is_a_late_landing() {
    refused_then_landed(
        "late-resent",
        Faults::none().with(refused_once()),
        Applied::Changed,
    )
    .await;
}

#[tokio::test]
async fn a_rotation_adopting_its_earlier_create_keeps_its_later_one_that_may_still_land() {
    let stores = Stores::start("late-adopted");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (server, client) = start().await;
        let dir = temp_dir("late-adopted");
        let file = dir.join("wanted.secret");
        let policy = wanted(&file, "rotate_after = \"90d\"");
        // Its create sent twice (the first given up on, kept in `late`), both held; the first
        // lands, and the next apply adopts it and finishes.
        let second = "fedcba9876543210fedcba9876543210";
        let (d1, d2) = plant_twice(&server, &client, &at, (MARKER, second)).await;
        let early = land(&client, &d1).await;
        let report = client
            .apply(&policy, None, &ApplyOptions::new(at.clone()))
            .await
            .unwrap();
        assert_eq!(report.count(Applied::Refused), 0, "{shown}: {report:#?}");
        assert!(file.exists(), "{shown}: {report:#?}");
        // The adopted one's marker is retired; the later create's is kept: it may still land.
        let kept = vec![mpt::marker_hash(second)];
        assert_eq!(late_hashes(&at).await, kept, "{shown}");
        // The later create lands now.
        let late = land(&client, &d2).await;
        let pair = (&server, &client);
        deleted_as_late(pair, (&policy, &at, &file), (&late, &early), &shown).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// As above, the resend's answer lost this time (the connection closed once it was carried
/// out): the apply finds what the resend made by its marker and hands it over; the refused
/// send lands after. Its marker was kept all the same (`Error::CreateUnconfirmed::other_sends`):
/// a late landing, deleted, never leaving the name `ambiguous` (left open in round 20's fix).
#[tokio::test]
async fn a_refused_send_landing_after_its_resend_lost_its_answer_is_a_late_landing() {
    let lost = FaultRule::every(2, Fault::DropAfterProcessing)
        .only([Operation::Create])
        .times(1);
    let faults = Faults::none().with(refused_once()).with(lost);
    // Found by its marker, not proven made by this apply: `unconfirmed`.
    refused_then_landed("late-resent-lost", faults, Applied::Unconfirmed).await;
}
