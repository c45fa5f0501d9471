//! What a `mpt tokens` command runs in: the settings (flags, then environment, then profile),
//! the client they make, tracing for `--verbose`, signals, and a runtime.

use mpt::Client;

use crate::cli::{Global, TokensCmd};
use crate::commands::{Ctx, RunCommand};
use crate::config;
use crate::exit::Failure;
use crate::signals::Signals;

/// Runs `cmd` with the settings `global` and the environment give.
pub fn run(global: &Global, cmd: TokensCmd) -> Result<(), Failure> {
    if global.verbose {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .try_init();
    }
    let profile = match config::config_path(global.config.as_deref()) {
        Some((path, named)) => config::read_profile(&path, named, global.profile.as_deref())?,
        None if global.profile.is_some() => {
            return Err(Failure::Usage(
                "no config file to read the profile from".into(),
            ));
        }
        None => config::Profile::default(),
    };
    let settings = config::resolve(
        global.base_url.as_deref(),
        global.api_token.as_deref(),
        global.noop_transitions,
        &profile,
    )?;
    let client = match &settings.token {
        Some(token) => {
            let mut builder = Client::builder()
                .api_token(token.clone())
                .noop_transitions(settings.noop_transitions)
                .pacing(global.max_rate.unwrap_or_default())
                .max_wait(global.max_wait.unwrap_or(mpt::DEFAULT_MAX_WAIT));
            if let Some(cap) = global.max_retry_after {
                // Only the longest single wait: every other retry setting stays the default.
                builder = builder.retry(mpt::RetryPolicy {
                    max_retry_after: cap,
                    ..mpt::RetryPolicy::default()
                });
            }
            if let Some(timeout) = global.timeout {
                builder = builder.timeout(timeout);
            }
            if let Some(url) = &settings.base_url {
                builder = builder.base_url(url);
            }
            let client = builder.build()?;
            // Every secret of this run (MPT_NEW_API_TOKEN, ...), not only the API token: never
            // sent as an id, and redacted by value in the client's errors and traces.
            crate::exit::each_known(|secret| client.withhold(secret));
            Some(client)
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let signals = Signals::install();
        let ctx = Ctx {
            client: client.as_ref(),
            base_url: settings.base_url.as_deref(),
            format: global.output,
            signals: &signals,
        };
        cmd.run(&ctx).await
    })
}
