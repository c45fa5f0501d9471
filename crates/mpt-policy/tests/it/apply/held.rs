//! Records that are refused or cannot be read hold their entry's work: the apply that reports
//! one `refused` and "left in place" sends no create or rotation that would write its own
//! record over that file (and remove it once done), in both stores. Each test asserts the
//! platform's final state and the record's bytes.

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::state::{self, Key, StateLocation};
use mpt_policy::{ActionKind, Applied, ApplyOptions, Step};

use super::records::Stores;
use super::*;
use crate::common::*;

/// Writes `text` as the record of `key`, whatever it holds.
async fn plant_text(at: &StateLocation, key: &Key, text: &str) {
    let accounts = [DEFAULT_ACCOUNT.to_string()];
    let store = state::open(at, &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    store.save(key, text).await.unwrap();
}

/// The text of the record of `key`, if there is one.
pub(super) async fn text_of(at: &StateLocation, key: &Key) -> Option<String> {
    let accounts = [DEFAULT_ACCOUNT.to_string()];
    let store = state::open(at, &accounts, None).await.unwrap();
    store.load(key).await.unwrap()
}

/// A policy declaring `name` in the default account, its secret to a file in `dir`, rotated
/// after 90 days.
fn declared(name: &str, dir: &Path) -> mpt_policy::Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"{name}\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        dir.join(format!("{name}.token")).display()
    ))
}

