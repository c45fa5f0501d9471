//! X.509 v1 certificates, as PostgreSQL's own recipe (`openssl x509 -req` without `-extfile`)
//! makes them: rcgen writes only v3, so its certificate's `TBSCertificate` is rewritten
//! without its version and extensions and signed again with the issuer's key.

use std::io;

use rcgen::SigningKey;

/// A DER element: its tag, its content, its whole encoding, and what follows it.
type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// One DER element at the start of `input`: its tag, its whole encoding, and what follows.
fn element(input: &[u8]) -> io::Result<Element<'_>> {
    let cut = || io::Error::other("a DER element cut short");
    let (&tag, after) = input.split_first().ok_or_else(cut)?;
    let (&first, mut after) = after.split_first().ok_or_else(cut)?;
    let len = match first {
        short if short < 0x80 => usize::from(short),
        long => {
            let (bytes, rest) = after
                .split_at_checked(usize::from(long & 0x7f))
                .ok_or_else(cut)?;
            after = rest;
            bytes.iter().fold(0, |len, b| (len << 8) | usize::from(*b))
        }
    };
    let (content, rest) = after.split_at_checked(len).ok_or_else(cut)?;
    Ok((tag, content, &input[..input.len() - rest.len()], rest))
}

/// `content` under `tag`, DER.
fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len().to_be_bytes();
    let used = len.iter().skip_while(|b| **b == 0).count();
    let mut out = vec![tag];
    match content.len() {
        n if n < 0x80 => out.push(n as u8),
        _ => {
            out.push(0x80 | used as u8);
            out.extend_from_slice(&len[len.len() - used..]);
        }
    }
    out.extend_from_slice(content);
    out
}

/// The v1 PEM of `cert` (an rcgen certificate's DER), signed again by `issuer`.
pub(crate) fn v1(cert: &[u8], issuer: &impl SigningKey) -> io::Result<String> {
    let (_, certificate, _, _) = element(cert)?;
    let (_, tbs, _, rest) = element(certificate)?;
    let (_, _, algorithm, _) = element(rest)?;
    let mut fields = Vec::new();
    let mut left = tbs;
    while !left.is_empty() {
        let (tag, _, whole, rest) = element(left)?;
        // `[0] version` and `[3] extensions` are not in a v1 certificate.
        if tag != 0xa0 && tag != 0xa3 {
            fields.extend_from_slice(whole);
        }
        left = rest;
    }
    let tbs = wrap(0x30, &fields);
    let signature = issuer
        .sign(&tbs)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let bits = [&[0u8][..], &signature].concat();
    let der = wrap(0x30, &[tbs, algorithm.to_vec(), wrap(0x03, &bits)].concat());
    Ok(pem(&der))
}

/// `der` as a PEM certificate.
fn pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            text.push(match i <= chunk.len() {
                true => ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char,
                false => '=',
            });
        }
    }
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
