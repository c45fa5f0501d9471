//! Answers' bodies: bounded, read whole for a read that may be retried, and answers rebuilt
//! around a body read or replaced.

use bytes::Bytes;
use mpt_api::AnswerShape;
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};

use crate::redact::Redactor;

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

/// Whether a read's success body is whole, by what its operation declares (`declared`, its
/// [`shape`]): nothing, when it is empty; a byte stream, always (any bytes are
/// a byte stream: one cut short shows as a broken read, its `Content-Length` not reached, before
/// this is asked); else a JSON document that ends where one ends (its last non-blank byte
/// closes the value it opened with). A cut lands inside a string, a number or a nested value,
/// so it shows here at the cost of a glance at two bytes; the rare cut right after a nested
/// value's closing brace is caught by the generated code's decoding instead (a `Decode` error,
/// not retried). A full parse here would cost a third of a request again.
fn is_whole(declared: Option<AnswerShape>, body: &[u8]) -> bool {
    match declared {
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

/// An answer for the generated client used directly, with no secret left where its errors
/// would quote it (their `Display` and `Debug` print bodies and headers as they came): an
/// error answer's body and headers redacted; a 2xx body that holds a secret handed on as
/// it came only when it decodes (the secret is what the caller asked for), else redacted.
pub(super) async fn scrub(
    redactor: &Redactor,
    mut response: Response,
    operation: &'static str,
) -> Response {
    let (status, version) = (response.status(), response.version());
    let url = response.url().clone();
    let mut headers = std::mem::take(response.headers_mut());
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(e) => {
            let failing = futures_util::stream::once(async move { Err::<Bytes, _>(e) });
            return rebuilt(
                url,
                status,
                version,
                headers,
                reqwest::Body::wrap_stream(failing),
            );
        }
    };
    // A 2xx that decodes as the operation's answer goes on as it came (checked first: one
    // typed parse costs less than redacting the whole body); a byte stream is any bytes.
    let body = if status.is_success()
        && (mpt_api::answers::decodes(operation, &body).unwrap_or(false)
            || shape(operation) == Some(mpt_api::AnswerShape::Bytes))
    {
        body
    } else {
        let text = String::from_utf8_lossy(&body);
        match redactor.redact(&text) {
            redacted if redacted == text => body,
            redacted => Bytes::from(redacted),
        }
    };
    if !status.is_success() {
        for value in headers.values_mut() {
            let shown = String::from_utf8_lossy(value.as_bytes());
            if redactor.redact(&shown) != shown {
                *value = reqwest::header::HeaderValue::from_static(crate::redact::REDACTED);
            }
        }
    }
    rebuilt(url, status, version, headers, reqwest::Body::from(body))
}

/// Reads a success answer's body whole, and hands the answer on with it in memory; the `bool`
/// says the body was cut off: its reading broke, or it is not what `operation` declares (a
/// JSON document that ends early); the `Option` says it is not the platform's answer
/// ([`foreign`]). A body over the bound is handed on to fail as it would have (the same
/// request would get the same answer: not retried).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
pub(super) fn read_whole(
    mut response: Response,
    operation: &'static str,
) -> impl Future<Output = (reqwest::Result<Response>, bool, Option<String>)> {
    // An `async move` block: the answer kept once in the future (see `Layer::attempts`).
    async move {
        let (status, version) = (response.status(), response.version());
        let url = response.url().clone();
        let headers = std::mem::take(response.headers_mut());
        match response.bytes().await {
            Ok(body) => {
                // What the operation declares, asked once for both.
                let declared = shape(operation);
                let whole = is_whole(declared, &body);
                let alien = foreign_as(declared, &headers, Some(&body));
                let response = rebuilt(url, status, version, headers, reqwest::Body::from(body));
                (Ok(response), !whole, alien)
            }
            Err(e) => match too_large_limit(&e) {
                Some(limit) => {
                    let body = too_large_body(limit);
                    (
                        Ok(rebuilt(url, status, version, headers, body)),
                        false,
                        None,
                    )
                }
                None => (Err(e), true, None),
            },
        }
    }
}

/// A success answer checked for being the platform's ([`foreign`]) by what it is labelled: a
/// JSON label is the platform's answer (its decoding judges the body: a page labelled JSON
/// fails there, as a `Decode` error, never as a success); another media type is not (a
/// gateway's `text/html` page), its body left unread; an answer with no label has its body
/// read into memory first to tell (a body that breaks, or is over the bound, is handed on to
/// fail as it would have: a change answered `2xx` was carried out, whatever became of its
/// body). An operation that answers no JSON document is judged by its headers alone.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
pub(super) fn checked(
    mut response: Response,
    operation: &'static str,
) -> impl Future<Output = (Response, Option<String>)> {
    // An `async move` block: the answer kept once in the future (see `Layer::attempts`).
    async move {
        if shape(operation) != Some(AnswerShape::Document) {
            let alien = foreign(operation, response.headers(), None)
                .filter(|_| response.content_length() != Some(0));
            return (response, alien);
        }
        match labelled(response.headers()) {
            Some(true) => return (response, None),
            Some(false) => {
                let alien = alien(response.headers());
                return (response, Some(alien));
            }
            None => {}
        }
        let (status, version) = (response.status(), response.version());
        let url = response.url().clone();
        let headers = std::mem::take(response.headers_mut());
        match response.bytes().await {
            Ok(body) => {
                let alien = foreign(operation, &headers, Some(&body));
                let body = reqwest::Body::from(body);
                (rebuilt(url, status, version, headers, body), alien)
            }
            Err(e) => {
                // Unlabelled (labelled answers were judged above) and unread: nothing says it is
                // not the platform's; it fails as its read failed.
                let body = match too_large_limit(&e) {
                    Some(limit) => too_large_body(limit),
                    None => reqwest::Body::wrap_stream(futures_util::stream::once(async move {
                        Err::<Bytes, _>(e)
                    })),
                };
                (rebuilt(url, status, version, headers, body), None)
            }
        }
    }
}

/// What a success answer came as, when it is not the platform's answer: the platform answers
/// `operation` with a JSON document (or nothing), and this answer is of another stated media
/// type (`text/html`: a gateway's page), or its body (when read) is not JSON at all (its first
/// byte opens no object or array). Its media type as it came (`text/html`), or
/// `"no media type"`. A JSON document cut short is the platform's (its answer broke); a byte
/// stream is any bytes.
pub(super) fn foreign(
    operation: &'static str,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Option<String> {
    foreign_as(shape(operation), headers, body)
}

/// [`foreign`] for an operation that declares `declared`.
fn foreign_as(
    declared: Option<AnswerShape>,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Option<String> {
    match declared {
        Some(AnswerShape::Document) => {}
        // Nothing came, as declared.
        Some(AnswerShape::Nothing) if body.is_some_and(<[u8]>::is_empty) => return None,
        Some(AnswerShape::Nothing) => {}
        _ => return None,
    }
    let platforms = match body {
        // A body read says what it is, whatever its label (a JSON document, or nothing).
        Some(b) => matches!(b.trim_ascii().first(), None | Some(b'{') | Some(b'[')),
        None => labelled(headers) != Some(false),
    };
    (!platforms).then(|| alien(headers))
}

/// What an answer that is not the platform's came as: its media type as stated (lowercase), or
/// `"no media type"` (allocated only now, off the usual path).
fn alien(headers: &HeaderMap) -> String {
    media(headers)
        .map(|m| String::from_utf8_lossy(m).to_ascii_lowercase())
        .unwrap_or_else(|| "no media type".into())
}

/// The media type an answer states (`Content-Type` before its parameters, trimmed).
fn media(headers: &HeaderMap) -> Option<&[u8]> {
    let stated = headers.get(reqwest::header::CONTENT_TYPE)?.as_bytes();
    let end = stated
        .iter()
        .position(|b| *b == b';')
        .unwrap_or(stated.len());
    Some(stated[..end].trim_ascii())
}

/// Whether an answer is labelled JSON (`application/json`, `text/json`, `…+json`, in any case):
/// `None` when it states no media type.
fn labelled(headers: &HeaderMap) -> Option<bool> {
    let m = media(headers)?;
    let suffix = m.len() >= 5 && m[m.len() - 5..].eq_ignore_ascii_case(b"+json");
    Some(
        m.eq_ignore_ascii_case(b"application/json")
            || m.eq_ignore_ascii_case(b"text/json")
            || suffix,
    )
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
    use super::{foreign, is_whole, shape};
    use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

    #[test]
    fn an_answer_not_json_is_not_the_platforms() {
        let typed = |t: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(t));
            h
        };
        let page = b"<html><h1>502 Bad Gateway</h1></html>";
        let op = mpt_mock::Operation::Disable.operation_id();
        let html = typed("text/html; charset=utf-8");
        assert_eq!(foreign(op, &html, Some(page)).as_deref(), Some("text/html"));
        assert_eq!(foreign(op, &html, None).as_deref(), Some("text/html"));
        let json = typed("application/json; charset=utf-8");
        assert_eq!(foreign(op, &json, Some(b"{\"id\": 1}")), None);
        // Cut short, or empty: the platform's answer, broken (the existing rules read it back).
        assert_eq!(foreign(op, &json, Some(b"{\"id\": ")), None);
        assert_eq!(foreign(op, &HeaderMap::new(), Some(b"")), None);
        assert_eq!(
            foreign(op, &typed("application/problem+json"), Some(b"{}")),
            None
        );
        // A page labelled JSON, or unlabelled: its body says what it is.
        assert_eq!(
            foreign(op, &json, Some(page)).as_deref(),
            Some("application/json")
        );
        let bare = foreign(op, &HeaderMap::new(), Some(page));
        assert_eq!(bare.as_deref(), Some("no media type"));
        // A delete answers nothing: a page in its place is not the platform's either.
        assert_eq!(
            foreign(mpt_mock::Operation::Delete.operation_id(), &html, None).as_deref(),
            Some("text/html")
        );
        // A download is any bytes.
        assert_eq!(foreign("get_account_icon", &html, Some(page)), None);
    }

    #[test]
    fn a_byte_stream_is_whole_whatever_its_bytes() {
        // The accounts module's download (a dev-dependency's feature); the other shapes are
        // judged in `mpt_api::answer_shape`'s test and the tests of cut reads.
        for body in [&b""[..], b"\x89PNG\r\n\x1a\n", b"{", b"\xff\x00"] {
            assert!(is_whole(shape("get_account_icon"), body), "{body:?}");
        }
    }
}
