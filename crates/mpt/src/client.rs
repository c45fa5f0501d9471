//! The client: configuration, and the generated client with the hook layer installed.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::base_url::{normalize_base_url, without_userinfo};
use crate::error::Error;
use crate::hooks::Layer;
use crate::job::Cancel;
use crate::outcome::NoopTransitions;
use crate::pace::{Pacer, Pacing};
use crate::redact::Redactor;
use crate::retry::RetryPolicy;

/// The platform's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.platform.softwareone.com";

/// The default wait budget of a call ([`ClientBuilder::max_wait`]): 2 minutes.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(120);

/// The default bound on a response body: 4 MiB (a full page of 100 tokens is about 100 KiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// What [`ClientBuilder::api_token`] takes: a [`SecretString`], `String`, `&String` or `&str`.
pub trait IntoSecret {
    /// The secret, wrapped so that it never shows in `Debug` output.
    fn into_secret(self) -> SecretString;
}

impl IntoSecret for SecretString {
    fn into_secret(self) -> SecretString {
        self
    }
}

impl IntoSecret for String {
    fn into_secret(self) -> SecretString {
        SecretString::from(self)
    }
}

impl IntoSecret for &String {
    fn into_secret(self) -> SecretString {
        SecretString::from(self.as_str())
    }
}

impl IntoSecret for &str {
    fn into_secret(self) -> SecretString {
        SecretString::from(self)
    }
}

/// Configures a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_token: Option<SecretString>,
    connect_timeout: Duration,
    timeout: Duration,
    user_agent: String,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    max_response_bytes: usize,
    noop: NoopTransitions,
    pacing: Pacing,
    max_wait: Duration,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &without_userinfo(&self.base_url))
            .field("api_token", &self.api_token.as_ref().map(|_| "[REDACTED]"))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("noop_transitions", &self.noop)
            .field("pacing", &self.pacing)
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
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
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            noop: NoopTransitions::Refused,
            pacing: Pacing::Adaptive,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

