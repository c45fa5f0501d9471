//! Bounds on what the mock reads (the request target, headers, body), and problem details for
//! every rejection, axum's own included.

use axum::http::{StatusCode, header};
use axum::response::Response;

use super::problem_response;
use crate::problem::Problem;

/// Longest request target (path and query) the mock reads; a longer one is a 414 problem.
pub const MAX_URI_BYTES: usize = 32 * 1024;

/// Most header bytes (names and values) the mock reads; more is a 431 problem.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses an over-long request target (414) or header block (431) with problem details, as
/// every other rejection. (hyper itself only refuses heads over its read buffer, 400 KiB, which
/// these bounds stay well under.)
pub(super) async fn bounded_head(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return problem_response(&Problem::new(
            414,
            format!("The request target is longer than the limit of {MAX_URI_BYTES} bytes."),
        ));
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > MAX_HEADER_BYTES {
        return problem_response(&Problem::new(
            431,
            format!("The request headers are larger than the limit of {MAX_HEADER_BYTES} bytes."),
        ));
    }
    next.run(request).await
}

/// Largest request body the mock reads; a larger one is answered 413 with problem details.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// axum answers its own rejections (413 for a body over [`MAX_BODY_BYTES`], 405, 415, ...) in plain
/// text; the platform answers every error with problem details, and so does the mock. HTML pages
/// injected as faults are left as they are.
pub(super) async fn problem_for_rejections(response: Response) -> Response {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || content_type.contains("json") || content_type.contains("html") {
        return response;
    }
    let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes.")
    } else {
        let text = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap_or_default();
        String::from_utf8_lossy(&text).trim().to_string()
    };
    problem_response(&Problem::new(status.as_u16(), detail))
}
