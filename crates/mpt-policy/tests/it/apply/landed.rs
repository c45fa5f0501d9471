//! Rotation records the platform has moved past: a retire whose disable landed but whose
//! apply stopped before it saved `retired`, and a pending rotation whose old token was then
//! deleted outside it. Each is finished by the next apply, judged by the platform's state now.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use mpt::RotationPlan;
use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::state;
use mpt_policy::{Applied, ApplyError, ApplyOptions, Plan, Step};

use super::*;
use crate::common::*;

/// The policy of one entry "svc" whose secret goes to `file`: declared Active and rotated
/// after 90 days, or declared Disabled.
fn declaring(file: &Path, disabled: bool) -> mpt_policy::Policy {
    let status = match disabled {
        true => "status = \"Disabled\"",
        false => "rotate_after = \"90d\"",
    };
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\n{status}\nsecret = {{ file = \"{}\" }}\n",
        file.display()
    ))
}

/// The plan now, with the pending work of the state directory `state`.
async fn planned(client: &Client, policy: &mpt_policy::Policy, state: &Path) -> Plan {
    let mut plan = client.plan(policy).await.unwrap();
    let store = state::open(&state.into(), &[DEFAULT_ACCOUNT.to_string()], None)
        .await
        .unwrap();
    plan.include_pending(client, policy, store.as_ref()).await;
    plan
}

/// A rotation of a 100-day-old "svc" begun as an apply begins it, its record in `state`:
/// saved at `planned`, its create sent (the replacement made). Returns the old token's id, the
/// record's path, the plan (at `created`) and the replacement's secret.
async fn begun(
    server: &MockServer,
    client: &Client,
    state: &Path,
) -> (String, PathBuf, RotationPlan, mpt::TokenSecret) {
    let old = server.seed_token(seed("svc").created(Utc::now() - Days::days(100)));
    std::fs::create_dir_all(state.join("rotations")).unwrap();
    let saved = state.join("rotations").join(format!("{}.json", old.id));
    let save = |p: &RotationPlan| {
        std::fs::write(&saved, serde_json::to_string(p).unwrap()).map_err(|e| e.to_string())
    };
    let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    let made = plan
        .start_saving(client, async |p: &RotationPlan| save(p))
        .await
        .unwrap()
        .unwrap();
    (old.id, saved, plan, made.secret)
}

/// A token of 100 days whose rotation a failing sink left at `created`: the old token and the
/// replacement's id.
async fn left_by_a_failed_sink(
    server: &MockServer,
    client: &Client,
    options: &ApplyOptions,
) -> (mpt_mock::Seeded, String) {
    let old = server.seed_token(seed("svc").created(Utc::now() - Days::days(100)));
    let failing = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nrotate_after = \"90d\"\nsecret = {}\n",
        held::FAILING
    ));
    let report = client.apply(&failing, None, options).await.unwrap();
    assert_eq!(report.failed(), 1, "{report:#?}");
    let live = live_named(client, "svc").await;
    let new = live.iter().find(|t| t.id() != old.id).unwrap().id();
    let new = new.to_string();
    (old, new)
}

