//! Just enough DER to read an X.509 certificate's version and public key, whatever its
//! version: webpki reads only v3 certificates, and PostgreSQL's own recipe (`openssl x509 -req`
//! without `-extfile`) makes v1 ones, which libpq takes. Nothing here is trusted: a
//! certificate read here is never checked against a root (that stays webpki's, v3 only).

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
/// `[0] EXPLICIT Version`, absent in a v1 certificate.
const VERSION: u8 = 0xa0;
/// `[3] EXPLICIT Extensions`, in a v3 certificate only.
const EXTENSIONS: u8 = 0xa3;
const OID: u8 = 0x06;
/// subjectAltName's object identifier (2.5.29.17), its content.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// What this client reads of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Certificate<'a> {
    /// 1, 2 or 3 (the DER's 0, 1 or 2, plus one).
    pub version: u8,
    /// The `SubjectPublicKeyInfo`, its whole DER (tag and length included).
    pub spki: &'a [u8],
    /// Whether it has a subjectAltName extension (else its name is only in its subject's
    /// common name, which libpq matches and webpki does not).
    pub alt_names: bool,
}

/// A DER element: its tag, its content, its whole encoding, and what follows it.
type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// One DER element at the start of `input`: its tag, its content, its whole encoding, and what
/// follows it. `None` when it is cut short or its length is not DER's (indefinite, over 4 bytes).
fn element(input: &[u8]) -> Option<Element<'_>> {
    let (&tag, after) = input.split_first()?;
    let (&first, mut after) = after.split_first()?;
    let len = match first {
        short if short < 0x80 => usize::from(short),
        0x81..=0x84 => {
            let count = usize::from(first & 0x7f);
            let (bytes, rest) = after.split_at_checked(count)?;
            after = rest;
            bytes
                .iter()
                .fold(0usize, |len, b| (len << 8) | usize::from(*b))
        }
        _ => return None,
    };
    let (content, rest) = after.split_at_checked(len)?;
    let whole = &input[..input.len() - rest.len()];
    Some((tag, content, whole, rest))
}

/// The version and public key of the certificate `der`; `None` when it is not one.
pub(super) fn certificate(der: &[u8]) -> Option<Certificate<'_>> {
    let (SEQUENCE, certificate, ..) = element(der)? else {
        return None;
    };
    let (SEQUENCE, mut tbs, ..) = element(certificate)? else {
        return None;
    };
    let mut version = 0;
    if let (VERSION, explicit, _, rest) = element(tbs)? {
        let (INTEGER, [number], ..) = element(explicit)? else {
            return None;
        };
        version = *number;
        tbs = rest;
    }
    // serialNumber, then signature, issuer, validity and subject.
    let (INTEGER, _, _, mut rest) = element(tbs)? else {
        return None;
    };
    for _ in 0..4 {
        let (SEQUENCE, _, _, after) = element(rest)? else {
            return None;
        };
        rest = after;
    }
    let (SEQUENCE, _, spki, mut rest) = element(rest)? else {
        return None;
    };
    // Then issuerUniqueID [1] and subjectUniqueID [2] (rare), then the extensions [3].
    let mut alt_names = false;
    while let Some((tag, content, _, after)) = element(rest) {
        if tag == EXTENSIONS {
            alt_names = has_alt_names(content)?;
        }
        rest = after;
    }
    Some(Certificate {
        version: version.checked_add(1)?,
        spki,
        alt_names,
    })
}

/// Whether the extensions `explicit` (the content of `[3]`) have a subjectAltName.
fn has_alt_names(explicit: &[u8]) -> Option<bool> {
    let (SEQUENCE, mut extensions, ..) = element(explicit)? else {
        return None;
    };
    while !extensions.is_empty() {
        let (SEQUENCE, extension, _, after) = element(extensions)? else {
            return None;
        };
        if let (OID, SUBJECT_ALT_NAME, ..) = element(extension)? {
            return Some(true);
        }
        extensions = after;
    }
    Some(false)
}

/// A `SubjectPublicKeyInfo`'s algorithm (its `AlgorithmIdentifier`'s content, as
/// [`rustls::pki_types::SignatureVerificationAlgorithm::public_key_alg_id`] is) and its key
/// (the bit string's bytes).
pub(super) fn key_of(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (SEQUENCE, inner, ..) = element(spki)? else {
        return None;
    };
    let (SEQUENCE, algorithm, _, rest) = element(inner)? else {
        return None;
    };
    let (BIT_STRING, [0, key @ ..], ..) = element(rest)? else {
        return None;
    };
    Some((algorithm, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tag` around `content`, DER.
    fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    fn spki() -> Vec<u8> {
        let algorithm = wrap(SEQUENCE, &[0x06, 0x01, 0x2a]);
        let key = wrap(BIT_STRING, &[0, 1, 2, 3]);
        wrap(SEQUENCE, &[algorithm, key].concat())
    }

    fn cert(version: Option<u8>, name_len: usize) -> Vec<u8> {
        let mut tbs = Vec::new();
        if let Some(v) = version {
            tbs.extend(wrap(VERSION, &wrap(INTEGER, &[v])));
        }
        tbs.extend(wrap(INTEGER, &[7]));
        tbs.extend(wrap(SEQUENCE, &[]));
        tbs.extend(wrap(SEQUENCE, &vec![0x31; name_len]));
        tbs.extend(wrap(SEQUENCE, &[]));
        tbs.extend(wrap(SEQUENCE, &[]));
        tbs.extend(spki());
        if version == Some(2) {
            let other = wrap(
                SEQUENCE,
                &[wrap(OID, &[0x55, 0x1d, 0x13]), wrap(0x04, &[])].concat(),
            );
            let san = wrap(
                SEQUENCE,
                &[wrap(OID, SUBJECT_ALT_NAME), wrap(0x04, &[])].concat(),
            );
            let extensions = match name_len {
                0 => other,
                _ => [other, san].concat(),
            };
            tbs.extend(wrap(EXTENSIONS, &wrap(SEQUENCE, &extensions)));
        }
        let tbs = wrap(SEQUENCE, &tbs);
        wrap(
            SEQUENCE,
            &[tbs, wrap(SEQUENCE, &[]), wrap(BIT_STRING, &[0])].concat(),
        )
    }

    #[test]
    fn the_version_and_key_of_v1_and_v3_certificates_and_nothing_of_a_broken_one() {
        for (version, name_len, expected, alt_names) in [
            (None, 3, 1, false),
            (Some(2), 300, 3, true),
            (Some(2), 0, 3, false),
            (Some(1), 0, 2, false),
        ] {
            let der = cert(version, name_len);
            let found = certificate(&der).unwrap();
            assert_eq!((found.version, found.alt_names), (expected, alt_names));
            assert_eq!(found.spki, spki().as_slice());
            let (algorithm, key) = key_of(found.spki).unwrap();
            assert_eq!((algorithm, key), (&[0x06, 0x01, 0x2a][..], &[1, 2, 3][..]));
        }
        let der = cert(Some(2), 300);
        for cut in 0..der.len() {
            assert_eq!(certificate(&der[..cut]), None, "cut at {cut}");
        }
        assert_eq!(certificate(b"not a certificate"), None);
        // An indefinite length, and one of 5 bytes.
        assert_eq!(element(&[SEQUENCE, 0x80, 0, 0]), None);
        assert_eq!(element(&[SEQUENCE, 0x85, 0, 0, 0, 0, 1, 0]), None);
    }
}
