//! A scripted wire server, beside the stateful mock: for the answers a well-behaved server never
//! gives (any status and headers, a body with no length or cut anywhere, a delay, a connection
//! closed or reset without an answer), answered one per request, in turn.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http::lock;

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripted {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    length: bool,
    delay: Duration,
    dropped: bool,
    /// Dropped with a reset (`RST`) rather than closed.
    reset: bool,
    /// Send only this many bytes of the body (its full length announced), then close.
    cut: Option<usize>,
    /// Never answered: the connection is kept open, unanswered, while the server runs.
    held: bool,
    /// After the part of the body sent, the connection is kept open, with no more.
    stalled: bool,
}

impl Scripted {
    /// An answer with this status, `Content-Type` and body (and a `Content-Length`).
    pub fn answer(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Scripted {
        Scripted {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            length: true,
            delay: Duration::ZERO,
            dropped: false,
            reset: false,
            cut: None,
            held: false,
            stalled: false,
        }
    }

    /// The connection is closed once the request was read, without an answer.
    pub fn dropped() -> Scripted {
        Scripted {
            dropped: true,
            ..Scripted::answer(200, "application/json", Vec::new())
        }
    }

    /// The connection is reset (`RST`, as a gateway aborting it) once the request was read,
    /// without an answer.
    pub fn reset() -> Scripted {
        Scripted {
            reset: true,
            ..Scripted::dropped()
        }
    }

    /// Never answered: the request is read and its connection kept open, with no answer, until
    /// the server is dropped (the next requests are answered meanwhile), as a request lost on
    /// the way is answered only by the client's timeout.
    pub fn held() -> Scripted {
        Scripted {
            held: true,
            ..Scripted::answer(200, "application/json", Vec::new())
        }
    }

    /// With one more header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Scripted {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Without `Content-Length`: the body ends when the connection closes.
    pub fn without_length(mut self) -> Scripted {
        self.length = false;
        self
    }

    /// Only the first `bytes` of the body are sent, then the connection is closed: with a
    /// `Content-Length` (the whole body's), an answer that ends early; with
    /// [`Scripted::without_length`], a body cut in the middle of its JSON that looks complete.
    pub fn cut_after(mut self, bytes: usize) -> Scripted {
        self.cut = Some(bytes);
        self
    }

    /// Only the first `bytes` of the body are sent (its full length announced), then nothing
    /// more: the connection is kept open while the server runs, as an answer whose body stalls.
    pub fn stalled_after(mut self, bytes: usize) -> Scripted {
        self.cut = Some(bytes);
        self.stalled = true;
        self
    }

    /// Answered after this delay.
    pub fn after(mut self, delay: Duration) -> Scripted {
        self.delay = delay;
        self
    }
}

/// A request as a [`ScriptedServer`] read it: its line and headers (the `Authorization`
/// header's value is `[REDACTED]`, as the mock records it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET /path?query HTTP/1.1`.
    pub line: String,
    /// Every header as sent (name as sent, value trimmed), in order.
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// The request target: `/path?query`.
    pub fn target(&self) -> &str {
        self.line.split(' ').nth(1).unwrap_or_default()
    }

    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP/1.1 server on `127.0.0.1:0` answering each request with the next [`Scripted`]
/// answer (the last one again once they run out), or the one a route picks for it
/// ([`ScriptedServer::routed`]), one connection at a time, each closed after its answer; it
/// records each request's head. Dropping it stops it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// use mpt_mock::{Scripted, ScriptedServer};
/// let server = ScriptedServer::start(vec![
///     Scripted::answer(502, "text/html", "<h1>Bad Gateway</h1>"),
///     Scripted::answer(200, "application/json", r#"{"id":"TKN-1"}"#),
/// ])
/// .await?;
/// assert!(server.base_url().starts_with("http://127.0.0.1:"));
/// assert!(server.request_lines().is_empty());
/// # Ok(()) }
/// ```
pub struct ScriptedServer {
    base_url: String,
    heads: Arc<Mutex<Vec<RequestHead>>>,
    _shutdown: watch::Sender<bool>,
}

impl ScriptedServer {
    /// Binds a loopback port and starts answering with `script`, in turn (it must not be
    /// empty: an empty one answers 500).
    pub async fn start(script: Vec<Scripted>) -> io::Result<ScriptedServer> {
        let script = if script.is_empty() {
            vec![Scripted::answer(500, "text/plain", "empty script")]
        } else {
            script
        };
        let mut served = 0usize;
        ScriptedServer::routed(move |_| {
            let answer = script[served.min(script.len() - 1)].clone();
            served += 1;
            answer
        })
        .await
    }

