//! Rate limits as platforms and gateways set them: per API secret, a token bucket, a fixed
//! window or a sliding log; a request over the limit is refused and not processed, and every
//! answer says where the caller stands in one of the common dialects ([`RateDialect`],
//! `dialect.rs`). The limit may change mid-run, once or back and forth ([`RateChange`]).
//!
//! | window ([`RateWindow`]) | allows | a refused request waits |
//! | --- | --- | --- |
//! | `token-bucket` (default) | `per_second` a second on average, `burst` at once | until the bucket has a token again |
//! | `fixed-window` | `per_second` in each whole second | until the second ends |
//! | `sliding-log` | `per_second` in any one second | until the oldest request of the last second is a second old |
//!
//! A **lockout** (`lockout`, off unless set; fail2ban-like gateways, some WAFs) penalises a
//! refusal: once a caller is refused, it is locked out for `L`, every request in the lockout is
//! refused (and not counted) and extends it to that request's arrival plus `L`, and its wait is
//! `L` (`Retry-After: L`; as an HTTP date, the lockout's end cut to the whole second, as a
//! gateway formatting its end time states it).

mod dialect;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::header;
use axum::response::Response;

pub use dialect::{RateDialect, UnknownDialect};

use super::{Shared, lock};

/// A rate limit: `per_second` requests a second, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests a second, on average (more than 0).
    pub per_second: f64,
    /// How many may come at once (the bucket's size, at least 1).
    pub burst: u32,
}

/// A rate, window or dialect that cannot be used, naming the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RateError {
    /// Not a number of requests a second.
    #[error("{0:?}: expected requests a second, e.g. 200/s")]
    NotARate(String),
    /// Not a whole number from 1 to a million a second (the headers state whole counts).
    #[error(
        "{0:?}: the rate must be a whole number of requests a second, from 1 to 1000000 (the headers state whole counts)"
    )]
    OutOfRange(String),
    /// A change not written `SECONDS:RATE`.
    #[error("{0:?}: expected SECONDS:RATE, e.g. 5:50/s")]
    NotAChange(String),
}

impl RateLimit {
    /// `200/s` (or `200`), with bursts of `burst`.
    pub fn parse(text: &str, burst: u32) -> Result<RateLimit, RateError> {
        let number = text.trim().trim_end_matches("/s");
        let per_second: f64 = number
            .parse()
            .map_err(|_| RateError::NotARate(text.to_string()))?;
        if !((1.0..=1e6).contains(&per_second) && per_second.fract() == 0.0) {
            return Err(RateError::OutOfRange(text.to_string()));
        }
        Ok(RateLimit {
            per_second,
            burst: burst.max(1),
        })
    }
}

/// How requests are counted against the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateWindow {
    /// A token bucket: `per_second` refill, `burst` deep (the default).
    #[default]
    TokenBucket,
    /// `per_second` requests in each whole second (counted from the server's start).
    FixedWindow,
    /// `per_second` requests in any span of one second.
    SlidingLog,
}

/// The limit changes to `to` once `after` has passed since the server started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateChange {
    /// Since the start.
    pub after: Duration,
    /// The limit from then on.
    pub to: RateLimit,
}

impl RateChange {
    /// `5:50/s`: after 5 seconds, 50 a second (bursts of `burst`).
    pub fn parse(text: &str, burst: u32) -> Result<RateChange, RateError> {
        let (after, rate) = text
            .split_once(':')
            .ok_or_else(|| RateError::NotAChange(text.to_string()))?;
        let after: f64 = after
            .trim()
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s <= 1e6)
            .ok_or_else(|| RateError::NotAChange(text.to_string()))?;
        Ok(RateChange {
            after: Duration::from_secs_f64(after),
            to: RateLimit::parse(rate, burst)?,
        })
    }
}

