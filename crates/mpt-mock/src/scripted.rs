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

    /// Answered after this delay.
    pub fn after(mut self, delay: Duration) -> Scripted {
        self.delay = delay;
        self
    }
}

/// A tiny HTTP/1.1 server on `127.0.0.1:0` answering each request with the next [`Scripted`]
/// answer (the last one again once they run out), one connection at a time, each closed after
/// its answer; it records each request line. Dropping it stops it.
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
    lines: Arc<Mutex<Vec<String>>>,
    _shutdown: watch::Sender<bool>,
}

impl ScriptedServer {
    /// Binds a loopback port and starts answering with `script` (it must not be empty: an
    /// empty one answers 500).
    pub async fn start(script: Vec<Scripted>) -> io::Result<ScriptedServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&lines);
        let (shutdown, mut stop) = watch::channel(false);
        let script = if script.is_empty() {
            vec![Scripted::answer(500, "text/plain", "empty script")]
        } else {
            script
        };
        tokio::spawn(async move {
            let mut served = 0usize;
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
                let line = read_request(&mut stream).await;
                lock(&seen).push(line);
                let answer = &script[served.min(script.len() - 1)];
                served += 1;
                if answer.held {
                    held.push(stream);
                    continue;
                }
                if !answer.delay.is_zero() {
                    tokio::time::sleep(answer.delay).await;
                }
                if answer.dropped {
                    if answer.reset {
                        // A zero linger: closing sends a reset, and never blocks.
                        let _ = stream.set_zero_linger();
                    }
                    continue;
                }
                let mut head = format!("HTTP/1.1 {} X\r\nconnection: close\r\n", answer.status);
                for (name, value) in &answer.headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                if answer.length {
                    head.push_str(&format!("content-length: {}\r\n", answer.body.len()));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes()).await;
                let sent = answer.cut.unwrap_or(usize::MAX).min(answer.body.len());
                let _ = stream.write_all(&answer.body[..sent]).await;
                let _ = stream.shutdown().await;
            }
        });
        Ok(ScriptedServer {
            base_url,
            lines,
            _shutdown: shutdown,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The request line of every request received (`GET /path?query HTTP/1.1`), in order.
    pub fn request_lines(&self) -> Vec<String> {
        lock(&self.lines).clone()
    }
}

/// Reads one request (head, then the body its `Content-Length` announces, at most 1 MiB);
/// returns its request line.
async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0)
        .min(crate::MAX_BODY_BYTES);
    let mut body = vec![0u8; length];
    let _ = stream.read_exact(&mut body).await;
    head.lines().next().unwrap_or("").to_string()
}
