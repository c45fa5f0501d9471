//! Records forged, duplicated and left by another policy, in both stores (a directory and
//! PostgreSQL): nothing acts on a record without evidence read from the platform now, each
//! test asserting the platform's final state.

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::state::{self, Key, Kind, StateLocation};
use mpt_policy::{Applied, ApplyOptions, Policy, Step};
use mpt_testpg::TestPostgres;

use super::*;
use crate::common::*;

/// The two stores a test runs against: a directory, and a PostgreSQL database of its own (on a
/// machine without PostgreSQL the directory only, saying so, unless `CI` demands it).
pub(super) struct Stores {
    pg: Option<TestPostgres>,
    dir: std::path::PathBuf,
    used: std::cell::Cell<u32>,
}

impl Stores {
    pub(super) fn start(tag: &str) -> Stores {
        let pg = match TestPostgres::start() {
            Ok(pg) => Some(pg),
            // `.ci/run` demands it with MPT_REQUIRE_POSTGRES=1 (as mpt-testpg's start_or_skip).
            Err(e)
                if std::env::var("CI").as_deref() != Ok("true")
                    && std::env::var("MPT_REQUIRE_POSTGRES").as_deref() != Ok("1") =>
            {
                eprintln!("{tag}: the PostgreSQL half did not run (no PostgreSQL here: {e})");
                None
            }
            Err(e) => panic!("{tag}: PostgreSQL is needed under CI: {e}"),
        };
        Stores {
            pg,
            dir: temp_dir(tag),
            used: std::cell::Cell::new(0),
        }
    }

    /// Runs `sql` in the database half (none without one).
    pub(super) fn pg_sql(&self, sql: &str) {
        if let Some(pg) = &self.pg {
            pg.sql(sql).unwrap();
        }
    }

    /// Both stores, empty: a new directory, and the database without records.
    pub(super) fn fresh(&self) -> Vec<StateLocation> {
        let n = self.used.get() + 1;
        self.used.set(n);
        let mut stores = vec![StateLocation::Dir(self.dir.join(format!("state-{n}")))];
        if let Some(pg) = &self.pg {
            // Before the first apply the table does not exist yet: nothing to empty.
            let _ = pg.sql("delete from mpt_records");
            stores.push(StateLocation::parse(pg.url()));
        }
        stores
    }
}

impl Drop for Stores {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes a record as someone with write access to the store would.
pub(super) async fn plant(at: &StateLocation, key: &Key, json: &serde_json::Value) {
    let store = state::open(at, std::slice::from_ref(&key.account), Some(Duration::ZERO))
        .await
        .unwrap();
    store.save(key, &json.to_string()).await.unwrap();
}

/// How many records of `kind` of the default account the store holds.
pub(super) async fn records(at: &StateLocation, kind: Kind) -> usize {
    let store = state::open(at, &[DEFAULT_ACCOUNT.to_string()], None)
        .await
        .unwrap();
    store
        .pending(kind, &[DEFAULT_ACCOUNT.to_string()])
        .await
        .unwrap()
        .len()
}

/// A policy declaring `wanted` (pinned to `pin`, if set) in the default account, its secret
/// to `file`, rotated after 90 days.
fn wanted(file: &Path, pin: Option<&str>) -> Policy {
    let pin = pin.map(|id| format!("id = \"{id}\"\n")).unwrap_or_default();
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"wanted\"\n{pin}modules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n",
        file.display()
    ))
}

