//! `--max-rate`, `--max-wait` and `--max-retry-after`: values out of range are refused before
//! anything is sent, a lockout (every answer `429` with `Retry-After: 3600`) ends at once, every
//! id reported not attempted with the platform's wait, exit code 7, and a raised cap waits out a
//! per-minute quota.

use std::process::{Command, Stdio};
use std::time::Duration;

use mpt_mock::{
    Fault, FaultRule, Faults, MockServer, Operation, Scripted, ScriptedServer, SeedToken,
};

use crate::common::{command, home, mock, mock_built, mpt, text};

#[test]
fn max_rate_refuses_rates_no_pace_can_use() {
    let server = mock();
    for bad in ["0", "-5", "NaN", "1e-20", "inf", "1e300"] {
        let flag = format!("--max-rate={bad}");
        let out = mpt(&server, &["tokens", "list", &flag]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("--max-rate"), "{bad}: {stderr}");
        assert!(
            stderr.contains("not a usable rate") || stderr.contains("expected requests"),
            "{bad}: {stderr}"
        );
    }
    // A rate whose own interval is over the longest single wait is the user's, not the
    // platform's: refused, saying so, before anything is sent.
    let out = mpt(&server, &["tokens", "list", "--max-rate", "0.001"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("one request every 1000 s") && stderr.contains("longest single wait"),
        "{stderr}"
    );
    assert!(!stderr.contains("platform asks"), "{stderr}");
    assert_eq!(server.total_requests(), 0);
    let ok = mpt(
        &server,
        &["tokens", "list", "--max-rate", "50", "-o", "json"],
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
}

/// A scripted server on its own runtime thread.
fn scripted(script: Vec<Scripted>) -> ScriptedServer {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(ScriptedServer::start(script)).unwrap();
        tx.send(server).unwrap();
        rt.block_on(std::future::pending::<()>());
    });
    rx.recv().unwrap()
}

#[test]
fn a_lockout_ends_a_bulk_command_with_each_id_not_attempted() {
    let server = scripted(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "3600"),
    ]);
    let ids: Vec<String> = (0..40).map(|i| format!("TKN-0000-{i:04}")).collect();
    let mut args = vec![
        "tokens",
        "ensure-disabled",
        "-o",
        "jsonl",
        "--max-wait",
        "1m",
    ];
    args.extend(ids.iter().map(String::as_str));
    let out = Command::new(env!("CARGO_BIN_EXE_mpt"))
        .args(&args)
        .env_clear()
        .env("HOME", home())
        .env("MPT_API_BASE_URL", server.base_url())
        .env("MPT_API_TOKEN", "s3cr3t-api-key")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"id\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), ids.len(), "{}", text(&out.stdout));
    let not_attempted = rows
        .iter()
        .filter(|r| r["error"]["kind"] == "not-attempted")
        .count();
    assert!(not_attempted >= ids.len() - 2, "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("the platform asks to wait 1h; over the 30 s cap"),
        "{}",
        text(&out.stdout)
    );
    assert!(server.request_lines().len() <= 2);
    // With `-o json` (the rows only at the end, on stdout), stderr still says why, in one line
    // (the tester's r8: exit 7 with nothing on stderr).
    let mut json = args.clone();
    json[3] = "json";
    let out = Command::new(env!("CARGO_BIN_EXE_mpt"))
        .args(&json)
        .env_clear()
        .env("HOME", home())
        .env("MPT_API_BASE_URL", server.base_url())
        .env("MPT_API_TOKEN", "s3cr3t-api-key")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("error: 40 of 40 ids failed ("),
        "{err}"
    );
    assert!(
        lines[0].contains("not-attempted") && lines[0].contains("asks to wait 1h"),
        "{err}"
    );
}

