//! Rotation and create identity: a rotation makes or adopts only its own replacement, by ids
//! recorded before acting (never names or clocks), resumes after a crash between any two phases,
//! and an unconfirmed create offers only tokens that cannot have existed before it.

use crate::common::*;

fn save(
    saved: &mut String,
) -> impl AsyncFnMut(&RotationPlan) -> Result<(), std::convert::Infallible> {
    async move |plan: &RotationPlan| {
        *saved = serde_json::to_string(plan).unwrap();
        Ok(())
    }
}

/// Plans the rotation of `old` with `fault` on the next create, and runs the first start: it
/// must fail as unconfirmed. Returns the candidates and the plan as `start_saving` saved it.
async fn first_start_under(
    server: &MockServer,
    client: &Client,
    old: &str,
    fault: Fault,
) -> (Vec<mpt::Token>, String) {
    server
        .set_faults(Faults::none().with(FaultRule::once(fault).only([Operation::Create])))
        .unwrap();
    let mut plan = client.plan_rotation(old).await.unwrap();
    let mut saved = serde_json::to_string(&plan).unwrap();
    let err = plan
        .start_saving(client, save(&mut saved))
        .await
        .unwrap_err();
    let Error::CreateUnconfirmed { candidates, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(plan.phase, RotationPhase::Planned);
    assert_eq!(plan.new_id, None, "nothing adopted on the first start");
    server.set_faults(Faults::none()).unwrap();
    (candidates, saved)
}

#[tokio::test]
async fn rotate_makes_a_twin_keeps_both_secrets_working_then_retires_and_finishes() {
    let (server, client) = start().await;
    let made = client
        .create(&new_token("rotating").icon("/icons/a.png"))
        .await
        .unwrap();
    let old = made.token.clone();
    let mut rotation = client.rotate(&old).await.unwrap();
    let new = rotation.new.token.clone();
    assert_ne!(new.id(), old.id());
    assert_eq!(
        (new.name(), new.description(), new.icon()),
        (old.name(), old.description(), old.icon())
    );
    assert_eq!(
        (new.account_id(), new.module_ids()),
        (old.account_id(), old.module_ids())
    );
    assert_eq!(rotation.new.secret.token_id(), Some(new.id()));
    // The overlap window: the old token stays Active and both secrets authenticate.
    assert_eq!(server.token_status(old.id()).as_deref(), Some("Active"));
    for secret in [
        made.secret.expose_secret(),
        rotation.new.secret.expose_secret(),
    ] {
        let as_service = Client::builder()
            .base_url(server.base_url())
            .api_token(secret)
            .build()
            .unwrap();
        as_service.get(old.id()).await.unwrap();
    }
    // Retiring needs a verified replacement.
    let err = rotation.retire(&client, None).await.unwrap_err();
    assert!(
        matches!(err, Error::RotationOutOfOrder { step: "retire", .. }),
        "{err:?}"
    );
    rotation.verify(&client).await.unwrap();
    rotation
        .retire(
            &client,
            Some(mpt::Quiet {
                period: Duration::from_millis(30),
                poll: Duration::from_millis(10),
                max_wait: Duration::from_secs(5),
            }),
        )
        .await
        .unwrap();
    assert_eq!(server.token_status(old.id()).as_deref(), Some("Disabled"));
    rotation.finish(&client).await.unwrap();
    assert_eq!(server.token_status(old.id()).as_deref(), Some("Deleted"));
    assert_eq!(server.token_status(new.id()).as_deref(), Some("Active"));
    assert_eq!(rotation.plan.phase, mpt::RotationPhase::Finished);
    // Every phase again is a no-op.
    rotation.verify(&client).await.unwrap();
    rotation.retire(&client, None).await.unwrap();
    rotation.finish(&client).await.unwrap();
}

/// The plan is saved (as JSON, never with a secret) after every phase; the job "crashes"
/// (plan and client dropped) between every two phases and resumes from the saved plan.
#[tokio::test]
async fn a_rotation_crashed_between_every_two_phases_resumes() {
    let (server, client) = start().await;
    let old = server.seed_token(SeedToken::named("svc"));
    let plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    let mut saved = serde_json::to_string(&plan).unwrap();
    drop(plan);

    // Crash during start: the create reached the platform but its answer was lost, and the
    // plan was never saved as Created (only as `start_saving` saved it before the create).
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create])),
        )
        .unwrap();
    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    let _ = plan
        .start_saving(&client, async |p: &RotationPlan| {
            saved = serde_json::to_string(p).unwrap();
            Ok::<(), std::convert::Infallible>(())
        })
        .await; // whatever it says, the process dies here
    server.set_faults(Faults::none()).unwrap();
    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    assert!(plan.create_sent, "saved before the create: {saved}");
    let created = plan
        .start(&client)
        .await
        .unwrap()
        .expect("adopted, with its secret");
    assert_eq!(server.tokens_created(), 1, "no second replacement");
    assert_eq!(plan.phase, mpt::RotationPhase::Created);
    saved = serde_json::to_string(&plan).unwrap();
    assert!(!saved.contains(created.secret.expose_secret()), "{saved}");
    assert!(!saved.contains("idt:"), "{saved}");

    let client = client_for(&server, fast_retries(3)); // a new process
    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    assert!(
        plan.start(&client).await.unwrap().is_none(),
        "start again: nothing new"
    );
    plan.verify(&client, &created.secret).await.unwrap();
    saved = serde_json::to_string(&plan).unwrap();

    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    plan.verify(&client, &created.secret).await.unwrap();
    plan.retire(&client, None).await.unwrap();
    saved = serde_json::to_string(&plan).unwrap();
    // Crash after the disable was sent but before the answer: retire again.
    let mut again: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    again.phase = mpt::RotationPhase::Verified;
    again.retire(&client, None).await.unwrap();

    let mut plan: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    plan.finish(&client).await.unwrap();
    let mut twice: mpt::RotationPlan = serde_json::from_str(&saved).unwrap();
    twice.finish(&client).await.unwrap();
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
    assert_eq!(
        server.token_status(created.token.id()).as_deref(),
        Some("Active")
    );
    assert_eq!(server.tokens_created(), 1);
}

