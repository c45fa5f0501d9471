//! A guarded client ([`Client::with_guard`]) proves its guard right before every change it
//! sends, a retry too (after its `Retry-After` wait): once the guard fails, nothing more is sent
//! ([`Error::GuardFailed`]). Reads are not guarded.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::common::*;

/// The mock with one token named `name` (its id) whose first delete is answered `429` with
/// `Retry-After: 1`, not processed.
async fn refused_once(name: &str) -> (MockServer, Client, String) {
    let (server, client) = start().await;
    let id = server.seed_tokens(1, name, DEFAULT_ACCOUNT)[0].id.clone();
    let refused = Fault::RateLimited {
        retry_after: Duration::from_secs(1),
    };
    let faults = Faults::none().with(FaultRule::once(refused).only([Operation::Delete]));
    server.set_faults(faults).unwrap();
    (server, client, id)
}

/// A guard that holds for its first `holds` proofs, then fails; it counts the proofs asked.
fn guard_holding(holds: u32) -> (Arc<AtomicU32>, Arc<dyn mpt::Guard>) {
    let asked = Arc::new(AtomicU32::new(0));
    let count = asked.clone();
    let guard = move || -> mpt::GuardFuture<'static> {
        let n = count.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n < holds {
                Ok(())
            } else {
                Err("the account's lock is gone".to_string())
            }
        })
    };
    (asked, Arc::new(guard))
}

/// The tester's round-14 finding 1, at the facade: a delete answered `429` with
/// `Retry-After: 1` (not processed), whose guard fails while the retry waits, is never sent
/// again: one delete reached the server, the token is Active, and the error says the retry was
/// not sent, after a `429`. Reads of the same client pass without asking the guard.
#[tokio::test]
async fn a_retry_is_not_sent_once_the_guard_fails() {
    let (server, client, id) = refused_once("guarded").await;
    let (asked, guard) = guard_holding(1);
    let guarded = client.with_guard(guard);
    let e = guarded.delete(id.as_str()).await.unwrap_err();
    match &e {
        Error::GuardFailed {
            reason,
            sent,
            last_status,
            maybe_done,
        } => {
            assert_eq!(reason, "the account's lock is gone");
            assert_eq!((*sent, *last_status, *maybe_done), (1, Some(429), false));
        }
        other => panic!("not a guard's failure: {other:?}"),
    }
    assert!(e.to_string().contains("the retry was not sent"), "{e}");
    assert_eq!(
        server.requests(Operation::Delete),
        1,
        "the retry never went"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 2, "asked for each send");
    assert_eq!(server.token_status(&id).as_deref(), Some("Active"));
    // Reads are not guarded.
    let token = guarded.get(id.as_str()).await.unwrap();
    assert_eq!(token.status(), TokenStatus::Active);
    assert_eq!(asked.load(Ordering::SeqCst), 2, "a read asks nothing");
}

/// A guard failing before the first send of a create sends nothing (its read of the names
/// already there passes): no create reaches the server, and the error says nothing was sent.
/// A client of the same pool without the guard still sends.
#[tokio::test]
async fn a_change_is_not_sent_when_the_guard_fails_first() {
    let (server, client) = start().await;
    let (asked, guard) = guard_holding(0);
    let guarded = client.with_guard(guard);
    let e = guarded.create(&new_token("fenced")).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::GuardFailed {
                sent: 0,
                last_status: None,
                maybe_done: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("nothing was sent"), "{e}");
    assert_eq!(server.requests(Operation::Create), 0);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    client.create(&new_token("unfenced")).await.unwrap();
    assert_eq!(server.requests(Operation::Create), 1);
}

/// The tester's round-16 finding 3: a job cancelled while the guard's proof before a retry
/// stalls (a lock store that stopped answering) does not wait for the proof: the retry is not
/// sent and the first answer stands. The guard here sets the cancel itself at its second proof
/// and never answers it; the call ends (bounded at 60 s, not timed: without the fix it hangs).
#[tokio::test]
async fn a_stalled_proof_is_abandoned_once_the_job_is_cancelled() {
    let (server, client, id) = refused_once("stalled").await;
    let cancel = mpt::Cancel::new();
    let asked = Arc::new(AtomicU32::new(0));
    let (count, stop) = (asked.clone(), cancel.clone());
    let guard = move || -> mpt::GuardFuture<'static> {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            return Box::pin(async { Ok(()) });
        }
        stop.cancel();
        Box::pin(std::future::pending())
    };
    let guard: Arc<dyn mpt::Guard> = Arc::new(guard);
    let guarded = client.with_guard(guard).with_cancel(cancel);
    let call = guarded.delete(id.as_str());
    let e = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("the stalled proof held the cancelled call")
        .unwrap_err();
    assert_eq!(e.status(), Some(429), "{e:?}");
    assert_eq!(
        server.requests(Operation::Delete),
        1,
        "the retry never went"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}
