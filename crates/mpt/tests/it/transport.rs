//! Retries, timeouts, bounded bodies and the errors each failure makes; the mock's fault rules
//! themselves.

use crate::common::*;

#[tokio::test]
async fn retries_honour_retry_after() {
    let server = MockServer::builder()
        .seed(1)
        .faults(Faults::none().with(FaultRule::every(
            2,
            Fault::RateLimited {
                retry_after: Duration::from_secs(1),
            },
        )))
        .start()
        .await
        .unwrap();
    let client = client_for(&server, fast_retries(3));
    client.list().count().await.unwrap(); // request 1
    let started = Instant::now();
    client.list().count().await.unwrap(); // request 2 is 429 "Retry-After: 1", request 3 succeeds
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the retry came before Retry-After"
    );
    assert_eq!(server.requests(Operation::List), 3);
}

#[tokio::test]
async fn rate_limits_and_server_errors_surface_when_retries_run_out() {
    let server = MockServer::builder()
        .faults(Faults::none().with(FaultRule::every(
            1,
            Fault::RateLimited {
                retry_after: Duration::from_secs(3),
            },
        )))
        .start()
        .await
        .unwrap();
    let client = client_for(&server, RetryPolicy::none());
    let err = client.get("TKN-1").await.unwrap_err();
    assert!(
        matches!(&err, Error::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(3)),
        "{err:?}"
    );
    assert!(err.is_retryable());

    server
        .set_faults(Faults::none().with(FaultRule::every(1, Fault::HtmlPage(502))))
        .unwrap();
    let err = client.get("TKN-1").await.unwrap_err();
    let Error::Server(problem) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(problem.status, 502);
    assert!(
        err.to_string()
            .starts_with("502 Bad Gateway: non-JSON body: <!DOCTYPE html>"),
        "{err}"
    );

    // A 503 is throttling (load shed), as a 429 is.
    for (code, check) in [
        (403u16, "Forbidden"),
        (409, "Conflict"),
        (503, "RateLimited"),
    ] {
        server
            .set_faults(Faults::none().with(FaultRule::every(1, Fault::Status(code))))
            .unwrap();
        let err = client.get("TKN-1").await.unwrap_err();
        assert_eq!(err.status(), Some(code));
        assert!(format!("{err:?}").starts_with(check), "{err:?}");
        assert!(err.problem().unwrap().trace_id.is_some());
    }
    // 500 is not retried; 503 is, as throttling: up to `MAX_THROTTLED` attempts, not 3.
    let counted = server.requests(Operation::Get);
    let retrying = client_for(&server, fast_retries(3));
    server
        .set_faults(Faults::none().with(FaultRule::every(1, Fault::Status(500))))
        .unwrap();
    assert!(retrying.get("TKN-1").await.is_err());
    server
        .set_faults(Faults::none().with(FaultRule::every(1, Fault::Status(503))))
        .unwrap();
    assert!(retrying.get("TKN-1").await.is_err());
    assert_eq!(
        server.requests(Operation::Get) - counted,
        1 + u64::from(mpt::MAX_THROTTLED)
    );
}

