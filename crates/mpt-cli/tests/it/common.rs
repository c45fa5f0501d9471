//! Helpers shared by the CLI's test modules: a mock server on its own runtime, and the real
//! binary run against it with a clean environment.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use mpt_mock::MockServer;
use serde_json::Value;

/// A mock server on its own runtime thread, for the test thread to drive the binary against.
pub fn mock() -> MockServer {
    mock_built(MockServer::builder())
}

/// [`mock`] from a builder of the test's.
pub fn mock_built(builder: mpt_mock::MockServerBuilder) -> MockServer {
    builder.start_on_own_thread().unwrap()
}

/// An empty directory as HOME, so no real config file is read.
pub fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

pub fn mpt(server: &MockServer, args: &[&str]) -> Output {
    mpt_with(server, args, None, &[])
}

/// The binary with the test environment (a clean one: HOME empty, the mock's URL and admin
/// secret), its output piped, not yet run.
pub fn command(server: &MockServer, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mpt"));
    command
        .args(args)
        .env_clear()
        .env("HOME", home())
        .env("MPT_API_BASE_URL", server.base_url())
        .env("MPT_API_TOKEN", server.admin_secret())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

pub fn mpt_with(
    server: &MockServer,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    let mut command = command(server, args);
    command.stdin(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    // Whatever happened, stderr never holds a secret of the server's.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(server.admin_secret()), "{stderr}");
    assert!(
        !stderr.contains("idt:TKN"),
        "a token secret on stderr: {stderr}"
    );
    out
}

pub fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `dir/tokens.toml`: the mock's default account, its tokens left alone (`unmanaged =
/// "ignore"`), no token declared.
pub fn write_ignoring_policy(dir: &Path) {
    std::fs::write(
        dir.join("tokens.toml"),
        format!(
            "[[accounts]]\nid = \"{}\"\nunmanaged = \"ignore\"\n",
            mpt_mock::DEFAULT_ACCOUNT
        ),
    )
    .unwrap();
}
