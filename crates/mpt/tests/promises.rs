//! The lifecycle's promises under the faults and inputs that broke them: rotation and create
//! identity without names or clocks, secrets only where asked, outcomes true to the server's
//! final state, and the friction a new user meets. Each test fails on the code before its fix.

use std::collections::HashMap;
use std::time::Duration;

use mpt::{
    Client, Error, Filter, NewToken, NoopTransitions, Outcome, RetryPolicy, RotationPhase,
    RotationPlan, TokenStatus,
};
use mpt_mock::{
    DEFAULT_ACCOUNT, DEFAULT_MODULE, Fault, FaultRule, Faults, MockServer, Operation, SeedToken,
};

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::attempts(attempts)
    }
}

fn client_for(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .api_token(server.admin_secret())
        .retry(fast_retries(3))
        .build()
        .unwrap()
}

fn save(saved: &mut String) -> impl FnMut(&RotationPlan) -> Result<(), std::convert::Infallible> {
    move |plan| {
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

// ---- 1. A rotation makes or adopts only its own replacement ----

/// Same-named tokens (names are not unique) made before the plan, between the plan and the
/// start, and after the start are never taken for the replacement.
#[tokio::test]
async fn a_rotation_never_adopts_a_same_named_token_it_did_not_make() {
    let server = MockServer::start().await.unwrap();
    let client = client_for(&server);
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
        let client = client_for(&server);
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
        let client = client_for(&server);
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
        let client = client_for(&server);
        let mut plan: RotationPlan = serde_json::from_str(&saved).unwrap();
        let adopted = plan.start(&client).await.unwrap().expect("adopted");
        assert_eq!(adopted.token.id(), made_id, "{skew}");
        assert_eq!(server.tokens_created(), 1, "{skew}: no second replacement");
        assert_eq!(plan.new_id.as_deref(), Some(made_id.as_str()));
        plan.verify(&client, &adopted.secret).await.unwrap();
    }
}

/// A crash between the create and saving the plan as Created (the plan saved by
/// `start_saving` only): the resumed start adopts the replacement, and two such replacements
/// (a second run that also crashed) are refused, not guessed between.
#[tokio::test]
async fn a_crash_between_create_and_saving_resumes_without_a_second_replacement() {
    let server = MockServer::start().await.unwrap();
    let client = client_for(&server);
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
    let adopted = resumed.start(&client).await.unwrap().unwrap();
    assert_eq!(adopted.token.id(), made.token.id());
    assert_eq!(server.tokens_created(), 1);

    // Two tokens outside the record: refused, nothing adopted, nothing made.
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
        matches!(**source, Error::EarlierRunInterrupted { .. }),
        "{source:?}"
    );
    assert_eq!(again.phase, RotationPhase::Planned);
    assert_eq!(server.tokens_created(), 1);

    // A plan that could not be saved makes nothing.
    let lone = server.seed_token(SeedToken::named("lone"));
    let mut plan = client.plan_rotation(lone.id.as_str()).await.unwrap();
    let err = plan
        .start_saving(&client, |_| Err("disk full"))
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
    let client = client_for(&server);
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
    let client = client_for(&server);
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

// ---- 2. CreateUnconfirmed offers only tokens that cannot have existed before ----

#[tokio::test]
async fn an_unconfirmed_create_offers_only_tokens_made_since_the_call() {
    let server = MockServer::start().await.unwrap();
    let client = client_for(&server);
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

// ---- 3. Secrets only where asked ----

struct Canned {
    url: String,
}

/// A server answering every request with `status`, `headers` and `body`.
async fn canned(status: u16, headers: &'static str, body: String) -> Canned {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let out = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(out.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Canned { url }
}

fn canned_client(server: &Canned, secret: &str) -> Client {
    Client::builder()
        .base_url(&server.url)
        .api_token(secret)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// The generated client with the layer installed (`client.api()`): its errors' Display and
/// Debug never show the token's secret (a 200 with a malformed field) or the API secret (a
/// 400 that echoes the Authorization header, in its body and a header).
#[tokio::test]
async fn raw_client_errors_never_show_a_secret() {
    let api = "plain-API-secret_42";
    let secret = "idt:TKN-1111-2222:Zx9SECRETbody";
    let malformed = format!(r#"{{"id":"TKN-1111-2222","token":"{secret}","revision":"two"}}"#);
    let server = canned(200, "", malformed).await;
    let client = canned_client(&server, api);
    let e = client
        .api()
        .get_api_token()
        .id("TKN-1111-2222")
        .send()
        .await
        .unwrap_err();
    for text in [format!("{e}"), format!("{e:?}"), format!("{e:#}")] {
        assert!(!text.contains("Zx9SECRETbody"), "{text}");
    }

    let echo = format!(
        r#"{{"status":400,"title":"Bad Request","detail":"header was Bearer {api}","errors":{{"token":["{secret}"]}}}}"#
    );
    let server = canned(400, "x-echo: Bearer plain-API-secret_42\r\n", echo).await;
    let client = canned_client(&server, api);
    let e = client
        .api()
        .get_api_token()
        .id("TKN-1111-2222")
        .send()
        .await
        .unwrap_err();
    for text in [format!("{e}"), format!("{e:?}")] {
        assert!(!text.contains(api), "{text}");
        assert!(!text.contains("Zx9SECRETbody"), "{text}");
    }
    // A well-formed secret-bearing answer still hands the secret to the caller who asked.
    let good = format!(r#"{{"id":"TKN-1111-2222","token":"{secret}"}}"#);
    let server = canned(200, "", good).await;
    let client = canned_client(&server, api);
    let v = client
        .api()
        .get_api_token()
        .id("TKN-1111-2222")
        .send()
        .await
        .unwrap();
    assert_eq!(v.token.as_ref().unwrap().expose_secret(), secret);
}

/// A server that ignores `select=-token`: `get` and `list` still hand no secret over.
#[tokio::test]
async fn reads_drop_a_secret_the_server_sent_anyway() {
    let token = r#"{"id":"TKN-1111-2222","status":"Active","token":"idt:TKN-1111-2222:SeCrEt"}"#;
    let server = canned(200, "", token.to_string()).await;
    let client = canned_client(&server, "api");
    assert!(
        client
            .get("TKN-1111-2222")
            .await
            .unwrap()
            .secret()
            .is_none()
    );
    assert!(
        client
            .get_with_select("TKN-1111-2222", ["-audit"])
            .await
            .unwrap()
            .secret()
            .is_none()
    );
    assert!(
        client
            .get_with_secret("TKN-1111-2222")
            .await
            .unwrap()
            .secret()
            .is_some()
    );
    let page = format!(r#"{{"$meta":{{"pagination":{{"total":1}}}},"data":[{token}]}}"#);
    let server = canned(200, "", page).await;
    let client = canned_client(&server, "api");
    let listed = client.list().collect().await.unwrap();
    assert!(listed[0].secret().is_none());
    let listed = client.list().with_secrets().collect().await.unwrap();
    assert!(listed[0].secret().is_some());
}

// ---- 4. Outcomes true to what happened ----

/// A token already Disabled whose first disable answer would be lost: `Unchanged`, its
/// revision unmoved (not `Changed`).
#[tokio::test]
async fn an_already_disabled_token_is_unchanged_even_when_answers_are_lost() {
    let server = MockServer::start().await.unwrap();
    let client = client_for(&server);
    let t = server.seed_token(SeedToken::named("off").with_status("Disabled"));
    let revision = server.token_revision(&t.id);
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::once(Fault::DropAfterProcessing).only([Operation::Disable])),
        )
        .unwrap();
    let outcome = client.ensure_disabled(t.id.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Unchanged(_)), "{outcome:?}");
    assert_eq!(server.token_revision(&t.id), revision);
}

/// A client on `Refused` talking to a server that answers no-ops with 200 never reports a
/// no-op as `Changed`.
#[tokio::test]
async fn a_refused_client_on_an_accepting_server_reports_no_false_change() {
    let server = MockServer::builder()
        .noop_transitions(mpt_mock::NoopTransitions::Accepted)
        .start()
        .await
        .unwrap();
    let client = client_for(&server);
    let t = server.seed_token(SeedToken::named("off").with_status("Disabled"));
    let outcome = client.ensure_disabled(t.id.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Unchanged(_)), "{outcome:?}");
    let u = server.seed_token(SeedToken::named("on"));
    let outcome = client.ensure_disabled(u.id.as_str()).await.unwrap();
    assert!(outcome.changed(), "{outcome:?}");
}

/// Every attempt's answer lost: `disable` reads the token back and returns it Disabled;
/// `ensure_disabled` says `Unconfirmed`; and when the read fails too, the error says the change
/// may have happened (`OutcomeUnknown`), not just "connection closed".
#[tokio::test]
async fn an_answer_lost_on_every_attempt_is_resolved_by_a_read() {
    let server = MockServer::start().await.unwrap();
    let client = client_for(&server);
    let lose_all = |ops: &[Operation]| {
        Faults::none().with(FaultRule::every(1, Fault::DropAfterProcessing).only(ops.to_vec()))
    };
    let t = server.seed_token(SeedToken::named("a"));
    server.set_faults(lose_all(&[Operation::Disable])).unwrap();
    let token = client.disable(t.id.as_str()).await.unwrap();
    assert_eq!(token.status(), TokenStatus::Disabled);

    let u = server.seed_token(SeedToken::named("b"));
    let outcome = client.ensure_disabled(u.id.as_str()).await.unwrap();
    assert!(matches!(outcome, Outcome::Unconfirmed(_)), "{outcome:?}");
    assert_eq!(server.token_status(&u.id).as_deref(), Some("Disabled"));

    let v = server.seed_token(SeedToken::named("c"));
    server
        .set_faults(lose_all(&[Operation::Disable, Operation::Get]))
        .unwrap();
    let err = client.disable(v.id.as_str()).await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot tell whether"), "{err}");

    // A 200 whose body is cut off: the change happened; the token is read back.
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::every(1, Fault::MalformedJson).only([Operation::Enable])),
        )
        .unwrap();
    let outcome = client.ensure_active(t.id.as_str()).await.unwrap();
    assert!(outcome.changed(), "{outcome:?}");
    assert_eq!(outcome.token().status(), TokenStatus::Active);
}

