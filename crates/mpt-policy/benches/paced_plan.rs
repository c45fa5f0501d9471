//! `cargo xtask bench --paced`, its plan part: `plan` over 50 accounts of 200 tokens each
//! against the mock limited to 50 requests a second (burst 5), the facade pacing itself by
//! default. Prints one JSON line: the requests sent, those refused, the accounts that failed,
//! the wall time and the floor (requests over the rate). The target: within 1.15x of the floor.

use std::time::{Duration, Instant};

use mpt_mock::{MockServer, Operation, RateLimit};
use mpt_policy::{Policy, PolicyClient};

const ACCOUNTS: usize = 50;
const TOKENS: usize = 200;
const RATE: f64 = 50.0;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a listing; there is nothing to list.
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let accounts: Vec<String> = (1..=ACCOUNTS).map(|i| format!("ACC-9000-{i:04}")).collect();
    let server = runtime.block_on(async {
        let mut builder = MockServer::builder().rate_limit(RateLimit {
            per_second: RATE,
            burst: 5,
        });
        for id in &accounts {
            builder = builder.account(id.clone(), format!("Bench {id}"), "Client");
        }
        builder.start().await.unwrap()
    });
    let mut text = String::new();
    for id in &accounts {
        server.seed_tokens(TOKENS, "t", id);
        text.push_str(&format!(
            "[[accounts]]\nid = \"{id}\"\nunmanaged = \"ignore\"\n[[accounts.tokens]]\nname = \"t-1\"\nmodules = [\"MOD-1756\"]\n"
        ));
    }
    let policy = Policy::from_toml(&text, "bench.toml").unwrap();
    let client = mpt::Client::builder()
        .base_url(format!("{}/public/v1", server.base_url()))
        .api_token(server.admin_secret())
        .build()
        .unwrap();
    let started = Instant::now();
    let planned = runtime.block_on(client.plan(&policy));
    let wall = started.elapsed();
    let requests = server.requests(Operation::List) + server.throttled();
    let floor = Duration::from_secs_f64(requests as f64 / RATE);
    println!(
        "{}",
        serde_json::json!({
            "bench": "paced-plan",
            "accounts": ACCOUNTS,
            "tokens_per_account": TOKENS,
            "limit_per_s": RATE,
            "requests": requests,
            "throttled": server.throttled(),
            "failed_accounts": if planned.is_ok() { 0 } else { ACCOUNTS },
            "wall_s": (wall.as_secs_f64() * 100.0).round() / 100.0,
            "floor_s": (floor.as_secs_f64() * 100.0).round() / 100.0,
            "ratio": (wall.as_secs_f64() / floor.as_secs_f64() * 1000.0).round() / 1000.0,
        })
    );
}
