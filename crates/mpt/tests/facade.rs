//! The facade against the mock server over real HTTP on loopback.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use mpt::{
    Action, Client, Error, Filter, NewToken, Outcome, RetryPolicy, SortField, TokenStatus,
    TokenUpdate,
};
use mpt_mock::{
    DEFAULT_ACCOUNT, DEFAULT_MODULE, Fault, FaultRule, Faults, MockServer, NoopTransitions,
    Operation, SeedToken, VENDOR_ACCOUNT,
};

fn client_for(server: &MockServer, retry: RetryPolicy) -> Client {
    Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .retry(retry)
        .build()
        .unwrap()
}

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::attempts(attempts)
    }
}

async fn start() -> (MockServer, Client) {
    let server = MockServer::start().await.unwrap();
    let client = client_for(&server, fast_retries(3));
    (server, client)
}

fn new_token(name: &str) -> NewToken {
    NewToken::new(DEFAULT_ACCOUNT, name)
        .module(DEFAULT_MODULE)
        .description("made by a test")
}

#[tokio::test]
async fn every_operation_round_trips() {
    let (server, client) = start().await;
    let created = client.create(&new_token("deployer")).await.unwrap();
    let token = &created.token;
    assert_eq!(token.status(), TokenStatus::Active);
    assert_eq!(token.revision(), Some(1));
    assert_eq!(token.account_id(), Some(DEFAULT_ACCOUNT));
    assert_eq!(token.module_ids(), [DEFAULT_MODULE]);
    assert_eq!(created.secret.token_id(), Some(token.id()));
    assert!(
        token.secret().is_none(),
        "the secret lives in CreatedToken::secret only"
    );

    // The new secret authenticates its own client.
    let own = Client::builder()
        .base_url(server.base_url())
        .api_token(created.secret.expose_secret())
        .build()
        .unwrap();
    assert_eq!(own.get(token.id()).await.unwrap().name(), Some("deployer"));

    let fetched = client.get(token.id()).await.unwrap();
    assert!(
        fetched.last_access_at().is_some(),
        "the secret's use was recorded"
    );
    assert!(fetched.is_usable());
    let trimmed = client
        .get_with_select(token.id(), ["-audit"])
        .await
        .unwrap();
    assert!(trimmed.created_at().is_none());

    let updated = client
        .update(
            token.id(),
            &TokenUpdate::new().name("deployer v2").clear_description(),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.name(), updated.description(), updated.revision()),
        (Some("deployer v2"), None, Some(2))
    );

    let disabled = client.disable(token.id()).await.unwrap();
    assert_eq!(disabled.status(), TokenStatus::Disabled);
    assert!(
        matches!(own.get(token.id()).await, Err(Error::Unauthorized(_))),
        "a disabled secret gets 401"
    );
    let enabled = client.enable(&disabled).await.unwrap();
    assert_eq!(enabled.status(), TokenStatus::Active);
    assert_eq!(enabled.revision(), Some(4));

    let listed = client
        .list()
        .filter(Filter::id(token.id()))
        .collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    client.delete(token.id()).await.unwrap();
    // A soft delete: the admin (an Operations account) still reads it, as Deleted.
    let deleted = client.get(token.id()).await.unwrap();
    assert_eq!(deleted.status(), TokenStatus::Deleted);
    assert_eq!(server.token_status(token.id()).as_deref(), Some("Deleted"));
}

#[tokio::test]
async fn the_stream_pages_lazily_to_the_end_and_count_uses_limit_0() {
    let (server, client) = start().await;
    server.seed_tokens(250, "bulk", DEFAULT_ACCOUNT);
    server.seed_tokens(7, "vendor", VENDOR_ACCOUNT);
    let before = server.requests(Operation::List);
    let mut stream = Box::pin(
        client
            .list()
            .filter(Filter::account(DEFAULT_ACCOUNT))
            .page_size(100)
            .stream(),
    );
    let first = stream.try_next().await.unwrap().unwrap();
    assert_eq!(first.name(), Some("bulk-1"));
    assert_eq!(
        server.requests(Operation::List) - before,
        1,
        "only the first page was fetched"
    );
    let mut names: HashSet<String> = HashSet::from([first.name().unwrap().to_string()]);
    while let Some(t) = stream.try_next().await.unwrap() {
        names.insert(t.name().unwrap().to_string());
    }
    assert_eq!(names.len(), 250);
    assert_eq!(server.requests(Operation::List) - before, 3);

    assert_eq!(client.list().count().await.unwrap(), 257);
    assert_eq!(
        client
            .list()
            .filter(Filter::account(VENDOR_ACCOUNT))
            .count()
            .await
            .unwrap(),
        7
    );
    let ordered = client
        .list()
        .filter(Filter::account(VENDOR_ACCOUNT))
        .order_by_desc(SortField::Name)
        .page_size(3)
        .collect()
        .await
        .unwrap();
    let names: Vec<_> = ordered.iter().map(|t| t.name().unwrap()).collect();
    assert_eq!(
        names,
        [
            "vendor-7", "vendor-6", "vendor-5", "vendor-4", "vendor-3", "vendor-2", "vendor-1"
        ]
    );
}

