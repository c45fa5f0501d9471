//! `mpt tokens plan|apply` and sink commands: one whose program cannot be started is refused
//! before anything is made; one that fails leaves its token to the next apply, which adopts it
//! (`adopted`, not counted as created) instead of making a second.

use mpt_mock::{DEFAULT_ACCOUNT, DEFAULT_MODULE};
use serde_json::Value;

use crate::common::{mock, mpt, text};

/// A policy of one entry, `svc`, its secret to `sink`.
fn write_policy(path: &std::path::Path, sink: &str) {
    std::fs::write(
        path,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n"
        ),
    )
    .unwrap();
}

/// `plan` and `apply` refuse a sink command whose program does not exist, or is a directory,
/// with exit 2, naming the policy file, the entry's line and `secret.command`, its name and the
/// program, before anything is made.
#[test]
fn a_sink_command_that_cannot_start_is_refused_by_plan_and_apply() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    let policy_arg = policy.to_str().unwrap();
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let directory = dir.path().display().to_string();
    for program in ["/nonexistent/vault", directory.as_str()] {
        write_policy(
            &policy,
            &format!("{{ command = [\"{program}\", \"put\"] }}"),
        );
        for verb in ["plan", "apply"] {
            let out = mpt(
                &server,
                &["tokens", verb, "--policy", policy_arg, "--state", state_arg],
            );
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{verb}: {err}");
            assert!(
                err.contains(&format!(
                    "{policy_arg}:5: accounts[0].tokens[0].secret.command: \"svc\": command \"{program}\" cannot be started"
                )),
                "{verb}: {err}"
            );
        }
    }
    assert_eq!(server.tokens_created(), 0);
}

/// A sink command that exits 3: `failed`, exit 1, the token named; the next apply (its sink
/// fixed) makes no second token and reports the first `adopted`, resumed, in the table (a row
/// and `0 created, ..., 1 adopted`) and in `-o jsonl`, exit 0.
#[test]
fn a_token_a_failed_sink_left_is_adopted_by_the_next_apply_not_created() {
    for format in ["table", "jsonl"] {
        let server = mock();
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("tokens.toml");
        let policy_arg = policy.to_str().unwrap();
        let state = dir.path().join("state");
        let args = [
            "tokens",
            "apply",
            "--policy",
            policy_arg,
            "--state",
            state.to_str().unwrap(),
            "-o",
            format,
        ];
        write_policy(
            &policy,
            r#"{ command = ["sh", "-c", "cat > /dev/null; exit 3"] }"#,
        );
        let out = mpt(&server, &args);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{format}: {stdout}");
        assert!(
            stdout.contains("was made; the secret sink failed"),
            "{stdout}"
        );
        assert_eq!(server.tokens_created(), 1);

        let file = dir.path().join("svc.secret");
        write_policy(&policy, &format!("{{ file = \"{}\" }}", file.display()));
        let out = mpt(&server, &args);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            text(&out.stderr)
        );
        assert_eq!(server.tokens_created(), 1, "no second token: {stdout}");
        let made: Vec<(String, String)> = server
            .live_token_names()
            .into_iter()
            .filter(|(_, name)| name == "svc")
            .collect();
        assert_eq!(made.len(), 1, "{made:?}");
        let id = &made[0].0;
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .contains(id.as_str())
        );
        assert_adopted(format, &stdout, "create", id);
        if format != "jsonl" {
            assert!(
                stdout.contains("0 created,") && stdout.contains("1 adopted"),
                "{stdout}"
            );
        }
    }
}

/// A policy of one entry, `svc`, rotated after 90 days, `extra` added (a status), its secret to
/// `sink`.
fn write_rotated(path: &std::path::Path, extra: &str, sink: &str) {
    std::fs::write(
        path,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nrotate_after = \"90d\"\n{extra}\nsecret = {sink}\n"
        ),
    )
    .unwrap();
}

/// `svc`'s live tokens on the mock, by id.
fn live_svc(server: &mpt_mock::MockServer) -> Vec<String> {
    server
        .live_token_names()
        .into_iter()
        .filter(|(_, name)| name == "svc")
        .map(|(id, _)| id)
        .collect()
}