/// A wrong secret fails verification, and the rotation stays where it was.
#[tokio::test]
async fn verify_refuses_a_secret_that_does_not_authenticate() {
    let (server, client) = start().await;
    let old = server.seed_token(SeedToken::named("svc"));
    let mut rotation = client.rotate(old.id.as_str()).await.unwrap();
    let other = server.seed_token(SeedToken::named("other"));
    let err = rotation
        .plan
        .verify(&client, &other.secret)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RotationPlanMismatch { .. }), "{err:?}");
    let forged = format!("idt:{}:not-the-secret", rotation.new.token.id());
    let err = rotation
        .plan
        .verify(&client, &mpt::TokenSecret::new(forged))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    assert_eq!(rotation.plan.phase, mpt::RotationPhase::Created);
}

#[tokio::test]
async fn a_rotation_whose_disable_fails_still_returns_the_new_token() {
    let (server, client) = start().await;
    let old = server.seed_token(SeedToken::named("stuck")).id;
    server
        .set_faults(
            Faults::none().with(FaultRule::every(1, Fault::Status(500)).only([Operation::Disable])),
        )
        .unwrap();
    let err = client
        .rotate_now_with_outage(old.as_str())
        .await
        .unwrap_err();
    let Error::RotationIncomplete {
        new,
        old_id,
        old_status,
        source,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (old_id.as_str(), old_status),
        (old.as_str(), &TokenStatus::Active)
    );
    assert!(matches!(**source, Error::Server(_)));
    assert_eq!(
        server.token_status(new.token.id()).as_deref(),
        Some("Active")
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "the replacement {} was created and is Active",
            new.token.id()
        )),
        "{message}"
    );
    assert!(
        !message.contains(new.secret.expose_secret())
            && !format!("{err:?}").contains(new.secret.expose_secret())
    );
}

