//! The facade's one error type, and the problem details the platform answers with.

use std::fmt;
use std::time::Duration;

use mpt_api::types::{ProblemDetails, ProblemErrors};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::token::{Action, CreatedToken, TokenStatus};

/// RFC 9457 problem details as the platform writes them, with `traceId` and `errors`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Problem {
    /// HTTP status of the answer.
    pub status: u16,
    /// `type`: a URI naming the kind of problem.
    pub kind: Option<String>,
    /// `title`: short and status-level.
    pub title: Option<String>,
    /// `detail`: what went wrong with this request.
    pub detail: Option<String>,
    /// `instance`.
    pub instance: Option<String>,
    /// `traceId`: quote it to the platform's support.
    pub trace_id: Option<String>,
    /// `errors`, in whichever of the two shapes the platform used.
    pub errors: Option<ProblemErrors>,
}

impl Problem {
    /// Builds a problem from an error answer's status and body. A body that is not problem JSON
    /// (an HTML error page from a proxy, say) becomes the detail, shortened and redacted.
    pub(crate) fn from_response(status: StatusCode, body: &[u8]) -> Problem {
        match serde_json::from_slice::<ProblemDetails>(body) {
            Ok(p) => Problem {
                status: status.as_u16(),
                kind: p.type_.map(|s| redact(&s)),
                title: p.title.map(|s| redact(&s)).or_else(|| reason(status)),
                detail: p.detail.map(|s| redact(&s)),
                instance: p.instance,
                trace_id: p.trace_id,
                errors: p.errors,
            },
            Err(_) => Problem {
                status: status.as_u16(),
                kind: None,
                title: reason(status),
                detail: (!body.is_empty()).then(|| format!("non-JSON body: {}", snippet(body))),
                instance: None,
                trace_id: None,
                errors: None,
            },
        }
    }

    /// The messages of `errors`, flattened to `field: message` (or just `message`) lines.
    pub fn messages(&self) -> Vec<String> {
        match &self.errors {
            Some(ProblemErrors::ByField(map)) => map
                .iter()
                .flat_map(|(field, msgs)| msgs.iter().map(move |m| format!("{field}: {m}")))
                .collect(),
            Some(ProblemErrors::List(items)) => items
                .iter()
                .filter_map(|e| {
                    let message = e.message.as_deref()?;
                    Some(if e.properties.is_empty() {
                        message.to_string()
                    } else {
                        format!("{}: {message}", e.properties.join(", "))
                    })
                })
                .collect(),
            None => Vec::new(),
        }
    }
}

fn reason(status: StatusCode) -> Option<String> {
    status.canonical_reason().map(String::from)
}

impl fmt::Display for Problem {
    /// `404 Not Found: API token TKN-1 was not found. (trace 00-ab...-00)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(title) = &self.title {
            write!(f, " {title}")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        let messages = self.messages();
        if !messages.is_empty() && self.detail.as_deref() != messages.first().map(String::as_str) {
            write!(f, " [{}]", messages.join("; "))?;
        }
        if let Some(trace) = &self.trace_id {
            write!(f, " (trace {trace})")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong. Never holds or prints a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 404: the token does not exist (or is Deleted).
    #[error("{0}")]
    NotFound(Box<Problem>),
    /// The token's state does not allow the action (checked before any request when the state
    /// is known, or after the platform refused it).
    #[error("cannot {action} API token {id}: it is {from}")]
    InvalidTransition {
        /// The token.
        id: String,
        /// Its state.
        from: TokenStatus,
        /// What was asked.
        action: Action,
    },
    /// 400 (and other 4xx the platform may add): the request was refused as invalid.
    #[error("{0}")]
    BadRequest(Box<Problem>),
    /// 401: the API secret is missing, unknown, disabled or deleted.
    #[error("{0}")]
    Unauthorized(Box<Problem>),
    /// 403: the API secret may not do this.
    #[error("{0}")]
    Forbidden(Box<Problem>),
    /// 409: a conflicting change happened.
    #[error("{0}")]
    Conflict(Box<Problem>),
    /// 429: too many requests. Retried for idempotent operations.
    #[error("429 Too Many Requests{}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs_f32())).unwrap_or_default())]
    RateLimited {
        /// What `Retry-After` said, if anything.
        retry_after: Option<Duration>,
        /// The problem details, if the answer had any.
        problem: Option<Box<Problem>>,
    },
    /// 5xx: the platform or a proxy in front of it failed.
    #[error("{0}")]
    Server(Box<Problem>),
    /// The request or connection timed out.
    #[error("the request timed out")]
    Timeout,
    /// The connection failed or broke (no answer was read).
    #[error("transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success answer whose body is not what the spec says.
    #[error("cannot decode the {status} answer: {message}; body starts {snippet:?}")]
    Decode {
        /// HTTP status of the answer.
        status: u16,
        /// What the decoder said.
        message: String,
        /// The start of the body, with secrets redacted.
        snippet: String,
    },
    /// The request was refused before sending: a value breaks the spec (an empty name, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client could not be configured (missing `MPT_API_TOKEN`, a bad base URL, ...).
    #[error("configuration error: {0}")]
    Config(String),
    /// A rotation created the replacement but could not disable the old token. The replacement
    /// (with its secret) is here: store it before anything else.
    #[error(
        "rotation of {old_id} is incomplete: the replacement {} was created and is {}, but {old_id} is still {old_status}: {source}",
        new.token.id(),
        new.token.status()
    )]
    RotationIncomplete {
        /// The replacement, Active, with its secret.
        new: Box<CreatedToken>,
        /// The old token's id.
        old_id: String,
        /// The old token's last known state.
        old_status: TokenStatus,
        /// Why disabling it failed.
        source: Box<Error>,
    },
}