/// A due rotation whose sink exits 3 (`failed`, exit 1, its replacement made and named), then
/// the next apply, the sink fixed (or the entry declared Disabled): that apply makes no token,
/// and its row says the replacement was made by the earlier apply: `adopted`, resumed, counted
/// once (`0 rotated, ..., 1 adopted`), in the table and in `-o jsonl`, exit 0; the platform
/// then holds that one token, Disabled when declared so (with `--allow-destroy`: without it
/// the resume is `skipped` and both tokens stay).
#[test]
fn a_rotation_a_failed_sink_left_is_adopted_by_the_next_apply() {
    for (format, status) in [
        ("table", ""),
        ("jsonl", ""),
        ("table", "status = \"Disabled\""),
    ] {
        let shown = format!("{format} {status}");
        let server = mock();
        let aged = mpt::chrono::Utc::now() - mpt::chrono::Duration::days(100);
        let old = server.seed_token(
            mpt_mock::SeedToken::named("svc")
                .with_modules([DEFAULT_MODULE])
                .created(aged),
        );
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("tokens.toml");
        let state = dir.path().join("state");
        let mut args = vec![
            "tokens",
            "apply",
            "--policy",
            policy.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "-o",
            format,
        ];
        let failing = r#"{ command = ["sh", "-c", "cat > /dev/null; exit 3"] }"#;
        write_rotated(&policy, "", failing);
        let out = mpt(&server, &args);
        assert_eq!(out.status.code(), Some(1), "{shown}: {}", text(&out.stdout));
        assert_eq!(server.tokens_created(), 1);
        let file = dir.path().join("svc.secret");
        write_rotated(
            &policy,
            status,
            &format!("{{ file = \"{}\" }}", file.display()),
        );
        if !status.is_empty() {
            // Declared Disabled, the rotation no longer wanted: finishing it is destructive.
            let out = mpt(&server, &args);
            let stdout = text(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{shown}: {stdout}");
            assert!(stdout.lines().any(|l| l.starts_with("skipped")), "{stdout}");
            assert_eq!(live_svc(&server).len(), 2, "{shown}: {stdout}");
            args.push("--allow-destroy");
        }
        let out = mpt(&server, &args);
        let stdout = text(&out.stdout);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{shown}: {stdout}{stderr}");
        assert_eq!(server.tokens_created(), 1, "no second token: {stdout}");
        let live = live_svc(&server);
        assert_eq!(live.len(), 1, "{shown}: {live:?}");
        let id = &live[0];
        assert_ne!(*id, old.id);
        assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
        let wanted = if status.is_empty() {
            "Active"
        } else {
            "Disabled"
        };
        assert_eq!(server.token_status(id).as_deref(), Some(wanted), "{shown}");
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .contains(id.as_str())
        );
        // The summary, on stdout for the table and on stderr for jsonl.
        assert!(
            format!("{stdout}{stderr}").contains("0 rotated, 1 adopted"),
            "{shown}: {stdout}{stderr}"
        );
        assert_adopted(format, &stdout, "rotate", id);
        if format != "jsonl" {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with("adopted") && l.contains("earlier apply")),
                "{shown}: {stdout}"
            );
        }
        // Nothing left to do.
        let out = mpt(&server, &args);
        assert_eq!(out.status.code(), Some(0), "{shown}");
        assert_eq!(live_svc(&server), live, "{shown}");
    }
}

/// The one row of an apply that resumed `action` (`create` or `rotate`) and adopted `id`,
/// in `format` (`jsonl` or the table).
fn assert_adopted(format: &str, stdout: &str, action: &str, id: &str) {
    if format == "jsonl" {
        let rows: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 1, "{stdout}");
        assert_eq!(rows[0]["result"], "adopted", "{stdout}");
        assert_eq!(rows[0]["resumed"], true, "{stdout}");
        assert_eq!(rows[0]["newTokenId"], id, "{stdout}");
    } else {
        assert!(
            stdout.lines().any(|l| l.starts_with("adopted")
                && l.contains(action)
                && l.contains("(resumed)")
                && l.contains(id)),
            "{stdout}"
        );
    }
}
