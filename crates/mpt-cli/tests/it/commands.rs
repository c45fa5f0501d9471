//! The real `mpt` binary against the mock server on loopback.

use std::process::Command;

use mpt_mock::{DEFAULT_ACCOUNT, DEFAULT_MODULE, Fault, FaultRule, Faults, Operation, SeedToken};
use serde_json::{Value, json};

use crate::common::{home, json, mock, mpt, mpt_with, text};

#[test]
fn every_token_subcommand_with_json_output() {
    let server = mock();
    let created = json(&mpt(
        &server,
        &[
            "tokens",
            "create",
            "--account",
            DEFAULT_ACCOUNT,
            "--name",
            "ci deploy",
            "--module",
            DEFAULT_MODULE,
            "--description",
            "made by the CLI test",
            "-o",
            "json",
        ],
    ));
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with(&format!("idt:{id}:")));
    assert_eq!(created["status"], "Active");

    let got = json(&mpt(&server, &["tokens", "get", &id, "-o", "json"]));
    assert_eq!(got["name"], "ci deploy");
    assert!(
        got["createdAt"].as_str().unwrap().contains('T'),
        "RFC 3339, from the audit `get` asks for"
    );
    assert!(got.get("secret").is_none() && !got.to_string().contains(&secret));

    server.seed_token(SeedToken::named("other"));
    let list = json(&mpt(
        &server,
        &["tokens", "list", "-o", "json", "--order", "-name"],
    ));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["other", "ci deploy"]);
    let out = mpt(
        &server,
        &["tokens", "list", "--name-like", "ci*", "-o", "jsonl"],
    );
    assert_eq!(text(&out.stdout).lines().count(), 1);
    let limited = json(&mpt(
        &server,
        &["tokens", "list", "--limit", "1", "-o", "json"],
    ));
    assert_eq!(limited.as_array().unwrap().len(), 1);
    let table = text(&mpt(&server, &["tokens", "list", "--status", "Active"]).stdout);
    assert!(
        table.starts_with("ID") && table.contains("never"),
        "humanised: {table}"
    );
    let stale = json(&mpt(
        &server,
        &["tokens", "list", "--stale-since", "90d", "-o", "json"],
    ));
    assert_eq!(
        stale.as_array().unwrap().len(),
        2,
        "never used counts as stale"
    );
    let count = json(&mpt(
        &server,
        &[
            "tokens",
            "count",
            "--account",
            DEFAULT_ACCOUNT,
            "-o",
            "json",
        ],
    ));
    assert_eq!(count["count"], 2);

    let updated = json(&mpt(
        &server,
        &[
            "tokens",
            "update",
            &id,
            "--name",
            "ci deploy 2",
            "-o",
            "json",
        ],
    ));
    assert_eq!(updated["name"], "ci deploy 2");
    let off = json(&mpt(&server, &["tokens", "disable", &id, "-o", "json"]));
    assert_eq!(off[0]["ok"], true);
    let on = json(&mpt(
        &server,
        &["tokens", "ensure-active", &id, "-o", "json"],
    ));
    assert_eq!(
        (&on[0]["outcome"], &on[0]["status"]),
        (&json!("changed"), &json!("Active"))
    );
    let again = mpt(&server, &["tokens", "enable", &id, "-o", "json"]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "enable of an Active token fails"
    );
    let off = json(&mpt(
        &server,
        &["tokens", "ensure-disabled", &id, "-o", "json"],
    ));
    assert_eq!(off[0]["ok"], true);
    let gone = json(&mpt(&server, &["tokens", "delete", &id, "-o", "json"]));
    assert_eq!(gone[0]["outcome"], "deleted");
    assert_eq!(server.token_status(&id).as_deref(), Some("Deleted"));
}

