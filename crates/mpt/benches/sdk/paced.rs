//! `cargo xtask bench --paced`: bulk work against a rate-limited platform, as users feel it.
//!
//! `ensure_disabled_many` over 2,000 Active tokens against the mock with `--rate-limit 200/s`,
//! burst 20 and 20 ms added latency, for the facade (default settings, concurrency 64), plain
//! reqwest at concurrency 16 and 64 that sleeps for `Retry-After` and retries on 429, and the
//! official Python client, sequential. Each client gets a fresh mock (in this process, on its own
//! runtime: the pace, not the CPU, is measured). Printed last, one JSON object per line per
//! client; `ideal_s` is the facade's own request count divided by the rate.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use mpt_mock::{MockServer, Operation, RateLimit};

use crate::python::python_client;

const TOKENS: usize = 2000;
const RATE: f64 = 200.0;
const BURST: u32 = 20;
const LATENCY_MS: u64 = 20;

/// A rate-limited mock with `TOKENS` Active tokens, served from a runtime of its own.
struct Limited {
    server: MockServer,
    ids: Vec<String>,
    _runtime: tokio::runtime::Runtime,
}

impl Limited {
    fn start() -> Limited {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(async {
            MockServer::builder()
                .rate_limit(RateLimit {
                    per_second: RATE,
                    burst: BURST,
                })
                .faults(mpt_mock::Faults::none().with_latency(Duration::from_millis(LATENCY_MS)))
                .seed(TOKENS)
                .start()
                .await
                .unwrap()
        });
        let ids = server
            .live_token_names()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        Limited {
            server,
            ids,
            _runtime: runtime,
        }
    }

    /// Requests it received, refused ones included.
    fn requests(&self) -> u64 {
        Operation::ALL
            .iter()
            .map(|op| self.server.requests(*op))
            .sum::<u64>()
            + self.server.throttled()
    }

    fn base(&self) -> String {
        format!("{}/public/v1", self.server.base_url())
    }
}

/// One client's figures.
struct Run {
    client: &'static str,
    requests: u64,
    throttled: u64,
    failed: u64,
    wall: Duration,
}

fn facade(rt: &tokio::runtime::Runtime) -> Run {
    let mock = Limited::start();
    let client = mpt::Client::builder()
        .base_url(mock.base())
        .api_token(mock.server.admin_secret())
        .build()
        .unwrap();
    let started = Instant::now();
    let report = rt.block_on(client.ensure_disabled_many(&mock.ids, 64));
    Run {
        client: "mpt",
        requests: mock.requests(),
        throttled: mock.server.throttled(),
        failed: report.failed().count() as u64,
        wall: started.elapsed(),
    }
}

fn plain(rt: &tokio::runtime::Runtime, concurrency: usize, name: &'static str) -> Run {
    let mock = Limited::start();
    let http = reqwest::Client::new();
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    rt.block_on(
        stream::iter(mock.ids.clone())
            .map(|id| {
                let (http, failed) = (http.clone(), failed.clone());
                let url = format!("{}/accounts/api-tokens/{id}/disable", mock.base());
                let secret = mock.server.admin_secret().to_string();
                async move {
                    for _ in 0..20 {
                        let Ok(answer) = http.post(&url).bearer_auth(&secret).send().await else {
                            continue;
                        };
                        if answer.status().as_u16() != 429 {
                            if !answer.status().is_success() {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                            let _ = answer.bytes().await;
                            return;
                        }
                        let wait = answer
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                            .unwrap_or(1);
                        tokio::time::sleep(Duration::from_secs(wait)).await;
                    }
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<()>>(),
    );
    Run {
        client: name,
        requests: mock.requests(),
        throttled: mock.server.throttled(),
        failed: failed.load(Ordering::Relaxed),
        wall: started.elapsed(),
    }
}

fn python() -> Result<Run, String> {
    let py = python_client()?;
    let mock = Limited::start();
    let ids_file = std::env::temp_dir().join(format!("mpt-paced-ids-{}", std::process::id()));
    std::fs::write(&ids_file, mock.ids.join("\n")).map_err(|e| e.to_string())?;
    let out = Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_paced.py"))
        .arg(mock.base())
        .arg(mock.server.admin_secret())
        .arg(&ids_file)
        .output()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&ids_file);
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("python said: {}", String::from_utf8_lossy(&out.stderr)))?;
    Ok(Run {
        client: "python",
        requests: mock.requests(),
        throttled: mock.server.throttled(),
        failed: parsed["failed"].as_u64().unwrap_or(u64::MAX),
        wall: Duration::from_secs_f64(parsed["wall_s"].as_f64().unwrap_or(f64::NAN)),
    })
}

/// Runs every client and prints a line of JSON each, last.
pub fn paced(rt: &tokio::runtime::Runtime) {
    println!(
        "paced: ensure_disabled_many over {TOKENS} tokens, {RATE}/s burst {BURST}, {LATENCY_MS} ms latency"
    );
    let mut runs = vec![
        facade(rt),
        plain(rt, 16, "reqwest-c16"),
        plain(rt, 64, "reqwest-c64"),
    ];
    match python() {
        Ok(run) => runs.push(run),
        Err(why) => println!("python: skipped ({why})"),
    }
    let ideal = runs[0].requests as f64 / RATE;
    for run in &runs {
        println!(
            "{}",
            serde_json::json!({
                "bench": "paced",
                "client": run.client,
                "tokens": TOKENS,
                "limit_per_s": RATE,
                "latency_ms": LATENCY_MS,
                "requests": run.requests,
                "throttled": run.throttled,
                "failed": run.failed,
                "wall_s": (run.wall.as_secs_f64() * 100.0).round() / 100.0,
                "ideal_s": (ideal * 100.0).round() / 100.0,
            })
        );
    }
}
