//! What every test here shares: the imports, clients of the mock, fast retries, temporary
//! directories.

pub use std::sync::{Arc, Mutex};
pub use std::time::Duration;

pub use futures_util::{StreamExt, TryStreamExt};
pub use mpt::{Client, Filter, RetryPolicy, RotationPlan, TokenStatus, TokenUpdate};
pub use mpt_mock::{
    DEFAULT_ACCOUNT, DEFAULT_MODULE, Fault, FaultRule, Faults, KNOWN_MODULES, MockServer,
    NoopTransitions, Operation, Scripted, ScriptedServer, SeedToken, VENDOR_ACCOUNT,
};
pub use mpt_policy::PolicyClient;

/// Retries `attempts` times, quickly.
pub fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::attempts(attempts)
    }
}

/// A client of the mock with its admin (Operations) secret and three quick attempts.
pub fn admin(server: &MockServer) -> Client {
    Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .retry(fast_retries(3))
        .build()
        .unwrap()
}

/// A fresh mock and its admin client.
pub async fn start() -> (MockServer, Client) {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    (server, client)
}

/// A fresh directory under the system's temporary one.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mpt-apply-{tag}-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
