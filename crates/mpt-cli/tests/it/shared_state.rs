//! `mpt tokens apply` from two working directories (two CI runners) sharing a PostgreSQL state:
//! one apply at a time per account, a killed apply resumed from elsewhere with no second token,
//! a secret delivered where the apply that made it (or resumed it) runs, and no secret in the
//! database or the directories. The server is real: a cluster of the test's own (or the one
//! `.ci/run` started).

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use mpt_mock::{DEFAULT_ACCOUNT, DEFAULT_MODULE, MockServer, Operation};
use mpt_testpg::TestPostgres;

use crate::common::*;

const TOKENS: usize = 30;

/// A policy of `TOKENS` tokens whose secrets go to `secrets/<name>.secret` in the working
/// directory, through `sink` (a file, or a command).
fn policy_text(slow: bool) -> String {
    let mut text = format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n");
    for i in 1..=TOKENS {
        let sink = match slow {
            // Relative paths and commands run from the working directory.
            true => r#"{ command = ["sh", "-c", "cat > secrets/$MPT_TOKEN_NAME.secret; sleep 0.1"], timeout = "1m" }"#.to_string(),
            false => format!(r#"{{ file = "secrets/t{i}.secret" }}"#),
        };
        text.push_str(&format!(
            "[[accounts.tokens]]\nname = \"t{i}\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n"
        ));
    }
    text
}

/// A working directory (a CI runner's checkout) with the policy and a `secrets/` directory.
fn runner(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokens.toml"), text).unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    dir
}

/// `mpt tokens apply` in `dir` with the shared state, started (not waited for).
fn apply_in(server: &MockServer, dir: &Path, state: &str, extra: &[&str]) -> Child {
    let mut args = vec![
        "tokens",
        "apply",
        "--policy",
        "tokens.toml",
        "--state",
        state,
    ];
    args.extend_from_slice(extra);
    command(server, &args)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir)
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

/// Each live token named `t<i>`, by name, and that there is exactly one of each.
fn one_per_name(server: &MockServer) -> Vec<(String, String)> {
    let mut live: Vec<(String, String)> = server
        .live_token_names()
        .into_iter()
        .filter(|(_, name)| name.starts_with('t'))
        .collect();
    live.sort_by(|a, b| a.1.cmp(&b.1));
    let mut names: Vec<&str> = live.iter().map(|(_, n)| n.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), live.len(), "a name made twice: {live:?}");
    assert_eq!(live.len(), TOKENS, "{live:?}");
    live
}

/// The token id a secret file holds.
fn owner_of(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.trim().split(':').nth(1).map(String::from)
}

/// Every token's secret was delivered once, to one of the runners, and is that token's.
fn delivered_once(live: &[(String, String)], runners: &[&Path]) {
    for (id, name) in live {
        let holders: Vec<PathBuf> = runners
            .iter()
            .map(|r| r.join("secrets").join(format!("{name}.secret")))
            .filter(|p| p.exists())
            .collect();
        assert_eq!(holders.len(), 1, "{name}: {holders:?}");
        assert_eq!(
            owner_of(&holders[0]).as_deref(),
            Some(id.as_str()),
            "{name}"
        );
    }
}

/// No file under `dir` but the delivered secrets holds a secret.
fn no_secret_outside_sinks(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "secrets") {
            continue;
        }
        if path.is_dir() {
            no_secret_outside_sinks(&path);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            assert!(!text.contains("idt:"), "{} holds a secret", path.display());
        }
    }
}

