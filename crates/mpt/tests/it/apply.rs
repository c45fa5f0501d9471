//! Tokens as code, carried out: `Client::apply` against the mock in both no-op modes, with
//! its results checked against the server's final state, under crashes between a rotation's
//! steps, failing and hanging secret sinks, stale saved plans, refused modules and faults.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use mpt::chrono::{Duration as Days, Utc};
use mpt::policy::{ActionKind, ActionResult, Applied, ApplyError, ApplyOptions, Policy};
use mpt::{NoopTransitions as ClientNoop, TokenSecret};

use crate::common::*;
use crate::drift::Drift;

/// A fresh directory under the system's temporary one.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mpt-apply-{tag}-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A mock answering no-op transitions as `noop` says, and a client told so (as a user of such a
/// server would configure it), retrying `attempts` times.
async fn mock_in(noop: NoopTransitions, attempts: u32) -> (MockServer, Client) {
    let server = MockServer::builder()
        .noop_transitions(noop)
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .retry(fast_retries(attempts))
        .noop_transitions(match noop {
            NoopTransitions::Refused => ClientNoop::Refused,
            _ => ClientNoop::Accepted,
        })
        .build()
        .unwrap();
    (server, client)
}

fn policy(text: &str) -> Policy {
    Policy::from_toml(text, "tokens.toml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn seed(name: &str) -> SeedToken {
    SeedToken::named(name).with_modules([DEFAULT_MODULE])
}

/// The token id a secret file holds (and that it is private).
fn secret_owner(path: &Path) -> String {
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
    written_for(path)
}

/// The token id a file a sink command wrote holds.
fn written_for(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    TokenSecret::new(text.trim())
        .token_id()
        .unwrap_or_else(|| panic!("{} holds no token secret", path.display()))
        .to_string()
}

/// The live tokens named `name` in the default account, by id.
async fn live_named(client: &Client, name: &str) -> Vec<mpt::Token> {
    client
        .list()
        .filter(Filter::account(DEFAULT_ACCOUNT).and(Filter::name(name)))
        .collect()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| matches!(t.status(), TokenStatus::Active | TokenStatus::Disabled))
        .collect()
}

/// Requests that change something.
fn changes(server: &MockServer) -> u64 {
    [
        Operation::Create,
        Operation::Update,
        Operation::Enable,
        Operation::Disable,
        Operation::Delete,
    ]
    .iter()
    .map(|op| server.requests(*op))
    .sum()
}

