//! Records that do not read (tester round 20, L2), in both stores: one of a name this policy
//! declares is refused by name (a `late` record whose hash is not a SHA-256 in hex, a row of a
//! kind no `mpt` writes); one of a name it does not declare (a junk `late` or `creates`
//! record, a row of an unknown kind) is another policy's: left alone, counted and named,
//! never failing this policy's apply.

use mpt_policy::state::{Key, StateLocation};
use mpt_policy::{Applied, ApplyOptions};

use super::late::{planned, wanted};
use super::records::Stores;
use crate::common::*;

/// Saves `text` as the record of `key`, whatever it holds.
pub(super) async fn plant_text(at: &StateLocation, key: &Key, text: &str) {
    let accounts = [DEFAULT_ACCOUNT.to_string()];
    let store = mpt_policy::state::open(at, &accounts, Some(Duration::ZERO))
        .await
        .unwrap();
    store.save(key, text).await.unwrap();
}

#[tokio::test]
async fn unreadable_records_of_undeclared_names_are_counted_not_refused() {
    let stores = Stores::start("late-unread-others");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (_server, client) = start().await;
        let dir = temp_dir("late-unread-others");
        let policy = wanted(&dir.join("wanted.secret"), "");
        let options = ApplyOptions::new(at.clone());
        client.apply(&policy, None, &options).await.unwrap();
        // A `late` record of `wanted` whose hash is no SHA-256: refused by name.
        let bad = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "wanted", "markerHashes": ["zz-not-hex"],
        });
        plant_text(&at, &Key::late(DEFAULT_ACCOUNT, "wanted"), &bad.to_string()).await;
        // Junk `late` and `creates` records of `gamma`, which this policy does not declare.
        plant_text(&at, &Key::late(DEFAULT_ACCOUNT, "gamma"), "junk").await;
        plant_text(&at, &Key::create(DEFAULT_ACCOUNT, "gamma"), "junk").await;
        let mut others = 2;
        if let StateLocation::Postgres(_) = &at {
            // Rows of a kind no `mpt` writes: `wanted`'s refused, `gamma`'s counted.
            for name in ["wanted", "gamma"] {
                stores.pg_sql(&format!(
                    "insert into mpt_records(kind, name, account, body) values ('bogus', '{}', '{DEFAULT_ACCOUNT}', '{{}}')",
                    Key::create(DEFAULT_ACCOUNT, name).name
                ));
            }
            others += 1;
        }
        let refused = if others == 3 { 2 } else { 1 };
        let plan = planned(&client, &policy, &at).await;
        let rows: Vec<_> = plan
            .actions
            .iter()
            .filter(|a| a.reason.contains("refused") && a.reason.contains("does not read"))
            .collect();
        assert_eq!(rows.len(), refused, "{shown}: {plan:#?}");
        assert!(
            rows.iter().all(|r| r.name == "wanted"),
            "{shown}: {rows:#?}"
        );
        assert!(
            rows[0].reason.contains("not a SHA-256"),
            "{shown}: {rows:#?}"
        );
        assert_eq!(plan.others_pending, others, "{shown}: {plan:#?}");
        assert_eq!(plan.others_unread.len(), others, "{shown}: {plan:#?}");
        let report = client.apply(&policy, None, &options).await.unwrap();
        assert_eq!(
            report.count(Applied::Refused),
            refused,
            "{shown}: {report:#?}"
        );
        assert_eq!(report.others_pending, others, "{shown}: {report:#?}");
        let gamma = Key::create(DEFAULT_ACCOUNT, "gamma").name;
        assert!(report.summary().contains(&gamma), "{}", report.summary());
        // Without `wanted`'s bad records, the apply is clean: another policy's junk fails
        // nothing here.
        let accounts = [DEFAULT_ACCOUNT.to_string()];
        let store = mpt_policy::state::open(&at, &accounts, Some(Duration::ZERO))
            .await
            .unwrap();
        store
            .remove(&Key::late(DEFAULT_ACCOUNT, "wanted"))
            .await
            .unwrap();
        drop(store);
        if let StateLocation::Postgres(_) = &at {
            stores.pg_sql(&format!(
                "delete from mpt_records where kind = 'bogus' and name = '{}'",
                Key::create(DEFAULT_ACCOUNT, "wanted").name
            ));
        }
        let report = client.apply(&policy, None, &options).await.unwrap();
        assert_eq!(report.failed(), 0, "{shown}: {report:#?}");
        assert_eq!(report.others_pending, others, "{shown}: {report:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A key of an account with an empty name names no policy's name (none can declare it): its
/// junk `late` and `creates` records are refused by where they are, never counted as another
/// policy's (tester round 24, S4).
#[tokio::test]
async fn records_under_a_key_of_an_empty_name_are_refused_not_counted() {
    let stores = Stores::start("late-unread-empty");
    for at in stores.fresh() {
        let shown = format!("{at:?}");
        let (_server, client) = start().await;
        let dir = temp_dir("late-unread-empty");
        let policy = wanted(&dir.join("wanted.secret"), "");
        // Junk, then records that read and name the empty name (round 25, F4: ignored in
        // silence, or counted as another policy's).
        let late = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "", "markerHashes": [],
        });
        let create = serde_json::json!({
            "accountId": DEFAULT_ACCOUNT, "name": "", "knownIds": [],
            "recordedAt": "2026-01-01T00:00:00Z", "markerHashes": [],
        });
        for (late, create) in [
            ("junk".to_string(), "junk".to_string()),
            (late.to_string(), create.to_string()),
        ] {
            plant_text(&at, &Key::late(DEFAULT_ACCOUNT, ""), &late).await;
            plant_text(&at, &Key::create(DEFAULT_ACCOUNT, ""), &create).await;
            let plan = planned(&client, &policy, &at).await;
            let refused = plan
                .actions
                .iter()
                .filter(|a| a.reason.contains("refused"))
                .count();
            assert_eq!(refused, 2, "{shown} {late}: {plan:#?}");
            assert_eq!(plan.others_pending, 0, "{shown} {late}: {plan:#?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
