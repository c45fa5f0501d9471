//! A destructive step acts only on what was read right before it: a rotation's quiet wait is
//! followed by a fresh read of both its tokens, a rotation record is resumed only for the one
//! live, Active token of an entry declared Active, and a create is not sent for a name that
//! appeared since the plan. Each test asserts the platform's final state.

use mpt::chrono::{Duration as Days, Utc};
use mpt::{Quiet, TokenUpdate};
use mpt_policy::state::{Key, Kind};
use mpt_policy::{ActionKind, Applied, ApplyOptions, Policy, Step};

use super::records::{Stores, plant, records};
use super::*;
use crate::common::*;

/// A policy declaring `wanted` in the default account (with `extra` lines in its entry), its
/// secret to `file`, rotated after 90 days.
fn declaring(file: &Path, extra: &str) -> Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"wanted\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n{extra}",
        file.display()
    ))
}

/// Runs `change` (an administrator's, with its own client) once the quiet wait on `old` is
/// under way: the last three requests the mock saw read `old`, which only the wait's polls do.
async fn during_the_wait(server: &MockServer, old: &str, change: impl AsyncFnOnce(Client)) {
    let path = format!("/public/v1/accounts/api-tokens/{old}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen = server.recorded();
        let n = seen.len();
        if n >= 3
            && seen[n - 3..]
                .iter()
                .all(|r| r.method == "GET" && r.path == path)
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no quiet wait seen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    change(admin(server)).await;
}

fn quiet() -> Quiet {
    Quiet {
        period: Duration::from_millis(1500),
        poll: Duration::from_millis(50),
        max_wait: Duration::from_secs(20),
    }
}

/// The administrator disables the replacement, or changes the old token, while a rotation
/// waits for the old token to go quiet (started now, or resumed from a `verified` record):
/// nothing is disabled or deleted, the rotation is reported `moved` with the revisions, and
/// its record stays for the next apply to check again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_changed_during_the_quiet_wait_stops_the_rotation() {
    let stores = Stores::start("quiet-moved");
    for case in [
        "replacement disabled",
        "old changed",
        "resumed, replacement disabled",
    ] {
        for at in stores.fresh() {
            let (server, client) = start().await;
            let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(100)));
            let mut made = None;
            if case.starts_with("resumed") {
                let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
                let new = plan.start(&client).await.unwrap().unwrap();
                plan.verify(&client, &new.secret).await.unwrap();
                let json = serde_json::to_value(&plan).unwrap();
                plant(&at, &Key::rotation(DEFAULT_ACCOUNT, &old.id), &json).await;
                made = Some(new.token.id().to_string());
            }
            let dir = temp_dir("quiet-moved-sink");
            let file = dir.join("wanted.secret");
            let old_id = old.id.clone();
            let watcher = during_the_wait(&server, &old.id, async move |admin| {
                if case == "old changed" {
                    admin
                        .update(old_id.as_str(), TokenUpdate::new().name("renamed"))
                        .await
                        .unwrap();
                    return;
                }
                let new = admin
                    .list()
                    .filter(Filter::account(DEFAULT_ACCOUNT).and(Filter::name("wanted")))
                    .collect()
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|t| t.id() != old_id && t.status() == TokenStatus::Active)
                    .unwrap();
                admin.ensure_disabled(new.id()).await.unwrap();
            });
            let policy = declaring(&file, "");
            let options = ApplyOptions::new(at.clone())
                .allow_destroy(true)
                .quiet(Some(quiet()));
            let (report, ()) = tokio::join!(client.apply(&policy, None, &options), watcher);
            let report = report.unwrap();
            let shown = at.shown();
            let rotations: Vec<_> = report
                .results
                .iter()
                .filter(|r| matches!(r.action.kind, ActionKind::Rotate))
                .collect();
            assert_eq!(rotations.len(), 1, "{case} {shown}: {report:#?}");
            let r = rotations[0];
            assert_eq!(r.result, Applied::Moved, "{case} {shown}: {report:#?}");
            assert!(r.detail.contains("revision"), "{case}: {}", r.detail);
            // The platform: the old token Active, neither disabled nor deleted by the apply;
            // the one disable the administrator's, if any; the record kept.
            assert_eq!(
                server.token_status(&old.id).as_deref(),
                Some("Active"),
                "{case} {shown}"
            );
            assert_eq!(server.requests(Operation::Delete), 0, "{case} {shown}");
            let admin_disables = u64::from(case != "old changed");
            assert_eq!(
                server.requests(Operation::Disable),
                admin_disables,
                "{case} {shown}: {report:#?}"
            );
            assert_eq!(records(&at, Kind::Rotation).await, 1, "{case} {shown}");
            let new_id = r.new_token_id.clone().or(made).unwrap();
            if !case.starts_with("resumed") {
                // Made and handed over before the wait: its secret is where the policy says.
                assert_eq!(secret_owner(&file), new_id, "{case} {shown}");
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// A rotation record not yet started for an entry not declared Active, or naming a token that
/// is not the one the plan would rotate (a Disabled token beside the live one): nothing made,
/// no secret delivered. Refused in the plan and by apply, the record in place; declared absent:
/// not resumed, kept until its name's tokens are deleted; declared Disabled: it made nothing
/// and is no reason to rotate, so it is removed, and the plan's own disable of the token runs.
#[tokio::test]
async fn a_rotation_record_of_a_token_the_plan_would_not_rotate_never_makes_one() {
    let stores = Stores::start("not-rotatable");
    let cases = [
        (
            "absent",
            "status = \"absent\"\n",
            "declares \"wanted\" absent",
        ),
        ("disabled", "status = \"Disabled\"\n", "it made nothing"),
        ("a disabled twin", "", "must be Active"),
    ];
    for (case, extra, why) in cases {
        for at in stores.fresh() {
            let (server, client) = start().await;
            let live = server.seed_token(seed("wanted").created(Utc::now() - Days::days(10)));
            let old = if case == "a disabled twin" {
                server
                    .seed_token(
                        seed("wanted")
                            .with_status("Disabled")
                            .created(Utc::now() - Days::days(10)),
                    )
                    .id
            } else {
                live.id.clone()
            };
            // A record of a rotation not yet started: resuming it would make a token.
            let mut plan = client.plan_rotation(old.as_str()).await.unwrap();
            plan.known_ids = vec![old.clone()];
            let json = serde_json::to_value(&plan).unwrap();
            plant(&at, &Key::rotation(DEFAULT_ACCOUNT, &old), &json).await;
            let dir = temp_dir("not-rotatable-sink");
            let file = dir.join("wanted.secret");
            let policy = declaring(&file, extra);
            let store = mpt_policy::state::open(&at, &[DEFAULT_ACCOUNT.to_string()], None)
                .await
                .unwrap();
            let mut shown_plan = client.plan(&policy).await.unwrap();
            shown_plan
                .include_pending(&client, &policy, store.as_ref())
                .await;
            drop(store);
            let pending: Vec<_> = shown_plan
                .actions
                .iter()
                .filter(|a| a.kind == ActionKind::Resume)
                .collect();
            assert_eq!(pending.len(), 1, "{case}: {shown_plan:#?}");
            // A name declared absent has nothing to resume: its record waits for the plan's
            // deletes (destructive), then goes; here, without allow-destroy, it is kept.
            let (step, result, kept, status) = match case {
                "absent" => (Step::Remove, Applied::Skipped, 1, "Active"),
                "disabled" => (Step::Remove, Applied::Unchanged, 0, "Disabled"),
                _ => (Step::Refused, Applied::Refused, 1, "Active"),
            };
            assert_eq!(pending[0].steps, vec![step], "{case}");
            assert!(
                pending[0].reason.contains(why),
                "{case}: {}",
                pending[0].reason
            );
            let report = client
                .apply(&policy, None, &ApplyOptions::new(at.clone()))
                .await
                .unwrap();
            let shown = at.shown();
            let r = report.results.iter().find(|r| r.resumed).unwrap();
            assert_eq!(r.result, result, "{case} {shown}: {report:#?}");
            assert!(r.detail.contains(why), "{case} {shown}: {}", r.detail);
            // The platform: nothing made, nothing deleted, the live token as the policy's own
            // actions leave it; no secret; the record kept, unless it was removed.
            assert_eq!(server.requests(Operation::Create), 0, "{case} {shown}");
            assert_eq!(server.requests(Operation::Delete), 0, "{case} {shown}");
            assert_eq!(server.token_status(&live.id).as_deref(), Some(status));
            assert!(!file.exists(), "{case} {shown}");
            assert_eq!(records(&at, Kind::Rotation).await, kept, "{case} {shown}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// A name that appears between the plan and its create (an administrator made it): the
/// create is not sent, the action is `moved`, and the administrator's token is the only one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_is_not_sent_when_the_name_appeared_since_the_plan() {
    let stores = Stores::start("appeared");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let dir = temp_dir("appeared-sink");
        let file = dir.join("wanted.secret");
        let admin = admin(&server);
        let options = ApplyOptions::new(at.clone()).on_plan(move |_| {
            let client = admin.clone();
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async {
                        client
                            .create(
                                &mpt::NewToken::new(DEFAULT_ACCOUNT, "wanted")
                                    .module(DEFAULT_MODULE),
                            )
                            .await
                            .unwrap();
                    });
            })
            .join()
            .unwrap();
        });
        let report = client
            .apply(&declaring(&file, ""), None, &options)
            .await
            .unwrap();
        let shown = at.shown();
        let r = result_of(&report.results, "wanted");
        assert_eq!(r.result, Applied::Moved, "{shown}: {report:#?}");
        assert!(r.detail.contains("appeared since the plan"), "{}", r.detail);
        // The platform: the administrator's token only; no secret; no record.
        assert_eq!(server.requests(Operation::Create), 1, "{shown}");
        assert_eq!(live_named(&client, "wanted").await.len(), 1, "{shown}");
        assert!(!file.exists(), "{shown}");
        assert_eq!(records(&at, Kind::Create).await, 0, "{shown}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Create records whose token is not one the record's create can have left: two records of
/// one name naming different tokens (both shown, both refused as ambiguous), a record naming a
/// Disabled token, a record naming a token that does not exist. The plan shows each refused,
/// apply refuses it the same way, no secret is delivered, and the records stay.
#[tokio::test]
async fn a_create_record_is_resumed_only_for_an_active_token_it_alone_names() {
    let stores = Stores::start("create-records");
    for case in ["two tokens", "disabled", "missing"] {
        for at in stores.fresh() {
            let (server, client) = start().await;
            let recorded = Utc::now() - Days::minutes(5);
            let ids: Vec<String> = match case {
                "two tokens" => vec![
                    server.seed_token(seed("wanted")).id.clone(),
                    server.seed_token(seed("wanted")).id.clone(),
                ],
                "disabled" => vec![
                    server
                        .seed_token(seed("wanted").with_status("Disabled"))
                        .id
                        .clone(),
                ],
                _ => vec!["TKN-9999-9999".to_string()],
            };
            for (n, id) in ids.iter().enumerate() {
                let key = Key {
                    kind: Kind::Create,
                    account: DEFAULT_ACCOUNT.to_string(),
                    name: format!("planted-{n}"),
                };
                let body = serde_json::json!({
                    "accountId": DEFAULT_ACCOUNT, "name": "wanted", "knownIds": [],
                    "newId": id, "recordedAt": recorded,
                });
                plant(&at, &key, &body).await;
            }
            let dir = temp_dir("create-records-sink");
            let file = dir.join("wanted.secret");
            let policy = declaring(&file, "");
            let store = mpt_policy::state::open(&at, &[DEFAULT_ACCOUNT.to_string()], None)
                .await
                .unwrap();
            let mut plan = client.plan(&policy).await.unwrap();
            plan.include_pending(&client, &policy, store.as_ref()).await;
            drop(store);
            let why = match case {
                "two tokens" => "name different tokens",
                "disabled" => "is Disabled, not Active",
                _ => "does not exist",
            };
            let pending: Vec<_> = plan
                .actions
                .iter()
                .filter(|a| a.kind == ActionKind::Resume)
                .collect();
            assert_eq!(pending.len(), ids.len(), "{case}: {plan:#?}");
            for a in &pending {
                assert_eq!(a.steps, vec![Step::Refused], "{case}: {plan:#?}");
                assert!(a.reason.contains(why), "{case}: {}", a.reason);
            }
            let report = client
                .apply(&policy, None, &ApplyOptions::new(at.clone()))
                .await
                .unwrap();
            let shown = at.shown();
            let resumed: Vec<_> = report.results.iter().filter(|r| r.resumed).collect();
            assert_eq!(resumed.len(), ids.len(), "{case} {shown}: {report:#?}");
            for r in &resumed {
                assert_eq!(r.result, Applied::Refused, "{case} {shown}: {report:#?}");
                assert!(r.detail.contains(why), "{case} {shown}: {}", r.detail);
            }
            // No secret of a token the records name was delivered; the records stay.
            assert!(
                !file.exists() || !ids.contains(&secret_owner(&file)),
                "{case} {shown}"
            );
            assert_eq!(
                records(&at, Kind::Create).await,
                ids.len(),
                "{case} {shown}"
            );
            if case == "two tokens" {
                // Two live tokens of the name: the plan reports them, nothing is sent.
                assert_eq!(changes(&server), 0, "{case} {shown}: {report:#?}");
                for id in &ids {
                    assert_eq!(server.token_status(id).as_deref(), Some("Active"));
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// A token updated and rotated in one apply (its fields differ, its secret is old): the
/// update's own revision is not taken for an administrator's change, and the rotation, with a
/// quiet wait, is carried out.
#[tokio::test]
async fn a_rotation_after_its_tokens_update_in_the_same_apply_is_carried_out() {
    let stores = Stores::start("update-rotate");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(100)));
        let dir = temp_dir("update-rotate-sink");
        let file = dir.join("wanted.secret");
        let policy = declaring(&file, "description = \"now described\"\n");
        let quick = Quiet {
            period: Duration::from_millis(100),
            poll: Duration::from_millis(20),
            max_wait: Duration::from_secs(10),
        };
        let report = client
            .apply(
                &policy,
                None,
                &ApplyOptions::new(at.clone()).quiet(Some(quick)),
            )
            .await
            .unwrap();
        let shown = at.shown();
        assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
        let kinds: Vec<_> = report.results.iter().map(|r| r.action.kind).collect();
        assert!(
            kinds.contains(&ActionKind::Update) && kinds.contains(&ActionKind::Rotate),
            "{shown}: {report:#?}"
        );
        // The platform: the old token deleted, one live replacement, its secret delivered.
        assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
        let live = live_named(&client, "wanted").await;
        assert_eq!(live.len(), 1, "{shown}");
        assert_eq!(secret_owner(&file), live[0].id(), "{shown}");
        assert_eq!(records(&at, Kind::Rotation).await, 0, "{shown}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
