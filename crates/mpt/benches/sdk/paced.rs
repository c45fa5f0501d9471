//! `cargo xtask bench --paced`: bulk work against a rate-limited platform, as users feel it, in
//! every dialect a limiter speaks.
//!
//! `ensure_disabled_many` over 2,000 Active tokens against the mock with a 200/s limit (burst
//! 20) and 20 ms added latency, for each of the mock's rate dialects (`--rate-dialect`), the
//! `retry-after` dialect under a fixed window and a sliding log too, the `structured` and `policy`
//! dialects under a sliding log, the `policy` and `retry-after` dialects with the limit dropping to
//! 50/s after 5 s,
//! the `retry-after` dialect with the limit alternating between 200/s and 50/s each second,
//! the `retry-after` dialect with a limit of 50/s that rises to 400/s after 3 s,
//! the `retry-after`, `retry-after-date` and `bare` dialects behind a lockout of 2 s that each
//! refused request extends (`--rate-lockout 2`), the `ratelimit` dialect enforced by 4 replicas
//! behind round robin each stating its own quarter (`--rate-replicas 4`), the `retry-after`
//! dialect counted per connection (25/s, burst 5, for each: `--rate-per-connection`), and two facade clients (two processes, say) sharing one secret's limit (`policy` and
//! `retry-after`, and each lockout). Clients: the facade (default settings, concurrency 16) and plain reqwest at
//! concurrency 16 that retries a refusal (429, 503, 403 with nothing remaining) after its
//! `Retry-After` (seconds or a date), else after the reset the headers give, else a second
//! (not behind a lockout: it never leaves one quiet, and never ends);
//! the official Python client too for the `policy` dialect. Each run gets a fresh mock (in this
//! process, on its own runtime: the pace, not the CPU, is measured). Printed last, one JSON
//! object per line per dialect and client; `ideal_s` is the facade's own requests the limit let
//! through at the limit's rate (the limit in force, when it changes).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use mpt_mock::{MockServer, Operation, RateChange, RateDialect, RateLimit, RateWindow};

use crate::python::{PythonError, python_client};

const TOKENS: usize = 2000;
const RATE: f64 = 200.0;
const BURST: u32 = 20;
const LATENCY_MS: u64 = 20;
const CONCURRENCY: usize = 16;
/// The limit after the change, and when.
const DROPPED: f64 = 50.0;
const DROP_AFTER_S: f64 = 5.0;
/// A limit that rises once the pace settled: from `RISE_FROM` to `RISEN` after `RISE_AFTER_S`.
const RISE_FROM: f64 = 50.0;
const RISEN: f64 = 400.0;
const RISE_AFTER_S: f64 = 3.0;
/// A refusal's lockout, extended by each request refused during it.
const LOCKOUT: Duration = Duration::from_secs(2);
/// A limit counted per connection: this rate (and a burst of `PER_CONNECTION_BURST`) for each
/// of a caller's connections; 16 connections busy (the concurrency) may send 400 a second.
const PER_CONNECTION: f64 = 25.0;
const PER_CONNECTION_BURST: u32 = 5;

/// One setting of the limiter.
#[derive(Clone, Copy)]
struct Setting {
    dialect: RateDialect,
    window: RateWindow,
    change: bool,
    /// The limit alternates between `RATE` and `DROPPED` each second.
    alternating: bool,
    /// The limit is `RISE_FROM` until `RISE_AFTER_S`, then `RISEN`.
    rising: bool,
    /// A refusal locks the secret out for [`LOCKOUT`], extended by each request refused then.
    lockout: bool,
    /// The limit is enforced by [`REPLICAS`] replicas behind round robin, each stating its own
    /// share of it.
    replicas: bool,
    /// The limit is counted per connection: [`PER_CONNECTION`] a second for each.
    per_connection: bool,
}

/// The replicas of a replicated limit.
const REPLICAS: u32 = 4;

impl Setting {
    fn name(&self) -> String {
        let mut name = self.dialect.name().to_string();
        match self.window {
            RateWindow::FixedWindow => name.push_str("+fixed-window"),
            RateWindow::SlidingLog => name.push_str("+sliding-log"),
            _ => {}
        }
        if self.change {
            name.push_str("+drop-to-50");
        }
        if self.alternating {
            name.push_str("+alternating-50");
        }
        if self.rising {
            name.push_str("+rise-50-to-400");
        }
        if self.lockout {
            name.push_str("+lockout-2s");
        }
        if self.replicas {
            name.push_str(&format!("+replicas-{REPLICAS}"));
        }
        if self.per_connection {
            name.push_str("+per-connection");
        }
        name
    }