#[tokio::test]
async fn ensure_helpers_are_idempotent_under_both_noop_answers() {
    for noop in [NoopTransitions::Refused, NoopTransitions::Accepted] {
        let server = MockServer::builder()
            .noop_transitions(noop)
            .start()
            .await
            .unwrap();
        let noops = match noop {
            NoopTransitions::Refused => mpt::NoopTransitions::Refused,
            _ => mpt::NoopTransitions::Accepted,
        };
        let client = Client::builder()
            .base_url(server.base_url())
            .api_token(server.admin_secret())
            .retry(fast_retries(3))
            .noop_transitions(noops)
            .build()
            .unwrap();
        let id = server.seed_token(SeedToken::named("t")).id;
        let first = client.ensure_disabled(id.as_str()).await.unwrap();
        // A 200 proves this call's change only where no-ops are refused.
        match noop {
            NoopTransitions::Refused => assert!(first.changed(), "{first:?}"),
            _ => assert!(matches!(first, Outcome::Unconfirmed(_)), "{first:?}"),
        }
        assert_eq!(first.token().status(), TokenStatus::Disabled);
        let token = first.token().clone();
        let again = client.ensure_disabled(&token).await.unwrap();
        assert!(!again.changed(), "{noop:?}: {again:?}");
        assert_eq!(again.token().status(), TokenStatus::Disabled);
        let revision = server.token_revision(&id);
        let by_id = client.ensure_disabled(id.as_str()).await.unwrap();
        assert_eq!(by_id.token().status(), TokenStatus::Disabled);
        assert_eq!(
            server.token_revision(&id),
            revision,
            "{noop:?}: a no-op changed nothing"
        );
        assert!(!matches!(by_id, Outcome::Changed(_)), "{noop:?}: {by_id:?}");
        let on = client.ensure_active(id.as_str()).await.unwrap();
        assert_eq!(on.token().status(), TokenStatus::Active);
    }
}

#[tokio::test]
async fn concurrent_ensure_disabled_calls_all_succeed_and_change_it_once() {
    let (server, client) = start().await;
    let id = server.seed_token(SeedToken::named("t")).id;
    let calls = (0..8).map(|_| client.ensure_disabled(id.as_str()));
    let outcomes = futures_util::future::join_all(calls).await;
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(Result::unwrap).collect();
    assert!(
        outcomes
            .iter()
            .all(|o| o.token().status() == TokenStatus::Disabled)
    );
    assert_eq!(outcomes.iter().filter(|o| o.changed()).count(), 1);
    assert_eq!(server.token_revision(&id), Some(2));
}

#[tokio::test]
async fn a_known_state_guards_transitions_before_any_request() {
    let (server, client) = start().await;
    let created = client.create(&new_token("t")).await.unwrap();
    let sent = server.total_requests();
    let err = client.enable(&created.token).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidTransition {
                from: TokenStatus::Active,
                action: Action::Enable,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "cannot enable API token {}: it is Active",
            created.token.id()
        )
    );
    assert_eq!(server.total_requests(), sent, "nothing was sent");

    // By id the platform refuses, and the error still speaks of the lifecycle.
    let err = client.enable(created.token.id()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidTransition {
                from: TokenStatus::Active,
                ..
            }
        ),
        "{err:?}"
    );

    client.delete(created.token.id()).await.unwrap();
    // The admin (an Operations account) still sees it: Deleted, and nothing leads out of it.
    let err = client.disable(created.token.id()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidTransition {
                from: TokenStatus::Deleted,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn delete_if_exists_treats_gone_as_done() {
    let (server, client) = start().await;
    let id = server.seed_token(SeedToken::named("t")).id;
    assert!(client.delete_if_exists(id.as_str()).await.unwrap());
    assert!(!client.delete_if_exists(id.as_str()).await.unwrap());
    assert!(!client.delete_if_exists("TKN-0000-0404").await.unwrap());
}

#[tokio::test]
async fn rotate_makes_a_twin_keeps_both_secrets_working_then_retires_and_finishes() {
    let (server, client) = start().await;
    let made = client
        .create(&new_token("rotating").icon("/icons/a.png"))
        .await
        .unwrap();
    let old = made.token.clone();
    let mut rotation = client.rotate(&old).await.unwrap();
    let new = rotation.new.token.clone();
    assert_ne!(new.id(), old.id());
    assert_eq!(
        (new.name(), new.description(), new.icon()),
        (old.name(), old.description(), old.icon())
    );
    assert_eq!(
        (new.account_id(), new.module_ids()),
        (old.account_id(), old.module_ids())
    );
    assert_eq!(rotation.new.secret.token_id(), Some(new.id()));
    // The overlap window: the old token stays Active and both secrets authenticate.
    assert_eq!(server.token_status(old.id()).as_deref(), Some("Active"));
    for secret in [
        made.secret.expose_secret(),
        rotation.new.secret.expose_secret(),
    ] {
        let as_service = Client::builder()
            .base_url(server.base_url())
            .api_token(secret)
            .build()
            .unwrap();
        as_service.get(old.id()).await.unwrap();
    }
    // Retiring needs a verified replacement.
    let err = rotation.retire(&client, None).await.unwrap_err();
    assert!(
        matches!(err, Error::RotationOutOfOrder { step: "retire", .. }),
        "{err:?}"
    );
    rotation.verify(&client).await.unwrap();
    rotation
        .retire(
            &client,
            Some(mpt::Quiet {
                period: Duration::from_millis(30),
                poll: Duration::from_millis(10),
                max_wait: Duration::from_secs(5),
            }),
        )
        .await
        .unwrap();
    assert_eq!(server.token_status(old.id()).as_deref(), Some("Disabled"));
    rotation.finish(&client).await.unwrap();
    assert_eq!(server.token_status(old.id()).as_deref(), Some("Deleted"));
    assert_eq!(server.token_status(new.id()).as_deref(), Some("Active"));
    assert_eq!(rotation.plan.phase, mpt::RotationPhase::Finished);
    // Every phase again is a no-op.
    rotation.verify(&client).await.unwrap();
    rotation.retire(&client, None).await.unwrap();
    rotation.finish(&client).await.unwrap();
}

/// The plan is saved (as JSON, never with a secret) after every phase; the job "crashes"
/// (plan and client dropped) between every two phases and resumes from the saved plan.
#[tokio::test]
async fn a_rotation_crashed_between_every_two_phases_resumes() {
    let (server, client) = start().await;
    let old = server.seed_token(SeedToken::named("svc"));
    let plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    let mut saved = serde_json::to_string(&plan).unwrap();
    drop(plan);

    // Crash during start: the create reached the platform but its answer was lost, and the
    // plan was never saved as Created (only as `start_saving` saved it before the create).
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create])),
        )
        .unwrap();
    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    let _ = plan
        .start_saving(&client, |p| {
            saved = serde_json::to_string(p).unwrap();
            Ok::<(), std::convert::Infallible>(())
        })
        .await; // whatever it says, the process dies here
    server.set_faults(Faults::none()).unwrap();
    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    assert!(plan.create_sent, "saved before the create: {saved}");
    let created = plan
        .start(&client)
        .await
        .unwrap()
        .expect("adopted, with its secret");
    assert_eq!(server.tokens_created(), 1, "no second replacement");
    assert_eq!(plan.phase, mpt::RotationPhase::Created);
    saved = serde_json::to_string(&plan).unwrap();
    assert!(!saved.contains(created.secret.expose_secret()), "{saved}");
    assert!(!saved.contains("idt:"), "{saved}");

    let client = client_for(&server, fast_retries(3)); // a new process
    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    assert!(
        plan.start(&client).await.unwrap().is_none(),
        "start again: nothing new"
    );
    plan.verify(&client, &created.secret).await.unwrap();
    saved = serde_json::to_string(&plan).unwrap();

    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    plan.verify(&client, &created.secret).await.unwrap();
    plan.retire(&client, None).await.unwrap();
    saved = serde_json::to_string(&plan).unwrap();
    // Crash after the disable was sent but before the answer: retire again.
    let mut again: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    again.phase = mpt::RotationPhase::Verified;
    again.retire(&client, None).await.unwrap();

    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    plan.finish(&client).await.unwrap();
    let mut twice: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    twice.finish(&client).await.unwrap();
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
    assert_eq!(
        server.token_status(created.token.id()).as_deref(),
        Some("Active")
    );
    assert_eq!(server.tokens_created(), 1);
}

