//! Every action kind carried out, destructive ones gated, saved plans checked, refused modules
//! and pinned rotations left alone.

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::{ActionKind, Applied, ApplyError, ApplyOptions};

use super::*;
use crate::common::*;
use crate::drift::Drift;

#[tokio::test]
async fn apply_converges_every_action_kind_and_a_second_apply_changes_nothing() {
    for noop in [NoopTransitions::Refused, NoopTransitions::Accepted] {
        let (server, client) = mock_in(noop, 3).await;
        let dir = temp_dir("converge");
        let now = Utc::now();
        let Drift {
            drifted,
            off,
            on,
            doomed,
            aged,
            idle,
            twins: [twin_a, twin_b],
            stray,
        } = Drift::seed(&server, now);
        let missing_file = dir.join("missing.secret");
        let aged_file = dir.join("aged.secret");
        let cold_file = dir.join("cold.secret");
        let text = Drift::policy(
            &[
                (
                    "missing",
                    format!("secret = {{ file = \"{}\" }}", missing_file.display()),
                ),
                (
                    "aged",
                    format!("secret = {{ file = \"{}\" }}", aged_file.display()),
                ),
            ],
            &format!(
                "\n[[accounts.tokens]]\nname = \"cold\"\nmodules = [\"{DEFAULT_MODULE}\"]\nstatus = \"Disabled\"\nsecret = {{ command = [\"sh\", \"-c\", \"cat > {}; test \\\"$MPT_TOKEN_NAME\\\" = cold\"], timeout = \"10s\" }}\n",
                cold_file.display()
            ),
        );
        let policy = policy(&text);
        let planned = client.plan(&policy).await.unwrap();
        assert_eq!(planned.actions.len(), 11, "{planned:#?}");
        let seen = Arc::new(Mutex::new(0usize));
        let counter = seen.clone();
        let options = ApplyOptions::new(dir.join("state"))
            .allow_destroy(true)
            .on_result(move |_| *counter.lock().unwrap() += 1);
        let report = client.apply(&policy, None, &options).await.unwrap();
        let r = &report.results;
        assert_eq!(r.len(), 11, "each action once: {r:#?}");
        assert_eq!(
            *seen.lock().unwrap(),
            11,
            "each result reported as it is known"
        );
        assert_eq!(report.failed(), 0, "{noop:?}: {r:#?}");

        // Every result is true to the server's final state.
        let made = result_of(r, "missing");
        assert_eq!(made.result, Applied::Changed);
        let new_id = made.new_token_id.clone().unwrap();
        assert_eq!(secret_owner(&missing_file), new_id);
        let live = live_named(&client, "missing").await;
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].id(), new_id);
        assert_eq!(live[0].description(), Some("made by the policy"));
        let cold = live_named(&client, "cold").await;
        assert_eq!(cold.len(), 1);
        assert_eq!(cold[0].status(), TokenStatus::Disabled);
        assert_eq!(written_for(&cold_file), cold[0].id());
        assert_eq!(
            client.get(drifted.id.as_str()).await.unwrap().description(),
            Some("new words")
        );
        assert_eq!(result_of(r, "drifted").result, Applied::Changed);
        let status = |id: &str| server.token_status(id).unwrap();
        assert_eq!(status(&off.id), "Active");
        assert_eq!(status(&on.id), "Disabled");
        assert_eq!(status(&idle.id), "Disabled");
        assert_eq!(status(&doomed.id), "Deleted");
        for name in ["should-be-on", "should-be-off", "idle"] {
            let expected = match noop {
                NoopTransitions::Refused => Applied::Changed,
                _ => Applied::Unconfirmed,
            };
            assert_eq!(result_of(r, name).result, expected, "{name}");
        }
        // The rotation: the old token deleted, one live replacement, its secret in the sink.
        let rotated = result_of(r, "aged");
        assert_eq!(
            (rotated.action.kind, rotated.result),
            (ActionKind::Rotate, Applied::Changed)
        );
        assert_eq!(status(&aged.id), "Deleted");
        let live = live_named(&client, "aged").await;
        assert_eq!(live.len(), 1);
        assert_eq!(Some(live[0].id()), rotated.new_token_id.as_deref());
        assert_eq!(secret_owner(&aged_file), live[0].id());
        // Reported, never touched.
        for (name, id) in [
            ("twin", &twin_a.id),
            ("twin", &twin_b.id),
            ("stray", &stray.id),
        ] {
            assert_eq!(result_of(r, name).result, Applied::Reported);
            assert_eq!(server.token_revision(id), Some(1), "{name} untouched");
        }
        assert_eq!(result_of(r, "pinned").result, Applied::Reported);
        let summary = report.summary();
        assert!(
            summary
                .starts_with("2 created, 1 updated, 1 enabled, 2 disabled, 1 deleted, 1 rotated")
                && summary.ends_with("3 reported, 0 failed"),
            "{summary}"
        );
        // Nothing pending is left behind, and no secret outside the sinks.
        let state = dir.join("state");
        assert_no_secret_in(&state);
        for sub in ["rotations", "creates"] {
            assert_eq!(
                std::fs::read_dir(state.join(sub)).unwrap().count(),
                0,
                "{sub}"
            );
        }

        // A second apply plans nothing to change and sends nothing that changes.
        let sent = changes(&server);
        let again = client.apply(&policy, None, &options).await.unwrap();
        assert!(
            again.results.iter().all(|r| r.result == Applied::Reported),
            "{noop:?}: {:#?}",
            again.results
        );
        assert_eq!(changes(&server), sent);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn destructive_actions_wait_for_allow_destroy() {
    let (server, client) = start().await;
    let dir = temp_dir("destroy");
    let doomed = server.seed_token(seed("doomed"));
    let stray = server.seed_token(seed("stray"));
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"disable\"\n[[accounts.tokens]]\nname = \"doomed\"\nstatus = \"absent\"\n"
    ));
    let options = ApplyOptions::new(dir.join("state"));
    let report = client.apply(&policy, None, &options).await.unwrap();
    assert_eq!(report.count(Applied::Skipped), 2, "{report:#?}");
    assert!(
        report.summary().contains("2 skipped"),
        "{}",
        report.summary()
    );
    assert_eq!(changes(&server), 0);
    assert_eq!(server.token_status(&doomed.id).unwrap(), "Active");

    let report = client
        .apply(&policy, None, &options.clone().allow_destroy(true))
        .await
        .unwrap();
    assert_eq!(report.done(ActionKind::Delete), 1, "{report:#?}");
    assert_eq!(report.done(ActionKind::Disable), 1);
    assert_eq!(server.token_status(&doomed.id).unwrap(), "Deleted");
    assert_eq!(server.token_status(&stray.id).unwrap(), "Disabled");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_stale_saved_plan_is_refused_naming_the_tokens() {
    let (server, client) = start().await;
    let dir = temp_dir("stale");
    let drifted = server.seed_token(seed("drifted").with_description("old"));
    let other = server.seed_token(seed("other").with_status("Disabled"));
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n[[accounts.tokens]]\nname = \"drifted\"\nmodules = [\"{DEFAULT_MODULE}\"]\ndescription = \"new\"\n[[accounts.tokens]]\nname = \"other\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
    ));
    let saved = client.plan(&policy).await.unwrap();
    // Someone edits the token after the plan was made.
    client
        .update(drifted.id.as_str(), &TokenUpdate::new().icon("edited"))
        .await
        .unwrap();
    let options = ApplyOptions::new(dir.join("state"));
    let before = changes(&server);
    match client.apply(&policy, Some(&saved), &options).await {
        Err(ApplyError::Stale { tokens }) => assert_eq!(tokens, [drifted.id.as_str()]),
        other => panic!("{other:?}"),
    }
    assert_eq!(changes(&server), before, "a refused plan changes nothing");
    assert_eq!(server.token_status(&other.id).unwrap(), "Disabled");

    // A plan of other accounts than the policy's is refused before anything is read.
    let mut elsewhere = saved.clone();
    elsewhere.accounts = vec![VENDOR_ACCOUNT.to_string()];
    match client.apply(&policy, Some(&elsewhere), &options).await {
        Err(ApplyError::OtherAccounts { planned, declared }) => {
            assert_eq!(
                (planned, declared),
                (
                    vec![VENDOR_ACCOUNT.to_string()],
                    vec![DEFAULT_ACCOUNT.to_string()]
                )
            )
        }
        other => panic!("{other:?}"),
    }
    // A plan file edited to add an action (here: delete another token) is stale too.
    let mut edited = client.plan(&policy).await.unwrap();
    let mut extra = edited.actions[0].clone();
    extra.kind = ActionKind::Delete;
    extra.token_id = Some(other.id.clone());
    edited.actions.push(extra);
    assert!(matches!(
        client
            .apply(&policy, Some(&edited), &options.clone().allow_destroy(true))
            .await,
        Err(ApplyError::Stale { .. })
    ));
    assert_eq!(server.token_status(&other.id).unwrap(), "Disabled");
    // A plan of the state as it is now is carried out.
    let saved = client.plan(&policy).await.unwrap();
    let report = client.apply(&policy, Some(&saved), &options).await.unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.results.len(), 2);
    assert_eq!(server.token_status(&other.id).unwrap(), "Active");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn modules_the_platform_strips_are_reported_once_and_not_sent_again() {
    let (server, client) = start().await;
    let dir = temp_dir("strip");
    let [kept, dropped] = [KNOWN_MODULES[0], KNOWN_MODULES[1]];
    let token = server.seed_token(SeedToken::named("svc").with_modules([kept, dropped]));
    // The account loses a module: the platform strips it from every token.
    server.set_account_modules(DEFAULT_ACCOUNT, [kept, KNOWN_MODULES[2]]);
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{kept}\", \"{dropped}\"]\ndescription = \"wanted words\"\n"
    ));
    let plan = client.plan(&policy).await.unwrap();
    assert_eq!(
        plan.count(ActionKind::Update),
        1,
        "shown as drift: {plan:#?}"
    );
    let options = ApplyOptions::new(dir.join("state"));
    let report = client.apply(&policy, None, &options).await.unwrap();
    let r = result_of(&report.results, "svc");
    assert_eq!(r.result, Applied::NotApplied, "{r:#?}");
    assert!(
        r.detail.contains(dropped) && r.detail.contains("strips"),
        "{}",
        r.detail
    );
    assert!(report.summary().contains("1 could not be applied"));
    // The other field was applied; the module was not.
    let now = client.get(token.id.as_str()).await.unwrap();
    assert_eq!(now.description(), Some("wanted words"));
    assert_eq!(now.module_ids(), [kept]);
    let updates = server.requests(Operation::Update);

    // A plan shows it as drift, explained by the apply's record.
    let mut plan = client.plan(&policy).await.unwrap();
    assert_eq!(plan.count(ActionKind::Update), 1);
    let mpt_policy::StateLocation::Dir(dir) = options.state().clone() else {
        unreachable!()
    };
    plan.explain_refused(&mpt_policy::state::DirStore::read_only(&dir))
        .await;
    let reason = &plan.actions[0].reason;
    assert!(
        reason.contains(dropped) && reason.contains("strips") && reason.contains("Not sent again"),
        "{reason}"
    );
    // The next apply does not send it again.
    let again = client.apply(&policy, None, &options).await.unwrap();
    assert_eq!(result_of(&again.results, "svc").result, Applied::NotApplied);
    assert_eq!(server.requests(Operation::Update), updates, "no loop");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A platform that takes an update but leaves a module out of the token: reported once as not
