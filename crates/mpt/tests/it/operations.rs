//! Every operation as the facade sends it and reads the answer: round trips, paging, filters and
//! ids on the wire, odd answers, the generated client underneath.

use crate::common::*;

#[tokio::test]
async fn every_operation_round_trips() {
    let (server, client) = start().await;
    let created = client.create(&new_token("deployer")).await.unwrap();
    let token = &created.token;
    assert_eq!(token.status(), TokenStatus::Active);
    assert_eq!(token.revision(), Some(1));
    assert_eq!(token.account_id(), Some(DEFAULT_ACCOUNT));
    assert_eq!(token.module_ids(), [DEFAULT_MODULE]);
    assert_eq!(created.secret.token_id(), Some(token.id()));
    assert!(
        token.secret().is_none(),
        "the secret lives in CreatedToken::secret only"
    );

    // The new secret authenticates its own client.
    let own = Client::builder()
        .base_url(server.base_url())
        .api_token(created.secret.expose_secret())
        .build()
        .unwrap();
    assert_eq!(own.get(token.id()).await.unwrap().name(), Some("deployer"));

    let fetched = client.get(token.id()).await.unwrap();
    assert!(
        fetched.last_access_at().is_some(),
        "the secret's use was recorded"
    );
    assert!(fetched.is_usable());
    let trimmed = client
        .get_with_select(token.id(), ["-audit"])
        .await
        .unwrap();
    assert!(trimmed.created_at().is_none());

    let updated = client
        .update(
            token.id(),
            &TokenUpdate::new().name("deployer v2").clear_description(),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.name(), updated.description(), updated.revision()),
        (Some("deployer v2"), None, Some(2))
    );

    let disabled = client.disable(token.id()).await.unwrap();
    assert_eq!(disabled.status(), TokenStatus::Disabled);
    assert!(
        matches!(own.get(token.id()).await, Err(Error::Unauthorized(_))),
        "a disabled secret gets 401"
    );
    let enabled = client.enable(&disabled).await.unwrap();
    assert_eq!(enabled.status(), TokenStatus::Active);
    assert_eq!(enabled.revision(), Some(4));

    let listed = client
        .list()
        .filter(Filter::id(token.id()))
        .collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    client.delete(token.id()).await.unwrap();
    // A soft delete: the admin (an Operations account) still reads it, as Deleted.
    let deleted = client.get(token.id()).await.unwrap();
    assert_eq!(deleted.status(), TokenStatus::Deleted);
    assert_eq!(server.token_status(token.id()).as_deref(), Some("Deleted"));
}

#[tokio::test]
async fn the_stream_pages_lazily_to_the_end_and_count_uses_limit_0() {
    let (server, client) = start().await;
    server.seed_tokens(250, "bulk", DEFAULT_ACCOUNT);
    server.seed_tokens(7, "vendor", VENDOR_ACCOUNT);
    let before = server.requests(Operation::List);
    let mut stream = Box::pin(
        client
            .list()
            .filter(Filter::account(DEFAULT_ACCOUNT))
            .page_size(100)
            .stream(),
    );
    let first = stream.try_next().await.unwrap().unwrap();
    assert_eq!(first.name(), Some("bulk-1"));
    assert_eq!(
        server.requests(Operation::List) - before,
        1,
        "only the first page was fetched"
    );
    let mut names: HashSet<String> = HashSet::from([first.name().unwrap().to_string()]);
    while let Some(t) = stream.try_next().await.unwrap() {
        names.insert(t.name().unwrap().to_string());
    }
    assert_eq!(names.len(), 250);
    assert_eq!(server.requests(Operation::List) - before, 3);

    assert_eq!(client.list().count().await.unwrap(), 257);
    assert_eq!(
        client
            .list()
            .filter(Filter::account(VENDOR_ACCOUNT))
            .count()
            .await
            .unwrap(),
        7
    );
    let ordered = client
        .list()
        .filter(Filter::account(VENDOR_ACCOUNT))
        .order_by_desc(SortField::Name)
        .page_size(3)
        .collect()
        .await
        .unwrap();
    let names: Vec<_> = ordered.iter().map(|t| t.name().unwrap()).collect();
    assert_eq!(
        names,
        [
            "vendor-7", "vendor-6", "vendor-5", "vendor-4", "vendor-3", "vendor-2", "vendor-1"
        ]
    );
}