/// A wrong secret fails verification, and the rotation stays where it was.
#[tokio::test]
async fn verify_refuses_a_secret_that_does_not_authenticate() {
    let (server, client) = start().await;
    let old = server.seed_token(SeedToken::named("svc"));
    let mut rotation = client.rotate(old.id.as_str()).await.unwrap();
    let other = server.seed_token(SeedToken::named("other"));
    let err = rotation
        .plan
        .verify(&client, &other.secret)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RotationPlanMismatch { .. }), "{err:?}");
    let forged = format!("idt:{}:not-the-secret", rotation.new.token.id());
    let err = rotation
        .plan
        .verify(&client, &mpt::TokenSecret::new(forged))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    assert_eq!(rotation.plan.phase, mpt::RotationPhase::Created);
}

#[tokio::test]
async fn a_rotation_whose_disable_fails_still_returns_the_new_token() {
    let (server, client) = start().await;
    let old = server.seed_token(SeedToken::named("stuck")).id;
    server
        .set_faults(
            Faults::none().with(FaultRule::every(1, Fault::Status(500)).only([Operation::Disable])),
        )
        .unwrap();
    let err = client
        .rotate_now_with_outage(old.as_str())
        .await
        .unwrap_err();
    let Error::RotationIncomplete {
        new,
        old_id,
        old_status,
        source,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (old_id.as_str(), old_status),
        (old.as_str(), &TokenStatus::Active)
    );
    assert!(matches!(**source, Error::Server(_)));
    assert_eq!(
        server.token_status(new.token.id()).as_deref(),
        Some("Active")
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "the replacement {} was created and is Active",
            new.token.id()
        )),
        "{message}"
    );
    assert!(
        !message.contains(new.secret.expose_secret())
            && !format!("{err:?}").contains(new.secret.expose_secret())
    );
}