/// A create record refused (it names another name's token) or unreadable (cut short, empty):
/// the plan shows it refused with its file and the create of its name held; the apply reports
/// it `refused` with its account and name, makes nothing, and the file keeps its bytes, apply
/// after apply.
#[tokio::test]
async fn a_refused_or_unreadable_create_record_holds_the_create_of_its_name() {
    let stores = Stores::start("held-create");
    for case in ["another name's token", "cut short", "empty"] {
        for at in stores.fresh() {
            let (server, client) = start().await;
            let victim = server.seed_token(seed("victim"));
            let dir = temp_dir("held-create-out");
            let text = match case {
                "another name's token" => format!(
                    "{{\"accountId\":\"{DEFAULT_ACCOUNT}\",\"name\":\"held\",\"knownIds\":[],\"newId\":\"{}\",\"recordedAt\":\"2020-01-01T00:00:00Z\"}}",
                    victim.id
                ),
                "cut short" => format!(
                    "{{\"accountId\":\"{DEFAULT_ACCOUNT}\",\"name\":\"held\",\"knownIds\":[],\"newId\":\"TKN-"
                ),
                _ => String::new(),
            };
            let key = Key::create(DEFAULT_ACCOUNT, "held");
            plant_text(&at, &key, &text).await;
            let policy = declared("held", &dir);
            let shown = format!("{case} in {}", at.shown());
            let mut plan = client.plan(&policy).await.unwrap();
            let store = state::open(&at, &[DEFAULT_ACCOUNT.to_string()], None)
                .await
                .unwrap();
            plan.include_pending(&client, &policy, store.as_ref()).await;
            drop(store);
            assert_eq!(plan.count(ActionKind::Create), 0, "{shown}: {plan:#?}");
            assert_eq!(plan.actions.len(), 1, "{shown}: {plan:#?}");
            let row = &plan.actions[0];
            assert_eq!(row.steps, vec![Step::Refused], "{shown}: {row:#?}");
            assert_eq!(
                (row.account.as_str(), row.name.as_str()),
                (DEFAULT_ACCOUNT, "held")
            );
            assert!(
                row.reason.contains("waits until it is removed"),
                "{shown}: {row:#?}"
            );
            for round in 0..2 {
                let report = client
                    .apply(&policy, None, &ApplyOptions::new(at.clone()))
                    .await
                    .unwrap();
                let row = result_of(&report.results, "held");
                assert_eq!(report.results.len(), 1, "{shown} ({round}): {report:#?}");
                assert_eq!(row.result, Applied::Refused, "{shown}: {row:#?}");
                assert_eq!(row.action.account, DEFAULT_ACCOUNT, "{shown}");
                assert!(row.detail.contains("left in place"), "{shown}: {row:#?}");
                assert_eq!(server.requests(Operation::Create), 0, "{shown}");
                assert!(live_named(&client, "held").await.is_empty(), "{shown}");
                assert_eq!(text_of(&at, &key).await, Some(text.clone()), "{shown}");
                assert!(!dir.join("held.token").exists(), "{shown}");
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// A rotation record that cannot be read, of a token the policy rotates now: its row names the
/// token and its name, the rotation waits (nothing is made, the token stays Active), and the
/// file keeps its bytes.
#[tokio::test]
async fn an_unreadable_rotation_record_holds_the_rotation_of_its_token() {
    let stores = Stores::start("held-rotation");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(100)));
        let dir = temp_dir("held-rotation-out");
        let policy = declared("wanted", &dir);
        let plan = client.plan(&policy).await.unwrap();
        assert_eq!(plan.count(ActionKind::Rotate), 1, "the token is due");
        let key = Key::rotation(DEFAULT_ACCOUNT, &old.id);
        let text = format!("{{\"oldId\":\"{}\",\"phase\":\"verif", old.id);
        plant_text(&at, &key, &text).await;
        let shown = at.shown();
        let report = client
            .apply(&policy, None, &ApplyOptions::new(at.clone()))
            .await
            .unwrap();
        assert_eq!(report.results.len(), 1, "{shown}: {report:#?}");
        let row = result_of(&report.results, "wanted");
        assert_eq!(row.result, Applied::Refused, "{shown}: {row:#?}");
        assert_eq!(row.action.token_id.as_deref(), Some(old.id.as_str()));
        assert_eq!(server.requests(Operation::Create), 0, "{shown}");
        let live = live_named(&client, "wanted").await;
        assert_eq!(live.len(), 1, "{shown}");
        assert_eq!(live[0].status(), TokenStatus::Active, "{shown}");
        assert_eq!(text_of(&at, &key).await, Some(text), "{shown}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A policy declaring `name` in the default account as `extra` says (`status`, a description,
/// ...), rotated after 90 days, its secret to the command `sink`.
pub(super) fn entry(name: &str, extra: &str, sink: &str) -> mpt_policy::Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"{name}\"\nmodules = [\"{DEFAULT_MODULE}\"]\n{extra}\nsecret = {sink}\n"
    ))
}

/// A command sink that fails.
pub(super) const FAILING: &str = r#"{ command = ["sh", "-c", "cat >/dev/null; exit 3"] }"#;

/// A command sink that writes the secret to `out`.
pub(super) fn writing(out: &Path) -> String {
    format!(r#"{{ command = ["sh", "-c", "cat > {}"] }}"#, out.display())
}

/// The plan with the pending work of the store at `at`.
pub(super) async fn plan_with_pending(
    client: &Client,
    policy: &mpt_policy::Policy,
    at: &StateLocation,
) -> mpt_policy::Plan {
    let mut plan = client.plan(policy).await.unwrap();
    let store = state::open(at, &[DEFAULT_ACCOUNT.to_string()], None)
        .await
        .unwrap();
    plan.include_pending(client, policy, store.as_ref()).await;
    plan
}

/// A create whose sink failed, then its entry declared absent: no secret is handed over for a
/// token to be deleted; without allow-destroy nothing is deleted and the record's row names the
/// token; with it, the token is deleted and the record removed in the same apply.
#[tokio::test]
async fn a_pending_create_of_a_name_declared_absent_hands_nothing_over_and_is_deleted() {
    let stores = Stores::start("absent-create");
    for at in stores.fresh() {
        let (_server, client) = start().await;
        let dir = temp_dir("absent-create-out");
        let out = dir.join("delivered");
        let options = ApplyOptions::new(at.clone());
        let report = client
            .apply(&entry("gone", "", FAILING), None, &options)
            .await
            .unwrap();
        let made = result_of(&report.results, "gone")
            .new_token_id
            .clone()
            .unwrap();
        let key = Key::create(DEFAULT_ACCOUNT, "gone");
        assert!(text_of(&at, &key).await.is_some());
        let absent = entry("gone", "status = \"absent\"", &writing(&out));
        let shown = at.shown();
        let plan = plan_with_pending(&client, &absent, &at).await;
        let kinds: Vec<(ActionKind, Option<&str>)> = plan
            .actions
            .iter()
            .map(|a| (a.kind, a.token_id.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (ActionKind::Resume, Some(made.as_str())),
                (ActionKind::Delete, Some(made.as_str()))
            ],
            "{shown}: {plan:#?}"
        );
        assert_eq!(plan.actions[0].steps, vec![Step::Remove], "{shown}");
        let report = client.apply(&absent, None, &options).await.unwrap();
        assert_eq!(report.count(Applied::Skipped), 2, "{shown}: {report:#?}");
        assert!(report.results.iter().any(|r| r.detail.contains(&made)));
        assert_eq!(live_named(&client, "gone").await.len(), 1, "{shown}");
        assert!(text_of(&at, &key).await.is_some(), "{shown}");
        let destroying = options.clone().allow_destroy(true);
        let report = client.apply(&absent, None, &destroying).await.unwrap();
        assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
        assert_eq!(report.done(ActionKind::Delete), 1, "{shown}: {report:#?}");
        assert!(live_named(&client, "gone").await.is_empty(), "{shown}");
        assert!(text_of(&at, &key).await.is_none(), "{shown}");
        assert!(!out.exists(), "{shown}: a secret was handed over");
        let plan = plan_with_pending(&client, &absent, &at).await;
        assert!(!plan.has_changes(), "{shown}: {plan:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A create whose sink failed, then its entry's description changed: the apply that hands the
/// secret over updates the token too, and the plan after it has nothing to do.
#[tokio::test]
async fn a_pending_create_is_resumed_and_its_entry_changes_applied_in_the_same_apply() {
    let stores = Stores::start("changed-create");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let dir = temp_dir("changed-create-out");
        let out = dir.join("delivered");
        let options = ApplyOptions::new(at.clone());
        let report = client
            .apply(&entry("svc", "", FAILING), None, &options)
            .await
            .unwrap();
        let made = result_of(&report.results, "svc")
            .new_token_id
            .clone()
            .unwrap();
        let changed = entry("svc", "description = \"changed since\"", &writing(&out));
        let shown = at.shown();
        let plan = plan_with_pending(&client, &changed, &at).await;
        assert_eq!(plan.count(ActionKind::Resume), 1, "{shown}: {plan:#?}");
        assert_eq!(plan.count(ActionKind::Update), 1, "{shown}: {plan:#?}");
        let report = client.apply(&changed, None, &options).await.unwrap();
        assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
        assert_eq!(report.count(Applied::Adopted), 1, "{shown}: {report:#?}");
        assert_eq!(report.done(ActionKind::Update), 1, "{shown}: {report:#?}");
        assert_eq!(written_for(&out), made);
        let token = client.get(made.as_str()).await.unwrap();
        assert_eq!(token.description(), Some("changed since"), "{shown}");
        assert_eq!(server.tokens_created(), 1);
        let plan = plan_with_pending(&client, &changed, &at).await;
        assert!(!plan.has_changes(), "{shown}: {plan:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A rotation whose sink failed, then its entry declared absent: without allow-destroy both
/// tokens stay and the record's row names both; with it, both are deleted and the record
/// removed in the same apply, and the next plan has nothing to do.
#[tokio::test]
async fn a_pending_rotation_of_a_name_declared_absent_ends_with_both_tokens_deleted() {
    let stores = Stores::start("absent-rotation");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let old = server.seed_token(seed("rot").created(Utc::now() - Days::days(100)));
        let dir = temp_dir("absent-rotation-out");
        let out = dir.join("delivered");
        let options = ApplyOptions::new(at.clone());
        let report = client
            .apply(&entry("rot", "", FAILING), None, &options)
            .await
            .unwrap();
        let new = result_of(&report.results, "rot")
            .new_token_id
            .clone()
            .unwrap();
        let key = Key::rotation(DEFAULT_ACCOUNT, &old.id);
        assert!(text_of(&at, &key).await.is_some());
        let absent = entry("rot", "status = \"absent\"", &writing(&out));
        let shown = at.shown();
        let plan = plan_with_pending(&client, &absent, &at).await;
        assert_eq!(plan.count(ActionKind::Delete), 2, "{shown}: {plan:#?}");
        let report = client.apply(&absent, None, &options).await.unwrap();
        let row = report.results.iter().find(|r| r.resumed).unwrap();
        assert_eq!(row.result, Applied::Skipped, "{shown}: {report:#?}");
        assert!(
            row.detail.contains(&old.id) && row.detail.contains(&new),
            "{row:#?}"
        );
        assert_eq!(live_named(&client, "rot").await.len(), 2, "{shown}");
        let destroying = options.clone().allow_destroy(true);
        let report = client.apply(&absent, None, &destroying).await.unwrap();
        assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
        assert_eq!(report.done(ActionKind::Delete), 2, "{shown}: {report:#?}");
        assert!(live_named(&client, "rot").await.is_empty(), "{shown}");
        assert!(text_of(&at, &key).await.is_none(), "{shown}");
        assert!(!out.exists(), "{shown}: a secret was handed over");
        let report = client.apply(&absent, None, &destroying).await.unwrap();
        assert!(report.results.is_empty(), "{shown}: {report:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A forged create record naming a token someone holds (its secret used), or one made by hand
/// and never edited, carrying none of the record's markers: refused, in plan and apply, in both
/// stores; the token is not handed to the sink, not edited, not disabled (tester round 24, S1:
/// a Disabled entry's apply adopted the held token, wrote its secret to the sink and disabled
/// it, while the same run said its name was `ambiguous`).
#[tokio::test]
async fn a_create_record_naming_a_token_not_as_its_create_leaves_one_is_refused() {
    let stores = Stores::start("forged-create");
    // Round 25, F2: one edited by hand since it was made and never used, beside another of
    // its name the record did not know.
    for case in ["used", "never edited", "edited, beside another"] {
        for at in stores.fresh() {
            let (server, client) = start().await;
            let held = match case {
                "used" => seed("held").last_used(Utc::now() - Days::hours(1)),
                _ => seed("held"),
            };
            let held = server.seed_token(held.with_description("in use by a service"));
            if case == "edited, beside another" {
                let edit = TokenUpdate::new().description("in use by a service");
                client.update(held.id.as_str(), &edit).await.unwrap();
            }
            let other = server.seed_token(seed("held"));
            let dir = temp_dir("forged-create-out");
            let json = serde_json::json!({
                "accountId": DEFAULT_ACCOUNT, "name": "held", "knownIds": [],
                "newId": held.id, "recordedAt": "2000-01-01T00:00:00Z",
                "markerHashes": [mpt::marker_hash("forged-marker")],
            });
            let key = Key::create(DEFAULT_ACCOUNT, "held");
            plant_text(&at, &key, &json.to_string()).await;
            let policy = policy(&format!(
                "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"held\"\nstatus = \"Disabled\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
                dir.join("held.token").display()
            ));
            let shown = format!("{case} in {}", at.shown());
            let plan = super::late::planned(&client, &policy, &at).await;
            let row = plan
                .actions
                .iter()
                .find(|a| a.kind == ActionKind::Resume)
                .unwrap_or_else(|| panic!("{shown}: {plan:#?}"));
            assert_eq!(row.steps, vec![Step::Refused], "{shown}: {row:#?}");
            assert!(row.reason.contains(&held.id), "{shown}: {row:#?}");
            assert!(
                row.reason.contains("taken on the record's word"),
                "{shown}: {row:#?}"
            );
            let updates = server.requests(Operation::Update);
            let report = client
                .apply(&policy, None, &ApplyOptions::new(at.clone()))
                .await
                .unwrap();
            assert_eq!(report.count(Applied::Refused), 1, "{shown}: {report:#?}");
            assert_eq!(report.count(Applied::Changed), 0, "{shown}: {report:#?}");
            for id in [&held.id, &other.id] {
                assert_eq!(
                    server.token_status(id).as_deref(),
                    Some("Active"),
                    "{shown}"
                );
            }
            let now = client.get(held.id.as_str()).await.unwrap();
            assert_eq!(now.description(), Some("in use by a service"), "{shown}");
            assert!(
                !dir.join("held.token").exists(),
                "{shown}: its secret copied"
            );
            assert_eq!(server.requests(Operation::Update), updates, "{shown}");
            assert_eq!(server.requests(Operation::Disable), 0, "{shown}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
