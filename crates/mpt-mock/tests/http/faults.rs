//! Each fault the mock injects, and the scripted server beside it.

use super::*;

#[tokio::test]
async fn rate_limits_and_server_errors_are_not_processed() {
    let api = Api::with(
        MockServer::builder().faults(
            Faults::none()
                .with(FaultRule::every(
                    2,
                    Fault::RateLimited {
                        retry_after: Duration::from_millis(1500),
                    },
                ))
                .with(FaultRule::every(1, Fault::Status(503)).only([Operation::Delete])),
        ),
    )
    .await;
    let body =
        json!({"account": {"id": DEFAULT_ACCOUNT}, "name": "n", "modules": [{"id": "MOD-1756"}]});
    let first = api
        .http
        .post(api.url(""))
        .bearer_auth(api.server.admin_secret())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = api
        .http
        .post(api.url(""))
        .bearer_auth(api.server.admin_secret())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        second.headers()["retry-after"],
        "2",
        "1.5 s rounds up to whole seconds"
    );
    assert_eq!(second.json::<Value>().await.unwrap()["status"], 429);
    assert_eq!(api.server.tokens_created(), 1, "a 429 is not processed");
    assert_eq!(api.server.requests(Operation::Create), 2);

    let id = api.server.live_token_names()[0].0.clone();
    let (status, problem) = api.admin(Method::DELETE, &format!("/{id}"), None).await;
    assert_eq!(
        (status, problem["status"].as_i64()),
        (StatusCode::SERVICE_UNAVAILABLE, Some(503))
    );
    assert_eq!(
        api.server.token_status(&id).as_deref(),
        Some("Active"),
        "a 503 is not processed"
    );
}

#[tokio::test]
async fn an_html_error_page_is_text_html() {
    let api = Api::with(
        MockServer::builder()
            .faults(Faults::none().with(FaultRule::every(1, Fault::HtmlPage(502)))),
    )
    .await;
    let resp = api
        .http
        .get(api.url(""))
        .bearer_auth(api.server.admin_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<h1>502 Bad Gateway</h1>")
    );
}