fn write_secret(file: &Path, secret: &mpt::TokenSecret) {
    std::fs::write(file, format!("{}\n", secret.expose_secret())).unwrap();
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A record at `verified` whose old token is Disabled: its retire's disable landed, but the
/// apply that sent it stopped before saving `retired` (an interrupt while the disable was
/// slow, a kill within its round trip). The plan shows the retire and the delete; the next
/// apply sends no second disable, deletes the old token, and removes the record (for an entry
/// declared Disabled, with --allow-destroy as before, then disables the replacement). A
/// replacement no longer Active is still refused, and the old token kept.
#[tokio::test]
async fn a_retire_that_landed_unsaved_is_finished_by_the_next_apply() {
    for case in ["active", "disabled", "replacement disabled"] {
        let (server, client) = start().await;
        let dir = temp_dir("landed");
        let state = dir.join("state");
        let file = dir.join("svc.secret");
        let (old, saved, mut plan, secret) = begun(&server, &client, &state).await;
        write_secret(&file, &secret);
        plan.verify(&client, &secret).await.unwrap();
        std::fs::write(&saved, serde_json::to_string(&plan).unwrap()).unwrap();
        let new = plan.new_id.clone().unwrap();
        // The retire's disable landed; `retired` was never saved.
        client.disable(old.as_str()).await.unwrap();
        if case == "replacement disabled" {
            client.disable(new.as_str()).await.unwrap();
        }
        let policy = declaring(&file, case == "disabled");
        let shown = planned(&client, &policy, &state).await;
        let row = &shown.actions[0];
        let options = ApplyOptions::new(state.clone()).allow_destroy(true);
        let sent = changes(&server);
        let disables = server.requests(Operation::Disable);
        let report = client.apply(&policy, None, &options).await.unwrap();
        if case == "replacement disabled" {
            assert_eq!(row.steps, [Step::Refused], "{row:#?}");
            assert_eq!(report.count(Applied::Refused), 1, "{report:#?}");
            assert_eq!(changes(&server), sent, "nothing is sent");
            assert_eq!(server.token_status(&old).as_deref(), Some("Disabled"));
            assert!(saved.exists());
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        }
        let mut steps = vec![Step::Retire, Step::Finish];
        if case == "disabled" {
            steps.push(Step::Disable);
        }
        assert_eq!(row.steps, steps, "{case}: {row:#?}");
        assert_eq!(report.failed(), 0, "{case}: {report:#?}");
        assert_eq!(report.count(Applied::Refused), 0, "{case}: {report:#?}");
        assert_eq!(report.count(Applied::Adopted), 1, "{case}: {report:#?}");
        assert_eq!(server.token_status(&old).as_deref(), Some("Deleted"));
        // No second disable of the old token: only the replacement's, when declared Disabled.
        let expected = u64::from(case == "disabled");
        assert_eq!(server.requests(Operation::Disable) - disables, expected);
        let live = live_named(&client, "svc").await;
        assert_eq!(live.len(), 1, "{case}");
        assert_eq!(live[0].id(), new);
        let status = if case == "disabled" {
            "Disabled"
        } else {
            "Active"
        };
        assert_eq!(server.token_status(&new).as_deref(), Some(status));
        assert_eq!(secret_owner(&file), new);
        assert!(!saved.exists(), "{case}: the record is removed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A pending rotation (its sink failed: the record at `planned`, its replacement made) whose
/// old token was then deleted outside it: nothing is left to retire. The plan shows the
/// replacement adopted, handed over and verified, the record removed (and, for an entry
/// declared Disabled, the replacement disabled), not destructive; the apply does that without
/// --allow-destroy, sending nothing for the old token. Its replacement disabled by hand too, of
/// an entry declared Disabled: its secret is handed over (unverified: a Disabled token's cannot
/// make a call), nothing sent. A saved plan made while the old token was still there is refused
/// as stale. The same for a record at `created` (its replacement's id saved, as an apply saves
/// it since), without the adopt.
#[tokio::test]
async fn a_pending_rotation_whose_old_token_was_deleted_hands_its_replacement_over() {
    let cases = [(false, false), (true, false), (true, true)];
    for ((disabled, by_hand), at_created) in cases.iter().flat_map(|c| [(*c, false), (*c, true)]) {
        let (server, client) = start().await;
        let dir = temp_dir("gone");
        let state = dir.join("state");
        let file = dir.join("svc.secret");
        let (old, saved, plan, _) = begun(&server, &client, &state).await;
        if at_created {
            std::fs::write(&saved, serde_json::to_string(&plan).unwrap()).unwrap();
        }
        let new = plan.new_id.clone().unwrap();
        let policy = declaring(&file, disabled);
        let before = planned(&client, &policy, &state).await;
        client.delete(old.as_str()).await.unwrap();
        if by_hand {
            client.disable(new.as_str()).await.unwrap();
        }
        let shown = planned(&client, &policy, &state).await;
        let row = &shown.actions[0];
        let mut steps = vec![Step::Adopt, Step::Deliver, Step::Verify, Step::Remove];
        if by_hand {
            steps = vec![Step::Adopt, Step::Deliver, Step::Remove];
        } else if disabled {
            steps.push(Step::Disable);
        }
        if at_created {
            steps.retain(|s| *s != Step::Adopt);
        }
        assert_eq!(row.steps, steps, "{row:#?}");
        assert!(!row.destructive, "{row:#?}");
        assert!(row.reason.contains("is gone"), "{}", row.reason);
        let options = ApplyOptions::new(state.clone());
        let sent = changes(&server);
        let err = client
            .apply(&policy, Some(&before), &options)
            .await
            .unwrap_err();
        assert!(matches!(err, ApplyError::Stale { .. }), "{err:?}");
        assert_eq!(changes(&server), sent);
        let report = client.apply(&policy, Some(&shown), &options).await.unwrap();
        assert_eq!(report.failed(), 0, "{report:#?}");
        assert_eq!(report.count(Applied::Adopted), 1, "{report:#?}");
        assert_eq!(report.count(Applied::Skipped), 0, "{report:#?}");
        let detail = &report.results[0].detail;
        assert!(detail.contains("already gone"), "{detail}");
        // Nothing but the update that puts back the replacement's description (the create's
        // marker removed) and its own disable (declared Disabled) was sent.
        let disable = disabled && !by_hand;
        assert_eq!(
            changes(&server) - sent,
            1 + u64::from(disable),
            "{report:#?}"
        );
        let now = client.get(new.as_str()).await.unwrap();
        assert_eq!(now.description(), None, "{now:?}");
        if by_hand {
            assert!(detail.contains("unverified"), "{detail}");
        }
        let live = live_named(&client, "svc").await;
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].id(), new);
        let status = if disabled { "Disabled" } else { "Active" };
        assert_eq!(server.token_status(&new).as_deref(), Some(status));
        assert_eq!(secret_owner(&file), new);
        assert!(!saved.exists(), "the record is removed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A rotation whose sink failed keeps its replacement's id: the record is saved at `created`
/// with `newId` as soon as the create answered, before the sink runs. A twin made by hand
/// since is then no candidate: the record is refused naming it (nothing sent), and once the
/// twin is gone the next apply hands over the recorded replacement's secret, not the twin's.
#[tokio::test]
async fn a_rotation_whose_sink_failed_keeps_its_replacements_id() {
    let (server, client) = start().await;
    let dir = temp_dir("keeps-id");
    let state = dir.join("state");
    let file = dir.join("svc.secret");
    let options = ApplyOptions::new(state.clone());
    let (old, new) = left_by_a_failed_sink(&server, &client, &options).await;
    let saved = state.join("rotations").join(format!("{}.json", old.id));
    let record: RotationPlan =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(record.new_id.as_deref(), Some(new.as_str()), "{record:#?}");
    assert_eq!(record.phase, mpt::RotationPhase::Created, "{record:#?}");
    // A twin made by hand: refused by name, nothing sent.
    let twin = client
        .create(&mpt::NewToken::new(DEFAULT_ACCOUNT, "svc").modules([DEFAULT_MODULE]))
        .await
        .unwrap();
    let policy = declaring(&file, false);
    let shown = planned(&client, &policy, &state).await;
    let row = &shown.actions[0];
    assert_eq!(row.steps, [Step::Refused], "{row:#?}");
    assert!(row.reason.contains(twin.token.id()), "{}", row.reason);
    let sent = changes(&server);
    let report = client.apply(&policy, None, &options).await.unwrap();
    assert_eq!(report.count(Applied::Refused), 1, "{report:#?}");
    assert_eq!(changes(&server), sent);
    client.delete(twin.token.id()).await.unwrap();
    let report = client.apply(&policy, None, &options).await.unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.count(Applied::Adopted), 1, "{report:#?}");
    assert_eq!(secret_owner(&file), new);
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
    assert_eq!(server.token_status(&new).as_deref(), Some("Active"));
    assert!(!saved.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rotation whose sink failed, its recorded replacement then deleted by hand before it was
/// verified: nothing of the rotation was retired, so it starts again (the plan says so), makes
/// a new replacement, and finishes; the deleted one is never adopted.
#[tokio::test]
async fn a_rotation_whose_replacement_was_deleted_before_it_was_verified_starts_again() {
    let (server, client) = start().await;
    let dir = temp_dir("restart");
    let state = dir.join("state");
    let file = dir.join("svc.secret");
    let options = ApplyOptions::new(state.clone());
    let (old, first) = left_by_a_failed_sink(&server, &client, &options).await;
    client.delete(first.as_str()).await.unwrap();
    let policy = declaring(&file, false);
    let shown = planned(&client, &policy, &state).await;
    let row = &shown.actions[0];
    assert_eq!(row.steps[0], Step::Create, "{row:#?}");
    assert!(row.reason.contains("starts again"), "{}", row.reason);
    let created = server.tokens_created();
    let report = client.apply(&policy, None, &options).await.unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.count(Applied::Changed), 1, "{report:#?}");
    assert_eq!(server.tokens_created() - created, 1);
    let live = live_named(&client, "svc").await;
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].id(), first);
    assert_eq!(secret_owner(&file), live[0].id());
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
    let _ = std::fs::remove_dir_all(&dir);
}