/// applied, recorded, and not sent again.
#[tokio::test]
async fn a_module_the_platform_drops_from_an_update_is_not_sent_again() {
    let dir = temp_dir("dropped");
    let page = r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":1}},"data":[
        {"id":"TKN-1111-1111","name":"svc","status":"Active","revision":1,"account":{"id":"ACC-1"},"modules":[{"id":"MOD-1"}]}]}"#;
    let answer = r#"{"id":"TKN-1111-1111","name":"svc","status":"Active","revision":2,"account":{"id":"ACC-1"},"modules":[{"id":"MOD-1"}]}"#;
    // The plan's listing, the listing read again right before acting, the update's answer,
    // then listings.
    let server = canned(vec![
        Scripted::answer(200, "application/json", page),
        Scripted::answer(200, "application/json", page),
        Scripted::answer(200, "application/json", answer),
        Scripted::answer(200, "application/json", page),
    ])
    .await;
    let client = canned_client(&server, "api");
    let policy = policy(
        "[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"MOD-1\", \"MOD-2\"]\n",
    );
    let options = ApplyOptions::new(dir.join("state"));
    let report = client.apply(&policy, None, &options).await.unwrap();
    let r = result_of(&report.results, "svc");
    assert_eq!(r.result, Applied::NotApplied, "{r:#?}");
    assert!(r.detail.contains("MOD-2"), "{}", r.detail);
    let report = client.apply(&policy, None, &options).await.unwrap();
    assert_eq!(
        result_of(&report.results, "svc").result,
        Applied::NotApplied
    );
    let puts = server
        .request_lines()
        .iter()
        .filter(|l| l.starts_with("PUT"))
        .count();
    assert_eq!(puts, 1, "{:#?}", server.request_lines());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rotation would give a pinned entry's token a new id the pin does not follow (and the
