//! Tokens as code, carried out: `Client::apply` against the mock in both no-op modes, with
//! its results checked against the server's final state: converging (`converge`), resuming
//! after crashes, failing sinks and interrupts (`resume`), and under faults (`faults`). The
//! helpers they share are here.

mod clocks;
mod converge;
mod disabled;
mod drifted;
mod faults;
mod guarded;
mod held;
mod interrupted;
mod landed;
mod late;
mod late_hand;
mod late_lost;
mod late_renamed;
mod late_resent;
mod late_unread;
mod lock_removed;
mod lost_answer;
mod moved;
#[cfg(feature = "postgres")]
mod pg_session;
#[cfg(feature = "postgres")]
mod pg_tls;
#[cfg(feature = "postgres")]
mod postgres;
mod records;
mod resume;
mod sinks;
mod stalled;
mod store;
mod trust;
mod twins;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mpt::NoopTransitions as ClientNoop;
use mpt::TokenSecret;
use mpt_policy::{ActionResult, Policy};

use crate::common::*;

/// A mock answering no-op transitions as `noop` says, and a client told so (as a user of such a
/// server would configure it), retrying `attempts` times.
pub(super) async fn mock_in(noop: NoopTransitions, attempts: u32) -> (MockServer, Client) {
    mock_paced(noop, attempts, mpt::Pacing::Adaptive).await
}

/// [`mock_in`], with the client pacing as `pacing` says.
pub(super) async fn mock_paced(
    noop: NoopTransitions,
    attempts: u32,
    pacing: mpt::Pacing,
) -> (MockServer, Client) {
    let server = MockServer::builder()
        .noop_transitions(noop)
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .retry(fast_retries(attempts))
        .pacing(pacing)
        .noop_transitions(match noop {
            NoopTransitions::Refused => ClientNoop::Refused,
            _ => ClientNoop::Accepted,
        })
        .build()
        .unwrap();
    (server, client)
}

pub(super) fn policy(text: &str) -> Policy {
    Policy::from_toml(text, "tokens.toml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

pub(super) fn seed(name: &str) -> SeedToken {
    SeedToken::named(name).with_modules([DEFAULT_MODULE])
}

/// The token id a secret file holds (and that it is private).
pub(super) fn secret_owner(path: &Path) -> String {
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
    written_for(path)
}

/// The token id a file a sink command wrote holds.
pub(super) fn written_for(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    TokenSecret::new(text.trim())
        .token_id()
        .unwrap_or_else(|| panic!("{} holds no token secret", path.display()))
        .to_string()
}

/// The live tokens named `name` in the default account, by id.
pub(super) async fn live_named(client: &Client, name: &str) -> Vec<mpt::Token> {
    client
        .list()
        .filter(Filter::account(DEFAULT_ACCOUNT).and(Filter::name(name)))
        .collect()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| matches!(t.status(), TokenStatus::Active | TokenStatus::Disabled))
        .collect()
}

/// Requests that change something.
pub(super) fn changes(server: &MockServer) -> u64 {
    [
        Operation::Create,
        Operation::Update,
        Operation::Enable,
        Operation::Disable,
        Operation::Delete,
    ]
    .iter()
    .map(|op| server.requests(*op))
    .sum()
}

pub(super) fn result_of<'a>(results: &'a [ActionResult], name: &str) -> &'a ActionResult {
    let found: Vec<_> = results.iter().filter(|r| r.action.name == name).collect();
    assert_eq!(found.len(), 1, "{name}: {results:#?}");
    found[0]
}

/// No file under `dir` holds a token secret (`idt:` and a token id), whatever its name.
pub(super) fn assert_no_secret_in(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            assert_no_secret_in(&path);
        } else if meta.is_file() {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            assert!(
                !text.contains("idt:TKN"),
                "{} holds a secret",
                path.display()
            );
        }
    }
}
