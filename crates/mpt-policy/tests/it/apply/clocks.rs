//! A rotation record's time under skewed clocks, in both stores: a replacement is judged
//! against the platform's time recorded before anything was made (`recordedAt`, the `Date` of
//! the platform's answer), never against the runner's clock. A runner whose clock is ahead of
//! the platform's finishes its own rotations; one whose clock is behind does not take a token
//! made before the record for its replacement. Records without `recordedAt` (written before it
//! existed) are judged by `plannedAt` as before.

use mpt::chrono::{Duration as Days, TimeDelta, Utc};
use mpt_policy::state::{Key, Kind};
use mpt_policy::{Applied, ApplyOptions, Policy};

use super::records::{Stores, plant, records};
use super::*;
use crate::common::*;

/// The runner's clock an hour ahead of the platform's (the mock's clock is behind), and an
/// hour behind.
const SKEWS: [(&str, TimeDelta); 2] = [
    ("runner ahead", TimeDelta::hours(-1)),
    ("runner behind", TimeDelta::hours(1)),
];

/// A mock whose clock is the machine's off by `skew`, its admin client, and the platform's
/// time now.
async fn skewed(skew: TimeDelta) -> (MockServer, Client, mpt::chrono::DateTime<Utc>) {
    let server = MockServer::builder()
        .clock_skew(skew)
        .start()
        .await
        .unwrap();
    let client = admin(&server);
    (server, client, Utc::now() + skew)
}

/// The declared token `wanted`, rotated after 90 days, its secret to `sink`.
fn wanted(sink: &str) -> Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\nrotate_after = \"90d\"\n[[accounts.tokens]]\nname = \"wanted\"\nmodules = [\"{DEFAULT_MODULE}\"]\nsecret = {sink}\n"
    ))
}