/// A lockout until a date in 2100: each id's reason names the date the platform asked for, not
/// the year every computation clamps it to.
#[test]
fn a_lockout_far_in_the_future_names_the_date_asked() {
    let server = scripted(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "Fri, 01 Jan 2100 00:00:00 GMT"),
    ]);
    let ids: Vec<String> = (0..10).map(|i| format!("TKN-0000-{i:04}")).collect();
    let out = lockout_command(&server, &lockout_args(&ids, "1m"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let named = stdout
        .lines()
        .filter(|l| {
            l.contains("the platform asks to wait until 2100-01-01T00:00:00Z (about ")
                && l.contains(" years); over the 30 s cap")
        })
        .count();
    assert!(named >= ids.len() - 2, "{stdout}");
    assert!(!stdout.contains("8760h"), "{stdout}");
    assert!(server.request_lines().len() <= 2);
}

/// A quota said spent (answers, not refusals: `X-RateLimit-Remaining: 0`) until an epoch reset
/// far beyond the year every computation clamps to: each id not attempted names the reset as
/// stated, its date or, past the last date shown, its number, never "8760h" (tester round
/// 11's #7).
#[test]
fn a_quota_spent_until_a_far_reset_names_it_as_stated() {
    for (reset, named) in [
        ("4102444800", "it renews at 2100-01-01T00:00:00Z (about 7"),
        (
            "9999999999999999999",
            "it renews at 1e19 ms after 1970-01-01T00:00:00Z (about 31688",
        ),
    ] {
        let server = scripted(vec![
            Scripted::answer(
                200,
                "application/json",
                r#"{"id":"TKN-0000-0000","name":"n","status":"Disabled"}"#,
            )
            .header("x-ratelimit-limit", "5000")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", reset),
        ]);
        let ids: Vec<String> = (0..10).map(|i| format!("TKN-0000-{i:04}")).collect();
        let mut args = lockout_args(&ids, "1m");
        args.extend(["--concurrency", "1"]);
        let out = lockout_command(&server, &args).output().unwrap();
        assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let head = "the platform says nothing remains of its quota of 5000 requests; ";
        let named_rows = stdout
            .lines()
            .filter(|l| {
                l.contains(r#""kind":"not-attempted""#)
                    && l.contains(&format!("{head}{named}"))
                    && l.contains(" years); over the 30 s cap")
            })
            .count();
        // The first answer is a claim, the probe's confirms it: the other 8 not attempted.
        assert_eq!(named_rows, 8, "{reset}: {stdout}");
        assert!(!stdout.contains("8760h"), "{stdout}");
        // The ids' batch read (its answer no page: each id is read alone; two batches when the
        // first id is taken before the others are read, as on a loaded machine), then the
        // claim and the probe, and nothing more.
        let lines = server.request_lines();
        let batches = lines.iter().filter(|l| l.contains("in(id,")).count();
        assert!((1..=2).contains(&batches), "{lines:?}");
        assert_eq!(lines.len() - batches, 2, "{lines:?}");
    }
}

/// `ensure-disabled` of `ids` as JSON lines, with `--max-wait`.
fn lockout_args<'a>(ids: &'a [String], max_wait: &'static str) -> Vec<&'a str> {
    let mut args = vec![
        "tokens",
        "ensure-disabled",
        "-o",
        "jsonl",
        "--max-wait",
        max_wait,
    ];
    args.extend(ids.iter().map(String::as_str));
    args
}

fn lockout_command(server: &ScriptedServer, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpt"));
    command
        .args(args)
        .env_clear()
        .env("HOME", home())
        .env("MPT_API_BASE_URL", server.base_url())
        .env("MPT_API_TOKEN", "s3cr3t-api-key")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// A lockout under the 30 s cap (every answer `429` with `Retry-After: 1`) runs no longer than
/// the job's `--max-wait` budget: the requests sent are few, every id is reported, those not
/// attempted with the reason, exit 7.
#[test]
fn a_lockout_under_the_cap_ends_once_the_jobs_budget_is_spent() {
    let server = scripted(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "1"),
    ]);
    let ids: Vec<String> = (0..40).map(|i| format!("TKN-0000-{i:04}")).collect();
    let out = lockout_command(&server, &lockout_args(&ids, "3s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), ids.len(), "{}", text(&out.stdout));
    let not_attempted: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["error"]["kind"] == "not-attempted")
        .collect();
    assert!(not_attempted.len() >= ids.len() - 12, "{rows:?}");
    let message = not_attempted[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("3 s wait budget"), "{message}");
    let sent = server.request_lines().len();
    assert!(sent <= 12, "{sent} requests sent into a lockout");
}

/// The first SIGINT during a lockout (every answer `429` with `Retry-After: 5`, a long
/// `--max-wait`): no request is sent after it (only those already sent may be answered), and
/// the command ends at once with exit 130.
#[cfg(unix)]
#[test]
fn no_request_is_sent_after_the_first_sigint_of_a_lockout() {
    let server = scripted(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "5"),
    ]);
    let ids: Vec<String> = (0..40).map(|i| format!("TKN-0000-{i:04}")).collect();
    let mut child = lockout_command(&server, &lockout_args(&ids, "1h"))
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while server.request_lines().len() < 2 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let at_signal = server.request_lines().len();
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(40) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let after = server.request_lines().len() - at_signal;
    // Requests already sent (at most one per slot of --concurrency 8) may still be read.
    assert!(after <= 8, "{after} requests sent after the SIGINT");
    assert_eq!(status.and_then(|s| s.code()), Some(130));
}

