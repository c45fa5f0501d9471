//! RFC 9457 problem details, as the platform answers errors.

use std::fmt;

use mpt_api::types::{ProblemDetails, ProblemErrors};
use reqwest::StatusCode;

use crate::redact::{Redactor, snippet};

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
    pub(crate) fn redacted(mut self, r: &Redactor) -> Problem {
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

/// A throttled answer's status in words, as it came (`429 Too Many Requests`, `503 Service
/// Unavailable`), whatever its body's title says; a `403` says why it is throttling.
pub(crate) fn throttled_words(status: u16) -> String {
    let words = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    match status {
        403 => format!("403 {words} (nothing remains of the rate limit)"),
        _ => format!("{status} {words}"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
