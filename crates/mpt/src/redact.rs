//! The redaction engine: every text the SDK shows (errors, snippets, traces) goes through it.
//! By value (the API secret and every token secret a client handled, plain, JSON-escaped or
//! percent-encoded) and by shape (`idt:<id>:<opaque>` in any escaping).

use secrecy::{ExposeSecret, SecretString};

/// Most characters of a body quoted in an error.
pub(crate) const SNIPPET_CHARS: usize = 200;

/// The start of a body, lossily decoded, with secrets redacted (in the whole body first, so
/// that no secret is cut in two and half of it kept), then shortened.
pub(crate) fn snippet(body: &[u8], r: &Redactor) -> String {
    let text = r.redact(&String::from_utf8_lossy(body));
    let mut cut: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().count() > SNIPPET_CHARS {
        cut.push('…');
    }
    cut
}

/// The marker put in place of a secret.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// Replaces every secret shaped like a token secret (`idt:TKN-...:<opaque>`) with
/// `idt:TKN-...:[REDACTED]`, also when the `:` is JSON-escaped (`\u003a`), percent-encoded
/// (`%3A`) or an HTML entity (`&#58;`), and whatever characters the opaque part holds (it ends
/// at white space, a quote, `<`, `>` or a backslash). The token id is kept: it is not secret.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_idt(rest) {
        out.push_str(&rest[..at]);
        let after_idt = &rest[at + 3..];
        let Some(sep) = separator(after_idt) else {
            out.push_str(&rest[at..at + 3]);
            rest = after_idt;
            continue;
        };
        let after = &after_idt[sep..];
        let id_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(after.len());
        let (id, tail) = after.split_at(id_len);
        match separator(tail) {
            Some(sep2) => {
                let opaque = &tail[sep2..];
                out.push_str("idt:");
                out.push_str(id);
                out.push(':');
                out.push_str(REDACTED);
                rest = &opaque[opaque_len(opaque)..];
            }
            // `idt:` and an id alone carry no secret; anything else after `idt:` may be one.
            None if id.is_empty() || id.starts_with("TKN-") => {
                out.push_str("idt:");
                out.push_str(id);
                rest = tail;
            }
            None => {
                out.push_str("idt:");
                out.push_str(REDACTED);
                rest = &after[opaque_len(after)..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether `text` holds something shaped like a token secret ([`redact`] would change it): a
/// scan for `idt` first, so the common text costs no copy.
pub(crate) fn holds_secret_shape(text: &str) -> bool {
    find_idt(text).is_some() && redact(text) != text
}

/// The next `idt` (any case) in `text`.
fn find_idt(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    // An `i` or `I` first (`| 0x20` lowercases the letter and matches no other byte), then the
    // three bytes.
    (0..bytes.len().saturating_sub(2))
        .find(|&at| bytes[at] | 0x20 == b'i' && bytes[at..at + 3].eq_ignore_ascii_case(b"idt"))
}

/// The length of the `:` (or an escaped or encoded form of it) that starts `text`.
fn separator(text: &str) -> Option<usize> {
    let unescaped = text.trim_start_matches('\\');
    let backslashes = text.len() - unescaped.len();
    let forms: &[&str] = if backslashes > 0 {
        &["u003a", "u003A"]
    } else {
        &[
            ":", "%3a", "%3A", "%253a", "%253A", "&#58;", "&#x3a;", "&#x3A;",
        ]
    };
    forms
        .iter()
        .find(|f| unescaped.starts_with(**f))
        .map(|f| backslashes + f.len())
}

/// The length of a secret's opaque part at the start of `text`.
fn opaque_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'/') => i += 2,
            b if b.is_ascii_whitespace() || b.is_ascii_control() => break,
            b'"' | b'\'' | b'<' | b'>' | b'`' | b'\\' => break,
            _ => i += 1,
        }
    }
    // Never split a UTF-8 character.
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Redacts by value (the client's API secret and the token secrets it has handled, in their
/// plain, JSON-escaped and percent-encoded forms) and then by shape ([`redact`]).
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    known: std::sync::Arc<std::sync::RwLock<std::collections::VecDeque<SecretString>>>,
    /// The length of the shortest secret remembered, in bytes (none: 0, read as "none").
    shortest: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Most secrets a client remembers for redaction by value (the oldest are forgotten; their
/// shape still redacts them).
const KNOWN_SECRETS: usize = 256;

/// Shorter values are not redacted by value: they would blank out ordinary words.
const MIN_SECRET_CHARS: usize = 4;

impl Redactor {
    /// Remembers a secret, so that it is redacted wherever it appears; for a token secret
    /// (`idt:TKN-...:<opaque>`), its opaque part too, which is the secret proper.
    pub(crate) fn remember(&self, secret: &str) {
        if let Some((_, opaque)) = secret
            .strip_prefix("idt:")
            .and_then(|rest| rest.split_once(':'))
        {
            self.remember_value(opaque);
        }
        self.remember_value(secret);
    }

    fn remember_value(&self, secret: &str) {
        if secret.chars().count() < MIN_SECRET_CHARS {
            return;
        }
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        if known.iter().any(|k| k.expose_secret() == secret) {
            return;
        }
        if known.len() == KNOWN_SECRETS {
            known.pop_front();
        }
        known.push_back(SecretString::from(secret.to_string()));
        let shortest = known.iter().map(|k| k.expose_secret().len()).min();
        self.shortest
            .store(shortest.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether `text` holds a secret remembered here (plain, percent-encoded or JSON-escaped),
    /// with no copy made.
    pub(crate) fn holds_known(&self, text: &str) -> bool {
        // Each of a secret's bytes is written in one byte at least: a text shorter than every
        // secret (a token id) holds none (the usual case, decided without the lock).
        let shortest = self.shortest.load(std::sync::atomic::Ordering::Relaxed);
        if shortest == 0 || text.len() < shortest {
            return false;
        }
        let known = self.known.read().unwrap_or_else(|p| p.into_inner());
        let bytes = text.as_bytes();
        known.iter().any(|secret| {
            let secret = secret.expose_secret().as_bytes();
            // No start past the last that leaves room for the secret can begin one, and one
            // begins with its first byte as it is, or encoded (`%`, a backslash, `+`).
            let starts = bytes
                .len()
                .checked_sub(secret.len())
                .map_or(0, |last| last + 1);
            let first = secret.first().copied();
            (0..starts).any(|at| {
                let b = bytes[at];
                (Some(b) == first || matches!(b, b'%' | b'\\' | b'+'))
                    && encoded_match(bytes, at, secret).is_some()
            })
        })
    }

    /// `text` without any secret.
    pub(crate) fn redact(&self, text: &str) -> String {
        let known = self.known.read().unwrap_or_else(|p| p.into_inner());
        let mut text = text.to_string();
        for secret in known.iter() {
            text = redact_value(&text, secret.expose_secret().as_bytes());
        }
        redact(&text)
    }
}

/// `text` with every occurrence of `secret` (a value this program knows: an API secret, a
/// token's secret) replaced by `[REDACTED]`, whether each of its characters is written as it
/// is, percent-encoded (`%2D`, any case) or JSON-escaped (`\u002d`): the by-value half of the
/// redaction a client does, for a program that keeps its own secrets (then [`redact`] for the
/// shape). An empty `secret` changes nothing.
pub fn redact_secret(text: &str, secret: &str) -> String {
    redact_value(text, secret.as_bytes())
}

/// `text` with every occurrence of `secret` replaced by [`REDACTED`], whether each of its
/// characters is written as it is, percent-encoded (`%2F`, any case) or JSON-escaped (`\u002f`),
/// so that no encoder's choice of what to leave raw lets it through.
fn redact_value(text: &str, secret: &[u8]) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        match encoded_match(bytes, i, secret) {
            Some(end) => {
                out.push_str(&text[copied..i]);
                out.push_str(REDACTED);
                i = end;
                copied = end;
            }
            None => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Where a match of `secret` starting at `at` ends, if there is one.
fn encoded_match(text: &[u8], at: usize, secret: &[u8]) -> Option<usize> {
    if secret.is_empty() {
        return None;
    }
    let hex = |digits: &[u8]| -> Option<u32> {
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let mut i = at;
    for &want in secret {
        let here = *text.get(i)?;
        if here == want {
            i += 1;
        } else if here == b'%' && text.get(i + 1..i + 3).and_then(hex) == Some(u32::from(want)) {
            i += 3;
        } else if here == b'\\'
            && text.get(i + 1) == Some(&b'u')
            && want.is_ascii()
            && text.get(i + 2..i + 6).and_then(hex) == Some(u32::from(want))
        {
            i += 6;
        } else if want == b' ' && here == b'+' {
            i += 1;
        } else {
            return None;
        }
    }
    // Never end inside a UTF-8 character (a secret is text, so a match ends on a boundary).
    std::str::from_utf8(&text[at..i]).ok().map(|_| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_keeps_the_id_and_drops_the_secret() {
        assert_eq!(
            redact(r#"{"token":"idt:TKN-1234-5678:abcDEF123-_x","id":"TKN-1234-5678"} idt:"#),
            r#"{"token":"idt:TKN-1234-5678:[REDACTED]","id":"TKN-1234-5678"} idt:"#
        );
        assert_eq!(redact("no secrets here"), "no secrets here");
    }

    #[test]
    fn redact_covers_escaped_encoded_and_odd_secrets() {
        for (text, kept) in [
            ("idt:TKN-1:s3cr3t!$%tail end", " end"),
            (r#"{"t":"idt\u003aTKN-1\u003as3cr3t"}"#, "\"}"),
            ("?token=idt%3ATKN-1%3As3cr3t%21x&y=1", ""),
            ("<p>idt&#58;TKN-1&#58;s3cr3t</p>", "</p>"),
            ("IDT:TKN-1:s3cr3t", ""),
            ("idt:s3cr3t-without-id", ""),
        ] {
            let out = redact(text);
            assert!(!out.contains("s3cr3t"), "{text} -> {out}");
            assert!(out.contains(REDACTED), "{text} -> {out}");
            assert!(out.ends_with(kept), "{text} -> {out}");
        }
        let r = Redactor::default();
        r.remember("plain-api-secret");
        for text in ["echo: plain-api-secret!", "pct: plain%2Dapi%2Dsecret"] {
            let out = r.redact(text);
            assert!(!out.contains("api"), "{text} -> {out}");
        }
        // A snippet never keeps half a secret cut at its end.
        let body = format!("{}plain-api-secret", "x".repeat(SNIPPET_CHARS - 5));
        assert!(!snippet(body.as_bytes(), &r).contains("plain"));
    }
}
