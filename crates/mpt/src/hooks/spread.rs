//! Requests spread over several connection pools once the platform has refused one.
//!
//! reqwest's pool (hyper-util's) hands out the connection that went idle last: a client paced
//! to about one request in flight sends nearly every request over one connection. A limiter
//! that counts per connection (Envoy's local rate limit with
//! `local_rate_limit_per_downstream_connection`, a proxy's per-connection bucket) then refuses
//! that connection alone, and the pace learned from its refusals is one connection's share of
//! the limit (tester round 17, F3: 929 of 1,304 requests over one connection of 17, 20 a second
//! paced where 16 connections served 320; a naive loop, 16 connections busy, finished in 25 s
//! where the client took 42 s). An L4 load balancer that balances per connection pins one hot
//! connection to one backend likewise.
//!
//! So once the platform has refused a request, the client the facade built sends through
//! [`POOLS`] pools built alike in turn, each keeping its own connections: the sends spread over
//! that many connections at least. Before any refusal every request goes through the one pool
//! (no connection is opened for nothing). A `reqwest::Client` passed in
//! (`ClientBuilder::http_client`) is used alone: its settings cannot be copied.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How many pools the sends go through in turn once the platform has refused one (the first
/// is the generated client's own): a bulk job's default concurrency, so that a job of 16 in
/// flight keeps 16 connections busy as a naive loop of 16 does.
pub(crate) const POOLS: usize = 16;

/// The pools a client's sends spread over after a refusal.
pub(crate) struct Spread {
    /// How each extra pool's client is built: its connect timeout and per-attempt timeout.
    settings: (Duration, Duration),
    /// Whether the platform has refused a request of this client.
    refused: AtomicBool,
    /// The extra pools, built on a thread of their own at the first refusal (a client takes
    /// milliseconds to build, its TLS roots loaded: built on the runtime's thread, fifteen held
    /// every answer back meanwhile, and the pace's halvings went unheard). Until they are
    /// built, or when building failed, every send goes through the client's own pool.
    extra: Arc<OnceLock<Box<[reqwest::Client]>>>,
    /// The next pool, in turn.
    next: AtomicUsize,
}

impl Spread {
    /// Pools built as the facade builds its own client: `connect` and `timeout`.
    pub(crate) fn new(connect: Duration, timeout: Duration) -> Spread {
        Spread {
            settings: (connect, timeout),
            refused: AtomicBool::new(false),
            extra: Arc::default(),
            next: AtomicUsize::new(0),
        }
    }

    /// Pools built alike, none refused yet (another secret is another caller).
    pub(crate) fn alike(&self) -> Spread {
        Spread::new(self.settings.0, self.settings.1)
    }

    /// Notes that the platform refused a request (throttling): the extra pools are built, and
    /// the sends spread over them once they are.
    pub(crate) fn refused(&self) {
        if self.refused.swap(true, Ordering::Relaxed) {
            return;
        }
        let (extra, (connect, timeout)) = (Arc::clone(&self.extra), self.settings);
        let build = move || {
            let clients: Option<Box<[reqwest::Client]>> = (1..POOLS)
                .map(|_| {
                    reqwest::Client::builder()
                        .connect_timeout(connect)
                        .timeout(timeout)
                        .build()
                        .ok()
                })
                .collect();
            if let Some(clients) = clients {
                let _ = extra.set(clients);
            }
        };
        // No thread to be had: the sends stay on the one pool.
        let _ = std::thread::Builder::new()
            .name("mpt-pools".into())
            .spawn(build);
    }

    /// The client the next send goes through: `own` until the extra pools are built after a
    /// refusal, then each pool in turn.
    pub(crate) fn pick<'a>(&'a self, own: &'a reqwest::Client) -> &'a reqwest::Client {
        let Some(extra) = self.extra.get() else {
            return own;
        };
        match self.next.fetch_add(1, Ordering::Relaxed) % POOLS {
            0 => own,
            i => extra.get(i - 1).unwrap_or(own),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{POOLS, Spread};

    /// Before a refusal every send goes through the client's own pool (no pool built); after
    /// it, each of the [`POOLS`] in turn, the own one among them.
    #[test]
    fn the_sends_spread_over_the_pools_only_once_refused() {
        let own = reqwest::Client::new();
        let spread = Spread::new(Duration::from_secs(10), Duration::from_secs(30));
        for _ in 0..3 {
            assert!(std::ptr::eq(spread.pick(&own), &own));
        }
        assert!(
            spread.extra.get().is_none(),
            "no pool built before a refusal"
        );
        spread.refused();
        // Built on a thread of their own: the sends stay on the own pool meanwhile.
        let waited = std::time::Instant::now();
        while spread.extra.get().is_none() {
            assert!(waited.elapsed() < Duration::from_secs(30), "never built");
            std::thread::sleep(Duration::from_millis(5));
        }
        let picked: Vec<*const reqwest::Client> = (0..2 * POOLS)
            .map(|_| spread.pick(&own) as *const _)
            .collect();
        let distinct: std::collections::HashSet<_> = picked.iter().collect();
        assert_eq!(distinct.len(), POOLS);
        assert_eq!(picked[..POOLS], picked[POOLS..], "in turn");
        assert_eq!(picked.iter().filter(|p| std::ptr::eq(**p, &own)).count(), 2);
        // Another secret's client starts on its own pool again.
        let other = spread.alike();
        assert!(std::ptr::eq(other.pick(&own), &own));
    }
}