fn result_of<'a>(results: &'a [ActionResult], name: &str) -> &'a ActionResult {
    let found: Vec<_> = results.iter().filter(|r| r.action.name == name).collect();
    assert_eq!(found.len(), 1, "{name}: {results:#?}");
    found[0]
}

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
        for sub in ["rotations", "creates", "secrets"] {
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
async fn a_failing_or_hanging_sink_loses_no_secret_and_the_next_apply_hands_it_over() {
    let (server, client) = start().await;
    let dir = temp_dir("sink");
    let now = Utc::now();
    let aged = server.seed_token(seed("aged").created(now - Days::days(100)));
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let text = |sink: &str| {
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nrotate_after = \"90d\"\n\
             [[accounts.tokens]]\nname = \"fresh\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n\
             [[accounts.tokens]]\nname = \"aged\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n"
        )
    };
    let state = dir.join("state");
    let options = ApplyOptions::new(&state).allow_destroy(true);
    for (sink, says) in [
        (
            r#"{ command = ["sh", "-c", "echo vault refused >&2; exit 3"] }"#.to_string(),
            "vault refused",
        ),
        (
            r#"{ command = ["sleep", "30"], timeout = "1s" }"#.to_string(),
            "did not finish within 1 s",
        ),
    ] {
        let report = client
            .apply(&policy(&text(&sink)), None, &options)
            .await
            .unwrap();
        for name in ["fresh", "aged"] {
            let r = result_of(&report.results, name);
            assert_eq!(r.result, Applied::Failed, "{r:#?}");
            assert!(r.detail.contains(says), "{}", r.detail);
            // The secret is kept in the state directory, 0600, and the path is named.
            let id = r.new_token_id.clone().unwrap();
            let kept = state.join("secrets").join(format!("{id}.secret"));
            assert!(
                r.detail.contains(&kept.display().to_string()),
                "{}",
                r.detail
            );
            assert_eq!(secret_owner(&kept), id);
        }
        assert!(!report.results.iter().any(|r| r.detail.contains("idt:")));
    }
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700, "the state directory is private");
    assert_eq!(mode(&state.join("secrets")), 0o700);
    // Two failed applies made one token each: the second adopted what the first made.
    assert_eq!(live_named(&client, "fresh").await.len(), 1);
    assert_eq!(
        live_named(&client, "aged").await.len(),
        2,
        "old and replacement"
    );
    assert_eq!(server.token_status(&aged.id).unwrap(), "Active");

    // A working sink: the secrets are handed over, nothing new is made, the rotation finishes.
    let fresh_file = out.join("fresh");
    let sink = format!(
        r#"{{ command = ["sh", "-c", "cat > {}/$MPT_TOKEN_NAME"] }}"#,
        out.display()
    );
    let created = server.tokens_created();
    let report = client
        .apply(&policy(&text(&sink)), None, &options)
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(server.tokens_created(), created, "no second replacement");
    assert!(report.results.iter().all(|r| r.resumed), "{report:#?}");
    let fresh = live_named(&client, "fresh").await;
    assert_eq!(written_for(&fresh_file), fresh[0].id());
    let aged_now = live_named(&client, "aged").await;
    assert_eq!(aged_now.len(), 1);
    assert_eq!(written_for(&out.join("aged")), aged_now[0].id());
    assert_eq!(server.token_status(&aged.id).unwrap(), "Deleted");
    assert_eq!(std::fs::read_dir(state.join("secrets")).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_secret_file_of_another_token_is_never_overwritten() {
    let (server, client) = start().await;
    let dir = temp_dir("owner");
    let other = server.seed_token(seed("other"));
    let file = dir.join("taken.secret");
    let held = format!("idt:{}:somebody-elses-secret\n", other.id);
    std::fs::write(&file, &held).unwrap();
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n[[accounts.tokens]]\nname = \"new\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        file.display()
    ));
    let report = client
        .apply(&policy, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    let r = result_of(&report.results, "new");
    assert_eq!(r.result, Applied::Failed);
    assert!(
        r.detail
            .contains(&format!("holds the secret of {}", other.id)),
        "{}",
        r.detail
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), held);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A crash at each point a rotation saves its plan: the next apply finishes it, and makes no
/// second replacement.
#[tokio::test]
async fn a_rotation_crashed_between_any_two_steps_resumes_without_a_second_replacement() {
    for crash_after in [
        "planned",
        "create sent",
        "created",
        "verified",
        "retired",
        "finished",
    ] {
        let (server, client) = start().await;
        let dir = temp_dir("crash");
        let state = dir.join("state");
        let old = server.seed_token(seed("svc").created(Utc::now() - Days::days(100)));
        let file = dir.join("svc.secret");
        let policy = policy(&format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
            file.display()
        ));
        // What an apply killed at that point leaves: the plan as saved last, and the
        // platform's state.
        std::fs::create_dir_all(state.join("rotations")).unwrap();
        let saved = state.join("rotations").join(format!("{}.json", old.id));
        let save = |p: &RotationPlan| {
            std::fs::write(&saved, serde_json::to_string(p).unwrap()).map_err(|e| e.to_string())
        };
        let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
        save(&plan).unwrap();
        if crash_after != "planned" {
            let made = plan.start_saving(&client, save).await.unwrap().unwrap();
            if crash_after != "create sent" {
                // The apply saves `created` only once verified: a crash after the create
                // leaves `planned` with `createSent` on disk.
                std::fs::write(&file, format!("{}\n", made.secret.expose_secret())).unwrap();
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
                if crash_after != "created" {
                    plan.verify(&client, &made.secret).await.unwrap();
                    save(&plan).unwrap();
                }
                if matches!(crash_after, "retired" | "finished") {
                    plan.retire(&client, None).await.unwrap();
                    save(&plan).unwrap();
                }
                if crash_after == "finished" {
                    plan.finish(&client).await.unwrap();
                }
            }
        }
        let created = server.tokens_created();
        let report = client
            .apply(&policy, None, &ApplyOptions::new(&state))
            .await
            .unwrap();
        assert_eq!(report.failed(), 0, "{crash_after}: {report:#?}");
        let expected_creates = u64::from(crash_after == "planned");
        assert_eq!(
            server.tokens_created() - created,
            expected_creates,
            "{crash_after}: no second replacement"
        );
        let live = live_named(&client, "svc").await;
        assert_eq!(live.len(), 1, "{crash_after}");
        assert_ne!(live[0].id(), old.id);
        assert_eq!(server.token_status(&old.id).unwrap(), "Deleted");
        assert_eq!(secret_owner(&file), live[0].id(), "{crash_after}");
        assert!(
            !saved.exists(),
            "{crash_after}: the finished plan is removed"
        );
        // Each rotation is reported once: by the resume, not again by the plan.
        assert_eq!(report.results.len(), 1, "{crash_after}: {report:#?}");
        assert!(report.results[0].resumed);
        let _ = std::fs::remove_dir_all(&dir);
    }
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
    plan.explain_refused(options.state_dir());
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