#[tokio::test]
async fn bulk_operations_report_every_id_and_keep_going_past_failures() {
    let (server, client) = start().await;
    let mut ids: Vec<String> = server
        .seed_tokens(20, "b", DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    ids.insert(5, "TKN-0000-0404".into());
    let report = client.ensure_disabled_many(ids.clone(), 4).await;
    assert_eq!(report.results.len(), 21);
    assert_eq!(
        report
            .results
            .iter()
            .map(|r| r.0.clone())
            .collect::<Vec<_>>(),
        ids,
        "in the given order"
    );
    assert_eq!(report.succeeded().count(), 20);
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(failed.len(), 1);
    assert!(matches!(failed[0], ("TKN-0000-0404", Error::NotFound(_))));
    assert!(!report.is_complete());
    let report = client.ensure_active_many(ids[..3].to_vec(), 2).await;
    assert!(report.is_complete());
    let report = client.delete_many(ids.clone(), 8).await;
    assert!(report.is_complete(), "404 counts as done");
    assert_eq!(server.live_tokens(), 0);
}

#[tokio::test]
async fn stale_finds_active_tokens_unused_since_and_never_used() {
    let (server, client) = start().await;
    let long_ago = chrono::Utc::now() - chrono::Duration::days(120);
    let recently = chrono::Utc::now() - chrono::Duration::days(1);
    server.seed_token(SeedToken::named("old").last_used(long_ago));
    server.seed_token(SeedToken::named("fresh").last_used(recently));
    server.seed_token(SeedToken::named("never"));
    server.seed_token(
        SeedToken::named("old but off")
            .last_used(long_ago)
            .with_status("Disabled"),
    );
    let since = chrono::Utc::now() - chrono::Duration::days(90);
    let stale: Vec<_> = client.stale(since).try_collect::<Vec<_>>().await.unwrap();
    let names: Vec<_> = stale.iter().map(|t| t.name().unwrap()).collect();
    assert_eq!(names, ["old", "never"]);
}

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

    for (code, check) in [(403u16, "Forbidden"), (409, "Conflict"), (503, "Server")] {
        server
            .set_faults(Faults::none().with(FaultRule::every(1, Fault::Status(code))))
            .unwrap();
        let err = client.get("TKN-1").await.unwrap_err();
        assert_eq!(err.status(), Some(code));
        assert!(format!("{err:?}").starts_with(check), "{err:?}");
        assert!(err.problem().unwrap().trace_id.is_some());
    }
    // 500 is not retried, 503 is.
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
    assert_eq!(server.requests(Operation::Get) - counted, 1 + 3);
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

#[tokio::test]
async fn bulk_creates_under_drops_and_429s_make_no_duplicates() {
    let server = MockServer::builder()
        .faults(
            Faults::none()
                .with(FaultRule::every(3, Fault::DropAfterProcessing).only([Operation::Create]))
                .with(
                    FaultRule::every(
                        4,
                        Fault::RateLimited {
                            retry_after: Duration::ZERO,
                        },
                    )
                    .only([Operation::Create]),
                ),
        )
        .start()
        .await
        .unwrap();
    let client = client_for(&server, fast_retries(5));
    let creates = (0..40).map(|i| {
        let client = client.clone();
        async move { client.create(&new_token(&format!("bulk-{i}"))).await }
    });
    let results = futures_util::future::join_all(creates).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert!(ok > 0 && ok < 40, "faults fired: {ok} succeeded");
    let names: Vec<String> = server
        .live_token_names()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "a name was created twice: {names:?}"
    );
    assert_eq!(
        server.requests(Operation::Create),
        40,
        "no create was sent twice"
    );
}

#[tokio::test]
async fn bulk_disable_under_faults_ends_with_every_token_disabled() {
    let server = MockServer::builder().start().await.unwrap();
    let ids: Vec<String> = server
        .seed_tokens(60, "d", DEFAULT_ACCOUNT)
        .into_iter()
        .map(|s| s.id)
        .collect();
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::every(7, Fault::DropAfterProcessing))
                .with(FaultRule::every(
                    11,
                    Fault::RateLimited {
                        retry_after: Duration::ZERO,
                    },
                ))
                .with(FaultRule::every(13, Fault::Status(503))),
        )
        .unwrap();
    // About 30% of requests fail; ten attempts make a token that never gets through (0.3^10
    // per request) vanishingly rare, while every kind of fault still hits many tokens.
    let client = client_for(&server, fast_retries(10));
    let report = client.ensure_disabled_many(ids.clone(), 16).await;
    let failures: Vec<_> = report
        .failed()
        .map(|(id, e)| format!("{id}: {e}"))
        .collect();
    assert!(report.is_complete(), "{failures:?}");
    assert!(
        server.total_requests() > 70,
        "the faults fired and were retried"
    );
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
}

#[tokio::test]
async fn unknown_fields_and_statuses_decode() {
    let (server, client) = start().await;
    let odd = server
        .seed_token(SeedToken::named("odd").with_status("Suspended"))
        .id;
    server
        .set_faults(Faults {
            unknown_fields: true,
            unknown_enum_values: true,
            ..Faults::none()
        })
        .unwrap();
    let token = client.get(&odd).await.unwrap();
    assert_eq!(token.status(), TokenStatus::Unknown("Suspended".into()));
    assert!(!token.is_usable() && token.available_actions().is_empty());
    // Fields the spec does not declare are kept, for callers to read.
    assert!(token.extra().contains_key("href"), "{:?}", token.extra());
    assert_eq!(token.account_type(), Some("Development"));
    assert_eq!(
        token
            .raw()
            .account
            .as_ref()
            .unwrap()
            .type_
            .as_deref()
            .map(String::as_str),
        Some("Development")
    );
    // An unknown state is not guarded locally; the platform's refusal is reported in its terms.
    let err = client.enable(&token).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidTransition {
                from: TokenStatus::Unknown(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(client.list().collect().await.unwrap().len(), 1);
}

/// A `tracing` writer that keeps everything written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_show_in_debug_display_errors_or_traces() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::builder().start().await.unwrap();
    let client = client_for(&server, fast_retries(2));
    let created = client.create(&new_token("secretive")).await.unwrap();
    let secret = created.secret.expose_secret().to_string();
    let opaque = secret.rsplit(':').next().unwrap().to_string();
    let admin = server.admin_secret().to_string();

    // Errors that might echo a body with a secret in it.
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::every(1, Fault::MalformedJson))
                .with_latency(Duration::ZERO),
        )
        .unwrap();
    let decode_err = client.create(&new_token("cut")).await.unwrap_err();
    server
        .set_faults(Faults::none().with(FaultRule::every(1, Fault::Status(503))))
        .unwrap();
    let server_err = client.get(created.token.id()).await.unwrap_err();
    server.set_faults(Faults::none()).unwrap();
    client.get(created.token.id()).await.unwrap();
    let rotated = client
        .rotate_now_with_outage(created.token.id())
        .await
        .unwrap();

    let texts = [
        format!("{created:?}"),
        format!("{client:?}"),
        format!("{server:?}"),
        format!("{rotated:?}"),
        serde_json::to_string(&created.token).unwrap(),
        format!("{decode_err} {decode_err:?}"),
        format!("{server_err} {server_err:?}"),
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap(),
    ];
    assert!(
        texts[7].contains("mpt.request"),
        "spans were captured: {}",
        texts[7]
    );
    for text in &texts {
        assert!(!text.contains(&opaque), "token secret leaked: {text}");
        assert!(!text.contains(&admin), "API secret leaked: {text}");
        assert!(
            !text.contains(rotated.new.secret.expose_secret()),
            "new secret leaked: {text}"
        );
    }
}

