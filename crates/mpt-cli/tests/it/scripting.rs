//! `mpt` as scripts and hostile inputs meet it: planted symlinks, secrets in broken files,
//! unusable paths, signals mid-bulk, odd values, closed pipes, and the output contract.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mpt_mock::{Faults, Operation, SeedToken};
use serde_json::Value;

use crate::common::{command, json, mock, mpt, mpt_with, text};

/// Waits for `child`, at most `limit` (then it is killed and the test fails: a hang).
pub(crate) fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `ready` (a minute at most, else the test fails: no progress), then sends
/// `signal` to `child` (ours) and waits for it to exit (a minute at most).
#[cfg(unix)]
pub(crate) fn signal_when(child: &mut Child, signal: i32, ready: impl Fn() -> bool) -> ExitStatus {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    wait(child, Duration::from_secs(60))
}

/// What `child` wrote on stderr (once it is done).
pub(crate) fn stderr_of(child: &mut Child) -> String {
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    err
}

// ---- 1. Secrets ----

#[cfg(unix)]
#[test]
fn a_secret_file_is_never_written_through_a_planted_symlink_nor_over_a_file() {
    use std::os::unix::fs::PermissionsExt;
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The old fixed temporary name, planted.
    std::os::unix::fs::symlink(&victim, dir.path().join(".new.secret.tmp")).unwrap();
    let target = dir.path().join("new.secret");
    let create = |target: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "tokens",
            "create",
            "--account",
            mpt_mock::DEFAULT_ACCOUNT,
            "--name",
            "n",
            "--module",
            mpt_mock::DEFAULT_MODULE,
            "--secret-file",
            target.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        mpt(&server, &args)
    };
    let out = create(&target, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "",
        "victim untouched"
    );
    let secret = std::fs::read_to_string(&target).unwrap();
    assert!(secret.starts_with("idt:TKN-"));
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // An existing file is refused, before anything is made; --force replaces it.
    let made = server.tokens_created();
    let out = create(&target, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--force"));
    assert_eq!(server.tokens_created(), made, "nothing made");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), secret);
    // A symlink planted at the target itself is refused too; with --force it is replaced,
    // never written through.
    let link = dir.path().join("link.secret");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    assert_eq!(create(&link, &[]).status.code(), Some(2));
    let out = create(&link, &["--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "",
        "victim untouched"
    );
    assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
}

