//! Sink commands checked before anything is sent, and what a create's or a rotation's result
//! says when the token was made by an earlier apply (adopted, not created by this call) or
//! found after this call's create lost its answer (unconfirmed).

use std::os::unix::fs::PermissionsExt;

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::{ActionKind, Applied, ApplyError, ApplyOptions};

use super::*;
use crate::common::*;

/// A policy declaring `kept` (no sink) and `new`, its secret to `sink`.
fn with_sink(sink: &str) -> Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"kept\"\nmodules = [\"{DEFAULT_MODULE}\"]\n[[accounts.tokens]]\nname = \"new\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n"
    ))
}

/// A sink command whose program cannot be started (no such path, no such name in `PATH`, a
/// file that is not executable, a directory) is refused by the plan's check and by apply before
/// anything is sent, naming the policy file, the entry's line, its `secret.command` key, its
/// name and the program; a program found in `PATH` passes, and an entry with nothing to
/// deliver is not held up by its command.
#[tokio::test]
async fn a_sink_command_that_cannot_start_is_refused_before_anything_is_made() {
    let (server, client) = start().await;
    let dir = temp_dir("sink-command");
    let script = dir.join("noexec.sh");
    std::fs::write(&script, "#!/bin/sh\ncat > /dev/null\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let directory = dir.join("a-directory");
    std::fs::create_dir_all(&directory).unwrap();
    let (script, directory) = (script.display(), directory.display());
    for (argv, why) in [
        (
            r#"["/nonexistent/vault", "put"]"#.to_string(),
            r#"command "/nonexistent/vault" cannot be started: not found"#.to_string(),
        ),
        (
            r#"["mpt-no-such-vault-program"]"#.to_string(),
            "not found in PATH".to_string(),
        ),
        (
            format!(r#"["{script}"]"#),
            format!("{script} is not executable"),
        ),
        (
            format!(r#"["{directory}"]"#),
            format!("{directory} is not a regular file"),
        ),
    ] {
        let policy = with_sink(&format!("{{ command = {argv} }}"));
        let plan = client.plan(&policy).await.unwrap();
        let e = plan.check_sinks(&policy).unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.key.as_str()),
            ("tokens.toml", 8, "accounts[0].tokens[1].secret.command"),
            "{e}"
        );
        assert!(
            e.message.contains("\"new\"") && e.message.contains(&why),
            "{e}"
        );
        let err = client
            .apply(&policy, None, &ApplyOptions::new(dir.join("state")))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ApplyError::Sink(e) if e.message.contains(&why)),
            "{err:?}"
        );
        assert_eq!(server.tokens_created(), 0, "{err}");
        assert_eq!(changes(&server), 0, "{err}");
    }
    // A name found in PATH (as the system finds it) is fine.
    let policy = with_sink(r#"{ command = ["sh", "-c", "cat > /dev/null"] }"#);
    let plan = client.plan(&policy).await.unwrap();
    plan.check_sinks(&policy).unwrap();
    // With both made, a broken command holds nothing up: there is nothing to deliver.
    client
        .apply(&policy, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    let broken = with_sink(r#"{ command = ["/nonexistent/vault"] }"#);
    let plan = client.plan(&broken).await.unwrap();
    assert!(plan.actions.is_empty(), "{plan:#?}");
    plan.check_sinks(&broken).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A create whose sink command failed (exit 3) is `failed`, naming the token made; the next
/// apply makes no second token: it adopts the one made, hands its secret over, and reports it
/// `adopted` (not counted as created). And a create record whose process died after the create
/// was sent (no id in it) is adopted the same way when the token is on the platform.
#[tokio::test]
async fn a_token_made_by_an_earlier_apply_is_adopted_not_created() {
    let (server, client) = start().await;
    let dir = temp_dir("adopted");
    let state = dir.join("state");
    let options = ApplyOptions::new(&state);
    let failing = with_sink(r#"{ command = ["sh", "-c", "cat > /dev/null; exit 3"] }"#);
    let report = client.apply(&failing, None, &options).await.unwrap();
    let failed = result_of(&report.results, "new");
    assert_eq!(failed.result, Applied::Failed, "{report:#?}");
    let made = failed.new_token_id.clone().unwrap();
    assert!(
        failed.detail.contains(&format!("{made} was made")),
        "{failed:#?}"
    );
    assert_eq!(report.done(ActionKind::Create), 1, "kept only: {report:#?}");
    assert_eq!(server.tokens_created(), 2);

    let file = dir.join("new.secret");
    let working = with_sink(&format!("{{ file = \"{}\" }}", file.display()));
    let report = client.apply(&working, None, &options).await.unwrap();
    assert_eq!(server.tokens_created(), 2, "no second token: {report:#?}");
    let adopted = result_of(&report.results, "new");
    assert!(adopted.resumed, "{adopted:#?}");
    assert_eq!(adopted.result, Applied::Adopted, "{adopted:#?}");
    assert_eq!(adopted.new_token_id.as_deref(), Some(made.as_str()));
    assert!(adopted.detail.contains("adopted"), "{}", adopted.detail);
    assert_eq!(secret_owner(&file), made);
    assert_eq!(report.done(ActionKind::Create), 0, "{report:#?}");
    assert_eq!(report.failed(), 0, "{report:#?}");
    let summary = report.summary();
    assert!(
        summary.starts_with("0 created,") && summary.contains("1 adopted"),
        "{summary}"
    );

    // A record saved before its create was sent, the process gone before the answer: the
    // token the create made (its description carrying the record's marker) is on the
    // platform, and the record does not name it.
    let records = state.join("creates");
    std::fs::create_dir_all(&records).unwrap();
    let marker = mpt::new_marker().unwrap();
    std::fs::write(
        records.join("died.json"),
        serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "late", "knownIds": [],
            "newId": null, "recordedAt": Utc::now() - Days::minutes(1),
            "markerHashes": [mpt::marker_hash(&marker)],
        })
        .to_string(),
    )
    .unwrap();
    let late = client
        .create(
            &mpt::NewToken::new(DEFAULT_ACCOUNT, "late")
                .modules([DEFAULT_MODULE])
                .description(mpt::marked_description(None, &marker)),
        )
        .await
        .unwrap();
    let created = server.tokens_created();
    let text = format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"late\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        dir.join("late.secret").display()
    );
    let report = client.apply(&policy(&text), None, &options).await.unwrap();
    let r = result_of(&report.results, "late");
    assert_eq!(r.result, Applied::Adopted, "{report:#?}");
    assert!(r.resumed);
    assert_eq!(r.new_token_id.as_deref(), Some(late.token.id()));
    assert_eq!(secret_owner(&dir.join("late.secret")), late.token.id());
    assert_eq!(server.tokens_created(), created, "no second token");
    assert_eq!(report.done(ActionKind::Create), 0, "{report:#?}");
    assert_eq!(
        report.done(ActionKind::Update),
        0,
        "no update counted: {report:#?}"
    );
    // Its description put back: the marker gone (the policy declares none).
    let now = client.get(late.token.id()).await.unwrap();
    assert_eq!(now.description(), None, "{now:?}");
    assert_no_secret_in(&state);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A create of this apply whose answer was lost (the platform made the token): the one token
/// of the name made since the record is taken and its secret handed over, reported
/// `unconfirmed` (counted as created, but no answer proves this call made it), never `changed`.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_unconfirmed() {
    let (server, client) = start().await;
    let dir = temp_dir("lost-create");
    let file = dir.join("new.secret");
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create])),
        )
        .unwrap();
    let policy = with_sink(&format!("{{ file = \"{}\" }}", file.display()));
    let report = client
        .apply(&policy, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    server.set_faults(Faults::none()).unwrap();
    assert_eq!(server.tokens_created(), 2, "{report:#?}");
    let lost: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.result == Applied::Unconfirmed)
        .collect();
    assert_eq!(lost.len(), 1, "{report:#?}");
    assert_eq!(report.count(Applied::Changed), 1, "{report:#?}");
    assert_eq!(report.done(ActionKind::Create), 2, "{report:#?}");
    assert!(
        lost[0].detail.contains("answer was lost"),
        "{}",
        lost[0].detail
    );
    let id = lost[0].new_token_id.clone().unwrap();
    if lost[0].action.name == "new" {
        assert_eq!(secret_owner(&file), id);
    }
    // Found by the marker its description carried; the description then put back (the
    // policy declares none), which is part of the create: no update counted.
    let now = client.get(id.as_str()).await.unwrap();
    assert_eq!(now.description(), None, "{now:?}");
    assert_eq!(report.done(ActionKind::Update), 0, "{report:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rotation of this apply whose create lost its answer (the platform made the replacement):
/// the one token of the name made since its record is taken as the replacement, its secret
/// handed over and the rotation finished, reported `unconfirmed` (counted as rotated, but no
/// answer proves this call made it), never `changed` nor `adopted`.
#[tokio::test]
async fn a_rotation_whose_create_lost_its_answer_is_unconfirmed() {
    let (server, client) = start().await;
    let dir = temp_dir("lost-rotation");
    let file = dir.join("svc.secret");
    let old = server.seed_token(seed("svc").created(Utc::now() - Days::days(100)));
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        file.display()
    ));
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create])),
        )
        .unwrap();
    let report = client
        .apply(&policy, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    server.set_faults(Faults::none()).unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(server.tokens_created(), 1, "one replacement: {report:#?}");
    let row = result_of(&report.results, "svc");
    assert_eq!(row.result, Applied::Unconfirmed, "{row:#?}");
    assert!(row.detail.contains("lost its answer"), "{}", row.detail);
    assert_eq!(report.done(ActionKind::Rotate), 1, "{report:#?}");
    assert_eq!(report.count(Applied::Adopted), 0, "{report:#?}");
    let live = live_named(&client, "svc").await;
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].id(), old.id);
    assert_eq!(row.new_token_id.as_deref(), Some(live[0].id()));
    assert_eq!(secret_owner(&file), live[0].id());
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
    // Adopted by the marker; its description (the old token's: none) put back.
    let now = client.get(live[0].id()).await.unwrap();
    assert_eq!(now.description(), None, "{now:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
