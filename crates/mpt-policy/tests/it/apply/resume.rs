//! What survives a crash, a failing sink or an interrupt, and what the state directory refuses.

use std::os::unix::fs::PermissionsExt;

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::{ActionKind, Applied, ApplyError, ApplyOptions};

use super::*;
use crate::common::*;

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
            // No copy of the secret is kept: the token is named, and the next apply reads the
            // secret from the platform.
            let id = r.new_token_id.clone().unwrap();
            assert!(r.detail.contains(&id), "{}", r.detail);
            assert!(
                r.detail.contains("no copy of the secret is kept"),
                "{}",
                r.detail
            );
        }
        assert!(!report.results.iter().any(|r| r.detail.contains("idt:")));
    }
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700, "the state directory is private");
    assert_no_secret_in(&state);
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
    // Both tokens were made by the failed applies: each row says so, and each is counted once,
    // as adopted (the rotation finished from an earlier apply's replacement too).
    assert_eq!(report.count(Applied::Adopted), 2, "{report:#?}");
    let summary = report.summary();
    assert!(
        summary.starts_with("0 created,") && summary.contains("0 rotated, 2 adopted"),
        "{summary}"
    );
    assert_no_secret_in(&state);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_secret_file_of_another_token_or_a_planted_symlink_is_refused_before_anything_is_made() {
    let (server, client) = start().await;
    let dir = temp_dir("owner");
    let other = server.seed_token(seed("other"));
    let file = dir.join("taken.secret");
    let held = format!("idt:{}:somebody-elses-secret\n", other.id);
    std::fs::write(&file, &held).unwrap();
    // A symlink planted at a sink's path, and a directory: never written through either.
    let target = dir.join("elsewhere");
    std::fs::write(&target, "untouched\n").unwrap();
    let link = dir.join("planted.secret");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let directory = dir.join("a-directory");
    std::fs::create_dir_all(&directory).unwrap();
    for (path, why) in [
        (&file, format!("holds the secret of {}", other.id)),
        (&link, "not a regular file".to_string()),
        (&directory, "not a regular file".to_string()),
    ] {
        let policy = policy(&format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"fine\"\nmodules = [\"{DEFAULT_MODULE}\"]\n[[accounts.tokens]]\nname = \"new\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
            path.display()
        ));
        // The plan says so, naming the file, the entry's line and key.
        let plan = client.plan(&policy).await.unwrap();
        let e = plan.check_sinks(&policy).unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line, e.key.as_str()),
            ("tokens.toml", 8, "accounts[0].tokens[1].secret"),
            "{e}"
        );
        assert!(e.message.contains(&why), "{e}");
        // And apply refuses it before anything is sent (no token made, not even the other).
        let err = client
            .apply(&policy, None, &ApplyOptions::new(dir.join("state")))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ApplyError::Sink(e) if e.message.contains(&why)),
            "{err:?}"
        );
        assert_eq!(server.tokens_created(), 0, "{err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), held);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_no_secret_in(&dir.join("state"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A crash at each point a rotation saves its plan: the next apply finishes it, and makes no
/// second replacement. Its row says who made the replacement: `changed` (counted as rotated)
/// when this apply's create made it, else `adopted` (made by the killed apply, found by the
/// ids its record kept), counted once, as adopted.
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
            let made = plan
                .start_saving(&client, async |p: &RotationPlan| save(p))
                .await
                .unwrap()
                .unwrap();
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
        let row = &report.results[0];
        assert!(row.resumed);
        assert_eq!(row.new_token_id.as_deref(), Some(live[0].id()));
        let (result, rotated, adopted) = match crash_after {
            "planned" => (Applied::Changed, 1, 0),
            _ => (Applied::Adopted, 0, 1),
        };
        assert_eq!(row.result, result, "{crash_after}: {row:#?}");
        assert_eq!(report.done(ActionKind::Rotate), rotated, "{crash_after}");
        assert_eq!(report.count(Applied::Adopted), adopted, "{crash_after}");
        if adopted == 1 {
            assert!(row.detail.contains("earlier apply"), "{row:#?}");
        }
        let summary = report.summary();
        assert!(
            summary.contains(&format!("{rotated} rotated")),
            "{crash_after}: {summary}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn another_apply_on_the_same_state_directory_is_refused_and_a_brief_hold_waited_for() {
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
        matches!(&e, ApplyError::Store(m) if m.to_string().contains("another apply")),
        "{e}"
    );
    drop(held);
    client
        .apply(&policy, None, &ApplyOptions::new(&state))
        .await
        .unwrap();
    // A lock released a moment later (a forked child's copy of the descriptor, until it runs
    // its program) is waited for.
    let held = std::fs::File::create(state.join("lock")).unwrap();
    held.lock().unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
    });
    client
        .apply(&policy, None, &ApplyOptions::new(&state))
        .await
        .unwrap();
    release.join().unwrap();
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
    // A record that cannot be read is refused with its file, and left in place.
    assert_eq!(r.result, Applied::Refused, "{r:#?}");
    assert!(r.detail.contains("not a regular file"), "{}", r.detail);
    assert_eq!(r.action.token_id.as_deref(), Some("TKN-1111-1111"));
    assert!(fifo.exists());
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

