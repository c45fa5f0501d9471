//! Enable, disable and delete, and the `ensure_*` helpers: idempotent under either no-op answer,
//! guarded by known state, and reporting `Changed` only with evidence that this call changed the
//! token.

use crate::common::*;

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
    // A 2xx whose body is cut off: the platform did it.
    let w = server.seed_token(SeedToken::named("c"));
    server
        .set_faults(
            Faults::none().with(FaultRule::once(Fault::MalformedJson).only([Operation::Delete])),
        )
        .unwrap();
    client.delete(w.id.as_str()).await.unwrap();
    assert_eq!(server.token_status(&w.id).as_deref(), Some("Deleted"));

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

/// A token already Disabled whose first disable answer would be lost: `Unchanged`, its
/// revision unmoved (not `Changed`).
#[tokio::test]
async fn an_already_disabled_token_is_unchanged_even_when_answers_are_lost() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let t = server.seed_token(SeedToken::named("off").with_status("Disabled"));
    let revision = server.token_revision(&t.id);
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Disable])),
        )
        .unwrap();
    let outcome = client.ensure_disabled(t.id.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Unchanged(_)), "{outcome:?}");
    assert_eq!(server.token_revision(&t.id), revision);
}

/// A client on `Refused` talking to a server that answers no-ops with 200 never reports a
/// no-op as `Changed`.
#[tokio::test]
async fn a_refused_client_on_an_accepting_server_reports_no_false_change() {
    let server = MockServer::builder()
        .noop_transitions(mpt_mock::NoopTransitions::Accepted)
        .start()
        .await
        .unwrap();
    let client = admin(&server);
    let t = server.seed_token(SeedToken::named("off").with_status("Disabled"));
    let outcome = client.ensure_disabled(t.id.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Unchanged(_)), "{outcome:?}");
    let u = server.seed_token(SeedToken::named("on"));
    let outcome = client.ensure_disabled(u.id.as_str()).await.unwrap();
    assert!(outcome.changed(), "{outcome:?}");
}

/// Every attempt's answer lost: `disable` reads the token back and returns it Disabled;
/// `ensure_disabled` says `Unconfirmed`; and when the read fails too, the error says the change
/// may have happened (`OutcomeUnknown`), not just "connection closed".
#[tokio::test]
async fn an_answer_lost_on_every_attempt_is_resolved_by_a_read() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let lose_all = |ops: &[Operation]| {
        Faults::none().with(FaultRule::every(1, Fault::DropAfterProcessing).only(ops.to_vec()))
    };
    let t = server.seed_token(SeedToken::named("a"));
    server.set_faults(lose_all(&[Operation::Disable])).unwrap();
    let token = client.disable(t.id.as_str()).await.unwrap();
    assert_eq!(token.status(), TokenStatus::Disabled);

    let u = server.seed_token(SeedToken::named("b"));
    let outcome = client.ensure_disabled(u.id.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Unconfirmed(_)), "{outcome:?}");
    assert_eq!(server.token_status(&u.id).as_deref(), Some("Disabled"));

    let v = server.seed_token(SeedToken::named("c"));
    server
        .set_faults(lose_all(&[Operation::Disable, Operation::Get]))
        .unwrap();
    let err = client.disable(v.id.as_str()).await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot tell whether"), "{err}");

    // A 200 whose body is cut off: the change happened; the token is read back.
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::every(1, Fault::MalformedJson).only([Operation::Enable])),
        )
        .unwrap();
    let outcome = client.ensure_active(t.id.as_str()).await.unwrap();
    assert!(outcome.changed(), "{outcome:?}");
    assert_eq!(outcome.token().status(), TokenStatus::Active);
}