/// replacement would then be an undeclared token): apply reports it and leaves it alone.
#[tokio::test]
async fn a_pinned_token_due_for_rotation_is_reported_not_rotated() {
    let (server, client) = start().await;
    let dir = temp_dir("pinned");
    let old = server.seed_token(seed("svc").created(Utc::now() - Days::days(100)));
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nrotate_after = \"90d\"\nunmanaged = \"disable\"\n[[accounts.tokens]]\nname = \"svc\"\nid = \"{}\"\nmodules = [\"{DEFAULT_MODULE}\"]\n",
        old.id
    ));
    let plan = client.plan(&policy).await.unwrap();
    assert_eq!(plan.count(ActionKind::Rotate), 1);
    assert!(plan.actions[0].reason.contains("pinned"), "{plan:#?}");
    let report = client
        .apply(
            &policy,
            None,
            &ApplyOptions::new(dir.join("state")).allow_destroy(true),
        )
        .await
        .unwrap();
    assert_eq!(report.results.len(), 1);
    assert_eq!(report.results[0].result, Applied::Reported, "{report:#?}");
    assert_eq!(server.tokens_created(), 0);
    assert_eq!(server.token_status(&old.id).unwrap(), "Active");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The platform's clock 100 days behind the client's: ages are judged by the platform's time
