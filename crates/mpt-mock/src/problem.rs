//! RFC 9457 problem details, as the platform writes them (with `traceId` and `errors`).

use serde_json::{Value, json};

/// An error answer, before it gets its trace id.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// Short, status-level title.
    pub title: &'static str,
    /// What happened to this request.
    pub detail: String,
    /// `errors`, in either of the platform's two shapes, if any.
    pub errors: Option<Value>,
}

/// The `type` URI of a status, as ASP.NET writes them.
fn type_uri(status: u16) -> &'static str {
    match status {
        400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        401 => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        404 => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        405 => "https://tools.ietf.org/html/rfc9110#section-15.5.6",
        408 => "https://tools.ietf.org/html/rfc9110#section-15.5.9",
        413 => "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        415 => "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        429 => "https://tools.ietf.org/html/rfc6585#section-4",
        502 => "https://tools.ietf.org/html/rfc9110#section-15.6.3",
        503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        504 => "https://tools.ietf.org/html/rfc9110#section-15.6.5",
        _ => "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    }
}

/// The reason phrase used as `title`.
pub fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        425 => "Too Early",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

impl Problem {
    /// A problem with no `errors`.
    pub fn new(status: u16, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            title: title(status),
            detail: detail.into(),
            errors: None,
        }
    }

    /// 404 for a token id that does not exist or that the caller may not see (another
    /// account's, or a Deleted one for a Client or Vendor account).
    pub fn not_found(id: &str) -> Problem {
        Problem::new(404, format!("API token {id} was not found."))
    }

    /// 400 for a change of a Deleted token (only Operations accounts see one): nothing leads out
    /// of Deleted.
    pub fn deleted(id: &str) -> Problem {
        let message = format!("API token {id} is Deleted; it cannot be changed.");
        Problem {
            errors: Some(json!([{ "message": message, "properties": ["status"] }])),
            ..Problem::new(400, message)
        }
    }

    /// 401 for a missing, unknown or unusable secret.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(401, detail)
    }

    /// 400 for a transition the token's state does not allow (list-shaped `errors`).
    pub fn transition(id: &str, status: &str, verb: &str) -> Problem {
        let message = format!("API token {id} is {status}; it cannot be {verb}.");
        Problem {
            errors: Some(json!([{ "message": message, "properties": ["status"] }])),
            ..Problem::new(400, message)
        }
    }

    /// 400 for invalid fields (map-shaped `errors`, as ASP.NET validation writes them).
    pub fn validation(fields: &[(&str, String)]) -> Problem {
        let mut map = serde_json::Map::new();
        for (field, message) in fields {
            let entry = map.entry(field.to_string()).or_insert_with(|| json!([]));
            if let Some(list) = entry.as_array_mut() {
                list.push(Value::String(message.clone()));
            }
        }
        Problem {
            errors: Some(Value::Object(map)),
            ..Problem::new(400, "One or more validation errors occurred.")
        }
    }

    /// 400 for a query the mock cannot accept (list-shaped `errors`).
    pub fn query(message: impl Into<String>, properties: &[&str]) -> Problem {
        let message = message.into();
        Problem {
            errors: Some(json!([{ "message": message, "properties": properties }])),
            ..Problem::new(400, message)
        }
    }

    /// The JSON body.
    pub fn to_json(&self, trace_id: &str) -> Value {
        let mut body = json!({
            "type": type_uri(self.status),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "traceId": trace_id,
        });
        if let Some(errors) = &self.errors {
            body["errors"] = errors.clone();
        }
        body
    }
}

/// A W3C `traceparent`-shaped id, as the platform puts in `traceId`.
pub fn new_trace_id() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect()
    };
    format!("00-{}-{}-00", hex(32), hex(16))
}
