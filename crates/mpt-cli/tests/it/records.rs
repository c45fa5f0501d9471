//! `mpt tokens apply` and a create record that cannot be read: reported `refused` with its file,
//! its account and name, exit 1, and left in place, byte for byte: the plan's create of its
//! name, which would write its own record over it and remove it, is not sent.

use mpt_mock::{DEFAULT_ACCOUNT, DEFAULT_MODULE};
use serde_json::Value;

use crate::common::{mock, mpt, text};

#[test]
fn an_unreadable_create_record_is_refused_and_kept_and_its_name_is_not_created() {
    let server = mock();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("tokens.toml");
    std::fs::write(
        &policy,
        format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"svc\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
            dir.path().join("svc.secret").display()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let creates = state.join("creates");
    std::fs::create_dir_all(&creates).unwrap();
    // `svc` in hex: the file a create of `svc` writes its record to.
    let record = creates.join(format!("{DEFAULT_ACCOUNT}-737663.json"));
    let cut = format!(
        "{{\"accountId\":\"{DEFAULT_ACCOUNT}\",\"name\":\"svc\",\"knownIds\":[],\"newId\":\"TKN-"
    );
    std::fs::write(&record, &cut).unwrap();
    let args = |verb: &'static str| {
        vec![
            "tokens".to_string(),
            verb.to_string(),
            "--policy".into(),
            policy.display().to_string(),
            "--state".into(),
            state.display().to_string(),
            "-o".into(),
            if verb == "plan" { "json" } else { "jsonl" }.into(),
        ]
    };
    let plan_args = args("plan");
    let out = mpt(
        &server,
        &plan_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let stdout = text(&out.stdout);
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{stdout}");
    assert_eq!(actions[0]["kind"], "resume", "{stdout}");
    assert_eq!(actions[0]["steps"][0], "refused", "{stdout}");
    assert_eq!(actions[0]["name"], "svc", "{stdout}");
    let apply_args = args("apply");
    let out = mpt(
        &server,
        &apply_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert_eq!(rows[0]["result"], "refused", "{stdout}");
    assert_eq!(rows[0]["action"]["account"], DEFAULT_ACCOUNT, "{stdout}");
    assert_eq!(rows[0]["action"]["name"], "svc", "{stdout}");
    let detail = rows[0]["detail"].as_str().unwrap();
    assert!(detail.contains(&record.display().to_string()), "{detail}");
    assert!(detail.contains("left in place"), "{detail}");
    assert_eq!(std::fs::read_to_string(&record).unwrap(), cut);
    assert_eq!(server.tokens_created(), 0);
}
