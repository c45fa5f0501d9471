//! What a transport failure was: its kind in words, and whether it is a connection closed
//! before an answer (a congestion signal, as a `429` is).

/// Whether a failed attempt's connection was closed or reset before an answer came (hyper's
/// "connection closed before message completed", or a reset, abort, broken pipe or early end of
/// the stream below it): how a gateway or limiter that sheds load refuses, instead of a `429`.
/// A timeout, a refused connection or a DNS or TLS failure is not one.
pub(crate) fn closed_early(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    if e.is_timeout() {
        return false;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            );
        }
        source = err.source();
    }
    false
}

/// What a transport error was, in a word or two.
pub(crate) fn kind(e: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut texts = String::new();
    while let Some(err) = source {
        // hyper's "message head is too large" (`is_parse_too_large` needs its server feature).
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_parse() && h.to_string().contains("too large"))
        {
            return "the answer's header section is too large: too many header lines or too long";
        }
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
