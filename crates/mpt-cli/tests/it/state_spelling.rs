//! How a state location is spelled: a `postgres://` URL in any case is the database; a
//! connection string `mpt` does not take (libpq's `host=... password=...`, another scheme's
//! URL) is refused (exit 2) without its password, never a local directory named with it.

use mpt_mock::DEFAULT_ACCOUNT;
use mpt_testpg::TestPostgres;

use crate::common::*;

const SECRET: &str = "Hunter2SecretPW";

fn policy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tokens.toml"),
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"t1\"\nmodules = [\"MOD-1756\"]\n"
        ),
    )
    .unwrap();
    dir
}

#[test]
fn a_connection_string_mpt_does_not_take_is_refused_and_makes_no_directory() {
    let server = mock();
    let dir = policy_dir();
    let keyword = format!("host=127.0.0.1 port=1 user=mpt password={SECRET} dbname=mpt");
    let other = format!("mysql://mpt:{SECRET}@127.0.0.1:1/mpt");
    for state in [keyword.as_str(), other.as_str()] {
        for cmd in ["plan", "apply"] {
            for by_env in [false, true] {
                let mut args = vec!["tokens", cmd, "--policy", "tokens.toml"];
                if !by_env {
                    args.extend(["--state", state]);
                }
                let mut c = command(&server, &args);
                if by_env {
                    c.env("MPT_STATE", state);
                }
                let out = c.current_dir(dir.path()).output().unwrap();
                let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
                assert_eq!(out.status.code(), Some(2), "{state} {cmd}: {stderr}");
                assert!(
                    stderr.contains("password=") || stderr.contains("mysql://"),
                    "{stderr}"
                );
                for said in [&stdout, &stderr] {
                    assert!(!said.contains(SECRET), "{said}");
                }
            }
        }
    }
    // Nothing but the policy: no directory named with the password.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("tokens.toml")]);
    assert_eq!(server.tokens_created(), 0);
}

#[test]
fn a_postgres_url_is_the_database_in_any_case() {
    let Some(pg) = TestPostgres::start_or_skip("a_postgres_url_is_the_database_in_any_case") else {
        return;
    };
    let server = mock();
    let dir = policy_dir();
    let url = pg.url().to_string();
    for (i, scheme) in ["POSTGRES://", "Postgresql://"].iter().enumerate() {
        let state = url.replacen("postgres://", scheme, 1);
        let out = command(
            &server,
            &[
                "tokens",
                "apply",
                "--policy",
                "tokens.toml",
                "--state",
                &state,
            ],
        )
        .current_dir(dir.path())
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(server.tokens_created(), 1, "run {i}");
    }
    assert_eq!(
        pg.sql("select max(version) from mpt_schema")
            .unwrap()
            .trim(),
        "2"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
