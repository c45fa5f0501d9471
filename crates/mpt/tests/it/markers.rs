//! What a rotation plan keeps of its create's marker, and what its replacement's description
//! ends as. The saved plan holds only the marker's hash: a token made by hand that copies
//! anything the plan holds carries no marker of it, and is never adopted; a plan that kept the
//! marker itself (an unreleased format) adopts nothing. A description cut to make room for the
//! tag is put back whole: the old token's, never the cut one.

use crate::common::*;

/// Every string in `json`, however deep: what a reader of the saved plan can copy.
fn strings(json: &serde_json::Value, out: &mut Vec<String>) {
    match json {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The plan of `old` saved before its create, the process killed before the create left.
async fn killed_before_the_create(client: &Client, old: &str) -> serde_json::Value {
    let mut plan = client.plan_rotation(old).await.unwrap();
    let mut saved = String::new();
    let err = plan
        .start_saving(client, async |p: &RotationPlan| {
            saved = serde_json::to_string(p).unwrap();
            Err("killed")
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PlanNotSaved { .. }), "{err:?}");
    serde_json::from_str(&saved).unwrap()
}

async fn twin(client: &Client, description: &str) -> String {
    let made = client
        .create(
            &mpt::NewToken::new(DEFAULT_ACCOUNT, "svc")
                .modules([DEFAULT_MODULE])
                .description(description),
        )
        .await
        .unwrap();
    made.token.id().to_string()
}

#[tokio::test]
async fn a_twin_copying_what_the_saved_plan_holds_is_never_adopted() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let old = server.seed_token(SeedToken::named("svc").with_description("ci"));
    let json = killed_before_the_create(&client, &old.id).await;
    assert_eq!(json["createSent"], true);
    assert!(json.get("marker").is_none(), "{json}");
    // Twins whose descriptions carry, as a marker, each string the plan holds (and the first 32
    // digits of each, the marker's length).
    let mut copied = Vec::new();
    strings(&json, &mut copied);
    let mut twins = Vec::new();
    for s in &copied {
        for m in [s.as_str(), s.get(..32).unwrap_or(s)] {
            twins.push(twin(&client, &mpt::marked_description(Some("ci"), m)).await);
        }
    }
    let made = server.tokens_created();
    let mut resumed: RotationPlan = serde_json::from_value(json).unwrap();
    let err = resumed.start(&client).await.unwrap_err();
    let Error::CreateUnconfirmed { source, .. } = &err else {
        panic!("{err:?}")
    };
    let words = source.to_string();
    assert!(words.contains("nothing carries the marker"), "{words}");
    assert!(twins.iter().all(|t| words.contains(t.as_str())), "{words}");
    assert_eq!(resumed.new_id, None);
    assert_eq!(server.tokens_created(), made, "nothing made");
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
}

#[tokio::test]
async fn a_plan_that_kept_the_marker_itself_adopts_nothing() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let old = server.seed_token(SeedToken::named("svc").with_description("ci"));
    let mut json = killed_before_the_create(&client, &old.id).await;
    // As the unreleased format saved it: the marker itself, which the twin copies.
    let marker = "00112233445566778899aabbccddeeff";
    json.as_object_mut().unwrap().remove("markerHashes");
    json["marker"] = marker.into();
    let twin = twin(&client, &mpt::marked_description(Some("ci"), marker)).await;
    let mut resumed: RotationPlan = serde_json::from_value(json).unwrap();
    let err = resumed.start(&client).await.unwrap_err();
    let Error::CreateUnconfirmed { source, .. } = &err else {
        panic!("{err:?}")
    };
    let words = source.to_string();
    assert!(words.contains("no create marker hash"), "{words}");
    assert!(words.contains(&twin), "{words}");
    assert_eq!(resumed.new_id, None);
    assert_eq!(server.tokens_created(), 1, "only the twin");
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
}

/// An old token whose description leaves no room for the tag (1990 characters, an accent
/// where the cut falls): the replacement, once verified, has the old token's whole description.
#[tokio::test]
async fn a_description_cut_for_the_tag_is_put_back_whole() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    // The tag and its space take 59 characters.
    let room = mpt::MAX_DESCRIPTION_CHARS - 59;
    let long = format!(
        "{}e\u{301}{}",
        "a".repeat(room - 1),
        "z".repeat(1990 - room - 1)
    );
    assert_eq!(long.chars().count(), 1990);
    let old = server.seed_token(SeedToken::named("svc").with_description(long.clone()));
    let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    let made = plan.start(&client).await.unwrap().unwrap();
    // The create's description: cut before the letter the accent belongs to, then the tag.
    let sent = made.token.description().unwrap_or_default();
    assert!(sent.starts_with(&format!("{} [mpt: being made", "a".repeat(room - 1))));
    plan.verify(&client, &made.secret).await.unwrap();
    let now = client.get(made.token.id()).await.unwrap();
    assert_eq!(now.description(), Some(long.as_str()));
    // `rotate` (no saved plan) puts it back whole too.
    let rotation = client.rotate(made.token.id()).await.unwrap();
    assert_eq!(rotation.new.token.description(), Some(long.as_str()));
    let now = client.get(rotation.new.token.id()).await.unwrap();
    assert_eq!(now.description(), Some(long.as_str()));
}