/// Seeds `n` tokens, a fifth of them Disabled; returns their ids and revisions.
fn seed_fleet(server: &MockServer, n: usize) -> (Vec<String>, HashMap<String, (String, i32)>) {
    let mut ids = Vec::new();
    let mut before = HashMap::new();
    for i in 0..n {
        let status = if i % 5 == 0 { "Disabled" } else { "Active" };
        let t = server.seed_token(SeedToken::named(format!("fleet-{i}")).with_status(status));
        before.insert(
            t.id.clone(),
            (status.to_string(), server.token_revision(&t.id).unwrap()),
        );
        ids.push(t.id);
    }
    (ids, before)
}

/// Every reported outcome against the mock's final state and revisions: `Changed` only where
/// the revision moved by this one change, `Unchanged` only where it did not move.
fn check_outcomes(
    server: &MockServer,
    report: mpt::BulkReport<Outcome>,
    before: &HashMap<String, (String, i32)>,
) -> (usize, usize, usize) {
    let (mut changed, mut unchanged, mut unconfirmed) = (0, 0, 0);
    for (id, result) in report {
        let outcome = result.unwrap_or_else(|e| panic!("{id}: {e}"));
        let (was, revision) = &before[&id];
        let now = server.token_revision(&id).unwrap();
        assert_eq!(
            server.token_status(&id).as_deref(),
            Some("Disabled"),
            "{id}"
        );
        match outcome {
            Outcome::Changed(_) => {
                assert_eq!(was, "Active", "{id}");
                assert_eq!(now, revision + 1, "{id}: Changed by this one change");
                changed += 1;
            }
            Outcome::Unchanged(_) => {
                assert_eq!(now, *revision, "{id}: Unchanged but the revision moved");
                unchanged += 1;
            }
            Outcome::Unconfirmed(_) => unconfirmed += 1,
        }
    }
    (changed, unchanged, unconfirmed)
}

