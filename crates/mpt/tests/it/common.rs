//! What every test here shares: the imports, clients of the mock and of a scripted server, and
//! fast retries.

pub use std::collections::{HashMap, HashSet};
pub use std::sync::{Arc, Mutex};
pub use std::time::{Duration, Instant};

pub use futures_util::{StreamExt, TryStreamExt};
pub use mpt::{
    Action, Client, Error, Filter, NewToken, Outcome, RetryPolicy, RotationPhase, RotationPlan,
    SortField, TokenStatus, TokenUpdate,
};
pub use mpt_mock::{
    DEFAULT_ACCOUNT, DEFAULT_MODULE, Fault, FaultRule, Faults, KNOWN_MODULES, MockServer,
    NoopTransitions, OPERATIONS_ACCOUNT, Operation, Scripted, ScriptedServer, SeedToken,
    VENDOR_ACCOUNT,
};

/// Retries `attempts` times, quickly.
pub fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::attempts(attempts)
    }
}

/// A client of the mock with its admin (Operations) secret and `retry`.
pub fn client_for(server: &MockServer, retry: RetryPolicy) -> Client {
    Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .retry(retry)
        .build()
        .unwrap()
}

/// A client of the mock with its admin secret and three quick attempts.
pub fn admin(server: &MockServer) -> Client {
    client_for(server, fast_retries(3))
}

/// A fresh mock and its admin client.
pub async fn start() -> (MockServer, Client) {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    (server, client)
}

/// A create of `name` in the default account with the default module.
pub fn new_token(name: &str) -> NewToken {
    NewToken::new(DEFAULT_ACCOUNT, name)
        .module(DEFAULT_MODULE)
        .description("made by a test")
}

/// A client of a scripted server (for answers the mock never gives), without retries.
pub fn canned_client(server: &ScriptedServer, secret: &str) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .api_token(secret)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// A scripted server answering with `replies` in turn (the last one again once they run out).
pub async fn canned(replies: Vec<Scripted>) -> ScriptedServer {
    ScriptedServer::start(replies).await.unwrap()
}

/// A scripted server answering every request with `status`, `headers` and a JSON `body`.
pub async fn answering(status: u16, headers: &[(&str, &str)], body: String) -> ScriptedServer {
    let answer = with_headers(Scripted::answer(status, "application/json", body), headers);
    ScriptedServer::start(vec![answer]).await.unwrap()
}

/// `answer` with these headers added.
pub fn with_headers(answer: Scripted, headers: &[(&str, &str)]) -> Scripted {
    headers
        .iter()
        .fold(answer, |answer, (name, value)| answer.header(*name, *value))
}

/// A token answered `200` with these headers.
pub fn token_answer(headers: &[(&str, &str)]) -> Scripted {
    with_headers(
        Scripted::answer(200, "application/json", TOKEN_JSON),
        headers,
    )
}

/// A client of a scripted server with `retry` and a call wait budget of `max_wait`.
pub fn scripted(server: &ScriptedServer, retry: RetryPolicy, max_wait: Duration) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .retry(retry)
        .max_wait(max_wait)
        .build()
        .unwrap()
}

/// A module's generated client (`new` is its `Client::new_with_client`) at `base_url` with
/// `client`'s hook layer installed: the generated client `client.api()` is, for another module
/// (the same hooks, the same `reqwest::Client`).
pub fn with_hooks<C>(
    client: &Client,
    base_url: &str,
    new: fn(&str, reqwest::Client, mpt_api::ClientState) -> C,
) -> C {
    use mpt::mpt_api::ClientInfo;
    let api = client.api();
    new(
        base_url,
        ClientInfo::client(api).clone(),
        ClientInfo::inner(api).clone(),
    )
}

/// A download's bytes (a generated call answering a byte stream), read whole, or the error
/// that cut them off.
pub async fn bytes_of<E: std::fmt::Debug>(
    answer: Result<mpt_api::accounts::ResponseValue<mpt_api::accounts::ByteStream>, E>,
) -> reqwest::Result<Vec<u8>> {
    answer
        .expect("a 200 answer")
        .into_inner_stream()
        .try_fold(Vec::new(), |mut bytes, chunk| async move {
            bytes.extend_from_slice(&chunk);
            Ok(bytes)
        })
        .await
}

/// The mock with a rate limit (`rate` as `RateLimit::parse` reads it, and its burst), stated in
/// `dialect`.
pub async fn rate_limited(rate: &str, burst: u32, dialect: mpt_mock::RateDialect) -> MockServer {
    MockServer::builder()
        .rate_limit(mpt_mock::RateLimit::parse(rate, burst).unwrap())
        .rate_dialect(dialect)
        .start()
        .await
        .unwrap()
}

/// Seeds `n` tokens named from `prefix` in `account`: their ids.
pub fn seeded_ids(server: &MockServer, n: usize, prefix: &str, account: &str) -> Vec<String> {
    server
        .seed_tokens(n, prefix, account)
        .into_iter()
        .map(|t| t.id)
        .collect()
}

/// A token as the API answers it.
pub const TOKEN_JSON: &str = r#"{"id":"TKN-1111-2222","name":"n","status":"Active"}"#;
