//! Bulk commands feed the whole job through one rolling pipeline: one slow request among the
//! first 100 ids does not hold the ids after them, and each id's row is printed as it finishes.

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mpt_mock::{Fault, FaultRule, Faults, Operation};

use crate::common::{command, mock, text};

/// Polls `done` until it holds, for at most `bound` (a bound on a hang, not a timing claim).
fn until(bound: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < bound {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[test]
fn one_held_request_does_not_stall_the_ids_after_the_first_100() {
    let server = mock();
    let ids: Vec<String> = server
        .seed_tokens(250, "bulk", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    // The disable of the 6th id is held until the test lets it go.
    server
        .set_faults(
            Faults::none().with(
                FaultRule::once(Fault::Hold)
                    .only([Operation::Disable])
                    .for_token(ids[5].clone()),
            ),
        )
        .unwrap();
    let mut args = vec!["tokens", "ensure-disabled", "-o", "jsonl"];
    args.extend(ids.iter().map(String::as_str));
    let mut child = command(&server, &args).spawn().unwrap();
    let rows: Arc<Mutex<Vec<String>>> = Arc::default();
    let reader = {
        let rows = Arc::clone(&rows);
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                rows.lock().unwrap().push(line);
            }
        })
    };
    // Every other id is disabled, and its row printed, while the one request is held.
    let flowed = until(Duration::from_secs(60), || {
        server.held() == 1
            && server.requests(Operation::Disable) == ids.len() as u64
            && rows.lock().unwrap().len() == ids.len() - 1
    });
    let (held, disables, printed) = (
        server.held(),
        server.requests(Operation::Disable),
        rows.lock().unwrap().len(),
    );
    server.release_held();
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    assert!(
        flowed,
        "while one disable was held: {held} held, {disables} disables sent, {printed} rows printed of {}",
        ids.len()
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows = rows.lock().unwrap();
    assert_eq!(rows.len(), ids.len());
    assert!(
        rows.last().unwrap().contains(&ids[5]),
        "{}",
        rows.join("\n")
    );
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
}

/// Ids piped on stdin flow into the job as they are read: with stdin still open, the first
/// ids' rows are printed (and their tokens disabled); the rest follow once written, then stdin
/// closes and the command ends with every row.
#[test]
fn ids_on_stdin_are_worked_through_before_stdin_closes() {
    use std::io::Write;
    let server = mock();
    let ids: Vec<String> = server
        .seed_tokens(6, "piped", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut child = command(&server, &["tokens", "ensure-disabled", "-o", "jsonl", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let rows: Arc<Mutex<Vec<String>>> = Arc::default();
    let reader = {
        let rows = Arc::clone(&rows);
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                rows.lock().unwrap().push(line);
            }
        })
    };
    writeln!(stdin, "{}\n# a comment\n{}", ids[0], ids[1]).unwrap();
    stdin.flush().unwrap();
    let first = until(Duration::from_secs(60), || rows.lock().unwrap().len() == 2);
    let early: Vec<String> = rows.lock().unwrap().clone();
    let disabled_early = [&ids[0], &ids[1]]
        .iter()
        .all(|id| server.token_status(id).as_deref() == Some("Disabled"));
    let untouched = ids[2..]
        .iter()
        .all(|id| server.token_status(id).as_deref() == Some("Active"));
    // The rest, then the end of the input.
    for id in &ids[2..] {
        writeln!(stdin, "{id}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    assert!(first, "rows printed with stdin open: {early:?}");
    assert!(disabled_early && untouched, "{early:?}");
    assert!(early.iter().any(|r| r.contains(&ids[0])), "{early:?}");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows = rows.lock().unwrap();
    assert_eq!(rows.len(), ids.len(), "{rows:?}");
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
        assert!(
            rows.iter().any(|r| r.contains(id.as_str())),
            "{id}: {rows:?}"
        );
    }
}

/// An unreadable line ends the input: the ids before it are worked through and printed, the
/// command then fails naming the line (exit 2), and nothing after it is read or sent.
#[test]
fn an_unreadable_line_on_stdin_is_named_and_ends_the_input() {
    use std::io::Write;
    let server = mock();
    let ids: Vec<String> = server
        .seed_tokens(3, "bad-line", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    for (bad, says) in [
        (b"TKN-\xff\xfe-1\n".to_vec(), "stdin line 3: not UTF-8 text"),
        (vec![b'x'; 5000], "stdin line 3: longer than 4096 bytes"),
    ] {
        let mut child = command(&server, &["tokens", "ensure-disabled", "-o", "jsonl", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut input = format!("{}\n\n", ids[0]).into_bytes();
        input.extend_from_slice(&bad);
        input.extend_from_slice(format!("\n{}\n", ids[1]).as_bytes());
        stdin.write_all(&input).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(stdout.contains(&ids[0]), "{stdout}");
        assert_eq!(
            server.token_status(&ids[1]).as_deref(),
            Some("Active"),
            "nothing after the bad line is sent"
        );
    }
}

/// `--from-file` over 1 MiB (1,000 ids among long comment lines, two of them real) is read
/// line by line: no size bound, every id reported.
#[test]
fn a_large_from_file_is_read_line_by_line() {
    let server = mock();
    let real: Vec<String> = server
        .seed_tokens(2, "file", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.txt");
    let mut text_in = format!("{}\n{}\n", real[0], real[1]);
    let padding = format!("# {}\n", "p".repeat(1200));
    for i in 0..1_000 {
        text_in.push_str(&format!("TKN-9000-{i:04}\n"));
        text_in.push_str(&padding);
    }
    assert!(text_in.len() > 1024 * 1024);
    std::fs::write(&path, text_in).unwrap();
    let out = command(
        &server,
        &[
            "tokens",
            "ensure-disabled",
            "-o",
            "jsonl",
            "--concurrency",
            "32",
            "--from-file",
            path.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1_002, "{}", text(&out.stderr));
    for id in &real {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
    // The unknown ids failed as not found.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

/// Ids read from a file are read 100 to a list request (the job's reads take the ids ready, up
/// to 100): they came 64 at a time (tokio's cooperative budget cut the ids ready short), so
/// 100 ids took two list requests and a 5 s window of 20 requests a sixth window.
#[test]
fn ids_from_a_file_are_read_100_to_a_list_request() {
    let server = mock();
    let ids: Vec<String> = server
        .seed_tokens(300, "read", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.txt");
    std::fs::write(&path, ids.join("\n")).unwrap();
    let args = ["tokens", "ensure-disabled", "-o", "jsonl", "--from-file"];
    let mut args = args.to_vec();
    args.push(path.to_str().unwrap());
    let out = command(&server, &args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 300);
    // 3 at best (a read may find fewer ids ready: the file is read on a thread); 5 at 64.
    let lists = server.requests(Operation::List);
    assert!(lists <= 4, "{lists} list requests for 300 ids");
}

/// No id at all (an empty stdin, or only comments) is a usage error, as before: exit 2, the
/// message says how to give ids, and nothing is printed on stdout (not even `[]`).
#[test]
fn no_ids_is_a_usage_error_with_nothing_printed() {
    use std::io::Write;
    let server = mock();
    for format in ["json", "jsonl", "table"] {
        let mut child = command(&server, &["tokens", "ensure-disabled", "-o", format, "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"# nothing here\n\n").unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{format}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr)
                .contains("no token ids: give them as arguments, `-` for stdin, or --from-file"),
            "{format}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).is_empty(),
            "{format}: {}",
            text(&out.stdout)
        );
    }
}

/// Round 5's F6 and F7 as rows: a disable processed but answered `504`, its retry refused ("is
/// Disabled"), every read-back `504`: the row is `unconfirmed` with status Disabled, not a
/// `bad-request` failure; a disable answered `408` on every attempt: the row's kind is `timeout`
/// (and a `425`'s `too-early`), the token still Active; a single `408` is retried: `changed`.
/// Every row matches the mock's final state.
#[test]
fn a_lost_answer_then_a_refusal_and_408_or_425_rows_match_the_final_state() {
    let server = mock();
    let ids: Vec<String> = server
        .seed_tokens(4, "f", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    let on = |i: usize, rule: FaultRule| rule.only([Operation::Disable]).for_token(ids[i].clone());
    server
        .set_faults(
            Faults::none()
                .with(on(0, FaultRule::once(Fault::StatusAfterProcessing(504))))
                .with(FaultRule::every(1, Fault::Status(504)).only([Operation::Get]))
                .with(on(1, FaultRule::every(1, Fault::Status(408))))
                .with(on(2, FaultRule::every(1, Fault::Status(425))))
                .with(on(3, FaultRule::once(Fault::Status(408)))),
        )
        .unwrap();
    let mut args = vec!["tokens", "ensure-disabled", "-o", "jsonl"];
    args.extend(ids.iter().map(String::as_str));
    let out = command(&server, &args).output().unwrap();
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    let status = |i: usize| server.token_status(&ids[i]).unwrap();

    let r = row(&ids[0]);
    assert_eq!(
        (r["ok"].clone(), r["outcome"].clone()),
        (true.into(), "unconfirmed".into()),
        "{r}"
    );
    assert_eq!(r["status"], "Disabled", "{r}");
    assert_eq!(status(0), "Disabled");

    for (i, kind, code) in [(1, "timeout", 408), (2, "too-early", 425)] {
        let r = row(&ids[i]);
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["error"]["kind"], kind, "{r}");
        assert_eq!(r["error"]["httpStatus"], code, "{r}");
        assert_eq!(status(i), "Active");
    }

    let r = row(&ids[3]);
    assert_eq!(r["outcome"], "changed", "{r}");
    assert_eq!(status(3), "Disabled");
    // The 408 rows say the platform is timing out.
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
}

/// A gateway answering `200 OK` with its HTML page in the platform's place (not passing the
/// request on): a disable it answered once is sent again and done; one it answers every time
/// is named (`foreign-answer`, its status and media type), never `unexpected-state`; each row
/// matches the mock after.
#[test]
fn a_gateway_page_in_a_200_is_sent_again_and_named_when_it_persists() {
    let server = mock();
    let ids: Vec<String> = server
        .seed_tokens(4, "page", mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    let page = || FaultRule::every(1, Fault::HtmlPage(200)).only([Operation::Disable]);
    server
        .set_faults(
            Faults::none()
                .with(page().for_token(ids[0].clone()))
                .with(page().for_token(ids[1].clone()).times(1)),
        )
        .unwrap();
    let mut args = vec!["tokens", "ensure-disabled", "-o", "json"];
    args.extend(ids.iter().map(String::as_str));
    let out = crate::common::mpt(&server, &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let failed = rows.iter().find(|r| r["id"] == ids[0].as_str()).unwrap();
    assert_eq!(failed["ok"], false, "{failed}");
    assert_eq!(failed["error"]["kind"], "foreign-answer", "{failed}");
    assert_eq!(failed["error"]["httpStatus"], 200, "{failed}");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("200 OK with text/html, not the platform's JSON: a gateway's page?"),
        "{message}"
    );
    assert_eq!(server.token_status(&ids[0]).as_deref(), Some("Active"));
    for id in &ids[1..] {
        let row = rows.iter().find(|r| r["id"] == id.as_str()).unwrap();
        assert_eq!(row["ok"], true, "{row}");
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"));
    }
    // Three attempts for the first, two for the second, one each for the others.
    assert_eq!(server.requests(Operation::Disable), 3 + 2 + 1 + 1);
}