#[tokio::test]
async fn another_apply_on_the_same_state_directory_is_refused() {
    let (_server, client) = start().await;
    let dir = temp_dir("lock");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let held = std::fs::File::create(state.join("lock")).unwrap();
    held.lock().unwrap();
    let policy = policy(&format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n"));
    let e = client
        .apply(&policy, None, &ApplyOptions::new(&state))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ApplyError::StateDir(m) if m.contains("another apply")),
        "{e}"
    );
    drop(held);
    client
        .apply(&policy, None, &ApplyOptions::new(&state))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Faults on about 10% of requests over a 500-token account: every action is reported exactly
/// once, and every result is true to the server's final state.
#[tokio::test]
async fn under_faults_every_action_is_reported_once_and_true_to_the_final_state() {
    for noop in [NoopTransitions::Refused, NoopTransitions::Accepted] {
        under_faults(noop).await;
    }
}

async fn under_faults(noop: NoopTransitions) {
    let (server, client) = mock_in(noop, 4).await;
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

#[test]
fn bad_sinks_are_refused_naming_the_line_and_key() {
    let entry = |sink: &str| {
        format!(
            "[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"a\"\nmodules = [\"M\"]\nsecret = {sink}\n"
        )
    };
    let refused = |sink: &str| Policy::from_toml(&entry(sink), "tokens.toml").unwrap_err();
    let e = refused(r#"{ file = "/nonexistent-dir/a.secret" }"#);
    assert_eq!(
        (e.line, e.key.as_str()),
        (6, "accounts[0].tokens[0].secret"),
        "{e}"
    );
    assert!(e.message.contains("not in a writable directory"), "{e}");
    let e = refused(r#"{ file = "a", command = ["vault"] }"#);
    assert!(e.message.contains("one of"), "{e}");
    let e = refused(r#"{ command = [] }"#);
    assert!(e.message.contains("program"), "{e}");
    let e = refused(r#"{ command = ["vault"], timeout = "soon" }"#);
    assert_eq!(e.line, 6, "{e}");
    let e = refused(r#"{ file = "a", mode = "0644" }"#);
    assert_eq!(e.line, 6, "{e}");
    if !nix_root() {
        let dir = temp_dir("readonly");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        let e = refused(&format!("{{ file = \"{}/a.secret\" }}", dir.display()));
        assert!(e.message.contains("not in a writable directory"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    // One file for two tokens: the second would overwrite the first's secret.
    let dir = temp_dir("twice");
    let twice = format!(
        "{}[[accounts.tokens]]\nname = \"b\"\nmodules = [\"M\"]\nsecret = {{ file = \"{}/x\" }}\n",
        entry(&format!("{{ file = \"{}/x\" }}", dir.display())),
        dir.display()
    );
    let e = Policy::from_toml(&twice, "tokens.toml").unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (10, "accounts[0].tokens[1].secret"),
        "{e}"
    );
    assert!(e.message.contains("line 4"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Root writes into read-only directories: that case is checked only as another user.
fn nix_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A platform that takes an update but leaves a module out of the token: reported once as not
/// applied, recorded, and not sent again.
#[tokio::test]
async fn a_module_the_platform_drops_from_an_update_is_not_sent_again() {
    let dir = temp_dir("dropped");
    let page = r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":1}},"data":[
        {"id":"TKN-1111-1111","name":"svc","status":"Active","revision":1,"account":{"id":"ACC-1"},"modules":[{"id":"MOD-1"}]}]}"#;
    let answer = r#"{"id":"TKN-1111-1111","name":"svc","status":"Active","revision":2,"account":{"id":"ACC-1"},"modules":[{"id":"MOD-1"}]}"#;
    let server = canned(vec![
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

/// A FIFO planted where a rotation's plan would be: reported, never waited on.
#[tokio::test]
async fn a_planted_fifo_in_the_state_directory_is_reported_not_read() {
    let (_server, client) = start().await;
    let dir = temp_dir("fifo");
    let rotations = dir.join("state").join("rotations");
    std::fs::create_dir_all(&rotations).unwrap();
    let fifo = rotations.join("TKN-1111-1111.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let policy = policy(&format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n"));
    let report = tokio::time::timeout(
        Duration::from_secs(10),
        client.apply(&policy, None, &ApplyOptions::new(dir.join("state"))),
    )
    .await
    .expect("the apply waited on a FIFO")
    .unwrap();
    let r = &report.results[0];
    assert_eq!(r.result, Applied::Failed);
    assert!(r.detail.contains("not a regular file"), "{}", r.detail);
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

/// Cancelled mid-way (the CLI's first interrupt): no further action begins, each is reported
/// once (`notAttempted` for those not begun), and the next apply does the rest.
#[tokio::test]
async fn a_cancelled_apply_begins_nothing_more_and_the_next_one_finishes() {
    let (server, client) = start().await;
    let dir = temp_dir("cancel");
    let mut text = format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n");
    for i in 0..10 {
        text.push_str(&format!(
            "[[accounts.tokens]]\nname = \"svc-{i}\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
        ));
    }
    let policy = policy(&text);
    let cancel = mpt::Cancel::new();
    let stop = cancel.clone();
    let options = ApplyOptions::new(dir.join("state"))
        .concurrency(1)
        .on_result(move |_| stop.cancel());
    let report = client
        .with_cancel(cancel)
        .apply(&policy, None, &options)
        .await
        .unwrap();
    assert_eq!(report.results.len(), 10);
    assert_eq!(report.done(ActionKind::Create), 1, "{report:#?}");
    assert_eq!(report.count(Applied::NotAttempted), 9);
    assert!(
        report.summary().contains("9 not attempted"),
        "{}",
        report.summary()
    );
    assert_eq!(server.tokens_created(), 1);
    let report = client
        .apply(&policy, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    assert_eq!(report.done(ActionKind::Create), 9, "{report:#?}");
    assert_eq!(server.tokens_created(), 10);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A secret pasted into a policy by mistake is not quoted back in the error.
#[test]
fn a_policy_error_never_quotes_a_secret() {
    let e = Policy::from_toml(
        "[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"a\"\nmodules = [\"M\"]\nstatus = \"idt:TKN-1234-5678:s3cr3tv4lue\"\n",
        "tokens.toml",
    )
    .unwrap_err();
    assert_eq!(e.line, 6, "{e}");
    assert!(!e.to_string().contains("s3cr3tv4lue"), "{e}");
}
