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
    let Some(pg) = TestPostgres::start_or_skip(
        "an_apply_killed_after_its_first_create_is_resumed_from_another_runner",
    ) else {
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
    let Some(pg) = TestPostgres::start_or_skip(
        "a_failed_sink_is_delivered_by_the_next_apply_from_another_runner",
    ) else {
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
    let Some(pg) = TestPostgres::start_or_skip(
        "a_bad_state_is_refused_before_anything_is_sent_and_a_password_never_shows",
    ) else {
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
    pg.sql(
        "create table mpt_schema (version integer not null); insert into mpt_schema values (-7)",
    )
    .unwrap();
    let out = run(&pg.url_with_password(secret), "apply");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no mpt writes"),
        "{}",
        text(&out.stderr)
    );
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
    // Its schema, of version 1 (an older mpt's, with its tables), is migrated.
    pg.sql(
        "update mpt_schema set version = 1;
         create table mpt_records (kind text not null, name text not null, account text not null,
             body text not null, updated_at timestamptz not null default now(),
             primary key (kind, name));
         create table mpt_holders (account text primary key, host text not null,
             pid integer not null, since timestamptz not null)",
    )
    .unwrap();
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
    assert_eq!(
        pg.sql("select max(version) from mpt_schema")
            .unwrap()
            .trim(),
        "2"
    );
}

#[test]
fn an_apply_waiting_for_the_lock_ends_at_the_first_interrupt() {
    let Some(pg) =
        TestPostgres::start_or_skip("an_apply_waiting_for_the_lock_ends_at_the_first_interrupt")
    else {
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

/// The statuses of the live tokens named `t<i>`.
fn statuses(server: &MockServer) -> Vec<String> {
    one_per_name(server)
        .iter()
        .map(|(id, _)| server.token_status(id).unwrap_or_default())
        .collect()
}

/// How many changes of any kind the platform was sent.
fn changes_sent(server: &MockServer) -> u64 {
    [
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Enable,
        Operation::Disable,
    ]
    .iter()
    .map(|op| server.requests(*op))
    .sum()
}

/// Ends the database session of the apply of process `pid` (by its application name).
fn terminate_session_of(pg: &TestPostgres, pid: u32) -> String {
    pg.sql(&format!(
        "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name like 'mpt apply on % (pid {pid})'"
    ))
    .unwrap()
}

/// The 30 tokens made, all Active; and a policy that disables them all.
fn thirty_active(server: &MockServer, pg: &TestPostgres) -> String {
    let setup = runner(&policy_text(false));
    let made = finish(apply_in(server, setup.path(), pg.url(), &[]));
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    assert!(statuses(server).iter().all(|s| s == "Active"));
    policy_text(false).replace("modules = [", "status = \"Disabled\"\nmodules = [")
}

/// Waits (bounded) until the platform was sent `n` disables.
fn until_disables(server: &MockServer, n: u64) {
    let started = Instant::now();
    while server.requests(Operation::Disable) < n {
        assert!(started.elapsed() < Duration::from_secs(60), "no disables");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_apply_whose_session_is_terminated_stops_before_its_next_change() {
    let Some(pg) = TestPostgres::start_or_skip(
        "an_apply_whose_session_is_terminated_stops_before_its_next_change",
    ) else {
        return;
    };
    let server = mock();
    let disabling = thirty_active(&server, &pg);
    server
        .set_faults(mpt_mock::Faults::none().with_latency(Duration::from_millis(200)))
        .unwrap();
    let a = runner(&disabling);
    let apply = apply_in(&server, a.path(), pg.url(), &["--concurrency", "1"]);
    until_disables(&server, 3);
    assert_eq!(terminate_session_of(&pg, apply.id()).trim(), "1");
    let at_loss = server.requests(Operation::Disable);
    let out = finish(apply);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{said}");
    assert!(
        said.contains("lost the state store's session after")
            && said.contains("nothing more was sent; run apply again to finish"),
        "{said}"
    );
    // At most the one change in flight when the session ended went out after it.
    let sent = server.requests(Operation::Disable);
    assert!(
        sent <= at_loss + 1,
        "{sent} disables, {at_loss} at the loss"
    );
    assert!(sent < TOKENS as u64);
    // What it reports is what the platform holds.
    let disabled = statuses(&server)
        .iter()
        .filter(|s| *s == "Disabled")
        .count();
    assert!(
        text(&out.stdout).contains(&format!(" {disabled} disabled")),
        "{disabled} disabled: {}",
        text(&out.stdout)
    );
    // Run again, it finishes.
    server.set_faults(mpt_mock::Faults::none()).unwrap();
    let again = finish(apply_in(&server, a.path(), pg.url(), &[]));
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(statuses(&server).iter().all(|s| s == "Disabled"));
}

/// The tester's round-14 finding 1, end to end: apply A's delete is answered `429` with
/// `Retry-After: 5` (not carried out); while A waits to retry, its session is terminated and
/// apply B, which declares the token Active, runs to its end. A's retry is never sent (its
/// client proves the lock right before it): the token stays Active, and A exits 5 saying
/// nothing more was sent, its delete not reported as done.
#[test]
fn a_retry_waiting_when_the_session_is_terminated_is_never_sent() {
    let Some(pg) =
        TestPostgres::start_or_skip("a_retry_waiting_when_the_session_is_terminated_is_never_sent")
    else {
        return;
    };
    let server = mock();
    let head = format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n");
    let b = runner(&format!(
        "{head}[[accounts.tokens]]\nname = \"t1\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"secrets/t1.secret\" }}\n"
    ));
    let made = finish(apply_in(&server, b.path(), pg.url(), &[]));
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    let refused = mpt_mock::Fault::RateLimited {
        retry_after: Duration::from_secs(5),
    };
    let once = mpt_mock::FaultRule::once(refused).only([Operation::Delete]);
    server
        .set_faults(mpt_mock::Faults::none().with(once))
        .unwrap();
    let a = runner(&format!(
        "{head}[[accounts.tokens]]\nname = \"t1\"\nstatus = \"absent\"\n"
    ));
    let deleting = apply_in(&server, a.path(), pg.url(), &["--allow-destroy"]);
    let started = Instant::now();
    while server.requests(Operation::Delete) < 1 {
        assert!(started.elapsed() < Duration::from_secs(60), "no delete");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(terminate_session_of(&pg, deleting.id()).trim(), "1");
    let other = finish(apply_in(&server, b.path(), pg.url(), &[]));
    assert_eq!(other.status.code(), Some(0), "{}", text(&other.stderr));
    let out = finish(deleting);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{said}");
    assert!(said.contains("nothing more was sent"), "{said}");
    assert!(
        !text(&out.stdout).contains(" 1 deleted"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(server.requests(Operation::Delete), 1, "the retry was sent");
    let live = server.live_token_names();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(server.token_status(&live[0].0).as_deref(), Some("Active"));
}

#[test]
fn a_frozen_apply_whose_session_was_ended_sends_nothing_when_it_wakes() {
    let Some(pg) = TestPostgres::start_or_skip(
        "a_frozen_apply_whose_session_was_ended_sends_nothing_when_it_wakes",
    ) else {
        return;
    };
    let server = mock();
    let disabling = thirty_active(&server, &pg);
    server
        .set_faults(mpt_mock::Faults::none().with_latency(Duration::from_millis(200)))
        .unwrap();
    let a = runner(&disabling);
    let frozen = apply_in(&server, a.path(), pg.url(), &["--concurrency", "1"]);
    until_disables(&server, 3);
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(frozen.id() as i32, libc::SIGSTOP);
    }
    assert_eq!(terminate_session_of(&pg, frozen.id()).trim(), "1");
    // The change in flight when it froze lands; then the other runner applies the opposite
    // policy to the end.
    std::thread::sleep(Duration::from_secs(1));
    server.set_faults(mpt_mock::Faults::none()).unwrap();
    let b = runner(&policy_text(false));
    let other = finish(apply_in(&server, b.path(), pg.url(), &[]));
    assert_eq!(other.status.code(), Some(0), "{}", text(&other.stderr));
    assert!(statuses(&server).iter().all(|s| s == "Active"));
    let before = changes_sent(&server);
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(frozen.id() as i32, libc::SIGCONT);
    }
    let out = finish(frozen);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{said}");
    assert!(said.contains("nothing more was sent"), "{said}");
    assert_eq!(
        changes_sent(&server),
        before,
        "the woken apply sent changes"
    );
    assert!(statuses(&server).iter().all(|s| s == "Active"));
}

#[test]
fn a_silent_server_ends_in_exit_5_within_the_connect_timeout() {
    // A server that accepts and never answers (no PostgreSQL needed).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let server = mock();
    let dir = runner(&policy_text(false));
    for (cmd, url) in [
        (
            "plan",
            format!("postgres://mpt@127.0.0.1:{port}/mpt?connect_timeout=2"),
        ),
        ("apply", format!("postgres://mpt@127.0.0.1:{port}/mpt")),
    ] {
        let mut child = command(
            &server,
            &["tokens", cmd, "--policy", "tokens.toml", "--state", &url],
        )
        .current_dir(dir.path())
        .spawn()
        .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(60), "{cmd} hangs");
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = finish(child);
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{cmd}: {said}");
        assert!(said.contains("no answer within"), "{said}");
    }
    assert_eq!(changes_sent(&server), 0);
}

#[test]
fn a_lock_timeout_of_0_is_taken_as_documented() {
    let server = mock();
    let dir = runner(&policy_text(false));
    let out = finish(apply_in(
        &server,
        dir.path(),
        ".mpt-state",
        &["--lock-timeout", "0"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// An apply disabling 30 tokens, slowly, whose database backend is then stopped (SIGSTOP: a
/// server stalled, or a network that drops everything): the apply, the backend's pid, and the
/// disables sent by then.
fn stalled_apply(server: &MockServer, pg: &TestPostgres, a: &Path) -> (Child, i32, u64) {
    let disabling = thirty_active(server, pg);
    std::fs::write(a.join("tokens.toml"), disabling).unwrap();
    server
        .set_faults(mpt_mock::Faults::none().with_latency(Duration::from_millis(200)))
        .unwrap();
    let apply = apply_in(server, a, pg.url(), &["--concurrency", "1"]);
    until_disables(server, 3);
    let backend: i32 = pg
        .sql(&format!(
            "select pid from pg_stat_activity where application_name like 'mpt apply on % (pid {})'",
            apply.id()
        ))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill(2) on a PostgreSQL backend of the test's cluster.
    unsafe {
        libc::kill(backend, libc::SIGSTOP);
    }
    (apply, backend, server.requests(Operation::Disable))
}

#[test]
fn a_first_sigterm_ends_an_apply_stuck_on_its_database_promptly() {
    let Some(pg) =
        TestPostgres::start_or_skip("a_first_sigterm_ends_an_apply_stuck_on_its_database_promptly")
    else {
        return;
    };
    let server = mock();
    let a = runner("");
    let (apply, backend, _) = stalled_apply(&server, &pg, a.path());
    // Its requests in flight answered (200 ms each), it waits on the database before its next
    // change.
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(apply.id() as i32, libc::SIGTERM);
    }
    let out = finish(apply);
    // SAFETY: as above, the backend of the test's cluster.
    unsafe {
        libc::kill(backend, libc::SIGCONT);
    }
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{said}");
    // Ended by the interrupt itself, not by a bound nor the database's answer timeout: the
    // rest reported not attempted, and the summary printed.
    let printed = text(&out.stdout);
    assert!(
        !said.contains("did not finish in time"),
        "{said}\n{printed}"
    );
    assert!(printed.contains("not attempted"), "{said}\n{printed}");
    assert!(
        printed.contains("disabled,"),
        "no summary: {said}\n{printed}"
    );
}

#[test]
fn an_interrupted_apply_reads_and_sends_nothing_more() {
    let Some(pg) = TestPostgres::start_or_skip("an_interrupted_apply_reads_and_sends_nothing_more")
    else {
        return;
    };
    let server = mock();
    let a = runner("");
    std::fs::write(a.path().join("tokens.toml"), thirty_active(&server, &pg)).unwrap();
    server
        .set_faults(mpt_mock::Faults::none().with_latency(Duration::from_millis(100)))
        .unwrap();
    let apply = apply_in(&server, a.path(), pg.url(), &["--concurrency", "1"]);
    until_disables(&server, 3);
    let (lists, disables) = (
        server.requests(Operation::List),
        server.requests(Operation::Disable),
    );
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(apply.id() as i32, libc::SIGTERM);
    }
    let out = finish(apply);
    let (said, printed) = (text(&out.stderr), text(&out.stdout));
    assert_eq!(out.status.code(), Some(143), "{said}");
    // At most what was in flight at the signal: one listing or one disable (one token's read
    // and change), never the remaining batches' listings.
    let (more_lists, more_disables) = (
        server.requests(Operation::List) - lists,
        server.requests(Operation::Disable) - disables,
    );
    assert!(
        more_lists <= 1,
        "{more_lists} listings after the interrupt\n{printed}"
    );
    assert!(
        more_disables <= 1,
        "{more_disables} disables after the interrupt"
    );
    assert!(printed.contains("not attempted"), "{said}\n{printed}");
    // Every token reported disabled is, and no other is.
    let disabled = statuses(&server)
        .iter()
        .filter(|s| *s == "Disabled")
        .count() as u64;
    assert_eq!(disabled, server.requests(Operation::Disable));
    assert!(
        printed.contains(&format!("{disabled} disabled")),
        "{printed}"
    );
}

#[test]
fn an_apply_whose_backend_stalls_ends_with_exit_5_and_sends_nothing_more() {
    let Some(pg) = TestPostgres::start_or_skip(
        "an_apply_whose_backend_stalls_ends_with_exit_5_and_sends_nothing_more",
    ) else {
        return;
    };
    let server = mock();
    let a = runner("");
    let (apply, backend, at_stall) = stalled_apply(&server, &pg, a.path());
    let started = Instant::now();
    let mut apply = apply;
    while apply.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = apply.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(backend, libc::SIGCONT);
    }
    let out = finish(apply);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{said}");
    assert!(
        said.contains("no answer within") && said.contains("nothing more was sent"),
        "{said}"
    );
    let sent = server.requests(Operation::Disable);
    assert!(
        sent <= at_stall + 1,
        "{sent} disables, {at_stall} at the stall"
    );
}

#[test]
fn logins_follow_libpq_a_readable_password_file_is_warned_about_and_a_refusal_is_exit_2() {
    let test =
        "logins_follow_libpq_a_readable_password_file_is_warned_about_and_a_refusal_is_exit_2";
    let Some((pg, _tls)) = TestPostgres::start_tls_or_skip(test) else {
        return;
    };
    let server = mock();
    let dir = runner(&policy_text(false));
    let port = pg
        .url()
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let db = pg.url().rsplit('/').next().unwrap().to_string();
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    let right = mpt_testpg::SECRET_PASSWORD;
    // The first matching line wins, as in libpq (a later, more specific one is not read).
    std::fs::write(
        &pgpass,
        format!("# comment\nother:*:*:*:no\n127.0.0.1:{port}:*:secret:{right}\n*:*:{db}:secret:Wrong-Pass-9\n"),
    )
    .unwrap();
    // No host, port, user or database in the URL: PGHOST, PGPORT, PGUSER, PGDATABASE.
    let plan = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(mode)).unwrap();
        command(
            &server,
            &[
                "tokens",
                "plan",
                "--policy",
                "tokens.toml",
                "--state",
                "postgres://?sslmode=disable",
            ],
        )
        .env("HOME", home.path())
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", &port)
        .env("PGUSER", "secret")
        .env("PGDATABASE", &db)
        .current_dir(dir.path())
        .output()
        .unwrap()
    };
    let out = plan(0o600);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Readable by others: ignored, with libpq's warning; the server's refusal is exit 2.
    let out = plan(0o644);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("has group or world access") && said.contains("refused the login"),
        "{said}"
    );
    assert!(!said.contains(right), "{said}");
}

#[test]
fn an_apply_whose_server_restarts_stops_before_its_next_change() {
    let Some(pg) = TestPostgres::start_own_or_skip(
        "an_apply_whose_server_restarts_stops_before_its_next_change",
    ) else {
        return;
    };
    let server = mock();
    let disabling = thirty_active(&server, &pg);
    server
        .set_faults(mpt_mock::Faults::none().with_latency(Duration::from_millis(200)))
        .unwrap();
    let a = runner(&disabling);
    let apply = apply_in(&server, a.path(), pg.url(), &["--concurrency", "1"]);
    until_disables(&server, 3);
    pg.restart().unwrap();
    let at_restart = server.requests(Operation::Disable);
    let out = finish(apply);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{said}");
    assert!(said.contains("nothing more was sent"), "{said}");
    let sent = server.requests(Operation::Disable);
    assert!(
        sent <= at_restart + 1,
        "{sent} disables, {at_restart} at the restart"
    );
    let disabled = statuses(&server)
        .iter()
        .filter(|s| *s == "Disabled")
        .count();
    assert!(
        text(&out.stdout).contains(&format!(" {disabled} disabled")),
        "{disabled} disabled: {}",
        text(&out.stdout)
    );
}

#[test]
fn a_damaged_or_foreign_table_is_refused_before_anything_is_planned_or_sent() {
    let Some(pg) = TestPostgres::start_or_skip(
        "a_damaged_or_foreign_table_is_refused_before_anything_is_planned_or_sent",
    ) else {
        return;
    };
    let server = mock();
    let dir = runner(&policy_text(false));
    let run = |cmd: &str| {
        command(
            &server,
            &[
                "tokens",
                cmd,
                "--policy",
                "tokens.toml",
                "--state",
                pg.url(),
            ],
        )
        .current_dir(dir.path())
        .output()
        .unwrap()
    };
    // Someone else's mpt_records, no mpt_schema: refused, not adopted, nothing made.
    pg.sql("create table mpt_records (id integer primary key, data jsonb)")
        .unwrap();
    for cmd in ["plan", "apply"] {
        let out = run(cmd);
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {said}");
        assert!(
            said.contains("mpt_records") && said.contains("SQLSTATE 42703"),
            "{cmd}: {said}"
        );
        assert!(said.contains("never adopted"), "{cmd}: {said}");
    }
    assert_eq!(
        pg.sql("select to_regclass('mpt_schema') is null")
            .unwrap()
            .trim(),
        "t",
        "mpt_schema made beside someone else's table"
    );
    assert_eq!(server.requests(Operation::List), 0);
    assert_eq!(changes_sent(&server), 0);
    // Ours, then its records table dropped: refused (not read as pending work).
    pg.sql("drop table mpt_records").unwrap();
    let made = run("apply");
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    let sent = changes_sent(&server);
    let listed = server.requests(Operation::List);
    pg.sql("drop table mpt_records").unwrap();
    for cmd in ["plan", "apply"] {
        let out = run(cmd);
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {said}");
        assert!(
            said.contains("mpt_records") && said.contains("SQLSTATE 42P01"),
            "{cmd}: {said}"
        );
        assert!(
            !text(&out.stdout).contains("resume"),
            "{}",
            text(&out.stdout)
        );
    }
    assert_eq!(changes_sent(&server), sent);
    assert_eq!(server.requests(Operation::List), listed);
    assert_eq!(one_per_name(&server).len(), TOKENS);
}

#[test]
fn a_sink_command_gets_no_secret_of_the_apply_in_its_environment() {
    let Some(pg) = TestPostgres::start_or_skip(
        "a_sink_command_gets_no_secret_of_the_apply_in_its_environment",
    ) else {
        return;
    };
    let server = mock();
    let text_of = policy_text(true).replace(
        "cat > secrets/$MPT_TOKEN_NAME.secret; sleep 0.1",
        "env > secrets/$MPT_TOKEN_NAME.env; cat > secrets/$MPT_TOKEN_NAME.secret",
    );
    let dir = runner(&text_of);
    let (password, pgpassword) = ("Db-Pw0rd-Hidden", "Pg-Pw0rd-Hidden");
    let url = pg.url_with_password(password);
    let out = command(&server, &["tokens", "apply", "--policy", "tokens.toml"])
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MPT_STATE", &url)
        .env("PGPASSWORD", pgpassword)
        .env("DATABASE_URL", &url)
        .env("DEPLOY_NOTE", format!("uses {}", server.admin_secret()))
        .env("VAULT_TOKEN", "kept-for-the-sink")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let live = one_per_name(&server);
    for (id, name) in &live {
        let env = std::fs::read_to_string(dir.path().join("secrets").join(format!("{name}.env")))
            .unwrap();
        let secret =
            std::fs::read_to_string(dir.path().join("secrets").join(format!("{name}.secret")))
                .unwrap();
        assert!(secret.contains(id.as_str()), "{name}: {secret}");
        for held in [password, pgpassword, server.admin_secret(), secret.trim()] {
            assert!(
                !env.contains(held),
                "{name}: a secret in the sink's environment:\n{env}"
            );
        }
        for gone in [
            "MPT_API_TOKEN=",
            "MPT_STATE=",
            "PGPASSWORD=",
            "DATABASE_URL=",
            "DEPLOY_NOTE=",
        ] {
            assert!(!env.contains(gone), "{name}: {gone}\n{env}");
        }
        for kept in [
            "VAULT_TOKEN=kept-for-the-sink",
            "PATH=",
            "HOME=",
            "MPT_TOKEN_NAME=",
        ] {
            assert!(env.contains(kept), "{name}: {kept} missing\n{env}");
        }
    }
}

#[test]
fn a_client_certificate_from_pgsslcert_and_pgsslkey_and_each_refusal_is_exit_2() {
    let test = "a_client_certificate_from_pgsslcert_and_pgsslkey_and_each_refusal_is_exit_2";
    let Some((pg, tls)) = TestPostgres::start_tls_or_skip(test) else {
        return;
    };
    let server = mock();
    let dir = runner(&policy_text(false));
    let (port, db) = {
        let rest = pg.url().rsplit_once(':').unwrap().1;
        let (port, db) = rest.split_once('/').unwrap();
        (port.to_string(), db.to_string())
    };
    let state = format!(
        "postgres://{}@localhost:{port}/{db}?hostaddr=127.0.0.1",
        mpt_testpg::CERT_ROLE
    );
    // The certificate and key from libpq's variables, never from the URL.
    let plan = |files: &[(&str, &Path)]| {
        let mut command = command(
            &server,
            &[
                "tokens",
                "plan",
                "--policy",
                "tokens.toml",
                "--state",
                &state,
            ],
        );
        command
            .env("PGSSLMODE", "verify-full")
            .env("PGSSLROOTCERT", &tls.ca)
            .current_dir(dir.path());
        for (name, path) in files {
            command.env(name, path);
        }
        command.output().unwrap()
    };
    let key_lines: Vec<String> = [&tls.client_key, &tls.stranger_key]
        .iter()
        .flat_map(|k| {
            let text = std::fs::read_to_string(k).unwrap();
            text.lines().map(str::to_string).collect::<Vec<_>>()
        })
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let out = plan(&[
        ("PGSSLCERT", &tls.client_cert),
        ("PGSSLKEY", &tls.client_key),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cases: [(&[(&str, &Path)], &str); 3] = [
        (
            &[],
            "connection requires a valid client certificate (SQLSTATE 28000)",
        ),
        (
            &[
                ("PGSSLCERT", &tls.stranger_cert),
                ("PGSSLKEY", &tls.stranger_key),
            ],
            "refused the client certificate",
        ),
        (
            &[("PGSSLCERT", &tls.client_cert)],
            "sslcert and sslkey go together",
        ),
    ];
    for (files, why) in cases {
        let out = plan(files);
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(said.contains(why), "{said}");
        for line in &key_lines {
            assert!(!said.contains(line.as_str()), "a key shown: {said}");
        }
    }
}
