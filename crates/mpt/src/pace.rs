//! Pacing: requests sent at the platform's pace, so that a rate limit is met, not hit.
//!
//! One pacer per client, shared by all its clones (so two bulk jobs of one process do not
//! fight). Before each attempt the hook layer takes the next send slot; after each answer it
//! tells the pacer what the platform said:
//!
//! * `RateLimit-Limit` (with `RateLimit-Policy`'s window `w`, else 1 s) gives the rate: sends
//!   are spaced at 98% of it, and what `RateLimit-Remaining` says is left in the bucket, less
//!   the requests still in flight, may go at once (a burst); a `429` then costs one interval;
//! * without those headers, AIMD: a `429` halves the rate (the first one starts from the rate
//!   observed over the last second) and holds every send until its `Retry-After`; each success
//!   adds a little back (0.2 request a second), so the pace finds the limit again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Response;
use reqwest::header::{HeaderMap, HeaderName};

/// The fields read, named once (a name given as text is parsed on every lookup).
static LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");

/// How a client paces its requests.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Pacing {
    /// No pacing: requests go as fast as they are made (a `429` is retried under the retry
    /// policy, after its `Retry-After`).
    Off,
    /// Learned from the platform (the default): from its `RateLimit-*` headers when it sends
    /// them, else from its `429`s and `Retry-After` (AIMD).
    #[default]
    Adaptive,
    /// At most this many requests a second (and `Retry-After` honoured by every request).
    Fixed(f64),
}

/// The fraction of the platform's stated rate sent at: a margin for jitter on the way (the
/// bucket's own remainder is spent as a burst, so the margin costs little).
const HEADROOM: f64 = 0.98;

/// What AIMD adds back per success, in requests a second.
const INCREASE: f64 = 0.2;

/// The slowest AIMD goes, in requests a second.
const MIN_RATE: f64 = 1.0;

/// The longest a `Retry-After` holds the pacer.
const MAX_HOLD: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct State {
    /// Requests a second; `None`: unpaced (nothing learned yet).
    rate: Option<f64>,
    /// The earliest time of the next send.
    next: Option<Instant>,
    /// Sends are held until then (a `Retry-After`).
    held_until: Option<Instant>,
    /// Sends in the current one-second window, for the rate observed before the first `429`.
    window: (Instant, u32),
    /// The last time a `429` cut the rate: the `429`s of one burst are one cut.
    last_cut: Option<Instant>,
    /// Requests sent and not answered yet.
    in_flight: u32,
    /// Requests that may go without spacing: what the platform said is left in the bucket,
    /// less those in flight.
    credit: u32,
}

/// A client's pacer.
#[derive(Debug)]
pub(crate) struct Pacer {
    mode: Pacing,
    state: Mutex<State>,
}

fn header_f64(headers: &HeaderMap, name: &HeaderName) -> Option<f64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .split([',', ';'])
        .next()?
        .trim()
        .parse()
        .ok()
}

/// `w=<seconds>` of a `RateLimit-Policy`, if it says.
fn policy_window(headers: &HeaderMap) -> Option<f64> {
    let policy = headers.get(&POLICY)?.to_str().ok()?;
    policy
        .split(';')
        .find_map(|part| part.trim().strip_prefix("w="))
        .and_then(|w| w.trim().parse().ok())
        .filter(|w: &f64| *w > 0.0)
}

impl Pacer {
    pub(crate) fn new(mode: Pacing) -> Pacer {
        let rate = match mode {
            Pacing::Fixed(rate) if rate > 0.0 => Some(rate),
            _ => None,
        };
        Pacer {
            mode,
            state: Mutex::new(State {
                rate,
                next: None,
                held_until: None,
                window: (Instant::now(), 0),
                last_cut: None,
                in_flight: 0,
                credit: 0,
            }),
        }
    }