    /// The limit a caller may reach: the per-connection rate over as many connections as the
    /// concurrency, for a limit counted per connection.
    fn limit_per_s(&self) -> f64 {
        if self.per_connection {
            PER_CONNECTION * CONCURRENCY as f64
        } else {
            RATE
        }
    }

    /// The least time `requests` can take under this limit.
    fn ideal(&self, requests: u64) -> f64 {
        let requests = requests as f64;
        if self.per_connection {
            return requests / self.limit_per_s();
        }
        let before = RATE * DROP_AFTER_S;
        if self.rising {
            let before = RISE_FROM * RISE_AFTER_S;
            return if requests > before {
                RISE_AFTER_S + (requests - before) / RISEN
            } else {
                requests / RISE_FROM
            };
        }
        if self.alternating {
            // A second at RATE, a second at DROPPED, and so on.
            let pairs = (requests / (RATE + DROPPED)).floor();
            let left = requests - pairs * (RATE + DROPPED);
            let last = if left <= RATE {
                left / RATE
            } else {
                1.0 + (left - RATE) / DROPPED
            };
            return 2.0 * pairs + last;
        }
        if self.change && requests > before {
            DROP_AFTER_S + (requests - before) / DROPPED
        } else {
            requests / RATE
        }
    }
}

/// A rate-limited mock with `TOKENS` Active tokens, served from a runtime of its own.
struct Limited {
    server: MockServer,
    ids: Vec<String>,
    _runtime: tokio::runtime::Runtime,
}