    /// Binds a loopback port and answers each request with what `route` picks for its head
    /// (a server with one rule: by path, by `Accept`, by how many came before).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// use mpt_mock::{Scripted, ScriptedServer};
    /// let server = ScriptedServer::routed(|head| match head.target() {
    ///     "/health" => Scripted::answer(200, "text/plain", "ok"),
    ///     _ => Scripted::answer(404, "text/plain", "no"),
    /// })
    /// .await?;
    /// assert!(server.requests().is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn routed(
        mut route: impl FnMut(&RequestHead) -> Scripted + Send + 'static,
    ) -> io::Result<ScriptedServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let heads: Arc<Mutex<Vec<RequestHead>>> = Arc::default();
        let seen = Arc::clone(&heads);
        let (shutdown, mut stop) = watch::channel(false);
        tokio::spawn(async move {
            // The connections of requests never answered, kept open while the server runs.
            let mut held = Vec::new();
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stop.changed() => return,
                };
                let Ok((mut stream, _)) = accepted else {
                    continue;
                };
                let head = read_request(&mut stream).await;
                let answer = route(&head);
                lock(&seen).push(head);
                if answer.held {
                    held.push(stream);
                    continue;
                }
                if answer.send(&mut stream).await {
                    held.push(stream);
                }
            }
        });
        Ok(ScriptedServer {
            base_url,
            heads,
            _shutdown: shutdown,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The request line of every request received (`GET /path?query HTTP/1.1`), in order.
    pub fn request_lines(&self) -> Vec<String> {
        lock(&self.heads).iter().map(|h| h.line.clone()).collect()
    }

    /// The head of every request received, in order.
    pub fn requests(&self) -> Vec<RequestHead> {
        lock(&self.heads).clone()
    }
}

impl Scripted {
    /// Writes this answer on `stream` (after its delay), or drops the connection; whether the
    /// connection is to be kept open (its body stalled).
    async fn send(&self, stream: &mut tokio::net::TcpStream) -> bool {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.dropped {
            if self.reset {
                // A zero linger: closing sends a reset, and never blocks.
                let _ = stream.set_zero_linger();
            }
            return false;
        }
        let mut head = format!("HTTP/1.1 {} X\r\nconnection: close\r\n", self.status);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.length {
            head.push_str(&format!("content-length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes()).await;
        let sent = self.cut.unwrap_or(usize::MAX).min(self.body.len());
        let _ = stream.write_all(&self.body[..sent]).await;
        if self.stalled {
            return true;
        }
        let _ = stream.shutdown().await;
        false
    }
}

/// Reads one request (head, then the body its `Content-Length` announces, at most 1 MiB);
/// returns its head.
async fn read_request(stream: &mut tokio::net::TcpStream) -> RequestHead {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.lines();
    let line = lines.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| {
            let value = match name.eq_ignore_ascii_case("authorization") {
                true => "[REDACTED]",
                false => value.trim(),
            };
            (name.trim().to_string(), value.to_string())
        })
        .collect();
    let head = RequestHead { line, headers };
    let length = head
        .header("content-length")
        .map(|v| v.parse::<usize>().unwrap_or(0))
        .unwrap_or(0)
        .min(crate::MAX_BODY_BYTES);
    let mut body = vec![0u8; length];
    let _ = stream.read_exact(&mut body).await;
    head
}
