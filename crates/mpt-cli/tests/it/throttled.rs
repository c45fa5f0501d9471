//! Single calls refused by the platform's rate limit: exit 7 (rate limited, as the README's
//! exit codes say), with the server's wait; the attempts a throttled call makes.

use std::process::{Command, Output, Stdio};

use mpt_mock::{Scripted, ScriptedServer};

use crate::common::{home, text};

fn scripted(script: Vec<Scripted>) -> ScriptedServer {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(ScriptedServer::start(script)).unwrap();
        tx.send(server).unwrap();
        rt.block_on(std::future::pending::<()>());
    });
    rx.recv().unwrap()
}

fn run(server: &ScriptedServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpt"))
        .args(args)
        .env_clear()
        .env("HOME", home())
        .env("MPT_API_BASE_URL", server.base_url())
        .env("MPT_API_TOKEN", "s3cr3t-api-key")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `Retry-After: 3600` (over the 30 s cap) answered to a single get, a single change and a
/// list: each exits 7 at once, naming the server's wait, after one request each.
#[test]
fn a_single_call_refused_for_an_hour_exits_7() {
    let server = scripted(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "3600"),
    ]);
    let commands: [&[&str]; 3] = [
        &["tokens", "get", "TKN-0000-0001"],
        &["tokens", "disable", "TKN-0000-0001"],
        &["tokens", "list"],
    ];
    for (i, args) in commands.iter().enumerate() {
        let out = run(&server, args);
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(7), "{args:?}: {said}");
        assert!(
            said.contains("3600") || said.contains("1h"),
            "{args:?}: {said}"
        );
        // One request each: a wait over the cap is not waited, and nothing more is sent.
        assert_eq!(server.request_lines().len(), i + 1, "{args:?}");
    }
}

/// A single get answered `429` every time (`Retry-After: 0`, unpaced): throttled answers are
/// refused before any work, so they are retried apart from the 3 attempts of the retry policy,
/// up to 10 in all (as the README says), then the command exits 7 with the server's answer.
#[test]
fn a_throttled_single_call_makes_ten_attempts_then_exits_7() {
    let server = scripted(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "0"),
    ]);
    let out = run(
        &server,
        &["--max-rate", "off", "tokens", "get", "TKN-0000-0001"],
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(server.request_lines().len(), 10);
}