/// 2,000 tokens, a fifth pre-disabled, `fault` on every tenth disable: the counts of
/// `Changed`, `Unchanged` and `Unconfirmed`, each checked against the final state.
async fn fleet_under(fault: Fault) -> (usize, usize, usize) {
    let server = MockServer::start().await.unwrap();
    let client = client_for(&server);
    let (ids, before) = seed_fleet(&server, 2_000);
    server
        .set_faults(Faults::none().with(FaultRule::every(10, fault).only([Operation::Disable])))
        .unwrap();
    let report = client.ensure_disabled_many(&ids, 16).await;
    check_outcomes(&server, report, &before)
}

/// 10% of disable answers dropped after processing.
#[tokio::test]
async fn bulk_outcomes_match_the_final_state_under_dropped_answers() {
    let (changed, unchanged, unconfirmed) = fleet_under(Fault::DropAfterProcessing).await;
    assert_eq!(unchanged, 400, "the pre-disabled fifth");
    assert_eq!(changed + unconfirmed, 1_600);
    assert!(unconfirmed >= 100, "{unconfirmed}: the dropped answers");
}

/// 10% of disables answered 200 with cut-off JSON: none reported failed, all `Changed`.
#[tokio::test]
async fn bulk_outcomes_match_the_final_state_under_truncated_answers() {
    let counts = fleet_under(Fault::MalformedJson).await;
    assert_eq!(counts, (1_600, 400, 0));
}