#[tokio::test]
async fn from_env_reads_the_token_and_accepts_a_prefixed_base_url() {
    let (server, _) = start().await;
    // SAFETY: no other test in this binary reads or writes these variables.
    unsafe {
        std::env::set_var("MPT_API_TOKEN", server.admin_secret());
        std::env::set_var(
            "MPT_API_BASE_URL",
            format!("{}/public/v1/", server.base_url()),
        );
    }
    let client = Client::from_env().unwrap();
    assert_eq!(client.base_url(), server.base_url());
    assert_eq!(client.list().count().await.unwrap(), 0);
    unsafe {
        std::env::remove_var("MPT_API_TOKEN");
    }
    assert!(matches!(Client::from_env(), Err(Error::Config(_))));
}

/// A tiny HTTP/1.1 server on loopback for cases the mock cannot produce: it answers the
/// requests it gets with `replies` in turn (the last one again once they run out) and records
/// each request line.
struct Canned {
    url: String,
    lines: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    /// Send `Content-Length`; without it the body ends when the connection closes.
    length: bool,
}

fn reply(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
    Reply {
        status,
        content_type,
        body: body.into(),
        length: true,
    }
}

async fn canned(replies: Vec<Reply>) -> Canned {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = lines.clone();
    tokio::spawn(async move {
        let mut served = 0usize;
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = stream.read_exact(&mut body).await;
            seen.lock()
                .unwrap()
                .push(head.lines().next().unwrap_or("").to_string());
            let r = replies[served.min(replies.len() - 1)].clone();
            served += 1;
            let mut out = format!(
                "HTTP/1.1 {} X\r\ncontent-type: {}\r\nconnection: close\r\n",
                r.status, r.content_type
            );
            if r.length {
                out.push_str(&format!("content-length: {}\r\n", r.body.len()));
            }
            out.push_str("\r\n");
            let _ = stream.write_all(out.as_bytes()).await;
            let _ = stream.write_all(&r.body).await;
            let _ = stream.shutdown().await;
        }
    });
    Canned { url, lines }
}

fn canned_client(server: &Canned, secret: &str) -> Client {
    Client::builder()
        .base_url(&server.url)
        .api_token(secret)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

const TOKEN_JSON: &str = r#"{"id":"TKN-1111-2222","name":"n","status":"Active"}"#;

/// Ids that would not stay in their path segment (`..` resolves to the parent path) are refused
/// before anything is sent; other odd characters are percent-encoded.
#[tokio::test]
async fn ids_that_would_leave_their_path_segment_are_refused_before_sending() {
    let server = canned(vec![reply(200, "application/json", TOKEN_JSON)]).await;
    let client = canned_client(&server, "s3cr3t-api-key");
    for id in [
        "", ".", "..", "a/b", "../x", "a?b", "a#b", "a\nb", "a\\b", "a\u{7f}",
    ] {
        let results = [
            client.get(id).await.map(|_| ()),
            client.delete(id).await,
            client.enable(id).await.map(|_| ()),
            client.disable(id).await.map(|_| ()),
            client
                .update(id, &TokenUpdate::new().name("x"))
                .await
                .map(|_| ()),
            client.get_with_select(id, ["-audit"]).await.map(|_| ()),
        ];
        for result in results {
            match result {
                Err(Error::InvalidRequest(message)) => {
                    assert!(message.contains("invalid token id"), "{id:?}: {message}")
                }
                other => panic!("{id:?}: {other:?}"),
            }
        }
    }
    assert!(server.lines.lock().unwrap().is_empty(), "nothing was sent");
    client.get("TKN 1%2e").await.unwrap();
    assert_eq!(
        server.lines.lock().unwrap().as_slice(),
        ["GET /public/v1/accounts/api-tokens/TKN%201%252e?select=-token HTTP/1.1"]
    );
}

/// The RQL filter goes raw into the query string of the generated list request (appended by
/// the hook layer), and one RQL cannot express is refused before anything is sent.
#[tokio::test]
async fn filters_reach_the_query_string_and_invalid_ones_are_never_sent() {
    let page = r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":0}},"data":[]}"#;
    let server = canned(vec![reply(200, "application/json", page)]).await;
    let client = canned_client(&server, "s3cr3t-api-key");
    let bad = Filter::name("x'\"),or(ne(name,\"");
    for result in [
        client
            .list()
            .filter(bad.clone())
            .collect()
            .await
            .map(|_| ()),
        client.list().filter(bad.clone()).count().await.map(|_| ()),
        client
            .list()
            .filter(Filter::any([]))
            .count()
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(Error::InvalidRequest(_))),
            "{result:?}"
        );
    }
    assert!(server.lines.lock().unwrap().is_empty(), "nothing was sent");
    client
        .list()
        .filter(Filter::status(TokenStatus::Active).and(Filter::account("ACC-1")))
        .order_by_desc(SortField::Name)
        .collect()
        .await
        .unwrap();
    client.list().filter(Filter::all([])).count().await.unwrap();
    assert_eq!(
        server.lines.lock().unwrap().as_slice(),
        [
            // (The URL parser percent-encodes `'` in http(s) query strings; the server decodes it.)
            "GET /public/v1/accounts/api-tokens?limit=100&offset=0&order=-name&select=-token&and(eq(status,%27Active%27),eq(account.id,%27ACC-1%27)) HTTP/1.1",
            "GET /public/v1/accounts/api-tokens?limit=0&offset=0&select=-token HTTP/1.1",
        ]
    );
}

