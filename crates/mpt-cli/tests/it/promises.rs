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

/// A secret of any shape pasted as an id (the API secret in use, another the run knows: here
/// MPT_NEW_API_TOKEN) is refused before sending, its row redacted, and no `-v` trace shows it
/// (it used to be sent in the URL, and printed in the row's `id` and the span's `token_id`).
#[test]
fn the_api_secret_pasted_as_an_id_is_never_sent_nor_shown() {
    let server = mock();
    let t = server.seed_token(SeedToken::named("real").with_modules([DEFAULT_MODULE]));
    let admin = server.admin_secret().to_string();
    let other = "Other-Known-Secret-42";
    let env = [("MPT_NEW_API_TOKEN", other)];
    // Also percent-encoded and JSON-escaped (its row's id used to show these as given, and the
    // escaped one, refused for its backslashes, in its message too).
    let encoded: String = admin.bytes().map(|b| format!("%{b:02X}")).collect();
    let escaped: String = admin
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let pastes = [admin.as_str(), other, encoded.as_str(), escaped.as_str()];
    for pasted in pastes {
        let out = run(&server, &["tokens", "get", pasted, "-v"], &env);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let stdin = format!("{pasted}\n{}\n", t.id);
        for format in ["jsonl", "table"] {
            let mut command = command(
                &server,
                &["tokens", "ensure-active", "-", "-v", "-o", format],
            );
            command.env("MPT_NEW_API_TOKEN", other);
            let out = with_stdin(command, &stdin);
            assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            for shown in [&stdout, &stderr] {
                assert!(!shown.contains(pasted), "{pasted} shown: {shown}");
                // As JSON output quotes it.
                let quoted = pasted.replace('\\', "\\\\");
                assert!(!shown.contains(&quoted), "{pasted} shown: {shown}");
            }
            assert!(stdout.contains("[REDACTED]"), "{stdout}");
            assert!(
                stdout.contains(&t.id),
                "the real id worked through: {stdout}"
            );
        }
    }
    // Only the real id's reads went out: a get by the pasted secret never did.
    assert!(
        server
            .recorded()
            .iter()
            .all(|r| [&r.path, r.query.as_ref().unwrap_or(&r.path)]
                .iter()
                .all(|text| pastes.iter().all(|pasted| !text.contains(pasted)))),
        "a secret travelled in a URL"
    );
}

/// Runs a command with `stdin` written to it (its stderr unchecked).
fn with_stdin(mut command: std::process::Command, stdin: &str) -> Output {
    use std::io::Write;
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

/// Arguments that are not UTF-8 (`$(printf 'my-api-s3cret\xff')`) used to panic (exit 101)
/// with the argument in the panic message: now a usage error naming the flag or position,
/// never the text; a path flag takes such a path; a variable set but not UTF-8 is named as
/// such (it used to read as unset: "no API token").
#[cfg(unix)]
#[test]
fn arguments_that_are_not_utf8_are_named_never_shown() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let server = mock();
    let odd = |bytes: &[u8]| OsStr::from_bytes(bytes).to_os_string();
    let secret = odd(b"my-api-s3cret\xff");
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            vec![
                "--api-token".into(),
                secret.clone(),
                "tokens".into(),
                "count".into(),
            ],
            "the value of --api-token",
        ),
        (
            vec![
                odd(b"--api-token=my-api-s3cret\xff"),
                "tokens".into(),
                "count".into(),
            ],
            "the value of --api-token",
        ),
        (
            vec!["tokens".into(), "get".into(), odd(b"TKN-\xffs3cret")],
            "argument 3",
        ),
        (vec![odd(b"my-api-s3cret\xff")], "argument 1"),
        (
            vec![
                "tokens".into(),
                "list".into(),
                "--account".into(),
                secret.clone(),
            ],
            "the value of --account",
        ),
        // A policy path may be any bytes: the state that may not is named (it used to name
        // --policy).
        (
            vec![
                "tokens".into(),
                "plan".into(),
                "--policy".into(),
                odd(b"p\xff.toml"),
                "--state".into(),
                odd(b"st-s3cret\xff"),
            ],
            "the value of --state",
        ),
    ];
    for (args, named) in cases {
        let out = command(&server, &[]).args(&args).output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(err.contains("not valid UTF-8"), "{args:?}: {err}");
        assert!(
            !err.contains("s3cret") && !err.contains("panicked"),
            "{err}"
        );
        assert!(text(&out.stdout).is_empty());
    }
    // MPT_NEW_API_TOKEN too, by a command that does not use it but knows it (it used to be
    // read as unset: exit 0).
    for (name, args) in [
        ("MPT_API_TOKEN", &["tokens", "count"][..]),
        (
            "MPT_NEW_API_TOKEN",
            &["tokens", "get", "TKN-0000-0000-0001"],
        ),
    ] {
        let out = command(&server, args)
            .env(name, odd(b"abc-s3cret\xff"))
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("{name} is set but is not valid UTF-8")),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
    assert_eq!(server.total_requests(), 0, "nothing was sent");
    // A path may be any bytes.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(odd(b"s\xfe.secret"));
    let out = command(
        &server,
        &[
            "tokens",
            "create",
            "--account",
            DEFAULT_ACCOUNT,
            "--name",
            "odd path",
            "--module",
            DEFAULT_MODULE,
            "--secret-file",
        ],
    )
    .arg(&file)
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("idt:"));
}

