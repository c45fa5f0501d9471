//! The copy of a request kept for a resend.

use reqwest::Request;

/// A copy of `request` to send again. A request with no body is copied by its parts: the
/// generated builders set no extension but the per-attempt timeout, which is copied (reqwest's
/// `try_clone` sets the timeout into a fresh extension map and then drops it for a clone of
/// the original's: two allocations and a hash for nothing).
pub(super) fn copy(request: &Request) -> Option<Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::copy;

    /// The copy is what reqwest's `try_clone` makes: method, URL, headers, version, timeout.
    #[test]
    fn a_copy_is_the_request_again() {
        let client = reqwest::Client::new();
        let mut request = client
            .get("http://127.0.0.1:9/public/v1/accounts/api-tokens/TKN-1?select=-token")
            .header("authorization", "Bearer x")
            .version(reqwest::Version::HTTP_11)
            .build()
            .unwrap();
        for timeout in [None, Some(Duration::from_secs(7))] {
            *request.timeout_mut() = timeout;
            let (mine, theirs) = (copy(&request).unwrap(), request.try_clone().unwrap());
            assert_eq!(mine.method(), theirs.method());
            assert_eq!(mine.url(), theirs.url());
            assert_eq!(mine.headers(), theirs.headers());
            assert_eq!(mine.version(), theirs.version());
            assert_eq!(mine.timeout(), theirs.timeout());
            assert!(mine.body().is_none());
        }
    }
}
