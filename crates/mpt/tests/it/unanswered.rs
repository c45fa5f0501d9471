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

/// Every disable held by the server, unanswered; the states of every id read by one served
/// list, every fourth id Disabled already; the other ids wait for a change slot behind the four
/// held. Once the job is cancelled, the stream yields every id but those four at once, each by
/// its evidence: read Disabled by the list, `Unchanged`; else `Cancelled` (nothing changing was
/// sent), its token untouched. The four whose disable the server received are the only ones
/// left: they end when their answers come (released here). (The ids waiting stayed until the
/// held changes ended: a gateway that never answers had them all reported in flight.)
#[tokio::test]
async fn a_cancelled_job_settles_at_once_every_id_whose_change_was_not_sent() {
    let server = MockServer::start().await.unwrap();
    let ids: Vec<String> = (0..40)
        .map(|i| {
            let mut seed = SeedToken::named(format!("waiting-{i}"));
            if i % 4 == 3 {
                seed.status = "Disabled".into();
            }
            server.seed_token(seed).id
        })
        .collect();
    let disabled: HashSet<&str> = ids.iter().skip(3).step_by(4).map(String::as_str).collect();
    let held = FaultRule::every(1, Fault::Hold).only([Operation::Disable]);
    server.set_faults(Faults::none().with(held)).unwrap();
    let cancel = mpt::Cancel::new();
    let client = admin(&server).with_cancel(cancel.clone());
    let input = futures_util::stream::iter(ids.clone());
    let mut stream = std::pin::pin!(client.ensure_disabled_stream(input, 4));
    let mut done = Vec::new();
    let started = Instant::now();
    while server.held() < 4 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::select! {
            Some(result) = stream.next() => done.push(result),
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    cancel.cancel();
    // Bounded: before, the stream yielded nothing more until a held change ended.
    while done.len() < ids.len() - 4 {
        let next = tokio::time::timeout(Duration::from_secs(60), stream.next()).await;
        done.push(
            next.expect("ids not being changed wait behind held changes")
                .unwrap(),
        );
    }
    let sent: HashSet<String> = server
        .recorded()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/disable"))
        .filter_map(|r| r.path.split('/').rev().nth(1).map(str::to_string))
        .collect();
    assert_eq!(sent.len(), 4, "{sent:?}");
    for (_, id, result) in &done {
        assert!(
            !sent.contains(id),
            "{id}: its disable is in flight: {result:?}"
        );
        if disabled.contains(id.as_str()) {
            assert!(
                matches!(result, Ok(Outcome::Unchanged(_))),
                "{id}: {result:?}"
            );
        } else {
            assert!(matches!(result, Err(Error::Cancelled)), "{id}: {result:?}");
            assert_eq!(server.token_status(id).as_deref(), Some("Active"), "{id}");
        }
    }
    server.release_held();
    let mut rest = Vec::new();
    while let Some(next) = tokio::time::timeout(Duration::from_secs(60), stream.next())
        .await
        .expect("the held changes end once answered")
    {
        rest.push(next);
    }
    assert_eq!(rest.len(), 4, "{rest:?}");
    for (_, id, result) in &rest {
        assert!(sent.contains(id), "{id}: {result:?}");
        assert!(result.is_ok(), "{id}: {result:?}");
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
}

/// The list of states shows neither id, so each is read on its own: one read's answer comes
/// with its body stalled (a gateway that sends the head and no more), the other id's read is
/// served Active and its disable sent and never answered. Once the job is cancelled, the id
/// whose read stalls ends at once `Cancelled` (nothing changing was sent for it: its work is
/// given up), the one whose disable was sent is the only one left. (A read's body was not
/// given up: that id waited out the timeout, then ended as timing out, or, past an
/// interrupt's grace, was reported in flight.)
#[tokio::test]
async fn a_cancelled_job_gives_up_an_id_whose_read_stalls_not_one_whose_change_was_sent() {
    const STALLED: &str = "TKN-1111-2222";
    const CHANGED: &str = "TKN-1111-3333";
    let server = ScriptedServer::routed(|head| {
        let target = head.target();
        let path = target.split('?').next().unwrap_or(target);
        let json = |body: String| Scripted::answer(200, "application/json", body);
        if target.contains("api-tokens?") {
            json(r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":0}},"data":[]}"#.into())
        } else if path.ends_with(STALLED) {
            json(TOKEN_JSON.replace("TKN-1111-2222", STALLED)).stalled_after(10)
        } else if path.ends_with(CHANGED) {
            json(TOKEN_JSON.replace("TKN-1111-2222", CHANGED))
        } else {
            Scripted::held()
        }
    })
    .await
    .unwrap();
    let cancel = mpt::Cancel::new();
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .retry(fast_retries(3))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .with_cancel(cancel.clone());
    let input = futures_util::stream::iter([STALLED.to_string(), CHANGED.to_string()]);
    let mut stream = std::pin::pin!(client.ensure_disabled_stream(input, 2));
    let disable = format!("{CHANGED}/disable ");
    let sent = |server: &ScriptedServer| {
        let lines = server.request_lines();
        let stalled = lines.iter().any(|l| l.contains(&format!("{STALLED}?")));
        stalled
            && lines
                .iter()
                .any(|l| l.starts_with("POST") && l.contains(&disable))
    };
    let started = Instant::now();
    while !sent(&server) {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::select! {
            next = stream.next() => panic!("nothing ends before the interrupt: {next:?}"),
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    cancel.cancel();
    let (_, id, result) = stream.next().await.unwrap();
    assert_eq!(id, STALLED, "{result:?}");
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    let (_, id, result) = stream.next().await.unwrap();
    assert_eq!(id, CHANGED, "{result:?}");
    assert!(!matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(stream.next().await.is_none());
}
