//! A spent remainder with a request in flight that is never answered: the sends waiting for an
//! answer to restate it are not held until that request's timeout.

use super::*;

/// A remainder of one request of a 10 s window's quota: the second request spends it and is
/// never answered (the server keeps its connection open); the third waits for an answer to
/// restate the remainder, and after a bound well below the 20 s timeout goes alone (it waited
/// for the second one's timeout: 20 s, or forever with no timeout). Its answer restates the
/// remainder, and the second one is still unanswered when it is served.
#[tokio::test]
async fn a_request_never_answered_does_not_hold_the_spent_remainder_s_sends() {
    use mpt_mock::{Scripted, ScriptedServer};
    let token = r#"{"id":"TKN-1111-2222","name":"n","status":"Active"}"#;
    let stated = |left: &str| {
        Scripted::answer(200, "application/json", token)
            .header("ratelimit-limit", "100")
            .header("ratelimit-remaining", left)
            .header("ratelimit-reset", "10")
            .header("ratelimit-policy", "100;w=10")
    };
    let script = vec![stated("1"), Scripted::held(), stated("50")];
    let server = ScriptedServer::start(script).await.unwrap();
    let client = crate::Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .timeout(Duration::from_secs(20))
        .retry(crate::RetryPolicy::none())
        .build()
        .unwrap();
    client.get("TKN-1111-2222").await.unwrap();
    let lost = tokio::spawn({
        let client = client.clone();
        async move { client.get("TKN-1111-2222").await }
    });
    // Until the server has read the second request (bounded: 1,000 looks).
    for _ in 0..1_000 {
        if server.request_lines().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.request_lines().len(), 2, "the second request went");
    client.get("TKN-1111-2222").await.unwrap();
    assert!(
        !lost.is_finished(),
        "the third waited for the second's timeout"
    );
    assert_eq!(server.request_lines().len(), 3);
    lost.abort();
}