    /// How it paces.
    pub(crate) fn mode(&self) -> Pacing {
        self.mode
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for this request's send slot.
    pub(crate) async fn acquire(&self) {
        if self.mode == Pacing::Off {
            return;
        }
        let wait = {
            let mut s = self.lock();
            let now = Instant::now();
            if now.duration_since(s.window.0) >= Duration::from_secs(1) {
                s.window = (now, 0);
            }
            s.window.1 += 1;
            s.in_flight += 1;
            let mut slot = now;
            if let Some(held) = s.held_until {
                slot = slot.max(held);
            }
            if s.credit > 0 {
                // Left in the platform's bucket: no spacing.
                s.credit -= 1;
            } else if let Some(rate) = s.rate {
                if let Some(next) = s.next {
                    slot = slot.max(next);
                }
                s.next = Some(slot + Duration::from_secs_f64(1.0 / rate));
            }
            slot.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Learns from an attempt's answer (none: it got no answer, which says nothing of the
    /// pace). Called once per [`Pacer::acquire`].
    pub(crate) fn observe(&self, response: Option<&Response>, retry_after: Option<Duration>) {
        if self.mode == Pacing::Off {
            return;
        }
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        let Some(response) = response else { return };
        let headers = response.headers();
        let throttled = response.status().as_u16() == 429;
        let now = Instant::now();
        let stated = header_f64(headers, &LIMIT).filter(|l| *l > 0.0);
        if self.mode == Pacing::Adaptive
            && let Some(limit) = stated
        {
            let window = policy_window(headers).unwrap_or(1.0);
            let rate = limit / window * HEADROOM;
            s.rate = Some(rate);
            let remaining = header_f64(headers, &REMAINING).unwrap_or(0.0);
            s.credit = (remaining.max(0.0) as u32).saturating_sub(s.in_flight + 1);
            if throttled || remaining < 1.0 {
                // The bucket is empty: one interval before the next send.
                s.credit = 0;
                let hold = now + Duration::from_secs_f64(1.0 / rate);
                s.next = Some(s.next.map_or(hold, |n| n.max(hold)));
            }
            return;
        }
        if throttled {
            let hold = retry_after.unwrap_or(Duration::from_secs(1)).min(MAX_HOLD);
            s.held_until = Some(s.held_until.map_or(now + hold, |h| h.max(now + hold)));
            s.credit = 0;
        }
        if self.mode != Pacing::Adaptive {
            return;
        }
        // The 429s answering one burst are one signal: a cut at most once per interval (and
        // per tenth of a second).
        let recent = |rate: f64, s: &State| {
            let gap = Duration::from_secs_f64(1.0 / rate).max(Duration::from_millis(100));
            s.last_cut.is_some_and(|at| now.duration_since(at) < gap)
        };
        match (throttled, s.rate) {
            (true, Some(rate)) if recent(rate, &s) => {}
            (true, Some(rate)) => {
                s.rate = Some((rate / 2.0).max(MIN_RATE));
                s.last_cut = Some(now);
            }
            (true, None) => {
                let seen = now.duration_since(s.window.0).as_secs_f64().max(0.05);
                s.rate = Some((f64::from(s.window.1) / seen / 2.0).max(MIN_RATE));
                s.last_cut = Some(now);
            }
            (false, Some(rate)) => s.rate = Some(rate + INCREASE),
            (false, None) => {}
        }
    }

    /// The pace now, in requests a second (`None`: unpaced), for tests and diagnostics.
    #[cfg(test)]
    fn rate(&self) -> Option<f64> {
        self.lock().rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        let mut builder = http::Response::builder().status(status);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        Response::from(builder.body(reqwest::Body::from("")).unwrap())
    }

    #[test]
    fn stated_limits_set_the_pace_and_429s_halve_it_otherwise() {
        let pacer = Pacer::new(Pacing::Adaptive);
        assert_eq!(pacer.rate(), None);
        pacer.observe(
            Some(&answer(
                200,
                &[("ratelimit-limit", "200"), ("ratelimit-policy", "200;w=2")],
            )),
            None,
        );
        assert_eq!(pacer.rate(), Some(100.0 * HEADROOM));
        let pacer = Pacer::new(Pacing::Adaptive);
        pacer.observe(Some(&answer(429, &[])), Some(Duration::from_secs(1)));
        let first = pacer.rate().unwrap();
        // A second 429 of the same burst is the same signal.
        pacer.observe(Some(&answer(429, &[])), None);
        assert_eq!(pacer.rate(), Some(first));
        pacer.observe(Some(&answer(200, &[])), None);
        assert!(pacer.rate().unwrap() > first);
        let off = Pacer::new(Pacing::Off);
        off.observe(Some(&answer(429, &[])), None);
        assert_eq!(off.rate(), None);
        assert_eq!(Pacer::new(Pacing::Fixed(5.0)).rate(), Some(5.0));
    }
}
