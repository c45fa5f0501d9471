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

/// What an operation answers on success, as its generated `send` declares it: what a hook may
/// expect of a success answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnswerShape {
    /// Nothing: an empty body (`ResponseValue<()>`).
    Nothing,
    /// A byte stream (`ResponseValue<ByteStream>`, a download): any body, taken as it came.
    Bytes,
    /// A JSON document of the operation's answer type.
    Document,
}

/// What `operation_id` answers on success, from the generated answer tables (each client's
/// `answers::decodes`): the API tokens client's first, then those of the modules compiled in,
/// in alphabetical order; `None` for an operation none of them has. An operation id names
/// one shape in this spec but for `update_attachment` (a change, answered with nothing in one
/// module and a document in another), where the first table that has it answers; a read
/// (`GET`) always names one, which `cargo xtask regen` checks across the modules.
///
/// A table is asked twice at most, with bodies only one shape takes: an empty body (no JSON
/// document is empty) and a lone `0xFF` byte (no document, not empty: only a byte stream takes
/// it). Each ask of a document's table is a failed JSON parse: hooks on a hot path remember the
/// answer.
pub fn answer_shape(operation_id: &str) -> Option<AnswerShape> {
    type Decodes = fn(&str, &[u8]) -> Option<bool>;
    let tables: &[Decodes] = &[
        crate::answers::decodes,
        #[cfg(feature = "accounts")]
        crate::accounts::answers::decodes,
        #[cfg(feature = "audit")]
        crate::audit::answers::decodes,
        #[cfg(feature = "billing")]
        crate::billing::answers::decodes,
        #[cfg(feature = "catalog")]
        crate::catalog::answers::decodes,
        #[cfg(feature = "commerce")]
        crate::commerce::answers::decodes,
        #[cfg(feature = "notifications")]
        crate::notifications::answers::decodes,
        #[cfg(feature = "program")]
        crate::program::answers::decodes,
        #[cfg(feature = "spotlight")]
        crate::spotlight::answers::decodes,
    ];
    tables
        .iter()
        .find_map(|decodes| match decodes(operation_id, b"")? {
            false => Some(AnswerShape::Document),
            true if decodes(operation_id, &[0xFF]) == Some(true) => Some(AnswerShape::Bytes),
            true => Some(AnswerShape::Nothing),
        })
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

#[cfg(test)]
mod tests {
    use super::{AnswerShape, answer_shape};

    #[test]
    fn each_shape_is_told_apart_and_an_unknown_operation_is_none() {
        assert_eq!(answer_shape("delete_api_token"), Some(AnswerShape::Nothing));
        assert_eq!(answer_shape("get_api_token"), Some(AnswerShape::Document));
        assert_eq!(answer_shape("list_api_tokens"), Some(AnswerShape::Document));
        assert_eq!(answer_shape("no_such_operation"), None);
        #[cfg(feature = "accounts")]
        assert_eq!(answer_shape("get_account_icon"), Some(AnswerShape::Bytes));
        #[cfg(feature = "catalog")]
        assert_eq!(answer_shape("get_media_image"), Some(AnswerShape::Bytes));
        #[cfg(feature = "notifications")]
        assert_eq!(
            answer_shape("download_batch_attachment"),
            Some(AnswerShape::Bytes)
        );
    }
}
