//! RFC 9457 problem details, as the platform answers errors.

use std::fmt;

use mpt_api::types::{ProblemDetails, ProblemErrors};
use reqwest::StatusCode;

use crate::redact::{Redactor, snippet};
use crate::status::TokenStatus;

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

    /// The state a `400` says token `id` is in, when it refuses a change for its `status`: an
    /// `errors` entry about the `status` property (either shape) saying `… {id} is {State}…`
    /// (the platform's words, `API token TKN-1 is Disabled; it cannot be disabled.`), with a
    /// known state, and no other text of the problem naming another state for `id`. `None` when
    /// the words are not so (the refusal is then not read as a statement of the state).
    pub(crate) fn stated_status(&self, id: &str) -> Option<TokenStatus> {
        if self.status != 400 || id.is_empty() {
            return None;
        }
        let about_status: Vec<&str> = match &self.errors {
            Some(ProblemErrors::ByField(map)) => map
                .iter()
                .filter(|(field, _)| field.eq_ignore_ascii_case("status"))
                .flat_map(|(_, msgs)| msgs.iter().map(String::as_str))
                .collect(),
            Some(ProblemErrors::List(items)) => items
                .iter()
                .filter(|e| {
                    e.properties
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case("status"))
                })
                .filter_map(|e| e.message.as_deref())
                .collect(),
            None => Vec::new(),
        };
        let said = format!("{id} is ");
        let stated = |text: &str| -> Option<TokenStatus> {
            // The id whole: `KN-1 is` inside `TKN-1 is` is not it.
            let (at, _) = text.match_indices(&said).find(|(at, _)| {
                text[..*at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '-' && c != '_')
            })?;
            let rest = &text[at + said.len()..];
            let word: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            Some(
                word.parse::<TokenStatus>()
                    .unwrap_or(TokenStatus::Unknown(String::new())),
            )
        };
        let mut said = about_status.iter().filter_map(|m| stated(m));
        let first = said.next().filter(TokenStatus::is_known)?;
        let detail = self.detail.as_deref().and_then(stated);
        (said.all(|s| s == first) && detail.is_none_or(|d| d == first)).then_some(first)
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

    /// A refusal is read as a statement of the state only in the platform's words, about the
    /// `status` property, for this id, with a known state, every text agreeing.
    #[test]
    fn a_refusal_states_the_state_only_in_the_platforms_words() {
        let read = |status: StatusCode, body: &str| {
            Problem::from_response(status, body.as_bytes(), &Redactor::default())
        };
        let listed = |msg: &str, prop: &str, detail: &str| {
            format!(
                r#"{{"status":400,"detail":"{detail}","errors":[{{"message":"{msg}","properties":["{prop}"]}}]}}"#
            )
        };
        let says = "API token TKN-1 is Disabled; it cannot be disabled.";
        let p = read(StatusCode::BAD_REQUEST, &listed(says, "status", says));
        assert_eq!(p.stated_status("TKN-1"), Some(TokenStatus::Disabled));
        // Another id (TKN-12 is not TKN-1), another property, another status, no errors: none.
        assert_eq!(p.stated_status("TKN-12"), None);
        assert_eq!(p.stated_status("TKN"), None);
        assert_eq!(p.stated_status("KN-1"), None);
        let p = read(StatusCode::BAD_REQUEST, &listed(says, "name", says));
        assert_eq!(p.stated_status("TKN-1"), None);
        let p = read(StatusCode::CONFLICT, &listed(says, "status", says));
        assert_eq!(p.stated_status("TKN-1"), None);
        let p = read(
            StatusCode::BAD_REQUEST,
            &format!(r#"{{"status":400,"detail":"{says}"}}"#),
        );
        assert_eq!(p.stated_status("TKN-1"), None);
        // An unknown state, or texts that disagree: none.
        let odd = "API token TKN-1 is Frozen; it cannot be disabled.";
        let p = read(StatusCode::BAD_REQUEST, &listed(odd, "status", odd));
        assert_eq!(p.stated_status("TKN-1"), None);
        let p = read(StatusCode::BAD_REQUEST, &listed(says, "status", odd));
        assert_eq!(p.stated_status("TKN-1"), None);
        // The field-keyed shape.
        let p = read(
            StatusCode::BAD_REQUEST,
            &format!(r#"{{"status":400,"errors":{{"Status":["{says}"]}}}}"#),
        );
        assert_eq!(p.stated_status("TKN-1"), Some(TokenStatus::Disabled));
    }
}