impl ClientBuilder {
    /// Base URL (default [`DEFAULT_BASE_URL`]); a trailing `/public` or `/public/v1` is accepted.
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        self.base_url = normalize_base_url(url.as_ref());
        self
    }

    /// The API secret sent as `Authorization: Bearer <secret>` (marked sensitive): a
    /// [`SecretString`], a `String`, a `&String` or a `&str`.
    pub fn api_token(mut self, secret: impl IntoSecret) -> Self {
        self.api_token = Some(secret.into_secret());
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

    /// The largest response body read (default [`DEFAULT_MAX_RESPONSE_BYTES`]); a larger answer
    /// is not read on and fails with [`Error::ResponseTooLarge`].
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// How the server answers a no-op transition (default [`NoopTransitions::Refused`], the
    /// platform's documented behaviour); see [`Outcome`](crate::Outcome) for what it changes.
    pub fn noop_transitions(mut self, noop: NoopTransitions) -> Self {
        self.noop = noop;
        self
    }

    /// How requests are paced to the platform's rate limit ([`Pacing::Adaptive`] by default:
    /// learned from its `RateLimit-*` headers, else from its `429`s). Every clone of the client
    /// shares the pace, so two bulk jobs of one process do not fight.
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// The most one call waits in all for the holds the platform's throttling asks for (a
    /// `Retry-After`, a spent quota's reset; default [`DEFAULT_MAX_WAIT`]; `Duration::ZERO`
    /// waits for none); each single wait is bounded again by the retry policy's
    /// [`max_retry_after`](RetryPolicy::max_retry_after). The pace is not charged: a call
    /// queued behind others at the pace waits its turn, each send one interval (within that
    /// cap) after the one before; only a pace whose interval is over the cap refuses it. A call
    /// that would wait longer is not
    /// sent again: it ends with the platform's last answer (a `429` as
    /// [`Error::RateLimited`], carrying the server's wait), or, when nothing was sent, with
    /// [`Error::NotAttempted`]. A bulk call's every call has this budget, and the bulk call as
    /// a whole has it once more, on its wall time held by throttling: each wait a throttled
    /// answer asks for runs from the answer to its end, and the budget is charged the union of
    /// those intervals (waits that overlap count once; pacing waits are not charged). Once the
    /// platform asks for a wait beyond the cap, or the bulk call's budget is spent, it sends
    /// nothing more: an id sent for at least once ends with its last answer
    /// ([`Error::RateLimited`]), and every id nothing was sent for is reported as
    /// [`Error::NotAttempted`], at once.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Builds the client. A [`Pacing::Fixed`] rate outside [`Pacing::fixed`]'s range is a
    /// [`Error::Config`]; one whose interval between sends (`1 / rate` seconds) is over the retry
    /// policy's [`max_retry_after`](RetryPolicy::max_retry_after) is
    /// [`Error::FixedPaceOverCap`] (every request would be refused).
    pub fn build(self) -> Result<Client, Error> {
        let pacing = self
            .pacing
            .validated()
            .map_err(|e| Error::Config(format!("pacing: {e}")))?;
        if let Pacing::Fixed(rate) = pacing {
            // Its own interval over the cap would refuse every request (`WaitCause::FixedPace`).
            let (interval, cap) = (
                crate::ratelimit::secs(1.0 / rate),
                self.retry.max_retry_after,
            );
            if interval > cap {
                return Err(Error::FixedPaceOverCap {
                    rate,
                    interval,
                    cap,
                });
            }
        }
        let secret = self
            .api_token
            .ok_or_else(|| Error::Config("no API token: call api_token() or from_env()".into()))?;
        let auth = bearer(secret.expose_secret(), "the API token")?;
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::Config(format!("invalid user agent {:?}", self.user_agent)))?;
        let shown = without_userinfo(&self.base_url);
        let base = reqwest::Url::parse(&self.base_url)
            .map_err(|e| Error::Config(format!("invalid base URL {shown:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "the base URL {shown:?} is not http(s)"
            )));
        }
        // The per-attempt timeout: the default of the client built here, or set on each request
        // of a client passed in.
        let (http, timeout) = match self.http {
            Some(http) => (http, Some(self.timeout)),
            None => (
                reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .timeout(self.timeout)
                    .build()
                    .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
                None,
            ),
        };
        let redactor = Redactor::default();
        redactor.remember(secret.expose_secret());
        let layer = Arc::new(Layer {
            auth,
            user_agent,
            timeout,
            per_attempt: self.timeout,
            retry: self.retry,
            max_body: self.max_response_bytes,
            redactor,
            pacer: Pacer::new(pacing),
            max_wait: self.max_wait,
        });
        Ok(Client::assemble(layer, http, self.base_url, self.noop))
    }
}

/// `Authorization: Bearer <secret>`, marked sensitive; `what` names the secret in the error.
fn bearer(secret: &str, what: &str) -> Result<HeaderValue, Error> {
    let mut auth = HeaderValue::from_str(&format!("Bearer {secret}"))
        .map_err(|_| Error::Config(format!("{what} holds characters a header cannot carry")))?;
    auth.set_sensitive(true);
    Ok(auth)
}

/// A client for the API tokens resource. Cheap to clone (one shared connection pool); `Send`
/// and `Sync`. `Debug` never shows the API secret.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Bulk calls stop scheduling once this is cancelled ([`Client::with_cancel`]).
    pub(crate) cancel: Option<Cancel>,
    /// The total throttling wait budget of the bulk job this client runs, if it runs one.
    pub(crate) budget: Option<Arc<crate::job::WaitBudget>>,
    /// Proved right before every change this client sends ([`Client::with_guard`]).
    pub(crate) guard: Option<crate::guard::Shared>,
}

