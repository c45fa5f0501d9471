//! A create answered `429` after the platform made the token (a gateway on the answer's
//! path): never sent again blindly. With a marker, the token carrying it is the answer; without
//! one, the token that appeared is reported, not doubled. A `429` before any work: sent again,
//! and the refused send counted ([`mpt::CreatedToken::other_sends`]): it may still land.

use crate::common::*;

fn marked(marker: &str) -> mpt::NewToken {
    mpt::NewToken::new(DEFAULT_ACCOUNT, "svc")
        .modules([DEFAULT_MODULE])
        .description(mpt::marked_description(Some("ci"), marker))
}

fn faulted(server: &MockServer, fault: Fault) {
    let rule = FaultRule::once(fault).only([Operation::Create]);
    let faults = Faults {
        rules: vec![rule],
        ..Faults::default()
    };
    server.set_faults(faults).unwrap();
}

#[tokio::test]
async fn a_marked_create_answered_429_after_the_work_is_adopted_not_doubled() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    faulted(&server, Fault::StatusAfterProcessing(429));
    let marker = mpt::new_marker().unwrap();
    let made = client.create(&marked(&marker)).await;
    assert_eq!(server.tokens_created(), 1, "{made:?}");
    let made = made.unwrap();
    assert_eq!(
        server.token_status(made.token.id()).as_deref(),
        Some("Active")
    );
    // Sent once: nothing else of it can land.
    assert_eq!(made.other_sends, 0);
}

#[tokio::test]
async fn a_plain_create_answered_429_after_the_work_is_reported_not_doubled() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    faulted(&server, Fault::StatusAfterProcessing(429));
    let new = mpt::NewToken::new(DEFAULT_ACCOUNT, "svc").modules([DEFAULT_MODULE]);
    let err = client.create(&new).await.unwrap_err();
    assert_eq!(server.tokens_created(), 1, "{err:?}");
    match err {
        Error::CreateUnconfirmed { candidates, .. } => assert_eq!(candidates.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_marked_create_refused_429_before_any_work_is_sent_again() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    faulted(&server, Fault::Status(429));
    let marker = mpt::new_marker().unwrap();
    let made = client.create(&marked(&marker)).await.unwrap();
    assert_eq!(server.tokens_created(), 1);
    assert!(made.token.description().unwrap().contains(&marker));
    // The refused send is said: a gateway that answered so may still forward it.
    assert_eq!(server.requests(Operation::Create), 2);
    assert_eq!(made.other_sends, 1);
}

#[tokio::test]
async fn a_marked_create_answered_503_after_the_work_is_adopted_not_doubled() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    faulted(&server, Fault::StatusAfterProcessing(503));
    // No `Retry-After`: not sent again whatever the look finds; here it finds the token.
    let marker = mpt::new_marker().unwrap();
    let made = client.create(&marked(&marker)).await;
    assert_eq!(server.tokens_created(), 1, "{made:?}");
    assert!(made.unwrap().token.description().unwrap().contains(&marker));
}
