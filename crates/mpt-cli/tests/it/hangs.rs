//! A platform (or a gateway in front of it) that takes requests and never answers: an
//! interrupt reports the ids whose change was never sent `not-attempted`, not
//! `outcome-unknown`; and a bulk job stops sending once its requests go unanswered.

use std::io::Read;
use std::process::Child;
use std::time::Duration;

use mpt_mock::{Fault, FaultRule, Faults, MockServer, Operation};
use serde_json::Value;

use crate::common::{command, mock};
use crate::scripting::{signal_when, stderr_of, wait};

/// `n` seeded tokens' ids.
fn seeded(server: &MockServer, n: usize, name: &str) -> Vec<String> {
    server
        .seed_tokens(n, name, mpt_mock::DEFAULT_ACCOUNT)
        .into_iter()
        .map(|t| t.id)
        .collect()
}

/// Starts `mpt` with `args` then the ids, its stdout read on a thread (jsonl rows).
fn spawn(
    server: &MockServer,
    args: &[&str],
    ids: &[String],
) -> (Child, std::thread::JoinHandle<String>) {
    let mut args = args.to_vec();
    args.extend(ids.iter().map(String::as_str));
    let mut child = command(server, &args).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    (child, reader)
}

fn rows(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// SIGINT (and SIGTERM) while every read hangs (the list of states and each read alone held,
/// never answered): no change was sent, so every id is `not-attempted` ("interrupted"), its
/// token untouched, and the run ends without waiting out the grace for the reads (it reported
/// every id read `outcome-unknown`, "it may have happened", after 10 s). A dry run's read
/// too.
#[cfg(unix)]
#[test]
fn an_interrupt_while_reads_hang_reports_no_id_as_in_flight() {
    let runs = [
        (libc::SIGINT, 130, false),
        (libc::SIGTERM, 143, false),
        (libc::SIGINT, 130, true),
    ];
    for (signal, code, dry_run) in runs {
        let server = mock();
        let ids = seeded(&server, 20, "hung");
        let held = FaultRule::every(1, Fault::Hold).only([Operation::List, Operation::Get]);
        server.set_faults(Faults::none().with(held)).unwrap();
        let mut args = vec![
            "tokens",
            "ensure-disabled",
            "--concurrency",
            "4",
            "-o",
            "jsonl",
        ];
        if dry_run {
            args.push("--dry-run");
        }
        let (mut child, reader) = spawn(&server, &args, &ids);
        // The list of states, then four reads alone (the changes ran dry behind it); a dry
        // run reads one id at a time.
        let reads = if dry_run { 1 } else { 5 };
        let status = signal_when(&mut child, signal, || server.held() >= reads);
        let err = stderr_of(&mut child);
        assert_eq!(status.code(), Some(code), "{err}");
        let rows = rows(&reader.join().unwrap());
        let expected = ids.len();
        assert_eq!(rows.len(), expected, "{rows:?}\n{err}");
        for row in &rows {
            assert_eq!(row["error"]["kind"], "not-attempted", "{row}\n{err}");
            let message = row["error"]["message"].as_str().unwrap();
            assert!(message.contains("interrupted"), "{row}");
            let id = row["id"].as_str().unwrap();
            assert_eq!(server.token_status(id).as_deref(), Some("Active"), "{row}");
        }
        assert_eq!(server.requests(Operation::Disable), 0);
        assert!(!err.contains("did not finish in time"), "{err}");
        assert!(err.contains(&format!("{expected} not attempted")), "{err}");
    }
}

/// A gateway that takes every disable and never answers: with `--timeout 1s`, the four sent
/// first (the concurrency) time out, none answered, and the command sends nothing more; each
/// id not sent is `not-attempted` naming the cause, its token untouched, stderr says so with
/// the count, and the run exits 5 (unreachable or timing out). It sent every id's disable three times, each held a timeout.
/// `--timeout` out of its range is a usage error naming the flag.
#[test]
fn a_bulk_command_stops_once_its_requests_go_unanswered() {
    let server = mock();
    let ids = seeded(&server, 20, "hung");
    let held = FaultRule::every(1, Fault::Hold).only([Operation::Disable]);
    server.set_faults(Faults::none().with(held)).unwrap();
    let args = [
        "--timeout",
        "1s",
        "tokens",
        "ensure-disabled",
        "--concurrency",
        "4",
        "-o",
        "jsonl",
    ];
    let (mut child, reader) = spawn(&server, &args, &ids);
    let status = wait(&mut child, Duration::from_secs(120));
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(5), "{err}");
    let rows = rows(&reader.join().unwrap());
    assert_eq!(rows.len(), ids.len(), "{rows:?}\n{err}");
    let mut not_attempted = 0;
    for row in &rows {
        let message = row["error"]["message"].as_str().unwrap_or_default();
        match row["error"]["kind"].as_str() {
            Some("outcome-unknown") => assert!(message.contains("timed out"), "{row}"),
            Some("not-attempted") => {
                assert!(
                    message.contains(
                        "answered none of the last 4 requests of this job within the 1 s timeout"
                    ),
                    "{row}"
                );
                let id = row["id"].as_str().unwrap();
                assert_eq!(server.token_status(id).as_deref(), Some("Active"), "{row}");
                not_attempted += 1;
            }
            _ => panic!("{row}"),
        }
    }
    let sent = server.requests(Operation::Disable);
    assert!(sent <= 8, "{sent} disables sent");
    let said = format!(
        "stopped: the platform answered none of the last 4 requests of this job within the 1 s timeout; {not_attempted} ids not attempted (nothing was sent for them)"
    );
    assert!(err.contains(&said), "{err}");
    assert!(not_attempted >= ids.len() - 8, "{rows:?}");
    for bad in ["0", "500ms", "2h", "never"] {
        let out = crate::common::mpt(&server, &["--timeout", bad, "tokens", "list"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = crate::common::text(&out.stderr);
        assert!(err.contains("--timeout"), "{bad}: {err}");
        assert!(err.contains("give an age from 1s to 1h"), "{bad}: {err}");
    }
}

/// SIGINT while the four disables of `--concurrency 4` hang (a gateway that takes them and
/// never answers), the states of every id read (one served list), the other ids waiting for a
/// change slot: once the 10 s grace is over, each id gets the row its evidence supports, checked
/// against what the server received and its final state. Only the four ids whose disable was
/// sent are `outcome-unknown` (in flight); an id the served list showed Disabled is
/// `unchanged`; every other id had nothing changing sent and is `not-attempted`, its token
/// untouched; stderr's counts agree with the rows. (Every id still waiting for its change was
/// `outcome-unknown`, "in flight", those read Disabled too.)
#[cfg(unix)]
#[test]
fn at_the_end_of_the_grace_each_id_gets_the_row_its_evidence_supports() {
    use std::collections::BTreeSet;
    let server = mock();
    // Every fourth id Disabled already.
    let ids: Vec<String> = (0..40)
        .map(|i| {
            let mut seed = mpt_mock::SeedToken::named(format!("waiting-{i}"));
            if i % 4 == 3 {
                seed.status = "Disabled".into();
            }
            server.seed_token(seed).id
        })
        .collect();
    let disabled: BTreeSet<&str> = ids.iter().skip(3).step_by(4).map(String::as_str).collect();
    let held = FaultRule::every(1, Fault::Hold).only([Operation::Disable]);
    server.set_faults(Faults::none().with(held)).unwrap();
    let args = [
        "tokens",
        "ensure-disabled",
        "--concurrency",
        "4",
        "-o",
        "jsonl",
    ];
    let (mut child, reader) = spawn(&server, &args, &ids);
    let status = signal_when(&mut child, libc::SIGINT, || server.held() >= 4);
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("did not finish in time"), "{err}");
    // The ids whose disable the server received (and holds, unanswered).
    let sent: BTreeSet<String> = server
        .recorded()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/disable"))
        .filter_map(|r| r.path.split('/').rev().nth(1).map(str::to_string))
        .collect();
    assert_eq!(sent.len(), 4, "{sent:?}");
    let rows = rows(&reader.join().unwrap());
    assert_eq!(rows.len(), ids.len(), "{rows:?}\n{err}");
    let (mut finished, mut in_flight, mut not_attempted) = (0, 0, 0);
    for row in &rows {
        let id = row["id"].as_str().unwrap();
        let now = server.token_status(id);
        if sent.contains(id) {
            assert_eq!(row["error"]["kind"], "outcome-unknown", "{row}\n{err}");
            let message = row["error"]["message"].as_str().unwrap();
            assert!(message.contains("in flight when interrupted"), "{row}");
            in_flight += 1;
        } else if disabled.contains(id) {
            assert_eq!(row["outcome"], "unchanged", "{row}\n{err}");
            assert_eq!(row["status"], "Disabled", "{row}");
            assert_eq!(now.as_deref(), Some("Disabled"), "{row}");
            finished += 1;
        } else {
            assert_eq!(row["error"]["kind"], "not-attempted", "{row}\n{err}");
            let message = row["error"]["message"].as_str().unwrap();
            assert!(message.contains("interrupted"), "{row}");
            assert_eq!(now.as_deref(), Some("Active"), "{row}");
            not_attempted += 1;
        }
    }
    assert_eq!(in_flight, 4);
    assert_eq!(finished, disabled.len());
    let said = format!(
        "interrupted: {finished} finished, {in_flight} in flight when interrupted (they may have happened), {not_attempted} not attempted (nothing was sent for them)"
    );
    assert!(err.contains(&said), "{err}");
}
