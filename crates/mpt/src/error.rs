//! The facade's one error type, and the problem details the platform answers with.

use std::fmt;
use std::time::Duration;

use mpt_api::types::{ProblemDetails, ProblemErrors};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};

use crate::rotation::{RotationPhase, RotationPlan};
use crate::token::{Action, CreatedToken, Token, TokenStatus};

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
    /// A problem from the details the generated client decoded (once) from an error answer.
    pub(crate) fn from_details(status: StatusCode, p: ProblemDetails) -> Problem {
        Problem {
            status: status.as_u16(),
            kind: p.type_,
            title: p.title.or_else(|| reason(status)),
            detail: p.detail,
            instance: p.instance,
            trace_id: p.trace_id,
            errors: p.errors,
        }
    }

    /// Builds a problem from an error answer's status and body. A body that is not problem JSON
    /// (an HTML error page from a proxy, say) becomes the detail, redacted and shortened.
    pub(crate) fn from_response(status: StatusCode, body: &[u8], r: &Redactor) -> Problem {
        match serde_json::from_slice::<ProblemDetails>(body) {
            Ok(p) => Problem::from_details(status, p),
            Err(_) => Problem {
                status: status.as_u16(),
                kind: None,
                title: reason(status),
                detail: (!body.is_empty()).then(|| format!("non-JSON body: {}", snippet(body, r))),
                instance: None,
                trace_id: None,
                errors: None,
            },
        }
    }

    /// Every text field with secrets redacted.
    fn redacted(mut self, r: &Redactor) -> Problem {
        for field in [
            &mut self.kind,
            &mut self.title,
            &mut self.detail,
            &mut self.instance,
            &mut self.trace_id,
        ]
        .into_iter()
        .flatten()
        {
            *field = r.redact(field);
        }
        self.errors = self.errors.map(|errors| match errors {
            ProblemErrors::ByField(map) => ProblemErrors::ByField(
                map.into_iter()
                    .map(|(k, v)| (r.redact(&k), v.iter().map(|m| r.redact(m)).collect()))
                    .collect(),
            ),
            ProblemErrors::List(items) => ProblemErrors::List(
                items
                    .into_iter()
                    .map(|mut e| {
                        e.message = e.message.map(|m| r.redact(&m));
                        e.properties = e.properties.iter().map(|p| r.redact(p)).collect();
                        e
                    })
                    .collect(),
            ),
        });
        self
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
    /// The connection failed or broke (no whole answer was read). Its `Display` says what
    /// happened: connection refused or reset, DNS, TLS, or another failure.
    #[error("transport error ({kind}): {0}", kind = transport_kind(.0))]
    Transport(#[source] reqwest::Error),
    /// The answer's body was larger than the client's bound
    /// ([`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)); it was
    /// not read past the bound.
    #[error("the {status} answer is larger than the {limit}-byte limit for response bodies")]
    ResponseTooLarge {
        /// HTTP status of the answer.
        status: u16,
        /// The bound, in bytes.
        limit: usize,
    },
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
    /// An `ensure_*` call ended with the token in a state that is neither the wanted one nor one
    /// this SDK can move from (`Deleted`, or a state the platform added, e.g. `Expired`).
    #[error("API token {id} is {status}, not in the wanted state")]
    UnexpectedState {
        /// The token.
        id: String,
        /// The state it is in.
        status: TokenStatus,
    },
    /// A create may have reached the platform, but its answer was lost or could not be read.
    ///
    /// Before sending, the client recorded the ids of every token that already had this account
    /// and name; `candidates` are the tokens with this account and name that are **not** among
    /// them, so none of them existed before the call (their secrets are here when the platform
    /// returned them on read). What to do:
    ///
    /// * no candidate: the platform shows no token this call could have made. Nothing to clean
    ///   up; sending the create again makes one;
    /// * candidates: one of them is very likely the token this call made, but a token another
    ///   client made with the same account and name at the same moment would be listed too.
    ///   If nothing else creates tokens with this name in this account, the one candidate is
    ///   yours: keep it (store its secret). Otherwise check each candidate
    ///   ([`Token::created_by`]) before you delete any: never delete a token that is not yours.
    ///
    /// `candidates` is empty with `lookup` set when looking for them failed: list the account's
    /// tokens by name before creating again.
    #[error(
        "the create of {name:?} in {account_id} may have reached the platform, but its answer was lost ({source}); {}",
        describe_candidates(candidates, lookup.as_deref())
    )]
    CreateUnconfirmed {
        /// The account the token was to be made in.
        account_id: String,
        /// Its name.
        name: String,
        /// Tokens with this account and name that did not exist before the call.
        candidates: Vec<Token>,
        /// Why looking for candidates failed, if it did.
        lookup: Option<Box<Error>>,
        /// What went wrong with the create.
        source: Box<Error>,
    },
    /// A resumed [`RotationPlan::start`] found that an earlier run sent the create and stopped
    /// before its answer was saved (the `source` of a [`Error::CreateUnconfirmed`] then).
    #[error(
        "an earlier run of the rotation of {old_id} sent the create and stopped before saving what it made"
    )]
    EarlierRunInterrupted {
        /// The token being rotated.
        old_id: String,
    },
    /// A change of a token (enable, disable) whose every answer was lost: it may or may not have
    /// happened, and reading the token back to find out failed too.
    #[error(
        "cannot tell whether the {action} of API token {id} happened: {source}; reading it back failed too: {read}"
    )]
    OutcomeUnknown {
        /// The token.
        id: String,
        /// What was asked.
        action: Action,
        /// Why the change's answer was lost.
        source: Box<Error>,
        /// Why reading the token back failed.
        read: Box<Error>,
    },
    /// A rotation step was asked for before the step it needs (verify before start, ...).
    #[error(
        "rotation of {old_id}: cannot {step} in phase {phase:?}; it needs phase {needs:?} first"
    )]
    RotationOutOfOrder {
        /// The token being rotated.
        old_id: String,
        /// The step asked for (`verify`, `retire`, `finish`).
        step: &'static str,
        /// The phase the plan is in.
        phase: RotationPhase,
        /// The phase the step needs.
        needs: RotationPhase,
    },
    /// A rotation plan whose ids do not fit together (a replacement that existed before the
    /// rotation, a secret of another token, an old token of another account or name): edited or
    /// mixed up. Nothing was changed.
    #[error("rotation of {old_id}: the plan does not fit: {reason}")]
    RotationPlanMismatch {
        /// The token the plan says it rotates.
        old_id: String,
        /// What does not fit.
        reason: String,
    },
    /// [`RotationPlan::start_saving`] could not save the plan before the create: nothing was
    /// made.
    #[error("rotation of {old_id}: the plan could not be saved, so nothing was made: {reason}")]
    PlanNotSaved {
        /// The token being rotated.
        old_id: String,
        /// What the save said.
        reason: String,
    },
    /// A rotation waited for the old token to fall quiet (`lastAccessAt` not moving) and gave
    /// up: something still uses its secret.
    #[error("API token {id} is still in use (last access {}): not retired", last_access_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into()))]
    StillInUse {
        /// The old token.
        id: String,
        /// Its last access when the wait ended.
        last_access_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A bulk call was cancelled ([`Client::with_cancel`](crate::Client::with_cancel)) before
    /// this id was attempted: nothing was sent for it.
    #[error("not attempted: the bulk call was cancelled first")]
    Cancelled,
    /// The request was refused before sending: a value breaks the spec (an empty name, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client could not be configured (missing `MPT_API_TOKEN`, a bad base URL, ...).
    #[error("configuration error: {0}")]
    Config(String),
    /// [`Client::rotate_now_with_outage`](crate::Client::rotate_now_with_outage) made the
    /// replacement but could not verify it or disable the old token. The replacement (with its
    /// secret) is here: store it before anything else.
    #[error(
        "rotation of {old_id} is incomplete: the replacement {} was created and is {}, but {old_id} is still {old_status}: {source}",
        new.token.id(),
        new.token.status()
    )]
    RotationIncomplete {
        /// The replacement, Active, with its secret.
        new: Box<CreatedToken>,
        /// The plan, to resume from ([`RotationPlan::verify`], [`RotationPlan::retire`], ...).
        plan: Box<RotationPlan>,
        /// The old token's id.
        old_id: String,
        /// The old token's last known state.
        old_status: TokenStatus,
        /// Why disabling it failed.
        source: Box<Error>,
    },
}