#[tokio::test]
async fn unknown_fields_and_statuses_decode() {
    let (server, client) = start().await;
    let odd = server
        .seed_token(SeedToken::named("odd").with_status("Suspended"))
        .id;
    server
        .set_faults(Faults {
            unknown_fields: true,
            unknown_enum_values: true,
            ..Faults::none()
        })
        .unwrap();
    let token = client.get(&odd).await.unwrap();
    assert_eq!(token.status(), TokenStatus::Unknown("Suspended".into()));
    assert!(!token.is_usable() && token.available_actions().is_empty());
    // Fields the spec does not declare are kept, for callers to read.
    assert!(token.extra().contains_key("href"), "{:?}", token.extra());
    assert_eq!(token.account_type(), Some("Development"));
    assert_eq!(
        token
            .raw()
            .account
            .as_ref()
            .unwrap()
            .type_
            .as_deref()
            .map(String::as_str),
        Some("Development")
    );
    // An unknown state is not guarded locally; the platform's refusal is reported in its terms.
    let err = client.enable(&token).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidTransition {
                from: TokenStatus::Unknown(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(client.list().collect().await.unwrap().len(), 1);
}

#[tokio::test]
async fn from_env_reads_the_token_and_accepts_a_prefixed_base_url() {
    let (server, _) = start().await;
    // SAFETY: no other test in this binary reads or writes these variables.
    unsafe {
        std::env::set_var("MPT_API_TOKEN", server.admin_secret());
        std::env::set_var(
            "MPT_API_BASE_URL",
            format!("{}/public/v1/", server.base_url()),
        );
    }
    let client = Client::from_env().unwrap();
    assert_eq!(client.base_url(), server.base_url());
    assert_eq!(client.list().count().await.unwrap(), 0);
    unsafe {
        std::env::remove_var("MPT_API_TOKEN");
    }
    assert!(matches!(Client::from_env(), Err(Error::Config(_))));
}

/// Ids that would not stay in their path segment (`..` resolves to the parent path) are refused
/// before anything is sent; other odd characters are percent-encoded.
#[tokio::test]
async fn ids_that_would_leave_their_path_segment_are_refused_before_sending() {
    let server = canned(vec![Scripted::answer(200, "application/json", TOKEN_JSON)]).await;
    let client = canned_client(&server, "s3cr3t-api-key");
    for id in [
        "", ".", "..", "a/b", "../x", "a?b", "a#b", "a\nb", "a\\b", "a\u{7f}",
    ] {
        let results = [
            client.get(id).await.map(|_| ()),
            client.delete(id).await,
            client.enable(id).await.map(|_| ()),
            client.disable(id).await.map(|_| ()),
            client
                .update(id, &TokenUpdate::new().name("x"))
                .await
                .map(|_| ()),
            client.get_with_select(id, ["-audit"]).await.map(|_| ()),
        ];
        for result in results {
            match result {
                Err(Error::InvalidRequest(message)) => {
                    assert!(message.contains("invalid token id"), "{id:?}: {message}")
                }
                other => panic!("{id:?}: {other:?}"),
            }
        }
    }
    assert!(server.request_lines().is_empty(), "nothing was sent");
    client.get("TKN 1%2e").await.unwrap();
    assert_eq!(
        server.request_lines().as_slice(),
        ["GET /public/v1/accounts/api-tokens/TKN%201%252e?select=-token HTTP/1.1"]
    );
}

/// The RQL filter goes raw into the query string of the generated list request (appended by
/// the hook layer), and one RQL cannot express is refused before anything is sent.
#[tokio::test]
async fn filters_reach_the_query_string_and_invalid_ones_are_never_sent() {
    let page = r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":0}},"data":[]}"#;
    let server = canned(vec![Scripted::answer(200, "application/json", page)]).await;
    let client = canned_client(&server, "s3cr3t-api-key");
    // A value RQL cannot quote outside a name, or a name matched on the client under not().
    let bad = Filter::account("x'\"),or(ne(name,\"");
    let negated = Filter::name("x'\"").not();
    assert!(matches!(
        client.list().filter(negated).collect().await,
        Err(Error::InvalidRequest(_))
    ));
    for result in [
        client
            .list()
            .filter(bad.clone())
            .collect()
            .await
            .map(|_| ()),
        client.list().filter(bad.clone()).count().await.map(|_| ()),
        client
            .list()
            .filter(Filter::any([]))
            .count()
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(Error::InvalidRequest(_))),
            "{result:?}"
        );
    }
    assert!(server.request_lines().is_empty(), "nothing was sent");
    client
        .list()
        .filter(Filter::status(TokenStatus::Active).and(Filter::account("ACC-1")))
        .order_by_desc(SortField::Name)
        .collect()
        .await
        .unwrap();
    client.list().filter(Filter::all([])).count().await.unwrap();
    assert_eq!(
        server.request_lines().as_slice(),
        [
            // (The URL parser percent-encodes `'` in http(s) query strings; the server decodes it.)
            "GET /public/v1/accounts/api-tokens?limit=100&offset=0&order=-name&select=-token&and(eq(status,%27Active%27),eq(account.id,%27ACC-1%27)) HTTP/1.1",
            "GET /public/v1/accounts/api-tokens?limit=0&offset=0&select=-token HTTP/1.1",
        ]
    );
}

