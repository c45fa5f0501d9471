//! Tokens as code: policies refused with the line and key, and plans that name every drift
//! against the mock (declared, hygiene, ambiguous, pinned, undeclared).

use std::os::unix::fs::PermissionsExt;

use mpt::chrono::{Duration, Utc};
use mpt_policy::{ActionKind, Policy, PolicyError, Wanted};

use crate::common::*;
use crate::drift::Drift;

fn refused(text: &str) -> PolicyError {
    Policy::from_toml(text, "tokens.toml").unwrap_err()
}

#[test]
fn bad_policies_are_refused_naming_the_file_line_and_key() {
    let e = refused("[[accounts]]\nid = \"ACC-1\"\ncolour = \"blue\"\n");
    assert_eq!(
        (e.file.as_str(), e.line, e.key.as_str()),
        ("tokens.toml", 3, "colour")
    );
    assert!(e.to_string().starts_with("tokens.toml:3: colour:"), "{e}");

    let e = refused("[[accounts]]\nid = \"ACC-1\"\nrotate_after = \"9x\"\n");
    assert_eq!((e.line, e.key.as_str()), (3, "rotate_after"));
    assert!(e.message.contains("bad duration"), "{e}");

    let e = refused(
        "[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"a\"\nmodules = [\"MOD-1\"]\nstatus = \"Gone\"\n",
    );
    assert_eq!((e.line, e.key.as_str()), (6, "status"), "{e}");

    let long = "n".repeat(mpt_api::rules::MAX_NAME_CHARS + 1);
    let e = refused(&format!(
        "[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"{long}\"\nmodules = [\"MOD-1\"]\n"
    ));
    assert_eq!(
        (e.line, e.key.as_str()),
        (4, "accounts[0].tokens[0]"),
        "{e}"
    );

    let e = refused("[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"a\"\n");
    assert!(e.message.contains("module"), "{e}");

    let twice = "[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"a\"\nmodules = [\"M\"]\n[[accounts.tokens]]\nname = \"a\"\nmodules = [\"M\"]\n";
    let e = refused(twice);
    assert_eq!(e.line, 7, "{e}");
    assert!(
        e.message.contains("declared twice") && e.message.contains("line 4"),
        "{e}"
    );

    let e = refused("[[accounts]]\nid = \"ACC-1\"\n[[accounts]]\nid = \"ACC-1\"\n");
    assert_eq!(e.line, 4, "{e}");

    // Ids are ids: never a path, never anything a request would carry unchecked.
    for bad in [
        "../../outside/x",
        "ACC-1/..",
        "ACC-1\\u0000",
        "",
        "acc-1",
        "TKN-1111",
    ] {
        let e = refused(&format!("[[accounts]]\nid = \"{bad}\"\n"));
        assert_eq!(
            (e.line, e.key.as_str()),
            (2, "accounts[0].id"),
            "{bad}: {e}"
        );
        assert!(e.message.contains("ACC-1234-5678"), "{e}");
    }
    let e = refused(
        "[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"a\"\nid = \"../x\"\nmodules = [\"M\"]\n",
    );
    assert_eq!(e.key, "accounts[0].tokens[0].id", "{e}");

    // An unpinned entry and a pinned one of the same name, in either order, are refused: the
    // unpinned one would match the pinned token too.
    let unpinned_first = twice.replacen(
        "modules = [\"M\"]\n[[accounts.tokens]]\nname = \"a\"\n",
        "modules = [\"M\"]\n[[accounts.tokens]]\nname = \"a\"\nid = \"TKN-1111\"\n",
        1,
    );
    let pinned_first = twice.replacen("name = \"a\"\n", "name = \"a\"\nid = \"TKN-1111\"\n", 1);
    for text in [&unpinned_first, &pinned_first] {
        assert_ne!(text, twice);
        let e = refused(text);
        assert!(e.message.contains("declared twice"), "{text}\n{e}");
    }

    // Two entries of one name, each pinned to its own id, are fine.
    let pinned = twice.replace(
        "name = \"a\"\nmodules",
        "name = \"a\"\nid = \"TKN-1111\"\nmodules",
    );
    let pinned = pinned.replacen("id = \"TKN-1111\"", "id = \"TKN-2222\"", 1);
    let policy = Policy::from_toml(&pinned, "tokens.toml").unwrap();
    assert_eq!(policy.accounts[0].tokens.len(), 2);
    assert_eq!(policy.accounts[0].tokens[0].status, Wanted::Active);
}