#[test]
fn stderr_never_quotes_a_secret_from_a_file_or_the_command_line() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    // A config line missing its closing quote.
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[default]\ntoken = \"S3CR3T-VALUE-123\n").unwrap();
    let out = mpt(
        &server,
        &["tokens", "count", "--config", config.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(!err.contains("S3CR3T"), "{err}");
    assert!(err.contains("line 2"), "names the line: {err}");
    // A state file whose phase holds a secret.
    let state = dir.path().join("rotation.json");
    std::fs::write(
        &state,
        r#"{"oldId":"TKN-1","accountId":"A","name":"n","newId":null,"phase":"idt:TKN-1:Zq9secretvalue","plannedAt":"2026-01-01T00:00:00Z","createdAt":null,"verifiedAt":null,"retiredAt":null,"finishedAt":null}"#,
    )
    .unwrap();
    let out = mpt(
        &server,
        &[
            "tokens",
            "rotate",
            "status",
            "--state",
            state.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !text(&out.stderr).contains("Zq9secretvalue"),
        "{}",
        text(&out.stderr)
    );
    // A usage error does not echo the API token given on the command line.
    let out = mpt(
        &server,
        &[
            "--api-token",
            "Plain-Api-Secret-77",
            "tokens",
            "list",
            "--status",
            "Plain-Api-Secret-77",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !text(&out.stderr).contains("Plain-Api-Secret-77"),
        "{}",
        text(&out.stderr)
    );
}

// ---- 2. Lost results ----

#[test]
fn an_unusable_secret_file_is_refused_before_anything_is_made() {
    let server = mock();
    let old = server.seed_token(SeedToken::named("svc"));
    let dir = tempfile::tempdir().unwrap();
    for target in [
        "/no/such/dir/s".to_string(),
        dir.path().display().to_string(),
    ] {
        let out = mpt(
            &server,
            &[
                "tokens",
                "create",
                "--account",
                mpt_mock::DEFAULT_ACCOUNT,
                "--name",
                "n",
                "--module",
                mpt_mock::DEFAULT_MODULE,
                "--secret-file",
                &target,
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{target}: {}",
            text(&out.stderr)
        );
    }
    let state = dir.path().join("rotation.json");
    let gone = dir.path().join("gone/new.secret");
    let out = mpt(
        &server,
        &[
            "tokens",
            "rotate",
            "start",
            &old.id,
            "--state",
            state.to_str().unwrap(),
            "--secret-file",
            gone.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(server.tokens_created(), 0, "nothing made");
    assert!(
        !state.exists(),
        "no plan saved as if a secret were handed over"
    );
}

/// SIGINT (and SIGTERM) mid-way through a 10,000-id bulk command: requests in flight finish,
/// every finished row is printed and true to the server, the rest are not attempted: each id
/// read has its row (`not-attempted`, interrupted; its token untouched), as many as the summary
/// counts.
#[cfg(unix)]
#[test]
fn an_interrupted_bulk_command_prints_every_finished_row_true_to_the_server() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let server = mock();
        let ids: Vec<String> = server
            .seed_tokens(10_000, "fleet", mpt_mock::DEFAULT_ACCOUNT)
            .into_iter()
            .map(|t| t.id)
            .collect();
        server
            .set_faults(Faults::none().with_latency(Duration::from_millis(5)))
            .unwrap();
        let mut child = command(
            &server,
            &[
                "tokens",
                "ensure-disabled",
                "-",
                "--concurrency",
                "8",
                "-o",
                "json",
            ],
        )
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(ids.join("\n").as_bytes()).unwrap();
        }
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = stdout.read_to_string(&mut out);
            out
        });
        let status = signal_when(&mut child, signal, || {
            server.requests(Operation::Disable) >= 100
        });
        let err = stderr_of(&mut child);
        assert_eq!(status.code(), Some(code), "{err}");
        let rows: Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
        let rows = rows.as_array().unwrap();
        let (done, not_attempted) = interrupted_rows(&server, rows);
        assert!(done > 0 && done < ids.len(), "{done}");
        let count = format!("{not_attempted} not attempted (nothing was sent for them)");
        assert!(not_attempted > 0 && err.contains(&count), "{err}");
        // The ids not read yet get no row: the summary says where the reading stopped, and the
        // rows are those of the ids before it, in order.
        let read: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert!(read.len() < ids.len(), "{err}");
        assert_eq!(read, ids[..read.len()], "{err}");
        let unread = format!(
            "the input was not read past its id {} (any after it has no row)",
            read.len()
        );
        assert!(err.contains(&unread), "{err}");
        let disabled = ids
            .iter()
            .filter(|id| server.token_status(id).as_deref() == Some("Disabled"))
            .count();
        assert_eq!(disabled, done, "every token disabled has its row");
    }
}

/// Checks an interrupted run's rows against the server: each done (its token Disabled) or not
/// attempted because of the interrupt (its token still Active); how many of each.
fn interrupted_rows(server: &mpt_mock::MockServer, rows: &[Value]) -> (usize, usize) {
    let (mut done, mut not_attempted) = (0, 0);
    for row in rows {
        let id = row["id"].as_str().unwrap();
        let status = server.token_status(id);
        if row["ok"] == true {
            assert_eq!(status.as_deref(), Some("Disabled"), "{row}");
            done += 1;
        } else {
            assert_eq!(row["error"]["kind"], "not-attempted", "{row}");
            let message = row["error"]["message"].as_str().unwrap();
            assert!(message.contains("interrupted"), "{row}");
            assert_eq!(status.as_deref(), Some("Active"), "{row}");
            not_attempted += 1;
        }
    }
    (done, not_attempted)
}

/// SIGINT while a slow pace (`--max-rate 0.05`: a send every 20 s) holds every disable but
/// the first: each of the ten ids gets its row (they used to get none, only a count on
/// stderr), the ones not attempted `not-attempted` ("interrupted"), their tokens untouched.
#[cfg(unix)]
#[test]
fn ids_not_attempted_when_interrupted_get_a_row_each() {
    let server = mock();
    let ids: Vec<String> = server
        .seed_tokens(10, "paced", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|t| t.id)
        .collect();
    let mut args = vec![
        "--max-rate",
        "0.05",
        "tokens",
        "ensure-disabled",
        "-o",
        "jsonl",
    ];
    args.extend(ids.iter().map(String::as_str));
    let mut child = command(&server, &args).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let status = signal_when(&mut child, libc::SIGINT, || server.total_requests() >= 1);
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{err}");
    let out = reader.join().unwrap();
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), ids.len(), "{out}\n{err}");
    let (_, not_attempted) = interrupted_rows(&server, &rows);
    let count = format!("{not_attempted} not attempted (nothing was sent for them)");
    assert!(
        not_attempted >= ids.len() - 1 && err.contains(&count),
        "{err}"
    );
}