/// The mock's rate-limit settings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct RateSettings {
    pub(crate) limit: Option<RateLimit>,
    pub(crate) window: RateWindow,
    pub(crate) dialect: RateDialect,
    pub(crate) change: Option<RateChange>,
    /// The change alternates: every `after`, the limit swaps between `limit` and `to`.
    pub(crate) alternate: bool,
    /// A refusal locks its caller out for this long, and each request refused during the
    /// lockout extends it to its arrival plus this.
    pub(crate) lockout: Option<Duration>,
    /// Replicas behind round robin, each counting a caller's requests against its own share of
    /// the limit and stating that share (0 or 1: one count).
    pub(crate) replicas: u32,
    /// Each TCP connection is counted apart (a caller's requests over one connection against
    /// the whole limit), as a per-connection limiter is.
    pub(crate) per_connection: bool,
}

/// One caller's count.
enum Count {
    Bucket { tokens: f64, at: Instant },
    Fixed { window: u64, used: u32 },
    Log(VecDeque<Instant>),
}

/// The counts of every caller, under one limit.
pub(crate) struct Buckets {
    settings: RateSettings,
    started: Instant,
    counts: HashMap<String, Count>,
    /// Until when each caller locked out is (with [`RateSettings::lockout`]).
    locked: HashMap<String, Instant>,
    /// The requests taken so far: the replica of the next one (with [`RateSettings::replicas`]).
    turn: u64,
}

/// What a request found.
pub(crate) struct Taken {
    pub(crate) allowed: bool,
    /// The limit in force.
    pub(crate) limit: RateLimit,
    /// Requests left after it (whole).
    pub(crate) remaining: u64,
    /// Until the count is renewed (a full bucket, the window's end, the log's oldest out).
    pub(crate) reset: Duration,
    /// Until a request would be allowed again (when refused).
    pub(crate) wait: Duration,
    /// Refused by a lockout (its wait is the lockout's length, its end cut to the second when
    /// stated as a date).
    pub(crate) locked: bool,
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

impl Buckets {
    pub(crate) fn new(settings: RateSettings) -> Buckets {
        Buckets {
            settings,
            started: Instant::now(),
            counts: HashMap::new(),
            locked: HashMap::new(),
            turn: 0,
        }
    }

    /// A request of `caller` at `now`: with replicas, by the next one in turn, against its share
    /// of `limit` (its own count, stated as its own); else by the one count.
    fn admit_replicated(&mut self, caller: &str, limit: RateLimit, now: Instant) -> Taken {
        let n = self.settings.replicas;
        if n <= 1 {
            return self.admit(caller, limit, now);
        }
        let replica = self.turn % u64::from(n);
        self.turn = self.turn.wrapping_add(1);
        let share = RateLimit {
            per_second: limit.per_second / f64::from(n),
            burst: (limit.burst / n).max(1),
        };
        self.admit(&format!("{caller}\u{0}{replica}"), share, now)
    }

    /// A request of `caller` at `now` under the limit, and under the lockout when one is set:
    /// refused while locked out, which extends the lockout; a refusal by the count starts one.
    fn admit(&mut self, caller: &str, limit: RateLimit, now: Instant) -> Taken {
        let Some(lockout) = self.settings.lockout else {
            return self.take(caller, limit, now);
        };
        let locked = self.locked.get(caller).is_some_and(|until| *until > now);
        let mut taken = if locked {
            Taken {
                allowed: false,
                limit,
                remaining: 0,
                reset: lockout,
                wait: lockout,
                locked: true,
            }
        } else {
            self.take(caller, limit, now)
        };
        if !taken.allowed {
            self.locked.insert(caller.to_string(), now + lockout);
            (taken.wait, taken.reset, taken.locked) = (lockout, lockout, true);
        }
        taken
    }

