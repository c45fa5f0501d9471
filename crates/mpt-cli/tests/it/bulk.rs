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