#[test]
fn bulk_work_reads_ids_from_args_files_and_stdin_and_reports_each_under_faults() {
    let server = mock();
    let ids: Vec<String> = (0..6)
        .map(|i| server.seed_token(SeedToken::named(format!("b{i}"))).id)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ids.txt");
    std::fs::write(&file, format!("# leaked\n{}\n{}\n", ids[2], ids[3])).unwrap();
    server
        .set_faults(
            // Deterministic: "every third request" let one request draw three 429s in a row
            // (its retries interleave with others'), failing the run about once in five.
            Faults::none()
                .with(FaultRule::first(
                    2,
                    Fault::RateLimited {
                        retry_after: std::time::Duration::ZERO,
                    },
                ))
                .with(FaultRule::first(2, Fault::DropAfterProcessing).only([Operation::Disable])),
        )
        .unwrap();
    let out = mpt_with(
        &server,
        &[
            "tokens",
            "disable",
            &ids[0],
            &ids[1],
            "--from-file",
            file.to_str().unwrap(),
            "-",
            "TKN-9999-9999",
            "--concurrency",
            "3",
            "-o",
            "json",
        ],
        Some(&format!("{}\n{}\n", ids[4], ids[5])),
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "one id failed");
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 7);
    // Arguments first (stdin where `-` stands), then the file.
    let order: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        [
            &ids[0],
            &ids[1],
            &ids[4],
            &ids[5],
            "TKN-9999-9999",
            &ids[2],
            &ids[3]
        ]
    );
    for id in &ids {
        let row = rows.iter().find(|r| r["id"] == id.as_str()).unwrap();
        assert_eq!(row["ok"], true, "{row}");
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"));
    }
    let missing = &rows[4];
    assert_eq!(missing["ok"], false);
    assert_eq!(missing["error"]["kind"], "not-found", "{missing}");
    assert_eq!(missing["error"]["httpStatus"], 404, "{missing}");
}

#[test]
fn dry_run_changes_nothing() {
    let server = mock();
    let on = server.seed_token(SeedToken::named("on")).id;
    let off = server
        .seed_token(SeedToken::named("off").with_status("Disabled"))
        .id;
    let before = server.total_requests();
    let out = mpt(
        &server,
        &["tokens", "disable", &on, &off, "--dry-run", "-o", "json"],
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&rows[0]["outcome"], &rows[0]["status"]),
        (&json!("would-change"), &json!("Active"))
    );
    assert_eq!(rows[1]["error"]["kind"], "invalid-transition");
    assert!(
        rows[1]["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("is already Disabled")
    );
    assert_eq!(out.status.code(), Some(1));
    let out = mpt(
        &server,
        &["tokens", "delete", &on, "--dry-run", "-o", "json"],
    );
    assert!(out.status.success());
    assert_eq!(server.token_status(&on).as_deref(), Some("Active"));
    assert_eq!(server.token_status(&off).as_deref(), Some("Disabled"));
    assert_eq!(
        server.requests(Operation::Disable) + server.requests(Operation::Delete),
        0
    );
    assert_eq!(server.total_requests() - before, 3, "reads only");
}

/// A Client account's token sees and changes its own account's tokens only: another account's
/// is "not found" (its row fails, exit 1) and stays as it was.
#[test]
fn a_client_token_cannot_see_or_change_another_accounts_token() {
    let server = mock();
    let me = server.seed_token(SeedToken::named("me"));
    let theirs = server.seed_token(SeedToken::named("theirs").in_account(mpt_mock::VENDOR_ACCOUNT));
    let env = [("MPT_API_TOKEN", me.secret.expose_secret())];
    let out = mpt_with(
        &server,
        &["tokens", "disable", &theirs.id, "-o", "json"],
        None,
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["ok"], false);
    assert_eq!(rows[0]["error"]["httpStatus"], 404, "{rows}");
    let out = mpt_with(&server, &["tokens", "get", &theirs.id], None, &env);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(server.token_status(&theirs.id).as_deref(), Some("Active"));
    let out = mpt_with(&server, &["tokens", "list", "-o", "json"], None, &env);
    let listed = json(&out);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, [me.id.as_str()]);
    // The admin (an Operations account) can.
    let out = mpt(&server, &["tokens", "disable", &theirs.id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.token_status(&theirs.id).as_deref(), Some("Disabled"));
}