// ---- 3. Crashes and hangs ----

#[test]
fn odd_input_never_panics_or_hangs() {
    let server = mock();
    let out = mpt(&server, &["tokens", "list", "--stale-since", "1000000000d"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"));

    // A secret_command that sleeps: stopped after its timeout, its late output not used.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[default]\nsecret_command = \"sleep 30; echo late\"\nsecret_command_timeout = \"1s\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut child = command(
        &server,
        &["tokens", "count", "--config", config.to_str().unwrap()],
    )
    .env_remove("MPT_API_TOKEN")
    .spawn()
    .unwrap();
    let status = wait(&mut child, Duration::from_secs(15));
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("did not finish within 1s"), "{err}");

    // A FIFO as the state file is refused, never waited on.
    #[cfg(unix)]
    {
        let fifo = dir.path().join("state.fifo");
        let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        let mut child = command(
            &server,
            &[
                "tokens",
                "rotate",
                "status",
                "--state",
                fifo.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap();
        let status = wait(&mut child, Duration::from_secs(15));
        let err = stderr_of(&mut child);
        assert_eq!(status.code(), Some(2), "{err}");
        assert!(err.contains("not a regular file"), "{err}");
    }
}

// ---- 4. Strict input ----

#[test]
fn statuses_sort_fields_and_limits_are_checked() {
    let server = mock();
    server.seed_token(SeedToken::named("a"));
    server.seed_token(SeedToken::named("b").with_status("Disabled"));
    let out = mpt(&server, &["tokens", "count", "--status", "Bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("active, disabled, deleted"),
        "{}",
        text(&out.stderr)
    );
    let out = mpt(
        &server,
        &["tokens", "count", "--status", "active", "-o", "json"],
    );
    assert_eq!(json(&out)["count"], 1, "any case");
    for args in [
        &["tokens", "list", "--order", "nosuchfield"][..],
        &["tokens", "list", "--limit", "0"],
        &["tokens", "list", "--limit", "-1"],
        &["tokens", "disable", "TKN-1", "--concurrency", "0"],
    ] {
        let out = mpt(&server, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(server.total_requests(), 1, "only the valid count was sent");
    // A message in the user's words, not the library's types.
    let out = mpt(&server, &["tokens", "update", "TKN-1111-2222"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nothing to change"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains("TokenUpdate"));
}

// ---- 5. Pipes ----

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let server = mock();
    server.seed_tokens(300, "t", mpt_mock::DEFAULT_ACCOUNT);
    for args in [
        &["tokens", "list", "--limit", "300"][..],
        &["completions", "bash"],
        &["man"],
    ] {
        let mut child = command(&server, args).spawn().unwrap();
        drop(child.stdout.take()); // `| head -c0`: closed before anything is written
        let status = wait(&mut child, Duration::from_secs(30));
        let err = stderr_of(&mut child);
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{err}"
        );
    }
}

/// A bulk command whose stdout is closed (`| head -1`) stops beginning changes, as on a first
/// SIGINT: it used to change every id, rows lost, and exit 0. The ids in flight finish, the
/// others are not attempted, and it exits 141, saying so on stderr. So does an apply.
#[test]
fn a_closed_stdout_stops_a_bulk_command_beginning_changes() {
    let server = mock();
    let seeded = server.seed_tokens(100, "t", mpt_mock::DEFAULT_ACCOUNT);
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.txt");
    let list: Vec<&str> = seeded.iter().map(|t| t.id.as_str()).collect();
    std::fs::write(&ids, list.join("\n")).unwrap();
    let ids = ids.to_str().unwrap();
    for format in ["table", "jsonl"] {
        let args = [
            "tokens",
            "ensure-disabled",
            "--from-file",
            ids,
            "--concurrency",
            "2",
            "-o",
            format,
        ];
        let mut child = command(&server, &args).spawn().unwrap();
        drop(child.stdout.take()); // closed before the first row is written
        let status = wait(&mut child, Duration::from_secs(30));
        let err = stderr_of(&mut child);
        assert_eq!(status.code(), Some(141), "{format}: {err}");
        assert!(err.contains("stdout closed"), "{err}");
        assert!(err.contains("not attempted"), "{err}");
    }
    let disabled = seeded
        .iter()
        .filter(|t| server.token_status(&t.id).as_deref() == Some("Disabled"))
        .count();
    assert!(
        disabled < 20,
        "{disabled} of 100 changed after stdout closed"
    );
    // An apply likewise: it stops beginning actions.
    let policy = dir.path().join("tokens.toml");
    let mut toml = format!(
        "[[accounts]]\nid = \"{}\"\nunmanaged = \"ignore\"\n",
        mpt_mock::DEFAULT_ACCOUNT
    );
    for i in 0..40 {
        toml.push_str(&format!(
            "[[accounts.tokens]]\nname = \"new-{i}\"\nmodules = [\"{}\"]\n",
            mpt_mock::DEFAULT_MODULE,
        ));
    }
    std::fs::write(&policy, toml).unwrap();
    let args = [
        "tokens",
        "apply",
        "--policy",
        policy.to_str().unwrap(),
        "--concurrency",
        "1",
    ];
    let mut child = command(&server, &args).spawn().unwrap();
    drop(child.stdout.take());
    let status = wait(&mut child, Duration::from_secs(60));
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(141), "{err}");
    assert!(server.tokens_created() < 20, "{}", server.tokens_created());
}

// ---- 6. Output for machines ----

/// Checks `value` against the subset of JSON Schema `result.schema.json` uses.
/// Where a value leaves the schema (the place and the reason, for the assertion's message).
#[derive(Debug)]
struct Mismatch(String);

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn conforms(schema: &Value, value: &Value) -> Result<(), Mismatch> {
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let fits = options
            .iter()
            .filter(|s| conforms(s, value).is_ok())
            .count();
        return (fits == 1)
            .then_some(())
            .ok_or(Mismatch(format!("{value}: {fits} oneOf branches fit")));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(Mismatch(format!("{value} not in {allowed:?}")));
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !types.contains(&kind) {
            return Err(Mismatch(format!("{value}: {kind} is not {types:?}")));
        }
    }
    if let (Some(object), Some(properties)) = (
        value.as_object(),
        schema.get("properties").and_then(Value::as_object),
    ) {
        for key in schema["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap_or("");
            if !object.contains_key(key) {
                return Err(Mismatch(format!("{value}: missing {key}")));
            }
        }
        for (key, v) in object {
            match properties.get(key) {
                Some(s) => conforms(s, v)?,
                None if schema["additionalProperties"] == false => {
                    return Err(Mismatch(format!("{value}: unexpected {key}")));
                }
                None => {}
            }
        }
    }
    Ok(())
}

#[test]
fn bulk_rows_follow_the_documented_schema_and_exit_codes_are_apart() {
    let schema: Value = serde_json::from_str(include_str!("../../result.schema.json")).unwrap();
    let server = mock();
    let on = server.seed_token(SeedToken::named("on")).id;
    let off = server
        .seed_token(SeedToken::named("off").with_status("Disabled"))
        .id;
    let mut rows = Vec::new();
    for args in [
        vec!["tokens", "ensure-disabled", &on, &off, "TKN-0000-0404"],
        vec!["tokens", "disable", &off, &on],
        vec!["tokens", "delete", &on, "TKN-0000-0405", "--dry-run"],
        vec!["tokens", "delete", &on, "TKN-0000-0405"],
    ] {
        let mut args = args.clone();
        args.extend(["-o", "jsonl"]);
        let out = mpt(&server, &args);
        for line in text(&out.stdout).lines() {
            let row: Value = serde_json::from_str(line).unwrap();
            conforms(&schema, &row).unwrap_or_else(|e| panic!("{e}"));
            rows.push(row);
        }
    }
    let outcomes: Vec<&str> = rows.iter().filter_map(|r| r["outcome"].as_str()).collect();
    for word in ["changed", "unchanged", "deleted", "absent", "would-change"] {
        assert!(outcomes.contains(&word), "{word} in {outcomes:?}");
    }
    let kinds: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["error"]["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"not-found") && kinds.contains(&"invalid-transition"),
        "{kinds:?}"
    );
    // Unreachable (5) is not "some ids failed" (1).
    let out = mpt_with(
        &server,
        &["tokens", "disable", "TKN-1", "-o", "json"],
        None,
        &[("MPT_API_BASE_URL", "http://127.0.0.1:1")],
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let row = &serde_json::from_slice::<Value>(&out.stdout).unwrap()[0];
    assert_eq!(row["error"]["kind"], "unreachable", "{row}");
    let out = mpt(&server, &["tokens", "disable", "TKN-0000-0404"]);
    assert_eq!(out.status.code(), Some(1));
}

// ---- whoami ----

#[test]
fn whoami_names_the_token_and_says_whether_it_authenticates() {
    let server = mock();
    let live = server.seed_token(SeedToken::named("live"));
    let off = server.seed_token(SeedToken::named("off").with_status("Disabled"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("found.txt");
    std::fs::write(&file, format!("{}\n", live.secret.expose_secret())).unwrap();
    let out = mpt(
        &server,
        &[
            "tokens",
            "whoami",
            "--secret-file",
            file.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    let me = json(&out);
    assert_eq!(
        (&me["id"], &me["authenticates"], &me["status"]),
        (
            &Value::from(live.id.as_str()),
            &Value::from(true),
            &Value::from("Active")
        )
    );
    assert!(!text(&out.stdout).contains(live.secret.expose_secret()));
    // The secret on stdin; a Disabled token's secret does not authenticate.
    let out = mpt_with(
        &server,
        &["tokens", "whoami", "-o", "json"],
        Some(off.secret.expose_secret()),
        &[],
    );
    let me = json(&out);
    assert_eq!(me["authenticates"], false);
    assert_eq!(me["status"], "Disabled");
    // Not a token secret at all.
    let out = mpt_with(&server, &["tokens", "whoami"], Some("hunter2"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("hunter2"));
}

// ---- The README tells what the binary does ----

#[test]
fn the_readme_shows_help_and_the_schema_as_they_are() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let help = Command::new(env!("CARGO_BIN_EXE_mpt"))
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    let help = text(&help.stdout);
    assert!(
        readme.contains(&format!("```text\n{help}```")),
        "README's `mpt --help` differs from the binary's:\n{help}"
    );
    assert!(readme.contains(include_str!("../../result.schema.json")));
}

/// SIGINT while three disables are stalled (the mock holds them, unanswered): after the 10 s
/// grace the command still ends with exit 130, and every id read has its row: the finished ones
/// true to the server, the three in flight `outcome-unknown` ("it may have happened"), counted
/// in the summary.
#[cfg(unix)]
#[test]
fn ids_in_flight_when_the_grace_runs_out_get_a_row_and_are_counted() {
    use mpt_mock::{Fault, FaultRule};
    let server = mock();
    let ids: Vec<String> = server
        .seed_tokens(40, "stalled", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|t| t.id)
        .collect();
    server
        .set_faults(
            Faults::none().with(FaultRule::first(3, Fault::Hold).only([Operation::Disable])),
        )
        .unwrap();
    let mut args = vec![
        "tokens",
        "ensure-disabled",
        "--concurrency",
        "8",
        "-o",
        "json",
    ];
    args.extend(ids.iter().map(String::as_str));
    let mut child = command(&server, &args).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let status = signal_when(&mut child, libc::SIGINT, || {
        server.requests(Operation::Disable) >= ids.len() as u64 && server.held() >= 3
    });
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("did not finish in time"), "{err}");
    assert!(
        err.contains("37 finished, 3 in flight when interrupted"),
        "{err}"
    );
    let rows: Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), ids.len(), "every id read has its row");
    let mut unknown = 0;
    for row in rows {
        let id = row["id"].as_str().unwrap();
        if row["ok"] == true {
            assert_eq!(
                server.token_status(id).as_deref(),
                Some("Disabled"),
                "{row}"
            );
        } else {
            assert_eq!(row["error"]["kind"], "outcome-unknown", "{row}");
            let message = row["error"]["message"].as_str().unwrap();
            assert!(message.contains("may have happened"), "{row}");
            // Held, never processed.
            assert_eq!(server.token_status(id).as_deref(), Some("Active"), "{row}");
            unknown += 1;
        }
    }
    assert_eq!(unknown, 3);
}

/// A first interrupt while the ids on stdin have stopped coming (the pipe open, silent): the
/// input is read no more and the command ends at once with every finished row, not when the
/// grace for requests in flight is over (none is: tester round 22, R3).
#[cfg(unix)]
#[test]
fn an_interrupt_while_stdin_is_silent_ends_without_waiting_for_the_grace() {
    use std::io::Write;
    let server = mock();
    let ids: Vec<String> = server
        .seed_tokens(2, "quiet", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|t| t.id)
        .collect();
    let mut child = command(&server, &["tokens", "ensure-disabled", "-", "-o", "jsonl"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // Both ids, then nothing more: the pipe stays open until the end of the test.
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\n{}\n", ids[0], ids[1]).as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let status = signal_when(&mut child, libc::SIGINT, || {
        ids.iter()
            .all(|id| server.token_status(id).as_deref() == Some("Disabled"))
    });
    let err = stderr_of(&mut child);
    drop(stdin);
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(!err.contains("did not finish in time"), "{err}");
    assert!(!err.contains("in flight when interrupted"), "{err}");
}