/// An apply's rotation whose sink failed, resumed by the next apply, with the runner's clock
/// an hour off the platform's either way: the replacement the first made is adopted and
/// handed over, the old token deleted, nothing made twice.
#[tokio::test]
async fn a_runner_whose_clock_is_off_resumes_its_own_rotation() {
    let stores = Stores::start("clock-resume");
    for (case, skew) in SKEWS {
        for at in stores.fresh() {
            let shown = format!("{case} {}", at.shown());
            let (server, client, now) = skewed(skew).await;
            let old = server.seed_token(seed("wanted").created(now - Days::days(100)));
            let options = ApplyOptions::new(at.clone()).allow_destroy(true);
            let failing = wanted(r#"{ command = ["sh", "-c", "exit 3"] }"#);
            let report = client.apply(&failing, None, &options).await.unwrap();
            let r = result_of(&report.results, "wanted");
            assert_eq!(r.result, Applied::Failed, "{shown}: {r:#?}");
            assert_eq!(records(&at, Kind::Rotation).await, 1, "{shown}");

            let dir = temp_dir("clock-resume-sink");
            let file = dir.join("wanted.secret");
            let working = wanted(&format!("{{ file = \"{}\" }}", file.display()));
            let report = client.apply(&working, None, &options).await.unwrap();
            assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
            assert!(report.results.iter().any(|r| r.resumed), "{shown}");
            let live = live_named(&client, "wanted").await;
            assert_eq!(live.len(), 1, "{shown}");
            assert_ne!(live[0].id(), old.id, "{shown}");
            assert_eq!(secret_owner(&file), live[0].id(), "{shown}");
            assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
            assert_eq!(server.tokens_created(), 1, "{shown}: made once");
            assert_eq!(records(&at, Kind::Rotation).await, 0, "{shown}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// A rotation record past its start, made by `mpt` on a runner an hour off the platform either
/// way: its true replacement is accepted and the rotation finished; a token of the name made
/// ten minutes (by the platform's clock) before the record is refused as its replacement,
/// though the runner's clock an hour behind would have let it pass, and nothing is sent.
#[tokio::test]
async fn a_rotation_record_is_judged_by_the_platforms_time_not_the_runners() {
    let stores = Stores::start("clock-judge");
    for (case, skew) in SKEWS {
        for honest in [true, false] {
            for at in stores.fresh() {
                let shown = format!("{case}, honest {honest}, {}", at.shown());
                let (server, client, now) = skewed(skew).await;
                let old = server.seed_token(seed("wanted").created(now - Days::days(100)));
                let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
                assert!(plan.recorded_at.is_some(), "{shown}: the platform's time");
                let made = plan.start(&client).await.unwrap().unwrap();
                plan.verify(&client, &made.secret).await.unwrap();
                let mut json = serde_json::to_value(&plan).unwrap();
                let new_id = if honest {
                    made.token.id().to_string()
                } else {
                    // The true replacement gone: the older token is the only other live one of
                    // the name (another live token would be refused as ambiguous first).
                    client.delete(made.token.id()).await.unwrap();
                    let older = seed("wanted").created(now - Days::minutes(10));
                    server.seed_token(older).id.clone()
                };
                json["newId"] = new_id.clone().into();
                plant(&at, &Key::rotation(DEFAULT_ACCOUNT, &old.id), &json).await;
                let dir = temp_dir("clock-judge-sink");
                let file = dir.join("wanted.secret");
                let sent = changes(&server);
                let report = client
                    .apply(
                        &wanted(&format!("{{ file = \"{}\" }}", file.display())),
                        None,
                        &ApplyOptions::new(at.clone()).allow_destroy(true),
                    )
                    .await
                    .unwrap();
                let resumed: Vec<_> = report.results.iter().filter(|r| r.resumed).collect();
                assert_eq!(resumed.len(), 1, "{shown}: {report:#?}");
                if honest {
                    // Its replacement was made before this apply: adopted.
                    assert_eq!(resumed[0].result, Applied::Adopted, "{shown}: {report:#?}");
                    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
                    assert_eq!(records(&at, Kind::Rotation).await, 0, "{shown}");
                } else {
                    assert_eq!(resumed[0].result, Applied::Refused, "{shown}");
                    let why = &resumed[0].detail;
                    assert!(
                        why.contains("before the record") && why.contains("recordedAt"),
                        "{shown}: {why}"
                    );
                    assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
                    assert_eq!(changes(&server), sent, "{shown}: nothing sent");
                    assert_eq!(records(&at, Kind::Rotation).await, 1, "{shown}");
                }
                assert_eq!(server.token_status(&new_id).as_deref(), Some("Active"));
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
}

/// A record written before `recordedAt` existed (none in it) is still accepted: judged by its
/// `plannedAt`, the planning machine's clock, less 5 minutes, as such records always were. So
/// it resumes when the clocks agree, and is refused, saying why, when the machine that planned
/// it was an hour ahead of the platform (nothing on the platform says when it was written).
#[tokio::test]
async fn a_record_without_recorded_at_is_judged_by_its_planned_at() {
    let stores = Stores::start("clock-old");
    for (case, skew) in [("clocks agree", TimeDelta::zero()), SKEWS[0]] {
        for at in stores.fresh() {
            let shown = format!("{case} {}", at.shown());
            let (server, client, now) = skewed(skew).await;
            let old = server.seed_token(seed("wanted").created(now - Days::days(100)));
            let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
            let made = plan.start(&client).await.unwrap().unwrap();
            plan.verify(&client, &made.secret).await.unwrap();
            let mut json = serde_json::to_value(&plan).unwrap();
            json.as_object_mut().unwrap().remove("recordedAt");
            plant(&at, &Key::rotation(DEFAULT_ACCOUNT, &old.id), &json).await;
            let dir = temp_dir("clock-old-sink");
            let sink = format!("{{ file = \"{}\" }}", dir.join("w.secret").display());
            let report = client
                .apply(
                    &wanted(&sink),
                    None,
                    &ApplyOptions::new(at.clone()).allow_destroy(true),
                )
                .await
                .unwrap();
            let r = report.results.iter().find(|r| r.resumed).unwrap();
            if skew.is_zero() {
                assert_eq!(r.result, Applied::Adopted, "{shown}: {report:#?}");
                assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
            } else {
                assert_eq!(r.result, Applied::Refused, "{shown}: {report:#?}");
                assert!(r.detail.contains("has no recordedAt"), "{}", r.detail);
                assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
