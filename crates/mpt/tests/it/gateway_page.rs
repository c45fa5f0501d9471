//! A gateway that answers `200 OK` with its own HTML page in the platform's place, without
//! passing the request on (`Fault::HtmlPage(200)`): never taken for the platform's answer. An
//! idempotent request is sent again within the retry policy, a create is not (read back as
//! unconfirmed), and when every attempt gets the page, the error names its status and media
//! type; every result matches the mock's state after.

use crate::common::*;

/// Every request of `op` answered with the page, or only the first `times`.
fn page(op: Operation, times: Option<u64>) -> Faults {
    let rule = FaultRule::every(1, Fault::HtmlPage(200)).only([op]);
    Faults::none().with(match times {
        Some(n) => rule.times(n),
        None => rule,
    })
}

/// The error every attempt's page ends in: named, with its status, never the platform's.
fn assert_foreign(err: &Error) {
    assert!(
        matches!(err, Error::ForeignAnswer { status: 200, media_type, .. } if media_type == "text/html"),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(200));
    assert!(err.is_retryable() && err.may_have_reached_server());
    let shown = err.to_string();
    assert!(
        shown.starts_with("200 OK with text/html, not the platform's JSON: a gateway's page?")
            && shown.contains("<!DOCTYPE html>"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_page_answering_a_change_is_sent_again_and_named_when_it_persists() {
    let (server, client) = start().await;
    let t = server.seed_token(SeedToken::named("a"));
    // Once: the disable goes again and is done.
    server
        .set_faults(page(Operation::Disable, Some(1)))
        .unwrap();
    let outcome = client.ensure_disabled(t.id.as_str()).await.unwrap();
    assert_eq!(
        outcome.token().status(),
        TokenStatus::Disabled,
        "{outcome:?}"
    );
    assert_eq!(server.requests(Operation::Disable), 2);
    assert_eq!(server.token_status(&t.id).as_deref(), Some("Disabled"));

    // Every time: three attempts, then the page named; the token read back is still Active.
    server.set_faults(page(Operation::Enable, None)).unwrap();
    let err = client.ensure_active(t.id.as_str()).await.unwrap_err();
    assert_foreign(&err);
    assert_eq!(server.requests(Operation::Enable), 3);
    assert_eq!(server.token_status(&t.id).as_deref(), Some("Disabled"));
    let err = client.enable(t.id.as_str()).await.unwrap_err();
    assert_foreign(&err);
    assert_eq!(server.requests(Operation::Enable), 6);

    // An update too.
    server.set_faults(page(Operation::Update, Some(1))).unwrap();
    let update = TokenUpdate::new().description("changed");
    let updated = client.update(t.id.as_str(), &update).await.unwrap();
    assert_eq!(updated.description(), Some("changed"));
    assert_eq!(server.requests(Operation::Update), 2);
}

#[tokio::test]
async fn a_page_answering_a_delete_is_not_taken_for_done() {
    let (server, client) = start().await;
    let t = server.seed_token(SeedToken::named("a"));
    server.set_faults(page(Operation::Delete, Some(1))).unwrap();
    client.delete(t.id.as_str()).await.unwrap();
    assert_eq!(server.requests(Operation::Delete), 2);
    assert_eq!(server.token_status(&t.id).as_deref(), Some("Deleted"));

    let u = server.seed_token(SeedToken::named("b"));
    server.set_faults(page(Operation::Delete, None)).unwrap();
    let err = client.delete(u.id.as_str()).await.unwrap_err();
    assert_foreign(&err);
    assert_eq!(server.token_status(&u.id).as_deref(), Some("Active"));
}

#[tokio::test]
async fn a_page_answering_a_read_is_read_again_and_named_when_it_persists() {
    let (server, client) = start().await;
    let t = server.seed_token(SeedToken::named("a"));
    server.set_faults(page(Operation::Get, Some(2))).unwrap();
    assert_eq!(client.get(t.id.as_str()).await.unwrap().id(), t.id);
    assert_eq!(server.requests(Operation::Get), 3);
    server.set_faults(page(Operation::Get, None)).unwrap();
    assert_foreign(&client.get(t.id.as_str()).await.unwrap_err());
    assert_eq!(server.requests(Operation::Get), 6);

    server.set_faults(page(Operation::List, None)).unwrap();
    assert_foreign(&client.list().count().await.unwrap_err());
    assert_eq!(server.requests(Operation::List), 3);
}

#[tokio::test]
async fn a_page_answering_a_create_is_not_sent_again() {
    let (server, client) = start().await;
    server.set_faults(page(Operation::Create, None)).unwrap();
    let err = client.create(&new_token("made")).await.unwrap_err();
    let Error::CreateUnconfirmed {
        candidates, source, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    // The gateway passed nothing on: nothing was made, and the read back shows none.
    assert!(candidates.is_empty(), "{err}");
    assert_foreign(source);
    assert_eq!(server.requests(Operation::Create), 1);
    assert_eq!(server.tokens_created(), 0);
}

/// The finding: 1 request in 50 answered with the page, over a bulk `ensure_disabled`: every id
/// Disabled, on the report and on the mock.
#[tokio::test]
async fn a_bulk_disable_through_an_occasional_page_ends_with_every_id_disabled() {
    let server = MockServer::start().await.unwrap();
    let ids = seeded_ids(&server, 150, "g", DEFAULT_ACCOUNT);
    server
        .set_faults(Faults::none().with(FaultRule::every(7, Fault::HtmlPage(200))))
        .unwrap();
    let client = admin(&server);
    let report = client
        .ensure_disabled_many(ids.iter().map(String::as_str), 1)
        .await;
    let outcomes = report.into_result().unwrap();
    assert_eq!(outcomes.len(), ids.len());
    for id in &ids {
        assert_eq!(server.token_status(id).as_deref(), Some("Disabled"), "{id}");
    }
    assert!(server.requests(Operation::Disable) > ids.len() as u64);

    // A page for every other request, 8 at a time: some ids get it on every attempt. Each
    // result matches the mock: a success is Disabled; a failure names the page (its change's,
    // or its read's) and is Active.
    let more = seeded_ids(&server, 60, "h", DEFAULT_ACCOUNT);
    server
        .set_faults(Faults::none().with(FaultRule::every(2, Fault::HtmlPage(200))))
        .unwrap();
    let report = client
        .ensure_disabled_many(more.iter().map(String::as_str), 8)
        .await;
    for (id, result) in report.iter() {
        let state = server.token_status(id);
        match result {
            Ok(outcome) => {
                assert_eq!(outcome.token().status(), TokenStatus::Disabled, "{id}");
                assert_eq!(state.as_deref(), Some("Disabled"), "{id}");
            }
            // The read back got the page too: it may have happened (it did not).
            Err(Error::OutcomeUnknown { source, read, .. }) => {
                assert_foreign(source);
                assert_foreign(read);
                assert_eq!(state.as_deref(), Some("Active"), "{id}");
            }
            Err(e) => {
                assert_foreign(e);
                assert_eq!(state.as_deref(), Some("Active"), "{id}: {e}");
            }
        }
    }
}