#[tokio::test]
async fn a_plan_names_every_drift_and_changes_nothing() {
    let (server, client) = start().await;
    let now = Utc::now();
    let Drift {
        drifted,
        off,
        on,
        doomed,
        aged,
        idle,
        twins: [twin_a, twin_b],
        stray,
    } = Drift::seed(&server, now);
    let elsewhere = server.seed_token(
        SeedToken::named("missing")
            .with_modules([DEFAULT_MODULE])
            .in_account(VENDOR_ACCOUNT),
    );
    let policy = Drift::policy(&[], "");
    let policy = Policy::from_toml(&policy, "tokens.toml").unwrap();
    let state = || async {
        let tokens = client.list().collect().await.unwrap();
        let state: Vec<(String, Option<i32>, String)> = tokens
            .iter()
            .map(|t| (t.id().to_string(), t.revision(), t.status().to_string()))
            .collect();
        state
    };
    let before = state().await;
    let plan = client.plan_at(&policy, now).await.unwrap();
    assert_eq!(before, state().await, "planning changes nothing");

    let of = |id: Option<&str>, name: &str| {
        plan.actions
            .iter()
            .filter(|a| a.name == name && (id.is_none() || a.token_id.as_deref() == id))
            .map(|a| a.kind)
            .collect::<Vec<_>>()
    };
    assert_eq!(of(None, "missing"), [ActionKind::Create], "{plan:#?}");
    assert_eq!(of(Some(&drifted.id), "drifted"), [ActionKind::Update]);
    let update = plan
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Update)
        .unwrap();
    assert_eq!(update.changes[0].field, mpt_policy::Field::Description);
    assert_eq!(update.changes[0].from.as_deref(), Some("old words"));
    assert_eq!(update.changes[0].to.as_deref(), Some("new words"));
    assert_eq!(of(Some(&off.id), "should-be-on"), [ActionKind::Enable]);
    assert_eq!(of(Some(&on.id), "should-be-off"), [ActionKind::Disable]);
    let delete = plan.actions.iter().find(|a| a.name == "doomed").unwrap();
    assert_eq!(
        (delete.kind, delete.destructive),
        (ActionKind::Delete, true)
    );
    assert_eq!(delete.token_id.as_deref(), Some(doomed.id.as_str()));
    assert_eq!(of(Some(&aged.id), "aged"), [ActionKind::Rotate]);
    let idle_action = plan.actions.iter().find(|a| a.name == "idle").unwrap();
    assert_eq!(idle_action.kind, ActionKind::Disable);
    assert!(
        idle_action.reason.starts_with("idle 40 d"),
        "{}",
        idle_action.reason
    );
    assert_eq!(idle_action.token_id.as_deref(), Some(idle.id.as_str()));
    let twin = plan.actions.iter().find(|a| a.name == "twin").unwrap();
    assert_eq!(
        (twin.kind, twin.token_id.as_deref()),
        (ActionKind::Ambiguous, None)
    );
    assert!(twin.reason.contains(&twin_a.id) && twin.reason.contains(&twin_b.id));
    assert_eq!(of(None, "pinned"), [ActionKind::Unresolved]);
    assert_eq!(of(Some(&stray.id), "stray"), [ActionKind::Unmanaged]);
    // The admin's own token is in another account; the vendor account is not in the policy.
    assert!(
        plan.actions
            .iter()
            .all(|a| a.token_id.as_deref() != Some(elsewhere.id.as_str()))
    );
    assert!(plan.actions.iter().all(|a| a.account == DEFAULT_ACCOUNT));
    // Every drift, and nothing else: 10 actions.
    assert_eq!(plan.actions.len(), 10, "{plan:#?}");
    assert!(plan.has_changes());
    // The words plans use are the JSON's.
    for a in &plan.actions {
        assert_eq!(serde_json::to_value(a.kind).unwrap(), a.kind.as_str());
    }
    // A plan round-trips through JSON (`--out`).
    let json = serde_json::to_string(&plan).unwrap();
    assert_eq!(
        serde_json::from_str::<mpt_policy::Plan>(&json).unwrap(),
        plan
    );
}

/// A sink command's timeout of 0 s is refused when the policy is read: the command could not
/// even read the secret in time.
#[test]
fn a_sink_command_timeout_of_zero_is_refused() {
    let text = format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\n[[accounts.tokens]]\nname = \"a\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ command = [\"true\"], timeout = \"0s\" }}\n"
    );
    let e = Policy::from_toml(&text, "p.toml").unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (6, "accounts[0].tokens[0].secret"),
        "{e}"
    );
    assert!(e.message.contains("more than 0 s"), "{e}");
    assert!(Policy::from_toml(&text.replace("\"0s\"", "\"1s\""), "p.toml").is_ok());
}

#[tokio::test]
async fn undeclared_tokens_follow_the_unmanaged_setting() {
    let (server, client) = start().await;
    let active = server.seed_token(SeedToken::named("x").with_modules([DEFAULT_MODULE]));
    server.seed_token(
        SeedToken::named("y")
            .with_modules([DEFAULT_MODULE])
            .with_status("Disabled"),
    );
    let plan_with = |unmanaged: &str| {
        Policy::from_toml(
            &format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"{unmanaged}\"\n"),
            "p.toml",
        )
        .unwrap()
    };
    let plan = client.plan(&plan_with("disable")).await.unwrap();
    assert_eq!(plan.actions.len(), 1, "{plan:#?}");
    assert_eq!(
        plan.actions[0].token_id.as_deref(),
        Some(active.id.as_str())
    );
    assert!(plan.actions[0].destructive);
    assert!(
        !client
            .plan(&plan_with("ignore"))
            .await
            .unwrap()
            .has_changes()
    );
    let reported = client.plan(&plan_with("report")).await.unwrap();
    assert_eq!(reported.count(ActionKind::Unmanaged), 2);
    // Reports are shown, not changes: an apply would do nothing (`--exit-code` exits 0).
    assert!(!reported.has_changes(), "{reported:#?}");
    let e = Policy::from_toml("[[accounts]]\nid = \"A\"\nunmanaged = \"keep\"\n", "p.toml")
        .unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (3, "unmanaged"), "{e}");
}

