//! Pagination, RQL filters, order and select, and the bounds that keep hostile queries and bodies
//! from hurting the server.

use super::*;

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