    /// The limit in force at `now`.
    fn limit(&self, now: Instant) -> Option<RateLimit> {
        let since = now.saturating_duration_since(self.started);
        match self.settings.change {
            // Every `after`, the other limit: the first, then `to`, then the first again.
            Some(change) if self.settings.alternate && !change.after.is_zero() => {
                let period = since.as_nanos() / change.after.as_nanos();
                if period % 2 == 1 {
                    Some(change.to)
                } else {
                    self.settings.limit
                }
            }
            Some(change) if since >= change.after => Some(change.to),
            _ => self.settings.limit,
        }
    }

    fn take(&mut self, caller: &str, limit: RateLimit, now: Instant) -> Taken {
        let rate = limit.per_second;
        let per_window = rate.floor().max(1.0) as u32;
        let since = now.saturating_duration_since(self.started);
        let count =
            self.counts
                .entry(caller.to_string())
                .or_insert_with(|| match self.settings.window {
                    RateWindow::TokenBucket => Count::Bucket {
                        tokens: f64::from(limit.burst),
                        at: now,
                    },
                    RateWindow::FixedWindow => Count::Fixed { window: 0, used: 0 },
                    RateWindow::SlidingLog => Count::Log(VecDeque::new()),
                });
        let taken = |allowed, remaining: f64, reset, wait| Taken {
            allowed,
            limit,
            remaining: remaining.max(0.0).floor() as u64,
            reset,
            wait,
            locked: false,
        };
        match count {
            Count::Bucket { tokens, at } => {
                let burst = f64::from(limit.burst);
                let elapsed = now.saturating_duration_since(*at).as_secs_f64();
                *tokens = (*tokens + elapsed * rate).min(burst);
                *at = now;
                let allowed = *tokens >= 1.0;
                if allowed {
                    *tokens -= 1.0;
                }
                let reset = secs((burst - *tokens) / rate);
                let wait = secs((1.0 - *tokens) / rate);
                taken(
                    allowed,
                    *tokens,
                    reset,
                    if allowed { Duration::ZERO } else { wait },
                )
            }
            Count::Fixed { window, used } => {
                let current = since.as_secs();
                if *window != current {
                    (*window, *used) = (current, 0);
                }
                let allowed = *used < per_window;
                if allowed {
                    *used += 1;
                }
                let end = Duration::from_secs(current + 1).saturating_sub(since);
                let wait = if allowed { Duration::ZERO } else { end };
                taken(allowed, f64::from(per_window - *used), end, wait)
            }
            Count::Log(log) => {
                let second = Duration::from_secs(1);
                while log
                    .front()
                    .is_some_and(|t| now.saturating_duration_since(*t) >= second)
                {
                    log.pop_front();
                }
                let allowed = log.len() < per_window as usize;
                if allowed {
                    log.push_back(now);
                }
                let out = |t: Option<&Instant>| {
                    t.map_or(Duration::ZERO, |t| {
                        (*t + second).saturating_duration_since(now)
                    })
                };
                let wait = if allowed {
                    Duration::ZERO
                } else {
                    out(log.front())
                };
                let left = per_window as usize - log.len().min(per_window as usize);
                taken(allowed, left as f64, out(log.back()), wait)
            }
        }
    }
}

/// The middleware: a request is served or refused by its caller's count (its `Authorization`),
/// and every answer carries the dialect's headers.
pub(crate) async fn rate_limited(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let now = Instant::now();
    let (limit, dialect, per_connection) = {
        let rate = lock(&shared.rate);
        (
            rate.limit(now),
            rate.settings.dialect,
            rate.settings.per_connection,
        )
    };
    let Some(limit) = limit else {
        return next.run(request).await;
    };
    let mut caller = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    if per_connection && let Some(connection) = request.extensions().get::<super::ConnectionId>() {
        caller = format!("{caller}\u{0}connection {}", connection.0);
    }
    let taken = lock(&shared.rate).admit_replicated(&caller, limit, now);
    if !taken.allowed {
        shared
            .throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return dialect.refusal(&taken, shared.now());
    }
    let mut response = next.run(request).await;
    dialect.headers(&mut response, &taken, shared.now());
    response
}

#[cfg(test)]
mod tests;
