//! Load shed: a `503` (with a `Retry-After` or without) and a connection closed before an
//! answer are throttling signals the pacer learns from.

use super::*;

/// A `503` with `Retry-After` is throttling too (the pacer reacted to `429` only): it cuts the
/// pace, and a wait longer than a rounding, asked again at the pace halved since (the platform
/// refuses everything), holds every send. A bare `503` (load shed) asks for no wait: it holds
/// nothing, but it cuts the pace as a bare `429` does (it did not slow the pacer at all).
#[tokio::test]
async fn a_503_with_retry_after_holds_the_pacer_and_a_bare_one_cuts_it() {
    let pacer = Pacer::new(Pacing::Adaptive);
    observe(&pacer, 503, &[("retry-after", "3")]).await;
    assert!(pacer.rate().is_some(), "the rate was cut");
    for _ in 0..2 {
        observe(&pacer, 503, &[("retry-after", "3")]).await;
    }
    assert!(pacer.lock().of("").held_until.is_some());
    let plain = Pacer::new(Pacing::Adaptive);
    observe(&plain, 503, &[]).await;
    assert!(plain.lock().of("").held_until.is_none(), "no wait asked");
    assert!(plain.rate().is_some(), "a bare 503 cuts the pace");
}

/// A connection closed or reset before an answer (a gateway shedding load instead of
/// answering `429`) cuts the pace, through the hook layer, as a refusal does; the pacer learned
/// nothing from it before.
#[tokio::test]
async fn a_connection_closed_before_an_answer_cuts_the_pace() {
    use mpt_mock::{Scripted, ScriptedServer};
    let token = r#"{"id":"TKN-1111-2222","name":"n","status":"Active"}"#;
    for drop in [Scripted::dropped, Scripted::reset] {
        let script = vec![drop(), Scripted::answer(200, "application/json", token)];
        let server = ScriptedServer::start(script).await.unwrap();
        let client = crate::Client::builder()
            .base_url(server.base_url())
            .api_token("s3cr3t-api-key")
            .build()
            .unwrap();
        client.get("TKN-1111-2222").await.unwrap();
        assert_eq!(server.request_lines().len(), 2);
        assert!(client.layer().pacer.rate().is_some(), "the pace was cut");
    }
}
