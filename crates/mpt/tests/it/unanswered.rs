//! A platform (or a gateway in front of it) that accepts connections, reads the requests and
//! never answers: a bulk job stops sending once its requests go unanswered, instead of holding
//! each id for three timeouts, silently, for hours; a platform that answers between its
//! timeouts keeps going.

use crate::common::*;

/// A client of the mock whose attempts time out after 300 ms.
fn impatient(server: &MockServer) -> Client {
    Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .retry(fast_retries(3))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

/// Every disable held, never answered: the four sent first (the concurrency) time out together,
/// none answered, and the job sends nothing more. Those four end `OutcomeUnknown` (their
/// change may have happened; reading them back is not sent either), every other id
/// `NotAttempted`, naming the cause, its token untouched. It sent every id's disable three
/// times (90 requests for 30 ids, each held a timeout).
#[tokio::test]
async fn a_bulk_job_stops_sending_once_its_requests_go_unanswered() {
    let server = MockServer::start().await.unwrap();
    let ids = seeded_ids(&server, 30, "hung", DEFAULT_ACCOUNT);
    let held = FaultRule::every(1, Fault::Hold).only([Operation::Disable]);
    server.set_faults(Faults::none().with(held)).unwrap();
    let report = impatient(&server)
        .ensure_disabled_many(ids.clone(), 4)
        .await;
    let sent = server.requests(Operation::Disable);
    assert!(
        sent <= 8,
        "{sent} disables sent into a platform that answers none"
    );
    let (mut unknown, mut not_attempted) = (0, 0);
    for (id, result) in report.iter() {
        match result {
            Err(Error::OutcomeUnknown { source, .. }) => {
                assert!(matches!(**source, Error::Timeout), "{id}: {source}");
                unknown += 1;
            }
            Err(e @ Error::NotAttempted { cause, .. }) => {
                assert!(
                    matches!(cause, mpt::WaitCause::Unanswered { requests } if *requests >= 4),
                    "{id}: {cause:?}"
                );
                assert_eq!(
                    e.to_string(),
                    format!(
                        "not attempted: the platform answered none of the last {} requests of this job within the 300 ms timeout; nothing more is sent for it",
                        match cause {
                            mpt::WaitCause::Unanswered { requests } => requests,
                            _ => unreachable!(),
                        }
                    )
                );
                assert_eq!(server.token_status(id).as_deref(), Some("Active"), "{id}");
                not_attempted += 1;
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    assert!((1..=8).contains(&unknown), "{unknown} sent");
    assert_eq!(unknown + not_attempted, ids.len());
}

/// A few requests that time out while the others in flight are answered (three disables held
/// of a job eight at a time) do not stop the job: each is sent again, and every id ends
/// disabled.
#[tokio::test]
async fn requests_timing_out_among_answered_ones_do_not_stop_the_job() {
    let server = MockServer::start().await.unwrap();
    let ids = seeded_ids(&server, 20, "slow", DEFAULT_ACCOUNT);
    let held = FaultRule::first(3, Fault::Hold).only([Operation::Disable]);
    server.set_faults(Faults::none().with(held)).unwrap();
    let report = impatient(&server)
        .ensure_disabled_many(ids.clone(), 8)
        .await;
    let failed: Vec<String> = report
        .failed()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
    assert_eq!(server.requests(Operation::Disable), 23, "three sent again");
}
