//! Promises an independent check broke, each tried as a user would against a real server on
//! loopback: every valid name works, a read cut off in its body is retried, a secret pasted
//! where an id belongs is never sent, audit fields are there when asked, and the stream and
//! update read as the README shows them.

use crate::common::*;

/// Names the platform accepts (`mpt_api::rules`) that RQL cannot always quote.
const NAMES: [&str; 6] = [
    r#"It's a "quoted" job"#,
    "only 'single' quotes",
    r#"only "double" quotes"#,
    r#"'"'"'"#,
    "Grüße aus Zürich. ñandú",
    r#"Ünïcödé's "ß" job"#,
];

/// Ids of `tokens`, sorted.
fn ids(tokens: &[mpt::Token]) -> Vec<String> {
    let mut ids: Vec<String> = tokens.iter().map(|t| t.id().to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn every_name_the_rules_accept_can_be_created_found_counted_and_rotated() {
    let (_server, client) = start().await;
    for name in NAMES {
        assert_eq!(mpt::mpt_api::rules::name_problem(name), None, "{name}");
        // A decoy the platform's superset pattern matches too (each ' as any run).
        let decoy = match name.contains('\'') {
            true => name.replace('\'', "x"),
            false => format!("{name} decoy"),
        };
        let decoy = client.create(&new_token(&decoy)).await.unwrap();
        let first = client.create(&new_token(name)).await.unwrap();
        assert_eq!(first.token.name(), Some(name));
        // Names are not unique: a second create works too, and the lookup before it recorded
        // the first.
        let second = client.create(&new_token(name)).await.unwrap();
        let filter = Filter::account(DEFAULT_ACCOUNT).and(Filter::name(name));
        let found = client
            .list()
            .filter(filter.clone())
            .collect()
            .await
            .unwrap();
        let mut want = vec![first.token.id().to_string(), second.token.id().to_string()];
        want.sort();
        assert_eq!(ids(&found), want, "{name}");
        assert!(!ids(&found).contains(&decoy.token.id().to_string()));
        assert_eq!(client.list().filter(filter).count().await.unwrap(), 2);
        // The same name as a pattern (case-insensitive) finds them, and not the decoy.
        let like = client
            .list()
            .filter(Filter::name_like(name.replace('e', "E")))
            .collect()
            .await
            .unwrap();
        assert_eq!(ids(&like), want, "{name}");
        // A rotation looks the name up the same way: one replacement, of the same name.
        let rotation = client.rotate(&first).await.unwrap();
        assert_eq!(rotation.new.token.name(), Some(name));
        let after = client
            .list()
            .filter(Filter::name(name).and(Filter::status(TokenStatus::Active)))
            .count()
            .await
            .unwrap();
        assert_eq!(after, 3, "{name}: two made, one replacement");
    }
}

#[tokio::test]
async fn filter_values_with_rql_and_url_characters_arrive_intact() {
    let (server, client) = start().await;
    // Seeded directly: the platform's rules keep these out of names made through the API, but
    // a filter value may hold them and must reach the server as it is.
    let values = ["a*b", "100% & #1 + x", "x+y", "q?r=s;t", r#"It's "a*b""#];
    let mut seeded = HashMap::new();
    for value in values {
        seeded.insert(value, server.seed_token(SeedToken::named(value)).id);
    }
    server.seed_token(SeedToken::named("aZZb"));
    server.seed_token(SeedToken::named("100% & #1   x"));
    server.seed_token(SeedToken::named(r#"Its "aZZb""#));
    for value in values {
        let found = client
            .list()
            .filter(Filter::name(value))
            .collect()
            .await
            .unwrap();
        assert_eq!(ids(&found), vec![seeded[value].clone()], "{value}");
    }
    // What a NewToken refuses is refused before anything is sent, naming the rule.
    let err = client.create(&new_token("a*b")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
}

/// A token as the platform answers a read.
const TOKEN: &str = r#"{"id":"TKN-1111-2222","name":"cut","status":"Active","account":{"id":"ACC-1111-2222"},"modules":[{"id":"MOD-1"}],"revision":1}"#;

fn retrying_client(server: &ScriptedServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .api_token("s3cr3t-api-key")
        .retry(fast_retries(3))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_read_whose_body_is_cut_off_is_retried_like_a_dropped_connection() {
    let page = format!(
        r#"{{"$meta":{{"pagination":{{"offset":0,"limit":100,"total":1}}}},"data":[{TOKEN}]}}"#
    );
    let json = |body: &str| Scripted::answer(200, "application/json", body.to_string());
    for (what, body) in [("token", TOKEN.to_string()), ("page", page)] {
        // A Content-Length larger than what arrives; a body without length cut mid-JSON.
        for cut in [
            json(&body).cut_after(body.len() / 2),
            json(&body).without_length().cut_after(body.len() / 2),
        ] {
            let server = canned(vec![cut.clone(), json(&body)]).await;
            let client = retrying_client(&server);
            if what == "token" {
                let token = client.get("TKN-1111-2222").await.unwrap();
                assert_eq!(token.name(), Some("cut"));
            } else {
                let tokens = client.list().collect().await.unwrap();
                assert_eq!(ids(&tokens), ["TKN-1111-2222"]);
            }
            assert_eq!(server.request_lines().len(), 2, "{what}: {cut:?}");
            // Every attempt cut: an error naming the 200, after the policy's three attempts.
            let server = canned(vec![cut]).await;
            let err = retrying_client(&server)
                .get("TKN-1111-2222")
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
            assert_eq!(server.request_lines().len(), 3);
        }
    }
}

/// An account's icon (a byte-stream answer) read through the hook layer, whole or not.
async fn icon_of(server: &ScriptedServer) -> reqwest::Result<Vec<u8>> {
    let client = retrying_client(server);
    let accounts = with_hooks(
        &client,
        server.base_url(),
        mpt_api::accounts::Client::new_with_client,
    );
    bytes_of(accounts.get_account_icon().id("ACC-1111-2222").send().await).await
}

#[tokio::test]
async fn a_download_is_sent_once_and_its_bytes_arrive_as_they_came() {
    // Bytes that are no JSON document: a PNG's signature, a NUL, bytes that are not UTF-8.
    let icon: Vec<u8> = b"\x89PNG\r\n\x1a\n\x00{"
        .iter()
        .copied()
        .chain(0..=255)
        .collect();
    let png = || Scripted::answer(200, "image/png", icon.clone());
    // With a Content-Length, and without one (the body ends when the connection closes).
    for (what, whole) in [("length", png()), ("no length", png().without_length())] {
        let server = canned(vec![whole]).await;
        assert_eq!(icon_of(&server).await.unwrap(), icon, "{what}");
        assert_eq!(server.request_lines().len(), 1, "sent again ({what})");
    }
    // Cut short of its Content-Length: read again, whole the second time.
    let cut = png().cut_after(icon.len() / 2);
    let server = canned(vec![cut.clone(), png()]).await;
    assert_eq!(icon_of(&server).await.unwrap(), icon);
    assert_eq!(server.request_lines().len(), 2);
    // Cut every time: the policy's three attempts, and the last one's read fails.
    let server = canned(vec![cut]).await;
    assert!(icon_of(&server).await.is_err());
    assert_eq!(server.request_lines().len(), 3);
}

#[tokio::test]
async fn cut_reads_before_a_change_do_not_fail_it_and_a_cut_change_is_read_back() {
    let (server, client) = start().await;
    let t = server.seed_token(SeedToken::named("a"));
    // The read before the disable answered 200 with cut JSON, once.
    server
        .set_faults(
            Faults::none().with(FaultRule::once(Fault::MalformedJson).only([Operation::Get])),
        )
        .unwrap();
    let outcome = client.ensure_disabled(t.id.as_str()).await.unwrap();
    assert!(outcome.changed(), "{outcome:?}");
    assert_eq!(server.token_status(&t.id).as_deref(), Some("Disabled"));
    // A cut listing page is read again: every token, once.
    server.seed_tokens(250, "many", DEFAULT_ACCOUNT);
    server
        .set_faults(
            Faults::none().with(FaultRule::every(2, Fault::MalformedJson).only([Operation::List])),
        )
        .unwrap();
    let all = client.list().collect().await.unwrap();
    let unique: HashSet<&str> = all.iter().map(|t| t.id()).collect();
    assert_eq!(unique.len(), all.len());
    assert!(all.len() >= 251, "{}", all.len());
    // A change answered 200 whose body is cut: carried out, and never sent again.
    server
        .set_faults(
            Faults::none().with(FaultRule::once(Fault::MalformedJson).only([Operation::Enable])),
        )
        .unwrap();
    let outcome = client.ensure_active(t.id.as_str()).await.unwrap();
    assert!(outcome.changed(), "{outcome:?}");
}

#[tokio::test]
async fn a_secret_pasted_as_an_id_is_never_sent_nor_shown() {
    let server = canned(vec![Scripted::answer(200, "application/json", TOKEN)]).await;
    let client = canned_client(&server, "s3cr3t-api-key");
    let opaque = "Zm9vYmFyc2VjcmV0UVdFUlRZ";
    for pasted in [
        format!("idt:TKN-1111-2222:{opaque}"),
        format!("  idt%3ATKN-1111-2222%3A{opaque}"),
    ] {
        let id = pasted.as_str();
        let errors = [
            client.get(id).await.unwrap_err(),
            client.get_with_secret(id).await.unwrap_err(),
            client.disable(id).await.unwrap_err(),
            client.ensure_active(id).await.unwrap_err(),
            client.delete(id).await.unwrap_err(),
            client
                .update(id, TokenUpdate::new().description("x"))
                .await
                .unwrap_err(),
        ];
        for err in errors {
            assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(opaque), "{shown}");
            assert!(shown.contains("TKN-1111-2222"), "{shown}");
        }
        let report = client.ensure_disabled_many([id, "TKN-1111-2222"], 2).await;
        let refused: Vec<&Error> = report
            .failed()
            .filter(|(failed, _)| *failed == id)
            .map(|(_, e)| e)
            .collect();
        assert!(
            matches!(refused.as_slice(), [Error::InvalidRequest(_)]),
            "{refused:?}"
        );
        assert!(!format!("{}", refused[0]).contains(opaque));
    }
    // Only the valid id of the bulk call reached the server, never the secret.
    for line in server.request_lines() {
        assert!(!line.contains(opaque), "{line}");
    }
}

#[tokio::test]
async fn audit_fields_are_there_when_asked_and_the_stream_reads_as_the_readme_shows() {
    use mpt::prelude::*;
    let (server, client) = start().await;
    let made = client.create(&new_token("audited")).await.unwrap();
    let plain = client.get(made.token.id()).await.unwrap();
    assert_eq!(plain.created_at(), None, "a plain read has no audit");
    let audited = client.get_with_audit(made.token.id()).await.unwrap();
    assert!(audited.created_at().is_some());
    let mut stream = client
        .list()
        .with_audit()
        .filter(Filter::name("audited"))
        .stream();
    // `next()` straight away: the stream is Unpin.
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.created_at().is_some());
    assert!(stream.next().await.is_none());
    // An update by value or by reference.
    let change = TokenUpdate::new().description("by value");
    client.update(made.token.id(), &change).await.unwrap();
    let updated = client.update(made.token.id(), change).await.unwrap();
    assert_eq!(updated.description(), Some("by value"));
    drop(server);
}
