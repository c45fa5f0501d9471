//! `mpt tokens rotate`: resumable across kills between any two phases, and never taking a
//! same-named token for its replacement.

use mpt_mock::{Fault, FaultRule, Faults, Operation, SeedToken};
use serde_json::Value;

use crate::common::{json, mock, mpt, text};

#[test]
fn a_rotation_killed_between_phases_resumes_from_its_state_file() {
    let server = mock();
    let old = server.seed_token(SeedToken::named("svc"));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("rotation.json");
    let secret_file = dir.path().join("new.secret");
    let (state_s, secret_s) = (state.to_str().unwrap(), secret_file.to_str().unwrap());

    // Killed during start: the create reached the platform, its answer was lost.
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create])),
        )
        .unwrap();
    let _ = mpt(
        &server,
        &[
            "tokens",
            "rotate",
            "start",
            &old.id,
            "--state",
            state_s,
            "--secret-file",
            secret_s,
        ],
    );
    server.set_faults(Faults::none()).unwrap();
    std::fs::remove_file(&secret_file).ok();
    // The state was saved before anything was made; resuming adopts what the first run made.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["phase"], "planned");
    let out = mpt(
        &server,
        &[
            "tokens",
            "rotate",
            "start",
            "--state",
            state_s,
            "--secret-file",
            secret_s,
            "-o",
            "json",
        ],
    );
    let started = json(&out);
    assert_eq!(server.tokens_created(), 1, "no second replacement");
    let new_id = started["id"].as_str().unwrap().to_string();
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(secret.starts_with(&format!("idt:{new_id}:")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let state_text = std::fs::read_to_string(&state).unwrap();
    assert!(!state_text.contains("idt:"), "{state_text}");
    assert_eq!(
        server.token_status(&old.id).as_deref(),
        Some("Active"),
        "no downtime"
    );

    // Each later step is its own process: killed between any two, the next one goes on.
    let status = json(&mpt(
        &server,
        &[
            "tokens", "rotate", "status", "--state", state_s, "-o", "json",
        ],
    ));
    assert_eq!(status["phase"], "created");
    let out = mpt(&server, &["tokens", "rotate", "retire", "--state", state_s]);
    // A step out of order is an operation error (1), not a usage error (2).
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify first: {}",
        text(&out.stderr)
    );
    json(&mpt(
        &server,
        &[
            "tokens",
            "rotate",
            "verify",
            "--state",
            state_s,
            "--secret-file",
            secret_s,
            "-o",
            "json",
        ],
    ));
    json(&mpt(
        &server,
        &[
            "tokens",
            "rotate",
            "verify",
            "--state",
            state_s,
            "--secret-file",
            secret_s,
            "-o",
            "json",
        ],
    ));
    let retired = json(&mpt(
        &server,
        &[
            "tokens", "rotate", "retire", "--state", state_s, "--quiet", "1s", "-o", "json",
        ],
    ));
    assert_eq!(retired["phase"], "retired");
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Disabled"));
    let finished = json(&mpt(
        &server,
        &[
            "tokens", "rotate", "finish", "--state", state_s, "-o", "json",
        ],
    ));
    assert_eq!(finished["phase"], "finished");
    json(&mpt(
        &server,
        &[
            "tokens", "rotate", "finish", "--state", state_s, "-o", "json",
        ],
    ));
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
    assert_eq!(server.token_status(&new_id).as_deref(), Some("Active"));
}