#[test]
fn two_applies_at_once_make_every_token_once() {
    let Some(pg) = TestPostgres::start_or_skip("two_applies_at_once_make_every_token_once") else {
        return;
    };
    // Waiting: the second apply waits for the first, then plans afresh and changes nothing.
    let server = mock();
    let (a, b) = (runner(&policy_text(false)), runner(&policy_text(false)));
    let first = apply_in(&server, a.path(), pg.url(), &["--lock-timeout", "60s"]);
    let second = apply_in(&server, b.path(), pg.url(), &["--lock-timeout", "60s"]);
    let (first, second) = (finish(first), finish(second));
    for out in [&first, &second] {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let summaries = [text(&first.stdout), text(&second.stdout)];
    assert!(
        summaries
            .iter()
            .any(|s| s.contains(&format!("{TOKENS} created")))
            && summaries.iter().any(|s| s.contains("0 created")),
        "{summaries:?}"
    );
    let live = one_per_name(&server);
    delivered_once(&live, &[a.path(), b.path()]);
    assert_eq!(server.tokens_created(), TOKENS as u64);

    // Refusing: with no wait, the second apply is refused (exit 2, naming who holds the
    // account), or, if the first was done already, changes nothing.
    let Some(pg) = TestPostgres::start_or_skip("two_applies_at_once_make_every_token_once") else {
        return;
    };
    let server = mock();
    let (a, b) = (runner(&policy_text(true)), runner(&policy_text(true)));
    let first = apply_in(&server, a.path(), pg.url(), &[]);
    let started = Instant::now();
    while server.tokens_created() == 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = finish(apply_in(&server, b.path(), pg.url(), &[]));
    let first = finish(first);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    match second.status.code() {
        Some(2) => {
            let said = text(&second.stderr);
            assert!(
                said.contains("another apply holds account")
                    && said.contains("pid")
                    && said.contains("since"),
                "{said}"
            );
        }
        other => {
            assert_eq!(other, Some(0), "{}", text(&second.stderr));
            assert!(text(&second.stdout).contains("0 created"));
        }
    }
    let live = one_per_name(&server);
    delivered_once(&live, &[a.path(), b.path()]);
    assert!(!pg.dump().unwrap().contains("idt:"));
}

#[test]
fn an_apply_killed_after_its_first_create_is_resumed_from_another_runner() {
    let Some(pg) = TestPostgres::start_or_skip("an_apply_killed_after_its_first_create_is_resumed_from_another_runner") else {
        return;
    };
    let server = mock();
    // Slow sinks: the first runner is killed while it delivers.
    let slow = policy_text(true).replace("sleep 0.1", "sleep 30");
    let (a, b) = (runner(&slow), runner(&policy_text(false)));
    let mut first = apply_in(&server, a.path(), pg.url(), &[]);
    let started = Instant::now();
    while server.tokens_created() == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "nothing made");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // The killed apply's session ends with its process: the lock is free at once.
    let resumed = finish(apply_in(&server, b.path(), pg.url(), &[]));
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    assert!(
        text(&resumed.stdout).contains("resumed"),
        "{}",
        text(&resumed.stdout)
    );
    let live = one_per_name(&server);
    assert_eq!(server.tokens_created(), TOKENS as u64, "no second token");
    // Every secret is at the runner that delivered it; the killed one's sink may have
    // written its file before the kill, so the resumed one's is the one checked.
    for (id, name) in &live {
        let at_b = b.path().join("secrets").join(format!("{name}.secret"));
        assert_eq!(owner_of(&at_b).as_deref(), Some(id.as_str()), "{name}");
    }
    assert!(
        !pg.dump().unwrap().contains("idt:"),
        "a secret in the database"
    );
    no_secret_outside_sinks(a.path());
    no_secret_outside_sinks(b.path());
    assert_eq!(
        pg.sql("select count(*) from mpt_records").unwrap().trim(),
        "0"
    );
}