/// `408 Request Timeout` and `425 Too Early` say the server did not act on the request (RFC 9110
/// 15.5.9, RFC 8470 5.2): a read, a disable, an `ensure_*` and a create are sent again within the
/// retry policy's attempts, and succeed; when every attempt gets one, the error is
/// `NotProcessed` with its status (retryable, not landed), never `BadRequest`.
#[tokio::test]
async fn a_408_or_425_is_retried_as_not_processed() {
    for status in [408, 425] {
        let server = MockServer::start().await.unwrap();
        let client = admin(&server);
        let first =
            |op: Operation| Faults::none().with(FaultRule::once(Fault::Status(status)).only([op]));
        let t = server.seed_token(SeedToken::named("a"));

        server.set_faults(first(Operation::Get)).unwrap();
        let read = client.get(t.id.as_str()).await.unwrap();
        assert_eq!(read.status(), TokenStatus::Active, "{status}");
        assert_eq!(server.requests(Operation::Get), 2, "{status}");

        server.set_faults(first(Operation::Disable)).unwrap();
        let token = client.disable(t.id.as_str()).await.unwrap();
        assert_eq!(token.status(), TokenStatus::Disabled, "{status}");
        assert_eq!(server.token_status(&t.id).as_deref(), Some("Disabled"));

        // Not processed: the retry's 2xx is this call's change.
        server.set_faults(first(Operation::Enable)).unwrap();
        let outcome = client.ensure_active(t.id.as_str()).await.unwrap();
        assert!(outcome.changed(), "{status}: {outcome:?}");
        assert_eq!(server.token_status(&t.id).as_deref(), Some("Active"));

        // Even a create: nothing was made by the refused attempt; exactly one token is.
        server.set_faults(first(Operation::Create)).unwrap();
        let made = client
            .create(
                &NewToken::new(DEFAULT_ACCOUNT, format!("made-{status}")).module(DEFAULT_MODULE),
            )
            .await
            .unwrap();
        assert_eq!(server.tokens_created(), 1, "{status}");
        assert_eq!(
            server.token_status(made.token.id()).as_deref(),
            Some("Active")
        );

        // Every attempt refused so: three attempts (the policy's), then the status named.
        server
            .set_faults(
                Faults::none()
                    .with(FaultRule::every(1, Fault::Status(status)).only([Operation::Disable])),
            )
            .unwrap();
        let before = server.requests(Operation::Disable);
        let err = client.disable(t.id.as_str()).await.unwrap_err();
        assert!(matches!(err, Error::NotProcessed(_)), "{status}: {err:?}");
        assert_eq!(err.status(), Some(status));
        assert!(
            err.is_retryable() && !err.may_have_reached_server(),
            "{err:?}"
        );
        assert_eq!(server.requests(Operation::Disable) - before, 3, "{status}");
        assert_eq!(server.token_status(&t.id).as_deref(), Some("Active"));
    }
}

/// A disable processed but answered `504` (a gateway lost the answer), whose retry is refused
/// (`… is Disabled; it cannot be disabled.`), and every read-back `504` too: the refusal's own
/// words are the evidence of the state, so `ensure_disabled_many` reports `Unconfirmed`
/// (Disabled), never a `BadRequest` row, and the mock shows it Disabled; a plain `disable`
/// says the outcome is unknown (it has no token to return); a delete is done (`Ok`).
#[tokio::test]
async fn a_lost_answer_then_a_refusal_saying_so_is_not_a_failure_when_the_read_back_fails() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let lost_then_unreadable = |op: Operation, id: &str| {
        Faults::none()
            .with(
                FaultRule::once(Fault::StatusAfterProcessing(504))
                    .only([op])
                    .for_token(id),
            )
            .with(FaultRule::every(1, Fault::Status(504)).only([Operation::Get]))
    };
    let t = server.seed_token(SeedToken::named("a"));
    server
        .set_faults(lost_then_unreadable(Operation::Disable, &t.id))
        .unwrap();
    let report = client.ensure_disabled_many([t.id.as_str()], 4).await;
    let rows: Vec<_> = report.iter().collect();
    assert_eq!(rows.len(), 1);
    match rows[0].1 {
        Ok(Outcome::Unconfirmed(token)) => assert_eq!(token.status(), TokenStatus::Disabled),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.token_status(&t.id).as_deref(), Some("Disabled"));
    assert_eq!(server.requests(Operation::Disable), 2);

    let u = server.seed_token(SeedToken::named("b"));
    server
        .set_faults(lost_then_unreadable(Operation::Disable, &u.id))
        .unwrap();
    let err = client.disable(u.id.as_str()).await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(server.token_status(&u.id).as_deref(), Some("Disabled"));

    let v = server.seed_token(SeedToken::named("c"));
    server
        .set_faults(lost_then_unreadable(Operation::Delete, &v.id))
        .unwrap();
    client.delete(v.id.as_str()).await.unwrap();
    assert_eq!(server.token_status(&v.id).as_deref(), Some("Deleted"));
}
