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
        match format {
            "jsonl" => {
                let rows: Vec<Value> = stdout
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                assert_eq!(rows.len(), 1, "{stdout}");
                assert_eq!(rows[0]["result"], "adopted", "{stdout}");
                assert_eq!(rows[0]["resumed"], true, "{stdout}");
                assert_eq!(rows[0]["newTokenId"], id.as_str(), "{stdout}");
            }
            _ => {
                assert!(
                    stdout.lines().any(|l| l.starts_with("adopted")
                        && l.contains("create")
                        && l.contains("(resumed)")
                        && l.contains(id.as_str())),
                    "{stdout}"
                );
                assert!(
                    stdout.contains("0 created,") && stdout.contains("1 adopted"),
                    "{stdout}"
                );
            }
        }
    }
}
