//! The base URL as given: its API prefix accepted, its userinfo never shown.

/// `url` with its userinfo (`user:password@`), if any, replaced by `[REDACTED]@`: a password in a
/// base URL never shows in `Debug` output or errors.
pub(crate) fn without_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        Some(at) => format!(
            "{}{}@{}",
            &url[..scheme_end],
            crate::redact::REDACTED,
            &url[scheme_end + at + 1..]
        ),
        None => url.to_string(),
    }
}

/// `https://host/public/v1/` → `https://host`: the official client accepts base URLs with or
/// without the API prefix, and so do we.
pub(crate) fn normalize_base_url(url: &str) -> String {
    let mut url = url.trim().trim_end_matches('/');
    for suffix in ["/public/v1", "/public"] {
        if let Some(stripped) = url.strip_suffix(suffix) {
            url = stripped.trim_end_matches('/');
            break;
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::{normalize_base_url, without_userinfo};

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(
            without_userinfo("http://user:PASSWORD@host:8080/x?y"),
            "http://[REDACTED]@host:8080/x?y"
        );
        assert_eq!(without_userinfo("https://host/a@b"), "https://host/a@b");
        assert_eq!(without_userinfo("not a url"), "not a url");
    }

    #[test]
    fn base_urls_with_the_api_prefix_are_accepted() {
        for url in [
            "https://api.example.com",
            "https://api.example.com/",
            "https://api.example.com/public",
            "https://api.example.com/public/v1",
            "https://api.example.com/public/v1/",
        ] {
            assert_eq!(normalize_base_url(url), "https://api.example.com", "{url}");
        }
    }
}
