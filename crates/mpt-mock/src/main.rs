//! `mpt-mock`: run the mock Marketplace API tokens server until Ctrl-C.

use std::time::Duration;

use clap::{Parser, ValueEnum};
use mpt_mock::{MockServer, NoopTransitions};

#[derive(Parser)]
#[command(
    name = "mpt-mock",
    about = "A stateful fake of the Marketplace API tokens resource, on loopback"
)]
struct Args {
    /// Loopback port to listen on (0 = any free port).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Active tokens to seed in the default account (ACC-0000-0001).
    #[arg(long, default_value_t = 0)]
    seed: usize,
    /// Admin secret to accept (default: a random one, printed at start).
    #[arg(long, env = "MPT_MOCK_ADMIN_SECRET", hide_env_values = true)]
    admin_secret: Option<String>,
    /// What enabling an Active token (or disabling a Disabled one) answers.
    #[arg(long, value_enum, default_value_t = Noop::Refused)]
    noop_transitions: Noop,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Limit each API secret to this many requests a second (e.g. `200/s`, a whole number from 1):
    /// a request over it is answered 429 with Retry-After; every answer carries RateLimit-*
    /// headers. Off unless given.
    #[arg(long, value_name = "N/s")]
    rate_limit: Option<String>,
    /// With --rate-limit: how many requests may come at once (the bucket's size).
    #[arg(long, value_name = "N", default_value_t = 20)]
    rate_burst: u32,
    /// With --rate-limit: how the limit tells callers where they stand and refuses them:
    /// policy (RateLimit-Limit/Remaining/Reset and RateLimit-Policy; 429 + Retry-After),
    /// ratelimit (the same without RateLimit-Policy), structured (draft 08+ RateLimit-Policy
    /// and RateLimit fields), x-ratelimit (X-RateLimit-* with an epoch reset; 403 when over),
    /// retry-after (429 + Retry-After seconds only), retry-after-date (429 + Retry-After as an
    /// HTTP date), unavailable (503 + Retry-After) or bare (429, no header).
    #[arg(long, value_name = "DIALECT", default_value = "policy")]
    rate_dialect: mpt_mock::RateDialect,
    /// With --rate-limit: how requests are counted.
    #[arg(long, value_enum, value_name = "KIND", default_value_t = WindowKind::TokenBucket)]
    rate_window: WindowKind,
    /// With --rate-limit: the limit changes after this many seconds, as SECONDS:RATE (e.g.
    /// `5:50/s`; bursts of --rate-burst).
    #[arg(long, value_name = "SECONDS:N/s")]
    rate_change: Option<String>,
    /// With --rate-limit: the limit alternates, as SECONDS:RATE (e.g. `1:50/s`: --rate-limit for
    /// a second, then 50/s for a second, and so on; bursts of --rate-burst).
    #[arg(long, value_name = "SECONDS:N/s", conflicts_with = "rate_change")]
    rate_alternate: Option<String>,
    /// With --rate-limit: a refusal locks its API secret out for this many seconds (e.g. `2`),
    /// and every request refused during the lockout extends it to its arrival plus as many
    /// (Retry-After of that length; with retry-after-date, the lockout's end cut to the second).
    #[arg(long, value_name = "SECONDS", value_parser = parse_lockout)]
    rate_lockout: Option<Duration>,
    /// With --rate-limit: enforced by this many replicas behind round robin, each counting its
    /// own share of the limit and stating it (e.g. `4`: four buckets of 50/s for 200/s).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    rate_replicas: u32,
    /// With --rate-limit: the limit is counted per TCP connection (each of a caller's
    /// connections against the whole limit), as a limiter keyed by connection counts.
    #[arg(long)]
    rate_per_connection: bool,
    /// Also seed a token `client` in the Client account ACC-0000-0001 whose secret is this, to
    /// call the mock as a Client account (scoped to its own tokens) rather than as Operations.
    #[arg(long, env = "MPT_MOCK_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Another account, as ID:TYPE (TYPE is Client, Vendor or Operations), with every known
    /// module enabled; repeat for more. ACC-0000-0001 (Client), ACC-0000-0002 (Vendor) and
    /// ACC-0000-0003 (Operations, the admin secret's) are always there.
    #[arg(long = "account", value_name = "ID:TYPE", value_parser = parse_account)]
    accounts: Vec<(String, String)>,
}

/// An `--account` value that is not `ID:TYPE`.
#[derive(Debug, thiserror::Error)]
enum AccountError {
    /// No colon.
    #[error("{0:?}: expected ID:TYPE, e.g. ACC-1234-5678:Vendor")]
    Shape(String),
    /// Nothing before the colon.
    #[error("{0:?}: the account id is empty")]
    EmptyId(String),
    /// Not a known type.
    #[error("{0:?} is not an account type (Client, Vendor or Operations)")]
    Kind(String),
}

