//! The copy of a request kept for a resend.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Request, Url, Version};

/// A request kept to be sent again. One with no body is kept by its parts, its headers in one
/// list (a `HeaderMap` copied whole is two allocations and its index, for a copy that is
/// dropped unused after nearly every answer); one with a body as reqwest's `try_clone`
/// makes it.
pub(super) enum Spare {
    /// A request with no body, by its parts.
    Parts {
        method: Method,
        url: Url,
        headers: Vec<(HeaderName, HeaderValue)>,
        version: Version,
        timeout: Option<std::time::Duration>,
    },
    /// A request with a body, cloned.
    Whole(Request),
}

impl Spare {
    /// The request to send again.
    pub(super) fn request(self) -> Request {
        match self {
            Spare::Whole(request) => request,
            Spare::Parts {
                method,
                url,
                headers,
                version,
                timeout,
            } => {
                let mut request = Request::new(method, url);
                let mut map = HeaderMap::with_capacity(headers.len());
                for (name, value) in headers {
                    map.append(name, value);
                }
                *request.headers_mut() = map;
                *request.version_mut() = version;
                *request.timeout_mut() = timeout;
                request
            }
        }
    }
}

/// A copy of `request` to send again (`None`: its body cannot be copied). A request with no
/// body is copied by its parts: the generated builders set no extension but the per-attempt
/// timeout, which is copied (reqwest's `try_clone` sets the timeout into a fresh extension map
/// and then drops it for a clone of the original's: two allocations and a hash for nothing).
pub(super) fn copy(request: &Request) -> Option<Spare> {
    if request.body().is_some() {
        return request.try_clone().map(Spare::Whole);
    }
    let headers = request.headers();
    let mut list = Vec::with_capacity(headers.len());
    list.extend(headers.iter().map(|(n, v)| (n.clone(), v.clone())));
    Some(Spare::Parts {
        method: request.method().clone(),
        url: request.url().clone(),
        headers: list,
        version: request.version(),
        timeout: request.timeout().copied(),
    })
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
            // A name given twice keeps both values, in order.
            .header("x-multi", "a")
            .header("x-multi", "b")
            .version(reqwest::Version::HTTP_11)
            .build()
            .unwrap();
        for timeout in [None, Some(Duration::from_secs(7))] {
            *request.timeout_mut() = timeout;
            let (mine, theirs) = (
                copy(&request).unwrap().request(),
                request.try_clone().unwrap(),
            );
            assert_eq!(mine.method(), theirs.method());
            assert_eq!(mine.url(), theirs.url());
            assert_eq!(mine.headers(), theirs.headers());
            let multi = |r: &reqwest::Request| -> Vec<_> {
                r.headers().get_all("x-multi").iter().cloned().collect()
            };
            assert_eq!(multi(&mine), ["a", "b"]);
            assert_eq!(mine.version(), theirs.version());
            assert_eq!(mine.timeout(), theirs.timeout());
            assert!(mine.body().is_none());
        }
    }
}
