//! Secrets never show (Debug, Display, errors, traces), whatever the server echoes and whichever
//! client made the text, and travel only where asked.

use crate::common::*;

/// A `tracing` writer that keeps what the test's own thread writes (the test runs on a
/// current-thread runtime, with the mock on it too) and drops what other tests write.
#[derive(Clone)]
struct Captured {
    kept: Arc<Mutex<Vec<u8>>>,
    keep: bool,
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.keep {
            self.kept.lock().unwrap().extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_show_in_debug_display_errors_or_traces() {
    let kept: Arc<Mutex<Vec<u8>>> = Arc::default();
    let sink = kept.clone();
    let test_thread = std::thread::current().id();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || Captured {
            kept: sink.clone(),
            keep: std::thread::current().id() == test_thread,
        })
        .with_ansi(false)
        .finish();
    // The global default, not a scoped one: the other tests of this binary run on other threads
    // at the same time, and a scoped subscriber loses callsites they hit first.
    tracing::subscriber::set_global_default(subscriber)
        .expect("no other test of this binary installs a subscriber");

    let server = MockServer::builder().start().await.unwrap();
    let client = client_for(&server, fast_retries(2));
    let created = client.create(&new_token("secretive")).await.unwrap();
    let secret = created.secret.expose_secret().to_string();
    let opaque = secret.rsplit(':').next().unwrap().to_string();
    let admin = server.admin_secret().to_string();

    // Errors that might echo a body with a secret in it.
    server
        .set_faults(
            Faults::none()
                .with(FaultRule::every(1, Fault::MalformedJson))
                .with_latency(Duration::ZERO),
        )
        .unwrap();
    let decode_err = client.create(&new_token("cut")).await.unwrap_err();
    server
        .set_faults(Faults::none().with(FaultRule::every(1, Fault::Status(503))))
        .unwrap();
    let server_err = client.get(created.token.id()).await.unwrap_err();
    server.set_faults(Faults::none()).unwrap();
    client.get(created.token.id()).await.unwrap();
    let rotated = client
        .rotate_now_with_outage(created.token.id())
        .await
        .unwrap();
    // The API secret pasted as an id: refused unsent, so no span names it either.
    let pasted_err = client.get(admin.as_str()).await.unwrap_err();

    let texts = [
        format!("{created:?}"),
        format!("{client:?}"),
        format!("{server:?}"),
        format!("{rotated:?}"),
        serde_json::to_string(&created.token).unwrap(),
        format!("{decode_err} {decode_err:?}"),
        format!("{server_err} {server_err:?}"),
        format!("{pasted_err} {pasted_err:?}"),
        String::from_utf8(kept.lock().unwrap().clone()).unwrap(),
    ];
    let traces = &texts[8];
    assert!(
        traces.contains("mpt.request"),
        "spans were captured: {traces}"
    );
    // The span names the token (its id is copied for the span only when INFO is recorded).
    let id = created.token.id();
    assert!(
        traces
            .lines()
            .any(|l| l.contains("get_api_token") && l.contains(&format!("token_id=\"{id}\""))),
        "the read's span names its token {id}: {traces}"
    );
    for text in &texts {
        assert!(!text.contains(&opaque), "token secret leaked: {text}");
        assert!(!text.contains(&admin), "API secret leaked: {text}");
        assert!(
            !text.contains(rotated.new.secret.expose_secret()),
            "new secret leaked: {text}"
        );
    }
}

/// An id holding a secret the client knows, whatever its shape (its API secret, a token secret
/// it handled, one it was told to withhold), is refused before anything is sent and shown
/// redacted: it used to travel in the URL (only `idt:`-shaped ids were caught).
#[tokio::test]
async fn an_id_holding_a_known_secret_is_never_sent() {
    let (server, client) = start().await;
    let created = client.create(&new_token("known")).await.unwrap();
    let opaque = created
        .secret
        .expose_secret()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let admin = server.admin_secret().to_string();
    let other = "Another-Known-Secret";
    client.withhold(other);
    server.clear_recorded();
    for id in [
        admin.clone(),
        opaque.clone(),
        other.into(),
        format!("x{admin}y"),
        // Percent-encoded, and JSON-escaped (refused for its backslashes too: that refusal
        // used to redact by shape only, and show it).
        admin.bytes().map(|b| format!("%{b:02x}")).collect(),
        admin
            .chars()
            .map(|c| format!("\\u{:04X}", c as u32))
            .collect(),
    ] {
        let refusals = [
            client.get(id.as_str()).await.unwrap_err(),
            client.disable(id.as_str()).await.unwrap_err(),
            client.ensure_active(id.as_str()).await.unwrap_err(),
            client.delete(id.as_str()).await.unwrap_err(),
        ];
        for e in refusals {
            assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
            let shown = format!("{e} {e:?}");
            assert!(shown.contains("[REDACTED]"), "{shown}");
            for secret in [admin.as_str(), opaque.as_str(), other, id.as_str()] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }
    let report = client
        .ensure_disabled_many([admin.as_str(), created.token.id(), other], 4)
        .await;
    assert_eq!(report.failed().count(), 2);
    assert!(report.results[1].1.is_ok());
    let sent = server.recorded();
    assert!(!sent.is_empty(), "the real id was worked through");
    for r in sent {
        let url = format!("{}?{}", r.path, r.query.unwrap_or_default());
        for secret in [admin.as_str(), opaque.as_str(), other] {
            assert!(!url.contains(secret), "{secret} sent: {url}");
        }
    }
}

/// Answers that echo secrets (in every problem field, JSON-escaped, percent-encoded, in HTML, the
/// client's own API secret whatever its shape): no error's Display or Debug shows any of them.
#[tokio::test]
async fn no_error_shows_a_secret_the_server_echoed() {
    let api = "plain_API-key.with/odd+chars";
    let created = "idt:TKN-1111-2222:Ab!$%cd~ef";
    let opaque = "Ab!$%cd~ef";
    let json_escaped = r"idt\u003aTKN-1111-2222\u003aAb!$%cd~ef";
    let percent = "idt%3ATKN-1111-2222%3AAb%21%24%25cd~ef";
    let api_percent = "plain_API-key.with%2Fodd%2Bchars";
    let problem = |status: u16| {
        serde_json::json!({
            "type": format!("https://x/{api}"), "title": format!("bad {created}"),
            "status": status, "detail": format!("{json_escaped} and {api}"),
            "instance": format!("/x?token={percent}"), "traceId": format!("00-{opaque}-00"),
            "errors": {"token": [created, api], api: ["x"]},
        })
        .to_string()
    };
    let list_problem = serde_json::json!({
        "status": 400, "errors": [{"message": format!("secret {created}"), "properties": [api]}]
    })
    .to_string();
    let create_answer =
        format!(r#"{{"id":"TKN-1111-2222","status":"Active","token":"{created}"}}"#);
    let replies = vec![
        // The create records the ids that already have this account and name: none.
        Scripted::answer(
            200,
            "application/json",
            r#"{"$meta":{"pagination":{"offset":0,"limit":100,"total":0}},"data":[]}"#,
        ),
        Scripted::answer(201, "application/json", create_answer),
        Scripted::answer(400, "application/problem+json", problem(400)),
        Scripted::answer(400, "application/problem+json", list_problem),
        Scripted::answer(401, "application/problem+json", problem(401)),
        Scripted::answer(404, "application/problem+json", problem(404)),
        Scripted::answer(404, "text/html", format!("<p>{percent} {api_percent}</p>")),
        Scripted::answer(429, "application/problem+json", problem(429)),
        Scripted::answer(409, "application/problem+json", problem(409)),
        Scripted::answer(403, "application/problem+json", problem(403)),
        Scripted::answer(500, "application/problem+json", problem(500)),
        Scripted::answer(
            502,
            "text/html",
            format!("<html>{percent} {created} {api}</html>"),
        ),
        Scripted::answer(
            200,
            "application/json",
            format!(r#"{{"id": 5, "token": "{json_escaped}", "x": "{api}""#),
        ),
        Scripted::answer(
            200,
            "application/json",
            format!(r#"{{"id": ["{created}", "{api}"]}}"#),
        ),
        Scripted::answer(204, "application/json", format!("{created} {api}")),
    ];
    let count = replies.len() - 1;
    let server = canned(replies).await;
    let client = canned_client(&server, api);
    let made = client
        .create(&NewToken::new("ACC-1", "n").module("MOD-1"))
        .await
        .unwrap();
    assert_eq!(made.secret.expose_secret(), created);
    let mut texts = Vec::new();
    for _ in 0..count {
        let err = client.get("TKN-1111-2222").await.unwrap_err();
        texts.push(format!("{err}\n{err:?}"));
    }
    for text in &texts {
        for secret in [
            api,
            api_percent,
            opaque,
            "cd~ef",
            json_escaped,
            percent,
            "%3AAb",
        ] {
            assert!(!text.contains(secret), "{secret:?} leaked:\n{text}");
        }
    }
    // Each answer made a distinct kind of error.
    let kinds: HashSet<&str> = texts
        .iter()
        .map(|t| {
            t.lines()
                .last()
                .unwrap()
                .split(['(', ' ', '{'])
                .next()
                .unwrap()
        })
        .collect();
    assert!(kinds.len() >= 8, "{kinds:?}");
}

/// A password in the base URL never shows in Debug output or configuration errors.
#[tokio::test]
async fn a_base_url_password_never_shows() {
    let builder = Client::builder()
        .base_url("http://user:PASSWORD@127.0.0.1:9/")
        .api_token("k");
    assert!(!format!("{builder:?}").contains("PASSWORD"), "{builder:?}");
    let client = builder.build().unwrap();
    assert!(!format!("{client:?}").contains("PASSWORD"), "{client:?}");
    for url in ["ftp://user:PASSWORD@host/", "http://user:PASSWORD@[::1/"] {
        let err = Client::builder()
            .base_url(url)
            .api_token("k")
            .build()
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, Error::Config(_)), "{text}");
        assert!(!text.contains("PASSWORD"), "{text}");
    }
}

/// The generated client with the layer installed (`client.api()`): its errors' Display and
/// Debug never show the token's secret (a 200 with a malformed field) or the API secret (a
/// 400 that echoes the Authorization header, in its body and a header).
#[tokio::test]
async fn raw_client_errors_never_show_a_secret() {
    let api = "plain-API-secret_42";
    let secret = "idt:TKN-1111-2222:Zx9SECRETbody";
    let malformed = format!(r#"{{"id":"TKN-1111-2222","token":"{secret}","revision":"two"}}"#);
    let server = answering(200, &[], malformed).await;
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
    let server = answering(400, &[("x-echo", "Bearer plain-API-secret_42")], echo).await;
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
    let server = answering(200, &[], good).await;
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
    let server = answering(200, &[], token.to_string()).await;
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
    let server = answering(200, &[], page).await;
    let client = canned_client(&server, "api");
    let listed = client.list().collect().await.unwrap();
    assert!(listed[0].secret().is_none());
    let listed = client.list().with_secrets().collect().await.unwrap();
    assert!(listed[0].secret().is_some());
}