impl Error {
    /// Maps an error answer whose body is `body` (problem JSON or anything else).
    pub(crate) fn from_response(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        r: &Redactor,
    ) -> Error {
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
        Error::from_problem(
            status,
            headers,
            Problem::from_response(status, body, r),
            is_json,
        )
    }

    /// Maps an error answer to its variant. `has_details`: the answer carried problem JSON.
    pub(crate) fn from_problem(
        status: StatusCode,
        headers: &HeaderMap,
        problem: Problem,
        has_details: bool,
    ) -> Error {
        let problem = Box::new(problem);
        match status.as_u16() {
            400 => Error::BadRequest(problem),
            401 => Error::Unauthorized(problem),
            403 => Error::Forbidden(problem),
            404 => Error::NotFound(problem),
            409 => Error::Conflict(problem),
            429 => Error::RateLimited {
                retry_after: retry_after(headers),
                problem: has_details.then_some(problem),
            },
            500..=599 => Error::Server(problem),
            _ => Error::BadRequest(problem),
        }
    }

    /// The same error with every text it holds redacted: the API secret and every secret the
    /// client has handled (by value, also JSON-escaped or percent-encoded), and anything shaped
    /// like a token secret.
    pub(crate) fn redacted(self, r: &Redactor) -> Error {
        let p = |p: Box<Problem>| Box::new(p.redacted(r));
        match self {
            Error::NotFound(x) => Error::NotFound(p(x)),
            Error::BadRequest(x) => Error::BadRequest(p(x)),
            Error::Unauthorized(x) => Error::Unauthorized(p(x)),
            Error::Forbidden(x) => Error::Forbidden(p(x)),
            Error::Conflict(x) => Error::Conflict(p(x)),
            Error::Server(x) => Error::Server(p(x)),
            Error::RateLimited {
                retry_after,
                problem,
            } => Error::RateLimited {
                retry_after,
                problem: problem.map(p),
            },
            Error::Decode {
                status,
                message,
                snippet,
            } => Error::Decode {
                status,
                message: r.redact(&message),
                snippet: r.redact(&snippet),
            },
            Error::InvalidRequest(m) => Error::InvalidRequest(r.redact(&m)),
            Error::Config(m) => Error::Config(r.redact(&m)),
            Error::RotationIncomplete {
                new,
                plan,
                old_id,
                old_status,
                source,
            } => Error::RotationIncomplete {
                new,
                plan,
                old_id,
                old_status,
                source: Box::new(source.redacted(r)),
            },
            Error::CreateUnconfirmed {
                account_id,
                name,
                candidates,
                lookup,
                source,
            } => Error::CreateUnconfirmed {
                account_id,
                name,
                candidates,
                lookup: lookup.map(|e| Box::new(e.redacted(r))),
                source: Box::new(source.redacted(r)),
            },
            Error::OutcomeUnknown {
                id,
                action,
                source,
                read,
            } => Error::OutcomeUnknown {
                id,
                action,
                source: Box::new(source.redacted(r)),
                read: Box::new(read.redacted(r)),
            },
            Error::PlanNotSaved { old_id, reason } => Error::PlanNotSaved {
                old_id,
                reason: r.redact(&reason),
            },
            other => other,
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
            Error::Decode { status, .. } | Error::ResponseTooLarge { status, .. } => Some(*status),
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

    /// Whether a request that failed this way may still have been carried out by the platform:
    /// its answer was lost (timeout, broken connection after sending), unreadable, or a server
    /// or gateway error.
    pub fn may_have_reached_server(&self) -> bool {
        match self {
            Error::Timeout | Error::Decode { .. } | Error::ResponseTooLarge { .. } => true,
            Error::Transport(e) => !e.is_connect(),
            Error::Server(p) => crate::retry::status_may_have_landed(p.status),
            _ => false,
        }
    }

    /// Whether the platform answered 2xx but the body could not be used (cut off, not what the
    /// spec says, too large): the request was carried out.
    pub fn answered_success(&self) -> bool {
        matches!(self, Error::Decode { status, .. } | Error::ResponseTooLarge { status, .. }
            if (200..300).contains(status))
    }

    /// Whether the request certainly never reached the server (the connection was not made), so
    /// even a create may be sent again.
    pub fn is_unsent(&self) -> bool {
        matches!(self, Error::Transport(e) if e.is_connect())
    }
}

impl From<std::convert::Infallible> for Error {
    /// Never called: lets `"Active".parse::<TokenStatus>()?` compile in a function returning
    /// `Result<_, mpt::Error>`.
    fn from(never: std::convert::Infallible) -> Error {
        match never {}
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

/// The start of a body, lossily decoded, with secrets redacted (in the whole body first, so
/// that no secret is cut in two and half of it kept), then shortened.
pub(crate) fn snippet(body: &[u8], r: &Redactor) -> String {
    let text = r.redact(&String::from_utf8_lossy(body));
    let mut cut: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().count() > SNIPPET_CHARS {
        cut.push('…');
    }
    cut
}

fn describe_candidates(candidates: &[Token], lookup: Option<&Error>) -> String {
    match (candidates, lookup) {
        (_, Some(e)) => {
            format!("looking for what it made failed too ({e}): list the account's tokens by name")
        }
        ([], None) => "no token it could have made is on the platform: nothing was made".into(),
        (found, None) => format!(
            "made since the call began (none existed before it): {}; one is very likely this call's, but check who made each before deleting any",
            found.iter().map(Token::id).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// What a transport error was, in a word or two.
fn transport_kind(e: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut texts = String::new();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused",
                std::io::ErrorKind::ConnectionReset => return "connection reset",
                std::io::ErrorKind::ConnectionAborted => return "connection aborted",
                std::io::ErrorKind::UnexpectedEof => return "connection closed early",
                std::io::ErrorKind::TimedOut => return "timed out",
                _ => {}
            }
        }
        texts.push_str(&err.to_string().to_ascii_lowercase());
        texts.push('\n');
        source = err.source();
    }
    if texts.contains("dns error") || texts.contains("failed to lookup address") {
        "DNS lookup failed"
    } else if texts.contains("certificate") || texts.contains("tls") || texts.contains("handshake")
    {
        "TLS failed"
    } else if texts.contains("connection closed") || texts.contains("incomplete message") {
        "connection closed early"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    }
}

/// The marker put in place of a secret.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// Replaces every secret shaped like a token secret (`idt:TKN-...:<opaque>`) with
/// `idt:TKN-...:[REDACTED]`, also when the `:` is JSON-escaped (`\u003a`), percent-encoded
/// (`%3A`) or an HTML entity (`&#58;`), and whatever characters the opaque part holds (it ends
/// at white space, a quote, `<`, `>` or a backslash). The token id is kept: it is not secret.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_idt(rest) {
        out.push_str(&rest[..at]);
        let after_idt = &rest[at + 3..];
        let Some(sep) = separator(after_idt) else {
            out.push_str(&rest[at..at + 3]);
            rest = after_idt;
            continue;
        };
        let after = &after_idt[sep..];
        let id_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(after.len());
        let (id, tail) = after.split_at(id_len);
        match separator(tail) {
            Some(sep2) => {
                let opaque = &tail[sep2..];
                out.push_str("idt:");
                out.push_str(id);
                out.push(':');
                out.push_str(REDACTED);
                rest = &opaque[opaque_len(opaque)..];
            }
            // `idt:` and an id alone carry no secret; anything else after `idt:` may be one.
            None if id.is_empty() || id.starts_with("TKN-") => {
                out.push_str("idt:");
                out.push_str(id);
                rest = tail;
            }
            None => {
                out.push_str("idt:");
                out.push_str(REDACTED);
                rest = &after[opaque_len(after)..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The next `idt` (any case) in `text`.
fn find_idt(text: &str) -> Option<usize> {
    text.as_bytes()
        .windows(3)
        .position(|w| w.eq_ignore_ascii_case(b"idt"))
}

/// The length of the `:` (or an escaped or encoded form of it) that starts `text`.
fn separator(text: &str) -> Option<usize> {
    let unescaped = text.trim_start_matches('\\');
    let backslashes = text.len() - unescaped.len();
    let forms: &[&str] = if backslashes > 0 {
        &["u003a", "u003A"]
    } else {
        &[
            ":", "%3a", "%3A", "%253a", "%253A", "&#58;", "&#x3a;", "&#x3A;",
        ]
    };
    forms
        .iter()
        .find(|f| unescaped.starts_with(**f))
        .map(|f| backslashes + f.len())
}

/// The length of a secret's opaque part at the start of `text`.
fn opaque_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'/') => i += 2,
            b if b.is_ascii_whitespace() || b.is_ascii_control() => break,
            b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\' => break,
            _ => i += 1,
        }
    }
    // Never split a UTF-8 character.
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Redacts by value (the client's API secret and the token secrets it has handled, in their
/// plain, JSON-escaped and percent-encoded forms) and then by shape ([`redact`]).
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    known: std::sync::Arc<std::sync::RwLock<std::collections::VecDeque<SecretString>>>,
}

/// Most secrets a client remembers for redaction by value (the oldest are forgotten; their
/// shape still redacts them).
const KNOWN_SECRETS: usize = 256;
/// Shorter values are not redacted by value: they would blank out ordinary words.
const MIN_SECRET_CHARS: usize = 4;

impl Redactor {
    /// Remembers a secret, so that it is redacted wherever it appears; for a token secret
    /// (`idt:TKN-...:<opaque>`), its opaque part too, which is the secret proper.
    pub(crate) fn remember(&self, secret: &str) {
        if let Some((_, opaque)) = secret
            .strip_prefix("idt:")
            .and_then(|rest| rest.split_once(':'))
        {
            self.remember_value(opaque);
        }
        self.remember_value(secret);
    }

    fn remember_value(&self, secret: &str) {
        if secret.chars().count() < MIN_SECRET_CHARS {
            return;
        }
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        if known.iter().any(|k| k.expose_secret() == secret) {
            return;
        }
        if known.len() == KNOWN_SECRETS {
            known.pop_front();
        }
        known.push_back(SecretString::from(secret.to_string()));
    }

    /// `text` without any secret.
    pub(crate) fn redact(&self, text: &str) -> String {
        let known = self.known.read().unwrap_or_else(|p| p.into_inner());
        let mut text = text.to_string();
        for secret in known.iter() {
            text = redact_value(&text, secret.expose_secret().as_bytes());
        }
        redact(&text)
    }
}

/// `text` with every occurrence of `secret` replaced by [`REDACTED`], whether each of its
/// characters is written as it is, percent-encoded (`%2F`, any case) or JSON-escaped (`\u002f`),
/// so that no encoder's choice of what to leave raw lets it through.
fn redact_value(text: &str, secret: &[u8]) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        match encoded_match(bytes, i, secret) {
            Some(end) => {
                out.push_str(&text[copied..i]);
                out.push_str(REDACTED);
                i = end;
                copied = end;
            }
            None => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Where a match of `secret` starting at `at` ends, if there is one.
fn encoded_match(text: &[u8], at: usize, secret: &[u8]) -> Option<usize> {
    if secret.is_empty() {
        return None;
    }
    let hex = |digits: &[u8]| -> Option<u32> {
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let mut i = at;
    for &want in secret {
        let here = *text.get(i)?;
        if here == want {
            i += 1;
        } else if here == b'%' && text.get(i + 1..i + 3).and_then(hex) == Some(u32::from(want)) {
            i += 3;
        } else if here == b'\\'
            && text.get(i + 1) == Some(&b'u')
            && want.is_ascii()
            && text.get(i + 2..i + 6).and_then(hex) == Some(u32::from(want))
        {
            i += 6;
        } else if want == b' ' && here == b'+' {
            i += 1;
        } else {
            return None;
        }
    }
    // Never end inside a UTF-8 character (a secret is text, so a match ends on a boundary).
    std::str::from_utf8(&text[at..i]).ok().map(|_| i)
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
    fn redact_covers_escaped_encoded_and_odd_secrets() {
        for (text, kept) in [
            ("idt:TKN-1:s3cr3t!$%tail end", " end"),
            (r#"{"t":"idt\u003aTKN-1\u003as3cr3t"}"#, "\"}"),
            ("?token=idt%3ATKN-1%3As3cr3t%21x&y=1", ""),
            ("<p>idt&#58;TKN-1&#58;s3cr3t</p>", "</p>"),
            ("IDT:TKN-1:s3cr3t", ""),
            ("idt:s3cr3t-without-id", ""),
        ] {
            let out = redact(text);
            assert!(!out.contains("s3cr3t"), "{text} -> {out}");
            assert!(out.contains(REDACTED), "{text} -> {out}");
            assert!(out.ends_with(kept), "{text} -> {out}");
        }
        let r = Redactor::default();
        r.remember("plain-api-secret");
        for text in ["echo: plain-api-secret!", "pct: plain%2Dapi%2Dsecret"] {
            let out = r.redact(text);
            assert!(!out.contains("api"), "{text} -> {out}");
        }
        // A snippet never keeps half a secret cut at its end.
        let body = format!("{}plain-api-secret", "x".repeat(SNIPPET_CHARS - 5));
        assert!(!snippet(body.as_bytes(), &r).contains("plain"));
    }

    #[test]
    fn problems_display_status_title_detail_and_trace() {
        let body = br#"{"title":"Not Found","status":404,"detail":"API token TKN-1 was not found.","traceId":"00-ab-cd-00"}"#;
        let p = Problem::from_response(StatusCode::NOT_FOUND, body, &Redactor::default());
        assert_eq!(
            p.to_string(),
            "404 Not Found: API token TKN-1 was not found. (trace 00-ab-cd-00)"
        );
        let html = Problem::from_response(
            StatusCode::BAD_GATEWAY,
            b"<html><h1>502</h1></html>",
            &Redactor::default(),
        );
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
