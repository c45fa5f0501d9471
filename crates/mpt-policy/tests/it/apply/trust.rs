//! Nothing read back is trusted before it is checked: state records edited to name strangers,
//! saved plans edited to add work or moved in time, state directories with links, wide modes or
//! FIFOs planted in them, secret files spelled two ways, and sink commands that outlive their
//! time.

use std::os::unix::fs::PermissionsExt;

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::{ActionKind, Applied, ApplyError, ApplyOptions, Plan, Policy};

use super::*;
use crate::common::*;

/// A policy declaring `wanted` in the default account, its secret to `file`.
fn wanted(file: &Path) -> Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"wanted\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        file.display()
    ))
}

/// Writes a create record by hand, as someone with write access to the state would.
fn plant_create(state: &Path, record: serde_json::Value) -> std::path::PathBuf {
    let dir = state.join("creates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.join("planted.json");
    std::fs::write(&path, record.to_string()).unwrap();
    path
}

fn state_of(server: &MockServer, id: &str) -> (Option<String>, i32) {
    (
        server.token_status(id),
        server.token_revision(id).unwrap_or(0),
    )
}

#[tokio::test]
async fn a_create_record_naming_a_token_it_did_not_make_is_refused_and_nothing_is_sent() {
    let before = Utc::now() - Days::hours(1);
    for case in ["another name", "another account"] {
        let (server, client) = start().await;
        let stranger = server.seed_token(seed("stranger"));
        let elsewhere = server.seed_token(seed("wanted").in_account(VENDOR_ACCOUNT));
        let (new_id, known) = match case {
            "another name" => (Some(stranger.id.clone()), Vec::<String>::new()),
            _ => (Some(elsewhere.id.clone()), vec![]),
        };
        let dir = temp_dir("record");
        let state = dir.join("state");
        let file = dir.join("wanted.secret");
        let path = plant_create(
            &state,
            serde_json::json!({
                "accountId": DEFAULT_ACCOUNT, "name": "wanted", "knownIds": known,
                "newId": new_id, "recordedAt": before,
            }),
        );
        let was = (
            state_of(&server, &stranger.id),
            state_of(&server, &elsewhere.id),
        );
        let sent = changes(&server);
        let report = client
            .apply(&wanted(&file), None, &ApplyOptions::new(&state))
            .await
            .unwrap();
        let resumed: Vec<_> = report.results.iter().filter(|r| r.resumed).collect();
        assert_eq!(resumed.len(), 1, "{case}: {report:#?}");
        assert_eq!(resumed[0].result, Applied::Refused, "{case}: {report:#?}");
        assert!(resumed[0].detail.contains("planted.json"), "{case}");
        assert!(path.exists(), "{case}: the record stays");
        // Nothing sent for the stranger: untouched, and its secret written nowhere.
        assert_eq!(
            (
                state_of(&server, &stranger.id),
                state_of(&server, &elsewhere.id)
            ),
            was,
            "{case}"
        );
        assert!(
            !file.exists() || secret_owner(&file) != stranger.id,
            "{case}"
        );
        // The declared token itself was made by the plan: one create, and the update that
        // puts back its description (the create's marker removed), nothing else.
        assert_eq!(changes(&server), sent + 2, "{case}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_create_record_whose_known_ids_were_emptied_adopts_nothing() {
    let (server, client) = start().await;
    // A token of the declared name that existed long before the record.
    let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(30)));
    let dir = temp_dir("emptied");
    let state = dir.join("state");
    let file = dir.join("wanted.secret");
    // With a marker the old token does not carry, and without one (an older version's).
    for (marker, why) in [
        (
            Some(mpt::marker_hash("0123456789abcdef0123456789abcdef")),
            "does not carry the record's marker",
        ),
        (None, "older version"),
    ] {
        let path = plant_create(
            &state,
            serde_json::json!({
                "accountId": DEFAULT_ACCOUNT, "name": "wanted", "knownIds": [],
                "newId": null, "recordedAt": Utc::now() - Days::minutes(1),
                "markerHashes": marker.into_iter().collect::<Vec<_>>(),
            }),
        );
        let report = client
            .apply(&wanted(&file), None, &ApplyOptions::new(&state))
            .await
            .unwrap();
        let refused = report.results.iter().find(|r| r.resumed).unwrap();
        assert_eq!(refused.result, Applied::Refused, "{report:#?}");
        assert!(refused.detail.contains(why), "{}", refused.detail);
        assert!(refused.detail.contains(&old.id), "{}", refused.detail);
        assert!(path.exists());
    }
    assert!(
        !file.exists(),
        "no secret of a token this apply did not make"
    );
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
    assert_eq!(changes(&server), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_rotation_record_naming_a_stranger_never_disables_or_deletes_it() {
    let (server, client) = start().await;
    let stranger = server.seed_token(seed("stranger"));
    let replacement = server.seed_token(seed("wanted"));
    let dir = temp_dir("rotation-record");
    let state = dir.join("state");
    let file = dir.join("wanted.secret");
    // A real plan of the stranger's, edited to claim the declared name, past its verification.
    let plan = client.plan_rotation(stranger.id.as_str()).await.unwrap();
    let mut json = serde_json::to_value(&plan).unwrap();
    json["name"] = "wanted".into();
    json["phase"] = "verified".into();
    json["newId"] = replacement.id.clone().into();
    std::fs::create_dir_all(state.join("rotations")).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = state
        .join("rotations")
        .join(format!("{}.json", stranger.id));
    std::fs::write(&path, json.to_string()).unwrap();
    let report = client
        .apply(
            &wanted(&file),
            None,
            &ApplyOptions::new(&state).allow_destroy(true),
        )
        .await
        .unwrap();
    let resumed = report.results.iter().find(|r| r.resumed).unwrap();
    assert_eq!(resumed.result, Applied::Refused, "{report:#?}");
    assert!(path.exists());
    assert_eq!(server.token_status(&stranger.id).as_deref(), Some("Active"));
    assert_eq!(
        server.token_status(&replacement.id).as_deref(),
        Some("Active")
    );
    assert_eq!(changes(&server), 0, "{report:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rotation record at `planned` claims nothing was made: it is no reason to rotate. Planted
/// for a token the policy never rotates (`rotate_after = "never"`), it is removed (the plan
/// says so, nothing destructive), and apply, without `--allow-destroy`, makes nothing and leaves
/// the token Active. One whose create was sent, with a token of the name made since, would
/// retire and delete the old token on the record's word: destructive, skipped without
/// `allow_destroy`, the record kept.
#[tokio::test]
async fn a_planned_rotation_record_rotates_only_what_the_policy_rotates_now() {
    let (server, client) = start().await;
    let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(400)));
    let dir = temp_dir("planned-record");
    let state = dir.join("state");
    let file = dir.join("wanted.secret");
    let never = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\nrotate_after = \"never\"\n[[accounts.tokens]]\nname = \"wanted\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        file.display()
    ));
    let plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    let mut json = serde_json::to_value(&plan).unwrap();
    json["phase"] = "planned".into();
    json["createSent"] = false.into();
    std::fs::create_dir_all(state.join("rotations")).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = state.join("rotations").join(format!("{}.json", old.id));
    std::fs::write(&path, json.to_string()).unwrap();
    let store = mpt_policy::state::open(&state.clone().into(), &[], None)
        .await
        .unwrap();
    let mut shown = client.plan(&never).await.unwrap();
    shown.include_pending(&client, &never, store.as_ref()).await;
    drop(store);
    assert_eq!(shown.actions.len(), 1, "{shown:#?}");
    assert_eq!(
        shown.actions[0].steps,
        [mpt_policy::Step::Remove],
        "{shown:#?}"
    );
    assert!(!shown.actions[0].destructive, "{shown:#?}");
    let report = client
        .apply(&never, None, &ApplyOptions::new(&state))
        .await
        .unwrap();
    assert_eq!(changes(&server), 0, "{report:#?}");
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
    assert!(!path.exists(), "{report:#?}");
    // Its create said sent, and a token of the name made since: retiring the old one on the
    // record's word is destructive.
    // (The token its create made carries its marker.)
    let marker = "0123456789abcdef0123456789abcdef";
    let made =
        server.seed_token(seed("wanted").with_description(mpt::marked_description(None, marker)));
    json["createSent"] = true.into();
    json["markerHashes"] = vec![mpt::marker_hash(marker)].into();
    std::fs::write(&path, json.to_string()).unwrap();
    let report = client
        .apply(&never, None, &ApplyOptions::new(&state))
        .await
        .unwrap();
    let resumed = report.results.iter().find(|r| r.resumed).unwrap();
    assert_eq!(resumed.result, Applied::Skipped, "{report:#?}");
    assert_eq!(changes(&server), 0, "{report:#?}");
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
    assert_eq!(server.token_status(&made.id).as_deref(), Some("Active"));
    assert!(path.exists());
    // Past its start (`created`, `verified`, `retired`), naming that same-named token, made by
    // hand, as the replacement: the policy never rotates the old token, so retiring and
    // deleting it on the record's word is destructive too (the plan says so; apply skips it).
    for phase in ["created", "verified", "retired"] {
        if phase == "retired" {
            client.disable(old.id.as_str()).await.unwrap();
        }
        json["phase"] = phase.into();
        json["newId"] = made.id.clone().into();
        json["createdAt"] = serde_json::to_value(Utc::now() - Days::minutes(5)).unwrap();
        if phase != "created" {
            json["verifiedAt"] = serde_json::to_value(Utc::now() - Days::minutes(4)).unwrap();
        }
        if phase == "retired" {
            json["retiredAt"] = serde_json::to_value(Utc::now() - Days::minutes(3)).unwrap();
        }
        std::fs::write(&path, json.to_string()).unwrap();
        let store = mpt_policy::state::open(&state.clone().into(), &[], None)
            .await
            .unwrap();
        let mut shown = client.plan(&never).await.unwrap();
        shown.include_pending(&client, &never, store.as_ref()).await;
        drop(store);
        let resume = shown.actions.iter().find(|a| a.kind == ActionKind::Resume);
        assert!(resume.is_none_or(|a| a.destructive), "{phase}: {shown:#?}");
        let before = changes(&server);
        let report = client
            .apply(&never, None, &ApplyOptions::new(&state))
            .await
            .unwrap();
        assert_eq!(changes(&server), before, "{phase}: {report:#?}");
        assert_ne!(
            server.token_status(&old.id).as_deref(),
            Some("Deleted"),
            "{phase}"
        );
        assert_eq!(server.token_status(&made.id).as_deref(), Some("Active"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_saved_plan_approves_work_and_never_adds_any() {
    let (server, client) = start().await;
    let dir = temp_dir("saved");
    let file = dir.join("wanted.secret");
    let policy = wanted(&file);
    let options = ApplyOptions::new(dir.join("state"));
    let saved = client.plan(&policy).await.unwrap();
    assert_eq!(saved.actions.len(), 1);
    let mut json = serde_json::to_value(&saved).unwrap();
    let create = json["actions"][0].clone();
    // One create three times: refused, nothing made.
    json["actions"] = serde_json::json!([create.clone(), create.clone(), create.clone()]);
    let tripled: Plan = serde_json::from_value(json.clone()).unwrap();
    let err = client
        .apply(&policy, Some(&tripled), &options)
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::Stale { .. }), "{err:?}");
    // Made in the future, or long ago: refused before anything is done.
    for shift in [Days::days(45), -Days::days(3)] {
        let mut moved = saved.clone();
        moved.made_at += shift;
        let err = client
            .apply(&policy, Some(&moved), &options)
            .await
            .unwrap_err();
        assert!(matches!(err, ApplyError::PlanTime { .. }), "{err:?}");
    }
    assert_eq!(changes(&server), 0);
    // The plan as it was made is carried out: one token.
    let report = client.apply(&policy, Some(&saved), &options).await.unwrap();
    assert_eq!(report.done(ActionKind::Create), 1, "{report:#?}");
    assert_eq!(live_named(&client, "wanted").await.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_state_directory_follows_no_link_waits_on_no_fifo_and_is_made_private() {
    let (server, client) = start().await;
    let dir = temp_dir("state-paths");
    let file = dir.join("wanted.secret");
    // `rotations/` as a link to a world-writable directory: refused, nothing sent.
    let state = dir.join("linked");
    let open = dir.join("open");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::symlink(&open, state.join("rotations")).unwrap();
    let err = client
        .apply(&wanted(&file), None, &ApplyOptions::new(&state))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApplyError::Store(e) if e.to_string().contains("rotations") && e.to_string().contains("symlink")),
        "{err:?}"
    );
    // A FIFO at `lock`: refused at once, never waited on.
    let state = dir.join("fifo");
    std::fs::create_dir_all(&state).unwrap();
    let fifo = std::ffi::CString::new(state.join("lock").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let err = client
        .apply(&wanted(&file), None, &ApplyOptions::new(&state))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApplyError::Store(e) if e.to_string().contains("lock")),
        "{err:?}"
    );
    assert_eq!(changes(&server), 0);
    // A state directory open to everyone is made private before a secret goes there.
    let state = dir.join("wide");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    client
        .apply(&wanted(&file), None, &ApplyOptions::new(&state))
        .await
        .unwrap();
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn one_secret_file_spelled_two_ways_is_declared_twice() {
    let dir = temp_dir("spelled");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("link")).unwrap();
    let a = dir.join("a.secret");
    for other in [
        dir.join("sub/../a.secret"),
        dir.join("./a.secret"),
        dir.join("link/a.secret"),
    ] {
        for existing in [false, true] {
            if existing {
                std::fs::write(&a, "x").unwrap();
            } else {
                let _ = std::fs::remove_file(&a);
            }
            let text = format!(
                "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n[[accounts.tokens]]\nname = \"one\"\nmodules = [\"M\"]\nsecret = {{ file = \"{}\" }}\n[[accounts.tokens]]\nname = \"two\"\nmodules = [\"M\"]\nsecret = {{ file = \"{}\" }}\n",
                a.display(),
                other.display()
            );
            let e = Policy::from_toml(&text, "tokens.toml").unwrap_err();
            assert_eq!(e.line, 10, "{}: {e}", other.display());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether a live process (not a zombie waiting to be reaped) is left in process group
/// `pgid`, after a moment for the signal to land.
fn group_alive(pgid: i32) -> bool {
    let alive = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
            .any(|stat| {
                // pid (comm) state ppid pgrp ...: fields after the last ')'.
                let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
                let fields: Vec<&str> = rest.split_whitespace().collect();
                fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
            })
    };
    (0..50).all(|_| {
        let live = alive();
        if live {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        live
    })
}

#[tokio::test]
async fn a_sink_command_is_stopped_with_its_whole_group_and_judged_by_its_exit() {
    let (_server, client) = start().await;
    let dir = temp_dir("group");
    let pid_file = dir.join("pid");
    let text = |name: &str, script: &str, timeout: &str| {
        policy(&format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"{name}\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ command = [\"sh\", \"-c\", \"{script}\"], timeout = \"{timeout}\" }}\n"
        ))
    };
    // Past its timeout: it and what it started are stopped.
    let slow = text(
        "slow",
        // The shell's process group (the command runs under a supervisor: not its own pid).
        &format!(
            "cut -d' ' -f5 /proc/$$/stat > {}; sleep 100 & sleep 100",
            pid_file.display()
        ),
        "1s",
    );
    let report = client
        .apply(&slow, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    assert_eq!(report.failed(), 1, "{report:#?}");
    let pgid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!group_alive(pgid), "the sleeps outlived the apply");
    // Exits 0 at once while a child keeps its stderr open: the exit decides.
    let quick = text("quick", "cat > /dev/null; (sleep 30 >&2 &); exit 0", "20s");
    let report = client
        .apply(&quick, None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    let made = result_of(&report.results, "quick");
    assert_eq!(made.result, Applied::Changed, "{made:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sink command runs under a supervisor that holds none of the apply's descriptors: it gets
/// its secret and the end of its stdin (a pipeline's `cat` ends), and is judged by its exit:
/// 0 delivered, any other code failed, a signal failed as 128 + the signal. What it leaves
/// running in its group is stopped when it ends.
#[tokio::test]
async fn a_supervised_sink_command_gets_its_secret_and_eof_and_is_judged_by_its_exit() {
    let (server, client) = start().await;
    let dir = temp_dir("supervised");
    let out = dir.join("piped.secret");
    let group_file = dir.join("group");
    let entry = |name: &str, script: &str| {
        format!(
            "[[accounts.tokens]]\nname = \"{name}\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ command = [\"sh\", \"-c\", \"{script}\"], timeout = \"20s\" }}\n"
        )
    };
    let text = [
        format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n"),
        // Without the end of its input, `cat` waits: the timeout would say so.
        entry(
            "piped",
            &format!(
                "cat | (sleep 1; cat > {}); test -s {}",
                out.display(),
                out.display()
            ),
        ),
        entry("four", "cat > /dev/null; exit 4"),
        entry("killed", "cat > /dev/null; kill -9 $$"),
        entry(
            "leaves",
            &format!(
                "cut -d' ' -f5 /proc/$$/stat > {}; cat > /dev/null; (sleep 100 &); exit 0",
                group_file.display()
            ),
        ),
    ]
    .concat();
    let report = client
        .apply(&policy(&text), None, &ApplyOptions::new(dir.join("state")))
        .await
        .unwrap();
    let piped = result_of(&report.results, "piped");
    assert_eq!(piped.result, Applied::Changed, "{piped:#?}");
    let made = live_named(&client, "piped").await;
    assert_eq!(written_for(&out), made[0].id());
    for (name, says) in [("four", "exit status: 4"), ("killed", "exit status: 137")] {
        let r = result_of(&report.results, name);
        assert_eq!(r.result, Applied::Failed, "{r:#?}");
        assert!(r.detail.contains(says), "{name}: {}", r.detail);
    }
    assert_eq!(
        result_of(&report.results, "leaves").result,
        Applied::Changed
    );
    let group: i32 = std::fs::read_to_string(&group_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !group_alive(group),
        "what the sink left running outlived it"
    );
    assert_eq!(server.tokens_created(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}