/// Same-named tokens (names are not unique) made before the plan, between the plan and the
/// start, and after the start are never taken for the replacement.
#[tokio::test]
async fn a_rotation_never_adopts_a_same_named_token_it_did_not_make() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let a = server.seed_token(SeedToken::named("svc"));
    let before = server.seed_token(SeedToken::named("svc")); // made before the plan

    // The one-call rotation creates its own replacement.
    let rotation = client.rotate(a.id.as_str()).await.unwrap();
    assert_eq!(server.tokens_created(), 1, "a replacement was made");
    let new_id = rotation.new.token.id().to_string();
    assert!(new_id != a.id && new_id != before.id, "{new_id}");
    assert_eq!(
        rotation.new.secret.token_id(),
        Some(new_id.as_str()),
        "its own secret"
    );

    // A sibling made between the plan and the start is not adopted either.
    let c = server.seed_token(SeedToken::named("batch"));
    let mut plan = client.plan_rotation(c.id.as_str()).await.unwrap();
    let during = server.seed_token(SeedToken::named("batch"));
    let made = plan.start(&client).await.unwrap().unwrap();
    assert_eq!(server.tokens_created(), 2);
    assert!(made.token.id() != during.id && made.token.id() != c.id);
    assert!(plan.known_ids.contains(&during.id) && plan.known_ids.contains(&c.id));

    // One made after the start is not the replacement: verify refuses its secret.
    let after = server.seed_token(SeedToken::named("batch"));
    let err = plan.verify(&client, &after.secret).await.unwrap_err();
    assert!(matches!(err, Error::RotationPlanMismatch { .. }), "{err:?}");
    plan.verify(&client, &made.secret).await.unwrap();
    for sibling in [&before, &during, &after] {
        assert_eq!(
            server.token_status(&sibling.id).as_deref(),
            Some("Active"),
            "untouched"
        );
    }
}

/// A create answered 500, 502 or an HTML 504 that the server never processed: the old token is
/// never taken for its own replacement; nothing is adopted; resuming makes the one replacement.
#[tokio::test]
async fn a_create_the_server_never_processed_adopts_nothing_and_resumes_cleanly() {
    for fault in [Fault::Status(500), Fault::Status(502), Fault::HtmlPage(504)] {
        let server = MockServer::start().await.unwrap();
        let client = admin(&server);
        let t = server.seed_token(SeedToken::named("svc"));
        let sibling = server.seed_token(SeedToken::named("svc"));
        let (candidates, saved) = first_start_under(&server, &client, &t.id, fault.clone()).await;
        assert!(candidates.is_empty(), "{fault:?}: {candidates:?}");
        assert_eq!(server.tokens_created(), 0);

        // Resumed from what was saved: it creates, once.
        let mut plan: RotationPlan = serde_json::from_str(&saved).unwrap();
        assert!(plan.create_sent);
        let made = plan.start(&client).await.unwrap().unwrap();
        assert_eq!(server.tokens_created(), 1, "{fault:?}");
        assert!(made.token.id() != t.id && made.token.id() != sibling.id);
        plan.verify(&client, &made.secret).await.unwrap();
        plan.retire(&client, None).await.unwrap();
        plan.finish(&client).await.unwrap();
        assert_eq!(server.token_status(&t.id).as_deref(), Some("Deleted"));
        assert_eq!(
            server.token_status(made.token.id()).as_deref(),
            Some("Active")
        );
        assert_eq!(server.token_status(&sibling.id).as_deref(), Some("Active"));
    }
}

