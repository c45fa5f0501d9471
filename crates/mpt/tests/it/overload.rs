//! Load shed without a word of rate limit: a `503` with no `Retry-After`, and a connection
//! closed or reset before an answer. Both are throttling (retried past the attempts a failure
//! gets, within the wait budget, for what may be repeated); a create is still never sent again
//! when it may have been carried out.

use crate::common::*;

/// A token the mock answers a bare `503` for, `n` times on `op`.
fn shed(id: &str, n: u64, op: Operation) -> FaultRule {
    FaultRule::first(n, Fault::Status(503))
        .only([op])
        .for_token(id)
}

/// A read answered `503` with no `Retry-After` four times in a row (more than the three
/// attempts a failure gets) is retried as throttling and succeeds. A bulk disable whose list
/// of states is answered `503` past the throttled retries (so each state is read on its own),
/// whose reads of two ids and one disable meet four `503`s each, ends with every id disabled,
/// none failed (they failed as `503` server errors after three attempts).
#[tokio::test]
async fn a_bare_503_is_throttling_retried_within_the_budget() {
    let server = MockServer::start().await.unwrap();
    let ids: Vec<String> = server
        .seed_tokens(6, "shed", DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    let client = admin(&server);
    server
        .set_faults(Faults::none().with(shed(&ids[0], 4, Operation::Get)))
        .unwrap();
    let token = client.get(ids[0].as_str()).await.unwrap();
    assert_eq!(token.id(), ids[0]);
    assert_eq!(
        server.requests(Operation::Get),
        5,
        "four 503s, then the answer"
    );
    let faults = Faults::none()
        .with(FaultRule::first(12, Fault::Status(503)).only([Operation::List]))
        .with(shed(&ids[0], 4, Operation::Get))
        .with(shed(&ids[1], 4, Operation::Get))
        .with(shed(&ids[2], 4, Operation::Disable));
    server.set_faults(faults).unwrap();
    let report = client.ensure_disabled_many(ids.clone(), 4).await;
    let failed: Vec<_> = report
        .failed()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
}

/// A create answered a bare `503` is not sent again (the facade cannot prove the platform did no
/// work), and its error names the status as it came (never a 429), with the platform's words.
#[tokio::test]
async fn a_create_answered_a_bare_503_is_not_resent_and_says_503() {
    let faults = Faults::none().with(FaultRule::once(Fault::Status(503)).only([Operation::Create]));
    let server = MockServer::builder().faults(faults).start().await.unwrap();
    let client = admin(&server);
    let e = client.create(&new_token("once")).await.unwrap_err();
    assert_eq!(server.requests(Operation::Create), 1, "sent once");
    assert_eq!(server.live_tokens(), 0);
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(e.status(), Some(503));
    assert!(e.to_string().starts_with("503 Service Unavailable"), "{e}");
    // A limiter whose body claims a 429 inside a 503: the status as it came, its words kept.
    let body = r#"{"status":429,"title":"Too Many Requests"}"#.to_string();
    let limiter = answering(503, &[], body).await;
    let e = canned_client(&limiter, "s3cr3t").get("TKN-1111-2222").await;
    let e = e.unwrap_err();
    assert_eq!(e.to_string(), "503 Too Many Requests");
    assert_eq!(e.status(), Some(503));
}

/// A connection closed (or reset) after the request went, before any answer: a read is sent
/// again past the three attempts a failure gets, and succeeds.
#[tokio::test]
async fn a_read_whose_connection_is_closed_or_reset_is_retried_until_answered() {
    for drop in [Scripted::dropped, Scripted::reset] {
        let script = vec![
            drop(),
            drop(),
            drop(),
            drop(),
            Scripted::answer(200, "application/json", TOKEN_JSON),
        ];
        let server = canned(script).await;
        let client = Client::builder()
            .base_url(server.base_url())
            .api_token("s3cr3t")
            .retry(fast_retries(3))
            .build()
            .unwrap();
        let token = client.get("TKN-1111-2222").await.unwrap();
        assert_eq!(token.id(), "TKN-1111-2222");
        assert_eq!(server.request_lines().len(), 5);
    }
}

/// A bulk disable through a gateway that drops connections (the mock closes them after the
/// work: the list of states past the throttled retries, then four times in a row the reads of
/// two ids and one id's disable): every id ends disabled
/// and reported so; a create dropped so is still not sent again.
#[tokio::test]
async fn a_bulk_disable_under_dropped_connections_fails_no_id() {
    let server = MockServer::start().await.unwrap();
    let ids: Vec<String> = server
        .seed_tokens(6, "drop", DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    let dropped = |id: &str, op: Operation| {
        FaultRule::first(4, Fault::DropAfterProcessing)
            .only([op])
            .for_token(id)
    };
    // The list of states is dropped past the throttled retries: each state is read alone.
    let faults = Faults::none()
        .with(FaultRule::first(12, Fault::DropAfterProcessing).only([Operation::List]))
        .with(dropped(&ids[0], Operation::Get))
        .with(dropped(&ids[1], Operation::Get))
        .with(dropped(&ids[2], Operation::Disable))
        .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create]));
    server.set_faults(faults).unwrap();
    let client = admin(&server);
    let report = client.ensure_disabled_many(ids.clone(), 4).await;
    let failed: Vec<_> = report
        .failed()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
    let e = client.create(&new_token("dropped")).await.unwrap_err();
    assert!(
        matches!(e, Error::CreateUnconfirmed { .. }),
        "a lost create stays unconfirmed: {e:?}"
    );
    assert_eq!(server.requests(Operation::Create), 1, "never sent again");
}