/// `ACC-1234-5678:Vendor` → (id, type).
fn parse_account(value: &str) -> Result<(String, String), AccountError> {
    let (id, kind) = value
        .split_once(':')
        .ok_or_else(|| AccountError::Shape(value.to_string()))?;
    if id.trim().is_empty() {
        return Err(AccountError::EmptyId(value.to_string()));
    }
    match kind {
        "Client" | "Vendor" | "Operations" => Ok((id.trim().to_string(), kind.to_string())),
        other => Err(AccountError::Kind(other.to_string())),
    }
}

/// A `--rate-lockout` that is not a number of seconds from 0.001 to 86400.
#[derive(Debug, thiserror::Error)]
#[error("{0:?}: expected seconds from 0.001 to 86400, e.g. 2")]
struct LockoutError(String);

/// `--rate-lockout 2` → two seconds.
fn parse_lockout(value: &str) -> Result<Duration, LockoutError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| (0.001..=86400.0).contains(s))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| LockoutError(value.to_string()))
}

/// `--rate-window`: the kinds of `RateWindow`.
#[derive(Clone, Copy, ValueEnum)]
enum WindowKind {
    /// A token bucket: the rate's refill, --rate-burst deep.
    TokenBucket,
    /// The rate's count in each whole second.
    FixedWindow,
    /// The rate's count in any one second.
    SlidingLog,
}

/// `--noop-transitions`: the values of `NoopTransitions` (the former `reject`/`accept` work too).
#[derive(Clone, Copy, ValueEnum)]
enum Noop {
    /// 400 Bad Request, as the platform answers.
    #[value(alias = "reject")]
    Refused,
    /// 200 with the unchanged token.
    #[value(alias = "accept")]
    Accepted,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let mut builder = MockServer::builder()
            .port(args.port)
            .seed(args.seed)
            // Nobody reads the record of a standalone server: keep it lean.
            .record_requests(false)
            .noop_transitions(match args.noop_transitions {
                Noop::Refused => NoopTransitions::Refused,
                Noop::Accepted => NoopTransitions::Accepted,
            })
            .faults(mpt_mock::Faults::none().with_latency(Duration::from_millis(args.latency_ms)));
        if let Some(rate) = &args.rate_limit {
            match mpt_mock::RateLimit::parse(rate, args.rate_burst) {
                Ok(limit) => builder = builder.rate_limit(limit),
                Err(e) => {
                    eprintln!("error: --rate-limit {e}");
                    return std::process::ExitCode::from(2);
                }
            }
        }
        builder = builder
            .rate_dialect(args.rate_dialect)
            .rate_window(match args.rate_window {
                WindowKind::TokenBucket => mpt_mock::RateWindow::TokenBucket,
                WindowKind::FixedWindow => mpt_mock::RateWindow::FixedWindow,
                WindowKind::SlidingLog => mpt_mock::RateWindow::SlidingLog,
            });
        if let Some(lockout) = args.rate_lockout {
            builder = builder.rate_lockout(lockout);
        }
        builder = builder.rate_replicas(args.rate_replicas);
        builder = builder.rate_per_connection(args.rate_per_connection);
        if let Some(change) = &args.rate_change {
            match mpt_mock::RateChange::parse(change, args.rate_burst) {
                Ok(change) => builder = builder.rate_change(change),
                Err(e) => {
                    eprintln!("error: --rate-change {e}");
                    return std::process::ExitCode::from(2);
                }
            }
        }
        if let Some(change) = &args.rate_alternate {
            match mpt_mock::RateChange::parse(change, args.rate_burst) {
                Ok(change) => builder = builder.rate_alternation(change),
                Err(e) => {
                    eprintln!("error: --rate-alternate {e}");
                    return std::process::ExitCode::from(2);
                }
            }
        }
        if let Some(secret) = args.admin_secret {
            builder = builder.admin_secret(secret);
        }
        for (id, kind) in args.accounts {
            let name = format!("{kind} account {id}");
            builder = builder.account(id, name, kind);
        }
        let server = match builder.start().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen on 127.0.0.1:{}: {e}", args.port);
                return std::process::ExitCode::from(2);
            }
        };
        if let Some(secret) = args.client_secret {
            server.seed_token(mpt_mock::SeedToken::named("client").with_secret(secret));
        }
        println!("mpt-mock listening on {}", server.base_url());
        println!("admin secret: {}", server.admin_secret());
        println!(
            "try: curl -H 'Authorization: Bearer {}' {}{}",
            server.admin_secret(),
            server.base_url(),
            mpt_mock::BASE_PATH
        );
        let _ = tokio::signal::ctrl_c().await;
        println!("stopping after {} requests", server.total_requests());
        std::process::ExitCode::SUCCESS
    })
}