struct Inner {
    /// The generated client, with `layer` installed as its hooks.
    api: mpt_api::Client,
    layer: Arc<Layer>,
    base_url: String,
    noop: NoopTransitions,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &without_userinfo(&self.inner.base_url))
            .field("api_token", &"[REDACTED]")
            .field("retry", &self.inner.layer.retry)
            .finish_non_exhaustive()
    }
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

    /// The same client (same pool, secret and settings) whose bulk calls
    /// ([`Client::ensure_active_many`], [`Client::ensure_disabled_many`], [`Client::delete_many`])
    /// stop scheduling once `cancel` is set: the requests in flight finish, and every id not
    /// attempted is reported as [`Error::Cancelled`].
    pub fn with_cancel(&self, cancel: Cancel) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            cancel: Some(cancel),
            budget: self.budget.clone(),
            guard: self.guard.clone(),
        }
    }

    /// The same client for one bulk job of `concurrency` requests at once: its calls share one
    /// total budget for the waits the platform's throttling asks for
    /// ([`ClientBuilder::max_wait`]), kept if it has one, and one breaker (a run of its requests
    /// unanswered stops it).
    pub(crate) fn in_job(&self, concurrency: usize) -> Client {
        let layer = &self.inner.layer;
        let breaker = crate::job::Breaker::new(concurrency, layer.per_attempt);
        Client {
            inner: Arc::clone(&self.inner),
            cancel: self.cancel.clone(),
            guard: self.guard.clone(),
            budget: Some(
                self.budget
                    .clone()
                    .unwrap_or_else(|| crate::job::WaitBudget::for_job(layer.max_wait, breaker)),
            ),
        }
    }

    /// Whether this client's [`Cancel`] was set: no bulk call (nor an apply) starts another
    /// change once it is.
    pub fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(Cancel::is_cancelled)
    }

    /// The pace this client's sends go at now, the slowest of its operations', and any hold
    /// the platform asked for (`None`: unpaced so far). For a caller reporting on a long job.
    pub fn pace(&self) -> Option<crate::CurrentPace> {
        self.inner.layer.pacer.current()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The generated client underneath, with this client's hook layer installed: every
    /// operation of the spec, authorized, retried and traced like the facade's own calls.
    pub fn api(&self) -> &mpt_api::Client {
        &self.inner.api
    }

    pub(crate) fn layer(&self) -> &Layer {
        &self.inner.layer
    }

    /// The same client authenticating with another secret (sharing the connection pool and
    /// the redaction of every secret either has handled).
    pub(crate) fn with_secret(&self, secret: &mpt_api::TokenSecret) -> Result<Client, Error> {
        let auth = bearer(secret.expose_secret(), "the secret")?;
        let old = &self.inner.layer;
        old.redactor.remember(secret.expose_secret());
        let layer = Arc::new(Layer {
            auth,
            user_agent: old.user_agent.clone(),
            timeout: old.timeout,
            per_attempt: old.per_attempt,
            retry: old.retry.clone(),
            max_body: old.max_body,
            redactor: old.redactor.clone(),
            // Another secret is another caller to the platform's rate limit.
            pacer: Pacer::new(old.pacer.mode()),
            max_wait: old.max_wait,
        });
        let http = mpt_api::ClientInfo::client(&self.inner.api).clone();
        Ok(Client::assemble(
            layer,
            http,
            self.inner.base_url.clone(),
            self.inner.noop,
        ))
    }

    /// The generated client on `http` with `layer` installed as its hooks, and the facade on it.
    fn assemble(
        layer: Arc<Layer>,
        http: reqwest::Client,
        base_url: String,
        noop: NoopTransitions,
    ) -> Client {
        let state = mpt_api::ClientState::with_hooks(layer.clone());
        Client {
            cancel: None,
            budget: None,
            guard: None,
            inner: Arc::new(Inner {
                api: mpt_api::Client::new_with_client(&base_url, http, state),
                layer,
                base_url,
                noop,
            }),
        }
    }

    pub(crate) fn noop_transitions(&self) -> NoopTransitions {
        self.inner.noop
    }
}
