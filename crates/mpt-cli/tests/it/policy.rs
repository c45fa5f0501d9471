//! `mpt tokens plan` and `apply`: a policy file's drift shown, then carried out, with a
//! result line per action; an apply killed mid-way resumes without a second token.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mpt_mock::{DEFAULT_ACCOUNT, DEFAULT_MODULE, SeedToken};
use serde_json::Value;

use crate::common::{command, mock, mpt, text};

/// `mpt tokens plan`: a bad policy is refused naming the file and line before anything is sent;
/// drift is printed with its reasons, saved with `--out`, and exits 6 with `--exit-code`; a
/// matching account exits 0.
#[test]
fn plan_shows_the_drift_from_a_policy_and_exits_6_on_it_when_asked() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    std::fs::write(
        &policy,
        "[[accounts]]\nid = \"ACC-1\"\nrotate_after = \"soon\"\n",
    )
    .unwrap();
    let policy_arg = policy.to_str().unwrap();
    server.clear_recorded();
    let out = mpt(&server, &["tokens", "plan", "--policy", policy_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{policy_arg}:3: rotate_after")),
        "{err}"
    );
    assert!(server.recorded().is_empty(), "nothing was sent");

    let kept = server.seed_token(SeedToken::named("kept").with_modules([DEFAULT_MODULE]));
    std::fs::write(
        &policy,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n\n[[accounts.tokens]]\nname = \"kept\"\nmodules = [\"{DEFAULT_MODULE}\"]\n\n[[accounts.tokens]]\nname = \"new\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
        ),
    )
    .unwrap();
    let saved = dir.path().join("plan.json");
    let out = mpt(
        &server,
        &[
            "tokens",
            "plan",
            "--policy",
            policy_arg,
            "--exit-code",
            "--out",
            saved.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    // Every exit other than 0 says why on stderr.
    assert!(
        text(&out.stderr).contains("changes pending"),
        "{}",
        text(&out.stderr)
    );
    let table = text(&out.stdout);
    assert!(
        table.contains("create") && table.contains("new") && table.contains("not found"),
        "{table}"
    );
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(plan["actions"].as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(plan["actions"][0]["kind"], "create");

    std::fs::write(
        &policy,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n\n[[accounts.tokens]]\nname = \"kept\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
        ),
    )
    .unwrap();
    let out = mpt(
        &server,
        &[
            "tokens",
            "plan",
            "--policy",
            policy_arg,
            "--exit-code",
            "-o",
            "jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(out.stdout.is_empty());
    assert_eq!(server.token_status(&kept.id).as_deref(), Some("Active"));
    // A token the policy does not declare is reported (`unmanaged = "report"`): shown, not a
    // change an apply would make.
    server.seed_token(SeedToken::named("stray").with_modules([DEFAULT_MODULE]));
    let out = mpt(
        &server,
        &["tokens", "plan", "--policy", policy_arg, "--exit-code"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("unmanaged"),
        "{}",
        text(&out.stdout)
    );
}

/// The ids of the live tokens named `name`.
fn live_named(server: &mpt_mock::MockServer, name: &str) -> Vec<String> {
    server
        .live_token_names()
        .into_iter()
        .filter(|(_, n)| n == name)
        .map(|(id, _)| id)
        .collect()
}

/// The token id in a secret file (0600).
fn secret_owner(path: &std::path::Path) -> String {
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(path).unwrap();
    text.trim().split(':').nth(1).unwrap().to_string()
}

#[test]
fn apply_prints_a_line_per_action_and_a_summary_and_exits_1_when_one_failed() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    let doomed = server.seed_token(SeedToken::named("doomed").with_modules([DEFAULT_MODULE]));
    let off = server.seed_token(
        SeedToken::named("on")
            .with_modules([DEFAULT_MODULE])
            .with_status("Disabled"),
    );
    let file = dir.path().join("new.secret");
    let write = |sink: &str| {
        std::fs::write(
            &policy,
            format!(
                "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n\n[[accounts.tokens]]\nname = \"new\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n\n[[accounts.tokens]]\nname = \"on\"\nmodules = [\"{DEFAULT_MODULE}\"]\n\n[[accounts.tokens]]\nname = \"doomed\"\nstatus = \"absent\"\n"
            ),
        )
        .unwrap()
    };
    let policy_arg = policy.to_str().unwrap();
    // A saved plan, made stale by a change after it.
    write(&format!("{{ file = \"{}\" }}", file.display()));
    let saved = dir.path().join("plan.json");
    let out = mpt(
        &server,
        &[
            "tokens",
            "plan",
            "--policy",
            policy_arg,
            "--out",
            saved.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let twin = server.seed_token(SeedToken::named("on").with_modules([DEFAULT_MODULE]));
    let apply_saved = || {
        mpt(
            &server,
            &[
                "tokens",
                "apply",
                "--policy",
                policy_arg,
                "--plan",
                saved.to_str().unwrap(),
            ],
        )
    };
    let out = apply_saved();
    // A saved plan that no longer approves what would be done: bad input, exit 2.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("stale"), "{}", text(&out.stderr));
    assert_eq!(server.token_status(&off.id).as_deref(), Some("Disabled"));
    assert_eq!(server.tokens_created(), 0, "nothing made");
    assert_eq!(live_named(&server, "on").len(), 2);
    // Without the twin (deleted again), the state matches a fresh plan: apply it.
    assert!(
        mpt(&server, &["tokens", "delete", &twin.id])
            .status
            .success()
    );
    let out = apply_saved();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("changed") && l.contains("create") && l.contains("new:")),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("skipped") && l.contains(&doomed.id)),
        "{table}"
    );
    assert_eq!(
        lines[3],
        "1 created, 0 updated, 1 enabled, 0 disabled, 0 deleted, 0 rotated, 1 skipped (need --allow-destroy), 0 failed"
    );
    assert!(!table.contains("idt:"), "{table}");
    let live = live_named(&server, "new");
    assert_eq!(live.len(), 1);
    assert_eq!(secret_owner(&file), live[0]);
    assert_eq!(server.token_status(&off.id).as_deref(), Some("Active"));
    assert_eq!(server.token_status(&doomed.id).as_deref(), Some("Active"));
    assert!(dir.path().join(".mpt-state").is_dir(), "beside the policy");

    // Destroy allowed, and a sink that fails for a new entry: exit 1, the secret kept.
    write(r#"{ command = ["sh", "-c", "echo refused >&2; exit 1"] }"#);
    std::fs::write(
        &policy,
        std::fs::read_to_string(&policy)
            .unwrap()
            .replace("name = \"new\"", "name = \"newer\""),
    )
    .unwrap();
    let out = mpt(
        &server,
        &[
            "tokens",
            "apply",
            "--policy",
            policy_arg,
            "--allow-destroy",
            "-o",
            "jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let results: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed = results.iter().find(|r| r["result"] == "failed").unwrap();
    let kept = failed["detail"].as_str().unwrap();
    assert!(
        kept.contains("no copy of the secret is kept") && kept.contains("refused"),
        "{kept}"
    );
    assert!(!text(&out.stdout).contains("idt:"));
    assert!(
        text(&out.stderr).ends_with("1 failed\n"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.token_status(&doomed.id).as_deref(), Some("Deleted"));
}

/// `mpt tokens apply` killed (SIGKILL) while the sink has the new secret: the next apply adopts
/// the token that run made, hands its secret over, and makes no second one.
#[test]
fn an_apply_killed_mid_way_resumes_without_a_second_token() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    let started = dir.path().join("started");
    let file = dir.path().join("svc.secret");
    let write = |sink: &str| {
        std::fs::write(
            &policy,
            format!(
                "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n"
            ),
        )
        .unwrap()
    };
    write(&format!(
        r#"{{ command = ["sh", "-c", "touch {}; sleep 60"], timeout = "2m" }}"#,
        started.display()
    ));
    let policy_arg = policy.to_str().unwrap();
    let mut child = command(&server, &["tokens", "apply", "--policy", policy_arg])
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    while !started.exists() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the sink never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(server.tokens_created(), 1);

    write(&format!("{{ file = \"{}\" }}", file.display()));
    let out = mpt(&server, &["tokens", "apply", "--policy", policy_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("resumed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(server.tokens_created(), 1, "no second token");
    let live = live_named(&server, "svc");
    assert_eq!(live.len(), 1);
    assert_eq!(secret_owner(&file), live[0]);
    // And nothing is left to do.
    let out = mpt(
        &server,
        &["tokens", "plan", "--policy", policy_arg, "--exit-code"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // `-o json`: the whole report, once, at the end; its summary on stderr.
    let out = mpt(
        &server,
        &["tokens", "apply", "--policy", policy_arg, "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("0 created, 0 updated"),
        "{}",
        text(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["results"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
}

/// Pending work an interrupted apply left (a create whose sink failed) is in `mpt tokens plan`,
/// in every output format, with what resuming it would do; `--exit-code` counts it as drift.
#[test]
fn plan_shows_pending_work_in_every_format_and_counts_it_as_drift() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    std::fs::write(
        &policy,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ command = [\"sh\", \"-c\", \"exit 3\"] }}\n"
        ),
    )
    .unwrap();
    let policy_arg = policy.to_str().unwrap();
    let out = command(&server, &["tokens", "apply", "--policy", policy_arg])
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let made = live_named(&server, "svc");
    assert_eq!(made.len(), 1);
    let plan = |format: &str, more: &[&str]| {
        let mut args = vec!["tokens", "plan", "--policy", policy_arg, "-o", format];
        args.extend_from_slice(more);
        mpt(&server, &args)
    };
    let out = plan("table", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("resume") && table.contains(&made[0]) && table.contains("deliver"),
        "{table}"
    );
    assert!(table.contains("pending work"), "{table}");
    let out = plan("markdown", &[]);
    let markdown = text(&out.stdout);
    assert!(
        markdown.contains("| resume |") && markdown.contains("deliver"),
        "{markdown}"
    );
    let out = plan("json", &[]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["actions"][0]["kind"], "resume", "{json}");
    assert_eq!(json["actions"][0]["steps"], serde_json::json!(["deliver"]));
    assert_eq!(json["actions"][0]["token_id"], made[0].as_str(), "{json}");
    let out = plan("jsonl", &[]);
    assert!(text(&out.stdout).contains("\"resume\""));
    let out = plan("table", &["--exit-code"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stdout));
}

/// `mpt tokens apply` killed with SIGKILL while its command sink runs: the sink dies with it
/// (its output never appears), and the next apply hands the secret over once.
#[test]
fn a_sink_command_dies_with_its_apply_even_under_sigkill() {
    // It takes the secret from stdin only after a pause: written only if it outlives the kill.
    killed_while_its_sink_runs("sleep 2; cat > LATE1", &["LATE1"]);
}

/// The same for what the command starts: a pipeline's stages and a background job, which
/// take the secret at once and write it after 2 s. The whole command dies with its apply.
#[test]
fn a_sink_commands_children_die_with_its_apply_even_under_sigkill() {
    killed_while_its_sink_runs(
        "s=$(cat); (sleep 2; echo $s > LATE1) & echo $s | (sleep 2; cat > LATE2); wait",
        &["LATE1", "LATE2"],
    );
    // bash's `|` and a subshell of a subshell: the grandchild's grandchild writes.
    killed_while_its_sink_runs("cat | (sleep 2; (cat > LATE1))", &["LATE1"]);
}

/// `mpt tokens apply` with a command sink running `script` (in `sh -c`, after it marks that it
/// started; `LATEn` in it are files of the test's directory), killed with SIGKILL once the sink
/// runs: none of `late` is written, past the script's pauses, and the next apply hands the
/// secret of the one token made over, once.
fn killed_while_its_sink_runs(script: &str, late: &[&str]) {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    let started = dir.path().join("started");
    let write = |sink: &str| {
        std::fs::write(
            &policy,
            format!(
                "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n"
            ),
        )
        .unwrap()
    };
    let mut script = format!("touch {}; {script}", started.display());
    for name in late {
        script = script.replace(name, &dir.path().join(name).display().to_string());
    }
    write(&format!(
        r#"{{ command = ["sh", "-c", "{script}"], timeout = "1m" }}"#
    ));
    let policy_arg = policy.to_str().unwrap();
    let mut child = command(&server, &["tokens", "apply", "--policy", policy_arg])
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    while !started.exists() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the sink never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Past the sink's pause, and then some: nothing was written.
    std::thread::sleep(Duration::from_secs(4));
    for name in late {
        assert!(
            !dir.path().join(name).exists(),
            "{script}: the sink (or what it started) outlived its apply and wrote the secret to {name}"
        );
    }
    assert_eq!(server.tokens_created(), 1);
    // The next apply hands the secret of that one token over, once.
    let file = dir.path().join("svc.secret");
    write(&format!("{{ file = \"{}\" }}", file.display()));
    let out = mpt(&server, &["tokens", "apply", "--policy", policy_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(server.tokens_created(), 1);
    assert_eq!(secret_owner(&file), live_named(&server, "svc")[0]);
}

/// A refused-modules record whose `reason` was edited to hold control characters (a terminal
/// escape, a forged line) and a secret-shaped text: `mpt tokens apply` prints it with the
/// control characters escaped and the secret redacted, and sends no module it refused.
#[test]
fn record_text_is_printed_escaped_and_redacted() {
    let server = mock();
    let token = server.seed_token(SeedToken::named("svc").with_modules([DEFAULT_MODULE]));
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    std::fs::write(
        &policy,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\", \"MOD-2310\"]\n"
        ),
    )
    .unwrap();
    let refused = dir.path().join(".mpt-state").join("refused");
    std::fs::create_dir_all(&refused).unwrap();
    std::fs::set_permissions(
        dir.path().join(".mpt-state"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let forged = "\u{1b}[2J\rdone 0 failed\nidt:TKN-1111-2222:s3cr3tOpaqueValue";
    std::fs::write(
        refused.join(format!("{}.json", token.id)),
        serde_json::json!({
            "tokenId": token.id, "modules": ["MOD-2310"],
            "at": "2026-01-01T00:00:00Z", "reason": forged,
        })
        .to_string(),
    )
    .unwrap();
    let out = mpt(
        &server,
        &["tokens", "apply", "--policy", policy.to_str().unwrap()],
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("could not be applied"), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\r'),
        "{stdout:?}"
    );
    assert!(
        stdout.contains("\\u{1b}[2J\\rdone 0 failed\\nidt:TKN-1111-2222:[REDACTED]"),
        "{stdout:?}"
    );
    assert!(!stdout.contains("s3cr3tOpaqueValue"), "{stdout}");
    // The platform: the module it refused not sent again; the token as it was.
    assert_eq!(server.requests(mpt_mock::Operation::Update), 0);
}

/// A policy `apply` run in `dir` with `args`, its output piped (`sh` on its PATH, for sinks).
fn apply_in(
    server: &mpt_mock::MockServer,
    dir: &std::path::Path,
    args: &[&str],
) -> std::process::Child {
    let policy = dir.join("tokens.toml");
    let state = dir.join("state");
    let mut all = vec![
        "tokens",
        "apply",
        "--policy",
        policy.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    command(server, &all)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .spawn()
        .unwrap()
}

/// Waits until `path` exists (a sink marks that it runs), at most 30 s.
fn until_exists(path: &std::path::Path) {
    let waited = Instant::now();
    while !path.exists() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM while an apply reads the accounts (every list and read held, never answered):
/// nothing was changed, and the exit says the signal, 143 (tester round 22, R3: exit 1, "error:
/// not attempted: the bulk call was cancelled first").
#[test]
fn an_apply_interrupted_while_it_reads_the_accounts_exits_with_the_signal() {
    use mpt_mock::{Fault, FaultRule, Faults, Operation};
    let server = mock();
    let made = server.seed_token(SeedToken::named("fast").with_modules([DEFAULT_MODULE]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fast.secret");
    std::fs::write(&file, format!("{}\n", made.secret.expose_secret())).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        dir.path().join("tokens.toml"),
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"fast\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
            file.display()
        ),
    )
    .unwrap();
    let held = FaultRule::every(1, Fault::Hold).only([Operation::List, Operation::Get]);
    server.set_faults(Faults::none().with(held)).unwrap();
    let mut child = apply_in(&server, dir.path(), &["-o", "json"]);
    let status = crate::scripting::signal_when(&mut child, libc::SIGTERM, || server.held() >= 1);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(!stderr.contains("cancelled first"), "{stderr}");
    assert_eq!(server.token_status(&made.id).as_deref(), Some("Active"));
    assert_eq!(server.requests(Operation::Create), 0);
}

/// SIGTERM while a sink command hangs: once the 10 s grace is over, `apply` prints a row for
/// every action (the token made and handed over `changed`, the one whose sink still runs
/// `outcomeUnknown`, the one not begun `notAttempted`) and the summary, in a table and in
/// `-o json`, and exits 143.
#[test]
fn an_apply_interrupted_past_its_grace_prints_a_row_for_every_action() {
    for format in ["table", "json"] {
        let server = mock();
        let dir = tempfile::tempdir().unwrap();
        let started = dir.path().join("started");
        std::fs::write(
            dir.path().join("tokens.toml"),
            format!(
                "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"fast\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n[[accounts.tokens]]\nname = \"slow\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ command = [\"sh\", \"-c\", \"cat > /dev/null; touch {}; sleep 300\"], timeout = \"10m\" }}\n[[accounts.tokens]]\nname = \"later\"\nmodules = [\"{DEFAULT_MODULE}\"]\n",
                dir.path().join("fast.secret").display(),
                started.display()
            ),
        )
        .unwrap();
        let mut child = apply_in(&server, dir.path(), &["--concurrency", "1", "-o", format]);
        until_exists(&started);
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let status = crate::scripting::wait(&mut child, Duration::from_secs(60));
        let out = child.wait_with_output().unwrap();
        let stdout = text(&out.stdout);
        assert_eq!(status.code(), Some(143), "{stdout}{}", text(&out.stderr));
        let results: Vec<(String, String)> = match format {
            "json" => {
                let report: Value = serde_json::from_str(&stdout).unwrap();
                report["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let name = r["action"]["name"].as_str().unwrap().to_string();
                        (name, r["result"].as_str().unwrap().to_string())
                    })
                    .collect()
            }
            _ => {
                assert!(
                    stdout.contains("1 created")
                        && stdout.contains("1 in flight when interrupted")
                        && stdout.contains("1 not attempted"),
                    "{stdout}"
                );
                stdout
                    .lines()
                    .filter_map(|l| {
                        let mut words = l.split_whitespace();
                        let result = words.next()?.to_string();
                        let name = words.nth(2)?.trim_end_matches(':').to_string();
                        Some((name, result))
                    })
                    .filter(|(name, _)| ["fast", "slow", "later"].contains(&name.as_str()))
                    .collect()
            }
        };
        let mut results = results;
        results.sort();
        assert_eq!(
            results,
            [
                ("fast".to_string(), "changed".to_string()),
                ("later".to_string(), "notAttempted".to_string()),
                ("slow".to_string(), "outcomeUnknown".to_string()),
            ],
            "{format}: {stdout}"
        );
        assert_eq!(server.tokens_created(), 2);
    }
}

/// A second apply on a state directory another holds waits up to its `--lock-timeout`, then
/// plans afresh (here: nothing left to do).
#[test]
fn a_second_apply_on_a_state_directory_waits_up_to_its_lock_timeout() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let (started, go) = (dir.path().join("started"), dir.path().join("go"));
    std::fs::write(
        dir.path().join("tokens.toml"),
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"held\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ command = [\"sh\", \"-c\", \"cat > /dev/null; touch {}; while [ ! -e {} ]; do sleep 0.05; done\"], timeout = \"5m\" }}\n",
            started.display(),
            go.display()
        ),
    )
    .unwrap();
    let mut first = apply_in(&server, dir.path(), &[]);
    until_exists(&started);
    let mut second = apply_in(&server, dir.path(), &["--lock-timeout", "2m"]);
    // Longer than the second a lock just released is waited for.
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(&go, "").unwrap();
    assert_eq!(
        crate::scripting::wait(&mut first, Duration::from_secs(60)).code(),
        Some(0)
    );
    let status = crate::scripting::wait(&mut second, Duration::from_secs(60));
    let out = second.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("0 created"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(server.tokens_created(), 1);
}

/// A sink that cannot be used (a directory where the secret file goes) is refused by `plan` and
/// `apply` with exit 2, naming the policy file, the entry and its `secret`, before anything is
/// made.
#[test]
fn a_sink_that_cannot_be_used_is_refused_before_anything_is_made() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("a-directory");
    std::fs::create_dir(&sink).unwrap();
    let policy = dir.path().join("tokens.toml");
    std::fs::write(
        &policy,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
            sink.display()
        ),
    )
    .unwrap();
    let policy_arg = policy.to_str().unwrap();
    for verb in ["plan", "apply"] {
        let out = mpt(&server, &["tokens", verb, "--policy", policy_arg]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{verb}: {err}");
        assert!(
            err.contains(&format!("{policy_arg}:5: accounts[0].tokens[0].secret")),
            "{verb}: {err}"
        );
    }
    assert_eq!(server.tokens_created(), 0);
}

/// A state record whose key names no account and name (a junk file in `late/`) is refused by
/// where it is, and its row shows `-` for the name it has none of (tester round 21, N4: the row
/// read `refused resume - : (resumed) pending record ...`).
#[test]
fn a_record_whose_key_names_none_is_refused_in_a_row_named_dash() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    crate::common::write_ignoring_policy(dir.path());
    let late = dir.path().join("state").join("late");
    std::fs::create_dir_all(&late).unwrap();
    for d in [dir.path().join("state"), late.clone()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let junk = late.join("junk.json");
    std::fs::write(&junk, "not json").unwrap();
    let out = apply_in(&server, dir.path(), &[])
        .wait_with_output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("refused"))
        .unwrap_or_else(|| panic!("no refused row: {stdout}\n{stderr}"));
    assert!(row.contains(" -: (resumed) "), "{row}");
    assert!(row.contains(junk.to_str().unwrap()), "{row}");
}