/// Names are not unique: `rotate start` of one of two same-named tokens makes its own
/// replacement, never hands over the sibling's secret, and a killed start resumes without a
/// second one (the state file holds the ids recorded before the create).
#[test]
fn rotate_start_never_takes_a_same_named_token_for_its_replacement() {
    let server = mock();
    let a = server.seed_token(SeedToken::named("svc"));
    let b = server.seed_token(SeedToken::named("svc"));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("rotation.json");
    let secret_file = dir.path().join("new.secret");
    let (state_s, secret_s) = (state.to_str().unwrap(), secret_file.to_str().unwrap());
    let out = mpt(
        &server,
        &[
            "tokens",
            "rotate",
            "start",
            &a.id,
            "--state",
            state_s,
            "--secret-file",
            secret_s,
            "-o",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let new_id = json(&out)["id"].as_str().unwrap().to_string();
    assert!(new_id != a.id && new_id != b.id, "{new_id}");
    assert_eq!(server.tokens_created(), 1);
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(
        secret.starts_with(&format!("idt:{new_id}:")),
        "not the sibling's secret"
    );
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let known: Vec<&str> = plan["knownIds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(known.contains(&a.id.as_str()) && known.contains(&b.id.as_str()));
    assert!(!known.contains(&new_id.as_str()));
}

/// `rotate start` killed after it saved `created` and before (or after) it wrote the new
/// secret: run again, it reads the recorded replacement's secret from the platform and writes
/// it again over the file the killed start may have written (no `--force`), makes nothing
/// more. A file holding the old token's secret is still refused.
#[test]
fn a_start_killed_after_saving_created_hands_the_secret_over_again() {
    let server = mock();
    let old = server.seed_token(SeedToken::named("svc"));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("rotation.json");
    let secret_file = dir.path().join("new.secret");
    let (state_s, secret_s) = (state.to_str().unwrap(), secret_file.to_str().unwrap());
    let start = |extra: &[&str]| {
        let mut args = vec![
            "tokens",
            "rotate",
            "start",
            "--state",
            state_s,
            "--secret-file",
            secret_s,
        ];
        args.extend_from_slice(extra);
        mpt(&server, &args)
    };
    let out = start(&[&old.id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&secret_file).unwrap();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["phase"], "created");
    let new_id = saved["newId"].as_str().unwrap().to_string();
    // Killed before the file was written, or after: run again, the same secret, once more.
    for file_there in [false, true] {
        if !file_there {
            std::fs::remove_file(&secret_file).unwrap();
        }
        let out = start(&[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(server.tokens_created(), 1, "no second replacement");
        assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), written);
    }
    assert!(written.contains(&new_id), "{written}");
    // The old token's secret there is not this rotation's to replace.
    std::fs::write(&secret_file, format!("idt:{}:old-secret\n", old.id)).unwrap();
    let out = start(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("exists"),
        "{}",
        text(&out.stderr)
    );
}

/// The replacement's description as the platform shows it now.
fn description_of(server: &mpt_mock::MockServer, id: &str) -> String {
    let shown = json(&mpt(server, &["tokens", "get", id, "-o", "json"]));
    shown["description"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `rotate start` hands its replacement's secret over only once the replacement's description
/// is put back (its create's marker tag gone: a tagged token is one never handed out, and a
/// `late` record with its marker's hash would have it deleted: tester round 20, M4). When the
/// put-back fails, the secret is not written (exit 1, the state file at `created`); `rotate
/// start` again puts it back and writes it.
#[test]
fn rotate_start_writes_the_secret_only_once_the_marker_tag_is_gone() {
    let server = mock();
    let old = server.seed_token(SeedToken::named("svc").with_description("ci deploys"));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("rotation.json");
    let secret_file = dir.path().join("new.secret");
    let (state_s, secret_s) = (state.to_str().unwrap(), secret_file.to_str().unwrap());
    let args = [
        "tokens",
        "rotate",
        "start",
        "--state",
        state_s,
        "--secret-file",
        secret_s,
    ];
    server
        .set_faults(
            Faults::none().with(FaultRule::once(Fault::Status(403)).only([Operation::Update])),
        )
        .unwrap();
    let mut first = args.to_vec();
    first.push(&old.id);
    let out = mpt(&server, &first);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("could not be put back"), "{said}");
    assert!(!secret_file.exists(), "no secret of a tagged token written");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["phase"], "created");
    let new_id = saved["newId"].as_str().unwrap().to_string();
    assert!(description_of(&server, &new_id).contains("[mpt:"));
    server.set_faults(Faults::none()).unwrap();
    let out = mpt(&server, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(description_of(&server, &new_id), "ci deploys");
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(secret.starts_with(&format!("idt:{new_id}:")), "{secret}");
    assert_eq!(server.tokens_created(), 1, "one replacement");
    // A start without a fault: the secret is written with the tag gone already.
    let other = server.seed_token(SeedToken::named("api"));
    let (state2, file2) = (dir.path().join("r2.json"), dir.path().join("r2.secret"));
    let out = mpt(
        &server,
        &[
            "tokens",
            "rotate",
            "start",
            &other.id,
            "--state",
            state2.to_str().unwrap(),
            "--secret-file",
            file2.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state2).unwrap()).unwrap();
    let id2 = saved["newId"].as_str().unwrap().to_string();
    assert!(!description_of(&server, &id2).contains("[mpt:"));
    assert!(file2.exists());
}

/// Two `rotate start` on one state file at once: the second is refused (exit 2, naming the
/// file) while the first holds the file's lock, and sends nothing: one replacement only.
#[test]
fn a_second_start_on_the_same_state_file_is_refused_while_the_first_runs() {
    let server = mock();
    let old = server.seed_token(SeedToken::named("svc"));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("rotation.json");
    let state_s = state.to_str().unwrap();
    let (a_file, b_file) = (dir.path().join("a.secret"), dir.path().join("b.secret"));
    // The first start's create held until released: it runs, holding the lock, meanwhile.
    server
        .set_faults(Faults::none().with(FaultRule::once(Fault::Hold).only([Operation::Create])))
        .unwrap();
    let args = |file: &std::path::Path| {
        [
            "tokens",
            "rotate",
            "start",
            &old.id,
            "--state",
            state_s,
            "--secret-file",
            file.to_str().unwrap(),
        ]
        .map(str::to_string)
    };
    let a_args = args(&a_file);
    let a_refs: Vec<&str> = a_args.iter().map(String::as_str).collect();
    let first = crate::common::command(&server, &a_refs).spawn().unwrap();
    for _ in 0..3000 {
        if server.held() > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(server.held(), 1, "the first start's create is held");
    let b_args = args(&b_file);
    let b_refs: Vec<&str> = b_args.iter().map(String::as_str).collect();
    let second = mpt(&server, &b_refs);
    let said = text(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{said}");
    assert!(said.contains("in use"), "{said}");
    assert!(said.contains(state_s), "{said}");
    assert!(!b_file.exists());
    server.release_held();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(server.tokens_created(), 1, "one replacement");
    assert!(a_file.exists());
}
