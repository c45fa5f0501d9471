//! The mock plays by the platform's rules, seen through the facade: account scoping, soft
//! delete, validation of what a create or update names, response shapes, and a request record
//! without credentials.

use crate::common::*;

fn client(server: &MockServer, secret: &str) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .api_token(secret)
        .retry(RetryPolicy {
            base_delay: Duration::from_millis(2),
            ..RetryPolicy::attempts(2)
        })
        .build()
        .unwrap()
}

/// A client authenticating as a fresh token of `account`.
fn as_account(server: &MockServer, account: &str) -> Client {
    let me = server.seed_token(SeedToken::named("caller").in_account(account));
    client(server, me.secret.expose_secret())
}

#[tokio::test]
async fn a_client_or_vendor_token_sees_and_changes_only_its_own_account() {
    let server = MockServer::start().await.unwrap();
    let mine = server.seed_token(SeedToken::named("mine"));
    let theirs = server.seed_token(SeedToken::named("theirs").in_account(VENDOR_ACCOUNT));
    let client_account = as_account(&server, DEFAULT_ACCOUNT);

    // Reads, lists and counts are scoped.
    client_account.get(mine.id.as_str()).await.unwrap();
    let err = client_account.get(theirs.id.as_str()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let listed = client_account.list().collect().await.unwrap();
    assert!(
        listed
            .iter()
            .all(|t| t.account_id() == Some(DEFAULT_ACCOUNT))
    );
    assert_eq!(listed.len(), 2, "mine and the caller");
    assert_eq!(client_account.list().count().await.unwrap(), 2);
    let filtered = client_account
        .list()
        .filter(Filter::account(VENDOR_ACCOUNT))
        .count()
        .await
        .unwrap();
    assert_eq!(filtered, 0);

    // Changes too: 404, and nothing changed.
    let revision = server.token_revision(&theirs.id);
    for err in [
        client_account
            .disable(theirs.id.as_str())
            .await
            .unwrap_err(),
        client_account.delete(theirs.id.as_str()).await.unwrap_err(),
        client_account
            .update(theirs.id.as_str(), &TokenUpdate::new().name("hijacked"))
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    }
    assert_eq!(server.token_revision(&theirs.id), revision);
    assert_eq!(server.token_status(&theirs.id).as_deref(), Some("Active"));

    // A create in another account is refused as if the account did not exist.
    let err = client_account
        .create(&NewToken::new(VENDOR_ACCOUNT, "sneaky").module(DEFAULT_MODULE))
        .await
        .unwrap_err();
    assert_field(&err, "account.id");

    // A Vendor account is scoped the same way.
    let vendor = as_account(&server, VENDOR_ACCOUNT);
    assert!(matches!(
        vendor.get(mine.id.as_str()).await,
        Err(Error::NotFound(_))
    ));
    vendor.get(theirs.id.as_str()).await.unwrap();

    // An Operations account sees and changes every account's tokens.
    let ops = as_account(&server, OPERATIONS_ACCOUNT);
    ops.get(theirs.id.as_str()).await.unwrap();
    ops.disable(theirs.id.as_str()).await.unwrap();
    assert_eq!(server.token_status(&theirs.id).as_deref(), Some("Disabled"));
    assert!(ops.list().count().await.unwrap() >= 4);
}

#[tokio::test]
async fn delete_is_soft_and_each_account_type_reads_it_as_the_platform_does() {
    let server = MockServer::start().await.unwrap();
    let admin = client(&server, server.admin_secret());
    for account in [DEFAULT_ACCOUNT, VENDOR_ACCOUNT] {
        let owner = as_account(&server, account);
        let t = server.seed_token(SeedToken::named("doomed").in_account(account));
        owner.delete(t.id.as_str()).await.unwrap();
        // Its own account no longer sees it; Operations reads it, Deleted.
        assert!(matches!(
            owner.get(t.id.as_str()).await,
            Err(Error::NotFound(_))
        ));
        assert!(!owner.delete_if_exists(t.id.as_str()).await.unwrap());
        let seen = admin.get(t.id.as_str()).await.unwrap();
        assert_eq!(seen.status(), TokenStatus::Deleted);
        // The facade's handling of Deleted: ensure_* is UnexpectedState, rotation refused,
        // delete_if_exists says it was not this call.
        let err = admin.ensure_active(t.id.as_str()).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::UnexpectedState {
                    status: TokenStatus::Deleted,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(admin.rotate(t.id.as_str()).await.is_err());
        assert!(!admin.delete_if_exists(t.id.as_str()).await.unwrap());
        // Its secret no longer authenticates.
        let dead = client(&server, t.secret.expose_secret());
        assert!(matches!(
            dead.list().count().await,
            Err(Error::Unauthorized(_))
        ));
    }
    // Lists show Deleted tokens to Operations only when the filter asks for that status.
    let all = admin.list().collect().await.unwrap();
    assert!(all.iter().all(|t| t.status() != TokenStatus::Deleted));
    let deleted = admin
        .list()
        .filter(Filter::status(TokenStatus::Deleted))
        .count()
        .await
        .unwrap();
    assert_eq!(deleted, 2);
}

fn assert_field(err: &Error, field: &str) {
    let Error::BadRequest(problem) = err else {
        panic!("{err:?}")
    };
    assert!(
        problem.messages().iter().any(|m| m.starts_with(field)),
        "{field} not named: {problem}"
    );
}

/// Requests the facade would refuse itself, sent through the raw generated client, are refused
/// by the mock with the field named, as the platform refuses them.
#[tokio::test]
async fn creates_and_updates_are_validated_as_the_platform_validates_them() {
    let server = MockServer::start().await.unwrap();
    let admin = client(&server, server.admin_secret());
    let create = |account: &str, name: &str, module: &str, description: &str| {
        serde_json::from_value::<mpt::types::CreateApiTokenDto>(serde_json::json!({
            "account": {"id": account}, "name": name, "modules": [{"id": module}],
            "description": description,
        }))
        .unwrap()
    };
    let cases = [
        (
            create("ACC-9999-9999", "ok", DEFAULT_MODULE, ""),
            "account.id",
        ),
        (create(DEFAULT_ACCOUNT, "ok", "MOD-NOPE", ""), "modules"),
        (create(DEFAULT_ACCOUNT, "a/b", DEFAULT_MODULE, ""), "name"),
        (
            create(DEFAULT_ACCOUNT, &"n".repeat(201), DEFAULT_MODULE, ""),
            "name",
        ),
        (
            create(DEFAULT_ACCOUNT, "ok", DEFAULT_MODULE, &"d".repeat(2001)),
            "description",
        ),
    ];
    for (body, field) in cases {
        let e = admin
            .api()
            .create_api_token()
            .body(body)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.status().map(|s| s.as_u16()), Some(400), "{field}: {e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    assert_eq!(server.tokens_created(), 0);

    // A module known to the mock but not enabled for the account.
    let other = KNOWN_MODULES[1];
    assert!(server.set_account_modules(DEFAULT_ACCOUNT, [DEFAULT_MODULE]));
    let err = admin
        .create(&NewToken::new(DEFAULT_ACCOUNT, "ok").module(other))
        .await
        .unwrap_err();
    assert_field(&err, "modules");
    let t = server.seed_token(SeedToken::named("t"));
    let err = admin
        .update(t.id.as_str(), &TokenUpdate::new().modules([other]))
        .await
        .unwrap_err();
    assert_field(&err, "modules");
    // Valid ones pass.
    admin
        .create(&NewToken::new(DEFAULT_ACCOUNT, "ok").module(DEFAULT_MODULE))
        .await
        .unwrap();
}

/// Taking a module away from an account's default group strips it from every token there.
#[tokio::test]
async fn a_module_taken_from_an_account_is_stripped_from_its_tokens() {
    let server = MockServer::start().await.unwrap();
    let admin = client(&server, server.admin_secret());
    let both = [DEFAULT_MODULE, KNOWN_MODULES[2]];
    let t = server.seed_token(SeedToken::named("t").with_modules(both));
    let elsewhere = server.seed_token(
        SeedToken::named("u")
            .in_account(VENDOR_ACCOUNT)
            .with_modules(both),
    );
    server.set_account_modules(DEFAULT_ACCOUNT, [DEFAULT_MODULE]);
    assert_eq!(
        admin.get(t.id.as_str()).await.unwrap().module_ids(),
        [DEFAULT_MODULE]
    );
    assert_eq!(
        admin.get(elsewhere.id.as_str()).await.unwrap().module_ids(),
        both
    );
}

/// Null fields are left out of answers, and `audit` unless `select=+audit` asks for it.
#[tokio::test]
async fn answers_leave_out_null_fields_and_audit_unless_asked() {
    let server = MockServer::start().await.unwrap();
    let admin = client(&server, server.admin_secret());
    let t = server.seed_token(SeedToken::named("bare"));
    let raw = admin.api().get_api_token().id(&t.id).send().await.unwrap();
    let json = serde_json::to_value(&*raw).unwrap();
    for absent in ["description", "icon", "extensions", "audit", "lastAccessAt"] {
        assert!(json.get(absent).is_none(), "{absent} in {json}");
    }
    let token = admin
        .get_with_select(t.id.as_str(), ["+audit"])
        .await
        .unwrap();
    assert!(token.created_at().is_some());
    assert!(
        admin
            .get(t.id.as_str())
            .await
            .unwrap()
            .created_at()
            .is_none()
    );
}

/// The record never holds a credential: any credential-bearing header or query parameter, the
/// admin secret and token secrets anywhere.
#[tokio::test]
async fn the_request_record_never_shows_a_credential() {
    let server = MockServer::start().await.unwrap();
    let t = server.seed_token(SeedToken::named("t"));
    let secret = t.secret.expose_secret().to_string();
    let admin = server.admin_secret().to_string();
    let http = reqwest::Client::new();
    let url = format!(
        "{}/public/v1/accounts/api-tokens?access_token={secret}&token=abc&limit=1",
        server.base_url()
    );
    for (name, value) in [
        ("proxy-authorization", format!("Basic {admin}")),
        ("x-api-key", "key-123456".to_string()),
        ("cookie", format!("session={secret}")),
        ("x-note", format!("copied {admin} and {secret}")),
    ] {
        let _ = http
            .get(&url)
            .bearer_auth(&admin)
            .header(name, value)
            .send()
            .await
            .unwrap();
    }
    let record = format!("{:?}", server.recorded());
    for credential in [secret.as_str(), admin.as_str(), "key-123456", "token=abc"] {
        assert!(!record.contains(credential), "{credential} in {record}");
    }
    let opaque = secret.rsplit(':').next().unwrap();
    assert!(!record.contains(opaque), "{record}");
}

/// 414 and 431 answers are problem details, like every rejection.
#[tokio::test]
async fn over_long_targets_and_headers_are_refused_with_problem_details() {
    let server = MockServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let base = format!("{}/public/v1/accounts/api-tokens", server.base_url());
    let long = format!("{base}?{}", "a".repeat(mpt_mock::MAX_URI_BYTES + 1));
    let big = "b".repeat(mpt_mock::MAX_HEADER_BYTES + 1);
    for (request, status) in [
        (http.get(&long), 414),
        (http.get(&base).header("x-big", big), 431),
    ] {
        let answer = request
            .bearer_auth(server.admin_secret())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status);
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["status"], status, "{body}");
        assert!(body["traceId"].is_string(), "{body}");
    }
}