/// The server's clock 5 minutes ahead of the client's, and 5 minutes behind: a crash between
/// the create and saving its answer resumes by adopting that replacement, never making a
/// second one; the same for a create whose answer is dropped during `start`.
#[tokio::test]
async fn a_resumed_start_adopts_its_replacement_whatever_the_server_clock() {
    for skew in [
        chrono::TimeDelta::minutes(5),
        chrono::TimeDelta::minutes(-5),
    ] {
        let server = MockServer::builder()
            .clock_skew(skew)
            .start()
            .await
            .unwrap();
        let client = admin(&server);
        let old = server.seed_token(SeedToken::named("svc"));
        let older = server.seed_token(SeedToken::named("svc"));
        // The first start: the create is processed, its answer lost. It adopts nothing, and
        // names the one token made since its record.
        let (candidates, saved) =
            first_start_under(&server, &client, &old.id, Fault::DropAfterProcessing).await;
        assert_eq!(candidates.len(), 1, "{skew}: {candidates:?}");
        let made_id = candidates[0].id().to_string();
        assert!(made_id != old.id && made_id != older.id);

        // The process dies; a new one resumes from the saved plan.
        let client = admin(&server);
        let mut plan: RotationPlan = serde_json::from_str(&saved).unwrap();
        let adopted = plan.start(&client).await.unwrap().expect("adopted");
        assert_eq!(adopted.token.id(), made_id, "{skew}");
        assert_eq!(server.tokens_created(), 1, "{skew}: no second replacement");
        assert_eq!(plan.new_id.as_deref(), Some(made_id.as_str()));
        plan.verify(&client, &adopted.secret).await.unwrap();
        // Found by the marker its description carried; the description then put back.
        assert!(mpt::carries_marker(
            candidates[0].description(),
            &plan.marker_hashes
        ));
        let now = client.get(made_id.as_str()).await.unwrap();
        assert_eq!(now.description(), None, "{skew}: the old token has none");
    }
}

/// The plan saved before the create, the process killed before the create left the machine,
/// then a token of the same account and name made by hand: the resumed start adopts nothing
/// (the twin does not carry the plan's marker), makes nothing, and names the twin. A plan saved
/// by a version without markers adopts nothing either. With the twin gone, it creates.
#[tokio::test]
async fn a_resumed_start_never_adopts_a_twin_made_by_hand() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let old = server.seed_token(SeedToken::named("svc").with_description("ci"));
    let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    let mut saved = String::new();
    // Saved; the process dies before the create is sent (its save never returned).
    let err = plan
        .start_saving(&client, async |p: &RotationPlan| {
            saved = serde_json::to_string(p).unwrap();
            Err("killed")
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PlanNotSaved { .. }), "{err:?}");
    assert_eq!(server.tokens_created(), 0);
    let twin = client
        .create(
            &mpt::NewToken::new(DEFAULT_ACCOUNT, "svc")
                .modules([DEFAULT_MODULE])
                .description("ci"),
        )
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(json["createSent"], true);
    assert!(json["markerHashes"][0].is_string(), "{json}");
    assert!(
        json.get("marker").is_none(),
        "never the marker itself: {json}"
    );
    for legacy in [false, true] {
        let mut json = json.clone();
        if legacy {
            // As a version without markers saved it.
            json.as_object_mut().unwrap().remove("markerHashes");
        }
        let mut resumed: RotationPlan = serde_json::from_value(json).unwrap();
        let err = resumed.start(&client).await.unwrap_err();
        let Error::CreateUnconfirmed { source, .. } = &err else {
            panic!("{legacy}: {err:?}")
        };
        let words = source.to_string();
        assert!(words.contains(twin.token.id()), "{words}");
        let why = match legacy {
            false => "does not carry the plan's marker",
            true => "no create marker",
        };
        assert!(words.contains(why), "{legacy}: {words}");
        assert_eq!(resumed.phase, RotationPhase::Planned);
        assert_eq!(resumed.new_id, None);
        assert_eq!(server.tokens_created(), 1, "{legacy}: nothing made");
        assert_eq!(server.token_status(&old.id).as_deref(), Some("Active"));
        assert_eq!(
            server.token_status(twin.token.id()).as_deref(),
            Some("Active")
        );
    }
    // The twin deleted: the earlier create made nothing, and the resumed start creates.
    client.delete(twin.token.id()).await.unwrap();
    let mut resumed: RotationPlan = serde_json::from_str(&saved).unwrap();
    let made = resumed.start(&client).await.unwrap().unwrap();
    assert_eq!(server.tokens_created(), 2);
    resumed.verify(&client, &made.secret).await.unwrap();
    let now = client.get(made.token.id()).await.unwrap();
    assert_eq!(now.description(), Some("ci"));
}