/// `get` prints what the platform holds with control characters escaped: a description with
/// terminal escapes and a line break used to clear the screen and forge a line.
#[test]
fn get_never_prints_terminal_escapes_or_forged_lines() {
    let server = mock();
    let forged = "evil\u{1b}[2J\u{1b}[31mRED\nstatus       Active (forged line)";
    let t = server.seed_token(
        SeedToken::named("esc\u{7}")
            .with_description(forged)
            .with_modules([DEFAULT_MODULE]),
    );
    for args in [vec!["tokens", "get", t.id.as_str()], vec!["tokens", "list"]] {
        let out = run(&server, &args, &[]);
        let shown = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?}: {shown:?}"
        );
    }
    let out = run(&server, &["tokens", "get", t.id.as_str()], &[]);
    let shown = text(&out.stdout);
    assert!(shown.contains("evil\\u{1b}[2J"), "{shown}");
    assert_eq!(
        shown.lines().filter(|l| l.starts_with("status")).count(),
        1,
        "no forged line: {shown}"
    );
    // JSON escapes by itself, and keeps the text as it is.
    let out = run(
        &server,
        &["tokens", "get", t.id.as_str(), "-o", "json"],
        &[],
    );
    assert_eq!(json(&out)["description"], forged);
}

/// A value the platform would refuse is refused before anything is sent (`--select` with an
/// unknown field used to go out: 400, exit 1), and a config file named and missing is an error
/// naming it (it used to be ignored).
#[test]
fn an_unknown_select_field_and_a_missing_config_file_are_refused_unsent() {
    let server = mock();
    let out = run(&server, &["tokens", "list", "--select=-audti"], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"audti\"") && err.contains("lastAccessAt"),
        "{err}"
    );
    let missing = "/nonexistent-mpt-dir/config.toml";
    for (args, env) in [
        (vec!["--config", missing, "tokens", "count"], vec![]),
        (vec!["tokens", "count"], vec![("MPT_CONFIG", missing)]),
    ] {
        let out = run(&server, &args, &env);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(missing), "{err}");
    }
    assert_eq!(server.total_requests(), 0, "nothing was sent");
    let out = run(
        &server,
        &["tokens", "list", "--select=-audit,+modules"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// `create` and `rotate start` without --secret-file refuse, before anything is made, a stdout
/// that throws the secret away (`> /dev/null`; `>&-` is reopened there): the secret used to
/// be lost, exit 0.
#[cfg(unix)]
#[test]
fn a_secret_is_never_printed_to_dev_null() {
    let server = mock();
    let old = server.seed_token(SeedToken::named("old").with_modules([DEFAULT_MODULE]));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("rotation.json");
    let create = [
        "tokens",
        "create",
        "--account",
        DEFAULT_ACCOUNT,
        "--name",
        "lost",
        "--module",
        DEFAULT_MODULE,
    ];
    let start = [
        "tokens",
        "rotate",
        "start",
        old.id.as_str(),
        "--state",
        state.to_str().unwrap(),
    ];
    for args in [&create[..], &start[..]] {
        let out = command(&server, args)
            .stdout(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--secret-file"), "{err}");
    }
    assert_eq!(server.tokens_created(), 0, "nothing was made");
    assert!(!state.exists());
}