/// Answers that echo secrets (in every problem field, JSON-escaped, percent-encoded, in HTML, the
/// client's own API secret whatever its shape): no error's Display or Debug shows any of them.
#[tokio::test]
async fn no_error_shows_a_secret_the_server_echoed() {
    let api = "plain_API-key.with/odd+chars";
    let created = "idt:TKN-1111-2222:Ab!$%cd~ef";
    let opaque = "Ab!$%cd~ef";
    let json_escaped = r"idt\u003aTKN-1111-2222\u003aAb!$%cd~ef";
    let percent = "idt%3ATKN-1111-2222%3AAb%21%24%25cd~ef";
    let api_percent = "plain_API-key.with%2Fodd%2Bchars";
    let problem = |status: u16| {
        serde_json::json!({
            "type": format!("https://x/{api}"), "title": format!("bad {created}"),
            "status": status, "detail": format!("{json_escaped} and {api}"),
            "instance": format!("/x?token={percent}"), "traceId": format!("00-{opaque}-00"),
            "errors": {"token": [created, api], api: ["x"]},
        })
        .to_string()
    };
    let list_problem = serde_json::json!({
        "status": 400, "errors": [{"message": format!("secret {created}"), "properties": [api]}]
    })
    .to_string();
    let create_answer =
        format!(r#"{{"id":"TKN-1111-2222","status":"Active","token":"{created}"}}"#);
    let replies = vec![
        // The create records the ids that already have this account and name: none.
        reply(
            200,
            "application/json",
            r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":0}},"data":[]}"#,
        ),
        reply(201, "application/json", create_answer),
        reply(400, "application/problem+json", problem(400)),
        reply(400, "application/problem+json", list_problem),
        reply(401, "application/problem+json", problem(401)),
        reply(404, "application/problem+json", problem(404)),
        reply(404, "text/html", format!("<p>{percent} {api_percent}</p>")),
        reply(429, "application/problem+json", problem(429)),
        reply(409, "application/problem+json", problem(409)),
        reply(403, "application/problem+json", problem(403)),
        reply(500, "application/problem+json", problem(500)),
        reply(
            502,
            "text/html",
            format!("<html>{percent} {created} {api}</html>"),
        ),
        reply(
            200,
            "application/json",
            format!(r#"{{"id": 5, "token": "{json_escaped}", "x": "{api}""#),
        ),
        reply(
            200,
            "application/json",
            format!(r#"{{"id": ["{created}", "{api}"]}}"#),
        ),
        reply(204, "application/json", format!("{created} {api}")),
    ];
    let count = replies.len() - 1;
    let server = canned(replies).await;
    let client = canned_client(&server, api);
    let made = client
        .create(&NewToken::new("ACC-1", "n").module("MOD-1"))
        .await
        .unwrap();
    assert_eq!(made.secret.expose_secret(), created);
    let mut texts = Vec::new();
    for _ in 0..count {
        let err = client.get("TKN-1111-2222").await.unwrap_err();
        texts.push(format!("{err}\n{err:?}"));
    }
    for text in &texts {
        for secret in [
            api,
            api_percent,
            opaque,
            "cd~ef",
            json_escaped,
            percent,
            "%3AAb",
        ] {
            assert!(!text.contains(secret), "{secret:?} leaked:\n{text}");
        }
    }
    // Each answer made a distinct kind of error.
    let kinds: HashSet<&str> = texts
        .iter()
        .map(|t| {
            t.lines()
                .last()
                .unwrap()
                .split(['(', ' ', '{'])
                .next()
                .unwrap()
        })
        .collect();
    assert!(kinds.len() >= 8, "{kinds:?}");
}

/// A response body larger than the bound is an error, and it is not read past the bound
/// (with and without a Content-Length).
#[tokio::test]
async fn response_bodies_are_bounded() {
    let big = vec![b' '; 50 * 1024 * 1024];
    let mut unsized_reply = reply(200, "application/json", vec![b' '; 300 * 1024]);
    unsized_reply.length = false;
    let server = canned(vec![
        reply(200, "application/json", big),
        unsized_reply.clone(),
        unsized_reply,
        reply(200, "application/json", TOKEN_JSON),
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
        .base_url(&server.url)
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

/// A password in the base URL never shows in Debug output or configuration errors.
#[tokio::test]
async fn a_base_url_password_never_shows() {
    let builder = Client::builder()
        .base_url("http://user:PASSWORD@127.0.0.1:9/")
        .api_token("k");
    assert!(!format!("{builder:?}").contains("PASSWORD"), "{builder:?}");
    let client = builder.build().unwrap();
    assert!(!format!("{client:?}").contains("PASSWORD"), "{client:?}");
    for url in ["ftp://user:PASSWORD@host/", "http://user:PASSWORD@[::1/"] {
        let err = Client::builder()
            .base_url(url)
            .api_token("k")
            .build()
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, Error::Config(_)), "{text}");
        assert!(!text.contains("PASSWORD"), "{text}");
    }
}

/// The generated client underneath is the facade's own: same auth, same hooks.
#[tokio::test]
async fn the_generated_client_underneath_carries_the_hook_layer() {
    let (server, client) = start().await;
    let seeded = server.seed_token(SeedToken::named("raw"));
    let token = client
        .api()
        .get_api_token()
        .id(seeded.id.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(token.name.as_deref(), Some("raw"));
    // Without hooks or an Authorization header, the raw client is refused.
    let bare = mpt_api::Client::new(server.base_url(), mpt_api::ClientState::default());
    let err = bare
        .get_api_token()
        .id(seeded.id.as_str())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
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

/// The first attempt of each idempotent operation reaches the server and loses its answer; the
/// retry must report the work this call did, not an error.
#[tokio::test]
async fn a_lost_answer_on_an_idempotent_operation_reports_what_this_call_did() {
    let lose_first =
        |op: Operation| Faults::none().with(FaultRule::once(Fault::DropAfterProcessing).only([op]));
    let server = MockServer::start().await.unwrap();
    let client = client_for(&server, fast_retries(3));

    // disable → the token, Disabled (not InvalidTransition).
    let t = server.seed_token(SeedToken::named("a"));
    server.set_faults(lose_first(Operation::Disable)).unwrap();
    let token = client.disable(t.id.as_str()).await.unwrap();
    assert_eq!(token.status(), TokenStatus::Disabled);
    assert_eq!(
        server.requests(Operation::Disable),
        2,
        "the answer was lost once"
    );

    // enable → the token, Active.
    server.set_faults(lose_first(Operation::Enable)).unwrap();
    let token = client.enable(t.id.as_str()).await.unwrap();
    assert_eq!(token.status(), TokenStatus::Active);

    // ensure_disabled → Unconfirmed: the retry was refused, and the answers cannot tell this
    // call's lost attempt from another caller's change (not Unchanged, not Changed).
    server.set_faults(lose_first(Operation::Disable)).unwrap();
    let outcome = client.ensure_disabled(t.id.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Unconfirmed(_)), "{outcome:?}");
    assert_eq!(outcome.into_token().status(), TokenStatus::Disabled);

    // delete → Ok (not NotFound); delete_if_exists → true.
    server.set_faults(lose_first(Operation::Delete)).unwrap();
    client.delete(t.id.as_str()).await.unwrap();
    assert_eq!(server.token_status(&t.id).as_deref(), Some("Deleted"));
    let u = server.seed_token(SeedToken::named("b"));
    server.set_faults(lose_first(Operation::Delete)).unwrap();
    assert!(
        client.delete_if_exists(u.id.as_str()).await.unwrap(),
        "this call deleted it"
    );

    // The bulk report says this call did it.
    let many: Vec<_> = (0..4)
        .map(|i| server.seed_token(SeedToken::named(format!("m{i}"))))
        .collect();
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::first(2, Fault::DropAfterProcessing).only([Operation::Disable])),
        )
        .unwrap();
    let report = client
        .ensure_disabled_many(many.iter().map(|t| t.id.as_str()), 2)
        .await;
    let outcomes = report.into_result().unwrap();
    // Two answers lost: those two are Unconfirmed, the others Changed; every one Disabled.
    let unconfirmed = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Unconfirmed(_)))
        .count();
    assert_eq!(unconfirmed, 2, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|(_, o)| o.token().status() == TokenStatus::Disabled)
    );
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::first(2, Fault::DropAfterProcessing).only([Operation::Delete])),
        )
        .unwrap();
    let report = client
        .delete_many(many.iter().map(|t| t.id.as_str()), 2)
        .await;
    assert!(
        report
            .into_result()
            .unwrap()
            .iter()
            .all(|(_, deleted)| *deleted)
    );
}

