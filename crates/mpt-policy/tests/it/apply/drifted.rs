//! Pending work, then its entry's declared fields changed (a description): the plan shows the
//! resume and the update of the token it ends with, and one apply converges: the rotation (or
//! create) finished, then its token updated, each row by evidence; the plan after it is empty.

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::{ActionKind, Applied, ApplyOptions, Field};

use super::disabled::leave_pending;
use super::held::{FAILING, entry, plan_with_pending, writing};
use super::records::Stores;
use super::*;
use crate::common::*;

/// A rotation left pending (its sink failed, its create's answer lost, or verified), then its
/// entry's description changed, declared Disabled or Active (its rotation due): the plan shows
/// the resume, then the update of its replacement; the apply finishes the rotation (`adopted`,
/// destructive as the plan said), then updates the replacement (`changed`), which ends with the
/// declared description (and Disabled, when declared so); the next plan has nothing to do.
#[tokio::test]
async fn a_pending_rotation_then_a_changed_description_converges_in_one_apply() {
    let stores = Stores::start("drifted-rotation");
    for case in ["its sink failed", "its create's answer lost", "verified"] {
        for status in ["Disabled", "Active"] {
            for at in stores.fresh() {
                let (server, client) = start().await;
                let old = server.seed_token(seed("rot").created(Utc::now() - Days::days(100)));
                let dir = temp_dir("drifted-rotation-out");
                let out = dir.join("delivered");
                let (new, _) = leave_pending(case, &client, &at, &old.id, &out).await;
                let shown = format!("{case}, {status}, in {}", at.shown());
                let extra = format!("status = \"{status}\"\ndescription = \"changed now\"");
                let changed = entry("rot", &extra, &writing(&out));
                let destructive = status == "Disabled";

                let plan = plan_with_pending(&client, &changed, &at).await;
                assert_eq!(plan.actions.len(), 2, "{shown}: {plan:#?}");
                let (resume, update) = (&plan.actions[0], &plan.actions[1]);
                assert_eq!(resume.kind, ActionKind::Resume, "{shown}: {plan:#?}");
                assert_eq!(resume.destructive, destructive, "{shown}: {resume:#?}");
                assert_eq!(update.kind, ActionKind::Update, "{shown}: {plan:#?}");
                assert_eq!(update.token_id.as_deref(), Some(new.as_str()), "{shown}");
                let to = update
                    .changes
                    .iter()
                    .find(|c| c.field == Field::Description);
                assert_eq!(
                    to.and_then(|c| c.to.as_deref()),
                    Some("changed now"),
                    "{shown}: {update:#?}"
                );

                if destructive {
                    // Without allow-destroy: both rows skipped, the resume's destructive as
                    // planned; nothing sent.
                    let options = ApplyOptions::new(at.clone());
                    let report = client.apply(&changed, None, &options).await.unwrap();
                    assert_eq!(report.results.len(), 2, "{shown}: {report:#?}");
                    assert!(
                        report.results.iter().all(|r| r.result == Applied::Skipped),
                        "{shown}: {report:#?}"
                    );
                    assert!(report.results[0].action.destructive, "{shown}: {report:#?}");
                    let token = client.get(new.as_str()).await.unwrap();
                    assert_ne!(token.description(), Some("changed now"), "{shown}");
                }

                let options = ApplyOptions::new(at.clone()).allow_destroy(true);
                let report = client.apply(&changed, None, &options).await.unwrap();
                assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
                assert_eq!(report.results.len(), 2, "{shown}: {report:#?}");
                let (rotated, updated) = (&report.results[0], &report.results[1]);
                assert_eq!(rotated.result, Applied::Adopted, "{shown}: {rotated:#?}");
                assert_eq!(
                    rotated.action.destructive, destructive,
                    "{shown}: {rotated:#?}"
                );
                assert_eq!(updated.action, *update, "{shown}: {updated:#?}");
                assert_eq!(updated.result, Applied::Changed, "{shown}: {updated:#?}");
                assert_eq!(report.done(ActionKind::Update), 1, "{shown}: {report:#?}");
                // The platform: the replacement alone, as declared; its secret the sink's.
                let live = live_named(&client, "rot").await;
                assert_eq!(live.len(), 1, "{shown}: {live:#?}");
                assert_eq!(live[0].id(), new, "{shown}");
                assert_eq!(live[0].description(), Some("changed now"), "{shown}");
                assert_eq!(live[0].status().to_string(), status, "{shown}");
                assert_eq!(written_for(&out), new, "{shown}");

                let plan = plan_with_pending(&client, &changed, &at).await;
                assert!(!plan.has_changes(), "{shown}: {plan:#?}");
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
}

/// A create whose sink failed, then its entry declared Disabled with a new description: the
/// apply adopts it, disables it, and updates it (`changed`, not `moved` by its own disable);
/// the next plan has nothing to do.
#[tokio::test]
async fn a_pending_create_then_declared_disabled_and_changed_converges_in_one_apply() {
    let stores = Stores::start("drifted-create");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let dir = temp_dir("drifted-create-out");
        let out = dir.join("delivered");
        let options = ApplyOptions::new(at.clone());
        let report = client
            .apply(&entry("svc", "", FAILING), None, &options)
            .await
            .unwrap();
        let made = result_of(&report.results, "svc").new_token_id.clone();
        let made = made.unwrap();
        let extra = "status = \"Disabled\"\ndescription = \"changed since\"";
        let changed = entry("svc", extra, &writing(&out));
        let shown = at.shown();
        let plan = plan_with_pending(&client, &changed, &at).await;
        assert_eq!(plan.count(ActionKind::Resume), 1, "{shown}: {plan:#?}");
        assert_eq!(plan.count(ActionKind::Update), 1, "{shown}: {plan:#?}");
        let report = client.apply(&changed, None, &options).await.unwrap();
        assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
        assert_eq!(report.count(Applied::Adopted), 1, "{shown}: {report:#?}");
        assert_eq!(report.done(ActionKind::Update), 1, "{shown}: {report:#?}");
        let token = client.get(made.as_str()).await.unwrap();
        assert_eq!(token.description(), Some("changed since"), "{shown}");
        assert_eq!(token.status(), TokenStatus::Disabled, "{shown}");
        assert_eq!(written_for(&out), made);
        assert_eq!(server.tokens_created(), 1);
        let plan = plan_with_pending(&client, &changed, &at).await;
        assert!(!plan.has_changes(), "{shown}: {plan:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
