//! The client: configuration and the one path every request takes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::Retryable;
use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::error::{Error, snippet};
use crate::retry::RetryPolicy;

/// The platform's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.platform.softwareone.com";
/// The resource's path.
pub(crate) const TOKENS_PATH: &str = "/public/v1/accounts/api-tokens";

/// Configures a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_token: Option<SecretString>,
    connect_timeout: Duration,
    timeout: Duration,
    user_agent: String,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.into(),
            api_token: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            user_agent: concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION")).into(),
            http: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// `https://host/public/v1/` → `https://host`: the official client accepts base URLs with or
/// without the API prefix, and so do we.
pub(crate) fn normalize_base_url(url: &str) -> String {
    let mut url = url.trim().trim_end_matches('/');
    for suffix in ["/public/v1", "/public"] {
        if let Some(stripped) = url.strip_suffix(suffix) {
            url = stripped.trim_end_matches('/');
            break;
        }
    }
    url.to_string()
}

impl ClientBuilder {
    /// Base URL (default [`DEFAULT_BASE_URL`]); a trailing `/public` or `/public/v1` is accepted.
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        self.base_url = normalize_base_url(url.as_ref());
        self
    }

    /// The API secret sent as `Authorization: Bearer <secret>` (marked sensitive).
    pub fn api_token(mut self, secret: impl Into<String>) -> Self {
        self.api_token = Some(SecretString::from(secret.into()));
        self
    }

    /// Reads `MPT_API_TOKEN` (required) and `MPT_API_BASE_URL` (optional).
    pub fn from_env(self) -> Result<Self, Error> {
        let token = std::env::var("MPT_API_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Error::Config("MPT_API_TOKEN is not set".into()))?;
        let builder = self.api_token(token);
        Ok(match std::env::var("MPT_API_BASE_URL") {
            Ok(url) if !url.trim().is_empty() => builder.base_url(url),
            _ => builder,
        })
    }

    /// Time allowed to open a connection (default 10 s; ignored with [`Self::http_client`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for each attempt of a request, answer included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `User-Agent` (default `mpt/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Use this `reqwest::Client` (its pool, proxy and TLS settings) instead of building one.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The retry policy (default: 3 attempts, see [`RetryPolicy`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let secret = self
            .api_token
            .ok_or_else(|| Error::Config("no API token: call api_token() or from_env()".into()))?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", secret.expose_secret()))
            .map_err(|_| {
                Error::Config("the API token holds characters a header cannot carry".into())
            })?;
        auth.set_sensitive(true);
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::Config(format!("invalid user agent {:?}", self.user_agent)))?;
        let base = reqwest::Url::parse(&self.base_url)
            .map_err(|e| Error::Config(format!("invalid base URL {:?}: {e}", self.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "the base URL {:?} is not http(s)",
                self.base_url
            )));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url: self.base_url,
                auth,
                user_agent,
                timeout: self.timeout,
                retry: self.retry,
            }),
        })
    }
}

/// A client for the API tokens resource. Cheap to clone (one shared connection pool); `Send`
/// and `Sync`. `Debug` never shows the API secret.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    auth: HeaderValue,
    user_agent: HeaderValue,
    timeout: Duration,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_token", &"[REDACTED]")
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// One request, before it is sent.
pub(crate) struct Call<'a> {
    /// operationId, for spans and logs.
    pub op: &'static str,
    pub method: Method,
    /// Below the resource path, e.g. `/TKN-1/enable`.
    pub path: String,
    /// Already encoded query string, without `?`.
    pub query: String,
    pub body: Option<Bytes>,
    pub token_id: Option<&'a str>,
    pub idempotent: bool,
}

impl Client {
    /// A builder with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `MPT_API_TOKEN` and `MPT_API_BASE_URL`.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::default().from_env()?.build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Sends `call` under the retry policy and returns the success answer's status and body.
    pub(crate) async fn execute(&self, call: Call<'_>) -> Result<(StatusCode, Bytes), Error> {
        let span = tracing::info_span!(
            "mpt.request",
            op = call.op,
            token_id = call.token_id.unwrap_or(""),
            attempts = tracing::field::Empty,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let attempts = AtomicU32::new(0);
        let policy = &self.inner.retry;
        let result = (|| async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.send_once(&call).await
        })
        .retry(policy.backoff())
        .sleep(tokio::time::sleep)
        .when(|e| RetryPolicy::should_retry(call.idempotent, e))
        .adjust(|e, backoff| policy.delay(e, backoff))
        .notify(|e, delay| {
            tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "retrying");
        })
        .instrument(span.clone())
        .await;
        span.record("attempts", attempts.load(Ordering::Relaxed));
        span.record("duration_ms", started.elapsed().as_millis() as u64);
        match &result {
            Ok((status, _)) => span.record("status", status.as_u16()),
            Err(e) => span.record("status", e.status().unwrap_or(0)),
        };
        span.in_scope(|| match &result {
            Ok(_) => tracing::debug!("done"),
            Err(e) => tracing::debug!(error = %e, "failed"),
        });
        result
    }

    async fn send_once(&self, call: &Call<'_>) -> Result<(StatusCode, Bytes), Error> {
        let inner = &self.inner;
        let mut url = format!("{}{TOKENS_PATH}{}", inner.base_url, call.path);
        if !call.query.is_empty() {
            url.push('?');
            url.push_str(&call.query);
        }
        let mut request = inner
            .http
            .request(call.method.clone(), url)
            .timeout(inner.timeout)
            .header(AUTHORIZATION, inner.auth.clone())
            .header(USER_AGENT, inner.user_agent.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = request.send().await.map_err(Error::from_reqwest)?;
        let status = response.status();
        // Headers matter only for errors (`Retry-After`): no copy on the success path.
        let headers = (!status.is_success()).then(|| response.headers().clone());
        let body = response.bytes().await.map_err(Error::from_reqwest)?;
        tracing::trace!(status = status.as_u16(), bytes = body.len(), "answer");
        match headers {
            None => Ok((status, body)),
            Some(headers) => Err(Error::from_response(status, &headers, &body)),
        }
    }
}

/// Decodes a success body into a generated type.
pub(crate) fn decode<T: DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        status: status.as_u16(),
        message: e.to_string(),
        snippet: snippet(body),
    })
}

#[cfg(test)]
mod tests {
    use super::normalize_base_url;

    #[test]
    fn base_urls_with_the_api_prefix_are_accepted() {
        for url in [
            "https://api.example.com",
            "https://api.example.com/",
            "https://api.example.com/public",
            "https://api.example.com/public/v1",
            "https://api.example.com/public/v1/",
        ] {
            assert_eq!(normalize_base_url(url), "https://api.example.com", "{url}");
        }
    }
}