impl Error {
    /// Maps an error answer.
    pub(crate) fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
        let problem = || Box::new(Problem::from_response(status, body));
        match status.as_u16() {
            400 => Error::BadRequest(problem()),
            401 => Error::Unauthorized(problem()),
            403 => Error::Forbidden(problem()),
            404 => Error::NotFound(problem()),
            409 => Error::Conflict(problem()),
            429 => Error::RateLimited {
                retry_after: retry_after(headers),
                problem: serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .map(|_| problem()),
            },
            500..=599 => Error::Server(problem()),
            _ => Error::BadRequest(problem()),
        }
    }

    /// Maps a transport error.
    pub(crate) fn from_reqwest(e: reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout
        } else {
            Error::Transport(e.without_url())
        }
    }

    /// The HTTP status behind the error, if an answer was read.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::RateLimited { .. } => Some(429),
            Error::Decode { status, .. } => Some(*status),
            other => other.problem().map(|p| p.status),
        }
    }

    /// The problem details behind the error, if the answer had them.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::NotFound(p)
            | Error::BadRequest(p)
            | Error::Unauthorized(p)
            | Error::Forbidden(p)
            | Error::Conflict(p)
            | Error::Server(p) => Some(p),
            Error::RateLimited { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    /// Whether sending the same idempotent request again may succeed: 429, 502, 503, 504,
    /// timeouts and broken connections.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout | Error::Transport(_) => true,
            Error::Server(p) => matches!(p.status, 502..=504),
            _ => false,
        }
    }

    /// Whether the request certainly never reached the server (the connection was not made), so
    /// even a create may be sent again.
    pub fn is_unsent(&self) -> bool {
        matches!(self, Error::Transport(e) if e.is_connect())
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.to_utc() - chrono::Utc::now())
        .to_std()
        .ok()
        .or(Some(Duration::ZERO))
}

/// Most characters of a body quoted in an error.
pub(crate) const SNIPPET_CHARS: usize = 200;

/// The start of a body, lossily decoded, shortened and with token secrets redacted.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().count() > SNIPPET_CHARS {
        cut.push('…');
    }
    redact(&cut)
}

/// Replaces the opaque part of every `idt:TKN-...:<opaque>` secret with `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("idt:") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        // `idt:<id>:<opaque>`: keep the id, drop the opaque part.
        let id_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(after.len());
        let (id, tail) = after.split_at(id_len);
        match tail.strip_prefix(':') {
            Some(opaque) => {
                let opaque_len = opaque
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.~+/=".contains(c)))
                    .unwrap_or(opaque.len());
                out.push_str("idt:");
                out.push_str(id);
                out.push_str(":[REDACTED]");
                rest = &opaque[opaque_len..];
            }
            None => {
                out.push_str("idt:");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_keeps_the_id_and_drops_the_secret() {
        assert_eq!(
            redact(r#"{"token":"idt:TKN-1234-5678:abcDEF123-_x","id":"TKN-1234-5678"} idt:"#),
            r#"{"token":"idt:TKN-1234-5678:[REDACTED]","id":"TKN-1234-5678"} idt:"#
        );
        assert_eq!(redact("no secrets here"), "no secrets here");
    }

    #[test]
    fn problems_display_status_title_detail_and_trace() {
        let body = br#"{"title":"Not Found","status":404,"detail":"API token TKN-1 was not found.","traceId":"00-ab-cd-00"}"#;
        let p = Problem::from_response(StatusCode::NOT_FOUND, body);
        assert_eq!(
            p.to_string(),
            "404 Not Found: API token TKN-1 was not found. (trace 00-ab-cd-00)"
        );
        let html = Problem::from_response(StatusCode::BAD_GATEWAY, b"<html><h1>502</h1></html>");
        assert_eq!(
            html.to_string(),
            "502 Bad Gateway: non-JSON body: <html><h1>502</h1></html>"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