#[test]
fn a_failed_sink_is_delivered_by_the_next_apply_from_another_runner() {
    let Some(pg) = TestPostgres::start_or_skip("a_failed_sink_is_delivered_by_the_next_apply_from_another_runner") else {
        return;
    };
    let server = mock();
    let one = format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = SINK\n"
    );
    let a = runner(&one.replace("SINK", r#"{ command = ["sh", "-c", "exit 3"] }"#));
    let b = runner(&one.replace("SINK", r#"{ file = "secrets/svc.secret" }"#));
    let failed = finish(apply_in(&server, a.path(), pg.url(), &[]));
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    assert!(text(&failed.stdout).contains("no copy of the secret is kept"));
    let delivered = finish(apply_in(&server, b.path(), pg.url(), &[]));
    assert_eq!(
        delivered.status.code(),
        Some(0),
        "{}",
        text(&delivered.stderr)
    );
    let id = server
        .live_token_names()
        .into_iter()
        .find(|(_, n)| n == "svc")
        .unwrap()
        .0;
    assert_eq!(owner_of(&b.path().join("secrets/svc.secret")), Some(id));
    assert_eq!(server.tokens_created(), 1);
    assert!(!pg.dump().unwrap().contains("idt:"));
    no_secret_outside_sinks(a.path());
    no_secret_outside_sinks(b.path());
}

#[test]
fn a_bad_state_is_refused_before_anything_is_sent_and_a_password_never_shows() {
    let Some(pg) = TestPostgres::start_or_skip("a_bad_state_is_refused_before_anything_is_sent_and_a_password_never_shows") else {
        return;
    };
    let server = mock();
    let dir = runner(&policy_text(false));
    let secret = "Pw0rd-Never-Shown";
    let run = |state: &str, cmd: &str| {
        let out = command(
            &server,
            &["tokens", cmd, "--policy", "tokens.toml", "--state", state],
        )
        .current_dir(dir.path())
        .output()
        .unwrap();
        for said in [text(&out.stdout), text(&out.stderr)] {
            assert!(!said.contains(secret), "{said}");
        }
        out
    };
    // Unreachable: exit 5, and not one request to the platform.
    let closed = format!("postgres://mpt:{secret}@127.0.0.1:1/mpt");
    for cmd in ["apply", "plan"] {
        let out = run(&closed, cmd);
        assert_eq!(out.status.code(), Some(5), "{cmd}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("***"), "{}", text(&out.stderr));
    }
    assert_eq!(server.requests(Operation::List), 0);
    // A URL that is not one: exit 2.
    let out = run(
        &format!("postgres://mpt:{secret}@127.0.0.1:notaport/db"),
        "apply",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // A plan on a fresh database reads no records and makes nothing.
    let out = run(&pg.url_with_password(secret), "plan");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        pg.sql("select count(*) from pg_tables where tablename like 'mpt%'")
            .unwrap()
            .trim(),
        "0",
        "a plan wrote"
    );
    // A store of a newer schema: exit 2, never misread; a nonsense one too.
    pg.sql("create table mpt_schema (version integer not null); insert into mpt_schema values (-7)")
        .unwrap();
    let out = run(&pg.url_with_password(secret), "apply");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no mpt writes"), "{}", text(&out.stderr));
    pg.sql("update mpt_schema set version = 7").unwrap();
    let out = run(&pg.url_with_password(secret), "apply");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("newer mpt"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.tokens_created(), 0);
    // A working database with a password in its URL (from MPT_STATE too): it shows nowhere.
    // Its schema, of version 1 (an older mpt's), is migrated.
    pg.sql("update mpt_schema set version = 1").unwrap();
    let out = command(
        &server,
        &["tokens", "apply", "--policy", "tokens.toml", "-v"],
    )
    .env("MPT_STATE", pg.url_with_password(secret))
    .current_dir(dir.path())
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for said in [text(&out.stdout), text(&out.stderr)] {
        assert!(!said.contains(secret), "{said}");
    }
    assert_eq!(server.tokens_created(), TOKENS as u64);
    assert_eq!(pg.sql("select max(version) from mpt_schema").unwrap().trim(), "2");
}

#[test]
fn an_apply_waiting_for_the_lock_ends_at_the_first_interrupt() {
    let Some(pg) = TestPostgres::start_or_skip("an_apply_waiting_for_the_lock_ends_at_the_first_interrupt") else {
        return;
    };
    let server = mock();
    let slow = policy_text(true).replace("sleep 0.1", "sleep 1");
    let (a, b) = (runner(&slow), runner(&policy_text(false)));
    let mut holder = apply_in(&server, a.path(), pg.url(), &[]);
    let started = Instant::now();
    while server.tokens_created() == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "nothing made");
        std::thread::sleep(Duration::from_millis(20));
    }
    let waiting = apply_in(&server, b.path(), pg.url(), &["--lock-timeout", "10m"]);
    std::thread::sleep(Duration::from_millis(500));
    let created = server.tokens_created();
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(waiting.id() as i32, libc::SIGINT);
    }
    let out = finish(waiting);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    // It ended while the lock was still held: the interrupt, not the lock's release, ended it.
    assert!(
        holder.try_wait().unwrap().is_none(),
        "the holder finished first"
    );
    assert!(!b.path().join("secrets").read_dir().unwrap().any(|_| true));
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(server.tokens_created() >= created);
}