/// The README's example policy is one `Policy::from_toml` takes.
#[test]
fn the_readme_example_policy_parses() {
    let readme = include_str!("../../../../README.md");
    let start = readme.find("### Tokens as code").unwrap();
    let block = &readme[start..];
    let toml = block
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let policy = Policy::from_toml(toml, "README.md").unwrap();
    let account = &policy.accounts[0];
    assert_eq!(account.tokens[0].name, "billing-sync");
    assert_eq!(account.hygiene.rotate_after, Some(Duration::days(90)));
    assert_eq!(
        account.tokens[0].hygiene.disable_idle_after,
        Some(Duration::days(30))
    );
}

/// A server that ignores the account filter: tokens of other accounts are never judged (with
/// `unmanaged = "disable"` they would otherwise be planned for disabling).
#[tokio::test]
async fn tokens_of_other_accounts_are_never_planned() {
    let page = r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":2}},"data":[
        {"id":"TKN-1111-1111","name":"mine","status":"Active","account":{"id":"ACC-1"}},
        {"id":"TKN-2222-2222","name":"theirs","status":"Active","account":{"id":"ACC-2"}}]}"#;
    let server = canned(vec![Scripted::answer(200, "application/json", page)]).await;
    let client = canned_client(&server, "api");
    let policy = Policy::from_toml(
        "[[accounts]]\nid = \"ACC-1\"\nunmanaged = \"disable\"\n",
        "p.toml",
    )
    .unwrap();
    let plan = client.plan(&policy).await.unwrap();
    let ids: Vec<_> = plan.actions.iter().map(|a| a.token_id.as_deref()).collect();
    assert_eq!(ids, [Some("TKN-1111-1111")], "{plan:#?}");
    assert!(server.request_lines()[0].contains("eq(account.id,%27ACC-1%27)"));
}

#[test]
fn bad_sinks_are_refused_naming_the_line_and_key() {
    let entry = |sink: &str| {
        format!(
            "[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"a\"\nmodules = [\"M\"]\nsecret = {sink}\n"
        )
    };
    let refused = |sink: &str| Policy::from_toml(&entry(sink), "tokens.toml").unwrap_err();
    let e = refused(r#"{ file = "/nonexistent-dir/a.secret" }"#);
    assert_eq!(
        (e.line, e.key.as_str()),
        (6, "accounts[0].tokens[0].secret"),
        "{e}"
    );
    assert!(e.message.contains("not in a writable directory"), "{e}");
    let e = refused(r#"{ file = "a", command = ["vault"] }"#);
    assert!(e.message.contains("one of"), "{e}");
    let e = refused(r#"{ command = [] }"#);
    assert!(e.message.contains("program"), "{e}");
    let e = refused(r#"{ command = ["vault"], timeout = "soon" }"#);
    assert_eq!(e.line, 6, "{e}");
    let e = refused(r#"{ file = "a", mode = "0644" }"#);
    assert_eq!(e.line, 6, "{e}");
    if !nix_root() {
        let dir = temp_dir("readonly");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        let e = refused(&format!("{{ file = \"{}/a.secret\" }}", dir.display()));
        assert!(e.message.contains("not in a writable directory"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    // One file for two tokens: the second would overwrite the first's secret.
    let dir = temp_dir("twice");
    let twice = format!(
        "{}[[accounts.tokens]]\nname = \"b\"\nmodules = [\"M\"]\nsecret = {{ file = \"{}/x\" }}\n",
        entry(&format!("{{ file = \"{}/x\" }}", dir.display())),
        dir.display()
    );
    let e = Policy::from_toml(&twice, "tokens.toml").unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (10, "accounts[0].tokens[1].secret"),
        "{e}"
    );
    assert!(e.message.contains("line 4"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Root writes into read-only directories: that case is checked only as another user.
fn nix_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A secret pasted into a policy by mistake is not quoted back in the error.
#[test]
fn a_policy_error_never_quotes_a_secret() {
    let e = Policy::from_toml(
        "[[accounts]]\nid = \"ACC-1\"\n[[accounts.tokens]]\nname = \"a\"\nmodules = [\"M\"]\nstatus = \"idt:TKN-1234-5678:s3cr3tv4lue\"\n",
        "tokens.toml",
    )
    .unwrap_err();
    assert_eq!(e.line, 6, "{e}");
    assert!(!e.to_string().contains("s3cr3tv4lue"), "{e}");
}
