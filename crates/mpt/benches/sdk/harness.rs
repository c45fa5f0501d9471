//! What every section shares: the counting allocator, thread CPU time, the mock in its own
//! process, the clients under test, samples and the Markdown table.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use mpt::{Client, RetryPolicy};
use mpt_api::types::ApiToken;

/// Counts live heap bytes and their peak.
pub struct Counting;
pub static LIVE: AtomicUsize = AtomicUsize::new(0);
pub static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
pub static ALLOC: Counting = Counting;

pub fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn scaled(n: usize) -> usize {
    let scale: f64 = std::env::var("MPT_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * scale) as usize).max(1)
}

/// The mock server binary, built in release mode if needed.
pub fn mock_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("MPT_MOCK_BIN") {
        return PathBuf::from(bin);
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace())
        .args(["build", "--quiet", "--release", "-p", "mpt-mock"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the mock server failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target"));
    target.join("release/mpt-mock")
}

/// A mock server in its own process, killed on drop.
pub struct Mock {
    pub child: Child,
    pub url: String,
    pub secret: String,
}

impl Mock {
    pub fn spawn(bin: &Path, seed: usize) -> Mock {
        // As long as a real secret (the mock's own default is `mock-admin:` and 32 hex digits; a
        // token's is `idt:TKN-…:` and more): one shorter than a token id is looked for in every
        // id (the check that no secret is sent as an id), which no real one is.
        let secret = format!("bench-admin:{:032x}", std::process::id());
        let mut child = Command::new(bin)
            .args([
                "--port",
                "0",
                "--seed",
                &seed.to_string(),
                "--admin-secret",
                &secret,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the mock server starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("mpt-mock listening on ").map(String::from))
            .expect("the mock server prints its URL");
        std::thread::spawn(move || lines.for_each(drop));
        Mock { child, url, secret }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

pub fn facade(mock: &Mock) -> Client {
    let retry = if std::env::var("MPT_BENCH_NO_RETRY").is_ok() {
        RetryPolicy::none()
    } else {
        RetryPolicy::default()
    };
    // As most users build it: the facade makes its own reqwest client (the per-attempt timeout
    // is that client's default, not a per-request setting).
    Client::builder()
        .base_url(&mock.url)
        .api_token(&mock.secret)
        .retry(retry)
        .build()
        .unwrap()
}

/// The generated client without hooks, authenticating with a default header.
pub fn generated_client(mock: &Mock) -> mpt_api::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {}", mock.secret).parse().unwrap(),
    );
    mpt_api::Client::new_with_client(
        &mock.url,
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap(),
        mpt_api::ClientState::default(),
    )
}

/// Plain reqwest + serde_json, the floor: sends, reads the body, decodes a token.
pub async fn plain(request: reqwest::RequestBuilder) {
    let body = request.send().await.unwrap().bytes().await.unwrap();
    serde_json::from_slice::<ApiToken>(&body).unwrap();
}

pub fn token_url(mock: &Mock, id: &str, suffix: &str) -> String {
    format!("{}/public/v1/accounts/api-tokens/{id}{suffix}", mock.url)
}

pub async fn ids(mock: &Mock) -> Vec<String> {
    facade(mock)
        .list()
        .stream()
        .map_ok(|t| t.id().to_string())
        .try_collect()
        .await
        .unwrap()
}

/// Latencies and client CPU of one variant, accumulated over rounds.
#[derive(Default)]
pub struct Sample {
    pub latencies: Vec<Duration>,
    pub cpu: Duration,
}

impl Sample {
    /// Runs `n` requests, adding their latencies and this thread's CPU time.
    pub async fn run<F, Fut>(&mut self, n: usize, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let cpu = thread_cpu();
        for _ in 0..n {
            let started = Instant::now();
            f().await;
            self.latencies.push(started.elapsed());
        }
        self.cpu += thread_cpu() - cpu;
    }

    pub fn median(&mut self) -> Duration {
        self.latencies.sort();
        self.latencies[self.latencies.len() / 2]
    }

    pub fn cpu_per_request(&self) -> Duration {
        self.cpu / self.latencies.len() as u32
    }
}

pub fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

pub fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}×", a / b)
}

pub struct Table(pub Vec<[String; 4]>);

impl Table {
    pub fn row(&mut self, what: &str, value: String, comparison: String, target: &str) {
        self.0.push([what.into(), value, comparison, target.into()]);
        println!(
            "  {what}: {}  {}",
            self.0.last().unwrap()[1],
            self.0.last().unwrap()[2]
        );
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| measurement | value | comparison | target |\n| --- | --- | --- | --- |\n",
        );
        for r in &self.0 {
            out.push_str(&format!("| {} | {} | {} | {} |\n", r[0], r[1], r[2], r[3]));
        }
        out
    }
}

/// Runs of each side per bulk concurrency, taking turns.
pub const ALTERNATIONS: usize = 7;

pub fn wanted(section: &str) -> bool {
    std::env::var("MPT_BENCH_ONLY")
        .map_or(true, |only| only.split(',').any(|s| s.trim() == section))
}
