//! Every transition, auth by the tokens' own secrets, validation, counters, the request record, and
//! shutdown.

use super::*;

#[tokio::test]
async fn the_whole_lifecycle_with_revisions_and_auth_by_the_tokens_own_secret() {
    let api = Api::start().await;
    let created = api.create("ci deployer").await;
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with(&format!("idt:{id}:")), "{secret}");
    assert_eq!(created["status"], "Active");
    assert_eq!(created["revision"], 1);
    assert_eq!(created["account"]["id"], DEFAULT_ACCOUNT);

    // The new secret authenticates, and its use is recorded.
    let (status, fetched) = api
        .call(Method::GET, &format!("/{id}"), &secret, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Like the platform, a read returns the secret unless it deselects it.
    assert_eq!(fetched["token"], secret.as_str());
    let (_, trimmed) = api
        .call(Method::GET, &format!("/{id}?select=-token"), &secret, None)
        .await;
    assert!(trimmed.get("token").is_none(), "{trimmed}");
    let (_, listed) = api.call(Method::GET, "?select=-token", &secret, None).await;
    assert!(listed["data"][0].get("token").is_none(), "{listed}");
    assert!(api.server.token_last_access(&id).is_some());

    let (status, updated) = api
        .admin(
            Method::PUT,
            &format!("/{id}"),
            Some(json!({"name": "ci deployer v2", "description": null, "status": "Deleted"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["name"], "ci deployer v2");
    assert!(
        updated.get("description").is_none(),
        "null clears the description"
    );
    assert_eq!(
        updated["status"], "Active",
        "status is read-only in an update"
    );
    assert_eq!(updated["revision"], 2);
    // As on the platform, `audit` comes only when asked for.
    assert!(updated.get("audit").is_none(), "{updated}");
    let (_, audited) = api
        .admin(Method::GET, &format!("/{id}?select=%2Baudit"), None)
        .await;
    assert!(audited["audit"]["updated"]["at"].is_string(), "{audited}");

    let (status, disabled) = api
        .admin(Method::POST, &format!("/{id}/disable"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (disabled["status"].as_str(), disabled["revision"].as_i64()),
        (Some("Disabled"), Some(3))
    );

    // A disabled token's secret gets 401, and the answer does not echo the secret.
    let (status, problem) = api.call(Method::GET, "", &secret, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["detail"], format!("API token {id} is Disabled."));
    assert!(!problem.to_string().contains(&secret[18..]));

    let (status, enabled) = api
        .admin(Method::POST, &format!("/{id}/enable"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (enabled["status"].as_str(), enabled["revision"].as_i64()),
        (Some("Active"), Some(4))
    );
    assert_eq!(
        api.call(Method::GET, "", &secret, None).await.0,
        StatusCode::OK
    );

    let (status, body) = api.admin(Method::DELETE, &format!("/{id}"), None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(api.server.token_status(&id).as_deref(), Some("Deleted"));
    assert_eq!(
        api.call(Method::GET, "", &secret, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A soft delete: its own (Client) account no longer sees it; the admin, an Operations
    // account, still reads it, Deleted, and cannot change it.
    let owner = api.server.seed_token(SeedToken::named("owner")).secret;
    let owner = owner.expose_secret();
    for (method, path) in [
        (Method::GET, format!("/{id}")),
        (Method::PUT, format!("/{id}")),
        (Method::DELETE, format!("/{id}")),
        (Method::POST, format!("/{id}/enable")),
        (Method::POST, format!("/{id}/disable")),
        (Method::GET, "/TKN-0000-0404".to_string()),
    ] {
        let body = (method == Method::PUT).then(|| json!({"name": "x"}));
        let (status, problem) = api.call(method.clone(), &path, owner, body.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(problem["status"], 404);
        assert!(problem["traceId"].as_str().unwrap().starts_with("00-"));
        let (status, answer) = api.admin(method.clone(), &path, body).await;
        let expected = match (&method, path.contains("0404")) {
            (_, true) => StatusCode::NOT_FOUND,
            (&Method::GET, false) => StatusCode::OK,
            _ => StatusCode::BAD_REQUEST,
        };
        assert_eq!(status, expected, "admin {method} {path}: {answer}");
    }
    let (_, list) = api.call(Method::GET, "", owner, None).await;
    assert_eq!(
        list["$meta"]["pagination"]["total"], 1,
        "deleted tokens are not listed: only the owner's own token is"
    );
}

#[tokio::test]
async fn a_noop_transition_is_400_by_default_and_a_200_noop_when_switched() {
    let api = Api::start().await;
    let id = api.server.seed_token(SeedToken::named("a")).id;
    let (status, problem) = api
        .admin(Method::POST, &format!("/{id}/enable"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["properties"], json!(["status"]));
    assert_eq!(api.server.token_revision(&id), Some(1));

    api.server.set_noop_transitions(NoopTransitions::Accepted);
    let (status, token) = api
        .admin(Method::POST, &format!("/{id}/enable"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (token["status"].as_str(), token["revision"].as_i64()),
        (Some("Active"), Some(1))
    );

    // A token in a state the platform may add cannot be switched.
    let odd = api
        .server
        .seed_token(SeedToken::named("odd").with_status("Suspended"))
        .id;
    assert_eq!(
        api.admin(Method::POST, &format!("/{odd}/disable"), None)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn missing_or_unknown_secrets_get_401_problems() {
    let api = Api::start().await;
    let resp = api.http.get(api.url("")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let (status, problem) = api
        .call(Method::GET, "", "idt:TKN-1111-1111:nope", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["title"], "Unauthorized");
    assert!(!problem.to_string().contains("nope"));
}

#[tokio::test]
async fn create_validation_uses_the_field_map_shape() {
    let api = Api::start().await;
    let (status, problem) = api
        .admin(
            Method::POST,
            "",
            Some(json!({"account": {"id": ""}, "modules": []})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["detail"], "One or more validation errors occurred.");
    let errors = problem["errors"].as_object().unwrap();
    assert!(
        errors.contains_key("name")
            && errors.contains_key("account.id")
            && errors.contains_key("modules"),
        "{problem}"
    );
    let (status, _) = api
        .admin(Method::POST, "", Some(json!("not an object")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api.server.tokens_created(), 0);
}

#[tokio::test]
async fn counters_count_each_operation() {
    let api = Api::start().await;
    let id = api.create("c").await["id"].as_str().unwrap().to_string();
    api.admin(Method::GET, &format!("/{id}"), None).await;
    api.admin(Method::GET, &format!("/{id}"), None).await;
    api.admin(Method::POST, &format!("/{id}/disable"), None)
        .await;
    assert_eq!(api.server.requests(Operation::Create), 1);
    assert_eq!(api.server.requests(Operation::Get), 2);
    assert_eq!(api.server.requests(Operation::Disable), 1);
    assert_eq!(api.server.requests(Operation::Enable), 0);
    assert_eq!(api.server.total_requests(), 4);
    assert_eq!(api.server.tokens_created(), 1);
}

#[tokio::test]
async fn the_server_stops_when_dropped() {
    let api = Api::start().await;
    let url = api.url("");
    let http = api.http.clone();
    drop(api.server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(http.get(url).send().await.is_err());
}

/// The mock records each request (method, path, query, headers with the secret redacted,
/// body), and a fault can be aimed at one token.
#[tokio::test]
async fn requests_are_recorded_and_faults_can_aim_at_one_token() {
    let api = Api::start().await;
    let a = api.server.seed_token(SeedToken::named("a"));
    let b = api.server.seed_token(SeedToken::named("b"));
    api.server
        .set_faults(
            Faults::none().with(
                FaultRule::once(Fault::Status(503))
                    .only([Operation::Disable])
                    .for_token(b.id.clone()),
            ),
        )
        .unwrap();
    api.server.clear_recorded();
    let (status, _) = api
        .admin(reqwest::Method::POST, &format!("/{}/disable", a.id), None)
        .await;
    assert_eq!(status, StatusCode::OK, "another token passes");
    let (status, _) = api
        .admin(reqwest::Method::POST, &format!("/{}/disable", b.id), None)
        .await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the aimed one fails"
    );
    let (status, _) = api
        .admin(reqwest::Method::POST, &format!("/{}/disable", b.id), None)
        .await;
    assert_eq!(status, StatusCode::OK, "once only");
    let (status, _) = api
        .admin(
            reqwest::Method::PUT,
            &format!("/{}?x=1", a.id),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let recorded = api.server.recorded();
    assert_eq!(recorded.len(), 4);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, format!("{BASE_PATH}/{}/disable", a.id));
    assert_eq!(recorded[3].query.as_deref(), Some("x=1"));
    assert_eq!(recorded[3].body, r#"{"name":"renamed"}"#);
    for r in &recorded {
        assert_eq!(r.header("Authorization"), Some("[REDACTED]"));
        assert!(!format!("{r:?}").contains(api.server.admin_secret()));
    }
    api.server.clear_recorded();
    assert!(api.server.recorded().is_empty());
}
