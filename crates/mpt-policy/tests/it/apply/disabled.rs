//! A rotation left pending (its sink failed, its create's answer lost, or verified and not yet
//! retired), then its entry declared `Disabled`: the rotation it began is finished (with
//! allow-destroy: it retires and deletes the old token on the record's word) and its
//! replacement, whose secret the sink then has, disabled. The name ends with one token,
//! Disabled, and what apply reports is the platform's final state, in both stores.

use std::convert::Infallible;

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::state::{Key, StateLocation};
use mpt_policy::{ActionKind, Applied, ApplyOptions, Step};

use super::held::{FAILING, entry, plan_with_pending, text_of, writing};
use super::records::{Stores, plant};
use super::*;
use crate::common::*;

/// Leaves a rotation of `old` (named `rot`, due) pending in the store at `at`, as `case` says:
/// returns its replacement's id and whether its secret reached `out` (the sink) already.
pub(super) async fn leave_pending(
    case: &str,
    client: &Client,
    at: &StateLocation,
    old: &str,
    out: &Path,
) -> (String, bool) {
    if case == "its sink failed" {
        let options = ApplyOptions::new(at.clone());
        let report = client
            .apply(&entry("rot", "", FAILING), None, &options)
            .await
            .unwrap();
        let row = result_of(&report.results, "rot");
        assert_eq!(row.result, Applied::Failed, "{row:#?}");
        return (row.new_token_id.clone().unwrap(), false);
    }
    // What an apply killed at that point leaves: the record as saved last.
    let mut plan = client.plan_rotation(old).await.unwrap();
    let mut saved = None;
    let made = plan
        .start_saving(client, async |p: &RotationPlan| {
            saved = Some(serde_json::to_value(p).unwrap());
            Ok::<(), Infallible>(())
        })
        .await
        .unwrap()
        .unwrap();
    let new = made.token.id().to_string();
    let key = Key::rotation(DEFAULT_ACCOUNT, old);
    if case == "its create's answer lost" {
        // Saved before the create was sent: `planned`, `createSent`, no `newId`.
        plant(at, &key, &saved.unwrap()).await;
        return (new, false);
    }
    // Verified: its secret handed to the sink, then the record saved; the old token not
    // retired yet (a kill during the quiet wait, say).
    std::fs::write(out, format!("{}\n", made.secret.expose_secret())).unwrap();
    plan.verify(client, &made.secret).await.unwrap();
    plant(at, &key, &serde_json::to_value(&plan).unwrap()).await;
    (new, true)
}

/// The entry declared Disabled while its rotation is pending: the plan shows the record's row
/// alone, destructive, its replacement disabled last; without allow-destroy nothing is sent
/// (both tokens stay Active, the record kept, no secret handed over); with it the rotation is
/// finished, reported `adopted` (its replacement was made by an earlier apply), the old token
/// deleted and the replacement, whose secret the sink has, Disabled: the one token of the
/// name. No token is made, and the next plan and apply have nothing to do.
#[tokio::test]
async fn a_pending_rotation_of_an_entry_declared_disabled_ends_with_one_disabled_token() {
    let stores = Stores::start("disabled-rotation");
    for case in ["its sink failed", "its create's answer lost", "verified"] {
        for at in stores.fresh() {
            let (server, client) = start().await;
            let old = server.seed_token(seed("rot").created(Utc::now() - Days::days(100)));
            let dir = temp_dir("disabled-rotation-out");
            let out = dir.join("delivered");
            let (new, delivered) = leave_pending(case, &client, &at, &old.id, &out).await;
            let key = Key::rotation(DEFAULT_ACCOUNT, &old.id);
            let shown = format!("{case} in {}", at.shown());
            let made = server.tokens_created();
            let disabled = entry("rot", "status = \"Disabled\"", &writing(&out));

            let plan = plan_with_pending(&client, &disabled, &at).await;
            assert_eq!(plan.actions.len(), 1, "{shown}: {plan:#?}");
            let row = &plan.actions[0];
            assert_eq!(row.kind, ActionKind::Resume, "{shown}: {row:#?}");
            assert!(row.destructive, "{shown}: {row:#?}");
            assert_eq!(
                &row.steps[row.steps.len() - 3..],
                &[Step::Retire, Step::Finish, Step::Disable],
                "{shown}: {row:#?}"
            );

            let options = ApplyOptions::new(at.clone());
            let report = client.apply(&disabled, None, &options).await.unwrap();
            assert_eq!(report.results.len(), 1, "{shown}: {report:#?}");
            let row = &report.results[0];
            assert_eq!(row.result, Applied::Skipped, "{shown}: {row:#?}");
            assert!(
                row.detail.contains("then disables its replacement"),
                "{shown}: {row:#?}"
            );
            let live = live_named(&client, "rot").await;
            assert_eq!(live.len(), 2, "{shown}");
            assert!(live.iter().all(|t| t.status() == TokenStatus::Active));
            assert!(text_of(&at, &key).await.is_some(), "{shown}");
            assert_eq!(out.exists(), delivered, "{shown}");

            let destroying = options.clone().allow_destroy(true);
            let report = client.apply(&disabled, None, &destroying).await.unwrap();
            assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
            assert_eq!(report.results.len(), 1, "{shown}: {report:#?}");
            let row = &report.results[0];
            assert_eq!(row.result, Applied::Adopted, "{shown}: {row:#?}");
            assert_eq!(row.new_token_id.as_deref(), Some(new.as_str()), "{shown}");
            assert!(
                row.detail.contains(&format!("then {new} disabled")),
                "{shown}: {row:#?}"
            );
            let summary = report.summary();
            assert!(
                summary.contains("0 rotated") && summary.contains("1 adopted"),
                "{shown}: {summary}"
            );
            // The platform: one token of the name, the replacement, Disabled; its secret is
            // the sink's; the old token deleted; nothing made; the record gone.
            let live = live_named(&client, "rot").await;
            assert_eq!(live.len(), 1, "{shown}: {live:#?}");
            assert_eq!(live[0].id(), new, "{shown}");
            assert_eq!(live[0].status(), TokenStatus::Disabled, "{shown}");
            assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
            assert_eq!(written_for(&out), new, "{shown}");
            assert_eq!(server.tokens_created(), made, "{shown}: a token was made");
            assert!(text_of(&at, &key).await.is_none(), "{shown}");

            let plan = plan_with_pending(&client, &disabled, &at).await;
            assert!(!plan.has_changes(), "{shown}: {plan:#?}");
            let report = client.apply(&disabled, None, &destroying).await.unwrap();
            assert!(report.results.is_empty(), "{shown}: {report:#?}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