/// A crash between the create and saving the plan as Created (the plan saved by
/// `start_saving` only): the resumed start adopts the replacement, and two such replacements
/// (a second run that also crashed) are refused, not guessed between.
#[tokio::test]
async fn a_crash_between_create_and_saving_resumes_without_a_second_replacement() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let old = server.seed_token(SeedToken::named("svc"));
    let mut plan = client.plan_rotation(old.id.as_str()).await.unwrap();
    let mut saved = String::new();
    let made = plan
        .start_saving(&client, save(&mut saved))
        .await
        .unwrap()
        .unwrap();
    // The process dies before saving `plan` (Created): `saved` is the plan as it was sent.
    let mut resumed: RotationPlan = serde_json::from_str(&saved).unwrap();
    assert_eq!(resumed.phase, RotationPhase::Planned);
    assert_eq!(resumed.marker_hashes.len(), 1, "saved before the create");
    assert!(mpt::carries_marker(
        made.token.description(),
        &resumed.marker_hashes
    ));
    let adopted = resumed.start(&client).await.unwrap().unwrap();
    assert_eq!(adopted.token.id(), made.token.id());
    assert_eq!(server.tokens_created(), 1);
    // Adopted by the marker; `verify` puts its description (the old token's: none) back.
    resumed.verify(&client, &adopted.secret).await.unwrap();
    let now = client.get(made.token.id()).await.unwrap();
    assert_eq!(now.description(), None, "{now:?}");

    // Another token outside the record (made by hand): refused, nothing adopted, nothing made.
    let stray = server.seed_token(SeedToken::named("svc"));
    let mut again: RotationPlan = serde_json::from_str(&saved).unwrap();
    let err = again.start(&client).await.unwrap_err();
    let Error::CreateUnconfirmed {
        candidates, source, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(candidates.len(), 2);
    assert!(candidates.iter().any(|c| c.id() == stray.id));
    assert!(
        matches!(**source, Error::NotMadeByPlan { .. }),
        "{source:?}"
    );
    assert_eq!(again.phase, RotationPhase::Planned);
    assert_eq!(server.tokens_created(), 1);

    // A plan that could not be saved makes nothing.
    let lone = server.seed_token(SeedToken::named("lone"));
    let mut plan = client.plan_rotation(lone.id.as_str()).await.unwrap();
    let err = plan
        .start_saving(&client, async |_| Err("disk full"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PlanNotSaved { .. }), "{err:?}");
    assert_eq!(server.tokens_created(), 1);
}

