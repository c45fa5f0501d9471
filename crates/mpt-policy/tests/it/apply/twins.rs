//! A record saved before its create, the apply killed before the create left the machine, then
//! a token of the same account and name made by hand (a twin): the next plan and apply never
//! take the twin for the record's token (it does not carry the marker the record saved), in
//! both stores. Nothing is sent for the twin or the old token, no secret handed over; the row
//! says why and the record stays. A record of a version without markers adopts nothing either.

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::state::{Key, Kind, StateLocation};
use mpt_policy::{Applied, ApplyOptions, Policy, Step};

use super::records::{Stores, plant, records};
use super::*;
use crate::common::*;

/// A policy declaring `wanted` in the default account (`extra`: its status or rotation), its
/// secret to `file`.
fn wanted(file: &Path, extra: &str) -> Policy {
    policy(&format!(
        "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"wanted\"\nmodules = [\"{DEFAULT_MODULE}\"]\n{extra}\nsecret = {{ file = \"{}\" }}\n",
        file.display()
    ))
}

/// The marker of a record as an apply saves it (32 hexadecimal digits); `None`: a record of a
/// version without markers.
const MARKER: &str = "00112233445566778899aabbccddeeff";

/// What a record of a create or a rotation whose create never left, planted at `at`, does
/// once a twin was made by hand: the plan's row and the apply's, the platform and the sink.
struct Case {
    kind: Kind,
    extra: &'static str,
    marker: Option<&'static str>,
}

impl Case {
    /// Plants the record (as the killed apply saved it) and makes the twin; returns the key,
    /// the old token (a rotation's) and the twin.
    async fn plant(
        &self,
        server: &MockServer,
        client: &Client,
        at: &StateLocation,
    ) -> (Key, Option<String>, String) {
        let (key, old, mut json) = match self.kind {
            Kind::Create => {
                let json = serde_json::json!({
                    "accountId": DEFAULT_ACCOUNT, "name": "wanted", "knownIds": [],
                    "newId": null, "recordedAt": Utc::now() - Days::minutes(1),
                });
                (Key::create(DEFAULT_ACCOUNT, "wanted"), None, json)
            }
            _ => {
                let old = server.seed_token(
                    seed("wanted")
                        .with_description("ci")
                        .created(Utc::now() - Days::days(100)),
                );
                let plan = client.plan_rotation(old.id.as_str()).await.unwrap();
                let mut json = serde_json::to_value(&plan).unwrap();
                json["createSent"] = true.into();
                (Key::rotation(DEFAULT_ACCOUNT, &old.id), Some(old.id), json)
            }
        };
        if let Some(marker) = self.marker {
            json["marker"] = marker.into();
        }
        plant(at, &key, &json).await;
        // Made by hand after the record, of the same account and name (and description).
        let twin = client
            .create(
                &mpt::NewToken::new(DEFAULT_ACCOUNT, "wanted")
                    .modules([DEFAULT_MODULE])
                    .description("ci"),
            )
            .await
            .unwrap();
        (key, old, twin.token.id().to_string())
    }
}

#[tokio::test]
async fn a_record_whose_create_never_left_never_adopts_a_twin_made_by_hand() {
    let stores = Stores::start("twins");
    let cases = [
        (Kind::Create, "", Some(MARKER)),
        (Kind::Create, "status = \"Disabled\"", Some(MARKER)),
        (Kind::Create, "", None),
        (Kind::Rotation, "rotate_after = \"90d\"", Some(MARKER)),
        (Kind::Rotation, "status = \"Disabled\"", Some(MARKER)),
        (Kind::Rotation, "rotate_after = \"90d\"", None),
    ];
    for (kind, extra, marker) in cases {
        let case = Case {
            kind,
            extra,
            marker,
        };
        for at in stores.fresh() {
            let shown = format!("{kind:?} {extra} {marker:?} {at:?}");
            let (server, client) = start().await;
            let dir = temp_dir("twin");
            let file = dir.join("wanted.secret");
            let policy = wanted(&file, case.extra);
            let (_, old, twin) = case.plant(&server, &client, &at).await;
            let why = match marker {
                Some(_) => "not made by this record",
                None => "older version",
            };
            // The plan shows the record refused, naming the twin.
            let store = mpt_policy::state::open(&at, &[DEFAULT_ACCOUNT.to_string()], None)
                .await
                .unwrap();
            let mut plan = client.plan(&policy).await.unwrap();
            plan.include_pending(&client, &policy, store.as_ref()).await;
            drop(store);
            let row = plan
                .actions
                .iter()
                .find(|a| a.kind == mpt_policy::ActionKind::Resume)
                .unwrap_or_else(|| panic!("{shown}: {plan:#?}"));
            assert_eq!(row.steps, [Step::Refused], "{shown}: {row:#?}");
            assert!(row.reason.contains(&twin), "{shown}: {}", row.reason);
            assert!(row.reason.contains(why), "{shown}: {}", row.reason);
            // The apply (allowed to destroy) takes nothing: refused, nothing sent.
            let sent = changes(&server);
            let options = ApplyOptions::new(at.clone()).allow_destroy(true);
            let report = client.apply(&policy, None, &options).await.unwrap();
            let resumed: Vec<_> = report.results.iter().filter(|r| r.resumed).collect();
            assert_eq!(resumed.len(), 1, "{shown}: {report:#?}");
            assert_eq!(resumed[0].result, Applied::Refused, "{shown}: {report:#?}");
            assert!(resumed[0].detail.contains(&twin), "{}", resumed[0].detail);
            assert!(resumed[0].detail.contains(why), "{}", resumed[0].detail);
            assert_eq!(report.count(Applied::Adopted), 0, "{shown}: {report:#?}");
            // Nothing sent for the record. A create's entry declared Disabled: the twin, the
            // one token of the name, is the plan's own to disable (its secret handed nowhere).
            let own = kind == Kind::Create && extra.contains("Disabled");
            assert_eq!(
                changes(&server),
                sent + u64::from(own),
                "{shown}: {report:#?}"
            );
            assert_eq!(server.tokens_created(), 1, "{shown}: only the twin");
            let status = if own { "Disabled" } else { "Active" };
            assert_eq!(server.token_status(&twin).as_deref(), Some(status));
            if let Some(old) = &old {
                assert_eq!(server.token_status(old).as_deref(), Some("Active"));
            }
            assert!(!file.exists(), "{shown}: no secret handed over");
            assert_eq!(records(&at, kind).await, 1, "{shown}: the record stays");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