/// A per-minute quota (a `429` with `Retry-After: 31`, over the default 30 s cap, then
/// successes): with `--max-retry-after 1m` the job waits and every id ends ok (exit 0), nothing
/// changed (every id already disabled); when every answer is that `429`, without the flag the
/// wait is over the cap and the job ends at once (exit 7, ids not attempted or rate-limited, the
/// cap named). On the stateful mock, not a script in order: a slow first list (a loaded machine)
/// has its ids read one by one, and each such read gets its right answer.
#[test]
fn max_retry_after_lets_a_bulk_job_wait_out_a_per_minute_quota() {
    let minute = || Fault::RateLimited {
        retry_after: Duration::from_secs(31),
    };
    let seeded = |server: &MockServer| -> Vec<String> {
        (1..=3)
            .map(|i| {
                let token = SeedToken::named(format!("q{i}")).with_status("Disabled");
                server.seed_token(token).id
            })
            .collect()
    };
    let rows = |out: &std::process::Output| -> Vec<serde_json::Value> {
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };

    let server = mock();
    let ids = seeded(&server);
    server
        .set_faults(Faults::none().with(FaultRule::once(minute())))
        .unwrap();
    let mut args = vec!["--max-retry-after", "1m"];
    args.extend(lockout_args(&ids, "2m"));
    let out = command(&server, &args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let done = rows(&out);
    assert_eq!(done.len(), ids.len(), "{}", text(&out.stdout));
    assert!(
        done.iter().all(|r| r["error"].is_null()),
        "{}",
        text(&out.stdout)
    );
    // The refused request was sent again (after the wait); nothing was changed.
    assert!(server.total_requests() >= 2);
    assert_eq!(server.requests(Operation::Disable), 0);

    let server = mock();
    let ids = seeded(&server);
    server
        .set_faults(Faults::none().with(FaultRule::every(1, minute())))
        .unwrap();
    let out = command(&server, &lockout_args(&ids, "2m"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let ended = rows(&out);
    assert_eq!(ended.len(), ids.len(), "{}", text(&out.stdout));
    assert!(
        ended.iter().all(|r| {
            let kind = &r["error"]["kind"];
            *kind == "not-attempted" || *kind == "rate-limited"
        }),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("the platform asks to wait 31 s; over the 30 s cap"),
        "{}",
        text(&out.stdout)
    );
}

/// `--max-retry-after` takes an age from a second to a day: anything else is a usage error
/// naming the flag and that range, before anything is sent.
#[test]
fn max_retry_after_refuses_a_wait_out_of_its_range() {
    let server = mock();
    for bad in ["0", "fast", "0s", "2d", "30"] {
        let out = mpt(&server, &["tokens", "list", "--max-retry-after", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("--max-retry-after") && stderr.contains("from 1s to 1d"),
            "{bad}: {stderr}"
        );
    }
    assert_eq!(server.total_requests(), 0);
}

/// A job the platform's stated limit slows is not silent: with stderr not a terminal (a CI
/// log), `--progress` prints how many ids are done and the pace the sends go at, naming where
/// it comes from (tester round 17, F10: a stated limit of one request a second paced a whole
/// job with no word). `--progress 0` prints none.
#[test]
fn a_paced_bulk_command_says_how_far_it_is_and_at_what_pace() {
    let server =
        mock_built(MockServer::builder().rate_limit(mpt_mock::RateLimit::parse("5/s", 1).unwrap()));
    let seeded = server.seed_tokens(8, "paced", mpt_mock::DEFAULT_ACCOUNT);
    let ids: Vec<&str> = seeded.iter().map(|s| s.id.as_str()).collect();
    let run = |progress: &str| {
        let mut args = vec![
            "tokens",
            "ensure-disabled",
            "-o",
            "jsonl",
            "--progress",
            progress,
        ];
        args.extend(ids.iter().copied());
        let out = mpt(&server, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    // Sixteen requests (a read and a disable each) at five a second: three seconds at least.
    let stderr = run("1s");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("mpt: ")).collect();
    assert!(!lines.is_empty(), "{stderr}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" of ") && l.contains("ids done in")),
        "{stderr}"
    );
    assert!(
        lines.iter().any(|l| l
            .contains("a second, the pace this client computes from the platform's stated limits")),
        "{stderr}"
    );
    // The same job again (every id already Disabled: eight reads), with no lines.
    let stderr = run("0");
    assert!(!stderr.contains("ids done in"), "{stderr}");
    // A value that is not an age is a usage error naming the flag.
    let out = mpt(
        &server,
        &["tokens", "ensure-disabled", "--progress", "often", ids[0]],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--progress"),
        "{}",
        text(&out.stderr)
    );
}

/// A progress line names the pace's source as it is (tester round 22, R4): ids fed slowly on
/// stdin to a bucket of 2 a second, burst 20, that states its limit on every answer; the burst
/// serves more in a second than the stated quota allows, so the client paces at what it learns
/// from the answers, over the stated rate. Its lines said "learned from the platform's refusals
/// (it states no limit)": none was refused, and every answer stated the limit.
#[test]
fn a_progress_line_does_not_say_a_stating_platform_states_no_limit() {
    use std::io::Write;
    let server = mock_built(
        MockServer::builder().rate_limit(mpt_mock::RateLimit::parse("2/s", 20).unwrap()),
    );
    let ids: Vec<String> = server
        .seed_tokens(12, "trickle", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|t| t.id)
        .collect();
    let mut child = command(
        &server,
        &[
            "tokens",
            "ensure-disabled",
            "-",
            "-o",
            "jsonl",
            "--progress",
            "1s",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for id in &ids {
        stdin.write_all(format!("{id}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("mpt: ")).collect();
    assert!(lines.len() >= 2, "{stderr}");
    assert!(!stderr.contains("it states no limit"), "{stderr}");
}