/// (its answers' `Date`), so a token it made today is not 100 days old, and a rotation's
/// replacement is not rotated again by the next apply.
#[tokio::test]
async fn ages_are_judged_by_the_platforms_clock_not_the_clients() {
    let server = MockServer::builder()
        .clock_skew(mpt::chrono::TimeDelta::days(-100))
        .start()
        .await
        .unwrap();
    let client = admin(&server);
    let dir = temp_dir("skew");
    let platform_now = Utc::now() - Days::days(100);
    let fresh = server.seed_token(seed("fresh").created(platform_now));
    let aged = server.seed_token(seed("aged").created(platform_now - Days::days(91)));
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"fresh\"\nmodules = [\"{DEFAULT_MODULE}\"]\n[[accounts.tokens]]\nname = \"aged\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
    ));
    // By the client's clock both look old; by the platform's only one is.
    assert_eq!(
        client
            .plan_at(&policy, Utc::now())
            .await
            .unwrap()
            .count(ActionKind::Rotate),
        2
    );
    let plan = client.plan(&policy).await.unwrap();
    let rotate: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Rotate)
        .collect();
    assert_eq!(rotate.len(), 1, "{plan:#?}");
    assert_eq!(rotate[0].token_id.as_deref(), Some(aged.id.as_str()));
    assert!(
        (plan.made_at - platform_now).num_minutes().abs() < 5,
        "{}",
        plan.made_at
    );

    let options = ApplyOptions::new(dir.join("state"));
    let report = client.apply(&policy, None, &options).await.unwrap();
    assert_eq!(report.done(ActionKind::Rotate), 1, "{report:#?}");
    let sent = changes(&server);
    let again = client.apply(&policy, None, &options).await.unwrap();
    assert!(again.results.is_empty(), "{again:#?}");
    assert_eq!(changes(&server), sent);
    assert_eq!(server.token_status(&fresh.id).unwrap(), "Active");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A token declared Disabled is made, its secret handed over, then disabled: when someone else
/// disabled it while the sink ran, no disable is sent and the detail says so (each clause of a
/// detail matches a request this run made).
#[tokio::test]
async fn a_detail_names_only_what_this_run_sent() {
    let (server, client) = start().await;
    let dir = temp_dir("clauses");
    let out = dir.join("out.secret");
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"parked\"\nstatus = \"Disabled\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ command = [\"sh\", \"-c\", \"cat > '{}'; sleep 1\"], timeout = \"10s\" }}\n",
        out.display()
    ));
    let options = ApplyOptions::new(dir.join("state"));
    let apply = client.apply(&policy, None, &options);
    let meddle = async {
        // While the sink runs, another administrator disables the new token.
        loop {
            let made = live_named(&client, "parked").await;
            if let [token] = made.as_slice() {
                client.disable(token.id()).await.unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let (report, ()) = tokio::join!(apply, meddle);
    let report = report.unwrap();
    let made = result_of(&report.results, "parked");
    assert_eq!(made.result, Applied::Changed, "{made:#?}");
    assert!(!made.detail.contains("then disabled"), "{}", made.detail);
    assert!(made.detail.contains("no disable sent"), "{}", made.detail);
    assert_eq!(
        server.requests(Operation::Disable),
        1,
        "only the other administrator's"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