/// The generated client underneath is the facade's own: same auth, same hooks.
#[tokio::test]
async fn the_generated_client_underneath_carries_the_hook_layer() {
    let (server, client) = start().await;
    let seeded = server.seed_token(SeedToken::named("raw"));
    let token = client
        .api()
        .get_api_token()
        .id(seeded.id.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(token.name.as_deref(), Some("raw"));
    // Without hooks or an Authorization header, the raw client is refused.
    let bare = mpt_api::Client::new(server.base_url(), mpt_api::ClientState::default());
    let err = bare
        .get_api_token()
        .id(seeded.id.as_str())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
}

/// Every operation and bulk call takes the same token argument, owned or borrowed.
#[tokio::test]
async fn every_call_takes_ids_and_tokens_owned_or_borrowed() {
    let (server, client) = start().await;
    let created = client.create(&new_token("forms")).await.unwrap();
    let token = client.get(&created).await.unwrap();
    client.get(&token).await.unwrap();
    client.get(token.clone()).await.unwrap();
    client.get(token.id().to_string()).await.unwrap();
    client.disable(&created).await.unwrap();
    let token = client.get(token.id()).await.unwrap();
    let report = client.ensure_active_many([&token], 2).await;
    assert!(report.is_complete());
    let report = client.ensure_disabled_many(vec![token.clone()], 2).await;
    assert!(report.is_complete());
    let report = client.delete_many(&[token.id()], 2).await;
    assert_eq!(
        report.into_result().unwrap(),
        [(token.id().to_string(), true)]
    );
    let _ = server;
}

/// Reads leave the secret out unless asked; an empty update sends nothing.
#[tokio::test]
async fn secrets_travel_only_when_asked_and_empty_updates_send_nothing() {
    let (server, client) = start().await;
    let created = client.create(&new_token("quiet")).await.unwrap();
    let secret = created.secret.expose_secret();
    assert!(client.get(&created).await.unwrap().secret().is_none());
    assert!(
        client
            .list()
            .collect()
            .await
            .unwrap()
            .iter()
            .all(|t| t.secret().is_none()),
        "list leaves secrets out"
    );
    let with = client.get_with_secret(&created).await.unwrap();
    assert_eq!(with.secret().unwrap().expose_secret(), secret);
    let listed = client.list().with_secrets().collect().await.unwrap();
    assert_eq!(listed[0].secret().unwrap().expose_secret(), secret);

    let before = server.requests(Operation::Update);
    let err = client
        .update(&created, &TokenUpdate::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    assert_eq!(
        server.requests(Operation::Update),
        before,
        "nothing was sent"
    );
    let err = client
        .update(&created, &TokenUpdate::new().name("bad/name"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("name: '/' is not allowed"),
        "{err}"
    );
}

/// What the facade sends, as the mock recorded it: the secret never in it, the user agent set,
/// and a fault aimed at one token of a bulk call hits that token only.
#[tokio::test]
async fn the_mock_records_what_the_facade_sends() {
    let (server, client) = start().await;
    let tokens: Vec<_> = (0..3)
        .map(|i| server.seed_token(SeedToken::named(format!("r{i}"))))
        .collect();
    server
        .set_faults(
            Faults::none().with(
                FaultRule::once(Fault::DropAfterProcessing)
                    .only([Operation::Disable])
                    .for_token(tokens[1].id.clone()),
            ),
        )
        .unwrap();
    server.clear_recorded();
    let report = client
        .ensure_disabled_many(tokens.iter().map(|t| t.id.as_str()), 1)
        .await;
    let outcomes = report.into_result().unwrap();
    // The one whose answer was lost is Unconfirmed; the others Changed.
    assert!(outcomes[0].1.changed() && outcomes[2].1.changed());
    assert!(matches!(outcomes[1].1, Outcome::Unconfirmed(_)));
    let disables: Vec<_> = server
        .recorded()
        .into_iter()
        .filter(|r| r.path.ends_with("/disable"))
        .collect();
    assert_eq!(disables.len(), 4, "three disables, one sent twice");
    assert_eq!(
        disables
            .iter()
            .filter(|r| r.path.contains(&tokens[1].id))
            .count(),
        2
    );
    for r in &disables {
        assert_eq!(r.method, "POST");
        assert!(r.header("user-agent").unwrap().starts_with("mpt/"));
        assert_eq!(r.header("authorization"), Some("[REDACTED]"));
    }
}
