//! A gateway that queues the requests over what it serves in time and answers `504 Gateway
//! Timeout` to those that waited too long: the client finds how many it may have in flight
//! from where the `504`s come, instead of keeping the queue full.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::*;

/// How many requests the gateway serves in time at once: one more in flight waits too long.
const SERVES: u32 = 4;

/// The gateway on loopback, and how many `200`s and `504`s it answered.
struct Queueing {
    base_url: String,
    served: Arc<AtomicU64>,
    timed_out: Arc<AtomicU64>,
}

impl Queueing {
    async fn start() -> Queueing {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (served, timed_out) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let in_flight = Arc::new(AtomicU32::new(0));
        let (s, t) = (served.clone(), timed_out.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (served, timed_out, in_flight) = (s.clone(), t.clone(), in_flight.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let ahead = in_flight.fetch_add(1, Ordering::SeqCst);
                    // The request waits its turn: served when few are ahead, else given up on.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let (status, body) = if ahead < SERVES {
                        served.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", TOKEN_JSON)
                    } else {
                        timed_out.fetch_add(1, Ordering::SeqCst);
                        ("504 Gateway Timeout", "<h1>Gateway Timeout</h1>")
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Queueing {
            base_url,
            served,
            timed_out,
        }
    }
}

/// 400 reads, 16 at a time, through a gateway that serves 4 at once in time and answers `504`
/// to the others: three `504`s in a row cut the pace as a bare `429` does, and few of the
/// client's requests meet one (813 `504`s for 149 served, and 295 ids failed after three
/// attempts: a `504` was a failure to retry, never a sign of the load; now 12 to 17).
#[tokio::test]
async fn a_queueing_gateways_504s_bound_the_requests_in_flight() {
    let gateway = Queueing::start().await;
    let client = Client::builder()
        .base_url(&gateway.base_url)
        .api_token("s3cr3t")
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let results: Vec<_> = futures_util::stream::iter(0..400)
        .map(|_| client.get("TKN-1111-2222"))
        .buffer_unordered(16)
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let (served, timed_out) = (
        gateway.served.load(Ordering::SeqCst),
        gateway.timed_out.load(Ordering::SeqCst),
    );
    assert_eq!(failed, 0, "{served} served, {timed_out} answered 504");
    assert!(
        timed_out * 5 <= served,
        "{timed_out} answered 504 for {served} served"
    );
}