/// Each way a rotation record can name a replacement the platform does not show as its own:
/// the apply refuses it, leaves it in place, and sends nothing for the old token.
#[tokio::test]
async fn a_forged_rotation_record_never_retires_a_token_without_its_replacement_read_now() {
    let stores = Stores::start("forged-rotation");
    let cases = [
        ("missing", "does not exist"),
        ("disabled", "not Active"),
        ("older", "before the record"),
        ("other name", "is not a token"),
        ("old not known", "knownIds lack"),
        ("pinned", "pinned"),
        ("older than the old one", "older than the old token"),
        ("finished", "says the old token was deleted"),
        // The entry's secret file still holds the old token's secret: the hand-over the record
        // claims never happened (tester round 24, S2: the managed token was deleted).
        ("sink holds the old one", "not in the entry's secret file"),
        // A token made by hand, never edited, named at `created`: not as the rotation's create
        // leaves its replacement (carrying the marker, or put back). Tester round 25, F1: its
        // secret was handed to the sink and the managed token deleted.
        ("made by hand, at created", "never edited since it was made"),
    ];
    for (case, why) in cases {
        for at in stores.fresh() {
            let (server, client) = start().await;
            // The declared token, due for rotation, pinned or not.
            let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(10)));
            let plan = client.plan_rotation(old.id.as_str()).await.unwrap();
            let mut json = serde_json::to_value(&plan).unwrap();
            json["phase"] = "verified".into();
            json["createSent"] = true.into();
            let real = || server.seed_token(seed("wanted")).id;
            let new_id = match case {
                "missing" => "TKN-9999-9999".to_string(),
                "disabled" => server
                    .seed_token(seed("wanted").with_status("Disabled"))
                    .id
                    .clone(),
                "older" => server
                    .seed_token(seed("wanted").created(Utc::now() - Days::days(2)))
                    .id
                    .clone(),
                "other name" => server.seed_token(seed("stranger")).id.clone(),
                "old not known" => {
                    json["knownIds"] = serde_json::json!([]);
                    real()
                }
                "older than the old one" => {
                    // Its times moved back so far that a token older than the old one fits.
                    json["plannedAt"] = serde_json::json!(Utc::now() - Days::days(30));
                    json["recordedAt"] = serde_json::json!(Utc::now() - Days::days(30));
                    server
                        .seed_token(seed("wanted").created(Utc::now() - Days::days(20)))
                        .id
                        .clone()
                }
                "finished" => {
                    json["phase"] = "finished".into();
                    real()
                }
                "made by hand, at created" => {
                    json["phase"] = "created".into();
                    real()
                }
                _ => real(),
            };
            json["newId"] = new_id.clone().into();
            plant(&at, &Key::rotation(DEFAULT_ACCOUNT, &old.id), &json).await;
            let dir = temp_dir("forged-sink");
            let file = dir.join("wanted.secret");
            let pin = (case == "pinned").then_some(old.id.as_str());
            let holding = case == "sink holds the old one";
            if holding {
                std::fs::write(&file, old.secret.expose_secret()).unwrap();
            }
            let was = (
                server.token_revision(&old.id),
                server.token_revision(&new_id),
            );
            let sent = changes(&server);
            let report = client
                .apply(
                    &wanted(&file, pin),
                    None,
                    &ApplyOptions::new(at.clone()).allow_destroy(true),
                )
                .await
                .unwrap();
            let shown = at.shown();
            let resumed: Vec<_> = report.results.iter().filter(|r| r.resumed).collect();
            assert_eq!(resumed.len(), 1, "{case} {shown}: {report:#?}");
            assert_eq!(resumed[0].result, Applied::Refused, "{case} {shown}");
            assert!(
                resumed[0].detail.contains(why),
                "{case} {shown}: {}",
                resumed[0].detail
            );
            // The platform: the old token Active and unchanged, the other one untouched,
            // nothing made, nothing sent at all; the record in place; no secret written.
            assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
            assert_eq!(
                (
                    server.token_revision(&old.id),
                    server.token_revision(&new_id)
                ),
                was,
                "{case} {shown}"
            );
            assert_eq!(changes(&server), sent, "{case} {shown}: {report:#?}");
            assert_eq!(records(&at, Kind::Rotation).await, 1, "{case} {shown}");
            match holding {
                true => assert_eq!(
                    std::fs::read_to_string(&file).unwrap(),
                    old.secret.expose_secret(),
                    "{case} {shown}"
                ),
                false => assert!(!file.exists(), "{case} {shown}"),
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// The record of a real rotation (its replacement made by it, Active, of its name, with a
/// working secret) is still finished from any phase past its start, in both stores.
#[tokio::test]
async fn a_true_rotation_record_is_finished_once_its_replacement_is_read_now() {
    let stores = Stores::start("true-rotation");
    for phase in ["created", "verified", "retired"] {
        for at in stores.fresh() {
            let (server, client) = start().await;
            let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(100)));
            let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
            let made = plan.start(&client).await.unwrap().unwrap();
            if phase != "created" {
                plan.verify(&client, &made.secret).await.unwrap();
            }
            if phase == "retired" {
                plan.retire(&client, None).await.unwrap();
            }
            let json = serde_json::to_value(&plan).unwrap();
            plant(&at, &Key::rotation(DEFAULT_ACCOUNT, &old.id), &json).await;
            let dir = temp_dir("true-sink");
            let file = dir.join("wanted.secret");
            let report = client
                .apply(&wanted(&file, None), None, &ApplyOptions::new(at.clone()))
                .await
                .unwrap();
            let shown = at.shown();
            assert_eq!(report.failed(), 0, "{phase} {shown}: {report:#?}");
            assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
            assert_eq!(
                server.token_status(made.token.id()).as_deref(),
                Some("Active")
            );
            assert_eq!(server.tokens_created(), 1, "{phase} {shown}");
            if phase == "created" {
                // Not yet handed over: the secret read from the platform goes to the sink.
                assert_eq!(secret_owner(&file), made.token.id());
            }
            assert_eq!(records(&at, Kind::Rotation).await, 0, "{phase} {shown}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// A rotation retired, then its old token enabled again by an administrator: the next apply
/// does not delete it (an Active token is deleted only when declared absent); the record stays.
#[tokio::test]
async fn a_retired_token_enabled_again_is_not_deleted_by_its_rotation() {
    let stores = Stores::start("re-enabled");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(100)));
        let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
        let made = plan.start(&client).await.unwrap().unwrap();
        plan.verify(&client, &made.secret).await.unwrap();
        plan.retire(&client, None).await.unwrap();
        plant(
            &at,
            &Key::rotation(DEFAULT_ACCOUNT, &old.id),
            &serde_json::to_value(&plan).unwrap(),
        )
        .await;
        client.ensure_active(old.id.as_str()).await.unwrap();
        let dir = temp_dir("re-enabled-sink");
        let shown_policy = wanted(&dir.join("wanted.secret"), None);
        let store = state::open(&at, &[DEFAULT_ACCOUNT.to_string()], None)
            .await
            .unwrap();
        let mut plan = client.plan(&shown_policy).await.unwrap();
        plan.include_pending(&client, &shown_policy, store.as_ref())
            .await;
        drop(store);
        let pending = plan
            .actions
            .iter()
            .find(|a| a.kind == mpt_policy::ActionKind::Resume)
            .unwrap();
        assert_eq!(pending.steps, vec![Step::Refused], "{plan:#?}");
        assert!(
            pending.reason.contains("it must be Disabled"),
            "{}",
            pending.reason
        );
        let report = client
            .apply(
                &wanted(&dir.join("wanted.secret"), None),
                None,
                &ApplyOptions::new(at.clone()).allow_destroy(true),
            )
            .await
            .unwrap();
        let r = report.results.iter().find(|r| r.resumed).unwrap();
        // Refused, as the plan shows it: a retired record's old token must be Disabled.
        assert_eq!(r.result, Applied::Refused, "{report:#?}");
        assert!(
            r.detail.contains("is Active (it must be Disabled)"),
            "{}",
            r.detail
        );
        assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
        assert_eq!(server.requests(Operation::Delete), 0);
        assert_eq!(records(&at, Kind::Rotation).await, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A policy declaring `names` in the default account, each secret to the command `sink`.
fn named(names: &[&str], sink: &str) -> Policy {
    let mut text = format!("[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n");
    for name in names {
        text.push_str(&format!(
            "[[accounts.tokens]]\nname = \"{name}\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n"
        ));
    }
    policy(&text)
}

/// A command sink that appends each secret it gets to `out`, one line each.
fn appending(out: &Path) -> String {
    format!(
        r#"{{ command = ["sh", "-c", "cat >> {}"] }}"#,
        out.display()
    )
}

const FAILING: &str = r#"{ command = ["sh", "-c", "exit 3"] }"#;

/// A record stored twice (a second file, a second row) is one action and one delivery.
#[tokio::test]
async fn a_record_stored_twice_is_acted_on_and_delivered_once() {
    let stores = Stores::start("twice");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let options = ApplyOptions::new(at.clone());
        // An apply whose sink failed leaves its create record, naming the token it made.
        let report = client
            .apply(&named(&["twice"], FAILING), None, &options)
            .await
            .unwrap();
        let id = result_of(&report.results, "twice")
            .new_token_id
            .clone()
            .unwrap();
        let store = state::open(&at, &[DEFAULT_ACCOUNT.to_string()], None)
            .await
            .unwrap();
        let pending = store
            .pending(Kind::Create, &[DEFAULT_ACCOUNT.to_string()])
            .await
            .unwrap();
        assert_eq!(pending.len(), 1);
        let body: serde_json::Value = serde_json::from_str(pending[0].1.as_ref().unwrap()).unwrap();
        drop(store);
        let copy = Key {
            kind: Kind::Create,
            account: DEFAULT_ACCOUNT.to_string(),
            name: "duplicate".into(),
        };
        plant(&at, &copy, &body).await;
        assert_eq!(records(&at, Kind::Create).await, 2);
        let dir = temp_dir("twice-out");
        let out = dir.join("delivered");
        let report = client
            .apply(&named(&["twice"], &appending(&out)), None, &options)
            .await
            .unwrap();
        let shown = at.shown();
        assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
        assert_eq!(report.results.len(), 1, "{shown}: {report:#?}");
        // Made by the first apply: adopted, not created by this one.
        assert_eq!(report.done(mpt_policy::ActionKind::Create), 0, "{shown}");
        assert_eq!(report.count(Applied::Adopted), 1, "{shown}: {report:#?}");
        assert_eq!(report.results[0].new_token_id.as_deref(), Some(id.as_str()));
        // One delivery, of that token; one token made in all; no record left.
        let delivered = std::fs::read_to_string(&out).unwrap();
        assert_eq!(delivered.lines().count(), 1, "{shown}");
        assert_eq!(written_for(&out), id);
        assert_eq!(server.tokens_created(), 1);
        assert_eq!(live_named(&client, "twice").await.len(), 1);
        assert_eq!(records(&at, Kind::Create).await, 0, "{shown}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Two policies manage different names of one account: the records one leaves are not the
/// other's to refuse. They are counted and left alone, the exit status is not touched, and the
/// owner's next apply finishes them. A record naming this policy's own name is still checked.
#[tokio::test]
async fn another_policys_pending_work_is_left_alone_and_its_own_still_checked() {
    let stores = Stores::start("others");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let options = ApplyOptions::new(at.clone());
        let x_names = ["x-00", "x-01", "x-02"];
        // Policy X's apply leaves 3 creates pending (its sink failed).
        let report = client
            .apply(&named(&x_names, FAILING), None, &options)
            .await
            .unwrap();
        assert_eq!(report.failed(), 3);
        let made: Vec<String> = x_names
            .iter()
            .map(|n| result_of(&report.results, n).new_token_id.clone().unwrap())
            .collect();
        assert_eq!(records(&at, Kind::Create).await, 3);
        // Policy Y, same account, same state: its own work done, X's left alone.
        let dir = temp_dir("others-out");
        let y_out = dir.join("y");
        let y = named(&["y"], &appending(&y_out));
        let was: Vec<_> = made.iter().map(|id| server.token_revision(id)).collect();
        let report = client.apply(&y, None, &options).await.unwrap();
        let shown = at.shown();
        assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
        assert!(
            y_out.exists(),
            "y's secret handed over: {shown}: {report:#?}"
        );
        assert_eq!(report.count(Applied::Refused), 0, "{shown}");
        assert_eq!(report.others_pending, 3, "{shown}");
        assert!(
            report.summary().contains("another policy"),
            "{}",
            report.summary()
        );
        assert_eq!(
            records(&at, Kind::Create).await,
            3,
            "{shown}: X's records stay"
        );
        let now: Vec<_> = made.iter().map(|id| server.token_revision(id)).collect();
        assert_eq!(now, was, "X's tokens untouched");
        // A forged record of Y's own name is still checked: refused, nothing sent.
        plant(
            &at,
            &Key::create(DEFAULT_ACCOUNT, "y"),
            &serde_json::json!({
                "accountId": DEFAULT_ACCOUNT, "name": "y", "knownIds": [],
                "newId": made[0], "recordedAt": Utc::now() - Days::hours(1),
            }),
        )
        .await;
        let report = client.apply(&y, None, &options).await.unwrap();
        assert_eq!(report.count(Applied::Refused), 1, "{shown}: {report:#?}");
        let delivered = std::fs::read_to_string(&y_out)
            .unwrap_or_else(|e| panic!("{}: {e}; {shown}: {report:#?}", y_out.display()));
        assert_eq!(delivered.lines().count(), 1);
        // X's next apply finishes its own work: each token handed over, nothing made again.
        let x_out = dir.join("x");
        let report = client
            .apply(&named(&x_names, &appending(&x_out)), None, &options)
            .await
            .unwrap();
        assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
        assert_eq!(std::fs::read_to_string(&x_out).unwrap().lines().count(), 3);
        assert_eq!(server.tokens_created(), 4);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Pending work is part of the plan, with what resuming it would do, and a saved plan approves it like any other action: one that did not show it is
/// refused before anything is sent.
#[tokio::test]
async fn pending_work_is_in_the_plan_and_a_saved_plan_must_have_shown_it() {
    let stores = Stores::start("pending-plan");
    for at in stores.fresh() {
        let (server, client) = start().await;
        let old = server.seed_token(seed("wanted").created(Utc::now() - Days::days(10)));
        let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
        let made = plan.start(&client).await.unwrap().unwrap();
        plan.verify(&client, &made.secret).await.unwrap();
        plant(
            &at,
            &Key::rotation(DEFAULT_ACCOUNT, &old.id),
            &serde_json::to_value(&plan).unwrap(),
        )
        .await;
        // And a forged one, of a token that does not exist.
        let other = server.seed_token(seed("other"));
        let mut forged = client.plan_rotation(other.id.as_str()).await.unwrap();
        forged.phase = mpt::RotationPhase::Verified;
        forged.new_id = Some("TKN-9999-9999".into());
        plant(
            &at,
            &Key::rotation(DEFAULT_ACCOUNT, &other.id),
            &serde_json::to_value(&forged).unwrap(),
        )
        .await;
        let dir = temp_dir("pending-sink");
        let policy = policy(&format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"wanted\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {{ file = \"{}\" }}\n[[accounts.tokens]]\nname = \"other\"\nmodules = [\"{DEFAULT_MODULE}\"]\n",
            dir.join("wanted.secret").display()
        ));
        // The plan of the platform alone: two live tokens of "wanted", ambiguous.
        let unaware = client.plan(&policy).await.unwrap();
        assert_eq!(unaware.count(mpt_policy::ActionKind::Ambiguous), 1);
        let store = state::open(&at, &[DEFAULT_ACCOUNT.to_string()], None)
            .await
            .unwrap();
        let mut shown = unaware.clone();
        shown
            .include_pending(&client, &policy, store.as_ref())
            .await;
        drop(store);
        let resume: Vec<_> = shown
            .actions
            .iter()
            .filter(|a| a.kind == mpt_policy::ActionKind::Resume)
            .collect();
        assert_eq!(resume.len(), 2, "{shown:#?}");
        let real = resume.iter().find(|a| a.name == "wanted").unwrap();
        assert_eq!(real.steps, [Step::Retire, Step::Finish], "{real:#?}");
        // Its replacement, read now, is the evidence that it was made; but this policy does not
        // rotate "wanted" (no rotate_after): retiring and deleting the old token on the
        // record's word is destructive (the apply below allows it).
        assert!(real.destructive, "{real:#?}");
        assert_eq!(real.token_id.as_deref(), Some(old.id.as_str()));
        let fake = resume.iter().find(|a| a.name == "other").unwrap();
        assert_eq!(fake.steps, [Step::Refused], "{fake:#?}");
        assert!(fake.reason.contains("does not exist"), "{}", fake.reason);
        // The resume takes over the ambiguity it leaves behind: nothing else to do.
        assert_eq!(shown.actions.len(), 2, "{shown:#?}");
        // A saved plan that did not show the pending work approves none of it.
        let options = ApplyOptions::new(at.clone()).allow_destroy(true);
        let sent = changes(&server);
        let err = client
            .apply(&policy, Some(&unaware), &options)
            .await
            .unwrap_err();
        assert!(
            matches!(err, mpt_policy::ApplyError::Stale { .. }),
            "{err:?}"
        );
        assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
        assert_eq!(changes(&server), sent);
        assert_eq!(records(&at, Kind::Rotation).await, 2);
        // The plan that showed it is carried out: the true rotation finished (its replacement
        // made before this apply: adopted), the forged record refused and left in place.
        let report = client.apply(&policy, Some(&shown), &options).await.unwrap();
        assert_eq!(report.count(Applied::Refused), 1, "{report:#?}");
        assert_eq!(report.count(Applied::Adopted), 1, "{report:#?}");
        assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
        assert_eq!(server.token_status(&other.id).as_deref(), Some("Active"));
        assert_eq!(records(&at, Kind::Rotation).await, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `PolicyClient::apply`'s future is `Send`: a service spawns it on a multi-threaded runtime,
/// where it creates, rotates and hands secrets to a command sink (forked from a thread of its
/// own, so that a runtime thread ending cannot take the command with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_is_spawned_on_a_multi_threaded_runtime() {
    let (server, client) = start().await;
    let old = server.seed_token(seed("old").created(Utc::now() - Days::days(100)));
    let dir = temp_dir("spawned");
    let out = dir.join("delivered");
    let policy = policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"old\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n[[accounts.tokens]]\nname = \"new\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n",
        sink = appending(&out)
    ));
    let options = ApplyOptions::new(dir.join("state"));
    let report = tokio::spawn(async move { client.apply(&policy, None, &options).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    assert_eq!(report.done(mpt_policy::ActionKind::Create), 1);
    assert_eq!(report.done(mpt_policy::ActionKind::Rotate), 1);
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().lines().count(),
        2,
        "both secrets handed over"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