#[tokio::test]
async fn a_dropped_connection_happens_after_the_create_was_processed() {
    let api = Api::with(
        MockServer::builder().faults(
            Faults::none()
                .with(FaultRule::every(1, Fault::DropAfterProcessing).only([Operation::Create])),
        ),
    )
    .await;
    let body = json!({"account": {"id": DEFAULT_ACCOUNT}, "name": "lost answer", "modules": [{"id": "MOD-1756"}]});
    let err = api
        .http
        .post(api.url(""))
        .bearer_auth(api.server.admin_secret())
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    assert_eq!(api.server.tokens_created(), 1, "the server did create it");
    assert_eq!(api.server.live_token_names()[0].1, "lost answer");
    // Other operations are unaffected, on a fresh connection.
    assert_eq!(api.admin(Method::GET, "", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn malformed_json_is_a_200_with_a_cut_off_body() {
    let api = Api::with(MockServer::builder().seed(1).faults(
        Faults::none().with(FaultRule::every(1, Fault::MalformedJson).only([Operation::List])),
    ))
    .await;
    let resp = api
        .http
        .get(api.url(""))
        .bearer_auth(api.server.admin_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&resp.text().await.unwrap()).is_err());
}

#[tokio::test]
async fn unknown_fields_and_enum_values_can_be_switched_on() {
    let api = Api::with(MockServer::builder().seed(1)).await;
    api.server
        .set_faults(Faults {
            unknown_fields: true,
            unknown_enum_values: true,
            ..Faults::none()
        })
        .unwrap();
    let (_, page) = api.admin(Method::GET, "", None).await;
    let token = &page["data"][0];
    assert!(
        token["href"]
            .as_str()
            .unwrap()
            .starts_with("/accounts/api-tokens/TKN-")
    );
    assert_eq!(token["x-mock-extra"]["flag"], true);
    assert_eq!(token["account"]["type"], "Development");
    assert_eq!(token["account"]["status"], "Frozen");
    assert!(page["$meta"]["x-mock-extra"].is_string());
    // And the generated types still read it.
    let decoded: mpt_api::types::ApiTokenListResponse = serde_json::from_value(page).unwrap();
    assert_eq!(
        decoded.data[0]
            .account
            .as_ref()
            .unwrap()
            .type_
            .as_deref()
            .map(String::as_str),
        Some("Development")
    );
}

#[tokio::test]
async fn latency_is_added_before_answering() {
    let api = Api::with(
        MockServer::builder().faults(Faults::none().with_latency(Duration::from_millis(200))),
    )
    .await;
    let started = Instant::now();
    assert_eq!(api.admin(Method::GET, "", None).await.0, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "the answer came before the injected latency"
    );
}

/// The scripted server answers in turn (the last answer again once they run out), with its
/// headers, with or without a length, late, or not at all; and records each request line.
#[tokio::test]
async fn the_scripted_server_answers_as_scripted() {
    use mpt_mock::{Scripted, ScriptedServer};
    let server = ScriptedServer::start(vec![
        Scripted::answer(502, "text/html", "<h1>down</h1>").header("retry-after", "7"),
        Scripted::answer(200, "application/json", r#"{"a":1}"#).without_length(),
        Scripted::dropped(),
        Scripted::answer(200, "application/json", "{}").after(Duration::from_secs(5)),
    ])
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base_url());

    let first = http.get(url("/one?x=1")).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(first.headers()["retry-after"], "7");
    assert_eq!(first.headers()["content-type"], "text/html");
    assert_eq!(first.text().await.unwrap(), "<h1>down</h1>");

    let second = http.post(url("/two")).body("{}").send().await.unwrap();
    assert!(second.headers().get("content-length").is_none());
    assert_eq!(second.text().await.unwrap(), r#"{"a":1}"#);

    let third = http.get(url("/three")).send().await;
    assert!(third.is_err(), "{third:?}");

    let late = http
        .get(url("/four"))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(late.unwrap_err().is_timeout());
    assert_eq!(
        server.request_lines(),
        [
            "GET /one?x=1 HTTP/1.1",
            "POST /two HTTP/1.1",
            "GET /three HTTP/1.1",
            "GET /four HTTP/1.1",
        ]
    );
}

/// The rate limit: a bucket per secret, its burst, the headers on every answer, and a
/// `Retry-After` that is whole seconds and never early.
#[tokio::test]
async fn the_rate_limit_is_a_bucket_per_secret_with_honest_headers() {
    let limit = mpt_mock::RateLimit::parse("5/s", 3).unwrap();
    let api = Api::with(MockServer::builder().rate_limit(limit)).await;
    let get = |secret: String| {
        let (http, url) = (api.http.clone(), api.url(""));
        async move { http.get(url).bearer_auth(secret).send().await.unwrap() }
    };
    let admin = api.server.admin_secret().to_string();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let ok = get(admin.clone()).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let h = ok.headers();
        assert_eq!(h["ratelimit-limit"], "5");
        assert_eq!(h["ratelimit-policy"], "5;w=1;burst=3");
        assert!(h.contains_key("ratelimit-reset"));
        remaining.push(h["ratelimit-remaining"].to_str().unwrap().to_string());
    }
    assert_eq!(remaining, ["2", "1", "0"], "the burst, spent");
    let refused = get(admin.clone()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after >= 1, "whole seconds");
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["status"], 429);
    assert_eq!(api.server.throttled(), 1);
    assert_eq!(
        api.server.requests(Operation::List),
        3,
        "refused ones are not processed"
    );
    // Another secret has a bucket of its own (refused here as unknown, not as throttled).
    let other = get("idt:TKN-0000-0000:other".into()).await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    // After Retry-After, a token is there again.
    tokio::time::sleep(Duration::from_secs(after)).await;
    assert_eq!(get(admin).await.status(), StatusCode::OK);
    assert_eq!(api.server.throttled(), 1);
}
