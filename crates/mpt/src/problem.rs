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
    /// With no `detail`, a gateway's own words are it (`message`, `error` or `error.message`:
    /// GitHub's `{"message": …}`).
    pub(crate) fn from_details(status: StatusCode, p: ProblemDetails) -> Problem {
        Problem {
            status: status.as_u16(),
            kind: p.type_,
            title: p.title.or_else(|| reason(status)),
            detail: p.detail.or_else(|| said(&p.extra)),
            instance: p.instance,
            trace_id: p.trace_id,
            errors: p.errors,
        }
    }

    /// Builds a problem from an error answer's status and body. JSON that is not the platform's
    /// problem details (a gateway's own: GitHub's `{"message": …, "status": "403"}`, whose
    /// `status` is text) is read field by field, its `message` (or `error`) taken as the
    /// detail; a body that is not JSON at all (an HTML error page from a proxy, say) becomes
    /// the detail, redacted and shortened.
    pub(crate) fn from_response(status: StatusCode, body: &[u8], r: &Redactor) -> Problem {
        if let Ok(p) = serde_json::from_slice::<ProblemDetails>(body) {
            return Problem::from_details(status, p);
        }
        let bare = |detail: Option<String>| Problem {
            status: status.as_u16(),
            kind: None,
            title: reason(status),
            detail,
            instance: None,
            trace_id: None,
            errors: None,
        };
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(object)) => Problem::from_object(status, &object)
                .unwrap_or_else(|| bare(Some(format!("body: {}", snippet(body, r))))),
            Ok(_) => bare(Some(format!("body: {}", snippet(body, r)))),
            Err(_) => {
                bare((!body.is_empty()).then(|| format!("non-JSON body: {}", snippet(body, r))))
            }
        }
    }

    /// A JSON object's problem fields, each read when it is of its type (text, the `errors`
    /// list), the detail from `detail`, `message`, `error` or `error.message`; `None` when it
    /// has none of them.
    fn from_object(
        status: StatusCode,
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Problem> {
        let text = |key: &str| object.get(key)?.as_str().map(String::from);
        let detail = text("detail").or_else(|| said(object));
        let errors = object
            .get("errors")
            .and_then(|e| serde_json::from_value::<ProblemErrors>(e.clone()).ok());
        let (kind, title, instance) = (text("type"), text("title"), text("instance"));
        if detail.is_none() && errors.is_none() && title.is_none() && kind.is_none() {
            return None;
        }
        Some(Problem {
            status: status.as_u16(),
            kind,
            title: title.or_else(|| reason(status)),
            detail,
            instance,
            trace_id: text("traceId"),
            errors,
        })
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

/// A gateway's words in a JSON object that is not problem details: its `message`, `error` or
/// `error.message`, when it is text.
fn said(object: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let text = |key: &str| object.get(key)?.as_str().map(String::from);
    text("message").or_else(|| text("error")).or_else(|| {
        object
            .get("error")?
            .get("message")?
            .as_str()
            .map(String::from)
    })
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

    /// JSON that is not the platform's problem details is never called "non-JSON": GitHub's
    /// secondary limit (its `status` is text, which failed the whole decode) reads its
    /// `message`; an object with no problem field is quoted as a body.
    #[test]
    fn a_gateways_own_json_is_read_field_by_field() {
        let read = |status: StatusCode, body: &str| {
            Problem::from_response(status, body.as_bytes(), &Redactor::default()).to_string()
        };
        let github = r#"{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/rest","status":"403"}"#;
        assert_eq!(
            read(StatusCode::FORBIDDEN, github),
            "403 Forbidden: You have exceeded a secondary rate limit."
        );
        assert_eq!(
            read(
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"error":{"message":"slow down"}}"#
            ),
            "429 Too Many Requests: slow down"
        );
        // Problem details whose other fields read: the gateway's words are the detail.
        assert_eq!(
            read(
                StatusCode::FORBIDDEN,
                r#"{"message":"API rate limit exceeded"}"#
            ),
            "403 Forbidden: API rate limit exceeded"
        );
        assert_eq!(
            read(
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"title":7,"retry":"later"}"#
            ),
            r#"429 Too Many Requests: body: {"title":7,"retry":"later"}"#
        );
        assert_eq!(
            read(StatusCode::SERVICE_UNAVAILABLE, "[1,2]"),
            "503 Service Unavailable: body: [1,2]"
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