// ---- 5. No crashes on odd fault rules ----

#[tokio::test]
async fn fault_rules_that_cannot_work_are_refused_and_never_panic_the_mock() {
    let zero = FaultRule {
        every: 0,
        ..FaultRule::every(1, Fault::Status(500))
    };
    let err = MockServer::builder()
        .faults(Faults::none().with(zero.clone()))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fault rule 0"), "{err}");
    let server = MockServer::start().await.unwrap();
    assert!(server.set_faults(Faults::none().with(zero)).is_err());
    assert!(
        server
            .set_faults(Faults::none().with(FaultRule::once(Fault::Status(1000))))
            .is_err()
    );
    // A huge Retry-After is answered (saturated), not a panic.
    server
        .set_faults(Faults::none().with(FaultRule::once(Fault::RateLimited {
            retry_after: Duration::MAX,
        })))
        .unwrap();
    let client = Client::builder()
        .base_url(server.base_url())
        .api_token(server.admin_secret())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.list().count().await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert!(client.list().count().await.is_ok(), "the mock still serves");
}

// ---- 7 and 8. Docs that hold, and no friction for a new user ----

/// `into_result()?` in a function returning a boxed error, `From<Outcome> for Token`, iterable
/// reports, `mpt::chrono`, `mpt::types`, `Token: Deserialize`, `parse::<TokenStatus>()?`,
/// filters from `String`s, page sizes out of range refused.
#[tokio::test]
async fn what_a_new_user_writes_compiles_and_works() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::start().await?;
    let client = client_for(&server);
    let t = server.seed_token(SeedToken::named("n"));
    let report = client.ensure_disabled_many([t.id.as_str()], 2).await;
    for (id, result) in &report {
        assert_eq!(id, &t.id);
        assert!(result.is_ok());
    }
    let outcomes = report.into_result()?;
    let token: mpt::Token = outcomes.into_iter().next().unwrap().1.into();
    assert_eq!(token.status(), TokenStatus::Disabled);

    let failed = client
        .ensure_disabled_many(["TKN-0000-0404"], 1)
        .await
        .into_result();
    let failures = failed.unwrap_err();
    let as_error: Box<dyn std::error::Error> = Box::new(failures);
    assert!(
        as_error
            .to_string()
            .starts_with("1 id failed: TKN-0000-0404"),
        "{as_error}"
    );

    fn parse(s: &str) -> Result<TokenStatus, mpt::Error> {
        Ok(s.parse::<TokenStatus>()?)
    }
    assert_eq!(parse("Active")?, TokenStatus::Active);
    let _: mpt::chrono::DateTime<mpt::chrono::Utc> = mpt::chrono::Utc::now();
    let _: Option<mpt::types::ApiToken> = None;

    let json = serde_json::to_string(&token)?;
    let back: mpt::Token = serde_json::from_str(&json)?;
    assert_eq!(back.id(), token.id());
    assert!(back.secret().is_none(), "[REDACTED] is no secret");

    let name = String::from("n*");
    let found = client
        .list()
        .filter(Filter::name_like(name))
        .collect()
        .await?;
    assert_eq!(found.len(), 1);
    for size in [0, 101] {
        let err = client.list().page_size(size).collect().await.unwrap_err();
        assert!(err.to_string().contains("page_size"), "{err}");
    }
    let _ = NoopTransitions::Refused;
    Ok(())
}