/// An interrupt while a create's lookup of its name is in flight (a read: given up at once):
/// nothing was sent for it, so it is not attempted, never failed.
#[tokio::test]
async fn a_create_interrupted_before_it_sent_anything_is_not_attempted() {
    let (server, client) = start().await;
    let server = Arc::new(server);
    let dir = temp_dir("cancel-read");
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
    ));
    // Once the plan is made, the next listing (the create's lookup) is held, unanswered.
    let faults = server.clone();
    let options = ApplyOptions::new(dir.join("state")).on_plan(move |_| {
        faults
            .set_faults(Faults::none().with(FaultRule::once(Fault::Hold).only([Operation::List])))
            .unwrap();
    });
    let cancel = mpt::Cancel::new();
    let interrupt = async {
        while server.held() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
    };
    let cancellable = client.with_cancel(cancel.clone());
    let (report, ()) = tokio::join!(cancellable.apply(&policy, None, &options), interrupt);
    server.release_held();
    let report = report.unwrap();
    let r = result_of(&report.results, "svc");
    assert_eq!(r.result, Applied::NotAttempted, "{r:#?}");
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(server.tokens_created(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Given up on after an interrupt (the CLI's grace over) while a sink command still runs: the
/// apply returns at once with a row for every action, the one in flight `outcomeUnknown`, the
/// one not begun `notAttempted`; the next apply hands the secret over.
#[tokio::test]
async fn an_apply_given_up_on_reports_every_action() {
    let (server, client) = start().await;
    let dir = temp_dir("give-up");
    let started = dir.join("started");
    let text = format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"slow\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ command = [\"sh\", \"-c\", \"cat > /dev/null; touch {}; sleep 60\"], timeout = \"120s\" }}\n[[accounts.tokens]]\nname = \"later\"\nmodules = [\"{DEFAULT_MODULE}\"]\n",
        started.display()
    );
    let cancel = mpt::Cancel::new();
    let give_up = mpt::Cancel::new();
    let options = ApplyOptions::new(dir.join("state"))
        .concurrency(1)
        .give_up(give_up.clone());
    let interrupt = async {
        while !started.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        give_up.cancel();
    };
    let cancellable = client.with_cancel(cancel.clone());
    let declared = policy(&text);
    let (report, ()) = tokio::join!(cancellable.apply(&declared, None, &options), interrupt);
    let report = report.unwrap();
    assert_eq!(report.results.len(), 2, "{report:#?}");
    let slow = result_of(&report.results, "slow");
    assert_eq!(slow.result, Applied::OutcomeUnknown, "{slow:#?}");
    let later = result_of(&report.results, "later");
    assert_eq!(later.result, Applied::NotAttempted, "{later:#?}");
    assert!(
        report.summary().contains("1 in flight when interrupted"),
        "{}",
        report.summary()
    );
    assert_eq!(server.tokens_created(), 1);
    // Its record was kept: the next apply hands the same token's secret over, and makes the other.
    let text = text.replace("sleep 60", "true");
    let report = client
        .apply(&policy(&text), None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(server.tokens_created(), 2, "{report:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}