#[test]
fn secrets_go_only_to_stdout_or_a_private_file_never_stderr() {
    let server = mock();
    let out = mpt(
        &server,
        &[
            "tokens",
            "create",
            "--account",
            DEFAULT_ACCOUNT,
            "--name",
            "quiet",
            "--module",
            DEFAULT_MODULE,
            "--verbose",
        ],
    );
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("idt:TKN"),
        "the secret is on stdout"
    );
    assert!(
        text(&out.stderr).contains("mpt.request"),
        "--verbose traces: {}",
        text(&out.stderr)
    );
    // A server echoing a secret in its error: redacted on stderr (mpt_with checks it).
    let token = server.seed_token(SeedToken::named("x"));
    let out = mpt_with(
        &server,
        &["tokens", "get", "TKN-0000-0404", "-v"],
        None,
        &[("MPT_API_TOKEN", token.secret.expose_secret())],
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn exit_codes_and_errors_with_trace_ids() {
    let server = mock();
    let out = mpt(&server, &["tokens", "get", "TKN-0000-0404"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("404 Not Found") && text(&out.stderr).contains("(trace "),
        "{}",
        text(&out.stderr)
    );
    let out = mpt_with(
        &server,
        &["tokens", "list"],
        None,
        &[("MPT_API_TOKEN", "not-a-token")],
    );
    assert_eq!(out.status.code(), Some(4));
    let mut bare = Command::new(env!("CARGO_BIN_EXE_mpt"));
    let out = bare
        .args(["tokens", "list"])
        .env_clear()
        .env("HOME", home())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no API token"),
        "{}",
        text(&out.stderr)
    );
    let out = mpt(&server, &["tokens", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = mpt(&server, &["tokens", "list", "--stale-since", "90"]);
    assert_eq!(out.status.code(), Some(2));
    let out = mpt(&server, &["tokens", "get", ".."]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an id that would leave its path segment"
    );
}

#[test]
fn flags_beat_the_environment_which_beats_the_profile_and_the_profile_holds_no_secret() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let write = |text: &str, mode: u32| {
        std::fs::write(&config, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    };
    let config_s = config.to_str().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mpt"));
        command
            .args(args)
            .env_clear()
            .env("HOME", home())
            .env("MPT_CONFIG", config_s);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let secret_file = dir.path().join("admin.secret");
    std::fs::write(&secret_file, format!("{}\n", server.admin_secret())).unwrap();
    write(
        &format!(
            "[default]\nbase_url = \"{}\"\nsecret_command = \"cat {}\"\n\n[broken]\nbase_url = \"http://127.0.0.1:1\"\n",
            server.base_url(),
            secret_file.display()
        ),
        0o600,
    );
    // The profile alone.
    let out = run(&["tokens", "count"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The environment beats the profile ...
    let out = run(
        &["tokens", "count"],
        &[("MPT_API_BASE_URL", "http://127.0.0.1:1")],
    );
    // An unreachable platform has its own exit code (5), apart from "failed" (1).
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("connection refused"),
        "{}",
        text(&out.stderr)
    );
    // ... and the flag beats the environment.
    let out = run(
        &["tokens", "count", "--base-url", server.base_url()],
        &[("MPT_API_BASE_URL", "http://127.0.0.1:1")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &["tokens", "count", "--profile", "broken"],
        &[("MPT_API_TOKEN", "x")],
    );
    assert_eq!(out.status.code(), Some(5), "unreachable");
    let out = run(&["tokens", "count", "--profile", "missing"], &[]);
    assert_eq!(out.status.code(), Some(2));
    // A secret in the file is refused, and so is a file others may change.
    write("[default]\ntoken = \"idt:TKN-1:plain\"\n", 0o600);
    let out = run(&["tokens", "count"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("never stored"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("plain"));
    #[cfg(unix)]
    {
        write(
            &format!(
                "[default]\nsecret_command = \"cat {}\"\n",
                secret_file.display()
            ),
            0o666,
        );
        let out = run(&["tokens", "count"], &[]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("chmod 600"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn completions_man_page_and_help() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mpt"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["completions", "bash"]);
    assert!(out.status.success() && text(&out.stdout).contains("mpt"));
    let out = run(&["man"]);
    assert!(out.status.success() && text(&out.stdout).contains(".TH"));
    let out = run(&["--help"]);
    assert!(text(&out.stdout).contains("Exit codes:\n  0    done"));
    assert!(text(&out.stdout).contains("mpt tokens rotate start"));
}
