//! How a client paces ([`Pacing`]) and the fixed rates it takes.

/// How a client paces its requests.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Pacing {
    /// No pacing: requests go as fast as they are made (a `429` is retried under the retry
    /// policy, after its `Retry-After`).
    Off,
    /// Learned from the platform (the default): from its rate-limit headers in any common
    /// dialect when it sends them, else from its `429`s and `Retry-After` (AIMD).
    #[default]
    Adaptive,
    /// At most this many requests a second (and `Retry-After` honoured by every request); see
    /// [`Pacing::fixed`] for the values taken.
    Fixed(f64),
}

/// The slowest fixed pace taken: one request in 1,000 seconds.
pub const MIN_FIXED_RATE: f64 = 0.001;
/// The fastest fixed pace taken: a million requests a second.
pub const MAX_FIXED_RATE: f64 = 1e6;

/// A fixed pace that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "{0} is not a usable rate: give a number of requests a second from {MIN_FIXED_RATE} to {MAX_FIXED_RATE}"
)]
pub struct InvalidRate(pub f64);

impl Pacing {
    /// At most `per_second` requests a second: a finite number from [`MIN_FIXED_RATE`] to
    /// [`MAX_FIXED_RATE`] (0, a negative number, NaN, infinity or `1e-20` is refused). A rate
    /// slower than one request per the retry policy's
    /// [`max_retry_after`](crate::RetryPolicy::max_retry_after) (30 s by default) is taken here
    /// but refused by [`ClientBuilder::build`](crate::ClientBuilder::build)
    /// ([`Error::FixedPaceOverCap`](crate::Error::FixedPaceOverCap)): its own interval would
    /// refuse every request.
    ///
    /// ```
    /// assert!(mpt::Pacing::fixed(50.0).is_ok());
    /// assert!(mpt::Pacing::fixed(1e-20).is_err());
    /// assert!(mpt::Pacing::fixed(f64::NAN).is_err());
    /// ```
    pub fn fixed(per_second: f64) -> Result<Pacing, InvalidRate> {
        if per_second.is_finite() && (MIN_FIXED_RATE..=MAX_FIXED_RATE).contains(&per_second) {
            Ok(Pacing::Fixed(per_second))
        } else {
            Err(InvalidRate(per_second))
        }
    }

    /// The same pacing if usable ([`Pacing::fixed`]'s rule for a fixed rate).
    pub(crate) fn validated(self) -> Result<Pacing, InvalidRate> {
        match self {
            Pacing::Fixed(rate) => Pacing::fixed(rate),
            other => Ok(other),
        }
    }
}
