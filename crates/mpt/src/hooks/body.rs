//! Answers' bodies: bounded, read whole for a read that may be retried, and answers rebuilt
//! around a body read or replaced.

use bytes::Bytes;
use mpt_api::AnswerShape;
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};

/// A body larger than the bound; the reading of the answer fails with it.
#[derive(Debug)]
pub(super) struct BodyTooLarge {
    limit: usize,
}

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the response body is larger than {} bytes", self.limit)
    }
}

impl std::error::Error for BodyTooLarge {}

/// Whether a read's success body is whole, by what the operation declares
/// ([`mpt_api::answer_shape`]): nothing, when it is empty; a byte stream, always (any bytes are
/// a byte stream: one cut short shows as a broken read, its `Content-Length` not reached, before
/// this is asked); else a JSON document that ends where one ends (its last non-blank byte
/// closes the value it opened with). A cut lands inside a string, a number or a nested value,
/// so it shows here at the cost of a glance at two bytes; the rare cut right after a nested
/// value's closing brace is caught by the generated code's decoding instead (a `Decode` error,
/// not retried). A full parse here would cost a third of a request again.
pub(super) fn is_whole(operation: &'static str, body: &[u8]) -> bool {
    match shape(operation) {
        Some(AnswerShape::Nothing) => return body.is_empty(),
        Some(AnswerShape::Bytes) => return true,
        _ => {}
    }
    let text = body.trim_ascii();
    matches!(
        (text.first(), text.last()),
        (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']'))
    ) && text.len() >= 2
}

/// What `operation` declares as its success answer ([`mpt_api::answer_shape`]), remembered per
/// thread: asking costs a failed JSON parse (an error allocated and dropped) for every
/// operation that declares a document.
pub(super) fn shape(operation: &'static str) -> Option<AnswerShape> {
    thread_local! {
        static KNOWN: std::cell::RefCell<Vec<(&'static str, Option<AnswerShape>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    KNOWN.with(|known| {
        // The same name is the same `&'static str` (the generated code's literal): compared by
        // address first, by text when the addresses differ.
        if let Some((_, shape)) = known
            .borrow()
            .iter()
            .find(|(name, _)| std::ptr::eq(*name, operation) || *name == operation)
        {
            return *shape;
        }
        let shape = mpt_api::answer_shape(operation);
        known.borrow_mut().push((operation, shape));
        shape
    })
}

/// An answer with this URL, status, version, headers and body (the URL kept as it came:
/// nothing to parse).
pub(super) fn rebuilt(
    url: reqwest::Url,
    status: StatusCode,
    version: reqwest::Version,
    headers: HeaderMap,
    body: reqwest::Body,
) -> Response {
    use reqwest::ResponseBuilderExt;
    let mut out = http::Response::builder()
        .status(status)
        .version(version)
        .url(url)
        .body(body)
        .unwrap_or_else(|_| http::Response::new(reqwest::Body::from(Bytes::new())));
    *out.headers_mut() = headers;
    Response::from(out)
}

/// A body that fails with [`BodyTooLarge`] when read (none of the answer's is read).
pub(super) fn too_large_body(limit: usize) -> reqwest::Body {
    reqwest::Body::wrap_stream(futures_util::stream::once(async move {
        Err::<Bytes, BodyTooLarge>(BodyTooLarge { limit })
    }))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads a success answer's body whole, and hands the answer on with it in memory; the `bool`
/// says the body was cut off: its reading broke, or it is not what `operation` declares (a
/// JSON document that ends early). A body over the bound is handed on to fail as it would
/// have (the same request would get the same answer: not retried).
pub(super) async fn read_whole(
    mut response: Response,
    operation: &'static str,
) -> (reqwest::Result<Response>, bool) {
    let (status, version) = (response.status(), response.version());
    let url = response.url().clone();
    let headers = std::mem::take(response.headers_mut());
    match response.bytes().await {
        Ok(body) => {
            let whole = is_whole(operation, &body);
            let response = rebuilt(url, status, version, headers, reqwest::Body::from(body));
            (Ok(response), !whole)
        }
        Err(e) => match too_large_limit(&e) {
            Some(limit) => {
                let body = too_large_body(limit);
                (Ok(rebuilt(url, status, version, headers, body)), false)
            }
            None => (Err(e), true),
        },
    }
}

/// An answer kept while the call waits to send again (it stands if nothing more is sent), its
/// body read into memory now: kept unread through a long wait, it would outlive the attempt's
/// timeout and fail to read as timed out. A body over the bound fails as it would have.
pub(super) async fn kept(result: reqwest::Result<Response>) -> reqwest::Result<Response> {
    let mut response = result?;
    let (status, version) = (response.status(), response.version());
    let url = response.url().clone();
    let headers = std::mem::take(response.headers_mut());
    let body = match response.bytes().await {
        Ok(body) => reqwest::Body::from(body),
        Err(e) => too_large_body(too_large_limit(&e).ok_or(e)?),
    };
    Ok(rebuilt(url, status, version, headers, body))
}

/// `response` with its body read through a counter that fails with [`BodyTooLarge`] once more
/// than `limit` bytes have come.
pub(super) fn limited(mut response: Response, limit: usize) -> Response {
    let (status, version) = (response.status(), response.version());
    let url = response.url().clone();
    let headers = std::mem::take(response.headers_mut());
    let mut seen = 0usize;
    let body = futures_util::StreamExt::map(response.bytes_stream(), move |chunk| {
        let chunk = chunk.map_err(|e| -> BoxError { Box::new(e) })?;
        seen += chunk.len();
        if seen > limit {
            return Err(Box::new(BodyTooLarge { limit }) as BoxError);
        }
        Ok(chunk)
    });
    rebuilt(
        url,
        status,
        version,
        headers,
        reqwest::Body::wrap_stream(body),
    )
}

/// `response` with a body that fails with [`BodyTooLarge`] when read (none of it is read).
pub(super) fn too_large(mut response: Response, limit: usize) -> Response {
    let headers = std::mem::take(response.headers_mut());
    rebuilt(
        response.url().clone(),
        response.status(),
        response.version(),
        headers,
        too_large_body(limit),
    )
}

/// The bound of a [`BodyTooLarge`] somewhere in `e`'s sources.
pub(crate) fn too_large_limit(e: &reqwest::Error) -> Option<usize> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(t) = err.downcast_ref::<BodyTooLarge>() {
            return Some(t.limit);
        }
        source = err.source();
    }
    None
}

/// The time an answer's `Date` header gives (an HTTP date, whole seconds), if it has one.
pub(super) fn server_date(headers: &HeaderMap) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    chrono::DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::is_whole;

    #[test]
    fn a_byte_stream_is_whole_whatever_its_bytes() {
        // The accounts module's download (a dev-dependency's feature); the other shapes are
        // judged in `mpt_api::answer_shape`'s test and the tests of cut reads.
        for body in [&b""[..], b"\x89PNG\r\n\x1a\n", b"{", b"\xff\x00"] {
            assert!(is_whole("get_account_icon", body), "{body:?}");
        }
    }
}