/// Plans edited or mixed up are refused: another `newId` (a token that existed before), a
/// secret of another token, another `oldId` (an unrelated token is never retired).
#[tokio::test]
async fn a_plan_whose_ids_do_not_fit_together_is_refused() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let old = server.seed_token(SeedToken::named("svc"));
    let unrelated = server.seed_token(SeedToken::named("billing"));
    let mut rotation = client.rotate(old.id.as_str()).await.unwrap();

    let mut edited = rotation.plan.clone();
    edited.new_id = Some(unrelated.id.clone());
    let err = edited.verify(&client, &unrelated.secret).await.unwrap_err();
    // `unrelated` existed before (it is not in the record, but its name differs): refused.
    assert!(matches!(err, Error::RotationPlanMismatch { .. }), "{err:?}");
    let mut edited = rotation.plan.clone();
    edited.new_id = Some(old.id.clone());
    let err = edited.verify(&client, &old.secret).await.unwrap_err();
    assert!(matches!(err, Error::RotationPlanMismatch { .. }), "{err:?}");

    rotation.verify(&client).await.unwrap();
    let mut edited = rotation.plan.clone();
    edited.old_id = unrelated.id.clone();
    let err = edited.retire(&client, None).await.unwrap_err();
    assert!(matches!(err, Error::RotationPlanMismatch { .. }), "{err:?}");
    assert_eq!(
        server.token_status(&unrelated.id).as_deref(),
        Some("Active")
    );

    // Out of order is its own error, not "invalid request".
    let mut fresh = client.plan_rotation(unrelated.id.as_str()).await.unwrap();
    let err = fresh.finish(&client).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::RotationOutOfOrder {
                step: "finish",
                phase: RotationPhase::Planned,
                needs: RotationPhase::Retired,
                ..
            }
        ),
        "{err:?}"
    );
}

/// After `RotationIncomplete` the plan is there to resume from.
#[tokio::test]
async fn rotation_incomplete_carries_a_plan_to_resume_from() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let old = server.seed_token(SeedToken::named("svc"));
    server
        .set_faults(
            Faults::none().with(FaultRule::every(1, Fault::Status(503)).only([Operation::Disable])),
        )
        .unwrap();
    let err = client
        .rotate_now_with_outage(old.id.as_str())
        .await
        .unwrap_err();
    let Error::RotationIncomplete { plan, new, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(plan.phase, RotationPhase::Verified);
    assert_eq!(plan.new_id.as_deref(), Some(new.token.id()));
    server.set_faults(Faults::none()).unwrap();
    let mut plan = *plan;
    plan.retire(&client, None).await.unwrap();
    plan.finish(&client).await.unwrap();
    assert_eq!(server.token_status(&old.id).as_deref(), Some("Deleted"));
}

#[tokio::test]
async fn an_unconfirmed_create_offers_only_tokens_made_since_the_call() {
    let server = MockServer::start().await.unwrap();
    let client = admin(&server);
    let older = server.seed_token(SeedToken::named("nightly"));
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Create])),
        )
        .unwrap();
    let err = client
        .create(&NewToken::new(DEFAULT_ACCOUNT, "nightly").module(DEFAULT_MODULE))
        .await
        .unwrap_err();
    let Error::CreateUnconfirmed { candidates, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(candidates.len(), 1, "{candidates:?}");
    assert_ne!(
        candidates[0].id(),
        older.id,
        "the older sibling is no candidate"
    );
    assert!(candidates[0].secret().is_some());
    let text = err.to_string();
    assert!(!text.contains("delete the others"), "{text}");
    assert!(!text.contains(candidates[0].secret().unwrap().expose_secret()));
}

/// A create whose answer is lost, on a server that ignores the lookup's filter: a token of
/// another account, or of another name, is never offered as the one the create made.
#[tokio::test]
async fn a_lost_create_never_offers_a_token_of_another_account_or_name() {
    let empty = r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":0}},"data":[]}"#;
    let others = r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":2}},"data":[
        {"id":"TKN-1111-1111","name":"sync","status":"Active","account":{"id":"ACC-9999-9999"},"token":"idt:TKN-1111-1111:aaaa"},
        {"id":"TKN-2222-2222","name":"other","status":"Active","account":{"id":"ACC-0000-0001"},"token":"idt:TKN-2222-2222:bbbb"}]}"#;
    let server = canned(vec![
        Scripted::answer(200, "application/json", empty),
        Scripted::dropped(),
        Scripted::answer(200, "application/json", others),
    ])
    .await;
    let client = canned_client(&server, "api");
    let err = client
        .create(&NewToken::new("ACC-0000-0001", "sync").module(DEFAULT_MODULE))
        .await
        .unwrap_err();
    let Error::CreateUnconfirmed { candidates, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(candidates.is_empty(), "{candidates:#?}");
}