/// A state outside the lifecycle (the platform may add e.g. `Expired`) is never `Ok`.
#[tokio::test]
async fn ensure_never_returns_ok_with_a_token_outside_the_wanted_state() {
    let (server, client) = start().await;
    let expired = server.seed_token(SeedToken::named("old").with_status("Expired"));
    for result in [
        client.ensure_active(expired.id.as_str()).await,
        client.ensure_disabled(expired.id.as_str()).await,
    ] {
        match result {
            Err(Error::UnexpectedState { id, status }) => {
                assert_eq!(id, expired.id);
                assert_eq!(status, TokenStatus::Unknown("Expired".into()));
            }
            other => panic!("{other:?}"),
        }
    }
    let gone = server.seed_token(SeedToken::named("gone").with_status("Deleted"));
    let token = client
        .list()
        .filter(Filter::id(&gone.id))
        .collect()
        .await
        .unwrap();
    assert!(token.is_empty() || token[0].status() == TokenStatus::Deleted);
}

/// Every operation and bulk call takes the same token argument, owned or borrowed.
#[tokio::test]
async fn every_call_takes_ids_and_tokens_owned_or_borrowed() {
    let (server, client) = start().await;
    let created = client.create(&new_token("forms")).await.unwrap();
    let token = client.get(&created).await.unwrap();
    client.get(&token).await.unwrap();
    client.get(token.clone()).await.unwrap();
    client.get(token.id().to_string()).await.unwrap();
    client.disable(&created).await.unwrap();
    let token = client.get(token.id()).await.unwrap();
    let report = client.ensure_active_many([&token], 2).await;
    assert!(report.is_complete());
    let report = client.ensure_disabled_many(vec![token.clone()], 2).await;
    assert!(report.is_complete());
    let report = client.delete_many(&[token.id()], 2).await;
    assert_eq!(
        report.into_result().unwrap(),
        [(token.id().to_string(), true)]
    );
    let _ = server;
}