#[tokio::test]
async fn bad_requests_unauthorized_decode_and_timeouts_are_told_apart() {
    let (server, client) = start().await;
    let err = client
        .list()
        .filter(Filter::raw("eq(status,Active"))
        .count()
        .await
        .unwrap_err();
    let Error::BadRequest(problem) = &err else {
        panic!("{err:?}")
    };
    assert!(!problem.messages().is_empty());
    assert!(
        err.to_string().starts_with("400 Bad Request: Invalid RQL"),
        "{err}"
    );

    let stranger = Client::builder()
        .base_url(server.base_url())
        .api_token("idt:TKN-9999-9999:nope")
        .build()
        .unwrap();
    assert!(matches!(
        stranger.get("TKN-1").await,
        Err(Error::Unauthorized(_))
    ));

    server.seed_token(SeedToken::named("t"));
    server
        .set_faults(Faults::none().with(FaultRule::every(1, Fault::MalformedJson)))
        .unwrap();
    let err = client.list().collect().await.unwrap_err();
    assert!(matches!(&err, Error::Decode { status: 200, .. }), "{err:?}");

    server
        .set_faults(Faults::none().with_latency(Duration::from_millis(300)))
        .unwrap();
    let impatient = Client::builder()
        .base_url(server.base_url())
        .api_token(server.admin_secret())
        .timeout(Duration::from_millis(50))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    assert!(matches!(
        impatient.list().count().await,
        Err(Error::Timeout)
    ));

    let err = client
        .create(&NewToken::new(DEFAULT_ACCOUNT, ""))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    let err = Client::builder().build().unwrap_err();
    assert!(matches!(err, Error::Config(_)));
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_never_sent_again() {
    let server = MockServer::builder()
        .faults(
            Faults::none()
                .with(FaultRule::every(1, Fault::DropAfterProcessing).only([Operation::Create])),
        )
        .start()
        .await
        .unwrap();
    let client = client_for(&server, fast_retries(5));
    let err = client.create(&new_token("once")).await.unwrap_err();
    assert_eq!(server.requests(Operation::Create), 1, "never sent again");
    assert_eq!(server.tokens_created(), 1);
    // The token it made is found and handed over, with its secret: no silent orphan.
    let Error::CreateUnconfirmed {
        candidates,
        lookup,
        source,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(matches!(**source, Error::Transport(_)), "{source:?}");
    assert!(lookup.is_none());
    assert_eq!(candidates.len(), 1, "{err}");
    let made = &candidates[0];
    assert_eq!(made.name(), Some("once"));
    let secret = made
        .secret()
        .expect("the platform returns the secret on read");
    assert_eq!(server.token_status(made.id()).as_deref(), Some("Active"));
    assert!(err.to_string().contains(made.id()), "{err}");
    assert!(!format!("{err} {err:?}").contains(secret.expose_secret()));
    // The secret works: the caller can keep this token.
    let own = Client::builder()
        .base_url(server.base_url())
        .api_token(secret.expose_secret())
        .build()
        .unwrap();
    assert_eq!(own.get(made).await.unwrap().id(), made.id());
}

/// A response body larger than the bound is an error, and it is not read past the bound
/// (with and without a Content-Length).
#[tokio::test]
async fn response_bodies_are_bounded() {
    let big = vec![b' '; 50 * 1024 * 1024];
    let unsized_reply =
        Scripted::answer(200, "application/json", vec![b' '; 300 * 1024]).without_length();
    let server = canned(vec![
        Scripted::answer(200, "application/json", big),
        unsized_reply.clone(),
        unsized_reply,
        Scripted::answer(200, "application/json", TOKEN_JSON),
    ])
    .await;
    let default = canned_client(&server, "s3cr3t-api-key");
    match default.get("TKN-1").await {
        Err(Error::ResponseTooLarge { status: 200, limit }) => {
            assert_eq!(limit, mpt::DEFAULT_MAX_RESPONSE_BYTES)
        }
        other => panic!("{other:?}"),
    }
    let small = Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .retry(RetryPolicy::none())
        .max_response_bytes(64 * 1024)
        .build()
        .unwrap();
    for _ in 0..2 {
        match small.get("TKN-1").await {
            Err(e @ Error::ResponseTooLarge { .. }) => {
                assert_eq!(e.status(), Some(200));
                assert!(e.to_string().contains("65536-byte limit"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(small.get("TKN-1").await.unwrap().id(), "TKN-1111-2222");
}

/// The per-attempt timeout holds with a `reqwest::Client` passed in too (set on each request
/// then, since that client's defaults are its owner's).
#[tokio::test]
async fn the_timeout_holds_with_a_client_passed_in() {
    let server = MockServer::builder()
        .faults(Faults::none().with_latency(Duration::from_millis(500)))
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token(server.admin_secret())
        .http_client(reqwest::Client::new())
        .timeout(Duration::from_millis(50))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    // Without the timeout, the answer would come (late) and the count succeed.
    assert!(matches!(client.list().count().await, Err(Error::Timeout)));
}

#[tokio::test]
async fn fault_rules_that_cannot_work_are_refused_and_never_panic_the_mock() {
    let zero = FaultRule {
        every: 0,
        ..FaultRule::every(1, Fault::Status(500))
    };
    let err = MockServer::builder()
        .faults(Faults::none().with(zero.clone()))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fault rule 0"), "{err}");
    let server = MockServer::start().await.unwrap();
    assert!(server.set_faults(Faults::none().with(zero)).is_err());
    assert!(
        server
            .set_faults(Faults::none().with(FaultRule::once(Fault::Status(1000))))
            .is_err()
    );
    // A huge Retry-After is answered (saturated), not a panic.
    server
        .set_faults(Faults::none().with(FaultRule::once(Fault::RateLimited {
            retry_after: Duration::MAX,
        })))
        .unwrap();
    // (Unpaced: a paced client would hold its next request for the capped Retry-After.)
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token(server.admin_secret())
        .retry(RetryPolicy::none())
        .pacing(mpt::Pacing::Off)
        .build()
        .unwrap();
    let err = client.list().count().await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert!(client.list().count().await.is_ok(), "the mock still serves");
}

/// An answer with many header lines (a CDN or debug layer adding its own: the tester's r8
/// `manyhdr`, 100 or more lines failed every request as `unreachable` with "error sending
/// request", hyper's default limit): 150 lines are read; past the client's bound (1,000), the
/// error names the cause.
#[tokio::test]
async fn an_answer_with_too_many_header_lines_is_named_and_a_client_passed_in_may_read_them() {
    let lines = |n: usize| {
        (0..n).fold(
            Scripted::answer(200, "application/json", TOKEN_JSON),
            |answer, i| answer.header(format!("x-debug-{i}"), "1"),
        )
    };
    // Past hyper's 100 lines (a CDN or debug layer adding its own): the cause is named.
    let server = canned(vec![lines(150)]).await;
    let e = canned_client(&server, "s3cr3t")
        .get("TKN-1111-2222")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(e.to_string().contains("too many header lines"), "{e}");
    // A `reqwest::Client` passed in with a higher bound reads them.
    let http = reqwest::Client::builder()
        .http1_max_headers(1_000)
        .build()
        .unwrap();
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t")
        .http_client(http)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let token = client.get("TKN-1111-2222").await;
    assert_eq!(token.unwrap().id(), "TKN-1111-2222");
}
