//! Promises an independent check broke, tried from the shell: every valid name, servers that
//! accept no-ops, secrets pasted where ids belong, refused credentials in bulk.

use std::process::Output;

use mpt_mock::{DEFAULT_ACCOUNT, DEFAULT_MODULE, MockServer, NoopTransitions, SeedToken};

use crate::common::*;

/// Runs `mpt` with extra environment, and stdin closed.
fn run(server: &MockServer, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = command(server, args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

use mpt_mock::Operation;

fn rows(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const BOTH: &str = r#"It's a "quoted" job"#;

#[test]
fn a_name_with_both_quotes_is_created_listed_and_declared() {
    let server = mock();
    server.seed_token(SeedToken::named(r#"Itxs a "quoted" job"#).with_modules([DEFAULT_MODULE]));
    let create = |name: &str| {
        mpt(
            &server,
            &[
                "tokens",
                "create",
                "--account",
                DEFAULT_ACCOUNT,
                "--name",
                name,
                "--module",
                DEFAULT_MODULE,
                "-o",
                "json",
            ],
        )
    };
    for name in [BOTH, "Grüße 'x'", r#"say "hi""#] {
        let made = json(&create(name));
        assert_eq!(made["name"], name, "{made}");
        let out = mpt(&server, &["tokens", "list", "--name", name, "-o", "jsonl"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let found = rows(&out);
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        assert_eq!(found[0]["id"], made["id"]);
        let count = json(&mpt(
            &server,
            &["tokens", "count", "--name", name, "-o", "json"],
        ));
        assert_eq!(count["count"], 1);
    }
    // Declared in a policy: planned, applied once, and nothing to do the second time.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    let secret = dir.path().join("new.secret");
    std::fs::write(
        &policy,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n\n[[accounts.tokens]]\nname = '''Both 'and' \"quoted\"'''\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
            secret.display()
        ),
    )
    .unwrap();
    let apply = |server: &MockServer| {
        mpt(
            server,
            &[
                "tokens",
                "apply",
                "--policy",
                policy.to_str().unwrap(),
                "-o",
                "jsonl",
            ],
        )
    };
    let out = apply(&server);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\"changed\""),
        "{}",
        text(&out.stdout)
    );
    assert!(secret.exists());
    let out = apply(&server);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("\"changed\""),
        "{}",
        text(&out.stdout)
    );
    let named = server
        .live_token_names()
        .into_iter()
        .filter(|(_, n)| n == r#"Both 'and' "quoted""#)
        .count();
    assert_eq!(named, 1);
}

#[test]
fn no_op_transitions_are_said_by_flag_environment_or_profile() {
    let server = mock_built(MockServer::builder().noop_transitions(NoopTransitions::Accepted));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[default]\nnoop_transitions = \"accepted\"\n").unwrap();
    let config_arg = config.to_str().unwrap();
    let outcome = |args: &[&str], env: &[(&str, &str)]| {
        let t = server.seed_token(SeedToken::named("t").with_modules([DEFAULT_MODULE]));
        let mut all = vec!["tokens", "ensure-disabled", t.id.as_str(), "-o", "jsonl"];
        all.extend_from_slice(args);
        let out = run(&server, &all, env);
        assert!(out.status.success(), "{}", text(&out.stderr));
        rows(&out)[0]["outcome"].as_str().unwrap().to_string()
    };
    // On a server that answers no-ops with 200, a 200 proves nothing unless told.
    assert_eq!(outcome(&[], &[]), "changed");
    assert_eq!(
        outcome(&["--noop-transitions", "accepted"], &[]),
        "unconfirmed"
    );
    assert_eq!(
        outcome(&[], &[("MPT_NOOP_TRANSITIONS", "accepted")]),
        "unconfirmed"
    );
    assert_eq!(outcome(&["--config", config_arg], &[]), "unconfirmed");
    // Flags win over the environment, which wins over the profile.
    assert_eq!(
        outcome(
            &["--noop-transitions", "refused"],
            &[("MPT_NOOP_TRANSITIONS", "accepted")]
        ),
        "changed"
    );
    assert_eq!(
        outcome(
            &["--config", config_arg],
            &[("MPT_NOOP_TRANSITIONS", "Refused")]
        ),
        "changed"
    );
    // A value it does not know: exit 2 naming where it came from, nothing sent.
    let out = run(
        &server,
        &["tokens", "list", "--noop-transitions", "maybe"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &server,
        &["tokens", "list"],
        &[("MPT_NOOP_TRANSITIONS", "maybe")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("MPT_NOOP_TRANSITIONS"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&config, "[default]\nnoop_transitions = \"maybe\"\n").unwrap();
    let out = run(&server, &["tokens", "list", "--config", config_arg], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("noop_transitions"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_secret_pasted_as_an_id_is_never_sent_nor_shown() {
    let server = mock();
    let t = server.seed_token(SeedToken::named("real").with_modules([DEFAULT_MODULE]));
    let opaque = "Zm9vYmFyc2VjcmV0UVdFUlRZ";
    let pasted = format!("idt:{}:{opaque}", t.id);
    let out = run(&server, &["tokens", "get", &pasted, "-v"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(server.requests(Operation::Get), 0, "never sent");
    for shown in [text(&out.stdout), text(&out.stderr)] {
        assert!(!shown.contains(opaque), "{shown}");
    }
    let stdin = format!("{pasted}\n{}\n", t.id);
    for format in ["jsonl", "table"] {
        let out = mpt_with_unchecked(
            &server,
            &["tokens", "ensure-disabled", "-", "-v", "-o", format],
            &stdin,
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(
            !stdout.contains(opaque) && !stderr.contains(opaque),
            "{stdout}{stderr}"
        );
        assert!(stdout.contains("[REDACTED]"), "{stdout}");
    }
    // The valid id was disabled; the pasted one reached no request.
    assert_eq!(server.token_status(&t.id).as_deref(), Some("Disabled"));
    assert_eq!(server.requests(Operation::Get), 0);
}

/// [`mpt_with`] without its stderr checks (a redacted secret's shape stays on stderr).
fn mpt_with_unchecked(server: &MockServer, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut command = command(server, args);
    command.stdin(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_bulk_command_refused_for_every_id_exits_4() {
    let server = mock();
    let a = server.seed_token(SeedToken::named("a").with_modules([DEFAULT_MODULE]));
    let b = server.seed_token(SeedToken::named("b").with_modules([DEFAULT_MODULE]));
    for args in [
        vec!["tokens", "disable", a.id.as_str(), b.id.as_str()],
        vec!["tokens", "ensure-disabled", a.id.as_str(), b.id.as_str()],
        vec!["tokens", "delete", a.id.as_str()],
    ] {
        let out = run(
            &server,
            &args,
            &[("MPT_API_TOKEN", "idt:TKN-0000-0000:wrong")],
        );
        assert_eq!(
            out.status.code(),
            Some(4),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
    assert_eq!(server.token_status(&a.id).as_deref(), Some("Active"));
}

#[test]
fn a_secret_command_leaving_a_job_behind_does_not_hold_mpt() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    // Prints the token, then leaves a job holding its stdout for a minute.
    std::fs::write(
        &config,
        format!(
            "[default]\nsecret_command = \"echo {}; sleep 60 &\"\nsecret_command_timeout = \"30s\"\n",
            server.admin_secret()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut command = command(
        &server,
        &["tokens", "count", "--config", config.to_str().unwrap()],
    );
    command.env_remove("MPT_API_TOKEN");
    let mut child = command.spawn().unwrap();
    // Bounded: a hang would take the job's minute (or the 30 s timeout).
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("mpt waited for the secret_command's background job");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_saved_plan_that_adds_work_is_refused_with_exit_2() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    std::fs::write(
        &policy,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n\n[[accounts.tokens]]\nname = \"once\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
            dir.path().join("once.secret").display()
        ),
    )
    .unwrap();
    let plan = dir.path().join("plan.json");
    let policy_arg = policy.to_str().unwrap();
    let out = mpt(
        &server,
        &[
            "tokens",
            "plan",
            "--policy",
            policy_arg,
            "--out",
            plan.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    let create = saved["actions"][0].clone();
    saved["actions"] = serde_json::json!([create.clone(), create.clone(), create]);
    std::fs::write(&plan, saved.to_string()).unwrap();
    let out = mpt(
        &server,
        &[
            "tokens",
            "apply",
            "--policy",
            policy_arg,
            "--plan",
            plan.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--plan"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.tokens_created(), 0);
}
