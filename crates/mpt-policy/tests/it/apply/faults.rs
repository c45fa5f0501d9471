//! Faults on about 10% of requests over a 500-token account.

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::{ActionKind, Applied, ApplyOptions};

use super::*;
use crate::common::*;

/// Faults on about 10% of requests over a 500-token account: every action is reported exactly
/// once, and every result is true to the server's final state.
#[tokio::test]
async fn under_faults_every_action_is_reported_once_and_true_to_the_final_state() {
    for noop in [NoopTransitions::Refused, NoopTransitions::Accepted] {
        under_faults(noop).await;
    }
}

/// Unpaced: a `503` and a connection closed before its answer are congestion signals that cut
/// the adaptive pace, and faults struck on every 20th and 29th request whatever the pace (not a
/// limiter's) would keep cutting it; what is checked here is the results, not the pace.
async fn under_faults(noop: NoopTransitions) {
    let (server, client) = mock_paced(noop, 4, mpt::Pacing::Off).await;
    let dir = temp_dir("faults");
    let now = Utc::now();
    let mut entries = String::new();
    for i in 0..500 {
        let name = format!("t-{i:03}");
        let kept = seed(&name).with_description("kept");
        let (seeded_as, wanted) = match i % 10 {
            0 => (Some(kept.with_status("Disabled")), "Active"),
            1 => (Some(kept), "Disabled"),
            2 => (Some(kept), "absent"),
            3 => (Some(seed(&name).with_description("old")), "Active"),
            4 => (None, "Active"),
            5 if i % 20 == 5 => (Some(kept.created(now - Days::days(100))), "Active"),
            _ => (Some(kept), "Active"),
        };
        if let Some(s) = seeded_as {
            server.seed_token(s);
        }
        entries.push_str(&format!(
            "[[accounts.tokens]]\nname = \"{name}\"\nstatus = \"{wanted}\"\n"
        ));
        if wanted != "absent" {
            let description = if i % 10 == 3 { "new" } else { "kept" };
            entries.push_str(&format!(
                "modules = [\"{DEFAULT_MODULE}\"]\ndescription = \"{description}\"\nsecret = {{ file = \"{}/{name}\" }}\n",
                dir.display()
            ));
        }
    }
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nrotate_after = \"90d\"\n{entries}"
    ));
    let planned = client.plan(&policy).await.unwrap();
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::every(20, Fault::Status(503)))
                .with(FaultRule::every(29, Fault::DropAfterProcessing))
                .with(FaultRule::every(31, Fault::MalformedJson)),
        )
        .unwrap();
    let options = ApplyOptions::new(dir.join("state"))
        .allow_destroy(true)
        .concurrency(8);
    let report = client.apply(&policy, None, &options).await.unwrap();
    server.set_faults(Faults::none()).unwrap();

    // Each planned action exactly once.
    let key = |kind: ActionKind, name: &str| format!("{kind:?} {name}");
    let mut wanted: Vec<String> = planned
        .actions
        .iter()
        .map(|a| key(a.kind, &a.name))
        .collect();
    let mut got: Vec<String> = report
        .results
        .iter()
        .map(|r| key(r.action.kind, &r.action.name))
        .collect();
    wanted.sort();
    got.sort();
    assert_eq!(got, wanted);
    assert!(
        report.failed() < report.results.len() / 4,
        "{}",
        report.summary()
    );

    // Each result against the final state.
    for r in &report.results {
        let a = &r.action;
        let live = live_named(&client, &a.name).await;
        let reached = match a.kind {
            ActionKind::Enable => live.iter().all(|t| t.status() == TokenStatus::Active),
            ActionKind::Disable => live.iter().all(|t| t.status() == TokenStatus::Disabled),
            ActionKind::Delete => live.is_empty(),
            ActionKind::Update => live.iter().all(|t| t.description() == Some("new")),
            ActionKind::Create | ActionKind::Rotate => {
                live.len() == 1
                    && Some(live[0].id()) == r.new_token_id.as_deref()
                    && secret_owner(&dir.join(&a.name)) == live[0].id()
            }
            _ => unreachable!("{a:?}"),
        };
        match r.result {
            Applied::Changed | Applied::Unchanged | Applied::Unconfirmed => {
                assert!(reached, "{r:#?}\nlive: {live:#?}")
            }
            Applied::Failed => assert!(!reached, "reported failed, but done: {r:#?}"),
            other => panic!("{other:?}: {r:#?}"),
        }
    }

    // Without faults, the next apply finishes the rest, and the one after has nothing to do.
    let report = client.apply(&policy, None, &options).await.unwrap();
    assert_eq!(report.failed(), 0, "{:#?}", report.results);
    let plan = client.plan(&policy).await.unwrap();
    assert!(!plan.has_changes(), "{plan:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}
