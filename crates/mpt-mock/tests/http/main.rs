//! The mock over raw HTTP, one test binary: every transition and auth (`lifecycle`), pagination,
//! RQL, select and bounds (`queries`), and each fault (`faults`).

mod faults;
mod lifecycle;
mod queries;

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
