//! The generated client's one hook point (see `generator.hooks` in `openapi/amendments.json`).
//!
//! progenitor calls [`ClientHooks`] `pre`, `exec` and `post` around every request the generated
//! builders send. This crate implements them once, here, for the generated [`Client`]: they hand
//! over to the [`Hooks`] installed in its [`ClientState`], or send the request as it is when there
//! are none. The `mpt` facade installs its hook layer this way (authorization, user agent,
//! timeouts, retries, tracing, the response-size bound); anyone may install their own.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};

use crate::Client;

/// Why [`Hooks::pre`] refused a request; the operation returns [`Error::Custom`] with its
/// message, and nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    message: String,
}

impl Refused {
    /// A refusal saying `message`.
    pub fn new(message: impl Into<String>) -> Refused {
        Refused {
            message: message.into(),
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}

/// The future [`Hooks::exec`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Behaviour around every request of the generated [`Client`]; install it with
/// [`ClientState::with_hooks`].
pub trait Hooks: Send + Sync + 'static {
    /// Runs before the request is sent, and may change it. An `Err` refuses the request: the
    /// operation returns [`Error::Custom`] with the message, and nothing is sent.
    fn pre(&self, request: &mut reqwest::Request, info: &OperationInfo) -> Result<(), Refused> {
        let _ = (request, info);
        Ok(())
    }

    /// Sends the request (and may send it again, wrap it in a span, bound its answer...). The
    /// default sends it once with `client`.
    fn exec<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        info: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        let _ = info;
        Box::pin(client.execute(request))
    }
}

/// What the generated [`Client`] carries beside its base URL and `reqwest::Client`: the hooks
/// its requests go through, if any. `ClientState::default()` has none.
#[derive(Clone, Default)]
pub struct ClientState {
    hooks: Option<Arc<dyn Hooks>>,
}

impl ClientState {
    /// A state whose requests go through `hooks`.
    pub fn with_hooks(hooks: Arc<dyn Hooks>) -> ClientState {
        ClientState { hooks: Some(hooks) }
    }

    /// The installed hooks.
    pub fn hooks(&self) -> Option<&Arc<dyn Hooks>> {
        self.hooks.as_ref()
    }
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientState")
            .field("hooks", &self.hooks.as_ref().map(|_| "installed"))
            .finish()
    }
}

/// `ClientHooks` for a generated `Client`: the API tokens client and each module's.
macro_rules! hand_over {
    ($client:ty) => {
        impl ClientHooks<ClientState> for $client {
            async fn pre<E>(
                &self,
                request: &mut reqwest::Request,
                info: &OperationInfo,
            ) -> Result<(), Error<E>> {
                match &self.inner().hooks {
                    Some(hooks) => hooks
                        .pre(request, info)
                        .map_err(|refused| Error::Custom(refused.message)),
                    None => Ok(()),
                }
            }

            async fn exec(
                &self,
                request: reqwest::Request,
                info: &OperationInfo,
            ) -> reqwest::Result<reqwest::Response> {
                match &self.inner().hooks {
                    Some(hooks) => hooks.exec(self.client(), request, info).await,
                    None => self.client().execute(request).await,
                }
            }
        }
    };
}

hand_over!(Client);
#[cfg(feature = "accounts")]
hand_over!(crate::accounts::Client);
#[cfg(feature = "audit")]
hand_over!(crate::audit::Client);
#[cfg(feature = "billing")]
hand_over!(crate::billing::Client);
#[cfg(feature = "catalog")]
hand_over!(crate::catalog::Client);
#[cfg(feature = "commerce")]
hand_over!(crate::commerce::Client);
#[cfg(feature = "notifications")]
hand_over!(crate::notifications::Client);
#[cfg(feature = "program")]
hand_over!(crate::program::Client);
#[cfg(feature = "spotlight")]
hand_over!(crate::spotlight::Client);
