//! The mock over raw HTTP: every transition, auth, pagination, RQL, select and each fault.

use std::time::{Duration, Instant};

use mpt_mock::{
    BASE_PATH, DEFAULT_ACCOUNT, Fault, FaultRule, Faults, MockServer, NoopTransitions, Operation,
    SeedToken, VENDOR_ACCOUNT,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Api {
    server: MockServer,
    http: reqwest::Client,
}

impl Api {
    async fn start() -> Api {
        Api::with(MockServer::builder()).await
    }

    async fn with(builder: mpt_mock::MockServerBuilder) -> Api {
        Api {
            server: builder.start().await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{BASE_PATH}{path}", self.server.base_url())
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        secret: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(secret);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let secret = self.server.admin_secret().to_string();
        self.call(method, path, &secret, body).await
    }

    async fn create(&self, name: &str) -> Value {
        let (status, body) = self
            .admin(reqwest::Method::POST, "", Some(json!({
                "account": {"id": DEFAULT_ACCOUNT}, "name": name, "description": "made by a test",
                "modules": [{"id": "MOD-1756"}]
            })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

use reqwest::Method;

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
async fn pagination_runs_to_the_end_and_limit_is_capped() {
    let api = Api::with(MockServer::builder().seed(25)).await;
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let (status, page) = api
            .admin(Method::GET, &format!("?limit=10&offset={offset}"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let data = page["data"].as_array().unwrap();
        assert_eq!(
            page["$meta"]["pagination"],
            json!({"offset": offset, "limit": 10, "total": 25})
        );
        seen.extend(data.iter().map(|t| t["name"].as_str().unwrap().to_string()));
        offset += 10;
        if offset >= 25 {
            break;
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0], "token-1");
    assert_eq!(seen[24], "token-25");

    let (_, count) = api.admin(Method::GET, "?limit=0", None).await;
    assert_eq!(count["data"], json!([]));
    assert_eq!(count["$meta"]["pagination"]["total"], 25);
    let (_, big) = api.admin(Method::GET, "?limit=1000", None).await;
    assert_eq!(big["$meta"]["pagination"]["limit"], 100);
    let (_, default) = api.admin(Method::GET, "", None).await;
    assert_eq!(default["data"].as_array().unwrap().len(), 10);
    let (status, _) = api.admin(Method::GET, "?limit=-1", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn names(api: &Api, query: &str) -> Vec<String> {
    let (status, page) = api.admin(Method::GET, &format!("?{query}"), None).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn rql_filters_order_and_select() {
    let api = Api::start().await;
    let old = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let recent = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc();
    api.server
        .seed_token(SeedToken::named("Alpha sync").last_used(old));
    api.server.seed_token(
        SeedToken::named("beta")
            .with_status("Disabled")
            .last_used(recent),
    );
    let gamma = api
        .server
        .seed_token(SeedToken::named("gamma").in_account(VENDOR_ACCOUNT))
        .id;
    api.server
        .seed_token(SeedToken::named("delta sync").with_description("nightly"));

    assert_eq!(
        names(&api, "eq(status,Active)").await,
        ["Alpha sync", "gamma", "delta sync"]
    );
    assert_eq!(names(&api, "eq(status,'Disabled')").await, ["beta"]);
    assert_eq!(
        names(&api, &format!("eq(account.id,{VENDOR_ACCOUNT})")).await,
        ["gamma"]
    );
    assert_eq!(names(&api, &format!("eq(id,{gamma})")).await, ["gamma"]);
    assert_eq!(
        names(&api, "and(eq(status,Active),ne(account.id,ACC-0000-0002))").await,
        ["Alpha sync", "delta sync"]
    );
    assert_eq!(
        names(&api, "or(eq(name,beta),eq(name,gamma))").await,
        ["beta", "gamma"]
    );
    assert_eq!(names(&api, "not(eq(status,Active))").await, ["beta"]);
    assert_eq!(
        names(&api, "in(name,(beta,gamma))").await,
        ["beta", "gamma"]
    );
    assert_eq!(
        names(&api, "out(name,(beta,gamma))").await,
        ["Alpha sync", "delta sync"]
    );
    assert_eq!(
        names(&api, "like(name,*sync)").await,
        ["Alpha sync", "delta sync"]
    );
    assert_eq!(names(&api, "like(name,alpha*)").await, Vec::<String>::new());
    assert_eq!(names(&api, "ilike(name,alpha*)").await, ["Alpha sync"]);
    assert_eq!(names(&api, "eq(description,nightly)").await, ["delta sync"]);
    assert_eq!(
        names(&api, "eq(lastAccessAt,null())").await,
        ["gamma", "delta sync"]
    );
    assert_eq!(
        names(&api, "lt(lastAccessAt,2026-06-01T00:00:00Z)").await,
        ["Alpha sync"]
    );
    assert_eq!(
        names(&api, "and(eq(status,Active),or(lt(lastAccessAt,2026-06-01T00:00:00Z),eq(lastAccessAt,null())))").await,
        ["Alpha sync", "gamma", "delta sync"]
    );
    assert_eq!(
        names(&api, "eq(status,Active)&like(name,*sync)").await,
        ["Alpha sync", "delta sync"]
    );
    // Percent-encoded RQL, as a client library may send it.
    assert_eq!(
        names(&api, "eq(name%2C%27Alpha%20sync%27)").await,
        ["Alpha sync"]
    );

    assert_eq!(
        names(&api, "order=-name").await,
        ["gamma", "delta sync", "beta", "Alpha sync"]
    );
    assert_eq!(
        names(&api, "order=name&limit=2&offset=1").await,
        ["beta", "delta sync"]
    );
    assert_eq!(
        names(&api, "order=-audit.created.at").await,
        ["delta sync", "gamma", "beta", "Alpha sync"]
    );

    let (_, page) = api
        .admin(Method::GET, "?select=-audit,-account,+name&limit=1", None)
        .await;
    assert_eq!(page["$meta"]["omitted"], json!(["audit", "account"]));
    assert!(page["data"][0].get("audit").is_none() && page["data"][0].get("account").is_none());
    assert!(page["data"][0].get("name").is_some());
    let (_, one) = api
        .admin(Method::GET, &format!("/{gamma}?select=-modules"), None)
        .await;
    assert_eq!(one["$meta"]["omitted"], json!(["modules"]));
    assert!(one.get("modules").is_none());

    for bad in [
        "eq(status,Active",
        "eq(colour,red)",
        "frob(a,b)",
        "order=colour",
        "select=-colour",
        "colour=red",
    ] {
        let (status, problem) = api.admin(Method::GET, &format!("?{bad}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(problem["errors"].is_array(), "{bad}: {problem}");
    }
    let (status, _) = api
        .admin(Method::GET, &format!("/{gamma}?select=-colour"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

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

/// A filter nested far deeper than the limit is a 400 problem, and the server keeps serving
/// (before the bound, 300 levels overflowed the stack and aborted the test binary).
#[tokio::test]
async fn deeply_nested_rql_is_a_400_problem_not_a_crash() {
    let api = Api::start().await;
    for depth in [mpt_mock::MAX_RQL_DEPTH + 1, 300, 5_000] {
        let rql = format!("{}eq(name,x){}", "not(".repeat(depth), ")".repeat(depth));
        let (status, body) = api
            .admin(reqwest::Method::GET, &format!("?{rql}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "depth {depth}: {body}");
        assert!(
            body["errors"].to_string().contains("nested more than"),
            "{body}"
        );
        let groups = format!("in(name,{}x{})", "(".repeat(depth), ")".repeat(depth));
        let (status, _) = api
            .admin(reqwest::Method::GET, &format!("?{groups}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "groups, depth {depth}");
    }
    let ok = format!(
        "{}eq(name,x){}",
        "not(".repeat(mpt_mock::MAX_RQL_DEPTH - 1),
        ")".repeat(mpt_mock::MAX_RQL_DEPTH - 1)
    );
    let (status, body) = api
        .admin(reqwest::Method::GET, &format!("?{ok}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Random and deeply nested expressions (a small, seeded fuzz of the RQL parser): every answer
/// is 200 or a 400 problem, and the server answers the next request.
#[tokio::test]
async fn random_rql_gets_200_or_a_400_problem() {
    let api = Api::start().await;
    api.server.seed_token(SeedToken::named("fuzz"));
    let alphabet: Vec<&str> = vec![
        "and(",
        "or(",
        "not(",
        "eq(",
        "ne(",
        "in(",
        "like(",
        "ilike(",
        "lt(",
        "null()",
        "(",
        ")",
        ")",
        ",",
        ",",
        "name",
        "status",
        "id",
        "lastAccessAt",
        "'a'",
        "\"b\"",
        "'",
        "\"",
        "*",
        "x",
        "%28",
        "%29",
        "%",
        "Active",
        "2026-01-01T00:00:00Z",
        "frob(",
        "é",
    ];
    let mut rng = fastrand::Rng::with_seed(20261125);
    for round in 0..400 {
        let len = if round % 50 == 0 {
            2_000
        } else {
            rng.usize(1..40)
        };
        let rql: String = (0..len)
            .map(|_| alphabet[rng.usize(..alphabet.len())])
            .collect();
        let resp = api
            .http
            .get(format!("{}?{}", api.url(""), rql))
            .bearer_auth(api.server.admin_secret())
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {rql:?}: {e}"));
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_else(|e| panic!("{rql:?}: {e}"));
        match status {
            StatusCode::OK => assert!(body["data"].is_array(), "{rql:?}: {body}"),
            StatusCode::BAD_REQUEST => assert_eq!(body["status"], 400, "{rql:?}: {body}"),
            other => panic!("{rql:?}: {other} {body}"),
        }
    }
}

/// A body over the limit is refused with problem details, like every other error.
#[tokio::test]
async fn an_oversized_body_gets_a_413_problem() {
    let api = Api::start().await;
    let big = "x".repeat(10 * 1024 * 1024);
    let resp = api
        .http
        .post(api.url(""))
        .bearer_auth(api.server.admin_secret())
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], 413, "{body}");
    assert_eq!(body["title"], "Content Too Large");
    assert!(body["traceId"].is_string());
    let (status, _) = api.admin(reqwest::Method::GET, "", None).await;
    assert_eq!(status, StatusCode::OK, "the server still serves");
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
