//! A record saved before its create, the apply killed before the create left the machine, then
//! a token of the same account and name made by hand (a twin): the next plan and apply never
//! take the twin for the record's token (it does not carry the marker the record saved), in
//! both stores. Nothing is sent for the twin or the old token, no secret handed over; the row
//! says why and the record stays. A record of a version without markers adopts nothing either.
//! The record keeps only the marker's hash: a twin whose description copies what the record
//! holds carries no marker of it; a record of the unreleased format that kept the marker itself
//! (which anyone reading the store could copy) adopts nothing, even a twin carrying its tag.

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

/// The marker a killed apply sent (32 hexadecimal digits): it is never saved, only its hash.
const MARKER: &str = "00112233445566778899aabbccddeeff";

/// What the record keeps of its marker, and what the twin made by hand copies of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Saved {
    /// The marker's hash, as an apply saves it; the twin's description is plain.
    Hash,
    /// The marker's hash; the twin copies it into a tag (all a reader of the store can copy).
    HashCopied,
    /// The marker itself (`marker`, the unreleased format before hashes); the twin carries its
    /// exact tag, copied from the record.
    PlainCopied,
    /// Nothing: a record of a version without markers.
    None,
}

/// What a record of a create or a rotation whose create never left, planted at `at`, does
/// once a twin was made by hand: the plan's row and the apply's, the platform and the sink.
struct Case {
    kind: Kind,
    extra: &'static str,
    saved: Saved,
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
        let hash = mpt::marker_hash(MARKER);
        let description = match self.saved {
            Saved::Hash => {
                json["markerHashes"] = vec![hash].into();
                "ci".to_string()
            }
            Saved::HashCopied => {
                json["markerHashes"] = vec![hash.clone()].into();
                format!("ci [mpt: being made, marker {hash}]")
            }
            Saved::PlainCopied => {
                json["marker"] = MARKER.into();
                mpt::marked_description(Some("ci"), MARKER)
            }
            Saved::None => "ci".to_string(),
        };
        plant(at, &key, &json).await;
        // Made by hand after the record, of the same account and name (and description).
        let twin = client
            .create(
                &mpt::NewToken::new(DEFAULT_ACCOUNT, "wanted")
                    .modules([DEFAULT_MODULE])
                    .description(description),
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
        (Kind::Create, "", Saved::Hash),
        (Kind::Create, "", Saved::HashCopied),
        (Kind::Create, "", Saved::PlainCopied),
        (Kind::Create, "status = \"Disabled\"", Saved::Hash),
        (Kind::Create, "", Saved::None),
        (Kind::Rotation, "rotate_after = \"90d\"", Saved::Hash),
        (Kind::Rotation, "rotate_after = \"90d\"", Saved::HashCopied),
        (Kind::Rotation, "rotate_after = \"90d\"", Saved::PlainCopied),
        (Kind::Rotation, "status = \"Disabled\"", Saved::Hash),
        (Kind::Rotation, "rotate_after = \"90d\"", Saved::None),
    ];
    for (kind, extra, saved) in cases {
        let case = Case { kind, extra, saved };
        for at in stores.fresh() {
            let shown = format!("{kind:?} {extra} {saved:?} {at:?}");
            let (server, client) = start().await;
            let dir = temp_dir("twin");
            let file = dir.join("wanted.secret");
            let policy = wanted(&file, case.extra);
            let (_, old, twin) = case.plant(&server, &client, &at).await;
            let why = match saved {
                Saved::Hash | Saved::HashCopied => "not made by this record",
                Saved::PlainCopied | Saved::None => "older version",
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