impl Limited {
    fn start(setting: Setting) -> Limited {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(async {
            let limit = match (setting.rising, setting.per_connection) {
                (true, _) => RateLimit {
                    per_second: RISE_FROM,
                    burst: BURST,
                },
                (_, true) => RateLimit {
                    per_second: PER_CONNECTION,
                    burst: PER_CONNECTION_BURST,
                },
                _ => RateLimit {
                    per_second: RATE,
                    burst: BURST,
                },
            };
            let mut builder = MockServer::builder()
                .rate_limit(limit)
                .rate_dialect(setting.dialect)
                .rate_window(setting.window)
                .faults(mpt_mock::Faults::none().with_latency(Duration::from_millis(LATENCY_MS)))
                .seed(TOKENS);
            let dropped = RateLimit {
                per_second: DROPPED,
                burst: BURST,
            };
            if setting.change {
                builder = builder.rate_change(RateChange {
                    after: Duration::from_secs_f64(DROP_AFTER_S),
                    to: dropped,
                });
            }
            if setting.lockout {
                builder = builder.rate_lockout(LOCKOUT);
            }
            if setting.replicas {
                builder = builder.rate_replicas(REPLICAS);
            }
            if setting.per_connection {
                builder = builder.rate_per_connection(true);
            }
            if setting.rising {
                builder = builder.rate_change(RateChange {
                    after: Duration::from_secs_f64(RISE_AFTER_S),
                    to: RateLimit {
                        per_second: RISEN,
                        burst: BURST,
                    },
                });
            }
            if setting.alternating {
                builder = builder.rate_alternation(RateChange {
                    after: Duration::from_secs(1),
                    to: dropped,
                });
            }
            builder.start().await.unwrap()
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

    fn client(&self) -> mpt::Client {
        mpt::Client::builder()
            .base_url(self.base())
            .api_token(self.server.admin_secret())
            .build()
            .unwrap()
    }

    fn run(&self, client: &'static str, failed: u64, wall: Duration) -> Run {
        Run {
            client,
            requests: self.requests(),
            throttled: self.server.throttled(),
            failed,
            wall,
            walls: None,
        }
    }
}

/// One client's figures.
struct Run {
    client: &'static str,
    requests: u64,
    throttled: u64,
    failed: u64,
    wall: Duration,
    /// Two clients: each one's wall, the faster first (how fairly they shared the limit).
    walls: Option<(Duration, Duration)>,
}

fn facade(rt: &tokio::runtime::Runtime, setting: Setting) -> Run {
    let mock = Limited::start(setting);
    let client = mock.client();
    let started = Instant::now();
    let report = rt.block_on(client.ensure_disabled_many(&mock.ids, CONCURRENCY));
    mock.run("mpt", report.failed().count() as u64, started.elapsed())
}

/// One client's bulk job: its failures and its wall since `started`.
async fn timed(client: &mpt::Client, ids: &[String], started: Instant) -> (u64, Duration) {
    let report = client.ensure_disabled_many(ids, CONCURRENCY).await;
    (report.failed().count() as u64, started.elapsed())
}

/// Two clients of their own (two processes' worth of pacers) on one secret, half the ids each.
fn two_clients(rt: &tokio::runtime::Runtime, setting: Setting) -> Run {
    let mock = Limited::start(setting);
    let (a, b) = (mock.client(), mock.client());
    let started = Instant::now();
    let (left, right) = mock.ids.split_at(mock.ids.len() / 2);
    let ((fa, wa), (fb, wb)) =
        rt.block_on(async { tokio::join!(timed(&a, left, started), timed(&b, right, started)) });
    let mut run = mock.run("mpt-two-clients", fa + fb, started.elapsed());
    run.walls = Some((wa.min(wb), wa.max(wb)));
    run
}

/// How long a naive client waits after a refusal: `Retry-After` (seconds or a date), else the
/// reset the headers give (epoch or delta seconds), else a second.
fn naive_wait(headers: &reqwest::header::HeaderMap) -> Duration {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(after) = text("retry-after") {
        if let Ok(secs) = after.trim().parse::<u64>() {
            return Duration::from_secs(secs);
        }
        if let Ok(at) = mpt::chrono::DateTime::parse_from_rfc2822(after) {
            let now = text("date")
                .and_then(|d| mpt::chrono::DateTime::parse_from_rfc2822(d).ok())
                .map_or_else(|| mpt::chrono::Utc::now().timestamp(), |d| d.timestamp());
            return Duration::from_secs((at.timestamp() - now).max(0) as u64);
        }
    }
    let reset = text("x-ratelimit-reset")
        .or_else(|| text("ratelimit-reset"))
        .and_then(|r| r.trim().parse::<u64>().ok());
    match reset {
        Some(epoch) if epoch > 1_000_000_000 => {
            let now = mpt::chrono::Utc::now().timestamp() as u64;
            Duration::from_secs(epoch.saturating_sub(now).max(1))
        }
        Some(delta) => Duration::from_secs(delta.max(1)),
        None => Duration::from_secs(1),
    }
}

fn plain(rt: &tokio::runtime::Runtime, setting: Setting) -> Run {
    let mock = Limited::start(setting);
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
                    for _ in 0..50 {
                        let Ok(answer) = http.post(&url).bearer_auth(&secret).send().await else {
                            continue;
                        };
                        let status = answer.status().as_u16();
                        let exhausted = status == 403
                            && answer
                                .headers()
                                .get("x-ratelimit-remaining")
                                .is_some_and(|v| v.as_bytes() == b"0");
                        if status != 429 && status != 503 && !exhausted {
                            if !answer.status().is_success() {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                            let _ = answer.bytes().await;
                            return;
                        }
                        tokio::time::sleep(naive_wait(answer.headers())).await;
                    }
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>(),
    );
    mock.run(
        "reqwest-c16",
        failed.load(Ordering::Relaxed),
        started.elapsed(),
    )
}

fn python(setting: Setting) -> Result<Run, PythonError> {
    let py = python_client()?;
    let mock = Limited::start(setting);
    let ids_file = std::env::temp_dir().join(format!("mpt-paced-ids-{}", std::process::id()));
    std::fs::write(&ids_file, mock.ids.join("\n"))?;
    let out = Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_paced.py"))
        .arg(mock.base())
        .arg(mock.server.admin_secret())
        .arg(&ids_file)
        .output()?;
    let _ = std::fs::remove_file(&ids_file);
    let said = || PythonError::Output(String::from_utf8_lossy(&out.stderr).into_owned());
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| said())?;
    let wall = Duration::try_from_secs_f64(parsed["wall_s"].as_f64().unwrap_or(f64::NAN))
        .map_err(|_| said())?;
    let failed = parsed["failed"].as_u64().unwrap_or(u64::MAX);
    Ok(mock.run("python", failed, wall))
}

/// The settings run: every dialect on a token bucket, two more window kinds, a drop.
fn settings() -> Vec<Setting> {
    let bucket = |dialect| Setting {
        dialect,
        window: RateWindow::TokenBucket,
        change: false,
        alternating: false,
        rising: false,
        lockout: false,
        replicas: false,
        per_connection: false,
    };
    let mut all: Vec<Setting> = RateDialect::ALL.into_iter().map(bucket).collect();
    // Gateways that state nothing (Envoy's global limit: a fixed window, a bare `429`; HAProxy's
    // stick table: a sliding log) as well as a `Retry-After`.
    for dialect in [RateDialect::RetryAfter, RateDialect::Bare] {
        for window in [RateWindow::FixedWindow, RateWindow::SlidingLog] {
            all.push(Setting {
                window,
                ..bucket(dialect)
            });
        }
    }
    // A stated rate counted by a sliding log: the remainder spent at once stays in the log.
    for dialect in [RateDialect::Structured, RateDialect::Policy] {
        all.push(Setting {
            window: RateWindow::SlidingLog,
            ..bucket(dialect)
        });
    }
    // A drop to 50/s after 5 s, stated and learned from refusals alone.
    for dialect in [RateDialect::Policy, RateDialect::RetryAfter] {
        all.push(Setting {
            change: true,
            ..bucket(dialect)
        });
    }
    // A limit that changes every second, learned from refusals alone.
    all.push(Setting {
        alternating: true,
        ..bucket(RateDialect::RetryAfter)
    });
    // Replicas behind round robin, each stating its own quarter of the limit (tester round 17
    // F2: paced at the stated quarter).
    all.push(Setting {
        replicas: true,
        ..bucket(RateDialect::Legacy)
    });
    // A limit that rises once the pace settled (50/s, then 400/s), learned from refusals alone.
    all.push(Setting {
        rising: true,
        ..bucket(RateDialect::RetryAfter)
    });
    // A limit counted per connection (Envoy's local rate limit per downstream connection),
    // learned from refusals alone (tester round 17 F3: paced at one connection's share).
    all.push(Setting {
        per_connection: true,
        ..bucket(RateDialect::RetryAfter)
    });
    // A lockout that each refused request extends (fail2ban-like), in the forms it may ask.
    for dialect in [
        RateDialect::RetryAfter,
        RateDialect::RetryAfterDate,
        RateDialect::Bare,
    ] {
        all.push(Setting {
            lockout: true,
            ..bucket(dialect)
        });
    }
    all
}

/// Runs every setting for every client and prints a line of JSON each, last. `MPT_BENCH_DIALECT`
/// (a comma-separated list of setting names) runs some only.
pub fn paced(rt: &tokio::runtime::Runtime) {
    println!(
        "paced: ensure_disabled_many over {TOKENS} tokens, {RATE}/s burst {BURST}, {LATENCY_MS} ms latency, concurrency {CONCURRENCY}"
    );
    let only = std::env::var("MPT_BENCH_DIALECT").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|w| w.trim() == name))
    };
    let mut lines = Vec::new();
    for setting in settings().into_iter().filter(|s| wanted(&s.name())) {
        let mut runs = vec![facade(rt, setting)];
        if !setting.lockout {
            // Under a lockout that each refusal extends, sixteen naive loops sleeping the
            // `Retry-After` never leave it quiet: they ran for over 40 min without an end.
            runs.push(plain(rt, setting));
        }
        let bucket = setting.window == RateWindow::TokenBucket
            && !setting.replicas
            && !setting.change
            && !setting.alternating
            && !setting.rising
            && !setting.per_connection
            && !setting.lockout;
        if bucket && setting.dialect == RateDialect::Policy {
            runs.push(two_clients(rt, setting));
            match python(setting) {
                Ok(run) => runs.push(run),
                Err(why) => println!("python: skipped ({why})"),
            }
        }
        if bucket && setting.dialect == RateDialect::RetryAfter {
            // Two processes behind a limit that only refuses: each learns it from refusals.
            runs.push(two_clients(rt, setting));
        }
        if setting.lockout {
            // Two processes on one secret share one lockout.
            runs.push(two_clients(rt, setting));
        }
        // The work the facade needed (its requests the limit let through), at the limit's rate.
        let ideal = setting.ideal(runs[0].requests - runs[0].throttled);
        for run in &runs {
            let mut line = serde_json::json!({
                "bench": "paced",
                "dialect": setting.name(),
                "client": run.client,
                "tokens": TOKENS,
                "limit_per_s": setting.limit_per_s(),
                "latency_ms": LATENCY_MS,
                "requests": run.requests,
                "throttled": run.throttled,
                "failed": run.failed,
                "wall_s": (run.wall.as_secs_f64() * 100.0).round() / 100.0,
                "ideal_s": (ideal * 100.0).round() / 100.0,
            });
            if let Some((faster, slower)) = run.walls {
                let round = |d: Duration| (d.as_secs_f64() * 100.0).round() / 100.0;
                line["faster_wall_s"] = round(faster).into();
                line["slower_wall_s"] = round(slower).into();
            }
            lines.push(line);
        }
    }
    for line in lines {
        println!("{line}");
    }
}
