//! The record of requests the mock received (`MockServer::recorded`), with every credential
//! redacted: credential headers and query parameters, the admin secret, token-secret shapes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;

use super::limits::MAX_BODY_BYTES;
use super::{Shared, lock, problem_response};
use crate::problem::Problem;

/// Headers whose values are credentials: never recorded.
pub(super) const CREDENTIAL_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// Query parameters whose values are credentials: never recorded.
pub(super) const CREDENTIAL_PARAMS: [&str; 9] = [
    "access_token",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "key",
    "secret",
    "password",
    "client_secret",
];

/// `text` without the admin secret (by value, plain or percent-encoded) or any token secret
/// (every one has the shape `idt:<id>:<opaque>`, which keeps its id).
pub(super) fn scrub(text: &str, admin: &str) -> String {
    let mut out = text.to_string();
    for form in [
        admin.to_string(),
        percent_encoding::utf8_percent_encode(admin, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    ] {
        if !form.is_empty() && out.contains(&form) {
            out = out.replace(&form, "[REDACTED]");
        }
    }
    redact_shapes(&out)
}

/// Every `idt:<id>:<opaque>` (also with `%3A` for `:`) as `idt:<id>:[REDACTED]`.
pub(super) fn redact_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.to_ascii_lowercase().find("idt") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let sep = |t: &str| {
            [":", "%3A", "%3a"]
                .iter()
                .find(|s| t.starts_with(**s))
                .map(|s| s.len())
        };
        let Some(first) = sep(after) else {
            out.push_str(&rest[at..at + 3]);
            rest = after;
            continue;
        };
        let id_len = after[first..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(after.len() - first);
        let tail = &after[first + id_len..];
        match sep(tail) {
            Some(second) => {
                out.push_str("idt:");
                out.push_str(&after[first..first + id_len]);
                out.push_str(":[REDACTED]");
                let opaque = &tail[second..];
                let end = opaque
                    .find(|c: char| {
                        c.is_whitespace() || matches!(c, '"' | '\'' | '&' | '<' | '>' | ',')
                    })
                    .unwrap_or(opaque.len());
                rest = &opaque[end..];
            }
            None => {
                out.push_str(&rest[at..at + 3 + first + id_len]);
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The query string with the values of credential parameters redacted.
pub(super) fn scrub_query(query: &str) -> String {
    query
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((key, _)) => {
                let name = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
                if CREDENTIAL_PARAMS.contains(&name.to_ascii_lowercase().as_str()) {
                    format!("{key}=[REDACTED]")
                } else {
                    part.to_string()
                }
            }
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Most requests kept by [`MockServer::recorded`](crate::MockServer::recorded) (the oldest go).
pub const RECORDED_REQUESTS: usize = 10_000;

/// Keeps a copy of each request (its `Authorization` value redacted) when recording is on.
pub(super) async fn record_request(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !shared.recording.load(Ordering::Relaxed) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return problem_response(&Problem::new(
            413,
            format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes."),
        ));
    };
    let recorded = {
        let scrub = |text: &str| scrub(text, &shared.admin_secret);
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = if CREDENTIAL_HEADERS.contains(&name.as_str()) {
                    "[REDACTED]".to_string()
                } else {
                    scrub(&String::from_utf8_lossy(value.as_bytes()))
                };
                (name.as_str().to_string(), value)
            })
            .collect();
        crate::RecordedRequest {
            method: parts.method.as_str().to_string(),
            path: scrub(parts.uri.path()),
            query: parts.uri.query().map(|q| scrub(&scrub_query(q))),
            headers,
            body: scrub(&String::from_utf8_lossy(&bytes)),
        }
    };
    {
        let mut log = lock(&shared.recorded);
        if log.len() == RECORDED_REQUESTS {
            log.pop_front();
        }
        log.push_back(recorded);
    }
    next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
        .await
}
