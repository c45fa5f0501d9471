//! Rate limits as a platform sets them: a token bucket per API secret. A request finding a token
//! in its bucket takes it and is served; one finding none is answered `429` with problem details
//! and `Retry-After` (whole seconds, as HTTP says, rounded up: never earlier than the bucket
//! has a token again), and is not processed. Every answer says where the caller stands, in the
//! IETF httpapi draft's fields:
//!
//! | header | value |
//! | --- | --- |
//! | `RateLimit-Limit` | requests allowed per window (the rate, per second) |
//! | `RateLimit-Policy` | `<limit>;w=1;burst=<burst>`: the window in seconds, and the bucket's size |
//! | `RateLimit-Remaining` | requests that may be sent at once now (whole tokens in the bucket) |
//! | `RateLimit-Reset` | seconds until the bucket is full again (rounded up; 0 when it is) |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::{Shared, lock, problem_response};
use crate::problem::Problem;

/// A rate limit: `per_second` requests a second, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests a second, on average (more than 0).
    pub per_second: f64,
    /// How many may come at once (the bucket's size, at least 1).
    pub burst: u32,
}

impl RateLimit {
    /// `200/s` (or `200`), with bursts of `burst`.
    pub fn parse(text: &str, burst: u32) -> Result<RateLimit, String> {
        let number = text.trim().trim_end_matches("/s");
        let per_second: f64 = number
            .parse()
            .map_err(|_| format!("{text:?}: expected requests a second, e.g. 200/s"))?;
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(format!("{text:?}: the rate must be more than 0"));
        }
        Ok(RateLimit {
            per_second,
            burst: burst.max(1),
        })
    }
}

/// One caller's bucket.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every caller, under one limit.
pub(crate) struct Buckets {
    limit: Option<RateLimit>,
    buckets: HashMap<String, Bucket>,
}

/// What a request found in its bucket.
struct Taken {
    allowed: bool,
    /// Tokens left after it.
    tokens: f64,
    /// Until the bucket has a token again (when refused).
    wait: Duration,
}

impl Buckets {
    pub(crate) fn new(limit: Option<RateLimit>) -> Buckets {
        Buckets {
            limit,
            buckets: HashMap::new(),
        }
    }

    fn take(&mut self, caller: &str, limit: RateLimit, now: Instant) -> Taken {
        let burst = f64::from(limit.burst);
        let bucket = self.buckets.entry(caller.to_string()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Taken {
                allowed: true,
                tokens: bucket.tokens,
                wait: Duration::ZERO,
            }
        } else {
            let wait = (1.0 - bucket.tokens) / limit.per_second;
            Taken {
                allowed: false,
                tokens: bucket.tokens,
                wait: Duration::from_secs_f64(wait),
            }
        }
    }
}

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, value);
    }
}

/// The limit's headers on `response`, for a bucket left with `tokens`.
fn headers(response: &mut Response, limit: RateLimit, tokens: f64) {
    let rate = limit.per_second;
    let shown_rate = if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate}")
    };
    set(response, "ratelimit-limit", shown_rate.clone());
    set(
        response,
        "ratelimit-policy",
        format!("{shown_rate};w=1;burst={}", limit.burst),
    );
    set(
        response,
        "ratelimit-remaining",
        format!("{}", tokens.max(0.0).floor() as u64),
    );
    let reset = ((f64::from(limit.burst) - tokens).max(0.0) / rate).ceil() as u64;
    set(response, "ratelimit-reset", reset.to_string());
}

/// The middleware: a request is served or refused by its caller's bucket (its
/// `Authorization`), and every answer carries the limit's headers.
pub(crate) async fn rate_limited(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = lock(&shared.rate).limit;
    let Some(limit) = limit else {
        return next.run(request).await;
    };
    let caller = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let taken = lock(&shared.rate).take(&caller, limit, Instant::now());
    if !taken.allowed {
        shared
            .throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut response =
            problem_response(&Problem::new(429, "Rate limit exceeded; retry later."));
        // Whole seconds, rounded up: never earlier than a token is there again.
        let secs = taken.wait.as_secs() + u64::from(taken.wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        headers(&mut response, limit, taken.tokens);
        return response;
    }
    let mut response = next.run(request).await;
    headers(&mut response, limit, taken.tokens);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_burst() {
        let limit = RateLimit::parse("10/s", 3).unwrap();
        let mut buckets = Buckets::new(Some(limit));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(buckets.take("a", limit, t0).allowed);
        }
        let refused = buckets.take("a", limit, t0);
        assert!(!refused.allowed);
        assert!((refused.wait.as_secs_f64() - 0.1).abs() < 1e-9);
        // Another caller has a bucket of its own.
        assert!(buckets.take("b", limit, t0).allowed);
        // A tenth of a second later, one token again; never more than the burst.
        assert!(
            buckets
                .take("a", limit, t0 + Duration::from_millis(100))
                .allowed
        );
        let later = t0 + Duration::from_secs(60);
        let full = buckets.take("a", limit, later);
        assert!(full.allowed && (full.tokens - 2.0).abs() < 1e-9);
        assert!(RateLimit::parse("0/s", 1).is_err() && RateLimit::parse("x", 1).is_err());
    }
}