/// Reads leave the secret out unless asked; an empty update sends nothing.
#[tokio::test]
async fn secrets_travel_only_when_asked_and_empty_updates_send_nothing() {
    let (server, client) = start().await;
    let created = client.create(&new_token("quiet")).await.unwrap();
    let secret = created.secret.expose_secret();
    assert!(client.get(&created).await.unwrap().secret().is_none());
    assert!(
        client
            .list()
            .collect()
            .await
            .unwrap()
            .iter()
            .all(|t| t.secret().is_none()),
        "list leaves secrets out"
    );
    let with = client.get_with_secret(&created).await.unwrap();
    assert_eq!(with.secret().unwrap().expose_secret(), secret);
    let listed = client.list().with_secrets().collect().await.unwrap();
    assert_eq!(listed[0].secret().unwrap().expose_secret(), secret);

    let before = server.requests(Operation::Update);
    let err = client
        .update(&created, &TokenUpdate::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert_eq!(
        server.requests(Operation::Update),
        before,
        "nothing was sent"
    );
    let err = client
        .update(&created, &TokenUpdate::new().name("bad/name"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("name: '/' is not allowed"),
        "{err}"
    );
}

/// On a server that answers no-ops with 200, a client told so never claims a change it cannot
/// prove: already there is `Unchanged` (nothing sent), a 200 is `Unconfirmed`, and 200
/// concurrent calls on one token report no `Changed` at all (before: 200 × `Changed`).
#[tokio::test]
async fn a_200_noop_is_never_reported_as_this_calls_change() {
    let server = MockServer::builder()
        .noop_transitions(NoopTransitions::Accepted)
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token(server.admin_secret())
        .retry(fast_retries(3))
        .noop_transitions(mpt::NoopTransitions::Accepted)
        .build()
        .unwrap();
    let disabled = server.seed_token(SeedToken::named("off").with_status("Disabled"));
    let outcome = client.ensure_disabled(disabled.id.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Unchanged(_)), "{outcome:?}");
    assert_eq!(server.requests(Operation::Disable), 0, "nothing was sent");

    let active = server.seed_token(SeedToken::named("on"));
    let outcome = client.ensure_disabled(active.id.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Unconfirmed(_)), "{outcome:?}");
    assert_eq!(outcome.into_token().status(), TokenStatus::Disabled);

    let racy = server.seed_token(SeedToken::named("racy"));
    let calls = (0..200).map(|_| client.ensure_disabled(racy.id.as_str()));
    let outcomes: Vec<Outcome> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(outcomes.iter().filter(|o| o.changed()).count(), 0);
    assert!(
        outcomes
            .iter()
            .all(|o| o.token().status() == TokenStatus::Disabled)
    );
    assert_eq!(
        server.token_revision(&racy.id),
        Some(2),
        "one change happened"
    );
    let report = client
        .ensure_disabled_many([racy.id.as_str(), disabled.id.as_str()], 2)
        .await;
    assert!(
        report
            .succeeded()
            .all(|(_, o)| matches!(o, Outcome::Unchanged(_)))
    );
}

/// What the facade sends, as the mock recorded it: the secret never in it, the user agent set,
/// and a fault aimed at one token of a bulk call hits that token only.
#[tokio::test]
async fn the_mock_records_what_the_facade_sends() {
    let (server, client) = start().await;
    let tokens: Vec<_> = (0..3)
        .map(|i| server.seed_token(SeedToken::named(format!("r{i}"))))
        .collect();
    server
        .set_faults(
            Faults::none().with(
                FaultRule::once(Fault::DropAfterProcessing)
                    .only([Operation::Disable])
                    .for_token(tokens[1].id.clone()),
            ),
        )
        .unwrap();
    server.clear_recorded();
    let report = client
        .ensure_disabled_many(tokens.iter().map(|t| t.id.as_str()), 1)
        .await;
    let outcomes = report.into_result().unwrap();
    // The one whose answer was lost is Unconfirmed; the others Changed.
    assert!(outcomes[0].1.changed() && outcomes[2].1.changed());
    assert!(matches!(outcomes[1].1, Outcome::Unconfirmed(_)));
    let disables: Vec<_> = server
        .recorded()
        .into_iter()
        .filter(|r| r.path.ends_with("/disable"))
        .collect();
    assert_eq!(disables.len(), 4, "three disables, one sent twice");
    assert_eq!(
        disables
            .iter()
            .filter(|r| r.path.contains(&tokens[1].id))
            .count(),
        2
    );
    for r in &disables {
        assert_eq!(r.method, "POST");
        assert!(r.header("user-agent").unwrap().starts_with("mpt/"));
        assert_eq!(r.header("authorization"), Some("[REDACTED]"));
    }
}
